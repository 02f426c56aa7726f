"""MovieLens loaders: the genuine ml-100k files, and every layout through synthetic copies."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from cinerec.data import Dataset, load, movielens, official_split
from cinerec.data.movielens import ML1M_OCCUPATIONS, parse_titles
from cinerec.data.synthetic import synthesize, write_release
from cinerec.errors import ConfigError, DataError, NotFoundError


@pytest.fixture(scope="module")
def ml100k(ml100k_dir) -> Dataset:
    return load(ml100k_dir)


def test_real_ml100k_counts(ml100k: Dataset) -> None:
    d = ml100k.describe()
    assert (d["ratings"], d["users"], d["items"], d["catalog_items"]) == (100_000, 943, 1682, 1682)
    assert ml100k.info["release"] == "ml-100k"
    assert (d["min_rating"], d["max_rating"]) == (1.0, 5.0)
    assert d["genres"][:3] == ["unknown", "Action", "Adventure"] and len(d["genres"]) == 19


def test_real_ml100k_first_movie_and_user(ml100k: Dataset) -> None:
    assert ml100k.movie_record(0) == {
        "movie_id": 1, "title": "Toy Story", "year": 1995, "genres": ["Animation", "Children's", "Comedy"],
    }
    u = ml100k.user_ids.index([1])[0]
    row = ml100k.user_features.iloc[u]
    assert (row["age"], row["gender"], row["occupation"]) == (24, "M", "technician")
    assert row["zip"] == "85711"


def test_real_ml100k_keeps_file_order_and_sorted_ids(ml100k: Dataset) -> None:
    x = ml100k.interactions
    # u.data starts "196 242 3 881250949"; ids are encoded in sorted raw order.
    assert ml100k.user_ids.to_raw([x.users[0]])[0] == 196
    assert ml100k.item_ids.to_raw([x.items[0]])[0] == 242
    assert (x.ratings[0], x.timestamps[0]) == (3.0, 881250949)
    assert np.array_equal(ml100k.item_ids.raw, np.arange(1, 1683))
    assert not x.users.flags.writeable


def test_real_ml100k_official_folds(ml100k: Dataset, ml100k_dir) -> None:
    assert list(ml100k.folds) == ["u1", "u2", "u3", "u4", "u5", "ua", "ub"]  # read with u.data
    u1 = official_split(ml100k, "u1")
    train, test = u1.train, u1.test
    assert len(train) + len(test) == 100_000 and len(test) == 20_000
    assert (train.n_users, train.n_items) == (943, 1682)
    test_a = official_split(ml100k, "ua").test
    assert len(test_a) == 9_430
    assert np.all(np.bincount(test_a.users, minlength=943) == 10)
    # Same id space: every test rating is a rating of the full dataset.
    full = ml100k.interactions.csr
    assert np.allclose(full[test.users, test.items].A1, test.ratings)
    # The rows are those of the published files, in their order (by user, then movie).
    lines = (ml100k_dir / "u1.test").read_text().split("\n")[:3]
    first = [tuple(int(v) for v in line.split("\t")) for line in lines]
    got = [(int(ml100k.user_ids.to_raw([u])[0]), int(ml100k.item_ids.to_raw([i])[0]), int(r), int(t))
           for u, i, r, t in zip(test.users[:3], test.items[:3], test.ratings[:3], test.timestamps[:3])]
    assert got == first
    with pytest.raises(NotFoundError, match="u9"):
        official_split(ml100k, "u9")


def test_a_fold_file_naming_an_unrated_pair_is_refused_with_its_line(tmp_path) -> None:
    from cinerec.data.synthetic import write_release

    folder = write_release(tmp_path / "ml-100k", "ml-100k", 0.05, seed=1)
    assert set(load(folder).folds) == {"u1", "u2", "u3", "u4", "u5", "ua", "ub"}
    lines = (folder / "u2.test").read_text().splitlines()
    user, movie, *_ = lines[2].split("\t")
    rated = {tuple(line.split("\t")[:2]) for line in (folder / "u.data").read_text().splitlines()}
    other = next(m for m in range(1, 10_000) if (user, str(m)) not in rated and m != int(movie))
    lines[2] = "\t".join([user, str(other), "3", "880000000"])
    (folder / "u2.test").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=rf"u2\.test line 3: user {user} never rated movie {other}"):
        load(folder)
    for k in range(1, 6):
        (folder / f"u{k}.test").unlink()
    assert set(load(folder).folds) == {"ua", "ub"}  # only the folds whose files are there


def test_real_ml100k_implicit(ml100k_dir) -> None:
    d = load(ml100k_dir, implicit=True)
    assert np.all(d.interactions.ratings == 1.0) and d.info["implicit"]
    test = official_split(d, "u2").test
    assert np.all(test.ratings == 1.0)


@pytest.mark.parametrize(
    "raw, title, year",
    [
        ("Toy Story (1995)", "Toy Story", 1995),
        ("Seven (Se7en) (1995)", "Seven (Se7en)", 1995),
        ("American President, The (1995)", "American President, The", 1995),
        ("Babylon 5 (2007-)", "Babylon 5", 2007),
        ("Cosmos (1980-1981) ", "Cosmos", 1980),
        ("unknown", "unknown", 0),
        ("1776 (1972)", "1776", 1972),
        ("Movie With No Year", "Movie With No Year", 0),
        ("Ciné 2 ( 1952 )", "Ciné 2", 1952),  # spaces inside the brackets (a catalogue of one's own)
        # ml-100k's movie 1412: a video mark after the year stays in the title, the year is read
        ("Land Before Time III: The Time of the Great Giving (1995) (V)", "Land Before Time III: The Time of the Great Giving (V)", 1995),
        ("Mini-series (1990) (TV)", "Mini-series (TV)", 1990),
        ("Hidden (V) (2001)", "Hidden (V)", 2001),
        ("Baz (1995)(TV)", "Baz (TV)", 1995),  # one space before the mark, whatever was written
        ("Z (1995)  (V)", "Z (V)", 1995),
        ("(1995) (V)", "(1995) (V)", 1995),  # (it was "(V)" alone)
        # a title that is its year alone keeps it as its words (it was "": a reason "because you liked ")
        ("(1999)", "(1999)", 1999),
        ("  ( 1999 ) ", "( 1999 )", 1999),
    ],
)
def test_parse_titles(raw: str, title: str, year: int) -> None:
    titles, years = parse_titles([raw])
    assert (titles[0], int(years[0])) == (title, year)
    assert years.dtype == np.int32


# -- every layout, through synthetic copies written in the genuine formats ----------------

_SCALES = {"ml-100k": 0.05, "ml-1m": 0.01, "ml-10m": 0.002, "ml-20m": 0.001, "ml-25m": 0.001,
           "ml-32m": 0.001, "ml-latest-small": 0.1}


@pytest.mark.parametrize("like", list(_SCALES))
def test_synthetic_round_trip(like: str, tmp_path) -> None:
    rel = synthesize(like, _SCALES[like], seed=5)
    folder = write_release(tmp_path / like, like, _SCALES[like], seed=5)
    d = load(folder)
    r = rel.ratings
    assert d.info["release"] == like
    assert len(d.interactions) == len(r)
    assert d.n_users == r["user_id"].nunique() and d.n_items == r["movie_id"].nunique()
    assert d.info["catalog_items"] == len(rel.movies)
    # File order and values survive, ids map back to the raw ones.
    x = d.interactions
    assert np.array_equal(d.user_ids.to_raw(x.users), r["user_id"].to_numpy())
    assert np.array_equal(d.item_ids.to_raw(x.items), r["movie_id"].to_numpy())
    assert np.array_equal(x.ratings, r["rating"].to_numpy(np.float32))
    assert np.array_equal(x.timestamps, r["timestamp"].to_numpy())
    assert np.all(np.diff(d.item_ids.raw) > 0)  # sorted raw id order
    # The catalog is aligned to item index.
    movies = rel.movies.set_index("movie_id")
    pos = d.item_ids.raw
    titles, years = parse_titles(movies.loc[pos, "title"].to_numpy())
    assert list(d.catalog.titles) == list(titles)
    assert np.array_equal(d.catalog.years, years)
    flags = rel.genre_flags[np.searchsorted(rel.movies["movie_id"].to_numpy(), pos)]
    names = list(rel.genre_names)
    assert np.array_equal(d.catalog.genres, flags[:, [names.index(g) for g in d.catalog.genre_names]])
    assert (d.user_features is not None) == (like in ("ml-100k", "ml-1m"))
    if d.user_features is not None:
        assert list(d.user_features.columns) == ["age", "gender", "occupation", "zip"]
        users = rel.users.set_index("user_id").loc[d.user_ids.raw]
        assert np.array_equal(d.user_features["age"].to_numpy(), users["age"].to_numpy())


def test_csv_titles_with_commas_and_quotes_and_no_genres(tmp_path) -> None:
    rel = synthesize("ml-latest-small", 0.2, seed=11)
    folder = write_release(tmp_path / "small", "ml-latest-small", 0.2, seed=11)
    text = (folder / "movies.csv").read_text()
    assert ", The (" in text and '"""' in text  # a comma title, and a quoted one written as CSV does
    d = load(folder, release="ml-latest-small")
    by_id = dict(zip(d.item_ids.raw.tolist(), d.catalog.titles))
    movies = rel.movies[rel.movies["movie_id"].isin(d.item_ids.raw)]
    comma = movies[movies["title"].str.contains(",")].iloc[0]
    assert by_id[comma["movie_id"]] == parse_titles([comma["title"]])[0][0]
    assert "," in by_id[comma["movie_id"]]
    quoted = movies[movies["title"].str.contains('"')].iloc[0]
    assert by_id[quoted["movie_id"]].startswith('"')
    none = movies[movies["genres"] == ""]
    assert "(no genres listed)" in text and len(none)
    item = d.item_ids.index([none["movie_id"].iloc[0]])[0]
    assert not d.catalog.genres[item].any()
    assert "(no genres listed)" not in d.catalog.genre_names


def _assert_same_dataset(a: Dataset, b: Dataset) -> None:
    """Every array, id, title and fact but the source folder is equal."""
    for name in ("users", "items", "ratings", "timestamps"):
        x, y = getattr(a.interactions, name), getattr(b.interactions, name)
        assert x.dtype == y.dtype and np.array_equal(x, y), name
    assert np.array_equal(a.user_ids.raw, b.user_ids.raw) and np.array_equal(a.item_ids.raw, b.item_ids.raw)
    assert list(a.catalog.titles) == list(b.catalog.titles)
    assert np.array_equal(a.catalog.years, b.catalog.years)
    assert a.catalog.genre_names == b.catalog.genre_names
    assert np.array_equal(a.catalog.genres, b.catalog.genres)
    assert {**a.describe(), "name": ""} == {**b.describe(), "name": ""}
    assert {**a.info, "source": ""} == {**b.info, "source": ""}


@pytest.mark.parametrize("like", ["ml-100k", "ml-1m", "ml-25m"])
def test_windows_line_endings_read_the_same(like: str, tmp_path) -> None:
    unix = load(write_release(tmp_path / "lf" / like, like, _SCALES[like], seed=2))
    windows_folder = write_release(tmp_path / "crlf" / like, like, _SCALES[like], seed=2, crlf=True)
    ratings_file = "u.data" if like == "ml-100k" else "ratings.dat" if like == "ml-1m" else "ratings.csv"
    assert b"\r\n" in (windows_folder / ratings_file).read_bytes()
    _assert_same_dataset(unix, load(windows_folder))


def test_small_windows_csv_release(tmp_path) -> None:
    """A hand-written CRLF release with a byte-order mark, quoted titles and blank lines."""
    lf = tmp_path / "lf"
    lf.mkdir()
    (lf / "ratings.csv").write_bytes(
        b"userId,movieId,rating,timestamp\n1,10,4.0,100\n7,3,0.5,50\n\n1,3,5.0,75\n"
    )
    (lf / "movies.csv").write_bytes(
        b'movieId,title,genres\n3,"Matrix, The (1999)",Action|Sci-Fi\n'
        b'10,"A ""Quoted"" Title (2001)",(no genres listed)\n\n11,Unrated (1990),Drama\n'
    )
    crlf = tmp_path / "crlf"
    crlf.mkdir()
    for name in ("ratings.csv", "movies.csv"):
        (crlf / name).write_bytes(b"\xef\xbb\xbf" + (lf / name).read_bytes().replace(b"\n", b"\r\n"))
    unix, windows = load(lf), load(crlf)
    _assert_same_dataset(unix, windows)
    x = windows.interactions
    assert windows.user_ids.raw.tolist() == [1, 7] and windows.item_ids.raw.tolist() == [3, 10]
    assert x.users.tolist() == [0, 1, 0] and x.items.tolist() == [1, 0, 0]
    assert x.ratings.tolist() == [4.0, 0.5, 5.0] and x.timestamps.tolist() == [100, 50, 75]
    assert list(windows.catalog.titles) == ["Matrix, The", 'A "Quoted" Title']
    assert windows.catalog.years.tolist() == [1999, 2001]
    assert windows.catalog.genre_names == ("Action", "Drama", "Sci-Fi")  # from every movie in the file
    assert windows.catalog.genres.tolist() == [[True, False, True], [False, False, False]]
    assert windows.info["catalog_items"] == 3


@pytest.mark.parametrize("family", ["csv", "100k"])
def test_a_pair_rated_twice_in_a_release_is_refused_with_both_lines(family, tmp_path) -> None:
    # A ratings file joined with itself was read whole: each held-out rating's twin stayed
    # in training, and every ranking figure fell to 0.
    folder = tmp_path / ("ml-latest-small" if family == "csv" else "ml-100k")
    if family == "csv":
        folder.mkdir()
        (folder / "movies.csv").write_text("movieId,title,genres\n3,Three (1999),Drama\n10,Ten (2001),Drama\n")
        (folder / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,3,4.0,100\n1,10,3.0,90\n"
                                            "7,3,0.5,50\n7,10,1.0,60\n1,10,5.0,95\n")
        where = "ratings.csv line 6: user 1 rated movie 10 again (first on line 3)"
    else:
        folder = write_release(folder, "ml-100k", 0.01, seed=1)
        lines = (folder / "u.data").read_text().splitlines(keepends=True)
        (folder / "u.data").write_text("".join(lines[:40] + [lines[7]] + lines[40:]))
        user, movie = lines[7].split("\t")[:2]
        where = f"u.data line 41: user {user} rated movie {movie} again (first on line 8)"
    with pytest.raises(DataError, match=re.escape(where) + ".*holds each pair once"):
        load(folder)


@pytest.mark.parametrize("like, name", [("ml-100k", "u.data"), ("ml-1m", "ratings.dat"), ("ml-latest-small", "ratings.csv")])
def test_a_ratings_file_cut_inside_its_last_timestamp_is_refused(like, name, tmp_path) -> None:
    # '…::1028115192' cut to '…::102811' read as a rating from 1970, without a word.
    folder = write_release(tmp_path / like, like, 0.01, seed=1)
    text = (folder / name).read_text(encoding="latin-1")
    lines = text.splitlines()
    (folder / name).write_text(text.rstrip("\n")[:-4], encoding="latin-1")
    with pytest.raises(DataError, match=rf"{name} line {len(lines)}: the file ends inside this line .* looks cut short"):
        load(folder)
    (folder / name).write_text(text.rstrip("\n"), encoding="latin-1")  # whole, only its line end left out: read
    assert len(load(folder).interactions) == len(lines) - (name == "ratings.csv")


def test_a_whole_last_line_with_a_shorter_time_than_the_one_before_is_no_cut(tmp_path) -> None:
    # ml-10m's rows follow the movies: a user's last row may hold a 9-digit time (1996)
    # after a 10-digit one (2009). Without its final line end, the file was refused as cut.
    folder = write_release(tmp_path / "ml-10M100K", "ml-10m", 0.001, seed=1)
    lines = (folder / "ratings.dat").read_text(encoding="latin-1").splitlines()
    user, movie = lines[-1].split("::")[:2]
    lines[-2] = "::".join(lines[-2].split("::")[:3] + ["1230768000"])
    lines[-1] = f"{user}::{movie}::5::842367320"
    (folder / "ratings.dat").write_text("\n".join(lines), encoding="latin-1")
    assert load(folder).interactions.timestamps[-1] == 842367320


def test_movies_csv_fast_reader_agrees_with_the_line_reader(tmp_path) -> None:
    rel_folder = write_release(tmp_path / "small", "ml-latest-small", 0.2, seed=4, crlf=True)
    path = rel_folder / "movies.csv"
    lines = path.read_bytes().split(b"\r\n")
    movie_id, rest = lines[2].split(b",", 1)
    lines[2] = b"\r\n " + movie_id + b" ," + rest  # a blank line, then an id with spaces around it
    path.write_bytes(b"\r\n".join(lines))
    fast = movielens._movies_csv_fast(path)
    assert fast is not None
    slow = movielens._movies_csv_by_line(path)
    assert np.array_equal(fast[0], slow[0])
    assert fast[1].to_pylist() == list(slow[1]) and fast[2].to_pylist() == list(slow[2])
    assert parse_titles(fast[1])[0].tolist() == parse_titles(slow[1])[0].tolist()
    names, flags = movielens._genre_flags(fast[2])
    assert (names, flags.tolist()) == (lambda g: (g[0], g[1].tolist()))(movielens._genre_flags(slow[2]))


def test_genre_flags() -> None:
    names, flags = movielens._genre_flags(["Drama|Comedy", " Comedy ", "(no genres listed)", "", "Drama||War"])
    assert names == ("Comedy", "Drama", "War")
    assert flags.tolist() == [
        [True, True, False], [True, False, False], [False, False, False], [False, False, False], [False, True, True],
    ]
    assert movielens._genre_flags(["", ""])[1].shape == (2, 0)


def test_encode_chunked_columns_like_one_array() -> None:
    import pyarrow as pa

    rng = np.random.default_rng(0)
    for raw in (rng.integers(1, 500, 1000), np.array([5, -3, 5, 1 << 40, 7]), np.array([9])):
        whole = movielens._encode(raw.astype(np.int64))
        parts = pa.chunked_array([pa.array(raw[:3]), pa.array(raw[3:3]), pa.array(raw[3:])], type=pa.int64())
        chunked = movielens._encode(parts)
        assert np.array_equal(whole[1], np.unique(raw)) and np.array_equal(whole[1][whole[0]], raw)
        assert whole[0].dtype == chunked[0].dtype == np.int32
        assert np.array_equal(whole[0], chunked[0]) and np.array_equal(whole[1], chunked[1])


def test_reading_a_release_imports_neither_torch_nor_scipy(tmp_path) -> None:
    folder = write_release(tmp_path / "ml-25m", "ml-25m", 0.0005, seed=1)
    code = (
        "import sys\n"
        "from cinerec.data import load\n"
        f"load({str(folder)!r}).describe()\n"
        "print(sorted(m for m in ('torch', 'scipy') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_sources_ml10m_folder_parent_folder_and_zip(tmp_path) -> None:
    folder = write_release(tmp_path / "ml-10M100K", "ml-10m", 0.002, seed=1)
    direct = load(folder)
    assert direct.info["release"] == "ml-10m"
    parent = load(tmp_path)  # the folder that holds the extracted release
    assert parent.info["release"] == "ml-10m" and len(parent.interactions) == len(direct.interactions)
    archive = tmp_path.parent / "ml-10m-copy.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for f in folder.iterdir():
            z.write(f, f"ml-10M100K/{f.name}")
    zipped = load(archive)
    assert zipped.info["release"] == "ml-10m" and zipped.name == "ml-10m-copy"
    assert np.array_equal(zipped.interactions.items, direct.interactions.items)


def test_a_release_name_reads_the_copy_where_one_runs_as_its_zip_unzips(tmp_path, monkeypatch) -> None:
    # ml-10m.zip unzips to ml-10M100K: "ml-10m" never found that folder, nor a zip beside
    # it, and went to the network (offline: a failed download) with the release at hand.
    monkeypatch.setenv("CINEREC_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CINEREC_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)
    folder = write_release(tmp_path / "ml-10M100K", "ml-10m", 0.002, seed=1)
    here = load("ml-10m")
    assert here.info["release"] == "ml-10m" and len(here.interactions) == len(load(folder).interactions)
    with zipfile.ZipFile(tmp_path / "ml-1m.zip", "w") as z:
        for f in write_release(tmp_path / "src" / "ml-1m", "ml-1m", 0.002, seed=2).iterdir():
            z.write(f, f"ml-1m/{f.name}")
    assert load("ml-1m").info["release"] == "ml-1m"
    with pytest.raises(Exception, match="ml-25m"):  # nothing of it here: the cache or the network, as before
        load("ml-25m")
    # what was read is recorded (not "a release from the cache"), and data fetch finds it too
    from cinerec.cli import main
    from cinerec.data.filters import Filters, data_record

    record = data_record({"source": "ml-10m"}, here, Filters(), [])
    assert record["source"] == "ml-10m" and record["source_path"] == str(folder.resolve())
    assert main(["data", "fetch", "ml-10m", "-q"]) == 0
    # a copy found by the release's name must hold that release, not another one
    (tmp_path / "other").mkdir()
    monkeypatch.chdir(tmp_path / "other")
    write_release(tmp_path / "other" / "ml-10M100K", "ml-latest-small", 0.05, seed=1)
    with pytest.raises(DataError, match=r"^ml-10m: the release name read \./ml-10M100K, found where you run, which "
                                        r"is not MovieLens ml-10m \(ml-10M100K: holds ratings\.csv, which is not the "
                                        r"layout of ml-10m\); to read it as it is, give it as \./ml-10M100K$"):
        load("ml-10m")
    assert main(["data", "fetch", "ml-10m", "-q"]) == 2  # fetch checks it as load does
    # the same for a folder of the release's own name
    write_release(tmp_path / "other" / "ml-1m", "ml-100k", 0.05, seed=1)
    with pytest.raises(DataError, match=r"^ml-1m: the release name read \./ml-1m, .*holds u\.data, which is not the "
                                        r"layout of ml-1m"):
        load("ml-1m")
    assert main(["data", "fetch", "ml-1m", "-q"]) == 2
    # a log of one's own under a release's name is said as such (it was "no ratings log")
    (tmp_path / "other" / "ml-100k").mkdir()
    (tmp_path / "other" / "ml-100k" / "ratings.csv").write_text("user,item\na,x\nb,y\n")
    with pytest.raises(DataError, match=r"^ml-100k: the release name read \./ml-100k, found where you run, which is "
                                        r"a ratings log of your own; to read it as it is, give it as \./ml-100k$"):
        load("ml-100k")
    assert len(load("./ml-100k").interactions) == 2


def test_a_folder_or_zip_holding_two_releases_says_how_to_give_one(tmp_path) -> None:
    # "pass one of them": no release can be picked out of a zip, and a folder's own
    # name was left for the reader to work out.
    from cinerec.errors import DataError

    both = tmp_path / "both"
    for name in ("a", "b"):
        write_release(both / name, "ml-100k", 0.02, seed=1)
    with pytest.raises(DataError, match=re.escape(f"{both}: holds several MovieLens releases (a, b); give the folder "
                                                  f"of one of them, e.g. {both / 'a'}")):
        load(both)
    assert load(both / "a").info["release"] == "ml-100k"
    archive = tmp_path / "both.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for f in sorted(both.rglob("*")):
            if f.is_file():
                z.write(f, f.relative_to(both).as_posix())
    with pytest.raises(DataError, match=re.escape(f"{archive}: holds several MovieLens releases (a, b); unzip it and "
                                                  "give the folder of one of them") + "$"):
        load(archive)


def test_a_zip_with_its_files_at_the_top_is_named_by_the_zips_own_name(tmp_path) -> None:
    # Unpacked into a cache folder named "ml-latest-small-<content hash>", it read as an
    # unnamed CSV release, where the same zip with a top folder, or a folder, was named.
    folder = _unlabelled(write_release(tmp_path / "data", "ml-latest-small", 0.05, seed=1))
    for name, release in (("ml-latest-small.zip", "ml-latest-small"), ("mine.zip", "movielens-csv")):
        with zipfile.ZipFile(tmp_path / name, "w") as z:
            for f in folder.iterdir():
                z.write(f, f.name)
        assert load(tmp_path / name).info["release"] == release


def test_release_argument_must_fit_the_files(tmp_path) -> None:
    folder = write_release(tmp_path / "data", "ml-25m", 0.001, seed=1)
    assert load(folder).info["release"] == "ml-25m"  # its folder name says nothing; its synthetic marker does
    folder = _unlabelled(folder)
    # A CSV release whose folder says nothing at all: the layout, not a guessed release
    # (it was labelled ml-latest, a release of its own).
    assert load(folder).info["release"] == "movielens-csv"
    assert load(folder, release="ml-25m").info["release"] == "ml-25m"
    with pytest.raises(DataError, match="ml-1m"):
        load(folder, release="ml-1m")
    with pytest.raises(ConfigError, match="^release 'ml-2m': unknown MovieLens release; known: ml-100k"):
        load(folder, release="ml-2m")  # (the flag at fault named, as every other flag's mistake is)


def test_a_release_name_that_another_release_s_files_contradict_is_refused(tmp_path) -> None:
    # ml-10m was taken for an ml-1m folder: read with ml-1m's users.dat, and labelled ml-10m.
    one = write_release(tmp_path / "a", "ml-1m", 0.005, seed=1)
    with pytest.raises(DataError, match=r"a synthetic release shaped like ml-1m \(cinerec data synthesize\), not ml-10m"):
        load(one, release="ml-10m")
    one = _unlabelled(one)
    with pytest.raises(DataError, match=r"holds users.dat, which ml-10m has not \(ml-1m's layout\)"):
        load(one, release="ml-10m")
    assert load(one, release="ml-1m").info["release"] == "ml-1m"
    ten = _unlabelled(write_release(tmp_path / "b", "ml-10m", 0.001, seed=1))
    with pytest.raises(DataError, match=r"holds no users.dat, which ml-1m has \(ml-10m's layout\)"):
        load(ten, release="ml-1m")


def test_ml1m_occupations_are_named(tmp_path) -> None:
    d = load(write_release(tmp_path / "ml-1m", "ml-1m", 0.01, seed=3))
    assert set(d.user_features["occupation"]) <= set(ML1M_OCCUPATIONS)
    assert set(d.user_features["age"]) <= {1, 18, 25, 35, 45, 50, 56}


def _unlabelled(folder):
    """A synthetic release's folder as a plain copy of a release's files would be: without
    the two files that say it is synthetic."""
    from cinerec.data.synthetic import LABEL, MARKER

    (folder / MARKER).unlink()
    (folder / LABEL).unlink()
    return folder


def test_a_path_whose_name_is_no_utf8_text_is_read(ml100k_dir, tmp_path) -> None:
    # A folder named in Latin-1 ("bad\xe9name"): pyarrow, handed the name, stopped at it
    # with a traceback (a release, its zip, a log of one's own, a Parquet file alike).
    import os
    import shutil

    import pandas as pd

    from cinerec.data.logs import load_log

    odd = os.fsdecode(b"bad\xe9name")
    try:
        folder = tmp_path / odd
        folder.mkdir()
    except (OSError, UnicodeError):  # (a file system that takes UTF-8 names alone)
        pytest.skip("this file system refuses names that are not UTF-8")
    for name in ("u.data", "u.item", "u.user", "u.genre"):
        shutil.copy(ml100k_dir / name, folder / name)
    assert len(load(folder).interactions) == 100_000
    log = pd.DataFrame({"user": ["a", "b", "a"], "item": ["x", "x", "y"], "rating": [5, 3, 4]})
    log.to_csv(folder / "log.csv", index=False)
    with open(folder / "log.parquet", "wb") as f:
        log.to_parquet(f)
    assert len(load_log(folder / "log.csv").interactions) == len(load_log(folder / "log.parquet").interactions) == 3
    # A run of it is saved too: its report names the folder, the odd byte written as an escape.
    from cinerec.cli import main

    assert main(["train", "--data", str(folder), "--model", "popularity", "--out", str(tmp_path / "run"), "-q"]) == 0
    assert "bad\\xe9name" in (tmp_path / "run" / "report.md").read_text(encoding="utf-8")


def test_a_zip_of_a_long_name_is_unpacked_under_a_short_one(ml100k_dir, tmp_path, monkeypatch) -> None:
    # Its cache folder was the zip's name and 17 more characters: past 255 bytes, a traceback.
    monkeypatch.setenv("CINEREC_HOME", str(tmp_path / "home"))
    zipped = tmp_path / ("z" * 246 + ".zip")
    with zipfile.ZipFile(zipped, "w") as z:
        for name in ("u.data", "u.item", "u.user", "u.genre"):
            z.write(ml100k_dir / name, f"ml-100k/{name}")
    assert len(load(zipped).interactions) == 100_000
    (folder,) = (tmp_path / "home" / "movielens" / "local").iterdir()
    assert len(folder.name) == 64 + 17 and folder.name.startswith("z" * 64 + "-")
