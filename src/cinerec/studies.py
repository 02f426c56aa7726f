"""A study as data: one TOML file names the source, the filters, the protocol and its seeds,
the models with their settings, the tuning budget, the export and the published figure.

    [data]
    source = "ml-100k"
    min_year = 1990                 # the filter keys, named as the command-line flags
    # columns = {user = "who", item = "sku"}   a log of your own: its column names
    # catalog = "items.csv"                      and its movie file (as --columns, --catalog)
    # rating_scale = [1, 10]                     and its scale (as --rating-scale)

    [protocol]
    name = "loo-sampled"
    seeds = [0, 1, 2]
    n_negatives = 99                # the protocol's own options

    [models.ease]                   # a registered model, its settings in the table
    regularization = 300

    [models.neumf-small]            # a second variant: any label, the model named inside
    model = "neumf"
    factors = 8

    [models.blend.settings.bpmf]    # a blend's members in nested tables
    factors = 12

    [tune]                          # optional: search settings on a validation carve-out
    trials = 20                     # and/or minutes = 10; models = ["ease"] (default: every
                                    # model that declares a search space)
    [export]                        # optional: write the store into the run folder
    k = 10

    [export.two_stage]              # optional: list through retrieve-then-rank, the best
    retriever = "als"               # model ranking the retriever's shortlist
    candidates = 200

    [reference]                     # optional: the study's own published figure
    metric = "hr@10"
    value = 0.946
    source = "He et al., WWW 2017"
    model = "neumf"                 # optional: the label of the study's own model here
    # also = {"ndcg@10" = ...}      # optional: the study's figures at other metrics

:meth:`Study.from_toml` checks everything before any data is read: an unknown key or
table, a bad value, a missing source or a zero tuning budget is refused in one line that
names the file, the line and the key. :func:`run_study` (``cinerec run``) runs it and
writes the run folder.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import math
import os
import re
import shlex
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Sequence

from cinerec.config import MAX_SEED, TOO_MANY_DIGITS, settings_words, shown, shown_exactly, toml_error
from cinerec.data.filters import COMMAND_LINE, Filters, left_counts, step_lines, step_words, unknown_years
from cinerec.errors import (OUT_OF_MEMORY_ADVICE, CinerecError, ConfigError, DataError, Diverged, FilterLeavesOne,
                            FilterRefused, TooFewUnseen, OutOfMemory, allocation_words, in_cli_words, known_words,
                            out_of_memory, unknown_name)

if TYPE_CHECKING:
    from cinerec.data.dataset import Dataset

__all__ = ["Study", "ModelSpec", "Reference", "key_line", "run_study", "paired", "paired_errors"]

_TOP = ("title", "notes", "data", "protocol", "models", "tune", "export", "reference")
#: The ``[data]`` keys that name what is read; the others are filters.
_SOURCE_KEYS = ("source", "columns", "catalog", "rating_scale")


#: What a ``[models.LABEL]`` label may be: it names the model's folder in the run.
_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


@dataclass(frozen=True)
class ModelSpec:
    """One ``[models.LABEL]`` table: the label shown, the registered model, its settings."""

    label: str
    model: str
    settings: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "model": self.model, "settings": dict(self.settings)}


@dataclass(frozen=True)
class Reference:
    """The study's own published figure, printed beside ours: beside the figure of the
    study's own model (``model``, a label of the study) when the file names it, and the best's."""

    metric: str
    value: float
    source: str = ""
    model: str | None = None
    #: How this run's filters differ from the file's (``--no-filters``, filter flags), where
    #: the study's figure was measured; empty when they are the file's.
    differs: str = ""
    #: ``(--data, the file's source)`` when ``--data`` names other data than the file's
    #: words do; whether it is other data is known once it is read (:meth:`to_dict`).
    data_given: tuple[str, str] | None = None
    #: The study's figures at other metrics (``[reference.also]``: cat_acc@50 = 0.074),
    #: each printed beside ours as the main one is.
    also: dict[str, float] = field(default_factory=dict)

    def to_dict(self, dataset: Dataset | None = None) -> dict[str, Any]:
        """JSON-ready; with the ``dataset`` the run read, ``differs`` says how it is not the
        data the study's figure was measured on (a synthetic release, another release or
        folder than the file's, other filters), and is left out when it is that data."""
        differs = []
        if dataset is not None and dataset.info.get("synthetic"):
            differs.append("a synthetic release")
        elif dataset is not None and self.data_given is not None and not _same_data(*self.data_given, dataset):
            differs.append(f"--data {self.data_given[0]} for the file's {self.data_given[1]}")
        differs += [self.differs] if self.differs else []
        return {"metric": self.metric, "value": self.value, "source": self.source, "model": self.model,
                **({"also": dict(self.also)} if self.also else {}),
                **({"differs": "; ".join(differs)} if differs else {})}


def _same_data(given: str, file_source: str, dataset: Dataset) -> bool:
    """Whether data read from ``given`` are the file's ``file_source``: the release it names
    (a copy of ml-100k read from a folder is ml-100k, one cut down or added to is not), or
    the same file or folder."""
    from cinerec.data.download import RELEASES

    if file_source in RELEASES:
        return dataset.info.get("release") == file_source and _as_published(dataset)
    try:
        if Path(os.path.expanduser(given)).resolve() == Path(os.path.expanduser(file_source)).resolve():
            return True
        return dataset.info.get("release") in RELEASES and _release_in(file_source) == dataset.info["release"] \
            and _as_published(dataset)
    except (OSError, RuntimeError):  # (a link loop)
        return False


def _as_published(dataset: Dataset) -> bool:
    """Whether the data, as read before any filter, hold their release's published number
    of ratings, users and movies (its layout alone named the release). A release updated
    over the years (ml-latest-small) is taken by its layout."""
    from cinerec.data.filters import counts
    from cinerec.data.synthetic import SHAPES

    release = dataset.info.get("release")
    shape = SHAPES.get(str(release))
    if shape is None or release == "ml-latest-small":
        return True
    steps = dataset.info.get("transforms") or []
    read = steps[0]["before"] if steps else counts(dataset)
    return (read["ratings"], read["users"], read["movies"]) == (shape.ratings, shape.users, shape.items)


def _release_in(source: str) -> str | None:
    """The MovieLens release a folder holds, read from its layout alone; ``None`` for a
    log, a synthetic release (shaped like one, not one), a zip (which would have to be
    unpacked) or what cannot be read."""
    from cinerec.data.movielens import is_release, locate, synthetic_like

    path = Path(os.path.expanduser(source))
    if not path.is_dir() or not is_release(path):
        return None
    try:
        folder, _, release, _ = locate(path)
    except CinerecError:
        return None
    return None if synthetic_like(folder) is not None else release


@dataclass(frozen=True)
class Study:
    """Everything one study runs, read from a TOML file and checked.

    Attributes:
        path: the study file.
        title: a heading for the report (default: the file's name).
        notes: free text printed in the report (e.g. what the study did that is not reproduced).
        source: the ratings (a release name, folder or zip, or a ratings log of one's
            own); ``--data`` overrides it.
        columns: a log's column names by role (``[data] columns``, ``--columns``).
        catalog: a log's movie file (``[data] catalog``, ``--catalog``).
        rating_scale: a log's lowest and highest possible rating (``[data] rating_scale``,
            ``--rating-scale``); ``None``: the lowest and highest it holds.
        filters: the ``[data]`` filters, applied before any split.
        from_flags: the ``[data]`` keys set (or replaced) on the command line (filters,
            ``columns``, ``catalog``, ``rating_scale``), named as flags in errors; the others
            are the file's.
        protocol: the protocol's name; ``protocol_options`` its options.
        seeds: every seed the protocol is prepared with (split, candidates, models).
        models: the models, in file order.
        trials, minutes: the tuning budget (both ``None``: no tuning).
        trials_by_flag: ``trials`` came from ``--tune`` on the command line, not the file.
        tune_models: the labels tuned (default: every model with a search space).
        export_k: recommendations per user in the store, or ``None`` for no store.
        export_two_stage: the settings of a ``two-stage`` model (``[export.two_stage]``)
            whose ranker is the best model, refitted; the store is listed through it.
            ``None``: the store lists the best model's own top-``k``.
        reference: the study's own figure, or ``None``.
        not_run: the file's model labels that ``--only`` left out, in file order.
        only_twice: the labels ``--only`` gave more than once (each runs once).
    """

    path: Path
    source: str
    protocol: str
    title: str = ""
    notes: str = ""
    filters: Filters = field(default_factory=Filters)
    protocol_options: Mapping[str, Any] = field(default_factory=dict)
    seeds: tuple[int, ...] = (0,)
    models: tuple[ModelSpec, ...] = ()
    trials: int | None = None
    trials_by_flag: bool = False
    minutes: float | None = None
    tune_models: tuple[str, ...] | None = None
    export_k: int | None = None
    export_two_stage: Mapping[str, Any] | None = None
    reference: Reference | None = None
    columns: Mapping[str, str] | None = None
    catalog: str | None = None
    rating_scale: tuple[float, float] | None = None
    from_flags: tuple[str, ...] = ()
    not_run: tuple[str, ...] = ()
    only_twice: tuple[str, ...] = ()
    #: Per label, the searched settings its table keeps and the tables they tell it from,
    #: worked out over every table of the file (``--only`` changes no row's meaning);
    #: ``None``: worked out over :attr:`models`.
    held_from: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]] | None = None
    #: The data read has no times: the recency weighting, which weighs nothing then, is no
    #: setting left to search (set once the data is read).
    untimed: bool = False

    def data_source(self) -> dict[str, Any]:
        """The source as ``cinerec.data.load`` and ``cinerec.runs.data_record`` take it."""
        return {"source": self.source, "columns": dict(self.columns) if self.columns else None,
                "catalog": self.catalog, **({"rating_scale": list(self.rating_scale)} if self.rating_scale else {})}

    @property
    def tunes(self) -> bool:
        return self.trials is not None or self.minutes is not None

    def tuned(self, spec: ModelSpec) -> bool:
        """Whether ``spec``'s settings are searched before it is evaluated (not when the
        settings that tell it from another table of its model are all it could search)."""
        from cinerec.models import MODELS

        return self._searched(spec) and bool(set(MODELS[spec.model].search_space) - set(self.held(spec))
                                             - ({"recency_half_life"} if self.untimed else set()))

    def _searched(self, spec: ModelSpec) -> bool:
        from cinerec.models import MODELS

        if not self.tunes or not MODELS[spec.model].search_space:
            return False
        return self.tune_models is None or spec.label in self.tune_models

    def held(self, spec: ModelSpec) -> tuple[str, ...]:
        """The searched settings that ``spec``'s table gives otherwise than another searched
        table of the same model: kept as given, or the search would make the two tables,
        written to be compared, one model searched twice."""
        return self._held(spec)[0] if self._searched(spec) else ()

    def held_apart_from(self, spec: ModelSpec) -> tuple[str, ...]:
        """The labels of the searched tables whose settings :meth:`held` keeps ``spec``'s apart from."""
        return self._held(spec)[1] if self._searched(spec) else ()

    def _held(self, spec: ModelSpec) -> tuple[tuple[str, ...], tuple[str, ...]]:
        from cinerec.models import MODELS

        if self.held_from is not None:
            return self.held_from.get(spec.label, ((), ()))
        space = MODELS[spec.model].search_space
        others = [o for o in self.models if o.label != spec.label and o.model == spec.model and self._searched(o)]
        keys = tuple(sorted(key for key, value in spec.settings.items()
                            if key in space and any(o.settings.get(key) != value for o in others)))
        apart = tuple(o.label for o in others if any(o.settings.get(k) != spec.settings[k] for k in keys))
        return keys, apart

    def to_dict(self) -> dict[str, Any]:
        """Plain values, as ``run.json`` records the study."""
        return {
            "path": str(self.path), "title": self.title, "source": self.source,
            "columns": dict(self.columns) if self.columns else None, "catalog": self.catalog,
            "rating_scale": list(self.rating_scale) if self.rating_scale else None,
            "filters": self.filters.to_dict(),
            # (the [data] keys the command line set or replaced, and no_filters where --no-filters dropped
            # the file's: the file at path holds its own values)
            "from_flags": list(self.from_flags), "protocol": self.protocol,
            "protocol_options": dict(self.protocol_options), "seeds": list(self.seeds),
            "models": [m.to_dict() for m in self.models], "not_run": list(self.not_run),
            "tune": {"trials": self.trials, "trials_by_flag": self.trials_by_flag, "minutes": self.minutes,
                     "models": None if self.tune_models is None else list(self.tune_models)} if self.tunes else None,
            "export": None if self.export_k is None else {
                "k": self.export_k,
                **({"two_stage": dict(self.export_two_stage)} if self.export_two_stage is not None else {})},
            "reference": self.reference.to_dict() if self.reference else None,
        }

    @classmethod
    @in_cli_words  # (as run_study)
    def from_toml(cls, path: str | Path, *, data: str | None = None, trials: int | None = None,
                  filters: Mapping[str, Any] | None = None, no_filters: bool = False,
                  only: list[str] | None = None, columns: Mapping[str, str] | None = None,
                  catalog: str | None = None, rating_scale: Sequence[float] | str | None = None) -> "Study":
        """Read and check a study file.

        Args:
            path: the TOML file.
            data: a source that replaces ``[data] source`` (the ``--data`` flag).
            trials: a number of tuning trials that replaces ``[tune] trials`` (``--tune``).
            filters: filter values that replace the file's own, key by key (the
                command line's ``--min-year`` and friends, named with underscores).
            no_filters: drop the file's ``[data]`` filters (``--no-filters``); ``filters``
                still apply.
            only: run these model labels alone (``--only``), in the file's order.
            columns: column names that replace ``[data] columns`` role by role (``--columns``).
            catalog: a movie file that replaces ``[data] catalog`` (``--catalog``).
            rating_scale: a log's scale that replaces ``[data] rating_scale`` (``--rating-scale``).

        Raises:
            ConfigError: the file is missing or not TOML; an unknown table or key; a bad
                value; no source; a zero tuning budget. The message names the file, the
                line and the key.
        """
        import tomllib

        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such study file") from None
        except IsADirectoryError:
            raise ConfigError(f"{path}: is a folder, not a study file") from None
        except OSError as e:  # a path inside a file, a file that cannot be read
            raise ConfigError(f"{path}: cannot be read ({(e.strerror or str(e)).lower()})") from None
        except UnicodeDecodeError as e:  # (its place: a file saved in Latin-1 holds one "é" or so)
            before = e.object[:e.start]
            row, column = before.count(b"\n") + 1, e.start - (before.rfind(b"\n") + 1) + 1  # (bytes into its line)
            raise ConfigError(f"{path}:{row}: not UTF-8 text (byte {column} of the line, {e.object[e.start]:#04x}: "
                              f"{e.reason}); save it as UTF-8") from None
        text = text.removeprefix("\ufeff")  # the byte-order mark some editors write first
        try:
            values = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise toml_error(path, e) from None
        except ValueError:  # a number of thousands of digits: Python's own limit, not TOML's
            raise ConfigError(f"{path}: {TOO_MANY_DIGITS}") from None
        study = _Reader(path, text).study(values, data, trials, catalog_flag=catalog is not None,
                                          flag_filters=filters, no_filters=no_filters)
        file_filters = study.filters.to_dict()
        if data is not None:  # the source is the command line's (--data), not the file's
            study = replace(study, from_flags=(*study.from_flags, "source"))
        if columns:
            study = replace(study, columns={**(study.columns or {}), **columns}, from_flags=(*study.from_flags, "columns"))
        if catalog is not None:
            study = replace(study, catalog=catalog, from_flags=(*study.from_flags, "catalog"))
        if rating_scale is not None:
            from cinerec.data.logs import parse_rating_scale

            study = replace(study, rating_scale=parse_rating_scale(rating_scale),
                            from_flags=(*study.from_flags, "rating_scale"))
        if filters or no_filters:
            kept = {} if no_filters else study.filters.to_dict()
            given = tuple(filters or {})
            where = COMMAND_LINE if not kept else f"{path} [data] with the command line"
            # A year of the file's against one of a flag (min_year after --max-year): its line.
            years = [k for k in ("min_year", "max_year") if k in kept and k not in given]
            line = key_line(text, ("data",), years[0]) if len(years) == 1 and len(given) and \
                {"min_year", "max_year"} - {years[0]} <= set(given) else None
            where = f"{path}:{line}: [data] with the command line" if line is not None else where
            study = replace(study, filters=Filters.from_mapping({**kept, **(filters or {})}, where=where,
                                                                flags=given),
                            from_flags=(*study.from_flags, *(("no_filters",) if no_filters else ()), *given))
        if only:
            # What tells two tables of one model apart is the file's, whichever --only keeps.
            study = replace(study, held_from={spec.label: study._held(spec) for spec in study.models
                                              if study._searched(spec)})
            labels = [s.label for s in study.models]
            for label in only:
                if label not in labels:
                    raise ConfigError(f"--only {label}: not one of the study's models ({', '.join(labels)})")
            study = replace(study, models=tuple(s for s in study.models if s.label in only),
                            tune_models=None if study.tune_models is None else
                            tuple(t for t in study.tune_models if t in only),
                            not_run=tuple(label for label in labels if label not in only),
                            only_twice=tuple(x for x in dict.fromkeys(only) if list(only).count(x) > 1))
            if study.reference and study.reference.model not in (None, *only):  # the best's figure alone
                study = replace(study, reference=replace(study.reference, model=None))
        # --tune asks for a search that none of the (kept) models would get, refused as evaluate
        # --tune is; the file's [tune] just has nothing to do for them (the command line says so).
        if trials is not None and not any(study.tuned(spec) for spec in study.models):
            which = f"--only {','.join(only)}: --tune {trials} searches none of the models it keeps" if only else \
                f"--tune {trials} searches none of the study's models"
            raise ConfigError(f"{which} (they have no settings to search, [tune] models leaves them out, or their "
                              "tables set every setting searched, each otherwise than another table of its model)")
        if study.reference:  # the study's figure was measured on the file's data, not on others
            file_source = (values.get("data") or {}).get("source") if isinstance(values.get("data"), dict) else None
            differs = []
            now = study.filters.to_dict()
            if now != file_filters:  # the flags that changed a value (--implicit restating the file's is none)
                dropped = no_filters and any(now.get(k) != v for k, v in file_filters.items() if k not in (filters or {}))
                differs += ["--no-filters"] * dropped + [f"--{k.replace('_', '-')}" for k in (filters or {})
                                                         if now.get(k) != file_filters.get(k)]
            other: tuple[str, str] | None = None
            if data is not None and file_source is not None and data != file_source:
                other = (data, str(file_source))
            study = replace(study, reference=replace(study.reference, differs="; ".join(differs), data_given=other))
        _check_learnable(study, path, text)
        return study


def _check_learnable(study: Study, path: Path, text: str) -> None:
    """Before any data is read: a protocol of stars cannot measure ratings the filters
    turn into plain events (``implicit``, ``liked_threshold``), whatever the models."""
    from cinerec.evaluation.protocols import get_protocol

    f = study.filters
    if not (f.implicit or f.liked_threshold is not None):
        return
    if not get_protocol(study.protocol, **study.protocol_options).needs_ratings:
        return  # (a model of stars is refused by a ranking protocol as the file is read)
    key = "implicit" if f.implicit else "liked_threshold"
    why = "implicit = true" if f.implicit else f"liked_threshold = {f.liked_threshold:g}"
    if not _in_file(text, ("data",), key):  # a flag set it
        why = "--implicit" if f.implicit else f"--liked-threshold {f.liked_threshold:g}"
        why += " (given on the command line)"
    line = key_line(text, ("protocol",), "name")
    raise ConfigError(f"{path}{f':{line}' if line else ''}: [protocol] name: protocol {study.protocol} measures "
                      f"predicted stars, and {why} makes every rating a plain event; use a ranking protocol such "
                      "as loo-sampled, with a model that ranks (ease, als, itemknn...)")


def _toml(value: Any) -> str:
    """A value as the study file writes it (``true``, not Python's ``True``)."""
    return ("true" if value else "false") if isinstance(value, bool) else repr(value)


def _study_text(study: Study) -> str:
    """The study file's text as it is now ("" where it can no longer be read)."""
    try:
        return study.path.read_text(encoding="utf-8")
    except (OSError, UnicodeError):
        return ""


def _where(study: Study, table: tuple[str, ...], key: str | None) -> str:
    """``FILE:LINE: [table] key`` of a key in the study file, for a fault found only once the
    data is read; a key the file does not hold came from the command line, and says so."""
    text = _study_text(study)
    if key is not None and table == ("data",) and (key in study.from_flags or not _in_file(text, table, key)):
        return f"{study.path}: --{key.replace('_', '-')} (given on the command line)"
    return _Reader(study.path, text).where(table, key)


def _features_where(study: Study, label: str, said: str) -> str:
    """Where the study file sets the ``features`` a refusal names (``set
    ranker_settings.features = false``: a stage's or member's nested table), else the model's
    table: ``[models.ts]`` holds no ``features`` of its own."""
    path = re.search(r"set ([\w.-]*?)features = false", said)
    table = ("models", label, *(part for part in (path[1] if path else "").split(".") if part))
    text = _study_text(study)
    return _where(study, table, "features") if _in_file(text, table, "features") else \
        _where(study, ("models", label), None)


def _setting_fault(study: Study, table: tuple[str, ...], e: Exception, nested: bool = False) -> str:
    """A setting of ``table`` refused once the data is read (``index_nlist = 5000: at most
    43 IVF cells ...``), said at that key's line where the file sets it; otherwise at the
    table's line, or (``nested``) at its key in the table above (``[export.two_stage]
    retriever_settings``)."""
    said, text = str(e), _study_text(study)
    named = re.match(r"(\w+) = ", said)
    if named and _in_file(text, table, named[1]):
        return str(_Reader(study.path, text).fail(table, named[1], said))
    return f"{_where(study, table[:-1], table[-1]) if nested else _where(study, table, None)}: {said}"


def _load_fault(study: Study, message: str) -> tuple[str, str]:
    """The ``[data]`` key a fault found while reading the data is about, and the message in
    the words of that key: ``catalog`` for a fault in the movie file (it was blamed on
    ``source``), ``columns`` for a column name that is not in the file, ``rating_scale``
    for a rating outside the scale it gives, else ``source``."""
    catalog = study.catalog
    if catalog is not None:
        path = Path(os.path.expanduser(catalog))
        forms = sorted({str(catalog), str(Path(catalog)), str(path), os.path.abspath(path)}, key=len, reverse=True)
        for form in forms:  # as the file wrote it, or as the reader named it (~ expanded, ./ dropped)
            for start in (f"--catalog {form}", form):
                rest = message[len(start):]
                if message.startswith(start) and rest.startswith((": ", " line ", " row ")):
                    return "catalog", f"{form}{rest}"
    missing = re.search(r"no column '([^']*)' for the (\w+)", message)
    if missing and study.columns and study.columns.get(missing[2]) == missing[1]:
        return "columns", message
    outside = re.search(r" \(--rating-scale\)$", message)
    if outside and study.rating_scale is not None and "outside the scale given" in message:
        # (--rating-scale named where the command line gave it: the file's key says it already)
        return "rating_scale", message[:outside.start()]  # (the key or the flag is named before it)
    return "source", message


def _in_file(text: str, table: tuple[str, ...], key: str) -> bool:
    """Whether the study file's ``text`` sets ``key`` in ``table``, written in any TOML way
    (a table of its own, an inline table, dotted keys)."""
    import tomllib

    try:
        values: Any = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return key_line(text, table, key) is not None
    for name in table:
        values = values.get(name) if isinstance(values, dict) else None
    return isinstance(values, dict) and key in values


def key_line(text: str, table: tuple[str, ...], key: str | None = None) -> int | None:
    """The 1-based line where ``key`` is set inside ``[table]`` of TOML ``text``.

    Args:
        text: the file's text.
        table: the table's path, e.g. ``("models", "neumf")``; ``()`` is the top level.
        key: the key; ``None`` asks for the table's header line.

    Returns:
        The line, or ``None`` when it is not written that way (e.g. inside an inline
        table). A dotted key (``table.key = ...`` one level up) is found too, and so is a
        key written as a table's header (``[table.key]``, ``[table.key.inner]``).
    """
    current: tuple[str, ...] = ()
    for number, line in _statement_lines(text):
        if line.startswith("["):  # a table's header, or an array of tables' ([[name]])
            current = _header(line[1:] if line.startswith("[[") else line)
            if current == table and key is None:
                return number
            # The key as a table of its own, or one inside it ([models.als.settings.ease]).
            if key is not None and current[:len(table) + 1] == table + (key,):
                return number
            continue
        if key is None:
            continue
        left, eq, _ = line.partition("=")
        if not eq:
            continue
        name = tuple(_split_key(left.strip()))
        # The key, or in the table itself a dotted key that starts with it (a.b = ...).
        if current + name == table + (key,) or (current == table and name[:1] == (key,)):
            return number
    return None


def _statement_lines(text: str) -> Iterator[tuple[int, str]]:
    """``(line number, stripped line)`` of the lines of TOML ``text`` that begin a
    statement: not those that continue a multi-line string (``\"""...\"""``, ``'''...'''``)
    or a value's array or inline table written over several lines, whose text may look
    like a header (``[1] a reference`` in a note) or a key."""
    closer: str | None = None  # the multi-line string open at the start of the next line
    depth = 0  # brackets and braces open at the start of the next line
    for number, raw in enumerate(text.splitlines(), start=1):
        if closer is None and depth == 0 and not raw.lstrip().startswith("#"):  # (a comment states nothing)
            yield number, raw.strip()
        i = 0
        while i < len(raw):
            if closer is not None:  # inside a multi-line string: look for its end
                if closer == '"""' and raw[i] == "\\":
                    i += 2
                    continue
                if raw.startswith(closer, i):
                    i += 3
                    while i < len(raw) and raw[i] == closer[0]:  # quotes just before the end belong to the string
                        i += 1
                    closer = None
                    continue
                i += 1
                continue
            c = raw[i]
            if c == "#":
                break
            if raw.startswith('"""', i) or raw.startswith("'''", i):
                closer = raw[i:i + 3]
                i += 3
                continue
            if c in "\"'":  # a one-line string
                j = i + 1
                while j < len(raw) and raw[j] != c:
                    j += 2 if c == '"' and raw[j] == "\\" else 1
                i = j + 1
                continue
            depth += c in "[{"
            depth -= c in "]}"
            i += 1
        depth = max(depth, 0)


def _header(line: str) -> tuple[str, ...]:
    inner = line[1:].split("]", 1)[0]
    return tuple(_split_key(inner.strip()))


def _split_key(text: str) -> list[str]:
    """``a."b.c".d`` → ``["a", "b.c", "d"]`` (quoted parts may hold dots)."""
    parts = re.findall(r'\s*(?:"((?:[^"\\]|\\.)*)"|\'([^\']*)\'|([^.\s]+))\s*(?:\.|$)', text)
    return [a or b or c for a, b, c in parts]


class _Reader:
    """Checks a parsed study, naming the file, the line and the key of each mistake."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.text = text

    def where(self, table: tuple[str, ...], key: str | None = None) -> str:
        line = key_line(self.text, table, key) if key is not None else None
        if line is None and key is not None:  # a table of its own: [key] or [table.key]
            line = key_line(self.text, table + (key,))
        if line is None:
            line = key_line(self.text, table)
        for i in range(len(table) - 1, -1, -1):  # an inline table: the line of the key holding it
            if line is not None:
                break
            line = key_line(self.text, table[:i], table[i])
        name = f"[{'.'.join(table)}]" if table else "top level"
        spot = f"{self.path}:{line}" if line is not None else str(self.path)
        return f"{spot}: {name}" + (f" {key}" if key is not None else "")

    def fail(self, table: tuple[str, ...], key: str | None, message: str) -> ConfigError:
        where = self.where(table, key)
        if key is not None and message.startswith((f"{key} ", f"{key}: ")):  # the message names the key itself
            return ConfigError(f"{where.removesuffix(f' {key}')} {message}")
        return ConfigError(f"{where}: {message}")

    def known(self, table: tuple[str, ...], values: Mapping[str, Any], keys: tuple[str, ...]) -> None:
        for key in values:
            if key not in keys:
                raise self.fail(table, key, f"unknown key {known_words(key, keys)}")

    def columns(self, value: Any) -> dict[str, str] | None:
        """``[data] columns``: a table ``{user = "who", ...}`` or the flag's ``"user=who,..."``."""
        from cinerec.data.logs import check_columns, parse_columns

        if value is None:
            return None
        if not isinstance(value, (str, dict)):
            raise self.fail(("data",), "columns", f"expected a table such as {{user = \"who\", item = \"sku\"}}, "
                                                  f"got {shown(value)}")
        where = self.where(("data",), "columns")
        try:
            columns = parse_columns(value, where) if isinstance(value, str) else check_columns(value, where)
        except CinerecError as e:  # a mistake in the study file, as every other one
            raise ConfigError(str(e)) from None
        return columns or None

    def table(self, values: Mapping[str, Any], name: str) -> dict[str, Any]:
        value = values.get(name, {})
        if not isinstance(value, dict):
            raise self.fail((), name, f"expected a table [{name}], got {shown(value)}")
        return value

    def study(self, values: dict[str, Any], data: str | None, trials: int | None, catalog_flag: bool = False,
              flag_filters: Mapping[str, Any] | None = None, no_filters: bool = False) -> Study:
        from cinerec.data.movielens import is_release
        from cinerec.evaluation.protocols import get_protocol
        from cinerec.models import MODELS

        self.known((), values, _TOP)
        for key in ("title", "notes"):
            if key in values and not isinstance(values[key], str):
                raise self.fail((), key, f"expected a string, got {shown(values[key])}")
        # [data]
        d = self.table(values, "data")
        source = d.get("source")
        if source is not None and (not isinstance(source, str) or not source.strip()):
            raise self.fail(("data",), "source", f"expected a release name, folder or zip, got {shown(source)}")
        given_source = data is None and source is not None
        source = data if data is not None else source
        if source is None:
            raise ConfigError(f"{self.where(('data',))}: no source: set [data] source or pass --data SOURCE")
        columns = self.columns(d.get("columns"))
        catalog = d.get("catalog")
        if catalog is not None:
            if not isinstance(catalog, str) or not catalog.strip():
                raise self.fail(("data",), "catalog", f"expected the path of a movie file, got {shown(catalog)}")
            # --catalog replaces it; a release given with --data leaves it out (with a note)
            if not catalog_flag and not (data is not None and is_release(data)) and \
                    not Path(os.path.expanduser(catalog)).is_file():
                raise self.fail(("data",), "catalog", f"{catalog}: no such file")
        scale = d.get("rating_scale")
        if scale is not None:
            from cinerec.data.logs import rating_scale_fault, scale_numbers

            scale = scale_numbers(scale) if isinstance(scale, list) else None  # (a TOML array, not text)
            if scale is None:
                raise self.fail(("data",), "rating_scale", "expected [LOW, HIGH], the lowest and highest rating of "
                                                           f"the log's scale, got {shown(d['rating_scale'])}")
            fault = rating_scale_fault(*scale)
            if fault is not None:
                raise self.fail(("data",), "rating_scale", f"{shown(list(d['rating_scale']))}: {fault}")
        self.known(("data",), d, _SOURCE_KEYS + tuple(f.name for f in dataclasses.fields(Filters)))
        filter_values = {k: v for k, v in d.items() if k not in _SOURCE_KEYS}
        for key, value in filter_values.items():  # one key at a time: each error names its line
            Filters.from_mapping({key: value}, where=self.where(("data",), key).rsplit(" ", 1)[0])
        # The one rule across keys (min_year after max_year) is said at min_year's line.
        first = self.where(("data",), "min_year").rsplit(" ", 1)[0] if "min_year" in filter_values \
            else self.where(("data",))
        filters = Filters.from_mapping(filter_values, where=first)
        # [protocol]
        p = self.table(values, "protocol")
        if "name" not in p:
            raise ConfigError(f"{self.where(('protocol',))}: no protocol name: set [protocol] name")
        name = p["name"]
        if not isinstance(name, str):
            raise self.fail(("protocol",), "name", f"expected a protocol name, got {shown(name)}")
        seeds = p.get("seeds", [0])
        if not isinstance(seeds, list) or not seeds or not all(
                isinstance(s, int) and not isinstance(s, bool) and 0 <= s <= MAX_SEED for s in seeds) \
                or len(set(seeds)) != len(seeds):
            raise self.fail(("protocol",), "seeds", f"expected a list of distinct whole numbers from 0 to 2**63 - 1, "
                                                    f"got {shown_exactly(seeds)}")
        options = {k: v for k, v in p.items() if k not in ("name", "seeds")}
        try:
            protocol = get_protocol(name, **options)
        except CinerecError as e:
            bad = "name" if "unknown protocol" in str(e) else _culprit(str(e), options)
            raise self.fail(("protocol",), bad, _strip(str(e))) from None
        # What leaves the run's data without stars, for advice to measure a model's stars: a
        # filter flag, else the file's key (unless --no-filters dropped it).
        given = flag_filters or {}
        kept = Filters() if no_filters else filters
        starless = []
        if given.get("liked_threshold") is not None:
            starless.append(f"--liked-threshold {float(given['liked_threshold']):g}")
        elif kept.liked_threshold is not None:
            starless.append(f"liked_threshold = {kept.liked_threshold:g} under [data]")
        if given.get("implicit"):
            starless.append("--implicit")
        elif kept.implicit:
            starless.append("implicit = true under [data]")
        protocol.starless = " and ".join(starless)
        # [models.LABEL]
        m = self.table(values, "models")
        if not m:
            if "models" in values:  # an empty [models] (or models = {}): its line
                raise ConfigError(f"{self.where(('models',))}: no models: add a [models.NAME] table")
            raise ConfigError(f"{self.path}: no models: add a [models.NAME] table")
        # Each label names a folder of the run: two that differ in case alone are one folder
        # on the file systems of macOS and Windows.
        seen: dict[str, str] = {}
        for label in m:
            other = seen.setdefault(label.lower(), label)
            if other != label:
                raise self.fail(("models",), label, f"label {label!r} differs from {other!r} only in case, and each "
                                                    "names a folder of the run: rename one")
        specs = tuple(self.model(label, settings, protocol) for label, settings in m.items())
        # [tune]
        t = self.table(values, "tune")
        tune_trials, minutes, tune_models = None, None, None
        if "tune" in values or trials is not None:
            self.known(("tune",), t, ("trials", "minutes", "models"))
            tune_trials = t.get("trials")
            if trials is not None:
                tune_trials = trials
            minutes = t.get("minutes")
            if tune_trials is not None and (isinstance(tune_trials, bool) or not isinstance(tune_trials, int)
                                            or tune_trials < 1):
                if trials is not None:
                    raise ConfigError(f"--tune {tune_trials!r}: a tuning budget must be at least 1 trial")
                raise self.fail(("tune",), "trials", f"{_toml(tune_trials)}: a tuning budget must be a whole number "
                                                     "of trials, at least 1")
            from cinerec.tuning import MAX_MINUTES, MAX_TRIALS

            if tune_trials is not None and tune_trials > MAX_TRIALS:
                if trials is not None:
                    raise ConfigError(f"--tune {tune_trials}: a tuning budget is at most {MAX_TRIALS:,} trials")
                raise self.fail(("tune",), "trials", f"{_toml(tune_trials)}: a tuning budget is at most {MAX_TRIALS:,} "
                                                     "trials (minutes bounds a search by time)")
            if minutes is not None and (isinstance(minutes, bool) or not isinstance(minutes, (int, float))):
                raise self.fail(("tune",), "minutes", f"{_toml(minutes)}: expected a number of minutes")
            if minutes is not None and (not math.isfinite(minutes) or minutes <= 0 or minutes > MAX_MINUTES):
                raise self.fail(("tune",), "minutes", f"{_toml(minutes)}: a tuning budget must be a number of minutes "
                                                      f"above 0 and at most {MAX_MINUTES:,} (a year; leave minutes out "
                                                      "for trials alone)")
            if tune_trials is None and minutes is None:
                raise ConfigError(f"{self.where(('tune',))}: no budget: set trials and/or minutes")
            if options.get("fold") == "all":
                from cinerec.tuning import check_protocol

                said = f"--tune {trials}" if trials is not None else "[tune]"
                check_protocol("all", f"{self.where(('protocol',), 'fold')} (with {said})")
            if "models" in t:
                labels = {s.label for s in specs}
                tm = t["models"]
                if not isinstance(tm, list) or not all(isinstance(x, str) for x in tm):
                    raise self.fail(("tune",), "models", f"expected a list of model labels, got {shown(tm)}")
                if not tm:  # a search of nothing: drop [tune], or name a model
                    raise self.fail(("tune",), "models", "[] names no model to tune (leave the key out to tune "
                                                         "every model with settings to search)")
                twice = next((x for i, x in enumerate(tm) if x in tm[:i]), None)
                if twice is not None:
                    raise self.fail(("tune",), "models", f"{twice!r} is named twice: name each model once")
                for x in tm:
                    if x not in labels:
                        raise self.fail(("tune",), "models", f"{x!r} is not one of the study's models "
                                                             f"({', '.join(sorted(labels))})")
                    if not MODELS[next(sp.model for sp in specs if sp.label == x)].search_space:
                        raise self.fail(("tune",), "models", f"{x!r} declares no search space: there is nothing "
                                                             "to tune")
                tune_models = tuple(tm)
            elif not any(MODELS[sp.model].search_space for sp in specs):
                said = f"--tune {trials}" if trials is not None else self.where(("tune",))
                raise ConfigError(f"{said}: none of the study's models ({', '.join(sp.label for sp in specs)}) "
                                  "has settings to search")
        # [export]
        export_k, export_two_stage = None, None
        if "export" in values:
            ex = self.table(values, "export")
            self.known(("export",), ex, ("k", "two_stage"))
            export_k = ex.get("k", 50)
            if isinstance(export_k, bool) or not isinstance(export_k, int) or not 1 <= export_k <= 1000:
                raise self.fail(("export",), "k", f"{_toml(export_k)}: expected a whole number from 1 to 1000")
            if "two_stage" in ex:
                if any(spec.label == "two-stage" for spec in specs):  # the pipeline is saved under that name
                    raise self.fail(("models",), "two-stage", "the label two-stage is the pipeline [export.two_stage] "
                                    "saves: give this model another label")
                export_two_stage = self.two_stage(ex["two_stage"], specs, export_k)
        # [reference]
        reference = None
        if "reference" in values:
            r = self.table(values, "reference")
            self.known(("reference",), r, ("metric", "value", "source", "model", "also"))
            for key in ("metric", "value"):
                if key not in r:
                    raise ConfigError(f"{self.where(('reference',))}: no {key}: a reference needs metric and value")
            if not isinstance(r.get("source", ""), str):
                raise self.fail(("reference",), "source", f"expected a string, got {shown(r['source'])}")
            study_labels: list[str] = [spec.label for spec in specs]
            if "model" in r and r["model"] not in study_labels:
                raise self.fail(("reference",), "model", f"{shown(r['model'])} is not one of the study's models "
                                                         f"({', '.join(study_labels)})")
            measured = protocol.metric_names() + (("mse",) if protocol.needs_ratings else ())
            from cinerec.evaluation.protocols import LOWER_IS_BETTER, OFFICIAL_FOLDS
            from cinerec.models import create

            # Which models predict likes rather than stars: built once, for every figure checked.
            liked = [create(spec.model, dict(spec.settings)).can_predict_liked for spec in specs] \
                if protocol.needs_ratings else []

            def check(name: Any, value: Any, table: tuple[str, ...], metric_key: str, value_key: str) -> None:
                """One figure of the study: a metric this study measures, and a value it can take."""
                if not isinstance(name, str):
                    raise self.fail(table, metric_key, f"expected a metric name, got {shown(name)}")
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise self.fail(table, value_key, f"expected a number, got {shown(value)}")
                metric = name
                if options.get("fold") == "all":  # each fold's figure too: rmse_u1 ... rmse_u5
                    metric = re.sub(rf"_({'|'.join(OFFICIAL_FOLDS)})$", "", metric)
                if metric not in measured:
                    raise self.fail(table, metric_key, f"{name!r} is not measured by protocol "
                                                       f"{protocol.name} (it measures {', '.join(measured)})")
                if protocol.needs_ratings:  # stars (rmse, mae, mse) or liked-or-not (auc, accuracy), by model
                    gives = {"auc": any(liked), "accuracy": any(liked), "rmse": not all(liked), "mae": not all(liked),
                             "mse": not all(liked)}
                    kind = "a model trained on liked-or-not" if metric in ("auc", "accuracy") else \
                        "a model that predicts stars"
                    if not gives.get(metric, True):
                        raise self.fail(table, metric_key, f"{name!r}: no model of this study gives it "
                                                           f"(it needs {kind})")
                    own = study_labels.index(r["model"]) if "model" in r else None
                    if own is not None and metric in gives and liked[own] != (metric in ("auc", "accuracy")):
                        raise self.fail(("reference",), "model", f"{r['model']} does not give {name} "
                                                                 f"(it needs {kind})")
                bounded = metric.split("@")[0] not in LOWER_IS_BETTER  # shares and hit rates: 0 to 1; errors: 0 up
                if not math.isfinite(value) or value < 0 or (bounded and value > 1):
                    raise self.fail(table, value_key, f"{shown(value)} is not a possible {name} "
                                    f"(it lies {'between 0 and 1' if bounded else 'at 0 or above'})")

            check(r["metric"], r["value"], ("reference",), "metric", "value")
            also = r.get("also", {})
            if not isinstance(also, dict):
                raise self.fail(("reference",), "also", f"expected a table of metric = value (cat_acc@50 = 0.074), "
                                                        f"got {shown(also)}")
            for other, figure in also.items():  # (not "name": the protocol's, used below)
                if other == r["metric"]:
                    raise self.fail(("reference", "also"), other, f"{other!r} is the reference's metric already")
                check(other, figure, ("reference", "also"), other, other)
            reference = Reference(r["metric"], float(r["value"]), r.get("source", ""), r.get("model"),
                                  also={str(k): float(v) for k, v in also.items()})
        if given_source:  # last, so that every other mistake in the file is named first
            from cinerec.data.download import RELEASES

            if source not in RELEASES and not Path(os.path.expanduser(source)).exists():
                raise self.fail(("data",), "source", f"{source}: no such file or folder, and not a MovieLens "
                                                     f"release name ({', '.join(RELEASES)})")
        return Study(
            path=self.path, source=source, protocol=name, title=values.get("title", self.path.stem),
            notes=values.get("notes", ""), filters=filters, protocol_options=dict(options), seeds=tuple(seeds),
            models=specs, trials=tune_trials, trials_by_flag=trials is not None, minutes=None if minutes is None else float(minutes),
            tune_models=tune_models, export_k=export_k, export_two_stage=export_two_stage, reference=reference,
            columns=columns, catalog=catalog, rating_scale=scale,
        )

    def two_stage(self, values: Any, specs: tuple[ModelSpec, ...], k: int) -> dict[str, Any]:
        """``[export.two_stage]``: a two-stage model's settings, its ranker being whichever
        model turns out best, so every model of the study must be able to rank a shortlist."""
        from cinerec.models import MODELS, create

        table = ("export", "two_stage")
        if not isinstance(values, dict):
            raise self.fail(("export",), "two_stage", f"expected a table [export.two_stage], got {shown(values)}")
        fields = set(MODELS["two-stage"].Config().to_dict()) - {"ranker", "ranker_settings", "ranker_path"}
        for key in values:
            if key not in fields:
                raise self.fail(table, key, "unknown setting" + (" (the ranker is the study's best model, refitted)"
                                if key.startswith("ranker") else "") + f" (known: {', '.join(sorted(fields))})")
        for spec in specs:
            if not MODELS[spec.model].can_score_pairs:
                raise self.fail(("models", spec.label), None,
                                f"{spec.model} cannot rank a shortlist, and [export.two_stage] ranks with the "
                                "best model: every model of the study must score (user, movie) pairs")
        try:
            model = create("two-stage", {**values, "ranker": specs[0].model}, where="\0")
        except CinerecError as e:
            # A stage's own setting (retriever_settings.epoch) is blamed on its own line.
            nested = [(table + sub, key) for sub, key in _leaves(values) if sub]
            named = _culprit(str(e), {key: None for _, key in nested})
            at = next(((sub, key) for sub, key in nested if key == named), None)
            if at is not None:
                raise self.fail(at[0], at[1], _strip(str(e))) from None
            named_tables = [sub for sub, _ in nested if f"'{sub[-1]}'" in str(e)]  # "unknown key 'deep'"
            if named_tables:
                raise self.fail(named_tables[0], None, _strip(str(e))) from None
            raise self.fail(table, _culprit(str(e), values), _strip(str(e))) from None
        config = model.config.to_dict()
        if config["retriever_path"]:  # a saved retriever: its folder and kind, before any data is read
            from cinerec.models.base import saved_model_info

            retriever, path = config["retriever"], config["retriever_path"]
            try:
                kind = saved_model_info(path)["model"]
            except DataError as e:
                raise self.fail(table, "retriever_path", str(e)) from None
            if kind != retriever:
                asked = f'retriever = "{retriever}"' + ("" if "retriever" in values else ", the default")
                raise self.fail(table, "retriever_path", f"{path}: holds a {kind} model, not the retriever ({asked})")
        candidates = config["candidates"]
        if candidates < k:
            raise self.fail(table, "candidates" if "candidates" in values else None,
                            f"candidates = {candidates} is fewer than [export] k = {k}")
        return dict(values)

    def model(self, label: str, settings: Any, protocol: Any) -> ModelSpec:
        from cinerec.models import MODELS, create

        table = ("models", label)
        if not _LABEL.fullmatch(label):  # a label names the model's folder in the run: a plain name
            raise self.fail(("models",), label, f"label {label!r}: a label is a plain name of letters, digits, "
                                                "'-' and '_' (it names the model's folder in the run)")
        if not isinstance(settings, dict):
            raise self.fail(("models",), label, f"expected a table [models.{label}], got {shown(settings)}")
        settings = dict(settings)
        name = settings.pop("model", label)
        if not isinstance(name, str) or name not in MODELS:
            msg = unknown_name("model", name, sorted(MODELS))
            if label == name:
                msg += '; a label that is not a model name needs model = "NAME" in its table'
            raise self.fail(table, "model" if label != name else None, msg)
        other = {m.lower(): m for m in MODELS}.get(label.lower())
        if other is not None and other != name:  # the leaderboard would show one model's name for another's figures
            raise self.fail(table, "model", f"label {label!r} is the name of another model, so its row would read as "
                                            f"{other}'s; give {name} a label of its own, such as {name}-{label}")
        fields = set(MODELS[name].Config().to_dict())
        renames = MODELS[name].Config.renames()
        for key in settings:
            if key not in fields and key not in renames:
                raise self.fail(table, key, f"unknown setting of {name} {known_words(key, sorted(fields))}"
                                if fields else f"unknown setting: {name} takes no settings")
        try:
            # Under a ranking protocol a model trained for stars takes its ranking variant
            # (mf's loss = "bpr"), the same rule as the command line's.
            settings = protocol.settings_for(MODELS[name], settings, where="\0")
            model = create(name, settings, where="\0")
        except CinerecError as e:
            # A nested setting (a blend member's) is blamed on its own line when it is named;
            # a table given where a setting takes a value ({a = 1} for a number) is not nested.
            defaults = MODELS[name].Config().to_dict()
            leaves = [(table + path, key) for path, key in _leaves(settings)
                      if path and isinstance(defaults.get(path[0]), dict)]
            named = _culprit(str(e), {key: None for _, key in leaves})  # the one the message names first
            nested = [(sub, key) for sub, key in leaves if key == named]
            # Members that share the key: the one whose table the message names ("settings.ease").
            nested = [(sub, key) for sub, key in nested if ".".join(sub[len(table):]) in str(e)] or nested
            if nested:
                raise self.fail(nested[0][0], nested[0][1], _strip(str(e))) from None
            # A nested table the message names ("'als' is not one of the members"): its header.
            named_tables = [sub for sub, _ in leaves if f"'{sub[-1]}'" in str(e)]
            if named_tables:
                raise self.fail(named_tables[0], None, _strip(str(e))) from None
            raise self.fail(table, _culprit(str(e), settings), _strip(str(e))) from None
        try:
            protocol.check(model)
        except CinerecError as e:
            raise self.fail(table, None, _strip(str(e))) from None
        if "device" in model.config.to_dict():  # a device this machine lacks: said before the data load
            from cinerec.training import check_device

            try:
                check_device(model)
            except CinerecError as e:
                raise self.fail(table, "device" if "device" in settings else None, _strip(str(e))) from None
        return ModelSpec(label, name, settings)


def _leaves(values: Mapping[str, Any], path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], str]]:
    """Every ``(table path, key)`` of a nested mapping's non-table values."""
    out: list[tuple[tuple[str, ...], str]] = []
    for key, value in values.items():
        out += _leaves(value, path + (key,)) if isinstance(value, dict) else [(path, key)]
    return out


def _culprit(message: str, values: Mapping[str, Any]) -> str | None:
    """The key of ``values`` an error message names first, if any."""
    # The keys a message lists as known, or as the one meant, are not at fault.
    message = re.sub(r"\((?:did you mean '[^']*'\? )?known: [^)]*\)", "", message)
    found = [(m.start(), key) for key in values if (m := re.search(rf"(?<![\w-]){re.escape(key)}(?![\w-])", message))]
    return min(found)[1] if found else None


def _strip(message: str) -> str:
    """An error message without the placeholder location given to the checks."""
    message = message.replace("\0: ", "").replace("\0", "").strip()
    # A value as the file spells it: TOML's true and false, not Python's; a protocol as
    # the file names it, not as the command line's flag.
    message = re.sub(r"--protocol ([\w-]+)", r'[protocol] name = "\1"', message)
    return re.sub(r"(= )(True|False)\b", lambda m: m.group(1) + m.group(2).lower(), message)


# -- running a study ------------------------------------------------------------------------


class Stages:
    """Wall time and peak memory of each stage of a run, in order.

    The peak is the process's resident set at its highest during the stage: on Linux
    the kernel's high-water mark is reset when a stage starts (``/proc/self/clear_refs``)
    and read when it ends; elsewhere it is the process's peak so far (``getrusage``),
    which can only overstate a stage. The whole run's peak is the highest stage's
    (:attr:`peak_gb`): after a reset, tools that read the kernel's mark when the
    process ends (``/usr/bin/time``) see only the peak since the last stage began.
    """

    def __init__(self, quiet: bool = True) -> None:
        self.rows: list[dict[str, Any]] = []
        self.quiet = quiet

    @property
    def peak_gb(self) -> float:
        """The highest peak of any stage so far."""
        return max((r["peak_gb"] for r in self.rows), default=0.0)

    def __call__(self, name: str) -> Any:
        import contextlib
        import time

        from cinerec.progress import stage

        @contextlib.contextmanager
        def timed() -> Any:
            exact = _reset_peak()
            start = time.perf_counter()
            with stage(name):  # (a spinner and the time so far, on a terminal)
                yield
            seconds = time.perf_counter() - start
            peak = _peak_bytes()
            # (in GB of 10^9 bytes, as named: it divided by 2^30, GiB, 7% more each)
            self.rows.append({"stage": name, "seconds": round(seconds, 2), "peak_gb": round(peak / 1e9, 3),
                              "peak_exact": exact})
            from cinerec.commands.show import say

            say(f"  [{name}: {seconds:.1f} s, peak {peak / 1e9:.2f} GB]", self.quiet)

        return timed()


def _reset_peak() -> bool:
    """Reset the kernel's peak resident set of this process; ``False`` where it cannot."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _peak_bytes() -> int:
    """This process's peak resident set (since the last reset, where one was possible)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak) if sys.platform == "darwin" else int(peak) * 1024


def _clustered_se(terms: Any, users: Any) -> float:
    """Standard error of a sum of ``terms`` (each a pair's centred share of the estimate),
    taking the pairs of one user as one draw: ``sqrt(G / (G - 1) * sum over users of (their
    terms' sum)²)``, ``G`` the users. A user measured on several splits (the seeds of a
    deterministic split, the official folds) is one person, not new evidence each time; with
    one pair per user this is the plain ``sd / sqrt(n)``."""
    import numpy as np

    terms = np.asarray(terms, dtype=np.float64)
    _, group = np.unique(np.asarray(users), return_inverse=True)
    sums = np.bincount(group.ravel(), weights=terms, minlength=int(group.max(initial=-1)) + 1)
    g = len(sums)
    return float(np.sqrt(g / (g - 1) * np.sum(sums ** 2))) if g > 1 else float("nan")


def _users_of(values: Sequence[Any], users: Sequence[Any] | None) -> list[Any]:
    """Each split's user ids; without them every pair is a user of its own."""
    import numpy as np

    if users is not None:
        return [np.asarray(u) for u in users]
    offsets = np.cumsum([0] + [len(v) for v in values])
    return [np.arange(lo, hi) for lo, hi in zip(offsets[:-1], offsets[1:])]


def paired(a: Any, b: Any, *, lower: bool = False, users: Any = None) -> dict[str, Any]:
    """``a`` against ``b`` on the same users: the mean per-user difference and its paired standard error.

    For a metric that is a mean over users (HR@10, recall, NDCG). A metric over ratings
    (RMSE, MAE) goes through :func:`paired_errors`, which weighs users by their ratings.

    Args:
        a, b: ``(n,)`` per-user values of one metric for two models on the same splits
            (several seeds' users concatenated); ``nan`` marks a user without a value.
        lower: lower values are better (so a "win" is a lower value).
        users: ``(n,)`` who each value belongs to: the pairs of one user count as one
            draw in the standard error (:func:`_clustered_se`). Default: each pair its own.

    Returns:
        ``diff`` (mean of ``a - b``), ``se`` (with one pair per user, the standard
        deviation of the differences over ``sqrt(n)``), ``n`` (pairs), ``wins`` /
        ``losses`` / ``ties`` (pairs where ``a`` does better than, worse than or as well
        as ``b``).
    """
    import numpy as np

    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    who = np.arange(len(d)) if users is None else np.asarray(users)
    keep = ~np.isnan(d)
    d, who = d[keep], who[keep]
    n = len(d)
    se = _clustered_se((d - d.mean()) / n, who) if n > 1 else float("nan")
    better = d < 0 if lower else d > 0
    return {"diff": float(d.mean()) if n else float("nan"), "se": se, "n": n,
            "wins": int(better.sum()), "losses": int(((d != 0) & ~better).sum()), "ties": int((d == 0).sum())}


def paired_folds(a: Sequence[Any], b: Sequence[Any], *, lower: bool = False,
                 users: Sequence[Any] | None = None) -> dict[str, Any]:
    """As :func:`paired`, split by split (each official fold of each seed), for a figure
    that is the mean of the splits' own: ``diff`` is the mean of their paired mean
    differences; ``se`` is that mean's, a user's terms over all splits taken together
    (``users``: each split's user ids); ``n``, ``wins``, ``losses`` and ``ties`` add up."""
    import numpy as np

    parts = [paired(x, y, lower=lower) for x, y in zip(a, b)]
    terms, who = [], []
    for x, y, u in zip(a, b, _users_of(a, users)):
        d = np.asarray(x, dtype=np.float64) - np.asarray(y, dtype=np.float64)
        keep = ~np.isnan(d)
        if keep.any():
            terms.append((d[keep] - d[keep].mean()) / (keep.sum() * len(parts)))
            who.append(u[keep])
    few = any(p["n"] < 2 for p in parts)  # (a split of one user: its spread unseen, not nil)
    se = _clustered_se(np.concatenate(terms), np.concatenate(who)) if terms and not few else float("nan")
    return {"diff": float(np.mean([p["diff"] for p in parts])), "se": se,
            **{k: int(sum(p[k] for p in parts)) for k in ("n", "wins", "losses", "ties")}}


def paired_errors(a: Sequence[Any], b: Sequence[Any], counts: Sequence[Any], metric: str,
                  users: Sequence[Any] | None = None) -> dict[str, Any]:
    """RMSE or MAE of ``a`` against ``b`` on the same splits, paired over users.

    The difference is exactly the metric's own: the mean over seeds of ``RMSE_a − RMSE_b``
    (each over the seed's test ratings), so it ranks models as the metric's column does.
    Users are the unit of pairing: with ``e`` a user's squared (MAE: absolute) errors
    summed over their ``n_u`` ratings, the seed's difference is the sum over users of
    ``(e_a − e_b) / N`` (``N`` the seed's ratings), times ``1 / (RMSE_a + RMSE_b)`` for
    RMSE (``√x − √y = (x − y) / (√x + √y)``); its standard error is that of the mean over
    seeds of sums of per-user terms, one user's terms over all seeds taken as one draw
    (:func:`_clustered_se`).

    Args:
        a, b: per seed, ``(n,)`` per-user RMSE (or MAE) of the two models.
        counts: per seed, ``(n,)`` each user's number of test ratings.
        metric: ``"rmse"`` or ``"mae"``.
        users: per seed, ``(n,)`` the users' ids. Default: each seed's users their own.

    Returns:
        As :func:`paired`; ``wins`` / ``losses`` / ``ties`` compare users' own errors.
    """
    import numpy as np

    diffs, terms, who, per_user = [], [], [], []
    few = False
    for va, vb, n, ids in zip(a, b, counts, _users_of(a, users)):
        va, vb, n = (np.asarray(x, dtype=np.float64) for x in (va, vb, n))
        keep = (n > 0) & ~np.isnan(va) & ~np.isnan(vb)
        va, vb, n = va[keep], vb[keep], n[keep]
        power = 2 if metric == "rmse" else 1
        ea, eb, total = va ** power * n, vb ** power * n, n.sum()
        scale = 1.0 / (np.sqrt(ea.sum() / total) + np.sqrt(eb.sum() / total)) if metric == "rmse" else 1.0
        d = (ea - eb) / total * scale
        diffs.append(d.sum())
        few = few or len(d) < 2  # (one user's term is its own mean: no spread to see, not none there)
        terms.append((d - d.mean()) / len(a))  # a sum over users: each term's spread about the mean term
        who.append(ids[keep])
        per_user.append(va - vb)
    u = np.concatenate(per_user) if per_user else np.zeros(0)
    se = _clustered_se(np.concatenate(terms), np.concatenate(who)) if terms and not few else float("nan")
    return {"diff": float(np.mean(diffs)), "se": se, "n": len(u),
            "wins": int((u < 0).sum()), "losses": int((u > 0).sum()), "ties": int((u == 0).sum())}


#: What a study run of an earlier cinerec held at its place until its store was in (it
#: wrote the store after the run took its place): such a run, killed then, is named so.
EXPORT_PENDING = ".cinerec-export-pending"


def _export_k(out: Path) -> str:
    """`` -k K`` of the store the study in ``out`` was writing (its ``[export] k``, as its
    run.json records the study), so that the store written again is the one it would have
    written; empty where the record does not say."""
    try:
        k = json.loads((out / "run.json").read_text(encoding="utf-8"))["study"]["export"]["k"]
    except (OSError, ValueError, KeyError, TypeError):
        return ""
    return f" -k {k}" if isinstance(k, int) and not isinstance(k, bool) else ""


@in_cli_words  # (its mistakes in the study file's words, from Python too, as cinerec run says them)
def run_study(study: Study, out: str | Path, *, quiet: bool = False) -> dict[str, Any]:
    """Run ``study`` and write its run folder ``out``; return the leaderboard.

    For every seed the protocol is prepared once and every model evaluated on it (its
    settings searched first on the protocol's own carve-out of the training part when
    the study tunes it). The best model by the study's metric is then refitted on all
    the (filtered) data and saved with the dataset, so ``recommend``, ``export`` and
    ``serve`` work on the folder. The folder is built beside ``out``, its store
    (``[export]``) written last, and renamed into place when complete; on any error, or
    a kill, nothing is left at ``out``.

    Returns:
        The leaderboard as plain values (what ``cinerec run --json`` prints).
    """
    import time

    from cinerec.io import atomic_dir, check_replaced_whole, contents, read_json

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out}: is a file; --out names the run folder to write")
    if (out / EXPORT_PENDING).is_file() and (out / "run.json").is_file() and not (out / "store.sqlite").exists():
        raise ConfigError(f"--out {out}: holds a study run cut short while writing its store (store.sqlite is not "
                          f"there); remove the folder and run the study again, or write the store with cinerec "
                          f"export --run {shlex.quote(str(out))} --db {shlex.quote(str(out / 'store.sqlite'))}"
                          f"{_export_k(out)}")  # (quoted: a command to paste, whatever the folder's name)
    if out.is_dir() and contents(out):  # (a file browser's .DS_Store is nothing)
        raise ConfigError(f"--out {out}: already exists and is not empty; choose another folder")
    check_replaced_whole(out, str(out), "--out ")  # found now, before the study runs

    def still_empty(path: Path) -> None:  # another command may have written there meanwhile
        if there := contents(path):
            raise ConfigError(f"--out {out}: something else was written there while the study ran "
                              f"({there[0].name!r}); it is kept: choose another folder")

    stages = Stages(quiet)
    start = time.perf_counter()
    # Nothing is left at out on failure: no folder it made, and an empty folder given stays
    # empty (what another command wrote there meanwhile stays too).
    with atomic_dir(out, before_swap=still_empty) as tmp:
        try:
            board = _run(study, tmp, quiet, stages)
            if study.export_k is not None:  # into the run before it takes its place: a kill leaves neither
                _export(study, tmp, out, board, stages, quiet)
                board["seconds"] = round(time.perf_counter() - start, 1)
                board["peak_gb"] = stages.peak_gb
                _write_board(tmp, board, study)  # again, with the export's time
        except TooFewUnseen as e:  # the count is the study file's to set
            # The filters in the words of where they were set: the file's keys, or the flags.
            words = {flag: said for flag, said, keys in _FILTER_WORDS if not set(keys) & set(study.from_flags)}
            asked = e.asking("n_negatives = {n}", words)
            key = "n_negatives" if "n_negatives" in study.protocol_options else None
            raise TooFewUnseen(f"{_where(study, ('protocol',), key)}: {asked.base}", asked.fewer,
                               "n_negatives = {n}", asked.only_way, asked.top_k) from None
    board["run"] = os.path.abspath(out)  # as train's --json names its run
    # The record of what was read and filtered, as train's and evaluate's --json give it.
    board["dataset"] = read_json(out / "run.json")["dataset"]
    return board


def _below_popularity(rows: list[dict[str, Any]], floors: Mapping[int, Any], metric: str, study: Study,
                      floor_row: str | None) -> list[str]:
    """A line for each model whose figure, the mean over the seeds, is below popularity's
    on the same splits: a ranking protocol's floor, which the report must name."""
    import numpy as np

    from cinerec.evaluation.protocols import LOWER_IS_BETTER, figure_below, tie_below, tie_breaker

    values = [floors[s].metrics.get(metric) for s in study.seeds] if floors else []
    if not values or any(v is None for v in values) or metric.split("@")[0] in LOWER_IS_BETTER:
        return []
    floor = float(np.mean(values))
    over = f"the mean over {len(values)} seeds" if len(values) > 1 else f"seed {study.seeds[0]}"
    # Ties on the figure told apart as one split's are (tie_below), on the means over the seeds.
    other = tie_breaker(metric)
    means = {metric: floor}
    if other is not None and all(other in floors[s].metrics for s in study.seeds):
        means[other] = float(np.mean([floors[s].metrics[other] for s in study.seeds]))
    out = []
    for row in rows:
        if row["label"] == floor_row or metric not in row["metrics"]:
            continue
        if figure_below(row["metrics"][metric]["mean"], floor):
            out.append(f"{row['label']}: {metric} {row['metrics'][metric]['mean']:.4f} is below popularity's "
                       f"{floor:.4f} under {study.protocol} ({over})")
            continue
        figures = {name: row["metrics"][name]["mean"] for name in means if name in row["metrics"]}
        if (tie := tie_below(row["label"], metric, figures, means)) is not None:
            out.append(f"{tie} under {study.protocol} ({over})")
    return out


def _below_mean(rows: list[dict[str, Any]], floors: Mapping[int, float], study: Study) -> list[str]:
    """A line for each model whose RMSE, the mean over the seeds, is worse than predicting
    every rating as the training mean on the same splits (a rating protocol's floor, as
    :func:`cinerec.evaluation.protocols.below_mean` says it for one split)."""
    import numpy as np

    values = [floors[s] for s in study.seeds if s in floors]
    if not values or not np.isfinite(values).all():
        return []
    floor = float(np.mean(values))
    over = f"the mean over {len(values)} seeds" if len(values) > 1 else f"seed {study.seeds[0]}"
    from cinerec.evaluation.protocols import below_mean_line

    return [below_mean_line(row["label"], row["metrics"]["rmse"]["mean"], floor, f"{study.protocol} ({over})")
            for row in rows if "rmse" in row["metrics"] and row["metrics"]["rmse"]["mean"] > floor]


@contextlib.contextmanager
def _blamed_on(study: Study, label: str) -> Iterator[None]:
    """A setting refused only once a model fits (a member's size limit, a value the data
    rules out) is named as the study file's ``[models.LABEL]`` table."""
    try:
        yield
    except ConfigError as e:
        if str(e).startswith(str(study.path)):  # already says where
            raise
        raise ConfigError(_setting_fault(study, ("models", label), e)) from None
    except Diverged as e:  # which table's settings: two tables may hold one model
        raise Diverged(f"{_where(study, ('models', label), None)}: {e}") from None
    except DataError as e:  # a search that cannot be run on this data: in the study's words
        if "leave out --tune" not in str(e):
            raise
        said = str(e).replace("leave out --tune", "leave it out of the search ([tune] models = [...] names the "
                                                  "models searched)")
        raise DataError(f"{_where(study, ('models', label), None)}: {said}") from None
    except (MemoryError, RuntimeError) as e:  # a setting asking for too much (factors = 1e11): its table
        if not out_of_memory(e):
            raise
        said = e.said if isinstance(e, OutOfMemory) else allocation_words(e)
        raise ConfigError(f"{_where(study, ('models', label), None)}: out of memory fitting it ({said}); "
                          f"{OUT_OF_MEMORY_ADVICE}") from None


#: Each filter a "too few unseen movies" error may name, in the study file's words, and
#: the keys that set it (a filter set by a flag keeps the flag's name).
_FILTER_WORDS = (("--top-movies", "top_movies under [data]", ("top_movies",)),
                 ("--top-users", "top_users under [data]", ("top_users",)),
                 ("--min-year/--max-year", "min_year/max_year under [data]", ("min_year", "max_year")),
                 ("--min-year", "min_year under [data]", ("min_year",)),  # (after the two together)
                 ("--max-year", "max_year under [data]", ("max_year",)),
                 ("--kcore", "kcore under [data]", ("kcore",)),
                 ("--liked-threshold", "liked_threshold under [data]", ("liked_threshold",)))


def _write_board(folder: Path, board: dict[str, Any], study: Study) -> None:
    """Rewrite ``leaderboard.json`` and ``report.md`` of a finished run folder."""
    from cinerec.evaluation.report import plots_section
    from cinerec.io import atomic_path, escaped, write_json
    from cinerec.runs import PLOTS

    write_json(folder / "leaderboard.json", board)
    text = report(board, study)
    plots = plots_section(folder, PLOTS)
    with atomic_path(folder / "report.md") as tmp:
        tmp.write_text(escaped(text.rstrip("\n") + ("\n\n" + plots if plots else "\n")), encoding="utf-8")


def _figureless(note: str) -> str:
    """``note`` with each number in it as ``#``: two seeds' notes of one finding compare equal."""
    return re.sub(r"\d+(?:[.,]\d+)*%?", "#", note)


def held_note(study: Study, spec: ModelSpec) -> str:
    """What tuning keeps of ``spec``'s table: the settings telling it from another table of
    its model, and whether anything is left to search."""
    keys = study.held(spec)
    given = ", ".join(f"{k} = {spec.settings[k]!r}" for k in keys)
    from cinerec.models import MODELS

    rest = set(MODELS[spec.model].search_space) - set(keys)
    tail = "the search covers its other settings" if study.tuned(spec) else \
        f"the rest {spec.model} searches, recency_half_life, weighs nothing on data without times, so it is not " \
        "tuned" if rest == {"recency_half_life"} else f"that is all {spec.model} searches, so it is not tuned"
    return f"{spec.label}: {given} kept as its table gives it, to tell it from " \
           f"{', '.join(study.held_apart_from(spec))}; {tail}"


def _run(study: Study, tmp: Path, quiet: bool, stages: Stages) -> dict[str, Any]:
    import time

    import numpy as np

    from cinerec import progress
    from cinerec.commands.show import say
    from cinerec.data import load
    from cinerec.data.movielens import is_release
    from cinerec.data.filters import apply_filters
    from cinerec.evaluation.protocols import (LOWER_IS_BETTER, few_measured, few_words, figure_notes, get_protocol,
                                              ks_left_out, lists_hold_all, mean_rmse, measured_few, ndcg_measured,
                                              seeds_words)
    from cinerec.io import write_json
    from cinerec.models import MODELS, create
    from cinerec.models.base import with_features
    from cinerec.evaluation.report import save_leaderboard
    from cinerec.data.dataset import dataset_sizes, reading_notes, synthetic_notes, synthetic_words
    from cinerec.runs import PLOTS, data_record, finish_run, save_dataset, save_model
    from cinerec.tuning import objective, trials_text, tune_with_bar

    t_start = time.perf_counter()
    with progress.silenced(quiet):
        with stages("load"):
            own = [key for key in ("columns", "catalog", "rating_scale") if getattr(study, key) is not None]
            if own and "source" in study.from_flags and not set(own) & set(study.from_flags) \
                    and is_release(study.source):
                # A study of one's own log run on a release with --data: the file's columns
                # and catalog describe that log, not the release, which names its own (they
                # were refused, and only editing the file could run the study).
                keys = " and ".join([", ".join(own[:-1]), own[-1]] if len(own) > 1 else own)
                say(f"note: {study.path} [data] {keys} {'are' if len(own) > 1 else 'is'} for a log of "
                    f"your own; --data {study.source} is a MovieLens release, which names its own columns"
                    f"{', movies and scale' if 'rating_scale' in own else ' and movies'}, so the file's are left out",
                    quiet)
                study = replace(study, columns=None, catalog=None, rating_scale=None)
            try:
                dataset = load(study.source, progress=True, columns=study.columns, catalog=study.catalog,
                               rating_scale=study.rating_scale)
            except ConfigError as e:  # "--columns: ... is a MovieLens release": the file's key, if it set it
                flag = re.match(r"--(columns|catalog|rating-scale): ", str(e))
                if flag is None:
                    raise
                said = str(e)[flag.end():]
                key = flag[1].replace("-", "_")
                if key not in study.from_flags:  # the file's keys, in the file's words
                    said = said.replace("--columns and --catalog apply", "[data] columns and catalog apply") \
                        .replace("--rating-scale applies", "[data] rating_scale applies")
                raise ConfigError(f"{_where(study, ('data',), key)}: {said}") from None
            except DataError as e:  # a source of the wrong kind, a damaged line: said where it was named
                key, said = _load_fault(study, str(e))
                if key == "source" and "source" in study.from_flags:
                    raise DataError(f"--data: {said}") from None
                if "columns" not in study.from_flags:
                    said = re.sub(r"with --columns ([^;,)\s]+)", r'with [data] columns = "\1"', said)
                raise DataError(f"{_where(study, ('data',), key)}: {said}") from None
        read = dataset_sizes(dataset)  # (as read, with its scale: the report says it too)
        say(f"data: {study.source}{synthetic_words(dataset)}: {read}", quiet)
        with stages("filter"):
            try:
                dataset, record = apply_filters(dataset, study.filters)
            except FilterRefused as e:  # name its key in the file, or the flag that set it
                where = _where(study, ("data",), e.key)
                said = f"{study.path}: {e.flag} (given on the command line) {e.rest}" \
                    if where.endswith("(given on the command line)") else \
                    f"{where} = {shown(list(e.value) if isinstance(e.value, tuple) else e.value)} " + \
                    e.rest.replace("(--implicit)", "(implicit = true under [data])")
                raise DataError(said) from None
        data = data_record(study.data_source(), dataset, study.filters, record)
        study = replace(study, untimed=dataset.interactions.untimed)
        protocol = get_protocol(study.protocol, **study.protocol_options)
        try:  # data the protocol cannot measure (no stars, no folds): said before any one model's needs
            protocol.check_data(dataset)
        except (ConfigError, DataError) as e:
            raise type(e)(_protocol_refusal(study, e)) from None
        for spec in study.models:  # side features the data cannot give, a size a model cannot take:
            probe = create(spec.model, dict(spec.settings))  # refused before any model trains
            try:
                probe.check_size(dataset.n_users, dataset.n_items)
            except ConfigError as e:
                raise ConfigError(_setting_fault(study, ("models", spec.label), e)) from None
            try:
                with_features(probe, dataset)
            except DataError as e:
                raise DataError(f"{_features_where(study, spec.label, str(e))}: {e}") from None
        if study.export_two_stage is not None:  # its retriever, refused now, not after every model ran
            from cinerec.models.two_stage import TwoStageConfig

            retriever = TwoStageConfig.from_dict({**study.export_two_stage, "ranker": study.models[0].model,
                                                  "ranker_settings": dict(study.models[0].settings)}).stage("retriever")
            try:
                retriever.check_size(dataset.n_users, dataset.n_items)
            except ConfigError as e:
                raise ConfigError(_setting_fault(study, ("export", "two_stage", "retriever_settings"), e,
                                                 nested=True)) from None
            if study.export_two_stage.get("retriever_path"):
                _check_saved_retriever(study, dataset)
        for step in record:
            say(f"  {step_words(step)}: {left_counts(step)}{unknown_years(step)}", quiet)
        export_notes = _export_notes(study, dataset)  # said under the figures, with the other notes
        say(f"protocol: {protocol.describe(dataset)}; seed{'s' if len(study.seeds) > 1 else ''} "
            f"{', '.join(map(str, study.seeds))}", quiet)
        results: dict[str, dict[int, Any]] = {s.label: {} for s in study.models}
        used: dict[str, dict[int, dict[str, Any]]] = {s.label: {} for s in study.models}
        kept_epochs: dict[str, dict[int, int]] = {s.label: {} for s in study.models}
        model_notes: list[str] = [held_note(study, spec) for spec in study.models if study.held(spec)]
        said_kinds: set[tuple[str, str]] = set()  # (a table's notes said, their figures aside)
        # (A [tune] models list names what is searched; the rest were not asked for.)
        if study.tunes and study.tune_models is None and (
                fixed := [s for s in study.models if not MODELS[s.model].search_space]):
            named = ", ".join(s.label if s.label == s.model else f"{s.label} ({s.model})" for s in fixed)
            model_notes.append(f"{named}: no settings to search, so not tuned (they run as their tables set them)")
        for line in model_notes:
            say(f"note: {line}", quiet)
        # Popularity on each seed's split, the floor of a ranking protocol: the study's own
        # row where it has one with its defaults, else measured beside the models.
        floors: dict[int, Any] = {}
        mean_floors: dict[int, float] = {}  # (seed: the training mean's RMSE, under a rating protocol)
        floor_row = next((s.label for s in study.models if s.model == "popularity" and not s.settings), None)
        tuning: dict[str, dict[int, dict[str, Any]]] = {}
        ks_out: dict[tuple[int, ...], list[int]] = {}  # default Ks a split left out: the seeds it was on
        ks_line = ""
        split_keys: set[str] = set()  # what each seed's split holds out: one, where the protocol draws nothing
        few_counts: dict[int, int] = {}  # seed: how few people (or held-out ratings) it measured, where few
        lists_full: dict[str, list[int]] = {}  # lists_hold_all's line: the seeds it was said of
        ndcg_some: dict[str, list[int]] = {}  # ndcg_measured's line (a split's count): the seeds it was said of
        few_ratings = False
        # The progress lines show the figures at the K the study is ranked by (10, or the largest measured).
        at = "@" + objective(protocol)[0].partition("@")[2] if not protocol.needs_ratings else "@10"
        for seed in study.seeds:
            with stages(f"split (seed {seed})"):
                try:
                    prepared = protocol.prepare(dataset, seed=seed)
                except TooFewUnseen:
                    raise  # run_study names the file's n_negatives
                except FilterLeavesOne as e:  # said where the filter was set, in the file or on the command line
                    raise DataError(f"{_where(study, ('data',), e.key)}: {e}") from None
                except (ConfigError, DataError) as e:  # the protocol refuses this data (a filter dropped its folds)
                    raise type(e)(_protocol_refusal(study, e)) from None
            seed_ks_note = ks_left_out(prepared)  # said once for the study, below, seed by seed where they differ
            split_keys.add(_held_out_print(prepared))
            if (few := measured_few(prepared)) is not None:  # as the Ks left out: once, seed by seed
                few_counts[seed], few_ratings = few
            held_all = lists_hold_all(prepared)  # (its count differs by seed: said once, below, by seed)
            for line in held_all:
                lists_full.setdefault(line, []).append(seed)
            for line in ndcg_measured(prepared):
                ndcg_some.setdefault(line, []).append(seed)
            seed_notes = seed_ks_note + few_measured(prepared) + held_all
            if seed_ks_note:
                ks_out.setdefault(tuple(k for k in protocol.ks if k not in prepared.ks), []).append(seed)
                ks_line = seed_ks_note[0]
            for spec in study.models:
                with stages(f"{spec.label} (seed {seed})"), _blamed_on(study, spec.label):
                    settings = dict(spec.settings)
                    if "seed" in MODELS[spec.model].Config().to_dict() and "seed" not in settings:
                        settings["seed"] = seed
                    if study.tuned(spec):
                        found = tune_with_bar(spec.model, dataset, protocol, label=spec.label, train=prepared.train,
                                              valid=prepared.valid, trials=study.trials, minutes=study.minutes,
                                              seed=seed, base=settings, hold=study.held(spec))
                        settings = {**settings, **found.settings}
                        tuning.setdefault(spec.label, {})[seed] = found.to_dict()
                        screened = ", screened by a shortcut" if found.screened else ""
                        trials = trials_text(found.trials, found.metric, found.scored)
                        say(f"{spec.label} seed {seed}: tuned {found.settings} (validation {found.metric} "
                            f"{found.value:.4f}, untuned {found.default_value:.4f}, {trials}{screened})", quiet)
                        model = found.model  # fitted on the training part (and its validation part)
                    else:
                        model = with_features(create(spec.model, settings), dataset)
                    result = prepared.evaluate(model, label=spec.label, per_user=True)
                    if study.tuned(spec):  # fitted by the search: its fit's time
                        result = replace(result, seconds_fit=found.seconds_fit)
                    # After the fit: a setting the fit chooses (two-stage's mix = "auto") is recorded as chosen.
                    used[spec.label][seed] = model.config.to_dict()
                    if (kept := _kept_epoch(model)) is not None:
                        kept_epochs[spec.label][seed] = kept
                    # What the figures measure (an approximate index's lists, a shortlist holding every
                    # candidate) and what the fit chose, as evaluate and train say them; named by the label.
                    split_lines = seed_notes + ndcg_measured(prepared, model)  # (said once, below)
                    for line in figure_notes(prepared, model):
                        if line in split_lines:
                            continue
                        said = spec.label + line.removeprefix(model.name) if line.startswith(f"{model.name}:") else line
                        # Said once, not once a seed: a note of this table whose figures alone
                        # differ from an earlier seed's (ALS's share of variance, mf's mean
                        # stars) is that one.
                        kind = (spec.label, _figureless(said))
                        if said not in model_notes and kind not in said_kinds:
                            said_kinds.add(kind)
                            model_notes.append(said)
                            say(f"note: {said}", quiet)
                    results[spec.label][seed] = result
                    say(f"{spec.label} seed {seed}: " + ", ".join(
                        f"{k} {v:.4f}" for k, v in result.metrics.items() if k.endswith(at) or "@" not in k)
                        + f" (fit {result.seconds_fit:.1f} s)", quiet)
                    del model
            if protocol.needs_ratings:  # the rating protocols' floor: the training mean's RMSE
                mean_floors[seed] = mean_rmse(prepared)
            if not protocol.needs_ratings:
                if floor_row is not None:
                    floors[seed] = results[floor_row][seed]
                else:
                    with stages(f"popularity, the floor (seed {seed})"):  # (not the file's [models.popularity])
                        floors[seed] = prepared.evaluate(create("popularity"))

        metric, _ = objective(protocol)
        first = results[study.models[0].label][study.seeds[0]]
        if not any(metric in results[s.label][study.seeds[0]].metrics for s in study.models):
            # No row has the protocol's metric (every model predicts likes, not stars, so
            # none has an RMSE): rank by the metric such a model is tuned on (AUC).
            spec0 = study.models[0]
            metric = objective(protocol, create(spec0.model, used[spec0.label][study.seeds[0]]))[0]
        if study.reference and first.per_user and study.reference.metric in first.per_user:
            metric = study.reference.metric
        lower = metric.split("@")[0] in LOWER_IS_BETTER
        board_models: list[dict[str, Any]] = []
        partial: set[str] = set()  # figures some seeds' splits did not measure (a K one of them left out)
        for spec in study.models:
            per_seed = results[spec.label]
            values: dict[str, list[float]] = {}
            for seed in study.seeds:
                m = dict(per_seed[seed].metrics)
                if "rmse" in m:  # mean squared error, as rating studies often report
                    folds = [k.removeprefix("rmse_") for k in m if k.startswith("rmse_")]
                    for fold in folds:  # several official folds: each fold's, and their mean
                        m[f"mse_{fold}"] = m[f"rmse_{fold}"] ** 2
                    m["mse"] = float(np.mean([m[f"mse_{f}"] for f in folds])) if folds else m["rmse"] ** 2
                for k, v in m.items():
                    values.setdefault(k, []).append(float(v))
            # A mean over the seeds that measured it would pass one seed's figure for all of theirs.
            partial |= {k for k, v in values.items() if len(v) < len(study.seeds)}
            values = {k: v for k, v in values.items() if len(v) == len(study.seeds)}
            # One seed has no spread: its sd is null, not a spread of 0.
            summary = {k: {"mean": float(np.mean(v)), "sd": float(np.std(v, ddof=1)) if len(v) > 1 else None,
                           "values": v} for k, v in values.items()}
            board_models.append({
                "label": spec.label, "model": spec.model, "metrics": summary,
                "seconds_fit": float(np.mean([per_seed[s].seconds_fit for s in study.seeds])),
                "settings": {str(s): used[spec.label][s] for s in study.seeds},
                "tuning": {str(s): t for s, t in tuning.get(spec.label, {}).items()} or None,
            })
        if few_counts:  # (first with the Ks left out: what the splits measure, before what the models did)
            model_notes[0:0] = few_words(few_counts, few_ratings, study.seeds)
        for seen in (ndcg_some, lists_full):  # one line where every seed says it alike, else each seed's own
            if seen:
                alike = len(seen) == 1 and len(next(iter(seen.values()))) == len(study.seeds)
                model_notes[0:0] = list(seen) if alike else \
                    [f"{seeds_words(seeds)}: {line}" for line, seeds in seen.items()]
        if len(study.seeds) > 1 and len(split_keys) == 1:  # (a ± 0.0000 read as a figure measured precisely)
            model_notes.insert(0, f"{protocol.name} holds out the same ratings on every seed, so the ± over seeds is "
                                  "the models' own randomness alone (0 for a model that draws nothing), not how the "
                                  "figures vary from split to split")
        if len(ks_out) == 1 and len(next(iter(ks_out.values()))) == len(study.seeds):
            model_notes.insert(0, ks_line)  # every seed alike: as evaluate says it
        elif ks_out:
            parts = [f"K = {', '.join(map(str, ks))} on {seeds_words(seeds)}" for ks, seeds in ks_out.items()]
            model_notes.insert(0, f"{'; '.join(parts)} left out: a list that long would hold every movie the median "
                                  "user has left to rank, on that seed's split")
        if partial:
            model_notes.append(f"{', '.join(sorted(partial))} left out: measured on some of the "
                               "seeds only (the protocol leaves out a K past the movies the median user has left, "
                               "which differs from split to split)")
            headline_metric = objective(protocol)[0]
            if metric in partial and headline_metric not in partial:  # (the reference's K): by the protocol's own figure
                metric, lower = headline_metric, headline_metric.split("@")[0] in LOWER_IS_BETTER
        below = _below_popularity(board_models, floors, metric, study, floor_row)
        model_notes += _below_mean(board_models, mean_floors, study)  # (below: a key of its own, as train's)
        board_models = ranked_rows(board_models, metric)
        best = board_models[0]["label"]
        if len(board_models) > 1 and any(n.startswith(f"{best}: gives every movie the same score") for n in model_notes):
            # (refitted and exported as the best all the same: its lists are its ties' order)
            model_notes.append(f"{best} is ranked best on the order its tied scores fall in, not on anything it "
                               "learned (above), and is refitted and saved as the best all the same: the other models "
                               "ranked below that order here")

        def splits(label: str) -> list[Any]:
            """A model's results split by split: over several official folds each fold's
            (its figure is the mean of theirs), else each seed's."""
            return [part for s in study.seeds for part in (results[label][s].parts or [results[label][s]])]

        def comparable(label: str) -> bool:
            return all(r.per_user and metric in r.per_user for r in splits(label))

        for row in board_models:
            row["vs_best"] = None
            if row["label"] != best and comparable(row["label"]) and comparable(best):
                a = [r.per_user[metric] for r in splits(row["label"])]
                b = [r.per_user[metric] for r in splits(best)]
                counts = [r.per_user.get("n_ratings") for r in splits(best)]
                who = [r.per_user["user"] for r in splits(best)]  # one person over seeds and folds: one draw
                if metric in ("rmse", "mae") and all(c is not None for c in counts):
                    row["vs_best"] = paired_errors(a, b, counts, metric, users=who)
                else:  # each split's mean, then theirs, as the figure (random-full's seeds measure
                    # unlike numbers of people: pooled, a model below the best showed a gain on it)
                    row["vs_best"] = paired_folds(a, b, lower=lower, users=who)

        # The best model, refitted on all the data with the first seed's settings.
        spec = next(s for s in study.models if s.label == best)
        settings = {k: v for k, v in used[best][study.seeds[0]].items()}
        refit_epochs = kept_epochs[best].get(study.seeds[0])
        if refit_epochs is not None:
            # Measured, it kept the epoch its validation chose; with no validation part left
            # to stop it, the refit trains that many (it trained every epoch of the setting).
            settings["epochs"] = refit_epochs
        say(f"refit: {best} on all {len(dataset.interactions):,} ratings"
            + (f", {refit_epochs} epochs (the epoch seed {study.seeds[0]}'s validation chose)"
               if refit_epochs is not None else ""), quiet)
        with stages(f"refit {best}"):
            final = with_features(create(spec.model, settings), dataset).fit(dataset.interactions)
        pipeline = None
        if study.export_two_stage is not None:
            # Retrieve, then rank with the refitted best model: only the retriever is fitted here.
            from cinerec.models.two_stage import TwoStage, TwoStageConfig

            # (the retriever seeded as the refitted model is, by the first seed, unless the table says)
            config = TwoStageConfig.from_dict({"seed": study.seeds[0], **study.export_two_stage, "ranker": spec.model,
                                               "ranker_settings": settings})
            pipeline = with_features(TwoStage(config, ranker=final), dataset)
            with stages(f"two-stage: fit {config.retriever}"):
                pipeline.fit(dataset.interactions)
            if not final.personal and pipeline.mix_ != 0.0:  # (the best beat every personal model here)
                model_notes.append(f"[export.two_stage]: the best model, {best}, ranks every person's shortlist "
                                   f"alike, so the store's lists order {config.retriever}'s shortlists by {best} "
                                   f"(mix = {pipeline.mix_:g})")
            # The ranker is the best model, refitted: its own notes are said under its label;
            # the retriever's are named as the store's (it may be a model of the same kind).
            ranker_notes = pipeline.ranker.fit_notes() if pipeline.ranker is not None else []
            retriever_notes = pipeline.retriever.fit_notes() if pipeline.retriever is not None else []
            for line in pipeline.fit_notes():
                labelled: list[str] = []
                if line in ranker_notes:
                    labelled.append(best + line.removeprefix(final.name) if line.startswith(f"{final.name}:") else line)
                if line in retriever_notes:
                    labelled.append(f"[export.two_stage] retriever {line}")
                for one in labelled or [line]:
                    if one not in model_notes:
                        model_notes.append(one)
        with stages("save"):
            save_dataset(tmp, dataset)
            save_model(tmp, final, best, dataset=dataset)
            if pipeline is not None:
                save_model(tmp, pipeline, pipeline.name, dataset=dataset)

    # The options as the figures were measured: with ratings-fold's fold (u1, or
    # random-80/20 on data without official folds), which the protocol leaves to its splits.
    shown_options = {**first.options, **({"fold": "all"} if study.protocol_options.get("fold") == "all" else {})}
    measured = [tuple(results[study.models[0].label][s].options.get("ks", getattr(protocol, "ks", ())))
                for s in study.seeds]
    if len(set(measured)) > 1:  # the Ks every seed measured, as the leaderboard shows them
        shown_options["ks"] = sorted(set.intersection(*map(set, measured)))
    board = {
        "study": str(study.path.resolve()),  # (found from any folder the run is read in)
        "title": study.title, "data": study.source + synthetic_words(dataset),
        "catalog": study.catalog,  # (the one read: the file's is left out on a release given with --data)
        "read": read,
        "synthetic": bool(dataset.info.get("synthetic")),
        # (the catalogue's, of the movies the filters kept: said under the figures, in the report and --json)
        "notes": synthetic_notes(dataset) + reading_notes(dataset) + export_notes + model_notes + _only_notes(study),
        "transforms": record,
        "not_run": list(study.not_run),
        "protocol": study.protocol, "protocol_options": shown_options, "protocol_summary": protocol.describe(dataset),
        "seeds": list(study.seeds), "metric": metric, "direction": "minimize" if lower else "maximize",
        "left_out": sorted(partial),  # figures some seeds' splits did not measure
        "best_model": best, "models": board_models, **({"refit_epochs": refit_epochs} if refit_epochs is not None else {}),
        **({"below_popularity": below} if floors else {}),
        "reference": study.reference.to_dict(dataset) if study.reference else None,
        "users": first.n_users, "seconds": round(time.perf_counter() - t_start, 1),
        "stages": stages.rows, "peak_gb": stages.peak_gb,
        "two_stage": None if pipeline is None else {
            k: v for k, v in pipeline.config.to_dict().items() if k not in ("ranker_settings", "ranker_path")},
    }
    write_json(tmp / "leaderboard.json", board)
    save_leaderboard(board, tmp / PLOTS / "leaderboard.png")  # the report's first picture, whatever the models
    write_json(tmp / "settings.json", {
        row["label"]: {"model": row["model"], "per_seed": row["settings"], "tuning": row["tuning"],
                       # where it stopped early on validation: per_seed's epochs was the most it could train
                       **({"kept_epochs": {str(s): e for s, e in stopped.items()}}
                          if (stopped := kept_epochs[row["label"]]) else {}),
                       **({"refit": settings} if row["label"] == best else {})} for row in board_models})
    metrics = {}
    for row in board_models:
        flat: dict[str, Any] = {}
        for k, v in row["metrics"].items():
            flat[k] = v["mean"]
            if len(v["values"]) > 1:  # one seed has no spread to give (the table shows no ±, a notebook no column)
                flat[f"{k}_sd"] = v["sd"]
        flat["seconds_fit"] = row["seconds_fit"]  # the table's "fit s"
        if row["vs_best"] is not None:
            flat[f"{metric}_vs_best"] = row["vs_best"]["diff"]
            flat[f"{metric}_vs_best_se"] = row["vs_best"]["se"]
        metrics[row["label"]] = flat
    meta = {
        "command": "run", "best_model": best, "data": study.source, "protocol": study.protocol,
        "protocol_options": shown_options, "seeds": list(study.seeds), "seed": study.seeds[0],
        "metric": metric, "study": study.to_dict(), "transforms": record, "dataset": data,
        **({"below_popularity": board["below_popularity"]} if "below_popularity" in board else {}),
        "config": {best: final.config.to_dict()},
        # Each tuned model's search, seed by seed, as settings.json holds it (train --tune: "tuning").
        **({"tuning": {row["label"]: row["tuning"] for row in board_models if row["tuning"]}}
           if any(row["tuning"] for row in board_models) else {}),
        # What recommend, export and serve use unless told: the list the study exports.
        **({"default_model": "two-stage"} if study.export_two_stage is not None else {}),
    }
    finish_run(tmp, meta=meta, metrics=metrics, report=report(board, study))
    return board


def _held_out_print(prepared: Any) -> str:
    """A fingerprint of what a split holds out (and ranks it among): equal for two seeds'
    splits exactly when they measure the same thing."""
    import hashlib

    import numpy as np

    digest = hashlib.sha1()
    for part in prepared.folds or (prepared,):
        for x in (part.test, part.valid):
            for a in (() if x is None else (x.users, x.items)):
                digest.update(np.ascontiguousarray(a).tobytes() + b"|")
        if part.candidates is not None:
            digest.update(np.ascontiguousarray(part.candidates).tobytes())
    return digest.hexdigest()


def _protocol_refusal(study: Study, e: Exception) -> str:
    """The protocol's refusal of the data, named on the file's ``[protocol]`` key that asked
    for it: the option the refusal names first when the file gives it (``fold``, ``ks``),
    else ``name``."""
    said = str(e).replace("use --protocol ratings-random", 'set name = "ratings-random" there')
    # A filter to loosen, in the words of where it was set: the file's key, or the flag
    # (a flag's name as a word of its own: not inside a path such as "my--kcore.d").
    set_here = set(study.filters.to_dict())
    for flag, words, keys in _FILTER_WORDS:
        if set(keys) <= set_here and not set(keys) & set(study.from_flags):
            said = re.sub(rf"(?<![\w/-]){re.escape(flag)}(?![\w/-])", words, said)
    # The option the protocol names first ("protocol loo-full: ks=[2000]: ..."), where the file gives it.
    named = re.match(rf"protocol {re.escape(study.protocol)}: (\w+)=", str(e))
    key = named[1] if named is not None and named[1] in study.protocol_options else "name"
    return f"{_where(study, ('protocol',), key)}: {said}"


def shown_metrics(board: Mapping[str, Any]) -> list[str]:
    """The leaderboard's columns: the study's metric first, then the rest (when there are
    many, at K = 10 only, but the study's reference figure at every K)."""
    from cinerec.data.movielens import OFFICIAL_FOLDS

    names: list[str] = []
    for row in board["models"]:  # every row's metrics: a liked-or-not model has its own
        names += [n for n in row["metrics"] if n not in names]
    metric = board["metric"]
    # Over several official folds each figure comes fold by fold too (rmse_u1...): those
    # of the study's metric follow the means; the others stay in leaderboard.json.
    by_fold = [n for n in names if n.rpartition("_")[2] in OFFICIAL_FOLDS]
    names = [n for n in names if n not in by_fold]
    ref = board["reference"]["metric"] if board.get("reference") else None
    if len(names) > 8:
        family = ref.split("@")[0] if ref else None
        names = [n for n in names if n.endswith("@10") or "@" not in n or n.split("@")[0] == family]
    return [metric] + [n for n in names if n != metric] + [n for n in by_fold if n.rpartition("_")[0] == metric]


def _pm(summary: Mapping[str, Any] | None, seeds: int) -> str:
    if summary is None:
        return "-"
    if math.isnan(summary["mean"]):  # no one measured by it in some seed (leaderboard_note says why)
        from cinerec.evaluation.report import UNMEASURED

        return UNMEASURED
    return f"{summary['mean']:.4f} ± {summary['sd']:.4f}" if seeds > 1 else f"{summary['mean']:.4f}"


def _kept_epoch(model: Any) -> int | None:
    """The epoch whose weights a model fitted with a validation part kept (early
    stopping's choice), else None."""
    history = getattr(model, "history", None) or []
    if not any("valid" in h for h in history):
        return None
    return next((int(h["epoch"]) for h in history if h.get("kept") and "epoch" in h), None)


def leaderboard_note(board: Mapping[str, Any]) -> str | None:
    """The line under the leaderboard when some figure shows :data:`UNMEASURED`: which, and why."""
    cols = shown_metrics(board)
    missing = [c for c in cols if any(math.isnan(r["metrics"][c]["mean"])
                                      for r in board["models"] if c in r["metrics"])]
    if not missing:
        return None
    from cinerec.evaluation.protocols import LOWER_IS_BETTER
    from cinerec.evaluation.report import unmeasured_line

    stars = any(c.split("@")[0] in LOWER_IS_BETTER for c in cols)
    return unmeasured_line(missing, stars, "in some seed " if len(board["seeds"]) > 1 else "")


def _ended(t: Mapping[str, Any]) -> str:
    """``" (4 pruned, 1 diverged)"`` of a search's record: its trials stopped early."""
    ended = [f"{n} {state}" for state in ("pruned", "diverged") if (n := t.get(f"n_{state}"))]
    return f" ({', '.join(ended)})" if ended else ""


def _only_notes(study: Study) -> list[str]:
    """What ``--only`` left out of the file, said with the figures: the best is of those run;
    and a label it gave twice, run once."""
    twice = [f"--only {', '.join(study.only_twice)} given more than once; each runs once"] if study.only_twice else []
    if not study.not_run:
        return twice
    ran = ", ".join(s.label for s in study.models)
    return [*twice, f"--only {ran}: the file's other models ({', '.join(study.not_run)}) were not run; the best is "
            "the best of those run"]


def _check_saved_retriever(study: Study, dataset: Dataset) -> None:
    """``[export.two_stage] retriever_path`` must know the study's people and movies: as
    many of each, and, for a model saved in a run folder, the same ids in the same order
    (its indices are the run's)."""
    import numpy as np

    from cinerec.data.dataset import Dataset
    from cinerec.models.base import saved_model_info

    assert study.export_two_stage is not None
    path = Path(study.export_two_stage["retriever_path"])
    where = _where(study, ("export", "two_stage"), "retriever_path")
    meta = saved_model_info(path)
    knows = (meta.get("n_users"), meta.get("n_items"))
    if knows != (dataset.n_users, dataset.n_items):
        raise DataError(f"{where}: {path} knows {knows[0]} users x {knows[1]} movies, the study's data has "
                        f"{dataset.n_users} x {dataset.n_items}; give a retriever fitted on this data")
    saved = path.resolve().parent.parent / "dataset"  # (the run it sits in, through a link or a path like "als")
    if (saved / "dataset.json").is_file():
        other = Dataset.load(saved)  # (the ids, as the model's indices name them)
        for what, mine, its in (("users", dataset.user_ids.raw, other.user_ids.raw),
                                ("movies", dataset.item_ids.raw, other.item_ids.raw)):
            if not np.array_equal(np.asarray(mine).astype(str), np.asarray(its).astype(str)):
                raise DataError(f"{where}: {path} was fitted on other {what} than the study's ({saved} holds "
                                f"them); give a retriever fitted on this data")


def _export(study: Study, tmp: Path, out: Path, board: dict[str, Any], stages: Any, quiet: bool) -> None:
    """Write the store ``[export]`` asks for into the finished run ``tmp``, which then takes
    its place at ``out`` (the store names ``out`` as its run); its notes join ``board``'s."""
    from cinerec.commands.show import say
    from cinerec.runs import list_more_files, open_run
    from cinerec.serving.store import export_store

    model = "two-stage" if study.export_two_stage is not None else None
    say(f"export: top-{study.export_k} of every user" + (" through two-stage" if model else "")
        + f" into {out / 'store.sqlite'}", quiet)
    list_more_files(tmp, ["store.sqlite"])  # (run.json lists every file the run writes: the store too)
    try:
        opened = open_run(tmp)
        with stages("export"):
            info = export_store(opened, tmp / "store.sqlite", k=int(study.export_k or 0), model=model,
                                progress=not quiet, run_path=out)
    except (DataError, ConfigError) as e:  # said of the folder asked for, not of its unfinished copy
        raise (ConfigError if isinstance(e, ConfigError) else DataError)(
            str(e).replace(os.fspath(tmp), os.fspath(out))) from None
    for line in _stored_notes(opened, info):  # as cinerec export says them of its store
        if line not in board["notes"]:
            say(f"note: {line}", quiet)
            board["notes"].append(line)
    board["store"] = os.path.abspath(out / "store.sqlite")  # (as the run is named)


def _stored_notes(run: Any, info: Any) -> list[str]:
    """What only the written store can say, as ``cinerec export`` says it: lists cut by a
    two-stage shortlist holding a film under both its ids, and lists that come through an
    approximate index (the model's own or its retriever's)."""
    from cinerec.serving.lists import Lists
    from cinerec.serving.store import short_lists

    lists = Lists(run.dataset, run.model(info.model))
    unseen_short = short_lists(run.dataset, info.k)[0]
    cut = lists.shortlist_cut(info.k, None if info.short_lists is None else int(info.short_lists) - unseen_short)
    return ([cut] if cut else []) + lists.index_note(info.model, k=info.k)


def _export_notes(study: Study, dataset: Dataset) -> list[str]:
    """What ``[export]`` asks beyond the (filtered) catalogue: lists and shortlists hold
    at most every movie, so the figures asked for are said to be cut, not cut in silence;
    and within it, how many people rated so much that their lists come out shorter."""
    from cinerec.data.dataset import title_twins
    from cinerec.serving.store import short_lists, short_lists_note

    notes = []
    n_items = dataset.n_items
    if study.export_k is not None and study.export_k > n_items:
        notes.append(f"[export] k = {study.export_k} is more than the {n_items:,} movies of the data: each "
                     f"list holds at most {n_items:,}, less the movies the person rated")
    elif study.export_k is not None and (short := short_lists(dataset, study.export_k))[0]:
        twins = title_twins(dataset) is not None
        notes.append(f"[export] k = {study.export_k}: "
                     f"{short_lists_note(*short, dataset.n_users, study.export_k, twins=twins)}")
    if study.export_two_stage is not None:
        from cinerec.models.two_stage import TwoStageConfig

        candidates = TwoStageConfig.from_dict(dict(study.export_two_stage)).candidates
        if candidates > n_items:
            notes.append(f"[export.two_stage] candidates = {candidates} is more than the {n_items:,} movies of "
                         "the data: the shortlist is every movie the person has not rated")
    return notes


def leaderboard_rows(board: Mapping[str, Any]) -> tuple[str, list[str], list[list[str]]]:
    """``(title, column names, rows)`` of the leaderboard, for the terminal and the report."""
    cols = shown_metrics(board)
    n = len(board["seeds"])
    metric = board["metric"]
    direction = "lower is better" if board["direction"] == "minimize" else "higher is better"
    from cinerec.evaluation.protocols import options_text

    opts = options_text(board["protocol_options"])
    seeds = ", ".join(map(str, board["seeds"]))
    over = f"seeds {seeds}; mean ± sd over seeds" if n > 1 else f"seed {seeds} (one seed: no sd)"
    title = f"protocol: {board['protocol']}{' (' + opts + ')' if opts else ''}, {over}; ranked by {metric} ({direction})"
    head = ["model", *cols, f"{metric} vs best (paired)", "fit s"]
    rows = []
    for row in board["models"]:
        vs = row["vs_best"]
        cmp_cell = "best" if row["label"] == board["best_model"] else "-" if vs is None else \
            f"{vs['diff']:+.4f} ± {_se_said(vs['se'])}"
        label = row["label"] + ("" if row["label"] == row["model"] else f" ({row['model']})")
        rows.append([label, *(_pm(row["metrics"].get(c), n) for c in cols), cmp_cell, f"{row['seconds_fit']:.1f}"])
    return title, head, rows


def _se_said(se: float | None) -> str:
    """A paired difference's standard error in a table: ``n/a`` where the splits held too
    few people to measure one (``None`` in JSON, ``nan`` before)."""
    return "n/a" if se is None or se != se else f"{se:.4f}"


def best_giving(board: Mapping[str, Any], metric: str) -> str | None:
    """The label of the best model that gives ``metric``: the run's best, or, when it does
    not give that metric (a liked-or-not row's AUC beside star models), the best of those
    that do; ``None`` when none does."""
    having = [r for r in board["models"] if metric in r["metrics"]]
    if any(r["label"] == board["best_model"] for r in having):
        return str(board["best_model"])
    if not having:
        return None
    return str(ranked_rows(having, metric)[0]["label"])


def best_words(board: Mapping[str, Any], metric: str, best: str) -> str:
    """How ``best`` (:func:`best_giving`) is named beside the study's figure at ``metric``:
    the best, by the metric the run ranks by where another model does better at this one."""
    from cinerec.evaluation.protocols import LOWER_IS_BETTER

    if best != board["best_model"]:
        return f"the best giving {metric}"
    sign = -1 if metric.split("@")[0] in LOWER_IS_BETTER else 1

    def value(row: Mapping[str, Any]) -> float:  # (no figure, or NaN: the worst, as ranked_rows takes it)
        mean = row["metrics"].get(metric, {}).get("mean")
        return sign * float(mean) if mean is not None and math.isfinite(mean) else -math.inf

    ours = value(next(r for r in board["models"] if r["label"] == best))
    # (strictly: a model tied with it there does no better)
    if metric == board["metric"] or all(value(r) <= ours for r in board["models"]):
        return "the best"
    return f"the best by {board['metric']}"


def study_model_words(tuned: bool) -> str:
    """How the study's own model is named beside the study's figure: a search moves it off
    the study's settings, which is said."""
    return "the study's model, its settings tuned" if tuned else "the study's model"


def differs_words(reference: Mapping[str, Any]) -> str:
    """What to read beside the study's figure when this run's data are not the study file's."""
    return (f"the study's figure was measured on the data its file names; this run read other data "
            f"({reference['differs']}), so the two do not compare")


def ranked_rows(rows: list[dict[str, Any]], metric: str) -> list[dict[str, Any]]:
    """Leaderboard rows, best first by the mean of ``metric``; a tie there is broken by the
    row's other figures, those at the same K first (NDCG@10 after HR@10, then HR@1, ...;
    MAE after RMSE), and a tie on every figure keeps the file's order. Means equal but for
    the last bits their order of summing moves (0.7490079365079365 against ...364) tie.
    Rows without ``metric`` (a model trained on liked-or-not has no RMSE of stars) come
    after the others, in file order; they are never the best."""
    from cinerec.evaluation.protocols import LOWER_IS_BETTER, same_figure

    def better_first(name: str, r: dict[str, Any]) -> float:
        value = r["metrics"].get(name, {}).get("mean")
        if value is None or not math.isfinite(value):
            return math.inf
        return value if name.split("@")[0].split("_")[0] in LOWER_IS_BETTER else -value

    names = list(dict.fromkeys(n for r in rows for n in r["metrics"] if n != metric))
    at = metric.partition("@")[2]  # the same K first: NDCG@10 after HR@10, not HR@1
    order = [metric] + sorted(names, key=lambda n: not (at and n.partition("@")[2] == at))

    def compare(a: dict[str, Any], b: dict[str, Any]) -> int:
        if (metric in a["metrics"]) != (metric in b["metrics"]):
            return -1 if metric in a["metrics"] else 1
        if metric not in a["metrics"]:
            return 0
        for name in order:
            x, y = better_first(name, a), better_first(name, b)
            if same_figure(x, y):
                continue
            return -1 if x < y else 1
        return 0

    return sorted(rows, key=functools.cmp_to_key(compare))


#: Said of the study's figure where ours was measured on some of the seeds only.
LEFT_OUT_WORDS = "ours left out: measured on some of the seeds only (see the note above)"


#: The command line's flag for each [data] key it can set (a filter's is its key's: --min-year).
_FLAG_OF = {"source": "--data", "catalog": "--catalog", "columns": "--columns", "no_filters": "--no-filters"}


def report(board: Mapping[str, Any], study: Study) -> str:
    """The run's Markdown report: data, protocol, leaderboard, the study's figure beside ours, settings."""
    title, head, rows = leaderboard_rows(board)
    lines = [f"# {board['title']}", ""]
    if study.notes:
        lines += [study.notes.strip(), ""]
    if study.from_flags:  # (the title may say "ML-25M, movies from 2010 on" of a run on other data)
        given = ", ".join(dict.fromkeys(_FLAG_OF.get(k, "--" + k.replace("_", "-")) for k in study.from_flags))
        lines += [f"*{'The title and notes are' if study.notes else 'The title is'} the study file's: this run was given "
                  f"{given} on the command line (what it read is below).*", ""]
    data = board["data"]  # the source, then " (SYNTHETIC, ...)" for a synthetic release: the path alone as code
    source, label = (study.source, data[len(study.source):]) if data.startswith(study.source) else (data, "")
    catalog = f" with the catalogue `{board['catalog']}`" if board.get("catalog") else ""
    read = f": {board['read']}" if board.get("read") else ""  # (what was read, its scale with it)
    lines += [f"Study file: `{board['study']}`. Data: `{source}`{catalog}{label}{read}."]
    steps = step_lines(board["transforms"])
    lines += ["", *steps] if steps else []
    lines += ["", f"Protocol: {board['protocol_summary']}.", "", f"**{title}**", "",
              "| " + " | ".join(head) + " |", "| --- | " + " | ".join(["---:"] * (len(head) - 1)) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    note = leaderboard_note(board)
    if note:
        lines += ["", note]
    # Under the figures, each its own paragraph: a model below popularity (labelled as train's
    # and quickstart's reports label it), a synthetic release, what a fit chose or lacked
    # (mlp-rating's features on data without demographics).
    for line in board.get("below_popularity", []):
        lines += ["", f"**Below popularity:** {line}."]
    for line in board.get("notes", []):
        lines += ["", f"**Note:** {line}."]
    if board["metric"] in ("rmse", "mae"):
        over = "seeds and folds" if (board.get("protocol_options") or {}).get("fold") == "all" else "seeds"
        lines += ["", f"*vs best*: this model's {board['metric']} minus the best model's on the same split "
                      f"(mean over {over}), ± its standard error paired over users (each weighed by their "
                      "test ratings, and one person over several splits counted once; n/a where a split held "
                      "fewer than two people).", ""]
    elif board["metric"] in ("auc", "accuracy"):  # (figures of all test ratings at once: no per-user figure)
        lines += ["", f"*vs best*: none: {board['metric']} is measured over all test ratings at once, not person by "
                      "person, so no model is compared with the best paired over users.", ""]
    else:
        lines += ["", f"*vs best*: the mean over users (and seeds) of this model's per-user {board['metric']} "
                      f"minus the best model's on the same split, ± its paired standard error (one person over "
                      "several splits counted once; n/a where a split held fewer than two people).", ""]
    ref = board.get("reference")
    if ref:
        figures = {ref["metric"]: ref["value"], **ref.get("also", {})}
        searched = {r["label"]: bool(r.get("tuning")) for r in board["models"]}
        lines += ["## The study's figure beside ours" if len(figures) == 1 else "## The study's figures beside ours",
                  "", "The study: " + ", ".join(f"{m} = {v}" for m, v in figures.items())
                  + (f" ({ref['source']})" if ref["source"] else "") + ".", ""]
        for metric in figures:
            ours = [(r["label"], r["metrics"].get(metric)) for r in board["models"]]
            best = best_giving(board, metric)
            the_best = best_words(board, metric, best) if best is not None else ""
            for label, s in ours:
                if s is not None:
                    own = study_model_words(searched.get(label, False))
                    tags = [t for t, on in ((own, label == ref.get("model")), (the_best, label == best)) if on]
                    tag = f" ({' and '.join(tags)})" if tags else ""
                    lines.append(f"- {label}{tag}: {metric} = {_pm(s, len(board['seeds']))}")
            if all(s is None for _, s in ours):
                lines.append(f"- {LEFT_OUT_WORDS}" if metric in board.get("left_out", ()) else
                             f"- no model of this run gives {metric}")  # (the protocol does: the file was checked)
        if ref.get("differs"):
            lines += ["", f"**Note:** {differs_words(ref)}."]
        lines.append("")
    tuned = [r for r in board["models"] if r["tuning"]]
    if tuned:
        lines += ["## Tuning (on the protocol's validation carve-out of each training part)", ""]
        if study.trials_by_flag:
            lines += [f"*--tune {study.trials} on the command line set the trials of each search.*", ""]
        lines += ["| model | seed | chosen settings | validation | untuned validation | trials |",
                  "| --- | ---: | --- | ---: | ---: | ---: |"]
        for r in tuned:
            for seed, t in r["tuning"].items():
                lines.append(f"| {r['label']} | {seed} | `{settings_words(t['settings'])}` | {t['metric']} {t['value']:.4f} | "
                             f"{t['default_value']:.4f} | {t['n_trials']}{_ended(t)} |")
        lines.append("")
    epochs = (f" for {board['refit_epochs']} epochs, the epoch the first seed's validation chose"
              if board.get("refit_epochs") is not None else "")
    lines += [f"Saved: `{board['best_model']}`, refitted on all the data{epochs} (`models/{board['best_model']}`); every model's "
              "settings per seed in `settings.json`; the whole leaderboard in `leaderboard.json`.", ""]
    if board.get("store"):  # ([export]: written after the first report, which is then written again)
        listed = "`models/two-stage`" if study.export_two_stage is not None else f"`{board['best_model']}`"
        lines += [f"Store: `store.sqlite`, every user's top-{study.export_k} from {listed} (served by "
                  "`cinerec serve --run RUN --db RUN/store.sqlite`, RUN this folder).", ""]
    if study.export_two_stage is not None:
        ts = board.get("two_stage") or {}
        mix = ts.get("mix")
        how = "ranks the shortlist" if mix in (1, 1.0) else \
            f"ranks the shortlist, its scores weighted {mix} against the retriever's (mix)"
        lines += [f"The store lists through `models/two-stage`: {ts.get('retriever', '?')} shortlists "
                  f"{ts.get('candidates', '?')} movies, `{board['best_model']}` {how}.", ""]
    if board.get("stages"):
        lines += ["## Time and memory per stage", "",
                  f"Wall time {board['seconds']:.1f} s in all; peak memory {board.get('peak_gb', 0.0):.2f} GB. "
                  "A stage's peak is the process's highest resident memory during that stage.", "",
                  "| stage | seconds | peak GB |", "| --- | ---: | ---: |"]
        lines += [f"| {r['stage']} | {r['seconds']:.1f} | {r['peak_gb']:.2f} |" for r in board["stages"]]
        lines.append("")
    return "\n".join(lines)
