"""Write a release folder shaped like the NCF study's data, for ``cinerec run studies/ncf-ml25m.toml``.

Usage: ``python benchmarks/ncf_study_data.py --out DIR [--release PATH]``

The study filters the genuine ML-25M to movies released from 2010 on, which leaves 1.87M
ratings, 155,031 users and 5,014 movies. The synthetic ml-25m release (``cinerec data
synthesize --like ml-25m``, seed 0) has later release years than the genuine one, so the
same filter leaves far more of it (14.8M ratings of 35,267 movies). This script keeps
the 5,014 most rated of those movies, then a seeded random 1.87M of their ratings (users
left with none drop out), and writes them in ML-25M's own format (``ratings.csv``,
``movies.csv`` with the published titles). Every movie kept is from 2010 on, so the
study file's year filter then keeps all of it, and the run measures the study's shape.

``--release`` names the synthetic release folder (written first when missing).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
#: Where data the benchmarks make is kept between runs (releases written once, caches):
#: ``benchmarks/out/`` (ignored by git), or the folder ``CINEREC_BENCH_OUT`` names.
OUT = Path(os.environ.get("CINEREC_BENCH_OUT") or HERE / "out")
sys.path.insert(0, str(HERE.parent / "src"))

STUDY_MOVIES = 5_014
STUDY_RATINGS = 1_870_000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="the folder to write the study's data into")
    parser.add_argument("--release", type=Path, default=OUT / "synthetic-ml-25m-scale1-seed0",
                        help="an ML-25M release to read; a folder that does not exist, or is empty, is first made "
                             "into a synthetic one, full size (minutes, about 700 MB)")
    args = parser.parse_args(argv)

    from cinerec.data import load
    from cinerec.data.synthetic import LABEL, write_release
    from cinerec.data.transforms import filter_years, top_items

    from cinerec.io import atomic_path

    if args.out.exists() and not args.out.is_dir():
        parser.error(f"--out {args.out}: a file, not a folder")
    others = sorted(f.name for f in args.out.iterdir() if f.name not in ("ratings.csv", "movies.csv", LABEL)) \
        if args.out.is_dir() else []
    if others:  # (it holds only this script's two files when it wrote there before)
        parser.error(f"--out {args.out}: holds {others[0]!r}, so it is not a folder this script wrote; "
                     "give a new or empty folder")
    if not (args.release / "ratings.csv").exists():
        if args.release.exists() and (not args.release.is_dir() or any(args.release.iterdir())):
            parser.error(f"--release {args.release}: holds no ratings.csv; give a release folder, or a new "
                         "folder to write the synthetic ml-25m release into")
        print(f"writing the synthetic ml-25m release to {args.release} first (minutes)", file=sys.stderr)
        write_release(args.release, "ml-25m", 1.0, 0)
    ds = top_items(filter_years(load(args.release, release="ml-25m"), min_year=2010), STUDY_MOVIES)
    rng = np.random.default_rng(0)
    keep = np.zeros(len(ds.interactions), dtype=bool)
    keep[rng.choice(len(keep), size=min(STUDY_RATINGS, len(keep)), replace=False)] = True
    ds = ds.subset(keep)
    x = ds.interactions
    ratings = pd.DataFrame({"userId": ds.user_ids.to_raw(x.users), "movieId": ds.item_ids.to_raw(x.items),
                            "rating": x.ratings, "timestamp": x.timestamps})
    ratings = ratings.sort_values(["userId", "timestamp"], kind="stable")
    movies = pd.read_csv(args.release / "movies.csv", dtype={"movieId": np.int64, "title": str, "genres": str},
                         keep_default_na=False)
    movies = movies[movies["movieId"].isin(ds.item_ids.raw)]
    args.out.mkdir(parents=True, exist_ok=True)
    # Each file whole or not at all, the ratings last: a run killed while writing leaves no
    # half a file, and no ratings.csv that would read as a finished release.
    label = _label(args.release)
    if label is not None:  # made from a synthetic release: marked as one, as cinerec says wherever it is used
        with atomic_path(args.out / LABEL) as tmp:
            tmp.write_text(label)
    else:  # (written here before from a synthetic release: real data now)
        (args.out / LABEL).unlink(missing_ok=True)
    with atomic_path(args.out / "movies.csv") as tmp:
        movies.to_csv(tmp, index=False)
    with atomic_path(args.out / "ratings.csv") as tmp:
        ratings.to_csv(tmp, index=False, float_format="%.1f")
    print(f"{args.out}: {len(ratings):,} ratings, {ds.n_users:,} users, {ds.n_items:,} movies")
    return 0


def _label(release: Path) -> str | None:
    """The words of ``SYNTHETIC.txt`` for data made from ``release`` when it is a synthetic
    one (its own label, said to be cut to the study's shape), else None."""
    import json

    from cinerec.data.movielens import synthetic_like
    from cinerec.data.synthetic import LABEL, MARKER, label_text

    like = synthetic_like(release)
    if like is None:
        return None
    if (release / LABEL).is_file():
        text = (release / LABEL).read_text(encoding="utf-8")
    else:  # (a release written before the label existed: its hidden marker alone)
        meta = json.loads((release / MARKER).read_text())
        text = label_text(like, float(meta.get("scale", 1.0)), int(meta.get("seed", 0)))
    return text.rstrip("\n") + "\ncut to the NCF study's shape by benchmarks/ncf_study_data.py\n"


if __name__ == "__main__":
    from cinerec.cli import script_main

    script_main(main)
