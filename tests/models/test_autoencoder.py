"""AutoRec and Mult-VAE: the shared contract plus each model's own rules."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from cinerec.errors import ConfigError
from cinerec.models import create
from cinerec.models.autoencoder import AutoRec, MultVAE, dense_rows, kl_weight, masked_sse
from cinerec.models.base import CapabilityError
from tests.models.conformance import ModelConformance, planted_groups, random_ratings

TINY_AUTOREC = {"layers": [16], "epochs": 60, "batch_size": 8, "lr": 0.01, "regularization": 0.01,
                "device": "cpu", "progress": False, "threads": 1}
TINY_VAE = {"layers": [32, 8], "epochs": 40, "batch_size": 8, "lr": 0.005, "total_anneal_steps": 100,
            "device": "cpu", "progress": False, "threads": 1}


class TestItemAutoRec(ModelConformance):
    model_name = "autorec"
    config = TINY_AUTOREC
    rating_model = True
    quality = ("ratings-fold", "rmse", 0.95)
    quality_options = {"fold": "u1"}


class TestUserAutoRec(ModelConformance):
    model_name = "autorec"
    config = {**TINY_AUTOREC, "kind": "user"}
    rating_model = True


class TestSeenItemAutoRec(ModelConformance):
    """The ranking variant: which cells hold a rating, over every cell."""
    model_name = "autorec"
    config = {**TINY_AUTOREC, "target": "seen"}
    rating_model = True
    # Popularity scores 0.0859 here.
    quality = ("loo-full", "hr@10", 0.10)
    quality_config = dict(AutoRec.ranking_settings)  # what a ranking protocol gives it


class TestSeenUserAutoRec(ModelConformance):
    model_name = "autorec"
    config = {**TINY_AUTOREC, "target": "seen", "kind": "user"}
    rating_model = True


class TestMultVAE(ModelConformance):
    model_name = "multivae"
    config = TINY_VAE
    quality = ("loo-sampled", "hr@10", 0.64)


def test_dense_rows_matches_scipy():
    x = random_ratings().csr
    rows = np.array([3, 0, 3, 49])
    values, observed = dense_rows(torch.from_numpy(x.indptr.astype(np.int64)), torch.from_numpy(x.indices.astype(np.int64)),
                                  torch.from_numpy(x.data), torch.from_numpy(rows), x.shape[1])
    np.testing.assert_array_equal(values.numpy(), x[rows].toarray())
    np.testing.assert_array_equal(observed.numpy(), x[rows].toarray() != 0)


def test_autorec_loss_ignores_unobserved_entries():
    rng = np.random.default_rng(0)
    recon = torch.tensor(rng.normal(size=(3, 5)), dtype=torch.float32, requires_grad=True)
    target = torch.tensor(rng.integers(1, 6, (3, 5)), dtype=torch.float32)
    observed = torch.tensor(rng.random((3, 5)) < 0.5)
    base = masked_sse(recon, target, observed)
    # Any placeholder in the unobserved cells of the target: same loss.
    other = torch.where(observed, target, torch.full_like(target, 99.0))
    assert float(masked_sse(recon, other, observed).detach()) == pytest.approx(float(base.detach()))
    # And no gradient reaches the reconstruction at unobserved cells.
    base.backward()
    assert (recon.grad[~observed] == 0).all()
    assert (recon.grad[observed] != 0).all()
    # By hand: the squared errors of the observed cells.
    want = float((((recon - target) ** 2)[observed]).sum())
    assert float(base.detach()) == pytest.approx(want, rel=1e-6)


def test_autorec_training_loss_only_sees_observed_ratings():
    x = random_ratings()
    model = create("autorec", TINY_AUTOREC).fit(x)
    net = model.module
    rows = torch.arange(5)
    values, observed = net.matrix.rows(rows)
    with torch.no_grad():
        recon = net(values)
        loss = masked_sse(recon, values, observed)
        shifted = masked_sse(recon, values + 7.0 * (~observed), observed)
    assert float(loss) == pytest.approx(float(shifted))


def test_autorec_predicts_clipped_stars_and_learns_the_planted_dislikes():
    x = planted_groups(rating_model=True)
    model = create("autorec", {**TINY_AUTOREC, "epochs": 150}).fit(x)
    users = np.repeat(np.arange(x.n_users), x.n_items)
    items = np.tile(np.arange(x.n_items), x.n_users)
    predicted = model.predict(users, items)
    assert predicted.min() >= 1.0 and predicted.max() <= 5.0
    # Its ranking is its own order, unclipped: scores clipped at 5 tied, and a list of the
    # movies shown at 5 fell into movie-id order.
    stars = model.score(np.arange(x.n_users))
    np.testing.assert_allclose(predicted, np.clip(stars.ravel(), 1.0, 5.0), rtol=1e-5, atol=1e-5)
    outside = (stars < 1.0) | (stars > 5.0)
    assert outside.any() and len(np.unique(stars[outside])) == outside.sum()
    half = x.n_items // 2
    group = np.arange(x.n_users) >= x.n_users // 2
    own = np.where(group[:, None], stars[:, half:].mean(1, keepdims=True), stars[:, :half].mean(1, keepdims=True))
    other = np.where(group[:, None], stars[:, :half].mean(1, keepdims=True), stars[:, half:].mean(1, keepdims=True))
    assert (own > other + 1.0).all()


def test_item_autorec_refuses_new_people_but_user_autorec_takes_them():
    x = random_ratings()
    item = create("autorec", {**TINY_AUTOREC, "epochs": 2}).fit(x)
    assert not item.can_score_history
    with pytest.raises(CapabilityError, match="item-based"):
        item.score_history(x.csr[:2])
    user = create("autorec", {**TINY_AUTOREC, "kind": "user", "epochs": 2}).fit(x)
    assert user.can_score_history
    new = sp.csr_matrix(([5.0, 1.0], ([0, 0], [2, 7])), shape=(1, x.n_items))
    assert user.score_history(new).shape == (1, x.n_items)
    with pytest.raises(ConfigError, match="columns"):
        user.score_history(new[:, :10])


def test_autorec_config_names_the_bad_field():
    with pytest.raises(ConfigError, match="layers"):
        create("autorec", {"layers": []})
    with pytest.raises(ConfigError, match="kind"):
        create("autorec", {"kind": "both"})
    with pytest.raises(ConfigError, match="regularization"):
        create("autorec", {"regularization": -1.0})


def test_kl_annealing_schedule():
    assert kl_weight(0, 0.2, 1000) == 0.0
    assert kl_weight(500, 0.2, 1000) == pytest.approx(0.2)  # capped: 0.5 > 0.2
    assert kl_weight(100, 0.2, 1000) == pytest.approx(0.1)
    assert kl_weight(100, 1.0, 1000) == pytest.approx(0.1)
    assert kl_weight(10**6, 0.2, 1000) == pytest.approx(0.2)


def test_multvae_counts_optimiser_steps_for_annealing():
    x = random_ratings()  # 50 users
    cfg = {**TINY_VAE, "epochs": 3, "batch_size": 20, "total_anneal_steps": 30, "anneal_cap": 0.5}
    model = create("multivae", cfg).fit(x)
    # 3 batches per epoch (20 + 20 + 10 users), 3 epochs
    assert int(model.module.steps) == 9
    assert model.beta == pytest.approx(9 / 30)
    # scoring does not advance the clock
    model.score(np.arange(5))
    model.recommend(np.arange(5), 3)
    assert int(model.module.steps) == 9


def test_multvae_history_is_binary_and_config_checked():
    x = random_ratings()
    model = create("multivae", {**TINY_VAE, "epochs": 2}).fit(x)
    np.testing.assert_allclose(model.score_history(x.csr[:4]), model.score_history(x.seen[:4]), atol=1e-6)
    assert model.item_vectors().shape[0] == x.n_items
    with pytest.raises(ConfigError, match="dropout"):
        create("multivae", {"dropout": 1.0})
    with pytest.raises(ConfigError, match="total_anneal_steps"):
        create("multivae", {"total_anneal_steps": 0})
    assert isinstance(model, MultVAE) and not isinstance(model, AutoRec)


def test_seen_autorec_learns_from_every_cell_of_a_binary_matrix():
    """Its input holds 1 for each rating whatever the stars, and its loss counts the
    unrated cells too (as "not seen"), which the stars variant leaves out."""
    x = random_ratings()
    model = create("autorec", {**TINY_AUTOREC, "target": "seen", "epochs": 2}).fit(x)
    assert model.task == "ranking" and create("autorec").task == "rating"
    values, observed = model.module.matrix.rows(torch.arange(x.n_items))
    assert set(values[observed].unique().tolist()) == {1.0}
    batch = (torch.arange(4),)
    loss = float(model._loss(batch).detach())
    with torch.no_grad():  # the unrated cells move the loss: they are in it
        last = [m for m in model.module.decoder if isinstance(m, torch.nn.Linear)][-1]
        last.bias += 3.0
    assert float(model._loss(batch).detach()) != pytest.approx(loss)


def test_seen_user_autorec_reads_a_new_persons_ratings_as_seen():
    x = random_ratings()
    model = create("autorec", {**TINY_AUTOREC, "target": "seen", "kind": "user", "epochs": 2}).fit(x)
    stars = sp.csr_matrix(([5.0, 1.0], ([0, 0], [2, 7])), shape=(1, x.n_items))
    ones = sp.csr_matrix(([1.0, 1.0], ([0, 0], [2, 7])), shape=(1, x.n_items))
    scores = model.score_history(stars)
    np.testing.assert_array_equal(scores, model.score_history(ones))
    # Log-odds below 0 are still its order: a cold-start list keeps them (they went to
    # popular movies, as if the history said nothing for them).
    assert (scores < 0).any() and not model.history_says_nothing(stars, scores[0]).any()


def test_seen_autorec_predicts_no_stars():
    x = random_ratings()
    model = create("autorec", {**TINY_AUTOREC, "target": "seen", "epochs": 2}).fit(x)
    with pytest.raises(CapabilityError, match=r"autorec with target = 'seen' ranks movies .* needs target = 'rating'"):
        model.predict([0, 1], [0, 1])
    assert create("autorec", {**TINY_AUTOREC, "epochs": 2}).fit(x).predict([0, 1], [0, 1]).min() >= 1.0


def test_seen_autorec_reads_its_output_as_log_odds():
    with pytest.raises(ConfigError, match='output.*"identity" with target = "seen"'):
        create("autorec", {"target": "seen", "output": "sigmoid"})
    with pytest.raises(ConfigError, match="target"):
        create("autorec", {"target": "liked"})


def test_item_autorec_movie_vectors_are_centred_so_similarity_separates_movies():
    # Its hidden codes are sigmoid outputs, all positive: uncentred, every movie came out
    # about 0.99 similar to every other, so similar movies and reasons were arbitrary.
    x = planted_groups(rating_model=True)
    model = create("autorec", TINY_AUTOREC).fit(x)
    v = model.item_vectors()
    rated = x.item_counts > 0
    np.testing.assert_allclose(v[rated].mean(axis=0), 0.0, atol=1e-5)
    sims = model.item_similarity(np.arange(x.n_items))
    half = x.n_items // 2
    same = np.add.outer(np.arange(x.n_items) < half, np.arange(x.n_items) < half) != 1
    np.fill_diagonal(same, False)
    other = ~same
    np.fill_diagonal(other, False)
    assert sims[same].mean() > 0.3 > sims[other].mean()  # a movie's own group is like it; the other is not


def test_a_rating_of_zero_is_read_as_a_rating_not_as_none():
    # On a scale reaching 0 (a thumbs-down, -2 to 2) AutoRec's input read a 0 as a movie not
    # rated, and Mult-VAE read someone new's rating of 0 as none (its training rows had it).
    x = random_ratings()
    shifted = x.replace(ratings=(x.ratings - 3.0).astype(np.float32))  # -2 to 2
    assert (shifted.ratings == 0).any()
    model = create("autorec", {**TINY_AUTOREC, "kind": "user", "epochs": 2}).fit(shifted)
    net = model.module
    values, observed = net.matrix.rows(torch.arange(3))
    lifted = net.inputs(values, observed)
    assert (lifted[observed] >= 1).all() and (lifted[~observed] == 0).all()
    none = sp.csr_matrix((1, x.n_items), dtype=np.float32)
    zero = sp.csr_matrix(([0.0], ([0], [2])), shape=(1, x.n_items))
    assert not np.allclose(model.score_history(zero), model.score_history(none))
    # Stars above 0 are read as they are, as before.
    plain = create("autorec", {**TINY_AUTOREC, "kind": "user", "epochs": 1}).fit(x).module
    values, observed = plain.matrix.rows(torch.arange(3))
    assert torch.equal(plain.inputs(values, observed), values)
    vae = create("multivae", {**TINY_VAE, "epochs": 2}).fit(shifted)
    one = sp.csr_matrix(([1.0], ([0], [2])), shape=(1, x.n_items))
    np.testing.assert_allclose(vae.score_history(zero), vae.score_history(one), atol=1e-6)
