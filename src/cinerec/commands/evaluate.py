"""``cinerec evaluate``: one model, one named protocol, the figures with the protocol beside them.

Examples::

    cinerec evaluate --data ml-100k --model ease --protocol loo-sampled
    cinerec evaluate --data ./ml-100k --model baseline --protocol ratings-fold --fold all
    cinerec evaluate --data ml-100k --model itemknn --protocol random-full --set neighbors=50 --json
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

__all__ = ["add_parser", "run"]


def add_parser(sub: argparse._SubParsersAction) -> None:
    from cinerec.evaluation.protocols import PROTOCOLS

    p = sub.add_parser(
        "evaluate",
        help="fit a model and measure it under a named protocol",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--data", required=True, help="a release name, folder or zip")
    p.add_argument("--model", required=True, help="a registered model name")
    p.add_argument("--protocol", required=True, help=f"one of: {', '.join(PROTOCOLS)} (see docs/protocols.md)")
    p.add_argument("--seed", type=int, default=0, help="split and sampling seed; also the model's seed if it has one")
    p.add_argument("--fold", default=None, help="ratings-fold only: u1..u5 or all (default u1)")
    p.add_argument("--set", dest="set_", action="append", metavar="KEY=VALUE", help="a model config value (repeatable)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cinerec.config import parse_set_options
    from cinerec.data import load
    from cinerec.errors import ConfigError
    from cinerec.evaluation.protocols import get_protocol
    from cinerec.evaluation.report import leaderboard
    from cinerec.models import create

    if args.seed < 0:
        raise ConfigError(f"--seed must be 0 or more, got {args.seed}")
    options: dict[str, Any] = {}
    if args.fold is not None:
        if args.protocol != "ratings-fold":
            raise ConfigError(f"--fold applies to the ratings-fold protocol, not {args.protocol!r}")
        options["fold"] = args.fold
    # Check names and values before the (slow) data load.
    protocol = get_protocol(args.protocol, **options)
    values = parse_set_options(args.set_)
    model = create(args.model, values, where="--set")
    if "seed" in model.config.to_dict() and "seed" not in values:
        model = create(args.model, {**values, "seed": args.seed}, where="--set")
    protocol.check(model)

    dataset = load(args.data)
    print(f"data: {args.data}: {len(dataset.interactions):,} ratings, {dataset.n_users:,} users, "
          f"{dataset.n_items:,} movies; {protocol.describe()}", file=sys.stderr)
    result = protocol.prepare(dataset, seed=args.seed).evaluate(model)
    if args.json:
        out = {"protocol": result.protocol, "model": result.model, "seed": result.seed,
               **result.options, **result.metrics, "n_users": result.n_users,
               "seconds_fit": round(result.seconds_fit, 3), "seconds_eval": round(result.seconds_eval, 3),
               "data": str(args.data)}
        print(json.dumps(out))
    else:
        print(leaderboard([result]))
    return 0
