"""Train / validation / test splits of one ``Interactions`` value.

Every part lives in the id space of the input (same ``n_users`` and ``n_items``), so a
model fitted on ``train`` scores ``test`` users and movies without re-encoding. Rows keep
their input order within each part, and the parts are disjoint and together hold every
input row exactly once.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np

from cinerec.data.dataset import Dataset, Interactions
from cinerec.errors import NotFoundError, expect

__all__ = ["Split", "random_split", "leave_last_out", "time_split", "official_split"]


@dataclass(frozen=True, eq=False)
class Split:
    """The parts of a split, all in the input's id space.

    Attributes:
        train: rows to fit on.
        test: held-out rows to evaluate on.
        valid: held-out rows for early stopping or tuning, or ``None`` when the split
            made none.
    """

    train: Interactions
    test: Interactions
    valid: Interactions | None = None

    def __repr__(self) -> str:
        return (f"<Split: {len(self.train):,} training, {len(self.test):,} test"
                + (f", {len(self.valid):,} validation" if self.valid is not None else "") + " ratings>")


def _fraction(value: float, name: str, allow_zero: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a fraction in {'[0, 1)' if allow_zero else '(0, 1)'}, got {value!r}")
    v = float(value)
    if not (0.0 <= v < 1.0) or (v == 0.0 and not allow_zero):
        raise ValueError(f"{name} must be a fraction in {'[0, 1)' if allow_zero else '(0, 1)'}, got {value!r}")
    return v


def _parts(x: Interactions, part: np.ndarray, with_valid: bool) -> Split:
    """Split rows by ``part`` (0 train, 1 test, 2 valid), keeping input order."""
    return Split(
        train=x.select(part == 0),
        test=x.select(part == 1),
        valid=x.select(part == 2) if with_valid else None,
    )


def random_split(
    x: Interactions,
    test: float = 0.2,
    valid: float = 0.0,
    seed: int | np.random.Generator = 0,
) -> Split:
    """Assign rows to test / valid / train by a seeded shuffle.

    ``round(test * n)`` rows go to test and ``round(valid * n)`` to valid; the rest train.

    Args:
        x: the interactions.
        test: fraction of rows held out for test, in ``(0, 1)``.
        valid: fraction of rows held out for validation, in ``[0, 1)``; ``0`` gives
            ``Split.valid = None``.
        seed: an int seed or a ``numpy.random.Generator``.

    Raises:
        ValueError: if a fraction is out of range or ``test + valid >= 1``.
    """
    test = _fraction(test, "test", allow_zero=False)
    valid = _fraction(valid, "valid", allow_zero=True)
    if test + valid >= 1.0:
        raise ValueError(f"test + valid must be below 1, got {test} + {valid}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer, np.random.Generator)):
        raise ValueError(f"seed must be an int or a numpy.random.Generator, got {seed!r}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(int(seed))
    n = len(x)
    n_test = int(round(test * n))
    n_valid = int(round(valid * n))
    perm = rng.permutation(n)
    part = np.zeros(n, dtype=np.int8)
    part[perm[:n_test]] = 1
    part[perm[n_test:n_test + n_valid]] = 2
    return _parts(x, part, valid > 0)


def leave_last_out(x: Interactions, valid: bool = False) -> Split:
    """Hold out each user's latest interaction for test (and the one before for valid).

    "Latest" is by timestamp; equal timestamps are ordered by row, so the row later in
    the source file counts as later. Users with fewer than 2 rows (3 with ``valid``)
    keep every row in train and get no test (or valid) row.

    Args:
        x: the interactions.
        valid: also hold out each user's second-latest interaction for validation.

    Returns:
        The split; ``test`` has at most one row per user, as has ``valid``.
    """
    expect(x, Interactions, "leave_last_out")
    n = len(x)
    need = 3 if valid else 2
    # One sort by (user, timestamp, row): each user's rows become a run, latest last.
    order = np.lexsort((np.arange(n), x.timestamps, x.users))
    counts = x.user_counts
    run_end = np.cumsum(counts)  # one past each user's last sorted position
    users_sorted = x.users[order]
    from_end = run_end[users_sorted] - 1 - np.arange(n)  # 0 = latest row of its user
    eligible = counts[users_sorted] >= need
    part = np.zeros(n, dtype=np.int8)
    part[order[eligible & (from_end == 0)]] = 1
    if valid:
        part[order[eligible & (from_end == 1)]] = 2
    return _parts(x, part, valid)


def time_split(x: Interactions, at: int | float) -> Split:
    """Cut at one moment for everybody: earlier rows train, the rest test.

    Args:
        x: the interactions.
        at: an ``int`` is a timestamp (rows with ``timestamp < at`` train); a ``float`` in
            ``(0, 1)`` is a quantile: the cut is the timestamp at sorted position
            ``ceil(at * n)``, so about that fraction of rows (fewer when timestamps tie
            at the cut) trains.

    Raises:
        ValueError: if ``at`` is neither an int nor a float in ``(0, 1)``.
    """
    if isinstance(at, bool) or not isinstance(at, (int, float, np.integer, np.floating)):
        raise ValueError(f"at must be an int timestamp or a float quantile in (0, 1), got {at!r}")
    ts = x.timestamps
    if isinstance(at, (float, np.floating)):
        q = float(at)
        if not 0.0 < q < 1.0:
            raise ValueError(f"at as a quantile must be in (0, 1), got {at!r}")
        if len(x) == 0:
            cut = 0
        else:
            pos = min(len(ts) - 1, math.ceil(q * len(ts)))
            cut = int(np.partition(ts, pos)[pos])
    else:
        cut = int(at)
    part = (ts >= cut).astype(np.int8)
    return _parts(x, part, False)


def official_split(ds: Dataset, fold: str) -> Split:
    """A published split (ml-100k ``u1``..``u5``, ``ua``, ``ub``), from ``ds.folds``.

    The fold membership was read with the ratings (:attr:`Dataset.folds`); nothing is
    read here. Train and test rows come by user, then movie, as the published fold
    files list them.

    Raises:
        cinerec.errors.NotFoundError: ``ds`` has no fold of that name (naming those it has).
    """
    if fold not in ds.folds:
        have = ", ".join(ds.folds) or "none"
        # A release folder that lacks the fold's file: named, as a fold that is no fold is not.
        from cinerec.data.movielens import OFFICIAL_FOLDS

        source = ds.info.get("source")
        lacking = f": {source} holds no {fold}.test" if fold in OFFICIAL_FOLDS and source \
            and os.path.isdir(str(source)) and not os.path.exists(os.path.join(str(source), f"{fold}.test")) else ""
        raise NotFoundError(f"{ds.name}: no official fold {fold!r}{lacking} (this dataset has: {have})")
    x = ds.interactions
    test = ds.folds[fold]
    by_pair = np.lexsort((x.items, x.users))
    return Split(train=x.select(by_pair[~test[by_pair]]), test=x.select(by_pair[test[by_pair]]))
