"""``cinerec recommend``: top movies for one person from a run folder, each with a reason.

Examples::

    cinerec recommend --run runs/neumf --user 196
    cinerec recommend --run runs/neumf --user 196 -k 5 --model neumf --json

Movies the person has rated (anywhere in the run's data) are never recommended. The
reason names the movie the person liked that is most like the recommended one.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["add_parser", "run", "recommend_for"]

#: Stars from which a rating counts as "liked" when explaining (fallback: any rating).
LIKED = 4.0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "recommend",
        help="recommend unseen movies to one user of a run, with reasons",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--run", required=True, type=Path, help="a run folder written by cinerec train or quickstart")
    p.add_argument("--user", required=True, help="the user's raw id, as in the data")
    p.add_argument("-k", type=int, default=10, help="how many movies (default 10)")
    p.add_argument("--model", default=None, help="which model of the run (default: the run's best)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=run)


def recommend_for(run_dir: Path, user: Any, k: int = 10, model_name: str | None = None) -> list[dict[str, Any]]:
    """The top-``k`` unseen movies of raw user id ``user``.

    Returns:
        One dict per movie, best first: ``movie_id`` (raw), ``title``, ``year``,
        ``genres``, ``score`` and ``reason``.
    """
    from cinerec.errors import ConfigError, NotFoundError
    from cinerec.runs import open_run

    if k < 1:
        raise ConfigError(f"-k must be at least 1, got {k}")
    run = open_run(run_dir)
    ds = run.dataset
    u = ds.user_ids.get(user)
    if u is None:
        raise NotFoundError(f"unknown user id {user!r} in {run_dir} (its data has {ds.n_users:,} users)")
    model = run.model(model_name)
    if (model.n_users, model.n_items) != (ds.n_users, ds.n_items):
        raise NotFoundError(f"{run_dir}: model {model.name!r} was fitted on another id space than the run's data")
    rated = ds.interactions.csr[[u]]
    items, scores = model.recommend([u], k, exclude=ds.interactions.seen)
    liked = rated.multiply(rated >= LIKED).tocsr()
    liked.eliminate_zeros()
    why = model.explain(liked if liked.nnz else rated, items)
    out = []
    for item, score, reason in zip(items[0], scores[0], why[0]):
        if item < 0:
            continue
        rec = ds.movie_record(int(item))
        rec["score"] = float(score)
        rec["reason"] = f"because you liked {ds.catalog.titles[reason]}" if reason >= 0 else None
        out.append(rec)
    return out


def run(args: argparse.Namespace) -> int:
    recs = recommend_for(args.run, args.user, args.k, args.model)
    if args.json:
        print(json.dumps(recs, indent=2, default=_plain))
        return 0
    if not recs:
        print(f"no unseen movie left to recommend to user {args.user}")
        return 0
    for rank, r in enumerate(recs, 1):
        year = f" ({r['year']})" if r["year"] else ""
        genres = ", ".join(r["genres"])
        reason = f" - {r['reason']}" if r["reason"] else ""
        print(f"{rank:>2}. {r['title']}{year} [{genres}] score {r['score']:.3f}{reason}")
    return 0


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
