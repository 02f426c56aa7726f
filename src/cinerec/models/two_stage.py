"""Retrieve, then rank: ``two-stage``.

Covington, Adams and Sargin, "Deep Neural Networks for YouTube Recommendations",
RecSys 2016, and Yi et al., RecSys 2019: a cheap model picks a few hundred candidates
out of the whole catalogue, and a costlier model ranks only those. Here:

1. the **retriever** (ALS, MF, GMF or two-tower, with or without an approximate index,
   or EASE; any fitted model works) gives each user its top-``candidates`` unseen movies;
2. the **ranker** (any model that scores (user, movie) pairs cheaply,
   ``can_score_pairs``: NeuMF, MLP, GMF, mlp-rating, two-tower...) scores those pairs;
3. the two stages' scores are combined on the shortlist, ``mix`` weighing the ranker's
   (below);
4. the shared :func:`~cinerec.models.base.top_k` keeps the best ``k`` (ties to the lower
   movie index).

So the ranker's cost is ``candidates`` pairs per user instead of the whole catalogue. A
movie the retriever did not shortlist scores ``-inf``: it is never recommended.

**Combining the stages.** A ranker weaker than its retriever would otherwise undo the
retriever's order (on ml-100k under ``loo-full``, NeuMF alone reorders ALS's shortlist
to HR@10 0.156 against ALS's 0.174). With ``0 < mix < 1`` each stage's scores are
standardised per user over the shortlist (minus their mean, over their standard
deviation), and a movie scores ``mix * ranker + (1 - mix) * retriever``; ``mix = 1``
is the ranker's own scores (the model before this setting existed) and ``mix = 0`` the
retriever's, in its own order. ``mix = "auto"`` (the default) chooses the weight from
:data:`MIX_GRID` at fit time, on the training data alone:

1. each user's latest training rating (timestamp ties: the later row; users with one
   training rating keep it) is held out, as the leave-latest-out protocols do;
2. fresh stages with the same settings are fitted on the rest; the model's own stages
   when they were given already fitted, since those have seen the held-out ratings;
3. every weight of the grid ranks the held-out users' shortlists, and the one with the
   best HR@10 on the held-out ratings wins (ties: the better mean reciprocal rank, then
   the lower weight);
4. the stages are fitted on all of the training data (or used as given) and keep that
   weight.

The search costs one more fit of each stage on the training data less one rating per
user; the test data never reaches it, since ``fit`` sees only the training data. After
fitting, the config holds the chosen number (so ``model.json`` and a run's recorded
settings show it), and :attr:`TwoStage.mix_search` the held-out figures of every weight.

A new person (cold start) is shortlisted by the retriever's ``score_history``; when the
ranker scores a history too, the two are combined with the same weight, else the
shortlist keeps the retriever's order. Similar movies and the reasons given are the
retriever's (:meth:`item_vectors`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, cast

import numpy as np
import scipy.sparse as sp

from cinerec.config import Config
from cinerec.data.dataset import Interactions
from cinerec.data.split import leave_last_out
from cinerec.io import json_text
from cinerec.errors import ConfigError, DataError
from cinerec.models.base import (MODELS, TRAIN, CapabilityError, Recommender, check_history, chunks, create, load_model, register,
                                 top_k, with_seed)
from cinerec.ranking import check_k, standardise

if TYPE_CHECKING:
    from cinerec.data.dataset import Dataset

__all__ = ["MIX_GRID", "TwoStage", "TwoStageConfig"]

#: The weights ``mix = "auto"`` chooses from: 0 (the retriever's order) to 1 (the ranker's).
MIX_GRID: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
#: The list length whose hit rate on the held-out ratings chooses the weight.
MIX_K = 10


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
        mix: weight of the ranker's standardised scores against the retriever's on the
            shortlist, from 0 (the retriever's order) to 1 (the ranker's scores alone),
            or ``"auto"``: chosen from :data:`MIX_GRID` at fit time on a carve-out of
            the training data (see the module docstring). A fitted model's config holds
            the number chosen.
        seed: seeds each stage whose settings give it no seed of its own.
    """

    retriever: str = "als"
    ranker: str = "neumf"
    candidates: int = 200
    retriever_settings: dict[str, Any] = field(default_factory=dict)
    ranker_settings: dict[str, Any] = field(default_factory=dict)
    retriever_path: str = ""
    ranker_path: str = ""
    mix: float | str = "auto"
    seed: int = 0

    def validate(self) -> None:
        self._check(self.candidates >= 1, "candidates", "must be at least 1")
        number = isinstance(self.mix, (int, float)) and not isinstance(self.mix, bool)
        self._check(self.mix == "auto" or (number and 0 <= self.mix <= 1), "mix",  # type: ignore[operator]
                    'must be a number from 0 (the retriever\'s order) to 1 (the ranker\'s) or "auto"')
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
        """A new, unfitted model for ``stage`` (``"retriever"`` or ``"ranker"``) with its settings.

        Both stages rank, so a model with a ranking variant (``mf``'s ``ranking_settings``:
        ``loss="bpr"``...) gets it for each key its settings leave unset, as an ensemble's
        members and a ranking protocol's models do.
        """
        name, own = getattr(self, stage), getattr(self, f"{stage}_settings")
        cls = MODELS.get(name)
        where = f"TwoStageConfig.{stage}_settings"
        try:
            model = create(name, with_seed(name, cls.settings_ranking(own) if cls is not None else own, self.seed),
                           where=where)
        except ConfigError as e:  # a fault the model finds in its settings as a whole (an index it cannot use)
            if str(e).startswith(where):
                raise
            raise ConfigError(f"{where}: {e}") from None
        if stage == "retriever" and model.task == "rating":
            # A shortlist ordered by predicted stars holds what a ranking protocol refuses to
            # measure (each such model fell below popularity); a ranker of stars is allowed.
            chosen = {k: own[k] for k in (cls.stars_settings if cls is not None else {}) if k in own}
            said = ", ".join(f"{k} = {v!r}" for k, v in chosen.items())
            how, way = (f"with {said} it learns stars", "leave that unset (a retriever gets its ranking variant), or "
                        "retrieve") if chosen else ("it learns stars and has no ranking variant", "retrieve")
            raise ConfigError(f"TwoStageConfig.retriever = {name!r}: {how}, so it cannot shortlist; {way} with a "
                              "ranking model such as ease, als or itemknn (a model of stars may rank the shortlist)")
        return model


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
    # The shortlist's scores are the retriever's, or standardised and mixed with the
    # ranker's: below 0 is still the model's order, not an absence of evidence.
    history_scores_signed = True

    @classmethod
    def settings_unordered(cls, settings: Mapping[str, Any]) -> dict[str, Any]:
        """Each stage's settings with that stage's ``unordered_settings`` filled in."""
        out = super().settings_unordered(settings)
        for stage in ("retriever", "ranker"):
            name = out.get(stage, getattr(TwoStageConfig, stage))
            own = out.get(f"{stage}_settings", {})
            if isinstance(name, str) and name in MODELS and isinstance(own, dict):
                filled = MODELS[name].settings_unordered(own)
                if filled:
                    out[f"{stage}_settings"] = filled
        return out

    def __init__(self, config: TwoStageConfig | None = None, *, retriever: Recommender | None = None,
                 ranker: Recommender | None = None) -> None:
        super().__init__(config)
        cfg = self.config
        for stage, given in (("retriever", retriever), ("ranker", ranker)):
            if given is not None and given.name != getattr(cfg, stage):
                raise ConfigError(f"two-stage: the given {stage} is a {given.name!r} model, the config names {getattr(cfg, stage)!r}")
        self.retriever: Recommender | None = retriever
        self.ranker: Recommender | None = ranker
        # The stages handed in already fitted: every fit uses them as they are, and fits
        # the others afresh (never reusing what an earlier fit left in the attributes).
        self._given = {"retriever": retriever, "ranker": ranker}
        # What was asked, kept apart from the config: fitting writes the chosen weight
        # into the config, and a second fit of an "auto" model chooses again.
        self._asked_mix = cfg.mix
        #: The weight in use once fitted (the config's number, or the one chosen).
        self.mix_: float | None = None
        #: ``mix = "auto"``: the held-out figures of every weight of the grid
        #: (``grid``, ``hr@10``, ``mrr``, ``users``, ``chosen``); empty otherwise.
        self.mix_search: dict[str, Any] = {}
        # Capabilities follow the stages: new people need the retriever's cold start,
        # similarity and reasons are the retriever's, features go to whichever takes them.
        probe = retriever if retriever is not None else cfg.stage("retriever")
        ranks = ranker if ranker is not None else cfg.stage("ranker")
        self.can_score_history = probe.can_score_history
        self.has_item_vectors = probe.has_item_vectors
        # (the instances': mlp-rating takes features only when its settings say so)
        self.uses_features = probe.uses_features or ranks.uses_features  # type: ignore[misc]
        self._features: Any = None

    # -- fitting -------------------------------------------------------------------------

    def set_features(self, dataset: "Dataset") -> "TwoStage":
        """Hand ``dataset``'s side features to the stages that take them."""
        if not self.uses_features:
            raise CapabilityError(f"{self.name}: neither {self.config.retriever!r} nor {self.config.ranker!r} takes side features")
        was, self._features = self._features, dataset
        try:
            for stage in ("retriever", "ranker"):  # (a stage that cannot read them says so now, before any fit)
                if not getattr(self.config, f"{stage}_path") and self._given[stage] is None:  # (given: fitted already)
                    self._new_stage(stage, None)
        except Exception:
            self._features = was
            raise
        return self

    def _given_stage(self, stage: str) -> Recommender | None:
        """The stage given already fitted (as a model or a saved folder), or ``None``."""
        given = self._given[stage]
        path = getattr(self.config, f"{stage}_path")
        if given is None and path:
            given = load_model(path)
            if given.name != getattr(self.config, stage):
                raise ConfigError(f"TwoStageConfig.{stage}_path = {path!r}: holds a {given.name!r} model, "
                                  f"the config names {getattr(self.config, stage)!r}")
        return given

    def _new_stage(self, stage: str, like: Recommender | None) -> Recommender:
        """An unfitted ``stage`` with the settings of ``like`` (a given stage) or of the config."""
        model = create(like.name, like.config) if like is not None else self.config.stage(stage)
        if like is None:  # (a given stage's settings are its own, not this model's)
            model.settings_path = f"{stage}_settings."
        if self._features is not None and model.uses_features:
            model.set_features(self._features)
        return model

    def check_size(self, n_users: int, n_items: int) -> None:
        """Each stage to be fitted checks its settings against the data (an IVF index's
        cells, EASE's catalogue limit), named as that stage's settings."""
        for stage in ("retriever", "ranker"):
            if getattr(self.config, f"{stage}_path") or getattr(self, stage, None) is not None:
                continue  # given as it is: fitted already
            try:
                self.config.stage(stage).check_size(n_users, n_items)
            except ConfigError as e:
                raise ConfigError(f"{stage}_settings: {e}") from None

    def _check_fit_data(self, train: Interactions) -> None:
        self.check_size(train.n_users, train.n_items)

    def fit(self, train: Interactions, valid: Interactions | None = None) -> "TwoStage":
        """Fit each stage not given already fitted on ``train`` (``valid`` reaches both).

        With ``mix = "auto"`` the weight is chosen first, on a carve-out of ``train``
        (module docstring); the config then holds it.
        """
        given = {stage: self._given_stage(stage) for stage in ("retriever", "ranker")}
        for stage, model in given.items():
            if model is not None and (model.n_users, model.n_items) != (train.n_users, train.n_items):
                raise DataError(f"two-stage: the given {stage} knows {model.n_users} users x {model.n_items} movies, "
                                f"the training data has {train.n_users} x {train.n_items}")
        search: dict[str, Any] = {}
        if self._asked_mix == "auto":
            search = self._choose_mix(train, valid, given)
            mix = float(search["chosen"])
        else:
            mix = float(self._asked_mix)
        stages = {stage: model if model is not None else self._fit_stage(stage, train, valid)
                  for stage, model in given.items()}
        self.retriever, self.ranker = stages["retriever"], stages["ranker"]
        self.mix_, self.mix_search = mix, search
        self.config = self.config.replace(mix=mix)
        self._remember(train)  # last: a stage that fails leaves the model unfitted
        return self

    def _fit_stage(self, stage: str, train: Interactions, valid: Interactions | None,
                   like: Recommender | None = None) -> Recommender:
        """A new ``stage`` (of ``like``'s settings, when given) fitted on ``train``: a fault
        its data gives it names the stage too."""
        model = self._new_stage(stage, like)
        try:
            return model.fit(train, valid)
        except DataError as e:
            if str(e).startswith(f"{model.name}: "):
                raise DataError(f"two-stage's {stage} {e}") from None
            raise

    def _choose_mix(self, train: Interactions, valid: Interactions | None,
                    given: dict[str, Recommender | None]) -> dict[str, Any]:
        """The weight of :data:`MIX_GRID` that ranks each user's latest training rating best."""
        split = leave_last_out(train)
        if len(split.test) == 0:
            raise DataError("two-stage: mix = 'auto' holds out each user's latest training rating, but no user "
                            "has two; set mix to a number from 0 to 1")
        rest = split.train
        retriever = self._fit_stage("retriever", rest, valid, given["retriever"])
        ranker = self._fit_stage("ranker", rest, valid, given["ranker"])
        order = np.argsort(split.test.users, kind="stable")
        users = split.test.users[order].astype(np.int64)
        truth = split.test.items[order].astype(np.int64)
        grid = np.asarray(MIX_GRID)
        hits = np.zeros(len(grid))
        rr = np.zeros(len(grid))
        seen = rest.seen
        popular = np.argsort(-rest.item_counts, kind="stable")  # (as _popular, on what these stages saw)
        for sl in chunks(len(users), self.chunk_size):
            u = users[sl]
            shortlist, first = retriever.recommend(u, min(self.config.candidates, train.n_items), exclude=seen)
            # The shortlists the fitted model serves: places the retriever says nothing
            # for go to popular movies (_known_shortlist), here as there.
            silent = retriever.says_nothing(u, shortlist, first)
            if silent.any():
                _fill_popular(shortlist, first, silent, seen[u], popular)
            cand, first, valid_rows = _in_movie_order(shortlist, first, train.n_items)
            second = _masked(ranker.score(u, cand), valid_rows)
            at = (cand == truth[sl, None]) & valid_rows
            found = at.any(axis=1)
            col = at.argmax(axis=1)
            before = np.arange(cand.shape[1])[None, :] < col[:, None]  # lower movies win ties
            for g, w in enumerate(grid):
                s = _mixed(first, second, float(w))
                mine = s[np.arange(len(u)), col][:, None]
                rank = 1 + (s > mine).sum(axis=1) + ((s == mine) & before).sum(axis=1)
                hits[g] += (found & (rank <= MIX_K)).sum()
                rr[g] += np.where(found, 1.0 / rank, 0.0).sum()
        best = int(np.lexsort((grid, -rr, -hits))[0])
        n = len(users)
        return {"grid": grid.tolist(), f"hr@{MIX_K}": (hits / n).tolist(), "mrr": (rr / n).tolist(),
                "users": n, "chosen": float(grid[best])}

    # -- scoring -------------------------------------------------------------------------

    def _stages(self) -> tuple[Recommender, Recommender]:
        self._train()
        assert self.retriever is not None and self.ranker is not None
        return self.retriever, self.ranker

    def _mix(self) -> float:
        self._train()
        assert self.mix_ is not None
        return self.mix_

    def _rank(self, users: np.ndarray, shortlist: np.ndarray, first: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The combined scores of ``(n, c)`` shortlists whose retriever scores are ``first``
        (``-1`` padding scores ``-inf``), each row put in movie order so that ties go to
        the lower movie."""
        cand, first, valid = _in_movie_order(shortlist, first, self.n_items)
        mix = self._mix()
        if mix == 0.0:  # the retriever's order: the ranker is not asked
            return cand, first
        second = _masked(self._stages()[1].score(users, cand), valid)
        return cand, _mixed(first, second, mix)

    def _shortlist(self) -> int:
        """How many movies the retriever shortlists: ``candidates``, or the whole catalogue
        when that is smaller (a longer list would be padding the ranker still scores)."""
        return min(self.config.candidates, self.n_items)

    def check_list_length(self, k: int) -> None:
        """Refuse a list longer than the shortlist, for known and new people alike."""
        if k > self.config.candidates:
            # (a list asked longer than the catalogue is cut to it first: "-k 50: k = 8" said why 8)
            whole = " (every movie of the catalogue)" if self.train_ is not None and k == self.n_items else ""
            raise ConfigError(f"two-stage: k = {k}{whole} is more than candidates = {self.config.candidates}; "
                              f"ask for at most {self.config.candidates} or raise candidates")

    def recommend(self, users: Any, k: int = 10, exclude: Interactions | sp.csr_matrix | str | None = TRAIN,
                  candidates: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The top-``k`` of the retriever's top-``candidates`` unseen movies by the combined scores.

        ``exclude`` reaches the retriever, so the shortlist holds ``candidates`` movies
        the user may be offered; ``candidates`` (an ``(n, m)`` array) restricts the
        retriever's choice.
        """
        self.check_list_length(check_k(k))
        self._stages()  # both fitted, before any chunk
        return super().recommend(users, k, exclude, candidates)

    def _recommend_chunk(self, users: np.ndarray, k: int, seen: sp.csr_matrix | None,
                         candidates: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        shortlist, first = self._known_shortlist(users, seen, candidates)
        cand, sc = self._rank(users, shortlist, first)
        return top_k(sc, k, None, cand, copy=False)

    def _score_rows(self, users: np.ndarray) -> np.ndarray:
        """Combined scores on each user's shortlist (training movies excluded), ``-inf`` elsewhere."""
        shortlist, first = self._known_shortlist(users, self._train().seen, None)
        cand, sc = self._rank(users, shortlist, first)
        return _spread(cand, sc, self.n_items)

    def _known_shortlist(self, users: np.ndarray, seen: sp.csr_matrix | None,
                         candidates: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """The retriever's top-``candidates`` for known ``users``, places it says nothing
        for (:meth:`~cinerec.models.base.Recommender.says_nothing`) given to popular movies."""
        retriever, _ = self._stages()
        shortlist, first = retriever.recommend(users, self._shortlist(), exclude=seen, candidates=candidates)
        if candidates is None:  # (a shortlist among given candidates keeps to them)
            silent = retriever.says_nothing(users, shortlist, first)
            if silent.any():
                off = seen[users] if seen is not None else sp.csr_matrix((len(users), self.n_items), dtype=np.float32)
                _fill_popular(shortlist, first, silent, off, self._popular())
        return shortlist, first

    def _popular(self) -> np.ndarray:
        """Movie indices, the most rated first (ties: the lower index)."""
        return np.argsort(-self._train().item_counts, kind="stable")

    shortlists = True

    def score_history(self, history: sp.csr_matrix, exclude: sp.csr_matrix | None = None) -> np.ndarray:
        """Scores for people described by ``history`` (``(n, n_items)`` CSR).

        The retriever's cold start shortlists ``candidates`` movies outside the history
        and outside ``exclude`` (``(n, n_items)`` CSR: movies seen but not rated, those
        outside a genre asked for), as a known user's shortlist leaves out what may not be
        listed; when the ranker can score a history too, the stages' scores are combined
        as for a known user, else the shortlist keeps the retriever's scores. Every other
        movie scores ``-inf``.
        """
        retriever, ranker = self._stages()
        if not self.can_score_history:
            raise CapabilityError(f"{self.name}: its retriever {retriever.name!r} cannot score a new user's history")
        h = check_history(history, self.n_items, self.name)
        n = self.n_items
        off = h
        if exclude is not None:
            extra = check_history(exclude, n, self.name)
            if extra.shape[0] != h.shape[0]:
                raise ConfigError(f"{self.name}: exclude has {extra.shape[0]} rows, the history {h.shape[0]}")
            off = (abs(h) + abs(extra)).tocsr()  # (a rating of 0 is still an entry)
        scored = np.asarray(retriever.score_history(h), dtype=np.float32)
        shortlist, first = top_k(scored, self._shortlist(), off)
        silent = np.stack([retriever.history_says_nothing(h[r], scored[r]) for r in range(len(scored))]) \
            if len(scored) else np.zeros(scored.shape, dtype=bool)
        silent = np.take_along_axis(silent, np.maximum(shortlist, 0), axis=1) & (shortlist >= 0)
        if silent.any():
            _fill_popular(shortlist, first, silent, off, self._popular())
        cand, first, valid = _in_movie_order(shortlist, first, n)
        mix = self._mix() if ranker.can_score_history else 0.0
        if mix == 0.0:
            return _spread(cand, first, n)
        second = _masked(np.take_along_axis(np.asarray(ranker.score_history(h), dtype=np.float32), cand, axis=1), valid)
        return _spread(cand, _mixed(first, second, mix), n)

    # -- similarity and reasons: the retriever's ------------------------------------------

    def item_vectors(self) -> np.ndarray | None:
        return self._stages()[0].item_vectors()

    def item_similarity(self, items: np.ndarray) -> np.ndarray:
        return self._stages()[0].item_similarity(items)

    def similar_items(self, items: Any, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        return self._stages()[0].similar_items(items, k)

    def evidence(self, users: Any) -> sp.csr_matrix:
        return self._stages()[0].evidence(users)

    def settled_from_data(self) -> dict[str, Any]:
        return {"mix": "auto"} if self._asked_mix == "auto" else {}

    def _ask_again(self, asked: Mapping[str, Any]) -> None:
        if asked.get("mix") == "auto":
            self._asked_mix = "auto"

    def fit_notes(self) -> list[str]:
        """The stages' own (a tower that read ids only), then what ``mix = "auto"`` chose."""
        if getattr(self, "train_", None) is None:
            return []  # (not fitted: nothing to say)
        retriever, ranker = self._stages()
        own = list(dict.fromkeys(line for stage, model in (("retriever", retriever), ("ranker", ranker))
                                 for line in self._stage_notes(stage, model)))
        if self._asked_mix != "auto" or self.mix_ != 0.0:
            return own
        # (its lists are the retriever's: only the settings said so)
        return own + [f"{self.name}: mix = 'auto' chose 0 on held-out training ratings, so its lists are "
                      f"{retriever.name}'s own order and {ranker.name} changes none of them"]

    def _stage_notes(self, stage: str, model: Recommender) -> list[str]:
        """A stage's fit notes, a setting they name said as this model's key for it
        (``retriever_settings.regularization``); a stage handed in or read from a saved
        folder keeps its own words, and is left as it was."""
        if self._given[stage] is not None or getattr(self.config, f"{stage}_path"):
            return model.fit_notes()
        kept, model.settings_path = model.settings_path, f"{stage}_settings."
        try:
            return model.fit_notes()
        finally:
            model.settings_path = kept

    @property
    def personal(self) -> bool:  # type: ignore[override]
        """Whether the list's order comes from people's own histories: the retriever's
        alone at ``mix = 0`` (popularity's order lists popular movies, and says so)."""
        retriever, ranker = self._stages()
        return retriever.personal or (self._mix() > 0.0 and ranker.personal)

    def reads_ratings_as_seen(self) -> bool:
        """Whether a low rating draws in movies like it: its retriever's shortlist then holds
        them, or its ranker weighs their order (``mix > 0``)."""
        retriever, ranker = self._stages()
        return retriever.reads_ratings_as_seen() or (self._mix() > 0.0 and ranker.reads_ratings_as_seen())

    def chart_counts(self) -> np.ndarray | None:
        """The retriever's, when the list is in its order (``mix = 0``)."""
        retriever, _ = self._stages()
        return retriever.chart_counts() if self._mix() == 0.0 else None

    def _retriever_order_of_history(self) -> bool:
        """The list is in the retriever's own order (``mix = 0``) and the retriever is a
        model whose 0 means its history says nothing: such places hold popular movies."""
        retriever, _ = self._stages()
        return self._mix() == 0.0 and retriever.known_scores_from_history and not retriever.history_scores_signed

    def says_nothing(self, users: np.ndarray, items: np.ndarray, scores: np.ndarray) -> np.ndarray:
        if self._retriever_order_of_history():  # (those places already hold the most rated)
            return (np.asarray(scores) <= 0) & (np.asarray(items) >= 0)
        return super().says_nothing(users, items, scores)

    def history_says_nothing(self, history: sp.csr_matrix, scores: np.ndarray) -> np.ndarray:
        scores = np.asarray(scores).ravel()
        if self._retriever_order_of_history():
            return scores <= 0
        # A history that speaks to neither stage weighing in (say, movies neither learned
        # from) leaves the shortlist in no order of theirs: each place is a place no
        # evidence fills, as a single model's silence is, and the list fills it the same way.
        retriever, ranker = self._stages()
        mix = self._mix() if ranker.can_score_history else 0.0
        weighing = [m for m, weight in ((retriever, 1.0 - mix), (ranker, mix)) if weight > 0]
        if all(not m.history_scores_signed and m.history_says_nothing(history, m.score_history(history)).all()
               for m in weighing):
            return np.isfinite(scores)
        return np.zeros(scores.shape, dtype=bool)

    # -- persistence ---------------------------------------------------------------------

    def _save_state(self, path: Path) -> None:
        retriever, ranker = self._stages()
        retriever.save(path / "retriever")
        ranker.save(path / "ranker")
        # The weight itself is the config's (model.json); the search that chose it is kept here.
        (path / "two_stage.json").write_text(json_text({"mix_search": self.mix_search}, indent=2))

    def _load_state(self, path: Path) -> None:
        if isinstance(self.config.mix, str):
            raise DataError(f"{path}/model.json: mix = {self.config.mix!r}; a fitted two-stage model holds the weight "
                            f"it chose (a number from 0 to 1)")
        for stage in ("retriever", "ranker"):
            m = load_model(path / stage)
            if m.name != getattr(self.config, stage) or (m.n_users, m.n_items) != (self.n_users, self.n_items):
                raise DataError(f"{path / stage}: holds a {m.name!r} model of {m.n_users} users and {m.n_items} movies, "
                                f"not this model's {getattr(self.config, stage)!r} of {self.n_users} x {self.n_items}")
            setattr(self, stage, m)
        retriever = cast(Recommender, self.retriever)  # set by the loop above
        self.can_score_history = retriever.can_score_history
        self.has_item_vectors = retriever.has_item_vectors
        self.mix_ = float(self.config.mix)
        record = path / "two_stage.json"
        self.mix_search = dict(json.loads(record.read_text()).get("mix_search", {})) if record.exists() else {}


def _fill_popular(shortlist: np.ndarray, first: np.ndarray, silent: np.ndarray, off: sp.csr_matrix,
                  popular: np.ndarray) -> None:
    """In place: the ``silent`` places of each ``(n, c)`` shortlist (the retriever says
    nothing for them: a history model's 0, its padding in catalogue order) go to the most
    rated movies outside the row of ``off`` and the rest of the shortlist, best first; the
    retriever's score there is 0 less a hair per place, so its own order (``mix = 0``)
    lists them most rated first, not in catalogue order."""
    off = off.tocsr()
    for r in np.flatnonzero(silent.any(axis=1)):
        places = np.flatnonzero(silent[r])
        kept = shortlist[r][~silent[r] & (shortlist[r] >= 0)]
        blocked = np.union1d(off.indices[off.indptr[r]:off.indptr[r + 1]], kept)
        pool = popular[:len(places) + len(blocked)]
        chosen = pool[~np.isin(pool, blocked)][:len(places)]
        places = places[:len(chosen)]
        shortlist[r, places] = chosen
        first[r, places] = -np.arange(1, len(chosen) + 1, dtype=np.float32) * np.float32(1e-6)


def _spread(cand: np.ndarray, scores: np.ndarray, n_items: int) -> np.ndarray:
    """``(n, n_items)`` rows holding ``scores`` at columns ``cand``, ``-inf`` elsewhere."""
    out = np.full((len(cand), n_items), -np.inf, dtype=np.float32)
    finite = np.isfinite(scores)
    rows = np.broadcast_to(np.arange(len(cand))[:, None], cand.shape)
    out[rows[finite], cand[finite]] = scores[finite]
    return out


def _in_movie_order(shortlist: np.ndarray, first: np.ndarray, n_items: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(n, c)`` shortlists and their retriever scores, each row put in movie order.

    Returns ``(cand, first, valid)``: movie indices (``-1`` padding moved last and
    replaced by movie 0), the retriever's ``float32`` scores beside them (``-inf`` at
    padding) and where the real movies are.
    """
    key = np.where(shortlist < 0, n_items, shortlist)
    order = np.argsort(key, axis=1, kind="stable")
    cand = np.take_along_axis(key, order, axis=1)
    valid = cand < n_items
    scores = _masked(np.take_along_axis(np.asarray(first, dtype=np.float32), order, axis=1), valid)
    return np.where(valid, cand, 0), scores, valid


def _masked(scores: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """``float32`` ``scores`` with ``-inf`` where ``valid`` is false."""
    return np.where(valid, np.asarray(scores, dtype=np.float32), np.float32(-np.inf))


def _mixed(first: np.ndarray, second: np.ndarray, mix: float) -> np.ndarray:
    """``mix`` of the ranker's ``second`` against the retriever's ``first`` on ``(n, c)`` shortlists.

    At the ends the stage's own scores (so ``mix = 1`` is exactly the ranker's order and
    values); between them each row of each stage is standardised over its finite entries
    first, since the two stages' scores share no scale. ``-inf`` stays ``-inf``.
    """
    if mix == 1.0:
        return second
    if mix == 0.0:
        return first
    return (mix * standardise(second) + (1.0 - mix) * standardise(first)).astype(np.float32)
