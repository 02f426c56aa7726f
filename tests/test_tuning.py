"""Tuning on a validation carve-out of the training part: never the test part, never worse
than the defaults on validation, reproducible given the seed."""

from __future__ import annotations

import numpy as np
import pytest

from cinerec.errors import ConfigError
from cinerec.evaluation.protocols import get_protocol
from cinerec.models import MODELS
from cinerec.models.baselines import EASE
from cinerec.tuning import Param, carve, tune
from cinerec.tuning import _in_range


@pytest.fixture(scope="module")
def ml100k(ml100k_dir):
    from cinerec.data import load

    return load(ml100k_dir)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_search_space_names_settings_and_holds_the_defaults(name):
    cls = MODELS[name]
    defaults = cls.Config().to_dict()
    assert set(cls.search_space) <= set(defaults)
    first = _in_range({k: defaults[k] for k in cls.search_space}, cls.search_space)
    assert first == {k: defaults[k] for k in cls.search_space}


@pytest.mark.parametrize("protocol", ["loo-sampled", "random-full", "ratings-random", "ratings-fold"])
def test_the_carve_out_holds_training_rows_only(ml100k, protocol):
    p = get_protocol(protocol)
    prepared = p.prepare(ml100k, seed=0)
    train = prepared.train
    inner = carve(p, ml100k, train, seed=0)
    keys = set(zip(train.users.tolist(), train.items.tolist()))
    for part in (inner.train, inner.test):
        assert set(zip(part.users.tolist(), part.items.tolist())) <= keys
    test_keys = set(zip(prepared.test.users.tolist(), prepared.test.items.tolist()))
    assert not test_keys & set(zip(inner.test.users.tolist(), inner.test.items.tolist()))


def test_tuned_is_never_worse_than_default_and_is_reproducible(ml100k):
    p = get_protocol("loo-sampled")
    seen = []
    first = tune("ease", ml100k, p, trials=4, seed=3, progress=lambda n, v, b: seen.append((n, v, b)))
    assert first.metric == "hr@10" and first.direction == "maximize"
    assert first.value >= first.default_value
    defaults = {k: v for k, v in EASE.Config().to_dict().items() if k in EASE.search_space}
    assert first.trials[0]["settings"] == defaults  # the defaults go first
    assert [n for n, _, _ in seen] == [1, 2, 3, 4] and seen[-1][2] == pytest.approx(first.value)
    assert first.model.is_fitted and first.model.config.regularization == first.settings["regularization"]
    again = tune("ease", ml100k, p, trials=4, seed=3)
    assert again.settings == first.settings and again.value == first.value


def test_rating_models_minimise_rmse(ml100k):
    result = tune("baseline", ml100k, get_protocol("ratings-random"), trials=3, seed=0)
    assert result.metric == "rmse" and result.direction == "minimize"
    assert result.value <= result.default_value


def test_bad_budgets_and_spaces_are_one_line_errors(ml100k):
    p = get_protocol("loo-sampled")
    for kwargs, needle in [({}, "needs a budget"), ({"trials": 0}, "positive whole number"),
                           ({"minutes": 0}, "positive number"), ({"trials": 2, "space": {"nope": Param("int", 1, 2)}},
                                                                 "'nope', which is not one of its settings")]:
        with pytest.raises(ConfigError, match=needle):
            tune("ease", ml100k, p, **kwargs)
    with pytest.raises(ConfigError, match="no search space"):
        tune("popularity", ml100k, p, trials=2)
    assert np.isfinite(1.0)
