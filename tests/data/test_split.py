"""Splits: disjoint parts whose union is the input, stable order, seeds, tie and size rules."""

from __future__ import annotations

import numpy as np
import pytest

from cinerec.data.dataset import Interactions
from cinerec.data.split import Split, leave_last_out, official_split, random_split, time_split


def _log(n_rows: int = 500, n_users: int = 40, n_items: int = 60, seed: int = 0) -> Interactions:
    """A random log whose ratings column numbers the rows, so each row can be traced."""
    rng = np.random.default_rng(seed)
    users = rng.integers(0, n_users, n_rows)
    items = rng.integers(0, n_items, n_rows)
    ts = rng.integers(0, 50, n_rows)  # few distinct values: many timestamp ties
    return Interactions(users, items, np.arange(n_rows), ts, n_users + 3, n_items + 2)


def _row_ids(x: Interactions | None) -> np.ndarray:
    return np.zeros(0, dtype=np.int64) if x is None else x.ratings.astype(np.int64)


def _check_partition(x: Interactions, s: Split) -> None:
    parts = [s.train, s.test] + ([s.valid] if s.valid is not None else [])
    for p in parts:
        assert (p.n_users, p.n_items) == (x.n_users, x.n_items)
        ids = _row_ids(p)
        assert (np.diff(ids) > 0).all(), "rows must keep input order"
        # Every column travels with its row.
        np.testing.assert_array_equal(p.users, x.users[ids])
        np.testing.assert_array_equal(p.items, x.items[ids])
        np.testing.assert_array_equal(p.timestamps, x.timestamps[ids])
    every = np.concatenate([_row_ids(p) for p in parts])
    np.testing.assert_array_equal(np.sort(every), np.arange(len(x)))  # disjoint, union = input


def test_random_split_partitions_and_sizes():
    x = _log()
    s = random_split(x, test=0.2, valid=0.1, seed=3)
    _check_partition(x, s)
    assert (len(s.test), len(s.valid)) == (100, 50)
    s0 = random_split(x, test=0.3)
    assert s0.valid is None and len(s0.test) == 150
    _check_partition(x, s0)


def test_random_split_is_deterministic_given_seed():
    x = _log()
    a, b = random_split(x, 0.2, seed=7), random_split(x, 0.2, seed=7)
    np.testing.assert_array_equal(_row_ids(a.test), _row_ids(b.test))
    g1, g2 = np.random.default_rng(7), np.random.default_rng(7)
    np.testing.assert_array_equal(_row_ids(random_split(x, 0.2, seed=g1).test),
                                  _row_ids(random_split(x, 0.2, seed=g2).test))
    assert not np.array_equal(_row_ids(a.test), _row_ids(random_split(x, 0.2, seed=8).test))


@pytest.mark.parametrize(("test", "valid", "word"), [
    (0.0, 0.0, "test"), (1.0, 0.0, "test"), (-0.1, 0.0, "test"), (0.5, 0.5, r"test \+ valid"),
    (0.2, -0.1, "valid"), (0.2, 1.0, "valid"), ("0.2", 0.0, "test"), (True, 0.0, "test"),
])
def test_random_split_rejects_bad_fractions(test, valid, word):
    with pytest.raises(ValueError, match=word):
        random_split(_log(), test=test, valid=valid)


def test_leave_last_out_takes_latest_with_later_row_winning_ties():
    #            row: 0  1  2  3  4  5  6  7
    users = np.array([0, 0, 0, 1, 1, 2, 0, 3])
    ts = np.array([5, 9, 9, 3, 1, 7, 2, 4])
    x = Interactions(users, np.arange(8) % 5, np.arange(8), ts, 5, 5)
    s = leave_last_out(x)
    _check_partition(x, s)
    # user 0: rows 1 and 2 tie at the latest timestamp; row 2 is later in the file.
    np.testing.assert_array_equal(_row_ids(s.test), [2, 3])
    assert s.valid is None
    sv = leave_last_out(x, valid=True)
    _check_partition(x, sv)
    np.testing.assert_array_equal(_row_ids(sv.test), [2])
    np.testing.assert_array_equal(_row_ids(sv.valid), [1])
    # Users 1 (2 rows), 2 and 3 (1 row) are too small for valid=True: all in train.
    assert set(sv.train.users[np.isin(sv.train.users, [1, 2, 3])]) == {1, 2, 3}
    assert (np.bincount(sv.train.users, minlength=5)[[1, 2, 3]] == [2, 1, 1]).all()


def test_leave_last_out_matches_a_per_user_reference():
    x = _log(n_rows=800, seed=5)
    s = leave_last_out(x, valid=True)
    _check_partition(x, s)
    test_rows, valid_rows = set(_row_ids(s.test)), set(_row_ids(s.valid))
    for u in range(x.n_users):
        rows = np.flatnonzero(x.users == u)
        ranked = sorted(rows, key=lambda r: (x.timestamps[r], r))
        if len(rows) >= 3:
            assert ranked[-1] in test_rows and ranked[-2] in valid_rows
        else:
            assert not set(rows) & (test_rows | valid_rows)
    assert len(test_rows) == len(valid_rows) == int((x.user_counts >= 3).sum())


def test_time_split_by_timestamp_and_quantile():
    x = _log()
    s = time_split(x, 25)
    _check_partition(x, s)
    assert (s.train.timestamps < 25).all() and (s.test.timestamps >= 25).all()
    q = time_split(x, 0.8)
    _check_partition(x, q)
    assert q.train.timestamps.max() < q.test.timestamps.min()
    assert 0.7 < len(q.train) / len(x) <= 0.8
    distinct = Interactions(np.zeros(10), np.arange(10), np.arange(10), np.arange(10) * 10, 1, 10)
    np.testing.assert_array_equal(_row_ids(time_split(distinct, 0.8).test), [8, 9])


@pytest.mark.parametrize("at", [0.0, 1.0, 1.5, -0.2, "2020", True, None])
def test_time_split_rejects_bad_cut(at):
    with pytest.raises(ValueError, match="at"):
        time_split(_log(), at)


def test_splits_of_an_empty_log():
    x = Interactions.empty(3, 4)
    for s in (random_split(x, 0.2), leave_last_out(x, valid=True), time_split(x, 0.5), time_split(x, 10)):
        assert len(s.train) == len(s.test) == 0
        assert (s.train.n_users, s.train.n_items) == (3, 4)


def test_official_split_on_real_ml100k(ml100k_dir):
    from cinerec.data import load

    ds = load(ml100k_dir)
    s = official_split(ds, "u1")
    assert (len(s.train), len(s.test)) == (80_000, 20_000)
    assert s.valid is None
    assert (s.train.n_users, s.train.n_items) == (ds.n_users, ds.n_items)
