"""How long ``cinerec export`` takes: real ml-100k, and a synthetic ml-25m-sized factor model.

Usage::

    python benchmarks/bench_export.py --ml100k PATH/TO/ml-100k [--skip-large] [-k 50]

Prints one JSON object. The large case builds random 64-d factors for 162,541 users ×
59,047 movies (ml-25m's size) with 20 random "seen" movies per user, so exclusion and
reasons do real work, and exports the top-50 of every user (8.1M rows). Heavy: run it
alone, once.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from cinerec.config import Config
from cinerec.data.dataset import Catalog, Dataset, IdMap, Interactions
from cinerec.models.base import Recommender
from cinerec.runs import Run, finish_run, save_dataset, save_model
from cinerec.serving.store import export_store

ML25M_USERS, ML25M_ITEMS = 162_541, 59_047


class _RandomFactorsConfig(Config):
    pass


class RandomFactors(Recommender):
    """Dot products of fixed random factors: the cost profile of any factor model."""

    name = "bench-random-factors"
    Config = _RandomFactorsConfig
    chunk_size = 512  # 512 × 59,047 float32 scores = 121 MB per chunk

    def __init__(self, users: np.ndarray, items: np.ndarray, train: Interactions) -> None:
        super().__init__()
        self.U, self.V = users, items
        self._remember(train)

    def fit(self, train, valid=None):
        self._remember(train)
        return self

    def _score_rows(self, users: np.ndarray) -> np.ndarray:
        return self.U[users] @ self.V.T

    def item_vectors(self) -> np.ndarray:
        return self.V


def synthetic_run(root: Path, rng: np.random.Generator, n_users: int, n_items: int, dim: int, per_user: int) -> Run:
    users = np.repeat(np.arange(n_users, dtype=np.int32), per_user)
    items = rng.integers(0, n_items, size=len(users), dtype=np.int32)
    train = Interactions(users, items, np.ones(len(users)), np.zeros(len(users)), n_users, n_items)
    catalog = Catalog(np.array([f"Movie {i}" for i in range(n_items)], dtype=object),
                      rng.integers(1920, 2020, n_items), ("Drama", "Comedy"), rng.random((n_items, 2)) < 0.3)
    ds = Dataset("synthetic-ml-25m-size", train, IdMap(np.arange(1, n_users + 1), "user"),
                 IdMap(np.arange(1, n_items + 1), "movie"), catalog)
    model = RandomFactors(rng.standard_normal((n_users, dim), dtype=np.float32),
                          rng.standard_normal((n_items, dim), dtype=np.float32), train)
    meta = {"models": [model.name], "created": "synthetic"}
    return Run(root, meta, ds, _models={model.name: model})


def time_export(run: Run | Path, db: Path, k: int, model: str | None = None) -> dict:
    start = time.perf_counter()
    info = export_store(run, db, k=k, model=model, progress=False)
    took = time.perf_counter() - start
    return {"model": info.model, "users": info.n_users, "movies": info.n_items, "k": info.k,
            "rows": info.n_users * info.k, "seconds": round(took, 2),
            "users_per_s": round(info.n_users / took, 1), "db_mb": round(db.stat().st_size / 2**20, 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ml100k", type=Path, help="the ml-100k folder")
    ap.add_argument("-k", type=int, default=50)
    ap.add_argument("--skip-large", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--users", type=int, default=ML25M_USERS, help="size of the synthetic case (default: ml-25m's)")
    ap.add_argument("--movies", type=int, default=ML25M_ITEMS)
    args = ap.parse_args(argv)
    out: dict = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version()}, "k": args.k}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.ml100k:
            from cinerec.data import load
            from cinerec.models import create

            ds = load(args.ml100k)
            run_dir = tmp / "run100k"
            fit = {}
            for name in ("ease", "als"):
                t = time.perf_counter()
                save_model(run_dir, create(name).fit(ds.interactions))
                fit[name] = round(time.perf_counter() - t, 2)
            save_dataset(run_dir, ds)
            finish_run(run_dir, meta={"source": "ml-100k", "best_model": "ease"})
            out["ml-100k"] = {name: {**time_export(run_dir, tmp / f"{name}.sqlite", args.k, name), "fit_seconds": fit[name]}
                              for name in ("ease", "als")}
        if not args.skip_large:
            rng = np.random.default_rng(args.seed)
            t = time.perf_counter()
            run = synthetic_run(tmp / "run25m", rng, args.users, args.movies, 64, 20)
            build = time.perf_counter() - t
            out["synthetic-ml-25m"] = {**time_export(run, tmp / "large.sqlite", args.k),
                                       "factors": 64, "seen_per_user": 20, "build_seconds": round(build, 1)}
    json.dump(out, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
