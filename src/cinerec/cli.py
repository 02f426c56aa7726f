"""The ``cinerec`` command.

Each subcommand lives in ``cinerec.commands.<name>`` with ``add_parser(subparsers)``
that registers it and sets ``func``; ``func(args)`` returns the exit status. Mistakes a
user can make surface as one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

import cinerec
from cinerec.errors import CinerecError

__all__ = ["main", "build_parser"]

COMMANDS = ["data", "quickstart", "export", "serve", "evaluate", "train", "recommend"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cinerec", description="Movie recommendation from ratings logs to served top-N lists.")
    parser.add_argument("--version", action="version", version=f"cinerec {cinerec.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMANDS:
        importlib.import_module(f"cinerec.commands.{name}").add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CinerecError as e:
        print(f"cinerec: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cinerec: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
