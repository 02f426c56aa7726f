import numpy as np
import pytest

from cinerec.errors import ConfigError, DataError
from cinerec.models import create
from cinerec.models.base import CapabilityError
from tests.models.conformance import ModelConformance, random_ratings

FAST = {"factors": 8, "layers": [16], "dropout": 0.0, "epochs": 40, "lr": 0.01, "batch_size": 128,
        "patience": 0, "progress": False, "device": "cpu", "threads": 1}


class TestMLPRating(ModelConformance):
    model_name = "mlp-rating"
    config = FAST
    rating_model = True
    atol = 1e-4
    quality = ("ratings-random", "rmse", 0.96)
    quality_config = {"device": "cpu", "progress": False, "threads": 1}


def test_liked_target_gives_probabilities_and_refuses_stars():
    x = random_ratings()
    model = create("mlp-rating", {**FAST, "target": "liked", "liked_threshold": 4.0}).fit(x)
    p = model.score(x.users, x.items)
    assert ((p >= 0) & (p <= 1)).all()
    liked = x.ratings >= 4
    assert p[liked].mean() > p[~liked].mean() + 0.2  # it learnt who liked what
    with pytest.raises(CapabilityError, match="target='rating'"):
        model.predict([0], [0])


def test_rating_target_fits_the_training_ratings():
    x = random_ratings()
    model = create("mlp-rating", {**FAST, "epochs": 150, "layers": [32]}).fit(x)
    err = model.predict(x.users, x.items) - x.ratings
    assert np.sqrt(np.mean(err ** 2)) < 0.5 < x.ratings.std()


def test_config_errors_name_the_field():
    with pytest.raises(ConfigError, match="target"):
        create("mlp-rating", {"target": "stars"})
    with pytest.raises(ConfigError, match="layers"):
        create("mlp-rating", {"layers": [0]})


# -- side features: the embedding-MLP study's demographics, genres and year ----------------


def side_dataset(x, seed: int = 0):
    """``x`` with random demographics (zip codes included) and a random catalogue."""
    import pandas as pd

    from cinerec.data.dataset import Catalog, Dataset, IdMap

    rng = np.random.default_rng(seed)
    feats = pd.DataFrame({
        "age": rng.integers(10, 70, x.n_users),
        "gender": rng.choice(["F", "M"], x.n_users),
        "occupation": rng.choice(["artist", "doctor", "student"], x.n_users),
        "zip": rng.choice(["02139", "55414", "T8H1N", "94305"], x.n_users),
    })
    genres = rng.random((x.n_items, 4)) < 0.3
    years = np.where(rng.random(x.n_items) < 0.1, 0, rng.integers(1925, 1999, x.n_items))
    catalog = Catalog(np.array([f"m{i}" for i in range(x.n_items)], dtype=object), years,
                      ("Action", "Comedy", "Drama", "Horror"), genres)
    return Dataset("side", x, IdMap(np.arange(x.n_users) + 1, "user"), IdMap(np.arange(x.n_items) + 1),
                   catalog, feats)


WITH_FEATURES = {**FAST, "features": True, "feature_embedding": 4}


class TestMLPRatingWithFeatures(ModelConformance):
    """The whole contract (save/load, batch == single, cold start refused...) with features."""

    model_name = "mlp-rating"
    config = WITH_FEATURES
    rating_model = True
    atol = 1e-4

    @classmethod
    def make(cls, **overrides):
        return super().make(**overrides).set_features(side_dataset(random_ratings()))

    @classmethod
    def make_for(cls, data):
        return cls.make().set_features(side_dataset(data))

    def test_planted_groups_get_their_own_movies(self):
        from tests.models.conformance import planted_groups

        x = planted_groups(True)
        ds = side_dataset(x)
        # Each half of the movies is one genre, as taste groups follow genres. (With random
        # genres and years the 480 ratings leave the features to fit noise: 0.69 own-group.)
        half = x.n_items // 2
        genres = np.zeros((x.n_items, 4), bool)
        genres[:half, 0] = genres[half:, 1] = True
        ds = ds.replace(catalog=type(ds.catalog)(ds.catalog.titles, ds.catalog.years, ds.catalog.genre_names, genres))
        model = create(self.model_name, self.config).set_features(ds).fit(x)
        items, _ = model.recommend(np.arange(x.n_users), k=3)
        group = (np.arange(x.n_users) >= x.n_users // 2)[:, None]
        assert ((items >= half) == group).mean() >= 0.9


def test_rating_features_add_the_zip_region():
    from cinerec.models.mlp_rating import ZIP_REGIONS, rating_features

    ds = side_dataset(random_ratings())
    f = rating_features(ds)
    assert f.user_columns == ("age", "gender", "occupation", "zip") and f.user_vocab[-1] == ZIP_REGIONS
    zips = ds.user_features["zip"].to_numpy()
    region = {"02139": 0, "55414": 5, "94305": 9, "T8H1N": ZIP_REGIONS - 1}
    np.testing.assert_array_equal(f.user_codes[:, 3], [region[z] for z in zips])


def test_features_change_the_model_and_come_back_on_load(tmp_path):
    from cinerec.models import load_model

    x = random_ratings()
    ds = side_dataset(x)
    plain = create("mlp-rating", FAST).fit(x)
    featured = create("mlp-rating", WITH_FEATURES).set_features(ds).fit(x)
    assert featured.uses_features and not plain.uses_features
    assert featured.module.has_features and len(featured.module.user_feats) == 4
    users = np.arange(x.n_users)
    assert not np.allclose(plain.score(users), featured.score(users), atol=1e-3)
    # The movie side reads the genres: other genres, other scores.
    before = featured.score(users)
    featured.module.item_genres.copy_(1.0 - featured.module.item_genres)
    assert not np.allclose(before, featured.score(users), atol=1e-4)
    featured.module.item_genres.copy_(1.0 - featured.module.item_genres)

    featured.save(tmp_path / "m")
    assert (tmp_path / "m" / "features.npz").exists()
    back = load_model(tmp_path / "m")
    np.testing.assert_array_equal(back.features.user_codes, featured.features.user_codes)
    np.testing.assert_array_equal(back.score(users), before)
    np.testing.assert_array_equal(back.predict(x.users, x.items), featured.predict(x.users, x.items))
    (tmp_path / "m" / "features.npz").unlink()
    with pytest.raises(DataError, match="features.npz is missing"):
        load_model(tmp_path / "m")


def test_features_must_be_given_and_asked_for():
    x = random_ratings()
    with pytest.raises(DataError, match="set_features"):
        create("mlp-rating", WITH_FEATURES).fit(x)
    with pytest.raises(DataError, match="features describe"):
        create("mlp-rating", WITH_FEATURES).set_features(side_dataset(random_ratings(n_users=30))).fit(x)
    with pytest.raises(CapabilityError, match="features = true"):
        create("mlp-rating", FAST).set_features(side_dataset(x))
    model = create("mlp-rating", WITH_FEATURES).set_features(side_dataset(x)).fit(x)
    with pytest.raises(CapabilityError, match="new user"):  # a new person has no embedding
        model.score_history(x.csr[:2])
    with pytest.raises(ConfigError, match="feature_embedding"):
        create("mlp-rating", {"feature_embedding": 0})
    # A refit refused for features of other data leaves no model: it held the new data
    # beside the earlier weights, and scored, recommended and saved from them.
    with pytest.raises(DataError, match="features describe"):
        model.fit(random_ratings(n_users=30))
    assert "not fitted" in repr(model)
    with pytest.raises(CapabilityError, match="not fitted"):
        model.score([0])


def test_liked_target_declares_its_probability():
    x = random_ratings()
    model = create("mlp-rating", {**FAST, "target": "liked"}).fit(x)
    assert model.can_predict_liked and not create("mlp-rating", FAST).can_predict_liked
    np.testing.assert_array_equal(model.predict_liked(x.users, x.items), model.score(x.users, x.items))
    np.testing.assert_array_equal(model.is_liked(np.array([3.0, 4.0, 5.0])), [False, True, True])
    with pytest.raises(CapabilityError, match="liked-or-not"):
        create("mlp-rating", FAST).fit(x).predict_liked([0], [0])


def test_features_asked_of_data_that_has_none_are_refused_in_one_line():
    """An ids-only model would otherwise run under a name that says it reads features."""
    from cinerec.data.dataset import Catalog, Dataset, IdMap

    x = random_ratings()
    bare = Dataset("log", x, IdMap(np.arange(x.n_users), "user"), IdMap(np.arange(x.n_items)), Catalog.unknown(x.n_items))
    with pytest.raises(DataError, match=r"^mlp-rating: features = true, but 'log' has no user demographics, genres "
                                        r"or release years to read; set features = false$"):
        create("mlp-rating", WITH_FEATURES).set_features(bare)
    # Read from a file, the file is named as given (it said 'log', the file's stem).
    read = bare.replace(info={**bare.info, "source": "/data/log.csv"})
    with pytest.raises(DataError, match=r"^mlp-rating: features = true, but '/data/log.csv' has no user demographics"):
        create("mlp-rating", WITH_FEATURES).set_features(read)
    # A log read without a catalogue is told where genres and years come from.
    log = bare.replace(info={**bare.info, "source": "/data/log.csv", "format": "log"})
    with pytest.raises(DataError, match=r"or release years to read \(a ratings log takes genres and years from "
                                        r"its catalogue: load\(catalog=\.\.\.\), or its own title, genres and year columns\); "
                                        r"set features = false$"):
        create("mlp-rating", WITH_FEATURES).set_features(log)
    # Any one kind is enough: here the release years alone.
    dated = bare.replace(catalog=Catalog(bare.catalog.titles, np.full(x.n_items, 1990), (), np.zeros((x.n_items, 0))))
    assert create("mlp-rating", WITH_FEATURES).set_features(dated).features is not None
