"""ensemble: ranking models' standardised scores, weighed by a search on held-out training ratings."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.sparse as sp

import cinerec.models.ensemble as ensemble
from cinerec.errors import ConfigError, DataError
from cinerec.models import create, load_model
from cinerec.models.base import CapabilityError
from cinerec.ranking import rank_of
from tests.models.conformance import ModelConformance, random_ratings

EASE_PLAIN = {"regularization": 10.0, "recency_half_life": 0.0}
TWO = {"members": ["ease", "itemknn"], "settings": {"ease": EASE_PLAIN, "itemknn": {"neighbors": 20}}}


class TestEnsemble(ModelConformance):
    model_name = "ensemble"
    # Both members score a bare history exactly as their training user: so does the ensemble.
    config = TWO


class TestEnsembleDefaults(ModelConformance):
    model_name = "ensemble"
    # seqknn and EASE weigh a known user's latest movies more than a bare list's.
    history_exact = False
    quality = ("loo-sampled", "hr@10", 0.74)


@pytest.fixture(scope="module")
def data():
    return random_ratings(n_users=80, n_items=50, seed=4)


def standardised_over_unseen(s, seen):
    """Each row less its mean over its standard deviation, both over the unseen movies."""
    s = s.astype(np.float64)
    unseen = ~seen
    out = np.empty_like(s)
    for r in range(len(s)):
        out[r] = (s[r] - s[r, unseen[r]].mean()) / s[r, unseen[r]].std()
    return out.astype(np.float32)


def by_hand(members, weights, users, seen):
    mask = seen.toarray().astype(bool)
    out = 0
    for m, w in zip(members, weights):
        out = out + np.float32(w) * standardised_over_unseen(m.score(users), mask)
    return out


def test_given_weights_sum_the_members_standardised_scores_over_unseen_movies(data):
    m = create("ensemble", {**TWO, "weights": [1.0, 2.5]}).fit(data)
    users = np.arange(data.n_users)
    ease = create("ease", EASE_PLAIN).fit(data)
    knn = create("itemknn", {"neighbors": 20}).fit(data)
    expected = by_hand([ease, knn], [1.0, 2.5], users, data.seen[users])
    np.testing.assert_allclose(m.score(users), expected, rtol=1e-5, atol=1e-5)
    assert m.weight_search == {} and m.config.weights == (1.0, 2.5)


def test_a_zero_weight_leaves_a_member_out(data):
    users = np.arange(data.n_users)
    alone = create("ensemble", {**TWO, "weights": [1.0, 0.0]}).fit(data)
    ease = create("ease", EASE_PLAIN).fit(data)
    np.testing.assert_array_equal(alone.recommend(users, 5)[0], ease.recommend(users, 5)[0])


def test_auto_scores_every_weighting_of_the_grid_and_keeps_the_best(data):
    m = create("ensemble", TWO).fit(data)
    search = m.weight_search
    grid = ensemble.WEIGHT_GRID
    # Each distinct ratio once, its largest weight 1: (1, 0), (0, 1) and 9 ratios 2**-4 .. 2**4.
    ratios = {(0.0, 1.0), (1.0, 0.0)} | {(round(a / max(a, b), 9), round(b / max(a, b), 9))
                                         for a in grid[1:] for b in grid[1:]}
    assert len(ratios) == 11
    assert {tuple(w) for w in search["tried"]} == ratios and len(search["tried"]) == 11
    chosen = search["hr@10"][search["tried"].index(search["chosen"])]
    assert chosen == max(search["hr@10"]) and list(m.config.weights) == search["chosen"]
    for alone in ([1.0, 0.0], [0.0, 1.0]):  # EASE alone, item-kNN alone
        assert chosen >= search["hr@10"][search["tried"].index(alone)]


def test_the_search_figures_are_the_held_out_ratings_hit_rate(data):
    m = create("ensemble", TWO).fit(data)
    from cinerec.data.split import leave_last_out
    split = leave_last_out(data)
    members = [create("ease", EASE_PLAIN).fit(split.train), create("itemknn", {"neighbors": 20}).fit(split.train)]
    order = np.argsort(split.test.users, kind="stable")
    users, truth = split.test.users[order].astype(np.int64), split.test.items[order].astype(np.int64)
    for weights, figure in zip(m.weight_search["tried"], m.weight_search["hr@10"]):
        s = by_hand(members, weights, users, split.train.seen[users])
        ranks = rank_of(s, truth, exclude=split.train.seen[users])
        assert figure == pytest.approx((ranks <= 10).mean())


def test_many_members_are_searched_one_at_a_time(data, monkeypatch):
    monkeypatch.setattr(ensemble, "FULL_GRID_MAX", 1)
    cfg = {"members": ["ease", "itemknn", "popularity"], "settings": TWO["settings"]}
    m = create("ensemble", cfg).fit(data)
    tried = m.weight_search["tried"]
    # Two rounds over three members: at most 2 * 3 * grid weightings, repeats scored once.
    assert len(tried) <= 6 * len(ensemble.WEIGHT_GRID) and len({tuple(w) for w in tried}) == len(tried)
    assert all(max(w) == 1.0 for w in tried)
    assert m.weight_search["chosen"] in tried


def test_search_users_caps_the_held_out_users_and_the_random_holdout_is_seeded(data):
    m = create("ensemble", {**TWO, "search_users": 30, "held_out_rating": "random", "seed": 3}).fit(data)
    assert m.weight_search["users"] == 30 and m.weight_search["held_out_rating"] == "random"
    again = create("ensemble", {**TWO, "search_users": 30, "held_out_rating": "random", "seed": 3}).fit(data)
    assert again.weight_search == m.weight_search
    rest, held = m._held_out(data)
    assert len(held) == int((data.user_counts >= 2).sum()) and len(rest) + len(held) == len(data)
    assert np.bincount(held.users, minlength=data.n_users).max() == 1


def test_no_user_with_two_ratings_asks_for_numbers():
    x = random_ratings(n_users=5, n_items=30)
    one = x.select(np.r_[True, x.users[1:] != x.users[:-1]])  # each user's first row only
    with pytest.raises(DataError, match="give the weights as numbers"):
        create("ensemble", TWO).fit(one)


def test_cold_start_weighs_history_scores_the_same_way(data):
    m = create("ensemble", {**TWO, "weights": [1.0, 0.5]}).fit(data)
    h = sp.csr_matrix(([1.0, 1.0, 1.0], ([0, 0, 0], [1, 5, 9])), shape=(1, data.n_items))
    ease = create("ease", EASE_PLAIN).fit(data)
    knn = create("itemknn", {"neighbors": 20}).fit(data)
    mask = h.toarray().astype(bool)
    expected = 0
    for member, w in ((ease, 1.0), (knn, 0.5)):
        expected = expected + np.float32(w) * standardised_over_unseen(member.score_history(h), mask)
    np.testing.assert_allclose(m.score_history(h), expected, rtol=1e-5, atol=1e-5)


def test_a_member_without_cold_start_takes_it_from_the_ensemble(data):
    m = create("ensemble", {"members": ["ease", "mf"], "weights": [1.0, 1.0],
                            "settings": {"mf": {"epochs": 1, "factors": 4, "loss": "bpr"}}})
    assert not m.can_score_history
    m.fit(data)
    with pytest.raises(CapabilityError, match="'mf'"):
        m.score_history(sp.csr_matrix((1, data.n_items)))


def test_a_saved_model_holds_the_chosen_weights(data, tmp_path):
    m = create("ensemble", TWO).fit(data)
    m.save(tmp_path / "m")
    saved = json.loads((tmp_path / "m" / "model.json").read_text())
    assert "auto" not in json.dumps(saved["config"])
    again = load_model(tmp_path / "m")
    assert again.weight_search == m.weight_search
    np.testing.assert_array_equal(again.score(np.arange(5)), m.score(np.arange(5)))
    # Fitted again, it chooses again, as the model saved would (it kept the first data's weights).
    assert saved["settled_from_data"] == {"weights": "auto"}
    again.weight_search = {}
    assert again.fit(data).weight_search["chosen"] == m.weight_search["chosen"]
    fixed = create("ensemble", {**TWO, "weights": [0.5, 0.5]}).fit(data)
    fixed.save(tmp_path / "fixed")
    assert load_model(tmp_path / "fixed").fit(data).weight_search == {}


@pytest.mark.parametrize("config, match", [
    ({"members": ["ease", "ensemble"]}, "another ensemble"),
    ({"members": ["ease", "ease"]}, "twice"),
    ({"members": ["ease", "nope"]}, "unknown model 'nope'"),
    ({"members": ["ease"], "weights": [1.0, 2.0]}, "one number per member"),
    ({"members": ["ease", "als"], "weights": [0.0, 0.0]}, "positive"),
    ({"members": ["ease", "als"], "weights": [1.0, -1.0]}, ">= 0"),
    ({"weights": "best"}, '"auto"'),
    ({"held_out_rating": "first"}, "held_out_rating"),
    ({"search_users": 0}, "search_users"),
    ({"members": ["ease"], "settings": {"als": {}}}, "not one of the members"),
    ({"members": ["ease"], "settings": {"ease": {"regularization": -1.0}}}, "regularization"),
    ({"members": ["ease", "bpmf"]}, "'bpmf' cannot rank in an ensemble: it predicts stars; use a ranking model such as"),
    ({"members": ["ease", "mf"], "settings": {"mf": {"loss": "mse"}}},
     "'mf' cannot rank in an ensemble: with loss='mse' it learns stars; leave those unset"),
    # its -inf past the shortlist ended every list there, short of k, without a word
    ({"members": ["two-stage", "seqknn"]}, "'two-stage' cannot be a member: it scores only the movies of its shortlist"),
])
def test_bad_settings_are_refused_in_one_line(config, match):
    with pytest.raises(ConfigError, match=match):
        create("ensemble", config)


def test_a_member_with_a_ranking_variant_trains_for_ranking():
    model = create("ensemble", {"members": ["ease", "mf"], "settings": {"mf": {"factors": 4}}})
    mf = model.config.member("mf")
    assert (mf.config.loss, mf.config.regularization, mf.config.factors) == ("bpr", 0.01, 4)
    assert mf.task == "ranking"


def test_reasons_and_similar_movies_come_from_the_first_weighed_member(data, tmp_path):
    m = create("ensemble", {"members": ["itemknn", "als"], "weights": [0.0, 1.0],
                            "settings": {"als": {"factors": 4, "epochs": 3}}}).fit(data)
    als = m.members[1]
    assert m.has_item_vectors and m.has_item_vectors == als.has_item_vectors
    np.testing.assert_array_equal(m.similar_items([3], 5)[0], als.similar_items([3], 5)[0])
    m.save(tmp_path / "m")
    again = load_model(tmp_path / "m")
    assert again.has_item_vectors
    np.testing.assert_array_equal(again.similar_items([3], 5)[0], als.similar_items([3], 5)[0])


def test_huge_weights_are_refused_and_a_vanishing_one_leads_nothing(data, tmp_path):
    # [3e38, 3e38] overflowed to NaN scores ("its training diverged"); a weight too small
    # to count in float32 still chose the similar movies and the reasons.
    users = np.arange(data.n_users)
    with pytest.raises(ConfigError, match=r"weights = \[3e\+38, 3e\+38\]: must be at most 1,000,000 .*scale them down"):
        create("ensemble", {**TWO, "weights": [3e38, 3e38]})
    with pytest.raises(ConfigError, match=r"must hold one weight that counts in float32"):
        create("ensemble", {**TWO, "weights": [1e-50, 1e-60]})
    faint = create("ensemble", {**TWO, "weights": [1e-50, 1.0]}).fit(data)
    knn = create("itemknn", {"neighbors": 20}).fit(data)
    np.testing.assert_array_equal(faint.recommend(users, 5)[0], knn.recommend(users, 5)[0])
    np.testing.assert_array_equal(faint.similar_items([3], 5)[0], knn.similar_items([3], 5)[0])
    faint.save(tmp_path / "faint")
    np.testing.assert_array_equal(load_model(tmp_path / "faint").similar_items([3], 5)[0], knn.similar_items([3], 5)[0])
