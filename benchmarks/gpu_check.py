"""The GPU check: every CUDA figure the project records, in one run of a few minutes.

On a machine with one CUDA GPU and this repository (torch with CUDA already installed;
nothing is downloaded)::

    python benchmarks/gpu_check.py --out DIR            # DIR defaults to $OUT, else ./gpu-check
    python benchmarks/gpu_check.py --tiny --device cpu  # the same steps, small, on the CPU

Steps, each a subprocess with its own time limit inside a budget for the whole check
(``--budget``, 540 s), so one that hangs or fails costs only its own minutes and the
others still report. The subprocesses import this checkout's ``src`` (installed or not):

1. ``environment``: torch, CUDA, the GPU, and which of the project's dependencies are
   missing (printed; the steps that need them fail on their own).
2. ``cuda-tests``: ``pytest -m cuda`` (the tests that need a GPU: NeuMF under bf16
   autocast, top-k on CUDA tensors, both against the CPU).
3. ``neumf``: NeuMF training throughput through the training loop on an ml-20m-shaped
   synthetic set (``bench_ncf.synthetic``: 138,493 users x 26,744 movies, 19.5M rows drawn,
   15.3M distinct positives)
   with 4 negatives per positive and bf16 autocast, whole epochs (drawing negatives,
   moving them to the device, shuffling, every step), the median epoch after the first.
   Architectures: the NCF paper's small model, and the one NVIDIA's reference PyTorch
   NCF trains (64-d GMF, MLP 256-256-128-64, batches of 2^20), at several batch sizes.
4. ``topk``: all-user top-10 over an ml-25m-shaped seen matrix with 64-d factors on the
   device (``bench_topk``'s case), through ``Recommender.recommend`` with exclusion.
5. ``two-stage``: fit and all-user top-10 of the ``two-stage`` model on an ml-1m-shaped
   synthetic set, when :data:`cinerec.models.MODELS` has one (skipped otherwise).

Writes ``DIR/gpu_check.json`` (per step: the command, seconds, the figures or the error)
and ``DIR/gpu_check.log`` (everything the steps printed). Exits 0 when every step that
ran succeeded.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))  # benchmarks/machine.py, however this file is run

from machine import at_least, machine  # noqa: E402

# Import names of the project's dependencies (pyproject.toml), and what the check needs.
DEPENDENCIES = ["numpy", "pandas", "scipy", "tqdm", "platformdirs", "torch", "implicit", "threadpoolctl",
                "matplotlib", "pyarrow", "fastapi", "uvicorn", "pydantic", "psycopg", "pytest"]

# NVIDIA's reference NCF (DeepLearningExamples, PyTorch): 64-d GMF, MLP input 256
# (two 128-d embeddings) then 256-128-64, batches of 2^20, lr 0.0045.
NVIDIA = {"factors": 64, "mlp_factors": 128, "layers": [256, 128, 64]}

# (architecture, batch size, lr) timed by the neumf step.
# The reference's setting first: a step that runs out of time keeps what it measured.
NCF_RUNS = [("nvidia", 1_048_576, 0.0045), ("paper", 1_048_576, 0.0045), ("paper", 262_144, 0.008),
            ("paper", 16_384, 0.008)]
# --tiny: sizes that run in seconds on a CPU; batches shrink by TINY_BATCH_DIVISOR.
TINY = {"users": 1_000, "movies": 500, "ratings": 25_000, "topk_scale": 0.005, "two_stage_scale": 0.02}
TINY_BATCH_DIVISOR = 64
#: A step is started only with this many seconds of the budget left.
MIN_STEP_SECONDS = 10


# -- steps (each runs in its own process: ``gpu_check.py --step NAME``) ---------------------


def step_environment(args: argparse.Namespace) -> dict[str, Any]:
    missing = [name for name in DEPENDENCIES if importlib.util.find_spec(name) is None]
    out: dict[str, Any] = {"python": platform.python_version(), "machine": platform.machine(),
                           "cpus": os.cpu_count(), "missing_dependencies": missing}
    import torch

    out["torch"] = torch.__version__
    out["cuda_available"] = torch.cuda.is_available()
    out["torch_cuda"] = torch.version.cuda
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        out["gpu"] = props.name
        out["gpu_memory_gib"] = round(props.total_memory / 2**30, 1)
        out["bf16_supported"] = torch.cuda.is_bf16_supported()
    import cinerec
    from cinerec.models import MODELS

    out["cinerec"] = cinerec.__version__
    out["cinerec_path"] = str(Path(cinerec.__file__).parent)
    out["two_stage_model"] = "two-stage" in MODELS
    if missing:
        print("missing dependencies: " + ", ".join(missing), file=sys.stderr)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit(f"--device {args.device}: torch sees no CUDA device here")
    return out


def step_neumf(args: argparse.Namespace) -> dict[str, Any]:
    import numpy as np
    import torch

    sys.path.insert(0, str(HERE))
    import bench_ncf
    from cinerec.models import create

    if args.tiny:
        bench_ncf.SHAPES.setdefault("tiny", (TINY["users"], TINY["movies"], TINY["ratings"]))
    shape = "tiny" if args.tiny else "ml-20m"
    t = time.perf_counter()
    train = bench_ncf.synthetic(shape)
    out: dict[str, Any] = {"data": f"bench_ncf.synthetic({shape!r})", "users": train.n_users, "movies": train.n_items,
                           "rows": len(train), "positives": int(train.seen.nnz), "negatives_per_positive": 4,
                           # The loop trains on distinct (user, movie) pairs: a pair drawn twice is one positive.
                           "samples_per_epoch": 5 * int(train.seen.nnz), "build_seconds": round(time.perf_counter() - t, 1),
                           "amp": "bf16 autocast" if args.device.startswith("cuda") else "off (CPU)",
                           "target_samples_per_s": 35_000_000,
                           "anchors": "NVIDIA's reference PyTorch NCF on one A100: 22.6M (TF32) / 34.1M (AMP) samples/s",
                           "runs": []}
    archs = {**bench_ncf.ARCHS, "nvidia": NVIDIA}
    for arch, batch, lr in NCF_RUNS:
        if args.tiny:
            batch = max(256, batch // TINY_BATCH_DIVISOR)
        cfg = {**archs[arch], "batch_size": batch, "lr": lr, "epochs": args.epochs, "negatives": 4, "patience": 0,
               "progress": False, "device": args.device, "amp": True, "threads": 0}
        model = create("neumf", cfg)
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        model.fit(train)
        wall = time.perf_counter() - t0
        hist = model.history
        steady = hist[1:] or hist  # the first epoch pays for building the sampler and warming up
        run = {"architecture": arch, **archs[arch], "batch_size": batch, "lr": lr, "epochs": len(hist),
               "wall_s": round(wall, 2), "samples_per_s_per_epoch": [round(h["samples_per_s"]) for h in hist],
               "samples_per_s": round(float(np.median([h["samples_per_s"] for h in steady]))),
               "seconds_per_epoch": round(float(np.median([h["seconds"] for h in steady])), 3),
               "final_loss": round(hist[-1]["loss"], 4)}
        if args.device.startswith("cuda"):
            run["peak_gpu_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
        print(f"neumf {arch} batch {batch}: {run['samples_per_s']:,} samples/s", file=sys.stderr)
        out["runs"].append(run)
        out["best_samples_per_s"] = max(r["samples_per_s"] for r in out["runs"])
        print(json.dumps(out), flush=True)  # what is measured so far survives a timeout
        del model
    return out


def step_topk(args: argparse.Namespace) -> dict[str, Any]:
    import numpy as np
    import torch

    sys.path.insert(0, str(HERE))
    from bench_sampling import synthetic_seen
    from bench_topk import ML25M, Factors

    from cinerec.data.dataset import Interactions

    scale = TINY["topk_scale"] if args.tiny else 1.0
    n_users, n_items, n_entries = int(ML25M[0] * scale), ML25M[1], int(ML25M[2] * scale)
    t = time.perf_counter()
    seen = synthetic_seen(n_users, n_items, n_entries, 0)
    coo = seen.tocoo()
    train = Interactions(coo.row, coo.col, np.ones(len(coo.row)), np.zeros(len(coo.row)), n_users, n_items)
    train.__dict__["seen"] = seen  # already built
    build = time.perf_counter() - t
    device = torch.device(args.device)

    class DeviceFactors(Factors):
        chunk_size = 4096 if device.type == "cuda" else 512

        def _score_rows(self, users: np.ndarray) -> torch.Tensor:
            return self.U[torch.as_tensor(users, device=self.U.device)] @ self.V.T

    rng = np.random.default_rng(0)
    model = DeviceFactors(rng.standard_normal((n_users, 64), dtype=np.float32),
                          rng.standard_normal((n_items, 64), dtype=np.float32), train)
    model.U, model.V = model.U.to(device), model.V.to(device)
    users = np.arange(n_users)
    model.recommend(users[:model.chunk_size], k=10)  # warm-up: CUDA context, kernels
    if device.type == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    items, _ = model.recommend(users, k=10)
    took = time.perf_counter() - t
    probe = users[:: max(1, n_users // 1000)]
    return {"users": n_users, "movies": n_items, "seen_entries": int(seen.nnz), "dim": 64, "k": 10,
            "chunk_size": model.chunk_size, "build_seconds": round(build, 1), "seconds": round(took, 2),
            "users_per_s": round(n_users / took),
            "seen_recommended_in_probe": int(np.take_along_axis(seen[probe].toarray(), items[probe], 1).sum())}


def step_two_stage(args: argparse.Namespace) -> dict[str, Any]:
    import numpy as np

    from cinerec.data.dataset import Interactions
    from cinerec.data.synthetic import synthesize
    from cinerec.models import MODELS, create

    if "two-stage" not in MODELS:
        return {"skipped": "cinerec.models.MODELS has no 'two-stage' model in this checkout"}
    t = time.perf_counter()
    release = synthesize("ml-1m", scale=TINY["two_stage_scale"] if args.tiny else 1.0, seed=0)
    r = release.ratings
    user_ids, users = np.unique(r["user_id"].to_numpy(), return_inverse=True)
    item_ids, items = np.unique(r["movie_id"].to_numpy(), return_inverse=True)
    train = Interactions(users.astype(np.int32), items.astype(np.int32), r["rating"].to_numpy(np.float32),
                         np.zeros(len(r), np.int64), len(user_ids), len(item_ids))
    build = time.perf_counter() - t
    # mix = 1: the ranker's own order, so the fit is the two stages' fits alone (no search).
    model = create("two-stage", {"mix": 1.0})
    settings = model.config.to_dict()
    if "device" in settings:
        model = create("two-stage", {"mix": 1.0, "device": args.device})
    t = time.perf_counter()
    model.fit(train)
    fit = time.perf_counter() - t
    t = time.perf_counter()
    model.recommend(np.arange(train.n_users), k=10)
    took = time.perf_counter() - t
    return {"data": "synthesize('ml-1m')", "users": train.n_users, "movies": train.n_items, "ratings": len(train),
            "build_seconds": round(build, 1), "config": model.config.to_dict(), "fit_seconds": round(fit, 2),
            "all_user_top10_seconds": round(took, 2), "users_per_s": round(train.n_users / took)}


STEPS = {"environment": step_environment, "neumf": step_neumf, "topk": step_topk, "two-stage": step_two_stage}


# -- the driver -----------------------------------------------------------------------------


def _run_step(name: str, cmd: list[str], timeout: int, log) -> tuple[dict[str, Any], str]:
    shown = " ".join(cmd)
    print(f"== {name}: {shown}", file=log, flush=True)
    print(f"== {name} (at most {timeout} s)", file=sys.stderr, flush=True)
    # This checkout's code, whether or not (or wherever) cinerec is installed.
    path = os.pathsep.join([str(ROOT / "src"), str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    t = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT, check=False,
                              env={**os.environ, "PYTHONPATH": path})
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        err = (e.stderr or b"").decode() if isinstance(e.stderr, bytes) else (e.stderr or "")
        log.write(out + err)
        rec = {"command": shown, "seconds": round(time.perf_counter() - t, 1), "error": f"timed out after {timeout} s"}
        return rec, out
    log.write(proc.stdout + proc.stderr)
    log.flush()
    rec: dict[str, Any] = {"command": shown, "seconds": round(time.perf_counter() - t, 1), "exit": proc.returncode}
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()
        rec["error"] = tail[-1] if tail else f"exit {proc.returncode}"
    return rec, proc.stdout


def _save(path: Path, results: dict[str, Any]) -> None:
    """Write ``results`` to ``path`` whole or not at all: a check killed while it wrote
    keeps the figures written after the step before."""
    part = path.with_name(path.name + ".part")
    part.write_text(json.dumps(results, indent=2))
    os.replace(part, path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path(os.environ.get("OUT") or "gpu-check"),
                    help="folder for gpu_check.json and gpu_check.log (default: $OUT, else ./gpu-check)")
    ap.add_argument("--device", default="cuda", help="cuda (default), cuda:N, or cpu with --tiny")
    ap.add_argument("--tiny", action="store_true", help="small sizes: check the steps run, measure nothing")
    ap.add_argument("--epochs", type=int, default=3, help="NeuMF epochs per run (the first is not counted)")
    ap.add_argument("--only", choices=["cuda-tests", *STEPS], action="append", help="run only these steps")
    ap.add_argument("--budget", type=at_least(MIN_STEP_SECONDS), default=540,
                    help=f"seconds for the whole check (default 540, at least {MIN_STEP_SECONDS}); a step gets at most "
                         "what is left")
    ap.add_argument("--step", choices=sorted(STEPS), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.epochs < 1:
        ap.error(f"--epochs {args.epochs}: must be at least 1")
    try:
        import torch
    except ImportError:  # the environment step names what is missing
        pass
    else:
        try:
            torch.device(args.device)
        except (RuntimeError, ValueError) as e:
            ap.error(f"--device {args.device}: not a device torch knows ({str(e).splitlines()[0]})")
    if args.device == "cpu" and not args.tiny:  # the full sizes are the GPU's, minutes each on a CPU
        ap.error("--device cpu: only with --tiny (the full sizes are for a GPU)")
    if args.step:
        result = STEPS[args.step](args)
        print(json.dumps(result))
        return 0

    args.out.mkdir(parents=True, exist_ok=True)
    me = [sys.executable, str(Path(__file__).resolve()), "--device", args.device, "--epochs", str(args.epochs)]
    me += ["--tiny"] if args.tiny else []
    plan: list[tuple[str, list[str], int]] = [
        ("environment", [*me, "--step", "environment"], 60),
        ("cuda-tests", [sys.executable, "-m", "pytest", "-q", "-m", "cuda", "-p", "no:cacheprovider", "tests"], 150),
        ("neumf", [*me, "--step", "neumf"], 300),
        ("topk", [*me, "--step", "topk"], 120),
        ("two-stage", [*me, "--step", "two-stage"], 120),
    ]
    if args.only:
        plan = [p for p in plan if p[0] in args.only]
    results: dict[str, Any] = {"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "tiny": args.tiny,
                               "device": args.device, "steps": {},
                               "machine": machine()}  # (from the start: a check killed part-way keeps it too)
    failed = False
    json_path, log_path = args.out / "gpu_check.json", args.out / "gpu_check.log"
    deadline = time.monotonic() + args.budget
    with open(log_path, "w") as log:
        for name, cmd, cap in plan:
            left = int(deadline - time.monotonic())
            if left < MIN_STEP_SECONDS:
                results["steps"][name] = {"command": " ".join(cmd), "skipped": f"the {args.budget} s budget is spent"}
                _save(json_path, results)
                continue
            rec, stdout = _run_step(name, cmd, min(cap, left), log)
            if name == "cuda-tests":
                rec["summary"] = _pytest_summary(stdout)
            else:
                lines = [ln for ln in stdout.splitlines() if ln.startswith("{")]
                if lines:
                    # The last result printed; after a timeout, what the step had measured by then.
                    rec["result" if "error" not in rec else "partial_result"] = json.loads(lines[-1])
                elif "error" not in rec:
                    rec["error"] = "the step printed no JSON result"
            failed |= "error" in rec
            results["steps"][name] = rec
            _save(json_path, results)  # after every step: a killed check keeps the rest
            print(f"   {name}: {'failed: ' + rec['error'] if 'error' in rec else 'ok'} ({rec['seconds']} s)",
                  file=sys.stderr, flush=True)
            if name == "environment" and "error" in rec and "sees no CUDA device" in rec["error"]:
                # Every later step would fail on it, after minutes of the budget (the two-stage one
                # fitted its data in full first): said once, and the check ends here.
                for later, later_cmd, _ in plan[plan.index((name, cmd, cap)) + 1:]:
                    results["steps"][later] = {"command": " ".join(later_cmd), "skipped": rec["error"]}
                _save(json_path, results)
                print(f"   the other steps are skipped: {rec['error']}", file=sys.stderr, flush=True)
                break
    results["machine"] = machine()
    _save(json_path, results)
    print(f"wrote {json_path} and {log_path}", file=sys.stderr)
    print(json.dumps(results, indent=2))  # the figures, as every benchmark prints them
    return 1 if failed else 0


def _pytest_summary(stdout: str) -> str:
    """pytest's last line (``3 passed, 120 deselected in 9.1s``)."""
    lines = [ln for ln in stdout.splitlines() if ln.strip()]
    return lines[-1].strip("= ") if lines else ""


if __name__ == "__main__":
    from cinerec.cli import script_main

    script_main(main)
