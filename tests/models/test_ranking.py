"""The one ranking rule: top_k lists and rank_of positions agree on every tie."""

import numpy as np
import pytest
import scipy.sparse as sp

from cinerec.errors import ConfigError
from cinerec.ranking import rank_of, top_k


def test_top_k_orders_excludes_and_pads():
    scores = np.array([[0.1, 0.9, 0.5, 0.7], [3.0, 2.0, 1.0, 0.0]], dtype=np.float32)
    seen = sp.csr_matrix(np.array([[0, 1, 0, 0], [1, 1, 1, 0]]))
    items, vals = top_k(scores, 3, seen)
    assert items.tolist() == [[3, 2, 0], [3, -1, -1]]
    assert vals[0].tolist() == pytest.approx([0.7, 0.5, 0.1])
    assert np.isneginf(vals[1, 1:]).all()


def test_top_k_breaks_ties_by_lower_column():
    scores = np.array([[1, 2, 2, 2, 0]], dtype=np.float32)
    items, _ = top_k(scores, 3)
    assert items.tolist() == [[1, 2, 3]]


def test_top_k_breaks_a_tie_between_the_last_kept_and_one_left_out_by_lower_column():
    # Only the k-th score ties, with movies past the k returned: topk alone keeps any.
    items, _ = top_k(np.array([[5.0] + [1.0] * 11], dtype=np.float32), 2)
    assert items.tolist() == [[0, 1]]
    items, _ = top_k(np.ones((1, 12), dtype=np.float32), 1)
    assert items.tolist() == [[0]]


@pytest.mark.parametrize("k", [1, 3, 10])
def test_top_k_is_the_first_k_of_a_stable_sort(k):
    rng = np.random.default_rng(k)
    scores = rng.integers(0, 4, size=(200, 60)).astype(np.float32)  # many ties everywhere
    seen = sp.random(200, 60, density=0.2, random_state=k, format="csr")
    items, _ = top_k(scores, k, seen)
    masked = np.where(seen.toarray() != 0, -np.inf, scores)
    want = np.argsort(-masked, axis=1, kind="stable")[:, :k]
    assert items.tolist() == want.tolist()


def test_top_k_with_candidates_maps_back_to_item_ids_and_excludes_seen():
    scores = np.array([[5.0, 4.0, 3.0]], dtype=np.float32)
    cand = np.array([[7, 2, 9]])
    seen = sp.csr_matrix(([1.0], ([0], [2])), shape=(1, 10))
    items, vals = top_k(scores, 2, seen, cand)
    assert items.tolist() == [[7, 9]]
    assert vals.tolist() == [[5.0, 3.0]]


def test_top_k_k_larger_than_catalog_and_bad_k():
    items, _ = top_k(np.ones((1, 2), np.float32), 4)
    assert items.tolist() == [[0, 1, -1, -1]]
    with pytest.raises(ConfigError):
        top_k(np.ones((1, 2)), 0)
    for bad in (2.5, "5", None, True):
        with pytest.raises(ConfigError, match=r"k = .*: expected a whole number of at least 1"):
            top_k(np.ones((1, 2)), bad)


def test_one_row_equals_that_row_of_the_batch():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 5, size=(50, 40)).astype(np.float32)  # many ties
    seen = sp.random(50, 40, density=0.2, random_state=1, format="csr")
    batch, _ = top_k(scores, 10, seen)
    for r in range(50):
        single, _ = top_k(scores[r:r + 1], 10, seen[r])
        assert single[0].tolist() == batch[r].tolist()


def test_base_still_offers_top_k():
    from cinerec.models.base import top_k as from_base

    assert from_base is top_k


def test_rank_of_by_hand_with_ties_and_exclusions():
    # Row 0: item 2 scores 0.5; ahead of it: item 1 (0.9) and item 0 (0.5, lower index);
    # item 3 (0.7) is excluded and does not count; item 4 ties at a higher index.
    # Row 1: item 4 is best but excluded; items 0 and 1 tie with item 3 at a lower index.
    scores = np.array([[0.5, 0.9, 0.5, 0.7, 0.5],
                       [1.0, 1.0, 0.0, 1.0, 9.0]], dtype=np.float32)
    seen = sp.csr_matrix(np.array([[0, 0, 0, 1, 0], [0, 0, 0, 0, 1]]))
    assert rank_of(scores, np.array([2, 3]), seen).tolist() == [3, 3]
    assert rank_of(scores, np.array([4, 0])).tolist() == [5, 2]  # nothing excluded
    items, _ = top_k(scores, 5, seen)
    assert items.tolist() == [[1, 0, 2, 4, -1], [0, 1, 3, 2, -1]]


def test_rank_of_with_candidates_ranks_by_column():
    scores = np.array([[2.0, 3.0, 2.0, 2.0]], dtype=np.float32)
    cand = np.array([[9, 4, 1, 7]])
    seen = sp.csr_matrix(([1.0], ([0], [9])), shape=(1, 10))  # the first candidate is seen
    # Column 3 (item 7): behind item 4 (3.0) and item 1 (2.0, earlier column); item 9 is seen.
    assert rank_of(scores, np.array([3]), seen, cand).tolist() == [3]
    assert top_k(scores, 3, seen, cand)[0].tolist() == [[4, 1, 7]]


def test_an_excluded_held_out_item_is_ranked_against_the_eligible_ones():
    scores = np.array([[0.1, 0.3, 0.2]], dtype=np.float32)
    seen = sp.csr_matrix(np.array([[1, 1, 0]]))
    assert rank_of(scores, np.array([0]), seen).tolist() == [2]  # only item 2 (0.2) counts


@pytest.mark.parametrize("with_candidates", [False, True])
def test_rank_of_is_the_position_in_top_k(with_candidates):
    rng = np.random.default_rng(3)
    n, n_items, m = 40, 30, 30
    scores = rng.integers(0, 4, size=(n, m)).astype(np.float32)  # many ties
    seen = sp.random(n, n_items, density=0.3, random_state=2, format="csr")
    seen.data[:] = 1.0
    cand = np.argsort(rng.random((n, n_items)), axis=1)[:, :m] if with_candidates else None
    items, _ = top_k(scores, m, seen, cand)
    item_of = cand if with_candidates else np.broadcast_to(np.arange(m), (n, m))
    checked = 0
    for col in range(m):
        cols = np.full(n, col)
        ranks = rank_of(scores, cols, seen, cand)
        target = item_of[:, col]
        eligible = ~np.asarray(seen[np.arange(n)[:, None], target[:, None]].todense()).ravel().astype(bool)
        for r in np.flatnonzero(eligible):
            assert items[r, ranks[r] - 1] == target[r]
            checked += 1
    assert checked > n * m // 2


def test_rank_of_names_bad_arguments():
    with pytest.raises(ValueError, match="columns has 1 entries"):
        rank_of(np.zeros((2, 3)), np.array([0]))
    with pytest.raises(ValueError, match=r"\[0, 3\), got 3"):
        rank_of(np.zeros((1, 3)), np.array([3]))


@pytest.mark.parametrize("k", [2, 5, 9])
def test_a_score_that_is_not_a_number_ranks_first_whatever_the_ties(k):
    # With ties among the finite scores, the tie path dropped the NaN from the list, so a
    # broken model showed in some lists and hid in others (and rank_of ranked it last).
    scores = np.array([[1.0, np.nan, 1.0, 1.0, 0.5, 1.0, np.nan, 1.0, 0.2, 1.0]], np.float32)
    items, vals = top_k(scores, k)
    assert items[0, :2].tolist() == [1, 6] and np.isnan(vals[0, :2]).all() and not np.isnan(vals[0, 2:]).any()
    assert rank_of(scores, np.array([6]))[0] == 2 and rank_of(scores, np.array([0]))[0] == 3
    excluded = sp.csr_matrix(([1], ([0], [1])), shape=(1, 10))
    assert top_k(scores, k, excluded)[0][0, 0] == 6  # an excluded one stays out
