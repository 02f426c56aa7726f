"""Fixtures for the serving tests: a real ml-100k run folder, its store, a live server."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from cinerec.runs import finish_run, open_run, save_dataset, save_model

# EASE scores histories itself; popularity cannot, so it exercises the fallback.
RUN_MODELS = ("ease", "popularity")


def build_run(run_dir: Path, ml100k_dir: Path, models: tuple[str, ...] = RUN_MODELS) -> Path:
    from cinerec.data import load
    from cinerec.models import create

    dataset = load(ml100k_dir)
    for name in models:
        save_model(run_dir, create(name).fit(dataset.interactions))
    save_dataset(run_dir, dataset)
    finish_run(run_dir, meta={"source": "ml-100k", "best_model": models[0]})
    return run_dir


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory, ml100k_dir) -> Path:
    return build_run(tmp_path_factory.mktemp("run") / "run", ml100k_dir)


@pytest.fixture(scope="session")
def run(run_dir):
    return open_run(run_dir)


@pytest.fixture(scope="session")
def store_path(tmp_path_factory, run_dir) -> Path:
    from cinerec.serving.store import export_store

    db = tmp_path_factory.mktemp("store") / "recs.sqlite"
    export_store(run_dir, db, k=20, progress=False)
    return db


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def served_db(request, run_dir, store_path):
    """The store the API tests run against: the SQLite file, then the same export in PostgreSQL."""
    if request.param == "sqlite":
        return store_path
    from cinerec.serving.store import export_store

    url = request.getfixturevalue("pg_url")
    export_store(run_dir, url, k=20, progress=False)
    return url


@pytest.fixture(scope="session")
def app(run_dir, served_db):
    from cinerec.serving.api import create_app

    return create_app(run_dir, served_db)


@pytest.fixture(scope="session")
def client(app):
    from fastapi.testclient import TestClient

    with TestClient(app) as c:
        yield c


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """A real uvicorn server on a free loopback port, in a background thread."""

    def __init__(self, app) -> None:
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> "LiveServer":
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def live_server(run_dir, tmp_path):
    """A fresh app (own profiles file) behind a real server."""
    from cinerec.serving.api import create_app

    app = create_app(run_dir, profiles=tmp_path / "profiles.sqlite")
    with LiveServer(app) as server:
        yield server


def popular_movie_ids(run, n: int) -> list[int]:
    ds = run.dataset
    order = np.argsort(-ds.interactions.item_counts, kind="stable")[:n]
    return [int(m) for m in ds.item_ids.raw[order]]


# -- a private PostgreSQL server ---------------------------------------------------------------


def _pg_bin() -> Path | None:
    import shutil

    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return versions[-1].parent if versions else None


@pytest.fixture(scope="session")
def pg_url():
    """A throwaway PostgreSQL server on a free loopback port, for the whole test session.

    Debian's ``postgresql`` package provides the binaries (``make test`` installs it).
    Without them the PostgreSQL tests are skipped, except where
    ``CINEREC_REQUIRE_POSTGRES=1`` (CI) makes that a failure.
    """
    import os
    import subprocess

    bin_dir = _pg_bin()
    if bin_dir is None:
        if os.environ.get("CINEREC_REQUIRE_POSTGRES"):
            pytest.fail("PostgreSQL's initdb was not found; install Debian's postgresql package")
        pytest.skip("PostgreSQL is not installed (Debian's postgresql package)")
    import shutil
    import tempfile

    # Not under pytest's own temporary folder: that one is private to this user, and the
    # server runs as another user when the tests run as root (it refuses to run as root).
    root = Path(tempfile.mkdtemp(prefix="cinerec-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        run_as = ["runuser", "-u", "postgres", "--"]
    data = root / "data"
    port = free_port()
    subprocess.run([*run_as, str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "cinerec", "-E", "UTF8"],
                   check=True, capture_output=True)
    subprocess.run([*run_as, str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w", "start", "-o",
                    f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"],
                   check=True, capture_output=True)
    try:
        import psycopg

        with psycopg.connect(f"postgresql://cinerec@127.0.0.1:{port}/postgres", autocommit=True) as con:
            con.execute("CREATE DATABASE cinerec_test")
        yield f"postgresql://cinerec@127.0.0.1:{port}/cinerec_test"
    finally:
        subprocess.run([*run_as, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
