"""How long the evaluation's check of a block of scores (no NaN, no +inf) takes.

    python benchmarks/bench_score_check.py [--users 2048] [--items 1682 12000 59047] [--repeat 5]

``cinerec.evaluation.protocols._check_numbers`` looks at every block of scores a
full-catalogue protocol ranks (2,048 users at a time). It is timed here on random float32
blocks beside the two-pass float64 check it replaced (a copy, then ``isnan`` and
``isposinf``), and beside ``np.argpartition`` of the same block for the top 10, the
ranking work it guards, one thread.

Prints one JSON object: the best wall time of each, per catalogue size, with the machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from cinerec.evaluation.protocols import _check_numbers  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/machine.py, however this file is run

from machine import at_least, machine  # noqa: E402


def _two_pass(scores: np.ndarray) -> bool:
    values = np.asarray(scores, dtype=np.float64)
    return bool(np.isnan(values).any() or np.isposinf(values).any())


def _best(fn, block: np.ndarray, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn(block)
        times.append(time.perf_counter() - start)
    return round(min(times), 5)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=at_least(1), default=2048)
    ap.add_argument("--items", type=at_least(1), nargs="+", default=[1682, 12_000, 59_047])
    ap.add_argument("--repeat", type=at_least(1), default=5)
    args = ap.parse_args(argv)
    model = SimpleNamespace(name="bench")
    rng = np.random.default_rng(0)
    rows = []
    for n in args.items:
        block = rng.standard_normal((args.users, n), dtype=np.float32)
        rows.append({"users": args.users, "items": n,
                     "check_s": _best(lambda b: _check_numbers(model, b), block, args.repeat),  # type: ignore[arg-type]
                     "two_pass_float64_s": _best(_two_pass, block, args.repeat),
                     "argpartition_top10_s": _best(lambda b: np.argpartition(-b, 10, axis=1), block, args.repeat)})
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    print(json.dumps({"blocks": rows, "machine": machine()}))
    return 0


if __name__ == "__main__":
    from cinerec.cli import script_main

    script_main(main)
