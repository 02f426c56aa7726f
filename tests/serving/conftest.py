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


@pytest.fixture(scope="session")
def app(run_dir, store_path):
    from cinerec.serving.api import create_app

    return create_app(run_dir, store_path)


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
