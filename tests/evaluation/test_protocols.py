"""Protocols: split and candidate rules, tie handling, shared splits, real-data figures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cinerec.data.dataset import Catalog, Dataset, IdMap, Interactions
from cinerec.errors import ConfigError, DataError, NotFoundError
from cinerec.evaluation.protocols import (
    PROTOCOLS, Result, _full_ranks, evaluate, get_protocol,
)
from cinerec.evaluation import metrics as M
from cinerec.evaluation.report import leaderboard, markdown_table
from cinerec.models import create
from cinerec.models.base import CapabilityError, Recommender
from cinerec.models.baselines import PopularityConfig
from tests.models.conformance import random_ratings


def small_dataset(n_users: int = 120, n_items: int = 150, seed: int = 0, release: str = "synthetic") -> Dataset:
    x = random_ratings(n_users, n_items, seed)
    x = x.replace(timestamps=np.random.default_rng(seed).integers(0, 1000, len(x)))
    return Dataset("small", x, IdMap(np.arange(n_users), "user"), IdMap(np.arange(n_items), "movie"),
                   Catalog.unknown(n_items), info={"release": release})


class Scripted(Recommender):
    """Scores fixed in advance: (n_users, n_items) table given at construction."""

    name = "scripted"
    Config = PopularityConfig

    def __init__(self, table: np.ndarray, config=None) -> None:
        super().__init__(config)
        self.table = np.asarray(table, dtype=np.float32)
        self.valid_seen = None

    def fit(self, train: Interactions, valid: Interactions | None = None) -> "Scripted":
        self._remember(train)
        self.valid_seen = valid
        return self

    def _score_rows(self, users: np.ndarray) -> np.ndarray:
        return self.table[users]


def oracle(prepared) -> Scripted:
    """Knows the held-out movies: they score 1, everything else 0."""
    t = prepared.test
    table = np.zeros((t.n_users, t.n_items), np.float32)
    table[t.users, t.items] = 1.0
    return Scripted(table)


# -- names and options ---------------------------------------------------------------


def test_unknown_protocol_lists_the_known_ones():
    with pytest.raises(NotFoundError, match="loo-sampled.*ratings-random"):
        get_protocol("loo-everything")
    assert set(PROTOCOLS) == {"loo-sampled", "loo-full", "random-full", "ratings-fold", "ratings-random"}


def test_bad_options_are_named():
    with pytest.raises(ConfigError, match="unknown option 'folds'"):
        get_protocol("ratings-fold", folds="u1")
    with pytest.raises(ConfigError, match="fold='u9'"):
        get_protocol("ratings-fold", fold="u9")
    # ml-10m's folds, which its split_ratings.sh writes, said not to be read
    with pytest.raises(ConfigError, match="fold='r1', expected one of u1..u5, ua, ub or all \\(ml-100k's official "
                                          "folds\\); ml-10m's r1..r5, ra and rb, .* are not read: leave fold unset"):
        get_protocol("ratings-fold", fold="r1")
    with pytest.raises(ConfigError, match="n_negatives"):
        get_protocol("loo-sampled", n_negatives=0)
    with pytest.raises(ConfigError, match="test = 0.5 and valid = 0.5 add up to 1, leaving nothing to train on"):
        get_protocol("ratings-random", test=0.5, valid=0.5)
    # (the sum as a person writes it: it was 1.0999999999999999)
    with pytest.raises(ConfigError, match="test = 0.15 and valid = 0.95 add up to 1.1, leaving nothing to train on"):
        get_protocol("ratings-random", test=0.15, valid=0.95)
    with pytest.raises(ConfigError, match="seed"):
        get_protocol("loo-full").prepare(small_dataset(), seed=-1)


# -- leave latest out ------------------------------------------------------------------


def test_loo_sampled_candidates():
    ds = small_dataset()
    p = get_protocol("loo-sampled").prepare(ds, seed=3)
    x = ds.interactions
    assert p.candidates.shape == (p.n_users, 100)
    assert p.n_users == ds.n_users  # every user has at least 5 ratings
    # the held-out movie is the user's latest rating, appears once, and the rest were never rated
    latest = np.array([x.timestamps[x.users == u].max() for u in p.users])
    assert (p.test.timestamps[np.argsort(p.test.users)] == latest).all()
    assert ((p.candidates == p.truth[:, None]).sum(axis=1) == 1).all()
    rows = np.repeat(p.users, 100)
    flat = p.candidates.ravel()
    is_truth = (p.candidates == p.truth[:, None]).ravel()
    assert not x.seen[rows[~is_truth], flat[~is_truth]].any()
    assert all(len(set(r)) == 100 for r in p.candidates.tolist())
    # the held-out movie sits at a random column, not always the first
    assert len(np.unique(np.argmax(p.candidates == p.truth[:, None], axis=1))) > 20
    # reproducible from the seed, different for another
    again = get_protocol("loo-sampled").prepare(ds, seed=3)
    np.testing.assert_array_equal(again.candidates, p.candidates)
    other = get_protocol("loo-sampled").prepare(ds, seed=4)
    assert not np.array_equal(other.candidates, p.candidates)


def test_oracle_scores_perfectly_and_constant_scores_hit_at_random():
    ds = small_dataset(n_users=400, n_items=150)
    for name in ("loo-sampled", "loo-full"):
        p = get_protocol(name).prepare(ds, seed=0)
        r = p.evaluate(oracle(p))
        assert r.metrics["hr@1"] == 1.0 and r.metrics["ndcg@10"] == pytest.approx(1.0)
    p = get_protocol("loo-sampled").prepare(ds, seed=0)
    flat = p.evaluate(Scripted(np.zeros((ds.n_users, ds.n_items))))
    # All 100 candidates tie: the seeded shuffle makes the held-out movie land in the top 10
    # one time in ten, not always (or never) as a fixed tie rule would.
    assert 0.06 <= flat.metrics["hr@10"] <= 0.14
    assert flat.metrics["hr@1"] <= 0.04


@pytest.mark.parametrize("name", ["loo-sampled", "loo-full", "random-full"])
def test_scores_that_are_not_numbers_are_refused_not_ranked(name):
    # NaN scores ranked first in lists and behind nothing for a rank: loo-full gave MRR 1.0.
    ds = small_dataset()
    table = np.ones((ds.n_users, ds.n_items), np.float32)
    table[:, ::7] = np.nan
    with pytest.raises(DataError, match=r"^scripted: gives scores that are not numbers \(NaN\); its training diverged"):
        get_protocol(name).prepare(ds).evaluate(Scripted(table))
    # and in an array of Python floats (a model of one's own), and one holding +inf as well
    table[:, ::3] = np.inf
    with pytest.raises(DataError, match=r"^scripted: gives scores that are not numbers \(NaN\)"):
        get_protocol(name).prepare(ds).evaluate(Scripted(table.astype(object)))


@pytest.mark.parametrize("name", ["loo-sampled", "loo-full", "random-full"])
def test_infinitely_high_scores_are_refused_as_not_a_number_is(name):
    # Every movie at +inf escaped both the NaN refusal and the same-score note (only finite
    # scores are compared there): its tie order was printed as the model's figures.
    ds = small_dataset()
    table = np.full((ds.n_users, ds.n_items), np.inf, np.float32)
    with pytest.raises(DataError, match=r"^scripted: gives infinite scores; its training diverged"):
        get_protocol(name).prepare(ds).evaluate(Scripted(table))
    table = np.ones((ds.n_users, ds.n_items), np.float32)
    table[:, ::5] = -np.inf  # (minus infinity: movies beyond a shortlist, scored as any other)
    assert get_protocol(name).prepare(ds).evaluate(Scripted(table)).metrics


def test_loo_full_ranks_refuse_a_score_that_is_not_a_number():
    ds = small_dataset()
    p = get_protocol("loo-full").prepare(ds)
    table = np.ones((ds.n_users, ds.n_items), np.float32)
    table[p.users, p.truth] = np.nan  # only the held-out movies: the lists never show them
    with pytest.raises(DataError, match="not numbers"):
        _full_ranks(Scripted(table).fit(p.train), p.users, p.truth, p.excluded)


def test_loo_full_mrr_agrees_with_the_top_k_lists():
    ds = small_dataset()
    p = get_protocol("loo-full").prepare(ds)
    model = create("ease", {"regularization": 20.0})
    r = p.evaluate(model)
    ranks = _full_ranks(model, p.users, p.truth, p.excluded)
    assert r.metrics["hr@10"] == pytest.approx(np.mean(ranks <= 10))
    assert r.metrics["hr@1"] == pytest.approx(np.mean(ranks == 1))
    assert r.metrics["mrr"] == pytest.approx(np.mean(1.0 / ranks))
    assert 0 < r.metrics["coverage@10"] <= 1
    assert set(r.metrics) == {"hr@1", "ndcg@1", "hr@5", "ndcg@5", "hr@10", "ndcg@10", "mrr", "coverage@10"}


def test_models_share_one_prepared_split():
    ds = small_dataset()
    p = get_protocol("loo-sampled").prepare(ds, seed=0)
    before = p.candidates.copy()
    results = [p.evaluate(create(n)) for n in ("popularity", "itemknn", "ease")]
    np.testing.assert_array_equal(p.candidates, before)
    assert [r.model for r in results] == ["popularity", "itemknn", "ease"]
    for r in results:
        assert r.protocol == "loo-sampled" and r.n_users == p.n_users and r.seed == 0
        assert r.metrics["hr@1"] <= r.metrics["hr@5"] <= r.metrics["hr@10"] <= 1
    # fit=False keeps a model fitted elsewhere only if the id space matches
    q = get_protocol("loo-full").prepare(ds)
    assert q.evaluate(create("popularity").fit(p.train), fit=False).protocol == "loo-full"
    with pytest.raises(CapabilityError, match="fitted on"):
        q.evaluate(create("popularity").fit(small_dataset(n_users=30).interactions), fit=False)
    # fitted on all the data, the held-out ratings too: refused, not measured
    with pytest.raises(CapabilityError, match=r"fitted on other ratings .* may have learned the held-out ones"):
        q.evaluate(create("ease").fit(ds.interactions), fit=False)
    # the same pairs in another object are the same training data
    same = q.train.replace(ratings=q.train.ratings.copy())
    assert q.evaluate(create("popularity").fit(same), fit=False).n_users == q.n_users


@pytest.mark.parametrize("name, model, options", [
    ("loo-sampled", "popularity", {"ks": [3, 10]}), ("loo-full", "popularity", {}),
    ("random-full", "popularity", {"ks": [5]}), ("ratings-random", "baseline", {}),
    ("ratings-fold", "baseline", {"ks": [7]})])
def test_metric_names_are_what_measure_gives(name, model, options):
    protocol = get_protocol(name, **options)
    got = set(protocol.prepare(small_dataset(), seed=0).evaluate(create(model)).metrics)
    names = set(protocol.metric_names())
    assert got <= names and (got == names or names - got == {"auc", "accuracy"})  # those: liked models'


# -- random split, full catalogue ------------------------------------------------------


def test_random_full_metrics_and_categorical_accuracy():
    ds = small_dataset()
    p = get_protocol("random-full").prepare(ds, seed=1)
    assert len(p.train) + len(p.test) == len(ds.interactions)
    assert abs(len(p.test) / len(ds.interactions) - 0.2) < 0.02
    r = p.evaluate(create("itemknn"))
    for k in (10, 50, 100):
        for m in ("recall", "ndcg", "hr", "precision", "cat_acc"):
            assert 0.0 <= r.metrics[f"{m}@{k}"] <= 1.0
    assert r.metrics["recall@10"] <= r.metrics["recall@50"] <= r.metrics["recall@100"]
    # A model that scores its own training movies highest: the filtered lists skip them,
    # the unfiltered ones (categorical accuracy) are filled with them.
    memo = p.train.seen.toarray().astype(np.float32) * 10 + oracle(p).table
    r = p.evaluate(Scripted(memo))
    assert r.metrics["recall@100"] == 1.0 and r.metrics["precision@10"] > 0
    assert r.metrics["cat_acc@10"] < r.metrics["recall@10"]


# -- rating prediction -------------------------------------------------------------------


def test_rating_protocols_need_a_rating_model():
    ds = small_dataset()
    with pytest.raises(CapabilityError, match="ranks movies and predicts no stars"):
        get_protocol("ratings-random").prepare(ds).evaluate(create("ease"))
    with pytest.raises(CapabilityError):
        evaluate("ratings-fold", ds, "popularity")


def test_evaluate_by_name_seeds_the_model_and_refuses_what_it_would_ignore():
    """evaluate(..., seed=1) kept the model's seed 0 where --seed 1 seeds it; config beside
    a model (or a factory) was ignored; a factory's non-model and a text config were raw errors."""
    ds = small_dataset()
    by_name = evaluate("loo-sampled", ds, "als", 1, config={"epochs": 2}, n_negatives=20, ks=[5])
    seeded = evaluate("loo-sampled", ds, lambda: create("als", {"epochs": 2, "seed": 1}), 1, n_negatives=20, ks=[5])
    assert by_name.metrics == seeded.metrics
    for kwargs, needle in (({"model_name_or_factory": create("ease"), "config": {"regularization": 5.0}},
                            "config applies to a model given by name"),
                           ({"model_name_or_factory": lambda: "ease"}, "the factory returned a str, not a model"),
                           ({"model_name_or_factory": "ease", "config": "x=1"}, "config must map setting names")):
        with pytest.raises(ConfigError, match=needle):
            evaluate("loo-sampled", ds, **kwargs)


def test_ratings_fold_elsewhere_is_a_seeded_80_20_split():
    ds = small_dataset()
    r = evaluate("ratings-fold", ds, "baseline", seed=2)
    assert r.options == {"fold": "random-80/20"} and 0.5 < r.metrics["rmse"] < 2.0
    assert r.metrics["mae"] <= r.metrics["rmse"]
    assert evaluate("ratings-fold", ds, lambda: create("baseline"), seed=2).metrics == r.metrics
    # A fold asked for by name was dropped without a word: fold=u2 measured the random split.
    for fold in ("u2", "u1", "all"):
        said = "asks for ml-100k's official folds" if fold == "all" else "is one of ml-100k's official folds"
        with pytest.raises(DataError, match=rf"fold={fold} {said}, and .* has none; "
                                            "leave fold unset"):
            get_protocol("ratings-fold", fold=fold).prepare(ds)


def test_ratings_random_gives_valid_to_fit():
    ds = small_dataset()
    p = get_protocol("ratings-random").prepare(ds, seed=0)
    n = len(ds.interactions)
    assert abs(len(p.valid) / n - 0.15) < 0.02 and abs(len(p.test) / n - 0.15) < 0.02
    model = create("baseline")
    seen = {}
    original = model.fit

    def spy(train, valid=None):
        seen["valid"] = valid
        return original(train, valid)

    model.fit = spy
    r = p.evaluate(model)
    assert seen["valid"] is p.valid and set(r.metrics) == {"rmse", "mae", "ndcg@5", "ndcg@10"}


class ScriptedLiked(Scripted):
    """A scripted model trained on liked-or-not: its table is the probability of liking."""

    can_predict_liked = True

    def predict_liked(self, users, items):
        return self.score(users, np.asarray(items))

    def is_liked(self, ratings):
        return np.asarray(ratings) >= 4


def test_rating_protocols_measure_a_liked_model_by_auc_accuracy_and_ndcg_never_rmse():
    ds = small_dataset()
    p = get_protocol("ratings-random", ks=[3]).prepare(ds, seed=0)
    t = p.test
    liked = t.ratings >= 4
    table = np.full((t.n_users, t.n_items), 0.5, np.float32)
    table[t.users, t.items] = np.where(liked, 0.8, 0.3)  # every call right, every pair ordered right
    r = p.evaluate(ScriptedLiked(table), per_user=True)
    assert set(r.metrics) == {"auc", "accuracy", "ndcg@3"}
    assert r.metrics["auc"] == 1.0 and r.metrics["accuracy"] == 1.0
    # NDCG ranks each user's test movies by the probability, the true stars as gain.
    want = M.ndcg_of_ratings(t.users, t.items, table[t.users, t.items], t.ratings, 3, per_user=True)[p.users]
    np.testing.assert_allclose(r.per_user["ndcg@3"], want)
    assert set(r.per_user) == {"ndcg@3", "user"} and r.metrics["ndcg@3"] == pytest.approx(np.nanmean(want))
    # A star model on the same split gets RMSE, MAE and the same NDCG, computed alike.
    s = get_protocol("ratings-random", ks=[3]).prepare(ds, seed=0).evaluate(create("baseline"))
    assert set(s.metrics) == {"rmse", "mae", "ndcg@3"}
    assert get_protocol("ratings-fold", ks=[3]).options() == {"ks": [3]}
    assert get_protocol("ratings-fold", fold="u2").options() == {}


# -- tables ---------------------------------------------------------------------------------


def test_tables_name_the_protocol_on_every_row():
    a = Result("loo-sampled", "ease", {"hr@10": 0.7, "ndcg@10": 0.42}, 943, 1.0, 0.5)
    b = Result("loo-sampled", "popularity", {"hr@10": 0.41, "ndcg@10": 0.23}, 943, 0.0, 0.2)
    c = Result("ratings-fold", "baseline", {"rmse": 0.95}, 459, 0.1, 0.0, options={"fold": "u1"})
    text = leaderboard([a, b, c])
    assert "protocol: loo-sampled (seed 0)" in text and "protocol: ratings-fold (fold=u1, seed 0)" in text
    rows = [line for line in text.splitlines() if line.startswith(("loo-", "ratings-"))]
    assert len(rows) == 3 and "0.7000" in rows[0] and "0.9500" in rows[2]
    assert "lower is better" in text
    md = markdown_table([a, b, c])
    assert md.count("| protocol | model |") == 2 and "| loo-sampled | ease | 0.7000 |" in md
    assert a.to_dict()["metrics"] == {"hr@10": 0.7, "ndcg@10": 0.42}


def test_a_figure_no_one_could_be_measured_by_is_shown_as_such_and_said_why():
    # Everyone's test ratings alike in stars: no order of them can be wrong, so no NDCG.
    a = Result("ratings-random", "baseline", {"rmse": 0.25, "ndcg@10": float("nan")}, 59, 0.0, 0.0)
    b = Result("loo-sampled", "ease", {"hr@10": 0.7}, 943, 1.0, 0.5)
    note = ("n/a: no one in the test part could be measured by ndcg@10 (NDCG of stars counts only people whose "
            "test ratings differ in stars)")
    text = leaderboard([a, b])
    row = next(line for line in text.splitlines() if line.startswith("ratings-random"))
    assert row.split()[3] == "n/a" and "nan" not in text
    assert text.splitlines().count(note) == 1 and text.index(note) < text.index("protocol: loo-sampled")
    assert markdown_table([a, b]).count(note) == 1
    liked = Result("ratings-random", "mf", {"auc": float("nan")}, 59, 0.0, 0.0)
    assert "(AUC needs both liked and not-liked test ratings)" in leaderboard([liked])


# -- real MovieLens-100K ------------------------------------------------------------------


@pytest.fixture(scope="module")
def ml100k(ml100k_dir):
    from cinerec.data import load

    return load(ml100k_dir)


@pytest.mark.slow
def test_real_loo_sampled_popularity_and_ease(ml100k):
    pop, ease = [], []
    for seed in (0, 1):
        p = get_protocol("loo-sampled").prepare(ml100k, seed=seed)
        pop.append(p.evaluate(create("popularity")).metrics["hr@10"])
        ease.append(p.evaluate(create("ease")).metrics["hr@10"])
    assert 0.38 <= np.mean(pop) <= 0.46
    assert np.mean(ease) >= 0.62


@pytest.mark.slow
def test_real_ratings_fold_baseline(ml100k):
    r = evaluate("ratings-fold", ml100k, "baseline", fold="u1")
    assert r.metrics["rmse"] <= 0.96 and r.options == {"fold": "u1"}
    every = evaluate("ratings-fold", ml100k, "baseline", fold="all")
    folds = [every.metrics[f"rmse_u{i}"] for i in range(1, 6)]
    assert every.metrics["rmse"] == pytest.approx(np.mean(folds))
    assert every.metrics["rmse_u1"] == pytest.approx(r.metrics["rmse"])
    # the people measured: the folds' mean, to the nearest (it was cut down)
    assert every.n_users == round(np.mean([p.n_users for p in every.parts]))


def test_describe_gives_the_split_asked_for():
    # A study with test = 0.3 was described as an 80/20 split in its report.
    assert "random 70% / 30% split" in get_protocol("random-full", test=0.3).describe()
    assert "random 80% / 20% split" in get_protocol("random-full").describe()
    assert "70% train / 10% valid / 20% test" in get_protocol("ratings-random", test=0.2, valid=0.1).describe()
    assert "70% train / 15% valid / 15% test" in get_protocol("ratings-random").describe()


def test_describe_gives_the_number_of_negatives():
    text = get_protocol("loo-sampled", n_negatives=49).describe()
    assert "ranked among 49 movies" in text and "n_negatives" not in text
    assert "ranked among 99 movies" in get_protocol("loo-sampled").describe()


def test_describe_says_valid_true_holds_out_the_rating_before_the_latest_too():
    # The line said only "each user's latest rating held out".
    for name in ("loo-sampled", "loo-full"):
        assert "later file row), and the one before it for validation; ranked" in \
            get_protocol(name, valid=True).describe()
        assert "validation" not in get_protocol(name).describe()


def test_ratings_fold_uses_the_folds_read_with_the_data():
    ds = small_dataset(release="ml-100k")
    n = len(ds.interactions)
    test = np.zeros(n, bool)
    test[np.random.default_rng(0).permutation(n)[: n // 5]] = True
    p = get_protocol("ratings-fold", fold="u3").prepare(ds.replace(folds={"u3": test}))
    assert p.fold == "u3" and (len(p.train), len(p.test)) == (n - n // 5, n // 5)
    x = ds.interactions
    key = lambda y: np.sort(y.users.astype(np.int64) * x.n_items + y.items)  # noqa: E731
    np.testing.assert_array_equal(key(p.test), key(x.select(test)))
    with pytest.raises(NotFoundError, match="no official fold 'u1'.*has: u3"):
        get_protocol("ratings-fold").prepare(ds.replace(folds={"u3": test}))
    # An ml-100k dataset without its folds is refused in one line, not split at random.
    with pytest.raises(DataError, match="holds no official folds"):
        get_protocol("ratings-fold").prepare(ds)
    with pytest.raises(ConfigError, match="unknown option 'source'"):
        get_protocol("ratings-fold", source="/somewhere")


# -- what a protocol needs from the data, and from a rating model ----------------------------


def test_loo_sampled_names_the_raw_user_short_of_unseen_movies():
    x = Interactions(np.array([0, 0, 0, 1, 1]), np.array([0, 1, 2, 0, 1]), np.ones(5), np.arange(5), 2, 4)
    ds = Dataset("tiny", x, IdMap(np.array(["ann", "bob"]), "user"), IdMap(np.arange(4), "movie"),
                 Catalog.unknown(4))
    with pytest.raises(DataError) as e:
        get_protocol("loo-sampled", n_negatives=2, ks=[1, 2]).prepare(ds)
    msg = str(e.value)
    assert "user 'ann' has only 1 unseen movie, fewer than the 2 negatives asked for" in msg
    assert "the data holds only 4 movies; ask for fewer negatives" in msg and "n_negatives=1" in msg
    assert "keep more movies" not in msg and "\n" not in msg  # no filter dropped any to keep
    assert get_protocol("loo-sampled", n_negatives=1, ks=[1]).prepare(ds).candidates.shape == (2, 2)
    # The way out says the Ks must shrink too: ranked among 2, HR@10 would count every one a hit.
    with pytest.raises(DataError, match=r"n_negatives=1\), and for no K above 1 in ks \(K = 10 needs 10 negatives\)$"):
        get_protocol("loo-sampled", n_negatives=10).prepare(ds)


@pytest.mark.parametrize("ks", [None, [1, 5, 10]])
def test_a_k_that_every_list_of_sampled_candidates_holds_is_refused_given_or_default(ks):
    # With the default ks (or the same list given) it was let through: HR@10 = 1 for any model.
    # The option given is named first (it spoke of ks alone, which nobody had typed).
    with pytest.raises(ConfigError, match=r"^protocol loo-sampled: n_negatives=5 with ks=\[1, 5, 10\]: "):
        get_protocol("loo-sampled", n_negatives=5, ks=ks)
    with pytest.raises(ConfigError, match=r"K = 10 is not below the 6 movies each held-out one is ranked among "
                                          r"\(n_negatives \+ 1\), so every such list would hold it; ask for at "
                                          r"least 10 negatives, or give ks=\[1, 5\]"):
        get_protocol("loo-sampled", n_negatives=5, ks=ks)
    with pytest.raises(ConfigError, match=r"K = 10 is not below the 10 movies"):  # 10 of 10: HR@10 = 1 too
        get_protocol("loo-sampled", n_negatives=9, ks=ks)
    assert get_protocol("loo-sampled", n_negatives=10).ks == (1, 5, 10)


def test_the_default_ks_past_a_small_catalogue_are_left_out_and_said():
    # random-full on 60 movies reported recall@50 = 1.0: each user has about 44 left to rank.
    # The default Ks past that are left out; asked-for ones are refused.
    rng = np.random.default_rng(0)
    n_users, n_items = 30, 60
    users = np.repeat(np.arange(n_users), 20)
    items = np.concatenate([rng.choice(n_items, 20, replace=False) for _ in range(n_users)])
    x = Interactions(users, items, np.ones(len(users)), np.arange(len(users)), n_users, n_items)
    ds = Dataset("small", x, IdMap(np.arange(n_users), "user"), IdMap(np.arange(n_items), "movie"),
                 Catalog.unknown(n_items))
    prepared = get_protocol("random-full").prepare(ds)
    result = prepared.evaluate(create("popularity"))
    assert "recall@10" in result.metrics and "recall@50" not in result.metrics and "cat_acc@50" not in result.metrics
    assert result.options["ks"] == [10]  # said beside the figures
    # and in words: the header's ks=[10] alone left the missing K = 50 and 100 unexplained
    from cinerec.evaluation.protocols import figure_notes

    assert figure_notes(prepared, create("popularity").fit(prepared.train))[0] == (
        "K = 50, 100 left out: a list that long would hold every movie the median user has left to rank; "
        "measured at K = 10")
    assert not any("left out" in line for line in figure_notes(get_protocol("loo-full").prepare(ds),
                                                               create("popularity").fit(prepared.train)))
    with pytest.raises(ConfigError, match=r"ks=\[10, 50\]: K = 50 is not below the \d\d movies the median user has "
                                          r"left to rank, so such lists would hold every one; give ks=\[10\]"):
        get_protocol("random-full", ks=[10, 50]).prepare(ds)
    assert get_protocol("loo-full").prepare(ds).ks == ()  # (1, 5, 10) fit: nothing left out
    tiny = Dataset("tiny", Interactions(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 2]), np.ones(4), np.arange(4), 2, 8),
                   IdMap(np.arange(2), "user"), IdMap(np.arange(8), "movie"), Catalog.unknown(8))
    with pytest.raises(ConfigError, match=r"K = 10, its headline figure, is not below the 7 movies the median user "
                                          r"has left to rank.*give ks=\[1, 5\] \(the data holds only 8 movies\)$"):
        get_protocol("loo-full").prepare(tiny)  # not even the headline K fits


def test_a_k_that_cannot_fit_is_named_with_the_ks_that_would_and_the_filter_to_loosen(ml100k):
    from cinerec.data.filters import Filters, apply_filters

    few, _ = apply_filters(ml100k, Filters(top_movies=15))
    # The default Ks are 10, 50 and 100: it is K = 10 that cannot be left out.
    with pytest.raises(ConfigError, match=r"^protocol random-full: K = 10, its headline figure, is not below the 9 "
                                          r"movies .*; give ks=\[1, 5\] or keep more movies \(a larger top_movies\)$"):
        get_protocol("random-full").prepare(few)
    with pytest.raises(ConfigError, match=r"ks=\[1700\]: K = 1700 is not below the 1,618 movies .*; give Ks below "
                                          r"1,618 \(the data holds only 1,682 movies\)$"):
        get_protocol("loo-full", ks=[1700]).prepare(ml100k)


def test_a_full_ranking_with_nothing_left_to_rank_says_so_not_to_give_ks_below_1():
    from cinerec.data.dataset import Catalog, Dataset, IdMap, Interactions

    # Two people who rated every movie: the held-out one is all their lists could hold.
    x = Interactions(np.repeat(np.arange(2), 10), np.tile(np.arange(10), 2), np.full(20, 3.0), np.arange(20), 2, 10)
    ds = Dataset("both", x, IdMap(np.array(["a", "b"]), "user"), IdMap(np.arange(10), "movie"), Catalog.unknown(10))
    with pytest.raises(ConfigError, match=r"K = 5 is not below the 1 movie the median user has left to rank, so "
                                          r"such lists would hold every one; no list is short enough to measure "
                                          r"anything here \(the data holds only 10 movies\)$"):
        get_protocol("loo-full", ks=[1, 5]).prepare(ds)
    # and a catalogue of one movie is "1 movie"
    x = Interactions(np.arange(3), np.zeros(3, np.int64), np.full(3, 3.0), np.arange(3), 3, 1)
    ds = Dataset("one", x, IdMap(np.array(["a", "b", "c"]), "user"), IdMap(np.arange(1), "movie"), Catalog.unknown(1))
    with pytest.raises(ConfigError, match=r"\(the data holds only 1 movie\)$"):
        get_protocol("random-full").prepare(ds)


def test_movies_rated_below_a_liked_threshold_are_never_candidates_nor_ranked():
    """--liked-threshold drops the low ratings, yet those movies were seen: no protocol samples
    them as "never rated" negatives or ranks them in a full ranking (Dataset.also_seen)."""
    from cinerec.data.transforms import binarize

    ds = binarize(small_dataset(), 4.0)
    low_u, low_i = ds.also_seen
    assert len(low_u)
    p = get_protocol("loo-sampled", n_negatives=20).prepare(ds, seed=0)
    row_of = {int(u): n for n, u in enumerate(p.users)}
    low = {(int(u), int(i)) for u, i in zip(low_u, low_i)}
    drawn = {(int(u), int(i)) for u, row in zip(p.users, p.candidates) for i in row}
    assert not drawn & low and any(u in row_of for u, _ in low)
    for name in ("loo-full", "random-full"):
        prep = get_protocol(name).prepare(ds, seed=0)
        assert all(prep.excluded[u, i] for u, i in low)  # left out of the ranking like the training movies
        # A model that puts the low-rated movies first: the protocol's lists never hold them.
        table = np.zeros((ds.n_users, ds.n_items), np.float32)
        table[low_u, low_i] = 10.0
        model = Scripted(table).fit(prep.train)
        ranked, _ = model.recommend(prep.users, 10, exclude=prep.excluded)
        assert not {(int(u), int(i)) for u, row in zip(prep.users, ranked) for i in row if i >= 0} & low
        assert (prep.excluded - prep.train.seen).nnz == len(low)
        if name == "loo-full":  # and the figures are those of these lists
            hits = np.mean([t in row for t, row in zip(prep.truth, ranked)])
            assert prep.evaluate(model, fit=False).metrics["hr@10"] == pytest.approx(hits)


def test_ratings_fold_is_refused_once_a_filter_dropped_ratings():
    from cinerec.data.filters import Filters, apply_filters

    ds = small_dataset(release="ml-100k")
    ds = ds.replace(folds={"u1": np.arange(len(ds.interactions)) % 5 == 0})
    assert get_protocol("ratings-fold").prepare(ds).fold == "u1"
    filtered, _ = apply_filters(ds, Filters(top_users=50))
    with pytest.raises(DataError, match=r"official folds of 'small' no longer apply after the filter top_users=50 "
                                        r"\(it dropped ratings\); use the protocol 'ratings-random'"):
        get_protocol("ratings-fold").prepare(filtered)
    get_protocol("ratings-random").prepare(filtered)  # a random split still works


def test_rating_protocols_refuse_implicit_data():
    from cinerec.data.filters import Filters, apply_filters

    implicit, _ = apply_filters(small_dataset(), Filters(liked_threshold=4))
    for name in ("ratings-fold", "ratings-random"):
        with pytest.raises(DataError, match=rf"protocol {name} measures predicted stars.*plain interactions after the "
                                            r"filter liked_threshold=4;"):
            get_protocol(name).prepare(implicit)
    get_protocol("loo-full").prepare(implicit)


def test_mf_trains_for_ranking_under_a_ranking_protocol_unless_told_otherwise():
    from cinerec.models import MODELS

    for name in ("loo-sampled", "loo-full", "random-full"):
        p = get_protocol(name)
        assert p.settings_for(MODELS["mf"], {"factors": 8}) == {"factors": 8, "loss": "bpr", "regularization": 0.01}
        assert p.settings_for(MODELS["biasedmf"], {"loss": "bce"}) == {"loss": "bce", "regularization": 0.01}
        assert p.settings_for(MODELS["mf"], {"regularization": 0.05}) == {"regularization": 0.05, "loss": "bpr"}
        with pytest.raises(ConfigError, match=r'^--set: mf with loss = "mse" learns stars, not rankings; '
                                              rf'under {name} set loss = "bpr".*ratings-random'):
            p.settings_for(MODELS["mf"], {"loss": "mse"}, where="--set")
        # A liked-or-not model: trying loss='bpr' alone on it failed validation, and that
        # error ("set loss = 'bce' too") escaped instead of this one.
        with pytest.raises(ConfigError, match=r'^--set: mf with loss = "bce", target = "liked" learns liked-or-not, '
                                              rf'not rankings; under {name} drop target and set loss = "bpr"'):
            p.settings_for(MODELS["mf"], {"loss": "bce", "target": "liked", "epochs": 1}, where="--set")
        # target = "liked" alone: "set loss = 'bce' too (..., which a ranking protocol gives mf ...)",
        # for biasedmf too, and doing so met the refusal above.
        for model in ("mf", "biasedmf"):
            with pytest.raises(ConfigError, match=rf'^--set: {model} with target = "liked" learns liked-or-not, not '
                                                  rf'rankings; under {name} drop target and set loss = "bpr"'):
                p.settings_for(MODELS[model], {"target": "liked"}, where="--set")
        with pytest.raises(CapabilityError, match=r"mlp-rating learns liked-or-not and has no ranking variant: "
                                                  r"measure it with the protocol 'ratings-random'"):  # it said "stars"
            p.check(create("mlp-rating", {"target": "liked"}))
        with pytest.raises(CapabilityError, match=r'biasedmf: loss = "mse" trains it for stars'):
            p.check(create("biasedmf"))
        with pytest.raises(CapabilityError, match=r'mf: loss = "bce", .*target = "liked" trains it for liked-or-not.* '
                                                  r'drop target and set loss = "bpr"'):
            p.check(create("mf", {"loss": "bce", "target": "liked"}))
        assert p.settings_for(MODELS["itemknn"], {"neighbors": 5}) == {"neighbors": 5}
    for name in ("ratings-fold", "ratings-random"):
        assert get_protocol(name).settings_for(MODELS["mf"], {}) == {}


def test_random_hold_outs_turn_recency_off_unless_told_otherwise():
    from cinerec.models import MODELS

    for name in ("loo-sampled", "loo-full"):
        p = get_protocol(name)
        assert p.holds_out_latest
        assert p.settings_for(MODELS["ease"], {"regularization": 5.0}) == {"regularization": 5.0}
        assert p.settings_for(MODELS["ensemble"], {}) == {}
    for name in ("random-full", "ratings-random", "ratings-fold"):
        p = get_protocol(name)
        assert not p.holds_out_latest
        assert p.settings_for(MODELS["ease"], {"regularization": 5.0}) == {"regularization": 5.0,
                                                                          "recency_half_life": 0.0}
        assert p.settings_for(MODELS["als"], {"recency_half_life": 0.3}) == {"recency_half_life": 0.3}
        assert p.settings_for(MODELS["seqknn"], {"window": 3}) == {"window": 3, "history_decay": 1.0,
                                                                  "history_movies": 0}
        assert p.settings_for(MODELS["itemknn"], {}) == {}
    p = get_protocol("random-full")
    # A model holding others passes each its own settings for random hold-outs.
    got = p.settings_for(MODELS["ensemble"], {"members": ["ease", "itemknn"],
                                              "settings": {"ease": {"recency_half_life": 0.5}}})
    assert got == {"members": ["ease", "itemknn"], "held_out_rating": "random",  # key by key
                   "settings": {"ease": {"recency_half_life": 0.5, "regularization": 500.0}}}
    got = p.settings_for(MODELS["ensemble"], {})
    assert got["held_out_rating"] == "random"
    assert got["settings"] == {"seqknn": {"history_decay": 1.0, "history_movies": 0},
                               "ease": {"recency_half_life": 0.0, "regularization": 500.0},
                               "als": {"recency_half_life": 0.0}}
    assert create("ensemble", got).config.settings["als"] == {"recency_half_life": 0.0}
    got = p.settings_for(MODELS["two-stage"], {"retriever": "ease", "ranker": "gmf"})
    assert got == {"retriever": "ease", "ranker": "gmf",
                   "retriever_settings": {"recency_half_life": 0.0, "regularization": 500.0}}
    # A bad value is left for the config to refuse in its one line.
    got = p.settings_for(MODELS["ensemble"], {"members": "ease"})
    assert got == {"members": "ease", "held_out_rating": "random"}
    with pytest.raises(ConfigError, match="members"):
        create("ensemble", got)


def test_below_popularity_names_models_under_the_floor():
    from cinerec.evaluation.protocols import below_popularity

    def r(model, hr, protocol="loo-sampled", seed=0):
        return Result(protocol, model, {"hr@10": hr, "rmse": 1.0}, 10, 0.0, 0.0, seed)

    results = [r("popularity", 0.4), r("ease", 0.6), r("baseline", 0.2), r("baseline", 0.2, seed=1),
               r("popularity", 0.1, "loo-full"), r("mf", 0.05, "loo-full")]
    assert below_popularity(results) == [
        "baseline: hr@10 0.2000 is below popularity's 0.4000 under loo-sampled (seed 0)",
        "mf: hr@10 0.0500 is below popularity's 0.1000 under loo-full (seed 0)",
    ]  # seed 1 has no popularity to compare with
    assert below_popularity([r("baseline", 0.2)]) == []



def test_a_tie_with_popularity_whose_hits_sit_lower_in_the_list_is_said():
    # two-tower tied popularity's HR@10 (0.25) with NDCG@10 0.1237 against 0.1418, HR@1
    # 0.02 against 0.07, and nothing was said.
    from cinerec.evaluation.protocols import below_popularity

    def r(model, hr, ndcg, protocol="loo-sampled"):
        return Result(protocol, model, {"hr@10": hr, "ndcg@10": ndcg}, 10, 0.0, 0.0, 0)

    results = [r("popularity", 0.25, 0.1418), r("two-tower", 0.25, 0.1237), r("ease", 0.25, 0.15),
               r("als", 0.3, 0.1)]
    assert below_popularity(results) == [
        "two-tower: hr@10 0.2500 ties popularity's, and its ndcg@10 0.1237 is below popularity's 0.1418 under "
        "loo-sampled (seed 0)"]
    # A figure that could not be measured (None) ties nothing and breaks nothing.
    from cinerec.evaluation.protocols import tie_below

    assert tie_below("x", "hr@10", {"hr@10": 0.25, "ndcg@10": None}, {"hr@10": 0.25, "ndcg@10": 0.1}) is None
    assert tie_below("x", "hr@10", {"hr@10": None, "ndcg@10": 0.1}, {"hr@10": None, "ndcg@10": 0.2}) is None
    # Two means of the same tenths, summed in another order: a study called ease's 0.2250 "below
    # popularity's 0.2250", its NDCG@10 higher.
    from cinerec.evaluation.protocols import figure_below

    a, b = 0.22499999999999998, 0.22500000000000003
    assert not figure_below(a, b) and figure_below(0.2249, 0.2250)
    assert tie_below("x", "hr@10", {"hr@10": a, "ndcg@10": 0.1368}, {"hr@10": b, "ndcg@10": 0.0767}) is None
    assert tie_below("x", "hr@10", {"hr@10": b, "ndcg@10": 0.07}, {"hr@10": a, "ndcg@10": 0.0767}) is not None


def test_below_mean_names_a_rating_model_worse_than_the_training_mean():
    # mf (no global mean) fitted in a few optimiser steps on a small log predicted the
    # bottom of the scale for every pair: RMSE 3.0 where the mean gives 1.05, and no word.
    from cinerec.evaluation.protocols import below_mean

    ds = small_dataset(40, 60)
    prepared = get_protocol("ratings-random").prepare(ds, seed=0)
    floor = M.rmse(np.full(len(prepared.test), prepared.train.ratings.mean()), prepared.test.ratings)
    mf = prepared.evaluate(create("mf", {"epochs": 2, "threads": 1, "progress": False}))
    assert mf.metrics["rmse"] > floor
    assert below_mean(prepared, mf) == [
        f"mf: rmse {mf.metrics['rmse']:.4f} is worse than the rmse {floor:.4f} of predicting every rating as the "
        "training ratings' mean under ratings-random (seed 0): it has not learned even the data's level"]
    import dataclasses

    assert below_mean(prepared, dataclasses.replace(mf, metrics={**mf.metrics, "rmse": floor - 1e-6})) == []
    # A study's results (per_user) keep the overall RMSE among their metrics.
    per_user = prepared.evaluate(create("mf", {"epochs": 2, "threads": 1, "progress": False}), per_user=True)
    assert below_mean(prepared, per_user) == below_mean(prepared, mf)
    # Ranking protocols have popularity for a floor, and no RMSE.
    ranked = get_protocol("loo-full").prepare(ds, seed=0)
    assert below_mean(ranked, ranked.evaluate(create("popularity"))) == []


def test_evaluate_by_name_applies_the_ranking_rule():
    tiny = {"factors": 4, "epochs": 1, "progress": False, "threads": 1, "device": "cpu"}
    result = evaluate("loo-full", small_dataset(), "mf", config=tiny)
    assert result.model == "mf" and 0 <= result.metrics["hr@10"] <= 1
    with pytest.raises(ConfigError, match='config: mf with loss = "mse" learns stars'):
        evaluate("loo-full", small_dataset(), "mf", config={**tiny, "loss": "mse"})


@pytest.mark.parametrize("name, options, needs", [("loo-sampled", {}, "users with at least 2 ratings"),
                                                  ("loo-full", {}, "users with at least 2 ratings"),
                                                  # one held out for validation too: it said 2 of users holding 2
                                                  ("loo-sampled", {"valid": True}, "users with at least 3 ratings"),
                                                  ("loo-full", {"valid": True}, "users with at least 3 ratings"),
                                                  ("random-full", {}, "some fall in the test part"),
                                                  # a fraction too small for any rating: it named only the ratings
                                                  ("random-full", {"test": 0.01},
                                                   r"some fall in the test part, or a larger test fraction \(test = 0.01\)")])
def test_a_split_with_no_test_user_is_refused_not_measured_as_nan(name, options, needs):
    n = 2 if options else 1  # (two people: one alone is refused for that, before any split)
    lone = Interactions(np.repeat(np.arange(2, dtype=np.int32), n), np.tile(np.arange(n, dtype=np.int32), 2),
                        np.ones(2 * n, np.float32), np.arange(2 * n, dtype=np.int64), n_users=2, n_items=10)
    ds = Dataset("two", lone, IdMap(np.arange(2), "user"), IdMap(np.arange(10), "movie"), Catalog.unknown(10),
                 info={"release": "synthetic"})
    with pytest.raises(DataError, match=f"protocol {name}: no user has a test rating to measure .*{needs}"):
        get_protocol(name, **options).prepare(ds)


def test_a_k_past_the_candidates_or_the_catalogue_is_refused():
    with pytest.raises(ConfigError, match=r"ks=\[5, 1000\]: K = 1000 is not below the 100 movies each held-out"):
        get_protocol("loo-sampled", ks=[5, 1000])
    with pytest.raises(ConfigError, match=r"K = 10 is not below the 6 movies"):  # the defaults too
        get_protocol("loo-sampled", n_negatives=5)
    for name in ("loo-full", "random-full"):
        with pytest.raises(ConfigError, match=r"K = 151 is not below the \d+ movies the median user has left"):
            get_protocol(name, ks=[151]).prepare(small_dataset())
    assert 100 not in get_protocol("random-full").prepare(small_dataset(n_items=60)).ks  # left out, not refused


def test_a_prepared_split_creates_models_as_the_command_line_does():
    prepared = get_protocol("random-full").prepare(small_dataset(), seed=0)
    ease = prepared.create("ease", {"binary": True})
    assert (ease.config.recency_half_life, ease.config.regularization) == (0.0, 500.0)
    assert prepared.create("ease", {"regularization": 7.0}).config.regularization == 7.0
    assert get_protocol("loo-sampled").create("mf").config.loss == "bpr"
    with pytest.raises(ConfigError, match='mf with loss = "mse" learns stars'):
        get_protocol("loo-sampled").create("mf", {"loss": "mse"})
    # The split's seed is the model's own too, as --seed gives both (it was always 0).
    seeded = get_protocol("loo-sampled").prepare(small_dataset(), seed=3)
    assert seeded.create("neumf").config.seed == 3 and seeded.create("neumf", {"seed": 5}).config.seed == 5
    assert seeded.create("ease").config.to_dict().get("seed") is None  # a model without one gets none


def test_a_rating_model_on_ratings_all_alike_is_refused_in_one_line():
    """Implicit data gives a model that learns the ratings' values nothing to learn."""
    rng = np.random.default_rng(0)
    users, items = rng.integers(0, 30, 600), rng.integers(0, 40, 600)
    x = Interactions(users, items, np.ones(600, np.float32), np.arange(600), 30, 40)
    ds = Dataset("clicks", x, IdMap(np.arange(30), "user"), IdMap(np.arange(40), "movie"), Catalog.unknown(40))
    prepared = get_protocol("ratings-random").prepare(ds)
    with pytest.raises(DataError) as e:
        prepared.evaluate(create("baseline"))
    assert str(e.value).startswith("baseline learns from the ratings' values, but every training rating is 1")
    assert "ease, als or itemknn" in str(e.value) and "\n" not in str(e.value)
    assert "every training rating is 1 (as in a log of plain interactions): it has" in str(e.value)
    # Stars all 4 are no plain interactions: they were called so.
    fours = Dataset("fours", Interactions(users, items, np.full(600, 4, np.float32), np.arange(600), 30, 40),
                    IdMap(np.arange(30), "user"), IdMap(np.arange(40), "movie"), Catalog.unknown(40))
    with pytest.raises(DataError, match=r"every training rating is 4: it has nothing to learn"):
        get_protocol("ratings-random").prepare(fours).evaluate(create("baseline"))
    ranked = get_protocol("loo-sampled", n_negatives=10).prepare(ds)
    assert ranked.evaluate(create("mf", {"loss": "bpr", "epochs": 1})).metrics["hr@10"] >= 0  # ranking: fine
    from cinerec.tuning import tune

    with pytest.raises(DataError, match="baseline learns from the ratings' values"):
        tune("baseline", ds, get_protocol("ratings-random"), trials=2)


@pytest.mark.parametrize("name", ["baseline", "knnbaseline", "bpmf", "mlp-rating", "blend"])
def test_a_model_of_stars_without_a_ranking_variant_is_refused_by_a_ranking_protocol(name):
    """Ranked by predicted stars, each of these fell below popularity on every ranking
    protocol (docs/protocols.md), so a ranking protocol refuses them in one line naming
    the rating protocol that measures them and models that rank."""
    for protocol in ("loo-sampled", "loo-full", "random-full"):
        with pytest.raises(CapabilityError) as e:
            get_protocol(protocol).check(create(name))
        text = str(e.value)
        assert f"{name} learns stars and has no ranking variant" in text and "the protocol 'ratings-random'" in text
        assert "\n" not in text
    get_protocol("ratings-random").check(create(name))  # its own kind of protocol takes it


def test_autorec_takes_its_ranking_variant_under_a_ranking_protocol():
    """AutoRec learns which cells hold a rating (target "seen") under a ranking protocol,
    unless the user chose stars, which is refused naming the setting."""
    model = get_protocol("loo-sampled").create("autorec")
    assert model.config.target == "seen" and model.task == "ranking"
    assert get_protocol("ratings-random").create("autorec").config.target == "rating"
    with pytest.raises(ConfigError, match='autorec with target = "rating" learns stars'):
        get_protocol("loo-full").create("autorec", {"target": "rating"})
    # Its own way back to stars (it said loss = "mse", mf's, a setting autorec has not).
    with pytest.raises(CapabilityError, match=r'measures predicted stars; autorec with target = "seen" trains for '
                                              r'ranking: set it to learn stars \(target = "rating"\)'):
        get_protocol("ratings-random").check(create("autorec", {"target": "seen"}))
    # A setting of the user's that only the ranking variant refuses says the protocol gave it.
    with pytest.raises(ConfigError, match=r'output = "sigmoid": must be "identity" with target = "seen" .*\(under '
                                          r'loo-sampled autorec takes its ranking variant, target = "seen"'):
        get_protocol("loo-sampled").create("autorec", {"output": "sigmoid"})
    # A bad value of its own is told alone: "epochs = 0" told the user to change protocol.
    with pytest.raises(ConfigError) as e:
        get_protocol("loo-sampled").create("mf", {"epochs": 0})
    assert str(e.value).endswith("epochs = 0: must be at least 1"), str(e.value)


def test_popularity_floor_is_read_at_the_largest_k_when_10_is_not_measured():
    from cinerec.evaluation.protocols import Result, below_popularity

    opts = {"ks": [1, 5]}
    pop = Result("loo-sampled", "popularity", {"hr@1": 0.1, "hr@5": 0.3}, 9, 0, 0, 0, opts)
    mf = Result("loo-sampled", "mf", {"hr@1": 0.2, "hr@5": 0.2}, 9, 0, 0, 0, opts)
    (line,) = below_popularity([pop, mf])
    assert line.startswith("mf: hr@5 0.2000 is below popularity's 0.3000")
    # loo-full's coverage@10 is measured whatever its ks: it does not make HR@10 the figure.
    pop = Result("loo-full", "popularity", {"hr@5": 0.3, "coverage@10": 0.1}, 9, 0, 0, 0, opts)
    mf = Result("loo-full", "mf", {"hr@5": 0.2, "coverage@10": 0.5}, 9, 0, 0, 0, opts)
    (line,) = below_popularity([pop, mf])
    assert line.startswith("mf: hr@5 0.2000 is below popularity's 0.3000")


def test_loo_full_with_validation_never_ranks_the_users_own_validation_movie():
    # It stayed a candidate: popularity put 29 of 189 users' own validation movies in their top-10 as misses.
    ds = small_dataset()
    prepared = get_protocol("loo-full", valid=True).prepare(ds)
    assert prepared.valid is not None and len(prepared.valid)
    assert prepared.excluded.multiply(prepared.valid.seen).nnz == len(prepared.valid)  # each one left out
    ranked, _ = create("popularity").fit(prepared.train).recommend(prepared.users, 50, exclude=prepared.excluded)
    valid_of = prepared.valid.seen[prepared.users]
    assert not any(valid_of[row, ranked[row]].sum() for row in range(len(prepared.users)))


@pytest.mark.parametrize("name", ["loo-sampled", "loo-full", "random-full", "ratings-fold"])
def test_true_is_no_k(name):
    # ks=[true] measured "hr@True"; [1, true, 10] quietly became [1, 10].
    for ks in ([True], [1, True, 10]):
        with pytest.raises(ConfigError, match=r"ks=.*must be a list of positive integers"):
            get_protocol(name, ks=ks)


@pytest.mark.parametrize("threshold", [6.0, 0.5])
def test_a_liked_or_not_model_whose_threshold_leaves_one_kind_of_label_is_refused(threshold):
    # liked_threshold=6 on five stars: every label "not liked", then AUC NaN and accuracy 1.0.
    from cinerec.evaluation.protocols import check_learnable

    x = random_ratings(20, 30, seed=0)
    model = create("mf", {"loss": "bce", "target": "liked", "liked_threshold": threshold, "epochs": 1})
    kind = "not liked" if threshold > 5 else "liked"
    with pytest.raises(DataError, match=rf"every training rating \(from 1 to 5\) is {kind} at liked_threshold="):
        check_learnable(model, x)
    check_learnable(create("mf", {"loss": "bce", "target": "liked", "epochs": 1}), x)  # 4 of 5 stars: both kinds


def test_an_option_of_another_protocol_says_whose_it_is():
    with pytest.raises(ConfigError, match=r"unknown option 'fold' \(known: ks, test, valid\); fold is an option of "
                                          r"ratings-fold$"):
        get_protocol("ratings-random", fold="u2")
    with pytest.raises(ConfigError, match=r"n_negatives is an option of loo-sampled$"):
        get_protocol("loo-full", n_negatives=50)


def test_a_shortfall_names_top_users_when_it_dropped_the_movies(ml100k):
    # --top-users 1 left 737 of 1,682 movies; the advice said only "the data holds 737 movies".
    from cinerec.data.filters import Filters, apply_filters

    one, _ = apply_filters(ml100k, Filters(top_users=3))
    with pytest.raises(DataError, match=r"user \d+ has only \d+ unseen movies.*; keep more movies \(a larger "
                                        r"top_users\) or ask for fewer negatives"):
        get_protocol("loo-sampled", n_negatives=900).prepare(one)
    # One person left: said so, naming the filter (not the release) as what left them alone.
    one, _ = apply_filters(ml100k, Filters(top_users=1))
    with pytest.raises(DataError, match=r"^the filter top_users=1 left the ratings of one person \(405\) of '.*ml-100k"
                                        r"': a recommender learns from what other people rated, .*; keep more people$"):
        get_protocol("loo-sampled").prepare(one)


def test_leaving_the_latest_out_of_data_without_times_says_it_is_the_last_row_of_the_file():
    from cinerec.data.dataset import Catalog, Dataset, IdMap, Interactions

    def data(times):
        x = Interactions(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 2]), np.full(4, 4.0), np.array(times), 2, 3)
        return Dataset("t", x, IdMap(np.arange(2), "user"), IdMap(np.arange(3)), Catalog.unknown(3))

    for name in ("loo-sampled", "loo-full"):
        p = get_protocol(name)
        assert "each user's last row in the file held out (the data has no times, or every time alike)" in p.describe(data([0, 0, 0, 0]))
        assert "each user's latest rating held out" in p.describe(data([1, 2, 3, 4]))
        assert p.describe() == p.describe(data([1, 2, 3, 4]))
    assert "no times" not in get_protocol("random-full").describe(data([0, 0, 0, 0]))


def test_coverage_at_10_is_left_out_where_every_list_holds_every_movie_left():
    from cinerec.data.dataset import Catalog, Dataset, IdMap, Interactions
    from cinerec.models import create

    users = np.repeat(np.arange(20), 3)
    items = (users[:, None] + np.arange(3)).ravel()[: len(users)] % 6  # 6 movies, 3 each
    x = Interactions(users, items, np.full(len(users), 4.0), np.arange(len(users)), 20, 6)
    ds = Dataset("t", x, IdMap(np.arange(20), "user"), IdMap(np.arange(6)), Catalog.unknown(6))
    got = get_protocol("loo-full", ks=[1]).prepare(ds, seed=0).evaluate(create("popularity")).metrics
    assert "hr@1" in got and "coverage@10" not in got  # it printed 1.0 for one list shared by all


def test_a_results_label_writes_options_as_the_command_line_takes_them():
    from cinerec.evaluation.protocols import Result

    r = Result("loo-full", "ease", {}, 1, 0.0, 0.0, seed=2, options={"valid": True, "ks": (5, 10)})
    assert r.label == "loo-full (valid=true, ks=[5, 10], seed 2)"


def test_a_shortfall_names_only_the_year_bound_that_was_given(ml100k):
    # "looser --min-year/--max-year" when only --max-year had been given.
    from cinerec.data.filters import Filters, apply_filters

    for bound, way in [({"max_year": 1960}, "a later max_year"), ({"min_year": 1998}, "an earlier min_year"),
                       ({"min_year": 1950, "max_year": 1960}, "looser min_year/max_year")]:
        few, _ = apply_filters(ml100k, Filters(**bound))
        with pytest.raises(DataError, match=rf"keep more movies \({way}\)"):
            get_protocol("loo-sampled").prepare(few)


def test_ratings_random_without_a_validation_part_is_the_plain_80_20_split():
    # A study of a random 80/20 split (the autoencoder study's) could only say
    # ratings-fold, which means the official folds on ml-100k and is refused there
    # after its filters.
    ds = small_dataset()
    p = get_protocol("ratings-random", test=0.2, valid=0).prepare(ds, seed=3)
    fold = get_protocol("ratings-fold").prepare(ds, seed=3)  # no official folds: random 80/20
    assert p.valid is None and fold.fold == "random-80/20"
    assert np.array_equal(p.test.users, fold.test.users) and np.array_equal(p.test.items, fold.test.items)
    assert np.array_equal(p.train.items, fold.train.items)
    text = get_protocol("ratings-random", test=0.2, valid=0).describe()
    assert "80% train / 20% test, no validation part" in text and "valid is given" not in text
    with pytest.raises(ConfigError, match="valid=-0.1 must be 0 .*or a fraction"):
        get_protocol("ratings-random", valid=-0.1)


def test_the_autoencoder_study_splits_a_filtered_ml100k_as_it_does_ml25m():
    from cinerec.data.filters import Filters, apply_filters
    from cinerec.studies import Study

    study = Study.from_toml(Path(__file__).resolve().parents[2] / "studies" / "autoencoder-ml25m.toml")
    ds = small_dataset(release="ml-100k")
    ds = ds.replace(folds={"u1": np.arange(len(ds.interactions)) % 5 == 0})
    filtered, _ = apply_filters(ds, Filters(top_users=50))
    p = get_protocol(study.protocol, **study.protocol_options).prepare(filtered, seed=0)
    assert p.valid is None and abs(len(p.test) / len(filtered.interactions) - 0.2) < 0.01


def test_ratings_fold_known_only_leaves_out_test_ratings_of_ids_the_training_part_lacks():
    # The Keras study's id filtering: u1.test holds 32 ratings of movies u1.base lacks,
    # which an embedding never trained on predicts from its initial weights.
    ds = small_dataset(release="ml-100k")
    x = ds.interactions
    test = np.zeros(len(x), bool)
    test[np.random.default_rng(0).permutation(len(x))[: len(x) // 5]] = True
    test[x.items == 7] = True  # every rating of movie 7 on the test side
    test[x.users == 3] = True  # and of user 3
    folded = ds.replace(folds={"u1": test})
    whole = get_protocol("ratings-fold").prepare(folded)
    known = get_protocol("ratings-fold", known_only=True).prepare(folded)
    assert len(whole.test) == int(test.sum()) and len(known.train) == len(whole.train)
    t = whole.test
    dropped = (whole.train.user_counts[t.users] == 0) | (whole.train.item_counts[t.items] == 0)
    assert dropped[(t.items == 7) | (t.users == 3)].all() and len(known.test) == int((~dropped).sum())
    assert not ((known.test.items == 7) | (known.test.users == 3)).any() and 3 not in known.users
    assert get_protocol("ratings-fold", known_only=True).options() == {"known_only": True}
    assert get_protocol("ratings-fold", known_only=True).describe().endswith(
        "; test ratings whose user or movie has no training rating left out (known_only)")
    with pytest.raises(ConfigError, match="known_only=1 must be true or false"):
        get_protocol("ratings-fold", known_only=1)
    # A fold whose every test rating is of an id the training part lacks: said so, not
    # "no user has a test rating to measure ... it needs more ratings".
    cold = (x.users == 3) | (x.items == 7)
    with pytest.raises(DataError, match=r"known_only leaves out all \d+ test ratings of fold u1: none has both a user "
                                        r"and a movie with a training rating; leave known_only out"):
        get_protocol("ratings-fold", known_only=True).prepare(ds.replace(folds={"u1": cold}))
    # A search carves the training part as the protocol splits, and scores as it does:
    # on ratings of ids its fit has seen.
    from cinerec.tuning import carve

    def unknown(inner):
        return (inner.train.user_counts[inner.test.users] == 0) | (inner.train.item_counts[inner.test.items] == 0)

    plain = carve(get_protocol("ratings-fold"), folded, known.train, 0)
    kept = carve(get_protocol("ratings-fold", known_only=True), folded, known.train, 0)
    assert not unknown(kept).any() and len(kept.test) == int((~unknown(plain)).sum())


def test_valid_0_and_0_0_are_one_protocol_recorded_alike():
    # Recorded {'valid': 0} and {'valid': 0.0}, the same split reported as two protocols.
    a, b = get_protocol("ratings-random", valid=0), get_protocol("ratings-random", valid=0.0)
    assert a.options() == b.options() and repr(a.options()) == repr(b.options())


def test_a_shortfall_under_a_top_movies_cap_names_only_the_cap(ml100k):
    # "a lower --liked-threshold, or a larger --top-movies": under the cap of 120 movies a
    # lower threshold adds none (the low ratings' movies still count as seen).
    from cinerec.data.filters import Filters, apply_filters

    few, _ = apply_filters(ml100k, Filters(liked_threshold=2, top_movies=120))
    with pytest.raises(DataError) as e:
        get_protocol("loo-sampled").prepare(few)
    assert "keep more movies (a larger top_movies)" in str(e.value) and "liked_threshold" not in str(e.value)
    # A filter after the cap still counts: both are named.
    few, _ = apply_filters(ml100k, Filters(top_movies=300, kcore=(5, 120)))
    with pytest.raises(DataError, match=r"keep more movies \(a larger top_movies, or a smaller kcore\)"):
        get_protocol("loo-sampled").prepare(few)


@pytest.mark.parametrize("protocol", ["loo-sampled", "loo-full"])
def test_no_one_to_measure_after_a_filter_names_the_filter(ml100k, protocol):
    # --top-movies 1 leaves each person one rating: "it needs users with at least 2
    # ratings", with no word of the filter that left them so (a shortfall of unseen
    # movies names it).
    from cinerec.data.filters import Filters, apply_filters

    one, _ = apply_filters(ml100k, Filters(top_movies=1))
    with pytest.raises(DataError) as e:
        get_protocol(protocol).prepare(one)
    assert str(e.value).endswith("it needs users with at least 2 ratings: keep more movies (a larger top_movies)")
    with pytest.raises(DataError) as e:  # no filter: nothing to loosen is named
        get_protocol(protocol).prepare(one.replace(info={**one.info, "transforms": []}))
    assert str(e.value).endswith("it needs users with at least 2 ratings")


def test_a_model_that_scores_every_movie_alike_is_said_to_have_learned_nothing():
    # two-tower at lr = 1e6 scored every movie 0; its HR@10 (the order ties fall in) was
    # printed beside the others without a word.
    from cinerec.evaluation.protocols import figure_notes

    ds = small_dataset()
    for name in ("loo-sampled", "loo-full"):
        p = get_protocol(name)
        prepared = p.prepare(ds, 0)
        broken = p.create("two-tower", {"lr": 1e6, "epochs": 1, "progress": False}).fit(prepared.train)
        said = [n for n in figure_notes(prepared, broken) if "same score" in n]
        assert said == [f"two-tower: gives every movie the same score for {min(200, len(prepared.users))} of the "
                        f"{min(200, len(prepared.users))} people looked at, so these figures are the order its ties "
                        "fall in, not anything it learned; its training broke down (too large a learning rate?) or "
                        "found nothing in this data"], figure_notes(prepared, broken)
        for fine in ("popularity", "itemknn"):
            assert not [n for n in figure_notes(prepared, create(fine).fit(prepared.train)) if "same score" in n]


def test_scores_all_tiny_but_apart_are_no_ties():
    # ALS at regularization 1000 scores every movie near 1e-27, each score its own: it was
    # said to give every movie the same score and to be ranked on how its ties fell.
    from cinerec.evaluation.protocols import figure_notes

    prepared = get_protocol("loo-full").prepare(small_dataset(), 0)
    als = create("als", {"regularization": 1000}).fit(prepared.train)
    scores = als.score(prepared.users[:20])
    assert np.abs(scores).max() < 1e-20 and all(len(np.unique(row)) == scores.shape[1] for row in scores)
    assert not [n for n in figure_notes(prepared, als) if "same score" in n]


def test_a_model_without_a_learning_rate_is_not_told_its_learning_rate_was_too_large():
    # EASE fitted where no one rated two movies scores every movie 0: the note blamed a
    # learning rate it has none of.
    from cinerec.data.dataset import Interactions
    from cinerec.evaluation.protocols import figure_notes

    ds = small_dataset()
    prepared = get_protocol("loo-full").prepare(ds, 0)
    t = prepared.train
    first = np.unique(t.users, return_index=True)[1]  # one row of each person
    alone = Interactions(t.users[first], t.items[first], t.ratings[first], t.timestamps[first], t.n_users, t.n_items)
    said = [n for n in figure_notes(prepared, create("ease").fit(alone)) if "same score" in n]
    assert len(said) == 1 and "learning rate" not in said[0], said
    assert said[0].endswith("too large a regularization, or nothing in this data to tell movies apart for them (they "
                            "rated nothing in the training part, or no one rated two of its movies)"), said
    knn = [n for n in figure_notes(prepared, create("itemknn").fit(alone)) if "same score" in n]
    assert len(knn) == 1 and knn[0].endswith("; it found nothing in this data to tell movies apart for them (they "
                                             "rated nothing in the training part, or no one rated two of its movies)")


def test_figures_from_a_handful_of_people_are_said_to_be_too_few():
    # A household of five: HR@10 0.2000 was one hit, printed as any other figure.
    from cinerec.evaluation.protocols import few_measured

    ds = small_dataset()
    assert few_measured(get_protocol("loo-sampled").prepare(ds, 0)) == []
    few = ds.subset(np.flatnonzero(np.isin(ds.interactions.users, np.arange(5))))
    assert few_measured(get_protocol("loo-full").prepare(few, 0)) == [
        "measured on 5 people only: each counts for 0.2 of a figure, more than models usually differ by"]
    eight = ds.subset(np.flatnonzero(np.isin(ds.interactions.users, np.arange(8))))
    assert "each counts for 0.125 of a figure" in few_measured(get_protocol("loo-full").prepare(eight, 0))[0]
    said = few_measured(get_protocol("ratings-random").prepare(few, 0))
    assert len(said) == 1 and said[0].startswith("measured on ") and said[0].endswith(
        " held-out ratings only: too few for the figures to tell models apart")


def test_people_a_rating_protocol_s_ndcg_leaves_out_are_counted_and_said():
    # The report said "936 users measured" beside an NDCG@10 that averaged over 882 of them.
    from cinerec.evaluation.protocols import ndcg_measured

    ds = small_dataset()
    prepared = get_protocol("ratings-random").prepare(ds, 0)
    model = prepared.create("baseline")
    result = prepared.evaluate(model, per_user=True)
    values = result.per_user["ndcg@10"]
    ordered, n = int(np.count_nonzero(~np.isnan(values))), len(prepared.users)
    assert 0 < ordered < n and n == result.n_users
    assert ndcg_measured(prepared, model) == [
        f"ndcg@5/ndcg@10 average over {ordered:,} of the {n:,} people measured, those whose held-out movies can be put "
        "in a better or worse order (two or more, not all rated alike); RMSE and MAE over all of them"]
    assert ndcg_measured(get_protocol("loo-full").prepare(ds, 0), model) == []  # (a ranking protocol: no NDCG of stars)


def test_the_ndcg_note_counts_fold_by_fold(ml100k_dir):
    from cinerec.data import load
    from cinerec.evaluation.protocols import ndcg_measured

    prepared = get_protocol("ratings-fold", fold="all").prepare(load(ml100k_dir), 0)
    model = prepared.create("baseline")
    assert ndcg_measured(prepared, model) == [
        "ndcg@5/ndcg@10 average over 452 of 459, 640 of 653, 833 of 869, 875 of 923, 856 of 927 people measured, "
        "fold by fold, those whose held-out movies can be put in a better or worse order (two or more, not all rated "
        "alike); RMSE and MAE over all of them"]


def test_people_the_protocol_does_not_measure_are_counted_and_said(tmp_path):
    # A log of 32 people measured 31 ("users 31" in the table) without a word of who or why.
    from cinerec.data import load
    from cinerec.evaluation.protocols import unmeasured

    rows = [f"u{u},m{(u + j) % 40},{1 + (u + j) % 5},{100 * u + j}" for u in range(30) for j in range(6)]
    rows += ["one,m1,4,5", "two,m2,5,6", "two,m3,4,7"]
    (tmp_path / "log.csv").write_text("user,item,rating,time\n" + "\n".join(rows) + "\n")
    ds = load(tmp_path / "log.csv")
    assert unmeasured(get_protocol("loo-full").prepare(ds, 0)) == [
        "1 of the 32 people in the data is not measured: a rating is held out only of someone with at least 2 ratings"]
    assert unmeasured(get_protocol("loo-sampled", n_negatives=20, valid=True).prepare(ds, 0)) == [
        "2 of the 32 people in the data are not measured: a rating is held out only of someone with at least 3 "
        "ratings (one more held out for validation)"]
    random = get_protocol("random-full").prepare(ds, 0)
    left = 32 - len(random.users)
    assert left > 0 and unmeasured(random) == [f"{left} of the 32 people in the data are not measured: their ratings "
                                               "all fell in the training part"]
    assert unmeasured(get_protocol("ratings-random").prepare(ds, 0)) == []  # (ratings are measured, not people)
    whole = ds.subset(np.flatnonzero(~np.isin(ds.user_ids.raw[ds.interactions.users], ["one", "two"])))
    assert unmeasured(get_protocol("loo-full").prepare(whole, 0)) == []


def test_ndcg_of_ratings_gains_start_at_the_scale_given_not_the_lowest_rating_held(tmp_path):
    # A thumbs log declared -2 to 2 in which nobody gave -2: gains started at the data's -1,
    # so a -1 gained nothing, as if it were the scale's bottom.
    from cinerec.data import load
    from cinerec.models.baselines import Baseline

    rows = [f"u{u},m{m},{(u + 2 * m) % 4 - 1},{1000 * u + m}" for u in range(40) for m in range(30) if (u + m) % 3]
    (tmp_path / "log.csv").write_text("user,item,rating,ts\n" + "\n".join(rows) + "\n")
    figures = {}
    for name, scale in (("read", None), ("given", "-2,2")):
        data = load(tmp_path / "log.csv", rating_scale=scale)
        protocol = get_protocol("ratings-random")
        prepared = protocol.prepare(data, seed=0)
        assert prepared.scale_low == (None if scale is None else -2.0)
        assert get_protocol("loo-full").prepare(data, seed=0).scale_low is None  # (a ranking protocol reads none)
        model = Baseline().fit(prepared.train)
        figures[name] = protocol.measure(prepared, model)["ndcg@10"]
    assert figures["given"] != figures["read"]
