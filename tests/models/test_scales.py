"""Models that learn from the stars' values read a wide scale as they read stars."""

import numpy as np
import pytest
import torch

from cinerec.data.dataset import Interactions
from cinerec.models import create
from cinerec.models.base import star_unit
from tests.models.conformance import random_ratings
from tests.models.test_autoencoder import TINY_AUTOREC
from tests.models.test_mf import FAST as MF_FAST


def test_a_scale_wider_than_five_points_is_read_in_quarters_of_its_span():
    assert [star_unit(lo, hi) for lo, hi in ((1, 5), (0.5, 5), (-2, 2), (0, 1), (1, 10), (0, 100), (20, 100))] == \
        [1.0, 1.0, 1.0, 1.0, 2.25, 25.0, 20.0]
    assert star_unit(-np.inf, np.inf) == 1.0


@pytest.mark.parametrize("name, config", [("autorec", TINY_AUTOREC), ("autorec", {**TINY_AUTOREC, "kind": "user"}),
                                          ("biasedmf", MF_FAST), ("mf", MF_FAST)])
def test_stars_times_twenty_give_the_same_model_times_twenty(name, config):
    # Trained on the stars' values with settings chosen on 1 to 5, a 20-to-100 log came out
    # far worse (AutoRec on ml-100k x 20: RMSE 0.970 in stars, against 0.899 on the stars).
    stars = random_ratings(n_users=40, n_items=50, seed=2)
    wide = Interactions(stars.users, stars.items, stars.ratings * 20.0, stars.timestamps, stars.n_users,
                        stars.n_items)
    a, b = (create(name, {**config, "seed": 3}).fit(x) for x in (stars, wide))
    users, items = np.repeat(np.arange(40), 50), np.tile(np.arange(50), 40)
    np.testing.assert_allclose(b.predict(users, items), 20 * a.predict(users, items), rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("config", [TINY_AUTOREC, {**TINY_AUTOREC, "kind": "user"}])
@pytest.mark.parametrize("times, plus", [(25.0, -25.0), (1.0, -3.0)])
def test_autorec_learns_a_scale_from_0_or_below_as_it_learns_stars(config, times, plus):
    # 0 to 100 (stars x 25 - 25) was learnt as 0 to 4 where stars are 1 to 5, and thumbs as
    # -2 to 2: near the stars' fit at best (RMSE 1.234 in stars against 1.089 after five epochs).
    stars = random_ratings(n_users=40, n_items=50, seed=2)
    other = Interactions(stars.users, stars.items, stars.ratings * times + plus, stars.timestamps, stars.n_users,
                         stars.n_items)
    a, b = (create("autorec", {**config, "seed": 3}).fit(x) for x in (stars, other))
    users, items = np.repeat(np.arange(40), 50), np.tile(np.arange(50), 40)
    np.testing.assert_allclose(b.predict(users, items), times * a.predict(users, items) + plus, rtol=1e-4, atol=2e-3)


@pytest.mark.parametrize("name, config", [("autorec", TINY_AUTOREC), ("biasedmf", MF_FAST)])
def test_weights_saved_before_the_unit_load_as_read_as_they_are(name, config):
    model = create(name, config).fit(random_ratings(seed=1))
    state = {k: v for k, v in model.module.state_dict().items() if k != "unit"}
    model.module.unit.fill_(7.0)
    model.module.load_state_dict({k: v for k, v in state.items() if k != "lifted"})
    assert float(model.module.unit) == 1.0 and isinstance(model.module.unit, torch.Tensor)
    if name == "autorec":  # (its ratings were learnt as they are, not lifted as its inputs)
        assert float(model.module.lifted) == 0.0


def _declared(scale=(1.0, 10.0)):
    """Ratings of 2 to 10 on a log whose declared scale is ``scale``: nobody gave a 1."""
    x = random_ratings(n_users=40, n_items=50, seed=4)
    return x.replace(ratings=x.ratings * 2.0, scale=scale)


@pytest.mark.parametrize("name, config, bounds", [
    ("baseline", {}, lambda m: m.range_),
    ("knnbaseline", {}, lambda m: m.range_),
    ("bpmf", {"factors": 2, "sweeps": 4, "burn_in": 2, "keep": 2}, lambda m: (m.low, m.high)),
    ("biasedmf", MF_FAST, lambda m: (float(m.module.low), float(m.module.high))),
    ("mlp-rating", {"factors": 4, "layers": [8], "epochs": 1, "progress": False}, lambda m: (float(m.module.low),
                                                                                            float(m.module.high))),
    ("autorec", TINY_AUTOREC, lambda m: (float(m.module.low), float(m.module.high))),
    ("als", {"factors": 4, "epochs": 2}, lambda m: m._scale()),
])
def test_a_declared_scale_is_the_scale_a_model_reads_and_keeps(name, config, bounds, tmp_path):
    # A 1-10 log in which nobody gave a 1 was read as 2 to 10 by every model: predictions
    # held at 2 and up, the stars' unit and ALS's confidences read on 2 to 10, although
    # the data's "liked" and a new person's stars followed the scale the log declared.
    x = _declared()
    model = create(name, config).fit(x)
    assert bounds(model) == (1.0, 10.0)
    model.save(tmp_path / name)
    again = type(model).load(tmp_path / name)
    assert again._train().scale == (1.0, 10.0)
    if name == "als":
        assert bounds(again) == (1.0, 10.0)
    undeclared = create(name, config).fit(x.replace(ratings=x.ratings))  # (new ratings: no scale with them)
    assert bounds(undeclared) == (2.0, 10.0)


def test_the_declared_scale_sets_the_stars_unit_and_liked():
    x = _declared((0.0, 10.0))
    assert float(create("mf", MF_FAST).fit(x).module.unit) == 2.5  # (2 to 10 read alone: 2.0)
    liked = create("mf", {**MF_FAST, "loss": "bce", "target": "liked"}).fit(x)
    assert liked.config.liked_threshold == 7.5  # three quarters up 0 to 10 (up 2 to 10: 8)


def test_rows_keep_the_declared_scale_and_new_ratings_drop_it():
    x = _declared()
    assert x.select(np.arange(5)).scale == (1.0, 10.0) and x.concat(x).scale == (1.0, 10.0)
    assert x.replace(ratings=np.ones(len(x))).scale is None
    assert x.concat(x.replace(scale=None)).scale is None
    with pytest.raises(ValueError, match="the lowest rating must be below the highest"):
        x.replace(scale=(10.0, 1.0))


@pytest.mark.parametrize("scale, said", [
    ("[1, Infinity]", "[1, Infinity]: each end must be a finite number"), ("[10, 1]", "[10, 1]: the lowest rating must"),
    ("[5, 5]", "[5, 5]: the lowest rating must"), ("[1]", "expected [LOW, HIGH], got [1]"),
    ("[1, 1" + "0" * 400 + "]", "[1, 1" + "0" * 400 + "]: each end must be a finite number"),
    ('"1,10"', 'expected [LOW, HIGH], got "1,10"')])
def test_a_saved_models_scale_is_checked_as_the_flag_is(tmp_path, scale, said):
    # An infinite end loaded without a word (ALS's confidences then all alike), and a
    # reversed one was called a damaged file.
    import json
    import re

    from cinerec.errors import DataError
    from cinerec.models.base import load_model

    create("baseline").fit(_declared()).save(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    text = json.dumps(meta).replace('"rating_scale": [1.0, 10.0]', f'"rating_scale": {scale}')
    (tmp_path / "m" / "model.json").write_text(text)
    with pytest.raises(DataError, match="^" + re.escape(f"{tmp_path / 'm'}/model.json: rating_scale: {said}")):
        load_model(tmp_path / "m")


def test_a_saved_datasets_scale_is_checked_as_the_flag_is(tmp_path):
    import re

    from cinerec.data import load
    from cinerec.data.dataset import Dataset
    from cinerec.errors import DataError

    (tmp_path / "log.csv").write_text("user,item,rating\na,x,5\nb,x,3\na,y,4\n")
    load(tmp_path / "log.csv", rating_scale=(1, 10)).save(tmp_path / "d")
    assert Dataset.load(tmp_path / "d").interactions.scale == (1.0, 10.0)
    npz = tmp_path / "d" / "interactions.npz"
    with np.load(npz) as z:
        arrays = dict(z)
    np.savez(npz, **{k: v for k, v in arrays.items() if k != "scale"})  # (a dataset saved with no scale array)
    assert Dataset.load(tmp_path / "d").interactions.scale == (1.0, 10.0)
    for scale, said in (([1, np.inf], "[1.0, Infinity]: each end must be a finite number"),
                        ([1, 5, 10], "expected [LOW, HIGH], got [1, 5, 10]"), (np.array(3), "expected [LOW, HIGH]")):
        np.savez(npz, **{**arrays, "scale": np.asarray(scale)})
        with pytest.raises(DataError, match="^" + re.escape(f"{npz}: scale: {said}")):
            Dataset.load(tmp_path / "d")


def test_ratings_outside_the_scale_given_are_refused():
    x = _declared()
    with pytest.raises(ValueError, match=r"^rating 2 is outside the scale given, 3 to 10$"):
        x.replace(scale=(3.0, 10.0))
    tenth = Interactions([0], [0], [0.1], [0], 1, 1, scale=(0.1, 0.7))  # (as float32 holds them)
    assert tenth.replace(scale=(0.0, 0.1)).scale == (0.0, 0.1)
