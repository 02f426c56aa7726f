"""Shared fixtures. Tests never touch the network.

The genuine MovieLens-100K files are read from ``../shared/data/ml-100k`` beside the
project (or ``$CINEREC_ML100K``). In CI (``CINEREC_REQUIRE_REAL_DATA=1``) a missing copy
fails those tests instead of skipping them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ML100K = Path(os.environ.get("CINEREC_ML100K", ROOT.parent / "shared" / "data" / "ml-100k"))


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    """Each test gets its own cache folder, so nothing leaks between tests or to ~/.cache."""
    monkeypatch.setenv("CINEREC_HOME", str(tmp_path_factory.mktemp("cinerec-home")))
    monkeypatch.setenv("CINEREC_OFFLINE", "1")


@pytest.fixture
def ctrl_c():
    """Ctrl-C's own handler for a test that sends itself SIGINT: a test process started in
    the background of a script inherits SIGINT ignored, and would ignore it too."""
    import signal

    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


@pytest.fixture(scope="session")
def ml100k_dir() -> Path:
    if not (ML100K / "u.data").exists():
        msg = f"the real MovieLens-100K files are not at {ML100K}"
        if os.environ.get("CINEREC_REQUIRE_REAL_DATA"):
            pytest.fail(msg)
        pytest.skip(msg)
    return ML100K
