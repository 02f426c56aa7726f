"""The one explain on the model protocol: vectors path, generic path, memory blocks."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from cinerec.data.dataset import Interactions
from cinerec.models import create


def _train(n_users=60, n_items=40, seed=0):
    rng = np.random.default_rng(seed)
    u = rng.integers(0, n_users, 900)
    i = rng.integers(0, n_items, 900)
    return Interactions(u, i, rng.integers(1, 6, 900), np.arange(900), n_users, n_items)


def test_vectors_path_gives_the_generic_answer():
    model = create("als", {"factors": 8, "epochs": 2}).fit(_train())
    users = np.arange(0, 60, 3)
    history = model._train().seen[users]
    items, _ = model.recommend(users, 6)
    items[0, 3:] = -1  # padding stays padding
    fast = model.explain(history, items)
    slow = model._explain_block(history, items)  # similarity rows over the whole catalog
    assert np.array_equal(fast == -1, slow == -1)
    v = model.item_vectors()
    v = v / np.linalg.norm(v, axis=1, keepdims=True)
    ok = (items >= 0) & (fast >= 0)
    sim = lambda r: np.where(ok, np.einsum("nkd,nkd->nk", v[np.maximum(items, 0)], v[np.maximum(r, 0)]), 0)  # noqa: E731
    np.testing.assert_allclose(sim(fast), sim(slow), atol=1e-5)  # same movie, or one exactly as similar


@pytest.mark.parametrize("name", ["ease", "popularity", "als"])
def test_blocks_of_any_size_give_the_same_answer(name):
    model = create(name).fit(_train())
    users = np.arange(40)
    history = model._train().seen[users]
    items, _ = model.recommend(users, 5)
    whole = model.explain(history, items)
    model.explain_budget = 1  # one person per block
    assert np.array_equal(model.explain(history, items), whole)


def test_reason_is_always_from_the_given_history_and_most_similar():
    model = create("ease").fit(_train())
    history = sp.csr_matrix(([1.0, 1.0], ([0, 0], [3, 17])), shape=(1, 40))
    items = np.array([[5, 9, -1]])
    why = model.explain(history, items)
    assert why[0, 2] == -1
    sims = model.item_similarity(np.array([5, 9]))[:, [3, 17]]
    assert why[0, :2].tolist() == [[3, 17][j] for j in sims.argmax(axis=1)]


def test_empty_history_gives_no_reason():
    model = create("ease").fit(_train())
    empty = sp.csr_matrix((2, model.n_items), dtype=np.float32)
    assert (model.explain(empty, np.array([[1, 2], [3, -1]])) == -1).all()


def test_a_refit_forgets_the_earlier_training_sets_similarities():
    # The co-occurrence similarities were kept from the first fit: a refit on 40 movies
    # named movie 57 as similar and explain() raised an IndexError.
    model = create("popularity").fit(_train(n_items=60))
    model.similar_items([0])
    other = _train(n_items=40, seed=1)
    model.fit(other)
    items, _ = model.similar_items([0, 39], k=3)
    assert items.max() < 40
    fresh = create("popularity").fit(other)
    assert np.array_equal(items, fresh.similar_items([0, 39], k=3)[0])
    assert model.explain(other.seen[:2], np.array([[1, 2], [3, 4]])).shape == (2, 2)


def test_recommend_and_explain_refuse_arguments_of_the_wrong_shape():
    # Each of these was a raw IndexError or ValueError from deep inside, or (another id
    # space's exclusion, repeated candidates) a silently wrong list.
    from cinerec.errors import ConfigError

    train = _train()
    model = create("ease").fit(train)
    cases = [
        (lambda: model.recommend([[0, 1]], 3), r"users must be a flat list of user indices, got an array of shape"),
        (lambda: model.recommend([0], 3, exclude=sp.csr_matrix((30, 40))), r"exclude: a 30×40 matrix, the model "
                                                                          r"knows 60×40"),
        (lambda: model.recommend([0], 3, exclude=sp.csr_matrix((3, 40))), r"exclude: a 3×40 matrix"),
        (lambda: model.recommend([0], 3, candidates=np.array([1, 2, 3])), r"candidates must be an \(n_users, m\) "
                                                                           r"array"),
        (lambda: model.recommend([0], 3, candidates=np.array([[7, 7, 8, 6]])), r"candidates: row 0 names a movie "
                                                                                r"more than once"),
        (lambda: model.explain(sp.csr_matrix((1, 50)), np.array([[1, 2]])), r"the history is 1×50, expected 1×40"),
        (lambda: model.explain(sp.csr_matrix((1, 5)), np.array([[1, 2]])), r"the history is 1×5, expected 1×40"),
        (lambda: model.explain(train.seen[:1], np.array([[1, 99]])), r"items must be an \(n, k\) array of movie"),
    ]
    for call, message in cases:
        with pytest.raises(ConfigError, match=message):
            call()
    vectors = create("als", {"factors": 4, "epochs": 1}).fit(train)  # the movie-vector path too
    with pytest.raises(ConfigError, match=r"the history is 1×5, expected 1×40"):
        vectors.explain(sp.csr_matrix((1, 5)), np.array([[1, 2]]))


def test_a_reason_is_the_same_whatever_the_lists_length():
    # A collapsed ALS's movie vectors are near ties: a matrix product summed each cosine in
    # another order for ten movies than for twenty, and "-k 10" named another movie as the
    # reason for a recommendation than "-k 20" and the store did.
    from cinerec.models.base import _explain_by_vectors

    rng = np.random.default_rng(0)
    vec = (1 + 1e-4 * rng.standard_normal((300, 64))).astype(np.float32)
    history = sp.csr_matrix((rng.random((200, 300)) < 0.15).astype(np.float32))
    items = rng.integers(0, 300, (200, 20))
    whole = _explain_by_vectors(vec, history, items, 1 << 26)
    for k in (1, 3, 10):
        assert np.array_equal(_explain_by_vectors(vec, history, items[:, :k], 1 << 26), whole[:, :k]), k


def test_similarities_vectors_and_explain_misused_are_one_line():
    # item_similarity read "50" (text) as the 51st movie and -1 as the last; asked of an
    # unfitted model it and item_vectors ended in AttributeError; explain given Interactions
    # in scipy's words.
    from cinerec.errors import CinerecError, ConfigError, NotFoundError
    from cinerec.models.base import CapabilityError
    from cinerec.models import MODELS

    x = _train()
    ease = create("ease").fit(x)
    for items, error in ((["50"], ConfigError), ([-1], NotFoundError), ([1.9], ConfigError), (True, ConfigError),
                         ([500], NotFoundError), ([[0, 1]], ConfigError)):
        with pytest.raises(error):
            ease.item_similarity(items)
    assert ease.item_similarity([3]).shape == (1, x.n_items)
    for name in MODELS:
        with pytest.raises(CapabilityError, match="not fitted"):
            create(name).item_similarity([0])
        try:
            assert create(name).item_vectors() is None  # (a model with none says so, fitted or not)
        except CinerecError as e:
            assert "not fitted" in str(e), name
    items, _ = ease.recommend([0, 1], 3)
    for history in (None, x, "seen"):
        with pytest.raises(ConfigError, match=r"ease\.explain: history is an \(n, 40\) matrix"):
            ease.explain(history, items)


def test_stars_asked_of_a_ranking_model_and_features_of_no_dataset_are_one_line():
    # ease.predict ended in AttributeError, and set_features given Interactions in
    # "'Interactions' object has no attribute 'user_features'".
    from cinerec.errors import ConfigError
    from cinerec.models.base import CapabilityError

    x = _train()
    with pytest.raises(CapabilityError, match=r"^ease ranks movies and predicts no stars; the models that do: .*"
                                              r"baseline.*mf"):
        create("ease").fit(x).predict([0], [0])
    assert create("baseline").fit(x).predict([0], [0]).shape == (1,)
    for name in ("two-tower", "mlp-rating"):
        with pytest.raises(ConfigError, match=rf"^{name}\.set_features: expected a Dataset \(the one its "
                                              r"interactions come from: load\(\.\.\.\)\), got Interactions$"):
            create(name).set_features(x)
