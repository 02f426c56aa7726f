"""Choose models' defaults for robustness across data, on validation carve-outs only.

For each model and each dataset, the tuner (:func:`cinerec.tuning.tune`, Optuna TPE,
the model's own ``search_space``) searches on the validation carve-out of that
dataset's ``loo-sampled`` training part: each user's latest training rating is held
out and ranked among 99 sampled unseen movies (HR@10); ``--protocol random-full`` scores
Recall@10 on random-full's own carve-outs instead, and ``--protocol ratings-fold`` or
``ratings-random`` the RMSE of predicted stars on a random tenth of the training
ratings (:func:`cinerec.tuning.carve`), for the rating models. No fold's own test split
is scored (under the rating protocols the ml-100k folds overlap: u2-u5's training parts
hold u1's test ratings; see docs/defaults.md). Then every candidate (the current defaults, and each dataset's best rounded to
two significant figures) is scored on every dataset's carve-out, and each score is
turned into a relative figure against that dataset's best (the best over its search and
the candidates): ``value / best`` for a figure to maximise, ``best / value`` for one to
minimise (RMSE), so 1 is the best either way and lower is worse. The candidate robust
default is the one with the highest mean relative score, where the real ml-100k folds
together weigh as much as the synthetic releases together (the synthetic ratings have
no structure beyond their generator's: user and movie factors, biases, popularity,
random timestamps); the worst case is printed beside it. It replaces the current
default only if its mean relative score is higher by more than ``--margin``: smaller
differences are within the noise of one validation split.

The margin is 0.01 for the ranking figures: the binomial standard error of HR@10 over
ml-100k's 943 users is about 0.015. It is 0.002 for RMSE (``MARGIN_MINIMISED``),
from two kinds of noise measured on the carve-out of ml-100k's u1 training part (8,000
validation ratings; docs/defaults.md): the standard error of the paired difference of
two settings' RMSE over those ratings (the standard deviation of the per-rating
difference of squared errors over the square root of their number, divided by the sum
of the two RMSEs) was 0.0005 to 0.0014 of the RMSE for settings 0.001 to 0.006 apart,
and the seed alone moved biasedmf's, mlp-rating's and AutoRec's RMSE by 0.0013 to
0.0035 of it over three seeds. The mean relative score averages over the datasets,
which shrinks both; 0.002 is about one to two standard errors of a difference of two
candidates' mean relative scores (an estimate that takes the datasets as independent).

The datasets:

* ``ml100k-u1`` .. ``ml100k-u5``: real ml-100k, the training part of each official
  fold; under the ranking protocols less every user's latest rating overall (the
  ``loo-*`` protocols' test rows), so not even a fit sees a rating those protocols test
  on. The rating protocols test on random ratings, so they keep the whole training part.
* ``ml1m-like``: ``cinerec data synthesize --like ml-1m`` (seed 0, full size).
* ``ml25m-like``: ``--like ml-25m --scale 0.02``, movies from 2010 on, 5-core
  (``cinerec.data.filters``): the filtered ml-25m shape of the NCF study.
* ``ml20m-like``: ``--like ml-20m --scale 0.02``, 5-core.

Usage::

    python benchmarks/defaults.py --ml100k PATH/TO/ml-100k --synthetic /tmp/defaults-data \\
        --out runs/defaults.json [--models als ease itemknn] [--datasets ...] [--trials 20] \\
        [--synthetic-trials 6] [--margin 0.01]
    python benchmarks/defaults.py --ml100k PATH/TO/ml-100k --synthetic /tmp/defaults-data \\
        --protocol ratings-fold --models baseline biasedmf --out runs/defaults-ratings.json
    python benchmarks/defaults.py --report runs/defaults.json   # the tables again

The synthetic releases are written under ``--synthetic`` when missing.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from cinerec.data.dataset import Dataset, Interactions
from cinerec.data.filters import Filters, apply_filters
from cinerec.data.movielens import load
from cinerec.evaluation.protocols import get_protocol
from cinerec.errors import CinerecError
from cinerec.io import atomic_path
from cinerec.models import MODELS, create
from cinerec.tuning import carve, objective, tune

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/machine.py, however this file is run

from machine import at_least, machine, one_line  # noqa: E402

#: The protocol whose carve-outs score the candidates unless ``--protocol`` names another.
PROTOCOL = "loo-sampled"
MODELS_DEFAULT = ("als", "ease", "itemknn")
#: ``--margin`` for a figure to maximise (HR@10, Recall@10) and for one to minimise (RMSE).
MARGIN_MAXIMISED = 0.01
MARGIN_MINIMISED = 0.002
# (synthesize --like, --scale, filters) of each synthetic dataset.
SYNTHETIC = {
    "ml1m-like": ("ml-1m", 1.0, Filters()),
    "ml25m-like": ("ml-25m", 0.02, Filters(min_year=2010, kcore=(5, 5))),
    "ml20m-like": ("ml-20m", 0.02, Filters(kcore=(5, 5))),
}
FOLDS = ("u1", "u2", "u3", "u4", "u5")


def latest_rows(x: Interactions) -> np.ndarray:
    """``(len(x),) bool``: each user's latest row, the one ``leave_last_out`` tests on."""
    order = np.lexsort((np.arange(len(x)), x.timestamps, x.users))
    last = np.zeros(len(x), dtype=bool)
    users = x.users[order]
    ends = np.r_[users[1:] != users[:-1], True]
    last[order[ends]] = True
    return last


def datasets(ml100k: str | None, synthetic: str | None, names: list[str] | None,
             protocol_name: str = PROTOCOL) -> dict[str, tuple[Dataset, Interactions]]:
    """Each dataset and the training part its carve-out is taken from."""
    out: dict[str, tuple[Dataset, Interactions]] = {}
    protocol = get_protocol(protocol_name)
    if ml100k:
        ds = load(ml100k)
        # The rating protocols test on random ratings: no latest row to keep out of reach.
        tested = np.zeros(len(ds.interactions), dtype=bool) if protocol.needs_ratings else latest_rows(ds.interactions)
        for fold in FOLDS:
            name = f"ml100k-{fold}"
            if names is None or name in names:
                out[name] = (ds, ds.interactions.select(~ds.folds[fold] & ~tested))
    if synthetic:
        from cinerec.data.synthetic import write_release

        for name, (like, scale, filters) in SYNTHETIC.items():
            if names is not None and name not in names:
                continue
            folder = Path(synthetic) / f"{like}-like-{scale}"
            if not (folder / "ratings.csv").exists() and not any(folder.glob("ratings.*")):
                write_release(folder, like, scale=scale, seed=0)
            ds, _ = apply_filters(load(folder), filters)
            out[name] = (ds, protocol.prepare(ds, seed=0).train)
    return out


def round2(value: Any) -> Any:
    """Floats to two significant figures (readable defaults); other values unchanged."""
    if isinstance(value, float) and value != 0 and math.isfinite(value):
        return float(f"{value:.2g}")
    return value


def key(settings: dict[str, Any]) -> str:
    return json.dumps(settings, sort_keys=True)


def relative(value: float, best: float, direction: str) -> float:
    """``value`` against its dataset's ``best``: 1 at the best, lower when worse, for a
    figure to maximise (``value / best``) and for one to minimise (``best / value``)."""
    return value / best if direction == "maximize" else best / value


def study(name: str, data: dict[str, tuple[Dataset, Interactions]], trials: int, synthetic_trials: int,
          seed: int, log: Callable[[str], None], extra: dict[str, dict[str, Any]] | None = None,
          protocol_name: str = PROTOCOL) -> dict[str, Any]:
    """Tune ``name`` on every dataset, cross-score the candidates, pick the robust one."""
    protocol = get_protocol(protocol_name)
    metric, direction = objective(protocol, create(name))
    cls = MODELS[name]
    space = list(cls.search_space)
    fields = cls.Config().to_dict()
    default = {k: fields[k] for k in space}
    per: dict[str, Any] = {}
    scores: dict[str, dict[str, float]] = {}  # dataset -> settings key -> figure
    carved: dict[str, Any] = {}
    for ds_name, (ds, train) in data.items():
        t0 = time.perf_counter()
        n = trials if ds_name.startswith("ml100k") else synthetic_trials
        tuned = tune(name, ds, protocol, train=train, trials=n, seed=seed)
        per[ds_name] = {"best": tuned.settings, "best_value": tuned.value, "default_value": tuned.default_value,
                        "n_trials": len(tuned.trials), "seconds": round(time.perf_counter() - t0, 1),
                        "ratings": len(train), "users": train.n_users, "movies": train.n_items}
        scores[ds_name] = {key(t["settings"]): t[metric] for t in tuned.trials}
        carved[ds_name] = carve(protocol, ds, train, seed)
        log(f"{name} {ds_name}: default {tuned.default_value:.4f} best {tuned.value:.4f} {tuned.settings} "
            f"({per[ds_name]['seconds']} s)")
    # One row per distinct setting, naming every dataset it was the (rounded) best on.
    distinct: dict[str, dict[str, Any]] = {key(default): default}
    best_on: dict[str, list[str]] = {key(default): []}
    for ds_name, row in per.items():
        settings = {k: round2(v) for k, v in row["best"].items()}
        distinct.setdefault(key(settings), settings)
        best_on.setdefault(key(settings), []).append(ds_name)
    candidates = {label: settings for label, settings in (extra or {}).items()}
    for k, settings in distinct.items():
        label = "current default" if k == key(default) else "candidate"
        candidates[f"{label} (best on {', '.join(best_on[k])})" if best_on[k] else label] = settings
    for ds_name in data:
        for settings in candidates.values():
            k = key(settings)
            if k not in scores[ds_name]:
                model = create(name, {"seed": seed, **settings} if "seed" in fields else settings)
                if model.uses_features:  # as the search gave them (two-tower: demographics, genres)
                    model.set_features(data[ds_name][0])
                scores[ds_name][k] = float(carved[ds_name].evaluate(model, label=name).metrics[metric])
    pick = max if direction == "maximize" else min
    best = {d: pick(s.values()) for d, s in scores.items()}
    real = [d for d in data if d.startswith("ml100k")]
    synth = [d for d in data if not d.startswith("ml100k")]
    table = []
    for label, settings in candidates.items():
        rel = {d: relative(scores[d][key(settings)], best[d], direction) for d in data}
        parts = [float(np.mean([rel[d] for d in group])) for group in (real, synth) if group]
        table.append({"candidate": label, "settings": settings,
                      "values": {d: scores[d][key(settings)] for d in data}, "relative": rel,
                      "real_mean": float(np.mean([rel[d] for d in real])) if real else None,
                      "synthetic_mean": float(np.mean([rel[d] for d in synth])) if synth else None,
                      "score": float(np.mean(parts)), "worst": min(rel.values())})
    out = {"model": name, "space": space, "datasets": per, "best_value": best, "candidates": table}
    # Recorded only where it is not the ranking figures' (the JSON of those stays as it was).
    return out if direction == "maximize" else {**out, "direction": direction}


def choose(result: dict[str, Any], margin: float) -> dict[str, Any]:
    """The candidate robust default: the highest mean relative score, unless it beats the
    default in force before by no more than ``margin`` (then that default stays: a
    difference that small is within the noise of one validation split). The default in
    force before is the candidate labelled ``old default`` where one was given (a study
    rerun after its defaults changed), else the current default."""
    table = result["candidates"]
    top = max(table, key=lambda r: (round(r["score"], 6), r["worst"]))
    current = next((r for r in table if r["candidate"].startswith("old default")), None) or next(
        r for r in table if r["candidate"].startswith("current default"))
    pick = top if top["score"] > current["score"] + margin else current
    return {**result, "robust": pick["candidate"], "robust_settings": pick["settings"], "margin": margin}


def default_margin(protocol_name: str) -> float:
    """The margin a protocol's figure gets unless ``--margin`` says otherwise."""
    direction = objective(get_protocol(protocol_name))[1]
    return MARGIN_MAXIMISED if direction == "maximize" else MARGIN_MINIMISED


def markdown(result: dict[str, Any]) -> str:
    """One model's table: every candidate's validation figure (HR@10, Recall@10 under
    ``random-full``, RMSE under the rating protocols) on every dataset."""
    names = list(result["datasets"])
    # RMSE's relative figures differ in the third decimal, so they get a fourth.
    rel = ".3f" if result.get("direction", "maximize") == "maximize" else ".4f"
    head = ["candidate", "settings", *names, "mean rel.", "worst rel."]
    lines = ["| " + " | ".join(head) + " |", "|---|---|" + "---:|" * (len(head) - 2)]
    lines.append("| per-dataset best (tuner) | | " + " | ".join(f"{result['best_value'][d]:.4f}" for d in names)
                 + " | 1 | 1 |")
    for row in result["candidates"]:
        mark = " **(robust)**" if row["candidate"] == result["robust"] else ""
        settings = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in row["settings"].items())
        lines.append(f"| {row['candidate']}{mark} | {settings} | "
                     + " | ".join(f"{row['values'][d]:.4f}" for d in names)
                     + f" | {row['score']:{rel}} | {row['worst']:{rel}} |")
    return "\n".join(lines)


def at_least_zero(text: str) -> float:
    """An ``argparse`` type: a finite number, 0 or more (a margin)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value < float("inf"):  # NaN too: no candidate could ever replace a default
        raise argparse.ArgumentTypeError(f"must be a finite number, 0 or more (got {text})")
    return value


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ml100k", help="the real ml-100k folder (its official folds are used)")
    p.add_argument("--synthetic", help="a folder for the synthetic releases (written when missing)")
    p.add_argument("--models", nargs="+", default=list(MODELS_DEFAULT))
    p.add_argument("--datasets", nargs="+", help="default: every dataset the sources give")
    p.add_argument("--trials", type=at_least(1), default=20, help="tuning trials per model and dataset")
    p.add_argument("--synthetic-trials", type=at_least(1), help="trials on the (larger) synthetic data [default: --trials]")
    p.add_argument("--seed", type=at_least(0), default=0)
    p.add_argument("--protocol", default=PROTOCOL,
                   choices=("loo-sampled", "loo-full", "random-full", "ratings-fold", "ratings-random"),
                   help="the protocol whose carve-outs score the candidates (ratings-*: the rating models, RMSE)")
    p.add_argument("--candidate", action="append", default=[], metavar="MODEL:LABEL:JSON",
                   help='one more candidate to score everywhere, e.g. \'ease:old default:{"regularization": 300.0}\'')
    p.add_argument("--margin", type=at_least_zero,
                   help="a candidate replaces the current default only if its mean relative score is higher by more "
                        f"[default: {MARGIN_MAXIMISED} for HR@10 and Recall@10, {MARGIN_MINIMISED} for RMSE]")
    p.add_argument("--out", help="the JSON file to write")
    p.add_argument("--report", help="print the tables of a JSON file written before, choosing again; run nothing")
    args = p.parse_args(argv)
    if args.report:
        try:
            saved = json.loads(Path(args.report).read_text())
        except (OSError, ValueError) as e:
            p.error(f"--report {args.report}: cannot be read as the JSON this script writes ({e})")
        margin = args.margin if args.margin is not None else default_margin(saved["protocol"])
        if "machine" in saved:  # (files written before it was recorded have none)
            print(f"\nmachine: {one_line(saved['machine'])}")
        for r in saved["results"]:
            r = choose(r, margin)
            print(f"\n## {r['model']} ({saved['protocol']}, validation {saved['metric']})\n\n{markdown(r)}")
        return 0
    if not args.out or not (args.ml100k or args.synthetic):
        p.error("give --out and --ml100k and/or --synthetic (or --report)")
    out = Path(args.out)
    # Written after each model's search: a place it cannot be written was found after the first.
    if out.is_dir():
        p.error(f"--out {args.out}: a folder; give the JSON file to write")
    if not out.absolute().parent.is_dir():
        p.error(f"--out {args.out}: no folder {out.absolute().parent} to write it in")
    if not os.access(out.absolute().parent, os.W_OK):
        p.error(f"--out {args.out}: its folder {out.absolute().parent} cannot be written")

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    extra: dict[str, dict[str, dict[str, Any]]] = {}
    for spec in args.candidate:
        parts = spec.split(":", 2)
        if len(parts) != 3:
            p.error(f"--candidate {spec!r}: give MODEL:LABEL:JSON")
        model, label, settings = parts
        if model not in args.models:  # (it was scored nowhere, without a word)
            p.error(f"--candidate {spec!r}: {model!r} is not one of --models ({', '.join(args.models)})")
        try:
            given = json.loads(settings)
        except ValueError as e:
            p.error(f"--candidate {spec!r}: its settings are not JSON ({e})")
        if not isinstance(given, dict):
            p.error(f"--candidate {spec!r}: its settings must be a JSON object of settings")
        if label.startswith(("current default", "candidate")):  # the table's own rows: choose() reads them
            p.error(f"--candidate {spec!r}: give a label of its own (not 'current default...' or 'candidate...')")
        try:
            create(model, given)  # a setting the model does not have, or a bad value: now, not after the tuning
        except CinerecError as e:
            p.error(f"--candidate {spec!r}: {e}")
        extra.setdefault(model, {})[label] = given
    margin = args.margin if args.margin is not None else default_margin(args.protocol)
    data = datasets(args.ml100k, args.synthetic, args.datasets, args.protocol)
    metric = objective(get_protocol(args.protocol))[0]
    results = []
    where = machine()
    for name in args.models:
        results.append(choose(study(name, data, args.trials, args.synthetic_trials or args.trials, args.seed, log,
                                    extra.get(name), args.protocol), margin))
        with atomic_path(out) as tmp:  # (whole or not at all: it replaces the last model's)
            tmp.write_text(json.dumps({"protocol": args.protocol, "metric": metric, "trials": args.trials,
                                       "synthetic_trials": args.synthetic_trials or args.trials,
                                       "seed": args.seed, "results": results, "machine": where}, indent=2))
    print(f"\nmachine: {one_line(where)}")
    for r in results:
        print(f"\n## {r['model']} ({args.protocol}, validation {metric})\n\n{markdown(r)}")
    return 0


if __name__ == "__main__":
    from cinerec.cli import script_main

    script_main(main)
