"""EASESketch: EASE for many λ from the top eigenpairs of XᵀX (approximate screening)."""

from __future__ import annotations

import numpy as np
import pytest

from cinerec.models import create
from cinerec.models.baselines import EASEConfig
from cinerec.models.ease_sketch import EASESketch
from tests.models.conformance import random_ratings

PLAIN = EASEConfig(recency_half_life=0.0)


def _exact_b(x, lam):
    seen = (x.csr != 0).astype(np.float64)
    p = np.linalg.inv((seen.T @ seen).toarray() + lam * np.eye(x.n_items))
    b = -p / np.diag(p)[None, :]
    np.fill_diagonal(b, 0.0)
    return seen, p, b


def test_a_sketch_holding_the_whole_spectrum_is_eases_closed_form():
    # 12 users and 60 movies: XᵀX has rank at most 12, so the top 30 eigenpairs hold all of
    # it, the rest of the spectrum is zero and the sketch's P is exact.
    x = random_ratings(12, 60, seed=1)
    sketch = EASESketch(x, PLAIN, rank=30)
    assert sketch.rank == 30 and sketch.rest_mean == pytest.approx(0.0, abs=1e-3)
    for lam in (3.0, 300.0):
        seen, p, b = _exact_b(x, lam)
        np.testing.assert_allclose(sketch.diag_p(lam), np.diag(p), rtol=1e-4)
        model = sketch.model(lam)
        np.testing.assert_allclose(model.score(np.arange(12)), seen @ b, atol=1e-4)
        np.testing.assert_allclose(model.weights_, b, atol=1e-4)


def test_sketch_pairs_rows_and_b_agree_and_a_truncated_sketch_nears_the_plain_fit_at_large_lambda():
    x = random_ratings(200, 80, seed=2)
    sketch = EASESketch(x, EASEConfig(recency_half_life=0.5), rank=20)
    users = np.arange(40)
    rng = np.random.default_rng(0)
    cands = rng.integers(0, x.n_items, (len(users), 7))
    for lam in (5.0, 2000.0):
        model = sketch.model(lam)
        rows = model.score(users)
        # pairs (cached after the first call) and whole rows say the same
        for _ in range(2):
            np.testing.assert_allclose(model.score(users, cands), np.take_along_axis(rows, cands, 1), atol=1e-5)
    # The further λ lies above the discarded eigenvalues, the closer the sketch is to a plain fit.
    errors = []
    for lam in (5.0, 200.0, 20000.0):
        plain = create("ease", {"regularization": lam, "recency_half_life": 0.5}).fit(x).score(users)
        errors.append(np.abs(sketch.model(lam).score(users) - plain).max() / np.abs(plain).max())
    assert errors[0] > errors[1] > errors[2] and errors[2] < 0.05


def test_a_sketch_model_refitted_is_an_ordinary_ease():
    x = random_ratings(60, 40, seed=3)
    model = EASESketch(x, PLAIN, rank=8).model(50.0)
    assert model.approximate
    model.fit(x)
    assert not model.approximate
    _, _, b = _exact_b(x, 50.0)
    np.testing.assert_allclose(model.weights_, b, atol=1e-5)


def test_pairs_too_many_to_keep_are_scored_block_by_block_alike(monkeypatch):
    import cinerec.models.ease_sketch as ease_sketch

    x = random_ratings(120, 50, seed=4)
    sketch = EASESketch(x, EASEConfig(recency_half_life=0.3), rank=10)
    users = np.arange(x.n_users)
    cands = np.random.default_rng(1).integers(0, x.n_items, (len(users), 5))
    kept = sketch.model(80.0).score(users, cands)
    assert len(sketch._pairs) == 1
    monkeypatch.setattr(ease_sketch, "_PAIR_CACHE_BYTES", 0)
    fresh = EASESketch(x, EASEConfig(recency_half_life=0.3), rank=10)
    np.testing.assert_allclose(fresh.model(80.0).score(users, cands), kept, atol=1e-5)
    assert not fresh._pairs
    np.testing.assert_allclose(kept, np.take_along_axis(sketch.model(80.0).score(users), cands, 1), atol=1e-5)


def test_pairs_scored_a_block_of_users_at_a_time_are_all_kept_for_the_next_lambda(monkeypatch):
    # An evaluation scores its users in blocks; a search over λ scores the same blocks
    # again each trial, and none should be worked out twice.
    x = random_ratings(120, 50, seed=5)
    sketch = EASESketch(x, EASEConfig(recency_half_life=0.3), rank=10)
    cands = np.random.default_rng(2).integers(0, x.n_items, (x.n_users, 6))
    blocks = [np.arange(0, 60), np.arange(60, 120)]
    first = [sketch.model(80.0).score(b, cands[b]) for b in blocks]
    worked = []
    original = type(sketch.model(1.0))._pair_parts
    monkeypatch.setattr(type(sketch.model(1.0)), "_pair_parts",
                        lambda self, *a, **k: worked.append(1) or original(self, *a, **k))
    again = [sketch.model(80.0).score(b, cands[b]) for b in blocks]
    assert not worked and len(sketch._pairs) == 2
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    sketch.model(80.0, recency_half_life=0.6).score(blocks[0], cands[blocks[0]])  # other weights: worked out anew
    assert worked and len(sketch._pairs) == 1


def test_a_sketch_model_fitted_on_the_sketchs_data_starts_from_its_gram_and_is_a_plain_fit(monkeypatch):
    import cinerec.models.baselines as baselines

    x, other = random_ratings(80, 60, seed=6), random_ratings(70, 60, seed=7)
    plain = create("ease", {"regularization": 40.0}).fit(x).weights_
    plain_other = create("ease", {"regularization": 40.0}).fit(other).weights_
    sketch = EASESketch(x, EASEConfig(), rank=10)

    def no_gram(self, train):
        raise AssertionError("XᵀX computed again")

    sketch.model(40.0).score(np.arange(5), np.zeros((5, 2), dtype=np.int64))
    assert sketch._pairs
    with monkeypatch.context() as m:
        m.setattr(baselines.EASE, "_gram", no_gram)
        refit = sketch.model(40.0).fit(x)
    assert not sketch._pairs  # the trials' products are let go for the fit
    np.testing.assert_array_equal(refit.weights_, plain)
    np.testing.assert_array_equal(sketch.model(40.0).fit(other).weights_, plain_other)  # other data: its own


def test_pairs_of_more_than_a_block_of_users_in_any_order_score_as_whole_rows():
    # Past 1,024 users the pairs are worked out a block of users at a time; shuffled, a
    # block's pairs lie apart, sorted they lie together: both ways give the rows' scores.
    x = random_ratings(1100, 30, seed=8)
    sketch = EASESketch(x, EASEConfig(recency_half_life=0.0), rank=8)
    users = np.repeat(np.arange(x.n_users), 2)
    items = np.random.default_rng(3).integers(0, x.n_items, len(users))
    rows = sketch.model(30.0).score(np.arange(x.n_users))
    for order in (np.arange(len(users)), np.random.default_rng(4).permutation(len(users))):
        sketch._pairs.clear()
        got = sketch.model(30.0).score(users[order], items[order])
        np.testing.assert_allclose(got, rows[users[order], items[order]], atol=1e-5)
