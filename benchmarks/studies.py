"""Each reference study's protocol on real ml-100k, beside the study's figure and our target.

Prints one JSON object (and, with ``--markdown``, the tables docs/results.md is built
from). Every row is a mean ± standard deviation over seeds; the seed drives the split,
the sampled candidates and the model's initialisation.

Hyper-parameters are never chosen on test. For every model trained by the neural loop,
the number of epochs is chosen by early stopping on a validation carve-out of the
*training* data (the protocol applied again to the training split, its held-out part
used as validation), once per study with seed 0; the final runs then train for that
many epochs on the whole training split. Other models run with their defaults, which
their authors tuned on validation carve-outs.

Usage::

    python benchmarks/studies.py --data PATH/TO/ml-100k            # 3 seeds
    python benchmarks/studies.py --data PATH/TO/ml-100k --quick    # 1 seed
    python benchmarks/studies.py --data ... --study ncf --study ratings-fold
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cinerec.data import load
from cinerec.evaluation.protocols import LOWER_IS_BETTER, get_protocol
from cinerec.models import MODELS, create
from cinerec.models.neural import NeuralRecommender

# Settings shared by every neural model in these runs: one thread (the machine is
# shared; small operations lose more to thread hand-offs than they gain), no bar.
NEURAL = {"progress": False, "device": "cpu", "threads": 1}
# Model settings fixed before any run (architecture, batch, lr); epochs are chosen on
# validation. NeuMF/GMF/MLP: 16-d embeddings, MLP 64→32, 4 negatives; these sizes, batch
# and lr were compared on the seed-0 validation carve-out (HR@10 0.698 vs 0.697 for 8-d).
SETTINGS: dict[str, dict[str, Any]] = {
    # NeuMF's lr (0.002) and recency weighting are its defaults, chosen on the same carve-out.
    "neumf": {"factors": 16, "mlp_factors": 16, "layers": [64, 32], "batch_size": 8192, "epochs": 30,
              "patience": 3},
    "gmf": {"factors": 16, "batch_size": 8192, "lr": 0.005, "epochs": 30, "patience": 3},
    "mlp": {"mlp_factors": 16, "layers": [64, 32], "batch_size": 8192, "lr": 0.005, "epochs": 30, "patience": 3},
    "biasedmf": {"factors": 64, "regularization": 0.1, "lr": 0.005, "batch_size": 1024, "epochs": 60, "patience": 3},
    "mlp-rating": {"epochs": 40, "patience": 3},
    # The blend's autorec member trains like the other neural models here (one thread,
    # no bar); its epochs are autorec's default, or early stopping where valid is given.
    "blend": {"settings": {"autorec": {**NEURAL}}},
}


@dataclass
class Study:
    name: str
    protocol: str
    metrics: list[str]
    models: list[str]
    figure: str
    target: str
    options: dict[str, Any] = field(default_factory=dict)
    also: str | None = None  # a second protocol evaluated on the same fitted models (same split)


STUDIES = [
    Study("ncf", "loo-sampled", ["hr@10", "ndcg@10"],
          ["neumf", "gmf", "mlp", "popularity", "ease", "als", "multivae"],
          "the NCF study's NeuMF on ml-100k (the paper's own figures are on ml-1m, about 0.73 HR@10)",
          "neumf >= 0.67 HR@10; best >= 0.69", also="loo-full"),
    Study("ratings-fold", "ratings-fold", ["rmse", "mae"],
          ["blend", "bpmf", "autorec", "biasedmf", "mlp-rating", "baseline"],
          "the rating study's u1 RMSE, restated by the target",
          "best <= 0.905 RMSE", {"fold": "u1"}),
    Study("embedding-mlp", "ratings-random", ["rmse", "mse", "mae"],
          ["mlp-rating", "blend", "bpmf", "autorec", "biasedmf", "baseline"],
          "embedding MLP MSE 0.874 on a random split", "mlp-rating MSE <= 0.874; best <= 0.82"),
    Study("two-tower", "random-full", ["recall@10", "ndcg@10", "hr@10"], ["two-tower", "ease", "popularity"],
          "two-tower retrieval on a random split", "reported, no target"),
    Study("autoencoders", "loo-full", ["hr@10", "ndcg@10", "recall@10"], ["multivae", "autorec", "ease"],
          "Mult-VAE / AutoRec full ranking", "reported, no target"),
]


def config_for(name: str, seed: int, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    cls = MODELS[name]
    cfg: dict[str, Any] = {}
    if issubclass(cls, NeuralRecommender):
        cfg.update(NEURAL)
    cfg.update(SETTINGS.get(name, {}))
    if "seed" in {f for f in cls.Config.__dataclass_fields__}:
        cfg["seed"] = seed
    cfg.update(extra or {})
    return cfg


def choose_epochs(name: str, dataset: Any, protocol: str, options: dict[str, Any]) -> int | None:
    """Epochs that early stopping picks on a validation carve-out of seed 0's training split."""
    if not issubclass(MODELS[name], NeuralRecommender):
        return None
    outer = get_protocol(protocol, **options).prepare(dataset, seed=0)
    inner_ds = dataset.with_interactions(outer.train)
    if protocol in ("loo-sampled", "loo-full"):
        inner = get_protocol("loo-sampled", valid=False).prepare(inner_ds, seed=0)
    else:  # a random 15% of the training ratings is the validation set
        inner = get_protocol("ratings-random" if protocol.startswith("ratings") else "random-full").prepare(inner_ds, seed=0)
    cfg = config_for(name, 0)
    cfg.setdefault("patience", 3)
    if cfg["patience"] == 0:
        cfg["patience"] = 3
    model = create(name, cfg)
    # The inner "test" part is the validation set: the model early-stops on it.
    model.fit(inner.train, inner.test)
    hist = model.history
    if not hist or "valid" not in hist[0]:
        return None
    vals = [h["valid"] for h in hist]
    best = int(np.argmin(vals) if hist[0]["metric"] == "rmse" else np.argmax(vals))
    return best + 1


def run_study(study: Study, dataset: Any, seeds: list[int], log) -> dict[str, Any]:
    out: dict[str, Any] = {"study": study.name, "protocol": study.protocol, "options": study.options,
                           "figure": study.figure, "target": study.target, "seeds": seeds, "rows": []}
    models = [m for m in study.models if m in MODELS]
    out["skipped"] = [m for m in study.models if m not in MODELS]
    if study.protocol == "ratings-fold":
        opts = {**study.options, "source": dataset.info.get("source")}
    else:
        opts = dict(study.options)
    for name in models:
        t0 = time.perf_counter()
        epochs = choose_epochs(name, dataset, study.protocol, opts)
        per_seed: dict[str, list[float]] = {}
        per_seed_also: dict[str, list[float]] = {}
        fit_s = []
        for seed in seeds:
            extra = {"epochs": epochs, "patience": 0} if epochs else {}
            model = create(name, config_for(name, seed, extra))
            prepared = get_protocol(study.protocol, **opts).prepare(dataset, seed=seed)
            res = prepared.evaluate(model)
            fit_s.append(res.seconds_fit)
            for k, v in res.metrics.items():
                per_seed.setdefault(k, []).append(float(v))
            if "rmse" in res.metrics:  # the embedding-MLP study reports mean squared error
                per_seed.setdefault("mse", []).append(float(res.metrics["rmse"]) ** 2)
            if study.also:
                other = get_protocol(study.also).prepare(dataset, seed=seed)
                if other.train.users.shape == prepared.train.users.shape and \
                        np.array_equal(other.train.items, prepared.train.items):
                    res2 = other.evaluate(model, fit=False)  # same training split: no refit
                else:
                    res2 = other.evaluate(create(name, config_for(name, seed, extra)))
                for k, v in res2.metrics.items():
                    per_seed_also.setdefault(k, []).append(float(v))
            log(f"{study.name} {name} seed {seed}: " + ", ".join(
                f"{k} {per_seed[k][-1]:.4f}" for k in study.metrics if k in per_seed))
        row = {"model": name, "epochs": epochs, "seconds_fit_mean": round(float(np.mean(fit_s)), 1),
               "seconds_total": round(time.perf_counter() - t0, 1),
               "metrics": {k: _summary(v) for k, v in per_seed.items() if k in study.metrics or k.startswith(("hr@", "ndcg@"))}}
        if per_seed_also:
            row[study.also] = {k: _summary(v) for k, v in per_seed_also.items()
                               if k.startswith(("hr@", "ndcg@", "recall@", "mrr@", "coverage"))}
        out["rows"].append(row)
    return out


def _summary(values: list[float]) -> dict[str, Any]:
    return {"mean": round(float(np.mean(values)), 4), "std": round(float(np.std(values)), 4),
            "values": [round(v, 4) for v in values]}


def markdown(results: list[dict[str, Any]]) -> str:
    lines = []
    for r in results:
        main_metric = next(iter(STUDY_BY_NAME[r["study"]].metrics))
        lines += [f"### {r['study']} ({r['protocol']}{', ' + str(r['options']) if r['options'] else ''})", "",
                  f"Study figure: {r['figure']}. Target: {r['target']}.", ""]
        metrics = STUDY_BY_NAME[r["study"]].metrics
        also = STUDY_BY_NAME[r["study"]].also
        head = metrics + ([f"{also} hr@10", f"{also} ndcg@10"] if also else [])
        lines += ["| model | epochs | " + " | ".join(head) + " | fit s |", "|---" * (len(head) + 3) + "|"]
        rows = sorted(r["rows"], key=lambda x: x["metrics"].get(main_metric, {}).get("mean", 0),
                      reverse=main_metric not in LOWER_IS_BETTER)
        for row in rows:
            cells = [_cell(row["metrics"].get(m)) for m in metrics]
            if also:
                cells += [_cell(row.get(also, {}).get("hr@10")), _cell(row.get(also, {}).get("ndcg@10"))]
            lines.append(f"| {row['model']} | {row['epochs'] or '-'} | " + " | ".join(cells) + f" | {row['seconds_fit_mean']} |")
        if r["skipped"]:
            lines.append(f"\nNot registered, skipped: {', '.join(r['skipped'])}.")
        lines.append("")
    return "\n".join(lines)


def _cell(s: dict[str, Any] | None) -> str:
    return "-" if s is None else f"{s['mean']:.4f} ± {s['std']:.4f}"


STUDY_BY_NAME = {s.name: s for s in STUDIES}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=os.environ.get("CINEREC_ML100K"), help="the ml-100k folder")
    p.add_argument("--quick", action="store_true", help="one seed instead of three")
    p.add_argument("--study", action="append", choices=[s.name for s in STUDIES], help="default: all")
    p.add_argument("--markdown", action="store_true", help="also print the tables to stderr")
    args = p.parse_args(argv)
    if not args.data:
        p.error("--data is required")
    dataset = load(args.data)
    seeds = [0] if args.quick else [0, 1, 2]
    chosen = [s for s in STUDIES if not args.study or s.name in args.study]
    t0 = time.perf_counter()

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - t0:6.0f}s] {msg}", file=sys.stderr, flush=True)

    results = [run_study(s, dataset, seeds, log) for s in chosen]
    out = {"benchmark": "studies", "data": str(args.data), "seeds": seeds, "seconds": round(time.perf_counter() - t0),
           "studies": results}
    print(json.dumps(out, indent=2))
    if args.markdown:
        print(markdown(results), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
