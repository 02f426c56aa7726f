"""How long a saved profile's change waits when many are made at once (the SQLite file).

    python benchmarks/bench_profile_writes.py [--threads 48] [--writes 40] [--processes 1]

Makes a profiles file with 200 profiles, then has ``--threads`` threads in each of
``--processes`` processes (as ``cinerec serve --workers`` runs them) each rate one movie
on a random profile ``--writes`` times, back to back, through
:class:`cinerec.serving.store.ProfileStore` (the store the server writes with: WAL, a
full sync at each commit). Each change is timed from its call to its return.

Prints one JSON object: changes per second, the latency's p50, p99 and maximum, and the
machine.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/machine.py, however this file is run

from machine import at_least, machine  # noqa: E402

PROFILES = 200


def _writer(path: str, ids: list[str], threads: int, writes: int, seed: int,
            ready: Any = None) -> tuple[list[float], float, float]:
    """Every change's seconds, from ``threads`` threads of this process, and the wall-clock
    times its changes began and ended; ``ready``: a barrier every process meets once it has
    started and opened the store, so all change at once."""
    from cinerec.serving.store import ProfileStore

    store = ProfileStore(path)
    taken: list[float] = []
    lock = threading.Lock()

    def work(t: int) -> None:
        rng = np.random.default_rng([seed, t])
        mine = []
        for _ in range(writes):
            began = time.perf_counter()
            store.set_ratings(ids[int(rng.integers(len(ids)))], {str(int(rng.integers(1, 1000))): float(rng.integers(1, 6))})
            mine.append(time.perf_counter() - began)
        with lock:
            taken.extend(mine)

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    if ready is not None:
        ready.wait()
    began = time.time()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    ended = time.time()
    store.close_all()
    return taken, began, ended


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=at_least(1), default=48, help="writing threads per process (default: %(default)s)")
    ap.add_argument("--writes", type=at_least(1), default=40, help="changes per thread (default: %(default)s)")
    ap.add_argument("--processes", type=at_least(1), default=1, help="writing processes (default: %(default)s)")
    args = ap.parse_args(argv)
    from cinerec.serving.store import ProfileStore

    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "profiles.sqlite")
        made = ProfileStore(path)
        ids = [made.create() for _ in range(PROFILES)]
        made.close_all()
        if args.processes == 1:
            parts = [_writer(path, ids, args.threads, args.writes, 0)]
        else:
            context = multiprocessing.get_context("spawn")
            with context.Manager() as manager, context.Pool(args.processes) as pool:
                ready = manager.Barrier(args.processes)  # (a process starts in seconds: Python, cinerec's imports)
                parts = pool.starmap(_writer, [(path, ids, args.threads, args.writes, p, ready)
                                               for p in range(args.processes)])
        taken = [s for part, _, _ in parts for s in part]
        took = max(end for _, _, end in parts) - min(began for _, began, _ in parts)
        ms = np.array(taken) * 1000
    out = {"machine": machine(), "processes": args.processes, "threads_per_process": args.threads,
           "changes": len(ms), "changes_per_s": round(len(ms) / took, 1),
           "p50_ms": round(float(np.percentile(ms, 50)), 2), "p99_ms": round(float(np.percentile(ms, 99)), 2),
           "max_ms": round(float(ms.max()), 2)}
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    from cinerec.cli import script_main

    script_main(main)
