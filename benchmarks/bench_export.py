"""How long ``cinerec export`` takes: real ml-100k, and a synthetic ml-25m-sized factor model.

Usage::

    python benchmarks/bench_export.py --ml100k PATH/TO/ml-100k [--skip-large] [-k 50]

Prints one JSON object. The large case builds random 64-d factors for 162,541 users ×
59,047 movies (ml-25m's size) with 20 random "seen" movies per user, so exclusion and
reasons do real work, and exports the top-50 of every user (8.1M rows). Heavy: run it
alone, once.

Sharded export over ``torchrun`` processes::

    python benchmarks/bench_export.py --sharded 1 2 --users 20000 --movies 20000 [--repeats 3]

exports the synthetic case (of the size given) once per process count under
``torchrun --standalone --nproc-per-node N``, ``--repeats`` times each, and reports the
median seconds per count, with rank 0's split between listing its share of the users
and everything else (gathering and writing). Every process builds the same synthetic
run from the seed, as every process of a real export opens the same run folder.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cinerec.config import Config  # noqa: E402
from cinerec.data.dataset import Catalog, Dataset, IdMap, Interactions  # noqa: E402
from cinerec.models.base import Recommender  # noqa: E402
from cinerec.runs import Run, finish_run, save_dataset, save_model  # noqa: E402
from cinerec.serving.store import export_store  # noqa: E402
from machine import at_least, child_failed, machine  # noqa: E402

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
    # Marked as loaded on its own training data, so the run hands it out and never looks
    # for a saved copy on disk (there is none).
    return Run(root, meta, ds, _models={model.name: model}, _loaded_on={model.name: model.train_})


def time_export(run: Run | Path, db: Path, k: int, model: str | None = None) -> dict:
    start = time.perf_counter()
    info = export_store(run, db, k=k, model=model, progress=False)
    took = time.perf_counter() - start
    return {"model": info.model, "users": info.n_users, "movies": info.n_items, "k": info.k,
            "rows": info.n_users * info.k, "seconds": round(took, 2),
            "users_per_s": round(info.n_users / took, 1), "db_mb": round(db.stat().st_size / 2**20, 1)}


def sharded_worker(args: argparse.Namespace) -> None:
    """One process of ``--sharded``: export the synthetic case; rank 0 writes the timing to ``--out``."""
    from cinerec.serving.lists import Lists

    rng = np.random.default_rng(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        run = synthetic_run(Path(tmp) / "run", rng, args.users, args.movies, 64, 20)
        listing = [0.0]
        real = Lists.for_users

        def timed(self, users, k):
            t = time.perf_counter()
            out = real(self, users, k)
            listing[0] += time.perf_counter() - t
            return out

        Lists.for_users = timed
        db = Path(args.db)
        start = time.perf_counter()
        info = export_store(run, db, k=args.k, progress=False)
        took = time.perf_counter() - start
        if os.environ.get("RANK", "0") == "0":
            Path(args.out).write_text(json.dumps({"seconds": took, "rank0_listing_seconds": listing[0],
                                                  "rows": info.n_users * info.k}))


def sharded(args: argparse.Namespace) -> dict:
    torchrun = Path(sys.executable).with_name("torchrun")
    out: dict = {"users": args.users, "movies": args.movies, "factors": 64, "seen_per_user": 20, "k": args.k,
                 "chunk_size": RandomFactors.chunk_size, "repeats": args.repeats, "by_processes": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sharded:
            runs = []
            for rep in range(args.repeats):
                result = Path(tmp) / f"r{n}-{rep}.json"
                cmd = [str(torchrun), "--standalone", f"--nproc-per-node={n}", "--", __file__, "--worker",
                       "--users", str(args.users), "--movies", str(args.movies), "-k", str(args.k),
                       "--seed", str(args.seed), "--db", str(Path(tmp) / f"s{n}.sqlite"), "--out", str(result)]
                done = subprocess.run(cmd, env={**os.environ, "OMP_NUM_THREADS": str(args.threads)})
                if done.returncode != 0:  # its own error is on stderr above
                    child_failed(f"torchrun with {n} process(es)", done.returncode)
                runs.append(json.loads(result.read_text()))
            secs = [r["seconds"] for r in runs]
            med = statistics.median(secs)
            out["by_processes"][n] = {
                "seconds_median": round(med, 2), "seconds": [round(x, 2) for x in secs],
                "rank0_listing_seconds_median": round(statistics.median(r["rank0_listing_seconds"] for r in runs), 2),
                "users_per_s": round(args.users / med), "rows": runs[0]["rows"],
                "command": " ".join(["torchrun", "--standalone", f"--nproc-per-node={n}", "--",
                                     "benchmarks/bench_export.py", "--worker", "..."]),
            }
    first = out["by_processes"][args.sharded[0]]["seconds_median"]
    for r in out["by_processes"].values():
        r["speedup"] = round(first / r["seconds_median"], 2)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ml100k", type=Path, help="the ml-100k folder")
    ap.add_argument("-k", type=at_least(1), default=50)
    ap.add_argument("--skip-large", action="store_true")
    ap.add_argument("--seed", type=at_least(0), default=0)
    ap.add_argument("--users", type=at_least(1), default=ML25M_USERS, help="size of the synthetic case (default: ml-25m's)")
    ap.add_argument("--movies", type=at_least(1), default=ML25M_ITEMS)
    ap.add_argument("--sharded", type=at_least(1), nargs="+", metavar="N",
                    help="time the synthetic case's export under torchrun with each of these process counts")
    ap.add_argument("--repeats", type=at_least(1), default=3, help="exports per process count (--sharded)")
    ap.add_argument("--threads", type=at_least(1), default=1, help="OMP_NUM_THREADS of each process (--sharded)")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--db", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if not args.worker and not args.sharded and args.skip_large and not args.ml100k:
        ap.error("--skip-large without --ml100k measures nothing: give --ml100k, or leave the large case in")
    if args.worker:
        sharded_worker(args)
        return 0
    if args.sharded:
        result = {"machine": machine(load_average=os.getloadavg()), "sharded": sharded(args)}
        json.dump(result, sys.stdout, indent=2)
        print()
        return 0
    out: dict = {"machine": machine(), "k": args.k}
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
            # Named by the size run: the default is ml-25m's (the key docs/benchmarks.md quotes).
            default = (args.users, args.movies) == (ML25M_USERS, ML25M_ITEMS)
            name = "synthetic-ml-25m" if default else f"synthetic-{args.users}x{args.movies}"
            out[name] = {**time_export(run, tmp / "large.sqlite", args.k),
                                       "factors": 64, "seen_per_user": 20, "build_seconds": round(build, 1)}
    json.dump(out, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    from cinerec.cli import script_main

    script_main(main)
