import numpy as np
import pytest

from cinerec.errors import ConfigError
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
