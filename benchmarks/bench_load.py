"""How fast cinerec reads an ml-25m-sized ratings.csv, against bare pandas.

    python benchmarks/bench_load.py [--scale 1.0] [--seed 0] [--repeat 3] [--regenerate]

Writes (once, then reuses) a synthetic ml-25m-shaped release under ``benchmarks/out/``
and times, each in a fresh process so that peak memory is its own:

- ``baseline``: ``pandas.read_csv(engine="pyarrow")`` with the column types given, then
  ``pandas.factorize`` of the user and movie id columns: the least any loader must do;
- ``cinerec``: ``cinerec.data.load(folder)``: parse, validate, encode, catalog, Dataset.

Prints one JSON object: seconds (best of ``--repeat``), CPU seconds, their ratio, peak
RSS of each process, and the generator's time when it ran.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _baseline(folder: Path) -> int:
    import pandas as pd

    dtypes = {"userId": "int64", "movieId": "int64", "rating": "float32", "timestamp": "int64"}
    frame = pd.read_csv(folder / "ratings.csv", engine="pyarrow", dtype=dtypes)
    users, _ = pd.factorize(frame["userId"])
    items, _ = pd.factorize(frame["movieId"])
    return len(users) + 0 * len(items)


def _cinerec(folder: Path) -> int:
    from cinerec.data import load

    return len(load(folder, release="ml-25m").interactions)


def _one(kind: str, folder: Path, repeat: int) -> dict:
    """Run one measurement in this process (called in a child process)."""
    fn = {"baseline": _baseline, "cinerec": _cinerec}[kind]
    times, cpu, rows = [], [], 0
    for _ in range(repeat):
        r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        rows = fn(folder)
        t1, r1 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
        times.append(t1 - t0)
        cpu.append((r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime))
    return {"seconds": min(times), "all_seconds": times, "cpu_seconds": min(cpu), "peak_rss_mb": _peak_mb(), "rows": rows}


def _peak_mb() -> int:
    """This process's peak resident memory (VmHWM; ru_maxrss would carry the parent's peak across exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--regenerate", action="store_true", help="write the synthetic release again (and time it)")
    p.add_argument("--one", choices=["baseline", "cinerec"], help=argparse.SUPPRESS)
    p.add_argument("--folder", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        print(json.dumps(_one(args.one, Path(args.folder), args.repeat)))
        return

    folder = HERE / "out" / f"synthetic-ml-25m-scale{args.scale:g}-seed{args.seed}"
    result: dict = {"benchmark": "load ml-25m-sized ratings.csv", "folder": str(folder.relative_to(HERE.parent))}
    if args.regenerate or not (folder / "ratings.csv").exists():
        from cinerec.data.synthetic import write_release

        r0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        write_release(folder, "ml-25m", args.scale, args.seed)
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        result["generate_seconds"] = round(time.perf_counter() - t0, 2)
        result["generate_cpu_seconds"] = round((r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime), 2)
        result["generate_peak_rss_mb"] = _peak_mb()
    result["ratings_csv_mb"] = round((folder / "ratings.csv").stat().st_size / 2**20)
    for kind in ("baseline", "cinerec"):
        out = subprocess.run(
            [sys.executable, __file__, "--one", kind, "--folder", str(folder), "--repeat", str(args.repeat)],
            check=True, capture_output=True, text=True, env=dict(os.environ),
        )
        result[kind] = json.loads(out.stdout.strip().splitlines()[-1])
    result["ratio_seconds"] = round(result["cinerec"]["seconds"] / result["baseline"]["seconds"], 3)
    result["ratio_cpu"] = round(result["cinerec"]["cpu_seconds"] / result["baseline"]["cpu_seconds"], 3)
    result["cpus"] = os.cpu_count()
    result["load_average"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
