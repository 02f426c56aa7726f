"""The SQLite files behind serving: the exported recommendation store and the profiles.

Two files, on purpose:

* The **store** (``cinerec export``) holds every known user's top-K with scores and
  reasons, the catalog with search keys, both id maps and a ``meta`` table saying which
  run, model and time produced it. It is built in a temporary file beside its final
  name and swapped in with ``os.replace``, so a reader sees the old store or the new
  one, never half of one. Re-exporting replaces it wholesale.
* The **profiles** file holds what people entered on the page or through the API. The
  export never opens it, so re-exporting cannot lose a rating; it lives beside the
  store (``recs.sqlite`` → ``recs.profiles.sqlite``) or in the run folder when serving
  without a store. It uses WAL, a busy timeout and one ``BEGIN IMMEDIATE`` transaction
  per change, so concurrent writers queue instead of failing: a process's own threads
  in turn at a lock, other processes (``serve --workers``) at SQLite's.

Store layout (``STORE_FORMAT`` 4)::

    meta(key TEXT PRIMARY KEY, value TEXT)          -- JSON values
    movies(item INTEGER PRIMARY KEY, movie_id TEXT, title TEXT, year INTEGER,
           genres TEXT, search_key TEXT, popularity INTEGER)
    users(user INTEGER PRIMARY KEY, user_id TEXT)
    recommendations(user INTEGER, rank INTEGER, item INTEGER, score REAL,
                    reason INTEGER, PRIMARY KEY (user, rank)) WITHOUT ROWID

``item``/``user`` are the dense indices of the run's dataset; ``reason`` is the item
index of the movie the user liked that is most like the recommendation (NULL when no
liked movie explains it; ``-2`` for a movie listed for its popularity alone, where the
person's history gave nothing more: :data:`cinerec.serving.lists.POPULAR`); ``genres``
is ``|``-joined. Format 3 added the ``-2`` (format 2 stored such movies as NULL); format 4's lists
count a film the catalogue lists under two ids as one (format 3's could offer a film
rated under its other id, or list it twice). The lists and reasons come from
:class:`cinerec.serving.lists.Lists`, the same code that answers every other path.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
import re
import secrets
import sqlite3
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, cast

import numpy as np

import cinerec
from cinerec.errors import CinerecError, ConfigError, DataError, NotFoundError, Unavailable, format_refused, said
from cinerec.io import atomic_path, in_turn, sweep_stale_temps
from cinerec.models.base import chunks
from cinerec.runs import Run, open_run
from cinerec.serving.lists import Lists
from cinerec.serving.search import title_key

__all__ = [
    "STORE_FORMAT", "StoreInfo", "RecStore", "ProfileStore", "export_store", "open_store",
    "profiles_path_for", "open_profiles", "is_postgres", "check_target", "check_url", "ExportPlan", "info_from_meta",
]

#: 2: lists exclude every movie rated in the run's data, reasons are liked movies only;
#: 3: a movie listed for its popularity is stored as such (reason -2), not as NULL.
STORE_FORMAT = 4


# -- the exported store ----------------------------------------------------------------


@dataclass(frozen=True)
class StoreInfo:
    """What the ``meta`` table of a store says."""

    path: Path | str  # a SQLite file, or a PostgreSQL URL without its password
    run: str
    run_created: str
    model: str
    exported_at: float  # seconds since the epoch
    k: int
    n_users: int
    n_items: int
    dataset: str
    #: Of the lists just written, those holding fewer than ``k`` movies, and those empty:
    #: counted by the export that wrote them (``None`` for a store read back).
    short_lists: int | None = None
    empty_lists: int | None = None

    @property
    def age_s(self) -> float:
        return max(0.0, time.time() - self.exported_at)

    def stale_reason(self, run: Run, model: str) -> str | None:
        """Why this store does not match ``run``/``model`` (``None`` when it does)."""
        if self.model != model:
            other_run = Path(self.run).resolve() != Path(run.path).resolve()
            return (f"exported from model {self.model!r}" + (f" of another run ({self.run})" if other_run else "")
                    + f", serving {model!r}" + (f" of {run.path}" if other_run else ""))
        if self.run_created != str(run.meta.get("created", "")):
            if Path(self.run).resolve() != Path(run.path).resolve():
                return f"exported from another run ({self.run}), serving {run.path}"
            if self.run_created == created_on_disk(run.path):
                # The export is of the run as it is now; what is held in memory (a server's
                # model and data, read when it started) is the older one.
                return ("the run was re-written after this was loaded, and the store exported from the new one: "
                        "restart the server to serve it")
            return "the run was re-written after the export"
        if self.n_users != run.dataset.n_users or self.n_items != run.dataset.n_items:
            return "the run's dataset has other users or movies"
        if run.meta.get("created"):
            return None  # (the stamps agree: a copy of the folder that did not keep times is the same run)
        try:  # a run.json without the stamp: its time is all there is to go by
            if (run.path / "run.json").stat().st_mtime > self.exported_at:
                return "the run folder is newer than the store"
        except OSError:
            pass
        return None


def created_on_disk(run_dir: Path) -> str | None:
    """The ``created`` stamp of the run folder's ``run.json`` as it is now (None: unreadable)."""
    try:
        return str(json.loads((Path(run_dir) / "run.json").read_text()).get("created", ""))
    except (OSError, ValueError, AttributeError):
        return None


class _Shards:
    """The processes of an export under ``torchrun``: which chunks of users are whose.

    Chunk ``c`` belongs to rank ``c % world`` (interleaved, so every rank gets cheap and
    dear users alike). Rank 0 gathers each round of ``world`` chunks, in order, and
    alone writes the store; the lists travel over a gloo process group (the one the
    process already has, if any).
    """

    def __init__(self) -> None:
        import torch
        import torch.distributed as dist

        from cinerec.training import distributed_context, join_process_group

        self.ctx = ctx = distributed_context()
        join_process_group(ctx, torch.device("cpu"))
        self.dist = dist
        self.rank, self.world, self.is_main = ctx.rank, ctx.world, ctx.is_main

    @staticmethod
    def active() -> bool:
        """Whether this process is one of several started by ``torchrun``."""
        from cinerec.processes import distributed_context

        return distributed_context().active

    def check(self, plan: "ExportPlan") -> None:
        """Every rank must export the same run's data with the same model and settings."""
        from cinerec.training import check_ranks_agree, data_fingerprint

        ds = plan.dataset
        n_users, n_items, n, digest, times = cast(tuple[int, int, int, str, str], data_fingerprint(ds.interactions))
        # The run itself too: another run of the same model on the same data (other settings,
        # trained again) wrote its lists into this rank's share of the store without a word.
        created = plan.meta["run_created"] or "unknown"
        settings = json.dumps(plan.lists.model.config.to_dict(), sort_keys=True, default=str)
        check_ranks_agree("the run to export", (plan.model_name, n_users, n_items, n, digest, plan.k, plan.step, created,
                                                hashlib.sha256(settings.encode()).hexdigest()[:12], times),
                          lambda v: f"model {v[0]} over {v[3]:,} ratings of {v[1]:,} users x {v[2]:,} movies "
                                    f"(hash {v[4]}, times {v[9]}), top-{v[5]} in chunks of {v[6]}, of the run created "
                                    f"{v[7]} (settings hash {v[8]})")

    def rounds(self, plan: "ExportPlan") -> Iterator[list[tuple[int, tuple[np.ndarray, ...]]]]:
        """Per round, on rank 0: ``[(first user, lists), ...]`` of every rank's chunk, in
        order. On the other ranks: empty lists, after sending their own chunk."""
        slices = list(chunks(plan.dataset.n_users, plan.step))
        for first in range(0, len(slices), self.world):
            mine = first + self.rank
            part = None
            if mine < len(slices):
                sl = slices[mine]
                part = (sl.start, plan.lists.for_users(np.arange(sl.start, sl.stop), plan.k))
            got: list[Any] | None = [None] * self.world if self.is_main else None
            self.dist.gather_object(part, got, dst=0)
            yield [g for g in got if g is not None] if got is not None else []

    def share_error(self, check: Callable[[], None]) -> None:
        """Run ``check`` on rank 0 and raise its error on every rank, so none is left waiting."""
        box: list[str | None] = [None]
        if self.is_main:
            try:
                check()
            except CinerecError as e:
                box[0] = str(e)
        self.dist.broadcast_object_list(box, src=0)
        if box[0] is not None:
            raise DataError(box[0])

    def share_info(self, info: StoreInfo | None) -> StoreInfo:
        """Rank 0's :class:`StoreInfo`, on every rank."""
        box = [info]
        self.dist.broadcast_object_list(box, src=0)
        return cast(StoreInfo, box[0])  # rank 0 always wrote the store before this


class ExportPlan:
    """What an export writes, whatever the database: meta, catalog, users, then lists.

    Every backend (the SQLite file here, PostgreSQL in :mod:`cinerec.serving.pgstore`)
    writes the same rows in the same order, so their stores hold the same answers.
    Under ``torchrun`` the lists are computed by all processes, each for its share of
    the users (``shards``), and written by rank 0.
    """

    shards: _Shards | None = None

    def __init__(self, run: Run | str | os.PathLike, *, k: int, model: str | None, chunk_size: int | None,
                 run_path: str | os.PathLike | None = None) -> None:
        if not 1 <= int(k) <= 1000:
            raise DataError(f"-k {k}: must be between 1 and 1000")
        self.run = run = run if isinstance(run, Run) else open_run(run)
        self.model_name = model or run.default_model
        rec = run.model(self.model_name)
        ds = self.dataset = run.dataset
        try:
            self.lists = Lists(ds, rec)
        except DataError as e:
            raise DataError(f"{run.path}: {e}") from None
        self.k = min(int(k), ds.n_items)
        self.step = chunk_size or rec.chunk_size
        self.short = self.empty = 0  # lists written with fewer than k movies, and with none
        exported_at = time.time()
        self.meta = {
            "format": STORE_FORMAT,
            "cinerec": cinerec.__version__,
            "run": str(run.path.resolve() if run_path is None else Path(os.path.realpath(run_path))),
            "run_created": str(run.meta.get("created", "")),
            "model": self.model_name,
            "dataset": ds.name,
            "synthetic": bool(ds.info.get("synthetic")),  # (a release made by cinerec data synthesize)
            "k": self.k,
            "n_users": ds.n_users,
            "n_items": ds.n_items,
            "exported_at": exported_at,
            "exported_at_iso": _dt.datetime.fromtimestamp(exported_at, _dt.timezone.utc).isoformat(timespec="seconds"),
        }

    def meta_rows(self) -> list[tuple[str, str]]:
        return [(key, json.dumps(v)) for key, v in self.meta.items()]

    def movie_rows(self) -> list[tuple[Any, ...]]:
        """``(item, movie_id, title, year, genres, search_key, popularity)`` per movie."""
        ds = self.dataset
        cat = ds.catalog
        names = np.array(cat.genre_names, dtype=object)
        genres = ["|".join(names[row]) for row in cat.genres] if len(names) else [""] * ds.n_items
        years = [int(y) or None for y in cat.years.tolist()]
        titles = [str(t) for t in cat.titles.tolist()]
        return list(zip(range(ds.n_items), (str(m) for m in ds.item_ids.raw.tolist()), titles, years, genres,
                        (title_key(t) for t in titles), ds.interactions.item_counts.tolist()))

    def user_rows(self) -> list[tuple[int, str]]:
        ds = self.dataset
        return list(zip(range(ds.n_users), (str(u) for u in ds.user_ids.raw.tolist())))

    def recommendation_blocks(self, progress: bool) -> Iterator[list[tuple[Any, ...]]]:
        """``(user, rank, item, score, reason or None)`` rows, one block per chunk of users."""
        from cinerec.progress import bar as progress_bar

        n = self.dataset.n_users
        bar = progress_bar(n, f"export {self.model_name}", unit="user", enabled=progress)
        if self.shards is None:
            lists: Iterator[tuple[int, tuple[np.ndarray, ...]]] = (
                (sl.start, self.lists.for_users(np.arange(sl.start, sl.stop), self.k)) for sl in chunks(n, self.step))
        else:
            lists = (part for parts in self.shards.rounds(self) for part in parts)
        try:
            for first, (items, scores, reasons) in lists:
                keep = items >= 0
                bad = keep & ~np.isfinite(scores)
                if bad.any():  # a diverged fit or a damaged saved model: no list to store
                    row, rank = (int(v[0]) for v in np.nonzero(bad))
                    raise DataError(f"{self.model_name}: scores user {self.dataset.user_ids.raw_id(first + row)}'s movie "
                                    f"{self.dataset.item_ids.raw_id(int(items[row, rank]))} as {scores[row, rank]}, not a "
                                    "number; the saved model is damaged or its training diverged (train it again)")
                listed = keep.sum(axis=1)
                self.short += int(np.sum(listed < self.k))
                self.empty += int(np.sum(listed == 0))
                rows, ranks = np.nonzero(keep)
                yield list(zip((rows + first).tolist(), ranks.tolist(), items[keep].tolist(),
                               scores[keep].astype(np.float64).tolist(),
                               [None if r == -1 else r for r in reasons[keep].tolist()]))  # POPULAR stays
                bar.update(len(items))
        finally:  # (a list refused, or the export stopped: no bar left drawing)
            bar.close()


def export_store(
    run: Run | str | os.PathLike,
    db: str | os.PathLike,
    *,
    k: int = 50,
    model: str | None = None,
    progress: bool = True,
    chunk_size: int | None = None,
    run_path: str | os.PathLike | None = None,
) -> StoreInfo:
    """Write every user's top-``k`` unseen movies, with reasons, to the store ``db``.

    Users are listed in chunks through :class:`~cinerec.serving.lists.Lists` (a movie the
    user rated anywhere in the run's data is never recommended; reasons name liked
    movies only). A SQLite store is built under a temporary name and swapped in
    atomically; a PostgreSQL store (``db`` a ``postgresql://`` URL) is built in a new
    schema and swapped in by one transaction. Either way any earlier store is replaced
    whole, and profiles are never touched.

    Args:
        run: a run folder or an opened :class:`Run`.
        db: the SQLite file's path, or a ``postgresql://`` URL.
        k: recommendations kept per user (1..1000).
        model: which of the run's models; the run's default when ``None``.
        progress: show a progress bar on stderr.
        chunk_size: users per chunk; the model's own ``chunk_size`` when ``None``.
        run_path: the folder the store names as its run, where that is not where ``run``
            is read now (a run written beside its place and moved there once its store
            is in, as ``cinerec run`` writes it); ``run``'s own folder when ``None``.

    Under ``torchrun`` (``torchrun --nproc-per-node N $(which cinerec) export ...``) every
    process lists its share of the users, rank 0 gathers them and alone writes the
    store, byte for byte the rows one process would write; every rank returns the new
    store's info. The ranks must hold the same run (checked: one :class:`DataError`
    line otherwise).

    Returns:
        The new store's :class:`StoreInfo`.
    """
    if not _Shards.active():
        check_target(db)
        return _write_store(ExportPlan(run, k=k, model=model, chunk_size=chunk_size, run_path=run_path), db, progress)
    shards = _Shards()
    # Rank 0 alone writes: its target alone is checked (a folder only its machine has), and
    # a fault in it is said by every rank, before any reads the run.
    shards.share_error(lambda: check_target(db))
    if is_postgres(db):
        from cinerec.serving.pgstore import check_postgres_target

        shards.share_error(lambda: check_postgres_target(str(db)))
    plan = ExportPlan(run, k=k, model=model, chunk_size=chunk_size, run_path=run_path)
    plan.shards = shards
    shards.check(plan)
    if not shards.is_main:
        try:
            for _ in shards.rounds(plan):
                pass
        except RuntimeError:  # rank 0 stopped (its error is its own line): no traceback here
            raise DataError("export: rank 0 stopped the export; its error says why") from None
        return shards.share_info(None)
    return shards.share_info(_write_store(plan, db, progress))


def _write_store(plan: ExportPlan, db: str | os.PathLike, progress: bool) -> StoreInfo:
    if is_postgres(db):
        from cinerec.serving.pgstore import export_postgres

        export_postgres(plan, str(db), progress=progress)
        return _written_info(db, plan)
    db = Path(db)

    def waiting() -> None:
        from cinerec.progress import is_silenced

        if progress and not is_silenced():
            print(f"waiting for another export into {db} to end...", file=sys.stderr, flush=True)

    # Exports of one store take turns, as those into one PostgreSQL database do: two at
    # once both said they wrote it, and the one that ended last was the store.
    with in_turn(db, waiting):
        _write_sqlite(plan, db, progress)
        return _written_info(db, plan)  # (this export's: the next one waits for the turn)


def _written_info(db: str | os.PathLike, plan: ExportPlan) -> StoreInfo:
    """The record of the store just written, with the short lists ``plan`` counted, its
    connections closed after (an export from Python left one PostgreSQL connection open
    per call)."""
    import dataclasses

    store = open_store(db)
    try:
        return dataclasses.replace(cast(StoreInfo, store.info), short_lists=plan.short, empty_lists=plan.empty)
    finally:
        store.close()


def _write_sqlite(plan: ExportPlan, db: Path, progress: bool) -> None:
    # A folder moved or removed since the export began (its run, moved with its store's
    # place): it was made again, holding the store alone, or the write ended in a traceback.
    gone = f"{db.parent}: moved or removed while the export ran; no store was written there"
    try:
        folder = os.stat(db.parent)
    except OSError:
        raise DataError(gone) from None
    sweep_stale_temps(db)  # what a killed export of this store left
    try:
        _write_sqlite_file(plan, db, progress)
    except (FileNotFoundError, sqlite3.OperationalError):
        try:
            now = os.stat(db.parent)
        except OSError:
            now = None
        if now is not None and (now.st_dev, now.st_ino) == (folder.st_dev, folder.st_ino):
            raise  # (the folder is where it was: another file was missing)
        raise DataError(gone) from None


def _write_sqlite_file(plan: ExportPlan, db: Path, progress: bool) -> None:
    with atomic_path(db, finished=f"the store {db}") as tmp:
        con = sqlite3.connect(tmp, isolation_level=None)
        try:
            # Durability comes from the rename of a complete, fsynced file, not the journal.
            con.execute("PRAGMA journal_mode=OFF")
            con.execute("PRAGMA synchronous=OFF")
            _create_store_schema(con)
            con.execute("BEGIN")
            con.executemany("INSERT INTO meta VALUES (?, ?)", plan.meta_rows())
            con.executemany("INSERT INTO movies VALUES (?, ?, ?, ?, ?, ?, ?)", plan.movie_rows())
            con.executemany("INSERT INTO users VALUES (?, ?)", plan.user_rows())
            for block in plan.recommendation_blocks(progress):
                con.executemany("INSERT INTO recommendations VALUES (?, ?, ?, ?, ?)", block)
            con.execute("COMMIT")
        except sqlite3.OperationalError as e:  # a full disk, a failing one: the old store stays
            kept = "the store there is as it was" if db.exists() else "no store was made there"
            raise DataError(f"{db}: the export could not be written ({e}); {kept}") from None
        finally:
            con.close()
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())


def short_lists(dataset: Any, k: int) -> tuple[int, int]:
    """How many of ``dataset``'s users have fewer than ``k`` movies they did not rate, so
    that a store's top-``k`` lists hold fewer for them, and how many have none at all,
    counted as the lists count them: a film they rated under another id is rated, and a
    film left under two ids is one place of a list."""
    from cinerec.data.dataset import later_twins, title_twins
    from cinerec.data.history import seen_films

    twins = title_twins(dataset)
    films = seen_films(dataset, twins)
    left = dataset.n_items - np.diff(films.indptr)
    if twins is not None:  # a film's later ids, where it is left, are no place of a list
        later = later_twins(twins)
        left = left - (int(later.sum()) - np.asarray(films[:, later].sum(axis=1)).ravel().astype(np.int64))
    return int((left < k).sum()), int((left == 0).sum())


def short_lists_note(short: int, empty: int, n_users: int, k: int, twins: bool = False) -> str:
    """The line said beside an export whose lists are shorter than ``k`` for some users
    (``twins``: the catalogue lists some film under two ids, counted once)."""
    if short == empty:
        return f"{empty:,} of the {n_users:,} users rated every movie of the run, so their lists are empty"
    once = " (a film under two ids counted once)" if twins else ""
    one = short == 1
    return (f"{short:,} of the {n_users:,} users {'has' if one else 'have'} fewer than {k} movies they did not "
            f"rate{once}, so {'its list is' if one else 'their lists are'} shorter"
            + (f" ({empty:,} with none)" if empty else ""))


def check_target(db: str | os.PathLike) -> None:
    """Refuse, in one line, a store target the export would wrongly create or destroy.

    A SQLite target must sit in an existing folder and be a new file or an earlier
    store: the export replaces it whole, so any other file there (a run's ``run.json``,
    someone's database) is refused rather than overwritten. A URL must be PostgreSQL's,
    and outside torchrun its server must answer and hold no schema the export may not
    replace.
    """
    check_url(db)
    if is_postgres(db):
        # One process asks the server now, before the run and its model are read (which
        # can take minutes); under torchrun export_store asks it once for every rank.
        if not _Shards.active():
            from cinerec.serving.pgstore import check_postgres_target

            check_postgres_target(str(db))
        return
    path = Path(db)
    if path.is_dir():
        raise DataError(f"{path}: is a folder; {_flag('--db')} names the store file to write (e.g. "
                        f"{path / 'store.sqlite'})")
    if not path.parent.is_dir():
        blocker = next((p for p in (path.parent, *path.parent.parents) if p.exists()), None)
        if blocker is not None and not blocker.is_dir():  # (it read as if the file were missing)
            raise DataError(f"{path}: cannot write the store there ({blocker} is a file, not a folder)")
        raise DataError(f"{path.parent}: no such folder for the store {path.name}")
    if path.exists() and not path.is_file():  # a pipe or a device: opening it waited, past Ctrl-C
        raise DataError(f"{path}: is not a regular file (a pipe or a device); {_flag('--db')} names the store file "
                        "to write")
    if path.exists() and not is_store(path):
        raise DataError(f"{path}: exists and is not a cinerec recommendation store; not replacing it "
                        f"(remove it or choose another {_flag('--db')})")


def is_store(path: Path) -> bool:
    """Whether ``path`` is a SQLite file with a store's ``meta`` format number (of any version)."""
    try:
        # immutable: a probe that leaves no -wal or -shm file behind (a read-only connection
        # to a WAL database, such as a profiles file, would create them).
        con = sqlite3.connect(f"file:{path.resolve().as_posix()}?mode=ro&immutable=1", uri=True)
        try:
            row = con.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
        finally:
            con.close()
    except sqlite3.Error:
        return False
    return store_format(row[0] if row is not None else None) is not None


def store_format(text: str | None) -> int | None:
    """The format number of a store's ``meta`` table's ``format`` JSON text, or ``None``
    where it holds no whole number: no store."""
    try:
        return format_number(json.loads(text)) if text is not None else None
    except (TypeError, ValueError):
        return None


def format_number(value: Any) -> int | None:
    """``value`` (a decoded ``format``) where it is a whole number, as every store's is, else ``None``."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def store_run(path: Path) -> str | None:
    """The run folder a SQLite store at ``path`` names as the one it was exported from
    (``None`` for a file that is no store, or names none)."""
    try:
        con = sqlite3.connect(f"file:{path.resolve().as_posix()}?mode=ro&immutable=1", uri=True)
        try:
            row = con.execute("SELECT value FROM meta WHERE key = 'run'").fetchone()
        finally:
            con.close()
        run = json.loads(row[0]) if row is not None else None
    except (sqlite3.Error, ValueError, TypeError):
        return None
    return run if isinstance(run, str) else None


def _flag(flag: str) -> str:
    """A flag (``--db``) as its reader knows it: the flag on the command line, the argument
    it sets (``db``) to a caller of the library."""
    return said(flag, flag.removeprefix("--"))


def export_words(url: bool = False) -> str:
    """How to write a store, in its reader's terms (:func:`~cinerec.errors.said`)."""
    return said(f"`cinerec export{' --db URL' if url else ''}`", "export_store() (`cinerec export`)")


def profiles_words(what: str = "") -> str:
    """How to give the profiles another home, in its reader's terms: ``--profiles FILE`` or
    ``profiles=`` of ``create_app()``."""
    return said(f"--profiles{' ' + what if what else ''}", f"create_app(profiles={what or '...'})")


def check_url(db: str | os.PathLike | None, flag: str = "--db") -> None:
    """Refuse a URL that is not PostgreSQL's in one line, its password hidden (it would
    otherwise be read as a file path, its "//" merged into one); named by ``flag`` on the
    command line, by the argument (``db``, ``profiles``) to a caller of the library."""
    flag = _flag(flag)
    text = "" if db is None else str(db)
    if "://" not in text:
        if re.match(r"(postgres|postgresql):", text, re.IGNORECASE):  # "postgresql:/u:pw@host/db": a path
            raise ConfigError(f"{flag}: '{text.split(':', 1)[0]}:' needs two slashes after it to be a URL (it was "
                              "taken for a file's name); write postgresql://USER:PASSWORD@HOST:PORT/DB")
        # "postgresql//u:pw@host/db", its colon left out: a path too, its password printed in
        # the error (a folder named postgres holding a store, postgres/store.sqlite, is one)
        if (m := re.match(r"(postgres|postgresql)//+[^/]*@", text, re.IGNORECASE)):
            raise ConfigError(f"{flag}: '{m.group(1)}' needs '://' after it to be a URL (it was taken for a file's "
                              "name); write postgresql://USER:PASSWORD@HOST:PORT/DB")
        if len(_LIBPQ_KEY.findall(text)) >= 2 or re.search(r"(^|\s)password\s*=", text, re.IGNORECASE):
            # (libpq's "host=... dbname=..." was taken for a file's name, its password in it)
            raise ConfigError(f"{flag}: a connection string of key=value pairs is not read here; write it as a URL, "
                              "postgresql://USER:PASSWORD@HOST:PORT/DB")
        return
    from cinerec.serving.pgstore import safe_url

    if is_postgres(text):
        from cinerec.serving.pgstore import check_userinfo

        check_userinfo(text, flag)
        return

    scheme = text.split("://", 1)[0]
    hint = f"write it {scheme.lower()}://" if scheme.lower() in ("postgresql", "postgres") else \
        "give a SQLite file path or a postgresql:// URL"
    raise ConfigError(f"{flag} {safe_url(text)}: unsupported URL scheme {scheme!r}; {hint}")


#: A libpq connection string's keys, as ``host=...``.
_LIBPQ_KEY = re.compile(r"(?:^|\s)(?:host|hostaddr|port|dbname|user|password|sslmode|connect_timeout)\s*=",
                        re.IGNORECASE)


def is_postgres(db: str | os.PathLike | None) -> bool:
    """Whether ``db`` names a PostgreSQL database (``postgresql://`` or ``postgres://``)."""
    return isinstance(db, str) and db.startswith(("postgresql://", "postgres://"))


def _create_store_schema(con: sqlite3.Connection) -> None:
    con.executescript(
        """
        CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE movies(item INTEGER PRIMARY KEY, movie_id TEXT NOT NULL UNIQUE, title TEXT NOT NULL,
                            year INTEGER, genres TEXT NOT NULL, search_key TEXT NOT NULL,
                            popularity INTEGER NOT NULL);
        CREATE TABLE users(user INTEGER PRIMARY KEY, user_id TEXT NOT NULL UNIQUE);
        CREATE TABLE recommendations(user INTEGER NOT NULL, rank INTEGER NOT NULL, item INTEGER NOT NULL,
                                     score REAL NOT NULL, reason INTEGER,
                                     PRIMARY KEY (user, rank)) WITHOUT ROWID;
        """
    )


class RecStore:
    """Read side of an exported store; safe to share between threads.

    Each thread keeps its own read-only connection. When the file at ``path`` is
    replaced by a new export, the next read notices (the file's inode changed) and
    reopens, so a running server picks up a re-export without a restart.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self.info = self._read_info()

    def _file_stamp(self) -> tuple[int, int]:
        st = os.stat(self.path)
        return st.st_ino, st.st_mtime_ns

    def _connect(self) -> sqlite3.Connection:
        # immutable=1: an exported file is never modified in place, only replaced.
        uri = f"file:{self.path.resolve().as_posix()}?mode=ro&immutable=1"
        return sqlite3.connect(uri, uri=True, check_same_thread=False)

    def _conn(self) -> sqlite3.Connection:
        try:
            stamp = self._file_stamp()
        except OSError:
            raise DataError(f"{self.path}: the recommendation store has disappeared") from None
        local = self._local
        if getattr(local, "stamp", None) != stamp:
            if getattr(local, "con", None) is not None:
                local.con.close()
            local.con, local.stamp = None, None
            try:
                con = self._connect()  # (a folder put in the store's place fails here)
            except sqlite3.DatabaseError as e:
                raise DataError(f"{self.path}: not a readable store ({e})") from None
            try:
                if stamp != self._stamp:
                    with self._lock:
                        if stamp != self._stamp:
                            self.info = _read_meta(con, self.path)
                            self._stamp = stamp
            except (sqlite3.DatabaseError, DataError) as e:
                # A file put in its place that is no store: every call says so (and the
                # service scores live) until a good one is there; nothing of it is kept.
                con.close()
                why = e if isinstance(e, DataError) else f"{self.path}: not a readable store ({e})"
                raise DataError(str(why)) from None
            local.con, local.stamp = con, stamp
        return local.con

    def close(self) -> None:
        """Close this thread's connection (the next read opens another)."""
        con = getattr(self._local, "con", None)
        if con is not None:
            con.close()
        self._local.con, self._local.stamp = None, None

    def refresh(self) -> StoreInfo:
        """Notice a re-export (a new file at ``path``) and return the current info."""
        self._conn()
        return self.info

    def _read_info(self) -> StoreInfo:
        if self.path.is_dir():
            raise DataError(f"{self.path}: a folder, not a recommendation store (a file {said('`cinerec export --db`', 'export_store()')} "
                            "writes)")
        if self.path.exists() and not self.path.is_file():  # (export refuses to write there: no advice to run it)
            raise DataError(f"{self.path}: is not a regular file (a pipe or a device), not a recommendation store")
        if not self.path.is_file():
            raise DataError(f"{self.path}: no recommendation store here (run {export_words()} first)")
        self._conn()
        return self.info

    def recommendations(self, user: int, k: int, info: StoreInfo | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The stored top-``k`` of user index ``user``: ``(items int32, scores float32, reasons int32)``.

        ``reasons`` holds ``-1`` where the store has none. The list is read with its
        file's export time: one of a store exported since ``info`` (default :attr:`info`;
        a caller that judged the store by an info it read passes that one) is refused
        (``DataError``: the caller scores it live), never handed out as that store's.
        """
        # (the export's time read from meta, the user's rows beside it: a store exported
        # since without this user, another run's, holds no list for them, which is no empty one)
        rows = self._conn().execute(
            "SELECT m.value, r.item, r.score, r.reason FROM meta m LEFT JOIN recommendations r "
            "ON r.user = ? AND r.rank < ? WHERE m.key = 'exported_at' ORDER BY r.rank",
            (int(user), int(k)),
        ).fetchall()
        if not rows or json.loads(rows[0][0]) != (self.info if info is None else info).exported_at:
            raise DataError(f"{self.path}: exported again while this list was read; scored live instead")
        return stored_list([row[1:] for row in rows if row[1] is not None])

    def count(self, table: str) -> int:
        return int(self._conn().execute(f"SELECT COUNT(*) FROM {store_table(table)}").fetchone()[0])


def stored_list(rows: list[tuple[Any, ...]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(item, score, reason)`` rows of a store as ``(items int32, scores float32, reasons int32)``,
    ``-1`` where a reason is NULL (``-2``, a movie listed for its popularity, as stored);
    what every store's ``recommendations`` returns."""
    if not rows:
        return np.zeros(0, np.int32), np.zeros(0, np.float32), np.zeros(0, np.int32)
    items, scores, reasons = zip(*rows)
    return (np.array(items, np.int32), np.array(scores, np.float32),
            np.array([-1 if r is None else r for r in reasons], np.int32))


def store_table(table: str) -> str:
    """``table`` when it is one of a store's counted tables (its name goes into SQL text)."""
    if table not in ("movies", "users", "recommendations"):
        raise ValueError(f"no table {table!r} in a store")
    return table


def _read_meta(con: sqlite3.Connection, path: Path) -> StoreInfo:
    try:
        meta = meta_values(con.execute("SELECT key, value FROM meta").fetchall(), path)
        tables = {name for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as e:
        raise DataError(f"{path}: not a cinerec recommendation store ({e})") from None
    info = info_from_meta(meta, path)  # (another format's store is named as such first)
    missing = [t for t in ("movies", "users", "recommendations") if t not in tables]
    if missing:  # a server would score every list live and call the store fine
        raise DataError(f"{path}: not a cinerec recommendation store (no table {', '.join(missing)}); "
                        f"export it again with {export_words()}")
    return info


def meta_values(rows: list[tuple[Any, ...]], path: Path | str) -> dict[str, Any]:
    """A store's ``meta`` rows ``(key, JSON text)`` decoded; a value that is no JSON is said
    by its key (a table of someone else's named ``meta``), not by the decoder's column."""
    meta = {}
    for key, value in rows:
        try:
            meta[key] = json.loads(value)
        except (TypeError, ValueError):
            raise DataError(f"{path}: not a cinerec recommendation store (its meta table's {key!r} is not a "
                            f"value a store writes: {str(value)[:40]!r})") from None
    return meta


def info_from_meta(meta: Mapping[str, Any], path: Path | str) -> StoreInfo:
    """The :class:`StoreInfo` of a store's decoded ``meta`` table, checking its format."""
    number = format_number(meta.get("format"))
    if number is None:
        # No export writes a store without its format: an export would refuse to replace
        # it, so "export it again" would lead nowhere.
        raise DataError(f"{path}: not a cinerec recommendation store (no store format in its meta table); serve "
                        "a store that an export wrote")
    if number != STORE_FORMAT:
        raise format_refused(path, "store", meta.get("format"), STORE_FORMAT, f"export it again with {export_words()}")
    try:
        return StoreInfo(path, str(meta["run"]), str(meta["run_created"]), str(meta["model"]),
                         float(meta["exported_at"]), int(meta["k"]), int(meta["n_users"]),
                         int(meta["n_items"]), str(meta.get("dataset", "")))
    except (KeyError, TypeError, ValueError) as e:
        raise DataError(f"{path}: store meta table is damaged ({type(e).__name__}: {e})") from None


def open_store(path: str | os.PathLike) -> Any:
    """Open an exported store (a SQLite file or a ``postgresql://`` URL), with one clear
    error when it is missing, unreachable or damaged.

    Both kinds answer ``info``, ``refresh()``, ``recommendations(user, k)`` and ``count(table)``.
    """
    check_url(path)
    if is_postgres(path):
        from cinerec.serving.pgstore import PgRecStore

        return PgRecStore(str(path))
    return RecStore(path)


def open_profiles(db: str | os.PathLike | None, run_dir: str | os.PathLike,
                  profiles: str | os.PathLike | None = None) -> Any:
    """The profiles of a server: ``profiles`` when given (a file or a URL), else beside the
    store (the same PostgreSQL database, or ``X.profiles.sqlite`` beside ``X.sqlite``),
    else in the run folder. Both kinds answer the :class:`ProfileStore` methods.
    """
    # str(db): is_postgres(db) holds only for a str, which mypy cannot see through it.
    check_url(profiles, "--profiles")
    where = profiles if profiles is not None else str(db) if is_postgres(db) else profiles_path_for(db, run_dir)
    if is_postgres(where):
        from cinerec.serving.pgstore import PgProfileStore

        try:
            return PgProfileStore(str(where))
        except DataError as e:  # (named by its flag: --db on the same server failed alike, in the same words)
            if profiles is None:
                raise
            raise type(e)(f"{_flag('--profiles')} {e}") from None
    check_url(profiles, "--profiles")
    if profiles is not None and not Path(profiles).parent.is_dir():  # a typo would make folders
        raise DataError(f"{_flag('--profiles')} {profiles}: no such folder {Path(profiles).parent}")
    if profiles is not None and Path(profiles).is_dir():
        raise DataError(f"{_flag('--profiles')} {profiles}: a folder; name the profiles file (new, or one a "
                        "server wrote)")
    if profiles is not None and Path(profiles).exists() and not Path(profiles).is_file():
        # (SQLite said "disk I/O error", read as a full disk)
        raise DataError(f"{_flag('--profiles')} {profiles}: is not a regular file (a pipe or a device); name the "
                        "profiles file (new, or one a server wrote)")
    if profiles is not None and Path(profiles).is_file() and is_store(Path(profiles)):
        # The next export replaces a store whole, and the profiles in it with it.
        raise DataError(f"{_flag('--profiles')} {profiles}: is a store written by export, which the next export replaces; "
                        "keep profiles in a file of their own")
    return ProfileStore(where)


def profiles_path_for(db: str | os.PathLike | None, run_dir: str | os.PathLike) -> Path:
    """Where profiles live: beside the store (``X.sqlite`` → ``X.profiles.sqlite``), else in the run folder."""
    if db is not None:
        db = Path(db)
        return db.with_name(f"{db.stem}.profiles.sqlite")
    return Path(run_dir) / "profiles.sqlite"


#: A profiles file's tables and their columns, in order.
PROFILE_TABLES = {"profiles": ["profile_id", "created", "updated"],
                   "ratings": ["profile_id", "movie_id", "stars", "updated"]}


_PROFILE_SCHEMA = """
CREATE TABLE IF NOT EXISTS profiles(profile_id TEXT PRIMARY KEY, created REAL NOT NULL, updated REAL NOT NULL);
CREATE TABLE IF NOT EXISTS ratings(profile_id TEXT NOT NULL REFERENCES profiles(profile_id),
                                   movie_id TEXT NOT NULL, stars REAL, updated REAL NOT NULL,
                                   PRIMARY KEY (profile_id, movie_id)) WITHOUT ROWID;
"""


#: SQLite's words for a disk that is full or failing, not a file that is no profiles file.
_DISK_TROUBLE = re.compile(r"disk is full|disk I/O error", re.IGNORECASE)


#: Set by ``serve --workers N`` for its workers: the profiles file its own check opened
#: (``path``, device and inode, tab-separated). A worker that starts after that file was
#: removed (or one uvicorn starts again later) finds it gone, as a running one does,
#: instead of making a new empty one there.
SERVED_PROFILES_ENV = "CINEREC_SERVE_PROFILES_FILE"


def served_profiles_file(store: Any) -> str:
    """What :data:`SERVED_PROFILES_ENV` holds for ``store`` (empty: not a file opened)."""
    identity = getattr(store, "_identity", None)
    path = getattr(store, "path", None)
    return "" if identity is None or path is None else f"{os.path.realpath(path)}\t{identity[0]}\t{identity[1]}"


class ProfileStore:
    """Saved people: a profile id and the movies they rated or liked.

    Ratings are keyed by raw movie id (text) so they survive any re-export or re-fit
    that keeps the same movies. ``stars`` is ``NULL`` for a plain "like".
    """

    def __init__(self, path: str | os.PathLike, *, id_factory: Callable[[], str] | None = None) -> None:
        self.path = Path(path)
        self._local = threading.local()
        # Every thread's connection beside its thread, for close_all; a thread that has
        # ended has its own closed as the next is opened (threads come and go: a server's
        # idle worker threads end, and /health counts on a thread of its own).
        self._opened: list[tuple[threading.Thread, sqlite3.Connection]] = []
        self._opened_lock = threading.Lock()
        # One change at a time from this process: its threads queue here, where SQLite's
        # busy wait would have them retry on a growing sleep (a write waiting seconds behind
        # others that came later); other processes still wait on SQLite's own lock.
        self._write_lock = threading.Lock()
        self._new_id = id_factory or (lambda: secrets.token_urlsafe(9))
        self._generation = 0  # moves on when a read-only start becomes writable: connections are opened again
        self._identity: tuple[int, int] | None = None  # (device, inode) of the file opened, once there is one
        # Why the last change could not be saved (a full or failing disk), until one is:
        # what /health says, where a file that can be written says nothing of a full disk.
        self.last_failure: str | None = None
        served = os.environ.get(SERVED_PROFILES_ENV, "").split("\t")
        if len(served) == 3 and served[0] == os.path.realpath(self.path):  # (a serve worker: the file its
            self._identity = (int(served[1]), int(served[2]))               # server opened, or gone)
            if self._gone() is not None:
                self.read_only = False
                return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # A file or folder that cannot be written (a read-only mount): the profiles there
        # are read as they are (none, when there is no file), and every change is refused
        # with a 503 that says why, as /health does; the lists are served all the same.
        self.read_only = self.unwritable() is not None
        # (what a start on a full disk made beside the file goes again: its log and shared memory)
        self._beside = [p for p in (self.path, self.path.with_name(f"{self.path.name}-wal"),
                                    self.path.with_name(f"{self.path.name}-shm")) if not p.exists()]
        self._check_own()
        if self.read_only:
            self._conn()  # (a file that is no profiles file is refused now, not at the first request)
            self._identity = self._file_identity()
            return
        try:
            con = self._conn()
            con.executescript(_PROFILE_SCHEMA)
        except sqlite3.DatabaseError as e:
            raise self._refused(e) from None
        self._identity = self._file_identity()

    def _refused(self, e: sqlite3.DatabaseError) -> DataError:
        """The one line for a profiles file that cannot be opened: a full or failing disk
        is said so (a good file was called foreign), and what this start made beside it
        (a new file, its log, its shared memory) goes again; any other fault is the file's."""
        if not isinstance(e, sqlite3.OperationalError) or not _DISK_TROUBLE.search(str(e)):
            return DataError(f"{self.path}: not a cinerec profiles file ({e})")
        self.close_all()
        for made in self._beside:
            with contextlib.suppress(OSError):
                made.unlink(missing_ok=True)
        return DataError(f"{self.path}: the profiles file could not be opened for writing ({e}); free some space on "
                         f"its disk, or give profiles a file elsewhere with {profiles_words()}")

    def _file_identity(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return st.st_dev, st.st_ino

    def _gone(self) -> str | None:
        """Why the profiles cannot be used now that the file this server opened was removed
        or another put in its place, else ``None``. Its open connections would write on
        into the removed file (lost at the next start) while a thread opening anew made an
        empty file there: every use is refused until a restart opens the file there now."""
        if self._identity is None or self._file_identity() == self._identity:
            return None
        what = "removed" if not self.path.exists() else "removed or replaced"
        return (f"{self.path}: the profiles file was {what} while the server ran; restart the server to use the "
                "profiles file there now (until then none can be read or saved)")

    def _check_own(self) -> None:
        """Refuse, before changing anything in it, a SQLite file holding tables other than
        a profiles file's own: its tables would be added to, and every request fail."""
        if not self.path.is_file() or self.path.stat().st_size == 0:
            return
        try:
            con = self._read_only_connection() if self.read_only else sqlite3.connect(self._read_uri(), uri=True)
            try:
                tables = {name: [row[1] for row in con.execute(f"PRAGMA table_info('{name}')")]
                          for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            finally:
                con.close()
        except sqlite3.DatabaseError as e:
            raise self._refused(e) from None
        foreign = sorted(name for name, columns in tables.items() if PROFILE_TABLES.get(name) != columns)
        if foreign:
            name = foreign[0]
            what = (f"its table {name!r} has the columns {', '.join(tables[name]) or 'none'}, not those of a profiles "
                    "file" if name in PROFILE_TABLES else f"it holds the table {name!r}, which a profiles file has not")
            raise DataError(f"{self.path}: not a cinerec profiles file ({what}); give profiles a file of their own "
                            f"with {profiles_words()}")

    def _read_uri(self, immutable: bool = False) -> str:
        """The file opened for reading only; ``immutable`` where SQLite cannot open it so
        (a file in WAL mode, in a folder that cannot be written, without its ``-shm``)."""
        return f"{self.path.resolve().as_uri()}?mode=ro{'&immutable=1' if immutable else ''}"

    def _read_only_connection(self) -> sqlite3.Connection:
        """The profiles file, read as it is: with its write-ahead log where it has one
        (profiles saved but not yet folded into the file), else as an unchanging file."""
        last: sqlite3.Error | None = None
        for immutable in (False, True):
            con = sqlite3.connect(self._read_uri(immutable), uri=True, isolation_level=None, check_same_thread=False)
            try:
                con.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
                return con
            except sqlite3.OperationalError as e:  # ("unable to open database file": no -shm can be made)
                con.close()
                last = e
        raise cast(sqlite3.Error, last)

    def _conn(self) -> sqlite3.Connection:
        if (gone := self._gone()) is not None:
            raise Unavailable(gone)
        con = getattr(self._local, "con", None)
        if con is not None and getattr(self._local, "generation", 0) != self._generation:
            con.close()  # (read-only, from before the file could be written)
            con = self._local.con = None
        if con is None and self.read_only:
            try:
                if self.path.is_file() and self.path.stat().st_size:
                    con = self._read_only_connection()
                    con.execute("SELECT COUNT(*) FROM profiles").fetchone()
                else:  # no profiles yet, and none can be made: an empty set to read
                    con = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
                    con.executescript(_PROFILE_SCHEMA)
                    con.execute("PRAGMA query_only=1")
            except sqlite3.DatabaseError as e:
                raise DataError(f"{self.path}: not a cinerec profiles file ({e})") from None
            self._local.con, self._local.generation = con, self._generation
            self._keep(con)
        if con is None:
            # Autocommit mode: every change below opens its own BEGIN IMMEDIATE. Made only by
            # the first opening: a file removed since is not made again empty, in a folder
            # perhaps removed too.
            made = None
            try:
                made = sqlite3.connect(self._write_uri(), uri=True, isolation_level=None, timeout=30.0,
                                       check_same_thread=False)
                made.execute("PRAGMA busy_timeout=30000")
                made.execute("PRAGMA journal_mode=WAL")
                made.execute("PRAGMA synchronous=FULL")  # an accepted rating survives a power cut
            except sqlite3.OperationalError:
                if made is not None:
                    made.close()
                if (gone := self._gone()) is not None:  # (removed between the check above and here)
                    raise Unavailable(gone) from None
                raise
            con = made
            self._local.con, self._local.generation = con, self._generation
            self._keep(con)
        return con

    def _write_uri(self) -> str:
        """The file opened for reading and writing; made where it is not there only before
        this server first opened it (after, its removal is said: :meth:`_gone`)."""
        return f"{self.path.resolve().as_uri()}?mode={'rwc' if self._identity is None else 'rw'}"

    def _keep(self, con: sqlite3.Connection) -> None:
        """Hold this thread's new connection for close_all, and close those of threads that
        have ended (no one else can reach them: each thread reads only its own)."""
        with self._opened_lock:
            ended = [c for t, c in self._opened if not t.is_alive()]
            self._opened = [(t, c) for t, c in self._opened if t.is_alive()] + [(threading.current_thread(), con)]
        for c in ended:
            try:
                c.close()
            except sqlite3.Error:
                pass

    def _become_writable(self) -> None:
        """Leave the read-only mode the server started in (the file or folder can be
        written now): every thread opens its connection again, for writing."""
        with self._opened_lock:
            if not self.read_only:
                return
            con = sqlite3.connect(self.path, isolation_level=None, timeout=30.0)
            try:
                con.execute("PRAGMA journal_mode=WAL")
                con.executescript(_PROFILE_SCHEMA)
            except sqlite3.DatabaseError as e:
                raise Unavailable(f"{self.path}: the profiles could not be saved ({e})") from None
            finally:
                con.close()
            self.read_only = False
            self._generation += 1
            if self._identity is None:  # (started with no file: this one is the file it serves)
                self._identity = self._file_identity()

    def close_all(self) -> None:
        """Close every thread's connection, as a server stops: the last one to close folds
        the write-ahead log into the file and removes its ``-wal`` and ``-shm`` files, so
        nothing beside the profiles says a server still has them open."""
        with self._opened_lock:
            opened, self._opened = [c for _, c in self._opened], []
        for con in opened:
            try:
                con.close()
            except sqlite3.Error:
                pass
        self._local = threading.local()
        # Server processes (--workers) stop together: each closing may see another still
        # open and leave the log; one more try each, a moment apart, lets the last fold it in.
        real = Path(os.path.realpath(self.path))  # (SQLite keeps its log beside the file a link points at)
        wal = real.with_name(f"{real.name}-wal")
        for _ in range(5):
            if self.read_only or not wal.exists() or self._gone() is not None:  # (a file removed is not made again)
                break
            try:
                con = sqlite3.connect(self._write_uri(), uri=True, timeout=0.5)
                con.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()  # (opens the log, to fold it in)
                con.close()
            except sqlite3.Error:
                break
            if wal.exists():
                time.sleep(0.1)
        if self._identity is not None and not self.path.exists() and not self.read_only:
            # The file removed while served: its log and shared memory, left beside no file,
            # go too (a file made there later would read that log as its own).
            for left in (wal, real.with_name(f"{real.name}-shm")):
                with contextlib.suppress(OSError):
                    left.unlink(missing_ok=True)

    def _write(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        # Asked at every change: a file made read-only while served took changes on its
        # open connections while /health said none could be saved; one writable again is
        # written without a restart.
        why = self.unwritable()
        if why is not None:
            raise Unavailable(why)
        if self.read_only:
            self._become_writable()
        if getattr(self._local, "writing", False):  # (a change made inside a change: SQLite refuses it, as before
            return self._write_now(fn)               # the lock, where waiting on the lock would wait for good)
        with self._write_lock:
            self._local.writing = True
            try:
                return self._write_now(fn)
            finally:
                self._local.writing = False

    def _write_now(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        con = self._conn()
        try:
            con.execute("BEGIN IMMEDIATE")
            try:
                out = fn(con)
            except BaseException:
                if con.in_transaction:  # (SQLite may have rolled back itself, on a full disk)
                    con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")
        except sqlite3.OperationalError as e:  # a full or failing disk: nothing saved, said so (503)
            if con.in_transaction:
                con.execute("ROLLBACK")
            self.last_failure = f"the last change could not be saved ({e})"
            raise Unavailable(f"{self.path}: the profiles could not be saved ({e})") from None
        self.last_failure = None
        return out

    def create(self, ratings: Mapping[str, float | None] | None = None) -> str:
        """A new profile, optionally with ratings; returns its id."""
        pid = self._new_id()
        now = time.time()

        def go(con: sqlite3.Connection) -> None:
            con.execute("INSERT INTO profiles VALUES (?, ?, ?)", (pid, now, now))
            _upsert(con, pid, ratings or {}, now)

        self._write(go)
        return pid

    def set_ratings(self, profile_id: str, ratings: Mapping[str, float | None],
                    forget: Callable[[dict[str, float | None]], Iterable[str]] | None = None) -> None:
        """Add or replace ratings (``None`` = liked) of an existing profile, in one
        transaction; ``forget``, given the profile's ratings as they stand then, names
        movies to forget with them (read under the write lock: two changes at once each
        see the other's)."""
        def go(con: sqlite3.Connection) -> None:
            now = time.time()  # once the lock is held: the order the changes were made in
            if con.execute("UPDATE profiles SET updated = ? WHERE profile_id = ?", (now, profile_id)).rowcount == 0:
                raise NotFoundError(f"unknown profile id {profile_id!r}")
            if forget is not None:
                con.executemany("DELETE FROM ratings WHERE profile_id = ? AND movie_id = ?",
                                [(profile_id, str(m)) for m in forget(_ratings_of(con, profile_id))])
            _upsert(con, profile_id, ratings, now)

        self._write(go)

    def remove_rating(self, profile_id: str, movie_id: str) -> bool:
        """Forget one movie of a profile; ``False`` when it was not there."""
        def go(con: sqlite3.Connection) -> bool:
            if con.execute("UPDATE profiles SET updated = ? WHERE profile_id = ?",
                           (time.time(), profile_id)).rowcount == 0:
                raise NotFoundError(f"unknown profile id {profile_id!r}")
            return con.execute("DELETE FROM ratings WHERE profile_id = ? AND movie_id = ?",
                               (profile_id, str(movie_id))).rowcount > 0

        return self._write(go)

    def delete(self, profile_id: str) -> None:
        """Remove a profile and every rating of it: its link then finds none."""
        def go(con: sqlite3.Connection) -> None:
            con.execute("DELETE FROM ratings WHERE profile_id = ?", (profile_id,))
            if con.execute("DELETE FROM profiles WHERE profile_id = ?", (profile_id,)).rowcount == 0:
                raise NotFoundError(f"unknown profile id {profile_id!r}")  # (rolled back: nothing removed)

        self._write(go)

    def get(self, profile_id: str) -> dict[str, float | None]:
        """``{movie_id: stars or None}`` of a profile, in the order they were entered."""
        con = self._conn()
        if con.execute("SELECT 1 FROM profiles WHERE profile_id = ?", (profile_id,)).fetchone() is None:
            raise NotFoundError(f"unknown profile id {profile_id!r}")
        return _ratings_of(con, profile_id)

    def count(self) -> int:
        return int(self._conn().execute("SELECT COUNT(*) FROM profiles").fetchone()[0])

    def unwritable(self) -> str | None:
        """Why a change could not be saved now (the file or its folder is read-only), else
        ``None``: what ``/health`` says before a request finds out with a 503."""
        if (gone := self._gone()) is not None:
            return gone
        for path, what in ((self.path, "the file"), (self.path.parent, "its folder"),
                           # (SQLite gives them the file's mode: left read-only beside a file made writable)
                           (self.path.with_name(f"{self.path.name}-wal"), "its write-ahead log"),
                           (self.path.with_name(f"{self.path.name}-shm"), "its shared-memory file")):
            if path.exists() and not os.access(path, os.W_OK):
                return f"{self.path}: read-only ({what} cannot be written): changes are refused"
        return None


def _ratings_of(con: sqlite3.Connection, pid: str) -> dict[str, float | None]:
    """``{movie_id: stars or None}`` of profile ``pid``, in the order they were entered."""
    rows = con.execute("SELECT movie_id, stars FROM ratings WHERE profile_id = ? ORDER BY updated, movie_id",
                       (pid,)).fetchall()
    return {m: s for m, s in rows}


def _upsert(con: sqlite3.Connection, pid: str, ratings: Mapping[str, float | None], now: float) -> None:
    con.executemany(
        "INSERT INTO ratings VALUES (?, ?, ?, ?) "
        "ON CONFLICT(profile_id, movie_id) DO UPDATE SET stars = excluded.stars, updated = excluded.updated",
        # a microsecond apart, so that reading them back in ``updated`` order gives the
        # order they were entered in, within one change too
        [(pid, str(m), None if s is None else float(s), now + j * 1e-6) for j, (m, s) in enumerate(ratings.items())],
    )
