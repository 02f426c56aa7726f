"""Dataset -> Dataset filters and rating transforms, applied before any split.

Filters (years, most active users, most rated movies, k-core, de-duplication) keep a
subset of rows through :meth:`Dataset.subset`, which drops users and movies left with no
rows and renumbers both id spaces. Rating transforms (binarize, implicit) keep the id
space and replace the interactions through :meth:`Dataset.with_interactions`.

Every function is pure: the input dataset is never changed. Each one also brings the
dataset's description (``Dataset.info``) up to date: ``implicit`` once the ratings are
plain positives, and ``folds_dropped_by`` (the step, e.g. ``"top_users=100"``) once a
step dropped ratings from a source with official folds: the folds hold for the
release's own ratings only, so they are dropped with them and ``ratings-fold`` refuses
the data, naming the step.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import scipy.sparse as sp

from cinerec.data.dataset import Dataset, Interactions
from cinerec.errors import ConfigError, expect

__all__ = ["filter_years", "top_users", "top_items", "kcore", "binarize", "as_implicit", "dedupe", "recency_weights"]


def _described(before: Dataset, after: Dataset, step: str) -> Dataset:
    """``after``, its folds dropped (and the step named) when ``step`` dropped ratings."""
    if before.folds and len(after.interactions) != len(before.interactions):
        return after.replace(folds={}, info={**after.info, "folds_dropped_by": step})
    if before.folds and not after.folds:  # same count, other rows: the folds are gone all the same
        return after.replace(info={**after.info, "folds_dropped_by": step})
    return after


def _check_count(value: int | None, name: str, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}")


def filter_years(ds: Dataset, min_year: int | None = None, max_year: int | None = None) -> Dataset:
    """Keep ratings of movies released in ``[min_year, max_year]``.

    Args:
        ds: the dataset.
        min_year: earliest release year kept (inclusive), or ``None`` for no bound.
        max_year: latest release year kept (inclusive), or ``None`` for no bound.

    Returns:
        The filtered dataset. When a bound is given, movies of unknown year (``0`` in
        the catalog) are excluded; with no bound at all the dataset comes back as is.

    Raises:
        ConfigError: if a bound is not an integer or ``min_year > max_year``.
    """
    expect(ds, Dataset, "filter_years: ds")
    for name, value in (("min_year", min_year), ("max_year", max_year)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer))):
            raise ConfigError(f"{name} must be an integer year or None, got {value!r}")
    if min_year is not None and max_year is not None and min_year > max_year:
        raise ConfigError(f"min_year ({min_year}) is after max_year ({max_year})")
    if min_year is None and max_year is None:
        return ds
    years = ds.catalog.years
    keep_item = years != 0
    if min_year is not None:
        keep_item &= years >= min_year
    if max_year is not None:
        keep_item &= years <= max_year
    step = " ".join(f"{k}={v}" for k, v in (("min_year", min_year), ("max_year", max_year)) if v is not None)
    return _described(ds, ds.subset(keep_item[ds.interactions.items]), step)


def _top(counts: np.ndarray, n: int) -> np.ndarray:
    """``(len(counts),) bool``: the ``n`` largest counts, ties broken by lower index."""
    # A stable sort on -counts keeps lower indices first among equal counts.
    order = np.argsort(-counts, kind="stable")[:n]
    keep = np.zeros(len(counts), dtype=bool)
    keep[order] = True
    return keep


def top_users(ds: Dataset, n: int) -> Dataset:
    """Keep the ``n`` users with the most ratings (ties: lower user index first).

    Raises:
        ConfigError: if ``n`` is not a positive integer.
    """
    expect(ds, Dataset, "top_users: ds")
    _check_count(n, "n")
    keep = _top(ds.interactions.user_counts, int(n))
    return _described(ds, ds.subset(keep[ds.interactions.users]), f"top_users={n}")


def top_items(ds: Dataset, n: int) -> Dataset:
    """Keep the ``n`` movies with the most ratings (ties: lower movie index first).

    Raises:
        ConfigError: if ``n`` is not a positive integer.
    """
    expect(ds, Dataset, "top_items: ds")
    _check_count(n, "n")
    keep = _top(ds.interactions.item_counts, int(n))
    return _described(ds, ds.subset(keep[ds.interactions.items]), f"top_movies={n}")


def kcore(ds: Dataset, user_k: int, item_k: int | None = None) -> Dataset:
    """The k-core: every user keeps ``>= user_k`` rows and every movie ``>= item_k``.

    Dropping sparse users can push movies below their bound and back, so the filter
    repeats until nothing changes. Each pass is two ``bincount`` calls over the rows
    still kept.

    Args:
        ds: the dataset.
        user_k: minimum rows per user.
        item_k: minimum rows per movie; defaults to ``user_k``.

    Returns:
        The k-core (possibly empty), renumbered.

    Raises:
        ConfigError: if ``user_k`` or ``item_k`` is not a positive integer.
    """
    expect(ds, Dataset, "kcore: ds")
    _check_count(user_k, "user_k")
    _check_count(item_k, "item_k", allow_none=True)
    item_k = user_k if item_k is None else item_k
    x = ds.interactions
    keep = np.ones(len(x), dtype=bool)
    while True:
        u_ok = np.bincount(x.users[keep], minlength=x.n_users) >= user_k
        i_ok = np.bincount(x.items[keep], minlength=x.n_items) >= item_k
        new = keep & u_ok[x.users] & i_ok[x.items]
        if np.array_equal(new, keep):
            break
        keep = new
    return _described(ds, ds.subset(keep), f"kcore={user_k},{item_k}")


def binarize(ds: Dataset, threshold: float, keep_negatives: bool = False) -> Dataset:
    """Turn star ratings into likes: ``rating >= threshold`` becomes ``1.0``.

    By default ratings below ``threshold`` are *dropped* (the usual implicit-feedback
    reading: a low rating is not a like); the movies stay seen
    (:attr:`~cinerec.data.dataset.Dataset.also_seen`), so no list offers them again.
    With ``keep_negatives=True`` they stay as ``0.0`` rows instead. The id space is
    unchanged either way, so users or movies may be left without rows.

    Args:
        ds: the dataset.
        threshold: the smallest rating counted as positive.
        keep_negatives: keep low ratings as ``0.0`` instead of dropping them.

    Raises:
        ConfigError: if ``threshold`` is not a finite number.
    """
    expect(ds, Dataset, "binarize: ds")
    if not isinstance(keep_negatives, (bool, np.bool_)):  # ("no" read as true)
        raise ConfigError(f"binarize: keep_negatives = {keep_negatives!r}: must be true or false")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.integer, np.floating)) \
            or not np.isfinite(threshold):
        raise ConfigError(f"threshold must be a finite number, got {threshold!r}")
    x = ds.interactions
    positive = x.ratings >= at_ratings_precision(threshold)
    if keep_negatives:
        out = ds.with_interactions(x.replace(ratings=positive.astype(np.float32)))
    else:
        low = ~positive
        seen = _more_pairs(ds.also_seen, x, low)
        x = x.select(positive)
        out = ds.with_interactions(x.replace(ratings=np.ones(len(x), dtype=np.float32)))
        out = out.replace(also_seen=seen if len(seen[0]) else ds.also_seen)
    info = {**out.info, "implicit": True, "liked_threshold": float(threshold)}
    return _described(ds, out.replace(info=info), f"liked_threshold={threshold:g}")


def at_ratings_precision(threshold: float) -> np.float32:
    """``threshold`` as the ratings are kept (float32, to nearest, as each rating was read),
    so a rating written as the threshold is at it; one past float32's range is infinite."""
    with np.errstate(over="ignore"):
        return np.float32(threshold)


def as_implicit(ds: Dataset) -> Dataset:
    """Every rating becomes ``1.0`` ("watched"); rows and ids are unchanged.

    The ratings that were not liked while they had stars are kept aside
    (:attr:`~cinerec.data.dataset.Dataset.not_liked`): still seen, and a movie to learn
    from, but never the reason given for a recommendation.
    """
    expect(ds, Dataset, "as_implicit: ds")
    from cinerec.data import history

    x = ds.interactions
    if not history.is_implicit(ds) and len(x):
        unliked = ~history.liked_ratings(x.users, x.ratings, ds.n_users, history.liked_min_stars(ds))
        if unliked.any():
            ds = ds.replace(not_liked=_more_pairs(ds.not_liked, x, unliked))
    out = ds.with_interactions(x.replace(ratings=np.ones(len(x), dtype=np.float32)))
    return out.replace(info={**out.info, "implicit": True})


def _more_pairs(pairs: tuple[np.ndarray, np.ndarray] | None, x: Interactions,
                rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``pairs`` (a dataset's ``also_seen`` or ``not_liked``) with the (user, movie) of
    ``x``'s ``rows`` added."""
    new = (x.users[rows].astype(np.int32), x.items[rows].astype(np.int32))
    return new if pairs is None else (np.concatenate([pairs[0], new[0]]), np.concatenate([pairs[1], new[1]]))


def dedupe(ds: Dataset, keep: Literal["last", "first"] = "last") -> Dataset:
    """One row per (user, movie): keep the last (or first) occurrence in file order.

    Rows that survive keep their file order. Users and movies are not renumbered (each
    pair keeps one row, so none is left empty).

    Raises:
        ConfigError: if ``keep`` is not ``"last"`` or ``"first"``.
    """
    expect(ds, Dataset, "dedupe: ds")
    if keep not in ("last", "first"):
        raise ConfigError(f"keep must be 'last' or 'first', got {keep!r}")
    x = ds.interactions
    n = len(x)
    if n < 2:
        return ds
    # Group equal pairs with their rows in file order, then keep one end of each group.
    order = np.lexsort((np.arange(n), x.items, x.users))
    u, i = x.users[order], x.items[order]
    change = (u[1:] != u[:-1]) | (i[1:] != i[:-1])
    chosen = np.ones(n, dtype=bool)
    if keep == "last":
        chosen[:-1] = change
    else:
        chosen[1:] = change
    if chosen.all():
        return ds
    rows = np.sort(order[chosen])
    return _described(ds, ds.with_interactions(x.select(rows)), f"dedupe (keep {keep})")


def recency_weights(x: Interactions, half_life: float) -> sp.csr_matrix:
    """How recent each (user, movie) cell is, relative to that user's own history.

    Args:
        x: interactions with ``timestamps``.
        half_life: a fraction of each user's time span, > 0.

    Returns:
        ``(n_users, n_items)`` CSR with the same cells as ``x.csr`` (a repeated pair
        takes its last row): ``0.5 ** (age / (half_life * span))``, ``age`` measured back
        from the user's latest timestamp, ``span`` from their earliest to latest. A user
        whose rows share one timestamp (or a log without timestamps) gets weight 1.

    Raises:
        ConfigError: if ``half_life`` is not positive.
    """
    expect(x, Interactions, "recency_weights: x")
    if not half_life > 0:
        raise ConfigError(f"half_life={half_life!r}: must be positive")
    t = x.timestamps
    latest = np.full(x.n_users, np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(latest, x.users, t)
    earliest = np.full(x.n_users, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(earliest, x.users, t)
    last, first = latest[x.users], earliest[x.users]
    # max(., 1): a zero span means every age is 0 too, so the weight stays 1.
    age = (last - t) / np.maximum(last - first, 1).astype(np.float64)
    weights = np.exp2(-age / half_life).astype(np.float32)
    # Built the way x.csr is, so the weights line up cell for cell with the ratings.
    return x.replace(ratings=weights).csr

