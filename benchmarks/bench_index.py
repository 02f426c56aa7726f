"""Approximate-neighbour indexes against exact search, with a fitted ALS model.

Usage: ``python benchmarks/bench_index.py [--case ml-100k|ml-25m-study|ml-25m-catalogue] [--repeats 3]``

Cases:

- ``ml-100k``: real MovieLens-100K (``../shared/data/ml-100k`` or ``$CINEREC_ML100K``),
  every rating as training data.
- ``ml-25m-study``: the NCF study's shape (:func:`study_interactions`: 1.87M ratings of
  5,014 movies from a synthetic ml-25m release, ``cinerec data synthesize --like
  ml-25m``, filtered to movies from 2010 on; built once under ``benchmarks/out/``).

- ``ml-25m-catalogue``: ml-25m's whole size (162,541 users x 59,047 movies), the
  heavy-tailed seen matrix of ``bench_sampling.py`` (25,000,095 entries) and random
  64-d factors with a few dominant directions instead of a fitted model (fitting ALS at
  this size takes longer than the rest of the benchmark).

For the first two cases ALS is fitted once with its defaults (64 factors), then answers through
each index kind with the default index settings (:meth:`with_index`, no refit). For
each kind it reports:

- ``build_s``: building the index from the model's vectors;
- ``recall@10``: share of the exact top-10 unseen movies found, over every user;
- ``query_ms``: median latency of ``recommend([user], 10)`` over 300 random users;
- ``all_users_s``: ``recommend(every user, 10)``.

Times are medians of ``--repeats`` runs. Prints one JSON object per case.

``--models mf gmf ...`` measures recall only, on real ml-100k, for other models and
longer lists: each model fitted once exact and once per index setting (seed 0, its
defaults otherwise), recall@k for each of ``--ks`` (default 10 50 100) and, for HNSW,
each of ``--ef`` (default 128). One JSON line per (model, kind, ef).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
#: Where data the benchmarks make is kept between runs (releases written once, caches):
#: ``benchmarks/out/`` (ignored by git), or the folder ``CINEREC_BENCH_OUT`` names.
OUT = Path(os.environ.get("CINEREC_BENCH_OUT") or HERE / "out")
ML100K = Path(os.environ.get("CINEREC_ML100K", HERE.parent.parent / "shared" / "data" / "ml-100k"))
STUDY_FOLDER = OUT / "synthetic-ml-25m-scale1-seed0"

sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE))

from dataclasses import dataclass  # noqa: E402
from typing import Literal  # noqa: E402

from cinerec.config import Config  # noqa: E402
from cinerec.data.dataset import Interactions  # noqa: E402
from cinerec.models import create  # noqa: E402
from cinerec.models.index import IndexedRecommender, VectorIndex  # noqa: E402
from machine import at_least, machine  # noqa: E402


@dataclass(frozen=True)
class FactorsConfig(Config):
    index: Literal["exact", "ivf", "hnsw"] = "exact"
    index_nlist: int = 0
    index_nprobe: int = 0
    index_hnsw_m: int = 32
    index_ef_search: int = 128


class Factors(IndexedRecommender):
    """Dot products of fixed user and movie vectors: any factor model's scoring cost."""

    name = "bench-factors"
    Config = FactorsConfig
    has_inner_product = True

    def __init__(self, users: np.ndarray, items: np.ndarray, train: Interactions) -> None:
        super().__init__()
        self.U, self.V = users, items
        self._remember(train)

    def fit(self, train, valid=None):
        return self

    def _score_rows(self, users):
        return self.U[users] @ self.V.T

    def _score_pairs(self, users, items):
        return np.einsum("nd,nd->n", self.U[users], self.V[items])

    def query_vectors(self, users):
        return self.U[users]

    def key_vectors(self):
        return self.V

    def item_vectors(self):
        return self.V


def catalogue_case() -> tuple[Interactions, IndexedRecommender]:
    from bench_sampling import synthetic_seen

    seen = synthetic_seen(162_541, 59_047, 25_000_095, seed=0)
    coo = seen.tocoo()
    train = Interactions(coo.row, coo.col, coo.data, np.zeros(seen.nnz, np.int64), *seen.shape)
    rng = np.random.default_rng(0)
    d = 64
    scale = (1.0 / np.arange(1, d + 1) ** 0.5).astype(np.float32)
    users = rng.standard_normal((seen.shape[0], d), dtype=np.float32) * scale
    items = rng.standard_normal((seen.shape[1], d), dtype=np.float32) * scale
    return train, Factors(users, items, train)


#: The NCF study's data after its filter (movies from 2010 on): ratings, movies.
STUDY_RATINGS, STUDY_MOVIES = 1_870_000, 5_014


def study_interactions() -> Interactions:
    """Interactions of the NCF study's shape, built once and kept under ``benchmarks/out/``.

    The synthetic ml-25m release (seed 0) filtered to movies from 2010 on, as the study
    does. The synthetic release's years lean later than the real one's, so that filter
    alone leaves far more (14.8M ratings of 35,267 movies); to reach the study's shape
    the 5,014 most rated of those movies are kept, then a seeded random 1.87M of their
    ratings, and users left with none are dropped.
    """
    cache = OUT / "ncf-study-shape.npz"
    if cache.exists():
        with np.load(cache) as z:
            return Interactions(z["users"], z["items"], z["ratings"], z["timestamps"],
                                int(z["n_users"]), int(z["n_items"]))
    from cinerec.data import load
    from cinerec.data.synthetic import write_release
    from cinerec.data.transforms import filter_years, top_items

    if not (STUDY_FOLDER / "ratings.csv").exists():
        write_release(STUDY_FOLDER, "ml-25m", 1.0, 0)
    ds = top_items(filter_years(load(STUDY_FOLDER, release="ml-25m"), min_year=2010), STUDY_MOVIES)
    rng = np.random.default_rng(0)
    keep = np.zeros(len(ds.interactions), dtype=bool)
    keep[rng.choice(len(keep), size=min(STUDY_RATINGS, len(keep)), replace=False)] = True
    x = ds.subset(keep).interactions
    np.savez(cache, users=x.users, items=x.items, ratings=x.ratings, timestamps=x.timestamps,
             n_users=x.n_users, n_items=x.n_items)
    return x


def interactions(case: str) -> Interactions:
    if case == "ml-100k":
        from cinerec.data import load

        return load(ML100K).interactions
    return study_interactions()


def median_time(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), out


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    hits = (found[:, :, None] == truth[:, None, :]) & (truth[:, None, :] >= 0)
    return float(hits.any(axis=2).sum() / max((truth >= 0).sum(), 1))


def run_case(case: str, repeats: int, kinds: list[str]) -> dict:
    t0 = time.perf_counter()
    if case == "ml-25m-catalogue":
        train, exact = catalogue_case()
        label = "random 64-d factors"
    else:
        train = interactions(case)
        t0 = time.perf_counter()
        exact = create("als").fit(train)
        label = "als (defaults: 64 factors)"
    fit_s = time.perf_counter() - t0
    users = np.arange(train.n_users)
    rng = np.random.default_rng(0)
    sample = rng.choice(train.n_users, size=min(300, train.n_users), replace=False)
    truth, _ = exact.recommend(users, 10)
    out: dict = {"case": case, "users": train.n_users, "movies": train.n_items, "ratings": len(train),
                 "model": label, "fit_s": round(fit_s, 2), "kinds": {}}
    for kind in kinds:
        model = exact.with_index(kind)
        row: dict = {}
        if kind != "exact":
            c = model.config
            build_s, _ = median_time(lambda k=kind, m=model, c=c: VectorIndex(
                k, m.key_vectors(), nlist=c.index_nlist, nprobe=c.index_nprobe, hnsw_m=c.index_hnsw_m,
                ef_search=c.index_ef_search), repeats)
            row["build_s"] = round(build_s, 3)
            model.ann_index()  # built once here, outside the query timings
        lat = []
        for u in sample:
            t = time.perf_counter()
            model.recommend([int(u)], 10)
            lat.append(time.perf_counter() - t)
        row["query_ms"] = round(1000 * float(np.median(lat)), 3)
        all_s, (found, _) = median_time(lambda m=model: m.recommend(users, 10), repeats)
        row["all_users_s"] = round(all_s, 2)
        row["recall@10"] = round(recall(found, truth), 4)
        out["kinds"][kind] = row
        print(json.dumps({kind: row}), file=sys.stderr, flush=True)
    return out


def model_recall(models: list[str], ks: list[int], efs: list[int]) -> None:
    """Recall@k of each model's index path against its exact path on real ml-100k."""
    from cinerec.data import load

    x = load(ML100K).interactions
    users = np.arange(x.n_users)
    where = machine()
    for name in models:
        exact = create(name, {"seed": 0}).fit(x)
        truth = {k: exact.recommend(users, k)[0] for k in ks}
        for kind, ef in [("ivf", None)] + [("hnsw", e) for e in efs]:
            settings = {"seed": 0, "index": kind, **({"index_ef_search": ef} if ef else {})}
            model = create(name, settings).fit(x)
            row = {"model": name, "kind": kind, "ef_search": ef, "machine": where}
            for k in ks:
                row[f"recall@{k}"] = round(recall(model.recommend(users, k)[0], truth[k]), 4)
            print(json.dumps(row), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", choices=["ml-100k", "ml-25m-study", "ml-25m-catalogue"], action="append")
    ap.add_argument("--repeats", type=at_least(1), default=3)
    ap.add_argument("--kinds", nargs="+", default=["exact", "ivf", "hnsw"])
    ap.add_argument("--models", nargs="+", help="recall only, on ml-100k, for these models")
    ap.add_argument("--ks", nargs="+", type=at_least(1), default=[10, 50, 100])
    ap.add_argument("--ef", nargs="+", type=at_least(1), default=[128], help="hnsw ef_search values (--models)")
    args = ap.parse_args()
    if args.repeats < 1:
        ap.error("--repeats: must be at least 1")
    unknown = sorted(set(args.kinds) - {"exact", "ivf", "hnsw"})
    if unknown:
        ap.error(f"--kinds: unknown index kind {unknown[0]!r} (exact, ivf, hnsw)")
    if args.models:
        model_recall(args.models, args.ks, args.ef)
        return
    for case in args.case or ["ml-100k", "ml-25m-study"]:
        result = run_case(case, args.repeats, args.kinds)
        result["machine"] = machine()
        print(json.dumps(result))


if __name__ == "__main__":
    from cinerec.cli import script_main

    script_main(main)
