"""How long the reasons' later-rating rule for a film under two ids takes
(``cinerec.serving.lists.later_verdicts``), beside the liked matrix it corrects.

    python benchmarks/bench_twins.py [--ratings 10000000] [--repeat 3]

Builds a log of ``--ratings`` distinct (user, movie) ratings over ml-20m's shape
(138,493 users x 26,744 movies, each user's times rising), with every film listed under
two ids (movies 2j and 2j + 1 share a title, a year and genres): the worst case, where
every rating is of a twinned film. ml-100k lists 18 films twice. Times, one thread:

- ``liked_in``: each person's liked movies, the matrix the rule corrects;
- ``later_verdicts``: the rule itself.

Prints one JSON object: the best and every wall time of each, the likes the rule took
back, and the machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from cinerec.data.dataset import Catalog, Dataset, IdMap, Interactions, title_twins  # noqa: E402
from cinerec.data.history import liked_in  # noqa: E402
from cinerec.serving.lists import later_verdicts  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/machine.py, however this file is run

from machine import at_least, machine  # noqa: E402

N_USERS, N_ITEMS = 138_493, 26_744


def twinned_log(ratings: int, seed: int = 0) -> Dataset:
    """``ratings`` distinct ratings (1 to 5 stars) of movies listed two by two as one film."""
    rng = np.random.default_rng(seed)
    keys = np.unique(rng.integers(0, N_USERS * N_ITEMS, ratings, dtype=np.int64))
    users, items = (keys // N_ITEMS).astype(np.int32), (keys % N_ITEMS).astype(np.int32)
    stars = rng.integers(1, 6, len(keys)).astype(np.float32)
    times = np.arange(len(keys), dtype=np.int64)[rng.permutation(len(keys))]
    x = Interactions(users, items, stars, times, N_USERS, N_ITEMS)
    titles = np.array([f"Film {j // 2}" for j in range(N_ITEMS)], dtype=object)
    catalog = Catalog(titles, np.full(N_ITEMS, 1999), ("Drama",), np.ones((N_ITEMS, 1), dtype=bool))
    return Dataset("twinned", x, IdMap(np.arange(N_USERS), "user"), IdMap(np.arange(N_ITEMS)), catalog, None, {})


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ratings", type=at_least(1), default=10_000_000)
    ap.add_argument("--repeat", type=at_least(1), default=3)
    args = ap.parse_args(argv)
    dataset = twinned_log(args.ratings)
    twins = title_twins(dataset)
    assert twins is not None and twins.nnz == N_ITEMS
    out: dict = {"machine": machine(), "ratings": len(dataset.interactions), "films_under_two_ids": N_ITEMS // 2}
    liked = liked_in(dataset)
    for name, run in (("liked_in", lambda: liked_in(dataset)), ("later_verdicts",
                                                                 lambda: later_verdicts(dataset, twins, liked))):
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            got = run()
            times.append(round(time.perf_counter() - start, 4))
        out[name] = {"best_s": min(times), "times_s": times}
    out["likes"], out["likes_taken_back"] = int(liked.nnz), int(liked.nnz - got.nnz)
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    from cinerec.cli import script_main

    script_main(main)
