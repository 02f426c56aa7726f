"""The one protocol every model follows.

A model only scores. :func:`cinerec.ranking.top_k` turns scores into rankings for every
model alike: it removes the movies a user has already seen, restricts to candidates when
asked, and breaks ties the same way everywhere. Users are scored in chunks so memory
stays bounded whatever the number of users.
"""

from __future__ import annotations

import functools
import json
import os
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterator, Mapping, TypeVar

import numpy as np
import scipy.sparse as sp
import torch

import cinerec
from cinerec.config import Config
# Inside a model class ``Config`` names the class attribute (that model's config class),
# so annotations there spell the base class with this alias.
from cinerec.config import Config as _BaseConfig
from cinerec.data.dataset import Dataset, Interactions
from cinerec.errors import (CinerecError, ConfigError, DataError, NotFoundError, OutOfMemory, allocation_words,
                            expect, format_refused, out_of_memory, unknown_name, unreadable)
from cinerec.io import atomic_dir, json_text, written_files
from cinerec.ranking import check_k, top_k

__all__ = [
    "Recommender", "RatingRecommender", "register", "MODELS", "create", "model_class", "load_model", "saved_model_info",
    "top_k", "chunks", "create_member", "MODEL_FORMAT", "TRAIN", "CapabilityError",
]

MODEL_FORMAT = 1
TRAIN = "train"  # the default of ``exclude``: the interactions the model was fitted on

MODELS: dict[str, type["Recommender"]] = {}


class CapabilityError(CinerecError):
    """The model does not offer what was asked (e.g. rating prediction from a ranking model)."""


def register(cls: type["Recommender"]) -> type["Recommender"]:
    """Class decorator: make a model reachable by its ``name`` (CLI, saved runs)."""
    if cls.name in MODELS and MODELS[cls.name] is not cls:
        raise ValueError(f"two models are named {cls.name!r}")
    MODELS[cls.name] = cls
    return cls


def model_class(name: str) -> type["Recommender"]:
    """The registered model class named ``name``; an unknown name is one line listing the known ones."""
    import cinerec.models  # noqa: F401  (registers every model)

    try:
        return MODELS[name]
    except KeyError:
        raise NotFoundError(unknown_name("model", name, sorted(MODELS))) from None


def create(name: str, config: Config | dict[str, Any] | None = None, *, where: str = "config") -> "Recommender":
    """A new, unfitted model by name; ``config`` may be a mapping checked against its config class."""
    cls = model_class(name)
    if config is None or isinstance(config, Mapping):  # (a dict, or any mapping: the settings it holds)
        config = cls.Config.from_dict(dict(config or {}), where=where)
    return cls(config)


def with_seed(name: str, settings: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """``settings`` of the model ``name``, held by another model, with ``seed`` where the
    model has a seed and its settings give none: the holder's seed (``--seed``, a study's
    seeds) reaches every part of it that draws at random, as it reaches a model alone."""
    out = dict(settings)
    if "seed" not in out and "seed" in model_class(name).Config.__dataclass_fields__:
        out["seed"] = seed
    return out


def create_member(owner: str, name: str, settings: Mapping[str, Any], seed: int = 0) -> "Recommender":
    """A new, unfitted member ``name`` of a model that holds others (``blend``,
    ``ensemble``), with its table from ``settings`` and the owner's ``seed`` unless the
    table gives its own; a mistake is one line naming the owner's config key
    (``BlendConfig.members``, ``EnsembleConfig.settings.ease``...)."""
    kind = f"{owner.capitalize()}Config"
    if name == owner:
        raise ConfigError(f"{kind}.members: {'an' if owner[0] in 'aeiou' else 'a'} {owner} cannot contain another {owner}")
    values = settings.get(name, {})
    if not isinstance(values, dict):
        raise ConfigError(f"{kind}.settings.{name} = {values!r}: expected a table of settings")
    try:
        return create(name, with_seed(name, values, seed), where=f"{kind}.settings.{name}")
    except NotFoundError as e:
        raise ConfigError(f"{kind}.members: {e}") from None


def chunks(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))


def _similarity_checked(fn: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    """``item_similarity`` that first refuses, in one line, an unfitted model and movies
    that are not a flat list of indices (:func:`_indices`)."""
    @functools.wraps(fn)
    def checked(self: Any, items: Any) -> np.ndarray:
        self._train()
        it = np.atleast_1d(_indices(items, self.n_items, "movie"))
        if it.ndim != 1:
            raise ConfigError(f"{self.name}.item_similarity: expected a flat list of movie indices, got an array of "
                              f"shape {it.shape}")
        return fn(self, it)

    checked._checked = True  # type: ignore[attr-defined]
    return checked


def _fitted_first(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``item_vectors`` that first refuses an unfitted model in one line."""
    @functools.wraps(fn)
    def checked(self: Any) -> Any:
        self._train()
        return fn(self)

    checked._checked = True  # type: ignore[attr-defined]
    return checked


def _dataset_first(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``set_features`` that first refuses, in one line, anything but a Dataset (its
    Interactions ended in "has no attribute 'user_features'")."""
    @functools.wraps(fn)
    def checked(self: Any, dataset: Any) -> Any:
        if not isinstance(dataset, Dataset):
            hint = " (the one its interactions come from: load(...))" if isinstance(dataset, Interactions) else ""
            raise ConfigError(f"{self.name}.set_features: expected a Dataset{hint}, got {type(dataset).__name__}")
        return fn(self, dataset)

    checked._checked = True  # type: ignore[attr-defined]
    return checked


class Recommender(ABC):
    """The protocol of every model, classical or neural.

    Subclasses set ``name`` and ``Config``, implement :meth:`fit` (calling
    :meth:`_remember` with the training interactions) and :meth:`_score_rows`, and the
    persistence hooks :meth:`_save_state` / :meth:`_load_state`. Everything else
    (pair scores, ranking, exclusion, chunking, save/load framing) lives here, so the
    answer for one user is by construction that user's row of the batch answer.
    """

    name: ClassVar[str]
    Config: ClassVar[type[Config]]
    # Capabilities, declared by each model class and read from here by the store, the
    # API, the CLI and the protocols (never probed with ``hasattr`` or method identity).
    # The two that can depend on the config are class defaults rather than ``ClassVar``s,
    # so a model may set them per instance (AutoRec's ``can_score_history`` follows its
    # ``kind``, Blend's ``has_item_vectors`` its members).
    #: True when the model can score a history it was not trained on (cold start).
    can_score_history: bool = False
    #: Where this model's settings are set, as a message that names one says it: "" for a
    #: model on its own, "settings.als." for an ensemble's member, "retriever_settings."
    #: for a two-stage model's stage (``--set settings.als.regularization=10``).
    settings_path: str = ""
    #: True when :meth:`item_vectors` returns movie vectors (similarity is their cosine).
    has_item_vectors: bool = False
    #: True when the vector of a movie no training rating reached still says something of
    #: it (a two-tower model whose movie tower reads genres and year); False when it is
    #: still its random start, so that such a movie is like none (:meth:`similarity_vectors`).
    vectors_without_ratings: bool = False
    #: True when a history's scores (:meth:`score_history`) of 0 or below still rank
    #: movies (standardised or mixed scores); False when they mean the history says
    #: nothing for the movie, whose place in a cold-start list then goes to a popular one.
    history_scores_signed: ClassVar[bool] = False
    #: True when a known person's scores, too, are their history row through the model's
    #: weights (item-kNN, EASE, seqknn), so that 0 or below means the history says
    #: nothing for the movie (or, EASE, speaks against it): such places in their list go
    #: to popular movies, as in a new person's.
    known_scores_from_history: ClassVar[bool] = False
    #: False when a person's scores do not come from their own history at all
    #: (popularity: the same counts for everyone): no movie they liked explains them, so
    #: every movie of their list is said to be listed for its popularity.
    personal: ClassVar[bool] = True
    #: What such a model's lists give as every movie's reason (their order is a chart).
    chart_reason: ClassVar[str] = "popular with many viewers"
    #: True when :meth:`predict` gives stars (set by :class:`RatingRecommender`).
    can_predict_ratings: ClassVar[bool] = False
    #: True when :meth:`predict_liked` gives the probability that a person likes a movie
    #: (a model trained on liked-or-not labels, e.g. ``target = "liked"``); its scores are
    #: then no stars. Set per instance from the config.
    can_predict_liked: bool = False
    #: ``"ranking"`` or ``"rating"``: what the model is trained to get right.
    task: ClassVar[str] = "ranking"
    #: Settings that make a model trained for stars train for ranking instead, for a
    #: ranking protocol to apply when the user chose none of them (empty: the model has
    #: no ranking variant); see ``Protocol.settings_for``.
    ranking_settings: ClassVar[Mapping[str, Any]] = {}
    #: The way back for such a model: the settings that make it learn stars again (what a
    #: rating protocol's refusal of its ranking variant names).
    stars_settings: ClassVar[Mapping[str, Any]] = {}
    #: Settings for a protocol whose held-out movies are drawn at random from each
    #: history rather than being its latest (``random-full``, the rating protocols):
    #: the recency weighting that helps predict what a person sees next has nothing to
    #: predict there. Applied for keys the user did not choose (``Protocol.settings_for``,
    #: through :meth:`settings_unordered`).
    unordered_settings: ClassVar[Mapping[str, Any]] = {}
    #: True when the model reads each person's ratings in the order they were made (a
    #: sequence): on data without times that order is the file's, and its fit says so.
    reads_order: ClassVar[bool] = False
    #: True when the model takes user and movie features (:meth:`set_features`).
    uses_features: ClassVar[bool] = False
    #: Settings a search may tune (:func:`cinerec.tuning.tune`), name → ``Param``; it
    #: holds each setting's default.
    search_space: ClassVar[Mapping[str, Any]] = {}
    #: True when :meth:`query_vectors` and :meth:`key_vectors` exist and their inner
    #: product orders each user's scores (an approximate-neighbour index can serve it).
    has_inner_product: ClassVar[bool] = False
    #: True when a (user, movie) pair score costs about one pair, not a whole catalogue
    #: row, so the model can rank a few hundred candidates cheaply (a two-stage ranker).
    can_score_pairs: ClassVar[bool] = False
    #: True when ``fit(train, valid, init=other)`` can start from another fitted model
    #: (:meth:`accepts_init` says which); a search uses it between trials.
    can_warm_start: ClassVar[bool] = False
    #: Users scored per chunk in ``recommend``.
    chunk_size: ClassVar[int] = 2048
    #: Bytes of scratch memory one block of :meth:`explain` may use.
    explain_budget: ClassVar[int] = 64 << 20

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # A model's own similarities and vectors: asked of an unfitted model, or for movies
        # given as anything but indices, they said it in Python's or NumPy's words ("50",
        # the text, read as the 51st movie without a word).
        for name, wrap in (("item_similarity", _similarity_checked), ("item_vectors", _fitted_first),
                           ("set_features", _dataset_first)):
            own = cls.__dict__.get(name)
            if own is not None and not getattr(own, "_checked", False):
                setattr(cls, name, wrap(own))
        # Every model's fit takes Interactions: a Dataset or a DataFrame given instead is
        # one line saying so, not an error from deep inside the model.
        fit = cls.__dict__.get("fit")
        if fit is None or getattr(fit, "_checked", False):
            return

        @functools.wraps(fit)
        def checked(self: Any, train: Any, *args: Any, **kw: Any) -> Any:
            if not isinstance(train, Interactions):
                hint = " (its .interactions)" if hasattr(train, "interactions") else ""
                raise ConfigError(f"{self.name}.fit: expected Interactions{hint}, got {type(train).__name__}")
            if len(train) == 0:  # (before a model holding others searches anything on it)
                raise DataError(f"{self.name}: cannot fit on an empty training set")
            valid = args[0] if args else kw.get("valid")
            if valid is not None and not isinstance(valid, Interactions):
                hint = " (its .interactions)" if hasattr(valid, "interactions") else ""
                raise ConfigError(f"{self.name}.fit: valid: expected Interactions{hint} or None, got "
                                  f"{type(valid).__name__}")
            if valid is not None and (valid.n_users, valid.n_items) != (train.n_users, train.n_items):
                raise ConfigError(f"{self.name}.fit: valid holds {valid.n_users}×{valid.n_items} users×movies and "
                                  f"train {train.n_users}×{train.n_items}: give both in the id space of one dataset "
                                  "(a split of its interactions)")
            self._check_fit_data(train)
            try:
                return fit(self, train, *args, **kw)
            except (MemoryError, RuntimeError, ValueError) as e:  # a setting asking for too much: one line
                if isinstance(e, CinerecError) or not out_of_memory(e):
                    raise
                raise OutOfMemory(self.name, allocation_words(e)) from None

        checked._checked = True  # type: ignore[attr-defined]
        cls.fit = checked  # type: ignore[method-assign]

    def _check_fit_data(self, train: Interactions) -> None:
        """Refuse, before any work, settings that cannot hold for ``train`` (one line);
        a model with such a setting overrides it."""
        return None

    def __init__(self, config: _BaseConfig | None = None) -> None:
        self.config: _BaseConfig = config if config is not None else self.Config()
        if not isinstance(self.config, self.Config):
            raise ConfigError(f"{self.name}: settings: expected a mapping of setting to value (or the model's "
                              f"{self.Config.__name__}), got {type(self.config).__name__}")
        self.train_: Interactions | None = None
        #: Whether the data it was fitted on has no times (every time alike): order and
        #: recency then come from the file alone (:meth:`fit_notes`).
        self.untimed_ = False
        #: One dict per training epoch (``epoch``, ``loss``, ``valid``...) for models
        #: that train epoch by epoch; empty for the others.
        self.history: list[dict[str, Any]] = []

    @classmethod
    def settings_unordered(cls, settings: Mapping[str, Any]) -> dict[str, Any]:
        """``settings`` with :attr:`unordered_settings` filled in where they say nothing
        (a model holding other models fills in its members' too)."""
        return {**cls.unordered_settings, **settings}

    @classmethod
    def settings_ranking(cls, settings: Mapping[str, Any]) -> dict[str, Any]:
        """``settings`` with :attr:`ranking_settings` filled in where they say nothing: what
        a model that ranks as part of another (an ensemble's member, a two-stage stage) is
        created with."""
        return {**cls.ranking_settings, **settings}

    # -- what a search may use ------------------------------------------------------------

    @classmethod
    def tuning_fits(cls, train: Interactions, fixed: Mapping[str, Any],
                    searched: set[str]) -> Callable[[Mapping[str, Any]], "Recommender"] | None:
        """A function from a trial's settings to a model fitted on ``train`` that shares
        work between trials (EASE: one eigendecomposition for every λ), or ``None``
        when each trial fits as usual (the default)."""
        return None

    def accepts_init(self, other: object) -> bool:
        """True when :meth:`fit` can start from ``other`` (see :attr:`can_warm_start`)."""
        return False

    # -- to implement ------------------------------------------------------------------

    @abstractmethod
    def fit(self, train: Interactions, valid: Interactions | None = None) -> "Recommender":
        """Learn from ``train`` (``valid`` may drive early stopping); returns ``self``."""

    @abstractmethod
    def _score_rows(self, users: np.ndarray) -> np.ndarray | torch.Tensor:
        """``(len(users), n_items) float32`` scores over the whole catalog.

        The result must be a new array or tensor: ``recommend`` ranks it in place.
        """

    def _score_pairs(self, users: np.ndarray, items: np.ndarray) -> np.ndarray | torch.Tensor:
        """``(n,)`` scores of (user, item) pairs; override when cheaper than whole rows.

        Like :meth:`_score_rows`, an override may return a tensor.
        """
        out = np.empty(len(users), dtype=np.float32)
        uniq, inv = np.unique(users, return_inverse=True)
        for sl in chunks(len(uniq), self.chunk_size):
            rows = np.asarray(self._score_rows(uniq[sl]))
            sel = (inv >= sl.start) & (inv < sl.stop)
            out[sel] = rows[inv[sel] - sl.start, items[sel]]
        return out

    def _save_state(self, path: Path) -> None:  # noqa: B027  (deliberately a no-op: nothing learned, nothing to write)
        """Write learned parameters into the folder ``path`` (``.npz`` or a state dict)."""

    def _load_state(self, path: Path) -> None:  # noqa: B027  (the no-op partner of _save_state)
        """Read what :meth:`_save_state` wrote."""

    # -- the protocol ------------------------------------------------------------------

    @property
    def is_fitted(self) -> bool:
        return self.train_ is not None

    def settled_from_data(self) -> dict[str, Any]:
        """The settings a fit settles from its data ("auto", unset), as they were asked
        for: saved with the model, so that a loaded model fitted again settles them again
        (the config holds the values the last fit chose); none by default."""
        return {}

    def _ask_again(self, asked: Mapping[str, Any]) -> None:  # noqa: B027  (nothing settled by default)
        """Take :meth:`settled_from_data` back from a saved model."""

    def fit_notes(self) -> list[str]:
        """Lines about what the fit chose that changes what the figures mean (a two-stage
        model whose ranker it left out), printed beside them. Here: what data without
        times did to it (a recency weighting that weighs nothing, a sequence read in the
        file's order); a model with notes of its own adds them to these."""
        if not self.untimed_:
            return []
        notes = []
        half_life = getattr(self.config, "recency_half_life", 0.0)
        # (one asked for: the default's, weighing nothing too, goes with what the protocol says of the times)
        if half_life and half_life != getattr(type(self.config)(), "recency_half_life", None):
            notes.append(f"{self.name}: recency_half_life = {half_life:g} weighs nothing here: the data has no times "
                         "(no time column, or every time alike)")
        if self.reads_order:
            notes.append(f"{self.name}: the data has no times (no time column, or every time alike), so it reads each "
                         "person's ratings in the file's order as the order they were made")
        return notes

    @property
    def n_users(self) -> int:
        return self._train().n_users

    @property
    def n_items(self) -> int:
        return self._train().n_items

    def _remember(self, train: Interactions) -> None:
        if len(train) == 0:
            raise DataError(f"{self.name}: cannot fit on an empty training set")
        self.train_ = train
        self.untimed_ = train.untimed
        self.__dict__.pop("_cooc", None)  # the earlier training set's similarities (_cooccurrence_basis)

    def __repr__(self) -> str:
        """One line for a notebook: the settings that differ from the defaults, and what it
        was fitted on."""
        try:
            default = type(self.config)().to_dict()
            own = {k: v for k, v in self.config.to_dict().items() if default.get(k, object()) != v}
        except Exception:  # (a config that cannot be built bare: all of it)
            own = self.config.to_dict()
        settings = ", ".join(f"{k}={v!r}" for k, v in own.items()) or "defaults"
        fitted = (f"fitted on {len(self.train_):,} ratings of {self.train_.n_users:,} users x "
                  f"{self.train_.n_items:,} movies" if self.train_ is not None else "not fitted")
        return f"<{self.name}: {settings}; {fitted}>"

    def _train(self) -> Interactions:
        if self.train_ is None:
            raise CapabilityError(f"{self.name}: the model is not fitted yet")
        return self.train_

    def _check_users(self, users: Any) -> np.ndarray:
        u = np.atleast_1d(_indices(users, self.n_users, "user"))
        if u.ndim != 1:
            raise ConfigError(f"users must be a flat list of user indices, got an array of shape {u.shape}")
        return u

    def score(self, users: Any, items: Any = None) -> np.ndarray:
        """Scores, higher is better.

        Args:
            users: ``(n,)`` user indices.
            items: ``None`` for whole rows ``(n, n_items)``; ``(n,)`` item indices for
                pair scores ``(n,)``; ``(n, m)`` for ``m`` candidates per user ``(n, m)``.
        """
        u = self._check_users(users)
        if items is None:
            return np.concatenate(
                [np.asarray(self._score_rows(u[sl]), dtype=np.float32) for sl in chunks(len(u), self.chunk_size)]
                or [np.zeros((0, self.n_items), np.float32)]
            )
        it = np.atleast_1d(_indices(items, self.n_items, "movie"))
        if it.ndim == 1:
            if len(it) != len(u):
                raise ConfigError(f"pair scores need as many movies as users, got {len(it)} movies for {len(u)} users")
            return np.asarray(self._score_pairs(u, it)).astype(np.float32)
        if it.ndim != 2:
            raise ConfigError(f"items must be (n,) movie indices or (n, m) candidates, got an array of shape {it.shape}")
        if it.shape[0] != len(u):
            raise ConfigError(f"candidate rows must match users, got {it.shape[0]} rows for {len(u)} users")
        flat = np.asarray(self._score_pairs(np.repeat(u, it.shape[1]), it.ravel()))
        return flat.reshape(it.shape).astype(np.float32)

    def recommend(
        self,
        users: Any,
        k: int = 10,
        exclude: Interactions | sp.csr_matrix | str | None = TRAIN,
        candidates: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` items per user: ``(items (n, k) int32, scores (n, k) float32)``.

        ``exclude`` defaults to the training interactions (movies already seen are never
        recommended); pass ``None`` to rank every item, or other interactions / a CSR
        matrix to exclude those. ``candidates`` ``(n, m)`` restricts each user's ranking.
        A ``k`` beyond the catalogue asks for the whole catalogue: the lists are then
        ``n_items`` long (with ``-1`` where a movie is excluded), never longer.
        """
        k = check_k(k)
        u = self._check_users(users)
        k = min(k, self.n_items)
        seen = self._exclusion(exclude)
        if candidates is not None:
            candidates = _candidates(candidates, len(u), self.n_items)
        items_out, scores_out = [], []
        for sl in chunks(len(u), self.chunk_size):
            cand = np.asarray(candidates)[sl] if candidates is not None else None
            it, sc = self._recommend_chunk(u[sl], k, seen, cand)
            items_out.append(it)
            scores_out.append(sc)
        if not items_out:
            return np.zeros((0, k), np.int32), np.zeros((0, k), np.float32)
        return np.concatenate(items_out), np.concatenate(scores_out)

    def _recommend_chunk(self, users: np.ndarray, k: int, seen: sp.csr_matrix | None,
                         candidates: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`recommend` for one chunk of users.

        Args:
            users: ``(n,)`` user indices.
            k: list length (at least 1).
            seen: ``(n_users, n_items)`` CSR of movies never to return, or ``None``.
            candidates: ``(n, m)`` movies each user's ranking is restricted to, or ``None``.

        Models that find their lists another way (an index, a shortlist) override this;
        the checks, the exclusion rule and the chunking stay in :meth:`recommend`.
        """
        ex = seen[users] if seen is not None else None
        if candidates is None:
            return top_k(self._score_rows(users), k, ex, copy=False)
        return top_k(self.score(users, candidates), k, ex, candidates, copy=False)

    def _exclusion(self, exclude: Interactions | sp.csr_matrix | str | None) -> sp.csr_matrix | None:
        """The ``(n_users, n_items)`` CSR of movies never to return, from ``recommend``'s ``exclude``."""
        if isinstance(exclude, str):
            if exclude != TRAIN:
                raise ConfigError(f"exclude={exclude!r}: expected {TRAIN!r}, interactions or None")
            exclude = self._train()
        seen = exclude.seen if isinstance(exclude, Interactions) else exclude
        if seen is not None:
            if not sp.issparse(seen):
                raise ConfigError(f"exclude: expected {TRAIN!r}, interactions, a sparse matrix or None, "
                                  f"got {type(seen).__name__}")
            if seen.shape != (self.n_users, self.n_items):
                raise ConfigError(f"exclude: a {seen.shape[0]}×{seen.shape[1]} matrix, the model knows "
                                  f"{self.n_users}×{self.n_items} users×movies (another id space?)")
            seen = sp.csr_matrix(seen)
        return seen

    def check_size(self, n_users: int, n_items: int) -> None:
        """Refuse, before any fit, data this model cannot take at its settings (a dense
        model's catalogue limit); a study checks every model before the first trains.
        Most models take any size."""
        return None

    # -- cold start, similarity and reasons ---------------------------------------------

    def set_features(self, dataset: Any) -> "Recommender":
        """Take side features (demographics, genres, years) from a dataset before ``fit``.

        Models that set ``uses_features`` override this.
        """
        raise CapabilityError(f"{self.name} takes no side features")

    def predict(self, users: Any, items: Any) -> np.ndarray:
        """``(n,) float32`` predicted stars for ``(n,)`` user and movie index pairs: rating
        models (:class:`RatingRecommender`) predict them; a model that ranks says so."""
        stars = sorted(n for n, c in MODELS.items() if issubclass(c, RatingRecommender))
        raise CapabilityError(f"{self.name} ranks movies and predicts no stars; the models that do: {', '.join(stars)}")

    def predict_liked(self, users: Any, items: Any) -> np.ndarray:
        """``(n,) float32`` probability that each user likes each movie, for ``(n,)`` pairs.

        Models that set ``can_predict_liked`` override this and :meth:`is_liked`.
        """
        raise CapabilityError(f"{self.name} was not trained on liked-or-not labels")

    def is_liked(self, ratings: Any) -> np.ndarray:
        """``(n,) bool``: which of ``(n,)`` star ratings count as liked in the labels the model learnt."""
        raise CapabilityError(f"{self.name} was not trained on liked-or-not labels")

    #: ``score_history`` takes ``exclude``: its scores depend on which movies may be listed
    #: (two stages shortlist among them), so the caller names those that may not.
    shortlists: ClassVar[bool] = False

    def score_history(self, history: sp.csr_matrix) -> np.ndarray:
        """``(n, n_items)`` scores for people described only by their ratings.

        ``history`` is ``(n, n_items)`` CSR with ratings (or ones) for the movies each
        person gave. Models that set ``can_score_history`` override this.
        """
        raise CapabilityError(f"{self.name} cannot score a new user's history")

    def item_vectors(self) -> np.ndarray | None:
        """``(n_items, d)`` vectors whose cosine says how alike two movies are, or ``None``.

        Without them, similarity falls back to co-occurrence in the training data.
        """
        return None

    def similarity_vectors(self) -> np.ndarray | None:
        """``(n_items, d) float32`` :meth:`item_vectors` as similarity reads them: a movie no
        training rating reached has a zero vector (unless ``vectors_without_ratings``), so
        it is like no movie and none is like it; its own vector is where training started
        it, at random. ``None`` when the model has no movie vectors."""
        vec = self.item_vectors()
        if vec is None:
            return None
        vec = np.asarray(vec, dtype=np.float32)
        if not self.vectors_without_ratings:
            unrated = self._train().item_counts == 0
            if unrated.any():
                vec = vec.copy()  # (a model's vectors may be its own weights' memory)
                vec[unrated] = 0.0
        return vec

    @_similarity_checked
    def item_similarity(self, items: np.ndarray) -> np.ndarray:
        """``(len(items), n_items) float32`` similarity of each given movie (indices) to every movie."""
        items = np.asarray(items, dtype=np.int64)
        vec = self.similarity_vectors()
        if vec is not None:
            v = vec
            v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
            return cosine_range(v[items] @ v.T)
        x = self._cooccurrence_basis()
        cols = x[:, items].T.tocsr()
        return cosine_range((cols @ x).toarray().astype(np.float32))

    def _cooccurrence_basis(self) -> sp.csc_matrix:
        if not hasattr(self, "_cooc"):
            x = self._train().seen.tocsc().astype(np.float32)
            norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=0)).ravel())
            self._cooc = (x @ sp.diags(1.0 / np.maximum(norms, 1e-12))).tocsc()
        return self._cooc

    def similar_items(self, items: Any, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` movies most like each given movie (never the movie itself); a ``k``
        beyond the catalogue asks for the whole catalogue, as :meth:`recommend`."""
        k = check_k(k)
        it = np.atleast_1d(_indices(items, self.n_items, "movie"))
        if it.ndim != 1:
            raise ConfigError(f"similar_items: expected a flat list of movie indices, got an array of shape {it.shape}")
        self_mask = sp.csr_matrix((np.ones(len(it)), (np.arange(len(it)), it)), shape=(len(it), self.n_items))
        return top_k(self.item_similarity(it), min(k, self.n_items), self_mask)

    def reads_ratings_as_seen(self) -> bool:
        """Whether a history's ratings, however low, are read as movies seen (item-kNN and EASE
        with ``binary = true``, seqknn; ALS weighs them by their stars, never against): a
        movie given one star then draws in movies like it."""
        return False

    def chart_counts(self) -> np.ndarray | None:
        """``(n_items,)``: the counts a model that is not :attr:`personal` ranks every movie
        by (popularity: its training part's), which its lists' reasons are worded from;
        ``None`` for a model with no such counts."""
        return None

    def says_nothing(self, users: np.ndarray, items: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """``(n, k) bool``: the places of known ``users``' lists (``items``, ``-1`` padding,
        with their ``scores``) that nothing in the user's history speaks for, which a list
        gives to popular movies instead: a score of 0 or below from a model whose scores
        are the history row through its weights (``known_scores_from_history``)."""
        if self.known_scores_from_history and not self.history_scores_signed:
            return (np.asarray(scores) <= 0) & (np.asarray(items) >= 0)
        return np.zeros(np.shape(items), dtype=bool)

    def history_says_nothing(self, history: sp.csr_matrix, scores: np.ndarray) -> np.ndarray:
        """``(n_items,) bool``: the movies a new person's :meth:`score_history` ``scores``
        (one row, of ``history``) say nothing for: 0 or below, unless the model's scores
        stay an order there (``history_scores_signed``)."""
        scores = np.asarray(scores).ravel()
        return np.zeros(scores.shape, dtype=bool) if self.history_scores_signed else scores <= 0

    def evidence(self, users: Any) -> sp.csr_matrix:
        """``(n, n_items)`` CSR, row ``r`` the movies the model's scores for ``users[r]``
        are built from, the only ones a reason may name: the user's training ratings
        (a movie the model never saw them rate explains none of its scores). A model
        that reads less of a history (``seqknn``: the latest ``history_movies``) says so."""
        return self._train().seen[self._check_users(users)]

    def explain(self, history: sp.csr_matrix, items: np.ndarray) -> np.ndarray:
        """For each recommended movie, the movie of the person's history most like it.

        This is the one explanation every path uses (CLI, store, API, page). Callers
        pass only the movies that may be named, i.e. the person's liked movies
        (:func:`cinerec.data.history.liked`) among the model's :meth:`evidence`. Similarity is :meth:`item_similarity`;
        ties go to the lowest movie index. A movie whose similarity is not positive
        explains nothing: where no movie of the history is like the recommended one,
        the answer is ``-1`` (the caller then says so plainly). Work is done in blocks that stay within
        :attr:`explain_budget` bytes of scratch memory, so any number of people can be
        explained at once.

        Args:
            history: ``(n, n_items)`` CSR, row ``r`` the movies that may explain person
                ``r``'s recommendations (values are ignored).
            items: ``(n, k)`` recommended movie indices (``-1`` for padding).

        Returns:
            ``(n, k) int32`` movie indices from each history, ``-1`` where the history
            is empty, holds no movie like the recommended one, or the slot is padding.
        """
        items = np.asarray(items)
        out = np.full(items.shape, -1, dtype=np.int32)
        if items.size == 0:
            return out
        if items.ndim != 2 or items.dtype.kind not in "iu" or items.min() < -1 or items.max() >= self.n_items:
            raise ConfigError(f"{self.name}.explain: items must be an (n, k) array of movie indices in "
                              f"[0, {self.n_items}) or -1, got shape {items.shape} dtype {items.dtype}")
        h = _matrix(history, f"{self.name}.explain", f"history is an (n, {self.n_items}) matrix, a row of the "
                    "movies that may explain each list", copy=True)
        if h.shape != (items.shape[0], self.n_items):
            raise ConfigError(f"{self.name}.explain: the history is {h.shape[0]}×{h.shape[1]}, expected "
                              f"{items.shape[0]}×{self.n_items} (one row per list, one column per movie)")
        h.sort_indices()
        if h.nnz == 0:
            return out
        vec = self.similarity_vectors() if self.has_item_vectors else None
        if vec is not None:
            # Cosine against each person's own movies only: nnz * k * d work instead of
            # n * k * n_items, the same answer as the generic path below.
            return _explain_by_vectors(np.asarray(vec, dtype=np.float32), h, items, self.explain_budget)
        per_person = items.shape[1] * self.n_items * 9  # float32 similarities + a bool mask, per slot
        for sl in chunks(items.shape[0], max(1, self.explain_budget // per_person)):
            out[sl] = self._explain_block(h[sl], items[sl])
        return out

    def _explain_block(self, history: sp.csr_matrix, items: np.ndarray) -> np.ndarray:
        out = np.full(items.shape, -1, dtype=np.int32)
        valid = items >= 0
        if not valid.any():
            return out
        # The same movies are recommended to many people: ask for each distinct movie's
        # similarities once and gather them.
        uniq, inv = np.unique(items[valid], return_inverse=True)
        sims = np.asarray(self.item_similarity(uniq), dtype=np.float32)[inv]  # (n_valid, n_items)
        rows = np.nonzero(valid)[0]
        mask = history[rows].astype(bool).toarray()
        has = mask.any(axis=1)
        sims[~mask] = -np.inf
        best = sims.argmax(axis=1).astype(np.int32)
        best[~has | ~(sims.max(axis=1) > 0)] = -1  # a movie not like the recommended one is no reason
        out[valid] = best
        return out

    # -- persistence -------------------------------------------------------------------

    def save(self, path: str | Path) -> None:
        """Write the fitted model to a folder: config JSON, training matrix, parameters.

        The folder is built beside ``path`` and renamed into place when complete.
        """
        train = self._train()
        expect(path, (str, os.PathLike), f"{self.name}.save: path")
        if not str(path):
            raise ConfigError(f"{self.name}.save: the path is empty; give the folder to save the model in")
        with atomic_dir(path, own=("model.json", "a saved model")) as tmp:
            meta = {
                "format": MODEL_FORMAT,
                "model": self.name,
                "cinerec": cinerec.__version__,
                "config": self.config.to_dict(),
                "n_users": train.n_users,
                "n_items": train.n_items,
            }
            if settled := self.settled_from_data():
                meta["settled_from_data"] = settled
            if self.untimed_:  # (the times are not saved with the training matrix)
                meta["untimed"] = True
            if train.scale is not None:  # (the scale its source declared: a refit and a fold-in read it)
                meta["rating_scale"] = list(train.scale)
            x = train.csr
            np.savez(tmp / "train.npz", indptr=x.indptr, indices=x.indices, data=x.data,
                     shape=np.array(x.shape))
            self._save_state(tmp)
            # (written last, with what was written beside it: a later save over it keeps
            # anything else, someone's own, by refusing)
            meta["files"] = written_files(tmp)
            (tmp / "model.json").write_text(json_text(meta, indent=2))

    @classmethod
    def load(cls, path: str | Path) -> "Recommender":
        model = load_model(path)
        if not isinstance(model, cls):
            raise DataError(f"{path}: holds a {model.name!r} model, not {cls.name!r}")
        return model


class RatingRecommender(Recommender):
    """A model that also predicts stars."""

    can_predict_ratings = True
    task = "rating"

    def predict(self, users: Any, items: Any) -> np.ndarray:
        """``(n,) float32`` predicted ratings for (user, item) pairs."""
        return self.score(users, np.asarray(items))

    def liked_at(self, ratings: Any) -> float:
        """The stars from which a rating counts as liked: the config's ``liked_threshold``,
        or, unset, three quarters of the way up ``ratings``' own scale (:func:`liked_stars`)."""
        threshold = getattr(self.config, "liked_threshold", None)
        return float(threshold) if threshold is not None else liked_stars(ratings)

    def settle_liked_threshold(self, train: Any) -> None:
        """Before a fit: an unset ``liked_threshold`` becomes three quarters of the way up
        the training ratings' scale (:func:`liked_stars` on :func:`scale_of`), written into
        the config so that the saved model and the run's settings hold the number used;
        each fit settles it afresh from its data."""
        if not hasattr(self, "_asked_liked_threshold"):
            self._asked_liked_threshold = getattr(self.config, "liked_threshold", None)
        if self._asked_liked_threshold is None and getattr(self, "can_predict_liked", False):
            self.config = self.config.replace(liked_threshold=liked_stars(train.ratings, scale_of(train)))

    def settled_from_data(self) -> dict[str, Any]:
        unset = getattr(self, "_asked_liked_threshold", 0) is None and self.can_predict_liked
        return {"liked_threshold": None} if unset else {}

    def _ask_again(self, asked: Mapping[str, Any]) -> None:
        if "liked_threshold" in asked:
            self._asked_liked_threshold = None


R = TypeVar("R", bound="Recommender")


def with_features(model: R, dataset: Any) -> R:
    """``model`` given ``dataset``'s side features where it reads them
    (:meth:`Recommender.set_features`: two-tower, mlp-rating with features), as the
    command line sets a model up; else ``model`` as it is."""
    if model.uses_features:
        model.set_features(dataset)
    return model


def scale_of(train: Any) -> tuple[float, float] | None:
    """The lowest and highest rating of ``train``'s scale: the one its source declared
    (:attr:`Interactions.scale`, ``--rating-scale``), else the lowest and highest rating
    it holds; ``None`` for no ratings."""
    if getattr(train, "scale", None) is not None:
        return train.scale
    r = np.asarray(train.ratings)
    return (float(r.min()), float(r.max())) if len(r) else None


def liked_stars(ratings: Any, scale: tuple[float, float] | None = None) -> float:
    """Three quarters of the way up ``scale``, else up the scale ``ratings`` span: 4 on 1
    to 5 stars (the Keras study's "liked"), 3.875 on 0.5 to 5 (4 stars and up), 7.75 on 1
    to 10."""
    if scale is None:
        r = np.asarray(ratings, dtype=np.float64)
        if not len(r):
            return 4.0
        scale = float(r.min()), float(r.max())
    low, high = scale
    return low + 0.75 * (high - low)


def star_unit(low: float, high: float) -> float:
    """The unit a model that learns from the stars' values reads a scale from ``low`` to
    ``high`` in, so that settings chosen on stars hold on it: 1 for a scale of five points
    or fewer (1 to 5, 0.5 to 5, -2 to 2: read as they are), else a quarter of its span (1
    to 10 in units of 2.25, 0 to 100 in units of 25), which makes it as wide as 1 to 5."""
    span = high - low
    return span / 4.0 if np.isfinite(span) and span > 5.0 else 1.0


def star_values(ratings: np.ndarray, low: float, high: float) -> np.ndarray:
    """``ratings`` on a scale from ``low`` to ``high`` read as stars from 1 to 5, for a
    model that weighs a rating by its value: stars (a scale above 0 of five points or
    fewer: 1 to 5, 0.5 to 5) as they are; any other scale (0 and 1, -2 to 2, 0 to 100,
    1 to 10) laid onto 1 to 5, its lowest rating 1 and its highest 5."""
    if (low > 0 and high - low <= 5.0) or not high > low:
        return ratings
    return (1.0 + 4.0 * (ratings - low) / (high - low)).astype(ratings.dtype)


def cosine_range(sims: np.ndarray) -> np.ndarray:
    """Cosines held to [-1, 1], in place: float32 rounding puts two all but alike unit
    vectors' cosine at 1.0000001, past the range a similarity is read in."""
    return np.clip(sims, -1.0, 1.0, out=sims)


def _matrix(history: Any, name: str, words: str, **options: Any) -> sp.csr_matrix:
    """``history`` as a CSR matrix (``options`` to scipy's), or one line, ``name: words``,
    saying what was given instead: Interactions, or what scipy cannot read as a matrix."""
    if isinstance(history, Interactions):
        raise ConfigError(f"{name}: {words}, not Interactions (its .csr is one, a row per user)")
    if history is None:
        raise ConfigError(f"{name}: {words}; got None")
    try:
        return sp.csr_matrix(history, **options)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{name}: {words}; got {type(history).__name__} ({e})") from None


def check_history(history: Any, n_items: int, name: str, dtype: Any = np.float32) -> sp.csr_matrix:
    """``history`` as an ``(n, n_items)`` CSR of ``dtype``, or one line saying why not: the
    wrong number of movie columns, or a rating that is not a finite number."""
    h = _matrix(history, name, f"a history is an (n, {n_items}) matrix of ratings, one row per person", dtype=dtype)
    if h.ndim != 2 or h.shape[1] != n_items:
        raise ConfigError(f"{name}: history has {h.shape[1]} movie columns, the model knows {n_items}")
    if not np.isfinite(h.data).all():
        raise ConfigError(f"{name}: the history holds a rating that is not a finite number")
    return h


def _candidates(candidates: Any, n_users: int, n_items: int) -> np.ndarray:
    """``recommend``'s candidates as an ``(n_users, m)`` array of movie indices, each row
    without repeats (a repeated movie would take two places in one list)."""
    cand = _indices(candidates, n_items, "movie")
    if cand.ndim != 2 or cand.shape[0] != n_users:
        raise ConfigError(f"candidates must be an (n_users, m) array, one row per user: got shape {cand.shape} "
                          f"for {n_users} users")
    if cand.shape[1] > 1:
        ordered = np.sort(cand, axis=1)
        twice = (ordered[:, 1:] == ordered[:, :-1]).any(axis=1)
        if twice.any():
            row = int(np.argmax(twice))
            raise ConfigError(f"candidates: row {row} names a movie more than once")
    return cand


def _indices(values: Any, n: int, what: str) -> np.ndarray:
    """``values`` as int64 indices in ``[0, n)``, or one line saying what is wrong.

    Models take the dataset's dense indices, never raw ids: text, floats or booleans are
    refused rather than read as indices (``"50"`` would be the 51st movie, not movie 50).
    """
    try:
        a = np.asarray(values)
    except ValueError:  # rows of different lengths
        raise ConfigError(f"{what} indices: expected an array of whole numbers, got rows of different lengths") \
            from None
    if a.size and a.dtype.kind not in "iu":
        first = a.flat[0].item() if isinstance(a.flat[0], np.generic) else a.flat[0]
        raise ConfigError(f"{what} indices must be whole numbers from 0 to {n - 1}, got {first!r}; a raw "
                          f"{what} id becomes an index through the dataset's id map ({what}_ids.get_indexer)"
                          .replace("movie_ids", "item_ids"))
    a = a.astype(np.int64, copy=False)
    if a.size and (a.min() < 0 or a.max() >= n):
        bad = a[(a < 0) | (a >= n)].flat[0]
        raise NotFoundError(f"{what} index {bad} outside [0, {n})")
    return a


def saved_model_info(path: str | Path) -> dict[str, Any]:
    """The ``model.json`` of a model written by :meth:`Recommender.save`, checked as
    :func:`load_model` checks it (a folder holding it, this format, a known model), without
    reading the model's arrays: its ``model`` (kind), ``n_users`` and ``n_items``."""
    import cinerec.models  # noqa: F401

    path = Path(path)
    try:
        if path.exists() and not path.is_dir():
            raise DataError(f"{path}: not a folder; a saved model is a folder holding model.json")
    except PermissionError as e:  # (a folder on the way this user may not enter)
        raise DataError(f"{path}: cannot be read ({e.strerror}: {e.filename})") from None
    try:
        meta = json.loads((path / "model.json").read_text())
    except FileNotFoundError:
        raise DataError(f"{path}: no saved model here (model.json is missing)") from None
    except OSError as e:  # (unreadable)
        raise DataError(f"{path / 'model.json'}: cannot be read ({e.strerror or e})") from None
    except ValueError as e:
        raise DataError(f"{path}/model.json: not valid JSON ({e})") from None
    if not isinstance(meta, dict):
        raise DataError(f"{path}/model.json: expected a JSON object, got {type(meta).__name__}")
    if meta.get("format") != MODEL_FORMAT:
        raise format_refused(path, "model", meta.get("format"), MODEL_FORMAT)
    if meta.get("model") not in MODELS:
        raise DataError(f"{path}: unknown model {meta.get('model')!r}")
    return meta


def load_model(path: str | Path) -> Recommender:
    """Read a model written by :meth:`Recommender.save`, whatever its kind (no pickle)."""
    expect(path, (str, os.PathLike), "load_model: path")
    if not os.fspath(path):  # ("" read as the folder one is in)
        raise ConfigError("load_model: path: empty; give the model's folder (a run's models/NAME)")
    path = Path(path)
    meta = saved_model_info(path)
    cls = MODELS[meta["model"]]
    config = meta.get("config", {})
    if not isinstance(config, dict):  # (null or a list: a traceback from the settings' reader)
        raise DataError(f"{path}/model.json: config: expected an object of settings, got "
                        f"{'null' if config is None else type(config).__name__}")
    model = cls(cls.Config.from_dict(config, where=f"{path}/model.json"))
    settled = meta.get("settled_from_data", {})
    if not isinstance(settled, dict):
        raise DataError(f"{path}/model.json: settled_from_data: expected an object, got {type(settled).__name__}")
    model._ask_again(settled)  # (a refit settles them again, as the model saved would have)
    try:
        with np.load(path / "train.npz", allow_pickle=False) as z:
            x = sp.csr_matrix((z["data"], z["indices"], z["indptr"]), shape=tuple(z["shape"]))
        coo = x.tocoo()
        for key in ("n_users", "n_items"):
            if type(meta.get(key)) is not int:
                raise DataError(f"{path}/model.json: {key}: expected a whole number, got {meta.get(key)!r}")
        if (meta.get("n_users"), meta.get("n_items")) != x.shape:  # (what is said of it, read without its arrays)
            raise ValueError(f"model.json says {meta.get('n_users')} users x {meta.get('n_items')} movies, its "
                             f"training matrix is {x.shape[0]} x {x.shape[1]}")
        scale = meta.get("rating_scale")
        if scale is not None:
            from cinerec.data.logs import saved_scale

            scale = saved_scale(scale, f"{path}/model.json: rating_scale")
        model.train_ = Interactions(coo.row, coo.col, coo.data, np.zeros(len(coo.data), np.int64), x.shape[0], x.shape[1],
                                    scale=scale)
        model.untimed_ = meta.get("untimed") is True
        model._load_state(path)
        if model.n_users:  # arrays of the wrong shape load fine and fail at the first list: try one
            row = np.asarray(model.score(np.array([0])))
            if row.shape != (1, model.n_items):
                raise ValueError(f"scores {row.shape[-1] if row.ndim else 0} movies, the model knows {model.n_items}")
            if np.isnan(row).any():  # (weights overwritten with NaN listed movies in no order, "score n/a")
                raise ValueError("its scores are not numbers (NaN)")
            if np.isposinf(row).any():  # (as NaN: infinitely high scores tie, in no order of the model's)
                raise ValueError("its scores are infinite")
    except CinerecError:
        raise
    except Exception as e:  # a truncated or tampered file: name it, no traceback
        if isinstance(e, PermissionError) and e.filename:  # (no damage: this user may not read it)
            raise unreadable(e, path, "model") from None
        damaged = _unreadable_file(path)
        if damaged is not None:
            raise DataError(f"{damaged}: saved model is damaged, this file cut short or overwritten "
                            f"({type(e).__name__}: {e})") from None
        raise DataError(f"{path}: saved model is damaged ({type(e).__name__}: {e})") from None
    return model


def _unreadable_file(folder: Path) -> Path | None:
    """The first ``.npz`` or ``.json`` file of a saved model's ``folder`` (its members'
    too) that cannot be read whole, if any: what a load that failed names."""
    import zipfile
    import zlib

    for file in sorted(folder.rglob("*")):
        try:
            if file.suffix == ".npz":
                with zipfile.ZipFile(file) as z:
                    if z.testzip() is not None:  # (a member whose bytes are not its CRC's)
                        return file
            elif file.suffix == ".json":
                json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError, zipfile.BadZipFile, EOFError, zlib.error):
            return file
    return None


def _explain_by_vectors(vec: np.ndarray, history: sp.csr_matrix, items: np.ndarray, budget: int) -> np.ndarray:
    """:meth:`Recommender.explain` by cosine of movie vectors; ``history`` has sorted indices."""
    n, k = items.shape
    v = vec / np.maximum(np.linalg.norm(vec, axis=1, keepdims=True), 1e-12)
    h = history  # sorted indices: ties go to the lowest movie index, as in the generic path
    out = np.full((n, k), -1, dtype=np.int32)
    counts = np.diff(h.indptr)
    per_entry = k * (v.shape[1] + 4) * 4
    max_entries = max(1, budget // per_entry)
    # Chunks of users whose histories together stay within the budget (a single longer
    # history is taken whole).
    bounds = np.searchsorted(h.indptr, np.arange(0, h.nnz + max_entries, max_entries), side="right") - 1
    bounds = np.unique(np.clip(np.concatenate([[0], bounds, [n]]), 0, n))
    for a, b in zip(bounds[:-1], bounds[1:]):
        if b <= a:
            continue
        lo, hi = h.indptr[a], h.indptr[b]
        if hi == lo:
            continue
        hist = h.indices[lo:hi]
        rows = np.repeat(np.arange(b - a), counts[a:b])
        rec = items[a:b]
        recv = v[np.maximum(rec, 0)][rows]  # (nnz, k, d)
        # Each cosine summed alike whatever the list's length: a matrix product's sums
        # changed order with k, and near ties (a collapsed model's) named another movie
        # at -k 10 than at -k 20 or in the store.
        sims = np.einsum("ekd,ed->ek", recv, v[hist])  # (nnz, k)
        nonempty = np.flatnonzero(counts[a:b])
        starts = (h.indptr[a:b][nonempty] - lo).astype(np.int64)
        best = np.maximum.reduceat(sims, starts, axis=0)  # (n_nonempty, k)
        seg = np.empty(b - a, dtype=np.int64)
        seg[nonempty] = np.arange(len(nonempty))
        is_best = sims >= best[seg[rows]]
        pos = np.where(is_best, np.arange(hi - lo)[:, None], hi - lo)
        first = np.minimum.reduceat(pos, starts, axis=0)
        block = out[a:b]
        block[nonempty] = np.where(best > 0, hist[first], -1)  # not alike (cosine <= 0): no reason
        block[rec < 0] = -1
        out[a:b] = block
    return out
