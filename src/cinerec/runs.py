"""Run folders: everything one run produced, so later commands can reuse it.

Layout::

    RUN_DIR/
      run.json        what ran: cinerec version, data source, protocol, seed, models
      metrics.json    every metric of every model, keyed by model then metric name
      leaderboard.json, settings.json
                      ``cinerec run``: the leaderboard over seeds, each model's settings
      report.md       a short human-readable report
      dataset/        the encoded dataset (id maps, catalog, user features)
      models/NAME/    each fitted model (see Recommender.save)
      plots/          PNGs: map-NAME.png for each model with movie vectors,
                      curves-NAME.png for each model trained by the neural loop,
                      leaderboard.png for ``cinerec run``
      checkpoints/, .cinerec-train
                      ``cinerec train``: its checkpoints, and the mark of its folder

(``docs/architecture.md``, "Runs", says what each holds.)

Every piece is written atomically; ``run.json`` is written last, so a folder without it
is an unfinished run and :func:`open_run` refuses it.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cinerec
from cinerec.data.dataset import Dataset
from cinerec.data.filters import data_record  # (where it lives; kept here for its callers)
from cinerec.errors import CinerecError, DataError, NotFoundError, expect, format_refused, said
from cinerec.io import TRAIN_MARK, atomic_path, escaped, read_json, write_json, writing

if TYPE_CHECKING:  # (the models import torch: reading a run's movies or records needs none of it)
    from cinerec.models.base import Recommender

__all__ = ["Run", "Plots", "open_run", "run_words", "save_model", "save_plots", "save_dataset", "finish_run", "data_record",
           "RUN_FORMAT", "PLOTS"]

RUN_FORMAT = 1
#: The run folder's subfolder of pictures.
PLOTS = "plots"


def save_dataset(run_dir: str | Path, dataset: Dataset) -> None:
    with writing(Path(run_dir) / "dataset"):
        dataset.save(Path(run_dir) / "dataset")


def save_model(run_dir: str | Path, model: Recommender, name: str | None = None, *,
               dataset: Dataset | None = None) -> Path:
    """Save a fitted model under ``RUN_DIR/models/NAME`` and its pictures under ``plots/``.

    Args:
        run_dir: the run folder.
        model: a fitted model.
        name: the folder name (default: the model's name).
        dataset: what the model's movie indices refer to, for the movie map; default:
            the dataset already saved in the run folder by :func:`save_dataset`.

    Returns:
        The model's folder.
    """
    path = Path(run_dir) / "models" / (name or model.name)
    with writing(path):
        model.save(path)
    with writing(Path(run_dir) / PLOTS):
        save_plots(run_dir, model, name, dataset=dataset)
    return path


def save_plots(run_dir: str | Path, model: Recommender, name: str | None = None, *,
               dataset: Dataset | None = None) -> list[Path]:
    """Draw a fitted model's pictures into ``RUN_DIR/plots/``.

    - ``curves-NAME.png``: training loss per epoch, and the validation metric where the
      training had a validation part (a refit on all the data has none), for a model with
      a training history (the neural models).
    - ``map-NAME.png``: the movie map (:mod:`cinerec.evaluation.plots`), for a model
      whose class declares ``has_item_vectors``. It needs the dataset for titles and
      genres: ``dataset``, else the one saved in the run folder; with neither, or when
      the model's vectors turn out absent (a blend with no member that has them), no
      map is drawn.

    Returns:
        The PNGs written.
    """
    from cinerec.evaluation.plots import movie_map, save_movie_map
    from cinerec.evaluation.report import save_curves

    run_dir = Path(run_dir)
    name = name or model.name
    written = []
    history = model.history  # empty unless the model trains epoch by epoch
    if history:
        save_curves(history, run_dir / PLOTS / f"curves-{name}.png", title=name)
        written.append(run_dir / PLOTS / f"curves-{name}.png")
    if model.has_item_vectors and model.item_vectors() is not None:
        if dataset is None and (run_dir / "dataset" / "dataset.json").exists():
            dataset = Dataset.load(run_dir / "dataset")
        if dataset is not None:
            seed = int(model.config.to_dict().get("seed", 0))
            # Titled by the run's name for the model (a study's label), and whose vectors they are.
            title = name if name == model.name else f"{name} ({model.name})"
            retriever = model.config.to_dict().get("retriever") if model.name == "two-stage" else None
            title += f", its retriever {retriever}'s vectors" if retriever else ""
            drawn = dataclasses.replace(movie_map(model, dataset, seed=seed), model=title)
            save_movie_map(drawn, run_dir / PLOTS / f"map-{name}.png")
            written.append(run_dir / PLOTS / f"map-{name}.png")
    return written


def finish_run(
    run_dir: str | Path,
    *,
    meta: dict[str, Any],
    metrics: dict[str, Any] | None = None,
    report: str | None = None,
) -> None:
    """Write metrics, report and finally ``run.json``, which marks the run complete.

    The report gets a "Plots" section showing every PNG under ``RUN_DIR/plots/``.
    """
    run_dir = Path(run_dir)
    with writing(run_dir):
        _finish_run(run_dir, meta, metrics, report)


def _finish_run(run_dir: Path, meta: dict[str, Any], metrics: dict[str, Any] | None, report: str | None) -> None:
    from cinerec.evaluation.report import plots_section

    if metrics is not None:
        write_json(run_dir / "metrics.json", metrics)
    if report is not None:
        plots = plots_section(run_dir, PLOTS)
        if plots:
            report = report.rstrip("\n") + "\n\n" + plots
        with atomic_path(run_dir / "report.md") as tmp:
            tmp.write_text(escaped(report), encoding="utf-8")  # (a path's name that is no UTF-8 text: escaped)
    models = sorted(p.name for p in (run_dir / "models").iterdir() if p.is_dir() and not p.name.startswith(".")) \
        if (run_dir / "models").exists() else []
    full = {
        "format": RUN_FORMAT,
        "cinerec": cinerec.__version__,
        # To the microsecond: the stamp tells a run from the one written before it into the
        # same folder (a store's freshness, a server's /health), even within one second.
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="microseconds"),
        "environment": environment(),
        "models": models,
        **meta,
        "files": _files(run_dir),
    }
    write_json(run_dir / "run.json", full)


#: The packages whose versions a run's figures can depend on (numerics, search, indexes),
#: by their names on PyPI: faiss is one of its builds.
_STACK = ("numpy", "scipy", "pandas", "torch", "optuna", "faiss-cpu", "faiss-gpu", "faiss")


def environment() -> dict[str, Any]:
    """What a run ran on, for reproducing it: Python, the platform, the processor count and
    the versions of the packages its figures depend on (those installed)."""
    import importlib.metadata
    import platform

    versions: dict[str, str] = {}
    for name in _STACK:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
            "packages": versions}


def _files(run_dir: Path) -> list[str]:
    """Every file of ``run_dir`` but ``run.json``, as ``run.json`` lists them: so that
    replacing a run (quickstart) can tell a file of the user's put inside one of its
    folders (models/, plots/) from its own."""
    return sorted(f.relative_to(run_dir).as_posix() for f in run_dir.rglob("*")
                  if f.is_file() and f != run_dir / "run.json")


def list_more_files(run_dir: str | Path, names: list[str]) -> None:
    """Add to ``run.json``'s list of files those a finished run is about to write into its
    folder (a study's store); the rest of ``run.json``, its ``created`` stamp too, is kept,
    so a store exported from the run still matches it."""
    run_dir = Path(run_dir)
    meta = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    listed = meta.get("files")  # (those the run wrote; a mark of its own beside them is no file of the run)
    meta["files"] = sorted({*(listed if isinstance(listed, list) else _files(run_dir)), *names})
    write_json(run_dir / "run.json", meta)


@dataclass
class Run:
    """An opened run folder. Models load on first use."""

    path: Path
    meta: dict[str, Any]
    dataset: Dataset
    # metrics.json, read when first asked for (figures): the lists, the store and the
    # server never need it, so a damaged one does not stop them.
    _metrics: dict[str, Any] | None = None
    _models: dict[str, Recommender] = field(default_factory=dict, repr=False)
    _loaded_on: dict[str, Any] = field(default_factory=dict, repr=False)

    def __repr__(self) -> str:
        best = self.meta.get("best_model")
        return (f"<Run {str(self.path)!r} ({self.meta.get('command', '?')}): models {', '.join(self.model_names) or 'none'}"
                + (f", best {best}" if best else "") + f"; {repr(self.dataset)[1:-1]}>")

    @property
    def model_names(self) -> list[str]:
        return list(self.meta.get("models", []))

    @property
    def default_model(self) -> str:
        """The model ``recommend``, ``export`` and ``serve`` use unless told: the one
        ``run.json`` names to serve (``default_model``: a study's ``[export.two_stage]``,
        whose store it wrote), else the best, else the first one saved."""
        if not self.model_names:
            raise DataError(f"{self.path}: the run holds no fitted model")
        for key in ("default_model", "best_model"):
            name = self.meta.get(key)
            if name in self.model_names:
                return name
            if name is not None:  # (another model's lists were given in silence)
                raise DataError(f"{self.path}/run.json: {key} is {name!r}, which the run does not hold (models/ has "
                                f"{', '.join(self.model_names)}): name one with "
                                f"{said('--run-model', 'model=')}")
        return self.model_names[0]

    def leaderboard(self) -> Any:
        """``metrics.json`` as a DataFrame: one row per model, one column per figure.

        A run measured under one protocol (``train``, ``run``) names it in a first
        column, ``protocol``, with its options. A run measured under several protocols (``quickstart``) names its columns
        ``"PROTOCOL METRIC"``, e.g. ``"loo-full hr@10"``, with the protocol's options where
        they differ from its defaults (``"loo-sampled (n_negatives=50) hr@10"``). Rows are ranked by the figure
        the run ranked its models by (a study's leaderboard order, quickstart's
        ``ranked_by``), the best first; a run that names none keeps the models in name order.
        ``frame.attrs["notes"]`` holds the lines the report says of models below popularity.
        """
        import pandas as pd

        from cinerec.evaluation.protocols import LOWER_IS_BETTER, options_text

        metrics = self.figures()
        if not metrics and not (self.path / "metrics.json").is_file():
            raise DataError(f"{self.path}: metrics.json is missing; the run's figures are not there to show")
        rows = {model: _figures(values) for model, values in metrics.items()}
        frame = pd.DataFrame.from_dict(rows, orient="index")
        frame = frame[sorted(frame.columns, key=_column_key)]
        frame.index.name = "model"
        protocol = self.meta.get("protocol")
        if isinstance(protocol, str) and not any(" " in str(c) for c in frame.columns):
            # One protocol (train, run): named on every row, as the tables print it.
            said = options_text(self.meta.get("protocol_options") or {})
            frame.insert(0, "protocol", protocol + (f" ({said})" if said else ""))
        # A model below popularity on a ranking protocol, as the report says it beside the figures.
        below = self.meta.get("below_popularity")
        notes = [line for line in below if isinstance(line, str)] if isinstance(below, list) else []
        board = self.path / "leaderboard.json"
        if board.is_file():  # a study's own order (its ties broken as its table shows them)
            order = [row["label"] for row in read_json(board).get("models", []) if row.get("label") in rows]
            frame = frame.loc[order + sorted(set(rows) - set(order))]
            frame.attrs["notes"] = notes
            return frame
        ranked_by = self.meta.get("ranked_by")
        column = " ".join(ranked_by) if isinstance(ranked_by, list) else self.meta.get("metric")
        if isinstance(column, str) and column in frame.columns:
            lower = column.rsplit(" ", 1)[-1].split("@")[0] in LOWER_IS_BETTER
            # Ties: the run's best model first, as its table and best_model have it (the
            # others of a tie in name order: metrics.json keeps no other).
            second = pd.Series(frame.index != self.meta.get("best_model"), index=frame.index)
            frame = frame.assign(_after_best=second).sort_values(
                [column, "_after_best"], ascending=[lower, True], kind="stable", na_position="last").drop(
                columns="_after_best")
        frame = frame.rename(columns=_with_options(frame.columns, self.meta.get("protocol_options")))
        frame.attrs["notes"] = notes
        return frame

    @property
    def metrics(self) -> dict[str, Any]:
        """``metrics.json`` (:meth:`figures`)."""
        return self.figures()

    def figures(self) -> dict[str, Any]:
        """``metrics.json`` (empty when the run has none), read once, with one clear error
        when it is damaged."""
        if self._metrics is None:
            self._check_unchanged()  # (another run's figures under this one's labels)
            metrics: Any = {}
            if (self.path / "metrics.json").exists():
                try:
                    metrics = read_json(self.path / "metrics.json")
                except ValueError as e:
                    raise DataError(f"{self.path}/metrics.json: not valid JSON ({e})") from None
                if not isinstance(metrics, dict):
                    raise DataError(f"{self.path}/metrics.json: expected a JSON object, got {type(metrics).__name__}")
                bad = next((name for name, values in metrics.items() if not isinstance(values, dict)), None)
                if bad is not None:
                    raise DataError(f"{self.path}/metrics.json: {bad}: expected an object of figures, got "
                                    f"{type(metrics[bad]).__name__}")
            self._metrics = metrics
        return self._metrics

    def plots(self) -> Plots:
        """The run's pictures (``plots/*.png``), shown inline in a notebook."""
        from cinerec.evaluation.report import plot_files

        self._check_unchanged()  # (another run's pictures)
        paths = plot_files(self.path, PLOTS)  # in report.md's order: the leaderboard first
        study = self.meta.get("command") == "run"
        damaged = study or "](plots/" in self._report_text()
        why = "a study always draws plots/leaderboard.png" if study else "report.md shows them"
        return Plots(paths, empty=f"{self.path}: no plots, though the run drew some ({why}): its plots/ folder was "
                                  "moved or deleted" if damaged else NO_PLOTS)

    def _report_text(self) -> str:
        try:
            return (self.path / "report.md").read_text(encoding="utf-8")
        except (OSError, UnicodeError):
            return ""

    def top_n(self, user_ids: Any, k: int = 10, model: str | None = None) -> Any:
        """Each raw user id's top-``k`` as a DataFrame (:func:`cinerec.serving.lists.top_n`)."""
        from cinerec.serving.lists import top_n

        return top_n(self, user_ids, k, model=model)

    def similar(self, movie_id: Any, k: int = 10, model: str | None = None) -> Any:
        """The movies most like raw movie id ``movie_id`` as a DataFrame: ``rank``,
        ``movie_id``, ``title``, ``year``, ``genres``, ``similarity`` (what the API's
        ``/movies/{id}/similar`` answers)."""
        from cinerec.serving.lists import Lists

        return Lists(self.dataset, self.model(model)).similar_frame(movie_id, k, model or self.default_model)

    def recommend_for(self, liked: Any = (), ratings: Any = None, k: int = 10, model: str | None = None) -> Any:
        """The top-``k`` for someone new ("I liked A, B, C"), by raw movie ids ``liked``
        and/or ``ratings`` (``{movie id: stars}``), as a DataFrame with reasons; never one
        of the movies given (what the API's ``POST /recommendations`` answers)."""
        from cinerec.serving.lists import Lists

        return Lists(self.dataset, self.model(model)).history_frame(liked, ratings, k)

    def model_notes(self, name: str | None = None) -> list[str]:
        """What model ``name``'s fit says of itself (:meth:`Recommender.fit_notes`: an ALS whose
        movie vectors all point one way, a two-tower model that read ids alone), said beside
        its lists as beside its figures."""
        return self.model(name).fit_notes()

    def model(self, name: str | None = None) -> Recommender:
        name = name or self.default_model
        if name not in self.model_names:
            kept = "; a study keeps its best model alone, refitted" if self.meta.get("command") == "run" else ""
            raise NotFoundError(f"{self.path}: no model {name!r} in this run (has: {', '.join(self.model_names)}"
                                f"{kept})")
        model = self._models.get(name)
        # Loaded again when someone refitted the one handed out (evaluate() on a split, say),
        # so that the run's lists stay the saved model's.
        if model is None or model.train_ is not self._loaded_on.get(name):
            self._check_unchanged()
            from cinerec.models.base import load_model

            model = self._models[name] = load_model(self.path / "models" / name)
            self._loaded_on[name] = model.train_
            # Fitted with settings a search chose (train --tune; a study's tuned best): its
            # notes then send no one to a search, as when it was fitted.
            tuning = self.meta.get("tuning")
            if isinstance(tuning, dict) and tuning and (self.meta.get("command") != "run"
                                                        or self.meta.get("best_model") in tuning):
                model.searched_ = True  # type: ignore[attr-defined]
        return model


    def _check_unchanged(self) -> None:
        """Refuse, in one line, a run folder written again since it was opened (another
        ``train`` or ``quickstart`` into it): its models are another run's, and this one
        holds the old dataset (a model then read as copied from another run)."""
        then = self.meta.get("created")
        if then is None:
            return
        try:
            now = read_json(self.path / "run.json").get("created")
        except (OSError, ValueError, CinerecError, AttributeError):  # (gone, cut short, or no object)
            now = None
        if now != then:
            raise DataError(f"{self.path}: the run folder was written again since it was opened (run.json is "
                            f"{'unreadable now' if now is None else f'of {now}, not {then}'}): open it again "
                            "(cinerec.runs.open_run)")


def _with_options(columns: Any, options: Any) -> dict[str, str]:
    """New names for a several-protocol run's columns whose protocol ran with other than
    its default options (quickstart's ``--negatives``): ``"loo-sampled hr@10"`` becomes
    ``"loo-sampled (n_negatives=50) hr@10"``, as a one-protocol run's ``protocol`` column says."""
    from cinerec.evaluation.protocols import get_protocol, options_text

    if not isinstance(options, dict):
        return {}
    renamed = {}
    for column in columns:
        name, _, figure = str(column).partition(" ")
        given = options.get(name)
        if not figure or not isinstance(given, dict):
            continue
        try:
            differ = get_protocol(name, **given).options()
        except CinerecError:  # a hand-edited run.json: its columns keep their names
            continue
        if differ:
            said = options_text(differ)
            renamed[column] = f"{name} ({said}) {figure}"
    return renamed


def _column_key(column: str) -> tuple[str, int, str, int, str]:
    """Columns by protocol, figures before counts and times, then ``hr@1, hr@5, hr@10``
    (by k as a number, each figure's ``_sd`` beside it)."""
    prefix, _, name = column.rpartition(" ")
    last = {"n_users": 1, "seconds_fit": 2, "seconds_eval": 3}.get(name, 0)
    base, _, rest = name.partition("@")
    digits = re.match(r"\d*", rest)
    k = digits.group() if digits else ""
    return prefix, last, base, int(k) if k else -1, rest[len(k):]


def _figures(values: Any, prefix: str = "") -> dict[str, float | int]:
    """The numbers of one model's ``metrics.json`` entry, flattened to ``{name: value}``.

    A result's ``metrics`` table gives its figures their plain names; anything else
    nested (a protocol's result) prefixes its name. A result's ``options`` (the
    protocol's settings, such as ``n_negatives``) are no figures and are left out.
    """
    out: dict[str, float | int] = {}
    for key, value in values.items():
        if key == "options":  # the protocol's settings (n_negatives...), not a figure
            continue
        if isinstance(value, dict):
            out.update(_figures(value, prefix if key == "metrics" else f"{prefix}{key} "))
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and key != "seed":
            out[f"{prefix}{key}"] = value  # a count (n_users) stays a whole number
        elif value is None and key != "seed":  # a figure no user could be measured by (JSON has no NaN)
            out[f"{prefix}{key}"] = float("nan")
    return out


NO_PLOTS = ("this run has no plots: only models with movie vectors (a movie map) or trained "
            "epoch by epoch (training curves) draw any")


class Plots:
    """A run's PNGs; shown inline in a notebook (Jupyter calls ``_repr_html_``)."""

    def __init__(self, paths: list[Path], empty: str = NO_PLOTS) -> None:
        self.paths = paths
        self.empty = empty  # what an empty one says

    def __len__(self) -> int:
        return len(self.paths)

    def __repr__(self) -> str:
        return "Plots(" + (", ".join(p.name for p in self.paths) or self.empty) + ")"

    def _repr_html_(self) -> str:
        import base64
        import html

        if not self.paths:
            return f"<p>{html.escape(self.empty)}</p>"
        parts = []
        for p in self.paths:
            data = base64.b64encode(p.read_bytes()).decode("ascii")
            parts.append(f'<figure><img src="data:image/png;base64,{data}" style="max-width:100%">'
                         f"<figcaption>{html.escape(p.name)}</figcaption></figure>")
        return "".join(parts)


def run_words(meta: Any) -> str:
    """What wrote a run folder, as a message says it: ``"a study run (cinerec run)"``,
    ``"a quickstart run"``, ``"a train run of ease"``, from its ``run.json``."""
    if not isinstance(meta, dict):
        return "a run whose run.json holds no run's record"
    command, model = meta.get("command", "train"), meta.get("best_model")
    if command == "run":
        return "a study run (cinerec run)"
    if command == "train" and isinstance(model, str):
        return f"a train run of {model}"
    return f"a {command} run" if isinstance(command, str) else "a run of an unknown command"


def open_run(path: str | os.PathLike) -> Run:
    """Open a finished run folder, with one clear error when it is missing or damaged."""
    expect(path, (str, os.PathLike), "open_run: path")
    path = Path(path)
    if not path.is_dir():
        raise DataError(f"{path}: {'not a folder; a run is the folder a run writer made' if path.exists() else 'no such run folder'}")
    try:
        meta = read_json(path / "run.json")
    except FileNotFoundError:
        if (path / TRAIN_MARK).is_file():  # a train run's folder: training, saving, or cut short
            raise DataError(f"{path}: not a finished cinerec run (run.json is missing): cinerec train is training "
                            "or saving it now, or was cut short; open it once that train ends (one cut short goes on "
                            "with cinerec train --resume and its own arguments)") from None
        raise DataError(f"{path}: not a finished cinerec run (run.json is missing)") from None
    except ValueError as e:
        raise DataError(f"{path}/run.json: not valid JSON ({e})") from None
    if not isinstance(meta, dict):
        raise DataError(f"{path}/run.json: expected a JSON object, got {type(meta).__name__}")
    if meta.get("format") != RUN_FORMAT:
        raise format_refused(path, "run", meta.get("format"), RUN_FORMAT)
    models = meta.get("models", [])
    if not isinstance(models, list) or not all(isinstance(m, str) and m for m in models):
        raise DataError(f"{path}/run.json: models = {json.dumps(models)}; expected a list of model names")
    for key in ("default_model", "best_model"):
        if meta.get(key) is not None and not isinstance(meta[key], str):
            raise DataError(f"{path}/run.json: {key} = {json.dumps(meta[key])}; expected a model name")
    dataset = Dataset.load(path / "dataset")
    return Run(path, meta, dataset)
