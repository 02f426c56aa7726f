"""What a bounded PostgreSQL read costs: the pool's read against the same query run
directly on one connection.

    python benchmarks/bench_pg_read.py --db postgresql://USER@HOST:PORT/DB [--reads 3000] [--repeat 3]

A store or profiles read goes through ``cinerec.serving.pgstore._Pool.fetchall``, which
hands it to the connection's own reading thread and waits for it at most
``QUERY_WAIT_S`` (a server that hangs is then "not answering", not a request held for
good). Both sides run ``SELECT 1`` one after another from one thread, so the difference
is the pool's own cost per read.

Prints one JSON object: microseconds per read, the best and every repeat of each, with
the machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from cinerec.serving.pgstore import _Pool  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/machine.py, however this file is run

from machine import at_least, machine  # noqa: E402


def _per_read_us(read, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        read()
    return round((time.perf_counter() - start) / n * 1e6, 1)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", required=True, help="a postgresql:// URL of a server to read from")
    ap.add_argument("--reads", type=at_least(1), default=3000)
    ap.add_argument("--repeat", type=at_least(1), default=3)
    args = ap.parse_args(argv)
    pool = _Pool(args.db)
    pool.fetchall("SELECT 1")  # the connection and its reading thread, made before timing
    out: dict = {"machine": machine(),
                 "reads": args.reads}
    pooled = [_per_read_us(lambda: pool.fetchall("SELECT 1"), args.reads) for _ in range(args.repeat)]
    with pool.connection() as con:
        direct = [_per_read_us(lambda: con.execute("SELECT 1").fetchall(), args.reads) for _ in range(args.repeat)]
    pool.close()
    out["pool_us"] = {"best": min(pooled), "all": pooled}
    out["direct_us"] = {"best": min(direct), "all": direct}
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    from cinerec.cli import script_main

    script_main(main)
