import numpy as np
import pytest

from cinerec.errors import ConfigError, DataError
from cinerec.models import create, load_model
from tests.models.conformance import ModelConformance
from tests.models.test_bpmf import low_rank_ratings

# the plain blend (one fit per member, constant weights); the default's repeats and meta are tested below
FAST = {"members": ["bpmf", "baseline"], "settings": {"bpmf": {"factors": 4, "sweeps": 40, "burn_in": 15, "keep": 10}},
        "repeats": {}, "meta": []}


class TestBlend(ModelConformance):
    model_name = "blend"
    config = FAST
    rating_model = True
    atol = 1e-4
    quality = ("ratings-fold", "rmse", 0.905)
    quality_config = {"settings": {"autorec": {"threads": 1, "progress": False}}}


class TestFeatureWeightedBlend(ModelConformance):
    model_name = "blend"
    config = {**FAST, "members": ["bpmf", "knnbaseline"], "meta": ["user_count", "item_count"],
              "repeats": {"bpmf": 2}}
    rating_model = True
    atol = 1e-4


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


def test_an_edited_blend_json_or_meta_setting_is_named_at_load(tmp_path):
    # config.meta edited to [] loaded and scored without the weights learned for it (up to a
    # star apart); a blend.json missing its intercept was "KeyError: 'intercept'" of the folder.
    import json
    import shutil

    x, _ = low_rank_ratings(n_users=30, n_items=20)
    create("blend", {**FAST, "meta": ["user_count", "item_count"]}).fit(x).save(tmp_path / "m")

    def edited(name, file, change):
        shutil.copytree(tmp_path / "m", tmp_path / name)
        data = json.loads((tmp_path / name / file).read_text())
        change(data)
        (tmp_path / name / file).write_text(json.dumps(data))
        return tmp_path / name

    with pytest.raises(DataError, match=r"nometa/blend.json: meta_weights: 4 weights, where 2 members and the "
                                        r"config's 0 meta features \(none\) take 0$"):
        load_model(edited("nometa", "model.json", lambda d: d["config"].update(meta=[])))
    with pytest.raises(DataError, match=r"nointercept/blend.json: intercept: missing$"):
        load_model(edited("nointercept", "blend.json", lambda d: d.pop("intercept")))
    with pytest.raises(DataError, match=r"badweights/blend.json: weights: 3 weights for 2 members$"):
        load_model(edited("badweights", "blend.json", lambda d: d.update(weights=[1, 2, 3])))
    with pytest.raises(DataError, match=r"textlow/blend.json: low: could not convert string to float: 'one'$"):
        load_model(edited("textlow", "blend.json", lambda d: d.update(low="one")))
    assert load_model(tmp_path / "m").meta_weights.shape == (2, 2)


def test_meta_features_make_the_weights_vary_by_pair():
    x, _ = low_rank_ratings(seed=2)
    model = create("blend", {**FAST, "meta": ["user_count", "item_count"]}).fit(x)
    assert model.meta_weights.shape == (2, 2) and model.meta_bias.shape == (2,)
    users, items = np.arange(x.n_users), (3 * np.arange(x.n_users)) % x.n_items
    parts = [m.score(users, items) for m in model.members]
    nu, ni = np.bincount(x.users, minlength=x.n_users), np.bincount(x.items, minlength=x.n_items)
    g = np.stack([np.log1p(nu[users]), np.log1p(ni[items])], axis=1)
    g = (g - model.meta_centre) / model.meta_scale
    weight = model.weights[None, :] + g @ model.meta_weights.T  # (pairs, members)
    want = model.intercept + (weight * np.stack(parts, axis=1)).sum(axis=1) + g @ model.meta_bias
    np.testing.assert_allclose(model.score(users, items), want, atol=1e-4)
    np.testing.assert_allclose(model.score(users)[users, items], want, atol=1e-4)
    # the standardisation was fixed on the hold-out, with counts scaled up to all of
    # train, so there it is near 0 (unscaled counts would be 2 standard deviations off)
    assert np.abs(model.meta_values["user_count"].mean()) < 0.5


def test_repeats_average_members_fitted_with_consecutive_seeds(tmp_path):
    x, _ = low_rank_ratings(n_users=40, n_items=30, seed=1)
    cfg = {**FAST, "repeats": {"bpmf": 3}, "settings": {"bpmf": {**FAST["settings"]["bpmf"], "seed": 5}}}
    model = create("blend", cfg).fit(x)
    assert [(m.name, m.config.seed if m.name == "bpmf" else None) for m in model.members] == [
        ("bpmf", 5), ("bpmf", 6), ("bpmf", 7), ("baseline", None)]
    users, items = np.arange(x.n_users), np.arange(x.n_users) % x.n_items
    bpmf = np.mean([m.score(users, items) for m in model.members[:3]], axis=0)
    want = model.intercept + model.weights[0] * bpmf + model.weights[1] * model.members[3].score(users, items)
    np.testing.assert_allclose(model.score(users, items), want, atol=1e-4)
    model.save(tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").glob("member-*")) == [
        "member-0-bpmf", "member-1-bpmf", "member-2-bpmf", "member-3-baseline"]
    np.testing.assert_array_equal(load_model(tmp_path / "m").score(users), model.score(users))


def test_the_defaults_are_the_validated_blend():
    cfg = create("blend").config
    assert cfg.members == ("bpmf", "autorec", "knnbaseline")
    assert cfg.repeats == {"bpmf": 2, "autorec": 5} and cfg.meta == ("user_count", "item_count")
    assert cfg.weights_on == "valid"
    assert len(cfg.copies()) == 8


def test_bad_meta_and_repeats_are_named():
    with pytest.raises(ConfigError, match="meta"):
        create("blend", {"meta": ["user_age"]})
    with pytest.raises(ConfigError, match="meta"):
        create("blend", {"meta": ["user_count", "user_count"]})
    with pytest.raises(ConfigError, match="repeats.*unknown model 'no_such_model'"):
        create("blend", {"members": ["bpmf"], "repeats": {"no_such_model": 2}})
    # a known model that is not a member is ignored, so the default repeats suit other members
    assert create("blend", {"members": ["bpmf"]}).config.copies() == [(0, "bpmf", 0), (0, "bpmf", 1)]
    with pytest.raises(ConfigError, match="repeats.bpmf = 0: must be at least 1"):
        create("blend", {"members": ["bpmf"], "repeats": {"bpmf": 0}})
    # said as written in TOML, and why: it read "repeats.bpmf = True: must be a count >= 1", and
    # 2.5 "must be a count >= 1"
    for given, said in ((True, "true"), (2.5, "2.5"), ("2", '"2"'), (2.0, "2.0")):
        with pytest.raises(ConfigError, match=rf"repeats\.bpmf = {said}: expected a whole number$"):
            create("blend", {"members": ["bpmf"], "repeats": {"bpmf": given}})
    with pytest.raises(ConfigError, match="repeats.baseline.*no seed"):
        create("blend", {"members": ["bpmf", "baseline"], "repeats": {"baseline": 2}})


def test_weights_on_valid_learn_from_the_validation_ratings_and_keep_the_members_fitted_once():
    from cinerec.data.split import random_split

    x, _ = low_rank_ratings(seed=4, noise=0.2)
    split = random_split(x, test=0.2, seed=0)
    train, valid = split.train, split.test
    cfg = {**FAST, "weights_on": "valid", "refit": False}
    model = create("blend", cfg).fit(train, valid)
    # the weights are the least-squares fit of the kept members' predictions on valid
    parts = np.stack([m.score(valid.users, valid.items) for m in model.members], axis=1).astype(np.float64)
    y = valid.ratings.astype(np.float64)
    centred = parts - parts.mean(axis=0)
    reg = create("blend", cfg).config.regularization
    w = np.linalg.solve(centred.T @ centred + reg * len(y) * np.eye(2), centred.T @ (y - y.mean()))
    np.testing.assert_allclose(model.weights, w, atol=1e-4)
    assert model.holdout_rmse["blend"] <= min(model.holdout_rmse["bpmf"],
                                              model.holdout_rmse["baseline"]) + 1e-3
    # without validation ratings (ratings-fold) it learns on its own hold-out, as "holdout" does
    alone = create("blend", cfg).fit(train)
    plain = create("blend", FAST).fit(train)
    np.testing.assert_allclose(alone.weights, plain.weights, atol=1e-6)
    with pytest.raises(ConfigError, match="weights_on"):
        create("blend", {"weights_on": "test"})


def test_refit_keeps_the_weights_and_fits_the_members_again_on_train_and_valid():
    from cinerec.data.split import random_split
    from cinerec.models.blend import _again

    x, _ = low_rank_ratings(seed=4, noise=0.2)
    split = random_split(x, test=0.2, seed=0)
    train, valid = split.train, split.test
    once = create("blend", {**FAST, "weights_on": "valid", "refit": False}).fit(train, valid)
    again = create("blend", {**FAST, "weights_on": "valid"}).fit(train, valid)  # refit is the default
    np.testing.assert_allclose(again.weights, once.weights, atol=1e-9)
    assert all(len(m.train_) == len(train) + len(valid) for m in again.members)
    assert all(len(m.train_) == len(train) for m in once.members)
    assert again.train_ is train  # what the blend was given to fit on, as ever
    # without validation ratings there is nothing to fit again on: the members see train
    alone = create("blend", FAST).fit(train)
    assert all(len(m.train_) == len(train) for m in alone.members)
    # a neural member trains again for the epoch count at which its validation RMSE was lowest
    member = create("autorec", {"epochs": 30})
    member.history = [{"epoch": 1, "valid": 0.95}, {"epoch": 2, "valid": 0.91}, {"epoch": 3, "valid": 0.93}]
    assert _again(create("autorec", {"epochs": 30}), member).config.epochs == 2
    assert _again(create("bpmf"), create("bpmf")).config == create("bpmf").config


def test_a_seed_leaving_no_room_for_the_repeats_is_refused_with_the_settings():
    # Only the first copy was checked: the second's seed + 1 failed after the data was read.
    with pytest.raises(ConfigError, match=r"settings\.mf: seed = 9223372036854775807 leaves no room for its 2 repeats"):
        create("blend", {"members": ["mf"], "repeats": {"mf": 2}, "settings": {"mf": {"seed": 2**63 - 1}}})
    create("blend", {"members": ["mf"], "repeats": {"mf": 2}, "settings": {"mf": {"seed": 2**63 - 2}}})
    # A member without a seed of its own takes the blend's, and any seed --seed takes must do:
    # its repeats count on from it, past the largest seed round to 0.
    cfg = create("blend", {"members": ["mf"], "repeats": {"mf": 3}, "seed": 2**63 - 2}).config
    assert [cfg.member("mf", c).config.seed for c in range(3)] == [2**63 - 2, 2**63 - 1, 0]


def test_a_member_failing_on_a_second_fit_leaves_the_first_fit_whole(monkeypatch):
    # The new weights were written before the last members fitted: a failure there left
    # the new weights over the old members, a blend scoring neither fit's way.
    from cinerec.models.baselines import Baseline

    first, _ = low_rank_ratings(seed=2)
    second, _ = low_rank_ratings(seed=5, noise=0.8)
    model = create("blend", FAST).fit(first)
    weights, members, before = model.weights.copy(), list(model.members), model.score(np.arange(first.n_users))
    fit = Baseline.fit

    def failing(self, train, valid=None):
        if len(train) == len(second):  # the members' final fit on the whole of the new ratings
            raise DataError("baseline: out of memory")
        return fit(self, train, valid)

    monkeypatch.setattr(Baseline, "fit", failing)
    with pytest.raises(DataError, match="out of memory"):
        model.fit(second)
    np.testing.assert_array_equal(model.weights, weights)
    assert model.members == members
    np.testing.assert_array_equal(model.score(np.arange(first.n_users)), before)


def test_a_member_reading_side_features_gets_them_through_the_blend(tmp_path):
    # The blend passed no features on: an mlp-rating member with features = true failed
    # with "call set_features(dataset) before fit", which no command-line user can do.
    from cinerec.models.base import CapabilityError
    from tests.models.test_mlp_rating import side_dataset

    x, _ = low_rank_ratings()
    ds = side_dataset(x)
    settings = {"members": ["mlp-rating", "baseline"], "meta": [], "refit": True,
                "settings": {"mlp-rating": {"features": True, "epochs": 2, "feature_embedding": 4, "progress": False,
                                            "device": "cpu", "threads": 1}}}
    blend = create("blend", settings)
    assert blend.uses_features and not create("blend", {"members": ["mlp-rating", "baseline"]}).uses_features
    with pytest.raises(CapabilityError):
        create("blend", {"members": ["mlp-rating", "baseline"]}).set_features(ds)
    train, valid = x.select(np.arange(len(x)) % 10 != 0), x.select(np.arange(len(x)) % 10 == 0)
    blend.set_features(ds).fit(train, valid)  # (refit: each member again, from the best epoch)
    assert blend.members[0].features is not None
    blend.save(tmp_path / "b")
    back = load_model(tmp_path / "b")
    np.testing.assert_allclose(back.predict([0, 1], [2, 3]), blend.predict([0, 1], [2, 3]), rtol=1e-5)
    # A member that cannot read the data's features says so as the blend's setting, before any fit.
    from cinerec.data.dataset import Catalog

    n = x.n_items
    bare = ds.replace(user_features=None, catalog=Catalog(ds.catalog.titles, np.zeros(n, np.int32), (),
                                                         np.zeros((n, 0), dtype=bool)))
    with pytest.raises(DataError, match=r"set settings\.mlp-rating\.features = false$"):
        create("blend", settings).set_features(bare)
