"""Speed of exact negative sampling at MovieLens-25M scale; prints one JSON object.

The seen matrix is synthetic but shaped like ml-25m: 162,541 users x 59,047 movies with
25,000,095 entries, heavy-tailed user activity (Pareto, 20 to 32,202 ratings per user)
and heavy-tailed movie popularity. It is generated here with NumPy; no files are read.

Timed, in one process:

- ``naive``: the plain NumPy reference, a ``searchsorted`` membership check of
  ``user * n_items + item`` keys with a redraw loop, k=4 for every entry;
- ``sample_negatives``: cinerec, k=4 for every entry (target 4 s), split into building
  the sampler and drawing; drawing is also timed with the rows shuffled (not grouped
  by user), the sampler's slow case;
- ``sample_eval_negatives``: cinerec, 99 distinct negatives for every user (target 1 s).

Usage: ``python benchmarks/bench_sampling.py [--scale 1.0] [--seed 0]``; ``--scale``
shrinks users and entries for a quick run.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from cinerec.data.sampling import NegativeSampler, sample_eval_negatives, sample_negatives

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/machine.py, however this file is run

from machine import above, at_least, machine  # noqa: E402

N_USERS, N_ITEMS, N_ENTRIES = 162_541, 59_047, 25_000_095
MIN_DEG, MAX_DEG = 20, 32_202
TARGET_TRAIN_S, TARGET_EVAL_S = 4.0, 1.0


def synthetic_seen(n_users: int, n_items: int, n_entries: int, seed: int) -> sp.csr_matrix:
    """A ``(n_users, n_items)`` CSR matrix with exactly ``n_entries`` stored ones."""
    rng = np.random.default_rng(seed)
    # User activity: Pareto(alpha=1.15) from MIN_DEG, scaled so the total is exact.
    raw = MIN_DEG * (1.0 - rng.random(n_users)) ** (-1 / 1.15) - MIN_DEG
    lo, hi = 0.0, 1e6
    for _ in range(100):
        f = (lo + hi) / 2
        total = np.minimum(MIN_DEG + np.floor(raw * f), MAX_DEG).sum()
        lo, hi = (f, hi) if total < n_entries else (lo, f)
    deg = np.minimum(MIN_DEG + np.floor(raw * lo), MAX_DEG).astype(np.int64)
    short = n_entries - int(deg.sum())
    room = np.flatnonzero(deg < MAX_DEG)
    deg[rng.choice(room, size=short, replace=False)] += 1
    # Distinct movies per user, skewed toward popular ranks: sorted uniforms from
    # exponential spacings, mapped through a power law, made strictly increasing.
    starts = np.repeat(np.cumsum(deg) - deg, deg)
    user = np.repeat(np.arange(n_users), deg)
    j = np.arange(len(user)) - starts
    gaps = rng.exponential(size=len(user))
    cum = np.cumsum(gaps)
    seg0 = np.concatenate([[0.0], cum])[np.cumsum(deg) - deg]
    seg_total = cum[np.cumsum(deg) - 1] - seg0 + rng.exponential(size=n_users)
    u01 = (cum - np.repeat(seg0, deg)) / np.repeat(seg_total, deg)
    rank = np.floor(n_items * u01 ** 3.0).astype(np.int64)
    # rank_j - j must be non-decreasing and within [0, n_items - deg] for distinct ranks.
    z = np.clip(rank - j, 0, np.repeat(n_items - deg, deg)) + user * (2 * n_items)
    z = np.maximum.accumulate(z) - user * (2 * n_items)
    rank = z + j
    items = rng.permutation(n_items)[rank].astype(np.int32)
    indptr = np.concatenate([[0], np.cumsum(deg)])
    m = sp.csr_matrix((np.ones(len(items), np.float32), items, indptr), shape=(n_users, n_items))
    m.sort_indices()
    return m


def naive_negatives(seen: sp.csr_matrix, users: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Reference: sorted ``user * n_items + item`` keys, ``searchsorted``, redraw hits."""
    n_items = seen.shape[1]
    rows = np.repeat(np.arange(seen.shape[0], dtype=np.int64), np.diff(seen.indptr))
    keys = rows * n_items + seen.indices
    items = rng.integers(0, n_items, size=(len(users), k), dtype=np.int32)
    q = users[:, None].astype(np.int64) * n_items + items
    bad = np.flatnonzero(keys[np.minimum(np.searchsorted(keys, q.ravel()), len(keys) - 1)] == q.ravel())
    while bad.size:
        new = rng.integers(0, n_items, size=bad.size, dtype=np.int32)
        items.ravel()[bad] = new
        qb = users[bad // k].astype(np.int64) * n_items + new
        hit = keys[np.minimum(np.searchsorted(keys, qb), len(keys) - 1)] == qb
        bad = bad[hit]
    return items


class Timer:
    """Wall and CPU seconds of a block; CPU time is less disturbed by other processes."""

    def __enter__(self) -> "Timer":
        self.w0, self.c0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc) -> None:
        self.wall = round(time.perf_counter() - self.w0, 3)
        self.cpu = round(time.process_time() - self.c0, 3)


def peak_rss_gib() -> float:
    """Peak resident memory of this process since start (or since the last reset)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def reset_peak_rss() -> None:
    """Start a new peak-RSS window (Linux), so each phase reports its own peak."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=above(0), default=1.0)
    ap.add_argument("--seed", type=at_least(0), default=0)
    ap.add_argument("--skip-naive", action="store_true")
    args = ap.parse_args()
    if args.scale > 10:  # (ten times ml-25m's size; far past it, the arrays cannot even be shaped)
        ap.error(f"--scale {args.scale:g}: at most 10 (ten times ml-25m's size)")
    n_users = max(100, int(N_USERS * args.scale))
    n_entries = max(n_users * MIN_DEG, int(N_ENTRIES * args.scale))

    t0 = time.perf_counter()
    seen = synthetic_seen(n_users, N_ITEMS, n_entries, args.seed)
    gen_s = time.perf_counter() - t0
    users = np.repeat(np.arange(n_users, dtype=np.int32), np.diff(seen.indptr))
    all_users = np.arange(n_users, dtype=np.int32)
    rss_data = peak_rss_gib()
    reset_peak_rss()
    out: dict = {
        "benchmark": "negative sampling",
        "machine": machine(),
        "data": {"users": n_users, "items": N_ITEMS, "entries": int(seen.nnz), "generate_s": round(gen_s, 2),
                 "max_user_entries": int(np.diff(seen.indptr).max())},
    }

    with Timer() as build:
        sampler = NegativeSampler(seen)
    with Timer() as draw:
        neg = sampler.sample(users, 4, np.random.default_rng(1))
    with Timer() as train:
        neg = sample_negatives(seen, users, 4, rng=np.random.default_rng(1))
    shuffled = np.random.default_rng(3).permutation(users)
    with Timer() as draw_shuffled:
        sampler.sample(shuffled, 4, np.random.default_rng(1))
    del shuffled
    rss_train = peak_rss_gib()
    reset_peak_rss()
    with Timer() as evl:
        ev = sample_eval_negatives(seen, all_users, 99, rng=np.random.default_rng(2))
    with Timer() as ev_draw:
        sampler.sample_eval(all_users, 99, np.random.default_rng(2))
    rss_eval = peak_rss_gib()
    reset_peak_rss()
    out["sample_negatives_k4"] = {
        "draws": int(neg.size), "total_s": train.wall, "total_cpu_s": train.cpu,
        "build_s": build.wall, "draw_s": draw.wall, "draw_cpu_s": draw.cpu,
        "draw_shuffled_rows_s": draw_shuffled.wall, "draw_shuffled_rows_cpu_s": draw_shuffled.cpu,
        # (the targets are for ml-25m's size: a smaller --scale is no measure of them)
        "ratio_to_target": round(train.wall / TARGET_TRAIN_S, 3) if args.scale == 1 else None,
        "filter_mb": round(sampler._bits.nbytes / 2**20, 1), "threads": sampler.threads,
    }
    out["sample_eval_negatives_99"] = {
        "users": n_users, "total_s": evl.wall, "total_cpu_s": evl.cpu, "draw_s_prebuilt": ev_draw.wall,
        "ratio_to_target": round(evl.wall / TARGET_EVAL_S, 3) if args.scale == 1 else None,
        "distinct_rows": bool((np.diff(np.sort(ev, axis=1), axis=1) > 0).all()),
    }
    del neg, ev, sampler
    if not args.skip_naive:
        with Timer() as naive:
            naive_negatives(seen, users, 4, np.random.default_rng(1))
        out["naive_searchsorted_k4"] = {"total_s": naive.wall, "total_cpu_s": naive.cpu}
        out["speedup_vs_naive"] = {"wall": round(naive.wall / train.wall, 2), "cpu": round(naive.cpu / train.cpu, 2)}
    with open("/proc/loadavg") as f:
        out["machine"]["loadavg_1min_at_end"] = float(f.read().split()[0])
    # Peaks per phase (the seen matrix and the users array, about 0.4 GB, stay resident).
    out["peak_rss_gib"] = {"generate": round(rss_data, 2), "sample_negatives": round(rss_train, 2),
                          "sample_eval_negatives": round(rss_eval, 2)}
    if not args.skip_naive:  # (skipped, it has no peak of its own to report)
        out["peak_rss_gib"]["naive"] = round(peak_rss_gib(), 2)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    from cinerec.cli import script_main

    script_main(main)
