"""Load test of ``cinerec serve`` on loopback: known users and cold start at a fixed rate.

Usage::

    python benchmarks/bench_serving.py --ml100k PATH/TO/ml-100k [--rate 200] [--seconds 20]

Builds an ml-100k run (EASE, or ``--model``), exports its store (SQLite, or ``--db
postgresql://...``), starts the real server (``cinerec serve``, ``--workers N`` processes,
127.0.0.1 on a free port) in a child process, and drives it from this process
with a lean asyncio client (keep-alive connections) at a fixed arrival rate, one scenario at a time:

* ``known_user``: ``GET /users/{id}/recommendations?k=10`` for random known users
  (answered from the store);
* ``cold_start``: ``POST /recommendations`` with 3–10 random liked movies (scored live);
* ``back_to_back``: 500 stored lists asked one after another on one kept-open connection,
  as a page asks for what it shows (each request sent once the previous answer is in);
* ``profile_writes``: ``PUT /profiles/{id}/ratings`` (one movie rated, the answer the
  profile's new list) on 500 saved profiles at ``--write-rate`` per second, every
  request a write to the profiles file.

Latency is measured from each request's *scheduled* start, so a server that falls
behind shows it (no coordinated omission). Bounded: ``rate × seconds`` requests per
fixed-rate scenario and 500 back to back, loopback only. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import typing
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/machine.py, however this file is run

from machine import at_least, child_failed, machine  # noqa: E402

TARGETS_MS = {"known_user": 20.0, "cold_start": 50.0}
PROFILES = 500


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _build(ml100k: Path, root: Path, model: str, db_url: str | None) -> tuple[Path, str, str]:
    from cinerec.data import load
    from cinerec.models import create
    from cinerec.runs import finish_run, save_dataset, save_model
    from cinerec.serving.store import export_store

    ds = load(ml100k)
    run_dir = root / "run"
    save_model(run_dir, create(model).fit(ds.interactions))
    save_dataset(run_dir, ds)
    finish_run(run_dir, meta={"source": str(ml100k), "best_model": model})
    db = db_url or str(root / "recs.sqlite")
    export_store(run_dir, db, k=50, progress=False)
    return run_dir, db, f"{ds.name} ({ds.n_users:,} users, {ds.n_items:,} movies, {len(ds.interactions):,} ratings)"


class _Connection:
    """One keep-alive HTTP/1.1 connection with just enough parsing for these answers.

    A hand-written client costs far less CPU per request than a general one, so on a
    small shared machine the numbers describe the server, not the load generator.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str) -> None:
        self.reader, self.writer, self.host = reader, writer, host

    async def request(self, method: str, path: str, body: dict | None) -> int:
        payload = b"" if body is None else json.dumps(body).encode()
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\nConnection: keep-alive\r\n"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
        self.writer.write(head.encode() + b"\r\n" + payload)
        headers = await self.reader.readuntil(b"\r\n\r\n")
        status = int(headers.split(b" ", 2)[1])
        length = 0
        for line in headers.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        await self.reader.readexactly(length)
        return status


async def _scenario(port: int, make, rate: float, seconds: float, warmup: int, connections: int = 64) -> dict:
    n = int(rate * seconds)
    pool: asyncio.Queue = asyncio.Queue()
    for _ in range(connections):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        pool.put_nowait(_Connection(reader, writer, f"127.0.0.1:{port}"))

    async def call(i: int) -> int:
        conn = await pool.get()
        try:
            status = await conn.request(*make(i))
        except BaseException:
            # A cancelled or failed exchange leaves the stream mid-response: replace it.
            conn.writer.close()
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            pool.put_nowait(_Connection(reader, writer, f"127.0.0.1:{port}"))
            raise
        pool.put_nowait(conn)
        return status

    for i in range(warmup):
        await call(i)
    latencies = np.full(n, np.nan)
    statuses = np.zeros(n, dtype=np.int32)
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.05

    async def one(i: int) -> None:
        due = start + i / rate
        await asyncio.sleep(max(0.0, due - loop.time()))
        try:
            statuses[i] = await asyncio.wait_for(call(warmup + i), timeout=10.0)
        except Exception:  # a refused, reset or timed-out request counts as an error
            statuses[i] = -1
        latencies[i] = (loop.time() - due) * 1000

    await asyncio.gather(*(one(i) for i in range(n)))
    took = loop.time() - start
    while not pool.empty():
        pool.get_nowait().writer.close()
    lat = latencies[~np.isnan(latencies)]
    return {
        "requests": n,
        "rate_target": rate,
        # Answered requests only: a timed-out or failed one is no throughput.
        "throughput_rps": round(int((statuses == 200).sum()) / took, 1),
        "sent_rps": round(n / took, 1),
        "p50_ms": round(float(np.percentile(lat, 50)), 2),
        "p90_ms": round(float(np.percentile(lat, 90)), 2),
        "p99_ms": round(float(np.percentile(lat, 99)), 2),
        "max_ms": round(float(lat.max()), 2),
        "errors": int((statuses != 200).sum()),
    }


async def _back_to_back(port: int, make, n: int, warmup: int = 20) -> dict:
    """``n`` requests one after another on one connection: each one's latency alone."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    conn = _Connection(reader, writer, f"127.0.0.1:{port}")
    loop = asyncio.get_running_loop()
    for i in range(warmup):
        await conn.request(*make(i))
    latencies, errors = [], 0
    for i in range(n):
        started = loop.time()
        errors += await conn.request(*make(warmup + i)) != 200
        latencies.append((loop.time() - started) * 1000)
    writer.close()
    lat = np.array(latencies)
    return {"requests": n, "connections": 1, "p50_ms": round(float(np.percentile(lat, 50)), 2),
            "p90_ms": round(float(np.percentile(lat, 90)), 2), "p99_ms": round(float(np.percentile(lat, 99)), 2),
            "max_ms": round(float(lat.max()), 2), "errors": errors}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ml100k", type=Path, required=True)
    ap.add_argument("--rate", type=float, default=200.0, help="requests per second (default: %(default)s)")
    ap.add_argument("--seconds", type=float, default=20.0, help="per scenario (default: %(default)s)")
    ap.add_argument("--seed", type=at_least(0), default=0)
    ap.add_argument("--model", default="ease", help="the model to fit and serve (default: %(default)s)")
    ap.add_argument("--write-rate", type=float, default=50.0,
                    help="profile changes per second in profile_writes (default: %(default)s)")
    ap.add_argument("--workers", type=at_least(1), default=1, help="server processes (`cinerec serve --workers`)")
    ap.add_argument("--db", default=None,
                    help="a postgresql:// URL to export to and serve from (default: a SQLite file)")
    args = ap.parse_args(argv)
    if not (0 < args.rate <= 2000 and 0 < args.write_rate <= 2000 and 0 < args.seconds <= 120):
        ap.error("--rate and --write-rate must be in (0, 2000] and --seconds in (0, 120]")
    for flag, rate in (("--rate", args.rate), ("--write-rate", args.write_rate)):
        if int(rate * args.seconds) < 1:  # (found only after the fit, the export and the server's start)
            ap.error(f"{flag} {rate:g} for --seconds {args.seconds:g} sends no request: give at least one")
    rng = np.random.default_rng(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        run_dir, db, dataset = _build(args.ml100k, Path(tmp), args.model, args.db)
        from cinerec.runs import open_run

        ds = open_run(run_dir).dataset
        user_ids = ds.user_ids.raw.tolist()
        popular = ds.item_ids.raw[np.argsort(-ds.interactions.item_counts)[:300]].tolist()
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        # The real command, as a user starts it (one math thread per request by default).
        # Its stderr goes to a file, said only if it fails: stopped at the end (SIGTERM),
        # it says "cinerec: interrupted", which is no news here.
        said = open(Path(tmp) / "server.log", "w+")
        server = subprocess.Popen([sys.executable, "-m", "cinerec", "serve", "--run", str(run_dir), "--db", db,
                                   "--port", str(port), "--workers", str(args.workers), "--quiet"], stderr=said)
        try:
            _wait(url, server, said)
            users = rng.choice(user_ids, size=100_000)
            likes = [rng.choice(popular, size=int(rng.integers(3, 11)), replace=False).tolist() for _ in range(20_000)]

            def known(i):
                return "GET", f"/users/{users[i % len(users)]}/recommendations?k=10", None

            def cold(i):
                return "POST", "/recommendations", {"liked": likes[i % len(likes)], "k": 10}

            store = "postgresql" if db.startswith("postgres") else "sqlite"
            out = {"machine": machine(load_average=[round(x, 2) for x in os.getloadavg()]),
                   "server": f"cinerec serve, {args.workers} process(es), loopback",
                   "store": store, "model": args.model,
                   "dataset": dataset, "targets_p99_ms": TARGETS_MS}
            for name, make in (("known_user", known), ("cold_start", cold)):
                res = asyncio.run(_scenario(port, make, args.rate, args.seconds, warmup=50))
                res["meets_target"] = res["p99_ms"] <= TARGETS_MS[name] and res["errors"] == 0
                out[name] = res
            res = asyncio.run(_back_to_back(port, known, 500))
            res["meets_target"] = res["p99_ms"] <= TARGETS_MS["known_user"] and res["errors"] == 0
            out["back_to_back"] = res
            profiles = _profiles(url, PROFILES)
            stars = rng.integers(1, 6, size=100_000)
            rated = rng.choice(popular, size=100_000)
            chosen = rng.choice(profiles, size=100_000)

            def write(i):
                j = i % len(chosen)
                return "PUT", f"/profiles/{chosen[j]}/ratings?k=10", {"ratings": {str(rated[j]): int(stars[j])}}

            out["profile_writes"] = asyncio.run(_scenario(port, write, args.write_rate, args.seconds, warmup=50))
        finally:
            server.terminate()
            server.wait(timeout=30)
            said.close()
    json.dump(out, sys.stdout, indent=2)
    print()
    return 0


def _profiles(url: str, n: int) -> list[str]:
    """``n`` new saved profiles, each with no rating yet: their ids."""
    import httpx

    with httpx.Client(base_url=url, timeout=30) as client:
        made = [client.post("/profiles") for _ in range(n)]
    if any(r.status_code != 201 for r in made):
        raise SystemExit(f"the server refused a new profile: {next(r for r in made if r.status_code != 201).text}")
    return [r.json()["profile_id"] for r in made]


def _wait(url: str, server: subprocess.Popen, said: typing.IO[str], timeout: float = 120.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            said.seek(0)
            child_failed("the server", server.returncode, said.read())
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("the server did not start in time")


if __name__ == "__main__":
    from cinerec.cli import script_main

    script_main(main)
