"""``cinerec serve --workers N``: several real server processes over one store and one
profiles database, as a deployment behind a port would run them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from pathlib import Path

import httpx
import pytest

from cinerec.serving.store import export_store

from .conftest import free_port


def _start(argv: list[str], preexec_fn=None) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "cinerec", "serve", *argv, "--port", str(port), "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ}, preexec_fn=preexec_fn)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"serve exited: {proc.stderr.read().decode()[-500:]}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("serve did not start")


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_two_workers_share_store_and_profiles_and_lose_no_write(run_dir, tmp_path, request, backend):
    if backend == "postgres":
        db = request.getfixturevalue("pg_url")
        export_store(run_dir, db, k=10, progress=False)
    else:
        db = str(tmp_path / "recs.sqlite")
        export_store(run_dir, db, k=10, progress=False)
    proc, url = _start(["--run", str(run_dir), "--db", db, "--workers", "2"])
    try:
        with httpx.Client(base_url=url, timeout=30) as c:
            assert c.get("/users/1/recommendations", params={"k": 5}).json()["source"] == "store"
            pid = c.post("/profiles").json()["profile_id"]
        movies = [str(m) for m in range(1, 121)]

        def rate(m: str) -> int:
            with httpx.Client(base_url=url, timeout=60) as c:
                return c.put(f"/profiles/{pid}/ratings", json={"ratings": {m: 4}}).status_code

        with ThreadPoolExecutor(16) as pool:
            codes = list(pool.map(rate, movies))
        assert codes == [200] * len(movies)
        with httpx.Client(base_url=url, timeout=30) as c:
            saved = c.get(f"/profiles/{pid}").json()["ratings"]
            pids = {c.get("/health").json()["profiles"] for _ in range(6)}
        assert set(saved) == set(movies)  # every write, whichever worker took it
        assert len(pids) == 1
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.slow
@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_stopped_server_says_interrupted_and_exits_130(run_dir, workers):
    """With --workers 2 a Ctrl-C or SIGTERM ended the server with exit 0 and no word,
    where one process says "interrupted" and exits 130, as the README promises."""
    import signal

    # A hangup (the terminal closed) too: it killed one process where it stood, and made
    # several start their workers again and serve on.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        proc, _ = _start(["--run", str(run_dir), "--workers", workers])
        proc.send_signal(sig)
        try:
            code = proc.wait(timeout=60)
        finally:
            proc.kill()
        err = proc.stderr.read().decode()
        assert code == 130 and "cinerec: interrupted" in err, (sig, code, err[-500:])


@pytest.mark.slow
@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_client_sending_its_body_slowly_does_not_hold_a_stopping_server(run_dir, workers):
    """A request body still arriving held a SIGTERM'd server (and docker stop) for as long
    as its client kept the connection open; with --workers 2 past every further signal.
    Now the stop waits GRACE_SECONDS, then answers that request 503 and exits 130."""
    import signal
    import socket

    from cinerec.commands.serve import GRACE_SECONDS

    proc, url = _start(["--run", str(run_dir), "--workers", workers])
    held = socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])))
    try:
        held.sendall(b"POST /profiles HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100\r\n\r\n{\"liked\"")
        time.sleep(0.5)
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=GRACE_SECONDS + 30)
        finally:
            proc.kill()
        took = time.monotonic() - started
        held.settimeout(5)
        answer = held.recv(4096).decode()
    finally:
        held.close()
    err = proc.stderr.read().decode()
    assert code == 130 and "cinerec: interrupted" in err and took < GRACE_SECONDS + 20, (code, took, err[-500:])
    assert answer.startswith("HTTP/1.1 503 ") and "nothing was done: send it again" in answer, answer
    assert "Traceback" not in err, err[-2000:]


@pytest.mark.slow
def test_a_server_started_with_ctrl_c_ignored_still_says_interrupted(run_dir):
    """A shell runs a background job with SIGINT ignored; uvicorn catches the signal all the
    same and stops, then raised it again into that ignore: exit 0 and no word."""
    import signal

    proc, _ = _start(["--run", str(run_dir)], preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    proc.send_signal(signal.SIGINT)
    try:
        code = proc.wait(timeout=60)
    finally:
        proc.kill()
    err = proc.stderr.read().decode()
    assert code == 130 and "cinerec: interrupted" in err, (code, err[-500:])


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")
def test_workers_stop_when_their_server_is_killed_outright(run_dir):
    """kill -9 of `serve --workers 2` left both workers serving, holding the port for good."""
    import signal

    proc, url = _start(["--run", str(run_dir), "--workers", "2"])
    children = [int(c) for c in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()]
    workers = [c for c in children if "cinerec" in Path(f"/proc/{c}/cmdline").read_bytes().decode(errors="replace")
               or "multiprocessing" in Path(f"/proc/{c}/cmdline").read_bytes().decode(errors="replace")]
    assert workers
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(Path(f"/proc/{w}").exists() and
                                               "Z" not in Path(f"/proc/{w}/stat").read_text().split()[2]
                                               for w in workers):
        time.sleep(0.2)
    alive = [w for w in workers if Path(f"/proc/{w}").exists()
             and Path(f"/proc/{w}/stat").read_text().split()[2] != "Z"]
    for w in alive:
        os.kill(w, signal.SIGKILL)
    assert not alive
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{url}/health", timeout=2)


@pytest.mark.slow
def test_a_stopped_server_of_several_workers_leaves_no_sqlite_side_files(run_dir, tmp_path):
    # The supervising process kept the profiles it opened to check them: -wal and -shm
    # stayed beside them after every stop.
    import signal

    profiles = tmp_path / "profiles.sqlite"
    proc, url = _start(["--run", str(run_dir), "--profiles", str(profiles), "--workers", "2"])
    try:
        assert httpx.post(f"{url}/profiles", json={"liked": [50]}, timeout=30).status_code == 201
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 130
    finally:
        proc.kill()
    assert profiles.is_file() and not list(tmp_path.glob("profiles.sqlite-*"))


def test_threads_past_any_machine_are_refused_in_one_line(run_dir, capsys):
    # 99999999999 ended in torch's "Overflow when unpacking long" traceback; 100000 in a
    # line about running out of memory that named model settings.
    from cinerec.cli import main

    assert main(["serve", "--run", str(run_dir), "--threads", "99999999999"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--threads" in err and "256" in err


def test_serve_logs_on_stderr_and_leaves_stdout_to_figures(run_dir):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "cinerec", "serve", "--run", str(run_dir), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ})
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    assert out == b""
    assert b"GET /health" in err and f"http://127.0.0.1:{port}/".encode() in err


def test_a_run_on_a_synthetic_release_is_said_so_at_start_and_in_health(tmp_path):
    # Its made-up movies were served without a word, where every figure of it carries the note.
    from cinerec.cli import main
    from cinerec.data.synthetic import write_release

    data = write_release(tmp_path / "syn", "ml-100k", 0.02, seed=3)
    assert main(["train", "--data", str(data), "--model", "popularity", "--out", str(tmp_path / "run"), "-q"]) == 0
    proc = subprocess.Popen([sys.executable, "-m", "cinerec", "serve", "--run", str(tmp_path / "run"), "--port", "0"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ})
    try:
        import select

        assert select.select([proc.stderr], [], [], 60)[0], "serve said nothing in 60 s"
        first = proc.stderr.readline().decode()
        address = first.rsplit(" on ", 1)[1].strip()
        assert proc.stderr.readline().decode() == ("note: the run's data is a synthetic release shaped like "
                                                   "ml-100k (cinerec data synthesize): its movies, people and lists "
                                                   "are made up\n")
        assert httpx.get(f"{address}health", timeout=60).json()["synthetic"] is True
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_quiet_serve_on_port_0_still_says_its_address(run_dir):
    proc = subprocess.Popen([sys.executable, "-m", "cinerec", "serve", "--run", str(run_dir), "--port", "0",
                             "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ})
    try:
        import select

        assert select.select([proc.stderr], [], [], 60)[0], "serve --quiet said nothing in 60 s"
        line = proc.stderr.readline().decode().strip()  # the address alone: the port the system gave
        assert line.startswith("http://127.0.0.1:") and line.endswith("/") and not line.endswith(":0/")
        # Once the address is said, a request is answered at once: it was refused for up
        # to a fraction of a second, the socket bound but not yet listening.
        assert httpx.get(f"{line}health", timeout=60).status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_the_socket_serve_prints_the_address_of_already_listens():
    # It was bound but not listening until uvicorn started: a client connecting as soon
    # as the address was printed was refused.
    import socket

    from cinerec.commands.serve import listening_socket

    sock = listening_socket("127.0.0.1", 0)
    try:
        with socket.create_connection(sock.getsockname()[:2], timeout=5):
            pass
    finally:
        sock.close()


def test_the_connections_serve_accepts_send_each_response_at_once():
    # The socket did not say it was TCP, so the event loop left Nagle's algorithm on for
    # its connections: every response after the first on a kept-open connection waited
    # some 40 ms for the client's acknowledgement.
    import asyncio
    import socket

    from cinerec.commands.serve import listening_socket

    async def accept_one() -> int:
        said: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        def served(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            said.set_result(writer.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        sock = listening_socket("127.0.0.1", 0)
        server = await asyncio.start_server(served, sock=sock)  # (as uvicorn serves it)
        try:
            _, writer = await asyncio.open_connection(*sock.getsockname()[:2])
            nodelay = await asyncio.wait_for(said, 10)
            writer.close()
            return nodelay
        finally:
            server.close()

    assert asyncio.run(accept_one()) != 0


def test_a_log_level_given_is_kept_under_quiet(run_dir, tmp_path):
    # --quiet lowered an explicit --log-level info to warning: no request was logged.
    proc, url = _start(["--run", str(run_dir), "--profiles", str(tmp_path / "p.sqlite"), "--log-level", "info"])
    try:
        assert httpx.get(f"{url}/health", timeout=30).status_code == 200
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=60)
    assert "GET /health" in err.decode(), err.decode()[-2000:]


def test_the_workers_settings_do_not_outlast_the_server(run_dir, tmp_path, monkeypatch):
    # They stayed in the process's environment: a server started later in it (a notebook,
    # a test session) took the removed profiles file for its own and refused every change.
    import cinerec.commands.serve as serve_command
    from cinerec.cli import main
    from cinerec.serving.store import SERVED_PROFILES_ENV

    seen: list[str] = []

    class Stopped:
        def __init__(self, config, sockets):
            self.stopped_by_signal = False

        def run(self):
            seen.append(os.environ.get(SERVED_PROFILES_ENV, ""))
            raise KeyboardInterrupt

    monkeypatch.setattr(serve_command, "_supervisor_class", lambda: Stopped)
    monkeypatch.delenv(SERVED_PROFILES_ENV, raising=False)
    argv = ["serve", "--run", str(run_dir), "--profiles", str(tmp_path / "p.sqlite"), "--workers", "2", "--port", "0",
            "-q"]
    assert main(argv) == 130
    assert seen[0].startswith(f"{os.path.realpath(tmp_path / 'p.sqlite')}\t")  # (the workers had it)
    assert SERVED_PROFILES_ENV not in os.environ and "CINEREC_SERVE_RUN" not in os.environ


def test_a_worker_that_cannot_start_says_why_in_one_line_and_ends_as_a_failed_start(tmp_path, monkeypatch, capsys):
    # It raised, exit status 1, which uvicorn's supervisor takes for a death: the worker
    # started again every few seconds, each time with a traceback, while requests hung.
    from uvicorn.config import STARTUP_FAILURE

    from cinerec.commands import serve

    monkeypatch.setenv(serve.ENV_RUN, str(tmp_path / "gone"))
    monkeypatch.setenv(serve.ENV_PARENT, "0")
    with pytest.raises(SystemExit) as e:
        serve.app_from_environment()
    assert e.value.code == STARTUP_FAILURE
    assert capsys.readouterr().err == f"cinerec: error: serve worker: {tmp_path / 'gone'}: no such run folder\n"
