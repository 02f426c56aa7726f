"""Ranking and rating metrics: pure functions of model outputs and the truth.

Conventions shared by the ranking metrics:

* ``ranked`` is an ``(n, K) int`` array: row ``r`` lists user ``r``'s recommended movie
  indices, best first. ``-1`` marks padding (fewer than ``K`` eligible movies) and never
  counts as a hit.
* ``truth`` is either an ``(n, n_items)`` CSR matrix whose stored entries in row ``r``
  are user ``r``'s relevant movies (values are ignored: relevance is binary), or an
  ``(n,) int`` array holding one held-out movie per user.
* ``k`` cuts each list to its first ``k`` columns (``None``: use all ``K``).
* A per-user value is computed for every row, and the metric is its mean over the users
  with at least one relevant movie; rows with none are left out. With no such user at
  all the metric is ``nan``.

Nothing here calls a model, rounds or prints.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

__all__ = [
    "hits", "hit_rate", "ndcg", "recall", "precision", "mrr", "coverage",
    "categorical_accuracy", "hit_rate_of_ranks", "mrr_of_ranks", "rmse", "mae",
]


def _ranked(ranked: Any, k: int | None) -> np.ndarray:
    r = np.asarray(ranked)
    if r.ndim != 2:
        raise ValueError(f"ranked must be a 2-D (users, K) array, got shape {r.shape}")
    if k is not None:
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        r = r[:, :k]
    return r.astype(np.int64, copy=False)


def hits(ranked: Any, truth: sp.spmatrix | np.ndarray, k: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Which recommended movies are relevant, and how many relevant movies each user has.

    Args:
        ranked: ``(n, K) int`` movie indices, best first; ``-1`` is padding.
        truth: ``(n, n_items)`` CSR of relevant movies, or ``(n,) int`` one movie per user.
        k: keep the first ``k`` columns of ``ranked``.

    Returns:
        ``(hit (n, k) bool, n_relevant (n,) int64)``.
    """
    r = _ranked(ranked, k)
    n = r.shape[0]
    if sp.issparse(truth):
        t = sp.csr_matrix(truth, copy=True)
        if t.shape[0] != n:
            raise ValueError(f"truth has {t.shape[0]} rows, ranked has {n}")
        t.sum_duplicates()  # sorts indices and merges repeats, so counts are of distinct movies
        n_rel = np.diff(t.indptr).astype(np.int64)
        # Membership by sorted (row, movie) keys: one searchsorted for the whole matrix.
        n_items = max(t.shape[1], int(r.max(initial=-1)) + 1, 1)
        keys = np.repeat(np.arange(n, dtype=np.int64), n_rel) * n_items + t.indices
        probe = np.arange(n, dtype=np.int64)[:, None] * n_items + r
        if len(keys):
            pos = np.minimum(np.searchsorted(keys, probe), len(keys) - 1)
            hit = keys[pos] == probe
        else:
            hit = np.zeros(r.shape, dtype=bool)
    else:
        t = np.asarray(truth).astype(np.int64).ravel()
        if len(t) != n:
            raise ValueError(f"truth has {len(t)} entries, ranked has {n} rows")
        hit = r == t[:, None]
        n_rel = (t >= 0).astype(np.int64)
    return hit & (r >= 0), n_rel


def _mean(per_user: np.ndarray, n_rel: np.ndarray) -> float:
    keep = n_rel > 0
    return float(per_user[keep].mean()) if keep.any() else float("nan")


def hit_rate(ranked: Any, truth: Any, k: int | None = None) -> float:
    """HR@K: share of users with at least one relevant movie among their first ``k``."""
    hit, n_rel = hits(ranked, truth, k)
    # asarray: numpy's stubs type any(axis=...) as "array or scalar"; on (n, k) it is (n,).
    return _mean(np.asarray(hit.any(axis=1), dtype=np.float64), n_rel)


def _discounts(k: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(k, dtype=np.float64) + 2.0)


def ndcg(ranked: Any, truth: Any, k: int | None = None) -> float:
    """NDCG@K with binary relevance and a log2 discount.

    ``DCG = Σ_{j=1..k} rel_j / log2(j + 1)``; the ideal DCG puts ``min(|truth|, k)``
    relevant movies at the top: ``IDCG = Σ_{j=1..min(|truth|, k)} 1 / log2(j + 1)``.
    Per user ``DCG / IDCG``.
    """
    hit, n_rel = hits(ranked, truth, k)
    kk = hit.shape[1]
    disc = _discounts(kk)
    dcg = hit.astype(np.float64) @ disc
    ideal = np.concatenate([[0.0], np.cumsum(disc)])[np.minimum(n_rel, kk)]
    per_user = np.divide(dcg, ideal, out=np.zeros_like(dcg), where=ideal > 0)
    return _mean(per_user, n_rel)


def recall(ranked: Any, truth: Any, k: int | None = None) -> float:
    """Recall@K: relevant movies among the first ``k``, divided by ``|truth|``."""
    hit, n_rel = hits(ranked, truth, k)
    per_user = hit.sum(axis=1) / np.maximum(n_rel, 1)
    return _mean(per_user, n_rel)


def precision(ranked: Any, truth: Any, k: int | None = None) -> float:
    """Precision@K: relevant movies among the first ``k``, divided by ``k``.

    ``k`` is the list length asked for (padding counts as a miss), so a user offered
    fewer than ``k`` movies is not rewarded for it.
    """
    hit, n_rel = hits(ranked, truth, k)
    per_user = hit.sum(axis=1) / max(hit.shape[1], 1)
    return _mean(per_user, n_rel)


def mrr(ranked: Any, truth: Any, k: int | None = None) -> float:
    """Mean reciprocal rank: ``1 / rank`` of the first relevant movie, 0 if none.

    Uncut over the ranking given (``k=None``): pass a full ranking for the textbook MRR,
    or ``k`` for MRR@K (a relevant movie after position ``k`` then counts 0).
    """
    hit, n_rel = hits(ranked, truth, k)
    first = hit.argmax(axis=1)
    per_user = np.where(hit.any(axis=1), 1.0 / (first + 1.0), 0.0)
    return _mean(per_user, n_rel)


def coverage(ranked: Any, n_items: int, k: int | None = None) -> float:
    """Catalogue coverage: share of the ``n_items`` movies recommended to at least one user."""
    if n_items < 1:
        raise ValueError(f"n_items must be at least 1, got {n_items}")
    r = _ranked(ranked, k)
    shown = np.unique(r[r >= 0])
    if len(shown) and shown[-1] >= n_items:
        raise ValueError(f"ranked holds movie index {shown[-1]}, outside [0, {n_items})")
    return len(shown) / n_items


def categorical_accuracy(ranked: Any, truth: Any, k: int | None = None) -> float:
    """Top-K categorical accuracy, as TensorFlow Recommenders' ``FactorizedTopK`` reports it.

    For every test (user, movie) pair: 1 if the movie is among the user's first ``k``
    recommendations, else 0; the mean over PAIRS (a user with many test movies weighs
    more), not over users. ``ranked`` must rank the whole catalogue WITHOUT removing the
    movies the user has already seen, to match that definition.
    """
    hit, n_rel = hits(ranked, truth, k)
    total = int(n_rel.sum())
    return float(hit.sum() / total) if total else float("nan")


def _ranks(ranks: Any) -> np.ndarray:
    r = np.asarray(ranks)
    if r.ndim != 1:
        raise ValueError(f"ranks must be a 1-D array, got shape {r.shape}")
    if len(r) and r.min() < 1:
        raise ValueError(f"ranks are 1-based, got {r.min()}")
    return r.astype(np.float64)


def hit_rate_of_ranks(ranks: Any, k: int) -> float:
    """HR@K from ranks: share of users whose one held-out movie has rank ``<= k``.

    ``ranks`` is ``(n,) int``, the 1-based rank of each user's held-out movie (as
    :func:`cinerec.ranking.rank_of` gives it); equal to :func:`hit_rate` of the
    top-``k`` lists of the same ranking. ``nan`` for no users.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    r = _ranks(ranks)
    return float(np.mean(r <= k)) if len(r) else float("nan")


def mrr_of_ranks(ranks: Any) -> float:
    """MRR from ranks: ``mean(1 / rank)`` of each user's one held-out movie, uncut.

    ``ranks`` is ``(n,) int`` 1-based; equal to :func:`mrr` of full rankings. ``nan``
    for no users.
    """
    r = _ranks(ranks)
    return float(np.mean(1.0 / r)) if len(r) else float("nan")


def _pair(pred: Any, truth: Any) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(pred, dtype=np.float64).ravel()
    t = np.asarray(truth, dtype=np.float64).ravel()
    if p.shape != t.shape:
        raise ValueError(f"predictions ({len(p)}) and truth ({len(t)}) differ in length")
    if not len(p):
        raise ValueError("no ratings to compare")
    return p, t


def rmse(pred: Any, truth: Any) -> float:
    """Root mean squared error ``sqrt(mean((pred − truth)²))`` over ``(n,)`` ratings."""
    p, t = _pair(pred, truth)
    return float(np.sqrt(np.mean((p - t) ** 2)))


def mae(pred: Any, truth: Any) -> float:
    """Mean absolute error ``mean(|pred − truth|)`` over ``(n,)`` ratings."""
    p, t = _pair(pred, truth)
    return float(np.mean(np.abs(p - t)))
