"""Fit time and protocol figures of ALS, two-tower, AutoRec and Mult-VAE on MovieLens-100K.

Every model runs with its defaults under each protocol as ``cinerec evaluate`` sets it
up (the protocol's settings rule, docs/protocols.md: ALS's recency weighting is off
under ``random-full``), for several seeds; the JSON gives mean and spread (sample
standard deviation) per figure and the settings each protocol used. The two leave-latest-out protocols share one
split, so a model is fitted once for both.

Figures:
    loo-sampled hr@10 / ndcg@10, loo-full hr@10, random-full recall@10 / cat_acc@10
    (catalogue ranked without excluding seen movies), and for AutoRec the stacked-
    autoencoder study protocol: the most active users x the most rated movies
    (``--study-users`` x ``--study-items``), a seeded random 80/20 split, RMSE.

Usage::

    python benchmarks/bench_models.py --data ml-100k --seeds 0 1 2 > out.json
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cinerec.data import load
from cinerec.data.split import random_split
from cinerec.data.transforms import top_items, top_users
from cinerec.evaluation import metrics as M
from cinerec.evaluation.protocols import get_protocol
from cinerec.models import create

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/machine.py, however this file is run

from machine import at_least, machine  # noqa: E402

MODELS = ("als", "two-tower", "autorec", "multivae")
FIGURES = {
    "loo-sampled": ("hr@10", "ndcg@10"),
    "loo-full": ("hr@10",),
    "random-full": ("recall@10", "cat_acc@10"),
}


def _settings(name: str, seed: int, threads: int) -> dict[str, Any]:
    extra: dict[str, Any] = {"seed": seed}
    if "threads" in create(name).config.to_dict():
        extra.update(threads=threads, progress=False)
    return extra


def _model(name: str, dataset: Any, seed: int, threads: int) -> Any:
    """The model with its plain defaults, for the study protocol (no protocol of cinerec's)."""
    model = create(name, create(name).config.replace(**_settings(name, seed, threads)))
    if model.uses_features:
        model.set_features(dataset)
    return model


def _spread(values: list[float]) -> dict[str, float]:
    a = np.asarray(values, dtype=np.float64)
    return {"mean": float(a.mean()), "std": float(a.std(ddof=1)) if len(a) > 1 else 0.0, "n": len(a)}


def study_rmse(dataset: Any, name: str, seed: int, n_users: int, n_items: int, threads: int) -> tuple[float, float]:
    """(RMSE, fit seconds) under the stacked-autoencoder study protocol."""
    sub = top_items(top_users(dataset, n_users), n_items)
    split = random_split(sub.interactions, test=0.2, seed=seed)
    model = _model(name, sub, seed, threads)
    t = time.perf_counter()
    model.fit(split.train)
    fit_s = time.perf_counter() - t
    pred = model.predict(split.test.users, split.test.items)
    return M.rmse(pred, split.test.ratings), fit_s


def run(args: argparse.Namespace) -> dict[str, Any]:
    torch.set_num_threads(args.threads)
    dataset = load(args.data)
    out: dict[str, Any] = {
        "benchmark": "bench_models", "data": str(args.data), "seeds": list(args.seeds),
        "machine": machine(torch_threads=torch.get_num_threads(), platform=platform.platform()),
        "models": {},
    }
    for name in args.models:
        figures: dict[str, list[float]] = {}
        fit_seconds: dict[str, list[float]] = {}
        configs: dict[str, Any] = {}
        for seed in args.seeds:
            loo_s = get_protocol("loo-sampled").prepare(dataset, seed=seed)
            loo_f = get_protocol("loo-full").prepare(dataset, seed=seed)
            rnd = get_protocol("random-full").prepare(dataset, seed=seed)
            # Each model as `cinerec evaluate` sets it up under the protocol (its settings rule,
            # docs/protocols.md), so that the figures are the command line's.
            model = loo_s.create(name, _settings(name, seed, args.threads))
            configs["loo"] = model.config.to_dict()
            r1 = loo_s.evaluate(model)
            r2 = loo_f.evaluate(model, fit=False)  # the same leave-latest-out training data
            fit_seconds.setdefault("loo", []).append(r1.seconds_fit)
            model = rnd.create(name, _settings(name, seed, args.threads))
            configs["random-full"] = model.config.to_dict()
            r3 = rnd.evaluate(model)
            fit_seconds.setdefault("random-full", []).append(r3.seconds_fit)
            for r in (r1, r2, r3):
                for key in FIGURES[r.protocol]:
                    figures.setdefault(f"{r.protocol}/{key}", []).append(r.metrics[key])
            if name == "autorec":
                rmse, fit_s = study_rmse(dataset, name, seed, args.study_users, args.study_items, args.threads)
                figures.setdefault(f"study-top{args.study_users}x{args.study_items}-random80/rmse", []).append(rmse)
                fit_seconds.setdefault("study", []).append(fit_s)
            print(f"{name} seed {seed}: " + ", ".join(f"{k} {v[-1]:.4f}" for k, v in figures.items()),
                  file=sys.stderr, flush=True)
        out["models"][name] = {
            "config": configs,  # (the last seed's, by protocol: they differ in their seed alone)
            "fit_seconds": {k: _spread(v) for k, v in fit_seconds.items()},
            "figures": {k: _spread(v) for k, v in figures.items()},
        }
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="ml-100k", help="release name or folder (default: %(default)s)")
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    p.add_argument("--seeds", nargs="+", type=at_least(0), default=[0, 1, 2])
    p.add_argument("--threads", type=at_least(1), default=1, help="torch CPU threads (default: %(default)s)")
    p.add_argument("--study-users", type=at_least(1), default=1000)
    p.add_argument("--study-items", type=at_least(1), default=1000)
    args = p.parse_args(argv)
    print(json.dumps(run(args), indent=2))


if __name__ == "__main__":
    from cinerec.cli import script_main

    script_main(main)
