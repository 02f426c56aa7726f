"""Two-tower retrieval: the shared contract plus side features and the log-Q correction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from cinerec.data.dataset import Catalog, Dataset, IdMap
from cinerec.errors import ConfigError, DataError
from cinerec.models import create, load_model
from cinerec.models.two_tower import YEAR_EDGES, TowerFeatures, TwoTower
from tests.models.conformance import ModelConformance, _real_ml100k, random_ratings

TINY = {"factors": 8, "id_embedding": 8, "feature_embedding": 4, "layers": [16], "epochs": 15, "batch_size": 64,
        "lr": 0.02, "device": "cpu", "progress": False, "threads": 1}


class TestTwoTower(ModelConformance):
    model_name = "two-tower"
    config = TINY
    history_exact = True  # no new-user scoring: the contract checks the CapabilityError


def small_dataset(seed: int = 0) -> Dataset:
    x = random_ratings(seed=seed)
    rng = np.random.default_rng(seed)
    feats = pd.DataFrame({
        "age": rng.integers(10, 70, x.n_users),
        "gender": rng.choice(["F", "M"], x.n_users),
        "occupation": rng.choice(["artist", "doctor", "student"], x.n_users),
        "zip": ["00000"] * x.n_users,
    })
    genres = rng.random((x.n_items, 4)) < 0.3
    years = np.where(rng.random(x.n_items) < 0.1, 0, rng.integers(1925, 1999, x.n_items))
    catalog = Catalog(np.array([f"m{i}" for i in range(x.n_items)], dtype=object), years,
                      ("Action", "Comedy", "Drama", "Horror"), genres)
    return Dataset("small", x, IdMap(np.arange(x.n_users) + 1, "user"), IdMap(np.arange(x.n_items) + 1), catalog, feats)


def test_features_encode_buckets_and_codes():
    ds = small_dataset()
    f = TowerFeatures.from_dataset(ds)
    assert f.user_columns == ("age", "gender", "occupation")
    assert f.user_codes.shape == (ds.n_users, 3) and f.user_codes.dtype == np.int64
    ages = ds.user_features["age"].to_numpy()
    assert (f.user_codes[ages < 18, 0] == 0).all() and (f.user_codes[ages >= 56, 0] == 6).all()
    assert f.user_vocab == (7, 2, 3)
    assert (f.item_year[ds.catalog.years == 0] == 0).all() and (f.item_year[ds.catalog.years > 0] > 0).all()
    np.testing.assert_array_equal(f.item_genres, ds.catalog.genres.astype(np.float32))


def test_release_years_after_1998_fall_in_buckets_of_their_own():
    # Every movie from 1998 on shared one bucket: a release of recent movies (ml-25m
    # filtered to 2010 on) gave the movie tower one constant year, said to be read.
    ds = small_dataset()
    years = np.array([1995, 1998, 2001, 2010, 2011, 2019, 2030, 0] * (ds.n_items // 8 + 1))[:ds.n_items]
    f = TowerFeatures.from_dataset(ds.replace(catalog=Catalog(ds.catalog.titles, years, ds.catalog.genre_names,
                                                              ds.catalog.genres)))
    bucket = dict(zip(years.tolist(), f.item_year.tolist()))
    assert bucket[0] == 0 and len({bucket[y] for y in (1995, 1998, 2001, 2010, 2019, 2030)}) == 6
    assert bucket[2010] == bucket[2011]  # (two years wide)
    # ml-100k's years (up to 1998) keep the buckets they had
    old = (1930, 1940, 1950, 1960, 1970, 1980, 1985, 1990, 1992, 1994, 1996, 1998)
    ys = np.arange(1900, 1999)
    np.testing.assert_array_equal(np.digitize(ys, old), np.digitize(ys, YEAR_EDGES))


@pytest.mark.parametrize("years,genres,said", [
    ("recent", True, "the movie tower read genres only (no release years: every movie's falls in one bucket)"),
    ("none", True, "the movie tower read genres only (no release years: none is known)"),
    ("known", False, "the movie tower read release years only (no genres: none is given)"),
    ("known", "same", "the movie tower read release years only (no genres: every movie has the same)"),
    # A catalogue whose titles carry no year, but for one title's "(1995) (V)": said to read release years.
    ("one", True, "the movie tower read genres and release years (known for only 1 of {n} movies)"),
    ("one", False, "the movie tower read release years only (known for only 1 of {n} movies; no genres: none is given)"),
])
def test_the_note_names_what_the_movie_tower_read(years, genres, said):
    # It said "genres and release years" whatever the catalogue held.
    base = small_dataset()
    n = base.n_items
    y = {"recent": np.full(n, 2015), "none": np.zeros(n, np.int64), "known": base.catalog.years,
         "one": np.r_[1995, np.zeros(n - 1, np.int64)]}[years]
    said = said.format(n=n)
    g = np.ones((n, 1), bool) if genres == "same" else base.catalog.genres if genres else np.zeros((n, 0), bool)
    names = ("Drama",) if genres == "same" else base.catalog.genre_names if genres else ()
    ds = base.replace(catalog=Catalog(base.catalog.titles, y, names, g))
    model = create("two-tower", {**TINY, "epochs": 1}).set_features(ds).fit(ds.interactions)
    assert model.fit_notes() == [f"two-tower: {said}"]
    mlp = create("mlp-rating", {"features": True, "epochs": 1, "progress": False}).set_features(ds)
    assert mlp.fit(ds.interactions).fit_notes() == [f"mlp-rating: features = true, but of the movies it read "
                                                    f"{said.removeprefix('the movie tower read ')}"]


def test_features_without_demographics_keep_the_catalogue():
    ds = small_dataset().replace(user_features=None)
    f = TowerFeatures.from_dataset(ds)
    assert f.user_columns == () and f.user_codes.shape == (ds.n_users, 0)
    model = create("two-tower", {**TINY, "epochs": 2}).set_features(ds).fit(ds.interactions)
    assert model.score([0]).shape == (1, ds.n_items)
    # Said beside the figures: the user tower read ids alone without a word (mlp-rating says so).
    assert model.fit_notes() == ["two-tower: the data has no user demographics (age, gender, occupation): the user "
                                 "tower read ids only, the movie tower read genres and release years"]
    assert create("two-tower", {**TINY, "epochs": 1}).set_features(small_dataset()).fit(ds.interactions) \
        .fit_notes() == []
    zipped = create("two-tower", {**TINY, "epochs": 1, "zip_prefix": True}).set_features(ds).fit(ds.interactions)
    assert zipped.fit_notes()[0].startswith("two-tower: the data has no user demographics (age, gender, occupation, "
                                            "zip code): ")


def test_model_uses_features_and_they_survive_save_load(tmp_path):
    ds = small_dataset()
    x = ds.interactions
    plain = create("two-tower", TINY).fit(x)
    featured = create("two-tower", TINY).set_features(ds).fit(x)
    users = np.arange(x.n_users)
    assert featured.module.has_features and not plain.module.has_features
    assert not np.allclose(plain.score(users), featured.score(users), atol=1e-3)
    # The movie tower reads the genres: changing them changes the movie vectors.
    before = featured.item_vectors()
    featured.module.item_genres.copy_(1.0 - featured.module.item_genres)
    assert not np.allclose(before, featured.item_vectors(), atol=1e-4)
    featured.module.item_genres.copy_(1.0 - featured.module.item_genres)

    featured.save(tmp_path / "tt")
    assert (tmp_path / "tt" / "features.npz").exists()
    back = load_model(tmp_path / "tt")
    assert isinstance(back, TwoTower) and back.features is not None
    np.testing.assert_array_equal(back.features.user_codes, featured.features.user_codes)
    np.testing.assert_array_equal(back.score(users), featured.score(users))
    plain.save(tmp_path / "plain")
    assert not (tmp_path / "plain" / "features.npz").exists()
    assert load_model(tmp_path / "plain").features is None
    # The file of features lost: it is named (weights.pt was said not to fit).
    (tmp_path / "tt" / "features.npz").unlink()
    with pytest.raises(DataError, match=r"tt/features.npz: missing, and the saved weights read the features it held"):
        load_model(tmp_path / "tt")


def test_features_must_match_the_training_data():
    ds = small_dataset()
    other = random_ratings(n_users=10, n_items=60)
    with pytest.raises(DataError, match="set_features"):
        create("two-tower", TINY).set_features(ds).fit(other)


def test_in_batch_loss_applies_logq_and_masks_repeated_movies():
    x = random_ratings()
    model = create("two-tower", {**TINY, "epochs": 1, "temperature": 0.5}).fit(x)
    net = model.module
    users = torch.tensor([0, 1, 2])
    items = torch.tensor([4, 4, 9])
    with torch.no_grad():
        u, v = net.users(users), net.items(items)
        logits = u @ v.T / 0.5 - net.log_q[items][None, :]
        # rows 0 and 1 share movie 4: neither counts the other's copy as a negative
        logits[0, 1] = logits[1, 0] = -torch.inf
        want = torch.nn.functional.cross_entropy(logits, torch.arange(3))
        got = model._loss((users, items))
    assert float(got) == pytest.approx(float(want), rel=1e-5)
    counts = x.item_counts
    np.testing.assert_allclose(net.log_q.numpy()[counts > 0], np.log(counts[counts > 0] / counts.sum()), rtol=1e-5)
    no_q = create("two-tower", {**TINY, "epochs": 1, "temperature": 0.5, "logq": False}).fit(x)
    with torch.no_grad():
        no_q.module.load_state_dict(net.state_dict())
        assert float(no_q._loss((users, items))) != pytest.approx(float(got), rel=1e-4)


def test_vectors_are_unit_length_and_scores_are_their_dot_products():
    x = random_ratings()
    model = create("two-tower", {**TINY, "epochs": 2}).fit(x)
    v = model.item_vectors()
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    u = model.user_vectors(np.arange(4))
    np.testing.assert_allclose(model.score(np.arange(4)), u @ v.T, atol=1e-5)


def test_config_names_the_bad_field():
    with pytest.raises(ConfigError, match="temperature"):
        create("two-tower", {"temperature": 0})
    with pytest.raises(ConfigError, match="factors"):
        create("two-tower", {"factors": 0})
    # a batch of one row holds no other movie to learn against: it trained nothing, unsaid
    with pytest.raises(ConfigError, match=r"batch_size = 1: must be at least 2: each movie of a batch is learned "
                                          r"against the batch's other movies"):
        create("two-tower", {"batch_size": 1})


@pytest.mark.slow
def test_quality_with_features_on_real_ml100k(ml100k_dir):
    from cinerec.evaluation.protocols import get_protocol

    ds = _real_ml100k(ml100k_dir)
    model = create("two-tower", {"threads": 1}).set_features(ds)
    r = get_protocol("random-full").prepare(ds, seed=0).evaluate(model)
    assert r.metrics["recall@10"] >= 0.15
    assert r.metrics["cat_acc@10"] >= 10 * 0.0036


def test_zip_prefix_adds_the_zip_region_to_the_user_tower(tmp_path):
    # The two-tower study's user features are age, gender, occupation and zip prefix; the
    # towers read the first three only, while its study file said all four.
    from cinerec.models import load_model
    from tests.models.test_mlp_rating import side_dataset

    ds = side_dataset(random_ratings())
    plain = create("two-tower", {**TINY, "epochs": 1}).set_features(ds)
    assert plain.features.user_columns == ("age", "gender", "occupation")
    model = create("two-tower", {**TINY, "epochs": 1, "zip_prefix": True}).set_features(ds).fit(ds.interactions)
    assert model.features.user_columns == ("age", "gender", "occupation", "zip") and model.features.user_vocab[-1] == 11
    region = {"02139": 0, "55414": 5, "94305": 9, "T8H1N": 10}
    np.testing.assert_array_equal(model.features.user_codes[:, 3], [region[z] for z in ds.user_features["zip"]])
    model.save(tmp_path / "m")
    back = load_model(tmp_path / "m")
    assert back.features.user_columns[-1] == "zip" and np.allclose(back.score([0, 1]), model.score([0, 1]))


def test_a_split_gives_the_towers_the_datas_features_and_a_fit_without_them_says_so():
    # Through prepared.create, "as the command line sets it up", the towers read ids alone
    # and nothing said so (recall@10 0.2206 against 0.2288 with the features on ml-100k).
    from cinerec.evaluation import get_protocol

    ds = small_dataset()
    prepared = get_protocol("random-full").prepare(ds, seed=0)
    model = prepared.create("two-tower", {**TINY, "epochs": 1})
    assert model.features is not None and model.features.user_columns
    assert prepared.create("mlp-rating", {"features": True}).features is not None
    bare = create("two-tower", {**TINY, "epochs": 1}).fit(ds.interactions)
    assert bare.fit_notes() == ["two-tower: no side features were given, so both towers read ids only; call "
                                "set_features(dataset) before fit"]
