"""``cinerec recommend``: top movies for one person from a run folder, each with a reason.

Examples::

    cinerec recommend --run runs/neumf --user 196
    cinerec recommend --run runs/neumf --user 196 -k 5 --model neumf --json

Movies the person has rated (anywhere in the run's data) are never recommended. The
reason names the movie the person liked that is most like the recommended one
(``cinerec.serving.lists``: the same lists and reasons as the store and the API).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["add_parser", "run", "recommend_for"]

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
    """The top-``k`` unseen movies of raw user id ``user``, each with its reason.

    Returns:
        One dict per movie, best first: ``movie_id`` (raw), ``title``, ``year``,
        ``genres``, ``score``, ``reason`` and ``reason_movie_id``.
    """
    from cinerec.errors import ConfigError, DataError
    from cinerec.runs import open_run
    from cinerec.serving.lists import Lists

    if k < 1:
        raise ConfigError(f"-k must be at least 1, got {k}")
    run = open_run(run_dir)
    try:
        lists = Lists(run.dataset, run.model(model_name))
    except DataError as e:
        raise DataError(f"{run_dir}: {e}") from None
    u = lists.user_index(user)
    items, scores, reasons = lists.for_users([u], k)
    return lists.records(items[0], scores[0], reasons[0])


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
        reason = f" - {r['reason']}"
        print(f"{rank:>2}. {r['title']}{year} [{genres}] score {r['score']:.3f}{reason}")
    return 0


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
