"""``cinerec export``: every user's top-K, with reasons, into one SQLite file.

The store holds the catalog (with search keys), both id maps, each user's top-K unseen
movies with scores and reasons, and which run, model and time produced it. It is
written under a temporary name and swapped in atomically, replacing an earlier store;
saved profiles live in their own file beside it (``X.profiles.sqlite``), which the
export never touches.
"""

from __future__ import annotations

import argparse
import sys
import time

__all__ = ["add_parser", "run"]


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="write every user's top-K recommendations into a SQLite store for serving",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--run", required=True, help="a run folder (e.g. from `cinerec quickstart`)")
    p.add_argument("--db", required=True, help="the SQLite file to write (replaced atomically)")
    p.add_argument("-k", type=int, default=50, help="recommendations per user (default: %(default)s)")
    p.add_argument("--model", default=None, help="which of the run's models (default: the run's best)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cinerec.errors import ConfigError
    from cinerec.serving.store import export_store

    if not 1 <= args.k <= 1000:
        raise ConfigError(f"-k {args.k}: must be between 1 and 1000")
    start = time.perf_counter()
    info = export_store(args.run, args.db, k=args.k, model=args.model, progress=not args.no_progress)
    took = time.perf_counter() - start
    print(f"wrote {info.path}: top-{info.k} of {info.n_users} users over {info.n_items} movies "
          f"from model {info.model!r} in {took:.1f} s", file=sys.stderr)
    return 0
