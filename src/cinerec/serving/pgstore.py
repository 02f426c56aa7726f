"""The store and the profiles in PostgreSQL, for several servers over one database.

Give ``--db postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE`` to ``cinerec export``
and ``cinerec serve``. Everything lives in two schemas of that database:

* ``cinerec``: the exported store, with the same four tables as the SQLite store
  (``meta``, ``movies``, ``users``, ``recommendations``). An export builds a new schema
  under a temporary name, fills it with ``COPY``, adds its keys, and then swaps it in by
  renaming schemas in one transaction: a reader sees the old store or the new one,
  never half of one, and a failed export leaves the old store as it was.
* ``cinerec_profiles``: what people entered (``profiles``, ``ratings``). The export
  never touches it. Each change is one transaction and ratings are upserted, so
  writes from several server processes queue in the database and none is lost.

Connection errors become one line naming the URL with its password removed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import re
import secrets
import sys
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Mapping
from urllib.parse import unquote

import numpy as np

from cinerec.errors import ConfigError, DataError, NotFoundError, Unavailable, said
from cinerec.io import interrupts_deferred, keep_only_if_not_interrupted, note_finished
from cinerec.serving.store import export_words, profiles_words, store_format

__all__ = ["PgRecStore", "PgProfileStore", "export_postgres", "safe_url", "STORE_SCHEMA", "PROFILES_SCHEMA"]

STORE_SCHEMA = "cinerec"
PROFILES_SCHEMA = "cinerec_profiles"
#: Seconds between two reads of the store's ``meta`` table by a server.
REFRESH_S = 1.0
#: Seconds a connection is waited for, unless the URL sets its own ``connect_timeout``.
_CONNECT_TIMEOUT_S = 10
#: TCP keepalives on every connection, unless the URL sets its own: a connection the
#: network drops without a reset is found dead after about a minute of silence (30 s,
#: then 3 probes 10 s apart), so a read left waiting on it ends and gives back its place
#: in the pool, which it held for good without them.
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10, "keepalives_count": 3}
#: The most connections one process keeps to a store, and to the profiles: a server of
#: ``--workers N`` holds at most ``N * 2 * POOL_SIZE`` (PostgreSQL allows 100 by default).
POOL_SIZE = 4
#: Text travels as UTF-8 whatever the database's own encoding, unless the URL sets its
#: own: on a SQL_ASCII database (initdb's under a C locale) the driver hands text back as
#: bytes, and on a LATIN1 one a title it cannot hold is refused by the server, as any
#: write it refuses, rather than failing in the driver.
_TEXT = {"client_encoding": "utf8"}
#: Seconds a request waits for one of those connections before the database counts as
#: not answering (a store list is then scored live; a profile request answers 503).
POOL_WAIT_S = 5.0
#: Seconds a read may take before the database counts as not answering: a server that
#: hangs (reachable, but stopped) held the request, and its connection, for good.
QUERY_WAIT_S = 10.0


def safe_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for messages and ``/health``): the
    one before the host and a ``password=`` in the query, each whole as the driver reads
    it. Taken apart by hand, not by ``urlsplit``, which ends the address at a ``#`` or
    ``?`` that the driver reads as part of a password (``123#x``), and gives up on a
    malformed port."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    at = _credentials_end(rest)
    if at >= 0:
        user, colon, _ = rest[:at].partition(":")
        if colon:
            rest = f"{user}:***{rest[at:]}"
    query = _query_start(rest)
    if query >= 0:
        rest = rest[:query + 1] + _QUERY_PASSWORD.sub(r"\1***", rest[query + 1:])
    return f"{scheme}://{rest}"


def _query_start(rest: str) -> int:
    """Where the query of ``rest`` (a URL after ``://``) starts: its first "?" after the
    last "@" (a "?" before it is in the password: "S3cr@t?2024@host" holds two, which
    :func:`check_userinfo` refuses; host and database hold none); -1 when there is none.
    An "@" in the query makes all before it count as the password's, masked whole."""
    return rest.find("?", rest.rfind("@") + 1)


def _credentials_end(rest: str) -> int:
    """The index of the "@" that ends the user name and password in ``rest`` (a URL after
    ``://``): the last one before the query (:func:`check_userinfo` refuses two); -1
    when there is none."""
    query = _query_start(rest)
    return rest.rfind("@", 0, query if query >= 0 else len(rest))


_QUERY_PASSWORD = re.compile(r"((?:^|&)password=)[^&]*", re.IGNORECASE)


def check_userinfo(url: str, flag: str | None = None) -> None:
    """Refuse an unescaped ``@`` in a URL's user name or password: :func:`safe_url` splits
    at the last ``@``, the driver at the first, so the driver would take part of the
    password for the host and print it in its error."""
    rest = url.partition("://")[2]
    # All but the query (a "/" or "?" may be in the password too: "p@ss:w/rd@host/db"
    # holds two); an "@" in the database's name is written %40 as well.
    query = _query_start(rest)
    before = rest[:query if query >= 0 else len(rest)]
    if before.count("@") > 1:
        raise ConfigError(f"{flag + ' ' if flag else ''}{safe_url(url)}: the part before the host holds more than "
                          "one '@'; write an '@' in the user name or password as %40")
    # "cr:sec/ret@host/db": the driver ends the host part at the first "/", reads "cr" as
    # the host and "sec" as the port, and says it cannot resolve host 'cr'. (An '@' in the
    # query, "?user=me@corp", is no part of it; a password holding "?" too is left to the
    # driver, whose words are masked.)
    head = rest.split("?", 1)[0]
    if "@" in head and "/" in head.split("@", 1)[0]:
        raise ConfigError(f"{flag + ' ' if flag else ''}{safe_url(url)}: an '@' after the first '/'; write a '/' in "
                          "the user name or password as %2F (and an '@' in the database's name as %40)")


def _connect(url: str, *, autocommit: bool = True) -> Any:
    import psycopg

    check_userinfo(url)
    try:
        given = psycopg.conninfo.conninfo_to_dict(url)
    except (psycopg.Error, ValueError):
        given = {}  # (malformed: connect says why)
    # (the URL's own settings stand: its connect_timeout was overridden by 10 s)
    keep: dict[str, Any] = {key: value for key, value in {**KEEPALIVES, **_TEXT,
                                                          "connect_timeout": _CONNECT_TIMEOUT_S}.items()
                            if key not in given}
    try:
        return psycopg.connect(url, autocommit=autocommit, **keep)
    except (psycopg.Error, ValueError) as e:
        raise Unavailable(f"{safe_url(url)}: cannot connect to PostgreSQL ({_first_line(e, url)})") from None


def _first_line(error: BaseException, url: str) -> str:
    """The driver's first line, with any password of ``url`` it quotes masked: the driver
    quotes a part of the URL it cannot read (``invalid percent-encoded token: "p%zz"``, a
    whole URL). Only there, and only as a whole part of it, is a password replaced: a
    password ``e`` made "conn***ction fail***d"."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    secrets = sorted(set(_passwords(url)), key=len, reverse=True)
    if not secrets:
        return text
    whole = re.compile(r'(?<=[:@/=&?"])(?:' + "|".join(map(re.escape, secrets)) + r')(?=[:@/=&?"])')
    spans = _password_spans(url)

    def mask(quoted: re.Match[str]) -> str:
        masked = whole.sub("***", quoted.group(0))
        inner = quoted.group(0)[1:-1]
        if masked != quoted.group(0) or not inner:
            return masked
        # A part of the URL that holds a piece of a password, not all of it: the driver
        # quotes from where it stopped reading ("2024/xyz@host" of "Spring?2024/xyz").
        # Text found elsewhere in the URL too (a user name the password starts with) is
        # taken for that.
        found = [at for at in range(len(url)) if url.startswith(inner, at)]
        if found and all(any(at < end and start < at + len(inner) for start, end in spans) for at in found):
            return '"***"'
        return masked

    text = re.sub(r'"[^"]*"', mask, text)
    return re.sub(r"(password=)\S+", r"\1***", text, flags=re.IGNORECASE)


def _password_spans(url: str) -> list[tuple[int, int]]:
    """``(start, end)`` in ``url`` of each password it writes (as :func:`_passwords` finds them)."""
    start = url.find("://") + 3
    if start < 3:
        return []
    rest = url[start:]
    spans = []
    at = _credentials_end(rest)
    colon = rest.find(":", 0, max(0, at))
    if at >= 0 and colon >= 0:
        spans.append((start + colon + 1, start + at))
    query = _query_start(rest)
    if query >= 0:
        base = start + query + 1
        spans += [(base + m.end(1), base + m.end()) for m in _QUERY_PASSWORD.finditer(rest[query + 1:])]
    return spans


def _passwords(url: str) -> list[str]:
    """The passwords written in ``url`` (before the host, and ``password=`` in the query)."""
    rest = url.partition("://")[2]
    query = _query_start(rest)
    found = [m.group(0).split("=", 1)[1] for m in _QUERY_PASSWORD.finditer(rest[query + 1:] if query >= 0 else "")]
    # By hand rather than urlsplit, which gives up on a malformed host or port.
    found.append(rest[:max(0, _credentials_end(rest))].partition(":")[2])
    return [unquote(p) for p in found if p] + [p for p in found if p]


def _work_for(pool_ref: "weakref.ref[_Pool]", con: Any, jobs: "queue.SimpleQueue[_Job | None]") -> None:
    """A connection's own thread: its pool's reads and writes, one by one (it holds the
    pool weakly, so that a pool nobody holds is freed and its threads end)."""
    while (job := jobs.get()) is not None:
        try:
            job.rows = job.work(con)
        except BaseException as e:  # raised by the caller (a read on a dropped connection is tried again)
            job.error = e
        pool = pool_ref()
        if pool is None:
            job.done.set()
            break
        with pool._cv:
            job.done.set()
            abandoned = job.abandoned
        if abandoned:  # its caller has gone: this connection is not lent again
            con.close()
            pool._give(con)
        if con.closed:
            break
        del pool
    pool = pool_ref()
    if pool is not None:
        with pool._cv:
            if pool._workers.get(id(con), (None,))[0] is con:
                del pool._workers[id(con)]


def _end_workers(workers: "dict[int, tuple[Any, queue.SimpleQueue[_Job | None]]]") -> None:
    for _, jobs in list(workers.values()):
        jobs.put(None)


class Unsent(Exception):
    """A write whose connection was found dropped as its transaction began: nothing of the
    change reached the database. ``args[0]`` is the driver's error."""


@dataclass
class _Job:
    """One read or write handed to a connection's own thread, and what came of it."""

    work: Callable[[Any], Any]  # given the connection
    rows: Any = None
    error: BaseException | None = None
    abandoned: bool = False  # its caller stopped waiting
    done: threading.Event = field(default_factory=threading.Event)


class _Pool:
    """At most :data:`POOL_SIZE` connections to one database, shared by a process's
    threads: each request borrows one and gives it back. Before, each thread kept its
    own for good, and a burst of requests over several workers used up the server's
    connections (and a database that stopped answering held every thread)."""

    def __init__(self, url: str, size: int = POOL_SIZE, wait: float = POOL_WAIT_S,
                 query_wait: float = QUERY_WAIT_S) -> None:
        self.url, self.size, self.wait, self.query_wait = url, size, wait, query_wait
        # Each connection's own thread (its reads and writes), by the connection's id: the connection and its queue.
        self._workers: dict[int, tuple[Any, queue.SimpleQueue[_Job | None]]] = {}
        # A pool dropped unclosed ends its threads, whose connections then close with them.
        weakref.finalize(self, _end_workers, self._workers)
        self._idle: list[Any] = []
        self._open = 0
        self._cv = threading.Condition()

    @contextlib.contextmanager
    def connection(self) -> Iterator[Any]:
        """A connection for one piece of work; a broken one is closed, not given back."""
        con = self._take()
        try:
            yield con
        finally:
            self._give(con)

    def _take(self) -> Any:
        deadline = time.monotonic() + self.wait
        with self._cv:
            while True:
                while self._idle:
                    con = self._idle.pop()
                    if not con.closed and not con.broken:
                        return con
                    self._open -= 1
                if self._open < self.size:
                    self._open += 1
                    break
                left = deadline - time.monotonic()
                if left <= 0 or not self._cv.wait(left) and not self._idle and self._open >= self.size:
                    raise Unavailable(f"{safe_url(self.url)}: all {self.size} connections busy for {self.wait:g} s "
                                      "(PostgreSQL is not answering)")
        try:
            return _connect(self.url)
        except BaseException:
            with self._cv:
                self._open -= 1
                self._cv.notify()
            raise

    def fetchall(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """The rows of a read, tried once more on a new connection when the one lent had
        dropped (the pool's other idle ones go too: after a restart they are as dead);
        the first error is raised when the second try fails as well."""
        import psycopg

        def read(con: Any) -> list[tuple[Any, ...]]:
            return con.execute(sql, args).fetchall()

        try:
            return self._bounded(read, "a read")
        except psycopg.OperationalError as e:
            self.close()
            try:
                return self._bounded(read, "a read")
            except psycopg.OperationalError:
                raise e from None

    def write(self, fn: Callable[[Any], Any]) -> Any:
        """``fn(connection)`` in one transaction, waited for as a read is: past
        :attr:`query_wait` seconds the database counts as not answering, and whether the
        change was saved is not known (it is, should the database answer again and the
        transaction end). A connection found dropped (broken) as the transaction begins
        (after a restart, every idle one) sent nothing of the change: it is tried once more on a
        new connection, the pool's other idle ones let go; a second such drop is
        :class:`Unsent`. Once begun, a change is never tried again (it may have been
        written before an error)."""
        import psycopg

        def in_transaction(con: Any) -> Any:
            with contextlib.ExitStack() as stack:
                try:
                    stack.enter_context(con.transaction())
                except psycopg.OperationalError as e:
                    if con.broken or con.closed:  # (the connection's, not a refusal of the database's)
                        raise Unsent(e) from None
                    raise
                return fn(con)

        try:
            return self._bounded(in_transaction, "a write", " (it may or may not have been saved)")
        except Unsent:
            self.close()
            return self._bounded(in_transaction, "a write", " (it may or may not have been saved)")

    def _bounded(self, work: Callable[[Any], Any], what: str, unknown: str = "") -> Any:
        """``work(connection)`` on a borrowed connection, waited for :attr:`query_wait`
        seconds at most: past that the database counts as not answering
        (:class:`Unavailable`), and the connection, still held by the work, is closed once
        the work ends, if ever.

        Each connection works on a thread of its own, kept as long as it is (a thread
        started for every read cost 0.3 ms, ten times the read)."""
        con = self._take()
        job = _Job(work)
        try:
            self._worker(con).put(job)
        except BaseException:
            self._give(con)
            raise
        finished = job.done.wait(self.query_wait)
        with self._cv:
            abandoned = job.abandoned = not finished and not job.done.is_set()
        if abandoned:  # the connection's thread closes and gives it back when the work ends
            raise Unavailable(f"{safe_url(self.url)}: {what} took more than {self.query_wait:g} s (PostgreSQL is not "
                              f"answering){unknown}")
        self._give(con)
        if job.error is not None:
            raise job.error
        return job.rows

    def _worker(self, con: Any) -> "queue.SimpleQueue[_Job | None]":
        """The queue of ``con``'s own thread, started at its first read or write."""
        known, jobs = self._workers.get(id(con), (None, None))
        if known is not con or jobs is None:
            jobs = queue.SimpleQueue()
            self._workers[id(con)] = (con, jobs)
            threading.Thread(target=_work_for, args=(weakref.ref(self), con, jobs), name="cinerec-pg",
                             daemon=True).start()
        return jobs

    def _give(self, con: Any) -> None:
        with self._cv:
            if con.closed or con.broken:
                self._open -= 1
            else:
                self._idle.append(con)
            self._cv.notify()

    def close(self) -> None:
        """Close the idle connections (those lent out close when given back broken, or
        with the process), and end their threads."""
        with self._cv:
            idle, self._idle = self._idle, []
            self._open -= len(idle)
            self._cv.notify_all()
            ends = [self._workers.pop(id(con))[1] for con in idle if self._workers.get(id(con), (None,))[0] is con]
        for con in idle:
            con.close()
        for jobs in ends:
            jobs.put(None)


# -- export ------------------------------------------------------------------------------------


def check_postgres_target(url: str) -> None:
    """Before an export's work: the server answers and its ``cinerec`` schema, if any, is
    a store the export may replace (one line naming the URL, password masked, if not)."""
    import psycopg

    try:
        con = _connect(url)
    except psycopg.Error as e:
        raise DataError(f"{safe_url(url)}: {_first_line(e, url)}") from None
    try:
        _check_replaceable(con, url)
    except psycopg.Error as e:
        raise DataError(f"{safe_url(url)}: {_first_line(e, url)}") from None
    finally:
        con.close()


@contextlib.contextmanager
def _psycopg_unlogged() -> Iterator[None]:
    """psycopg's own log records dropped for the length of the block: what goes wrong is
    raised, and said once (a COPY cut off by a lost server also logged "error ignored
    terminating <psycopg.Copy [BAD] at 0x...>", which reached stderr above the error)."""
    log = logging.getLogger("psycopg")

    def drop(record: logging.LogRecord) -> bool:
        return False

    log.addFilter(drop)
    try:
        yield
    finally:
        log.removeFilter(drop)


#: How many times an export tries its swap when a reader's locks deadlock with it.
SWAP_TRIES = 5


def _swap(con: Any, staging: str, url: str) -> None:
    """Put the store written in ``staging`` in place of the old one at ``url``, in one
    transaction."""
    with contextlib.ExitStack() as commit:
        with con.transaction():
            old = f"{STORE_SCHEMA}_old_{secrets.token_hex(4)}"
            exists = con.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (STORE_SCHEMA,)).fetchone()
            if exists:
                con.execute(f"ALTER SCHEMA {STORE_SCHEMA} RENAME TO {old}")
            con.execute(f"ALTER SCHEMA {staging} RENAME TO {STORE_SCHEMA}")
            if exists:  # table by table, never CASCADE: what others built on the store stays, and stops this
                _carry_grants(con, old, STORE_SCHEMA)
                for table in ("recommendations", "users", "movies", "meta"):
                    con.execute(f"DROP TABLE IF EXISTS {old}.{table}")
                con.execute(f"DROP SCHEMA {old}")
            # The commit and the note that it was made end whole (the statements above
            # stay interruptible, a lock wait among them): an interrupt just after the
            # commit ended the command as interrupted with the new store in place.
            commit.enter_context(interrupts_deferred())
        note_finished(f"the store in {safe_url(url)}")


def export_postgres(plan: Any, url: str, *, progress: bool) -> None:
    """Write ``plan`` (a :class:`cinerec.serving.store.ExportPlan`) as the ``cinerec`` schema."""
    with _psycopg_unlogged():
        _export_postgres(plan, url, progress=progress)


def _export_postgres(plan: Any, url: str, *, progress: bool) -> None:
    import psycopg

    staging = f"{STORE_SCHEMA}_new_{secrets.token_hex(4)}"
    con = _connect(url)
    kept = "the old store, if any, is unchanged"
    try:
        # One export at a time per database (the lock goes with the connection, even when
        # the process is killed), so any staging schema found now was left by one that died.
        if not con.execute("SELECT pg_try_advisory_lock(hashtext('cinerec_export'))").fetchone()[0]:
            from cinerec.progress import is_silenced

            if progress and not is_silenced():  # (it waited without a word: a stopped export looked like a hung one)
                print(f"waiting for another export into {safe_url(url)} to end...", file=sys.stderr, flush=True)
            con.execute("SELECT pg_advisory_lock(hashtext('cinerec_export'))")
        had = con.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (STORE_SCHEMA,)).fetchone()
        # ("the old store is unchanged" where there was none read as if one were served)
        kept = "the old store is unchanged" if had else "no store was written"
        # Only a staging schema's own name and tables: a schema of someone else's named
        # cinerec_new_something was dropped with all it held.
        for (left,) in con.execute("SELECT nspname FROM pg_namespace WHERE nspname ~ %s",
                                   (f"^{STORE_SCHEMA}_new_[0-9a-f]{{8}}$",)).fetchall():
            if _stranger(con, left) is None:
                _drop_leftover(con, left)
        _check_replaceable(con, url)
        try:
            con.execute(f"CREATE SCHEMA {staging}")
            con.execute(f"""
                CREATE TABLE {staging}.meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
                CREATE TABLE {staging}.movies(item INTEGER PRIMARY KEY, movie_id TEXT NOT NULL UNIQUE,
                    title TEXT NOT NULL, year INTEGER, genres TEXT NOT NULL, search_key TEXT NOT NULL,
                    popularity INTEGER NOT NULL);
                CREATE TABLE {staging}.users("user" INTEGER PRIMARY KEY, user_id TEXT NOT NULL UNIQUE);
                CREATE UNLOGGED TABLE {staging}.recommendations("user" INTEGER NOT NULL, rank INTEGER NOT NULL,
                    item INTEGER NOT NULL, score DOUBLE PRECISION NOT NULL, reason INTEGER);
            """)
            _copy(con, f"{staging}.meta", plan.meta_rows())
            _copy(con, f"{staging}.movies", plan.movie_rows())
            _copy(con, f"{staging}.users", plan.user_rows())
            for block in plan.recommendation_blocks(progress):
                _copy(con, f"{staging}.recommendations", block)
            # Keys after the load: one sorted build instead of an index update per row.
            con.execute(f"ALTER TABLE {staging}.recommendations ADD PRIMARY KEY (\"user\", rank)")
            con.execute(f"ALTER TABLE {staging}.recommendations SET LOGGED")
            keep_only_if_not_interrupted()  # (a Ctrl-C dropped on the way: the old store stays)
            for attempt in range(1, SWAP_TRIES + 1):
                try:
                    _swap(con, staging, url)
                    break
                except psycopg.errors.DeadlockDetected:
                    # A reader of the old tables took their locks in another order, and the
                    # database rolled the swap back (the reader's read goes on): try again.
                    if attempt == SWAP_TRIES:
                        raise
                    time.sleep(0.1 * attempt)
        except BaseException:
            try:
                con.execute(f"DROP SCHEMA IF EXISTS {staging} CASCADE")
            except psycopg.Error:
                pass
            raise
    except psycopg.errors.DependentObjectsStillExist as e:  # a view of one's own on the store's tables
        detail = re.sub(rf"{STORE_SCHEMA}_old_[0-9a-f]{{8}}", STORE_SCHEMA, (e.diag.message_detail or "").splitlines()[0]) \
            if e.diag.message_detail else "objects of other schemas depend on its tables"
        raise DataError(f"{safe_url(url)}: export failed, {kept}: {detail}; the export replaces "
                        "the store's tables, so drop what depends on them first") from None
    except psycopg.errors.ProgramLimitExceeded as e:  # an id past what a PostgreSQL index holds
        raise DataError(f"{safe_url(url)}: export failed, {kept} ({_first_line(e, url)}){_longest_id(plan)}; "
                        f"PostgreSQL indexes ids of up to about {PG_ID_BYTES:,} bytes: export to a SQLite file "
                        f"({said('--db FILE', 'db=FILE')}), which holds any") from None
    except psycopg.errors.InsufficientPrivilege as e:
        raise DataError(f"{safe_url(url)}: export failed, {kept} ({_first_line(e, url)}); an export creates schemas "
                        "and tables: export as a role with CREATE on the database, or one that owns the store") from None
    except psycopg.Error as e:
        raise DataError(f"{safe_url(url)}: export failed, {kept} ({_first_line(e, url)})") from None
    finally:
        con.close()


#: About the most bytes of an id a PostgreSQL b-tree index holds (its limit is 2,704 bytes
#: a row, after compression): past it, a store's or profiles' key on the id refuses it.
PG_ID_BYTES = 2_700


def _longest_id(plan: Any) -> str:
    """``": the movie id 'M…' is 3,001 bytes"``: of a plan's raw ids, the one that compresses
    least (the index's limit holds after compression: a long id of one letter repeated
    fits), cut short."""
    import zlib

    rows = [("movie", str(r[1])) for r in plan.movie_rows()] + [("user", str(r[1])) for r in plan.user_rows()]
    if not rows:
        return ""
    role, raw = max(rows, key=lambda r: len(zlib.compress(r[1].encode("utf-8"))))
    return f": the {role} id {raw[:20] + '…' if len(raw) > 20 else raw!r} is {len(raw.encode('utf-8')):,} bytes"


def _carry_grants(con: Any, old: str, new: str) -> None:
    """Grant again on the new store what others were granted on the old one (a role that
    serves reading it, given USAGE and SELECT): a re-export builds a new schema, and the
    grants were lost with the old one, the server falling back to scoring live."""
    import psycopg

    grantee = "CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END"
    for who, privilege in con.execute(
            f"SELECT {grantee}, a.privilege_type FROM pg_namespace n CROSS JOIN LATERAL aclexplode(n.nspacl) a "
            "LEFT JOIN pg_roles r ON r.oid = a.grantee WHERE n.nspname = %s AND a.grantee <> n.nspowner",
            (old,)).fetchall():
        con.execute(f"GRANT {privilege} ON SCHEMA {new} TO {who}")
    for table, who, privilege in con.execute(
            f"SELECT c.relname, {grantee}, a.privilege_type FROM pg_class c JOIN pg_namespace n ON n.oid = "
            "c.relnamespace CROSS JOIN LATERAL aclexplode(c.relacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee "
            "WHERE n.nspname = %s AND a.grantee <> c.relowner", (old,)).fetchall():
        if table in STORE_TABLES:
            con.execute(f"GRANT {privilege} ON {new}.{table} TO {who}")
    # Default privileges on the old schema's tables (ALTER DEFAULT PRIVILEGES ... IN SCHEMA
    # cinerec, set on a schema made empty beforehand): granted on the new tables of that
    # role's, and set again on the new schema (they went with the old one).
    for role, who, privilege in con.execute(
            f"SELECT quote_ident(pg_get_userbyid(d.defaclrole)), {grantee}, a.privilege_type FROM pg_default_acl d "
            "JOIN pg_namespace n ON n.oid = d.defaclnamespace CROSS JOIN LATERAL aclexplode(d.defaclacl) a "
            "LEFT JOIN pg_roles r ON r.oid = a.grantee WHERE n.nspname = %s AND d.defaclobjtype = 'r'",
            (old,)).fetchall():
        try:
            with con.transaction():  # (a savepoint: another role's defaults this one may not set again)
                con.execute(f"ALTER DEFAULT PRIVILEGES FOR ROLE {role} IN SCHEMA {new} GRANT {privilege} ON TABLES "
                            f"TO {who}")
        except psycopg.errors.InsufficientPrivilege:
            pass
        for (table,) in con.execute(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s "
                "AND quote_ident(pg_get_userbyid(c.relowner)) = %s", (new, role)).fetchall():
            if table in STORE_TABLES:
                con.execute(f"GRANT {privilege} ON {new}.{table} TO {who}")


#: A store's tables and their columns, in order: a schema holding anything else is not one.
STORE_TABLES = {"meta": ["key", "value"],
                "movies": ["item", "movie_id", "title", "year", "genres", "search_key", "popularity"],
                "users": ["user", "user_id"],
                "recommendations": ["user", "rank", "item", "score", "reason"]}


def _columns(con: Any, schema: str) -> dict[str, list[str]]:
    """Each relation of ``schema`` with its columns' names, in order."""
    return {table: [name for name, _ in columns] for table, columns in _typed_columns(con, schema).items()}


def _typed_columns(con: Any, schema: str) -> dict[str, list[tuple[str, str]]]:
    """Each relation of ``schema`` with its columns, in order, each with its type as
    PostgreSQL names it, from the catalogue itself: ``information_schema`` shows only
    what the role may read (a store the role may not read was "a table 'meta' with the
    columns none", and no store)."""
    out: dict[str, list[tuple[str, str]]] = {}
    for table, column, kind in con.execute(
            "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
            "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'v', 'm', 'f', 'p') "
            "ORDER BY c.relname, a.attnum", (schema,)).fetchall():
        out.setdefault(table, []).append((column, kind))
    return out


#: The types and primary keys of the profile tables cinerec makes (``_make_tables``).
_PROFILE_TYPES = {"profiles": ["text", "double precision", "double precision"],
                  "ratings": ["text", "text", "double precision", "double precision"]}
_PROFILE_KEYS = {"profiles": ["profile_id"], "ratings": ["profile_id", "movie_id"]}


def _primary_keys(con: Any, schema: str) -> dict[str, list[str]]:
    """Each table of ``schema`` with a primary key: its columns, in the key's order."""
    return {table: list(columns) for table, columns in con.execute(
        "SELECT c.relname, array_agg(a.attname::text ORDER BY k.n) FROM pg_index i "
        "JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, n) "
        "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum "
        "WHERE n.nspname = %s AND i.indisprimary GROUP BY c.relname", (schema,)).fetchall()}


def _check_replaceable(con: Any, url: str) -> None:
    """Refuse to replace a ``cinerec`` schema that is not a store: one holding a table,
    view or sequence a store has not, a store table with other columns, or no format a
    store writes (a number). The export drops the schema it replaces, with all it holds."""
    owner = con.execute("SELECT pg_get_userbyid(nspowner), pg_has_role(nspowner, 'MEMBER') FROM pg_namespace "
                        "WHERE nspname = %s", (STORE_SCHEMA,)).fetchone()
    if owner is None:
        return
    if not owner[1]:  # (a superuser is a member of every role)
        who = con.execute("SELECT current_user").fetchone()[0]
        raise DataError(f"{safe_url(url)}: its schema {STORE_SCHEMA!r} belongs to the role {owner[0]!r}, and an "
                        f"export replaces it, which only its owner can: export as {owner[0]!r} (not {who!r}), or "
                        "into another database")
    refuse = (f"{safe_url(url)}: its schema {STORE_SCHEMA!r} is not a cinerec recommendation store ({{}}); "
              "not replacing it (export into another database)")
    stranger = _stranger(con, STORE_SCHEMA)
    if stranger is not None:
        raise DataError(refuse.format(stranger))
    if not _columns(con, STORE_SCHEMA):  # made empty beforehand (to set its grants): nothing in it is lost
        return
    row = con.execute(f"SELECT value FROM {STORE_SCHEMA}.meta WHERE key = 'format'").fetchone() \
        if "meta" in _columns(con, STORE_SCHEMA) else None
    if store_format(row[0] if row is not None else None) is None:
        raise DataError(refuse.format("no store format in its meta table"))


def _stranger(con: Any, schema: str) -> str | None:
    """What in ``schema`` a store has not, in words (``it holds 'notes', which a store has
    not``), or ``None`` when all it holds is a store's tables with their columns: a table,
    view, sequence or type of another name, a store table with other columns, a function."""
    relations = [name for (name,) in con.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relkind IN ('r', 'v', 'm', 'f', 'p', 'S', 'c') ORDER BY c.relname",
        (schema,)).fetchall()]
    foreign = [name for name in relations if name not in STORE_TABLES]
    if foreign:
        return f"it holds {foreign[0]!r}, which a store has not"
    found = _columns(con, schema)  # (one query, not one per table)
    for table in relations:
        columns = found.get(table, [])
        if columns != STORE_TABLES[table]:
            return f"its table {table!r} has the columns {', '.join(columns) or 'none'}"
    # Functions, and types of their own (an enum, a domain): the tables' own row types and
    # their arrays are the tables'.
    other = con.execute(
        "SELECT p.proname || '()' FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = %s "
        "UNION ALL SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
        "WHERE n.nspname = %s AND t.typrelid = 0 AND t.typcategory <> 'A' LIMIT 1", (schema, schema)).fetchone()
    return f"it holds {other[0]!r}, which a store has not" if other is not None else None


def _drop_leftover(con: Any, schema: str) -> None:
    """Drop a staging schema a killed export left: its tables one by one, then the schema,
    never CASCADE. What another built on it (a view of its tables elsewhere) makes the
    server refuse, as does a schema of another role's, and the schema is then kept whole."""
    import psycopg

    try:
        with con.transaction():
            for table in ("recommendations", "users", "movies", "meta"):
                con.execute(f'DROP TABLE IF EXISTS "{schema}".{table}')
            con.execute(f'DROP SCHEMA "{schema}"')
    except psycopg.Error:  # (what depends on it; another role's, which this one may not drop)
        pass


def _copy(con: Any, table: str, rows: list[tuple[Any, ...]]) -> None:
    with con.cursor() as cur, cur.copy(f"COPY {table} FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


# -- the store, read side ----------------------------------------------------------------------


class PgRecStore:
    """Read side of a PostgreSQL store; safe to share between threads.

    Threads borrow connections from a small pool (:data:`POOL_SIZE`). The ``meta`` table
    is read again at most once per :data:`REFRESH_S`, so a running server picks up a
    re-export without a restart.
    """

    remote = True  # a database over the network (the server reads it off its event loop)

    def __init__(self, url: str) -> None:
        self.url = url
        self.path = safe_url(url)
        self._pool = _Pool(url)
        self._checked = 0.0
        try:
            self.info = self._read_info()
        except BaseException:  # (a refused store kept its connections open, in a notebook until exit)
            self._pool.close()
            raise

    def close(self) -> None:
        self._pool.close()

    def _query(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        import psycopg

        try:
            return self._pool.fetchall(sql, args)
        except psycopg.errors.UndefinedTable:
            # A schema of someone else's by the store's name: an export would refuse to replace it.
            stranger = self._pool._bounded(lambda con: _stranger(con, STORE_SCHEMA), "a read")
            if stranger is not None:
                raise DataError(f"{self.path}: its schema {STORE_SCHEMA!r} is not a cinerec recommendation store "
                                f"({stranger}); serve a database whose store an export wrote") from None
            held = self._pool._bounded(lambda con: _columns(con, STORE_SCHEMA), "a read")
            if held and "meta" not in held:
                # A store's tables without the meta table: an export would refuse to replace them.
                raise DataError(f"{self.path}: its schema {STORE_SCHEMA!r} is not a cinerec recommendation store "
                                "(no store format in its meta table); serve a database whose store an export "
                                "wrote") from None
            raise DataError(f"{self.path}: no recommendation store here (run {export_words(url=True)} first)") from None
        except psycopg.errors.InsufficientPrivilege as e:  # a role that may not read the store (it was a traceback)
            raise DataError(f"{self.path}: the store cannot be read as this role ({_first_line(e, self.url)}); "
                            f"grant it USAGE on the schema {STORE_SCHEMA!r} and SELECT on its tables") from None
        except psycopg.OperationalError as e:  # dropped twice (the pool tried a new connection)
            raise Unavailable(f"{self.path}: PostgreSQL query failed ({_first_line(e, self.url)})") from None

    def _read_info(self) -> Any:
        from cinerec.serving.store import info_from_meta, meta_values

        meta = meta_values(self._query(f"SELECT key, value FROM {STORE_SCHEMA}.meta"), self.path)
        info = info_from_meta(meta, self.path)
        tables = {name for (name,) in self._query(  # (pg_class: information_schema shows only what the role may read)
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s",
            (STORE_SCHEMA,))}
        missing = [t for t in ("movies", "users", "recommendations") if t not in tables]
        if missing:  # a server would score every list live and call the store fine
            raise DataError(f"{self.path}: not a cinerec recommendation store (no table {', '.join(missing)}); "
                            f"export it again with {export_words(url=True)}")
        self._checked = time.monotonic()
        return info

    def refresh(self) -> Any:
        """The current info, re-read when the last read is older than :data:`REFRESH_S`."""
        if time.monotonic() - self._checked >= REFRESH_S:
            self.info = self._read_info()
        return self.info

    def recommendations(self, user: int, k: int, info: Any = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The stored top-``k`` of user index ``user``: ``(items int32, scores float32, reasons int32)``.

        The list is read with the export's time, in one statement (one snapshot): a list of
        a store exported since ``info`` (default :attr:`info`; a caller that judged the
        store by an info it read passes that one, which another thread's read may have
        replaced since) is never handed out as that store's. The info is read again, and
        the list refused (``DataError``: the caller scores it live).
        """
        from cinerec.serving.store import stored_list

        # (the export's time read from meta, the user's rows beside it: a store exported
        # since without this user, another run's, holds no list for them, which is no empty one)
        rows = self._query(
            f"SELECT m.value, r.item, r.score, r.reason FROM {STORE_SCHEMA}.meta m "
            f'LEFT JOIN {STORE_SCHEMA}.recommendations r ON r."user" = %s AND r.rank < %s '
            "WHERE m.key = 'exported_at' ORDER BY r.rank",
            (int(user), int(k)),
        )
        if not rows or json.loads(rows[0][0]) != (self.info if info is None else info).exported_at:
            self.info = self._read_info()
            raise DataError(f"{self.path}: exported again while this list was read; scored live instead")
        return stored_list([row[1:] for row in rows if row[1] is not None])

    def count(self, table: str) -> int:
        from cinerec.serving.store import store_table

        return int(self._query(f"SELECT COUNT(*) FROM {STORE_SCHEMA}.{store_table(table)}")[0][0])


# -- profiles ------------------------------------------------------------------------------------


class PgProfileStore:
    """Saved people in PostgreSQL: the same methods and rules as the SQLite ``ProfileStore``."""

    remote = True  # a database over the network (the server reads it off its event loop)

    def __init__(self, url: str, *, id_factory: Callable[[], str] | None = None) -> None:
        self.url = url
        self.path = safe_url(url)
        self._pool = _Pool(url)
        self._new_id = id_factory or (lambda: secrets.token_urlsafe(9))
        #: Why the last change could not be saved (``None`` once one is): ``/health``
        #: says degraded meanwhile, as for a SQLite file on a full disk.
        self.last_failure: str | None = None
        import psycopg

        try:
            with self._pool.connection() as con, con.transaction():
                # Several servers may start at once: one creates the tables, the others wait.
                con.execute("SELECT pg_advisory_xact_lock(hashtext('cinerec_profiles'))")
                if not self._check_own(con):  # (made already: a role that may only use them serves)
                    self._make_tables(con)
                self._check_rights(con)
        except psycopg.errors.InsufficientPrivilege as e:
            raise DataError(f"{self.path}: this role may not create cinerec's profile tables (schema "
                            f"{PROFILES_SCHEMA!r}: {_first_line(e, url)}); start the server once as a role that "
                            "may, or grant this one CREATE on the database") from None

    @staticmethod
    def _make_tables(con: Any) -> None:
        con.execute(f"""
                CREATE SCHEMA IF NOT EXISTS {PROFILES_SCHEMA};
                CREATE TABLE IF NOT EXISTS {PROFILES_SCHEMA}.profiles(profile_id TEXT PRIMARY KEY,
                    created DOUBLE PRECISION NOT NULL, updated DOUBLE PRECISION NOT NULL);
                CREATE TABLE IF NOT EXISTS {PROFILES_SCHEMA}.ratings(
                    profile_id TEXT NOT NULL REFERENCES {PROFILES_SCHEMA}.profiles(profile_id),
                    movie_id TEXT NOT NULL, stars DOUBLE PRECISION, updated DOUBLE PRECISION NOT NULL,
                    PRIMARY KEY (profile_id, movie_id));
            """)

    def _check_own(self, con: Any) -> bool:
        """Refuse a profiles schema holding tables of someone else's, before adding to it;
        whether cinerec's tables are all there already."""
        from cinerec.serving.store import PROFILE_TABLES

        typed = _typed_columns(con, PROFILES_SCHEMA)
        tables = {table: [name for name, _ in columns] for table, columns in typed.items()}
        foreign = sorted(name for name, columns in tables.items() if PROFILE_TABLES.get(name) != columns)
        if foreign:
            raise DataError(f"{self.path}: its schema {PROFILES_SCHEMA!r} is not cinerec's profiles (it holds the "
                            f"table {foreign[0]!r}, columns {', '.join(tables[foreign[0]])}); give profiles "
                            f"another database with {profiles_words()}")
        # The columns' names alone passed tables of other types or without the keys a
        # change writes by: the server started, then every profile change was a 500.
        keys = _primary_keys(con, PROFILES_SCHEMA)
        for table in sorted(tables):
            lacks = [f"{c} {t}" for (c, kind), t in zip(typed[table], _PROFILE_TYPES[table]) if kind != t]
            if not lacks and keys.get(table) != _PROFILE_KEYS[table]:
                lacks = [f"the primary key ({', '.join(_PROFILE_KEYS[table])})"]
            if lacks:
                raise DataError(f"{self.path}: its schema {PROFILES_SCHEMA!r} is not cinerec's profiles (its table "
                                f"{table!r} lacks {lacks[0]}); give profiles another database with {profiles_words()}")
        return set(PROFILE_TABLES) <= set(tables)

    def _check_rights(self, con: Any) -> None:
        """Refuse, before the server listens, a role that may not read and write the
        profiles: with the tables made by another role and no grant, every profile call
        and /health failed with the database's "permission denied"."""
        sql, args = _RIGHTS_QUERY
        missing = _first_lacking(con.execute(sql, args).fetchone())
        if missing:
            raise DataError(f"{self.path}: this role may not read and write cinerec's profiles (it lacks "
                            f"{missing}); grant it USAGE on the schema {PROFILES_SCHEMA} and SELECT, INSERT, "
                            f"UPDATE, DELETE on its tables, or give profiles another database with {profiles_words()}")

    def close(self) -> None:
        """Close the idle connections (the next call opens a new one)."""
        self._pool.close()

    def close_all(self) -> None:
        """As a server stops: every idle connection."""
        self._pool.close()

    def _write(self, fn: Callable[[Any], Any]) -> Any:
        """Run ``fn(con)`` in one transaction; a change the database refuses is a 503 (and
        :attr:`last_failure` says so on ``/health`` until a change is saved again)."""
        out = self._refused_or(fn)
        self.last_failure = None
        return out

    def _refused_or(self, fn: Callable[[Any], Any]) -> Any:
        import psycopg

        try:
            return self._pool.write(fn)
        except psycopg.errors.ProgramLimitExceeded as e:  # (an OperationalError, but the connection is well)
            # A movie id past what the ratings' key holds: refused for good, never saved; a
            # 503 asked to retry what can never be written, and let the pool's connections go.
            raise DataError(f"{self.path}: PostgreSQL cannot keep this profile's ratings, nothing saved "
                            f"({_first_line(e, self.url)}); it indexes movie ids of up to about {PG_ID_BYTES:,} "
                            f"bytes: keep profiles in a SQLite file ({profiles_words('FILE')}), which holds any") from None
        except (psycopg.errors.DiskFull, psycopg.errors.OutOfMemory) as e:  # refused; the connection is well
            raise self._refused(e) from None
        except Unsent as e:  # dropped twice before the change began (the pool tried a new connection)
            self._pool.close()
            raise Unavailable(f"{self.path}: PostgreSQL write failed, nothing saved "
                              f"({_first_line(e.args[0], self.url)})") from None
        except psycopg.OperationalError as e:  # a dropped connection: the pool lets it go
            # Not tried again (it may have been written before the connection dropped); the
            # pool's other idle connections are likely as dead (the server restarted), so
            # they go too, and the next request connects afresh.
            self._pool.close()
            raise Unavailable(f"{self.path}: PostgreSQL write failed ({_first_line(e, self.url)}; it may or may "
                              "not have been saved)") from None
        except _out_of_reach() as e:  # refused by the database: the transaction was rolled back
            raise Unavailable(f"{self.path}: PostgreSQL write failed, nothing saved ({_first_line(e, self.url)}; "
                              f"{_OUT_OF_REACH_WHY})") from None
        except psycopg.DatabaseError as e:  # any other refusal (a read-only database, a trigger): rolled back too
            raise self._refused(e) from None

    def _refused(self, e: BaseException) -> Unavailable:
        """A change the database refused, rolled back: a 503, and ``/health`` degraded
        until a change is saved (nothing else it reads shows a read-only database, a
        trigger's refusal or a full disk)."""
        said = _first_line(e, self.url)
        self.last_failure = f"the last change could not be saved ({said})"
        return Unavailable(f"{self.path}: PostgreSQL write failed, nothing saved ({said})")

    def _read(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        import psycopg

        try:
            return self._pool.fetchall(sql, args)
        except psycopg.OperationalError as e:  # dropped twice (the pool tried a new connection)
            raise Unavailable(f"{self.path}: PostgreSQL read failed ({_first_line(e, self.url)})") from None
        except _out_of_reach() as e:
            raise Unavailable(f"{self.path}: PostgreSQL read failed ({_first_line(e, self.url)}; "
                              f"{_OUT_OF_REACH_WHY})") from None

    def create(self, ratings: Mapping[str, float | None] | None = None) -> str:
        pid = self._new_id()
        now = time.time()

        def go(con: Any) -> None:
            con.execute(f"INSERT INTO {PROFILES_SCHEMA}.profiles VALUES (%s, %s, %s)", (pid, now, now))
            _upsert(con, pid, ratings or {}, now)

        self._write(go)
        return pid

    def set_ratings(self, profile_id: str, ratings: Mapping[str, float | None],
                    forget: Callable[[dict[str, float | None]], Iterable[str]] | None = None) -> None:
        _known_text(profile_id)

        def go(con: Any) -> None:
            # The profile's row locked first: a change at once to the same profile waits,
            # then reads what this one wrote (each statement sees what was committed).
            if con.execute(f"SELECT 1 FROM {PROFILES_SCHEMA}.profiles WHERE profile_id = %s FOR UPDATE",
                           (profile_id,)).fetchone() is None:
                raise NotFoundError(f"unknown profile id {profile_id!r}")
            now = time.time()  # once the lock is held: the order the changes were made in
            con.execute(f"UPDATE {PROFILES_SCHEMA}.profiles SET updated = %s WHERE profile_id = %s", (now, profile_id))
            gone = [(profile_id, str(m)) for m in forget(_ratings_of(con, profile_id))] if forget is not None else []
            if gone:
                with con.cursor() as c:
                    c.executemany(f"DELETE FROM {PROFILES_SCHEMA}.ratings WHERE profile_id = %s AND movie_id = %s", gone)
            _upsert(con, profile_id, ratings, now)

        self._write(go)

    def remove_rating(self, profile_id: str, movie_id: str) -> bool:
        _known_text(profile_id)
        if "\x00" in str(movie_id):  # no id PostgreSQL holds: nothing to remove
            self.get(profile_id)
            return False
        now = time.time()

        def go(con: Any) -> bool:
            cur = con.execute(f"UPDATE {PROFILES_SCHEMA}.profiles SET updated = %s WHERE profile_id = %s", (now, profile_id))
            if cur.rowcount == 0:
                raise NotFoundError(f"unknown profile id {profile_id!r}")
            cur = con.execute(f"DELETE FROM {PROFILES_SCHEMA}.ratings WHERE profile_id = %s AND movie_id = %s",
                              (profile_id, str(movie_id)))
            return cur.rowcount > 0

        return bool(self._write(go))

    def delete(self, profile_id: str) -> None:
        _known_text(profile_id)

        def go(con: Any) -> None:
            # The profile's row locked first, as a change locks it: a change at once either
            # ends before (its ratings go too) or finds no profile (its rating could not
            # outlive the profile, and the delete was refused by the ratings' foreign key).
            if con.execute(f"SELECT 1 FROM {PROFILES_SCHEMA}.profiles WHERE profile_id = %s FOR UPDATE",
                           (profile_id,)).fetchone() is None:
                raise NotFoundError(f"unknown profile id {profile_id!r}")
            con.execute(f"DELETE FROM {PROFILES_SCHEMA}.ratings WHERE profile_id = %s", (profile_id,))
            con.execute(f"DELETE FROM {PROFILES_SCHEMA}.profiles WHERE profile_id = %s", (profile_id,))

        self._write(go)

    def get(self, profile_id: str) -> dict[str, float | None]:
        _known_text(profile_id)
        if not self._read(f"SELECT 1 FROM {PROFILES_SCHEMA}.profiles WHERE profile_id = %s", (profile_id,)):
            raise NotFoundError(f"unknown profile id {profile_id!r}")
        rows = self._read(*_ratings_query(profile_id))
        return {m: s for m, s in rows}

    def count(self) -> int:
        return int(self._read(f"SELECT COUNT(*) FROM {PROFILES_SCHEMA}.profiles")[0][0])

    def unwritable(self) -> str | None:
        """Why profiles cannot be read and changed now (``None``: they can), asked by
        ``/health``: a right revoked while serving made every profile call fail while
        ``/health``, which counts the profiles alone, said ok."""
        missing = _first_lacking(self._read(*_RIGHTS_QUERY)[0])
        return f"this role lacks {missing}" if missing else None


#: The rights a server needs on the profiles, in the order they are asked and named.
_TABLE_RIGHTS = [(f"{PROFILES_SCHEMA}.{table}", right) for table in ("profiles", "ratings")
                 for right in ("SELECT", "INSERT", "UPDATE", "DELETE")]
_RIGHTS = [f"USAGE on the schema {PROFILES_SCHEMA}"] + [f"{right} on {table}" for table, right in _TABLE_RIGHTS]
#: One query asking for all of them; the tables only with the schema's USAGE, without
#: which their names cannot be looked up ("permission denied for schema").
_RIGHTS_QUERY = (
    "WITH s AS (SELECT has_schema_privilege(%s, 'USAGE') AS usage) SELECT usage, "
    + ", ".join(["CASE WHEN usage THEN has_table_privilege(%s, %s) END"] * len(_TABLE_RIGHTS)) + " FROM s",
    (PROFILES_SCHEMA, *(x for pair in _TABLE_RIGHTS for x in pair)))


def _first_lacking(held: Any) -> str | None:
    """The first of :data:`_RIGHTS` that ``held`` (the row of :data:`_RIGHTS_QUERY`) lacks."""
    return next((said for said, ok in zip(_RIGHTS, held or ()) if not ok), None if held else _RIGHTS[0])


def _out_of_reach() -> tuple[type[BaseException], ...]:
    """What the database says when the profiles' tables were changed under a running
    server (dropped, renamed, a right revoked): out of reach, a 503, not a 500."""
    import psycopg

    e = psycopg.errors
    return (e.UndefinedTable, e.UndefinedColumn, e.InvalidSchemaName, e.InsufficientPrivilege,
            e.InvalidColumnReference)


_OUT_OF_REACH_WHY = (f"the schema {PROFILES_SCHEMA} or its tables were changed or their rights revoked "
                     "since the server started")


def _known_text(profile_id: str) -> None:
    """PostgreSQL text cannot hold a NUL character, so no profile id with one exists: a
    404 as SQLite gives, not the driver's error (a 500)."""
    if "\x00" in profile_id:
        raise NotFoundError(f"unknown profile id {profile_id!r}")


def _ratings_query(pid: str) -> tuple[str, tuple[str]]:
    """The query reading profile ``pid``'s ratings, in the order they were entered."""
    return (f"SELECT movie_id, stars FROM {PROFILES_SCHEMA}.ratings WHERE profile_id = %s ORDER BY updated, movie_id",
            (pid,))


def _ratings_of(con: Any, pid: str) -> dict[str, float | None]:
    """``{movie_id: stars or None}`` of profile ``pid``, read on ``con`` (in a transaction)."""
    return {m: s for m, s in con.execute(*_ratings_query(pid)).fetchall()}


def _upsert(con: Any, pid: str, ratings: Mapping[str, float | None], now: float) -> None:
    if not ratings:
        return
    with con.cursor() as cur:
        cur.executemany(
            f"INSERT INTO {PROFILES_SCHEMA}.ratings VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (profile_id, movie_id) DO UPDATE SET stars = excluded.stars, updated = excluded.updated",
            # a microsecond apart, so that reading them back in ``updated`` order gives the
        # order they were entered in, within one change too
        [(pid, str(m), None if s is None else float(s), now + j * 1e-6) for j, (m, s) in enumerate(ratings.items())],
        )
