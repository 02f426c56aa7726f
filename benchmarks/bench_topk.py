"""Top-10 unseen movies for every user of an ml-25m-sized set with a 64-d factor model.

Usage: ``python benchmarks/bench_topk.py [--scale 1.0] [--dim 64] [-k 10]``

The seen matrix is the ml-25m-shaped one of ``bench_sampling.py`` (162,541 users ×
59,047 movies, 25,000,095 entries, heavy-tailed); the factors are random, which costs the
same as trained ones. Timed in one process:

- ``arithmetic``: the bare reference — every user's scores over the whole catalogue,
  chunk by chunk (``U[chunk] @ Vᵀ``), nothing else;
- ``arithmetic_topk``: the same plus ``torch.topk`` per chunk, no exclusion;
- ``cinerec``: ``Recommender.recommend(all users, k)``, which also removes every seen
  movie before ranking and breaks ties the shared way.

With ``--als``, the same top-10 through ``ALS`` holding the same factors
(``als_seconds``, ``als_ratio_to_cinerec``, and the share of list places alike).

Prints one JSON object with seconds, users/s and peak RSS.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_sampling import synthetic_seen  # noqa: E402
from machine import above, at_least, machine  # noqa: E402

from cinerec.config import Config  # noqa: E402
from cinerec.data.dataset import Interactions  # noqa: E402
from cinerec.models.base import Recommender, chunks  # noqa: E402

ML25M = (162_541, 59_047, 25_000_095)


class _FactorsConfig(Config):
    pass


class Factors(Recommender):
    """Dot products of fixed factors: the scoring cost of any factor model."""

    name = "bench-factors"
    Config = _FactorsConfig

    def __init__(self, users: np.ndarray, items: np.ndarray, train: Interactions) -> None:
        super().__init__()
        self.U, self.V = torch.from_numpy(users), torch.from_numpy(items)
        self._remember(train)

    def fit(self, train, valid=None):
        self._remember(train)
        return self

    def _score_rows(self, users: np.ndarray) -> torch.Tensor:
        return self.U[torch.from_numpy(np.asarray(users))] @ self.V.T


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=above(0), default=1.0)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("-k", type=int, default=10)
    ap.add_argument("--seed", type=at_least(0), default=0)
    ap.add_argument("--als", action="store_true", help="also time ALS's own scoring of the same factors")
    args = ap.parse_args()
    if args.scale > 10:  # (ten times ml-25m's size; far past it, the arrays cannot even be shaped)
        ap.error(f"--scale {args.scale:g}: at most 10 (ten times ml-25m's size)")
    for flag, value in (("--dim", args.dim), ("-k", args.k)):
        if value < 1:
            ap.error(f"{flag} {value}: must be at least 1")
    n_users, n_items, n_entries = int(ML25M[0] * args.scale), ML25M[1], int(ML25M[2] * args.scale)
    if n_users < 1:
        ap.error(f"--scale {args.scale:g}: leaves no users ({ML25M[0]:,} × the scale is below 1)")
    if args.k > n_items:  # (torch.topk's traceback: "selected index k out of range")
        ap.error(f"-k {args.k}: at most {n_items:,}, the movies")

    t = time.perf_counter()
    seen = synthetic_seen(n_users, n_items, n_entries, args.seed)
    coo = seen.tocoo()
    train = Interactions(coo.row, coo.col, np.ones(len(coo.row)), np.zeros(len(coo.row)), n_users, n_items)
    train.__dict__["seen"] = seen  # the matrix is already built; spare rebuilding it
    del coo
    build = time.perf_counter() - t
    rng = np.random.default_rng(args.seed)
    model = Factors(rng.standard_normal((n_users, args.dim), dtype=np.float32),
                    rng.standard_normal((n_items, args.dim), dtype=np.float32), train)
    users = np.arange(n_users)

    out: dict = {
        "machine": machine(torch_threads=torch.get_num_threads()),
        "users": n_users, "movies": n_items, "seen_entries": int(seen.nnz), "dim": args.dim, "k": args.k,
        "chunk_size": model.chunk_size, "build_seconds": round(build, 1),
    }
    t = time.perf_counter()
    for sl in chunks(n_users, model.chunk_size):
        model._score_rows(users[sl])
    arithmetic = time.perf_counter() - t
    out["arithmetic_seconds"] = round(arithmetic, 2)
    t = time.perf_counter()
    for sl in chunks(n_users, model.chunk_size):
        torch.topk(model._score_rows(users[sl]), args.k, dim=1)
    out["arithmetic_topk_seconds"] = round(time.perf_counter() - t, 2)
    t = time.perf_counter()
    items, _ = model.recommend(users, k=args.k)
    took = time.perf_counter() - t
    out["cinerec_seconds"] = round(took, 2)
    out["cinerec_users_per_s"] = round(n_users / took)
    out["ratio_to_arithmetic"] = round(took / arithmetic, 2)  # (unrounded: small scales take under 0.01 s)
    out["target_seconds"] = 60 if args.scale == 1 else None  # (for ml-25m's size alone)
    if args.als:
        from cinerec.models.als import ALS

        als = ALS()
        als.user_factors, als.item_factors = model.U.numpy(), model.V.numpy()
        als._remember(train)
        t = time.perf_counter()
        als_items, _ = als.recommend(users, k=args.k)
        out["als_seconds"] = round(time.perf_counter() - t, 2)
        out["als_ratio_to_cinerec"] = round(out["als_seconds"] / took, 2)
        out["als_same_lists"] = float(np.mean(als_items == items))  # share of places alike (ties aside)
    # a spot check that nothing seen came back
    probe = users[:: max(1, n_users // 1000)]
    out["seen_recommended_in_probe"] = int(np.take_along_axis(seen[probe].toarray(), items[probe], 1).sum())
    out["peak_rss_gib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)
    json.dump(out, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    from cinerec.cli import script_main

    script_main(main)
