"""What a person has seen and what they liked: one rule for each, used by every path.

Every place that shows a person a list (``cinerec recommend``, the exported store, the
API's known-user and cold-start answers, the page) asks these two functions, so they
cannot disagree:

* **Seen** (:func:`seen`): every movie the person rated anywhere in a run's data, the
  rows a model was fitted on and the rows held out for testing alike. A seen movie is
  never recommended to that person.
* **Liked** (:func:`liked`): a plain like (a "like" with no stars, or any event of an
  implicit log, where every event means "watched"), or a rating at least halfway up the
  data's rating scale (:func:`liked_min_stars`: 3 of MovieLens's 1 to 5 stars, 5 of a
  0 to 10 log's) that is also at least the person's own mean rating. Only a liked movie
  is ever named as the reason for a recommendation; a rating ``--implicit`` turned into
  a plain event is liked only if it was liked with its stars (:func:`liked_in`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from cinerec.data.dataset import Dataset, Interactions

__all__ = [
    "LIKED_MIN_STARS", "seen", "seen_films", "also_seen", "liked", "liked_in", "liked_ratings", "liked_min_stars", "rating_scale",
    "is_implicit", "history_row",
]

#: The fewest stars a rating needs to count as liked on MovieLens's scale of 1 to 5:
#: halfway up it (2.75 on the later releases' 0.5 to 5). It must also reach the person's mean.
LIKED_MIN_STARS = 3.0


def rating_scale(data: Dataset) -> tuple[float, float] | None:
    """The lowest and highest rating the source's scale allows: as the source said when it
    was read (``info["rating_scale"]``, kept through filters that turn stars into likes),
    else the lowest and highest the data holds; ``None`` for a log of plain events."""
    given = data.info.get("rating_scale")
    if given is not None:
        return float(given[0]), float(given[1])
    if is_implicit(data):
        return None
    r = data.interactions.ratings
    return (float(r.min()), float(r.max())) if len(r) else None


def liked_min_stars(data: Dataset) -> float:
    """The fewest stars that count as liked in ``data``: the threshold its likes were made
    with (``--liked-threshold``), else halfway up its rating scale (:func:`rating_scale`),
    which on 1 to 5 stars is :data:`LIKED_MIN_STARS`."""
    threshold = data.info.get("liked_threshold")
    if threshold is not None:
        return float(threshold)
    scale = rating_scale(data)
    return LIKED_MIN_STARS if scale is None else (scale[0] + scale[1]) / 2


def seen(data: Dataset | Interactions) -> sp.csr_matrix:
    """``(n_users, n_items)`` CSR of ones: every movie each person rated in ``data``.

    Pass the run's whole dataset (not a model's training part), so a movie held out for
    testing still counts as seen, and so do the ratings a ``--liked-threshold`` dropped
    (:attr:`Dataset.also_seen`).
    """
    x = data.interactions if isinstance(data, Dataset) else data
    extra = also_seen(data) if isinstance(data, Dataset) else None
    return x.seen if extra is None else x.seen.maximum(extra).tocsr()


#: seen_films's twins not given: it finds them.
_FIND = object()


def seen_films(data: Dataset, twins: Any = _FIND) -> sp.csr_matrix:
    """:func:`seen`, and every movie the catalogue lists as the same film as one of those
    under another id (:func:`cinerec.data.dataset.title_twins`, or ``twins`` where the
    caller has them already): what a list shown to the person never holds. The protocols
    measure by ids, with :func:`seen`."""
    from cinerec.data.dataset import title_twins

    rated = seen(data)
    if twins is _FIND:
        twins = title_twins(data)
    if twins is None:
        return rated
    return (rated + rated @ twins).astype(bool).astype(np.float32).tocsr()


def also_seen(data: Dataset) -> sp.csr_matrix | None:
    """``(n_users, n_items)`` CSR of ones: the movies people rated that are no longer
    ratings in ``data`` (a ``--liked-threshold`` dropped them, :attr:`Dataset.also_seen`),
    or None when there are none."""
    if data.also_seen is None or not len(data.also_seen[0]):
        return None
    users, items = data.also_seen
    return sp.csr_matrix((np.ones(len(users), np.float32), (users, items)), shape=data.interactions.seen.shape)


def is_implicit(data: Dataset | Interactions) -> bool:
    """True when the log holds plain events rather than stars.

    A dataset may say so in ``info["implicit"]``; otherwise a log whose every rating is
    ``1.0`` (what :func:`~cinerec.data.transforms.as_implicit` and ``binarize`` leave)
    is implicit.
    """
    if isinstance(data, Dataset):
        flag = data.info.get("implicit")
        if flag is not None:
            return bool(flag)
        data = data.interactions
    r = data.ratings
    return bool(len(r)) and bool(np.all(r == 1.0))


def liked(history: sp.csr_matrix, *, plain: np.ndarray | None = None, implicit: bool = False,
          min_stars: float = LIKED_MIN_STARS) -> sp.csr_matrix:
    """The liked part of each person's history.

    Args:
        history: ``(n, n_items)`` CSR, row ``r`` the stars person ``r`` gave (any
            value for a plain like).
        plain: ``(history.nnz,) bool``, aligned with ``history.data``: ``True`` where
            the entry is a plain like rather than a rating. ``None``: no plain likes.
        implicit: every entry above 0 is a plain like (an implicit log; a binarized
            log's kept negatives are 0).
        min_stars: the fewest stars a liked rating has (:func:`liked_min_stars` of the
            data the history is on).

    Returns:
        ``(n, n_items)`` CSR of ones at the liked entries, sorted indices. A person's
        mean is taken over their rated (not plain) entries.
    """
    h = sp.csr_matrix(history)
    n = h.shape[0]
    counts = np.diff(h.indptr)
    rows = np.repeat(np.arange(n), counts)
    if implicit:
        keep = np.asarray(h.data) > 0  # a kept negative of a binarized log (0.0) is seen, not liked
    else:
        is_plain = np.zeros(h.nnz, dtype=bool) if plain is None else np.asarray(plain, dtype=bool)
        if is_plain.shape != (h.nnz,):
            raise ValueError(f"plain must have one flag per stored entry ({h.nnz}), got shape {is_plain.shape}")
        keep = is_plain | liked_ratings(rows, h.data, n, min_stars, rated=~is_plain)
    out = sp.csr_matrix(
        (np.ones(int(keep.sum()), np.float32), h.indices[keep], np.concatenate([[0], np.cumsum(np.bincount(rows[keep], minlength=n))])),
        shape=h.shape,
    )
    out.sort_indices()
    return out


def liked_ratings(users: np.ndarray, stars: np.ndarray, n_users: int, min_stars: float,
                  rated: np.ndarray | None = None) -> np.ndarray:
    """``(n,) bool``: which of these ratings (person ``users[r]`` gave ``stars[r]``) are
    liked: at least ``min_stars`` and at least the person's mean over their ``rated``
    entries (all of them when None)."""
    stars = np.asarray(stars, dtype=np.float64)
    users = np.asarray(users, dtype=np.int64)
    rated = np.ones(len(stars), dtype=bool) if rated is None else rated
    total = np.bincount(users[rated], weights=stars[rated], minlength=n_users)
    number = np.bincount(users[rated], minlength=n_users)
    mean = total / np.maximum(number, 1)
    # float32 stars against a float64 mean: compare with a hair of slack so a person who
    # gave every movie the same stars likes all of them.
    return (stars >= min_stars - 1e-6) & (stars >= mean[users] - 1e-6)


def liked_in(data: Dataset) -> sp.csr_matrix:
    """``(n_users, n_items)`` CSR of ones: the movies each person liked in ``data``
    (:func:`liked` of its ratings), less the ratings that were not liked before
    ``--implicit`` took their stars away (:attr:`Dataset.not_liked`)."""
    out = liked(data.interactions.csr, implicit=is_implicit(data), min_stars=liked_min_stars(data))
    if data.not_liked is not None and len(data.not_liked[0]):
        users, items = data.not_liked
        off = sp.csr_matrix((np.ones(len(users), np.float32), (users, items)), shape=out.shape)
        out = (out - out.multiply(off)).tocsr()
        out.eliminate_zeros()
        out.sort_indices()
    return out


def history_row(items: np.ndarray, values: np.ndarray, n_items: int) -> sp.csr_matrix:
    """A ``(1, n_items)`` CSR row holding ``values`` at ``items`` (distinct movie indices)."""
    items = np.asarray(items, dtype=np.int64)
    order = np.argsort(items, kind="stable")
    m = sp.csr_matrix(
        (np.asarray(values, np.float32)[order], items[order].astype(np.int32), np.array([0, len(items)])),
        shape=(1, n_items),
    )
    m.has_sorted_indices = True
    return m
