"""Negative sampling: shape, never a positive, distinct eval rows, the distributions, seeds."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from scipy import stats

from cinerec.data.dataset import Interactions
from cinerec.data.sampling import (
    NegativeSampler, pairwise_samples, pointwise_samples, positive_pairs, sample_eval_negatives, sample_negatives,
)

DISTRIBUTIONS = ["uniform", "popularity"]


def _dense_ish(n_users=40, n_items=25, density=0.6, seed=0) -> np.ndarray:
    """A dense 0/1 matrix with at least two unseen movies per user, plus nearly-full users."""
    rng = np.random.default_rng(seed)
    d = (rng.random((n_users, n_items)) < density).astype(np.float32)
    d[np.arange(n_users), rng.integers(0, n_items, n_users)] = 0
    d[np.arange(n_users), (rng.integers(1, n_items, n_users) + np.arange(n_users)) % n_items] = 0
    d[0] = 1
    d[0, 3] = 0  # one unseen movie
    d[1] = 1
    d[1, [1, 2]] = 0  # two unseen movies
    return d


def _sparse_heavy_tailed(n_users=3000, n_items=4000, seed=1) -> sp.csr_matrix:
    """Many light users (hashed filter) and a few heavy ones (exact bitmap or dense path)."""
    rng = np.random.default_rng(seed)
    deg = np.minimum((rng.pareto(1.0, n_users) * 8 + 1).astype(int), n_items - 150)
    deg[:3] = [n_items - 150, n_items // 2, n_items // 4]
    rows = np.repeat(np.arange(n_users), deg)
    cols = np.concatenate([rng.choice(n_items, d, replace=False) for d in deg])
    return sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(n_users, n_items))


@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
def test_never_a_positive_on_a_dense_matrix_exhaustively(distribution):
    d = _dense_ish()
    seen = sp.csr_matrix(d)
    users = np.repeat(np.arange(d.shape[0]), 30)
    neg = sample_negatives(seen, users, 5, rng=0, distribution=distribution)
    assert neg.shape == (len(users), 5) and neg.dtype == np.int32
    assert (d[users[:, None], neg] == 0).all()
    assert set(neg[users == 0].ravel().tolist()) == {3}
    assert set(neg[users == 1].ravel().tolist()) == {1, 2}
    ev = sample_eval_negatives(seen, np.arange(2, d.shape[0]), 2, rng=0, distribution=distribution)
    assert ev.shape == (d.shape[0] - 2, 2) and ev.dtype == np.int32
    assert (d[np.arange(2, d.shape[0])[:, None], ev] == 0).all()
    assert (ev[:, 0] != ev[:, 1]).all()
    both = sample_eval_negatives(seen, np.array([1, 1]), 2, rng=0, distribution=distribution)
    assert sorted(both[0].tolist()) == sorted(both[1].tolist()) == [1, 2]


def test_membership_filter_is_exact_on_every_cell():
    seen = _sparse_heavy_tailed(n_users=400, n_items=3000)
    sampler = NegativeSampler(seen)
    assert sampler._exact.any() and (~sampler._exact).any()  # both filter kinds in play
    items = np.broadcast_to(np.arange(3000, dtype=np.int32), (400, 3000))
    got = sampler._seen_mask(np.arange(400, dtype=np.int32), np.ascontiguousarray(items))
    np.testing.assert_array_equal(got, seen.toarray() != 0)


@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
def test_never_a_positive_on_a_larger_random_matrix(distribution):
    seen = _sparse_heavy_tailed()
    sampler = NegativeSampler(seen, distribution=distribution)
    users = np.repeat(np.arange(seen.shape[0]), np.diff(seen.indptr))
    users = np.random.default_rng(0).permutation(users)  # not grouped by user
    neg = sampler.sample(users, 4, np.random.default_rng(5))
    assert neg.shape == (len(users), 4) and neg.dtype == np.int32
    assert not np.asarray(seen[np.repeat(users, 4), neg.ravel()]).any()
    all_users = np.arange(seen.shape[0])
    ev = sampler.sample_eval(all_users, 99, 6)
    assert ev.shape == (len(all_users), 99) and ev.dtype == np.int32
    assert not np.asarray(seen[np.repeat(all_users, 99), ev.ravel()]).any()
    srt = np.sort(ev, axis=1)
    assert (srt[:, 1:] != srt[:, :-1]).all(), "eval negatives repeat within a row"


def test_uniform_is_uniform_over_unseen_movies():
    n_items = 50
    d = np.zeros((2, n_items), np.float32)
    d[0, ::3] = 1  # light user: rejection path
    d[1, :40] = 1  # 80% seen: direct draws from the unseen movies
    seen = sp.csr_matrix(d)
    for user in (0, 1):
        neg = sample_negatives(seen, np.full(20_000, user), 3, rng=11)
        counts = np.bincount(neg.ravel(), minlength=n_items)
        unseen = np.flatnonzero(d[user] == 0)
        assert counts[d[user] == 1].sum() == 0
        p = stats.chisquare(counts[unseen]).pvalue
        assert p > 1e-3, f"user {user}: counts not uniform (p={p:.2e})"


def test_popularity_is_proportional_to_weights_among_unseen():
    n_items = 30
    w = np.arange(1, n_items + 1, dtype=float)
    w[5] = 0.0  # weight 0: never drawn
    d = np.zeros((2, n_items), np.float32)
    d[0, [0, 7, 29]] = 1
    d[1, 3:27] = 1  # most of the mass seen: direct draws
    seen = sp.csr_matrix(d)
    for user in (0, 1):
        neg = sample_negatives(seen, np.full(30_000, user), 2, rng=3, distribution="popularity", item_weights=w)
        counts = np.bincount(neg.ravel(), minlength=n_items)
        ok = (d[user] == 0) & (w > 0)
        assert counts[~ok].sum() == 0
        expected = w[ok] / w[ok].sum() * counts.sum()
        p = stats.chisquare(counts[ok], expected).pvalue
        assert p > 1e-3, f"user {user}: counts not proportional to weights (p={p:.2e})"


def test_popularity_defaults_to_column_counts_and_alpha():
    d = np.zeros((6, 4), np.float32)
    d[1:, 0] = 1  # movie 0 seen by 5 users
    d[1:3, 1] = 1  # movie 1 by 2, movie 2 by 0 (never drawn), movie 3 by 0
    d[4, 3] = 1
    seen = sp.csr_matrix(d)
    neg = sample_negatives(seen, np.zeros(40_000, int), 1, rng=2, distribution="popularity")
    counts = np.bincount(neg.ravel(), minlength=4)
    assert counts[2] == 0
    assert stats.chisquare(counts[[0, 1, 3]], np.array([5, 2, 1]) / 8 * counts.sum()).pvalue > 1e-3
    flat = sample_negatives(seen, np.zeros(40_000, int), 1, rng=2, distribution="popularity", popularity_alpha=0.0)
    fc = np.bincount(flat.ravel(), minlength=4)
    assert fc[2] == 0 and stats.chisquare(fc[[0, 1, 3]]).pvalue > 1e-3


@pytest.mark.parametrize("heavy", [False, True])
def test_eval_first_column_follows_popularity(heavy):
    # The first negative of a row is the first unseen draw, so it is ∝ weight among unseen,
    # on the rejection path (light user) and on the dense path (heavy user) alike.
    n_items = 20
    w = np.linspace(1, 5, n_items)
    d = np.zeros((1, n_items), np.float32)
    d[0, :14 if heavy else 2] = 1
    seen = sp.csr_matrix(d)
    ev = sample_eval_negatives(seen, np.zeros(20_000, int), 3, rng=4, distribution="popularity", item_weights=w)
    assert (d[0, ev] == 0).all()
    counts = np.bincount(ev[:, 0], minlength=n_items)
    ok = d[0] == 0
    p = stats.chisquare(counts[ok], w[ok] / w[ok].sum() * counts.sum()).pvalue
    assert p > 1e-3
    srt = np.sort(ev, axis=1)
    assert (srt[:, 1:] != srt[:, :-1]).all()


@pytest.mark.parametrize(("n_items", "seen_items"), [(8, [2, 5]), (10, [2, 5])])
def test_eval_uniform_subsets_are_uniform(n_items, seen_items):
    # 2 of the unseen movies per row: every pair equally likely, on the dense path
    # (6 unseen < 4n) and on the rejection path (8 unseen).
    d = np.zeros((1, n_items), np.float32)
    d[0, seen_items] = 1
    ev = sample_eval_negatives(sp.csr_matrix(d), np.zeros(20_000, int), 2, rng=8)
    assert (d[0, ev] == 0).all() and (ev[:, 0] != ev[:, 1]).all()
    pair = np.sort(ev, axis=1) @ np.array([n_items, 1])
    _, counts = np.unique(pair, return_counts=True)
    unseen = n_items - len(seen_items)
    assert len(counts) == unseen * (unseen - 1) // 2 and stats.chisquare(counts).pvalue > 1e-3


@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
def test_deterministic_given_seed(distribution):
    seen = _sparse_heavy_tailed(n_users=500, n_items=800)
    users = np.arange(500).repeat(3)
    a = sample_negatives(seen, users, 4, rng=42, distribution=distribution)
    b = sample_negatives(seen, users, 4, rng=np.random.default_rng(42), distribution=distribution)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, sample_negatives(seen, users, 4, rng=43, distribution=distribution))
    e1 = sample_eval_negatives(seen, np.arange(500), 20, rng=1, distribution=distribution)
    e2 = sample_eval_negatives(seen, np.arange(500), 20, rng=1, distribution=distribution)
    np.testing.assert_array_equal(e1, e2)


def test_user_who_has_seen_everything_is_named():
    d = np.zeros((5, 6), np.float32)
    d[3] = 1
    seen = sp.csr_matrix(d)
    with pytest.raises(ValueError, match="user 3"):
        sample_negatives(seen, np.array([0, 1, 3, 4]), 2, rng=0)
    with pytest.raises(ValueError, match="user 3"):
        sample_eval_negatives(seen, np.array([3]), 1, rng=0)
    d[2, :4] = 1
    with pytest.raises(ValueError, match="user 2 has only 2"):
        sample_eval_negatives(sp.csr_matrix(d), np.array([0, 2]), 3, rng=0)
    w = np.array([0, 0, 0, 0, 1, 1.0])
    d2 = np.zeros((2, 6), np.float32)
    d2[1, 4:] = 1  # unseen movies all have weight 0
    with pytest.raises(ValueError, match="user 1"):
        sample_negatives(sp.csr_matrix(d2), np.array([0, 1]), 1, rng=0, distribution="popularity", item_weights=w)


def test_explicit_zero_entries_count_as_seen():
    seen = sp.csr_matrix((np.array([0.0, 1.0]), (np.array([0, 0]), np.array([1, 2]))), shape=(1, 4))
    seen.data[0] = 0.0
    neg = sample_negatives(seen, np.zeros(2000, int), 2, rng=0)
    assert set(neg.ravel().tolist()) == {0, 3}


def test_unsorted_and_duplicate_entries_and_other_sparse_formats():
    rows, cols = np.array([0, 0, 0, 1]), np.array([3, 1, 3, 0])
    coo = sp.coo_matrix((np.ones(4), (rows, cols)), shape=(2, 5))
    for m in (coo, coo.tocsc(), sp.csr_array(coo)):
        neg = sample_negatives(m, np.array([0, 1] * 500), 3, rng=0)
        assert not np.isin(neg[0::2], [1, 3]).any() and not (neg[1::2] == 0).any()


@pytest.mark.parametrize(("kwargs", "word"), [
    ({"k": 0}, "k must"), ({"k": 2.5}, "k must"), ({"users": np.array([0, 9])}, "user index 9"),
    ({"users": np.array([-1])}, "user index -1"), ({"users": np.array([0.5])}, "integer"),
    ({"distribution": "zipf"}, "distribution"), ({"item_weights": np.ones(6)}, "only used"),
    ({"distribution": "popularity", "item_weights": np.ones(3)}, "shape"),
    ({"distribution": "popularity", "item_weights": -np.ones(6)}, "non-negative"),
    ({"distribution": "popularity", "item_weights": np.zeros(6)}, "weight 0"),
    ({"distribution": "popularity", "popularity_alpha": -1.0}, "popularity_alpha"),
    ({"rng": "seed"}, "rng"),
])
def test_bad_arguments_are_named(kwargs, word):
    seen = sp.csr_matrix(np.eye(4, 6, dtype=np.float32))
    args = {"users": np.array([0, 1]), "k": 2, "rng": 0} | kwargs
    with pytest.raises(ValueError, match=word):
        sample_negatives(seen, args.pop("users"), args.pop("k"), **args)


def test_eval_bad_n_and_not_a_matrix():
    seen = sp.csr_matrix(np.eye(4, 6, dtype=np.float32))
    with pytest.raises(ValueError, match="n must"):
        sample_eval_negatives(seen, np.array([0]), 0, rng=0)
    with pytest.raises(ValueError, match="seen"):
        sample_negatives(np.eye(3), np.array([0]), 1, rng=0)


def test_empty_users_and_int64_users():
    seen = sp.csr_matrix(np.eye(4, 6, dtype=np.float32))
    assert sample_negatives(seen, np.zeros(0, np.int64), 3, rng=0).shape == (0, 3)
    assert sample_eval_negatives(seen, np.zeros(0, np.int64), 3, rng=0).shape == (0, 3)
    neg = sample_negatives(seen, np.array([2, 3], np.int64), 3, rng=0)
    assert not (neg[0] == 2).any() and not (neg[1] == 3).any()


def test_on_real_ml100k_train_and_eval(ml100k_dir):
    from cinerec.data import load

    x = load(ml100k_dir).interactions
    sampler = NegativeSampler(x.seen)
    neg = sampler.sample(x.users, 4, 0)
    assert neg.shape == (100_000, 4)
    assert not np.asarray(x.seen[np.repeat(x.users, 4), neg.ravel()]).any()
    ev = sampler.sample_eval(np.arange(x.n_users), 99, 0)
    assert not np.asarray(x.seen[np.repeat(np.arange(x.n_users), 99), ev.ravel()]).any()
    assert (np.diff(np.sort(ev, axis=1), axis=1) > 0).all()


@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
def test_leftovers_after_the_rejection_rounds_are_finished_exactly(monkeypatch, distribution):
    # With no redraw rounds, every collision goes straight to the exact fallback.
    from cinerec.data import sampling

    monkeypatch.setattr(sampling, "_MAX_ROUNDS", 0)
    d = _dense_ish(n_users=60, n_items=40, density=0.3, seed=4)
    seen = sp.csr_matrix(d)
    users = np.random.default_rng(1).permutation(np.repeat(np.arange(60), 20))
    neg = sample_negatives(seen, users, 3, rng=0, distribution=distribution)
    assert (d[users[:, None], neg] == 0).all()
    ev = sample_eval_negatives(seen, np.arange(2, 60), 5, rng=0, distribution=distribution)
    assert (d[np.arange(2, 60)[:, None], ev] == 0).all()
    srt = np.sort(ev, axis=1)
    assert (srt[:, 1:] != srt[:, :-1]).all()


@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
def test_same_result_for_any_number_of_threads(monkeypatch, distribution):
    from cinerec.data import sampling

    monkeypatch.setattr(sampling, "_CHUNK", 1 << 10)  # many chunks on a small matrix
    seen = _sparse_heavy_tailed(n_users=300, n_items=900, seed=3)
    users = np.repeat(np.arange(300), np.diff(seen.indptr))
    got = []
    for t in (1, 2, 3):
        sampler = NegativeSampler(seen, distribution=distribution, threads=t)
        got.append((sampler.sample(users, 3, 9), sampler.sample_eval(np.arange(300), 30, 9)))
    for neg, ev in got[1:]:
        np.testing.assert_array_equal(neg, got[0][0])
        np.testing.assert_array_equal(ev, got[0][1])
    with pytest.raises(ValueError, match="threads"):
        NegativeSampler(seen, threads=0)


# -- epoch samples of the neural models -------------------------------------------------


def _log(rows: list[tuple[int, int]], n_users: int, n_items: int) -> Interactions:
    u, i = np.array(rows).T
    return Interactions(u, i, np.ones(len(u)), np.arange(len(u)), n_users, n_items)


def test_positive_pairs_are_distinct_and_by_user_then_movie():
    x = _log([(1, 3), (0, 2), (1, 0), (0, 2)], 2, 4)  # (0, 2) rated twice: one pair
    u, i = positive_pairs(x)
    assert u.tolist() == [0, 1, 1] and i.tolist() == [2, 0, 3]
    assert u.dtype == i.dtype == np.int64


def test_pointwise_and_pairwise_shapes_labels_and_never_a_positive():
    import torch

    x = _log([(u, i) for u in range(20) for i in range(u % 7, 40, 3)], 20, 40)
    u, i = positive_pairs(x)
    seen = x.seen.toarray() > 0
    for distribution in ("uniform", "popularity"):
        users, items, labels = pointwise_samples(x, 3, np.random.default_rng(0), torch.device("cpu"),
                                                 distribution=distribution)
        n = len(u)
        assert users.shape == items.shape == labels.shape == (4 * n,)
        assert labels[:n].eq(1).all() and labels[n:].eq(0).all()
        np.testing.assert_array_equal(users[:n].numpy(), u)
        np.testing.assert_array_equal(users[n:].numpy(), np.repeat(u, 3))
        assert not seen[users[n:].numpy(), items[n:].numpy()].any()
        pu, pi, pn = pairwise_samples(x, 2, np.random.default_rng(0), torch.device("cpu"), distribution=distribution)
        assert pu.shape == pi.shape == pn.shape == (2 * n,) and pn.dtype == torch.int64
        np.testing.assert_array_equal(pi.numpy(), np.repeat(i, 2))
        assert not seen[pu.numpy(), pn.numpy()].any()


def test_a_user_who_rated_every_movie_gives_positives_without_negatives():
    # gmf, neumf and mf's ranking loss stopped with "user 12 has no unseen movies left"
    # (an internal index) on data where someone had rated every movie.
    import torch

    from cinerec.errors import DataError
    from cinerec.models import create

    x = _log([(0, i) for i in range(6)] + [(1, 0), (1, 2), (2, 5)], 3, 6)  # user 0 rated all six
    u, i = positive_pairs(x)
    for distribution in ("uniform", "popularity"):
        users, items, labels = pointwise_samples(x, 2, np.random.default_rng(0), torch.device("cpu"),
                                                 distribution=distribution)
        n = len(u)
        assert labels[:n].eq(1).all() and users[:n].tolist() == u.tolist()
        assert users[n:].tolist() == np.repeat(u[u != 0], 2).tolist()
        pu, pi, _ = pairwise_samples(x, 2, np.random.default_rng(0), torch.device("cpu"), distribution=distribution)
        assert 0 not in pu.tolist() and pi.tolist() == np.repeat(i[u != 0], 2).tolist()
    for name, settings in (("neumf", {"epochs": 1, "recency_half_life": 0.2}), ("gmf", {"epochs": 1}),
                           ("mf", {"epochs": 1, "loss": "bpr"})):
        items, _ = create(name, settings).fit(x).recommend(np.arange(3), 2)
        assert (items[0] == -1).all()  # nothing left to offer user 0
    full = _log([(u, i) for u in range(2) for i in range(3)], 2, 3)
    with pytest.raises(DataError, match="every user has rated every movie"):
        pointwise_samples(full, 1, np.random.default_rng(0), torch.device("cpu"))


def test_popularity_negatives_follow_training_popularity_to_the_exponent():
    import torch

    # Movie j (1..4) is seen by users 1..j, movie 5 by user 0 alone, movie 0 by nobody.
    # User 0's negatives are then movies 1..4 with probability proportional to j ** 0.5;
    # movie 0, with no training users, is never drawn.
    x = _log([(0, 5)] + [(u, j) for j in range(1, 5) for u in range(1, j + 1)], 5, 6)
    n = len(positive_pairs(x)[0])
    cpu = torch.device("cpu")

    def user0(samples):
        users, items = samples[0][n:].numpy(), samples[1][n:].numpy()
        return np.bincount(items[users == 0], minlength=6)

    counts = user0(pointwise_samples(x, 20_000, np.random.default_rng(4), cpu, distribution="popularity", exponent=0.5))
    assert counts[0] == 0 and counts[5] == 0
    expected = np.arange(1, 5) ** 0.5
    assert stats.chisquare(counts[1:5], expected / expected.sum() * counts[1:5].sum()).pvalue > 1e-3
    flat = user0(pointwise_samples(x, 20_000, np.random.default_rng(4), cpu))  # uniform: movie 0 too
    assert flat[5] == 0 and stats.chisquare(flat[:5]).pvalue > 1e-3


@pytest.mark.parametrize("user", [np.int64(2**32 + 1), np.uint64(2**32), np.int64(-(2**32) + 1), np.int64(2**31)])
def test_a_user_index_past_int32_is_refused_not_wrapped_round(user):
    # Cast to int32 before the check, 2**32 + 1 was user 1 and got that user's negatives.
    from cinerec.data.sampling import sample_eval_negatives, sample_negatives

    seen = sp.csr_matrix((np.ones(2), ([0, 1], [0, 1])), shape=(2, 3))
    for sample in (sample_negatives, sample_eval_negatives):
        with pytest.raises(ValueError, match=rf"users: user index {int(user)} is out of range \[0, 2\)"):
            sample(seen, np.array([user]), 1, rng=0)


def test_one_unseen_movie_is_said_in_the_singular():
    from cinerec.data.sampling import sample_eval_negatives

    seen = sp.csr_matrix((np.ones(2), ([0, 0], [0, 1])), shape=(1, 3))
    with pytest.raises(ValueError, match=r"user 0 has only 1 unseen movie, fewer than the 2 asked for"):
        sample_eval_negatives(seen, np.array([0]), 2, rng=0)
