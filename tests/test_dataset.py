import numpy as np
import pandas as pd
import pytest

from cinerec.data.dataset import Catalog, Dataset, IdMap, Interactions
from cinerec.errors import ConfigError, DataError, NotFoundError


def small() -> Dataset:
    x = Interactions([0, 0, 1, 2, 2], [1, 2, 0, 2, 2], [5, 3, 4, 1, 2], [1, 2, 3, 4, 5], 3, 4)
    cat = Catalog(["A", "B", "Amélie", "D"], [1990, 0, 2001, 1977], ("Comedy", "Drama"),
                  [[1, 0], [0, 1], [1, 1], [0, 0]])
    feats = pd.DataFrame({"age": [20, 30, 40], "gender": ["M", "F", "M"]})
    return Dataset("small", x, IdMap([10, 20, 30], "user"), IdMap([100, 200, 300, 400]), cat, feats,
                   {"catalog_items": 5})


def test_arrays_are_read_only_and_callers_arrays_are_not():
    users = np.array([0, 1])
    x = Interactions(users, [0, 1], [1, 2], [0, 0], 2, 2)
    with pytest.raises(ValueError):
        x.users[0] = 1
    users[0] = 1  # the caller's array stays writeable
    with pytest.raises(AttributeError):
        x.n_users = 3


def test_interactions_validate_ranges_and_lengths():
    with pytest.raises(ValueError, match="user index"):
        Interactions([0, 3], [0, 0], [1, 1], [0, 0], 3, 1)
    with pytest.raises(ValueError, match="same length"):
        Interactions([0], [0, 0], [1, 1], [0, 0], 1, 1)


def test_csr_keeps_last_rating_of_a_repeated_pair():
    ds = small()
    m = ds.interactions.csr
    assert m.shape == (3, 4)
    assert m[2, 2] == 2.0  # the later row wins
    assert m[0, 1] == 5.0 and m[1, 0] == 4.0
    assert ds.interactions.seen.nnz == 4
    assert ds.interactions.user_counts.tolist() == [2, 1, 2]
    assert ds.interactions.item_counts.tolist() == [1, 1, 3, 0]


def test_id_map_round_trip_and_unknown_ids_are_named():
    ids = IdMap([10, 20, 30], "user")
    assert ids.index([30, 10]).tolist() == [2, 0]
    assert ids.index(["20"]).tolist() == [1]  # ids typed as text still match integer ids
    assert ids.to_raw([1, 2]).tolist() == [20, 30]
    assert ids.get(99) is None
    with pytest.raises(NotFoundError, match="unknown user id 99"):
        ids.index([10, 99])
    assert ids.index(["+20", " 30", "010"]).tolist() == [1, 2, 0]
    for odd in ("--20", "²", "٢٠", "1" * 25, None):  # never an index, never a traceback
        with pytest.raises(NotFoundError, match="unknown user id"):
            ids.index([odd])
    assert ids.get(None) is None  # None was taken for "every id is fine", then int("None") failed
    with pytest.raises(DataError, match="not unique"):
        IdMap([1, 1])
    words = IdMap(["u1", "u2"], "user")
    assert words.index(["u2"]).tolist() == [1]


def test_id_map_reads_whole_floats_and_text_ids_with_spaces_as_the_api_does():
    ids = IdMap([10, 20, 30], "user")
    column = pd.Series([20, None, 30]).dropna()  # a column that held a NaN stays float64
    assert ids.index(column).tolist() == [1, 2]
    assert ids.index(np.array([10.0])).tolist() == [0]
    assert ids.index([np.float32(30)]).tolist() == [2]
    for odd in (20.5, float("nan"), float("inf"), True):
        with pytest.raises(NotFoundError, match="unknown user id"):
            ids.index([odd])
    words = IdMap(["u1", " u2", "u3"], "user")
    assert words.index([" u1", "u3\n"]).tolist() == [0, 2]  # not found as written: tried stripped
    assert words.index([" u2"]).tolist() == [1]  # found as written first
    with pytest.raises(NotFoundError, match="unknown user id 'u4'"):
        words.index(["u1", "u4"])


def test_every_int64_id_is_found_by_its_text():
    # A log's 19-digit ids load as integers but "1000000000000000760" was no id to look up
    # (only 1 to 18 digits were read as integers): recommend --user said it was unknown.
    top = 2**63 - 1
    ids = IdMap([1000000000000000760, top, -top - 1, 5], "user")
    assert ids.index(["1000000000000000760", str(top), f"+00{top}", str(-top - 1), "0005"]).tolist() == [0, 1, 1, 2, 3]
    for beyond in (str(top + 1), "9" * 80):
        with pytest.raises(NotFoundError, match="unknown user id"):
            ids.index([beyond])


def test_a_text_id_is_found_whichever_way_its_accents_are_written():
    # A file written with "é" as e + a combining accent (NFD): the id typed as one
    # character was unknown, with an error that looked just like the id in the file.
    ids = IdMap(["user 3 e\u0301", "zoe\u0308", "caf\u00e9", "cafe\u0301"], "user")
    assert ids.index(["user 3 \u00e9", "zo\u00eb"]).tolist() == [0, 1]
    assert ids.index(["caf\u00e9", "cafe\u0301"]).tolist() == [2, 3]  # each as written
    with pytest.raises(NotFoundError, match="unknown user id"):
        ids.index([" caf\u00e9\u0301"])


def test_get_indexer_never_cuts_an_id_to_another_and_an_index_out_of_range_is_refused():
    # get_indexer([1.5]) gave user 1's index (the float was cut), "abc" and NaN raised
    # int()'s errors; raw_id(-1) gave the last user, and to_raw([0.7]) the first.
    ids = IdMap([1, 2, 3], "user")
    assert ids.get_indexer([1.5, 2.9, "abc", float("nan"), None, 2.0, "3", 9]).tolist() == [-1, -1, -1, -1, -1, 1, 2, -1]
    assert ids.get_indexer(np.array([3, 1])).tolist() == [2, 0] and ids.get_indexer([]).tolist() == []
    assert ids.get_indexer(2).tolist() == [1]
    words = IdMap(["a", "b"], "movie")
    assert words.get_indexer(["b", "z", 1]).tolist() == [1, -1, -1]
    assert ids.raw_id(2) == 3 and ids.to_raw(np.array([[0], [2]])).tolist() == [[1], [3]]
    assert ids.to_raw([1.0]).tolist() == [2]
    for bad, said in ((-1, "user index -1 is out of range"), (3, "user index 3 is out of range"),
                      (0.7, "user index 0.7 is no whole number")):
        with pytest.raises(ValueError, match=said):
            ids.raw_id(bad)
        with pytest.raises(ValueError, match=said):
            ids.to_raw([0, bad])
    with pytest.raises(ValueError, match="expected whole numbers"):
        ids.to_raw([True])
    # Numbers past int64 are said as given, not as what they wrapped to (1e19 read as -2**63).
    for bad, said in ((np.array([1e19]), r"user index 1e\+19 is out of range"),
                      (np.array([2**64 - 1], dtype=np.uint64), "user index 18446744073709551615 is out of range"),
                      ([2**70], r"user index 1.18059e\+21 is out of range")):
        with pytest.raises(ValueError, match=said):
            ids.to_raw(bad)
    signed = IdMap([-1, 5], "user")
    assert signed.get_indexer(np.array([2**64 - 1, 5], dtype=np.uint64)).tolist() == [-1, 1]  # (it read as -1)


def test_subset_drops_empty_users_and_movies_and_renumbers_everything():
    ds = small()
    sub = ds.subset(ds.interactions.users != 1)
    assert (sub.n_users, sub.n_items) == (2, 2)
    assert sub.user_ids.raw.tolist() == [10, 30]
    assert sub.item_ids.raw.tolist() == [200, 300]
    assert sub.catalog.titles.tolist() == ["B", "Amélie"]
    assert sub.user_features["age"].tolist() == [20, 40]
    assert sub.movie_record(1) == {"movie_id": 300, "title": "Amélie", "year": 2001, "genres": ["Comedy", "Drama"]}
    assert sub.movie_record(0)["year"] is None


def test_save_and_load_round_trip(tmp_path):
    ds = small()
    ds.save(tmp_path / "ds")
    back = Dataset.load(tmp_path / "ds")
    assert back.describe() == ds.describe()
    assert back.catalog.titles.tolist() == ds.catalog.titles.tolist()
    assert back.user_features.equals(ds.user_features)
    np.testing.assert_array_equal(back.interactions.timestamps, ds.interactions.timestamps)
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())


def test_digit_only_text_features_come_back_as_text(tmp_path):
    # Zips of digits only were read back as numbers: "00660" became 660, and a model
    # reading the zip's first digit as a region saw another region.
    ds = small()
    feats = pd.DataFrame({"age": [20, 30, 40], "gender": ["M", "F", "M"], "occupation": ["1", "2", "3"],
                          "zip": ["00660", "10001", "02139"]})
    ds = Dataset("small", ds.interactions, ds.user_ids, ds.item_ids, ds.catalog, feats, {})
    ds.save(tmp_path / "ds")
    back = Dataset.load(tmp_path / "ds").user_features
    assert back["zip"].tolist() == ["00660", "10001", "02139"] and back["occupation"].tolist() == ["1", "2", "3"]
    assert back["age"].tolist() == [20, 30, 40] and back.equals(feats)


def test_load_names_a_damaged_folder(tmp_path):
    with pytest.raises(DataError, match="not a saved cinerec dataset"):
        Dataset.load(tmp_path)


def test_a_damaged_saved_dataset_names_its_file_and_an_edited_info_is_one_line(tmp_path):
    # Any file cut short was "saved dataset is damaged (BadZipFile ...)" naming no file, and
    # an info edited to a list a TypeError from dict().
    import json
    import shutil

    small().save(tmp_path / "ds")
    for name in ("interactions.npz", "catalog.npz", "user_ids.npz", "item_ids.npz"):
        shutil.copytree(tmp_path / "ds", tmp_path / name)
        data = (tmp_path / name / name).read_bytes()
        (tmp_path / name / name).write_bytes(data[: len(data) // 2])
        with pytest.raises(DataError, match=rf"{name}/{name}: saved dataset is damaged \("):
            Dataset.load(tmp_path / name)
    for key, value, said in (("info", [1], "info: expected an object, got list"),
                             ("genre_names", None, "genre_names: expected a list, got NoneType"),
                             ("name", 3, "name: expected text, got int")):
        shutil.rmtree(tmp_path / "edited", ignore_errors=True)
        shutil.copytree(tmp_path / "ds", tmp_path / "edited")
        meta = json.loads((tmp_path / "edited" / "dataset.json").read_text())
        meta[key] = value
        (tmp_path / "edited" / "dataset.json").write_text(json.dumps(meta))
        with pytest.raises(DataError, match=rf"edited/dataset.json: {said}$"):
            Dataset.load(tmp_path / "edited")
    assert Dataset.load(tmp_path / "ds").info == {"catalog_items": 5}


def test_a_saved_dataset_file_one_may_not_read_is_said_so_not_damaged(tmp_path, monkeypatch):
    small().save(tmp_path / "ds")
    real = np.load

    def refused(file, *args, **kwargs):  # (as a file of mode 000 is to anyone but root)
        if str(file).endswith("catalog.npz"):
            raise PermissionError(13, "Permission denied", str(file))
        return real(file, *args, **kwargs)

    monkeypatch.setattr(np, "load", refused)
    with pytest.raises(DataError, match=r"ds/catalog.npz: cannot be read \(Permission denied\); the saved dataset's "
                                        r"files must be readable by you$"):
        Dataset.load(tmp_path / "ds")


def test_folds_follow_subset_and_survive_save_and_load(tmp_path):
    ds = small()
    n = len(ds.interactions)
    test = np.zeros(n, bool)
    test[::2] = True
    ds = ds.replace(folds={"u1": test})
    assert not ds.folds["u1"].flags.writeable
    keep = ds.interactions.users != 1
    np.testing.assert_array_equal(ds.subset(keep).folds["u1"], test[keep])
    assert ds.with_interactions(ds.interactions.replace(ratings=np.ones(n))).folds.keys() == {"u1"}
    assert ds.with_interactions(ds.interactions.select(keep)).folds == {}  # other rows: no folds
    ds.save(tmp_path / "ds")
    np.testing.assert_array_equal(Dataset.load(tmp_path / "ds").folds["u1"], test)
    ds.save(tmp_path / "ds")  # an earlier saved dataset is replaced; a folder of other files is not
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("x")
    with pytest.raises(ConfigError, match=r"other: a folder holding other files \(not a saved dataset\)"):
        ds.save(tmp_path / "other")
    assert (tmp_path / "other" / "notes.txt").read_text() == "x"
    with pytest.raises(ValueError, match="fold 'u2'"):
        ds.replace(folds={"u2": test[1:]})


def test_interactions_refuse_non_finite_ratings_and_fractional_indices():
    # NaN stars were taken, and fitted into NaN scores; 0.7 became user 0 without a word.
    for ratings in ([np.nan, 1.0], [1.0, np.inf]):
        with pytest.raises(DataError, match=r"ratings must be finite numbers, got (nan|inf) at row"):
            Interactions([0, 1], [0, 1], ratings, [0, 1], 2, 2)
    with pytest.raises(DataError, match=r"users must be whole numbers, got 0.7"):
        Interactions([0.7, 1.0], [0, 1], [1, 1], [0, 1], 2, 2)
    assert Interactions(np.array([0.0, 1.0]), [0, 1], [1, 1], [0, 1], 2, 2).users.tolist() == [0, 1]


def test_a_lone_surrogate_is_an_unknown_text_id_not_an_encoding_error():
    # The lookup could not take it: UnicodeEncodeError from every path naming a text id
    # (the HTTP API's bodies, a notebook's top_n).
    ids = IdMap(np.array(["a", "é"]), "movie")
    assert ids.get("\ud800") is None and ids.get("é") == 1
    with pytest.raises(NotFoundError, match=r"unknown movie id '\\ud800'"):
        ids.index(["a", "\ud800"])


def test_a_data_line_says_one_movie_and_one_user_in_the_singular(tmp_path, capsys):
    # "6 ratings, 6 users, 1 movies" on the data: line, and "1 users measured" in a report.
    from cinerec.cli import main
    from cinerec.data.dataset import sizes_said

    assert sizes_said(1, 1, 1) == "1 rating, 1 user, 1 movie"
    assert sizes_said(100_000, 943, 1_682) == "100,000 ratings, 943 users, 1,682 movies"
    assert sizes_said(5, 2, 3, (5.0, 5.0)) == "5 ratings (every one 5), 2 users, 3 movies"
    assert sizes_said(5, 2, 3, (0.5, 5.0)) == "5 ratings (0.5 to 5), 2 users, 3 movies"
    (tmp_path / "log.csv").write_text("user,item,rating\n" + "".join(f"u{u},m1,{1 + u % 5}\n" for u in range(6)))
    assert main(["evaluate", "--data", str(tmp_path / "log.csv"), "--model", "baseline", "--protocol",
                 "ratings-random"]) == 0
    assert f"data: {tmp_path / 'log.csv'}: 6 ratings (1 to 5), 6 users, 1 movie;" in capsys.readouterr().err


def test_reprs_of_id_maps_and_catalogues_are_short():
    # Their dataclass reprs printed every id and title: 5,250 characters for ml-100k's users.
    assert repr(IdMap(np.arange(1, 944), "user")) == "<IdMap: 943 user ids: 1, 2, 3, ..., 943>"
    assert repr(IdMap(["u1", "u2"], "user")) == "<IdMap: 2 user ids: 'u1', 'u2'>"
    assert repr(IdMap(np.arange(1, 5))) == "<IdMap: 4 movie ids: 1, 2, 3, 4>"
    assert repr(IdMap(np.zeros(0, dtype=np.int64))) == "<IdMap: 0 movie ids>"
    cat = Catalog(np.array(["A", "B", "C"], dtype=object), np.zeros(3), ("Drama", "Comedy"),
                  np.array([[1, 0], [1, 0], [0, 0]]))
    assert repr(cat) == "<Catalog: 3 movies, 1 genre>"
    from cinerec.serving.search import MovieSearch

    assert repr(MovieSearch(cat, np.ones(3))) == "<MovieSearch over 3 movies>"
