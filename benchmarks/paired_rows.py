"""Paired per-user comparisons of a study's rows on any metric its protocol keeps per user.

    PYTHONPATH=src python benchmarks/paired_rows.py studies/keras-u1.toml --metric ndcg@10 \
        --pair mf-liked:mf --pair biasedmf-liked:biasedmf [--only LABEL ...] [--data PATH]

``cinerec run`` pairs every row with the best row on the study's own metric (RMSE under
a rating protocol, which a liked-or-not row does not have). This fits the rows again on
the same prepared splits and seeds, with the settings ``cinerec run`` gives them (the seed,
side features; no tuning), and pairs them on ``--metric``: each row against the best row
on it, and each ``--pair A:B`` (A minus B). The figures are means over users and seeds of
per-user differences, ± their paired standard error (:func:`cinerec.studies.paired`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from cinerec.data import load
from cinerec.data.filters import apply_filters
from cinerec.evaluation.protocols import LOWER_IS_BETTER, get_protocol
from cinerec.models import MODELS, create
from cinerec.studies import Study, paired

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/machine.py, however this file is run

from machine import machine, one_line  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("study")
    ap.add_argument("--metric", required=True, help="a metric the protocol keeps per user, e.g. ndcg@10 or rmse")
    ap.add_argument("--pair", action="append", default=[], metavar="A:B", help="also pair row A against row B")
    ap.add_argument("--only", action="append", default=None, metavar="LABEL", help="fit only these rows")
    ap.add_argument("--data", default=None, help="replaces the study's [data] source")
    args = ap.parse_args()

    study = Study.from_toml(args.study, data=args.data)
    # Every name checked before any fit: a mistake found after them cost every seed's.
    labels = [s.label for s in study.models]
    for label in args.only or ():
        if label not in labels:
            ap.error(f"--only {label}: not one of the study's rows ({', '.join(labels)})")
    specs = [s for s in study.models if args.only is None or s.label in args.only]
    kept = [s.label for s in specs]
    for pair in args.pair:
        a, sep, b = pair.partition(":")
        if not sep or a not in kept or b not in kept or a == b:
            ap.error(f"--pair {pair}: give A:B, two different rows of those fitted ({', '.join(kept)})")
    protocol = get_protocol(study.protocol, **study.protocol_options)
    # (coverage, categorical accuracy, AUC and accuracy are figures of all lists or ratings at once)
    per_user = [m for m in protocol.metric_names() if not m.startswith(("coverage@", "cat_acc@", "auc", "accuracy"))]
    if args.metric not in per_user:
        ap.error(f"--metric {args.metric}: not one of the figures {protocol.name} keeps per user ({', '.join(per_user)})")
    if args.metric in ("rmse", "mae"):  # a liked-or-not row predicts no stars
        liked = [s.label for s in specs if getattr(create(s.model, dict(s.settings)).config, "target", None) == "liked"]
        if liked:
            ap.error(f"--metric {args.metric}: {', '.join(liked)} predict{'s' if len(liked) == 1 else ''} liked-or-not, "
                     "not stars; leave them out with --only")
    # The study's own rows: its log's columns and catalogue, then its [data] filters (the
    # autoencoder study's most active users and most rated movies), as cinerec run reads them.
    dataset = load(study.source, columns=study.columns, catalog=study.catalog)
    dataset, _ = apply_filters(dataset, study.filters)
    per: dict[str, list[np.ndarray]] = {s.label: [] for s in specs}
    for seed in study.seeds:
        prepared = protocol.prepare(dataset, seed=seed)
        for spec in specs:
            settings: dict[str, Any] = dict(spec.settings)
            fields = MODELS[spec.model].Config().to_dict()
            if "seed" in fields and "seed" not in settings:  # as cinerec run seeds each model
                settings["seed"] = seed
            if "progress" in fields:
                settings["progress"] = False
            model = create(spec.model, settings)
            if model.uses_features:
                model.set_features(dataset)
            result = prepared.evaluate(model, label=spec.label, per_user=True)
            if not result.per_user or args.metric not in result.per_user:
                ap.error(f"--metric {args.metric}: {protocol.name} keeps no per-user {args.metric} for {spec.label}")
            per[spec.label].append(result.per_user[args.metric])
            print(f"{spec.label} seed {seed}: {args.metric} {result.metrics[args.metric]:.4f}", flush=True)

    values = {label: np.concatenate(v) for label, v in per.items()}
    means = {label: float(np.nanmean(v)) for label, v in values.items()}
    lower = args.metric.split("@")[0] in LOWER_IS_BETTER
    best = (min if lower else max)(means, key=lambda k: means[k])
    print(f"\n{args.metric} per user, {len(study.seeds)} seeds; vs {best} (the best on it)\n")
    print(f"machine: {one_line(machine())}\n")
    print(f"| model | mean per-user {args.metric} | vs {best} (paired) | users above / below / tied |")
    print("|---|---:|---:|---:|")
    for label in sorted(means, key=lambda k: means[k], reverse=not lower):
        if label == best:
            print(f"| {label} | {means[label]:.4f} | best | |")
            continue
        p = paired(values[label], values[best])
        print(f"| {label} | {means[label]:.4f} | {p['diff']:+.4f} ± {p['se']:.4f} | "
              f"{p['wins']} / {p['losses']} / {p['ties']} |")
    for pair in args.pair:
        a, _, b = pair.partition(":")
        p = paired(values[a], values[b])
        print(f"\n{a} minus {b}: {args.metric} {p['diff']:+.4f} ± {p['se']:.4f} over {p['n']} user-splits "
              f"(higher for {p['wins']}, lower for {p['losses']}, tied for {p['ties']})")


if __name__ == "__main__":
    from cinerec.cli import script_main

    script_main(main)
