"""``cinerec export``: every user's top-K, with reasons, into one SQLite file or a
PostgreSQL database's ``cinerec`` schema.

The store holds the catalog (with search keys), both id maps, each user's top-K unseen
movies with scores and reasons, and which run, model and time produced it. It is
written under a temporary name and swapped in atomically, replacing an earlier store;
saved profiles live apart from it (``X.profiles.sqlite`` beside a SQLite store, the
``cinerec_profiles`` schema beside a PostgreSQL one), which the export never touches.
"""

import time
from pathlib import Path
from typing import Annotated, Any

import click
import typer
from click.core import ParameterSource

from cinerec.commands import flags

__all__ = ["export"]


#: Recommendations per user when -k is not given.
DEFAULT_K = 50


def export(
    run: flags.RunDir,
    db: Annotated[str, typer.Option("--db", metavar="FILE|URL", show_default=False, callback=flags.home,
                                    help="The store to write, replaced atomically: a SQLite file or a "
                                         "postgresql:// URL.")],
    k: Annotated[int, typer.Option("-k", min=1, max=1000, help="Recommendations per user.")] = DEFAULT_K,
    run_model: flags.RunModel = None,
    json: flags.Json = False,
    quiet: flags.Quiet = False,
) -> None:
    """Write every user's top-K into a SQLite or PostgreSQL store for serving.

    The store is written under a temporary name and swapped in atomically; saved
    profiles beside it are never touched.
    """
    from cinerec import progress
    from cinerec.commands.show import print_json, say
    from cinerec.data.dataset import synthetic_list_notes
    from cinerec.processes import distributed_context
    from cinerec.runs import open_run
    from cinerec.serving.store import check_target, export_store, short_lists, short_lists_note
    from cinerec.commands.recommend import _lists

    from cinerec.errors import ConfigError

    context = click.get_current_context(silent=True)  # (none where export is called from Python)
    default = k == DEFAULT_K if context is None else context.get_parameter_source("k") is ParameterSource.DEFAULT
    start = time.perf_counter()
    several = distributed_context().active
    if not several:  # before the run is read, as export_store does (under torchrun: rank 0's, before any reads it)
        check_target(db)
    opened = None if several else open_run(run)  # (read once: its people's counts of rated movies are said below)
    earlier = None if several else _earlier_store(db)
    with progress.silenced(quiet):
        try:
            info = export_store(run if opened is None else opened, db, k=k, model=run_model, progress=True)
        except ConfigError as e:  # a two-stage run's shortlist is shorter than the lists: name the flag
            if "is more than candidates" not in str(e):
                raise
            raise ConfigError(f"-k {k}{' (the default)' if default else ''}: {e}") from None
    took = time.perf_counter() - start
    if not distributed_context().is_main:  # under torchrun rank 0 says what was written (--json: one object)
        return
    opened = open_run(run) if opened is None else opened
    # (people with fewer unseen movies than k; the lists written may be shorter still)
    unseen_short, unseen_empty = short_lists(opened.dataset, info.k)
    counted = info.short_lists is not None and info.empty_lists is not None
    short, empty = (int(info.short_lists or 0), int(info.empty_lists or 0)) if counted else \
        (unseen_short, unseen_empty)
    lists = _lists(opened, info.model)
    notes = []
    if k > info.n_items:  # the lists are cut to the catalogue: say so
        none = f" ({empty:,} of the {info.n_users:,} users rated every one, so their lists are empty)" if empty else ""
        notes.append(f"-k {k} is more than the {info.n_items:,} movies of the run: each list holds at most "
                     f"{info.n_items:,}, less the movies the person rated{none}")
    elif unseen_short:  # people who rated nearly everything: "top-30 of 940 users" where some hold fewer
        notes.append(short_lists_note(unseen_short, unseen_empty, info.n_users, info.k,
                                      twins=lists.twins is not None))
    # (a two-stage shortlist near k, holding a film under both its ids: the lists cut for that)
    if (cut := lists.shortlist_cut(info.k, short - unseen_short if counted else None)):
        notes.append(cut)
    notes += synthetic_list_notes(opened.dataset) + opened.model_notes(info.model) + lists.index_note(info.model, k=info.k)
    if earlier is not None and earlier.run_created != str(opened.meta.get("created", "")):
        # (exported over without a word: a server of that run then scored every list live; a
        # copy of this run's folder is this run, whose servers read the new store)
        notes.append(f"{info.path} held the store of another run ({earlier.run}, model {earlier.model!r}), now "
                     "replaced: a server of that run scores its lists live from now on")
    for note in notes:
        say(f"note: {note}", quiet)
    if json:  # the notes too, which -q keeps off stderr (as recommend's)
        print_json({"db": str(info.path), "run": info.run, "model": info.model, "k": info.k,
                    "n_users": info.n_users, "n_items": info.n_items, "short_lists": short, "empty_lists": empty,
                    "synthetic": bool(opened.dataset.info.get("synthetic")), "notes": notes,
                    "seconds": round(took, 3)})
        return
    say(f"wrote {info.path}: top-{info.k} of {info.n_users} users over {info.n_items} movies "
        f"from model {info.model!r} in {took:.1f} s", quiet)


def _earlier_store(db: str) -> Any:
    """What the store at ``db`` held before this export (its :class:`StoreInfo`), or ``None``
    where there is none or it cannot be read (the export says why, or replaces it)."""
    from cinerec.errors import CinerecError
    from cinerec.serving.store import is_postgres, open_store

    target = db if is_postgres(db) else Path(db).expanduser()
    if isinstance(target, Path) and not target.is_file():
        return None
    try:
        store = open_store(target)
    except (CinerecError, OSError):
        return None
    try:
        return store.info
    finally:
        store.close()
