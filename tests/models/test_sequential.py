"""seqknn: movies that follow one another in people's time-ordered histories."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import cinerec.models.sequential as sequential
from cinerec.data.dataset import Interactions
from cinerec.errors import ConfigError
from cinerec.models import create
from tests.models.conformance import ModelConformance, random_ratings


class TestSeqKNN(ModelConformance):
    model_name = "seqknn"
    config = {"window": 5, "neighbors": 50}
    quality = ("loo-sampled", "hr@10", 0.72)
    # A known user is scored from their latest movies, decayed; score_history weighs a
    # bare list alike: the lists agree largely, not exactly.
    history_exact = False


class TestSeqKNNWholeHistory(ModelConformance):
    """No decay and the whole history: a known user scores exactly as their bare list."""

    model_name = "seqknn"
    config = {"window": 3, "history_movies": 1000, "history_decay": 1.0, "neighbors": 1000}


def sequences(*histories: list[int], n_items: int | None = None, times: list[list[int]] | None = None) -> Interactions:
    users = np.concatenate([np.full(len(h), u) for u, h in enumerate(histories)])
    items = np.concatenate([np.asarray(h) for h in histories])
    ts = np.concatenate([np.asarray(t) for t in times]) if times else np.arange(len(items))
    n = n_items if n_items is not None else int(items.max()) + 1
    return Interactions(users, items, np.full(len(items), 4.0), ts, len(histories), n)


def dense(model) -> np.ndarray:
    return model.similarity_.toarray()


def test_neighbours_are_movies_within_the_window_normalised_by_their_sums():
    # One history 0 1 2 3: window 1 pairs (0,1) (1,2) (2,3), both directions alike.
    m = create("seqknn", {"window": 1}).fit(sequences([0, 1, 2, 3]))
    c = np.zeros((4, 4))
    for i, j in ((0, 1), (1, 2), (2, 3)):
        c[i, j] = c[j, i] = 1.0
    expected = c / np.sqrt(c.sum(1)[:, None] * c.sum(0)[None, :])
    np.testing.assert_allclose(dense(m), expected, rtol=1e-6)


def test_backward_zero_counts_only_what_came_after_and_decay_weighs_distance():
    m = create("seqknn", {"window": 2, "backward": 0.0, "distance_decay": 0.5}).fit(sequences([0, 1, 2]))
    c = np.zeros((3, 3))
    c[0, 1] = c[1, 2] = 1.0
    c[0, 2] = 0.5
    rs, cs = c.sum(1), c.sum(0)
    expected = np.divide(c, np.sqrt(rs[:, None] * cs[None, :]), out=np.zeros_like(c), where=c > 0)
    np.testing.assert_allclose(dense(m), expected, rtol=1e-6)
    assert dense(m)[2].sum() == 0.0  # nothing came after movie 2


def test_time_order_not_file_order_decides_the_pairs():
    # Rows 0, 2, 1 by file order; by time the history is 0, 1, 2 (the file lists 2 first).
    x = sequences([2, 0, 1], times=[[30, 10, 20]])
    m = create("seqknn", {"window": 1}).fit(x)
    s = dense(m)
    assert s[0, 1] > 0 and s[1, 2] > 0 and s[0, 2] == 0.0


def test_histories_of_different_users_never_pair():
    m = create("seqknn", {"window": 5}).fit(sequences([0, 1], [2, 3]))
    s = dense(m)
    assert s[:2, 2:].sum() == 0.0 and s[2:, :2].sum() == 0.0


def test_a_user_is_scored_from_their_latest_movies_decayed():
    # User 0 saw 0 then 2; user 1 saw 0 then 1 (so 0 neighbours 1) and 2 then 3.
    x = sequences([0, 2], [0, 1, 4, 2, 3], n_items=5)
    m = create("seqknn", {"window": 1, "history_movies": 1, "history_decay": 0.5}).fit(x)
    rec, _ = m.recommend([0], k=1)
    assert rec[0, 0] == 3  # the latest movie (2) is followed by 3; movie 0's neighbour 1 is not counted
    m2 = create("seqknn", {"window": 1, "history_movies": 2, "history_decay": 1.0}).fit(x)
    row = m2.score([0])[0]
    assert row[1] > 0 and row[3] > 0


def test_ties_and_pruning_keep_the_most_similar_neighbours():
    x = random_ratings(n_users=60, n_items=40, seed=3)
    full = create("seqknn", {"window": 4, "neighbors": 1000}).fit(x)
    few = create("seqknn", {"window": 4, "neighbors": 3}).fit(x)
    s, p = dense(full), dense(few)
    assert ((p > 0).sum(axis=1) <= 3).all()
    for row in range(x.n_items):
        kept = np.flatnonzero(p[row])
        np.testing.assert_allclose(p[row, kept], s[row, kept], rtol=1e-6)
        if len(kept):
            assert s[row].max() == pytest.approx(p[row].max())


def test_blocks_give_the_same_similarity_as_one_block(monkeypatch):
    x = random_ratings(n_users=80, n_items=50, seed=5)
    one = create("seqknn", {"window": 6, "backward": 0.3, "distance_decay": 0.8}).fit(x)
    monkeypatch.setattr(sequential, "_PAIR_BUDGET", 40)  # about one movie per block
    many = create("seqknn", {"window": 6, "backward": 0.3, "distance_decay": 0.8}).fit(x)
    np.testing.assert_allclose(dense(many), dense(one), rtol=1e-6)


def test_a_repeated_view_is_no_neighbour_of_itself_and_keeps_its_later_weight():
    x = sequences([0, 1, 0, 2], n_items=3)
    m = create("seqknn", {"window": 3, "history_decay": 0.5}).fit(x)
    assert np.diag(dense(m)).sum() == 0.0
    recent = m.recent_.toarray()[0]
    np.testing.assert_allclose(recent, [0.5, 0.25, 1.0])  # movie 0's later view is 1 back


def test_cold_start_weighs_each_listed_movie_once():
    x = sequences([0, 1, 2, 3], [3, 2, 1, 0])
    m = create("seqknn", {"window": 1}).fit(x)
    h = sp.csr_matrix(([5.0, 1.0], ([0, 0], [0, 3])), shape=(1, 4))
    np.testing.assert_allclose(m.score_history(h)[0], dense(m)[0] + dense(m)[3], rtol=1e-6)


@pytest.mark.parametrize("key, value", [("window", 0), ("backward", 1.5), ("distance_decay", 0.0),
                                        ("history_movies", -1), ("history_decay", 1.2), ("neighbors", 0)])
def test_bad_settings_are_refused_by_name(key, value):
    with pytest.raises(ConfigError, match=key):
        create("seqknn", {key: value})


def test_a_reason_is_the_movie_that_led_to_the_recommended_one():
    # Scores run along S[watched, next]; the reason took S[next, watched], the other way,
    # which with backward < 1 named a movie the recommended one leads to, or none at all.
    m = create("seqknn", {"window": 1, "backward": 0.0}).fit(sequences([0, 1], [0, 1], [2, 3], [4, 0], n_items=5))
    history = sp.csr_matrix(([1.0], ([0], [0])), shape=(1, 5))
    assert np.argmax(m.score_history(history)[0]) == 1  # 0 is followed by 1
    assert m.explain(history, np.array([[1]])).tolist() == [[0]]  # because of 0 (it said none)
    # ... and similar movies are those that lead to a movie, as the reasons read them.
    assert m.item_similarity(np.array([1]))[0].tolist() == dense(m)[:, 1].tolist()
