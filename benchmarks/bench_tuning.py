"""What the cheaper tuning saves: ALS warm starts, EASE's λ from one eigendecomposition,
and neural trials pruned per epoch.

Runs :func:`cinerec.tuning.tune` twice on the same carve-out, with and without the
saving, and prints one JSON object: the search's seconds, the best validation figure,
the chosen settings, and how many trials were warm-started or pruned (and ALS sweeps).

Usage:
    python benchmarks/bench_tuning.py als [ML100K_FOLDER] [--trials 30] [--check]
    python benchmarks/bench_tuning.py ease [ML100K_FOLDER] [--trials 30]
    python benchmarks/bench_tuning.py gmf [ML100K_FOLDER] [--trials 20] [--epochs 8]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/machine.py, however this file is run

from machine import at_least, machine  # noqa: E402

DEFAULT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ml-100k"


def summary(result, **extra) -> dict:
    epochs = getattr(result.model.config, "epochs", 0)
    sweeps = sum(t.get("epochs", epochs) for t in result.trials)
    return {"seconds": round(result.seconds, 2), "best": result.value, "default": result.default_value,
            "settings": result.settings, "warm_trials": sum(bool(t.get("warm_start")) for t in result.trials),
            "pruned_trials": result.n_pruned, "epochs_or_sweeps": sweeps, **extra}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", choices=["als", "ease", "gmf", "neumf", "mf"])
    ap.add_argument("data", nargs="?", default=str(DEFAULT))
    ap.add_argument("--trials", type=at_least(1), default=30)
    ap.add_argument("--epochs", type=at_least(1), default=8, help="epochs of each neural trial")
    ap.add_argument("--seed", type=at_least(0), default=0)
    ap.add_argument("--check", action="store_true", help="als: refit each warm trial's settings cold and compare")
    args = ap.parse_args()

    import optuna

    from cinerec.data import load
    from cinerec.evaluation.protocols import get_protocol
    from cinerec.tuning import tune

    ds = load(args.data)
    protocol = get_protocol("loo-sampled")
    out: dict = {"data": ds.name, "model": args.model, "trials": args.trials, "seed": args.seed,
                 "machine": machine()}
    # One untimed trial first: the first search in a process pays for imports and first
    # calls, which the side measured first would otherwise carry alone.
    warm_up = {"epochs": 1, "progress": False, "device": "cpu", "threads": 1} if args.model in ("gmf", "neumf", "mf") else {}
    tune(args.model, ds, protocol, trials=1, seed=args.seed, base=warm_up or None)
    if args.model == "als":
        for warm in (False, True):
            r = tune("als", ds, protocol, trials=args.trials, seed=args.seed, warm_start=warm)
            out["warm" if warm else "cold"] = summary(r)
        if args.check:
            # Each warm trial's settings fitted cold: does the warm start change the figure?
            from cinerec.models import create
            from cinerec.tuning import carve

            valid = carve(protocol, ds, protocol.prepare(ds, seed=args.seed).train, args.seed)
            diffs = [t["hr@10"] - valid.evaluate(create("als", {**t["settings"], "seed": args.seed})).metrics["hr@10"]
                     for t in r.trials if t.get("warm_start")]
            out["warm"]["warm_minus_cold_refit_hr@10"] = {
                "trials": len(diffs), "mean": sum(diffs) / max(len(diffs), 1),
                "mean_abs": sum(map(abs, diffs)) / max(len(diffs), 1), "min": min(diffs, default=0.0),
                "max": max(diffs, default=0.0)}
    elif args.model == "ease":
        from cinerec.models.baselines import EASE

        shortcut = EASE.tuning_fits
        plain = classmethod(lambda cls, *args: None)  # no shared computation: every trial fits as usual
        for label in ("plain_fits", "one_eigendecomposition"):
            EASE.tuning_fits = shortcut if label == "one_eigendecomposition" else plain  # type: ignore[method-assign,assignment]
            try:
                r = tune("ease", ds, protocol, trials=args.trials, seed=args.seed)
            finally:
                EASE.tuning_fits = shortcut  # type: ignore[method-assign]
            out[label] = summary(r)
            out[label]["figures"] = [t["hr@10"] for t in r.trials]
        out["same_figures"] = out["plain_fits"]["figures"] == out["one_eigendecomposition"]["figures"]
        out["largest_figure_difference"] = max(abs(a - b) for a, b in zip(
            out["plain_fits"]["figures"], out["one_eigendecomposition"]["figures"]))
    else:
        base = {"epochs": args.epochs, "progress": False, "device": "cpu", "threads": 1}
        for label, pruner in (("unpruned", optuna.pruners.NopPruner()), ("pruned", None)):
            r = tune(args.model, ds, protocol, trials=args.trials, seed=args.seed, base=base, pruner=pruner)
            out[label] = summary(r)
    out["machine"]["load_after"] = os.getloadavg()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    from cinerec.cli import script_main

    script_main(main)
