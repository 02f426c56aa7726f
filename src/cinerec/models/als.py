"""Implicit-feedback alternating least squares, through the ``implicit`` library.

Hu, Koren and Volinsky, "Collaborative Filtering for Implicit Feedback Datasets",
ICDM 2008. Every (user, movie) cell gets a preference ``p`` (1 if the user rated the
movie, else 0) and a confidence ``c = 1 + confidence * r`` (``r`` the rating, or 1 for a bare
"watched" event; unobserved cells have ``c = 1``). A rating on a scale that is not stars
(0 and 1, -2 to 2, 0 to 100, 1 to 10) is read as stars from 1 to 5, its lowest 1 and its
highest 5 (:func:`~cinerec.models.base.star_values`). The factors minimise
``sum c (p - x_u . y_i)^2 + regularization * (|x|^2 + |y|^2)``, solved by alternating
exact (conjugate-gradient) least squares on users and on movies.

The fast kernels are ``implicit``'s; this module only builds the confidence matrix,
keeps the factors, and answers the cinerec protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import scipy.sparse as sp
import threadpoolctl

from cinerec.config import Config
from cinerec.data.dataset import Interactions
from cinerec.data.transforms import recency_weights
from cinerec.errors import ConfigError, DataError, Diverged
from cinerec.models.base import CapabilityError, check_history, register, scale_of, star_values
from cinerec.models.index import IndexedRecommender, check_index_settings
from cinerec.tuning import Param

__all__ = ["ALS", "ALSConfig", "WARM_TOLERANCE"]

#: The share of the movie vectors' variance in their first direction above which a fit
#: is said to have collapsed (:meth:`ALS.fit_notes`); ml-100k's default fit holds 29%.
COLLAPSED_SHARE = 0.99

#: A warm-started fit (``ALS.fit(..., init=...)``) stops once a sweep moves the movie
#: factors by less than this share of their norm: about what the 15th sweep of a cold
#: fit moves them on ml-100k's carve-out at the default settings (0.014), so a warm fit
#: stops about as settled as a cold one ends.
WARM_TOLERANCE = 0.015


@dataclass(frozen=True)
class ALSConfig(Config):
    """Settings of :class:`ALS` (defaults tuned on MovieLens-100K, recency weighting on).

    Attributes:
        factors: latent dimension of users and movies.
        regularization: L2 weight on both factor matrices.
        confidence: confidence scaling (the paper's alpha); a rated cell weighs
            ``1 + confidence * rating``, the rating read as stars from 1 to 5 on a scale
            that is not stars (:func:`~cinerec.models.base.star_values`).
        epochs: alternating sweeps (each solves users, then movies).
        binary: treat every rating as a bare interaction (``r = 1``) instead of letting
            higher stars weigh more.
        recency_half_life: a fraction of each user's own time span; 0 turns it off.
            When positive, the ``confidence * r`` part of a training cell's confidence is
            multiplied by ``0.5 ** (age / (recency_half_life * span))``, where ``age`` is
            how long before that user's latest training interaction it happened and
            ``span`` is the time from the user's earliest to latest training
            interaction. So each user's latest cell keeps its full weight, and one
            ``recency_half_life`` of their span earlier weighs half as much, whether the
            user rated for years or within an hour. A user whose interactions share one
            timestamp (or a source without timestamps) gets no decay. Only training
            uses it: ``score_history`` receives no timestamps, so a new person's
            history is weighed without decay.
        seed: seeds the random initial factors.
    """

    # Chosen on a validation carve-out of the leave-latest-out training data (each
    # user's second-latest rating held out); docs/results.md has the test figures.
    renamed = {"alpha": "confidence", "iterations": "epochs"}

    factors: int = 64
    regularization: float = 80.0
    confidence: float = 16.0
    epochs: int = 15
    binary: bool = False
    recency_half_life: float = 0.05
    seed: int = 0
    # Approximate-neighbour search behind recommend and similar_items
    # (cinerec.models.index.INDEX_SETTINGS says what each one does).
    index: Literal["exact", "ivf", "hnsw"] = "exact"
    index_nlist: int = 0
    index_nprobe: int = 0
    index_hnsw_m: int = 32
    index_ef_search: int = 128

    def validate(self) -> None:
        check_index_settings(self)
        self._check(self.factors >= 1, "factors", "must be at least 1")
        self._check(self.regularization >= 0, "regularization", "must be >= 0")
        self._check(self.confidence > 0, "confidence", "must be > 0")
        self._check(self.epochs >= 1, "epochs", "must be at least 1")
        self._check(self.recency_half_life >= 0, "recency_half_life", "must be >= 0 (0 turns it off)")


@register
class ALS(IndexedRecommender):
    """Implicit ALS (Hu, Koren, Volinsky, ICDM 2008) over the ``implicit`` library's solver.

    ``score_history`` solves the one least-squares system of a new person against the
    fixed movie factors (exactly what a user update step does in training), so a person
    the model has never seen is scored the same way a training user is.
    """

    name = "als"
    search_space = {
        "factors": Param("choice", choices=(16, 32, 64, 128)),
        "regularization": Param("float", 1.0, 500.0, log=True),
        "confidence": Param("float", 1.0, 100.0, log=True),
        "recency_half_life": Param("float", 0.0, 1.0),
    }
    # Under random hold-outs recency weighting costs 0.04 to 0.05 validation Recall@10 on
    # ml-100k's random-full carve-outs (docs/protocols.md).
    unordered_settings = {"recency_half_life": 0.0}
    has_item_vectors = True
    Config = ALSConfig
    can_score_history = True
    config: ALSConfig
    has_inner_product = True
    can_score_pairs = True
    can_warm_start = True

    def __init__(self, config: ALSConfig | None = None) -> None:
        super().__init__(config)
        self.user_factors: np.ndarray | None = None
        self.item_factors: np.ndarray | None = None
        self._stars_scale: tuple[float, float] | None = None  # (the training ratings' scale, once read)

    def _confidence(self, x: sp.csr_matrix, decay: sp.csr_matrix | None = None,
                    scale: tuple[float, float] | None = None) -> sp.csr_matrix:
        """``(n, n_items)`` CSR of confidences ``1 + confidence * r * decay`` on the stored cells,
        ``r`` each rating read as stars from 1 to 5 (:func:`star_values`), or 1 with ``binary``.

        Args:
            x: ``(n, n_items)`` ratings.
            decay: ``(n, n_items)`` weights in ``(0, 1]`` with exactly ``x``'s stored
                cells (same ``indptr``/``indices``), or None for no decay.
            scale: the lowest and highest rating of the scale (default :meth:`_scale`).
        """
        c = sp.csr_matrix(x, dtype=np.float32, copy=True)
        low, high = scale or self._scale()
        # Every stored cell is a movie seen, a rating of 0 or a thumbs-down too: it weighs at
        # least 1, the least a seen movie weighs (a person's rating below every training
        # rating, on the data's scale still, is no less one). (binary: each rating is one
        # event, whatever its value)
        r = np.ones(c.nnz, dtype=np.float32) if self.config.binary else \
            np.maximum(star_values(c.data, low, high), 0.0, dtype=np.float32)
        if decay is not None:
            r = r * decay.data.astype(np.float32)
        with np.errstate(over="ignore"):  # (too large a confidence: the fit says so in one line)
            c.data = (1.0 + self.config.confidence * r).astype(np.float32)
        return c

    def _scale(self) -> tuple[float, float]:
        """The training ratings' scale (:func:`scale_of`: as declared, else their lowest and
        highest): the scale the confidences read stars on
        (:func:`star_values`: a thumbs-down, a 0 of a 0/1 log or of 0 to 100 weighs as one
        star, the top of the scale as five)."""
        scale = self._stars_scale
        if scale is None:
            scale = self._stars_scale = scale_of(self._train()) or (1.0, 1.0)
        return scale

    def _decay(self, train: Interactions) -> sp.csr_matrix | None:
        """``(n_users, n_items)`` CSR of recency weights on ``train.csr``'s cells, or None when off."""
        half_life = self.config.recency_half_life
        if half_life <= 0:
            return None
        return recency_weights(train, half_life)

    def _solver(self):
        """An ``implicit`` model holding our settings (built with BLAS held to one thread,
        since the library's own threads already use every core and nested BLAS threads
        slow it down by an order of magnitude)."""
        from implicit.cpu.als import AlternatingLeastSquares

        cfg = self.config
        with threadpoolctl.threadpool_limits(1, "blas"):
            # alpha=1: the confidences are already 1 + confidence * r (the paper's
            # form); the library would otherwise scale them again.
            return AlternatingLeastSquares(
                factors=cfg.factors, regularization=cfg.regularization, alpha=1.0,
                iterations=cfg.epochs, random_state=cfg.seed, dtype=np.float32,
            )

    def reads_ratings_as_seen(self) -> bool:
        """A rating of any stars is a confidence above 0, a movie seen (``binary = false``
        weighs it by its stars, never against it)."""
        return True

    def fit(self, train: Interactions, valid: Interactions | None = None, *, init: "ALS | None" = None) -> "ALS":
        """Factorise ``train`` (``valid`` is unused: ALS has no early stopping).

        Args:
            train: the training interactions.
            valid: unused.
            init: a warm start: a fitted ALS with the same number of factors, fitted on
                a matrix of ``train``'s shape (e.g. the previous trial of a search on
                the same data). Its factors replace the random initial ones, and the
                sweeps stop as soon as one moves the movie factors by less than
                ``WARM_TOLERANCE`` of their norm (at most ``epochs`` sweeps). From a
                nearby solution that takes a few sweeps rather than ``epochs``; a
                fit's ``history`` holds each sweep's relative change. ``None``: the
                ordinary fit, ``epochs`` sweeps from seeded random factors.

        Raises:
            ConfigError: ``init`` is unfitted or its factors do not fit this model's shape.
        """
        self._remember(train)
        self._stars_scale = None
        solver = self._solver()
        confidence = self._confidence(train.csr, self._decay(train))
        self.history = []
        from implicit.recommender_base import ModelFitError

        with threadpoolctl.threadpool_limits(1, "blas"):
            try:
                if init is None:
                    solver.fit(confidence, show_progress=False)
                else:
                    self._warm_fit(solver, confidence, init)
            except ModelFitError as e:  # (a traceback: "NaN encountered in factors")
                cfg = self.config
                # (Diverged: a search that drew such settings goes on past them, as past a neural trial's)
                raise Diverged(f"{self.name}: the fit broke down ({e}) with regularization = "
                                  f"{cfg.regularization:g} and confidence = {cfg.confidence:g}: numbers this large "
                                  "overflow its 32-bit arithmetic; give smaller ones") from None
        self.user_factors = np.ascontiguousarray(solver.user_factors, dtype=np.float32)
        self.item_factors = np.ascontiguousarray(solver.item_factors, dtype=np.float32)
        self._yty: np.ndarray | None = None
        return self

    def fit_notes(self) -> list[str]:
        """Said where the movie vectors fell into one direction, as a strong regularization
        does to data too small for it (80, the default, on 27 people × 60 movies): every
        person then gets one same order of movies, every movie is as similar as the next
        (about 0.99999) and the reasons, picked among those ties, say nothing."""
        if self.item_factors is None or not self.item_factors.any() or self.config.factors < 2:
            return super().fit_notes()  # (one factor is one direction by design)
        v = self.item_factors.astype(np.float64)
        energy = np.linalg.eigvalsh(v.T @ v)[::-1]  # (the squared singular values, largest first)
        if energy[0] < COLLAPSED_SHARE * energy.sum():
            return super().fit_notes()
        ratings = int(self._train().csr.nnz)
        # Fewer sweeps than the default leave the vectors less time to turn apart (2 factors,
        # 1 epoch, 80 on ml-100k collapse; 10, or 15 epochs, do not): said with the rest.
        epochs = self.config.epochs
        few = epochs < type(self.config)().epochs
        return super().fit_notes() + [f"{self.name}: its movie vectors all point one way ({energy[0] / energy.sum():.1%} of their variance "
                f"in one direction): regularization = {self.config.regularization:g} is too strong for "
                f"{ratings:,} ratings{f' in {epochs} epoch' + ('' if epochs == 1 else 's') if few else ''}, so every "
                f"person gets one same order of movies, and its similar movies and reasons mean "
                f"nothing; {self._set_regularization()}{f', or more epochs than {epochs}' if few else ''}"
                f"{'' if getattr(self, 'searched_', False) else ', or let --tune find one'}"]

    def _set_regularization(self) -> str:
        """How to set a lighter regularization, wherever this model's settings are set."""
        if path := self.settings_path:  # a member or a stage: its owner's key, on the command line or in its table
            return f"evaluate or train with --set {path}regularization=10 (a study: {path}regularization = 10 in its table)"
        return ("evaluate or train with --set regularization=10 (a study: regularization = 10 in its ALS table, "
                "or in [export.two_stage] retriever_settings for its retriever)")

    def accepts_init(self, other: object) -> bool:
        """True when :meth:`fit` can start from ``other``: a fitted ALS with as many factors."""
        return (isinstance(other, ALS) and other.user_factors is not None
                and other.config.factors == self.config.factors)

    def _warm_fit(self, solver, confidence: sp.csr_matrix, init: "ALS") -> None:
        """Sweep from ``init``'s factors until the movie factors settle (see :meth:`fit`)."""
        shape = (confidence.shape[0], self.config.factors), (confidence.shape[1], self.config.factors)
        if not self.accepts_init(init) or (init.user_factors.shape, init.item_factors.shape) != shape:  # type: ignore[union-attr]
            got = "an unfitted model" if not isinstance(init, ALS) or init.user_factors is None else (
                f"factors {init.user_factors.shape} and {init.item_factors.shape}")  # type: ignore[union-attr]
            raise ConfigError(f"{self.name}: init must be a fitted ALS with factors {shape[0]} and {shape[1]}, got {got}")
        # The library keeps factors it is given and only draws random ones when it has none.
        solver.user_factors = np.array(init.user_factors, dtype=np.float32)
        solver.item_factors = np.array(init.item_factors, dtype=np.float32)
        solver.iterations = 1
        for sweep in range(self.config.epochs):
            before = solver.item_factors.copy()
            solver.fit(confidence, show_progress=False)
            change = float(np.linalg.norm(solver.item_factors - before)) / max(float(np.linalg.norm(solver.item_factors)), 1e-30)
            self.history.append({"epoch": sweep + 1, "change": change})
            if change < WARM_TOLERANCE:
                break

    def _fitted_factors(self) -> tuple[np.ndarray, np.ndarray]:
        """The user and movie factors; ``fit`` or ``load`` sets both."""
        if self.user_factors is None or self.item_factors is None:
            raise CapabilityError(f"{self.name}: the model is not fitted yet")
        return self.user_factors, self.item_factors

    def _score_rows(self, users: np.ndarray) -> np.ndarray:
        user_factors, item_factors = self._fitted_factors()
        return user_factors[users] @ item_factors.T

    def _score_pairs(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        user_factors, item_factors = self._fitted_factors()
        return np.einsum("nd,nd->n", user_factors[users], item_factors[items])

    def user_vectors_for(self, history: sp.csr_matrix) -> np.ndarray:
        """``(n, factors) float32`` factors of people described by ``history`` ``(n, n_items)``.

        Solves ``(YᵀY + Yᵀ(C_u − I)Y + regularization·I) x_u = Yᵀ C_u p_u`` exactly for
        each row, with the movie factors ``Y`` held fixed: the same user step the
        library takes during training. It is done here with batched NumPy linear
        algebra because a request carries one or a few people, and setting up the
        library's threaded solver costs more than the solve itself.
        """
        self._train()
        history = check_history(history, self.n_items, self.name, np.float64)
        c = self._confidence(history)
        y = self._fitted_factors()[1].astype(np.float64)
        f = y.shape[1]
        n = c.shape[0]
        # Lay each row's cells out in a padded (n, longest, f) block so that every
        # person's Yᵀ(C_u − I)Y is one batched matrix product, not a sum of
        # per-cell f×f outer products (which dominated the time at 64 factors).
        lengths = np.diff(c.indptr)
        rows = np.repeat(np.arange(n), lengths)
        pos = np.arange(c.nnz) - np.repeat(c.indptr[:-1], lengths)
        yp = np.zeros((n, int(lengths.max(initial=0)), f))
        yp[rows, pos] = y[c.indices]
        cp = np.zeros(yp.shape[:2])
        cp[rows, pos] = c.data  # confidences are >= 1 on stored cells, 0 on padding
        wp = np.where(cp > 0, cp - 1.0, 0.0)
        a = self._gram() + self.config.regularization * np.eye(f) + np.swapaxes(yp, 1, 2) @ (yp * wp[:, :, None])
        b = np.einsum("nlf,nl->nf", yp, cp)
        return np.linalg.solve(a, b[:, :, None])[:, :, 0].astype(np.float32)

    def _gram(self) -> np.ndarray:
        yty: np.ndarray | None = getattr(self, "_yty", None)
        if yty is None:
            y = self._fitted_factors()[1].astype(np.float64)
            yty = self._yty = y.T @ y
        return yty

    def score_history(self, history: sp.csr_matrix) -> np.ndarray:
        return self.user_vectors_for(history) @ self._fitted_factors()[1].T

    def item_vectors(self) -> np.ndarray:
        return self._fitted_factors()[1]

    def query_vectors(self, users: np.ndarray) -> np.ndarray:
        """``(len(users), factors)`` user factors: scores are their dot products with the movie factors."""
        return self._fitted_factors()[0][np.asarray(users, dtype=np.int64)]

    def key_vectors(self) -> np.ndarray:
        """``(n_items, factors)`` movie factors."""
        return self._fitted_factors()[1]

    def _save_state(self, path: Path) -> None:
        user_factors, item_factors = self._fitted_factors()  # save() has checked the model is fitted
        np.savez(path / "factors.npz", user_factors=user_factors, item_factors=item_factors)
        super()._save_state(path)  # the index, when one is set

    def _load_state(self, path: Path) -> None:
        with np.load(path / "factors.npz", allow_pickle=False) as z:
            self.user_factors = z["user_factors"].astype(np.float32)
            self.item_factors = z["item_factors"].astype(np.float32)
        self._yty = self._stars_scale = None
        if self.user_factors.shape != (self.n_users, self.config.factors) or self.item_factors.shape != (self.n_items, self.config.factors):
            raise DataError(f"{path}/factors.npz: factor shapes do not match the saved config and training matrix")
        super()._load_state(path)  # the index, when one is set
