"""The one ranking rule: top-k lists, and the rank of one held-out item.

A model only scores; everything that turns scores into an order goes through here, so
recommendations, protocols and training validation agree on every tie:

* a higher score ranks first;
* equal scores rank the lower column first (the lower item index when the columns are
  the whole catalog; the earlier candidate when they are candidates);
* a score that is not a number (NaN) ranks first, with +inf, so a broken model shows
  in its lists rather than hiding there;
* excluded items (movies already seen) never appear in a list and never count against
  another item.

:func:`top_k` gives the best ``k`` items of each row; :func:`rank_of` gives the position
one chosen item would take in that same order, without sorting the row.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from cinerec.errors import ConfigError

__all__ = ["top_k", "check_k", "rank_of", "standardise"]


def check_k(k: Any) -> int:
    """``k`` as a list length: a whole number of at least 1, or one line naming it."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ConfigError(f"k = {k!r}: expected a whole number of at least 1")
    return int(k)


def top_k(
    scores: np.ndarray | torch.Tensor,
    k: int,
    exclude: sp.csr_matrix | None = None,
    candidates: np.ndarray | None = None,
    *,
    copy: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best items of each row of ``scores``.

    Args:
        scores: ``(n, m) float`` scores (NumPy, or a torch tensor on any device); row
            ``r`` scores the items ``candidates[r]`` when candidates are given, else items
            ``0..m-1``.
        k: how many to return per row.
        exclude: ``(n, n_items)`` CSR matrix; its non-zero entries are never returned.
        candidates: ``(n, m) int`` item indices that the columns of ``scores`` stand for.
        copy: ``False`` lets the function overwrite ``scores`` (excluded entries become
            ``-inf``), which saves copying a whole chunk of scores.

    Returns:
        ``(items, scores)``, each ``(n, k)``: item indices ``int32`` best first, and their
        ``float32`` scores. Rows with fewer than ``k`` eligible items are padded with item
        ``-1`` and score ``-inf``. Equal scores rank the lower column first.
    """
    k = check_k(k)
    s = torch.as_tensor(scores)
    if s.dtype != torch.float32:
        s = s.float()
    elif copy or (isinstance(scores, np.ndarray) and not scores.flags.writeable):
        s = s.clone()
    n, m = s.shape
    dev = s.device
    # A score that is not a number ranks first, always (torch.topk's own way, which the
    # tie path below would otherwise undo): it counts as +inf for the order, and its NaN
    # is given back, so whoever reads the list sees the model is broken.
    nan = torch.isnan(s)
    any_nan = bool(nan.any())
    if any_nan:
        s[nan] = torch.inf
    if exclude is not None and exclude.nnz:
        if candidates is None:
            seen_rows = np.repeat(np.arange(n), np.diff(exclude.indptr))
            s[torch.from_numpy(seen_rows).to(dev), torch.from_numpy(exclude.indices.astype(np.int64)).to(dev)] = -torch.inf
        else:
            s[torch.from_numpy(_seen_mask(exclude, candidates)).to(dev)] = -torch.inf
    kk = min(k, m)
    # One score past the k, when there is one: a tie across the cut shows there.
    vals, cols = torch.topk(s, min(kk + 1, m), dim=1, sorted=True)
    vals, cols = vals.cpu(), cols.cpu()
    # topk is not stable: rows holding equal finite scores among the k returned, or
    # the k-th equal to one left out (of which topk keeps any), are re-ranked by
    # (score desc, column asc) so every model breaks ties the same way.
    ties = ((vals[:, 1:] == vals[:, :-1]) & torch.isfinite(vals[:, 1:])).any(dim=1)
    vals, cols = vals[:, :kk], cols[:, :kk]
    if bool(ties.any()):
        rows = torch.nonzero(ties).flatten()
        sub = s[rows.to(dev)]
        # Every score at or above each row's k-th (and a few below it in rows with
        # fewer), then those few sorted by (score desc, column asc).
        wide = int((sub >= vals[rows, -1].to(dev)[:, None]).sum(dim=1).max())
        wv, wc = (t.cpu().numpy() for t in torch.topk(sub, wide, dim=1))
        order = np.lexsort((wc, -wv), axis=1)[:, :kk]
        cols[rows] = torch.from_numpy(np.take_along_axis(wc, order, axis=1))
        vals[rows] = torch.from_numpy(np.take_along_axis(wv, order, axis=1))
    items = cols.numpy().astype(np.int32)
    if candidates is not None:
        items = np.take_along_axis(np.asarray(candidates), items, axis=1).astype(np.int32)
    out_scores = vals.numpy().astype(np.float32)
    if any_nan:
        out_scores[nan.cpu().gather(1, cols.long()).numpy()] = np.nan
    items[~np.isfinite(out_scores) & (out_scores < 0)] = -1
    if kk < k:
        items = np.pad(items, ((0, 0), (0, k - kk)), constant_values=-1)
        out_scores = np.pad(out_scores, ((0, 0), (0, k - kk)), constant_values=-np.inf)
    return items, out_scores


def _seen_mask(exclude: sp.csr_matrix, candidates: np.ndarray) -> np.ndarray:
    """``(n, m) bool``: whether ``candidates[r, j]`` is stored in row ``r`` of ``exclude``."""
    n, m = candidates.shape
    n_items = exclude.shape[1]
    keys = np.repeat(np.arange(n, dtype=np.int64), np.diff(exclude.indptr)) * n_items + exclude.indices
    probe = (np.arange(n, dtype=np.int64)[:, None] * n_items + candidates).ravel()
    pos = np.searchsorted(keys, probe)
    pos = np.minimum(pos, len(keys) - 1)
    return (keys[pos] == probe).reshape(n, m)


def rank_of(
    scores: np.ndarray,
    columns: np.ndarray,
    exclude: sp.csr_matrix | None = None,
    candidates: np.ndarray | None = None,
) -> np.ndarray:
    """The 1-based rank of one column per row, in the order :func:`top_k` lists them.

    Args:
        scores: ``(n, m) float`` scores; row ``r`` scores the items ``candidates[r]``
            when candidates are given, else items ``0..m-1``.
        columns: ``(n,) int`` the column of each row's held-out item.
        exclude: ``(n, n_items)`` CSR matrix; items stored in row ``r`` never count
            against the held-out item of that row.
        candidates: ``(n, m) int`` item indices that the columns of ``scores`` stand for.

    Returns:
        ``(n,) int64``: ``1 +`` the number of eligible columns ranked before the held-out
        one (a higher score, or an equal score in a lower column). When the held-out item
        is eligible and ranks ``r <= k``, it is item ``r - 1`` of ``top_k(scores, k,
        exclude, candidates)``. A held-out item that is itself excluded is still ranked
        against the eligible ones.
    """
    s = np.asarray(scores, dtype=np.float32)
    if s.ndim != 2:
        raise ValueError(f"scores must be a 2-D (rows, columns) array, got shape {s.shape}")
    n, m = s.shape
    cols = np.asarray(columns).astype(np.int64, copy=False).ravel()
    if len(cols) != n:
        raise ValueError(f"columns has {len(cols)} entries, scores has {n} rows")
    if n and (cols.min() < 0 or cols.max() >= m):
        raise ValueError(f"columns must lie in [0, {m}), got {int(cols[(cols < 0) | (cols >= m)][0])}")
    rows = np.arange(n)
    if np.isnan(s).any():  # ranked as top_k ranks it: first
        s = np.where(np.isnan(s), np.float32(np.inf), s)
    held = s[rows, cols][:, None]
    ahead = (s > held) | ((s == held) & (np.arange(m)[None, :] < cols[:, None]))
    if exclude is not None and exclude.nnz:
        if candidates is None:
            ex = exclude.tocsr()
            ahead[np.repeat(rows, np.diff(ex.indptr)), ex.indices] = False
        else:
            ahead &= ~_seen_mask(exclude, np.asarray(candidates))
    ahead[rows, cols] = False
    return 1 + ahead.sum(axis=1, dtype=np.int64)


def standardise(scores: np.ndarray) -> np.ndarray:
    """Each row minus its mean over its standard deviation (finite entries only; a
    constant row becomes 0); ``-inf`` elsewhere.

    Scores of different models share no scale; standardised, they can be weighed
    against each other (``two-stage``'s ``mix``, ``ensemble``'s weights).
    """
    finite = np.isfinite(scores)
    x = np.where(finite, scores, 0.0).astype(np.float64)
    n = np.maximum(finite.sum(axis=1, keepdims=True), 1)
    centred = np.where(finite, x - x.sum(axis=1, keepdims=True) / n, 0.0)
    sd = np.sqrt((centred ** 2).sum(axis=1, keepdims=True) / n)
    return np.where(finite, centred / np.where(sd > 0, sd, 1.0), -np.inf)
