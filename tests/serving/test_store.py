"""The exported store, reasons in bulk, profiles and title search."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import threading

import numpy as np
import pytest

from cinerec.data.history import liked as liked_movies
from cinerec.errors import CinerecError, ConfigError, DataError, NotFoundError
from cinerec.io import read_json
from cinerec.runs import finish_run, open_run
from cinerec.serving.lists import Lists
from cinerec.serving.search import MovieSearch, search_key
from cinerec.serving.store import (
    ProfileStore, export_store, open_profiles, open_store, profiles_path_for,
)


def _table(db, sql):
    con = sqlite3.connect(db)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


# -- export --------------------------------------------------------------------------------


def test_export_holds_every_users_unseen_top_k_with_reasons(run, store_path):
    store = open_store(store_path)
    info = store.info
    ds = run.dataset
    assert (info.model, info.k, info.n_users, info.n_items) == ("ease", 20, ds.n_users, ds.n_items)
    assert info.run_created == run.meta["created"]
    assert store.count("users") == ds.n_users and store.count("movies") == ds.n_items

    rows = np.array(_table(store_path, "SELECT user, rank, item, COALESCE(reason, -1) FROM recommendations ORDER BY user, rank"))
    users, ranks, items, reasons = rows.T
    assert np.array_equal(np.bincount(users, minlength=ds.n_users), np.full(ds.n_users, 20))
    seen = ds.interactions.seen
    liked = liked_movies(ds.interactions.csr)
    # Never a movie the user rated; every reason is one the user liked.
    assert not np.asarray(seen[users, items]).any()
    has = reasons >= 0
    assert has.mean() > 0.95
    assert np.asarray(liked[users[has], reasons[has]]).all()

    # The stored lists are the shared lists, in order, with the model's own explain.
    lists = Lists(ds, run.model("ease"))
    sample = np.array([0, 1, 500, ds.n_users - 1])
    want, _, why = lists.for_users(sample, 20)
    assert np.array_equal(items.reshape(ds.n_users, 20)[sample], want)
    assert np.array_equal(reasons.reshape(ds.n_users, 20)[sample], why)
    assert np.array_equal(why, run.model("ease").explain(liked[sample], want))


def test_export_catalog_and_id_maps(run, store_path):
    ds = run.dataset
    movies = dict(((int(m), (t, y, g, key)) for m, t, y, g, key in
                   _table(store_path, "SELECT movie_id, title, year, genres, search_key FROM movies")))
    star_wars = movies[50]
    assert star_wars[0] == "Star Wars" and star_wars[1] == 1977
    assert "Sci-Fi" in star_wars[2].split("|") and star_wars[3] == "star wars"
    users = _table(store_path, "SELECT user, user_id FROM users ORDER BY user")
    assert [int(u) for _, u in users] == ds.user_ids.raw.tolist()


def test_reexport_swaps_atomically_and_readers_keep_a_whole_store(run_dir, tmp_path):
    db = tmp_path / "recs.sqlite"
    export_store(run_dir, db, k=5, model="popularity", progress=False)
    reader = open_store(db)
    before = reader.recommendations(0, 5)
    assert reader.info.model == "popularity"

    export_store(run_dir, db, k=7, model="ease", progress=False)
    # The same reader notices the new file and reads it whole.
    items, scores, reasons = reader.recommendations(0, 10)
    assert reader.info.model == "ease" and reader.info.k == 7 and len(items) == 7
    assert not np.array_equal(items[:5], before[0])
    assert [p.name for p in tmp_path.iterdir()] == ["recs.sqlite"]  # no temporary left behind


def test_failed_export_leaves_the_old_store(run_dir, tmp_path, monkeypatch):
    db = tmp_path / "recs.sqlite"
    export_store(run_dir, db, k=5, model="popularity", progress=False)
    old = db.read_bytes()
    run = open_run(run_dir)
    model = run.model("popularity")
    calls = []

    def broken(users, k=10, **kw):
        calls.append(len(users))
        if len(calls) > 1:
            raise RuntimeError("disk on fire")
        return type(model).recommend(model, users, k, **kw)

    monkeypatch.setattr(model, "recommend", broken)
    with pytest.raises(RuntimeError):
        export_store(run, db, k=5, model="popularity", progress=False, chunk_size=100)
    assert db.read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["recs.sqlite"]


def test_an_interrupt_after_the_swap_says_the_new_store_is_in_place(run_dir, tmp_path, monkeypatch, capsys):
    # A Ctrl-C once the new store was in place ended "cinerec: interrupted" alone, which the
    # README's "what was saved before untouched" read as the old store kept.
    from cinerec.cli import main
    from cinerec.io import finished_outputs
    from cinerec.serving import store

    db = tmp_path / "recs.sqlite"
    export_store(run_dir, db, k=3, model="popularity", progress=False)

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt  # (Ctrl-C while the new store's facts are read back)

    monkeypatch.setattr(store, "_written_info", stopped)
    assert main(["export", "--run", str(run_dir), "--db", str(db), "-k", "7", "--run-model", "popularity", "-q"]) == 130
    assert capsys.readouterr().err.strip() == f"cinerec: interrupted; the store {db} had been written in full before"
    monkeypatch.undo()
    assert open_store(db).info.k == 7 and finished_outputs() == []  # (the next command's line is its own)
    # Stopped before the swap, it says "interrupted" alone, and the old store stays.
    monkeypatch.setattr(store, "_create_store_schema", stopped)
    assert main(["export", "--run", str(run_dir), "--db", str(db), "-k", "9", "--run-model", "popularity", "-q"]) == 130
    assert capsys.readouterr().err.strip() == "cinerec: interrupted"
    monkeypatch.undo()
    assert open_store(db).info.k == 7


def test_what_a_killed_export_left_is_swept_once_stale(run_dir, tmp_path):
    # A SIGKILLed export's hidden temporary file stayed for good, one more per kill.
    import time

    db = tmp_path / "recs.sqlite"
    stale, live = tmp_path / ".recs.sqlite.abc12345.tmp", tmp_path / ".recs.sqlite.def45678.tmp"
    for f in (stale, live):
        f.write_bytes(b"half a store")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    other = tmp_path / ".other.sqlite.ghi78901.tmp"  # another store's: not this export's to judge
    other.write_bytes(b"x")
    os.utime(other, (old, old))
    export_store(run_dir, db, k=5, model="popularity", progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == [other.name, live.name, "recs.sqlite"]
    # A name that reads as a glob pattern is a name: "[o]ther" swept .other's leftovers.
    export_store(run_dir, tmp_path / "[o]ther.sqlite", k=5, model="popularity", progress=False)
    assert other.exists()


def test_exports_of_one_store_take_turns(run_dir, tmp_path, capsys):
    # Two at once both said they wrote it, and the one that ended last was the store: a
    # -k 5 export started second was replaced by a -k 1000 one started first.
    import fcntl
    import time

    db = tmp_path / "recs.sqlite"
    held = os.open(tmp_path / ".recs.sqlite.lock", os.O_RDWR | os.O_CREAT)  # (another export's turn)
    fcntl.flock(held, fcntl.LOCK_EX)
    done: list[int] = []
    later = threading.Thread(target=lambda: done.append(export_store(run_dir, db, k=5, model="popularity").k))
    later.start()
    time.sleep(1.0)
    assert later.is_alive() and not db.exists()  # waiting for the turn, nothing written
    assert capsys.readouterr().err == f"waiting for another export into {db} to end...\n"
    fcntl.flock(held, fcntl.LOCK_UN)
    os.close(held)
    later.join(60)
    assert done == [5] and open_store(db).info.k == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["recs.sqlite"]  # (the lock goes with its turn)
    export_store(run_dir, db, k=3, model="popularity", progress=False)  # no wait, nothing said
    assert open_store(db).info.k == 3 and capsys.readouterr().err == ""


def test_an_export_that_fills_the_disk_is_one_line_and_leaves_the_old_store(run_dir, tmp_path, monkeypatch):
    # sqlite3's "database or disk is full" left the command as a traceback.
    import cinerec.serving.store as store

    db = tmp_path / "recs.sqlite"
    export_store(run_dir, db, k=3, model="popularity", progress=False)
    old = db.read_bytes()
    make = store._create_store_schema

    def small(con):  # a disk with room for 40 pages
        make(con)
        con.execute("PRAGMA max_page_count = 40")

    monkeypatch.setattr(store, "_create_store_schema", small)
    with pytest.raises(DataError, match=r"recs.sqlite: the export could not be written \(database or disk is full\); "
                                        "the store there is as it was"):
        export_store(run_dir, db, k=50, model="popularity", progress=False)
    assert db.read_bytes() == old and sorted(p.name for p in tmp_path.iterdir()) == ["recs.sqlite"]
    # With no store there before, none is said to be "as it was".
    with pytest.raises(DataError, match=r"new.sqlite: the export could not be written \(database or disk is full\); "
                                        "no store was made there"):
        export_store(run_dir, tmp_path / "new.sqlite", k=50, model="popularity", progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["recs.sqlite"]


def test_reexport_never_touches_profiles(run_dir, tmp_path):
    db = tmp_path / "recs.sqlite"
    export_store(run_dir, db, k=3, progress=False)
    profiles = ProfileStore(profiles_path_for(db, run_dir))
    pid = profiles.create({"50": 5.0, "181": None})
    export_store(run_dir, db, k=4, progress=False)
    export_store(run_dir, db, k=4, model="popularity", progress=False)
    assert ProfileStore(profiles_path_for(db, run_dir)).get(pid) == {"50": 5.0, "181": None}


def test_the_store_itself_is_refused_as_a_profiles_file(run_dir, tmp_path):
    db = tmp_path / "recs.sqlite"
    export_store(run_dir, db, k=3, progress=False)
    with pytest.raises(DataError, match=r"^profiles .*recs\.sqlite: is a store written by export"):
        open_profiles(db, run_dir, db)


def test_stale_store_is_detected(run_dir, tmp_path):
    run_copy = tmp_path / "run"
    shutil.copytree(run_dir, run_copy)
    db = tmp_path / "recs.sqlite"
    info = export_store(run_copy, db, k=3, progress=False)
    run = open_run(run_copy)
    assert info.stale_reason(run, "ease") is None
    assert info.stale_reason(run, "popularity") == "exported from model 'ease', serving 'popularity'"
    other = tmp_path / "other"
    shutil.copytree(run_dir, other)
    # Both differ: both are named (it named only the model)
    assert info.stale_reason(open_run(other), "popularity") == (
        f"exported from model 'ease' of another run ({run_copy}), serving 'popularity' of {other}")
    finish_run(run_copy, meta={"source": "ml-100k", "best_model": "ease", "created_note": "again"})
    os.utime(run_copy / "run.json", (info.exported_at + 5, info.exported_at + 5))
    assert info.stale_reason(open_run(run_copy), "ease") is not None


def test_a_store_exported_from_the_run_rewritten_since_a_server_loaded_it_says_restart(run_dir, tmp_path):
    # The server's run in memory is the old one; the store is of the new one. It said "the
    # run was re-written after the export", which was the wrong way round.
    run_copy = tmp_path / "run"
    shutil.copytree(run_dir, run_copy)
    loaded = open_run(run_copy)
    old_meta = read_json(run_copy / "run.json")
    finish_run(run_copy, meta={**{k: v for k, v in old_meta.items() if k != "created"}, "created_note": "again"})
    assert read_json(run_copy / "run.json")["created"] != old_meta["created"]
    info = export_store(run_copy, tmp_path / "recs.sqlite", k=3, progress=False)
    assert info.stale_reason(open_run(run_copy), "ease") is None
    assert info.stale_reason(loaded, "ease") == ("the run was re-written after this was loaded, and the store "
                                                 "exported from the new one: restart the server to serve it")


def test_missing_or_corrupt_store_is_one_clear_error(tmp_path):
    with pytest.raises(DataError, match="no recommendation store"):
        open_store(tmp_path / "absent.sqlite")
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"not a database at all" * 100)
    with pytest.raises(DataError, match="not a cinerec recommendation store"):
        open_store(bad)
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE meta(key TEXT, value TEXT)").connection.commit()
    with pytest.raises(DataError, match=r"not a cinerec recommendation store \(no store format in its meta table\)"):
        open_store(other)


def _altered_store(run_dir, db, sql: str):
    """A store exported from ``run_dir`` into ``db``, then changed by ``sql``."""
    export_store(run_dir, db, k=3, progress=False)
    con = sqlite3.connect(db)
    con.execute(sql)
    con.commit()
    con.close()
    return db


def test_a_store_of_an_earlier_format_is_refused(tmp_path, run_dir):
    # Format 3's lists could offer a film rated under its other id: such a store is exported again.
    db = _altered_store(run_dir, tmp_path / "s.sqlite", "UPDATE meta SET value = '3' WHERE key = 'format'")
    with pytest.raises(DataError, match=r"store format 3; this cinerec .* reads format 4; export it again"):
        open_store(db)


def test_a_store_of_a_later_format_asks_for_a_newer_cinerec(tmp_path, run_dir):
    # It said "export it again": a newer cinerec wrote it, and this one is what is out of date.
    db = _altered_store(run_dir, tmp_path / "s.sqlite", "UPDATE meta SET value = '5' WHERE key = 'format'")
    with pytest.raises(DataError, match=r"s\.sqlite: store format 5, written by a newer cinerec; this cinerec \S+ "
                                        r"reads format 4: upgrade cinerec to read it$"):
        open_store(db)


@pytest.mark.parametrize("sql", ["DELETE FROM meta WHERE key = 'format'",
                                 "UPDATE meta SET value = '\"4\"' WHERE key = 'format'"])
def test_a_store_without_its_format_is_no_store_to_serve_and_none_to_replace(run_dir, tmp_path, sql):
    # Serving said "store format None ...; export it again", and the export then refused
    # the file as no store: a way round that led nowhere. Both now call it no store.
    db = _altered_store(run_dir, tmp_path / "recs.sqlite", sql)
    with pytest.raises(DataError, match=r"recs\.sqlite: not a cinerec recommendation store \(no store format in its "
                                        r"meta table\); serve a store that an export wrote$"):
        open_store(db)
    before = db.read_bytes()
    with pytest.raises(DataError, match=r"recs\.sqlite: exists and is not a cinerec recommendation store"):
        export_store(run_dir, db, k=3, progress=False)
    assert db.read_bytes() == before


def test_a_store_missing_a_table_is_refused_not_served_live(run_dir, tmp_path):
    # Without its recommendations a server answered every list live and called the store fine.
    db = _altered_store(run_dir, tmp_path / "recs.sqlite", "DROP TABLE recommendations")
    with pytest.raises(DataError, match=r"recs\.sqlite: not a cinerec recommendation store \(no table "
                                        r"recommendations\); export it again"):
        open_store(db)


def test_export_rejects_bad_k_and_unknown_model(run_dir, tmp_path):
    with pytest.raises(DataError, match="-k 0"):
        export_store(run_dir, tmp_path / "x.sqlite", k=0, progress=False)
    with pytest.raises(NotFoundError, match="no model 'nope'"):
        export_store(run_dir, tmp_path / "x.sqlite", model="nope", progress=False)
    assert not (tmp_path / "x.sqlite").exists()


# -- profiles ----------------------------------------------------------------------------------


def test_profiles_round_trip_and_survive_reopening(tmp_path):
    path = tmp_path / "p.sqlite"
    store = ProfileStore(path)
    pid = store.create()
    assert store.get(pid) == {}
    store.set_ratings(pid, {"50": 4.5, "172": None})
    store.set_ratings(pid, {"50": 3.0})  # replaces, never duplicates
    assert store.remove_rating(pid, "172") and not store.remove_rating(pid, "172")
    assert ProfileStore(path).get(pid) == {"50": 3.0}
    with pytest.raises(NotFoundError, match="unknown profile id 'nope'"):
        store.get("nope")
    with pytest.raises(NotFoundError):
        store.set_ratings("nope", {"1": 1.0})


def test_profile_writes_from_many_threads_are_each_stored_once(tmp_path):
    store = ProfileStore(tmp_path / "p.sqlite")
    pid = store.create()

    def write(t):
        for i in range(20):
            store.set_ratings(pid, {f"{t}-{i}": float(1 + i % 5)})

    threads = [threading.Thread(target=write, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    got = store.get(pid)
    assert len(got) == 160 and got["3-7"] == 3.0


def test_a_damaged_profiles_file_is_one_clear_error(tmp_path):
    bad = tmp_path / "p.sqlite"
    bad.write_bytes(b"garbage" * 1000)
    with pytest.raises(DataError, match="not a cinerec profiles file"):
        ProfileStore(bad)



def test_someone_elses_sqlite_file_is_refused_before_it_is_changed(tmp_path):
    # Its tables were added to (and its journal mode set), then every request failed with 500.
    import hashlib
    import sqlite3

    for i, schema in enumerate(["CREATE TABLE profiles(name TEXT)", "CREATE TABLE notes(x)"]):
        path = tmp_path / f"theirs{i}.db"
        con = sqlite3.connect(path)
        con.execute(schema)
        con.commit()
        con.close()
        before = hashlib.md5(path.read_bytes()).hexdigest()
        with pytest.raises(DataError, match=r"not a cinerec profiles file \((its table 'profiles' has the columns "
                                            r"name|it holds the table 'notes')"):
            ProfileStore(path)
        assert hashlib.md5(path.read_bytes()).hexdigest() == before
    ours = tmp_path / "ours.sqlite"
    pid = ProfileStore(ours).create({"50": 4.0})
    assert ProfileStore(ours).get(pid) == {"50": 4.0}  # its own file opens again


# -- search --------------------------------------------------------------------------------------


def test_search_key_strips_accents_case_and_moves_articles():
    assert search_key("Amélie") == "amelie"
    assert search_key("Godfather, The") == "the godfather"
    assert search_key("Usual Suspects, The (1995)") == "the usual suspects 1995"
    assert search_key("  STAR-wars!! ") == "star wars"
    # Spanish, Italian, German, Portuguese and Dutch articles too, as MovieLens writes them
    # ("Olvidados, Los"): "los olvidados" typed as the title reads came after others.
    for title, key in [("Olvidados, Los (1950)", "los olvidados 1950"), ("Diabólicas, Las", "las diabolicas"),
                       ("Chien andalou, Un", "un chien andalou"), ("Femme est une femme, Une", "une femme est une femme"),
                       ("Uccelli, Gli", "gli uccelli"), ("Lied, Ein", "ein lied"), ("Donna, Una", "una donna"),
                       ("Pagador de Promessas, O", "o pagador de promessas"), ("Vierde Man, De", "de vierde man"),
                       ("Thuis, Het", "het thuis"), ("Vitelloni, I (1953)", "i vitelloni 1953"),
                       ("Lusíadas, Os", "os lusiadas")]:
        assert search_key(title) == key, title


def test_search_finds_initials_written_together_and_letters_of_their_own():
    # "la confidential" found nothing for "L.A. Confidential" (its key read "l a"), nor
    # "mash" M*A*S*H; a plain "lodz", "ore" or "aeon" missed Łódź, Øre and Æon, letters
    # that carry no accent to strip.
    from cinerec.data.dataset import Catalog

    titles = ["L.A. Confidential", "M*A*S*H", "E.T. the Extra-Terrestrial", "Łódź Story", "Øre", "Æon Flux",
              "Cœur", "Straße", "It's a Wonderful Life", "Lamb"]
    cat = Catalog(np.array(titles, dtype=object), np.zeros(len(titles), dtype=np.int64), ("Drama",),
                  np.ones((len(titles), 1), dtype=bool))
    s = MovieSearch(cat, np.arange(len(titles), 0, -1))
    for query, found in [("la confidential", 0), ("l.a. confidential", 0), ("l a confidential", 0), ("mash", 1),
                         ("m*a*s*h", 1), ("m a s h", 1), ("et the extra", 2), ("lodz", 3), ("łódź", 3), ("ore", 4),
                         ("aeon", 5), ("coeur", 6), ("strasse", 7), ("wonderful", 8)]:
        assert s.search(query).tolist()[:1] == [found], query
    assert search_key("L.A. Confidential") == "l a confidential la"
    assert search_key("Łódź Story") == "lodz story"
    assert search_key("It's a Wonderful Life") == "it s a wonderful life its"  # no initials there
    # Initials typed together start the title: "et" put "Etz Hadomim Tafus" (1 rating)
    # before "E.T." (300), which only held "et" further in.
    titles = ["Etz Hadomim Tafus", "E.T. the Extra-Terrestrial", "Mashed", "M*A*S*H", "Lamb", "L.A. Confidential"]
    cat = Catalog(np.array(titles, dtype=object), np.zeros(len(titles), dtype=np.int64), ("Drama",),
                  np.ones((len(titles), 1), dtype=bool))
    s = MovieSearch(cat, np.array([100, 1, 100, 1, 100, 1]))
    assert s.search("et").tolist()[:2] == [1, 0]
    assert s.search("mash").tolist() == [3, 2]
    assert s.search("la").tolist()[:2] == [5, 4]


def test_search_keeps_the_marks_that_are_letters_in_other_scripts():
    # Accents were stripped in every script: a Devanagari or Thai vowel sign split its word
    # ("दिल" found "दुल्हन हम ले जाएंगे" first), Japanese voicing marks went ("ハス" found
    # "バス"), and a Korean syllable became its letters ("기새" found "기생충").
    from cinerec.data.dataset import Catalog

    titles = ["दिल से", "दुल्हन हम ले जाएंगे", "バス", "ガンダム", "기생충", "สวัสดี", "Война и мир", "Αθήνα",
              "كِتاب", "ｶﾞﾝﾀﾞﾑ Ｗ", "ﬁnal"]
    cat = Catalog(np.array(titles, dtype=object), np.zeros(len(titles), dtype=np.int64), ("Drama",),
                  np.ones((len(titles), 1), dtype=bool))
    s = MovieSearch(cat, np.array([1, 100, 1, 1, 1, 1, 1, 1, 1, 1, 1]))
    for query, found in [("दिल", [0]), ("ハス", []), ("バス", [2]), ("カンタム", []), ("ガンダム", [3, 9]),
                         ("기새", []), ("기생", [4]), ("สวัสดี", [5]), ("война", [6]), ("воина", [6]),
                         ("αθηνα", [7]), ("كتاب", [8]), ("ｶﾞﾝﾀﾞﾑ", [3, 9]), ("gundam w", []), ("final", [10])]:
        assert s.search(query).tolist() == found, query
    assert search_key("दिलवाले दुल्हनिया") == "दिलवाले दुल्हनिया" and search_key("Amélie") == "amelie"
    # An emoji's variation selector is no word: the title still starts with the query.
    assert search_key("I ❤️ Huckabees") == "i huckabees"
    titles = ["I ❤️ Huckabees (2004)", "I Huckabees Again (2005)"]
    cat = Catalog(np.array(titles, dtype=object), np.zeros(2, dtype=np.int64), ("Drama",), np.ones((2, 1), dtype=bool))
    assert MovieSearch(cat, np.array([100, 1])).search("i huckabees").tolist() == [0, 1]


def test_one_long_title_does_not_widen_every_movies_search_key():
    # The keys are one fixed-width array: a title of 20,000 characters made every key that
    # wide (1.6 MB of keys for ml-100k became 404 MB, each search 90 times slower).
    from cinerec.data.dataset import Catalog
    from cinerec.serving.search import KEY_LIMIT

    titles = ["Heat", "word " * 4000 + "needle"]
    cat = Catalog(np.array(titles, dtype=object), np.zeros(2, dtype=np.int64), ("Drama",), np.ones((2, 1), dtype=bool))
    s = MovieSearch(cat, np.array([1, 1]))
    assert s.keys.dtype.itemsize <= 4 * KEY_LIMIT and s.search("heat").tolist() == [0]
    assert s.search("word").tolist() == [1]


def test_search_finds_words_typed_without_their_apostrophe():
    # "schindlers" and "obrien" found nothing: the apostrophe split the title's word in two.
    from cinerec.data.dataset import Catalog

    titles = ["Schindler's List", "O'Brien’s Day", "Rock ’n’ Roll High School", "Schindler"]
    cat = Catalog(np.array(titles, dtype=object), np.zeros(len(titles), dtype=np.int64), ("Drama",),
                  np.ones((len(titles), 1), dtype=bool))
    s = MovieSearch(cat, np.array([10, 5, 3, 1]))
    for query, found in [("schindlers list", [0]), ("schindler's list", [0]), ("schindler’s", [0]),
                         ("obrien", [1]), ("obriens day", [1]), ("o'brien", [1]),
                         ("rock n roll", [2]), ("schindler", [0, 3])]:
        assert s.search(query).tolist() == found, query
    assert search_key("Schindler's List") == "schindler s list schindlers"
    assert search_key("Schindlerʼs List") == search_key("Schindler`s List") == "schindler s list schindlers"
    # A query typed with its apostrophe still starts the title it starts: first, before a
    # more rated title holding the same words later.
    cat = Catalog(np.array(["Schindler's List", "The List of Schindler's Ark", "It's My Party",
                            "Party: It's My Day"], dtype=object), np.zeros(4, dtype=np.int64), ("Drama",),
                  np.ones((4, 1), dtype=bool))
    s = MovieSearch(cat, np.array([1, 100, 1, 100]))
    assert s.search("schindler's").tolist() == [0, 1] and s.search("schindlers").tolist() == [0, 1]
    assert s.search("it's my").tolist()[:1] == [2] and s.search("its my").tolist()[:1] == [2]
    # The joined form is a word the match needs: "it's" is not "it" and "s" anywhere.
    assert s.search("it's").tolist() == [2, 3]
    # ... which titles that space their apostrophes or initials out hold too.
    cat = Catalog(np.array(["Rock 'n' Roll High School", "E. T. Story", "Rock Star"], dtype=object),
                  np.zeros(3, dtype=np.int64), ("Drama",), np.ones((3, 1), dtype=bool))
    s = MovieSearch(cat, np.array([1, 1, 100]))
    for query, found in [("rock'n'roll", [0]), ("rock ’n’ roll", [0]), ("rocknroll", [0]), ("e.t.", [1]),
                         ("e. t.", [1]), ("et story", [1])]:
        assert s.search(query).tolist() == found, query


def _tiny_search():
    from cinerec.data.dataset import Catalog

    titles = ["Amélie", "Star Wars", "Lone Star", "Starship Troopers", "Wars of the Roses, The", "Star Wars: Episode I"]
    years = [2001, 1977, 1996, 1997, 1989, 1999]
    genres = np.array([[0, 1], [1, 0], [0, 1], [1, 0], [0, 1], [1, 0]], dtype=bool)
    cat = Catalog(np.array(titles, dtype=object), np.array(years), ("Sci-Fi", "Drama"), genres)
    return MovieSearch(cat, np.array([10, 500, 40, 90, 5, 300]))


def test_search_ranks_prefix_and_whole_words_then_popularity():
    s = _tiny_search()
    assert s.search("amelie").tolist() == [0]
    assert s.search("AMÉLIE").tolist() == [0]
    assert s.search("star wars").tolist()[:2] == [1, 5]
    # "star" as a word start beats "star" inside a word; popularity breaks ties.
    assert s.search("star").tolist() == [1, 5, 3, 2]
    assert s.search("sta wa").tolist() == [1, 5]
    assert s.search("the wars").tolist() == [4]
    assert s.search("").tolist() == [1, 5, 3, 2, 0, 4]


def test_a_title_without_its_article_starts_with_the_words_typed():
    # "crow" ranked "Crows and Sparrows" (2 ratings) above "Crow, The" (134): the title's
    # key starts "the crow", so only a query starting "the" found it starting so.
    from cinerec.data.dataset import Catalog

    titles = ["Crows and Sparrows", "Crow, The", "Rocket Man", "Rock, The", "The Fan", "Fantasia", "Olvidados, Los",
              "Die Hard", "Hard Target", "A Bug's Life", "Buglers"]
    pop = np.array([2, 134, 49, 378, 60, 30, 5, 200, 10, 90, 100])
    s = MovieSearch(Catalog(np.array(titles, dtype=object), np.zeros(len(titles)), (), np.zeros((len(titles), 0))),
                    pop)
    assert s.search("crow").tolist()[:2] == [1, 0]
    assert s.search("rock").tolist()[:2] == [3, 2]
    assert s.search("fan").tolist()[:2] == [4, 5]
    assert s.search("the crow").tolist()[:1] == [1] and s.search("olvidados").tolist() == [6]
    assert s.search("bug").tolist() == [9, 10] and s.search("bugs").tolist() == [9]
    # "die" is an article in German, not in "Die Hard": "hard" starts "Hard Target" alone.
    assert s.search("hard").tolist() == [8, 7]


def test_numbers_as_words_or_digits_an_ampersand_and_words_typed_together_find_the_title():
    # "12 monkeys" found nothing for "Twelve Monkeys", "wallace and gromit" nothing for
    # "Wallace & Gromit", "toystory" nothing for "Toy Story".
    from cinerec.data.dataset import Catalog

    titles = ["Twelve Monkeys", "12 Angry Men", "Wallace & Gromit: The Best of Aardman Animation", "Toy Story",
              "Batman & Robin", "Seven (Se7en)", "Story of Us, The", "AT&T Blues", "Thirty-Two Short Films"]
    pop = np.array([50, 40, 30, 450, 60, 200, 5, 3, 8])
    s = MovieSearch(Catalog(np.array(titles, dtype=object), np.zeros(len(titles)), (), np.zeros((len(titles), 0))),
                    pop)
    assert s.search("12 monkeys").tolist() == [0] and s.search("twelve monkeys").tolist() == [0]
    assert s.search("twelve angry men").tolist() == [1] and s.search("12 angry").tolist() == [1]
    assert s.search("wallace and gromit").tolist() == [2] and s.search("wallace & gromit").tolist() == [2]
    assert s.search("wallace gromit").tolist() == [2] and s.search("batman and robin").tolist() == [4]
    assert s.search("toystory").tolist() == [3] and s.search("toysto").tolist() == [3]
    assert s.search("storyofus").tolist() == [6]
    assert s.search("7").tolist() == [5]
    assert s.search("at&t").tolist()[:1] == [7]  # (no ampersand between words: not "and")
    assert s.search("32 short").tolist() == []  # (only numbers from 2 to 20 written as words)
    # A number's other form is compared whole: no piece of it ("welv" of the "twelve" of
    # "12 Angry Men", which shows only its digits).
    assert s.search("welv").tolist() == [0] and s.search("twelve").tolist() == [0, 1]
    # An ampersand alone is no word, spaces around it or not.
    assert s.search(" & ").tolist() == [] and s.search("&").tolist() == []
    # Words typed together are tried only where no title holds every word apart.
    assert s.search("story").tolist() == [6, 3]
    assert s.search("toystory", year_from=2000).tolist() == []


def test_a_year_in_the_query_matches_the_release_year():
    # "star wars (1977)" found nothing: titles hold their years apart.
    s = _tiny_search()
    assert s.search("star wars (1977)").tolist() == [1]
    assert s.search("star 1997").tolist() == [3]
    assert s.search("1999").tolist() == [5]
    assert s.search("star wars 2001").tolist() == []
    assert s.search("197").tolist() == []  # three digits are no year
    # Digits of other scripts that are no decimal number (Ethiopic ፩, Kharoshthi): none
    # found, where the search ended in a traceback (a 500 over HTTP).
    assert s.search("፩፩፩፩").tolist() == [] and s.search("19፩፩").tolist() == []
    assert s.search("\U00010a40\U00010a41\U00010a42\U00010a43").tolist() == []
    # A movie of unknown year (0) has no year for "0000" to name.
    from cinerec.data.dataset import Catalog

    cat = s.catalog
    unknown = MovieSearch(Catalog(cat.titles, np.array([0, 1977, 1996, 1997, 1989, 1999]), cat.genre_names, cat.genres),
                          s.popularity)
    assert unknown.search("0000").tolist() == []


def test_search_filters_by_genre_and_years():
    s = _tiny_search()
    assert s.search("", genre="drama").tolist() == [2, 0, 4]
    assert s.search("", year_from=1990, year_to=1999).tolist() == [5, 3, 2]
    assert s.search("star", limit=1).tolist() == [1]
    with pytest.raises(ConfigError, match="unknown genre 'Western'"):
        s.search("", genre="Western")


def test_search_real_catalog(run):
    ds = run.dataset
    s = MovieSearch(ds.catalog, ds.interactions.item_counts)
    first = s.search("star wars")[0]
    assert ds.movie_record(first)["movie_id"] == 50
    assert ds.movie_record(s.search("godfather")[0])["title"] == "Godfather, The"
    assert ds.movie_record(s.search("star wars (1977)")[0])["movie_id"] == 50


def test_a_run_model_refitted_elsewhere_does_not_change_the_runs_lists(run_dir):
    from cinerec.evaluation import get_protocol

    run = open_run(run_dir)
    users = run.dataset.user_ids.raw[:5].tolist()
    before = run.top_n(users, k=5, model="ease")
    get_protocol("random-full").prepare(run.dataset, seed=3).evaluate(run.model("ease"))  # refits it on 80 %
    after = run.top_n(users, k=5, model="ease")
    assert after["movie_id"].tolist() == before["movie_id"].tolist()
    assert run.model("ease").train_ is not None and len(run.model("ease").train_) == len(run.dataset.interactions)


def test_profile_ratings_come_back_in_the_order_they_were_entered(tmp_path):
    profiles = ProfileStore(tmp_path / "p.sqlite")
    pid = profiles.create({"50": None, "181": 4.0, "7": None})
    profiles.set_ratings(pid, {"300": 5.0, "2": None})
    assert list(profiles.get(pid)) == ["50", "181", "7", "300", "2"]


def test_top_n_takes_any_iterable_of_raw_ids(run_dir):
    run = open_run(run_dir)
    raw = run.dataset.user_ids.raw[:2].tolist()
    from_list = run.top_n(raw, k=3)
    assert run.top_n(u for u in raw).shape[0] == 2 * 10
    assert run.top_n(iter(raw), k=3)["movie_id"].tolist() == from_list["movie_id"].tolist()
    assert run.top_n(raw[0], k=3)["user_id"].tolist() == [raw[0]] * 3
    # ids come back as the data has them, whatever type was asked with ("1" for user 1)
    asked = run.top_n([str(raw[0]), np.int64(raw[1])], k=2)
    assert asked["user_id"].tolist() == [raw[0]] * 2 + [raw[1]] * 2 and asked["user_id"].dtype == np.int64
    empty = run.top_n([], k=2)
    assert dict(empty.dtypes.astype(str)) == dict(from_list.dtypes.astype(str))  # the same types with no rows


def test_a_url_not_postgresqls_is_refused_with_its_password_hidden(tmp_path):
    import click
    import typer

    from cinerec.cli import app
    from cinerec.errors import ConfigError
    from cinerec.serving.store import check_target, open_profiles, open_store

    for call, needle in ((lambda: check_target("mysql://u:secretpw@b/c"), "db mysql://u:***@b/c: unsupported URL"),
                         (lambda: check_target("POSTGRESQL://u:secretpw@h/d"), "write it postgresql://"),
                         (lambda: open_store("Postgres://u:secretpw@h/d"), "write it postgres://"),
                         (lambda: open_profiles(None, tmp_path, "mysql://u:secretpw@h/d"), "profiles mysql://u:***@h")):
        with pytest.raises(ConfigError, match=re.escape(needle)) as e:
            call()
        assert "secretpw" not in str(e.value)
    # serve's --profiles keeps a URL as written (a path type merged its "//" into one)
    serve = typer.main.get_command(app).commands["serve"]
    option = next(p for p in serve.params if p.name == "profiles")
    assert isinstance(option.type, click.types.StringParamType)


def test_store_mistakes_name_the_flag_on_the_command_line_and_the_argument_from_python(run_dir, tmp_path, capsys):
    # From Python, export_store() and create_app() were told "--db", "--profiles" and
    # "run `cinerec export` first"; the command line keeps its own words.
    from cinerec.cli import main
    from cinerec.serving.api import create_app

    db = tmp_path / "recs.sqlite"
    export_store(run_dir, db, k=3, progress=False)
    for argv, cli, python in (
            (["export", "--run", str(run_dir), "--db", "mysql://u:pw@h/d"], "--db mysql://u:***@h/d: unsupported URL",
             lambda: export_store(run_dir, "mysql://u:pw@h/d")),
            (["serve", "--run", str(run_dir), "--db", str(db), "--profiles", str(db)],
             f"--profiles {db}: is a store written by export", lambda: create_app(run_dir, db, profiles=db)),
            (["serve", "--run", str(run_dir), "--db", str(tmp_path / "none.sqlite")],
             "no recommendation store here (run `cinerec export` first)",
             lambda: create_app(run_dir, tmp_path / "none.sqlite"))):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert cli in err, err
        with pytest.raises(CinerecError) as e:
            python()
        said = str(e.value)
        assert "--" not in said.replace(str(tmp_path), "") or "`cinerec export`" in said, said
    with pytest.raises(DataError, match=re.escape("(run export_store() (`cinerec export`) first)")):
        create_app(run_dir, tmp_path / "none.sqlite")


def test_a_change_made_inside_a_change_is_refused_not_waited_for(tmp_path):
    # Waiting on the lock its own thread held, it waited for good (before the lock, SQLite
    # refused the second transaction at once).
    import threading

    from cinerec.errors import Unavailable

    store = ProfileStore(tmp_path / "p.sqlite")
    pid = store.create({"50": 4.0})
    said: list[BaseException] = []

    def nested() -> None:
        try:
            store.set_ratings(pid, {"51": 3.0}, forget=lambda stored: (store.create(), [])[1])
        except BaseException as e:  # noqa: BLE001 (whatever it was: said below)
            said.append(e)

    thread = threading.Thread(target=nested, daemon=True)
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive() and len(said) == 1 and isinstance(said[0], Unavailable), said
    assert store.get(pid) == {"50": 4.0}
    store.set_ratings(pid, {"52": 5.0})  # (the lock let go)
    assert store.get(pid) == {"50": 4.0, "52": 5.0}


def test_profiles_on_a_full_disk_are_unavailable_not_a_crash(tmp_path):
    # sqlite3's "database or disk is full" reached the API as a 500.
    from cinerec.errors import Unavailable

    store = ProfileStore(tmp_path / "p.sqlite")
    pid = store.create({"50": 4.0})
    con = store._conn()
    con.execute(f"PRAGMA max_page_count = {con.execute('PRAGMA page_count').fetchone()[0]}")  # no room left
    with pytest.raises(Unavailable, match=r"p.sqlite: the profiles could not be saved \(database or disk is full\)"):
        store.set_ratings(pid, {f"m{i}": 3.0 for i in range(2000)})
    assert store.get(pid) == {"50": 4.0}  # nothing half-saved


def test_a_model_scoring_not_a_number_is_one_line_for_export_and_n_a_for_recommend(tmp_path, capsys):
    # export ended in sqlite3.IntegrityError (NOT NULL on score), recommend in a TypeError.
    from cinerec.cli import main
    from cinerec.data.dataset import Catalog, Dataset, IdMap, Interactions
    from cinerec.models import create
    from cinerec.runs import finish_run, save_dataset, save_model

    users = [u for u in range(12) for _ in range(3)]
    items = [(u + j) % 9 for u in range(12) for j in range(3)]
    n = len(users)
    x = Interactions(np.array(users), np.array(items), np.full(n, 4.0), np.arange(n), 12, 9)
    ds = Dataset("small", x, IdMap(np.arange(100, 112), "user"), IdMap(np.arange(9), "movie"), Catalog.unknown(9))
    model = create("ease").fit(x)
    model.weights_[5] = np.nan  # (the people who rated movie 5: users 103 to 105)
    save_dataset(tmp_path / "run", ds)
    save_model(tmp_path / "run", model)
    finish_run(tmp_path / "run", meta={"command": "test"}, report="# r\n")
    assert main(["export", "--run", str(tmp_path / "run"), "--db", str(tmp_path / "s.sqlite"), "-q"]) == 2
    err = capsys.readouterr().err
    assert "ease: scores user 103's movie" in err and "not a number; the saved model is damaged" in err, err
    assert not (tmp_path / "s.sqlite").exists() and len(err.strip().splitlines()) == 1
    assert main(["recommend", "--run", str(tmp_path / "run"), "--user", "103", "-k", "2"]) == 0
    assert "score n/a" in capsys.readouterr().out
    # every weight so: the model is refused as damaged when read (it listed movies in no order)
    model.weights_[:] = np.nan
    save_model(tmp_path / "run", model)
    assert main(["recommend", "--run", str(tmp_path / "run"), "--user", "100", "-k", "2"]) == 2
    err = capsys.readouterr().err
    assert "models/ease: saved model is damaged (ValueError: its scores are not numbers (NaN))" in err, err
    model.weights_[:] = np.inf  # (as NaN: every movie tied, listed in no order of the model's)
    save_model(tmp_path / "run", model)
    assert main(["recommend", "--run", str(tmp_path / "run"), "--user", "100", "-k", "2"]) == 2
    assert "models/ease: saved model is damaged (ValueError: its scores are infinite)" in capsys.readouterr().err


def test_a_store_named_under_a_file_says_so_not_that_the_folder_is_missing(tmp_path):
    from cinerec.serving.store import check_target

    (tmp_path / "afile").write_text("x")
    with pytest.raises(DataError, match=r"afile/deeper/x\.sqlite: cannot write the store there \(.*afile is a file, not a folder\)"):
        check_target(tmp_path / "afile" / "deeper" / "x.sqlite")
    with pytest.raises(DataError, match=r"nowhere: no such folder for the store x\.sqlite"):
        check_target(tmp_path / "nowhere" / "x.sqlite")


def test_a_meta_table_of_someone_else_s_is_said_by_its_key_not_by_the_json_decoder(tmp_path):
    # "not a cinerec recommendation store (Expecting value: line 1 column 1 (char 0))"
    path = tmp_path / "other.sqlite"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT)")
    con.executemany("INSERT INTO meta VALUES (?, ?)", [("format", "4"), ("owner", "accounting")])
    con.commit()
    con.close()
    with pytest.raises(DataError) as e:
        open_store(path)
    assert str(e.value) == (f"{path}: not a cinerec recommendation store (its meta table's 'owner' is not a value a "
                            "store writes: 'accounting')")


def test_a_profiles_file_on_a_full_disk_is_said_so_not_called_foreign(tmp_path, monkeypatch):
    # "p.sqlite: not a cinerec profiles file (database or disk is full)", for a good file on
    # a full disk, and a new file begun for the start was left behind.
    import sqlite3

    real = ProfileStore._conn

    def full(self):
        real(self)
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(ProfileStore, "_conn", full)
    path = tmp_path / "p.sqlite"
    with pytest.raises(DataError, match=re.escape(f"{path}: the profiles file could not be opened for writing (database "
                                                  "or disk is full); free some space")):
        ProfileStore(path)
    assert not any(tmp_path.iterdir())
    # A good file, its check read on a full disk: said so too, and kept, with nothing beside it.
    monkeypatch.undo()
    good = tmp_path / "good.sqlite"
    store = ProfileStore(good)
    store.create({"50": 4.0})
    store.close_all()
    before = sorted(p.name for p in tmp_path.iterdir())
    real_connect = sqlite3.connect

    def failing(*args, **kwargs):
        con = real_connect(*args, **kwargs)
        if "mode=ro" in str(args[0] if args else kwargs.get("database", "")):
            raise sqlite3.OperationalError("disk I/O error")
        return con

    monkeypatch.setattr("cinerec.serving.store.sqlite3.connect", failing)
    with pytest.raises(DataError, match=re.escape(f"{good}: the profiles file could not be opened for writing (disk "
                                                  "I/O error)")):
        ProfileStore(good)
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == before and ProfileStore(good).count() == 1


@pytest.mark.parametrize("when", ["before its turn", "while it writes"])
def test_a_folder_moved_while_its_store_is_exported_is_said_and_not_made_again(run_dir, tmp_path, monkeypatch, when):
    # Moved while the store was written: a traceback, its temp file left in the moved folder;
    # moved before the export took its turn: the folder made again, holding the store alone,
    # and the export said it wrote it.
    from cinerec.serving import store as store_module

    folder = tmp_path / "R"
    folder.mkdir()
    if when == "before its turn":
        real_turn = store_module.in_turn

        def moved_then_turn(*args, **kwargs):
            folder.rename(tmp_path / "R2")
            return real_turn(*args, **kwargs)

        monkeypatch.setattr(store_module, "in_turn", moved_then_turn)
    else:
        real_blocks = store_module.ExportPlan.recommendation_blocks

        def moved_then_blocks(self, progress):
            folder.rename(tmp_path / "R2")
            yield from real_blocks(self, progress)

        monkeypatch.setattr(store_module.ExportPlan, "recommendation_blocks", moved_then_blocks)
    with pytest.raises(DataError, match=rf"{re.escape(str(folder))}: moved or removed while the export ran; no store "
                                        "was written there"):
        store_module.export_store(run_dir, folder / "store.sqlite", k=5, progress=False)
    assert not folder.exists()
    assert not list((tmp_path / "R2").iterdir())  # no temporary file, no lock left in it


def test_a_missing_file_of_another_kind_during_an_export_is_not_blamed_on_its_folder(run_dir, tmp_path, monkeypatch):
    from cinerec.serving import store as store_module

    def missing(self, progress):
        raise FileNotFoundError(2, "No such file or directory", str(tmp_path / "weights.npz"))
        yield  # (a generator, as the method is)

    monkeypatch.setattr(store_module.ExportPlan, "recommendation_blocks", missing)
    with pytest.raises(FileNotFoundError, match="weights.npz"):
        store_module.export_store(run_dir, tmp_path / "new.sqlite", k=5, progress=False)
    assert not list(tmp_path.glob(".new.sqlite*"))


def test_search_finds_hyphenated_words_typed_together_and_roman_sequels_by_their_digits():
    # "spiderman" and "extraterrestrial" found nothing (the hyphen split the title's word),
    # nor "godfather 2" "Godfather: Part II".
    from cinerec.data.dataset import Catalog
    from cinerec.serving.search import title_key

    titles = ["Spider-Man (2002)", "E.T. the Extra-Terrestrial (1982)", "Godfather: Part II, The (1974)",
              "Rocky 2 (1979)", "Star Wars: Episode IV - A New Hope (1977)", "2 Days in the Valley (1996)",
              "Spider Baby (1968)", "Rocky V (1990)", "Malcolm X (1992)", "20,000 Leagues Under the Sea (1954)",
              "Naked Gun 33 1/3: The Final Insult (1994)", "Extra-Mural (1999)", "Xi'an Story (2000)"]
    cat = Catalog(np.array(titles, dtype=object), np.zeros(len(titles), dtype=np.int64), ("Drama",),
                  np.ones((len(titles), 1), dtype=bool))
    s = MovieSearch(cat, np.arange(len(titles), 0, -1))
    for query, found in [("spiderman", [0]), ("spider-man", [0]), ("spider man", [0]), ("spider", [0, 6]),
                         ("extraterrestrial", [1]), ("extra terrestrial", [1]), ("godfather 2", [2]),
                         ("godfather part ii", [2]), ("rocky 2", [3]), ("rocky v", [7]),
                         ("star wars episode 4", [4]), ("episode iv", [4]), ("2 days", [5]),
                         # A lone V or X is a letter, a number in other words none, and a query
                         # word is found inside a title's word, not across its hyphen.
                         ("10", []), ("malcolm x", [8]), ("xx", []), ("iii", []), ("tram", []), ("11", []),
                         ("extramural", [11]), ("extra mural", [11])]:
        assert s.search(query).tolist() == found, query
    # Written with Unicode's own numerals and dashes, as the key reads them.
    titles = ["Final Fantasy Ⅱ (1990)", "ＲＯＣＫＹ ＩＩ (1979)", "Spider－Man (2002)", "Jean–Luc Story (2001)"]
    cat = Catalog(np.array(titles, dtype=object), np.zeros(len(titles), dtype=np.int64), ("Drama",),
                  np.ones((len(titles), 1), dtype=bool))
    wide = MovieSearch(cat, np.ones(len(titles), dtype=np.int64))
    for query, found in [("fantasy 2", [0]), ("rocky 2", [1]), ("spiderman", [2]), ("spiderm", [2]),
                         ("jeanluc", [3])]:
        assert wide.search(query).tolist() == found, query
    # Typed together, the hyphenated word still starts its title.
    assert s.search("spiderm").tolist() == [0] and s.search("spid").tolist()[:1] == [0]
    assert title_key("Spider-Man") == "spider man spiderman" and search_key("Spider-Man") == "spider man"
    # A query's hyphen joins nothing: "star-wars" still finds a title written without one.
    cat = Catalog(np.array(["Star Wars (1977)"], dtype=object), np.zeros(1, dtype=np.int64), ("Drama",),
                  np.ones((1, 1), dtype=bool))
    assert MovieSearch(cat, np.array([1])).search("star-wars").tolist() == [0]


def test_a_sequel_numbered_in_digits_is_found_by_its_roman_numeral():
    # "die hard ii" found no "Die Hard 2": only a title's Roman numerals had digits too.
    from cinerec.data.dataset import Catalog
    from cinerec.serving.search import _numerals, _title_keys

    titles = ["Die Hard 2", "Babe 2: Pig in the City", "20,000 Leagues Under the Sea", "Naked Gun 33 1/3",
              "Se7en", "Apollo 13", "2.5 Men", "Rocky V", "10 Things I Hate About You", "8 Seconds",
              "House Party 3", "Godfather: Part II, The"]
    cat = Catalog(np.array(titles, dtype=object), np.zeros(len(titles), dtype=np.int64), ("Drama",),
                  np.ones((len(titles), 1), dtype=bool))
    s = MovieSearch(cat, np.ones(len(titles), dtype=np.int64))
    for query, found in [("die hard ii", [0]), ("babe ii", [1]), ("apollo xiii", [5]), ("die hard 2", [0]),
                         ("viii", [9]), ("house party iii", [10]),
                         # Only a number standing alone from 2 to 20 is a sequel's: not one
                         # of "20,000", "1/3", "2.5" or a word, and a lone V or X stays a letter.
                         ("xx", []), ("xxx", []), ("v", [7]), ("x", []),
                         # A numeral is compared whole: "vii" is not in "viii", nor "ii" in
                         # "iii" ("part ii" found House Party 3), nor "xi" in "xiii".
                         ("vii", []), ("part ii", [11]), ("xi", []), ("apollo xi", []),
                         # A number in words finds it in digits or Roman numerals alike.
                         ("godfather two", [11]), ("die hard two", [0]), ("apollo thirteen", [5])]:
        assert s.search(query).tolist() == found, query
    # (its number as a word too, compared whole: "die hard two" finds it)
    assert _title_keys("Die Hard 2") == ("die hard 2", "die hard 2") and _numerals("Die Hard 2") == " ii two "


def test_a_single_letter_of_a_query_starts_a_word():
    # "godfather p", as it is typed, found any Godfather holding a "p"; a lone "x" every
    # title with an x inside a word.
    from cinerec.data.dataset import Catalog

    titles = ["E.T. the Extra-Terrestrial", "Get Shorty", "Return of the Jedi", "Godfather: Part II, The",
              "Godfather, The", "Mad Max", "Malcolm X", "Dont Look Back", "LA Confidential", "X2: X-Men United",
              "Seven (Se7en)", "Apollo 13"]  # (as a catalogue holds them: the year apart)
    cat = Catalog(np.array(titles, dtype=object), np.zeros(len(titles), dtype=np.int64), ("Drama",),
                  np.ones((len(titles), 1), dtype=bool))
    s = MovieSearch(cat, np.ones(len(titles), dtype=np.int64))
    for query, found in [("godfather p", [3]), ("x", [9, 6]), ("ma", [5, 6]), ("e.t.", [0, 1, 2]),
                         # Initials and a word cut at an apostrophe are no letters typed alone,
                         # nor is a digit.
                         ("don't look back", [7]), ("l.a. confidential", [8]), ("x 2", [9]), ("7", [10]),
                         ("apollo 3", [11])]:
        assert s.search(query).tolist() == found, query
    # In a script written without spaces a title is one long word: one character is found in it.
    titles = ["千と千尋の神隠し", "となりのトトロ", "สวัสดี", "사랑해"]
    cat = Catalog(np.array(titles, dtype=object), np.zeros(len(titles), dtype=np.int64), ("Drama",),
                  np.ones((len(titles), 1), dtype=bool))
    s = MovieSearch(cat, np.ones(len(titles), dtype=np.int64))
    for query, found in [("神", [0]), ("尋", [0]), ("ト", [1]), ("ว", [2]), ("랑", [3])]:
        assert s.search(query).tolist() == found, query
