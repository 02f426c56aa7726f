"""The tests every model passes, classical or neural.

A model's test module inherits :class:`ModelConformance` and sets class attributes only::

    class TestEase(ModelConformance):
        model_name = "ease"
        config = {"regularization": 50.0}
        quality = ("loo-sampled", "hr@10", 0.62)

The class name must start with ``Test`` for pytest to collect it; this base class does
not, so it is never run on its own.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pytest

from cinerec.data.dataset import Interactions
from cinerec.errors import ConfigError, DataError
from cinerec.models import RatingRecommender, Recommender, create, load_model
from cinerec.models.base import CapabilityError

__all__ = ["ModelConformance", "planted_groups", "random_ratings"]


def planted_groups(rating_model: bool = False, n_users: int = 40, n_items: int = 30, seed: int = 0) -> Interactions:
    """Two taste groups with a known answer.

    Users ``< n_users/2`` rate 9 of the first ``n_items/2`` movies, the others 9 of the
    second half; so each user's unseen movies of their own half are the right answer. For
    rating models, own-half ratings are 4-5 stars and each user also gives 1 star to 3
    movies of the other half (a rating model must learn what people dislike too).
    """
    rng = np.random.default_rng(seed)
    half = n_items // 2
    group = (np.arange(n_users) >= n_users // 2).astype(np.int64)
    own = np.argsort(rng.random((n_users, half)), axis=1)[:, :9] + group[:, None] * half
    users = [np.repeat(np.arange(n_users), 9)]
    items = [own.ravel()]
    ratings = [rng.integers(4, 6, own.size)]
    if rating_model:
        other = np.argsort(rng.random((n_users, half)), axis=1)[:, :3] + (1 - group[:, None]) * half
        users.append(np.repeat(np.arange(n_users), 3))
        items.append(other.ravel())
        ratings.append(np.ones(other.size, dtype=np.int64))
    u, i, r = np.concatenate(users), np.concatenate(items), np.concatenate(ratings)
    return Interactions(u, i, r, np.arange(len(u)), n_users, n_items)


def random_ratings(n_users: int = 50, n_items: int = 60, seed: int = 0) -> Interactions:
    """5-15 distinct movies per user with 1-5 stars and increasing timestamps; popularity skewed."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(5, 16, n_users)
    weights = 1.0 / np.arange(1, n_items + 1) ** 0.7
    # Distinct movies per user without a loop: Gumbel top-k of log-weights.
    keys = np.log(weights)[None, :] - np.log(-np.log(rng.random((n_users, n_items))))
    order = np.argsort(-keys, axis=1)
    take = np.arange(n_items)[None, :] < counts[:, None]
    users = np.repeat(np.arange(n_users), counts)
    items = order[take]
    ratings = rng.integers(1, 6, len(users))
    return Interactions(users, items, ratings, np.arange(len(users)), n_users, n_items)


_REAL: dict[str, Any] = {}


def _real_ml100k(folder: Any) -> Any:
    from cinerec.data import load

    key = str(folder)
    if key not in _REAL:
        _REAL[key] = load(folder)
    return _REAL[key]


class ModelConformance:
    """Shared contract tests. Subclasses set the class attributes below.

    Attributes:
        model_name: the registered name.
        config: config values for the tests (keep them tiny: few epochs, small sizes).
        rating_model: the model predicts stars (a ``RatingRecommender``).
        quality: ``(protocol, metric, bound)`` on real ml-100k, marked slow; the bound is
            a maximum for RMSE/MAE and a minimum otherwise.
        quality_config: config values for the quality check (default: the model defaults).
        quality_options: protocol options for the quality check (e.g. ``{"fold": "u1"}``).
        quality_seeds: seeds averaged in the quality check.
        personalised: False for models that rank every user alike (the planted test is skipped).
        planted_min_fraction: share of planted recommendations that must come from the
            user's own group (1.0: all of them).
        history_exact: ``score_history`` of a training user's ratings equals that user's
            row (history-based models); otherwise the top-10 lists must overlap by
            ``history_overlap``.
        atol: tolerance when comparing scores computed two ways (batch vs single...).
    """

    model_name: ClassVar[str]
    config: ClassVar[dict[str, Any]] = {}
    rating_model: ClassVar[bool] = False
    quality: ClassVar[tuple[str, str, float] | None] = None
    quality_config: ClassVar[dict[str, Any] | None] = None
    quality_options: ClassVar[dict[str, Any]] = {}
    quality_seeds: ClassVar[tuple[int, ...]] = (0,)
    personalised: ClassVar[bool] = True
    planted_min_fraction: ClassVar[float] = 1.0
    history_exact: ClassVar[bool] = True
    history_overlap: ClassVar[float] = 0.5
    atol: ClassVar[float] = 1e-5

    # -- models and data -----------------------------------------------------------------

    @classmethod
    def make(cls, **overrides: Any) -> Recommender:
        return create(cls.model_name, {**cls.config, **overrides})

    @classmethod
    def make_for(cls, data: Interactions) -> Recommender:
        """A model for ``data`` other than the class's own (one with features needs them for it)."""
        return cls.make()

    @pytest.fixture(scope="class")
    @classmethod
    def data(cls) -> Interactions:
        return random_ratings()

    @pytest.fixture(scope="class")
    @classmethod
    def fitted(cls, data: Interactions) -> Recommender:
        return cls.make().fit(data)

    # -- the contract --------------------------------------------------------------------

    def test_registered_with_a_typed_config(self):
        model = self.make()
        assert model.name == self.model_name
        again = type(model.config).from_dict(model.config.to_dict())
        assert again == model.config
        with pytest.raises(ConfigError, match="no_such_setting"):
            create(self.model_name, {"no_such_setting": 1})
        assert isinstance(model, RatingRecommender) == self.rating_model

    def test_unfitted_model_refuses_to_recommend(self):
        with pytest.raises(CapabilityError):
            self.make().recommend([0], 3)

    def test_an_empty_training_set_is_said_to_be_empty(self):
        # An ensemble's, a two-stage model's and a blend's said their search found no user
        # with two ratings, or that 0 ratings are too few to hold 10% out.
        empty = Interactions(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32),
                             np.zeros(0, np.int64), 5, 5)
        with pytest.raises(DataError, match=r": cannot fit on an empty training set$"):
            self.make().fit(empty)

    def test_planted_groups_get_their_own_movies(self):
        if not self.personalised:
            pytest.skip(f"{self.model_name} ranks every user alike")
        model = self.make()
        # Planted dislikes only for a model that learns stars: one of a rating model's
        # ranking variants (autorec's target "seen") reads every rating as seen.
        x = planted_groups(self.rating_model and model.task == "rating")
        model.fit(x)
        items, _ = model.recommend(np.arange(x.n_users), k=3)
        half = x.n_items // 2
        group = (np.arange(x.n_users) >= x.n_users // 2)[:, None]
        same = (items >= half) == group
        assert (items >= 0).all()
        assert same.mean() >= self.planted_min_fraction, f"only {same.mean():.2f} of picks from the user's group"

    def test_batch_answer_equals_single_answers(self, fitted: Recommender, data: Interactions):
        users = np.arange(data.n_users)
        items, scores = fitted.recommend(users, k=5)
        rows = fitted.score(users)
        fitted.chunk_size = 7  # users scored 7 at a time: chunk borders must not show
        try:
            chunked_items, _ = fitted.recommend(users, k=5)
            chunked_rows = fitted.score(users)
        finally:
            del fitted.chunk_size
        np.testing.assert_array_equal(chunked_items, items)
        np.testing.assert_allclose(chunked_rows, rows, atol=self.atol, rtol=1e-5)
        for u in (0, 7, 23, data.n_users - 1):
            one_items, one_scores = fitted.recommend([u], k=5)
            np.testing.assert_array_equal(one_items[0], items[u])
            np.testing.assert_allclose(one_scores[0], scores[u], atol=self.atol, rtol=1e-5)
            np.testing.assert_allclose(fitted.score([u])[0], rows[u], atol=self.atol, rtol=1e-5)

    def test_seen_movies_are_never_recommended(self, fitted: Recommender, data: Interactions):
        users = np.arange(data.n_users)
        items, scores = fitted.recommend(users, k=data.n_items)
        rows = np.repeat(users, items.shape[1])
        flat = items.ravel()
        ok = flat >= 0
        assert not data.seen[rows[ok], flat[ok]].any()
        # and every unseen movie is offered: the padding is exactly the seen count
        assert ((items < 0).sum(axis=1) == np.diff(data.seen.indptr)).all()
        assert (np.diff(np.where(np.isfinite(scores), scores, -1e30), axis=1) <= 1e-6).all()

    def test_deterministic_given_its_config(self, data: Interactions):
        users = np.arange(data.n_users)
        a = self.make().fit(data).score(users)
        b = self.make().fit(data).score(users)
        np.testing.assert_allclose(a, b, atol=1e-6, rtol=1e-6)

    def test_save_load_gives_identical_scores(self, fitted: Recommender, data: Interactions, tmp_path):
        users = np.arange(data.n_users)
        fitted.save(tmp_path / "model")
        fitted.save(tmp_path / "model")  # overwriting an existing folder works
        for loaded in (type(fitted).load(tmp_path / "model"), load_model(tmp_path / "model")):
            assert type(loaded) is type(fitted) and loaded.config == fitted.config
            np.testing.assert_array_equal(loaded.score(users), fitted.score(users))
            np.testing.assert_array_equal(loaded.recommend(users, 5)[0], fitted.recommend(users, 5)[0])

    def test_score_shapes_agree(self, fitted: Recommender, data: Interactions):
        users = np.array([3, 1, 3, 8])
        rows = fitted.score(users)
        assert rows.shape == (4, data.n_items) and rows.dtype == np.float32
        items = np.array([0, 5, 9, 2])
        pairs = fitted.score(users, items)
        assert pairs.shape == (4,)
        np.testing.assert_allclose(pairs, rows[np.arange(4), items], atol=self.atol, rtol=1e-5)
        cand = np.array([[0, 1, 2], [5, 4, 3], [9, 9, 0], [2, 7, 1]])
        cs = fitted.score(users, cand)
        assert cs.shape == (4, 3)
        with pytest.raises(ConfigError, match=r"items must be \(n,\) movie indices or \(n, m\) candidates"):
            fitted.score(users, cand[:, :, None])  # (it gave a 3-D array back)
        np.testing.assert_allclose(cs, np.take_along_axis(rows, cand, axis=1), atol=self.atol, rtol=1e-5)
        distinct = np.array([[0, 1, 2], [5, 4, 3], [9, 8, 0], [2, 7, 1]])  # a list never holds a movie twice
        ranked, _ = fitted.recommend(users, 2, candidates=distinct, exclude=None)
        assert all(set(r) <= set(c) for r, c in zip(ranked.tolist(), distinct.tolist()))
        if self.rating_model and fitted.task == "rating":  # (a ranking variant predicts no stars)
            stars = fitted.predict(users, items)
            assert stars.shape == (4,) and np.isfinite(stars).all()

    def test_similar_items_never_returns_the_item_itself(self, fitted: Recommender, data: Interactions):
        items = np.arange(data.n_items)
        sim, scores = fitted.similar_items(items, k=5)
        assert sim.shape == (data.n_items, 5)
        assert not (sim == items[:, None]).any()

    def test_a_list_longer_than_the_catalogue_is_the_catalogue(self, fitted: Recommender, data: Interactions):
        # k = 10**12 tried to allocate terabytes of padding; k = "3" gave two-stage a TypeError.
        for bad in ("3", None, 2.5, 0):
            with pytest.raises(ConfigError, match="k = .*: expected a whole number of at least 1"):
                fitted.recommend([0], bad)
            with pytest.raises(ConfigError, match="k = .*: expected a whole number of at least 1"):
                fitted.similar_items([0], bad)
        sim, _ = fitted.similar_items([0], 10**12)
        assert sim.shape == (1, data.n_items) and (sim[0] != 0).all()
        if fitted.shortlists:  # (a list longer than its shortlist is refused: its own test)
            return
        items, scores = fitted.recommend([0, 1], 10**12)
        assert items.shape == scores.shape == (2, data.n_items)
        whole, _ = fitted.recommend([0, 1], data.n_items)
        np.testing.assert_array_equal(items, whole)

    def test_a_movie_nobody_rated_is_like_none(self, data: Interactions):
        """A movie no training rating reached has a vector still at its random start (mf's
        similar movies of one were 0.23-0.31 alike): it is like no movie, none is like it,
        and it is no reason."""
        wide = Interactions(data.users, data.items, data.ratings, data.timestamps, data.n_users, data.n_items + 2)
        model = self.make_for(wide).fit(wide)
        if model.vectors_without_ratings:
            return
        unrated = np.array([data.n_items, data.n_items + 1])
        sims = np.asarray(model.item_similarity(unrated))
        assert not (sims > 1e-6).any()
        assert not (np.asarray(model.item_similarity(np.arange(data.n_items)))[:, unrated] > 1e-6).any()
        _, scores = model.similar_items(unrated, k=5)
        assert not (scores > 1e-6).any()
        history = wide.seen[np.arange(wide.n_users)]
        why = model.explain(history, np.tile(unrated, (wide.n_users, 1)))
        assert (why == -1).all()

    def test_explain_points_into_the_history(self, fitted: Recommender, data: Interactions):
        users = np.arange(data.n_users)
        items, _ = fitted.recommend(users, k=3)
        history = data.seen[users]
        why = fitted.explain(history, items)
        assert why.shape == items.shape
        assert not ((why >= 0) & (items < 0)).any()
        rows = np.repeat(users, 3).reshape(why.shape)
        assert history[rows[why >= 0], why[why >= 0]].all()
        # A slot left without a reason has no movie in the history like it; one with a
        # reason names the history's most similar movie, and that similarity is positive.
        for r, c in zip(*np.nonzero(items >= 0)):
            seen = history[rows[r, c]].indices
            sims = np.asarray(fitted.item_similarity(np.array([items[r, c]])), dtype=np.float64)[0, seen]
            if why[r, c] < 0:
                assert (sims <= 1e-6).all()
            else:
                assert sims.max() > 0
                assert sims[list(seen).index(why[r, c])] >= sims.max() - 1e-5

    def test_score_history_of_a_training_user(self, fitted: Recommender, data: Interactions):
        users = np.arange(data.n_users)
        if not fitted.can_score_history:
            with pytest.raises(CapabilityError):
                fitted.score_history(data.csr[users])
            return
        got = fitted.score_history(data.csr[users])
        want = fitted.score(users)
        assert got.shape == want.shape
        if self.history_exact:
            np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-4)
        else:
            top_got = np.argsort(-got, axis=1)[:, :10]
            top_want = np.argsort(-want, axis=1)[:, :10]
            overlap = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(top_got, top_want)])
            assert overlap >= self.history_overlap

    def test_score_history_refuses_the_wrong_width_and_ratings_that_are_no_numbers(self, fitted: Recommender,
                                                                                    data: Interactions):
        # Some models said ValueError, some DataError; a NaN gave ALS non-finite scores.
        if not fitted.can_score_history:
            return
        import scipy.sparse as sp

        with pytest.raises(ConfigError, match=r"history has 5 movie columns, the model knows"):
            fitted.score_history(sp.csr_matrix((1, 5)))
        nan = sp.csr_matrix((np.array([np.nan], np.float32), (np.array([0]), np.array([1]))), shape=(1, data.n_items))
        with pytest.raises(ConfigError, match=r"the history holds a rating that is not a finite number"):
            fitted.score_history(nan)

    @pytest.mark.slow
    def test_quality_on_real_ml100k(self, ml100k_dir):
        if self.quality is None:
            pytest.skip(f"{self.model_name} declares no quality band")
        from cinerec.evaluation.protocols import LOWER_IS_BETTER, get_protocol

        protocol_name, metric, bound = self.quality
        dataset = _real_ml100k(ml100k_dir)
        protocol = get_protocol(protocol_name, **self.quality_options)
        values = []
        for seed in self.quality_seeds:
            model = create(self.model_name, self.quality_config)
            values.append(protocol.prepare(dataset, seed=seed).evaluate(model).metrics[metric])
        value = float(np.mean(values))
        if metric in LOWER_IS_BETTER:
            assert value <= bound, f"{self.model_name} {metric} {value:.4f} > {bound} under {protocol_name}"
        else:
            assert value >= bound, f"{self.model_name} {metric} {value:.4f} < {bound} under {protocol_name}"
