"""How long the ``cinerec`` command takes to start, and which heavy libraries it loads.

Each case runs ``python -m cinerec ...`` in a fresh process ``--repeat`` times and reports
the wall-clock seconds (median and best) and, from a separate run of the same command
inside one interpreter, which of torch, NumPy, pandas, SciPy, pyarrow, FastAPI and
matplotlib were imported. ``--src`` picks the source tree to time (default: this
checkout's ``src``), so an older checkout can be timed beside it in the same run.
``--run`` adds a title search of a run folder (``cinerec movies``), which reads no model.

    python benchmarks/bench_startup.py --data ../shared/data/ml-100k --repeat 10
    python benchmarks/bench_startup.py --data ../shared/data/ml-100k --run runs/quickstart --repeat 5
    python benchmarks/bench_startup.py --src /path/to/other/checkout/src --data ../shared/data/ml-100k
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/machine.py, however this file is run

from machine import at_least, child_failed, machine  # noqa: E402

HEAVY = ["torch", "numpy", "pandas", "scipy", "pyarrow", "fastapi", "matplotlib"]

PROBE = """
import sys
from cinerec.cli import main
try:
    main(sys.argv[1:])
finally:
    sys.stdout.flush()
    print("LOADED " + " ".join(m for m in {heavy!r} if m in sys.modules), file=sys.stderr)
"""


def _time(argv: list[str], env: dict[str, str], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "cinerec", *argv], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            child_failed(f"cinerec {' '.join(argv)}", done.returncode, done.stderr)
    return times


def _loaded(argv: list[str], env: dict[str, str]) -> list[str]:
    done = subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY), *argv], env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    line = [x for x in done.stderr.splitlines() if x.startswith("LOADED")][-1]
    return line.split()[1:]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--src", default=str(Path(__file__).resolve().parents[1] / "src"), help="source tree to time")
    p.add_argument("--data", required=True, help="a MovieLens-100K folder for `data info`")
    p.add_argument("--run", help="a run folder (as quickstart's) for `movies --run RUN star`")
    p.add_argument("--repeat", type=at_least(1), default=10)
    args = p.parse_args()
    if not (Path(args.src) / "cinerec" / "__init__.py").is_file():
        p.error(f"--src {args.src}: holds no cinerec package (expected {Path(args.src) / 'cinerec'})")
    if args.run is not None and not (Path(args.run) / "run.json").is_file():
        p.error(f"--run {args.run}: no run folder (it holds no run.json)")
    if args.repeat < 1:
        p.error("--repeat: must be at least 1")
    env = {**os.environ, "PYTHONPATH": args.src}
    cases = {
        "cinerec --help": ["--help"],
        "cinerec evaluate --help": ["evaluate", "--help"],
        "cinerec data info ml-100k": ["data", "info", args.data],
    }
    if args.run is not None:
        cases["cinerec movies --run RUN star"] = ["movies", "--run", args.run, "star"]
    _time(["--help"], env, 1)  # warm the file cache
    out = {"src": args.src, "python": sys.version.split()[0], "cpus": os.cpu_count(),
           "load_average_before": os.getloadavg()[0], "cases": {}}
    for name, argv in cases.items():
        times = _time(argv, env, args.repeat)
        out["cases"][name] = {"median_s": round(statistics.median(times), 3), "best_s": round(min(times), 3),
                              "runs": len(times), "heavy_imports": _loaded(argv, env)}
    out["load_average_after"] = os.getloadavg()[0]
    out["machine"] = machine()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    from cinerec.cli import script_main

    script_main(main)
