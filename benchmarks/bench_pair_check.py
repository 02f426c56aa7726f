"""How long the MovieLens reader's check for a (user, movie) pair held twice takes.

    python benchmarks/bench_pair_check.py [--rows 25000000] [--repeat 3]

Builds ml-25m-sized id columns (162,541 users x 59,047 movies, distinct pairs) in two
row orders and times ``cinerec.data.movielens._pair_again`` on each, one thread:

- ``by_pair``: rows by user, then by movie, as ml-10m and the CSV releases list them
  (the one-pass check);
- ``by_user``: rows by user, movies in no order within a user, as ml-1m lists them (the
  sorted check), on the first million rows (ml-1m's size).

Prints one JSON object: the best and every wall time of each, with the machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from cinerec.data.movielens import _pair_again  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/machine.py, however this file is run

from machine import machine  # noqa: E402

N_USERS, N_ITEMS = 162_541, 59_047


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=25_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    for flag, value in (("--rows", args.rows), ("--repeat", args.repeat)):
        if value < 1:
            ap.error(f"{flag} {value}: must be at least 1")
    rng = np.random.default_rng(0)
    keys = np.unique(rng.integers(0, N_USERS * N_ITEMS, args.rows, dtype=np.int64))  # sorted, distinct pairs
    users, items = (keys // N_ITEMS).astype(np.int32), (keys % N_ITEMS).astype(np.int32)
    head = min(len(keys), 1_000_000)
    shuffled = items[:head][np.lexsort((rng.random(head), users[:head]))]  # by user, movies in no order
    cases = {"by_pair": (users, items), "by_user": (users[:head], shuffled)}
    out: dict = {"machine": machine()}
    for name, (u, i) in cases.items():
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            found = _pair_again(u, i, N_ITEMS)
            times.append(round(time.perf_counter() - start, 4))
        assert found is None
        out[name] = {"rows": len(u), "best_s": min(times), "times_s": times}
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    from cinerec.cli import script_main

    script_main(main)
