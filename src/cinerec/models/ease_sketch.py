"""EASE for many λ at once on a large catalogue, approximately: :class:`EASESketch`.

A search over EASE's ``regularization`` λ needs ``P = (XᵀX + λI)⁻¹`` for every λ tried.
:class:`~cinerec.models.baselines.EASESpectrum` gets every ``P`` exactly from one full
eigendecomposition, but on this project's CPUs that decomposition alone costs about six
plain fits at 10,000 movies (docs/benchmarks.md). The sketch keeps only the ``rank``
largest eigenpairs of ``G = XᵀX``, found by a randomized range finder (Halko, Martinsson
and Tropp, 2011: one power iteration, ``oversample`` extra columns), which costs a few
``n² · rank`` matrix products instead of ``O(n³)``:

* the top of the spectrum is kept: ``G ≈ U E Uᵀ + R`` with ``R`` the rest;
* on the rest each eigenvalue is replaced by a mean, so
  ``P ≈ U (E + λ)⁻¹ Uᵀ + (I − U Uᵀ) / (ē + λ)`` with ``ē`` the mean of ``R``'s eigenvalues
  (``trace G − sum E`` over the ``n − rank`` of them);
* ``diag P`` takes that mean per movie: movie ``j``'s share of the rest is
  ``τ_j = 1 − |U_j|²`` and its weight there ``R_jj = G_jj − Σ_k U_jk² E_k``, so
  ``P_jj ≈ Σ_k U_jk² / (E_k + λ) + τ_j / (R_jj / τ_j + λ)``.

Large eigenvalues dominate ``P`` once λ is well above the rest's, which is where EASE's
best λ lies on the data measured (hundreds to thousands). There the sketch's validation
figures come within a few thousandths of a plain fit's; at small λ they are far off
(docs/benchmarks.md has both curves). So it serves to *screen* λ: the tuner
(:func:`cinerec.tuning.tune`) scores every trial through it, then fits the chosen
settings (and the defaults, when they differ) the ordinary way, and reports those
figures. It is never a fitted model a user keeps.
"""

from __future__ import annotations

from typing import cast

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from cinerec.data.dataset import Interactions
from cinerec.models.base import chunks
from cinerec.models.baselines import (EASE, EASEConfig, _check_ease_size, _history_matrix, _SharedEASE,
                                      _trial_config)

__all__ = ["EASESketch", "SKETCH_MIN_ITEMS"]

#: The tuner screens λ through a sketch above this many movies; below, the exact
#: :class:`~cinerec.models.baselines.EASESpectrum` (or a plain fit per trial) is cheap enough.
SKETCH_MIN_ITEMS = 4096
# Per-pair products kept between trials (sampled candidates): at most this many bytes in
# all, over the blocks of users an evaluation scores one after another.
_PAIR_CACHE_BYTES = 2 * 2**30


class EASESketch:
    """The top ``rank`` eigenpairs of ``XᵀX`` and a mean for the rest: EASE for any λ, approximately.

    Args:
        train: the training interactions.
        config: EASE's settings; its ``binary`` and ``max_items`` apply, its
            ``regularization`` is the default λ of :meth:`model`.
        rank: eigenpairs kept (at most half the movies).
        oversample: extra random columns of the range finder.
        seed: seeds the range finder's random matrix.

    It keeps ``XᵀX`` itself (``gram``, float32, the same numbers a plain fit computes), so
    that the plain fits confirming a search on ``train`` do not compute it again;
    ``n_items²`` float32 while the sketch lives.
    """

    def __init__(self, train: Interactions, config: EASEConfig | None = None, rank: int = 512,
                 oversample: int = 64, seed: int = 0) -> None:
        self.config = config or EASEConfig()
        _check_ease_size(train.n_items, self.config.max_items)
        self.train = train
        n = train.n_items
        rank = max(1, min(rank, n // 2))
        x = _history_matrix(train.csr, n, self.config.binary, "ease")
        gram = np.asarray((x.T @ x).toarray(), dtype=np.float32)
        diag = np.diag(gram).astype(np.float64)
        cols = min(n, rank + oversample)
        rng = np.random.default_rng(seed)
        y = gram @ rng.standard_normal((n, cols)).astype(np.float32)
        q, _ = np.linalg.qr(gram @ np.linalg.qr(y)[0])  # one power iteration
        values, vectors = scipy.linalg.eigh((q.T @ (gram @ q)).astype(np.float64))
        self.gram = gram
        top = np.argsort(values)[::-1][:rank]
        self.values = np.maximum(values[top], 0.0)  # (rank,) E, largest first
        self.vectors = np.ascontiguousarray(q @ vectors[:, top].astype(np.float32))  # (n, rank) U
        squares = np.square(self.vectors, dtype=np.float64)
        self._squares = squares
        self.rest_share = np.clip(1.0 - squares.sum(axis=1), 1e-9, None)  # τ_j
        rest_weight = np.clip(diag - squares @ self.values, 0.0, None)  # R_jj
        self.rest_mean_item = rest_weight / self.rest_share
        self.rest_mean = max(float(diag.sum() - self.values.sum()) / max(n - rank, 1), 0.0)  # ē
        self._pairs: dict[tuple[bytes, bytes], tuple[np.ndarray, np.ndarray]] = {}
        self._pairs_half_life: float | None = None  # the recency weighting the kept products have

    @property
    def rank(self) -> int:
        return len(self.values)

    def diag_p(self, regularization: float) -> np.ndarray:
        """``(n,) float64`` the sketch's diagonal of ``(XᵀX + λI)⁻¹``."""
        return self._squares @ (1.0 / (self.values + regularization)) + \
            self.rest_share / (self.rest_mean_item + regularization)

    def model(self, regularization: float | None = None, recency_half_life: float | None = None) -> EASE:
        """An EASE scored through the sketch with this ``regularization`` and
        ``recency_half_life`` (default: the config's)."""
        return _SketchEASE(_trial_config(self.config, regularization, recency_half_life), self)


class _SketchEASE(_SharedEASE):
    """An EASE scored through an :class:`EASESketch` (approximate); ``fit`` makes it a plain one."""

    #: Its scores only approximate a plain fit's (the tuner then confirms its choice with plain fits).
    approximate = True

    def __init__(self, config: EASEConfig, sketch: EASESketch) -> None:
        super().__init__(config, sketch.train)
        self._sketch: EASESketch | None = sketch
        self._kept_gram: np.ndarray | None = None  # the sketch's XᵀX, while a fit on its data runs
        lam = config.regularization
        self._top = (1.0 / (sketch.values + lam)).astype(np.float32)  # (E + λ)⁻¹
        self._rest = np.float32(1.0 / (sketch.rest_mean + lam))  # (ē + λ)⁻¹
        self._diag = sketch.diag_p(lam).astype(np.float32)

    def fit(self, train: Interactions, valid: Interactions | None = None) -> "EASE":
        """An ordinary fit from now on; on the sketch's own training data it starts from the
        sketch's ``XᵀX`` instead of computing it again (the same numbers). The per-pair
        products the sketch keeps for its trials are let go first: a fit is what confirms
        a search's choice once its trials are done, and needs the memory."""
        sketch, self._sketch = self._sketch, None
        self.approximate = False
        if sketch is not None:
            sketch._pairs.clear()
        self._kept_gram = sketch.gram if sketch is not None and train is sketch.train else None
        try:
            return super().fit(train, valid)
        finally:
            self._kept_gram = None

    def _gram(self, train: Interactions) -> np.ndarray:
        return super()._gram(train) if self._kept_gram is None else self._kept_gram.astype(np.float64)

    def _p(self) -> tuple[np.ndarray, np.ndarray]:
        s = cast(EASESketch, self._sketch)
        p = (s.vectors * (self._top - self._rest)[None, :]) @ s.vectors.T
        p[np.diag_indices_from(p)] += self._rest
        return p, self._diag

    def _score(self, history: sp.csr_matrix) -> np.ndarray:
        if self._sketch is None:
            return super()._score(history)
        u = self._sketch.vectors
        dense = np.asarray(history.toarray(), dtype=np.float32)
        xp = (np.asarray(history @ u, dtype=np.float32) * (self._top - self._rest)[None, :]) @ u.T
        xp += self._rest * dense  # rows of the sketch's x P
        return dense - xp / self._diag[None, :]

    def _score_pairs(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Per pair ``x_j − x P_j / P_jj``. The λ-free part, ``(xU)_k U_jk`` and ``x_j``, is
        kept on the sketch for the next trial on the same pairs and half-life (a search
        over λ scores the same candidates every trial, a block of users per call) while
        all that is kept fits in ``_PAIR_CACHE_BYTES``; a block beyond that is scored
        without being kept, and a new half-life replaces what was kept."""
        s = self._sketch
        if s is None:
            return np.asarray(super()._score_pairs(users, items))
        weights = self._top - self._rest
        if s._pairs_half_life != self.config.recency_half_life:
            s._pairs.clear()
            s._pairs_half_life = self.config.recency_half_life
        key = (users.tobytes(), items.tobytes())
        held = sum(prods.nbytes + seen.nbytes for prods, seen in s._pairs.values())
        if key not in s._pairs and held + len(users) * (s.rank + 1) * 4 <= _PAIR_CACHE_BYTES:
            parts = (np.empty((len(users), s.rank), dtype=np.float32), np.empty(len(users), dtype=np.float32))
            self._pair_parts(users, items, *parts)
            s._pairs[key] = parts
        if key in s._pairs:
            prods, seen = s._pairs[key]
            xp = prods @ weights + self._rest * seen
            return seen - xp / self._diag[items]
        out = np.empty(len(users), dtype=np.float32)  # too many pairs to keep: block by block
        self._pair_parts(users, items, None, None, weights=weights, out=out)
        return out

    def _pair_parts(self, users: np.ndarray, items: np.ndarray, prods: np.ndarray | None, seen: np.ndarray | None,
                    weights: np.ndarray | None = None, out: np.ndarray | None = None) -> None:
        """Fill ``prods`` (``(xU)_k U_jk`` per pair) and ``seen`` (``x_j``), or with ``weights``
        write the pairs' scores into ``out`` a block of users at a time."""
        s = cast(EASESketch, self._sketch)
        uniq, inv = np.unique(users, return_inverse=True)
        for sl in chunks(len(uniq), 1024):
            h = self._history_rows(uniq[sl])
            xu = np.asarray(h @ s.vectors, dtype=np.float32)
            sel = np.nonzero((inv >= sl.start) & (inv < sl.stop))[0]
            rows, cols = inv[sel] - sl.start, items[sel]
            x_j = np.asarray(h[rows, cols], dtype=np.float32).ravel()
            if out is not None and weights is not None:
                xp = np.einsum("ij,ij->i", xu[rows] * weights[None, :], s.vectors[cols]) + self._rest * x_j
                out[sel] = x_j - xp / self._diag[cols]
            elif prods is not None and seen is not None:
                if len(sel) and sel[-1] + 1 - sel[0] == len(sel):
                    # The pairs of these users lie together (as an evaluation asks for them):
                    # written in place, about ten times faster than a scattered assignment.
                    block = prods[sel[0]: sel[-1] + 1]
                    np.take(s.vectors, cols, axis=0, out=block)
                    block *= xu[rows]
                else:
                    prods[sel] = xu[rows] * s.vectors[cols]
                seen[sel] = x_j
