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
    np.testing.assert_allclose(sketch.model(80.0).score(users, cands), kept, atol=1e-5)
    np.testing.assert_allclose(kept, np.take_along_axis(sketch.model(80.0).score(users), cands, 1), atol=1e-5)
