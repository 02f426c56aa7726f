"""Retrieve, then rank: ``two-stage``.

Covington, Adams and Sargin, "Deep Neural Networks for YouTube Recommendations",
RecSys 2016, and Yi et al., RecSys 2019: a cheap model picks a few hundred candidates
out of the whole catalogue, and a costlier model ranks only those. Here:

1. the **retriever** (ALS, MF, GMF or two-tower, with or without an approximate index,
   or EASE; any fitted model works) gives each user its top-``candidates`` unseen movies;
2. the **ranker** (any model that scores (user, movie) pairs cheaply,
   ``can_score_pairs``: NeuMF, MLP, GMF, mlp-rating, two-tower...) scores those pairs;
3. the shared :func:`~cinerec.models.base.top_k` keeps the best ``k`` (ties to the lower
   movie index).

So the ranker's cost is ``candidates`` pairs per user instead of the whole catalogue. A
movie the retriever did not shortlist scores ``-inf``: it is never recommended.

A new person (cold start) is shortlisted by the retriever's ``score_history`` and ranked
by the ranker's when it has one, else kept in the retriever's order. Similar movies and
the reasons given are the retriever's (:meth:`item_vectors`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import scipy.sparse as sp

from cinerec.config import Config
from cinerec.data.dataset import Interactions
from cinerec.errors import ConfigError, DataError
from cinerec.models.base import MODELS, TRAIN, CapabilityError, Recommender, create, load_model, register, top_k

if TYPE_CHECKING:
    from cinerec.data.dataset import Dataset

__all__ = ["TwoStage", "TwoStageConfig"]


@dataclass(frozen=True)
class TwoStageConfig(Config):
    """Settings of :class:`TwoStage`.

    Attributes:
        retriever: name of the model that shortlists movies.
        ranker: name of the model that ranks the shortlist; it must score pairs
            cheaply (``can_score_pairs``).
        candidates: movies shortlisted per user; lists longer than this are refused.
        retriever_settings, ranker_settings: config values of each stage (in TOML, the
            tables ``[retriever_settings]`` and ``[ranker_settings]``).
        retriever_path, ranker_path: a saved model folder to use as that stage as it
            is, instead of fitting one on the training data (it must know the same
            users and movies).
    """

    retriever: str = "als"
    ranker: str = "neumf"
    candidates: int = 200
    retriever_settings: dict[str, Any] = field(default_factory=dict)
    ranker_settings: dict[str, Any] = field(default_factory=dict)
    retriever_path: str = ""
    ranker_path: str = ""

    def validate(self) -> None:
        self._check(self.candidates >= 1, "candidates", "must be at least 1")
        for stage in ("retriever", "ranker"):
            name = getattr(self, stage)
            if name == TwoStage.name:
                raise ConfigError(f"TwoStageConfig.{stage} = {name!r}: a two-stage model cannot hold another")
            if name not in MODELS:
                import cinerec.models  # noqa: F401  (registers every model)
            if name not in MODELS:
                raise ConfigError(f"TwoStageConfig.{stage} = {name!r}: unknown model (known: {', '.join(sorted(MODELS))})")
            if not isinstance(getattr(self, f"{stage}_settings"), dict):
                raise ConfigError(f"TwoStageConfig.{stage}_settings: expected a table of settings")
        if not MODELS[self.ranker].can_score_pairs:
            able = ", ".join(sorted(n for n, c in MODELS.items() if c.can_score_pairs))
            raise ConfigError(f"TwoStageConfig.ranker = {self.ranker!r}: it cannot score (user, movie) pairs "
                              f"without scoring the whole catalogue, so it cannot rank a shortlist (these can: {able})")
        self.stage("retriever")  # a bad setting is named now, not at fit time
        self.stage("ranker")

    def stage(self, stage: str) -> Recommender:
        """A new, unfitted model for ``stage`` (``"retriever"`` or ``"ranker"``) with its settings."""
        return create(getattr(self, stage), getattr(self, f"{stage}_settings"), where=f"TwoStageConfig.{stage}_settings")


@register
class TwoStage(Recommender):
    """A retriever's shortlist ranked by a ranker (see the module docstring).

    Args:
        config: the settings.
        retriever, ranker: already fitted models to use as the stages (``fit`` then
            leaves them as they are); each must match the config's model names.
    """

    name = "two-stage"
    Config = TwoStageConfig
    config: TwoStageConfig

    def __init__(self, config: TwoStageConfig | None = None, *, retriever: Recommender | None = None,
                 ranker: Recommender | None = None) -> None:
        super().__init__(config)
        cfg = self.config
        for stage, given in (("retriever", retriever), ("ranker", ranker)):
            if given is not None and given.name != getattr(cfg, stage):
                raise ConfigError(f"two-stage: the given {stage} is a {given.name!r} model, the config names {getattr(cfg, stage)!r}")
        self.retriever: Recommender | None = retriever
        self.ranker: Recommender | None = ranker
        self._given = {"retriever": retriever is not None or bool(cfg.retriever_path),
                       "ranker": ranker is not None or bool(cfg.ranker_path)}
        # Capabilities follow the stages: new people need the retriever's cold start,
        # similarity and reasons are the retriever's, features go to whichever takes them.
        retr, rank = MODELS[cfg.retriever], MODELS[cfg.ranker]
        probe = retriever if retriever is not None else cfg.stage("retriever")
        self.can_score_history = probe.can_score_history
        self.has_item_vectors = probe.has_item_vectors
        self.uses_features = retr.uses_features or rank.uses_features  # type: ignore[misc]
        self._features: Any = None

    # -- fitting -------------------------------------------------------------------------

    def set_features(self, dataset: "Dataset") -> "TwoStage":
        """Hand ``dataset``'s side features to the stages that take them."""
        if not self.uses_features:
            raise CapabilityError(f"{self.name}: neither {self.config.retriever!r} nor {self.config.ranker!r} takes side features")
        self._features = dataset
        return self

    def _stage_for(self, stage: str, train: Interactions, valid: Interactions | None) -> Recommender:
        given = getattr(self, stage)
        path = getattr(self.config, f"{stage}_path")
        if given is None and path:
            given = load_model(path)
            if given.name != getattr(self.config, stage):
                raise ConfigError(f"TwoStageConfig.{stage}_path = {path!r}: holds a {given.name!r} model, "
                                  f"the config names {getattr(self.config, stage)!r}")
        if given is not None:
            if (given.n_users, given.n_items) != (train.n_users, train.n_items):
                raise DataError(f"two-stage: the given {stage} knows {given.n_users} users x {given.n_items} movies, "
                                f"the training data has {train.n_users} x {train.n_items}")
            return given
        model = self.config.stage(stage)
        if self._features is not None and model.uses_features:
            model.set_features(self._features)
        return model.fit(train, valid)

    def fit(self, train: Interactions, valid: Interactions | None = None) -> "TwoStage":
        """Fit each stage not given already fitted on ``train`` (``valid`` reaches both)."""
        retriever = self._stage_for("retriever", train, valid)
        ranker = self._stage_for("ranker", train, valid)
        self.retriever, self.ranker = retriever, ranker
        self._remember(train)  # last: a stage that fails leaves the model unfitted
        return self

    # -- scoring -------------------------------------------------------------------------

    def _stages(self) -> tuple[Recommender, Recommender]:
        self._train()
        assert self.retriever is not None and self.ranker is not None
        return self.retriever, self.ranker

    def _rank(self, users: np.ndarray, shortlist: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The ranker's scores of ``(n, c)`` shortlists (``-1`` padding scores ``-inf``),
        with each row put in movie order so that ties go to the lower movie."""
        n = self.n_items
        cand = np.sort(np.where(shortlist < 0, n, shortlist), axis=1)
        valid = cand < n
        cand = np.where(valid, cand, 0)
        scores = np.asarray(self._stages()[1].score(users, cand), dtype=np.float32)
        scores[~valid] = -np.inf
        return cand, scores

    def _check_k(self, k: int) -> None:
        if k > self.config.candidates:
            raise ConfigError(f"two-stage: k = {k} is more than candidates = {self.config.candidates}; "
                              f"ask for at most {self.config.candidates} or raise candidates")

    def recommend(self, users: Any, k: int = 10, exclude: Interactions | sp.csr_matrix | str | None = TRAIN,
                  candidates: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The ranker's top-``k`` of the retriever's top-``candidates`` unseen movies.

        ``exclude`` reaches the retriever, so the shortlist holds ``candidates`` movies
        the user may be offered; ``candidates`` (an ``(n, m)`` array) restricts the
        retriever's choice.
        """
        self._check_k(k)
        self._stages()  # both fitted, before any chunk
        return super().recommend(users, k, exclude, candidates)

    def _recommend_chunk(self, users: np.ndarray, k: int, seen: sp.csr_matrix | None,
                         candidates: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        retriever, _ = self._stages()
        shortlist, _ = retriever.recommend(users, self.config.candidates, exclude=seen, candidates=candidates)
        cand, sc = self._rank(users, shortlist)
        return top_k(sc, k, None, cand, copy=False)

    def _score_rows(self, users: np.ndarray) -> np.ndarray:
        """Ranker scores on each user's shortlist (training movies excluded), ``-inf`` elsewhere."""
        retriever, _ = self._stages()
        shortlist, _ = retriever.recommend(users, self.config.candidates, exclude=self._train())
        cand, sc = self._rank(users, shortlist)
        return _spread(cand, sc, self.n_items)

    def score_history(self, history: sp.csr_matrix) -> np.ndarray:
        """Scores for people described by ``history`` (``(n, n_items)`` CSR).

        The retriever's cold start shortlists ``candidates`` movies outside the history;
        the ranker scores them when it can score a history, else they keep the
        retriever's scores. Every other movie scores ``-inf``.
        """
        retriever, ranker = self._stages()
        if not self.can_score_history:
            raise CapabilityError(f"{self.name}: its retriever {retriever.name!r} cannot score a new user's history")
        h = sp.csr_matrix(history)
        if h.shape[1] != self.n_items:
            raise DataError(f"{self.name}: history has {h.shape[1]} movie columns, the model knows {self.n_items}")
        first = np.asarray(retriever.score_history(h), dtype=np.float32)
        shortlist, _ = top_k(first, self.config.candidates, h)
        n = self.n_items
        cand = np.sort(np.where(shortlist < 0, n, shortlist), axis=1)
        valid = cand < n
        cand = np.where(valid, cand, 0)
        if ranker.can_score_history:
            sc = np.take_along_axis(np.asarray(ranker.score_history(h), dtype=np.float32), cand, axis=1)
        else:
            sc = np.take_along_axis(first, cand, axis=1)
        sc[~valid] = -np.inf
        return _spread(cand, sc, n)

    # -- similarity and reasons: the retriever's ------------------------------------------

    def item_vectors(self) -> np.ndarray | None:
        return self._stages()[0].item_vectors()

    def item_similarity(self, items: np.ndarray) -> np.ndarray:
        return self._stages()[0].item_similarity(items)

    def similar_items(self, items: Any, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        return self._stages()[0].similar_items(items, k)

    # -- persistence ---------------------------------------------------------------------

    def _save_state(self, path: Path) -> None:
        retriever, ranker = self._stages()
        retriever.save(path / "retriever")
        ranker.save(path / "ranker")

    def _load_state(self, path: Path) -> None:
        for stage in ("retriever", "ranker"):
            m = load_model(path / stage)
            if m.name != getattr(self.config, stage) or (m.n_users, m.n_items) != (self.n_users, self.n_items):
                raise DataError(f"{path / stage}: holds a {m.name!r} model of {m.n_users} users and {m.n_items} movies, "
                                f"not this model's {getattr(self.config, stage)!r} of {self.n_users} x {self.n_items}")
            setattr(self, stage, m)
        retriever = cast(Recommender, self.retriever)  # set by the loop above
        self.can_score_history = retriever.can_score_history
        self.has_item_vectors = retriever.has_item_vectors


def _spread(cand: np.ndarray, scores: np.ndarray, n_items: int) -> np.ndarray:
    """``(n, n_items)`` rows holding ``scores`` at columns ``cand``, ``-inf`` elsewhere."""
    out = np.full((len(cand), n_items), -np.inf, dtype=np.float32)
    finite = np.isfinite(scores)
    rows = np.broadcast_to(np.arange(len(cand))[:, None], cand.shape)
    out[rows[finite], cand[finite]] = scores[finite]
    return out
