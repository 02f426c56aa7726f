"""The PostgreSQL store and profiles: atomic re-export, concurrent writers, clear errors."""

from __future__ import annotations

import multiprocessing
import re
import threading
import time

import pytest

from cinerec.errors import ConfigError, DataError
from cinerec.serving.pgstore import PgProfileStore, export_postgres, safe_url
from cinerec.serving.store import ExportPlan, export_store, open_store

from .conftest import free_port


def test_export_then_reexport_swaps_the_whole_store(run_dir, pg_url):
    first = export_store(run_dir, pg_url, k=5, model="popularity", progress=False)
    assert first.model == "popularity" and first.k == 5 and "***" not in str(first.path)
    store = open_store(pg_url)
    before = store.recommendations(0, 5)[0]
    seen_during: list[int] = []
    stop = threading.Event()

    def read() -> None:
        reader = open_store(pg_url)
        while not stop.is_set():
            try:
                items, _, _ = reader.recommendations(0, 20)
            except DataError as e:  # the export swapped stores during this read: the server scores live
                assert "exported again while this list was read" in str(e)
                continue
            seen_during.append(len(items))

    t = threading.Thread(target=read)
    t.start()
    try:
        second = export_store(run_dir, pg_url, k=20, model="ease", progress=False)
    finally:
        stop.set()
        t.join()
    # A reader saw the old list (5) or the new one (20), never a half-written store.
    assert set(seen_during) <= {5, 20} and seen_during
    assert second.model == "ease" and store.refresh().k in (5, 20)
    assert store.count("users") == 943 and store.count("recommendations") == 943 * 20
    assert len(before) == 5


def test_a_list_read_just_after_a_reexport_is_never_passed_off_as_the_old_stores(run_dir, pg_url):
    # The server trusted its meta for up to a second after a re-export while reading the
    # new store's rows: popularity's list labelled as EASE's, or 5 movies where 10 were asked.
    export_store(run_dir, pg_url, k=10, model="ease", progress=False)
    store = open_store(pg_url)
    ease = store.recommendations(0, 10)[0]
    export_store(run_dir, pg_url, k=5, model="popularity", progress=False)
    assert store.info.model == "ease"  # not read again yet (at most once a second)
    with pytest.raises(DataError, match="exported again while this list was read; scored live instead"):
        store.recommendations(0, 10)
    assert (store.info.model, store.info.k) == ("popularity", 5)
    assert len(store.recommendations(0, 10)[0]) == 5 and len(ease) == 10


def test_a_burst_of_threads_shares_a_few_connections_and_a_stuck_database_is_unavailable(run_dir, pg_url):
    # Each thread kept its own connection for good: 120 client threads over 4 workers used
    # up PostgreSQL's 100, and export and psql were locked out after.
    from concurrent.futures import ThreadPoolExecutor

    import psycopg

    from cinerec.errors import Unavailable
    from cinerec.serving.pgstore import POOL_SIZE, PgRecStore, _Pool

    export_store(run_dir, pg_url, k=5, model="popularity", progress=False)
    store = PgRecStore(pg_url)
    with ThreadPoolExecutor(24) as pool:
        lists = list(pool.map(lambda u: len(store.recommendations(u % 900, 5)[0]), range(480)))
    assert lists == [5] * 480
    assert store._pool._open <= POOL_SIZE
    with psycopg.connect(pg_url) as con:
        ours = con.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                           "AND pid <> pg_backend_pid() AND state = 'idle'").fetchone()[0]
    store.close()
    assert ours <= POOL_SIZE + 4  # (the fixture's own, at most)
    # Every connection lent out and none given back (a database that stopped answering):
    # the next request is told so after the wait, not held for good.
    one = _Pool(pg_url, size=1, wait=0.2)
    with one.connection():
        with pytest.raises(Unavailable, match=r"all 1 connections busy for 0.2 s \(PostgreSQL is not answering\)"):
            with one.connection():
                pass
    one.close()


def test_a_read_on_a_database_that_hangs_is_unavailable_after_a_while_not_held_for_good(pg_url):
    # A server that stopped answering (reachable, its process stopped) held the read, and
    # the request waiting on it, for good. Here its backend process is stopped for real.
    import os
    import signal
    import time

    from cinerec.errors import Unavailable
    from cinerec.serving.pgstore import _Pool

    pool = _Pool(pg_url, size=1, wait=0.2, query_wait=0.5)
    backend = pool.fetchall("SELECT pg_backend_pid()")[0][0]
    os.kill(backend, signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        with pytest.raises(Unavailable, match=r"a read took more than 0.5 s \(PostgreSQL is not answering\)"):
            pool.fetchall("SELECT 1")
        assert time.monotonic() - t0 < 5
        # Its connection is still held by the read: the next request is told so at once.
        with pytest.raises(Unavailable, match=r"all 1 connections busy"):
            pool.fetchall("SELECT 1")
    finally:
        os.kill(backend, signal.SIGCONT)
    deadline = time.monotonic() + 10
    while pool._open and time.monotonic() < deadline:  # the read ends, and its connection is closed
        time.sleep(0.05)
    assert pool._open == 0 and pool.fetchall("SELECT 2") == [(2,)]
    assert pool.fetchall("SELECT pg_backend_pid()")[0][0] != backend
    pool.close()


def test_a_write_on_a_database_that_hangs_is_unavailable_after_a_while_not_held_for_good(pg_url):
    # A profile's write waited on a hung server for good, holding its request; it is
    # bounded as a read is, and says that the change may or may not have been saved.
    import os
    import signal
    import time

    from cinerec.errors import Unavailable
    from cinerec.serving.pgstore import _Pool

    pool = _Pool(pg_url, size=1, wait=0.2, query_wait=0.5)
    pool.write(lambda con: con.execute("CREATE TABLE IF NOT EXISTS hung_write (x int)"))
    backend = pool.fetchall("SELECT pg_backend_pid()")[0][0]
    os.kill(backend, signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        with pytest.raises(Unavailable, match=r"a write took more than 0.5 s \(PostgreSQL is not answering\) "
                                              r"\(it may or may not have been saved\)$"):
            pool.write(lambda con: con.execute("INSERT INTO hung_write VALUES (1)"))
        assert time.monotonic() - t0 < 5
    finally:
        os.kill(backend, signal.SIGCONT)
    deadline = time.monotonic() + 10
    while pool._open and time.monotonic() < deadline:  # the write ends, and its connection is closed
        time.sleep(0.05)
    assert pool._open == 0
    # Once the database answers again, the write's transaction ended: it was saved.
    assert pool.fetchall("SELECT count(*) FROM hung_write") == [(1,)]
    # A write that fails inside its transaction leaves nothing, and its error is the caller's.
    with pytest.raises(ZeroDivisionError):
        pool.write(lambda con: (con.execute("INSERT INTO hung_write VALUES (2)"), 1 / 0))
    assert pool.fetchall("SELECT count(*) FROM hung_write") == [(1,)]
    pool.write(lambda con: con.execute("DROP TABLE hung_write"))
    pool.close()


def test_a_failed_export_leaves_the_old_store(run_dir, pg_url):
    export_store(run_dir, pg_url, k=3, model="ease", progress=False)

    class Broken(ExportPlan):
        def recommendation_blocks(self, progress):
            yield from super().recommendation_blocks(progress)
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        export_postgres(Broken(run_dir, k=7, model="popularity", chunk_size=200), pg_url, progress=False)
    info = open_store(pg_url).refresh()
    assert (info.model, info.k) == ("ease", 3)
    import psycopg

    with psycopg.connect(pg_url) as con:
        schemas = [r[0] for r in con.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'cinerec%'")]
    assert sorted(schemas) == ["cinerec"] or sorted(schemas) == ["cinerec", "cinerec_profiles"]


def test_an_export_that_loses_its_server_mid_copy_says_one_line(run_dir, pg_url, monkeypatch, capsys, caplog):
    # psycopg's own log line ("error ignored terminating <psycopg.Copy [BAD] at 0x...>: the
    # connection is lost") reached stderr above the command's error.
    import psycopg

    from cinerec.cli import main

    from cinerec.serving import pgstore

    export_store(run_dir, pg_url, k=3, model="ease", progress=False)
    real = pgstore._copy

    def copy(con, table, rows):
        def cut(rows):  # the server ends the export's connection while its COPY is open
            yield rows[0]
            with psycopg.connect(pg_url, autocommit=True) as other:
                other.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE query LIKE 'COPY cinerec_new_%' AND pid <> pg_backend_pid()")
            for _ in range(200_000):  # (enough for the client to send, and find the connection gone)
                yield rows[0]

        return real(con, table, cut(rows) if table.endswith(".recommendations") else rows)

    monkeypatch.setattr(pgstore, "_copy", copy)
    capsys.readouterr()
    assert main(["export", "--run", str(run_dir), "--db", pg_url, "-k", "7", "--run-model", "popularity", "-q"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cinerec: error: ") and "export failed, the old store is unchanged" in err, err
    assert len(err.strip().splitlines()) == 1, err
    # (pytest takes log records before they reach stderr: none of psycopg's is let through)
    assert [r.getMessage() for r in caplog.records if r.name.startswith("psycopg")] == []
    info = open_store(pg_url).refresh()
    assert (info.model, info.k) == ("ease", 3)


def test_an_export_behind_another_says_it_waits(run_dir, pg_url, capsys):
    # It waited for the other export's lock without a word: a stopped export made the
    # next one look hung.
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(hashtext('cinerec_export'))")
        capsys.readouterr()
        done = threading.Thread(target=export_store, args=(run_dir, pg_url), kwargs={"k": 4, "progress": True})
        done.start()
        deadline = time.monotonic() + 30
        while "waiting" not in (said := capsys.readouterr().err) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert said.startswith("waiting for another export into postgresql://") and said.endswith(" to end...\n"), said
        assert done.is_alive()
        other.execute("SELECT pg_advisory_unlock(hashtext('cinerec_export'))")
        done.join(60)
    assert not done.is_alive() and open_store(pg_url).refresh().k == 4
    export_store(run_dir, pg_url, k=3, progress=True)  # (alone: no word of waiting)
    assert "waiting" not in capsys.readouterr().err
    # and none under -q, which export gives as silenced bars
    from cinerec import progress

    with psycopg.connect(pg_url, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(hashtext('cinerec_export'))")
        with progress.silenced(True):
            done = threading.Thread(target=export_store, args=(run_dir, pg_url), kwargs={"k": 5, "progress": True})
            done.start()
            time.sleep(1.0)
            other.execute("SELECT pg_advisory_unlock(hashtext('cinerec_export'))")
            done.join(60)
    assert not done.is_alive() and "waiting" not in capsys.readouterr().err


def test_an_export_whose_ctrl_c_python_dropped_leaves_the_old_store(run_dir, pg_url, monkeypatch, capsys):
    # A Ctrl-C landing in a weak reference's callback is dropped by Python: the command now
    # ends "interrupted", but the PostgreSQL store was swapped in all the same.
    from cinerec.cli import main
    from cinerec.io import interrupt_dropped
    from cinerec.serving import pgstore
    from tests.interrupts import drop_an_interrupt

    export_store(run_dir, pg_url, k=3, model="ease", progress=False)
    real = pgstore._copy

    def copy(*args, **kwargs):
        drop_an_interrupt()
        return real(*args, **kwargs)

    monkeypatch.setattr(pgstore, "_copy", copy)
    assert main(["export", "--run", str(run_dir), "--db", pg_url, "-k", "7", "--run-model", "popularity", "-q"]) == 130
    assert capsys.readouterr().err.strip().endswith("cinerec: interrupted")
    assert not interrupt_dropped()  # (the next command, or code after this one, is not stopped by it)
    info = open_store(pg_url).refresh()
    assert (info.model, info.k) == ("ease", 3)


def test_an_interrupt_after_the_swap_committed_says_the_new_store_is_in_place(run_dir, pg_url, monkeypatch, capsys):
    # A Ctrl-C just after the swap's commit ended "cinerec: interrupted" alone, the new store in place.
    from cinerec.cli import main
    from cinerec.serving import store

    export_store(run_dir, pg_url, k=3, model="ease", progress=False)

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(store, "_written_info", stopped)  # (as the new store's facts are read back)
    assert main(["export", "--run", str(run_dir), "--db", pg_url, "-k", "7", "--run-model", "popularity", "-q"]) == 130
    err = capsys.readouterr().err.strip()
    assert err.startswith("cinerec: interrupted; the store in postgresql://") and err.endswith(
        " had been written in full before"), err
    monkeypatch.undo()
    info = open_store(pg_url).refresh()
    assert (info.model, info.k) == ("popularity", 7)


def _writer(url: str, pid: str, worker: int, n: int) -> None:
    store = PgProfileStore(url)
    for j in range(n):
        store.set_ratings(pid, {f"{worker}-{j}": float(1 + j % 5)})
        store.create({str(j): None})


def test_profile_writes_from_several_processes_lose_nothing(pg_url):
    store = PgProfileStore(pg_url)
    pid = store.create()
    before = store.count()
    store.close()  # no connection is shared with the forked writers
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(pg_url, pid, w, 30)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert len(store.get(pid)) == 4 * 30
    assert store.count() == before + 4 * 30


def test_bad_urls_give_one_line_without_the_password(tmp_path):
    url = f"postgresql://someone:s3cret-pw@127.0.0.1:{free_port()}/nothing"
    with pytest.raises(DataError) as e:
        open_store(url)
    message = str(e.value)
    assert "s3cret-pw" not in message and "***" in message and "\n" not in message
    assert "cannot connect to PostgreSQL" in message
    assert safe_url(url) == url.replace("s3cret-pw", "***")
    # a URL without a host keeps its "//" (it was shown as "postgresql::")
    assert safe_url("postgresql://") == "postgresql://"
    assert safe_url("postgresql:///recs?host=/run/pg") == "postgresql:///recs?host=/run/pg"


@pytest.mark.parametrize("url, shown", [
    # The driver reads "#" and "?" before the host as part of the password; urlsplit ended
    # the address there and printed the password whole (in messages and /health).
    ("postgresql://u1:123#x@127.0.0.1:5432/recs", "postgresql://u1:***@127.0.0.1:5432/recs"),
    ("postgresql://u2:999?zz@h:5/db", "postgresql://u2:***@h:5/db"),
    ("postgresql://h/recs?password=wrong#secretpart", "postgresql://h/recs?password=***"),
    ("postgresql:///recs?host=/run/pg&password=x/y", "postgresql:///recs?host=/run/pg&password=***"),
    # A port out of range kept only the scheme: which server was meant went unsaid.
    ("postgresql://u:pw@127.0.0.1:99999/recs", "postgresql://u:***@127.0.0.1:99999/recs"),
])
def test_a_password_is_masked_whole_as_the_driver_reads_it(url, shown):
    from cinerec.serving.pgstore import _first_line

    assert safe_url(url) == shown
    secret = url.split(":")[2].split("@")[0] if "@" in url else url.rsplit("password=", 1)[1]
    assert _first_line(Exception(f'invalid URI: "{url}"'), url).count(secret) == 0


@pytest.mark.parametrize("url", ["postgresql://app:S3cr@t?2024@127.0.0.1:5432/recs",
                                 "postgresql://weird:p@ss:w/rd#%?&=@127.0.0.1:5432/weirddb"])
def test_an_unescaped_at_before_a_question_mark_is_refused_and_masked_whole(url):
    # The first "?" after the first "@" was taken for the query: one "@" was counted, the
    # driver split at the first one, and "t?2024" was printed in its error.
    from cinerec.serving.pgstore import check_userinfo

    with pytest.raises(ConfigError, match="holds more than one '@'; write an '@' in the user name or password as %40") \
            as e:
        check_userinfo(url)
    host = url.rsplit("@", 1)[1]
    assert str(e.value) == f"{url.split(':')[0]}://{url.split('//')[1].split(':')[0]}:***@{host}: the part before " \
        "the host holds more than one '@'; write an '@' in the user name or password as %40"


def test_a_password_is_masked_only_where_the_driver_quotes_it():
    from cinerec.serving.pgstore import _first_line

    # A password "e" or "failed" made "conn***ction fail***d ... us***r"
    said = 'connection failed: FATAL:  password authentication failed for user "cinerec"'
    for password in ("e", "failed", "cinerec-pw"):
        assert _first_line(Exception(said), f"postgresql://cinerec:{password}@h/db") == said
    assert _first_line(Exception('invalid percent-encoded token: "p%zz"'), "postgresql://u:p%zz@h/db") == \
        'invalid percent-encoded token: "***"'
    assert _first_line(Exception('bad IPv6 host in URI: "postgresql://u:pw@[::1/db"'), "postgresql://u:pw@[::1/db") \
        == 'bad IPv6 host in URI: "postgresql://u:***@[::1/db"'
    assert _first_line(Exception('for user "cinerec"'), "postgresql://cinerec:cinerec@h/db") == 'for user "***"'


def test_an_empty_database_says_to_export_first(pg_url):
    import psycopg

    with psycopg.connect(pg_url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as con:
        con.execute("DROP DATABASE IF EXISTS cinerec_empty")
        con.execute("CREATE DATABASE cinerec_empty")
    with pytest.raises(DataError, match="no recommendation store here"):
        open_store(pg_url.rsplit("/", 1)[0] + "/cinerec_empty")


@pytest.mark.parametrize("url", [
    "postgresql://u:pw@127.0.0.1:99999/recs",  # a port out of range
    "postgresql://u:pw@127.0.0.1:abc/recs",  # a port that is no number
    "postgresql://u:pw@[::1/recs",  # a broken IPv6 host
])
def test_malformed_urls_give_one_line(run_dir, url):
    with pytest.raises(DataError) as e:
        export_store(run_dir, url, k=3, progress=False)
    assert "pw" not in str(e.value).replace("postgresql", "") and "\n" not in str(e.value)


def test_a_password_in_the_query_is_masked_too():
    url = f"postgresql://someone@127.0.0.1:{free_port()}/recs?sslmode=disable&password=leak-me"
    assert safe_url(url).endswith("recs?sslmode=disable&password=***")
    with pytest.raises(DataError) as e:
        open_store(url)
    assert "leak-me" not in str(e.value)


def _database(pg_url: str, name: str) -> str:
    import psycopg

    with psycopg.connect(pg_url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as con:
        con.execute(f"DROP DATABASE IF EXISTS {name}")
        con.execute(f"CREATE DATABASE {name}")
    return pg_url.rsplit("/", 1)[0] + "/" + name


def _role(url: str, name: str) -> str:
    """``url`` as a new login role ``name`` that holds no privilege of its own."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as con:
        con.execute(f"DROP ROLE IF EXISTS {name}")
        con.execute(f"CREATE ROLE {name} LOGIN")
    role = url.replace("postgresql://cinerec@", f"postgresql://{name}@")
    assert role != url
    return role


def test_a_role_that_may_not_read_or_replace_the_store_is_told_so(run_dir, pg_url):
    import psycopg

    url = _database(pg_url, "cinerec_guarded")
    export_store(run_dir, url, k=3, progress=False)
    guest = _role(url, "cinerec_guest")
    # Serving read the store's meta table: a traceback (permission denied for schema cinerec).
    with pytest.raises(DataError, match=r"the store cannot be read as this role \(permission denied for schema "
                                        r"cinerec\); grant it USAGE"):
        open_store(guest)
    # An export called the store foreign ("its table 'meta' has the columns none").
    with pytest.raises(DataError, match=r"its schema 'cinerec' belongs to the role 'cinerec', and an export replaces "
                                        r"it, which only its owner can: export as 'cinerec' \(not 'cinerec_guest'\)"):
        export_store(run_dir, guest, k=3, progress=False)
    assert open_store(url).info.k == 3  # the store is as it was
    # Granted the store, the role serves from it; a re-export kept the grants (they were
    # lost with the old schema, and the server fell back to scoring live).
    with psycopg.connect(url, autocommit=True) as con:
        con.execute("GRANT USAGE ON SCHEMA cinerec TO cinerec_guest")
        con.execute("GRANT SELECT ON ALL TABLES IN SCHEMA cinerec TO cinerec_guest")
    assert open_store(guest).info.k == 3
    export_store(run_dir, url, k=4, progress=False)
    assert open_store(guest).info.k == 4


def test_profiles_serve_as_a_role_that_may_only_use_their_tables(pg_url):
    # A role without CREATE: a traceback (permission denied for database), even where the
    # tables were made already and the role granted their use.
    import psycopg

    from cinerec.serving.pgstore import PROFILES_SCHEMA, PgProfileStore

    url = _database(pg_url, "cinerec_least")
    user = _role(url, "cinerec_user")
    with pytest.raises(DataError, match=r"this role may not create cinerec's profile tables \(schema "
                                        r"'cinerec_profiles': permission denied for database cinerec_least\); start "
                                        r"the server once as a role that may"):
        PgProfileStore(user)
    PgProfileStore(url).close_all()  # made once by the owner, who grants their use
    # Not granted yet: refused before a server listens (each profile call and /health
    # answered 500, "permission denied for schema cinerec_profiles").
    with pytest.raises(DataError, match=r"this role may not read and write cinerec's profiles \(it lacks USAGE on the "
                                        r"schema cinerec_profiles\); grant it"):
        PgProfileStore(user)
    with psycopg.connect(url, autocommit=True) as con:
        con.execute(f"GRANT USAGE ON SCHEMA {PROFILES_SCHEMA} TO cinerec_user")
        con.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA {PROFILES_SCHEMA} TO cinerec_user")
    with pytest.raises(DataError, match=r"it lacks INSERT on cinerec_profiles\.profiles\)"):
        PgProfileStore(user)
    with psycopg.connect(url, autocommit=True) as con:
        con.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {PROFILES_SCHEMA} TO cinerec_user")
    store = PgProfileStore(user)
    pid = store.create({"50": 4.0})
    assert store.get(pid) == {"50": 4.0}
    store.close_all()


def test_profiles_answer_at_once_after_the_database_dropped_every_connection(pg_url):
    # After a restart every pooled connection was dead: each of the next requests took
    # one and answered 503 until the pool had worn them all out.
    import contextlib

    import psycopg

    from cinerec.serving.pgstore import PgProfileStore

    url = _database(pg_url, "cinerec_restart")
    store = PgProfileStore(url)
    pid = store.create({"50": 4.0})
    with contextlib.ExitStack() as held:  # three connections lent at once, then idle in the pool
        for _ in range(3):
            held.enter_context(store._pool.connection())
    with psycopg.connect(pg_url, autocommit=True) as con:  # as a restart does to them
        con.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'cinerec_restart'")
    assert store.get(pid) == {"50": 4.0}  # a read tries once more, on a new connection
    store.set_ratings(pid, {"181": 5.0})  # and the dead ones are gone: a write finds a live one
    assert store.get(pid) == {"50": 4.0, "181": 5.0}
    store.close_all()


def test_a_change_after_the_database_dropped_every_connection_is_saved(pg_url):
    # A write was never tried again: the first change after a restart took a dead pooled
    # connection and answered 503 ("it may or may not have been saved"), though nothing
    # of it had been sent, and it was lost; with two workers, the first two were.
    import contextlib

    import psycopg

    from cinerec.serving.pgstore import PgProfileStore

    url = _database(pg_url, "cinerec_restart_write")
    store = PgProfileStore(url)
    pid = store.create({"50": 4.0})
    with contextlib.ExitStack() as held:
        for _ in range(3):
            held.enter_context(store._pool.connection())
    with psycopg.connect(pg_url, autocommit=True) as con:
        con.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'cinerec_restart_write'")
    store.set_ratings(pid, {"181": 5.0})  # the first request after the drop is a change
    other = store.create({"7": 3.0})
    assert store.get(pid) == {"50": 4.0, "181": 5.0} and store.get(other) == {"7": 3.0}
    store.close_all()


def test_an_export_never_replaces_a_cinerec_schema_that_is_no_store(run_dir, pg_url):
    import psycopg

    url = _database(pg_url, "cinerec_theirs")
    with psycopg.connect(url, autocommit=True) as con:
        con.execute("CREATE SCHEMA cinerec")
        con.execute("CREATE TABLE cinerec.payroll (amount INTEGER)")
        con.execute("INSERT INTO cinerec.payroll VALUES (42)")
    with pytest.raises(DataError, match="schema 'cinerec' is not a cinerec recommendation store"):
        export_store(run_dir, url, k=3, progress=False)
    with psycopg.connect(url) as con:
        assert con.execute("SELECT amount FROM cinerec.payroll").fetchall() == [(42,)]


def test_a_cinerec_schema_made_empty_beforehand_is_filled_and_serving_a_schema_of_others_says_so(run_dir, pg_url):
    # A schema an administrator made empty, to set its grants before the first export, was
    # refused ("no store format in its meta table"); and a server started on a database
    # whose cinerec schema is someone else's said "no recommendation store here (run
    # `cinerec export --db URL` first)", which that export then refused.
    url = _database(pg_url, "cinerec_made_empty")
    reader = _role(url, "cinerec_made_reader")
    _sql(url, "CREATE SCHEMA cinerec", "GRANT USAGE ON SCHEMA cinerec TO cinerec_made_reader",
         "ALTER DEFAULT PRIVILEGES IN SCHEMA cinerec GRANT SELECT ON TABLES TO cinerec_made_reader")
    export_store(run_dir, url, k=3, progress=False)
    assert open_store(reader).info.k == 3  # (the schema's grant is kept, and its default privileges)
    export_store(run_dir, url, k=4, progress=False)  # (and again on the next export's tables)
    assert open_store(reader).info.k == 4
    url = _database(pg_url, "cinerec_others")
    _sql(url, "CREATE SCHEMA cinerec", "CREATE TABLE cinerec.accounts (id INTEGER)")
    with pytest.raises(DataError, match=r"^postgresql://\S+/cinerec_others: its schema 'cinerec' is not a cinerec "
                                        r"recommendation store \(it holds 'accounts', which a store has not\); serve "
                                        r"a database whose store an export wrote$"):
        open_store(url)


def _sql(url: str, *statements: str) -> None:
    """Run ``statements`` on the database at ``url``, each committed."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as con:
        for statement in statements:
            con.execute(statement)


def test_a_schema_with_a_format_row_but_tables_of_someone_elses_is_no_store_either(run_dir, pg_url):
    # A meta table with a format row was enough: the export dropped the schema, and with
    # it the table of accounts beside it.
    import psycopg

    url = _database(pg_url, "cinerec_meta_too")
    _sql(url, "CREATE SCHEMA cinerec", "CREATE TABLE cinerec.accounts (id INTEGER, secret TEXT)",
         "INSERT INTO cinerec.accounts VALUES (1, 'x')", "CREATE TABLE cinerec.meta (key TEXT, value TEXT)",
         "INSERT INTO cinerec.meta VALUES ('format', 'mine')")
    with pytest.raises(DataError, match=r"not a cinerec recommendation store \(it holds 'accounts', which a store "
                                        r"has not\)"):
        export_store(run_dir, url, k=3, progress=False)
    _sql(url, "DROP TABLE cinerec.accounts")
    with pytest.raises(DataError, match=r"\(no store format in its meta table\)"):
        export_store(run_dir, url, k=3, progress=False)
    with psycopg.connect(url) as con:
        assert con.execute("SELECT value FROM cinerec.meta").fetchall() == [("mine",)]


@pytest.mark.parametrize("damage", ["DELETE FROM cinerec.meta WHERE key = 'format'", "DROP TABLE cinerec.meta"])
def test_a_store_without_its_format_is_no_store_to_serve_as_to_export(run_dir, pg_url, damage):
    # Serving said "store format None ...; export it again" (or, with no meta table, "no
    # recommendation store here (run `cinerec export --db URL` first)"), and that export
    # refused the schema as no store: a way round that led nowhere.
    url = _database(pg_url, "cinerec_formatless")
    export_store(run_dir, url, k=3, progress=False)
    _sql(url, damage)
    with pytest.raises(DataError, match=r"^postgresql://\S+/cinerec_formatless: (its schema 'cinerec' is )?not a "
                                        r"cinerec recommendation store \(no store format in its meta table\); "
                                        r"serve a (database whose store|store that) an export wrote$"):
        open_store(url)
    with pytest.raises(DataError, match=r"\(no store format in its meta table\); not replacing it"):
        export_store(run_dir, url, k=3, progress=False)


@pytest.mark.parametrize("theirs, used, gone, said", [
    # The old store went with DROP SCHEMA ... CASCADE, and a view of one's own in another
    # schema went with it, unsaid.
    ("CREATE VIEW public.top_users AS SELECT * FROM cinerec.users", "SELECT count(*) > 0 FROM public.top_users",
     "DROP VIEW public.top_users", r"export failed, the old store is unchanged: view (public\.)?top_users depends "
                                   r"on table cinerec\.users; .*drop what depends on them first"),
    # A function of someone else's in the store's schema was found only at the swap, in a
    # line naming a schema "cinerec.ed316411" that is not there: refused before the work.
    ("CREATE FUNCTION cinerec.keepme() RETURNS int LANGUAGE sql AS 'select 42'", "SELECT cinerec.keepme() = 42",
     "DROP FUNCTION cinerec.keepme()", r"schema 'cinerec' is not a cinerec recommendation store \(it holds "
                                       r"'keepme\(\)', which a store has not\); not replacing it"),
])
def test_a_reexport_never_drops_what_others_built_on_or_in_the_store(run_dir, pg_url, theirs, used, gone, said):
    import psycopg

    url = _database(pg_url, "cinerec_viewed")
    export_store(run_dir, url, k=3, progress=False)
    _sql(url, theirs)
    with pytest.raises(DataError, match=said):
        export_store(run_dir, url, k=5, progress=False)
    with psycopg.connect(url) as con:
        assert con.execute(used).fetchone()[0] is True
    assert open_store(url).info.k == 3
    _sql(url, gone)
    export_store(run_dir, url, k=5, progress=False)
    assert open_store(url).info.k == 5


def test_a_store_missing_a_table_is_refused_not_served_live(run_dir, pg_url):
    import psycopg

    url = _database(pg_url, "cinerec_no_recs")
    export_store(run_dir, url, k=3, progress=False)
    with psycopg.connect(url, autocommit=True) as con:
        con.execute("DROP TABLE cinerec.recommendations")
    with pytest.raises(DataError, match=r"not a cinerec recommendation store \(no table recommendations\); "
                                        r"export it again"):
        open_store(url)


def test_a_profiles_schema_of_someone_elses_is_one_line_and_left_alone(pg_url):
    # serve stopped with a psycopg traceback (UndefinedColumn) on the foreign table.
    import psycopg

    from cinerec.serving.pgstore import PgProfileStore

    url = _database(pg_url, "cinerec_theirs_profiles")
    with psycopg.connect(url, autocommit=True) as con:
        con.execute("CREATE SCHEMA cinerec_profiles")
        con.execute("CREATE TABLE cinerec_profiles.profiles (x INTEGER)")
    with pytest.raises(DataError, match=r"its schema 'cinerec_profiles' is not cinerec's profiles \(it holds the "
                                        r"table 'profiles', columns x\)"):
        PgProfileStore(url)
    with psycopg.connect(url) as con:
        tables = con.execute("SELECT table_name FROM information_schema.tables "
                             "WHERE table_schema = 'cinerec_profiles'").fetchall()
    assert tables == [("profiles",)]
    ours = _database(pg_url, "cinerec_our_profiles")
    pid = PgProfileStore(ours).create({"50": 4.0})
    assert PgProfileStore(ours).get(pid) == {"50": 4.0}


def test_a_killed_exports_staging_schema_is_cleared_by_the_next(run_dir, pg_url):
    import psycopg

    url = _database(pg_url, "cinerec_leftover")
    with psycopg.connect(url, autocommit=True) as con:  # what exports killed mid-copy, or at once, leave
        con.execute("CREATE SCHEMA cinerec_new_deadbeef")
        con.execute("CREATE TABLE cinerec_new_deadbeef.meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        con.execute('CREATE TABLE cinerec_new_deadbeef.users ("user" INTEGER PRIMARY KEY, user_id TEXT NOT NULL)')
        con.execute("CREATE SCHEMA cinerec_new_0000beef")
        # Schemas of someone else's that only look like one were dropped, all they held too.
        con.execute("CREATE SCHEMA cinerec_new_features")
        con.execute("CREATE TABLE cinerec_new_features.important (x INTEGER)")
        con.execute("CREATE SCHEMA cinerec_new_0badc0de")
        con.execute("CREATE TABLE cinerec_new_0badc0de.notes (x INTEGER)")
        con.execute("INSERT INTO cinerec_new_0badc0de.notes VALUES (42)")
        # ... and so were those whose names alone were a store's (with CASCADE: what others
        # built on them went too): a table of other columns, a function, a type, a view of it.
        con.execute("CREATE SCHEMA cinerec_new_00c0ffee")
        con.execute("CREATE TABLE cinerec_new_00c0ffee.meta (invoice INTEGER, amount NUMERIC)")
        con.execute("INSERT INTO cinerec_new_00c0ffee.meta VALUES (1, 99.5)")
        con.execute("CREATE SCHEMA cinerec_new_0000f00d")
        con.execute("CREATE FUNCTION cinerec_new_0000f00d.important() RETURNS int LANGUAGE sql AS 'select 42'")
        con.execute("CREATE SCHEMA cinerec_new_0000cafe")
        con.execute("CREATE TYPE cinerec_new_0000cafe.mood AS ENUM ('happy', 'sad')")
        con.execute("CREATE TABLE public.diary (id INTEGER, m cinerec_new_0000cafe.mood)")
        con.execute("CREATE SCHEMA cinerec_new_0000abcd")
        con.execute('CREATE TABLE cinerec_new_0000abcd.users ("user" INTEGER PRIMARY KEY, user_id TEXT NOT NULL)')
        con.execute("CREATE VIEW public.people AS SELECT * FROM cinerec_new_0000abcd.users")
    export_store(run_dir, url, k=3, progress=False)
    with psycopg.connect(url) as con:
        schemas = sorted(r[0] for r in con.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'cinerec%'"))
        assert con.execute("SELECT x FROM cinerec_new_0badc0de.notes").fetchall() == [(42,)]
        assert con.execute("SELECT invoice FROM cinerec_new_00c0ffee.meta").fetchall() == [(1,)]
        assert con.execute("SELECT cinerec_new_0000f00d.important()").fetchall() == [(42,)]
        assert [r[0] for r in con.execute("SELECT column_name FROM information_schema.columns WHERE "
                                          "table_name = 'diary' ORDER BY ordinal_position")] == ["id", "m"]
        assert con.execute("SELECT count(*) FROM public.people").fetchall() == [(0,)]
    assert schemas == ["cinerec", "cinerec_new_0000abcd", "cinerec_new_0000cafe", "cinerec_new_0000f00d",
                       "cinerec_new_00c0ffee", "cinerec_new_0badc0de", "cinerec_new_features"]


def test_a_postgres_store_that_stops_answering_holds_no_other_request(run_dir, pg_url, tmp_path):
    # Its reads ran on the event loop: a database that hung (reachable, not answering)
    # held every endpoint of every worker, /movies included.
    import asyncio
    import time

    import httpx

    from cinerec.serving.api import create_app

    export_store(run_dir, pg_url, k=10, model="ease", progress=False)
    app = create_app(run_dir, pg_url, profiles=tmp_path / "profiles.sqlite")
    svc = app.state.service
    assert svc.remote
    read = svc.store.recommendations

    def stuck(user, k, info=None):
        time.sleep(1.5)
        return read(user, k, info)

    svc.store.recommendations = stuck
    done: list[str] = []

    async def ask(c, path, name):
        assert (await c.get(path)).status_code == 200
        done.append(name)

    async def main():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            slow = asyncio.create_task(ask(c, "/users/1/recommendations?k=5", "stuck"))
            await asyncio.sleep(0.2)
            await ask(c, "/movies?query=star", "movies")
            await slow

    asyncio.run(main())
    svc.close()
    assert done == ["movies", "stuck"]


@pytest.mark.parametrize("tables, said", [
    # cinerec's column names, other types or no keys (another program's, or made by hand)
    ("profiles(profile_id TEXT, created DOUBLE PRECISION NOT NULL, updated DOUBLE PRECISION NOT NULL); "
     "CREATE TABLE cinerec_profiles.ratings(profile_id TEXT NOT NULL, movie_id TEXT NOT NULL, "
     "stars DOUBLE PRECISION, updated DOUBLE PRECISION NOT NULL)", "its table 'profiles' lacks the primary key "
                                                                  r"\(profile_id\)"),
    ("profiles(profile_id INTEGER PRIMARY KEY, created DOUBLE PRECISION NOT NULL, updated DOUBLE PRECISION NOT NULL)",
     "its table 'profiles' lacks profile_id text"),
])
def test_profile_tables_of_cinerecs_names_but_not_its_kinds_are_refused_at_start(pg_url, tables, said):
    # The server started and /health said ok; then every profile change was a 500 (no
    # unique constraint for ON CONFLICT, or text ids into an integer column).
    import psycopg

    from cinerec.serving.pgstore import PgProfileStore

    url = _database(pg_url, "cinerec_lookalike")
    with psycopg.connect(url, autocommit=True) as con:
        con.execute("CREATE SCHEMA cinerec_profiles")
        con.execute(f"CREATE TABLE cinerec_profiles.{tables}")
    with pytest.raises(DataError, match=rf"its schema 'cinerec_profiles' is not cinerec's profiles \({said}\); "
                                        "give profiles another database with " + re.escape("create_app(profiles=...)")):
        PgProfileStore(url)


def test_profile_tables_changed_under_a_running_server_answer_503_and_health_says_so(run_dir, pg_url):
    # Renamed, dropped or a right revoked while serving: every profile call and /health
    # itself answered 500 (UndefinedTable, InsufficientPrivilege); a revoked right left
    # /health saying ok.
    import psycopg
    from fastapi.testclient import TestClient

    from cinerec.serving.api import create_app

    url = _database(pg_url, "cinerec_changed")
    export_store(run_dir, url, k=5, model="popularity", progress=False)
    PgProfileStore(url).close_all()  # made by the owner, who grants their use
    user = _role(url, "cinerec_changed_user")
    with psycopg.connect(url, autocommit=True) as con:
        con.execute("GRANT USAGE ON SCHEMA cinerec, cinerec_profiles TO cinerec_changed_user")
        con.execute("GRANT SELECT ON ALL TABLES IN SCHEMA cinerec TO cinerec_changed_user")
        con.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA cinerec_profiles "
                    "TO cinerec_changed_user")
    with TestClient(create_app(run_dir, user)) as c:
        pid = c.post("/profiles", json={"liked": [50]}).json()["profile_id"]
        assert c.get("/health").json()["status"] == "ok"
        with psycopg.connect(url, autocommit=True) as con:
            con.execute("REVOKE SELECT ON cinerec_profiles.ratings FROM cinerec_changed_user")
        health = c.get("/health")
        assert health.status_code == 200 and health.json()["status"] == "degraded"
        assert "this role lacks SELECT on cinerec_profiles.ratings" in health.json()["profiles"]
        r = c.get(f"/profiles/{pid}")
        assert r.status_code == 503 and "permission denied for table ratings" in r.json()["detail"]
        with psycopg.connect(url, autocommit=True) as con:
            con.execute("GRANT SELECT ON cinerec_profiles.ratings TO cinerec_changed_user")
        assert c.get(f"/profiles/{pid}").status_code == 200 and c.get("/health").json()["status"] == "ok"
        with psycopg.connect(url, autocommit=True) as con:
            con.execute("ALTER SCHEMA cinerec_profiles RENAME TO cinerec_profiles_moved")
        health = c.get("/health")
        assert health.status_code == 200 and health.json()["status"] == "degraded"
        assert health.json()["profiles"].startswith("unreadable (")
        for r in (c.get(f"/profiles/{pid}"), c.post("/profiles", json={"liked": [50]}),
                  c.put(f"/profiles/{pid}/ratings", json={"liked": [181]})):
            assert r.status_code == 503, r.text
            assert "were changed or their rights revoked since the server started" in r.json()["detail"]
        assert "nothing saved" in r.json()["detail"]
        assert c.get("/users/1/recommendations").status_code == 200  # lists still answer
        with psycopg.connect(url, autocommit=True) as con:
            con.execute("ALTER SCHEMA cinerec_profiles_moved RENAME TO cinerec_profiles")
        assert c.get(f"/profiles/{pid}").status_code == 200 and c.get("/health").json()["status"] == "ok"


def test_an_export_by_a_role_without_create_into_an_empty_database_says_nothing_was_written(run_dir, pg_url):
    # It said "the old store is unchanged" where there was none, and not which right it lacked.
    url = _database(pg_url, "cinerec_empty_guest")
    guest = _role(url, "cinerec_empty_guest")
    with pytest.raises(DataError, match=r"export failed, no store was written \(permission denied for database "
                                        r"cinerec_empty_guest\); an export creates schemas and tables: export as a "
                                        r"role with CREATE on the database"):
        export_store(run_dir, guest, k=3, progress=False)


def test_connections_keep_alive_unless_the_url_says_otherwise(pg_url):
    # Without keepalives a connection the network dropped without a reset held its place
    # in the pool for good, the read on it waiting for an answer that never came.
    from cinerec.serving.pgstore import KEEPALIVES, _connect

    con = _connect(pg_url)
    try:
        given = con.info.get_parameters()
        assert {key: given.get(key) for key in KEEPALIVES} == {key: str(v) for key, v in KEEPALIVES.items()}
    finally:
        con.close()
    con = _connect(pg_url + "?keepalives_idle=5")
    try:
        assert con.info.get_parameters()["keepalives_idle"] == "5"
    finally:
        con.close()


def test_the_urls_own_connect_timeout_stands(pg_url):
    # connect_timeout=30 in the URL was overridden by cinerec's own 10 s.
    from cinerec.serving.pgstore import _connect

    for url, seconds in ((pg_url, "10"), (pg_url + "?connect_timeout=30", "30")):
        con = _connect(url)
        try:
            assert con.info.get_parameters()["connect_timeout"] == seconds, url
        finally:
            con.close()


@pytest.fixture(scope="module")
def long_id_run(tmp_path_factory):
    """A run whose log holds one movie id of 3,001 bytes no compression shortens."""
    import random
    import string

    from cinerec.cli import main

    root = tmp_path_factory.mktemp("long")
    long_id = "M" + "".join(random.Random(0).choices(string.ascii_letters, k=3000))
    rows = ["user,item,rating"] + [f"u{u},{(u * 7 + j) % 60},{1 + (u + j) % 5}" for u in range(30) for j in range(20)]
    rows += [f"u{u},{long_id},4" for u in range(6)]
    rows += [f"u{u},{'a' * 10000},3" for u in range(6, 12)]  # longer, but it compresses: it fits
    (root / "log.csv").write_text("\n".join(rows) + "\n")
    assert main(["train", "--data", str(root / "log.csv"), "--model", "popularity", "--protocol", "random-full",
                 "--out", str(root / "run"), "-q"]) == 0
    return root / "run", long_id


def test_an_id_longer_than_a_postgres_index_holds_is_named_and_profiles_refuse_it_for_good(long_id_run, pg_url):
    # The export failed with the database's words alone; a profile naming such a movie
    # answered 503 "retry, it may or may not have been saved" where nothing was saved
    # and no retry could work, and the pool's connections were let go.
    from fastapi.testclient import TestClient

    from cinerec.serving.api import create_app

    run, long_id = long_id_run
    url = _database(pg_url, "cinerec_long_ids")
    with pytest.raises(DataError) as e:
        export_store(run, url, k=3, progress=False)
    said = str(e.value)
    assert f"the movie id {long_id[:20] + '…'!r} is 3,001 bytes" in said and "\n" not in said
    assert said.endswith("PostgreSQL indexes ids of up to about 2,700 bytes: export to a SQLite file (db=FILE), "
                         "which holds any")
    with TestClient(create_app(run, None, profiles=url)) as c:
        pid = c.post("/profiles", json={"liked": ["0"]}).json()["profile_id"]
        for r in (c.post("/profiles", json={"ratings": {long_id: 5}}),
                  c.put(f"/profiles/{pid}/ratings", json={"liked": [long_id]})):
            assert r.status_code == 422, r.text
            assert "PostgreSQL cannot keep this profile's ratings, nothing saved" in r.text
            assert "keep profiles in a SQLite file (create_app(profiles=FILE))" in r.text
        assert c.get(f"/profiles/{pid}").json()["ratings"] == {"0": None}
        assert c.get("/health").json()["status"] == "ok"


def test_profiles_that_cannot_be_reached_are_named_by_their_flag(run_dir, pg_url):
    # --db and --profiles on one server with different passwords failed in the same words.
    from cinerec.serving.api import create_app

    bad = pg_url.replace("postgresql://", "postgresql://nobody_here:wrong@", 1) if "@" not in pg_url else \
        "postgresql://nobody_here:wrong@" + pg_url.split("@", 1)[1]
    with pytest.raises(DataError) as e:
        create_app(run_dir, None, profiles=bad)
    assert str(e.value).startswith("profiles postgresql://nobody_here:***@"), str(e.value)


def test_a_server_that_does_not_answer_is_said_before_the_run_is_read(tmp_path, capsys):
    # The server was asked only after the run, its dataset and its model were read (which
    # on a large run takes minutes), so a typo in the URL cost all that first.
    from cinerec.cli import main

    url = f"postgresql://cinerec@127.0.0.1:{free_port()}/nothing"
    missing = tmp_path / "no-run-here"
    with pytest.raises(DataError, match="cannot connect to PostgreSQL"):
        export_store(missing, url, k=5, model=None, progress=False)
    assert main(["export", "--run", str(missing), "--db", url, "-q"]) == 2
    err = capsys.readouterr().err
    assert "cannot connect to PostgreSQL" in err and "no such run folder" not in err


@pytest.mark.parametrize("password", ["Spring?2024/xyz", "q?w/e:r", "a#b?c/d:e"])
def test_a_piece_of_a_password_the_driver_quotes_is_masked(password):
    # The driver stops at an unescaped "?" and quotes the rest of the URL from there:
    # "2024/xyz@127.0.0.1:5/pwdb", a piece of the password that masking the whole missed.
    url = f"postgresql://pwuser:{password}@127.0.0.1:{free_port()}/pwdb"
    with pytest.raises(DataError) as e:
        open_store(url)
    tail = password.split("?", 1)[1]
    assert tail not in str(e.value) and "cannot connect to PostgreSQL" in str(e.value) and "***" in str(e.value)


def test_a_change_the_database_refuses_is_a_503_and_health_says_so_until_one_is_saved(run_dir, pg_url):
    # A read-only database or a trigger's exception answered a bare 500 (ReadOnlySqlTransaction,
    # RaiseException), and /health said ok while no change could be saved.
    import psycopg
    from fastapi.testclient import TestClient

    from cinerec.serving.api import create_app

    url = _database(pg_url, "cinerec_refusing")
    with TestClient(create_app(run_dir, profiles=url)) as c:
        pid = c.post("/profiles", json={"liked": [50]}).json()["profile_id"]
        with psycopg.connect(url, autocommit=True) as con:
            con.execute("CREATE FUNCTION cinerec_profiles.refuse() RETURNS trigger LANGUAGE plpgsql AS "
                        "$$ BEGIN RAISE EXCEPTION 'changes are frozen'; END $$")
            con.execute("CREATE TRIGGER refuse BEFORE INSERT OR UPDATE ON cinerec_profiles.ratings "
                        "FOR EACH ROW EXECUTE FUNCTION cinerec_profiles.refuse()")
        for r in (c.put(f"/profiles/{pid}/ratings", json={"liked": [181]}), c.post("/profiles", json={"liked": [7]})):
            assert r.status_code == 503 and r.headers["retry-after"], r.text
            assert "PostgreSQL write failed, nothing saved (changes are frozen" in r.json()["detail"]
        health = c.get("/health").json()
        assert health["status"] == "degraded" and "the last change could not be saved (changes are frozen" in \
            health["profiles"], health
        assert c.get(f"/profiles/{pid}").json()["ratings"] == {"50": None}  # nothing saved
        # A full disk (SQLSTATE 53100) is refused as such: nothing saved, not "may or may not have been".
        with psycopg.connect(url, autocommit=True) as con:
            con.execute("CREATE OR REPLACE FUNCTION cinerec_profiles.refuse() RETURNS trigger LANGUAGE plpgsql AS "
                        "$$ BEGIN RAISE EXCEPTION 'could not extend file: No space left on device' "
                        "USING ERRCODE = '53100'; END $$")
        r = c.put(f"/profiles/{pid}/ratings", json={"liked": [181]})
        assert r.status_code == 503 and "nothing saved (could not extend file" in r.json()["detail"], r.text
        assert c.get("/health").json()["status"] == "degraded"
        with psycopg.connect(url, autocommit=True) as con:
            con.execute("DROP TRIGGER refuse ON cinerec_profiles.ratings")
        assert c.put(f"/profiles/{pid}/ratings", json={"liked": [181]}).status_code == 200
        assert c.get("/health").json()["status"] == "ok"


def test_an_export_from_python_closes_its_connections(run_dir, pg_url):
    # Each export_store() into PostgreSQL left its store's pool open, each connection
    # dropped by the garbage collector with "ResourceWarning: <psycopg.Connection ...>
    # was deleted while still open" (python -X dev, pytest -W error).
    import gc
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        export_store(run_dir, pg_url, k=5, model="popularity", progress=False)
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)], [str(w.message) for w in caught]


def _database_encoded(pg_url: str, name: str, encoding: str) -> str:
    import psycopg

    with psycopg.connect(pg_url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as con:
        con.execute(f"DROP DATABASE IF EXISTS {name}")
        con.execute(f"CREATE DATABASE {name} ENCODING '{encoding}' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0")
    return pg_url.rsplit("/", 1)[0] + "/" + name


def test_a_database_of_another_encoding_keeps_text_as_text(run_dir, pg_url, tmp_path, capsys):
    # On a SQL_ASCII database (initdb's under a C locale) the driver handed back every text
    # as bytes: the export said it had failed after writing the store, nothing could serve
    # it or write over it, and profiles read no rating, so a movie a person rated came back
    # to them. On a LATIN1 database a title it cannot hold was a traceback, and a profile
    # change a bare 500.
    from fastapi.testclient import TestClient

    from cinerec.cli import main
    from cinerec.serving.api import create_app

    url = _database_encoded(pg_url, "cinerec_ascii", "SQL_ASCII")
    for _ in range(2):  # and once more over it
        export_store(run_dir, url, k=5, model="popularity", progress=False)
    store = open_store(url)
    assert store.refresh().k == 5 and store.count("users") == 943
    assert any("é" in title for (title,) in store._query("SELECT title FROM cinerec.movies"))
    with TestClient(create_app(run_dir, db=url, profiles=url)) as c:
        assert c.get("/users/1/recommendations", params={"k": 5}).json()["source"] == "store"
        made = c.post("/profiles", json={"ratings": {"50": 5, "181": 4}})
        assert made.status_code == 201, made.text
        listed = c.get(f"/profiles/{made.json()['profile_id']}", params={"k": 5}).json()
        assert {m["movie_id"] for m in listed["movies"]} == {50, 181}, listed
        assert listed["source"] != "popular" and not {50, 181} & {m["movie_id"] for m in listed["recommendations"]}

    log = tmp_path / "log.csv"
    log.write_text("user,item,rating\n" + "".join(f"u{u},電{(u * 7 + j) % 60},{1 + (u + j) % 5}\n"
                                                   for u in range(30) for j in range(20)))
    assert main(["train", "--data", str(log), "--model", "popularity", "--protocol", "random-full",
                 "--out", str(tmp_path / "run"), "-q"]) == 0
    capsys.readouterr()
    latin = _database_encoded(pg_url, "cinerec_latin", "LATIN1")
    assert main(["export", "--run", str(tmp_path / "run"), "--db", latin, "-q"]) == 2
    said = capsys.readouterr().err
    assert said.count("\n") == 1 and "Traceback" not in said and "LATIN1" in said, said
    with TestClient(create_app(tmp_path / "run", profiles=latin)) as c:
        r = c.post("/profiles", json={"liked": ["電1", "電2"]})
        assert r.status_code == 503 and "nothing saved" in r.json()["detail"], r.text


def test_a_profile_removed_goes_with_its_ratings_and_a_missing_one_removes_nothing(run_dir, pg_url):
    from fastapi.testclient import TestClient

    from cinerec.serving.api import create_app

    url = _database(pg_url, "cinerec_removing")
    with TestClient(create_app(run_dir, profiles=url)) as c:
        kept = c.post("/profiles", json={"liked": [50]}).json()["profile_id"]
        gone = c.post("/profiles", json={"ratings": {"181": 4}}).json()["profile_id"]
        r = c.delete(f"/profiles/{gone}")
        assert r.status_code == 204 and r.content == b""
        assert c.get(f"/profiles/{gone}").status_code == 404 and c.delete(f"/profiles/{gone}").status_code == 404
        assert c.delete("/profiles/a%00b").status_code == 404  # (an id PostgreSQL cannot hold)
        assert c.get(f"/profiles/{kept}").json()["ratings"] == {"50": None}
    import psycopg

    with psycopg.connect(url) as con:
        assert con.execute("SELECT profile_id, movie_id FROM cinerec_profiles.ratings").fetchall() == [(kept, "50")]


def test_a_profile_removed_while_a_change_to_it_is_being_written_goes_whole(pg_url):
    # The delete removed the ratings it saw, then waited on the profile's row, locked by
    # the change; the change's new rating then refused the delete by its foreign key: a
    # 503, /health degraded, and the profile kept.
    from cinerec.errors import NotFoundError

    url = _database(pg_url, "cinerec_delete_race")
    store = PgProfileStore(url)
    pid = store.create({"50": None})
    outcome: dict[str, object] = {}

    def delete() -> None:
        try:
            store.delete(pid)
            outcome["delete"] = "done"
        except Exception as e:  # noqa: BLE001 (what it raised is what the test reports)
            outcome["delete"] = f"{type(e).__name__}: {e}"

    def forget(stored: dict[str, float | None]) -> list[str]:  # (called with the profile's row locked)
        worker = threading.Thread(target=delete)
        worker.start()
        outcome["worker"] = worker
        time.sleep(0.5)  # (the delete is waiting on the lock by now)
        return []

    store.set_ratings(pid, {"181": 4.0}, forget=forget)
    outcome["worker"].join(10)  # type: ignore[attr-defined]
    assert outcome["delete"] == "done", outcome
    with pytest.raises(NotFoundError):
        store.get(pid)
    assert store.last_failure is None
    store.close_all()


def test_a_reader_that_locks_the_stores_tables_in_another_order_never_fails_an_export(run_dir, pg_url):
    # A reader holding meta and asking for recommendations, while the export held
    # recommendations and asked for meta: PostgreSQL rolled the export back ("deadlock
    # detected") when it was the one to find the deadlock. The swap is tried again.
    import psycopg

    export_store(run_dir, pg_url, k=5, model="popularity", progress=False)
    errors: list[BaseException] = []

    def export() -> None:
        try:
            export_store(run_dir, pg_url, k=6, model="popularity", progress=False)
        except BaseException as e:  # noqa: BLE001 (reported by the test)
            errors.append(e)

    with psycopg.connect(pg_url) as reader, psycopg.connect(pg_url, autocommit=True) as watch:
        # (the reader waits long before it looks for a deadlock: the export finds it)
        reader.execute("SET deadlock_timeout = '60s'")
        reader.execute("SELECT value FROM cinerec.meta WHERE key = 'k'").fetchall()
        t = threading.Thread(target=export)
        t.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not watch.execute(
                "SELECT 1 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE NOT l.granted "
                "AND c.relname = 'meta'").fetchone():
            time.sleep(0.05)
        assert t.is_alive(), errors
        reader.execute("SELECT count(*) FROM cinerec.recommendations").fetchall()  # the deadlock
        reader.commit()
        t.join(60)
    assert not t.is_alive() and not errors, errors
    assert open_store(pg_url).refresh().k == 6
