"""How long seqknn (or item-kNN) takes to fit and to list every user's top-10, and its peak memory.

Fits ``seqknn`` (or ``--model itemknn``; default settings) on all of a release's ratings,
then asks for every user's top-10 unseen movies, each ``--repeats`` times; prints one
JSON object with the median seconds of each, the similarity's size and the process's
peak resident memory (and what it was once the data was read, before any fit), beside
the machine's CPU count and load. Give one source a process for a peak of its own.

Usage::

    python benchmarks/bench_seqknn.py PATH/TO/ml-100k [PATH/TO/ml-1m-like ...] [--repeats 3] [--model itemknn]

(``cinerec data synthesize --like ml-1m --out DIR`` writes an ml-1m-shaped release.)
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from cinerec.data import load
from cinerec.models import create

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/machine.py, however this file is run

from machine import at_least, machine  # noqa: E402


def bench(source: str, repeats: int, name: str = "seqknn") -> dict:
    data = load(source).interactions
    loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    fits, lists = [], []
    model = None
    for _ in range(repeats):
        t = time.perf_counter()
        model = create(name).fit(data)
        fits.append(time.perf_counter() - t)
        t = time.perf_counter()
        model.recommend(np.arange(data.n_users), 10)
        lists.append(time.perf_counter() - t)
    assert model is not None
    return {"source": source, "model": name, "ratings": len(data), "users": data.n_users, "movies": data.n_items,
            "fit_s": round(statistics.median(fits), 2), "top10_all_users_s": round(statistics.median(lists), 2),
            "similarity_entries": int(model.similarity_.nnz),
            "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
            "peak_rss_after_load_gib": round(loaded, 2)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("sources", nargs="+", help="release folders (or names) to load")
    p.add_argument("--repeats", type=at_least(1), default=3)
    p.add_argument("--model", choices=("seqknn", "itemknn"), default="seqknn")
    args = p.parse_args()
    if args.repeats < 1:
        p.error("--repeats: must be at least 1")
    out = {"runs": [bench(s, args.repeats, args.model) for s in args.sources],
           "machine": machine()}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    from cinerec.cli import script_main

    script_main(main)
