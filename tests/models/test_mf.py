import numpy as np
import pytest

from cinerec.errors import ConfigError
from cinerec.models import create
from cinerec.models.base import CapabilityError
from tests.models.conformance import ModelConformance, planted_groups, random_ratings

FAST = {"factors": 8, "epochs": 40, "lr": 0.05, "batch_size": 128, "patience": 0, "progress": False, "threads": 1,
        "device": "cpu", "regularization": 0.05}


class TestMF(ModelConformance):
    model_name = "mf"
    config = FAST
    rating_model = True
    atol = 1e-4


class TestBiasedMF(ModelConformance):
    model_name = "biasedmf"
    config = FAST
    rating_model = True
    atol = 1e-4
    quality = ("ratings-fold", "rmse", 0.95)
    quality_config = {"device": "cpu", "progress": False, "threads": 1}


@pytest.mark.parametrize("loss", ["bce", "bpr"])
def test_implicit_losses_learn_the_planted_groups(loss):
    x = planted_groups()
    model = create("biasedmf", {**FAST, "loss": loss, "epochs": 30})
    model.fit(x)
    items, _ = model.recommend(np.arange(x.n_users), k=3)
    group = (np.arange(x.n_users) >= x.n_users // 2)[:, None]
    assert ((items >= x.n_items // 2) == group).mean() >= 0.95
    assert model.task == "ranking"
    with pytest.raises(CapabilityError, match="loss='mse'"):
        model.predict([0], [1])


def test_predict_is_clipped_to_the_training_range():
    x = random_ratings()
    model = create("biasedmf", {**FAST, "epochs": 5, "lr": 0.5}).fit(x)  # a large lr overshoots
    users = np.repeat(np.arange(x.n_users), x.n_items)
    items = np.tile(np.arange(x.n_items), x.n_users)
    stars = model.predict(users, items)
    assert stars.min() >= x.ratings.min() and stars.max() <= x.ratings.max()
    raw = model.score(users, items)
    assert (raw > x.ratings.max()).any() or (raw < x.ratings.min()).any()


def test_biased_mf_learns_user_and_movie_biases():
    # every rating is user bias + movie bias + 3: a biased model fits it, whatever its factors
    rng = np.random.default_rng(1)
    x = random_ratings(seed=1)
    bu, bi = rng.normal(0, 0.5, x.n_users), rng.normal(0, 0.5, x.n_items)
    y = (3 + bu[x.users] + bi[x.items]).astype(np.float32)
    x = x.replace(ratings=y)
    model = create("biasedmf", {**FAST, "factors": 1, "epochs": 200, "lr": 0.05, "regularization": 0.0}).fit(x)
    err = model.score(x.users, x.items) - y
    assert np.sqrt(np.mean(err ** 2)) < 0.05


def test_config_errors_name_the_field():
    with pytest.raises(ConfigError, match="factors"):
        create("mf", {"factors": 0})
    with pytest.raises(ConfigError, match="loss"):
        create("mf", {"loss": "hinge"})
    with pytest.raises(ConfigError, match="negatives"):
        create("biasedmf", {"negatives": "four"})


def test_regularization_shrinks_the_factors_of_the_batch():
    x = random_ratings()
    loose = create("biasedmf", {**FAST, "epochs": 10}).fit(x)
    tight = create("biasedmf", {**FAST, "epochs": 10, "regularization": 1.0}).fit(x)
    assert np.linalg.norm(tight.item_vectors()) < 0.5 * np.linalg.norm(loose.item_vectors())
    with pytest.raises(ConfigError, match="regularization"):
        create("biasedmf", {"regularization": -0.1})


@pytest.mark.parametrize("name", ["mf", "biasedmf"])
def test_liked_target_learns_who_liked_what_as_a_probability(name):
    x = random_ratings()
    model = create(name, {**FAST, "loss": "bce", "target": "liked", "epochs": 60}).fit(x)
    assert model.can_predict_liked and model.task == "rating"  # validation: RMSE of p against 0/1
    p = model.predict_liked(x.users, x.items)
    assert ((p >= 0) & (p <= 1)).all()
    np.testing.assert_allclose(p, model.score(x.users, x.items), atol=1e-6)
    liked = model.is_liked(x.ratings)
    np.testing.assert_array_equal(liked, x.ratings >= 4)
    assert p[liked].mean() > p[~liked].mean() + 0.2
    # The recommend path ranks by the same probability.
    items, scores = model.recommend([0, 1], k=5)
    np.testing.assert_allclose(scores, np.take_along_axis(model.score([0, 1]), items, axis=1), atol=1e-6)
    with pytest.raises(CapabilityError, match="predict_liked"):
        model.predict([0], [1])


def test_liked_target_needs_the_log_loss():
    with pytest.raises(ConfigError, match="target.*loss = 'bce'"):
        create("mf", {"target": "liked"})
    with pytest.raises(ConfigError, match="liked_threshold"):
        create("mf", {"loss": "bce", "target": "liked", "liked_threshold": float("nan")})
    assert not create("mf", {"loss": "bce"}).can_predict_liked


@pytest.mark.parametrize("name", ["mf", "biasedmf", "mlp-rating"])
def test_liked_is_three_quarters_up_the_datas_own_scale_unless_set(name):
    # The threshold was 4 whatever the scale: on 1-10 stars, 4 and up (70 % of ratings)
    # counted as liked.
    x = random_ratings(40, 30, 0)
    ten = x.replace(ratings=np.round(1 + (x.ratings - 1) * 9 / 4))  # 1 to 10 stars
    settings = {"epochs": 1, "batch_size": 256, "progress": False, "threads": 1, "target": "liked"}
    if name != "mlp-rating":
        settings["loss"] = "bce"
    assert float(ten.ratings.min()) == 1 and float(ten.ratings.max()) == 10
    model = create(name, settings)
    # Unfitted (the protocol's check on the training part): the ratings' own scale.
    assert model.is_liked(ten.ratings).tolist() == (ten.ratings >= 7.75).tolist()
    model.fit(ten)
    assert model.config.liked_threshold == pytest.approx(7.75)  # the number used, as the run records it
    assert model.is_liked(np.array([7.0, 8.0, 10.0])).tolist() == [False, True, True]
    assert create(name, settings).fit(x).config.liked_threshold == pytest.approx(4.0)  # 1 to 5 stars: 4, as before
    fixed = create(name, {**settings, "liked_threshold": 6.0}).fit(ten)
    assert fixed.config.liked_threshold == 6.0 and fixed.is_liked(np.array([6.0])).tolist() == [True]


@pytest.mark.parametrize("name", ["mf", "mlp-rating"])
def test_a_saved_model_fitted_again_settles_its_liked_threshold_again(name, tmp_path):
    # Loaded, it kept the first data's 7.75 as if asked for: none of 1-5 stars was liked.
    from cinerec.models import load_model

    x = random_ratings(40, 30, 0)
    ten = x.replace(ratings=np.round(1 + (x.ratings - 1) * 9 / 4))
    settings = {"epochs": 1, "batch_size": 256, "progress": False, "threads": 1, "target": "liked",
                **({"loss": "bce"} if name == "mf" else {})}
    create(name, settings).fit(ten).save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert loaded.config.liked_threshold == pytest.approx(7.75)
    assert loaded.fit(x).config.liked_threshold == pytest.approx(4.0)
    create(name, {**settings, "liked_threshold": 6.0}).fit(ten).save(tmp_path / "fixed")
    assert load_model(tmp_path / "fixed").fit(x).config.liked_threshold == 6.0  # asked for: kept


def test_can_predict_ratings_follows_what_the_model_learns():
    # mf trained to rank said it could predict stars, and predict refused.
    x = random_ratings(30, 20, 0)
    base = {"epochs": 1, "batch_size": 256, "progress": False, "threads": 1}
    for settings, stars in (({"loss": "mse"}, True), ({"loss": "bpr"}, False), ({"loss": "bce"}, False),
                            ({"loss": "bce", "target": "liked"}, False)):
        model = create("mf", {**base, **settings}).fit(x)
        assert model.can_predict_ratings is stars
        if not stars:
            with pytest.raises(CapabilityError):
                model.predict([0], [1])
    assert create("autorec", {"target": "seen"}).can_predict_ratings is False
    assert create("autorec").can_predict_ratings is True
    assert create("mlp-rating", {"target": "liked"}).can_predict_ratings is False


def _small_log(tmp_path):
    rng = np.random.default_rng(3)
    bu, bi = rng.normal(0, .5, 60), rng.normal(0, .6, 80)
    rows = [(u, i, int(np.clip(np.rint(3.6 + bu[u] + bi[i] + rng.normal(0, .5)), 1, 5)))
            for u in range(60) for i in rng.choice(80, 18, replace=False)]
    path = tmp_path / "small.csv"
    path.write_text("user,item,rating,ts\n" + "".join(f"u{u},m{i},{r},{1600000000 + k}\n"
                                                     for k, (u, i, r) in enumerate(rows)))
    return path


def test_a_fit_whose_predictions_sit_clipped_below_the_scale_is_not_stopped_by_its_flat_figure(tmp_path):
    # mf starts its scores near 0: every validation prediction read as the lowest star, the
    # figure stayed flat, and early stopping ended the fit after patience + 1 epochs (4, on
    # a log of 1,000 ratings, each epoch one optimiser step) while it was still learning.
    from cinerec.data import load
    from cinerec.evaluation.protocols import get_protocol

    prepared = get_protocol("ratings-random").prepare(load(str(_small_log(tmp_path))), seed=0)
    model = create("mf", {"device": "cpu", "progress": False, "threads": 1, "epochs": 12})
    model.fit(prepared.train, prepared.valid)
    assert len(model.history) == 12 and "stopped_by" not in model.history[-1], model.history[-1]
    assert len({h["valid"] for h in model.history}) == 1  # (the clipped figure did not move)
    # The epoch marked kept is the one whose weights were kept: each epoch's stars before
    # clipping came nearer the scale and replaced them, but the first was marked.
    assert [h["epoch"] for h in model.history if h.get("kept")] == [12]
    # Still below the scale at the end: said, with the way out.
    note = model.fit_notes()[-1]
    assert note.startswith("mf: the stars it predicts for its own training ratings average 1.") and \
        "had not reached the ratings' level when it stopped (12 epochs of 1 optimiser step each); train more " \
        "epochs (--set epochs=N), or use biasedmf, which starts at the ratings' mean" in note, note
    biased = create("biasedmf", {"device": "cpu", "progress": False, "threads": 1, "epochs": 3})
    assert biased.fit(prepared.train, prepared.valid).fit_notes() == []
    # Trained long enough it reaches the scale, and says nothing.
    longer = create("mf", {"device": "cpu", "progress": False, "threads": 1, "epochs": 300, "patience": 0})
    assert longer.fit(prepared.train, prepared.valid).fit_notes() == []


def test_fitted_neural_models_pickle():
    # mf, biasedmf and autorec, fitted, could not be pickled: a hook made inside a function.
    import pickle

    x = random_ratings()
    for name in ("mf", "biasedmf", "autorec"):
        model = create(name, {"epochs": 1, "progress": False}).fit(x)
        back = pickle.loads(pickle.dumps(model))
        np.testing.assert_array_equal(back.score([0, 1]), model.score([0, 1]))
