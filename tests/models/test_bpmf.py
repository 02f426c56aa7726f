import numpy as np
import pytest

from cinerec.data.dataset import Interactions
from cinerec.errors import ConfigError, DataError
from cinerec.models import create
from cinerec.models.bpmf import sample_normal_wishart
from tests.models.conformance import ModelConformance

FAST = {"factors": 4, "sweeps": 40, "burn_in": 15, "keep": 10}


class TestBPMF(ModelConformance):
    model_name = "bpmf"
    config = FAST
    rating_model = True
    atol = 1e-4
    quality = ("ratings-fold", "rmse", 0.915)
    quality_config = {"sweeps": 200, "burn_in": 60, "keep": 140}


def low_rank_ratings(n_users=120, n_items=80, rank=2, noise=0.3, share=0.5, seed=0):
    """Ratings from a rank-``rank`` model plus biases and noise; ``share`` of the cells observed."""
    rng = np.random.default_rng(seed)
    p, q = rng.normal(0, 0.7, (n_users, rank)), rng.normal(0, 0.7, (n_items, rank))
    bu, bi = rng.normal(0, 0.4, n_users), rng.normal(0, 0.4, n_items)
    truth = 3.0 + bu[:, None] + bi[None, :] + p @ q.T
    cells = np.argwhere(rng.random((n_users, n_items)) < share)
    u, i = cells[:, 0], cells[:, 1]
    r = truth[u, i] + rng.normal(0, noise, len(u))
    return Interactions(u, i, r.astype(np.float32), np.zeros(len(u), np.int64), n_users, n_items), truth


def test_recovers_a_low_rank_matrix_to_the_noise_level():
    x, truth = low_rank_ratings()
    model = create("bpmf", {"factors": 4, "sweeps": 120, "burn_in": 40}).fit(x)
    users = np.repeat(np.arange(x.n_users), x.n_items)
    items = np.tile(np.arange(x.n_items), x.n_users)
    unseen = ~x.seen.toarray().ravel().astype(bool)
    err = model.score(users[unseen], items[unseen]) - truth.ravel()[unseen]
    rmse = float(np.sqrt(np.mean(err ** 2)))
    # the noise is 0.3 and half the cells are observed: the unseen cells come out close
    # to the truth, far closer than a per-movie mean does
    movie_mean = np.bincount(x.items, x.ratings, x.n_items) / np.bincount(x.items, minlength=x.n_items)
    base = float(np.sqrt(np.mean((movie_mean[items[unseen]] - truth.ravel()[unseen]) ** 2)))
    assert rmse < 0.25 and rmse < base / 3
    # the sampled noise precision settles near 1 / 0.3^2
    alphas = [h["alpha"] for h in model.history[-40:]]
    assert 7 < np.mean(alphas) < 15


def test_keeps_the_asked_number_of_draws():
    x, _ = low_rank_ratings(n_users=30, n_items=20)
    model = create("bpmf", {"factors": 3, "sweeps": 20, "burn_in": 5, "keep": 4}).fit(x)
    assert model.n_kept == 4
    assert model.user_vecs.shape == (30, 4 * 5) and model.item_vectors().shape == (20, 12)
    more = create("bpmf", {"factors": 3, "sweeps": 20, "burn_in": 5, "keep": 100}).fit(x)
    assert more.n_kept == 15  # every draw after burn-in, no more


def test_normal_wishart_draws_centre_on_the_posterior():
    rng = np.random.default_rng(0)
    x = rng.multivariate_normal([1.0, -2.0], [[0.5, 0.2], [0.2, 0.3]], size=4000)
    draws = [sample_normal_wishart(rng, x, beta0=2.0) for _ in range(200)]
    mu = np.mean([m for m, _ in draws], axis=0)
    cov = np.linalg.inv(np.mean([lam for _, lam in draws], axis=0))
    np.testing.assert_allclose(mu, [1.0, -2.0], atol=0.05)
    np.testing.assert_allclose(cov, [[0.5, 0.2], [0.2, 0.3]], atol=0.05)


def test_bad_settings_are_named():
    with pytest.raises(ConfigError, match="burn_in"):
        create("bpmf", {"sweeps": 10, "burn_in": 10})
    with pytest.raises(ConfigError, match="factors"):
        create("bpmf", {"factors": 0})


def test_damaged_saved_vectors_are_refused(tmp_path):
    x, _ = low_rank_ratings(n_users=30, n_items=20)
    model = create("bpmf", {"factors": 3, "sweeps": 10, "burn_in": 5}).fit(x)
    model.save(tmp_path / "m")
    np.savez(tmp_path / "m" / "bpmf.npz", user_vecs=np.zeros((3, 5), np.float32),
             item_vecs=np.zeros((20, 5), np.float32), stats=np.array([3.0, 1.0, 5.0]))
    with pytest.raises(DataError, match="bpmf.npz"):
        type(model).load(tmp_path / "m")


def test_its_progress_goes_to_stderr_and_quiet_silences_it(capsys):
    # Its sweeps were printed on stdout, where --json prints its one object.
    from cinerec import progress

    x, _ = low_rank_ratings()
    create("bpmf", {**FAST, "sweeps": 25, "burn_in": 5, "progress": True}).fit(x)
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("bpmf sweep 25/25: train RMSE ")
    with progress.silenced():
        create("bpmf", {**FAST, "sweeps": 25, "burn_in": 5, "progress": True}).fit(x)
    assert capsys.readouterr() == ("", "")
