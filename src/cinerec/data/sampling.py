"""Exact negative sampling: movies a user has not interacted with, drawn fast.

Two samplers share one contract:

- :func:`sample_negatives` draws ``k`` negatives per row *with* replacement (training:
  one row per positive, e.g. ``users = train.users``);
- :func:`sample_eval_negatives` draws ``n`` *distinct* negatives per row (sampled
  ranking evaluation: 1 held-out movie + ``n`` unseen ones).

Contract, for both:

- Output ``(len(users), k) int32`` movie indices.
- Exact: a returned movie is never stored in ``seen[user]``. A draw that lands on a
  seen movie is redrawn (vectorised rejection) until none remain; users whose unseen
  movies are a small part of the sampling mass skip rejection and are drawn directly
  from their unseen movies, so nearly-full users cost no more than others.
- ``distribution="uniform"``: every unseen movie is equally likely.
  ``distribution="popularity"``: probability proportional to ``item_weights ** alpha``
  among the unseen movies (default weights: the column counts of ``seen``); movies of
  weight 0 are never drawn.
- A user with no eligible movie (or fewer than ``n`` for evaluation) raises
  ``ValueError`` naming the user index.
- Deterministic given ``rng`` (a seed or a ``numpy.random.Generator``).

How it is fast: membership of ``(user, movie)`` is answered by a per-user bit region
(a "blocked" Bloom filter). User ``u`` with ``d`` seen movies owns ``B`` bits, ``B`` a
power of two near ``64 d``; movie ``i`` sets bit ``i mod B``. Users with many seen movies
get ``B >= n_items`` bits and an exact bitmap; for the others a set bit is confirmed by a
binary search in the user's sorted CSR row. Rows of one user share a few cache lines, so
a log grouped by user (as rating files are) hits cache instead of DRAM, and the filter
takes at most 16 bytes per positive (about 180 MB at ml-25m scale, against 1.2 GB for a
dense bitmap). Popularity draws use inverse-CDF sampling with a guide table (O(1)
expected per draw). Chunks of rows are drawn on several threads, each chunk from its own
generator spawned from ``rng``, so results do not depend on the thread count.

The epoch samplers of the neural models sit on top: :func:`positive_pairs`,
:func:`pointwise_samples` (positives plus labelled negatives) and
:func:`pairwise_samples` (BPR triples). They build one :class:`NegativeSampler` per
training set and distribution and reuse it every epoch.
"""

from __future__ import annotations

import os
import weakref
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Callable, Literal

import numpy as np
import scipy.sparse as sp

from cinerec.data.dataset import Interactions

if TYPE_CHECKING:
    import torch

__all__ = [
    "NegativeSampler", "sample_negatives", "sample_eval_negatives",
    "positive_pairs", "pointwise_samples", "pairwise_samples", "with_unseen",
]

Distribution = Literal["uniform", "popularity"]

# Bits of filter per seen movie for users without an exact bitmap: the false-positive
# rate of one probe is at most about 1/BITS_PER_SEEN, and only those are binary-searched.
_BITS_PER_SEEN = 64
# Entries per processing chunk: big enough to amortise Python overhead, small enough
# that the temporaries of a chunk stay in cache.
_CHUNK = 1 << 18
# Users whose unseen movies hold less than this share of the sampling mass are drawn
# directly from their unseen movies instead of by rejection.
_MIN_ACCEPT = 0.25
_MIN_ACCEPT_EVAL = 0.5
_MAX_ROUNDS = 64
# Dense fallback works on (rows, n_items) blocks of at most this many cells.
_DENSE_CELLS = 1 << 22


def _rng(rng: np.random.Generator | int) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise ValueError(f"rng must be a numpy.random.Generator or an int seed, got {type(rng).__name__}")


def _canonical(seen: sp.spmatrix | sp.sparray) -> sp.csr_matrix:
    if not sp.issparse(seen) or seen.ndim != 2:
        raise ValueError(f"seen must be a 2-D scipy.sparse matrix (users x movies), got {type(seen).__name__}")
    m = sp.csr_matrix(seen)
    if not m.has_canonical_format:
        m = m.copy()
        m.sum_duplicates()  # also sorts the indices of every row
    return m


def _check_users(users: np.ndarray, n_users: int) -> np.ndarray:
    u = np.asarray(users)
    if u.ndim != 1:
        raise ValueError(f"users must be a 1-D array of user indices, got shape {u.shape}")
    if u.size and u.dtype.kind not in "iu":
        raise ValueError(f"users must hold integer user indices, got dtype {u.dtype}")
    if u.size:  # checked before the cast to int32, which would wrap 2**32 + 1 round to 1
        bad = (u < 0) | (u >= n_users)
        if bad.any():
            raise ValueError(f"users: user index {int(u[np.argmax(bad)])} is out of range [0, {n_users})")
    return u.astype(np.int32, copy=False) if u.size else np.zeros(0, np.int32)


def _positive_int(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


class _GuideTable:
    """Draws movie indices with probability ∝ ``weights`` (inverse CDF + guide table).

    ``guide[g]`` is the first movie whose cumulative weight exceeds ``g * step``; a draw
    ``t`` in bucket ``g`` starts there and walks forward, which takes about one step
    because there are twice as many buckets as movies.
    """

    def __init__(self, weights: np.ndarray) -> None:
        self.cum = np.cumsum(weights, dtype=np.float64)
        total = self.cum[-1]
        self.buckets = 1 << int(np.ceil(np.log2(2 * len(weights))))
        self.step = total / self.buckets
        edges = np.arange(self.buckets, dtype=np.float64) * self.step
        self.guide = np.minimum(np.searchsorted(self.cum, edges, side="right"), len(weights) - 1).astype(np.int32)
        # The largest t strictly below the total, so every walk stops inside the array.
        self.t_max = np.nextafter(total, 0.0)

    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        # x = U * buckets is exact (power of two), so bucket g = floor(x) satisfies
        # g * step <= x * step = t under the same rounding as the guide edges.
        x = rng.random(size)
        x *= self.buckets
        g = x.astype(np.intp)
        x *= self.step
        np.minimum(x, self.t_max, out=x)
        j = self.guide[g]
        active = np.flatnonzero(self.cum[j] <= x)
        while active.size:
            j[active] += 1
            active = active[self.cum[j[active]] <= x[active]]
        return j


class NegativeSampler:
    """Exact negative sampler over one ``seen`` matrix; build once, draw many times.

    Args:
        seen: ``(n_users, n_items)`` sparse matrix; every stored entry (whatever its
            value) marks a movie the user has interacted with.
        distribution: ``"uniform"`` over unseen movies, or ``"popularity"``:
            probability ∝ ``item_weights ** popularity_alpha`` among unseen movies.
        item_weights: ``(n_items,)`` non-negative weights for ``"popularity"``;
            default: the column counts of ``seen``.
        popularity_alpha: exponent applied to the weights (0 gives uniform over movies
            of positive weight; values below 1 flatten the popularity skew).
        threads: worker threads for drawing (default: the CPUs this process may use,
            at most 8). Results are the same for any number of threads.

    Raises:
        ValueError: on a malformed argument, naming it.
    """

    def __init__(
        self,
        seen: sp.spmatrix | sp.sparray,
        *,
        distribution: Distribution = "uniform",
        item_weights: np.ndarray | None = None,
        popularity_alpha: float = 1.0,
        threads: int | None = None,
    ) -> None:
        m = _canonical(seen)
        if threads is None:
            threads = min(8, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
        self.threads = _positive_int(threads, "threads")
        n_users, n_items = m.shape
        if n_items < 1:
            raise ValueError("seen has no movie columns; there is nothing to sample")
        self.n_users, self.n_items = int(n_users), int(n_items)
        self.distribution = distribution
        self._indptr = m.indptr.astype(np.int64)
        self._indices = m.indices.astype(np.int32)
        deg = np.diff(self._indptr)

        weights = self._weights(distribution, item_weights, popularity_alpha, m)
        if weights is None:
            self._table = None
            eligible = np.full(self.n_users, self.n_items, dtype=np.int64) - deg
            accept = eligible / self.n_items
        else:
            self._table = _GuideTable(weights)
            positive = weights > 0
            # Structural product: stored entries count as seen whatever their value.
            ones = sp.csr_matrix((np.ones(m.nnz), self._indices, self._indptr), shape=m.shape)
            accept = 1.0 - (ones @ weights) / weights.sum()
            eligible = int(positive.sum()) - ones @ positive.astype(np.int64)
        self._weights_arr = weights
        self._eligible = np.asarray(eligible, dtype=np.int64)
        self._accept = np.asarray(accept, dtype=np.float64)
        self._build_filter(deg)

    # -- construction -----------------------------------------------------------------

    def _weights(self, distribution: str, item_weights: np.ndarray | None, alpha: float,
                 m: sp.csr_matrix) -> np.ndarray | None:
        """``(n_items,) float64`` sampling weights, or ``None`` for uniform."""
        if distribution not in ("uniform", "popularity"):
            raise ValueError(f"distribution must be 'uniform' or 'popularity', got {distribution!r}")
        if distribution == "uniform":
            if item_weights is not None:
                raise ValueError("item_weights is only used with distribution='popularity'")
            return None
        alpha = float(alpha)
        if not np.isfinite(alpha) or alpha < 0:
            raise ValueError(f"popularity_alpha must be a finite number >= 0, got {alpha!r}")
        if item_weights is None:
            w = np.bincount(m.indices, minlength=self.n_items).astype(np.float64)
        else:
            w = np.asarray(item_weights, dtype=np.float64)
            if w.shape != (self.n_items,):
                raise ValueError(f"item_weights must have shape ({self.n_items},), got {w.shape}")
            if not np.isfinite(w).all() or (w < 0).any():
                raise ValueError("item_weights must be finite and non-negative")
        w = np.where(w > 0, w ** alpha, 0.0)
        if not np.isfinite(w).all():
            raise ValueError("item_weights ** popularity_alpha overflows")
        if not (w > 0).any():
            raise ValueError("item_weights gives every movie weight 0; there is nothing to sample")
        return w

    def _build_filter(self, deg: np.ndarray) -> None:
        log_full = max(1, int(np.ceil(np.log2(self.n_items))))
        full = 1 << log_full
        want = np.maximum(deg, 1) * _BITS_PER_SEEN
        size = np.left_shift(np.int64(1), np.ceil(np.log2(want)).astype(np.int64))
        # At least 8 bits, so every region starts on a byte and bit i of a region is
        # bit (i & 7) of its byte: lookups then need no 64-bit position arithmetic.
        size = np.clip(size, max(8, min(64, full)), max(8, full))
        # Users whose region spans every movie index have an exact bitmap.
        self._exact = size >= full
        base = np.zeros(self.n_users + 1, dtype=np.int64)
        np.cumsum(size, out=base[1:])
        n_bytes = int(base[-1]) // 8
        self._base = (base[:-1] >> 3).astype(np.intp)  # first byte of each region
        self._mask = (size - 1).astype(np.int32)
        self._bits = np.zeros(n_bytes, dtype=np.uint8)
        light = ~self._exact
        self._search_steps = int(np.ceil(np.log2(deg[light].max() + 1))) + 1 if light.any() else 1
        # Set the bit of every seen entry, a chunk of users at a time.
        nnz = len(self._indices)
        cuts = np.unique(np.searchsorted(self._indptr, np.arange(0, nnz, _CHUNK), side="right") - 1)
        cuts = np.append(cuts, self.n_users)
        for a, b in zip(cuts[:-1], cuts[1:]):
            lo, hi = self._indptr[a], self._indptr[b]
            if lo == hi:
                continue
            rows = np.repeat(np.arange(a, b, dtype=np.int32), deg[a:b])
            items = self._indices[lo:hi]
            byte = ((items & self._mask[rows]) >> 3) + self._base[rows]
            np.bitwise_or.at(self._bits, byte, np.left_shift(np.uint8(1), (items & 7).astype(np.uint8)))

    # -- membership -------------------------------------------------------------------

    def _seen_mask(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """``(r, c) bool``: is ``items[j, :]`` stored in row ``users[j]`` of ``seen``?"""
        byte = items & self._mask[users][:, None]
        byte >>= 3
        # Offsets as intp: a gather with any other index type converts them first.
        byte = byte + self._base[users][:, None]
        flag = np.take(self._bits, byte)
        flag >>= np.bitwise_and(items, np.uint8(7), dtype=np.uint8, casting="unsafe")
        flag &= 1
        hit = flag.view(bool)
        idx = np.flatnonzero(hit)
        if idx.size:
            c = items.shape[1]
            u = users[idx // c]
            light = ~self._exact[u]
            if light.any():
                li = idx[light]
                hit.ravel()[li] = self._in_row(u[light], items.ravel()[li])
        return hit

    def _in_row(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Binary search of each ``items[j]`` in the sorted CSR row of ``users[j]``."""
        lo = self._indptr[users]
        hi = self._indptr[users + 1]
        last = max(len(self._indices) - 1, 0)
        for _ in range(self._search_steps):
            open_ = lo < hi
            mid = (lo + hi) >> 1
            less = self._indices[np.minimum(mid, last)] < items
            lo = np.where(open_ & less, mid + 1, lo)
            hi = np.where(open_ & ~less, mid, hi)
        end = self._indptr[users + 1]
        return (lo < end) & (self._indices[np.minimum(lo, last)] == items)

    # -- drawing ----------------------------------------------------------------------

    def _draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        if self._table is None:
            return rng.integers(0, self.n_items, size=size, dtype=np.int32)
        return self._table.draw(rng, size).astype(np.int32, copy=False)

    def _check_eligible(self, users: np.ndarray, need: int) -> None:
        if not users.size:
            return
        short = self._eligible[users] < need
        if short.any():
            u = int(users[np.argmax(short)])
            have = int(self._eligible[u])
            what = "unseen movies" if self._table is None else "unseen movies of positive weight"
            if need == 1:
                raise ValueError(f"user {u} has no {what} left; no negative can be drawn")
            what = what.replace("movies", "movie") if have == 1 else what
            raise ValueError(f"user {u} has only {have} {what}, fewer than the {need} asked for")

    def _dense_block(self, users: np.ndarray) -> np.ndarray:
        """``(len(users), n_items) float64`` sampling weights with seen movies set to 0."""
        w = np.empty((len(users), self.n_items), dtype=np.float64)
        w[:] = 1.0 if self._weights_arr is None else self._weights_arr
        starts, ends = self._indptr[users], self._indptr[users + 1]
        lens = ends - starts
        # Positions of every stored entry of these rows: each row's run of the CSR arrays.
        shift = np.repeat(starts - (np.cumsum(lens) - lens), lens)
        entries = shift + np.arange(int(lens.sum()))
        w[np.repeat(np.arange(len(users)), lens), self._indices[entries]] = 0.0
        return w

    def _exact_draws(self, users: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One draw per entry of ``users``, straight from each user's unseen movies."""
        out = np.empty(len(users), dtype=np.int32)
        uniq, inv = np.unique(users, return_inverse=True)
        per = max(1, _DENSE_CELLS // self.n_items)
        order = np.argsort(inv, kind="stable")
        bounds = np.searchsorted(inv[order], np.arange(0, len(uniq) + per, per))
        for b0, (r0, r1) in enumerate(zip(bounds[:-1], bounds[1:])):
            if r0 == r1:
                continue
            block = uniq[b0 * per:(b0 + 1) * per]
            cum = np.cumsum(self._dense_block(block), axis=1).ravel()
            sel = order[r0:r1]
            row = inv[sel] - b0 * per
            row_end = row.astype(np.int64) * self.n_items + (self.n_items - 1)
            total = cum[row_end]
            t = rng.random(len(sel)) * total
            np.minimum(t, np.nextafter(total, 0.0), out=t)
            # First column whose cumulative weight exceeds t, searched inside the row.
            lo = row.astype(np.int64) * self.n_items
            hi = row_end.copy()
            while True:
                open_ = lo < hi
                if not open_.any():
                    break
                mid = (lo + hi) >> 1
                go = open_ & (cum[mid] <= t)
                lo = np.where(go, mid + 1, lo)
                hi = np.where(open_ & ~go, mid, hi)
            out[sel] = (lo - row.astype(np.int64) * self.n_items).astype(np.int32)
        return out

    def _run_chunks(self, work: Callable[[int, np.random.Generator], None], n_chunks: int,
                    rng: np.random.Generator) -> None:
        """Run ``work(c, generator)`` for chunks ``c = 0..n_chunks-1`` on up to ``threads`` threads.

        Each chunk draws from its own generator, spawned from ``rng`` in chunk order, so
        results do not depend on the number of threads. NumPy releases the GIL inside
        the array operations that dominate a chunk, so the threads run in parallel.
        """
        if n_chunks == 0:
            return
        root = np.random.SeedSequence(int(rng.integers(0, 2**63 - 1)))
        gens = [np.random.default_rng(child) for child in root.spawn(n_chunks)]
        if self.threads <= 1 or n_chunks == 1:
            for c in range(n_chunks):
                work(c, gens[c])
            return
        with ThreadPoolExecutor(max_workers=min(self.threads, n_chunks)) as pool:
            for _ in pool.map(work, range(n_chunks), gens):
                pass  # re-raises a chunk's exception here

    def sample(self, users: np.ndarray, k: int, rng: np.random.Generator | int) -> np.ndarray:
        """``k`` negatives per row of ``users``, drawn independently (with replacement).

        Rows grouped by user (CSR order, or a rating file sorted by user) are fastest:
        one user's rows then probe the same few cache lines of the filter.

        Args:
            users: ``(n,)`` integer user indices (repeats allowed: one row per positive).
            k: negatives per row.
            rng: a ``numpy.random.Generator`` or an int seed.

        Returns:
            ``(n, k) int32`` movie indices, none stored in ``seen[users[j]]``.
        """
        k = _positive_int(k, "k")
        users = _check_users(users, self.n_users)
        rng = _rng(rng)
        self._check_eligible(users, 1)
        out = np.empty((len(users), k), dtype=np.int32)
        hard = self._accept[users] < _MIN_ACCEPT if users.size else np.zeros(0, bool)
        easy_rows = np.flatnonzero(~hard) if hard.any() else None
        n_easy = len(users) if easy_rows is None else len(easy_rows)
        per = max(1, _CHUNK // k)
        leftovers: dict[int, tuple[np.ndarray, np.ndarray]] = {}

        def work(c: int, g: np.random.Generator) -> None:
            s = c * per
            rows = slice(s, s + per) if easy_rows is None else easy_rows[s:s + per]
            u = users[rows]
            items = self._draw(g, len(u) * k).reshape(len(u), k)
            bad = np.flatnonzero(self._seen_mask(u, items))
            bu = u[bad // k]
            for _ in range(_MAX_ROUNDS):
                if not bad.size:
                    break
                new = self._draw(g, bad.size)
                items.ravel()[bad] = new
                again = self._seen_mask(bu, new[:, None])[:, 0]
                bad, bu = bad[again], bu[again]
            out[rows] = items
            if bad.size:
                row = s + bad // k if easy_rows is None else easy_rows[s + bad // k]
                leftovers[c] = (row * k + bad % k, bu)

        self._run_chunks(work, -(-n_easy // per), rng)
        # Hard users, and draws still unlucky after many rounds, are finished exactly.
        todo = [leftovers[c] for c in sorted(leftovers)]
        if hard.any():
            hard_rows = np.flatnonzero(hard)
            todo.append(((hard_rows[:, None] * k + np.arange(k)).ravel(), np.repeat(users[hard_rows], k)))
        if todo:
            at = np.concatenate([t[0] for t in todo])
            out.ravel()[at] = self._exact_draws(np.concatenate([t[1] for t in todo]), rng)
        return out

    def sample_eval(self, users: np.ndarray, n: int, rng: np.random.Generator | int) -> np.ndarray:
        """``n`` distinct negatives per row of ``users``.

        The sample of a row is the first ``n`` distinct unseen movies of a sequence of
        independent draws (for ``"popularity"``: successive sampling without
        replacement), in draw order.

        Args:
            users: ``(m,)`` integer user indices.
            n: negatives per row.
            rng: a ``numpy.random.Generator`` or an int seed.

        Returns:
            ``(m, n) int32`` movie indices, distinct within a row, none stored in
            ``seen[users[j]]``.
        """
        n = _positive_int(n, "n")
        users = _check_users(users, self.n_users)
        rng = _rng(rng)
        self._check_eligible(users, n)
        out = np.empty((len(users), n), dtype=np.int32)
        if not users.size:
            return out
        hard = (self._accept[users] < _MIN_ACCEPT_EVAL) | (self._eligible[users] < 4 * n)
        easy = np.flatnonzero(~hard)
        # A few spare draws per row cover the usual seen movies and repeats; rows that
        # still fall short draw more.
        width = n + n // 8 + 8
        per = max(1, _CHUNK // width)
        failed: dict[int, np.ndarray] = {}

        def work(c: int, g: np.random.Generator) -> None:
            rows = easy[c * per:(c + 1) * per]
            u = users[rows]
            cand = self._draw(g, len(u) * width).reshape(len(u), width)
            ok = ~self._seen_mask(u, cand)
            _drop_repeats(cand, ok)
            short = np.flatnonzero(ok.sum(axis=1) < n)
            if not short.size:
                self._take_first(cand, ok, n, out, rows)
                return
            done = np.ones(len(u), dtype=bool)
            done[short] = False
            self._take_first(cand[done], ok[done], n, out, rows[done])
            # Append more draws (never restart, so the result stays the first n
            # distinct unseen movies of one sequence).
            c_short, ok_short = cand[short], ok[short]
            for _ in range(_MAX_ROUNDS):
                if not short.size:
                    break
                more = self._draw(g, len(short) * width).reshape(len(short), width)
                c_short = np.concatenate([c_short, more], axis=1)
                ok_short = np.concatenate([ok_short, ~self._seen_mask(u[short], more)], axis=1)
                _drop_repeats(c_short, ok_short)
                fin = ok_short.sum(axis=1) >= n
                self._take_first(c_short[fin], ok_short[fin], n, out, rows[short[fin]])
                short, c_short, ok_short = short[~fin], c_short[~fin], ok_short[~fin]
            if short.size:
                failed[c] = rows[short]

        self._run_chunks(work, -(-len(easy) // per), rng)
        for c in sorted(failed):
            hard[failed[c]] = True
        hard_rows = np.flatnonzero(hard)
        if hard_rows.size:
            out[hard_rows] = self._exact_distinct(users[hard_rows], n, rng)
        return out

    @staticmethod
    def _take_first(cand: np.ndarray, ok: np.ndarray, n: int, out: np.ndarray, rows: np.ndarray) -> None:
        if not len(rows):
            return
        pick = ok & (np.cumsum(ok, axis=1) <= n)
        out[rows] = cand[pick].reshape(len(rows), n)

    def _exact_distinct(self, users: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` distinct unseen movies per user, from dense blocks.

        Uniform: the ``n`` largest of independent uniform keys, i.e. a random order of
        the unseen movies, cut at ``n``. Popularity: Efraimidis-Spirakis keys
        ``log(U) / w`` (Efraimidis & Spirakis, 2006); the ``n`` largest, in decreasing
        order, are distributed as successive sampling without replacement ∝ ``w``.
        """
        out = np.empty((len(users), n), dtype=np.int32)
        per = max(1, _DENSE_CELLS // self.n_items)
        for s in range(0, len(users), per):
            w = self._dense_block(users[s:s + per])
            keys = rng.random(w.shape)
            if self._weights_arr is None:
                keys[w == 0] = -1.0  # uniform: the keys are a random order of the unseen
            else:
                keys = 1.0 - keys  # in (0, 1], so the log is finite
                with np.errstate(divide="ignore"):
                    keys = np.where(w > 0, np.log(keys) / np.where(w > 0, w, 1.0), -np.inf)
            top = np.argpartition(-keys, n - 1, axis=1)[:, :n]
            order = np.argsort(-np.take_along_axis(keys, top, axis=1), axis=1, kind="stable")
            out[s:s + per] = np.take_along_axis(top, order, axis=1)
        return out


def _drop_repeats(cand: np.ndarray, ok: np.ndarray) -> None:
    """Clear ``ok`` for every candidate that repeats an earlier one in its row."""
    srt = np.sort(cand, axis=1)
    rows = np.flatnonzero((srt[:, 1:] == srt[:, :-1]).any(axis=1))
    if not rows.size:
        return
    sub = cand[rows]
    order = np.argsort(sub, axis=1, kind="stable")
    s = np.take_along_axis(sub, order, axis=1)
    rep = np.zeros(sub.shape, dtype=bool)
    # Stable order puts the earliest draw first among equals; the later ones repeat it.
    np.put_along_axis(rep, order[:, 1:], s[:, 1:] == s[:, :-1], axis=1)
    ok[rows] &= ~rep


def sample_negatives(
    seen: sp.spmatrix | sp.sparray,
    users: np.ndarray,
    k: int,
    *,
    rng: np.random.Generator | int,
    distribution: Distribution = "uniform",
    item_weights: np.ndarray | None = None,
    popularity_alpha: float = 1.0,
) -> np.ndarray:
    """Draw ``k`` exact negatives per row of ``users``, independently (with replacement).

    Args:
        seen: ``(n_users, n_items)`` sparse matrix; stored entries are the movies each
            user interacted with (pass train positives; add more to exclude them too).
        users: ``(n,)`` integer user indices, e.g. ``train.users`` for one row per
            positive.
        k: negatives per row (the same movie may repeat within a row).
        rng: a ``numpy.random.Generator`` or an int seed.
        distribution: ``"uniform"`` over unseen movies, or ``"popularity"``.
        item_weights: ``(n_items,)`` weights for ``"popularity"`` (default: column
            counts of ``seen``).
        popularity_alpha: exponent on the popularity weights.

    Returns:
        ``(n, k) int32`` movie indices; none is stored in ``seen[users[j]]``.

    Raises:
        ValueError: on a bad argument, or naming the first user who has no unseen movie.

    To sample several times from one matrix (every epoch), build a
    :class:`NegativeSampler` once and call its ``sample``.
    """
    sampler = NegativeSampler(seen, distribution=distribution, item_weights=item_weights,
                              popularity_alpha=popularity_alpha)
    return sampler.sample(users, k, rng)


def sample_eval_negatives(
    seen: sp.spmatrix | sp.sparray,
    users: np.ndarray,
    n: int = 99,
    *,
    rng: np.random.Generator | int,
    distribution: Distribution = "uniform",
    item_weights: np.ndarray | None = None,
    popularity_alpha: float = 1.0,
) -> np.ndarray:
    """Draw ``n`` distinct exact negatives per row of ``users`` (sampled-ranking candidates).

    Args:
        seen: ``(n_users, n_items)`` sparse matrix of every known positive (train *and*
            test), so that no held-out movie is offered as a negative.
        users: ``(m,)`` integer user indices.
        n: distinct negatives per row.
        rng: a ``numpy.random.Generator`` or an int seed.
        distribution, item_weights, popularity_alpha: as in :func:`sample_negatives`;
            ``"popularity"`` samples without replacement, successively ∝ weight.

    Returns:
        ``(m, n) int32`` movie indices, distinct within each row, none stored in
        ``seen[users[j]]``.

    Raises:
        ValueError: on a bad argument, or naming the first user with fewer than ``n``
            unseen movies.
    """
    sampler = NegativeSampler(seen, distribution=distribution, item_weights=item_weights,
                              popularity_alpha=popularity_alpha)
    return sampler.sample_eval(users, n, rng)


# -- epoch samples for the neural models ----------------------------------------------

# Per training set: its distinct positive pairs, and one negative sampler per
# distribution, built once and reused every epoch (a sampler's membership filter costs
# more than one epoch's draws).
_EPOCH_CACHE: "weakref.WeakKeyDictionary[Interactions, dict[object, object]]" = weakref.WeakKeyDictionary()


def _cached(train: Interactions) -> dict[object, object]:
    hit = _EPOCH_CACHE.get(train)
    if hit is None:
        hit = _EPOCH_CACHE[train] = {}
    return hit


def positive_pairs(train: Interactions) -> tuple[np.ndarray, np.ndarray]:
    """Each distinct (user, movie) pair of ``train`` once: ``(users, items)``, ``int64``.

    In the order of ``train.seen``'s cells (by user, then movie). A repeated rating of
    the same movie counts once, so no pair weighs double.
    """
    cache = _cached(train)
    if "pairs" not in cache:
        seen = train.seen
        users = np.repeat(np.arange(train.n_users, dtype=np.int64), np.diff(seen.indptr))
        cache["pairs"] = (users, seen.indices.astype(np.int64))
    return cache["pairs"]  # type: ignore[return-value]


def _sampler(train: Interactions, distribution: Distribution, exponent: float) -> NegativeSampler:
    key = ("sampler", distribution, float(exponent) if distribution == "popularity" else None)
    cache = _cached(train)
    if key not in cache:
        if distribution == "popularity":
            cache[key] = NegativeSampler(train.seen, distribution="popularity", popularity_alpha=exponent)
        else:
            cache[key] = NegativeSampler(train.seen, distribution=distribution)
    return cache[key]  # type: ignore[return-value]


#: Said when no user of a training set has an unseen movie to draw as a negative (a model
#: learning against negatives names itself before it: ``neumf: every user ...``).
NO_NEGATIVE_WORDS = ("every user has rated every movie (or every movie of positive weight): no negative can be "
                     "drawn; keep more movies")


def with_unseen(train: Interactions, distribution: Distribution = "uniform", exponent: float = 0.75) -> np.ndarray | None:
    """``(n_pos,) bool`` over :func:`positive_pairs`: whose user has an unseen movie to draw
    as a negative (one who rated every movie has none: their positives are learned
    without negatives), or ``None`` when every user has one. Once per training set.

    Raises:
        DataError: no user has one, so nothing can be learned against a negative.
    """
    from cinerec.errors import DataError

    cache = _cached(train)
    key = ("with_unseen", distribution, float(exponent) if distribution == "popularity" else None)
    if key not in cache:
        users = positive_pairs(train)[0]
        ok = _sampler(train, distribution, exponent)._eligible[users] > 0
        if len(users) and not ok.any():
            raise DataError(NO_NEGATIVE_WORDS)
        cache[key] = None if ok.all() else ok
    return cache[key]  # type: ignore[return-value]


def _negatives(train: Interactions, users: np.ndarray, k: int, rng: np.random.Generator,
               distribution: Distribution, exponent: float) -> np.ndarray:
    """``(len(users), k) int64`` unseen movies, exact (never a seen one)."""
    return np.asarray(_sampler(train, distribution, exponent).sample(users, k, rng), dtype=np.int64)


def pointwise_samples(train: Interactions, negatives: int, rng: np.random.Generator, device: "torch.device", *,
                      distribution: Distribution = "uniform",
                      exponent: float = 0.75) -> tuple["torch.Tensor", "torch.Tensor", "torch.Tensor"]:
    """Every positive pair plus ``negatives`` fresh unseen movies per positive.

    Args:
        train: the training interactions; every distinct (user, movie) pair is a positive.
        negatives: unseen movies drawn per positive (with replacement, never a positive
            of that user).
        rng: this epoch's generator.
        device: where the tensors go.
        distribution: ``"uniform"`` over each user's unseen movies, or ``"popularity"``:
            probability ∝ (the movie's number of training users) ** ``exponent``.
        exponent: the popularity exponent.

    Returns:
        ``(users int64, items int64, labels float32)`` on ``device``: positives first
        (label 1), in :func:`positive_pairs` order, then negatives (label 0),
        ``negatives`` per positive in the same order, for every positive whose user has
        an unseen movie (all of them, unless someone rated every movie).
    """
    import torch

    u, i = positive_pairs(train)
    ok = with_unseen(train, distribution, exponent)
    drawn = u if ok is None else u[ok]
    neg = _negatives(train, drawn, negatives, rng, distribution, exponent)
    users = np.concatenate([u, np.repeat(drawn, negatives)])
    items = np.concatenate([i, neg.ravel()])
    labels = np.concatenate([np.ones(len(u), np.float32), np.zeros(neg.size, np.float32)])
    return (torch.from_numpy(users).to(device), torch.from_numpy(items).to(device),
            torch.from_numpy(labels).to(device))


def pairwise_samples(train: Interactions, negatives: int, rng: np.random.Generator, device: "torch.device", *,
                     distribution: Distribution = "uniform",
                     exponent: float = 0.75) -> tuple["torch.Tensor", "torch.Tensor", "torch.Tensor"]:
    """Triples for pairwise losses (BPR): each positive paired with ``negatives`` unseen movies.

    Arguments as for :func:`pointwise_samples`.

    Returns:
        ``(users, positives, negatives)``, ``int64`` on ``device``, each ``(n_pos * negatives,)``
        over the positives whose user has an unseen movie.
    """
    import torch

    u, i = positive_pairs(train)
    ok = with_unseen(train, distribution, exponent)
    if ok is not None:  # a user who rated every movie ranks nothing
        u, i = u[ok], i[ok]
    neg = _negatives(train, u, negatives, rng, distribution, exponent)
    return (torch.from_numpy(np.repeat(u, negatives)).to(device),
            torch.from_numpy(np.repeat(i, negatives)).to(device),
            torch.from_numpy(neg.ravel()).to(device))
