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
  all the metric is ``nan``. ``per_user=True`` returns the ``(n,) float64`` per-user
  values instead (``nan`` for a row with no relevant movie), whose :func:`user_mean` is
  the metric; paired comparisons of two models use them.

Nothing here calls a model, rounds or prints.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

__all__ = [
    "hits", "hit_rate", "ndcg", "recall", "precision", "mrr", "coverage",
    "categorical_accuracy", "hit_rate_of_ranks", "mrr_of_ranks", "rmse", "mae", "user_mean",
    "ndcg_of_ratings", "ratings_differ", "auc", "accuracy",
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


def user_mean(per_user: Any) -> float:
    """The metric from per-user values: their mean, ``nan`` entries (no relevant movie) left out."""
    v = np.asarray(per_user, dtype=np.float64)
    keep = ~np.isnan(v)
    return float(v[keep].mean()) if keep.any() else float("nan")


def _mean(per_user: np.ndarray, n_rel: np.ndarray, as_array: bool = False) -> Any:
    values = np.where(n_rel > 0, per_user.astype(np.float64), np.nan)
    return values if as_array else user_mean(values)


def hit_rate(ranked: Any, truth: Any, k: int | None = None, *, per_user: bool = False) -> Any:
    """HR@K: share of users with at least one relevant movie among their first ``k``."""
    hit, n_rel = hits(ranked, truth, k)
    return _mean(np.asarray(hit.any(axis=1), dtype=np.float64), n_rel, per_user)


def _discounts(k: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(k, dtype=np.float64) + 2.0)


def ndcg(ranked: Any, truth: Any, k: int | None = None, *, per_user: bool = False) -> Any:
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
    values = np.divide(dcg, ideal, out=np.zeros_like(dcg), where=ideal > 0)
    return _mean(values, n_rel, per_user)


def recall(ranked: Any, truth: Any, k: int | None = None, *, per_user: bool = False) -> Any:
    """Recall@K: relevant movies among the first ``k``, divided by ``|truth|``."""
    hit, n_rel = hits(ranked, truth, k)
    values = hit.sum(axis=1) / np.maximum(n_rel, 1)
    return _mean(values, n_rel, per_user)


def precision(ranked: Any, truth: Any, k: int | None = None, *, per_user: bool = False) -> Any:
    """Precision@K: relevant movies among the first ``k``, divided by ``k``.

    ``k`` is the list length asked for (padding counts as a miss), so a user offered
    fewer than ``k`` movies is not rewarded for it.
    """
    hit, n_rel = hits(ranked, truth, k)
    # k when asked for, even past the lists given (a shorter list is no better for it).
    values = hit.sum(axis=1) / max(k if k is not None else hit.shape[1], 1)
    return _mean(values, n_rel, per_user)


def mrr(ranked: Any, truth: Any, k: int | None = None, *, per_user: bool = False) -> Any:
    """Mean reciprocal rank: ``1 / rank`` of the first relevant movie, 0 if none.

    Uncut over the ranking given (``k=None``): pass a full ranking for the textbook MRR,
    or ``k`` for MRR@K (a relevant movie after position ``k`` then counts 0).
    """
    hit, n_rel = hits(ranked, truth, k)
    first = hit.argmax(axis=1)
    values = np.where(hit.any(axis=1), 1.0 / (first + 1.0), 0.0)
    return _mean(values, n_rel, per_user)


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


def mrr_of_ranks(ranks: Any, *, per_user: bool = False) -> Any:
    """MRR from ranks: ``mean(1 / rank)`` of each user's one held-out movie, uncut.

    ``ranks`` is ``(n,) int`` 1-based; equal to :func:`mrr` of full rankings. ``nan``
    for no users. ``per_user=True``: the ``(n,)`` values ``1 / rank``.
    """
    r = _ranks(ranks)
    if per_user:
        return 1.0 / r
    return float(np.mean(1.0 / r)) if len(r) else float("nan")


def _pair(pred: Any, truth: Any) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(pred, dtype=np.float64).ravel()
    t = np.asarray(truth, dtype=np.float64).ravel()
    if p.shape != t.shape:
        raise ValueError(f"predictions ({len(p)}) and truth ({len(t)}) differ in length")
    if not len(p):
        raise ValueError("no ratings to compare")
    return p, t


def _by_user(errors: np.ndarray, users: Any) -> np.ndarray:
    """Mean of ``errors`` per user: ``(max(users) + 1,)``, ``nan`` for a user with no rating."""
    u = np.asarray(users).astype(np.int64).ravel()
    if u.shape != errors.shape:
        raise ValueError(f"users ({len(u)}) and ratings ({len(errors)}) differ in length")
    n = np.bincount(u)
    total = np.bincount(u, weights=errors, minlength=len(n))
    return np.divide(total, n, out=np.full(len(n), np.nan), where=n > 0)


def rmse(pred: Any, truth: Any, users: Any = None) -> Any:
    """Root mean squared error ``sqrt(mean((pred − truth)²))`` over ``(n,)`` ratings.

    With ``users`` (``(n,) int``, whose rating each is), the per-user RMSE instead, indexed
    by user (``nan`` for a user with no rating).
    """
    p, t = _pair(pred, truth)
    if users is not None:
        return np.sqrt(_by_user((p - t) ** 2, users))
    return float(np.sqrt(np.mean((p - t) ** 2)))


def mae(pred: Any, truth: Any, users: Any = None) -> Any:
    """Mean absolute error ``mean(|pred − truth|)`` over ``(n,)`` ratings (per user with ``users``)."""
    p, t = _pair(pred, truth)
    if users is not None:
        return _by_user(np.abs(p - t), users)
    return float(np.mean(np.abs(p - t)))


def ndcg_of_ratings(users: Any, items: Any, scores: Any, ratings: Any, k: int, *, per_user: bool = False,
                    lowest: float = 0.0) -> Any:
    """NDCG@K of each user's own test movies, ranked by score, the true stars as gain.

    For a user ``u`` with test pairs ``P_u`` (``n_u >= 1`` of them): order ``P_u`` by
    predicted score, highest first (score ties: lower movie index first), and let
    ``r_(j)`` be the true rating of the ``j``-th movie. Then

    ``DCG@k = Σ_{j=1..min(k, n_u)} r_(j) / log2(j + 1)``, ``IDCG@k`` the same sum over
    ``P_u`` sorted by true rating, highest first, and the user's value is
    ``DCG@k / IDCG@k`` (linear gain, log2 discount). A user whose every order of their
    test movies scores alike has no value: one test movie, or test movies that all hold
    the same rating (their NDCG would be 1 whatever the model did), or an ``IDCG`` of 0.
    The metric is the mean over the users with a value.

    On a scale that reaches below 0 (``lowest < 0``) the gains are ``r - lowest``, so that
    they start at 0: a negative gain would make NDCG negative, or leave ``IDCG`` at 0 for
    someone whose ratings differ. Stars of 0 and up are their own gains, as usual.

    Args:
        users, items: ``(n,) int`` the test pairs.
        scores: ``(n,)`` the model's score of each pair (stars or a probability).
        ratings: ``(n,)`` the true stars (the gains).
        k: the cut-off (at least 1).
        per_user: return ``(max(users) + 1,) float64`` values indexed by user (``nan``
            for a user with no test pair or no value) instead of their mean.
        lowest: the lowest rating of the data's scale (a log's declared scale, else its
            training and test ratings).
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    u = np.asarray(users).astype(np.int64).ravel()
    it = np.asarray(items).astype(np.int64).ravel()
    s, r = _pair(scores, ratings)
    r = r - min(0.0, float(lowest), float(r.min()) if len(r) else 0.0)  # gains from 0 up
    if not (len(u) == len(it) == len(s)):
        raise ValueError(f"users ({len(u)}), items ({len(it)}) and scores ({len(s)}) differ in length")
    counts = np.bincount(u)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])

    def dcg(order: np.ndarray) -> np.ndarray:
        uo = u[order]
        pos = np.arange(len(uo)) - starts[uo]  # 0-based position within the user's list
        disc = np.where(pos < k, 1.0 / np.log2(pos + 2.0), 0.0)
        return np.bincount(uo, weights=r[order] * disc, minlength=len(counts))

    got = dcg(np.lexsort((it, -s, u)))  # by user, then score (highest first), then movie index
    ideal = dcg(np.lexsort((-r, u)))
    values = np.divide(got, ideal, out=np.full(len(counts), np.nan),
                       where=(ideal > 0) & ratings_differ(u, r, len(counts)))
    return values if per_user else user_mean(values)


def ratings_differ(users: Any, ratings: Any, n_users: int) -> np.ndarray:
    """``(n_users,) bool``: whether each user's ratings are not all alike (their largest and
    smallest differ), which their NDCG of ratings needs (:func:`ndcg_of_ratings`)."""
    u = np.asarray(users).astype(np.int64).ravel()
    r = np.asarray(ratings, dtype=np.float64).ravel()
    top = np.full(n_users, -np.inf)
    np.maximum.at(top, u, r)
    bottom = np.full(n_users, np.inf)
    np.minimum.at(bottom, u, r)
    return top > bottom


def _labelled(scores: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(labels).ravel()
    if y.dtype != bool:
        raise ValueError(f"labels must be booleans, got {y.dtype}")
    if s.shape != y.shape:
        raise ValueError(f"scores ({len(s)}) and labels ({len(y)}) differ in length")
    if not len(s):
        raise ValueError("no pairs to compare")
    return s, y


def auc(scores: Any, labels: Any) -> float:
    """Area under the ROC curve of ``(n,)`` scores against ``(n,) bool`` labels, over all pairs.

    The chance that a random positive pair scores above a random negative one, a tie
    counting one half (the Mann–Whitney statistic with average ranks):
    ``(Σ rank(positives) − P (P + 1) / 2) / (P N)``. ``nan`` when either class is empty.
    """
    from scipy.stats import rankdata

    s, y = _labelled(scores, labels)
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(s)  # average ranks for ties
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def accuracy(probabilities: Any, labels: Any, threshold: float = 0.5) -> float:
    """Share of ``(n,)`` pairs whose call ``probability >= threshold`` equals the ``(n,) bool`` label."""
    p, y = _labelled(probabilities, labels)
    return float(np.mean((p >= threshold) == y))
