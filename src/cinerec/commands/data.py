"""``cinerec data``: fetch a MovieLens release, describe a source, write a synthetic release.

    cinerec data fetch ml-100k
    cinerec data info ml-100k --json
    cinerec data synthesize --like ml-25m --scale 0.1 --seed 3 --out data/ml-25m-small
"""

from __future__ import annotations

import argparse
import json
import sys

__all__ = ["add_parser"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("data", help="fetch, describe or synthesize MovieLens data")
    sub = p.add_subparsers(dest="data_command", metavar="ACTION")
    sub.required = True

    f = sub.add_parser("fetch", help="download a release into the cache (verified), or unpack a local zip")
    f.add_argument("source", help="a release name (ml-100k, ml-1m, ml-10m, ml-20m, ml-25m, ml-32m, ml-latest-small) or a zip")
    f.add_argument("--base-url", default=None, help="where <release>.zip is served (default: GroupLens)")
    f.add_argument("--quiet", action="store_true", help="no progress bar")
    f.set_defaults(func=_fetch)

    i = sub.add_parser("info", help="counts and time range of a release, folder or zip")
    i.add_argument("source", help="a release name, a folder or an official zip")
    i.add_argument("--release", default=None, help="which release the folder holds, when its name does not say")
    i.add_argument("--implicit", action="store_true", help="read every rating as 1.0")
    i.add_argument("--json", action="store_true", help="print JSON")
    i.set_defaults(func=_info)

    s = sub.add_parser("synthesize", help="write a synthetic release in a real release's file formats")
    s.add_argument("--like", required=True, help="the release to imitate, e.g. ml-100k or ml-25m")
    s.add_argument("--scale", type=float, default=1.0, help="size relative to the real release (default 1.0)")
    s.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    s.add_argument("--out", required=True, help="folder to write (replaced if it exists)")
    s.add_argument("--crlf", action="store_true", help="Windows line endings")
    s.set_defaults(func=_synthesize)


def _fetch(args: argparse.Namespace) -> int:
    from pathlib import Path

    from cinerec.data import download
    from cinerec.data.movielens import locate

    if Path(args.source).exists():
        folder = locate(args.source)[0]
    else:
        folder = download.fetch(args.source, base_url=args.base_url, progress=not args.quiet)
    print(folder)
    return 0


def _info(args: argparse.Namespace) -> int:
    from cinerec.data import load

    dataset = load(args.source, release=args.release, implicit=args.implicit, progress=True)
    facts = dataset.describe()
    facts["release"] = dataset.info.get("release")
    facts["source"] = dataset.info.get("source")
    if args.json:
        print(json.dumps(facts, indent=2))
        return 0
    width = max(len(k) for k in facts)
    for key, value in facts.items():
        if key == "density":
            value = f"{value:.4%}"
        elif isinstance(value, list):
            value = ", ".join(map(str, value)) or "-"
        print(f"{key:<{width}}  {value}")
    return 0


def _synthesize(args: argparse.Namespace) -> int:
    from cinerec.data.synthetic import SHAPES, write_release
    from cinerec.errors import ConfigError, NotFoundError

    if args.like not in SHAPES:
        raise NotFoundError(f"unknown MovieLens release {args.like!r}; known: {', '.join(SHAPES)}")
    if not args.scale > 0:
        raise ConfigError(f"--scale must be positive, got {args.scale}")
    out = write_release(args.out, args.like, args.scale, args.seed, crlf=args.crlf)
    print(out)
    print(f"wrote a synthetic {args.like} (scale {args.scale:g}, seed {args.seed}) to {out}", file=sys.stderr)
    return 0
