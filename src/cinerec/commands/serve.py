"""``cinerec serve``: the HTTP API and the web page for one run folder.

Known users are answered from the exported store (``--db``) when it matches the served
model and run, else scored live; new visitors and saved profiles are scored on the
spot. Profiles are kept where ``--profiles`` says, else beside the store
(``X.profiles.sqlite``, or the ``cinerec_profiles`` schema of a PostgreSQL store's
database), else in ``RUN/profiles.sqlite``. Listens on 127.0.0.1 unless told otherwise.
"""

import enum
import os
import socket
import sys
from typing import Annotated, Any

import typer

from cinerec.commands import flags

__all__ = ["serve", "limit_threads", "app_from_environment", "listening_socket"]


class LogLevel(str, enum.Enum):
    critical = "critical"
    error = "error"
    warning = "warning"
    info = "info"
    debug = "debug"


def serve(
    run: flags.RunDir,
    db: Annotated[str | None, typer.Option(
        "--db", metavar="FILE|URL", show_default=False, callback=flags.home,
        help="A store written by cinerec export: a SQLite file or a postgresql:// URL [default: score live].")] = None,
    profiles: Annotated[str | None, typer.Option(
        "--profiles", metavar="FILE|URL", show_default=False, callback=flags.home,
        help="The profiles: a SQLite file or a postgresql:// URL "
             "[default: beside --db, else in the run folder].")] = None,
    run_model: flags.RunModel = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port.")] = 8000,
    threads: Annotated[int, typer.Option(
        "--threads", min=1, max=256, help="Math threads per request (requests run side by side instead).")] = 1,
    workers: Annotated[int, typer.Option(
        "--workers", min=1, max=64, help="Server processes sharing the port, the store and the profiles.")] = 1,
    log_level: Annotated[LogLevel | None, typer.Option(
        "--log-level", show_default=False,
        help="uvicorn's log level [default: info; warning with --quiet].")] = None,
    quiet: flags.Quiet = False,
) -> None:
    """Serve a run's recommendations over HTTP, with a web page.

    Known users are answered from the store (--db) when it matches the served model,
    else scored live. Everything is opened and checked before listening.
    """
    import uvicorn

    from cinerec.data.dataset import synthetic_list_notes
    from cinerec.errors import DataError
    from cinerec.serving.api import create_app

    limit_threads(threads)
    # Everything is opened and checked here, before serving: a bad run or store, or an
    # address that cannot be listened on, is one line. The address first: the app creates
    # the run's profiles file, which a server that never starts should not leave behind.
    sock = listening_socket(host, port)
    try:
        app = create_app(run, db, run_model, profiles)
    except BaseException:
        sock.close()
        raise
    svc = app.state.service
    store = svc.store_state()
    where = f"store {store['path']}" + (f" (stale: {store['stale']}; scoring live)" if store and store["stale"] else "") \
        if store else "no store (scoring live)"
    shown = f"[{host}]" if ":" in host else host
    address = f"http://{shown}:{sock.getsockname()[1]}/"
    if not quiet:
        print(f"serving model {svc.model_name!r} of {svc.run.path} with {where}, profiles in {svc.profiles.path}, "
              f"on {address}", file=sys.stderr, flush=True)
        for note in synthetic_list_notes(svc.run.dataset) + svc.run.model_notes(svc.model_name):
            print(f"note: {note}", file=sys.stderr, flush=True)
    else:  # the address alone: with --port 0 nothing else tells which port was given
        print(address, file=sys.stderr, flush=True)
    # (a level given is kept, --quiet or not: --quiet lowers only the default)
    level = log_level.value if log_level is not None else "warning" if quiet else "info"
    if workers == 1:
        import signal

        server = _server_class()(uvicorn.Config(app, log_level=level, log_config=_log_config(),
                                                timeout_graceful_shutdown=GRACE_SECONDS))
        # A hangup (the terminal closed) stops it as SIGTERM does: it ended the process where
        # it stood, open requests cut and the profiles' SQLite side files left behind.
        hangup = signal.signal(signal.SIGHUP, lambda sig, frame: server.handle_exit(signal.SIGTERM, frame)) \
            if hasattr(signal, "SIGHUP") else None
        try:
            server.run(sockets=[sock])
        finally:  # (the app's shutdown closes them too; a server stopped before it started up has not)
            if hangup is not None:
                signal.signal(signal.SIGHUP, hangup)
            svc.close()
        if server.stopped_by_signal:  # (uvicorn raised it again, into the handler it found: ignored, it
            raise KeyboardInterrupt   # returned here as if nothing had stopped it)
        return
    # Several processes: each builds its own app from the same settings (passed in the
    # environment, which the workers inherit) and they share the listening socket.
    # SQLite profiles queue writers with WAL and a busy timeout; PostgreSQL takes any number.
    # This process only supervises: its check-time connections (the profiles' SQLite
    # with its -wal and -shm files, PostgreSQL's) close now, not at an exit that skips them.
    from cinerec.serving.store import SERVED_PROFILES_ENV, served_profiles_file

    opened = served_profiles_file(svc.profiles)  # (a worker starting after its removal finds it gone)
    svc.close()
    created = str(svc.run.meta.get("created", ""))
    served = svc.model_name  # (chosen once: by --run-model, else the store's, else the run's default)
    del app, svc
    given = {ENV_RUN: str(run), ENV_DB: db or "", ENV_MODEL: served,
             ENV_PROFILES: str(profiles) if profiles is not None else "", ENV_THREADS: str(threads),
             ENV_CREATED: created, ENV_PARENT: str(os.getpid()), SERVED_PROFILES_ENV: opened}
    before = {key: os.environ.get(key) for key in given}
    os.environ.update(given)
    config = uvicorn.Config("cinerec.commands.serve:app_from_environment", factory=True, workers=workers,
                            log_level=level, log_config=_log_config(), timeout_graceful_shutdown=GRACE_SECONDS)
    supervisor = _supervisor_class()(config, sockets=[sock])
    try:
        supervisor.run()
    except KeyboardInterrupt:
        supervisor.stopped_by_signal = True
    finally:  # (for the workers alone: a server started later in this process, or a program it runs, reads none)
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    if supervisor.stopped_by_signal:  # as one process does: "interrupted", exit 130
        raise KeyboardInterrupt
    raise DataError("serve: a worker process could not start (its error is above); the server stopped")


#: How long a stop (Ctrl-C, SIGTERM) waits for the requests still open before it cuts them:
#: a client sending a request body slowly held a stopping server, and ``docker stop``, for as
#: long as it kept the connection open.
GRACE_SECONDS = 10


def _server_class() -> Any:
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's server, noting whether a signal stopped it: it raises the signal
        again once stopped, which does nothing where the signal was ignored when the
        server started (a shell's background job ignores Ctrl-C)."""

        stopped_by_signal = False

        def handle_exit(self, sig: int, frame: Any) -> None:
            self.stopped_by_signal = True
            super().handle_exit(sig, frame)

    return Server


def _supervisor_class() -> Any:
    from uvicorn.supervisors import Multiprocess

    class Supervisor(Multiprocess):
        """uvicorn's supervisor of ``--workers N``, noting whether a signal (Ctrl-C,
        SIGTERM, SIGHUP) stopped it: it also stops, the same way, when a worker cannot start."""

        stopped_by_signal = False

        def handle_int(self) -> None:
            self.stopped_by_signal = True
            super().handle_int()

        def handle_term(self) -> None:
            self.stopped_by_signal = True
            super().handle_term()

        def handle_hup(self) -> None:
            # A hangup (the terminal closed) stops it as SIGTERM does, as it stops one
            # process: uvicorn started the workers again, and served on with no terminal.
            self.handle_term()

    return Supervisor


def _log_config() -> dict[str, Any]:
    """uvicorn's logging, with its access log on stderr too: stdout is for figures only."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    for handler in config["handlers"].values():
        if handler.get("stream") == "ext://sys.stdout":
            handler["stream"] = "ext://sys.stderr"
    return config


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` (port 0: a free one) and listening, as uvicorn would make it.

    Raises:
        ConfigError: one line naming the address, when it is in use, not this machine's
            or not a known host name.
    """
    from cinerec.errors import ConfigError

    if not host.strip():  # bind(("", port)) listens on every interface: never by accident
        raise ConfigError(f"--host {host!r}: give an address (127.0.0.1 for this machine alone, 0.0.0.0 for "
                          "every network interface)")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # TCP named, not left to the kernel (0): asyncio turns Nagle's algorithm off only on
    # connections of a socket that says it is TCP, and with it on every response after the
    # first on a kept-open connection waited some 40 ms for the client's acknowledgement.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:  # socket.gaierror too: an unknown host name
        sock.close()
        raise ConfigError(f"--host {host} --port {port}: cannot listen there: {e.strerror or e}") from None
    # Listening from now on: a client that connects once the address is printed waits in
    # the queue until the server accepts, instead of being refused (uvicorn's own backlog).
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


ENV_RUN, ENV_DB, ENV_MODEL, ENV_PROFILES, ENV_THREADS, ENV_CREATED, ENV_PARENT = (
    "CINEREC_SERVE_RUN", "CINEREC_SERVE_DB", "CINEREC_SERVE_MODEL", "CINEREC_SERVE_PROFILES", "CINEREC_SERVE_THREADS",
    "CINEREC_SERVE_RUN_CREATED",  # (the run.json stamp of the run the server started with)
    "CINEREC_SERVE_PARENT")  # (the process id of the serve command that supervises the workers)


def app_from_environment() -> Any:
    """The app of one ``serve --workers N`` process, from the settings its parent left in the environment."""
    from cinerec.serving.api import create_app

    from uvicorn.config import STARTUP_FAILURE

    from cinerec.errors import CinerecError

    _stop_with(int(os.environ.get(ENV_PARENT) or 0))
    limit_threads(int(os.environ.get(ENV_THREADS, "1")))
    try:
        app = create_app(os.environ[ENV_RUN], os.environ.get(ENV_DB) or None, os.environ.get(ENV_MODEL) or None,
                         os.environ.get(ENV_PROFILES) or None)
    except CinerecError as e:
        # One line, and the exit status that tells uvicorn's supervisor the worker could not
        # start: any other (a traceback's 1) was taken for a death, and the worker started
        # again every few seconds, each time with its traceback, while requests hung.
        print(f"cinerec: error: serve worker: {e}", file=sys.stderr, flush=True)
        sys.exit(STARTUP_FAILURE)
    # A worker uvicorn starts again (one died) reads the run folder as it is now: if it
    # was written again since, this process serves another run than its siblings, and
    # its /health says so.
    app.state.service.started_with = os.environ.get(ENV_CREATED) or None
    return app


def _stop_with(parent: int) -> None:
    """Have this worker sent SIGTERM (a clean stop) when the serve command supervising it
    ends, however it ends (Linux's parent-death signal): killed outright (kill -9, out of
    memory), it left its workers serving on, holding the port. Elsewhere, nothing."""
    if not sys.platform.startswith("linux") or parent <= 0:
        return
    import ctypes
    import signal

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, int(signal.SIGTERM), 0, 0, 0)
    except (OSError, AttributeError):  # (no C library to ask: the workers outlive the server, as uvicorn's do)
        return
    if os.getppid() != parent:  # it ended before the signal was asked for
        os.kill(os.getpid(), signal.SIGTERM)


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
