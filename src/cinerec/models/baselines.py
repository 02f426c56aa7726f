"""Classical baselines: popularity, item-kNN, EASE and the rating biases model.

They are fast, deterministic and strong on MovieLens; every neural model is compared with
them under the same protocol. All four can score a history they were not trained on
(``can_score_history``), which is what serving uses for a new visitor.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, cast

import numpy as np
import scipy.linalg
import scipy.sparse as sp
import torch

from cinerec.config import Config
from cinerec.data.dataset import Interactions
from cinerec.data.transforms import recency_weights
from cinerec.errors import ConfigError, said
from cinerec.models.base import RatingRecommender, Recommender, check_history, chunks, register, scale_of
from cinerec.tuning import Param

__all__ = [
    "Popularity", "PopularityConfig", "ItemKNN", "ItemKNNConfig", "EASE", "EASEConfig", "EASESpectrum",
    "Baseline", "BaselineConfig",
]

#: Budget (bytes) for one block of the item-item similarity in item-kNN.
_BLOCK_BYTES = 128 * 2**20
#: Bytes a block's entry (a movie against a movie) may cost at once: its kept pieces (row,
#: column and similarity, 12 bytes), their joined copy (12) and the dense ranking's (4);
#: sized for the dense float32 block alone (4), a fit held 5.5 times the budget.
_BLOCK_ENTRY_BYTES = 28
#: Above this share of non-zero similarities a block is ranked densely (torch.topk).
_DENSE_FRACTION = 0.05
#: Bytes an entry of item-kNN's sparse product costs while its cosines are worked out.
_PRODUCT_ENTRY_BYTES = 64
#: EASE inverts in float32 torch up to this many movies, in float64 LAPACK in place above.
_FLOAT32_MAX_ITEMS = 8192
#: Bytes of ``history · Q`` rows an EASESpectrum keeps between values of λ.
_SPECTRUM_CACHE_BYTES = 512 * 2**20


def _history_matrix(history: sp.spmatrix, n_items: int, binary: bool, name: str) -> sp.csr_matrix:
    """``history`` as a float32 CSR matrix with ``n_items`` columns; if ``binary``, a one
    at every stored rating ("rated or not"), whatever its stars: 0 of a 0-10 log or a
    negative rating is rated too, as ``Interactions.seen`` has it."""
    h = check_history(history, n_items, name)
    if binary:
        h = h.copy()
        h.data = np.ones_like(h.data)
    return h


def load_csr(z: Any, prefix: str) -> sp.csr_matrix:
    """The CSR matrix stored in an open ``.npz`` under ``prefix`` by :func:`csr_arrays`."""
    return sp.csr_matrix(
        (z[f"{prefix}_data"], z[f"{prefix}_indices"], z[f"{prefix}_indptr"]), shape=tuple(z[f"{prefix}_shape"])
    )


def csr_arrays(m: sp.csr_matrix, prefix: str) -> dict[str, np.ndarray]:
    """``m``'s arrays named ``PREFIX_data`` ... ``PREFIX_shape``, for ``np.savez`` (read back with :func:`load_csr`)."""
    return {
        f"{prefix}_data": m.data, f"{prefix}_indices": m.indices, f"{prefix}_indptr": m.indptr,
        f"{prefix}_shape": np.array(m.shape),
    }


# -- popularity ------------------------------------------------------------------------


@dataclass(frozen=True)
class PopularityConfig(Config):
    """Popularity has nothing to tune."""


@register
class Popularity(Recommender):
    """Score of a movie = its number of training interactions, the same for everyone.

    The floor every personalised model must clear. Movies never seen in training score 0.
    """

    name = "popularity"
    Config = PopularityConfig
    personal = False  # its lists say "popular with many viewers", never "because you liked ..."
    can_score_history = True
    can_score_pairs = True

    def fit(self, train: Interactions, valid: Interactions | None = None) -> "Popularity":
        self._remember(train)
        self.counts_ = train.item_counts.astype(np.float32)
        return self

    def _score_rows(self, users: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.counts_, (len(users), len(self.counts_))).copy()

    def chart_counts(self) -> np.ndarray:
        return self.counts_

    def _score_pairs(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return self.counts_[items]

    def score_history(self, history: sp.csr_matrix) -> np.ndarray:
        h = _history_matrix(history, self.n_items, True, self.name)
        return self._score_rows(np.zeros(h.shape[0], dtype=np.int64))

    def _save_state(self, path: Path) -> None:
        np.savez(path / "state.npz", counts=self.counts_)

    def _load_state(self, path: Path) -> None:
        with np.load(path / "state.npz", allow_pickle=False) as z:
            self.counts_ = z["counts"].astype(np.float32)


# -- item-kNN ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemKNNConfig(Config):
    """Item-kNN settings.

    Attributes:
        neighbors: similar movies kept per movie (the rest of its column is dropped).
        shrink: added to the cosine denominator; damps similarities built on few users.
        binary: use "watched" (1) instead of the star rating in the user×movie matrix.
    """

    neighbors: int = 100
    shrink: float = 0.0
    binary: bool = True

    def validate(self) -> None:
        self._check(self.neighbors >= 1, "neighbors", "must be at least 1")
        self._check(self.shrink >= 0.0, "shrink", "must be non-negative")


class _HistoryModel(Recommender):
    """A model whose scores are a function of the person's history row alone
    (item-kNN, EASE): known users and new visitors are scored the same way."""

    can_score_history = True
    known_scores_from_history = True
    config: ItemKNNConfig | EASEConfig  # both say whether the history is binary

    @abstractmethod
    def _score(self, history: sp.csr_matrix) -> np.ndarray:
        """``(n, n_items) float32`` scores of ``(n, n_items)`` float32 history rows."""

    def _score_rows(self, users: np.ndarray) -> np.ndarray:
        h = _history_matrix(self._train().csr[users], self.n_items, self.config.binary, self.name)
        return self._score(h)

    def score_history(self, history: sp.csr_matrix) -> np.ndarray:
        return self._score(_history_matrix(history, self.n_items, self.config.binary, self.name))

    def reads_ratings_as_seen(self) -> bool:
        return bool(self.config.binary)


@register
class ItemKNN(_HistoryModel):
    """Item-based nearest neighbours (Sarwar et al., WWW 2001, "Item-based collaborative
    filtering recommendation algorithms"; cosine variant as in Deshpande & Karypis 2004).

    ``S[i, j] = x_i·x_j / (‖x_i‖‖x_j‖ + shrink)`` over the columns of the user×movie matrix,
    diagonal zero, and only the ``neighbors`` largest entries of each column ``j`` kept.
    A user's score for movie ``j`` is ``Σ_i x_ui S[i, j]``: the similarity of ``j`` to the
    movies the user has seen. The similarity is computed one block of columns at a time
    (at most ~128 MB dense per block, the sparse product worked out a few rows at a time),
    so memory stays bounded at ml-25m size (59k movies).
    """

    name = "itemknn"
    search_space = {
        "neighbors": Param("int", 10, 500, log=True),
        "shrink": Param("float", 0.0, 100.0),
    }
    Config = ItemKNNConfig
    can_score_history = True
    config: ItemKNNConfig

    def fit(self, train: Interactions, valid: Interactions | None = None) -> "ItemKNN":
        self._remember(train)
        cfg = self.config
        x = _history_matrix(train.csr, train.n_items, cfg.binary, self.name)
        n = train.n_items
        norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=0), dtype=np.float64).ravel())
        xt = x.T.tocsr()  # (n_items, n_users): row j = who saw movie j
        k = min(cfg.neighbors, max(n - 1, 1))
        block = max(1, _BLOCK_BYTES // (_BLOCK_ENTRY_BYTES * max(n, 1)))
        rows, cols, vals = [], [], []
        # The sparse product and its cosines cost about 60 bytes an entry, a block's up to
        # every (row, movie) pair: they are worked out a few rows at a time, keeping 12.
        part = max(1, _BLOCK_BYTES // (_PRODUCT_ENTRY_BYTES * max(n, 1)))
        for sl in chunks(n, block):
            b = sl.stop - sl.start
            pieces = []
            for sub in chunks(b, part):
                # Row r: movie sl.start + r against every movie. Only non-zero dot products can
                # become neighbours, so the cosine is computed on the sparse entries alone.
                at = sl.start + sub.start
                prod = (xt[at:at + sub.stop - sub.start] @ x).tocoo()
                r, c = prod.row.astype(np.int64), prod.col.astype(np.int64)
                denom = norms[at + r] * norms[c] + cfg.shrink
                sim = np.divide(prod.data, denom, out=np.zeros(len(r)), where=denom > 0).astype(np.float32)
                del prod, denom
                keep = (c != at + r) & (sim > 0)  # a movie is not its own neighbour
                pieces.append(((r[keep] + sub.start).astype(np.int32), c[keep].astype(np.int32), sim[keep]))
                del r, c, sim, keep
            r, c, sim = (np.concatenate(p) for p in zip(*pieces))
            del pieces
            if len(sim) > _DENSE_FRACTION * b * n:
                # Dense block (popular movies): torch.topk is multi-threaded and beats sorting.
                filled = np.zeros((b, n), dtype=np.float32)
                filled[r, c] = sim
                dense = torch.from_numpy(filled)
                v, top = (t.numpy() for t in torch.topk(dense, min(k, n), dim=1))
                ok = v > 0
                r, c, sim = np.broadcast_to(np.arange(b)[:, None], top.shape)[ok], top[ok], v[ok]
            else:
                # Sparse block: sort each row's entries by similarity, keep the first k.
                order = np.lexsort((-sim, r))
                r, c, sim = r[order], c[order], sim[order]
                rank = np.arange(len(r)) - np.searchsorted(r, r, side="left")
                ok = rank < k
                r, c, sim = r[ok], c[ok], sim[ok]
            rows.append(sl.start + r)
            cols.append(c)
            vals.append(sim)
        # neighbours[j, i] = similarity of movie i to movie j, kept only for j's top k.
        neighbours = sp.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n), dtype=np.float32
        )
        neighbours.sort_indices()
        self._neighbours = neighbours
        self.similarity_ = neighbours.T.tocsr()  # S[i, j]: scores are history @ S
        return self

    def _neighbour_rows(self) -> sp.csr_matrix:
        """``S.T`` as CSR: row ``j`` lists the kept neighbours of movie ``j``."""
        if getattr(self, "_neighbours", None) is None:
            self._neighbours = self.similarity_.T.tocsr()
        return self._neighbours

    def _score(self, history: sp.csr_matrix) -> np.ndarray:
        return np.asarray((history @ self.similarity_).toarray(), dtype=np.float32)

    def item_similarity(self, items: np.ndarray) -> np.ndarray:
        items = np.asarray(items, dtype=np.int64)
        return np.asarray(self._neighbour_rows()[items].toarray(), dtype=np.float32)

    def _save_state(self, path: Path) -> None:
        # The arrays need no pickle and load() reads none; naming the keyword also tells
        # mypy that no array name stands for it.
        np.savez(path / "state.npz", allow_pickle=False, **csr_arrays(self.similarity_, "s"))

    def _load_state(self, path: Path) -> None:
        with np.load(path / "state.npz", allow_pickle=False) as z:
            self.similarity_ = load_csr(z, "s").astype(np.float32)
        self._neighbours = None


# -- EASE -------------------------------------------------------------------------------


@dataclass(frozen=True)
class EASEConfig(Config):
    """EASE settings.

    Attributes:
        regularization: the ridge penalty λ on ``B``. The default (1400, with
            ``recency_half_life`` 0.12) is benchmarks/defaults.py's robust choice on
            validation carve-outs of ml-100k's five official training folds and two
            synthetic releases; see docs/defaults.md.
        binary: fit on "watched" (1) rather than the star rating.
        max_items: refuse catalogues larger than this; the dense ``n_items²`` matrix
            (float64 while inverting) would not fit in memory.
        recency_half_life: a fraction of each user's own time span; 0 turns it off.
            When positive, a training user's history row is weighed by recency when
            they are scored (not when ``B`` is fitted): the cell of a movie rated
            ``age`` before the user's latest training interaction counts
            ``0.5 ** (age / (recency_half_life * span))``, ``span`` the user's earliest
            to latest training interaction (the weights of ALS's setting of the same
            name, :func:`cinerec.data.transforms.recency_weights`). So the movies a user
            saw last say most about what they see next. Weighing the rows of ``XᵀX`` too
            did not score higher on validation (docs/defaults.md). ``score_history`` receives
            no timestamps, so a new person's history is weighed without decay.
    """

    renamed = {"l2": "regularization"}

    regularization: float = 1400.0
    binary: bool = True
    max_items: int = 30_000
    recency_half_life: float = 0.12

    def validate(self) -> None:
        self._check(self.regularization > 0.0, "regularization", "must be positive")
        self._check(self.recency_half_life >= 0.0, "recency_half_life", "must be >= 0 (0 turns it off)")
        self._check(self.max_items >= 1, "max_items", "must be at least 1")


@register
class EASE(_HistoryModel):
    """EASE^R (Steck, "Embarrassingly Shallow Autoencoders for Sparse Data", WWW 2019).

    A closed-form item-item model: ``P = (XᵀX + λI)⁻¹`` and ``B = I − P·diag(1/diag(P))``,
    i.e. ``B[i, j] = −P[i, j] / P[j, j]`` off the diagonal and ``B[j, j] = 0``. A user's
    scores are ``x_u B``. How the inverse is taken was measured
    (benchmarks/bench_ease.py, ml-100k, 2 shared cores): a float32 ``torch.linalg.inv``
    was the fastest (median 1.2 s against 3.0 s for float64 LAPACK Cholesky, best runs
    0.9 s against 1.2 s) and its largest error on ``B`` is 4e-7 (entries reach 0.17), so up to
    ``_FLOAT32_MAX_ITEMS`` movies use it. Larger ones use LAPACK's Cholesky
    factorisation and inverse in float64 IN PLACE (one ``n²`` float64 buffer instead of
    the three float32 buffers torch needs), because there memory is what limits EASE.
    ``B`` is kept in float32 for scoring.

    Many values of λ on one training set (a search) go through :meth:`sweep` or
    :class:`EASESpectrum`: one eigendecomposition, then each λ without an inverse; on a
    large catalogue the tuner screens λ through an approximate
    :class:`~cinerec.models.ease_sketch.EASESketch` instead (:meth:`tuning_fits`).
    """

    name = "ease"
    search_space = {
        "regularization": Param("float", 10.0, 5000.0, log=True),
        # A half-life is a scale: searched on a log scale, since the short ones (the
        # last few movies alone) matter most under the leave-latest-out protocols.
        "recency_half_life": Param("float", 0.005, 2.0, log=True),
    }
    # Under random hold-outs recency weighting costs 0.04 validation Recall@10 on
    # ml-100k's random-full carve-outs, and without it a smaller λ scores best there
    # (500 of 150 to 1400 on each of three carve-outs; docs/protocols.md).
    unordered_settings = {"recency_half_life": 0.0, "regularization": 500.0}
    Config = EASEConfig
    can_score_history = True
    config: EASEConfig

    def check_size(self, n_users: int, n_items: int) -> None:
        _check_ease_size(n_items, self.config.max_items)

    def fit(self, train: Interactions, valid: Interactions | None = None) -> "EASE":
        cfg = self.config
        self.check_size(train.n_users, train.n_items)
        self._remember(train)
        gram = self._gram(train)
        gram[np.diag_indices_from(gram)] += cfg.regularization
        # C order: ``history @ weights_`` would otherwise copy the whole matrix per call.
        self.weights_ = np.ascontiguousarray(_ease_weights(gram))
        return self

    def _gram(self, train: Interactions) -> np.ndarray:
        """``XᵀX`` of ``train``'s history matrix as float64, a new array (``fit`` overwrites it).

        The product is taken in float32, as the history matrix is; with ``binary`` its
        entries are counts of users, exact in float32 up to 2**24 of them.
        """
        x = _history_matrix(train.csr, train.n_items, self.config.binary, self.name)
        return np.asarray((x.T @ x).toarray(), dtype=np.float64)

    def _score(self, history: sp.csr_matrix) -> np.ndarray:
        return np.asarray(history @ self.weights_, dtype=np.float32)

    def _recency(self) -> sp.csr_matrix | None:
        """``(n_users, n_items)`` recency weights on the training cells, or None when off.

        Computed from the training timestamps on first use after ``fit`` (a saved model
        keeps them, since its stored training matrix has no timestamps).
        """
        if self.config.recency_half_life <= 0:
            return None
        train = self._train()
        if getattr(self, "_recency_of", None) is not train:
            self._recency_weights = recency_weights(train, self.config.recency_half_life)
            self._recency_of = train
        return self._recency_weights

    def _history_rows(self, users: np.ndarray) -> sp.csr_matrix:
        """The known users' history rows as they are scored: weighed by recency when it is on."""
        h = _history_matrix(self._train().csr[users], self.n_items, self.config.binary, self.name)
        decay = self._recency()
        if decay is not None:
            h = sp.csr_matrix(h.multiply(decay[users]), dtype=np.float32)
        return h

    def _score_rows(self, users: np.ndarray) -> np.ndarray:
        return self._score(self._history_rows(users))

    def item_similarity(self, items: np.ndarray) -> np.ndarray:
        # Row i of B.T holds how much each movie's presence raises movie i's score.
        items = np.asarray(items, dtype=np.int64)
        return np.ascontiguousarray(self.weights_[:, items].T)

    def _save_state(self, path: Path) -> None:
        decay = self._recency()
        extra = {} if decay is None else csr_arrays(decay, "recency")
        np.savez(path / "state.npz", allow_pickle=False, weights=self.weights_, **extra)

    def _load_state(self, path: Path) -> None:
        with np.load(path / "state.npz", allow_pickle=False) as z:
            self.weights_ = np.ascontiguousarray(z["weights"], dtype=np.float32)
            if "recency_data" in z.files:
                self._recency_weights = load_csr(z, "recency").astype(np.float32)
                self._recency_of = self._train()

    @classmethod
    def sweep(cls, train: Interactions, regularizations: Iterable[float],
              config: EASEConfig | None = None) -> list["EASE"]:
        """EASE fitted on ``train`` for each λ in ``regularizations``, from one
        eigendecomposition (:class:`EASESpectrum`) rather than one inverse per λ.

        Each model scores like a plain fit with that ``regularization`` (up to float
        rounding); its ``B`` is only formed if something asks for it (``weights_``,
        ``item_similarity``, ``save``). Worth it when many λ are scored on fewer users
        than movies (a tuning carve-out): each λ then costs ``O(users·n_items²)``
        instead of an ``O(n_items³)`` inverse.
        """
        spectrum = EASESpectrum(train, config or EASEConfig())
        return [spectrum.model(lam) for lam in regularizations]

    @classmethod
    def tuning_fits(cls, train: Interactions, fixed: Mapping[str, Any],
                    searched: set[str]) -> Callable[[Mapping[str, Any]], "EASE"] | None:
        """For :func:`cinerec.tuning.tune`, when only ``regularization`` and/or
        ``recency_half_life`` are searched (the half-life only weighs the scored rows, not
        ``XᵀX``): a function from a trial's settings to an EASE fitted on ``train`` that
        shares one decomposition between trials; ``None`` otherwise (each trial then fits
        as usual).

        * Above :data:`~cinerec.models.ease_sketch.SKETCH_MIN_ITEMS` movies, an
          :class:`~cinerec.models.ease_sketch.EASESketch`: its models are approximate
          (``approximate``), so the tuner fits its choice the ordinary way afterwards.
        * Otherwise, when ``train`` has no more users than movies, one exact
          :class:`EASESpectrum`.
        """
        if not searched or searched - {"regularization", "recency_half_life"}:
            return None
        from cinerec.models import ease_sketch

        config = EASEConfig.from_dict(dict(fixed))
        source: Any
        if train.n_items > ease_sketch.SKETCH_MIN_ITEMS:
            source = ease_sketch.EASESketch(train, config)
        elif train.n_users > train.n_items:
            # Each λ scores every validation user in O(movies²): past as many users as
            # movies, that costs more than a plain fit's inverse, so trials fit as usual.
            return None
        else:
            source = EASESpectrum(train, config)

        def fit(settings: Mapping[str, Any]) -> "EASE":
            half_life = settings.get("recency_half_life")
            return cast(EASE, source.model(settings.get("regularization"),
                                           None if half_life is None else float(half_life)))

        return fit


class EASESpectrum:
    """EASE for any λ from one eigendecomposition ``XᵀX = QΛQᵀ`` of a training matrix.

    With ``P = (XᵀX + λI)⁻¹ = Q (Λ + λ)⁻¹ Qᵀ``, ``diag P = (Q∘Q)(Λ + λ)⁻¹`` and EASE's
    ``B = I − P·diag(1/diag P)``, a history row ``x`` scores
    ``x B = x − ((xQ)(Λ + λ)⁻¹Qᵀ) / diag P`` (column by column). ``xQ`` does not depend
    on λ and is kept for the users asked about, so a new λ costs ``O(n²)`` for
    ``diag P`` plus ``O(n²)`` per user's row (one matrix product for a block of users;
    sampled candidates are read from whole rows, which BLAS makes faster than
    gathering ``O(n)`` per pair). The eigendecomposition itself costs several inverses
    (benchmarks/bench_ease.py measures how many): it pays off over many λ.

    The decomposition is LAPACK's divide-and-conquer ``syevd`` (measured the fastest
    here, ahead of ``syevr``, NumPy's and ``torch.linalg.eigh``), in float64 by default:
    a float32 one is about twice as fast but strays further from exact than the plain
    fit's float32 inverse (at 1,682 movies, 5e-5 of the scores' size against 4e-7, which
    flipped one user's hit in one of 30 tuning trials on ml-100k; at 10,000 movies,
    7e-4). In float64 the 30 trials' figures equal the plain fits' exactly.

    Args:
        train: the training interactions.
        config: EASE's settings; its ``binary`` and ``max_items`` apply, its
            ``regularization`` is the default λ of :meth:`model`.
        dtype: ``np.float64`` (the default) or ``np.float32`` (faster, less exact).
    """

    def __init__(self, train: Interactions, config: EASEConfig | None = None, dtype: Any = np.float64) -> None:
        self.config = config or EASEConfig()
        _check_ease_size(train.n_items, self.config.max_items, spectrum=True)
        self.train = train
        self.dtype = np.dtype(dtype)
        x = _history_matrix(train.csr, train.n_items, self.config.binary, "ease")
        gram = np.asarray((x.T @ x).toarray(), dtype=self.dtype)
        values, vectors = scipy.linalg.eigh(gram, driver="evd", overwrite_a=True, check_finite=False)
        del gram
        self.values = np.asarray(values, dtype=np.float64)  # (n,) Λ, ascending
        self.vectors = np.ascontiguousarray(vectors, dtype=self.dtype)  # (n, n) Q, an eigenvector per column
        self._xq: dict[bytes, np.ndarray] = {}

    def model(self, regularization: float | None = None, recency_half_life: float | None = None) -> EASE:
        """A fitted :class:`EASE` with this ``regularization`` and ``recency_half_life``
        (default: the config's)."""
        return _SpectralEASE(_trial_config(self.config, regularization, recency_half_life), self)

    def diag_p(self, regularization: float) -> np.ndarray:
        """``(n,) float64`` the diagonal of ``(XᵀX + λI)⁻¹``."""
        inv = 1.0 / (self.values + regularization)
        out = np.empty(len(self.values), dtype=np.float64)
        for sl in chunks(len(out), 1024):  # block by block: no second n² matrix of squares
            out[sl] = np.square(self.vectors[sl], dtype=np.float64) @ inv
        return out

    def history_q(self, history: sp.csr_matrix, key: bytes | None = None) -> np.ndarray:
        """``(n_rows, n)`` ``history · Q`` (in :attr:`dtype`); kept under ``key`` while memory allows."""
        if key is not None and key in self._xq:
            return self._xq[key]
        xq = np.asarray(history.astype(self.dtype) @ self.vectors, dtype=self.dtype)
        if key is not None and sum(a.nbytes for a in self._xq.values()) + xq.nbytes <= _SPECTRUM_CACHE_BYTES:
            self._xq[key] = xq
        return xq

    def scores(self, history: sp.csr_matrix, xq: np.ndarray, regularization: float) -> np.ndarray:
        """``(n_rows, n) float32`` EASE scores of ``history`` rows (``xq`` their ``history · Q``)."""
        inv = (1.0 / (self.values + regularization)).astype(self.dtype)
        xp = (xq * inv[None, :]) @ self.vectors.T  # rows of x P
        xp /= self.diag_p(regularization).astype(self.dtype)[None, :]
        return (np.asarray(history.toarray(), dtype=self.dtype) - xp).astype(np.float32)


class _SharedEASE(EASE):
    """An EASE scored from a decomposition shared between many λ; ``B`` is formed only when
    something asks for it (``weights_``, ``item_similarity``, ``save``), from :meth:`_p`."""

    def __init__(self, config: EASEConfig, train: Interactions) -> None:
        super().__init__(config)
        self._remember(train)
        self._weights: np.ndarray | None = None

    @abstractmethod
    def _p(self) -> tuple[np.ndarray, np.ndarray]:
        """``(n, n)`` ``P = (XᵀX + λI)⁻¹`` (a new array, overwritten) and its diagonal."""

    @property
    def weights_(self) -> np.ndarray:
        """``B`` itself, ``(n, n) float32``: ``−P / diag P`` with a zero diagonal (once)."""
        if self._weights is None:
            p, diag = self._p()
            p /= -diag[None, :]
            np.fill_diagonal(p, 0.0)
            self._weights = np.ascontiguousarray(p, dtype=np.float32)
        return self._weights

    @weights_.setter
    def weights_(self, value: np.ndarray) -> None:
        self._weights = value


class _SpectralEASE(_SharedEASE):
    """An EASE scored through an :class:`EASESpectrum`."""

    def __init__(self, config: EASEConfig, spectrum: EASESpectrum) -> None:
        super().__init__(config, spectrum.train)
        self._spectrum: EASESpectrum | None = spectrum

    def fit(self, train: Interactions, valid: Interactions | None = None) -> "EASE":
        self._spectrum = None  # an ordinary fit from now on
        return super().fit(train, valid)

    def _p(self) -> tuple[np.ndarray, np.ndarray]:
        s, lam = cast(EASESpectrum, self._spectrum), self.config.regularization
        p = (s.vectors / (s.values + lam).astype(s.dtype)[None, :]) @ s.vectors.T
        return p, np.diag(p).copy()

    def _user_history(self, spectrum: EASESpectrum, users: np.ndarray) -> tuple[sp.csr_matrix, np.ndarray]:
        h = self._history_rows(users)
        # The rows, hence xQ, depend on the users and the half-life.
        key = np.asarray(users, dtype=np.int64).tobytes() + np.float64(self.config.recency_half_life).tobytes()
        return h, spectrum.history_q(h, key=key)

    def _score_rows(self, users: np.ndarray) -> np.ndarray:
        if self._spectrum is None:
            return super()._score_rows(users)
        h, xq = self._user_history(self._spectrum, users)
        return self._spectrum.scores(h, xq, self.config.regularization)

    def _score(self, history: sp.csr_matrix) -> np.ndarray:
        if self._spectrum is None:
            return super()._score(history)
        return self._spectrum.scores(history, self._spectrum.history_q(history), self.config.regularization)


def _trial_config(config: EASEConfig, regularization: float | None,
                  recency_half_life: float | None) -> EASEConfig:
    """``config`` with a trial's ``regularization`` and ``recency_half_life`` (``None``: kept)."""
    values = config.to_dict()
    # As drawn, not through float(): a search space of other values ("a", "b") is refused
    # by the settings' own check, naming the setting, not by float() deep in the search.
    if regularization is not None:
        values["regularization"] = regularization
    if recency_half_life is not None:
        values["recency_half_life"] = recency_half_life
    return EASEConfig.from_dict(values)


def _size(n_bytes: int) -> str:
    return f"{n_bytes / 2**30:.1f} GiB" if n_bytes >= 2**30 else f"{max(1, round(n_bytes / 2**20))} MiB"


def _ease_peak_bytes(n_items: int, spectrum: bool = False) -> int:
    """About the memory EASE's fit holds at once in its dense ``n_items²`` matrices, as
    measured: up to ``_FLOAT32_MAX_ITEMS`` movies, the float64 Gram matrix beside its
    float32 copy, the inverse and the inverse's working copy (about 21 bytes a cell);
    past it, the float64 matrix inverted in place beside the float32 weights (12; the
    Gram matrix, made in float32 and widened, holds as much); ``spectrum``: the float64
    eigendecomposition of a search over λ (about 24)."""
    per_cell = 24 if spectrum else 21 if n_items <= _FLOAT32_MAX_ITEMS else 12
    return per_cell * n_items**2


def _check_ease_size(n_items: int, max_items: int, spectrum: bool = False) -> None:
    if n_items > max_items:
        raise ConfigError(
            f"ease: {n_items:,} movies exceed max_items={max_items:,}; its dense {n_items:,}x{n_items:,} "
            f"matrices need about {_size(_ease_peak_bytes(n_items, spectrum))} at once while it fits "
            + said("(keep fewer movies, e.g. with --top-movies N or top_movies under [data], or raise max_items)",
                   "(keep fewer movies, e.g. with Filters(top_movies=N), or raise max_items)")
        )


def _ease_weights(gram: np.ndarray) -> np.ndarray:
    """``B`` from ``G = XᵀX + λI`` (float64, overwritten): ``−P / diag(P)``, zero diagonal.

    Up to ``_FLOAT32_MAX_ITEMS`` movies: float32 torch (fastest). Beyond: in place on
    ``gram`` so the peak stays near one float64 ``n²`` matrix plus the float32 result
    (at 30,000 movies: 7.2 + 3.6 GB rather than several copies).
    """
    n = gram.shape[0]
    if n <= _FLOAT32_MAX_ITEMS:
        try:
            p = torch.linalg.inv(torch.from_numpy(gram.astype(np.float32)))
        except torch.linalg.LinAlgError:  # a λ too small for a catalogue with rows alike (or empty)
            raise ConfigError("ease: XᵀX + λI cannot be inverted (singular); raise regularization") from None
        if not torch.isfinite(p).all():
            raise ConfigError("ease: inverting XᵀX + λI gave numbers that are not finite; raise regularization")
        p /= -torch.diagonal(p).clone()[None, :]
        p.fill_diagonal_(0.0)
        return p.numpy()
    # G is symmetric, so G or its transpose is the same matrix in Fortran order: LAPACK
    # then factors and inverts it without a copy.
    fortran = gram if gram.flags.f_contiguous else gram.T
    chol, info = scipy.linalg.lapack.dpotrf(fortran, lower=False, overwrite_a=True, clean=False)
    if info != 0:
        raise ConfigError(f"ease: XᵀX + λI is not positive definite (LAPACK info {info}); raise regularization")
    p, info = scipy.linalg.lapack.dpotri(chol, lower=False, overwrite_c=True)
    if info != 0:
        raise ConfigError(f"ease: inverting XᵀX + λI failed (LAPACK info {info}); raise regularization")
    # potri fills only the upper triangle: mirror it block by block (no n² temporaries).
    for sl in chunks(n, 1024):
        p[sl, : sl.start] = p[: sl.start, sl].T
        blk = p[sl, sl]
        p[sl, sl] = np.triu(blk) + np.triu(blk, 1).T
    diag = np.diag(p).copy()
    # ``p`` is in Fortran order, so its transpose is a C-order view of the same (symmetric)
    # matrix: dividing and narrowing in one pass from there writes B in C order directly,
    # the one float32 matrix promised above (narrowing in Fortran order left the caller a
    # second one to copy into C order: 3.6 GB more at 30,000 movies, and about 0.5 s at 10,000).
    weights = np.empty((n, n), dtype=np.float32)
    np.divide(p.T if p.flags.f_contiguous else p, -diag[None, :], out=weights, casting="unsafe")
    np.fill_diagonal(weights, 0.0)
    return weights


# -- biases -----------------------------------------------------------------------------


@dataclass(frozen=True)
class BaselineConfig(Config):
    """Bias model settings.

    Attributes:
        user_regularization: L2 penalty on user biases (acts as that many
            pseudo-ratings at 0).
        item_regularization: L2 penalty on movie biases. The defaults (5, 2) were the
            best of a 6x6 grid over {0, 2, 5, 10, 15, 25}² on a random 10% validation carve-out of
            ml-100k's u1.base (validation RMSE 0.9377); see docs/protocols.md.
        epochs: alternating passes (movie biases, then user biases); it converges in a few.
    """

    renamed = {"reg_user": "user_regularization", "reg_item": "item_regularization"}

    user_regularization: float = 5.0
    item_regularization: float = 2.0
    epochs: int = 10

    def validate(self) -> None:
        self._check(self.user_regularization >= 0.0, "user_regularization", "must be non-negative")
        self._check(self.item_regularization >= 0.0, "item_regularization", "must be non-negative")
        self._check(self.epochs >= 1, "epochs", "must be at least 1")


@register
class Baseline(RatingRecommender):
    """Global mean plus user and movie biases: ``r̂_ui = μ + b_u + b_i``.

    Koren, "Factor in the Neighbors" (TKDD 2010), section 2.1: regularised least squares
    on the biases, solved by alternating exact updates
    ``b_i = Σ_u (r_ui − μ − b_u) / (item_regularization + n_i)`` and
    ``b_u = Σ_i (r_ui − μ − b_i) / (user_regularization + n_u)``.
    :meth:`predict` clips to the rating range seen in training; ranking uses the
    unclipped ``μ + b_u + b_i`` (so, for one user, movies ordered by ``b_i``). A new
    person's history gets a user bias by the same formula (``score_history``).
    """

    name = "baseline"
    # Its order is the movies' own biases, the same for everyone (a person's bias moves every
    # score alike): no liked movie explains it.
    personal = False
    chart_reason = "rated highly by viewers"
    search_space = {
        "user_regularization": Param("float", 0.1, 50.0, log=True),
        "item_regularization": Param("float", 0.1, 50.0, log=True),
    }
    Config = BaselineConfig
    can_score_history = True
    config: BaselineConfig
    can_score_pairs = True

    def fit(self, train: Interactions, valid: Interactions | None = None) -> "Baseline":
        self._remember(train)
        cfg = self.config
        r = train.ratings.astype(np.float64)
        u, i = train.users, train.items
        self.mean_ = float(r.mean())
        n_u = np.bincount(u, minlength=train.n_users)
        n_i = np.bincount(i, minlength=train.n_items)
        bu = np.zeros(train.n_users)
        bi = np.zeros(train.n_items)
        for _ in range(cfg.epochs):
            bi = np.bincount(i, r - self.mean_ - bu[u], minlength=train.n_items) / (
                cfg.item_regularization + n_i + 1e-12)
            bu = np.bincount(u, r - self.mean_ - bi[i], minlength=train.n_users) / (
                cfg.user_regularization + n_u + 1e-12)
        self.user_bias_ = bu.astype(np.float32)
        self.item_bias_ = bi.astype(np.float32)
        self.range_ = scale_of(train) or (float(r.min()), float(r.max()))
        return self

    def _score_rows(self, users: np.ndarray) -> np.ndarray:
        return (self.mean_ + self.user_bias_[users][:, None] + self.item_bias_[None, :]).astype(np.float32)

    def _score_pairs(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return (self.mean_ + self.user_bias_[users] + self.item_bias_[items]).astype(np.float32)

    def predict(self, users: Any, items: Any) -> np.ndarray:
        return np.clip(self.score(users, np.asarray(items)), *self.range_).astype(np.float32)

    def score_history(self, history: sp.csr_matrix) -> np.ndarray:
        h = check_history(history, self.n_items, self.name, np.float64)
        coo = h.tocoo()
        resid = coo.data - self.mean_ - self.item_bias_[coo.col]
        bu = np.bincount(coo.row, resid, minlength=h.shape[0]) / (
            self.config.user_regularization + np.bincount(coo.row, minlength=h.shape[0]) + 1e-12
        )
        return (self.mean_ + bu[:, None] + self.item_bias_[None, :]).astype(np.float32)

    def _save_state(self, path: Path) -> None:
        np.savez(path / "state.npz", allow_pickle=False, **bias_arrays(self))

    def _load_state(self, path: Path) -> None:
        with np.load(path / "state.npz", allow_pickle=False) as z:
            read_biases(self, z)


def bias_arrays(model: Any) -> dict[str, np.ndarray]:
    """A fitted bias model's ``mean_``, ``user_bias_``, ``item_bias_`` and ``range_`` as
    arrays for its ``state.npz`` (``baseline``, and ``knnbaseline`` beside its weights)."""
    return {"mean": np.array(model.mean_), "user_bias": model.user_bias_, "item_bias": model.item_bias_,
            "range": np.array(model.range_)}


def read_biases(model: Any, z: Any) -> None:
    """Set ``model``'s biases from an open ``state.npz`` written with :func:`bias_arrays`."""
    model.mean_ = float(z["mean"])
    model.user_bias_ = z["user_bias"].astype(np.float32)
    model.item_bias_ = z["item_bias"].astype(np.float32)
    model.range_ = (float(z["range"][0]), float(z["range"][1]))
