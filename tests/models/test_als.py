
import numpy as np
import scipy.sparse as sp
import pytest

from cinerec.data.dataset import Interactions
from cinerec.errors import ConfigError, DataError
from cinerec.models import create, load_model
from cinerec.models.als import ALS, ALSConfig
from tests.models.conformance import ModelConformance, random_ratings


class TestALSConformance(ModelConformance):
    model_name = "als"
    # Recency weighting off: score_history gets no timestamps, so only without decay
    # does a training user's history reproduce their trained factors.
    config = {"factors": 2, "epochs": 10, "regularization": 0.1, "recency_half_life": 0.0}
    # score_history solves each user's system exactly; training ends on a CG step.
    history_exact = False
    history_overlap = 0.8
    quality = ("loo-sampled", "hr@10", 0.60)


def two_blocks(n_users: int = 40, n_items: int = 30, seed: int = 0) -> Interactions:
    """Two taste groups: the first half of users watch the first half of movies, and so on."""
    rng = np.random.default_rng(seed)
    users, items = [], []
    for u in range(n_users):
        lo = 0 if u < n_users // 2 else n_items // 2
        picks = rng.choice(np.arange(lo, lo + n_items // 2), size=8, replace=False)
        users += [u] * len(picks)
        items += list(picks)
    n = len(users)
    return Interactions(np.array(users), np.array(items), rng.integers(1, 6, n), np.zeros(n), n_users, n_items)


def test_config_rejects_bad_values_naming_the_field():
    with pytest.raises(ConfigError, match="factors"):
        ALSConfig(factors=0)
    with pytest.raises(ConfigError, match="confidence"):
        ALSConfig.from_dict({"confidence": -1})
    with pytest.raises(ConfigError, match="unknown key 'factor'"):
        create("als", {"factor": 3})


@pytest.mark.parametrize("shift, stretch", [(-3.0, 1.0), (-1.0, 25.0), (1.0, 2.0)])
def test_ratings_on_another_scale_are_weighed_as_the_same_stars(shift, stretch):
    # Read as confidences as they were, thumbs (-2 to 2) were refused, a 0 of 0 to 100
    # weighed as a movie never seen and a 100 as 1,601 (HR@10 on ml-100k x 25 - 25: 0.674
    # against 0.700), and the 0s of a 0/1 log too (0.526 against 0.690 as 1 and 5 stars).
    x = random_ratings(seed=4)
    assert (x.ratings.min(), x.ratings.max()) == (1, 5)
    y = Interactions(x.users, x.items, (x.ratings + shift) * stretch, x.timestamps, x.n_users, x.n_items)
    a, b = (create("als", {"factors": 4, "epochs": 3}).fit(z) for z in (x, y))
    np.testing.assert_allclose(b.item_factors, a.item_factors, rtol=1e-4, atol=1e-5)
    history = sp.csr_matrix(([5.0, 1.0], ([0, 0], [3, 7])), shape=(1, x.n_items))
    given = sp.csr_matrix(((history.data + shift) * stretch, history.indices, history.indptr), shape=history.shape)
    np.testing.assert_allclose(b.score_history(given), a.score_history(history), rtol=1e-4, atol=1e-5)
    # Below every training rating (the data's scale may reach lower than its training
    # part): the least a movie seen weighs, as any one-star rating more or less; it was refused.
    below = b._confidence(sp.csr_matrix(([(shift - 9.0) * stretch], ([0], [3])), shape=(1, x.n_items)))
    assert below.data.tolist() == [1.0]
    assert create("als", {"factors": 4, "epochs": 2, "binary": True}).fit(y).recommend(np.arange(3), 5)[0].shape == (3, 5)


def test_a_log_of_zeros_and_ones_weighs_its_zeros_as_one_star_and_its_ones_as_five():
    x = random_ratings(seed=4)
    ones = Interactions(x.users, x.items, (x.ratings >= 4).astype(np.float64), x.timestamps, x.n_users, x.n_items)
    stars = Interactions(x.users, x.items, 1.0 + 4.0 * ones.ratings, x.timestamps, x.n_users, x.n_items)
    a, b = (create("als", {"factors": 4, "epochs": 3}).fit(z) for z in (stars, ones))
    np.testing.assert_allclose(b.item_factors, a.item_factors, rtol=1e-4, atol=1e-5)


def test_recommends_within_the_taste_group_and_never_seen_movies():
    x = two_blocks()
    model = ALS(ALSConfig(factors=2, epochs=10, regularization=0.1)).fit(x)
    items, scores = model.recommend(np.arange(x.n_users), k=5)
    group = np.arange(x.n_users) >= x.n_users // 2
    assert ((items >= x.n_items // 2) == group[:, None]).all()
    assert not x.seen[np.repeat(np.arange(x.n_users), 5), items.ravel()].any()
    assert (np.diff(scores, axis=1) <= 0).all()


def test_deterministic_given_seed_and_different_otherwise():
    x = two_blocks()
    a = ALS(ALSConfig(factors=4, seed=3)).fit(x).score(np.arange(5))
    b = ALS(ALSConfig(factors=4, seed=3)).fit(x).score(np.arange(5))
    c = ALS(ALSConfig(factors=4, seed=4)).fit(x).score(np.arange(5))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_confidence_follows_the_paper():
    x = two_blocks()
    m = ALS(ALSConfig(confidence=2.0))
    c = m._confidence(x.csr, scale=(1.0, 5.0))
    np.testing.assert_allclose(c.data, 1 + 2.0 * x.csr.data)
    cb = ALS(ALSConfig(confidence=2.0, binary=True))._confidence(x.csr, scale=(1.0, 5.0))
    np.testing.assert_allclose(cb.data, 3.0)


def test_a_rating_of_zero_is_a_movie_seen_at_the_least_confidence():
    # The bottom of a scale from 0 (a thumbs-down, 1 star as 0 of 100) was dropped as no
    # interaction, binary = true or not: not learnt from, and someone new who gave only
    # such ratings got the most rated movies, every score 0.
    import scipy.sparse as sp

    x = sp.csr_matrix((np.array([0.0, 1.0, -1.0], np.float32), (np.zeros(3, int), np.arange(3))), shape=(1, 4))
    np.testing.assert_allclose(ALS(ALSConfig(confidence=16.0, binary=True))._confidence(x, scale=(-1.0, 1.0)).data,
                               [17.0] * 3)
    x = sp.csr_matrix((np.array([0.0, 2.0], np.float32), (np.zeros(2, int), np.arange(2))), shape=(1, 4))
    assert ALS(ALSConfig(confidence=16.0))._confidence(x, scale=(0.0, 2.0)).data.tolist() == [17.0, 81.0]
    b = two_blocks()
    zeros = Interactions(b.users, b.items, np.zeros(len(b), np.float32), b.timestamps, b.n_users, b.n_items)
    model = create("als", {"factors": 2, "epochs": 10, "regularization": 0.1}).fit(zeros)
    assert np.abs(model.score(np.arange(3))).max() > 0.1
    low = sp.csr_matrix((np.zeros(2, np.float32), ([0, 0], [0, 1])), shape=(1, b.n_items))
    assert np.abs(model.score_history(low)).max() > 0.1


def test_recency_half_life_halves_the_confidence_part_per_fraction_of_the_users_span():
    day = 86400
    # User 0 spans days 0..10, so recency_half_life=0.2 is a half-life of 2 days: movies
    # 0, 1, 2 rated 4, 2, 5 at days 10, 8 and 6 weigh 1, 1/2, 1/4 (a repeated pair keeps
    # its last row: movie 2 at day 6). User 1 has one rating: no decay.
    x = Interactions(
        np.array([0, 0, 0, 0, 1]), np.array([0, 1, 2, 2, 1]), np.array([4, 2, 1, 5, 3]),
        np.array([10, 8, 0, 6, 3]) * day, 2, 3,
    )
    model = ALS(ALSConfig(confidence=2.0, recency_half_life=0.2))
    c = model._confidence(x.csr, model._decay(x), scale=(1.0, 5.0)).toarray()
    expected = np.array([[1 + 2 * 4 * 1.0, 1 + 2 * 2 * 0.5, 1 + 2 * 5 * 0.25], [0, 1 + 2 * 3, 0]])
    np.testing.assert_allclose(c, expected, rtol=1e-6)
    binary = ALS(ALSConfig(confidence=2.0, recency_half_life=0.2, binary=True))
    np.testing.assert_allclose(binary._confidence(x.csr, binary._decay(x), scale=(1.0, 5.0)).toarray()[0],
                               [3.0, 2.0, 1.5], rtol=1e-6)
    # 0 turns it off; without decay weights (a new person's history) nothing is decayed.
    assert ALS(ALSConfig(confidence=2.0, recency_half_life=0.0))._decay(x) is None
    np.testing.assert_allclose(model._confidence(x.csr, scale=(1.0, 5.0)).toarray()[0], [9.0, 5.0, 11.0])
    with pytest.raises(ConfigError, match="recency_half_life"):
        ALSConfig(recency_half_life=-1.0)


def test_recency_weighted_model_still_scores_new_histories():
    x = two_blocks()
    t = np.random.default_rng(0).integers(0, 100 * 86400, len(x))
    model = ALS(ALSConfig(factors=2, epochs=10, regularization=0.1, recency_half_life=0.1)).fit(x.replace(timestamps=t))
    fresh = model.score_history(x.csr[:3])
    assert fresh.shape == (3, x.n_items) and np.isfinite(fresh).all()


def test_score_history_of_a_training_user_matches_their_own_scores():
    x = two_blocks(seed=1)
    model = ALS(ALSConfig(factors=6, epochs=15, regularization=0.1)).fit(x)
    users = np.arange(0, x.n_users, 4)
    own = model.score(users)
    fresh = model.score_history(x.csr[users])
    assert fresh.shape == own.shape
    # The same least-squares step that training ends with: near-identical scores.
    for a, b in zip(own, fresh):
        assert np.corrcoef(a, b)[0, 1] > 0.99
    top_own = model.recommend(users, 5)[0]
    from cinerec.models.base import top_k

    top_fresh = top_k(fresh, 5, x.seen[users])[0]
    overlap = np.mean([len(set(a) & set(b)) / 5 for a, b in zip(top_own, top_fresh)])
    assert overlap >= 0.8


def test_score_history_rejects_the_wrong_width():
    x = two_blocks()
    model = ALS(ALSConfig(factors=2, epochs=2)).fit(x)
    with pytest.raises(ConfigError, match="columns"):
        model.score_history(x.csr[:, :5])


def test_item_vectors_make_similar_items_stay_in_group(tmp_path):
    x = two_blocks()
    model = ALS(ALSConfig(factors=2, epochs=10, regularization=0.1)).fit(x)
    assert model.item_vectors().shape == (x.n_items, 2)
    sim, _ = model.similar_items([0, x.n_items - 1], k=3)
    assert (sim[0] < x.n_items // 2).all() and (sim[1] >= x.n_items // 2).all()
    model.save(tmp_path / "als")
    back = load_model(tmp_path / "als")
    assert isinstance(back, ALS)
    np.testing.assert_array_equal(back.score(np.arange(x.n_users)), model.score(np.arange(x.n_users)))
    np.testing.assert_allclose(back.score_history(x.csr[:3]), model.score_history(x.csr[:3]), rtol=1e-5)


def test_load_rejects_factors_that_do_not_fit(tmp_path):
    x = two_blocks()
    model = ALS(ALSConfig(factors=4, epochs=2)).fit(x)
    model.save(tmp_path / "als")
    np.savez(tmp_path / "als" / "factors.npz", user_factors=np.zeros((3, 4)), item_factors=np.zeros((3, 4)))
    with pytest.raises(DataError, match="factors.npz"):
        load_model(tmp_path / "als")


def test_a_warm_start_begins_at_the_given_factors_and_stops_once_they_settle():
    from tests.models.conformance import random_ratings

    x = random_ratings(80, 60)
    cold = create("als", {"factors": 8, "epochs": 15}).fit(x)
    assert cold.history == []  # an ordinary fit: all its sweeps, from random factors
    near = create("als", {"factors": 8, "epochs": 15, "regularization": 64.0, "confidence": 10.0})
    warm = near.fit(x, init=cold)
    sweeps = [h["change"] for h in warm.history]
    assert 1 <= len(sweeps) < 15 and sweeps[-1] < 0.015 <= min(sweeps[:-1], default=1.0)
    # epochs still caps the sweeps.
    one = create("als", {"factors": 8, "epochs": 1, "regularization": 64.0, "confidence": 10.0}).fit(x, init=cold)
    assert len(one.history) == 1
    assert not np.array_equal(one.item_factors, cold.item_factors)
    # The model it started from is left as it was.
    again = create("als", {"factors": 8, "epochs": 15}).fit(x)
    np.testing.assert_array_equal(cold.item_factors, again.item_factors)


def test_a_warm_start_needs_a_fitted_model_of_the_same_shape():
    from tests.models.conformance import random_ratings

    x = random_ratings(80, 60)
    other = create("als", {"factors": 4}).fit(x)
    model = create("als", {"factors": 8})
    assert not model.accepts_init(other) and not model.accepts_init(create("als", {"factors": 8}))
    with pytest.raises(ConfigError, match="init must be a fitted ALS with factors"):
        model.fit(x, init=other)
    smaller = create("als", {"factors": 8}).fit(random_ratings(40, 60))
    with pytest.raises(ConfigError, match=r"got factors \(40, 8\)"):
        model.fit(x, init=smaller)


def test_a_fit_whose_movie_vectors_collapse_into_one_direction_says_so():
    # On a small log the default regularization (80) left every movie vector pointing one
    # way: every movie about 0.99999 similar to every other, reasons picked among ties, and
    # nothing said.
    rng = np.random.default_rng(1)
    picks = [rng.choice(60, rng.integers(12, 31), replace=False) for _ in range(27)]
    users = np.repeat(np.arange(27), [len(p) for p in picks])
    n = len(users)
    x = Interactions(users, np.concatenate(picks), rng.integers(1, 11, n) / 2, np.zeros(n), 27, 60)
    collapsed = ALS().fit(x)  # the defaults: regularization 80
    v = collapsed.item_factors / np.linalg.norm(collapsed.item_factors, axis=1, keepdims=True)
    assert (v @ v.T).min() > 0.999  # what the note is about
    notes = collapsed.fit_notes()
    assert len(notes) == 1 and notes[0].startswith("als: its movie vectors all point one way (")
    assert f"regularization = 80 is too strong for {n:,} ratings, so" in notes[0]
    # Fewer epochs than the default are part of it: said, and the way out named.
    few = ALS(ALS.Config(epochs=1)).fit(x).fit_notes()
    assert f"regularization = 80 is too strong for {n:,} ratings in 1 epoch, so" in few[0]
    assert few[0].endswith("retriever_settings for its retriever), or more epochs than 1, or let --tune find one")
    # (a two-stage study's retriever is set in its own table; "or --tune, find more" read as garbled)
    assert notes[0].endswith("; evaluate or train with --set regularization=10 (a study: regularization = 10 in its "
                             "ALS table, or in [export.two_stage] retriever_settings for its retriever), or let --tune "
                             "find one")
    # An ensemble's member and a two-stage model's retriever are set through their owner's
    # keys: "--set regularization=10" was refused there as an unknown key.
    ensemble = create("ensemble", {"members": ["als", "popularity"], "weights": [1.0, 1.0]}).fit(x)
    (said,) = [n for n in ensemble.fit_notes() if n.startswith("als:")]
    assert said.endswith("; evaluate or train with --set settings.als.regularization=10 (a study: "
                         "settings.als.regularization = 10 in its table), or let --tune find one")
    assert not create("ensemble", {"members": ["als", "popularity"], "weights": [0.0, 1.0]}).fit(x).fit_notes()
    staged = create("two-stage", {"retriever": "als", "ranker": "popularity", "candidates": 20}).fit(x)
    assert any("--set retriever_settings.regularization=10" in n for n in staged.fit_notes())
    # A stage handed in (a study's best model, refitted) keeps its own words, and is left as it was.
    from cinerec.models.two_stage import TwoStage, TwoStageConfig

    given = ALS().fit(x)
    staged = TwoStage(TwoStageConfig.from_dict({"retriever": "popularity", "ranker": "als", "mix": 0.5}), ranker=given)
    assert notes[0] in staged.fit(x).fit_notes() and given.fit_notes() == notes
    # Fitted by a search (here one trial: the defaults), it sends no one to a search.
    from cinerec.data.dataset import Catalog, Dataset, IdMap
    from cinerec.evaluation.protocols import get_protocol
    from cinerec.tuning import tune

    data = Dataset("x", x, IdMap(np.arange(27), "user"), IdMap(np.arange(60), "movie"), Catalog.unknown(60))
    found = tune("als", data, get_protocol("random-full", ks=[1, 2]), trials=1)
    (said,) = [n for n in found.model.fit_notes() if "point one way" in n]
    assert said.endswith("for its retriever)") and "--tune" not in said, said
    assert ALS(ALSConfig(factors=1)).fit(x).fit_notes() == []  # (one factor is one direction by design)
    assert ALS(ALSConfig(regularization=10)).fit(x).fit_notes() == []
    assert ALS(ALSConfig(factors=2, epochs=10, regularization=0.1)).fit(two_blocks()).fit_notes() == []
    assert ALS().fit_notes() == []  # (not fitted: nothing to say)


def test_a_searched_model_s_note_reads_alike_once_loaded_from_its_run(tmp_path, capsys):
    # After train --tune its note said nothing of a search; recommend, loading the model from
    # the run, said "or let --tune find one".
    import json

    from cinerec.cli import main

    rng = np.random.default_rng(1)
    (tmp_path / "log.csv").write_text("user,item,rating,ts\n" + "".join(
        f"u{u},m{i},{int(rng.integers(1, 6))},{100 * u + i}\n" for u in range(27) for i in range(60) if (u + i) % 3))
    out = tmp_path / "run"
    assert main(["train", "--data", str(tmp_path / "log.csv"), "--model", "als", "--set", "regularization=100000",
                 "--tune", "2", "--protocol", "loo-full", "--protocol-option", "ks=[1,2]", "--out", str(out), "-q",
                 "--json"]) == 0
    trained = [n for n in json.loads(capsys.readouterr().out)["notes"] if "point one way" in n]
    assert trained and "--tune" not in trained[0]
    assert main(["recommend", "--run", str(out), "--user", "u1", "-k", "3", "--json"]) == 0
    listed = [n for n in json.loads(capsys.readouterr().out)["notes"] if "point one way" in n]
    assert listed and "--tune" not in listed[0], listed


@pytest.mark.parametrize("setting", [{"regularization": 1e38}, {"confidence": 1e38}])
def test_settings_that_overflow_its_arithmetic_are_one_line(setting, recwarn):
    # implicit's ModelFitError ("NaN encountered in factors") ended in a traceback.
    from cinerec.errors import Diverged

    with pytest.raises(Diverged, match=r"^als: the fit broke down \(NaN encountered in factors\) with "
                                          r"regularization = .* numbers this large overflow its 32-bit arithmetic"):
        create("als", {**setting, "epochs": 2}).fit(two_blocks())
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
