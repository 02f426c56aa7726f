"""Filters: one value, one order, a record of counts, and the description kept up to date."""

from __future__ import annotations

import numpy as np
import pytest

from cinerec.data import Catalog, Dataset, IdMap, Interactions, load
from cinerec.data.filters import FILTER_ORDER, Filters, apply_filters
from cinerec.data.transforms import filter_years, kcore, top_items, top_users
from cinerec.errors import ConfigError, DataError, FilterLeavesNothing


def _dataset(with_folds: bool = True) -> Dataset:
    """6 users x 6 movies; user u rates movies 0..u (so user 5 is the most active)."""
    users, items, ratings = [], [], []
    for u in range(6):
        for i in range(u + 1):
            users.append(u)
            items.append(i)
            ratings.append(1.0 + (u + i) % 5)
    n = len(users)
    x = Interactions(np.array(users), np.array(items), np.array(ratings), np.arange(n), 6, 6)
    years = np.array([1990, 1995, 2000, 2005, 2010, 0])
    catalog = Catalog(np.array([f"m{i}" for i in range(6)], dtype=object), years, (), np.zeros((6, 0)))
    folds = {"u1": np.arange(n) % 3 == 0} if with_folds else {}
    return Dataset("tiny", x, IdMap(np.array([f"p{u}" for u in range(6)]), "user"),
                   IdMap(np.arange(10, 16), "movie"), catalog, None, {"release": "ml-100k", "implicit": False}, folds)


def test_empty_filters_leave_the_data_as_it_is():
    ds = _dataset()
    assert Filters().is_empty and Filters.from_mapping({}, where="x").is_empty
    out, record = apply_filters(ds, Filters())
    assert out is ds and record == []


def test_filters_keep_one_type_whoever_gave_them():
    # A study file's liked_threshold = 4 was recorded as 4 where the flag's was 4.0.
    import json

    from_file = Filters.from_mapping({"liked_threshold": 4, "top_users": np.int64(5)}, where="s.toml [data]")
    from_flags = Filters(liked_threshold=4.0, top_users=5)
    assert from_file == from_flags
    assert json.dumps(from_file.to_dict()) == json.dumps(from_flags.to_dict())
    assert type(from_file.liked_threshold) is float and type(from_file.top_users) is int
    assert Filters(kcore=np.array([5, 3])) == Filters.from_mapping({"kcore": np.array([5, 3])}, where="x") == \
        Filters(kcore=(5, 3))
    _, record = apply_filters(_dataset(), from_file)
    assert json.dumps(record[0]["args"]) == '{"threshold": 4.0}'
    # A whole number with no float to become is refused as any other non-number of stars
    # (it ended in OverflowError).
    for big in (10**400, 10**5000):
        with pytest.raises(ConfigError, match=r"s\.toml \[data\]: liked_threshold = a number of about \d[\d,]* digits "
                                              r"must be a number of stars"):
            Filters.from_mapping({"liked_threshold": big}, where="s.toml [data]")


def test_filters_run_in_the_documented_order_whatever_order_they_were_given_in():
    ds = _dataset()
    given = {"kcore": [2, 1], "top_movies": 4, "top_users": 4, "implicit": True, "liked_threshold": 2,
             "max_year": 2010, "min_year": 1990}
    f = Filters.from_mapping(given, where="study.toml [data]")
    out, record = apply_filters(ds, f)
    assert [r["transform"] for r in record] == ["years", "liked_threshold", "implicit", "top_users",
                                               "top_movies", "kcore"] == list(FILTER_ORDER)
    # Each step starts from where the previous one ended, and the counts are the data's.
    for prev, step in zip(record, record[1:]):
        assert step["before"] == prev["after"]
    assert record[0]["before"] == {"ratings": 21, "users": 6, "movies": 6}
    assert record[-1]["after"] == {"ratings": len(out.interactions), "users": out.n_users, "movies": out.n_items}
    assert record[0]["args"] == {"min_year": 1990, "max_year": 2010}
    assert record[3]["args"] == {"n": 4} and record[5]["args"] == {"users": 2, "movies": 1}
    # The same steps by hand, in that order, give the same data.
    by_hand = filter_years(ds, 1990, 2010)
    keep = by_hand.interactions.ratings >= 2
    by_hand = by_hand.subset(keep)
    by_hand = kcore(top_items(top_users(by_hand, 4), 4), 2, 1)
    np.testing.assert_array_equal(out.user_ids.raw, by_hand.user_ids.raw)
    np.testing.assert_array_equal(out.item_ids.raw, by_hand.item_ids.raw)
    assert (out.interactions.ratings == 1.0).all()
    assert out.info["implicit"] is True and out.info["transforms"] == record


def test_years_drop_movies_of_unknown_year_and_renumber():
    out, record = apply_filters(_dataset(), Filters(min_year=2000))
    assert out.item_ids.raw.tolist() == [12, 13, 14]  # movie 15 has no year
    assert out.catalog.years.tolist() == [2000, 2005, 2010]
    assert out.user_ids.raw.tolist() == ["p2", "p3", "p4", "p5"]  # p0, p1 rated only older movies
    assert record[0]["after"] == {"ratings": 9, "users": 4, "movies": 3}


def test_liked_threshold_drops_people_left_without_a_like():
    ds = _dataset()
    out, _ = apply_filters(ds, Filters(liked_threshold=5))
    kept = ds.interactions.ratings >= 5
    assert len(out.interactions) == kept.sum()
    assert out.n_users == len(np.unique(ds.interactions.users[kept]))  # nobody without a row
    assert out.info["implicit"] is True and out.info["liked_threshold"] == 5


def test_a_step_that_drops_ratings_drops_the_official_folds_and_says_which():
    ds = _dataset()
    out, _ = apply_filters(ds, Filters(implicit=True))  # same rows: the folds still apply
    assert set(out.folds) == {"u1"} and "folds_dropped_by" not in out.info
    out, _ = apply_filters(ds, Filters(top_users=3))
    assert out.folds == {} and out.info["folds_dropped_by"] == "top_users=3"
    out, _ = apply_filters(ds, Filters(kcore=(1, 1)))  # drops nothing: folds stay
    assert set(out.folds) == {"u1"}
    # The transforms themselves follow the same rule.
    assert top_users(ds, 2).info["folds_dropped_by"] == "top_users=2"
    assert kcore(ds, 3).info["folds_dropped_by"] == "kcore=3,3"


def test_a_filter_that_leaves_no_ratings_is_named():
    with pytest.raises(DataError, match=r"^min_year=2030 leaves no ratings \(the data had 21 ratings"):
        apply_filters(_dataset(), Filters(min_year=2030))
    with pytest.raises(DataError, match=r"^kcore=7 leaves no ratings"):
        apply_filters(_dataset(), Filters(kcore=(7, 7)))
    # The setting's value, as a study file writes it, for the file's line (it was True for kcore).
    for filters, key, value in ((Filters(kcore=(7, 7)), "kcore", 7), (Filters(kcore=(7, 1)), "kcore", [7, 1]),
                                (Filters(top_users=1, kcore=(2, 2)), "kcore", 2),
                                (Filters(min_year=2030), "min_year", 2030)):
        with pytest.raises(FilterLeavesNothing) as e:
            apply_filters(_dataset(), filters)
        assert (e.value.key, e.value.value) == (key, value)
    ds = _dataset()
    no_years = ds.replace(catalog=Catalog(ds.catalog.titles, np.zeros(6), (), np.zeros((6, 0))))
    with pytest.raises(DataError, match="no movie has a known release year"):
        apply_filters(no_years, Filters(max_year=2000))
    # Some years known: the error says which, and how many movies have none (it said
    # "leaves no ratings" alone where nearly every movie had no year).
    years = np.array([1990, 0, 0, 0, 1995, 0])
    few = ds.replace(catalog=Catalog(ds.catalog.titles, years, (), np.zeros((6, 0))))
    with pytest.raises(DataError, match=r"; the movies' known release years run from 1990 to 1995, and 4 of the 6 "
                                        r"movies have none \(a year filter drops those\)$"):
        apply_filters(few, Filters(max_year=1980))


def test_a_liked_threshold_is_read_at_the_ratings_precision_and_never_warns():
    """Ratings are kept as float32: 1.00000001 is 1 there, so it drops none and is refused
    as such (it passed the check, then dropped nothing); one past float32's range leaves
    nothing, in one error and no overflow warning from the cast."""
    import warnings

    ds = _dataset()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(DataError, match=r"liked_threshold=1.00000001 is at or below every rating of this data"):
            apply_filters(ds, Filters(liked_threshold=1.00000001))
        with pytest.raises(FilterLeavesNothing, match="leaves no ratings"):
            apply_filters(ds, Filters(liked_threshold=1e39))
    # A threshold written as a rating is at it, whatever float32 makes of both.
    x = ds.interactions
    odd = ds.with_interactions(x.replace(ratings=np.where(x.ratings == 3, np.float32(3.3), x.ratings).astype(np.float32)))
    out, _ = apply_filters(odd, Filters(liked_threshold=3.3))
    assert len(out.interactions) == int((x.ratings >= 3).sum())


@pytest.mark.parametrize("values, message", [
    ({"top_user": 3}, r"where: unknown key 'top_user' \(known: min_year, max_year, top_users"),
    ({"top_users": 0}, r"where: top_users = 0 must be a positive whole number"),
    ({"top_movies": 2.5}, r"where: top_movies = 2.5 must be a positive whole number"),
    # A whole float keeps its point: "top_users = 100 must be a whole number" said nothing.
    ({"top_users": 100.0}, r"where: top_users = 100\.0 must be a positive whole number"),
    ({"min_year": 1990.0}, r"where: min_year = 1990\.0 must be a whole year"),
    ({"kcore": 5.0}, r"where: kcore = 5\.0 must be U or U,I"),
    ({"kcore": [5, 2.0]}, r"where: kcore = \[5, 2\.0\] must be U or U,I"),
    ({"min_year": "1990"}, r'where: min_year = "1990" must be a whole year'),  # as TOML writes it
    ({"min_year": -5}, r"where: min_year = -5 must be a whole year from 1 to 9999"),
    ({"min_year": 0}, r"where: min_year = 0 must be a whole year from 1 to 9999"),
    ({"max_year": 99999}, r"where: max_year = 99999 must be a whole year from 1 to 9999"),
    ({"min_year": 2001, "max_year": 2000}, r"where: min_year = 2001 is after max_year = 2000"),
    ({"kcore": "5,x"}, r'where: kcore = "5,x" must be U or U,I'),
    ({"kcore": [0, 3]}, r"where: kcore = \[0, 3\] must be U or U,I"),
    ({"kcore": True}, r"where: kcore = true must be U or U,I"),
    ({"implicit": "yes"}, r'where: implicit = "yes" must be true or false'),
    ({"liked_threshold": float("nan")}, r"where: liked_threshold = nan must be a number of stars"),
])
def test_bad_keys_and_values_are_named(values, message):
    with pytest.raises(ConfigError, match=message):
        Filters.from_mapping(values, where="where")


def test_flag_names_on_the_command_line_and_kcore_forms():
    with pytest.raises(ConfigError, match=r"^--top-users -1: must be"):
        Filters.from_mapping({"top_users": -1}, where="command line", flags=True)
    assert Filters.from_mapping({"kcore": "5"}, where="x").kcore == (5, 5)
    assert Filters.from_mapping({"kcore": "5,10"}, where="x").kcore == (5, 10)
    assert Filters.from_mapping({"kcore": [5, 10]}, where="x").kcore == (5, 10)
    assert Filters.from_mapping({"kcore": 3}, where="x").to_dict() == {"kcore": [3, 3]}
    with pytest.raises(ConfigError, match="Filters: top_users"):
        Filters(top_users=0)
    # Built directly, the same forms as a study file's.
    assert Filters(kcore=5).kcore == (5, 5) and Filters(kcore="5,10").kcore == (5, 10)
    assert Filters(kcore=[5, 10]) == Filters(kcore=(5, 10))
    with pytest.raises(ConfigError, match=r"Filters: kcore = true must be U or U,I"):
        Filters(kcore=True)
    # A digit int() cannot read ('²' passes str.isdigit): the same line, not a ValueError.
    for odd in ("²", "3,²"):
        with pytest.raises(ConfigError, match=r"^--kcore '.*': must be U or U,I"):
            Filters.from_mapping({"kcore": odd}, where="command line", flags=True)


def test_real_ml100k_filters_keep_what_they_say(ml100k_dir):
    ds = load(ml100k_dir)
    out, record = apply_filters(ds, Filters(top_users=100, kcore=(5, 5)))
    assert out.n_users <= 100
    assert out.interactions.user_counts.min() >= 5 and out.interactions.item_counts.min() >= 5
    assert record[0]["after"]["users"] == 100 and record[1]["after"]["ratings"] == len(out.interactions)
    # The 100 kept are the most active of the original users.
    counts = ds.interactions.user_counts
    kept = ds.user_ids.index(out.user_ids.raw)
    assert counts[kept].min() >= np.sort(counts)[-100]


def test_a_liked_threshold_on_implicit_data_is_refused_as_such(tmp_path):
    (tmp_path / "clicks.csv").write_text("user,item\n1,10\n1,11\n2,10\n")
    with pytest.raises(DataError, match=r"liked_threshold=4 finds no stars to compare with: the data is implicit"):
        apply_filters(load(tmp_path / "clicks.csv"), Filters(liked_threshold=4.0))


def test_a_missing_log_is_missing_whatever_else_is_named(tmp_path):
    (tmp_path / "items.csv").write_text("id,title\n1,Alpha\n")
    from cinerec.errors import NotFoundError

    for extra in ({"catalog": tmp_path / "items.csv"}, {"columns": {"user": "who"}}):
        with pytest.raises(NotFoundError, match=r"nope.csv: no such file or folder$"):
            load(tmp_path / "nope.csv", **extra)


def test_ratings_a_liked_threshold_drops_stay_seen_through_a_saved_run(tmp_path):
    from cinerec.data import Dataset
    from cinerec.data.history import seen
    from cinerec.models import create
    from cinerec.serving.lists import Lists

    log = tmp_path / "log.csv"
    rows = ["user,item,rating,ts"]
    for u in range(1, 31):
        for m in range(1, 21):
            if (u * 7 + m * 3) % 4:
                rows.append(f"{u},{m},{1 + (u + m) % 5},{u * 100 + m}")
    log.write_text("\n".join(rows) + "\n")
    ds, _ = apply_filters(load(log), Filters(liked_threshold=4.0))
    raw = load(log)
    low = raw.interactions.ratings < 4
    low_pairs = set(zip(raw.user_ids.raw[raw.interactions.users[low]].tolist(),
                        raw.item_ids.raw[raw.interactions.items[low]].tolist()))
    ds.save(tmp_path / "ds")
    back = Dataset.load(tmp_path / "ds")
    s = seen(back).tocoo()
    seen_pairs = set(zip(back.user_ids.raw[s.row].tolist(), back.item_ids.raw[s.col].tolist()))
    kept = {(u, m) for u, m in low_pairs if back.user_ids.get(u) is not None and back.item_ids.get(m) is not None}
    assert kept and kept <= seen_pairs  # a movie rated low is still one the person has seen
    lists = Lists(back, create("popularity").fit(back.interactions))
    items, _, _ = lists.for_users(np.arange(back.n_users), back.n_items)
    for u in range(back.n_users):
        listed = {back.item_ids.raw[i] for i in items[u] if i >= 0}
        assert not listed & {m for uu, m in kept if back.user_ids.get(uu) == u}


def test_a_liked_threshold_that_drops_no_rating_is_refused_pointing_at_implicit(ml100k_dir):
    # --liked-threshold -1 (or 1 on 1-5 stars) ran, recorded liked_threshold=-1 and made the
    # data implicit: --implicit by another name, or a typo.
    ml100k = load(ml100k_dir)
    for threshold in (-1.0, 0.0, 1.0):
        with pytest.raises(DataError, match=r"liked_threshold=.* is at or below every rating of this data \(1 to 5 "
                                            r"stars\), so none would be dropped: .* implicit data instead "
                                            r"\(implicit=True\)"):
            apply_filters(ml100k, Filters(liked_threshold=threshold))
    kept, _ = apply_filters(ml100k, Filters(liked_threshold=1.5))
    assert len(kept.interactions) == 100_000 - 6_110  # the 1-star ratings dropped


def test_the_record_names_the_files_read_by_absolute_path(tmp_path, monkeypatch):
    from cinerec.data.filters import data_record

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "log.csv").write_text("user,item\n1,2\n")
    monkeypatch.chdir(tmp_path / "data")
    ds, record = apply_filters(_dataset(), Filters())
    got = data_record({"source": "log.csv", "columns": None, "catalog": None}, ds, Filters(), record)
    assert got["source"] == "log.csv" and got["source_path"] == str(tmp_path / "data" / "log.csv")
    assert got["catalog_path"] is None
    named = data_record({"source": "ml-100k", "columns": None, "catalog": None}, ds, Filters(), record)
    assert named["source_path"] is None  # a release by name: read from the cache


def test_a_count_of_one_is_said_in_the_singular():
    # "943 -> 1 users, 737 -> 1 movies", where the refusals already said "1 user".
    from cinerec.data.filters import step_lines, step_said

    step = {"transform": "top_users", "args": {"n": 1}, "before": {"ratings": 100, "users": 943, "movies": 1682},
            "after": {"ratings": 1, "users": 1, "movies": 1}}
    assert step_said(step) == "filter top_users=1: 100 -> 1 rating, 943 -> 1 user, 1,682 -> 1 movie"
    assert step_lines([step]) == ["- top_users=1: 1 rating, 1 user, 1 movie left"]


def test_a_year_filter_says_how_many_movies_it_dropped_for_want_of_a_year():
    # A catalogue lacking most years lost nearly every rating to --min-year 1990 without a
    # word (said only when nothing at all was left).
    from cinerec.data.filters import step_lines, step_said

    _, [step] = apply_filters(_dataset(), Filters(min_year=1995))
    assert step["unknown_year"] == {"ratings": 1, "movies": 1}  # movie 15, rated by p5 alone
    assert step_said(step).endswith("6 -> 4 movies (1 of the movies dropped, with 1 rating, has no known "
                                    "release year)")
    assert step_lines([step])[0].endswith(" left (1 of the movies dropped, with 1 rating, has no known release year)")
    _, [step] = apply_filters(_dataset().subset(_dataset().interactions.items < 5), Filters(max_year=2000))
    assert "unknown_year" not in step and "release year" not in step_said(step)


def test_top_users_ties_follow_the_id_order_the_docs_give(tmp_path):
    # Numbers in numeric order where every id is one; one text id makes the column text, all
    # of it then in character order ("10" before "9"), as README and docs/protocols.md say.
    rows = "user,item,rating\n9,1,4\n9,2,3\n10,1,4\n10,2,3\n"
    (tmp_path / "numbers.csv").write_text(rows)
    (tmp_path / "mixed.csv").write_text(rows + "x,1,5\n")
    assert top_users(load(tmp_path / "numbers.csv"), 1).user_ids.raw.tolist() == [9]
    assert top_users(load(tmp_path / "mixed.csv"), 1).user_ids.raw.tolist() == ["10"]
