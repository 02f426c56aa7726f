"""Transforms: each filter keeps exactly the right rows and renumbers ids consistently."""

from __future__ import annotations

import numpy as np
import pytest

from cinerec.data.dataset import Catalog, Dataset, IdMap, Interactions
from cinerec.data.transforms import as_implicit, binarize, dedupe, filter_years, kcore, top_items, top_users


def _dataset(users, items, ratings=None, years=None, n_users=None, n_items=None) -> Dataset:
    users, items = np.asarray(users), np.asarray(items)
    n_users = int(users.max()) + 1 if n_users is None else n_users
    n_items = int(items.max()) + 1 if n_items is None else n_items
    ratings = np.full(len(users), 4.0) if ratings is None else np.asarray(ratings, dtype=float)
    # Timestamps number the rows so tests can trace which rows survived.
    x = Interactions(users, items, ratings, np.arange(len(users)), n_users, n_items)
    years = np.full(n_items, 1995) if years is None else np.asarray(years)
    catalog = Catalog(np.array([f"movie {i}" for i in range(n_items)], dtype=object), years,
                      ("Drama",), np.zeros((n_items, 1), dtype=bool))
    return Dataset("test", x, IdMap(np.arange(n_users) + 100, "user"), IdMap(np.arange(n_items) + 1000, "movie"),
                   catalog)


def _raw_rows(ds: Dataset) -> set[tuple[int, int, int]]:
    """Each row as (raw user id, raw movie id, original row number)."""
    x = ds.interactions
    return set(zip(ds.user_ids.to_raw(x.users).tolist(), ds.item_ids.to_raw(x.items).tolist(),
                   x.timestamps.tolist()))


def _random(seed=0, n=600, n_users=50, n_items=40) -> Dataset:
    rng = np.random.default_rng(seed)
    # Skewed activity and popularity, so filters have something to cut.
    users = np.minimum((rng.pareto(1.0, n) * 5).astype(int), n_users - 1)
    items = np.minimum((rng.pareto(1.0, n) * 4).astype(int), n_items - 1)
    return _dataset(users, items, ratings=rng.integers(1, 6, n), n_users=n_users, n_items=n_items)


def test_filter_years_bounds_and_unknown_years():
    ds = _dataset([0, 0, 1, 1, 2], [0, 1, 2, 3, 3], years=[1990, 1995, 0, 2000])
    kept = filter_years(ds, min_year=1995)
    assert set(kept.item_ids.raw.tolist()) == {1001, 1003}
    assert _raw_rows(kept) == {(100, 1001, 1), (101, 1003, 3), (102, 1003, 4)}
    np.testing.assert_array_equal(kept.catalog.years, [1995, 2000])
    assert set(filter_years(ds, max_year=1995).item_ids.raw.tolist()) == {1000, 1001}  # year 0 dropped
    assert set(filter_years(ds, 1991, 1999).item_ids.raw.tolist()) == {1001}
    assert filter_years(ds) is ds


@pytest.mark.parametrize(("kwargs", "word"), [
    ({"min_year": 2000, "max_year": 1990}, "min_year"), ({"min_year": "1990"}, "min_year"),
    ({"max_year": 1990.5}, "max_year"),
])
def test_filter_years_rejects_bad_bounds(kwargs, word):
    with pytest.raises(ValueError, match=word):
        filter_years(_random(), **kwargs)


def test_top_users_and_items_break_ties_by_lower_index():
    # user rows: u0 2, u1 3, u2 3, u3 1  -> top 2 = u1, u2; top 1 = u1 (tie with u2, lower wins)
    ds = _dataset([0, 0, 1, 1, 1, 2, 2, 2, 3], [0, 1, 0, 1, 2, 0, 1, 3, 3])
    assert top_users(ds, 2).user_ids.raw.tolist() == [101, 102]
    assert top_users(ds, 1).user_ids.raw.tolist() == [101]
    assert top_users(ds, 10).n_users == 4
    # movie rows: m0 3, m1 3, m2 1, m3 2  -> top 1 = m0
    assert top_items(ds, 1).item_ids.raw.tolist() == [1000]
    t = top_items(ds, 3)
    assert t.item_ids.raw.tolist() == [1000, 1001, 1003]
    assert _raw_rows(t) == {r for r in _raw_rows(ds) if r[1] != 1002}


@pytest.mark.parametrize("n", [0, -1, 2.0, True, None])
def test_top_rejects_bad_n(n):
    with pytest.raises(ValueError, match="n must"):
        top_users(_random(), n)
    with pytest.raises(ValueError, match="n must"):
        top_items(_random(), n)


def _kcore_reference(ds: Dataset, uk: int, ik: int) -> set:
    rows = _raw_rows(ds)
    while True:
        uc, ic = {}, {}
        for u, i, _ in rows:
            uc[u] = uc.get(u, 0) + 1
            ic[i] = ic.get(i, 0) + 1
        keep = {r for r in rows if uc[r[0]] >= uk and ic[r[1]] >= ik}
        if keep == rows:
            return rows
        rows = keep


@pytest.mark.parametrize(("uk", "ik"), [(2, None), (3, 2), (5, 5), (1, 8)])
def test_kcore_matches_an_iterative_reference(uk, ik):
    ds = _random(seed=uk)
    core = kcore(ds, uk, ik)
    assert _raw_rows(core) == _kcore_reference(ds, uk, uk if ik is None else ik)
    x = core.interactions
    if len(x):
        assert x.user_counts.min() >= uk and x.item_counts.min() >= (uk if ik is None else ik)
        assert (core.n_users, core.n_items) == (len(np.unique(x.users)), len(np.unique(x.items)))


def test_kcore_needs_more_than_one_pass():
    # Dropping user 2 (1 row) leaves movie 2 with 1 row, so a second pass drops it too.
    ds = _dataset([0, 0, 1, 1, 1, 2], [0, 1, 0, 1, 2, 2])
    core = kcore(ds, 2)
    assert core.user_ids.raw.tolist() == [100, 101]
    assert core.item_ids.raw.tolist() == [1000, 1001]
    assert len(core.interactions) == 4
    assert len(kcore(ds, 2, 1).interactions) == 5
    assert len(kcore(ds, 3).interactions) == 0


@pytest.mark.parametrize(("uk", "ik", "word"), [(0, None, "user_k"), (2, 0, "item_k"), (1.5, None, "user_k")])
def test_kcore_rejects_bad_bounds(uk, ik, word):
    with pytest.raises(ValueError, match=word):
        kcore(_random(), uk, ik)


def test_binarize_drops_or_keeps_low_ratings():
    ds = _dataset([0, 0, 1, 1], [0, 1, 0, 2], ratings=[5, 3, 4, 1])
    b = binarize(ds, 4)
    np.testing.assert_array_equal(b.interactions.timestamps, [0, 2])
    np.testing.assert_array_equal(b.interactions.ratings, [1.0, 1.0])
    assert (b.n_users, b.n_items) == (ds.n_users, ds.n_items)  # id space unchanged
    k = binarize(ds, 3.5, keep_negatives=True)
    np.testing.assert_array_equal(k.interactions.ratings, [1.0, 0.0, 1.0, 0.0])
    np.testing.assert_array_equal(ds.interactions.ratings, [5, 3, 4, 1])  # input untouched
    for bad in (float("nan"), "4", None):
        with pytest.raises(ValueError, match="threshold"):
            binarize(ds, bad)


def test_as_implicit_sets_every_rating_to_one():
    ds = _random()
    imp = as_implicit(ds)
    assert (imp.interactions.ratings == 1.0).all()
    np.testing.assert_array_equal(imp.interactions.items, ds.interactions.items)
    assert imp.interactions.ratings.dtype == np.float32


def test_dedupe_keeps_last_or_first_in_file_order():
    ds = _dataset([0, 1, 0, 0, 1, 2], [5, 5, 5, 6, 5, 5], ratings=[1, 2, 3, 4, 5, 1], n_items=7)
    last = dedupe(ds).interactions
    np.testing.assert_array_equal(last.timestamps, [2, 3, 4, 5])
    np.testing.assert_array_equal(last.ratings, [3, 4, 5, 1])
    first = dedupe(ds, keep="first").interactions
    np.testing.assert_array_equal(first.timestamps, [0, 1, 3, 5])
    assert dedupe(dedupe(ds)) is not None and len(dedupe(dedupe(ds)).interactions) == 4
    with pytest.raises(ValueError, match="keep"):
        dedupe(ds, keep="middle")


def test_dedupe_random_log_leaves_one_row_per_pair():
    ds = _random(seed=9)
    d = dedupe(ds).interactions
    x = ds.interactions
    pairs = x.users.astype(np.int64) * x.n_items + x.items
    kept = d.users.astype(np.int64) * d.n_items + d.items
    assert len(np.unique(kept)) == len(kept) == len(np.unique(pairs))
    # Each kept row is the last row of its pair.
    last_row = {p: r for r, p in enumerate(pairs.tolist())}
    assert sorted(last_row.values()) == d.timestamps.tolist()


def test_filters_on_real_ml100k(ml100k_dir):
    from cinerec.data import load

    ds = load(ml100k_dir)
    core = kcore(ds, 50, 50)
    x = core.interactions
    assert 0 < core.n_users < ds.n_users and 0 < core.n_items < ds.n_items
    assert x.user_counts.min() >= 50 and x.item_counts.min() >= 50
    nineties = filter_years(ds, 1990, 1999)
    assert nineties.catalog.years.min() >= 1990 and nineties.catalog.years.max() <= 1999
    assert top_users(ds, 10).n_users == 10


def test_binarize_keeps_the_dropped_ratings_seen_through_later_subsets():
    from cinerec.data.history import seen

    # user 100 rated movie 1000 low; user 101 only low ratings (dropped by top_users later)
    ds = _dataset([0, 0, 0, 1, 2, 2, 2], [0, 1, 2, 0, 1, 2, 0], ratings=[2, 5, 4, 1, 5, 5, 5])
    liked = binarize(ds, 4)
    assert len(liked.interactions) == 5
    low = set(zip(liked.user_ids.to_raw(liked.also_seen[0]).tolist(), liked.item_ids.to_raw(liked.also_seen[1]).tolist()))
    assert low == {(100, 1000), (101, 1000)}
    kept = top_users(liked, 2)  # users 100 and 102 keep rows; 101 had none left
    pairs = set(zip(kept.user_ids.to_raw(kept.also_seen[0]).tolist(), kept.item_ids.to_raw(kept.also_seen[1]).tolist()))
    assert pairs == {(100, 1000)}
    s = seen(kept).toarray()
    assert s[kept.user_ids.get_indexer([100])[0], kept.item_ids.get_indexer([1000])[0]] == 1


def test_a_bad_argument_to_a_transform_is_a_cinerec_error():
    from cinerec.errors import CinerecError

    ds = _dataset([0, 1], [0, 1])
    for call in (lambda: kcore(ds, 0), lambda: top_users(ds, "5"), lambda: filter_years(ds, "1990"),
                 lambda: binarize(ds, float("nan"))):
        with pytest.raises(CinerecError):
            call()


def test_a_transform_given_no_dataset_or_a_flag_of_another_kind_says_so_in_one_line():
    # Each raised AttributeError from inside (an Interactions, a DataFrame where the
    # Dataset goes), and binarize(keep_negatives="no") kept the low ratings.
    import pandas as pd

    from cinerec.data.transforms import recency_weights
    from cinerec.errors import ConfigError

    ds = _random()
    for call, said in ((lambda: kcore(ds.interactions, 5), r"kcore: ds: expected Dataset \(the Dataset they belong to"),
                       (lambda: top_users(pd.DataFrame({"user": [1]}), 10), "top_users: ds: expected Dataset, got "
                                                                             "DataFrame"),
                       (lambda: filter_years(None, 1990), "filter_years: ds: expected Dataset, got NoneType"),
                       (lambda: recency_weights(ds, 10), r"recency_weights: x: expected Interactions \(its "
                                                         r"\.interactions\)"),
                       (lambda: binarize(ds, 4, keep_negatives="no"), "binarize: keep_negatives = 'no': must be "
                                                                      "true or false")):
        with pytest.raises(ConfigError, match=said):
            call()
