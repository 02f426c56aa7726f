"""Two stages (retrieve, then rank) against each stage alone: speed and quality.

Usage::

    python benchmarks/bench_two_stage.py speed [--sample 10000] [--repeats 3]
    python benchmarks/bench_two_stage.py quality [--seeds 0 1 2]
    python benchmarks/bench_two_stage.py mix [--seeds 0 1 2]

``speed``, at the NCF study's shape (1.87M ratings of 5,014 movies, built from a
synthetic ml-25m release as ``bench_index.study_interactions`` describes): ALS (defaults) and NeuMF (defaults) are fitted
on every rating; NeuMF for one epoch only, since how long it takes to score does not
depend on how long it was trained. Then top-10 unseen movies, timed:

- ``neumf``: NeuMF over the whole catalogue, for a random sample of ``--sample`` users
  (scoring cost is linear in the number of users; ``all_users_s_estimate`` scales the
  sample's time to every user);
- ``two-stage``: ALS's top-200 unseen, ranked by NeuMF alone (``candidates=200``,
  ``mix=1``), for the same sample and for every user; with ALS answering exactly and
  through HNSW.

``quality``, on real ml-100k under ``loo-full`` and ``random-full``, for each seed: ALS,
EASE and NeuMF alone, and the two-stage models ALS → NeuMF and EASE → NeuMF built from
those same fitted models (each stage given already fitted), ranked by NeuMF's scores
alone (``mix = 1``, as published; ``mix`` below compares the combined scores). The
retriever's recall at 200 says how often the held-out movies reach the ranker at all:
for ``loo-full`` the share of users whose held-out movie is in the retriever's top-200
unseen, for ``random-full`` the mean share of each user's test movies there.
``--candidates 25 50 100 200`` compares shortlist lengths on the same fitted stages.

``mix``, on real ml-100k under ``loo-full``, for each seed: ALS and NeuMF alone (their
defaults, seeded by the run's seed), and two-stage ALS → NeuMF built from those same
fitted stages with ``mix = 1`` (the ranker's scores alone, the model before ``mix``) and
with the default ``mix`` ("auto": the weight chosen on a carve-out of the training data,
for which the model fits fresh stages of the same settings; its fit time is that
search). The last line holds HR@10 mean ± sample standard deviation over the seeds and,
for each two-stage model, the mean per-user difference from the better stage alone (by
mean HR@10) with its paired standard error over every (seed, user) pair
(``cinerec.studies.paired``).

Prints one JSON object per line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

from bench_index import ML100K, study_interactions  # noqa: E402
from machine import at_least, machine  # noqa: E402

from cinerec.evaluation import metrics as M  # noqa: E402
from cinerec.models import create  # noqa: E402
from cinerec.models.two_stage import TwoStage, TwoStageConfig  # noqa: E402

CANDIDATES = 200


def timed(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return round(float(np.median(times)), 2)


def speed(sample_size: int, repeats: int) -> None:
    train = study_interactions()
    t0 = time.perf_counter()
    als = create("als").fit(train)
    als_fit = time.perf_counter() - t0
    t0 = time.perf_counter()
    neumf = create("neumf", {"epochs": 1, "progress": False}).fit(train)
    neumf_fit = time.perf_counter() - t0
    rng = np.random.default_rng(0)
    sample = np.sort(rng.choice(train.n_users, size=min(sample_size, train.n_users), replace=False))
    everyone = np.arange(train.n_users)
    # mix = 1 (the ranker's scores alone): the model these figures were published for,
    # and no weight search on 1.87M ratings before the timings
    cfg = TwoStageConfig(retriever="als", ranker="neumf", candidates=CANDIDATES, mix=1.0)
    two = TwoStage(cfg, retriever=als, ranker=neumf).fit(train)
    two_hnsw = TwoStage(cfg, retriever=als.with_index("hnsw"), ranker=neumf).fit(train)
    two_hnsw.retriever.ann_index()  # built once, outside the timings
    out = {"benchmark": "two-stage speed", "users": train.n_users, "movies": train.n_items, "ratings": len(train),
           "als_fit_s": round(als_fit, 1), "neumf_fit_1_epoch_s": round(neumf_fit, 1), "sample_users": len(sample),
           "repeats": repeats}
    scale = train.n_users / len(sample)
    s = timed(lambda: neumf.recommend(sample, 10), repeats)
    out["neumf"] = {"sample_s": s, "all_users_s_estimate": round(s * scale, 1),
                    "pairs_per_s": round(len(sample) * train.n_items / s)}
    print(json.dumps(out["neumf"]), file=sys.stderr, flush=True)
    for label, model in (("two-stage als→neumf", two), ("two-stage als(hnsw)→neumf", two_hnsw)):
        row = {"sample_s": timed(lambda m=model: m.recommend(sample, 10), repeats)}
        row["all_users_s"] = timed(lambda m=model: m.recommend(everyone, 10), repeats)
        row["speed-up"] = round(out["neumf"]["all_users_s_estimate"] / row["all_users_s"], 1)
        out[label] = row
        print(json.dumps({label: row}), file=sys.stderr, flush=True)
    # How much of NeuMF's own top-10 survives the shortlist (on the sample).
    alone, _ = neumf.recommend(sample, 10)
    staged, _ = two.recommend(sample, 10)
    out["overlap@10 with neumf alone"] = round(float(np.mean((alone[:, :, None] == staged[:, None, :]).any(axis=2))), 4)
    out["machine"] = machine()
    print(json.dumps(out))


def retriever_recall(model, prepared, protocol: str, n: int = CANDIDATES) -> float:
    shortlist, _ = model.recommend(prepared.users, n, exclude=prepared.train)
    if protocol == "loo-full":
        return M.hit_rate(shortlist, prepared.truth, n)
    return M.recall(shortlist, prepared.test.seen[prepared.users], n)


def _made(name: str, protocol: Any, settings: dict) -> Any:
    """Model ``name`` with the settings ``evaluate`` gives it under ``protocol`` (EASE and
    ALS without recency weighting under a random hold-out...), beside ``settings``."""
    from cinerec.models import MODELS

    return create(name, protocol.settings_for(MODELS[name], settings))


def quality(seeds: list[int], protocols: list[str], shortlists: list[int]) -> None:
    from cinerec.data import load
    from cinerec.evaluation.protocols import get_protocol

    ds = load(ML100K)
    where = machine()
    for protocol_name in protocols:
        protocol = get_protocol(protocol_name)
        for seed in seeds:
            prepared = protocol.prepare(ds, seed=seed)
            fitted = {
                "als": _made("als", protocol, {"seed": seed}),
                "ease": _made("ease", protocol, {}),
                "neumf": _made("neumf", protocol, {"seed": seed, "progress": False}),
            }
            row: dict = {"protocol": protocol_name, "seed": seed, "n_users": int(prepared.n_users)}
            for name, model in fitted.items():
                res = prepared.evaluate(model)
                row[name] = _headline(res.metrics, protocol_name) | {"fit_s": round(res.seconds_fit, 1)}
            for retr in ("als", "ease"):
                for c in shortlists:
                    two = TwoStage(TwoStageConfig(retriever=retr, ranker="neumf", candidates=c, mix=1.0),
                                   retriever=fitted[retr], ranker=fitted["neumf"])
                    res = prepared.evaluate(two.fit(prepared.train), fit=False, label=f"{retr}→neumf")
                    tag = "" if c == CANDIDATES else f" ({c})"
                    row[f"{retr}→neumf{tag}"] = _headline(res.metrics, protocol_name)
                    row[f"{retr} recall@{c}"] = round(retriever_recall(fitted[retr], prepared, protocol_name, c), 4)
            row["machine"] = where
            print(json.dumps(row), flush=True)


def mix(seeds: list[int], candidates: int, protocol_name: str = "loo-full") -> None:
    from cinerec.data import load
    from cinerec.evaluation.protocols import get_protocol
    from cinerec.studies import paired

    ds = load(ML100K)
    protocol = get_protocol(protocol_name)
    metric = "hr@10" if protocol_name.startswith("loo") else "recall@10"
    labels = ("als", "neumf", "als→neumf mix=1", "als→neumf mix=auto")
    hits: dict[str, list[np.ndarray]] = {label: [] for label in labels}
    means: dict[str, list[float]] = {label: [] for label in labels}
    chosen = []
    for seed in seeds:
        prepared = protocol.prepare(ds, seed=seed)
        als = _made("als", protocol, {"seed": seed})
        neumf = _made("neumf", protocol, {"seed": seed, "progress": False})
        settings = {"retriever": "als", "ranker": "neumf", "candidates": candidates,
                    "retriever_settings": {"seed": seed}, "ranker_settings": {"seed": seed, "progress": False}}
        results = {"als": prepared.evaluate(als, per_user=True), "neumf": prepared.evaluate(neumf, per_user=True)}
        row: dict = {"protocol": protocol_name, "seed": seed, "n_users": int(prepared.n_users)}
        for label, extra in (("als→neumf mix=1", {"mix": 1.0}), ("als→neumf mix=auto", {})):
            two = TwoStage(TwoStageConfig.from_dict({**settings, **extra}), retriever=als, ranker=neumf)
            t0 = time.perf_counter()
            two.fit(prepared.train)
            fit_s = time.perf_counter() - t0
            results[label] = prepared.evaluate(two, fit=False, label=label, per_user=True)
            row[f"{label} fit_s"] = round(fit_s, 1)
            if two.mix_search:
                chosen.append(two.mix_)
                row["chosen mix"] = two.mix_
                row["carve-out hr@10 by mix"] = dict(zip(two.mix_search["grid"], np.round(two.mix_search["hr@10"], 4)))
        for label, res in results.items():
            hits[label].append(np.asarray(res.per_user[metric], dtype=np.float64))
            means[label].append(float(res.metrics[metric]))
            row[label] = _headline(res.metrics, protocol_name)
        row[f"als recall@{candidates}"] = round(retriever_recall(als, prepared, protocol_name, candidates), 4)
        print(json.dumps(row), flush=True)
    better = max(("als", "neumf"), key=lambda label: np.mean(means[label]))
    spread = len(seeds) > 1  # one seed has no sd
    summary: dict = {"summary": f"{protocol_name} {metric}, {'mean ± sd over seeds' if spread else 'one seed'}",
                     "seeds": seeds, "chosen mix": chosen, "better stage": better}
    for label in labels:
        summary[label] = f"{np.mean(means[label]):.4f}" + (f" ± {np.std(means[label], ddof=1):.4f}" if spread else "")
    for label in labels[2:]:
        d = paired(np.concatenate(hits[label]), np.concatenate(hits[better]))
        summary[f"{label} - {better}"] = {"diff": round(d["diff"], 4), "se": round(d["se"], 4), "n": d["n"],
                                          "diff/se": round(d["diff"] / d["se"], 2), "wins": d["wins"],
                                          "losses": d["losses"]}
    summary["machine"] = machine()
    print(json.dumps(summary), flush=True)


def _headline(metrics: dict, protocol: str) -> dict:
    keys = ("hr@10", "ndcg@10") if protocol == "loo-full" else ("recall@10", "ndcg@10", "recall@50")
    return {k: round(float(metrics[k]), 4) for k in keys}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="what", required=True)
    sp = sub.add_parser("speed")
    # Sizes are checked as they are parsed, before minutes of data are written. The
    # protocols are those whose figures _headline and retriever_recall report.
    sp.add_argument("--sample", type=at_least(1), default=10_000)
    sp.add_argument("--repeats", type=at_least(1), default=3)
    q = sub.add_parser("quality")
    q.add_argument("--seeds", type=at_least(0), nargs="+", default=[0, 1, 2])
    q.add_argument("--protocols", nargs="+", default=["loo-full", "random-full"], choices=["loo-full", "random-full"])
    q.add_argument("--candidates", type=at_least(1), nargs="+", default=[CANDIDATES],
                   help="shortlist lengths to compare (the stages are fitted once per seed)")
    m = sub.add_parser("mix")
    m.add_argument("--seeds", type=at_least(0), nargs="+", default=[0, 1, 2])
    m.add_argument("--candidates", type=at_least(1), default=CANDIDATES)
    m.add_argument("--protocol", default="loo-full", choices=["loo-full", "random-full"])
    args = ap.parse_args()
    if args.what == "speed":
        speed(args.sample, args.repeats)
    elif args.what == "mix":
        mix(args.seeds, args.candidates, args.protocol)
    else:
        quality(args.seeds, args.protocols, args.candidates)


if __name__ == "__main__":
    from cinerec.cli import script_main

    script_main(main)
