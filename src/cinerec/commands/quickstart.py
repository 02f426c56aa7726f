"""``cinerec quickstart``: MovieLens to a leaderboard and top-10 lists in one command.

Loads ml-100k (or ``--data``), fits the quick models, evaluates them under
``loo-sampled`` and ``loo-full`` on one shared split, prints the leaderboard with the
protocol named, refits every model on all the ratings, prints the top-10 unseen movies
with titles and reasons for a few users, and writes a run folder that ``recommend``,
``export`` and ``serve`` reuse.
"""

import contextlib
import dataclasses
import functools
import os
import sys
import tempfile
import time
import typing
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Iterator, Sequence

import typer

from cinerec.commands import flags
from cinerec.commands.show import shell_word, visible

if TYPE_CHECKING:
    from cinerec.data.dataset import Dataset

__all__ = ["quickstart", "DEFAULT_MODELS"]

#: Models fitted by default, cheapest first; each fits in seconds on ml-100k. On ml-100k
#: seqknn ranks best under both protocols, then EASE and ALS (docs/results.md).
DEFAULT_MODELS = ("popularity", "itemknn", "ease", "als", "seqknn")
PROTOCOLS = ("loo-sampled", "loo-full")
RANK_BY = ("loo-full", "hr@10")  # the leaderboard's order and the run's best model
#: The fewest sampled negatives --negatives takes: K = 10, the headline figure, must stay below them.
MIN_NEGATIVES = 10


@flags.with_filters
def quickstart(
    data: Annotated[str | None, typer.Option(
        "--data", metavar="SOURCE", show_default=False,
        help="The ratings, as for every command [default: ml-100k, downloaded once; offline, a labelled "
             "synthetic sample].")] = None,
    model: Annotated[list[str] | None, typer.Option(
        "--model", metavar="NAME", show_default=False, autocompletion=flags.complete_model_name,
        help=f"A model to create and fit (repeatable, or comma-separated) [default: {','.join(DEFAULT_MODELS)}].")] = None,
    out: Annotated[Path, typer.Option("--out", metavar="DIR", callback=flags.home,
                                                  help="The run folder to write.")] = Path("runs/quickstart"),
    seed: flags.SeedOfAll = 0,
    users: Annotated[int, typer.Option("--users", min=0, help="How many users to show top-10 lists for.")] = 3,
    negatives: Annotated[int, typer.Option(
        "--negatives", min=MIN_NEGATIVES, help="The sampled unseen movies each held-out movie is ranked among under "
                                   "loo-sampled (at least 10: the leaderboard ranks by HR@10).")] = 99,
    columns: flags.Columns = None,
    catalog: flags.CatalogFile = None,
    rating_scale: flags.RatingScale = None,
    filters: typing.Any = None,  # the filter flags (flags.with_filters)
    json: flags.Json = False,
    quiet: flags.Quiet = False,
) -> None:
    """MovieLens end to end: leaderboard, top-10 lists, run folder.

    Loads ml-100k (or --data), fits the models, evaluates them under loo-sampled and
    loo-full on one shared split, prints the leaderboard, refits every model on all the
    ratings, prints the top-10 unseen movies for a few users and writes a run folder
    that recommend, export and serve reuse.
    """
    from cinerec import progress
    from cinerec.commands.show import print_json, print_leaderboard, say
    from cinerec.errors import ConfigError, DataError, TooFewUnseen, unknown_name
    from cinerec.data import apply_filters
    from cinerec.data.filters import step_said
    from cinerec.data.dataset import dataset_sizes, reading_notes, synthetic_list_notes, synthetic_notes
    from cinerec.evaluation.protocols import below_popularity, figure_notes, get_protocol
    from cinerec.runs import data_record
    from cinerec.evaluation.report import markdown_table
    from cinerec.io import atomic_dir, claimed
    from cinerec.models import MODELS
    from cinerec.runs import finish_run, save_dataset, save_model

    entries = model or [",".join(DEFAULT_MODELS)]
    said = [n.strip() for entry in entries for n in entry.split(",")]
    if "" in said and any(said):  # ("--model ease," or --model "" beside others: a name left out)
        raise ConfigError(f"--model: an empty name among {', '.join(map(repr, entries))}; "
                          "give model names joined by commas")
    names = list(dict.fromkeys(n for n in said if n))
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        raise ConfigError(f"--model: {unknown_name('model', unknown[0], sorted(MODELS))}")
    if not names:
        raise ConfigError("--model: no model named")
    twice = [n for n in names if said.count(n) > 1]
    # (merged without a word: one row where the command line asked for two; in --json too)
    asked = [f"--model {', '.join(twice)} given more than once; each runs once"] if twice else []
    for line in asked:
        say(f"note: {line}", quiet)
    source = flags.data_source(data, columns, catalog, rating_scale=rating_scale) if data is not None else None
    if source is None and (columns is not None or catalog is not None or rating_scale is not None):
        raise ConfigError("--columns, --catalog and --rating-scale describe a ratings log: name it with --data")
    for name in names:  # a model's settings under these protocols, checked before any data is read
        if MODELS[name].task == "rating" and not MODELS[name].ranking_settings:  # (the protocol would say --protocol)
            raise ConfigError(f"--model {name}: quickstart ranks movies, and {name} learns stars with no ranking "
                              f"variant; measure its stars with cinerec evaluate --model {name} --protocol "
                              "ratings-random, or leave it out here")
        _settings(name)
    _check_out(out)
    # One command writes a run folder at a time: a second aimed at it is refused now, not after its work.
    with claimed(out):
        started = time.perf_counter()
        with progress.silenced(quiet):
            dataset, label = _load(source, seed)
        dataset, transforms = apply_filters(dataset, filters)
        for line in reading_notes(dataset):  # (of the movies the filters kept)
            say(f"note: {line}", quiet)
        for step in transforms:
            say(step_said(step), quiet)
        record = data_record(source or {"source": label}, dataset, filters, transforms)
        sizes = dataset_sizes(dataset)
        counted = f"data: {label}: {sizes}"
        say(counted, quiet)

        prepared = {}
        for name in PROTOCOLS:
            t = time.perf_counter()
            options = {"n_negatives": negatives} if name == "loo-sampled" else {}
            try:
                prepared[name] = get_protocol(name, **options).prepare(dataset, seed=seed)
            except TooFewUnseen as e:
                if e.fewer < MIN_NEGATIVES and e.only_way:  # (no count it takes, no filter to loosen: say where to go)
                    raise DataError(f"{e.base}; {_too_few_for_quickstart(e.fewer)}") from None
                raise e.asking("--negatives {n}", least=MIN_NEGATIVES) from None
            say(f"split: {name} prepared in {time.perf_counter() - t:.1f}s", quiet)

        results, measured = [], []  # (measured: what each fit's figures measure, as evaluate says it)
        with progress.silenced(quiet):
            for name in names:
                recommender = _create(name, dataset, seed)
                t = time.perf_counter()
                first = None
                for proto in PROTOCOLS:  # both protocols share the leave-latest-out split: fit once
                    result = prepared[proto].evaluate(recommender, fit=first is None)
                    # Fitted once for both: each reports that one fit's time, not the 0 s of the second.
                    results.append(result if first is None else dataclasses.replace(result, seconds_fit=first.seconds_fit))
                    first = first or result
                    measured += [line for line in figure_notes(prepared[proto], recommender) if line not in measured]
                r = results[-2]
                say(f"model: {name:<12} hr@10 {r.metrics.get('hr@10', float('nan')):.3f} ({PROTOCOLS[0]}), "
                    f"{results[-1].metrics.get('hr@10', float('nan')):.3f} ({PROTOCOLS[1]}) "
                    f"in {time.perf_counter() - t:.1f}s", quiet)

        # The leaderboard in the order it ranks by, best first (as the run's leaderboard() reads it);
        # a tie goes to the better of the other figures, as a study's does (NDCG@10 after HR@10),
        # not to the model named first.
        from cinerec.studies import ranked_rows

        rows = [{"model": r.model, "metrics": {k: {"mean": v} for k, v in r.metrics.items()}}
                for r in results if r.protocol == RANK_BY[0]]
        place = {row["model"]: n for n, row in enumerate(ranked_rows(rows, RANK_BY[1]))}
        best = next(m for m, n in place.items() if n == 0)
        results.sort(key=lambda r: place[r.model])
        notes = below_popularity(results)
        if not any(r.model == "popularity" for r in results):
            # Measured beside the models, as evaluate, train and a study do (a model below it
            # went unsaid where popularity was not asked for); its row is not shown.
            from cinerec.models import create

            with progress.silenced(True):
                floors = [prepared[proto].evaluate(create("popularity")) for proto in PROTOCOLS]
            notes = below_popularity([*results, *floors])
        compared = notes
        if not json:
            with _printing():
                print(counted)  # (on stdout too: what the figures below measured, kept with them)
                print_leaderboard(results)
                for line in notes + measured + synthetic_notes(dataset):  # (a synthetic release is said under its figures too)
                    print(f"note: {line}")
                print(f"best model by {RANK_BY[1]} under {RANK_BY[0]}: {best}\n")

        # Checked again at the swap: a server may have saved profiles there meanwhile.
        with atomic_dir(out, before_swap=functools.partial(_check_out, held=True)) as tmp, progress.silenced(quiet):
            save_dataset(tmp, dataset)
            for name in names:  # refit on every rating: the saved models serve real people
                recommender = _create(name, dataset, seed)
                with progress.stage(f"refit {name}"):  # (on all the data, as a study's refit)
                    recommender.fit(dataset.interactions)
                save_model(tmp, recommender)
                if name == best:
                    best_model = recommender
            lists = _top10(dataset, best_model, users)
            text = _lists_text(lists)
            if lists:  # (made-up movies and people, said beside their lists as recommend says it)
                text += "".join(f"note: {line}\n" for line in synthetic_list_notes(dataset))
            if not json:
                with _printing():
                    print(text)
            metrics: dict[str, dict[str, Any]] = {r.model: {} for r in results}
            for r in results:
                metrics[r.model][r.protocol] = r.to_dict()
            # (the notes under the figures, a synthetic release's among them, as printed)
            report = _report(label, sizes, results, best, text, markdown_table, notes, negatives,
                             reading_notes(dataset) + measured + synthetic_notes(dataset), record.get("transforms", []))
            finish_run(tmp, meta={"command": "quickstart", "data": label, "protocols": list(PROTOCOLS),
                                  "protocol_options": {"loo-sampled": {"n_negatives": negatives}},
                                  "seed": seed, "best_model": best, "ranked_by": list(RANK_BY), "dataset": record,
                                  "below_popularity": compared},
                       metrics=metrics, report=report)
        if json:
            print_json({"data": label, "synthetic": bool(dataset.info.get("synthetic")), "run": os.path.abspath(out),
                        "best_model": best, "ranked_by": list(RANK_BY),
                        "results": [r.to_dict() for r in results], "below_popularity": compared,
                        "notes": asked + reading_notes(dataset) + measured + synthetic_notes(dataset),
                        "recommendations": lists, "dataset": record})
        say(f"run folder: {out} (report.md, metrics.json, models/) — done in {time.perf_counter() - started:.0f}s", quiet)
        # Quoted for the shell: a path or an id may hold spaces, quotes or a leading "-".
        run, user = shell_word(str(out)), shell_word(f"--user={dataset.user_ids.raw[0]}")
        say(f"next: cinerec recommend --run {run} {user}   |   cinerec serve --run {run}", quiet)


@contextlib.contextmanager
def _printing() -> Iterator[None]:
    """Print to standard output within the block: a reader that leaves early (``| head``)
    ends the printing, never the run, whose folder is still written; what is left to print
    goes nowhere, and the command ends with status 0, as a reader who read enough."""
    try:
        yield
        sys.stdout.flush()
    except BrokenPipeError:
        from cinerec.cli import _stdout_to_devnull

        _stdout_to_devnull()


def _check_out(out: Path, held: bool = False) -> None:
    """``--out`` may be new, empty or an earlier quickstart run (which it replaces whole); a
    file, another command's run or a folder holding anything else is refused, so the
    replacement never deletes a user's files; so is one another command holds now, unless
    this one is ``held`` by this command (claimed)."""
    from cinerec.errors import ConfigError
    from cinerec.io import check_replaced_whole, claim_refused, claimed_now, contents, is_clutter, read_json, written_now
    from cinerec.runs import run_words

    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out}: is a file; --out names the run folder to write")
    if not held and claimed_now(out):  # (train's folder, half written: it looked like no run)
        raise claim_refused(out)
    check_replaced_whole(out, str(out), "--out ")  # found now, before the models are evaluated
    blocker = next((p for p in out.parents if p.exists() and not p.is_dir()), None)
    if blocker is not None:  # found now, before the models are evaluated, not at the save
        raise ConfigError(f"--out {out}: cannot create the folder ({blocker} is a file)")
    # A folder where nothing can be written (no permission, /proc): found now too, in the
    # nearest folder there is (the save makes the others, and takes them away if it fails).
    there = next((p for p in (out.parent, *out.parent.parents) if p.is_dir()), out.parent)
    try:
        os.rmdir(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".probe", dir=there))
    except OSError as e:
        raise ConfigError(f"--out {out}: cannot create the folder in {there} ({e.strerror or e})") from None
    if out.is_dir() and contents(out) and not (out / "run.json").is_file():  # (a .DS_Store is nothing)
        raise ConfigError(f"--out {out}: holds other files and no run; choose a new or empty folder "
                          "(an earlier run there is replaced)")
    meta: Any = None
    if out.is_dir() and (out / "run.json").is_file():
        try:
            meta = read_json(out / "run.json")
        except (OSError, ValueError):
            meta, words = None, "a run whose run.json cannot be read"
        else:
            words = run_words(meta)
        if not isinstance(meta, dict) or meta.get("command", "train") != "quickstart":
            raise ConfigError(f"--out {out}: holds {words}, which quickstart would delete; it replaces only "
                              "an earlier quickstart run: choose another folder")
    if out.is_dir():
        # A profiles file (or anything else) beside the run is not the run's own:
        # replacing the run would delete it, and saved profiles have no other copy. A
        # store exported from the run is made from it again, so it goes with the run (one
        # exported from another run, copied in, is the user's).
        names = {p.name for p in out.iterdir()}
        here = os.path.realpath(out)

        def derived(p: Path) -> bool:
            base = p.with_name(p.name.removesuffix("-wal").removesuffix("-shm").removesuffix("-journal"))
            # An empty profiles file goes with the run, unless a server has it open (its
            # -wal file is there): what it saves next must not go to a deleted file.
            return p.name in _RUN_OWN or (base.is_file() and _exported_from(base, here)) \
                or (p == base and f"{p.name}-wal" not in names and _no_profiles(p))

        foreign = sorted(p.name for p in contents(out) if not derived(p))
        # Inside the run's own folders, what the run did not write (run.json lists it;
        # a run written before it did is taken as it stands).
        listed = meta.get("files") if isinstance(meta, dict) else None
        if not foreign and isinstance(listed, list):
            own = {str(f) for f in listed}
            foreign = [f.relative_to(out).as_posix() for top in sorted(out.iterdir())
                       if top.name in _RUN_OWN and top.is_dir() and not top.is_symlink()
                       for f in sorted(top.rglob("*"))
                       if not f.is_dir() and f.relative_to(out).as_posix() not in own and not is_clutter(f)]
        if foreign:
            busy = any(n.endswith(("-wal", "-shm")) for n in foreign)
            # A command writing into the folder now (an export, its store) holds its lock and
            # temporary file there: the way out is to wait for it, not to move them.
            writing = [n for n in foreign if written_now(out / n)]
            advice = "a server has its profiles open: stop it first" if busy else \
                "another cinerec command (an export?) is writing into the folder now: wait for it to end" if writing else \
                "move it out or choose another folder"
            raise ConfigError(f"--out {out}: holds {(writing or foreign)[0]!r} beside the earlier run, which "
                              f"replacing the run would delete; {advice}")


def _exported_from(store: Path, run: str) -> bool:
    """Whether ``store`` is a store exported from the run folder ``run`` (a real path)."""
    from cinerec.serving.store import store_run

    named = store_run(store)
    return named is not None and os.path.realpath(named) == run


def _no_profiles(path: Path) -> bool:
    """True for a profiles file holding no profile: ``serve`` makes one when it starts, and
    replacing the run loses nothing saved. One that holds any profile, or that cannot be
    read as one, is the user's."""
    import sqlite3

    try:
        # immutable: read the file as it lies (no -wal beside it), without the -shm a
        # read-only connection to a WAL database would otherwise need to create.
        con = sqlite3.connect(f"file:{path.resolve().as_posix()}?mode=ro&immutable=1", uri=True)
        try:
            return con.execute("SELECT COUNT(*) FROM profiles").fetchone()[0] == 0 \
                and con.execute("SELECT COUNT(*) FROM ratings").fetchone()[0] == 0
        finally:
            con.close()
    except sqlite3.Error:
        return False


#: What a run folder holds of its own (written by train, quickstart or run).
_RUN_OWN = frozenset({"run.json", "metrics.json", "report.md", "models", "dataset", "plots", "checkpoints",
                      "leaderboard.json", "settings.json"})


def _load(source: dict[str, Any] | None, seed: int) -> tuple["Dataset", str]:
    """The dataset and a label; offline with no copy, a labelled synthetic sample. A copy
    that is there but damaged, or a download whose checksum differs, is an error: passed
    over, it was "offline" and the run went on with synthetic data, exiting 0."""
    from cinerec.commands.show import say
    from cinerec.data import load
    from cinerec.data.dataset import synthetic_words
    from cinerec.errors import DownloadFailed

    if source is not None:
        dataset = load(source["source"], progress=True, columns=source["columns"], catalog=source["catalog"],
                       rating_scale=source.get("rating_scale"))
        return dataset, str(source["source"]) + synthetic_words(dataset)
    try:
        dataset = load("ml-100k", progress=True)
        return dataset, "ml-100k" + synthetic_words(dataset)
    except DownloadFailed as e:
        from cinerec.data.synthetic import write_release

        # Said even under --quiet: without it the figures would pass for real ones.
        say(f"cinerec: {e}")
        say("cinerec: OFFLINE FALLBACK: MovieLens-100K is not available, so this run uses a SYNTHETIC sample "
            "shaped like it. Its figures say nothing about real movies. For real results pass a local copy: "
            "cinerec quickstart --data /path/to/ml-100k (the folder or ml-100k.zip).")
        # The sample is read whole into memory and the run folder keeps its own copy
        # (runs.save_dataset), so the written release is removed once read.
        with tempfile.TemporaryDirectory(prefix="cinerec-synthetic-") as folder:
            # (named as the data is everywhere it is kept: not the temporary folder, gone once read)
            release = Path(folder) / "synthetic-ml-100k"
            write_release(release, like="ml-100k", scale=1.0, seed=seed)
            label = "synthetic ml-100k sample (offline fallback)"
            dataset = load(release)
            return dataclasses.replace(dataset, info={**dataset.info, "source": label}), label


def _settings(name: str) -> dict[str, Any]:
    """A model's settings under the quickstart's ranking protocols (``Protocol.settings_for``)."""
    from cinerec.evaluation.protocols import get_protocol
    from cinerec.models import MODELS

    return get_protocol(PROTOCOLS[0]).settings_for(MODELS[name], {}, where=f"--model {name}")


def _create(name: str, dataset: "Dataset", seed: int) -> Any:
    from cinerec.models import create
    from cinerec.models.base import with_features

    model = create(name, _settings(name))
    if "seed" in model.config.to_dict():
        model = create(name, model.config.replace(seed=seed))
    return with_features(model, dataset)


def _top10(dataset: "Dataset", model: Any, n_users: int) -> list[dict[str, Any]]:
    """The first ``n_users`` users' top-10 unseen movies: ``user`` (raw id), ``model`` and ``movies``.

    The lists and reasons are :class:`cinerec.serving.lists.Lists`', as everywhere else.
    """
    import numpy as np

    from cinerec.serving.lists import Lists

    if n_users == 0:
        return []
    lists = Lists(dataset, model)
    users = np.arange(min(n_users, dataset.n_users))
    items, scores, reasons = lists.for_users(users, 10)
    out = []
    for row, u in enumerate(users):
        raw = dataset.user_ids.raw[u]
        out.append({"user": raw.item() if isinstance(raw, np.generic) else raw, "model": model.name,
                    "movies": lists.records(items[row], scores[row], reasons[row])})
    return out


def _lists_text(lists: list[dict[str, Any]]) -> str:
    lines = []
    for entry in lists:
        lines.append(visible(f"top-10 unseen movies for user {entry['user']} ({entry['model']}):"))
        for rank, m in enumerate(entry["movies"], 1):
            year = f" ({m['year']})" if m["year"] else ""
            genres = f"  [{', '.join(m['genres'])}]" if m["genres"] else ""  # (a log without a catalogue has none)
            lines.append(visible(f"  {rank:>2}. {m['title']}{year}{genres}  {m['reason']}"))
        lines.append("")
    return "\n".join(lines)


def _too_few_for_quickstart(fewer: int) -> str:
    """Where data too small for quickstart's ten negatives can be measured, when every
    person has ``fewer`` (under ten) movies left unrated: evaluate with that many, and the
    Ks below the candidates they make (quickstart's K = 10 is not)."""
    head = f"quickstart ranks each held-out movie among at least {MIN_NEGATIVES} the person has not rated"
    if fewer < 1:
        return f"{head}, and someone has none left: this data has nothing to rank for them"
    ks = [k for k in (1, 5) if k <= fewer]
    return (f"{head}: measure this data with cinerec evaluate --protocol loo-sampled --protocol-option "
            f"n_negatives={fewer} --protocol-option \"ks={ks}\"")


def _report(label: str, sizes: str, results: list, best: str, lists: str, markdown_table: Any,
            notes: list[str], negatives: int, measured: list[str], steps: Sequence[Any] = ()) -> str:
    from cinerec.data.filters import step_lines

    below = "".join(f"**Below popularity:** {line}.\n\n" for line in notes)
    below += "".join(f"**Note:** {line}.\n\n" for line in measured)
    filtered = "".join(f"{line}\n" for line in step_lines(steps)) + "\n" if steps else ""
    return (
        "# cinerec quickstart\n\n"
        f"Data: {label} — {sizes}"
        f"{' (after the filters below)' if steps else ''}.\n\n"
        f"{filtered}"
        f"Protocols (see docs/protocols.md): `loo-sampled` ranks each user's latest movie among {negatives} "
        "sampled unseen ones; `loo-full` ranks it among every movie not in the user's training ratings.\n\n"
        f"{markdown_table(results)}\n\n"
        f"{below}"
        f"Best model by {RANK_BY[1]} under {RANK_BY[0]}: **{best}** (refitted on all ratings in `models/`).\n\n"
        "Each model is fitted once for both protocols, on their shared training part: `fit s` is that one fit.\n"
        + ("\n## Sample recommendations\n\n```\n" + lists + "\n```\n" if lists.strip() else "")
    )
