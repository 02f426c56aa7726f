import numpy as np
import pytest

from cinerec.errors import ConfigError, DataError
from cinerec.models import create, load_model
from tests.models.conformance import ModelConformance
from tests.models.test_bpmf import low_rank_ratings

FAST = {"members": ["bpmf", "baseline"], "settings": {"bpmf": {"factors": 4, "sweeps": 40, "burn_in": 15, "keep": 10}}}


class TestBlend(ModelConformance):
    model_name = "blend"
    config = FAST
    rating_model = True
    atol = 1e-4
    quality = ("ratings-fold", "rmse", 0.905)
    quality_config = {"settings": {"autorec": {"threads": 1, "progress": False}}}


def test_blend_is_the_weighted_sum_of_its_members():
    x, _ = low_rank_ratings(seed=2)
    model = create("blend", FAST).fit(x)
    users, items = np.arange(x.n_users), np.arange(x.n_users) % x.n_items
    parts = [m.score(users, items) for m in model.members]
    want = model.intercept + sum(w * p for w, p in zip(model.weights, parts))
    np.testing.assert_allclose(model.score(users, items), want, atol=1e-4)
    np.testing.assert_allclose(model.score(users)[users, items], want, atol=1e-4)


def test_the_better_member_gets_the_weight_and_the_blend_is_no_worse():
    # low-rank ratings: bpmf models them, the bias-only baseline cannot
    x, _ = low_rank_ratings(seed=3, noise=0.2)
    model = create("blend", FAST).fit(x)
    assert model.weights[0] > 0.7 and abs(model.weights[1]) < 0.3
    rmse = model.holdout_rmse
    assert rmse["blend"] <= min(rmse["bpmf"], rmse["baseline"]) + 1e-3


def test_bad_members_are_named():
    with pytest.raises(ConfigError, match="no_such_model"):
        create("blend", {"members": ["bpmf", "no_such_model"]})
    with pytest.raises(ConfigError, match="'popularity' does not predict stars"):
        create("blend", {"members": ["bpmf", "popularity"]})
    with pytest.raises(ConfigError, match="twice"):
        create("blend", {"members": ["bpmf", "bpmf"]})
    with pytest.raises(ConfigError, match="settings.bpmf.*no_such_key"):
        create("blend", {"members": ["bpmf"], "settings": {"bpmf": {"no_such_key": 1}}})
    with pytest.raises(ConfigError, match="'autorec' is not one of the members"):
        create("blend", {"members": ["bpmf"], "settings": {"autorec": {}}})
    with pytest.raises(ConfigError, match="bpmf.*ranks|does not predict"):
        create("blend", {"members": ["biasedmf"], "settings": {"biasedmf": {"loss": "bpr"}}})


def test_a_member_folder_from_elsewhere_is_refused(tmp_path):
    x, _ = low_rank_ratings(n_users=30, n_items=20)
    model = create("blend", FAST).fit(x)
    model.save(tmp_path / "m")
    other, _ = low_rank_ratings(n_users=31, n_items=20)
    create("baseline").fit(other).save(tmp_path / "m" / "member-1-baseline")
    with pytest.raises(DataError, match="member-1-baseline"):
        load_model(tmp_path / "m")
