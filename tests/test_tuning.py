"""Tuning on a validation carve-out of the training part: never the test part, never worse
than the defaults on validation, reproducible given the seed."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from cinerec.data.dataset import Interactions
from cinerec.errors import ConfigError
from cinerec.evaluation.protocols import get_protocol
from cinerec.models import MODELS
from cinerec.models.baselines import EASE
from cinerec.tuning import PRUNE_WARMUP_EPOCHS, Param, Tuned, carve, tune
from cinerec.tuning import _in_range
from tests.models.conformance import random_ratings


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
    first = tune("ease", ml100k, p, trials=4, seed=3, progress=lambda n, v, b, state: seen.append((n, v, b)))
    assert first.metric == "hr@10" and first.direction == "maximize"
    assert first.value >= first.default_value
    defaults = {k: v for k, v in EASE.Config().to_dict().items() if k in EASE.search_space}
    assert first.trials[0]["settings"] == defaults  # the defaults go first
    assert [n for n, _, _ in seen] == [1, 2, 3, 4] and seen[-1][2] == pytest.approx(first.value)
    assert first.model.is_fitted and first.model.config.regularization == first.settings["regularization"]
    again = tune("ease", ml100k, p, trials=4, seed=3)
    assert again.settings == first.settings and again.value == first.value
    # Its record read back, figures that were no number written as null (strict JSON): NaN
    # again, where float(None) was a TypeError.
    from cinerec.io import json_text

    record = json.loads(json_text({**first.to_dict(), "value": float("nan"), "default_value": float("nan")}))
    back = Tuned.from_dict(record, first.model)
    assert math.isnan(back.value) and math.isnan(back.default_value) and back.settings == first.settings
    # A notebook cell echoes it in one line (its repr listed every trial: 120 characters each).
    assert repr(first) == (f"<Tuned ease: hr@10 {first.value:.4f} on validation (defaults {first.default_value:.4f}), "
                           f"4 trials, settings {first.settings}>")


def test_rating_models_minimise_rmse(ml100k):
    result = tune("baseline", ml100k, get_protocol("ratings-random"), trials=3, seed=0)
    assert result.metric == "rmse" and result.direction == "minimize"
    assert result.value <= result.default_value


def test_bad_budgets_and_spaces_are_one_line_errors(ml100k):
    p = get_protocol("loo-sampled")
    for kwargs, needle in [({}, "needs a budget"), ({"trials": 0}, "positive whole number"),
                           ({"trials": 10**20}, r"at most 100,000, got 100000000000000000000"),  # ran with no end
                           ({"minutes": 0}, "a number above 0 and at most 525,600"),
                           ({"minutes": float("inf")}, "a number above 0 and at most 525,600"),
                           ({"minutes": 1e308}, "at most 525,600 \\(a year\\), got 1e\\+308"),  # (searched with no end)
                           ({"trials": 2, "seed": 2**64}, "seed must be a whole number from 0 to 2\\*\\*63 - 1"),
                           ({"trials": 2, "seed": 1.5}, "seed must be a whole number"),
                           ({"trials": 2, "space": {"nope": Param("int", 1, 2)}},
                                                                 "'nope', which is not one of its settings")]:
        with pytest.raises(ConfigError, match=needle):
            tune("ease", ml100k, p, **kwargs)
    with pytest.raises(ConfigError, match="no search space"):
        tune("popularity", ml100k, p, trials=2)
    # Given its training part, a search splits nothing with the seed: checked all the same
    # (seed 2**64 drew seed 0's trials).
    train = p.prepare(ml100k, seed=0).train
    with pytest.raises(ConfigError, match=r"seed must be a whole number from 0 to 2\*\*63 - 1, got 18446744073709551616"):
        tune("itemknn", ml100k, p, train=train, trials=2, seed=2**64)
    assert np.isfinite(1.0)


def _small_dataset():
    from cinerec.data.dataset import Catalog, Dataset, IdMap

    x = random_ratings(150, 120, 0)
    x = x.replace(timestamps=np.random.default_rng(0).integers(0, 1000, len(x)))
    return Dataset("small", x, IdMap(np.arange(150), "user"), IdMap(np.arange(120), "movie"), Catalog.unknown(120))


_NEURAL = {"epochs": 4, "batch_size": 256, "progress": False, "device": "cpu", "threads": 1}


def test_neural_trials_are_pruned_on_the_searchs_own_metric_and_show_as_pruned():
    import optuna

    data, p = _small_dataset(), get_protocol("loo-sampled", n_negatives=20)
    seen = []
    # A threshold no hit rate reaches: every trial but the defaults' is pruned after its first epoch.
    result = tune("gmf", data, p, trials=4, seed=0, base=_NEURAL, pruner=optuna.pruners.ThresholdPruner(lower=1.01),
                  progress=lambda n, v, b, state: seen.append((n, state)))
    first, *rest = result.trials
    assert first["state"] == "complete" and first["epochs"] == 4 and len(first["curve"]) == 4
    # What each epoch reports is the search's own figure: the last epoch's equals the trial's.
    assert first["hr@10"] == first["curve"][-1]
    assert [t["state"] for t in rest] == ["pruned"] * 3 and all(t["epochs"] == 1 for t in rest)
    assert all(t["hr@10"] == t["curve"][-1] for t in rest)
    assert seen == [(1, "complete"), (2, "pruned"), (3, "pruned"), (4, "pruned")]
    assert result.n_pruned == 3 and result.to_dict()["n_pruned"] == 3
    from cinerec.tuning import trials_text

    # The line that reports the search counts them too (only --json did).
    assert trials_text(result.trials, "hr@10") == "4 trials (3 pruned)"
    assert result.settings == first["settings"] and result.value == result.default_value  # only the defaults completed


def test_a_trial_at_its_last_epoch_completes_rather_than_being_pruned():
    # With one epoch, a trial the pruner stops at epoch 1 had trained every epoch already:
    # "pruned" saved nothing and the line counted it among the pruned.
    import optuna

    data, p = _small_dataset(), get_protocol("loo-sampled", n_negatives=20)
    result = tune("gmf", data, p, trials=3, seed=0, base={**_NEURAL, "epochs": 1},
                  pruner=optuna.pruners.ThresholdPruner(lower=1.01))
    assert [t["state"] for t in result.trials] == ["complete"] * 3 and result.n_pruned == 0
    # nor where the fit ends early for its own reasons (smoke: one epoch of four)
    smoke = tune("gmf", data, p, trials=3, seed=0, base={**_NEURAL, "smoke": True},
                 pruner=optuna.pruners.ThresholdPruner(lower=1.01))
    assert [t["state"] for t in smoke.trials] == ["complete"] * 3


def test_the_default_median_pruner_prunes_reproducibly():
    data, p = _small_dataset(), get_protocol("loo-sampled", n_negatives=20)
    base = {**_NEURAL, "epochs": 5, "factors": 8}
    first = tune("gmf", data, p, trials=8, seed=0, base=base)
    assert 0 < first.n_pruned < 8
    assert all(t["state"] == "complete" for t in first.trials[:3])  # the startup trials run to the end
    # No trial is pruned before epoch PRUNE_WARMUP_EPOCHS + 1 (epochs are counted from 1).
    assert min(t["epochs"] for t in first.trials if t["state"] == "pruned") == PRUNE_WARMUP_EPOCHS + 1
    again = tune("gmf", data, p, trials=8, seed=0, base=base)
    assert again.trials == first.trials and again.settings == first.settings


def test_models_without_epochs_are_untouched_by_the_pruner(ml100k):
    import optuna

    p = get_protocol("loo-sampled")
    plain = tune("itemknn", ml100k, p, trials=3, seed=1, pruner=optuna.pruners.NopPruner())
    eager = tune("itemknn", ml100k, p, trials=3, seed=1, pruner=optuna.pruners.ThresholdPruner(lower=2.0))
    assert eager.trials == plain.trials and eager.n_pruned == 0
    assert all(t["state"] == "complete" and "curve" not in t for t in eager.trials)


def test_ease_trials_through_the_spectrum_measure_what_plain_fits_measure(ml100k):
    from cinerec.models import create

    p = get_protocol("loo-sampled")
    result = tune("ease", ml100k, p, trials=3, seed=0)
    valid = carve(p, ml100k, p.prepare(ml100k, seed=0).train, seed=0)
    for trial in result.trials:
        plain = valid.evaluate(create("ease", trial["settings"])).metrics["hr@10"]
        assert trial["hr@10"] == pytest.approx(plain, abs=1e-12)
    assert type(result.model).__name__ == "EASE"  # the chosen model is an ordinary fit


def test_the_search_time_counts_what_its_trials_share(ml100k, monkeypatch):
    # EASE's decomposition was built before the clock started, so a search reported as
    # 1.8x one plain trial cost 2.2x.
    import time

    from cinerec.models.baselines import EASE

    shared = EASE.tuning_fits.__func__

    def slow(cls, *args):
        time.sleep(0.5)
        return shared(cls, *args)

    monkeypatch.setattr(EASE, "tuning_fits", classmethod(slow))
    result = tune("ease", ml100k, get_protocol("loo-sampled"), trials=2, seed=0)
    assert result.seconds >= 0.5


def test_als_trials_start_from_the_latest_trial_with_as_many_factors(ml100k):
    p = get_protocol("loo-sampled")
    space = {"factors": Param("choice", choices=(8, 16)), "regularization": Param("float", 10.0, 200.0, log=True)}
    base = {"epochs": 6}
    warm = tune("als", ml100k, p, trials=5, seed=0, space=space, base=base)
    cold = tune("als", ml100k, p, trials=5, seed=0, space=space, base=base, warm_start=False)
    factors = [t["settings"]["factors"] for t in warm.trials]
    for n, t in enumerate(warm.trials):
        assert bool(t.get("warm_start")) == (factors[n] in factors[:n])
        if t.get("warm_start"):
            assert 1 <= t["epochs"] <= 6
    assert any(t.get("warm_start") for t in warm.trials)
    assert not any(t.get("warm_start") for t in cold.trials)
    assert warm.trials[0] == cold.trials[0]  # the defaults' trial has nothing to start from
    again = tune("als", ml100k, p, trials=5, seed=0, space=space, base=base)
    assert again.trials == warm.trials


def test_a_liked_model_is_tuned_on_auc_under_a_rating_protocol(ml100k):
    """It predicts the chance of a like, not stars: RMSE would be meaningless."""
    from cinerec.evaluation import get_protocol
    from cinerec.tuning import tune

    found = tune("mf", ml100k, get_protocol("ratings-random"), trials=2, seed=0,
                 base={"target": "liked", "loss": "bce", "epochs": 2})
    assert found.metric == "auc" and 0.5 < found.value <= 1.0


def test_ease_trials_through_a_sketch_are_marked_and_its_choice_is_confirmed_by_plain_fits(ml100k, monkeypatch):
    import cinerec.models.ease_sketch as ease_sketch
    from cinerec.models import create

    monkeypatch.setattr(ease_sketch, "SKETCH_MIN_ITEMS", 100)  # ml-100k's 1,682 movies go through the sketch
    p = get_protocol("loo-sampled")
    space = {"regularization": Param("float", 10.0, 5000.0, log=True)}
    grams = []
    gram = ease_sketch.EASE._gram
    monkeypatch.setattr(ease_sketch.EASE, "_gram", lambda self, train: grams.append(train) or gram(self, train))
    result = tune("ease", ml100k, p, trials=4, seed=0, space=space)
    monkeypatch.undo()
    # The confirming fits start from the sketch's XᵀX: only the final fit, on all the
    # training part, computes one.
    assert len(grams) == 1 and len(grams[0]) > len(carve(p, ml100k, p.prepare(ml100k, seed=0).train, 0).train)
    assert result.screened and result.to_dict()["screened"]
    assert all(t["approximate"] for t in result.trials)
    valid = carve(p, ml100k, p.prepare(ml100k, seed=0).train, seed=0)
    plain = {json: valid.evaluate(create("ease", s)).metrics["hr@10"]
             for json, s in (("chosen", result.settings), ("default", result.trials[0]["settings"]))}
    assert result.value == pytest.approx(plain["chosen"], abs=1e-12)  # a plain fit's figure, not the sketch's
    assert result.default_value == pytest.approx(plain["default"], abs=1e-12)
    assert result.value >= result.default_value
    assert type(result.model).__name__ == "EASE" and not getattr(result.model, "approximate", False)


def test_the_first_trial_is_the_protocols_own_defaults_exactly_even_outside_the_space():
    data = _small_dataset()
    # Under a random hold-out EASE's defaults are recency off (0) and λ 500; the space
    # draws the half-life on a log scale from 0.005, which cannot hold 0.
    found = tune("ease", data, get_protocol("random-full"), trials=3, seed=0)
    assert found.trials[0]["settings"] == {"regularization": 500.0, "recency_half_life": 0.0}
    assert found.default_value == found.trials[0]["recall@10"]
    if found.value == found.default_value and found.trials[0]["recall@10"] >= max(
            t["recall@10"] for t in found.trials):
        assert found.settings == {"regularization": 500.0, "recency_half_life": 0.0}


def test_python_tuning_sets_models_up_as_the_command_line_does():
    found = tune("biasedmf", _small_dataset(), get_protocol("loo-sampled"), trials=1,
                 base={**_NEURAL, "epochs": 1})
    assert found.model.config.loss == "bpr"  # left unset: the ranking variant, not a refusal


def test_tuning_names_an_argument_of_the_wrong_kind():
    data = _small_dataset()
    with pytest.raises(ConfigError, match=r"tune: data must be a Dataset, got Interactions \(pass the dataset"):
        tune("ease", data.interactions, get_protocol("loo-sampled"), trials=1)
    # A log as a notebook holds it, or its file: the way to a Dataset (it named the type alone).
    import pandas as pd

    with pytest.raises(ConfigError, match=r"got DataFrame \(write the frame to a file, frame.to_parquet\('log.parquet'\), "
                                          r"and read it with cinerec.data.load\('log.parquet'\)\)$"):
        tune("ease", pd.DataFrame({"user": [1], "item": [2]}), get_protocol("loo-sampled"), trials=1)
    with pytest.raises(ConfigError, match=r"got str \(read it with cinerec.data.load\('log.csv'\)\)$"):
        tune("ease", "log.csv", get_protocol("loo-sampled"), trials=1)
    with pytest.raises(ConfigError, match=r"tune: protocol must be a Protocol .*get_protocol\('loo-sampled'\)"):
        tune("ease", data, "loo-sampled", trials=1)


def test_tuning_names_a_budget_setting_of_the_wrong_kind():
    data = _small_dataset()
    proto = get_protocol("loo-sampled")
    for kwargs, needle in (({"base": [1, 2]}, "base must map"), ({"space": {"regularization": 5}}, "space must map"),
                           ({"progress": 3}, "progress must be a function"),
                           # an empty space of one's own is not the model's lack of one
                           ({"space": {}}, r"space=\{\} searches no setting: .* for ease's own \(regularization"),
                           # a misspelt hold held nothing; "no" was a true warm start; a pruner's
                           # name failed after the defaults' trial (and never for EASE)
                           ({"hold": ["regularisation"]}, "hold names 'regularisation', which is not one of ease's"),
                           ({"warm_start": "no"}, "warm_start must be true or false, got 'no'"),
                           ({"pruner": "median"}, r"pruner must be an Optuna pruner \(optuna.pruners.MedianPruner")):
        with pytest.raises(ConfigError, match=f"tune: {needle}"):
            tune("ease", data, proto, trials=1, **kwargs)
    # A bad setting in base is named before the split, which could fail first and hide it.
    short = get_protocol("loo-sampled", n_negatives=500)  # more than the 120 movies: the split would fail
    for base, needle in (({"regularization": "x"}, "regularization"), ({"regularisation": 5}, "regularisation")):
        with pytest.raises(ConfigError, match=needle):
            tune("ease", data, short, trials=1, base=base)


def test_a_choice_that_started_from_another_trial_is_confirmed_from_scratch(ml100k):
    """The final model starts from scratch, so the figure reported, and the promise never to
    fall below the defaults, must be a fit from scratch's, not the warm-started trial's."""
    from cinerec.data.transforms import top_items, top_users
    from cinerec.models import create

    small, p = top_items(top_users(ml100k, 200), 600), get_protocol("loo-full")
    valid = carve(p, small, p.prepare(small, seed=0).train, seed=0)
    found = tune("als", small, p, trials=6, seed=0)
    chosen = next(t for t in found.trials if t["settings"] == found.settings)
    assert chosen.get("warm_start") and found.screened  # the case under test: the winner started from another
    scratch = valid.evaluate(create("als", {"seed": 0, **found.settings})).metrics["hr@10"]
    assert found.value == pytest.approx(scratch, abs=1e-12) != chosen["hr@10"]
    assert found.value > found.default_value == found.trials[0]["hr@10"]
    # Seed 20: the best trial (warm) beats the defaults, but from scratch it does not: the defaults stay.
    found = tune("als", small, p, trials=6, seed=20)
    assert max(t["hr@10"] for t in found.trials) > found.trials[0]["hr@10"]
    assert found.screened and found.settings == found.trials[0]["settings"]
    assert found.value == found.default_value == found.trials[0]["hr@10"]
    # Seed 8: the best trial (warm, 0.15) falls to 0.14 from scratch, below trial 1's 0.145,
    # measured from scratch: trial 1's settings are kept, not the warm one's.
    found = tune("als", small, p, trials=6, seed=8)
    warm, cold = found.trials[3], found.trials[1]
    assert warm.get("warm_start") and not cold.get("warm_start") and warm["hr@10"] > cold["hr@10"]
    assert valid.evaluate(create("als", {"seed": 8, **warm["settings"]})).metrics["hr@10"] < cold["hr@10"]
    assert found.settings == cold["settings"] and found.value == cold["hr@10"] > found.default_value


def test_settings_held_stay_out_of_the_search_and_fold_all_is_refused():
    data = _small_dataset()
    found = tune("ease", data, get_protocol("loo-sampled", n_negatives=20), trials=3, seed=0,
                 base={"regularization": 77.0}, hold=["regularization"])
    assert set(found.settings) == {"recency_half_life"}
    assert all(t["settings"].keys() == {"recency_half_life"} for t in found.trials)
    assert found.model.config.regularization == 77.0
    with pytest.raises(ConfigError, match=r"every setting it searches is held \(recency_half_life, regularization\)"):
        tune("ease", data, get_protocol("loo-sampled"), trials=1, hold=["regularization", "recency_half_life"])
    with pytest.raises(ConfigError, match=r"^tune: fold=all: each official fold's training part holds the other"):
        tune("baseline", data, get_protocol("ratings-fold", fold="all"), trials=1)
    found = tune("ease", data, get_protocol("loo-sampled", n_negatives=20), trials=np.int64(2), seed=0)
    assert len(found.trials) == 2
    with pytest.raises(ConfigError, match=r"tuning minutes must be a number, got bool True"):
        tune("ease", data, get_protocol("loo-sampled"), minutes=True)


def test_one_held_setting_by_name_and_a_budget_too_short_for_any_trial():
    # hold="regularization" held its letters (nothing), and a budget of a nanominute ended
    # in optuna's "No trials are completed yet".
    data = _small_dataset()
    found = tune("ease", data, get_protocol("loo-sampled", n_negatives=20), trials=2, seed=0,
                 base={"regularization": 77.0}, hold="regularization")
    assert set(found.settings) == {"recency_half_life"} and found.model.config.regularization == 77.0
    found = tune("ease", data, get_protocol("loo-sampled", n_negatives=20), minutes=1e-9, seed=0)
    assert len(found.trials) == 1 and found.value == found.default_value  # the defaults' trial, at least
    # What ended the search is kept: nothing said a time budget had, past it by a trial.
    assert found.stopped_by == "minutes" and found.to_dict()["stopped_by"] == "minutes"
    assert Tuned.from_dict(found.to_dict(), found.model).stopped_by == "minutes"
    from cinerec.commands.evaluate import tuned_line

    assert "s; its time budget ended it)" in tuned_line(found)
    found = tune("ease", data, get_protocol("loo-sampled", n_negatives=20), trials=2, minutes=60, seed=0)
    assert found.stopped_by == "trials" and "time budget" not in tuned_line(found)


def test_a_training_part_of_other_data_is_named():
    # It ended in "user id map and interactions disagree", naming neither.
    data = _small_dataset()
    other = Interactions(np.array([0, 1]), np.array([0, 1]), np.ones(2), np.arange(2), 2, 2)
    with pytest.raises(ConfigError, match=r"tune: train is 2×2 users×movies, data .*: train must be a part of data"):
        tune("ease", data, get_protocol("loo-sampled"), trials=1, train=other)


def test_any_seed_the_command_line_takes_tunes():
    # A seed of 2**32 or more ended in optuna's "Seed must be between 0 and 2**32 - 1".
    data = _small_dataset()
    found = tune("ease", data, get_protocol("loo-sampled", n_negatives=20), trials=2, seed=2**63 - 1)
    assert len(found.trials) == 2


def test_a_protocol_measuring_no_k_of_10_is_tuned_and_ranked_at_its_largest_k():
    # ks=[1, 5] ended a search in KeyError 'hr@10', and a study ranked its rows in file order.
    from cinerec.evaluation.protocols import get_protocol
    from cinerec.tuning import objective

    assert objective(get_protocol("loo-sampled", ks=[1, 5])) == ("hr@5", "maximize")
    assert objective(get_protocol("random-full", ks=[20, 50])) == ("recall@50", "maximize")
    assert objective(get_protocol("loo-full", ks=[5, 10, 20])) == ("hr@10", "maximize")
    assert objective(get_protocol("loo-sampled")) == ("hr@10", "maximize")


def test_a_training_part_too_small_to_carve_says_it_is_the_searchs_own_split():
    # It read "protocol ratings-random: no user has a test rating" under ratings-fold.
    from cinerec.data.dataset import Catalog, Dataset, IdMap, Interactions
    from cinerec.errors import DataError
    from cinerec.evaluation.protocols import get_protocol
    from cinerec.tuning import tune

    x = Interactions(np.array([0, 0, 1]), np.array([0, 1, 0]), np.array([4.0, 3.0, 5.0]), np.arange(3), 2, 2)
    ds = Dataset("tiny", x, IdMap(np.arange(2), "user"), IdMap(np.arange(2), "movie"), Catalog.unknown(2))
    with pytest.raises(DataError, match=r"^tuning needs a validation carve-out of the training part \(3 ratings\)"):
        tune("baseline", ds, get_protocol("ratings-random"), trials=1, train=x)
    # The protocol's own words ("it needs users with at least 2 ratings") are about the
    # training part, whose people already had them: the way out is more ratings or no search.
    with pytest.raises(DataError, match=r"a search needs more ratings per person than the protocol alone; keep people "
                                        r"with more ratings, e.g. with Filters\(kcore=N\), or fit without a search\)$"):
        tune("baseline", ds, get_protocol("ratings-random"), trials=1, train=x)


def test_the_chosen_model_is_fitted_as_an_evaluation_fits_it_with_the_validation_part():
    # The winner was fitted on the training part alone: a neural model never read the
    # protocol's validation part, so it could not stop early as evaluate's fit does.
    data, p = _small_dataset(), get_protocol("ratings-random")
    found = tune("mf", data, p, trials=1, seed=0, base={**_NEURAL, "epochs": 2})
    assert all("valid" in epoch for epoch in found.model.history)
    prepared = p.prepare(data, seed=0)
    found = tune("mf", data, p, train=prepared.train, valid=prepared.valid, trials=1, seed=0,
                 base={**_NEURAL, "epochs": 2})
    assert all("valid" in epoch for epoch in found.model.history)
    assert found.model.train_ is prepared.train  # evaluate measures it as it is, without a refit
    with pytest.raises(ConfigError, match="tune: valid must be Interactions, got Dataset"):
        tune("mf", data, p, train=prepared.train, valid=data, trials=1)


def test_a_search_of_one_trial_says_one_trial():
    from cinerec.tuning import trials_text

    assert (trials_text(1), trials_text(2)) == ("1 trial", "2 trials")  # it said "1 trials"


def test_a_search_leaves_optuna_s_log_level_as_it_found_it(ml100k_dir):
    # It set Optuna's log to ERROR for good: a notebook's own studies went quiet.
    import optuna

    from cinerec.data import load
    from cinerec.evaluation.protocols import get_protocol
    from cinerec.tuning import tune

    ds = load(ml100k_dir)
    was = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.INFO)
    try:
        tune("itemknn", ds, get_protocol("loo-sampled"), trials=1)
        assert optuna.logging.get_verbosity() == optuna.logging.INFO
    finally:
        optuna.logging.set_verbosity(was)


def test_the_carve_outs_negatives_are_not_the_tests(ml100k):
    # Prepared with the run's own seed, loo-sampled drew each person's validation negatives
    # from the same stream as their test negatives: 99.95 % of them were the test's, so the
    # search chose settings on the very movies the test ranks against.
    protocol = get_protocol("loo-sampled")
    prepared = protocol.prepare(ml100k, seed=0)
    valid = carve(protocol, ml100k, prepared.train, 0)
    test = {u: set(c) - {t} for u, c, t in zip(prepared.users, prepared.candidates, prepared.truth)}
    shared = [len((set(c) - {t}) & test[u]) / 99 for u, c, t in zip(valid.users, valid.candidates, valid.truth)]
    assert np.mean(shared) < 0.15  # by chance alone, about 6 %
    again = carve(protocol, ml100k, prepared.train, 0)
    assert np.array_equal(again.candidates, valid.candidates)  # still the seed's own carve-out


def test_a_trial_whose_training_diverges_ends_as_pruned_trials_do_and_the_search_goes_on():
    # A learning rate the search drew that made training diverge ended the whole search,
    # "try a smaller lr" pointing at a setting nobody gave.
    from cinerec.errors import Diverged

    data, p = _small_dataset(), get_protocol("loo-sampled", n_negatives=20)
    seen = []
    result = tune("gmf", data, p, trials=3, seed=0, base=_NEURAL, space={"lr": Param("float", 1e30, 1e31, log=True)},
                  progress=lambda n, v, b, state: seen.append((n, state)))
    first, *rest = result.trials
    assert first["state"] == "complete" and [t["state"] for t in rest] == ["diverged"] * 2
    assert all(np.isnan(t["hr@10"]) for t in rest) and seen == [(1, "complete"), (2, "diverged"), (3, "diverged")]
    assert all(t["epochs"] == 1 for t in rest)  # (the epoch that diverged ran)
    assert result.to_dict()["n_diverged"] == 2 and result.to_dict()["n_pruned"] == 0
    from cinerec.tuning import trials_text

    assert trials_text(result.trials, "hr@10") == "3 trials (2 diverged)"
    assert result.settings == first["settings"] and result.value == result.default_value
    assert np.isfinite(result.model.score(np.array([0]))).all()
    # The settings asked for diverging are the user's to mend: said as without a search.
    with pytest.raises(Diverged, match="try a smaller lr"):
        tune("gmf", data, p, trials=2, seed=0, base={**_NEURAL, "lr": 1e30},
             space={"lr": Param("float", 1e30, 1e31, log=True)})


def test_a_search_whose_trials_all_scored_the_same_says_it_told_no_settings_apart(tmp_path, capsys):
    # mf fitted in three epochs on a small log predicts the scale's edge whatever its
    # settings: every trial tied with the defaults, and the line read as a choice made.
    from cinerec.cli import main
    from cinerec.tuning import trials_text

    trials = [{"state": "complete", "rmse": 1.5}, {"state": "pruned", "rmse": 1.9}, {"state": "complete", "rmse": 1.5}]
    assert trials_text(trials, "rmse") == "3 trials (1 pruned), all 2 that ran to the end scoring 1.5000 (the " \
                                          "search told no settings apart)"
    assert trials_text(trials[:2], "rmse") == "2 trials (1 pruned)" and trials_text(3) == "3 trials"
    # A record read back from JSON holds null where a figure was NaN.
    assert trials_text([*trials, {"state": "complete", "rmse": None}], "rmse") == "4 trials (1 pruned)"
    assert trials_text([*trials, {"state": "complete", "rmse": 1.4}], "rmse") == "4 trials (1 pruned)"
    rng = np.random.default_rng(0)
    rows = [f"u{u},m{m},{rng.integers(1, 6)}" for u in range(40) for m in rng.choice(60, 15, replace=False)]
    (tmp_path / "log.csv").write_text("user,item,rating\n" + "\n".join(rows) + "\n")
    assert main(["evaluate", "--data", str(tmp_path / "log.csv"), "--model", "mf", "--set", "epochs=3",
                 "--protocol", "ratings-random", "--tune", "3", "-q"]) == 0
    assert ", all 3 that ran to the end scoring " in capsys.readouterr().out


def test_a_search_on_a_small_carve_out_says_how_few_figures_each_trial_stood_on(tmp_path, capsys):
    # 9 ratings: each trial was scored on one validation rating, and the line read as a
    # choice on the data; a figure on ml-100k's carve-out (943 users) is said as before.
    from cinerec.cli import main
    from cinerec.tuning import trials_text

    assert trials_text([{"state": "complete", "rmse": 1.0}], "rmse", 1) == \
        "1 trial, each scored on only 1 validation rating"
    assert trials_text([{"state": "complete", "hr@10": 0.5}], "hr@10", 40) == \
        "1 trial, each scored on only 40 validation users"
    assert trials_text([{"state": "complete", "hr@10": 0.5}], "hr@10", 943) == "1 trial"
    (tmp_path / "log.csv").write_text("user,item,rating\n" + "".join(
        f"u{u},{m},{(u + 2 * i) % 5 + 1}\n" for u in range(3) for i, m in enumerate("abc")))
    assert main(["evaluate", "--data", str(tmp_path / "log.csv"), "--model", "baseline", "--protocol", "ratings-random",
                 "--tune", "2", "--json", "-q"]) == 0
    import json

    tuning = json.loads(capsys.readouterr().out)["tuning"]
    assert tuning["n_scored"] == 1
    assert main(["evaluate", "--data", str(tmp_path / "log.csv"), "--model", "baseline", "--protocol", "ratings-random",
                 "--tune", "2", "-q"]) == 0
    assert "2 trials, each scored on only 1 validation rating" in capsys.readouterr().out


def test_a_screened_choice_that_only_ties_the_defaults_from_scratch_keeps_the_defaults(ml100k):
    # Seed 1: a warm trial scored above the defaults, its fit from scratch tied them, and
    # its settings were kept, though a tie goes to the defaults on every other path.
    found = tune("als", ml100k, get_protocol("loo-sampled"), trials=12, seed=1,
                 space={"regularization": Param("float", 40, 120, log=True),
                        "confidence": Param("float", 8, 30, log=True)})
    assert found.screened and found.value == found.default_value
    assert found.settings == found.trials[0]["settings"]


@pytest.mark.parametrize("protocol", ["ratings-fold", "ratings-random"])
def test_trials_fit_as_the_final_fit_does_with_early_stopping_or_without(ml100k, protocol):
    # ratings-fold's final fit has no early-stopping part and runs every epoch; its trials
    # stopped early on a tenth carved for it, so the search compared fits unlike the final one.
    p = get_protocol(protocol)
    prepared = p.prepare(ml100k, seed=0)
    inner = carve(p, ml100k, prepared.train, seed=0)
    assert (inner.valid is None) == (prepared.valid is None)
    if protocol == "ratings-fold":
        assert len(inner.train) + len(inner.test) == len(prepared.train)


def test_a_search_whose_carve_out_cannot_score_any_trial_is_refused(tmp_path, capsys):
    # AUC on a carve-out of two ratings is no number for any settings: the search went on,
    # "chose" among nothing and reported "validation auc -inf; defaults nan", exit 0.
    from cinerec.cli import main

    (tmp_path / "micro.csv").write_text("user,item,rating\n" + "".join(
        f"u{u},m{i},{1 + (u * i) % 5}\n" for u in range(5) for i in range(7) if (u + i) % 2))
    code = main(["evaluate", "--data", str(tmp_path / "micro.csv"), "--model", "mf", "--set", 'target="liked"',
                 "--set", 'loss="bce"', "--protocol", "ratings-random", "--tune", "3", "-q"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("cinerec: error: tuning cannot score its trials: mf's validation auc on the "
                                        "search's carve-out of the training part (") and \
        "is not a number: they are too few, or all of one kind, to measure it" in err, err


def test_a_bad_search_dimension_is_refused_as_a_setting_is():
    # A kind of no name reached optuna ("The `choices` must contain one or more elements"),
    # and a bad range was a ValueError.
    from cinerec.errors import ConfigError
    from cinerec.tuning import Param

    with pytest.raises(ConfigError, match="Param: kind = 'floaty': expected 'int', 'float' or 'choice'"):
        Param("floaty", 1, 10)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"Param: bad range \[10, 1\]"):
        Param("float", 10, 1)
    with pytest.raises(ConfigError, match="needs choices"):
        Param("choice")
    # An infinite end was taken, then failed in optuna's first draw ("OverflowError: Range
    # exceeds valid bounds"); a whole-number range with fractional ends was cut to [2, 2],
    # below its low end.
    for low, high in [(10, float("inf")), (float("-inf"), 1), (float("nan"), 1)]:
        with pytest.raises(ConfigError, match=r"Param: bad range .*: its ends must be finite numbers"):
            Param("float", low, high)
    with pytest.raises(ConfigError, match=r"Param: bad range \[2.2, 2.8\]: a whole-number range needs whole-number ends"):
        Param("int", 2.2, 2.8)
    with pytest.raises(ConfigError, match="finite"):
        Param("int", 1, float("inf"))
    with pytest.raises(ConfigError, match="less than 1.8e308 apart"):  # (optuna's width overflowed)
        Param("float", -1e308, 1e308)
    with pytest.raises(ConfigError, match="finite"):  # (math.isfinite raised OverflowError)
        Param("int", 0, 10**400)
    assert Param("int", 2.0, 8.0).low == 2.0 and Param("int", np.int64(2), np.int64(8)).high == 8  # (whole numbers)


def test_a_search_space_of_values_a_setting_cannot_take_is_named_by_the_setting(ml100k):
    # EASE's cheap path read a trial's value through float(): "could not convert string to float".
    from cinerec.errors import ConfigError
    from cinerec.evaluation.protocols import get_protocol
    from cinerec.tuning import Param, tune

    with pytest.raises(ConfigError, match='regularization = "[ab]": expected a number'):
        tune("ease", ml100k, get_protocol("loo-sampled"), trials=2,
             space={"regularization": Param("choice", choices=("a", "b"))})
