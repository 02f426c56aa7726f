import numpy as np
import pytest

from cinerec.errors import ConfigError
from cinerec.models import create
from cinerec.models.knn_rating import pearson_baseline_neighbours
from tests.models.conformance import ModelConformance, random_ratings
from tests.models.test_bpmf import low_rank_ratings


class TestKNNBaseline(ModelConformance):
    model_name = "knnbaseline"
    # tiny data: few common raters, so little shrinkage, and every movie a candidate neighbour
    config = {"neighbors": 30, "shrink": 1.0, "damping": 0.1}
    rating_model = True
    # a movie none of the neighbours' residuals reach keeps its baseline, and a movie
    # only its own group rated has a high movie bias
    planted_min_fraction = 0.95
    atol = 1e-4
    quality = ("ratings-fold", "rmse", 0.935)


class TestUserKNNBaseline(ModelConformance):
    model_name = "knnbaseline"
    config = {"kind": "user", "neighbors": 40, "shrink": 1.0, "damping": 0.1}
    rating_model = True
    # a movie that no similar user rated keeps its baseline (see above), more often here
    planted_min_fraction = 0.85
    atol = 1e-4


def _naive_similarity(z, observed, shrink):
    """Shrunk Pearson-baseline similarity of every pair of columns, one pair at a time."""
    n = z.shape[1]
    out = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            both = observed[:, i] & observed[:, j]
            c = both.sum()
            den = np.sqrt((z[both, i] ** 2).sum() * (z[both, j] ** 2).sum())
            if i != j and den > 0:
                out[i, j] = (z[both, i] * z[both, j]).sum() / den * max(c - 1, 0) / (c - 1 + shrink)
    return out


def test_similarities_are_the_shrunk_pearson_of_residuals_over_common_raters():
    x = random_ratings(n_users=40, n_items=20, seed=4)
    csr = x.csr.astype(np.float64)
    csr.data -= 3.0  # residuals, one of them possibly an explicit zero
    z, observed = csr.toarray(), x.seen.toarray().astype(bool)
    want = _naive_similarity(z, observed, shrink=5.0)
    got = pearson_baseline_neighbours(csr, neighbors=4, shrink=5.0).toarray()
    for i in range(20):
        top = np.sort(want[i][want[i] > 0])[::-1][:4]
        np.testing.assert_allclose(np.sort(got[i][got[i] > 0])[::-1], top, rtol=1e-5)
        kept = got[i] > 0
        np.testing.assert_allclose(got[i][kept], want[i][kept], rtol=1e-5)
    assert (np.diag(got) == 0).all()


def test_a_prediction_is_the_baseline_plus_the_neighbours_weighted_residuals():
    x = random_ratings(n_users=50, n_items=30, seed=1)
    model = create("knnbaseline", {"neighbors": 5, "shrink": 2.0, "damping": 0.3}).fit(x)
    r, seen = x.csr.toarray(), x.seen.toarray().astype(bool)
    base = model.mean_ + model.user_bias_[:, None] + model.item_bias_[None, :]
    w = model.weights_.toarray()
    assert ((w > 0).sum(axis=1) <= 5).all()
    rows = model.score(np.arange(50))
    for u, i in [(0, 3), (7, 0), (20, 29), (49, 11)]:
        near = (w[i] > 0) & seen[u]
        want = base[u, i] + (w[i, near] * (r[u, near] - base[u, near])).sum() / (0.3 + w[i, near].sum())
        assert rows[u, i] == pytest.approx(want, abs=1e-4)
        assert model.score([u], [i])[0] == pytest.approx(want, abs=1e-4)


def test_neighbours_improve_on_the_baseline_on_low_rank_ratings():
    x, truth = low_rank_ratings(seed=5, noise=0.2)
    users = np.repeat(np.arange(x.n_users), x.n_items)
    items = np.tile(np.arange(x.n_items), x.n_users)
    unseen = ~x.seen.toarray().ravel().astype(bool)

    def err(name, cfg):
        m = create(name, cfg).fit(x)
        return float(np.sqrt(np.mean((m.score(users[unseen], items[unseen]) - truth.ravel()[unseen]) ** 2)))

    for kind in ("item", "user"):
        assert err("knnbaseline", {"kind": kind}) < 0.85 * err("baseline", {})


def test_bad_settings_are_named():
    for bad, match in [({"kind": "movie"}, "kind"), ({"neighbors": 0}, "neighbors"),
                       ({"shrink": -1.0}, "shrink"), ({"damping": -0.1}, "damping")]:
        with pytest.raises(ConfigError, match=match):
            create("knnbaseline", bad)
