import numpy as np
import pytest
import scipy.sparse as sp

from cinerec.errors import ConfigError
from cinerec.models.base import top_k


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


def test_one_row_equals_that_row_of_the_batch():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 5, size=(50, 40)).astype(np.float32)  # many ties
    seen = sp.random(50, 40, density=0.2, random_state=1, format="csr")
    batch, _ = top_k(scores, 10, seen)
    for r in range(50):
        single, _ = top_k(scores[r:r + 1], 10, seen[r])
        assert single[0].tolist() == batch[r].tolist()
