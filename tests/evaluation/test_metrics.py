"""Each metric on a case worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from cinerec.evaluation import metrics as M

L2 = math.log2

# Three users over 10 movies. User 0 likes {1, 2, 9}: movie 1 at rank 2 and movie 2 at
# rank 4 are hits. User 1 likes {0}: a hit at rank 3. User 2 likes nothing and is left out.
RANKED = np.array([[3, 1, 7, 2], [5, 6, 0, 4], [0, 1, 2, 3]])
TRUTH = sp.csr_matrix(
    (np.ones(4), ([0, 0, 0, 1], [1, 2, 9, 0])), shape=(3, 10)
)


def test_hits_marks_relevant_positions():
    hit, n_rel = M.hits(RANKED, TRUTH)
    assert hit.tolist() == [[False, True, False, True], [False, False, True, False], [False] * 4]
    assert n_rel.tolist() == [3, 1, 0]


def test_hit_rate():
    assert M.hit_rate(RANKED, TRUTH) == 1.0
    assert M.hit_rate(RANKED, TRUTH, k=2) == 0.5  # only user 0 has a hit in the first two
    assert M.hit_rate(RANKED, TRUTH, k=1) == 0.0


def test_ndcg_by_hand():
    user0 = (1 / L2(3) + 1 / L2(5)) / (1 + 1 / L2(3) + 1 / L2(4))  # ideal: 3 hits at the top
    user1 = (1 / L2(4)) / 1.0  # one relevant movie: ideal DCG is 1
    assert M.ndcg(RANKED, TRUTH) == pytest.approx((user0 + user1) / 2, abs=1e-12)
    # Cut at 2: user 0 has one hit at rank 2 and an ideal over min(3, 2) = 2 slots.
    assert M.ndcg(RANKED, TRUTH, k=2) == pytest.approx(((1 / L2(3)) / (1 + 1 / L2(3)) + 0.0) / 2, abs=1e-12)


def test_ndcg_is_one_for_a_perfect_list():
    assert M.ndcg(np.array([[9, 2, 1, 5]]), TRUTH[:1]) == pytest.approx(1.0)


def test_recall_and_precision():
    assert M.recall(RANKED, TRUTH) == pytest.approx((2 / 3 + 1) / 2)
    assert M.precision(RANKED, TRUTH) == pytest.approx((2 / 4 + 1 / 4) / 2)
    assert M.recall(RANKED, TRUTH, k=1) == 0.0
    # Lists shorter than the k asked for: the missing places count as misses (it divided
    # by the lists' width, 0.2 here).
    short = np.array([[3, 1, 4, -1, -1], [0, 2, 5, 6, 7]])
    assert M.precision(short, [[3], [0]], k=10) == pytest.approx(0.1)


def test_mrr_uncut_and_cut():
    assert M.mrr(RANKED, TRUTH) == pytest.approx((1 / 2 + 1 / 3) / 2)
    assert M.mrr(RANKED, TRUTH, k=2) == pytest.approx((1 / 2 + 0.0) / 2)


def test_one_held_out_movie_per_user_as_an_array():
    ranked = np.array([[4, 2, 9], [1, 0, 3]])
    truth = np.array([9, 7])
    assert M.hit_rate(ranked, truth) == 0.5
    assert M.ndcg(ranked, truth) == pytest.approx((1 / L2(4)) / 2)
    assert M.mrr(ranked, truth) == pytest.approx((1 / 3) / 2)
    # The array form and the CSR form agree.
    csr = sp.csr_matrix((np.ones(2), ([0, 1], [9, 7])), shape=(2, 10))
    assert M.ndcg(ranked, csr) == M.ndcg(ranked, truth)


def test_padding_never_counts():
    ranked = np.array([[-1, -1], [3, -1]])
    truth = sp.csr_matrix((np.ones(2), ([0, 1], [9, 9])), shape=(2, 10))
    assert M.hit_rate(ranked, truth) == 0.0
    # padding at the end of row 0 must not match row 1's keys either
    truth = sp.csr_matrix((np.ones(2), ([0, 1], [0, 9])), shape=(2, 10))
    assert M.hits(ranked, truth)[0].sum() == 0
    assert M.precision(np.array([[9, -1]]), truth[1:]) == 0.5  # padding is a miss


def test_no_relevant_users_gives_nan():
    empty = sp.csr_matrix((2, 5))
    assert math.isnan(M.hit_rate(np.array([[0], [1]]), empty))
    assert math.isnan(M.categorical_accuracy(np.array([[0], [1]]), empty))


def test_categorical_accuracy_averages_over_pairs():
    # 4 test pairs, 3 of them inside the top-4: 0.75 (recall, averaged over users, is 5/6).
    assert M.categorical_accuracy(RANKED, TRUTH) == 0.75
    assert M.categorical_accuracy(RANKED, TRUTH, k=2) == 0.25


def test_coverage():
    ranked = np.array([[0, 1], [1, 2], [2, -1]])
    assert M.coverage(ranked, 10) == 0.3
    assert M.coverage(ranked, 10, k=1) == 0.3  # movies 0, 1, 2
    with pytest.raises(ValueError, match="outside"):
        M.coverage(ranked, 2)


def test_rmse_and_mae_by_hand():
    pred, truth = [3.0, 4.0, 5.0], [4.0, 4.0, 3.0]  # errors -1, 0, +2
    assert M.rmse(pred, truth) == pytest.approx(math.sqrt(5 / 3))
    assert M.mae(pred, truth) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="differ in length"):
        M.rmse([1.0], [1.0, 2.0])


def test_bad_shapes_are_named():
    with pytest.raises(ValueError, match="2-D"):
        M.hit_rate(np.array([1, 2]), np.array([1, 2]))
    with pytest.raises(ValueError, match="rows"):
        M.hit_rate(RANKED, TRUTH[:2])
    with pytest.raises(ValueError, match="k must"):
        M.ndcg(RANKED, TRUTH, k=0)


def test_duplicate_truth_entries_count_once():
    dup = sp.csr_matrix((np.ones(3), ([0, 0, 0], [1, 1, 2])), shape=(1, 10))
    assert M.recall(np.array([[1, 5]]), dup) == 0.5


def test_metrics_of_ranks_by_hand_and_against_the_lists():
    # Held-out movies at ranks 1, 3 and 12: HR@10 = 2/3, MRR = (1 + 1/3 + 1/12) / 3.
    ranks = np.array([1, 3, 12])
    assert M.hit_rate_of_ranks(ranks, 10) == pytest.approx(2 / 3)
    assert M.hit_rate_of_ranks(ranks, 1) == pytest.approx(1 / 3)
    assert M.mrr_of_ranks(ranks) == pytest.approx((1 + 1 / 3 + 1 / 12) / 3)
    # The same three users as full rankings of 12 movies: movie 0 placed at each rank.
    ranked = np.tile(np.arange(1, 13), (3, 1))
    for row, r in enumerate(ranks):
        ranked[row] = np.insert(np.arange(1, 12), r - 1, 0)
    truth = np.zeros(3, np.int64)
    assert M.hit_rate_of_ranks(ranks, 10) == pytest.approx(M.hit_rate(ranked, truth, 10))
    assert M.mrr_of_ranks(ranks) == pytest.approx(M.mrr(ranked, truth))
    assert np.isnan(M.mrr_of_ranks(np.zeros(0, np.int64)))
    with pytest.raises(ValueError, match="1-based"):
        M.mrr_of_ranks(np.array([0, 2]))


# -- the rating protocols' NDCG and the liked-or-not metrics ------------------------------


def test_ndcg_of_ratings_on_a_hand_worked_case():
    # User 0 rated movies 3, 5, 7 with 5, 3, 1 stars; the model orders them 5, 3, 7.
    # DCG@2  = 3/log2(2) + 5/log2(3);  IDCG@2 = 5/log2(2) + 3/log2(3).
    # DCG@3 adds 1/log2(4) to both. User 1 rated nothing (nan). User 3: a score tie goes
    # to the lower movie index (1 before 4): DCG@2 = 2/1 + 4/log2(3), IDCG@2 = 4/1 + 2/log2(3).
    # User 2 rated one movie and user 4 two movies with the same stars: every order of
    # theirs scores 1 whatever the model does, so they have no value (nan) and do not
    # lift the mean.
    users = [0, 0, 0, 2, 3, 3, 4, 4]
    items = [3, 5, 7, 0, 4, 1, 2, 6]
    scores = [0.5, 0.9, 0.1, 0.3, 0.7, 0.7, 0.1, 0.9]
    ratings = [5, 3, 1, 2, 4, 2, 3, 3]
    u0_k2 = (3 + 5 / L2(3)) / (5 + 3 / L2(3))
    u0_k3 = (3 + 5 / L2(3) + 1 / L2(4)) / (5 + 3 / L2(3) + 1 / L2(4))
    u3_k2 = (2 + 4 / L2(3)) / (4 + 2 / L2(3))
    per = M.ndcg_of_ratings(users, items, scores, ratings, 2, per_user=True)
    assert per.shape == (5,) and np.isnan(per[[1, 2, 4]]).all()
    assert per[[0, 3]] == pytest.approx([u0_k2, u3_k2])
    assert M.ndcg_of_ratings(users, items, scores, ratings, 2) == pytest.approx((u0_k2 + u3_k2) / 2)
    assert M.ndcg_of_ratings(users, items, scores, ratings, 3, per_user=True)[0] == pytest.approx(u0_k3)
    # The true order scores 1; the rows' order in the input does not matter.
    assert M.ndcg_of_ratings(users, items, ratings, ratings, 2) == pytest.approx(1.0)
    flip = np.arange(8)[::-1]
    assert M.ndcg_of_ratings(np.array(users)[flip], np.array(items)[flip], np.array(scores)[flip],
                             np.array(ratings)[flip], 2) == pytest.approx((u0_k2 + u3_k2) / 2)
    # Nobody whose order could be wrong: no value at all.
    assert np.isnan(M.ndcg_of_ratings([0, 1, 1], [0, 0, 1], [0.2, 0.1, 0.3], [4, 5, 5], 2))
    with pytest.raises(ValueError, match="k must be at least 1"):
        M.ndcg_of_ratings(users, items, scores, ratings, 0)


def test_auc_and_accuracy_on_a_hand_worked_case():
    # Positives score 0.9, 0.6, 0.4; negatives 0.6, 0.2. Of the 6 (positive, negative)
    # pairs, 4 are ordered right and one (0.6, 0.6) is a tie: AUC = (4 + 0.5) / 6.
    p = [0.9, 0.6, 0.4, 0.6, 0.2]
    y = np.array([True, True, True, False, False])
    assert M.auc(p, y) == pytest.approx(4.5 / 6)
    # Called liked at p >= 0.5: 0.9 and 0.6 right, 0.4 wrong, 0.6 wrong, 0.2 right.
    assert M.accuracy(p, y) == pytest.approx(3 / 5)
    assert M.accuracy(p, y, threshold=0.95) == pytest.approx(2 / 5)
    assert np.isnan(M.auc([0.1, 0.2], np.array([True, True])))
    with pytest.raises(ValueError, match="booleans"):
        M.auc(p, [1, 1, 1, 0, 0])


def test_ndcg_of_ratings_on_a_scale_below_zero_counts_gains_from_its_lowest_rating():
    # -2..2 stars as gains gave NDCG below 0, and -5..-1 an IDCG of 0 (no value at all).
    users, items, scores = [0, 0, 0], [0, 1, 2], [0.5, 0.9, 0.1]
    stars = np.array([2.0, 0.0, -2.0])
    got = M.ndcg_of_ratings(users, items, scores, stars, 3, lowest=-2.0)
    assert got == pytest.approx(M.ndcg_of_ratings(users, items, scores, stars + 2, 3))
    assert 0 < got < 1
    below = M.ndcg_of_ratings(users, items, scores, stars - 3, 3, lowest=-5.0)  # -1, -3, -5
    assert below == pytest.approx(got)
    assert M.ndcg_of_ratings(users, items, scores, [5.0, 3.0, 1.0], 3, lowest=1.0) == pytest.approx(
        M.ndcg_of_ratings(users, items, scores, [5.0, 3.0, 1.0], 3))  # 1-5 stars: their own gains
