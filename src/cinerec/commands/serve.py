"""``cinerec serve``: the HTTP API and the web page for one run folder.

Known users are answered from the exported store (``--db``) when it matches the served
model and run, else scored live; new visitors and saved profiles are scored on the
spot. Profiles are kept in ``X.profiles.sqlite`` beside the store (or
``RUN/profiles.sqlite`` without one). Listens on 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["add_parser", "run", "limit_threads"]


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve",
        help="serve recommendations over HTTP, with a web page, from a run folder",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--run", required=True, help="a run folder (e.g. from `cinerec quickstart`)")
    p.add_argument("--db", default=None, help="a store written by `cinerec export` (default: score live)")
    p.add_argument("--profiles", default=None, help="the profiles file (default: beside --db, else in the run folder)")
    p.add_argument("--model", default=None, help="which of the run's models (default: the run's best)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    p.add_argument("--port", type=int, default=8000, help="port (default: %(default)s)")
    p.add_argument("--threads", type=int, default=1,
                   help="math threads per request (default: %(default)s; requests run side by side instead)")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    p.set_defaults(func=run)


def limit_threads(n: int) -> None:
    """Cap torch and BLAS thread pools of this process at ``n``.

    One request's math is small (a row of scores, a top-k); spreading it over threads
    costs more in hand-offs than it saves, and on a busy machine idle-spinning workers
    double the latency. Called by the serve command only, never by library code.
    """
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(n)
    threadpool_limits(n)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from cinerec.errors import ConfigError
    from cinerec.serving.api import create_app

    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port {args.port}: must be between 0 and 65535")
    if args.threads < 1:
        raise ConfigError(f"--threads {args.threads}: must be at least 1")
    limit_threads(args.threads)
    # Everything is opened and checked here, before listening: a bad run or store is one line.
    app = create_app(args.run, args.db, args.model, args.profiles)
    svc = app.state.service
    store = svc.store_state()
    where = f"store {store['path']}" + (f" (stale: {store['stale']}; scoring live)" if store and store["stale"] else "") \
        if store else "no store (scoring live)"
    print(f"serving model {svc.model_name!r} of {svc.run.path} with {where} on http://{args.host}:{args.port}/",
          file=sys.stderr, flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return 0
