"""Many clients writing profiles at once against a real server: nothing lost, nothing doubled."""

from __future__ import annotations

import sqlite3
import threading
from collections import defaultdict

import httpx
import pytest


@pytest.mark.slow
def test_concurrent_profile_writes_are_stored_exactly_once(live_server, run, tmp_path):
    movie_ids = [int(m) for m in run.dataset.item_ids.raw[:240]]
    n_clients, n_profiles = 12, 3
    with httpx.Client(base_url=live_server.url, timeout=30) as c:
        pids = [c.post("/profiles").json()["profile_id"] for _ in range(n_profiles)]

    accepted: dict[str, dict[str, float]] = defaultdict(dict)
    lock = threading.Lock()
    errors: list[str] = []

    def client(t: int) -> None:
        # Every client writes 20 movies, spread over the shared profiles; clients overlap
        # on profiles, and each (profile, movie) is written by exactly one client.
        with httpx.Client(base_url=live_server.url, timeout=30) as c:
            for j in range(20):
                movie = movie_ids[t * 20 + j]
                pid = pids[(t + j) % n_profiles]
                stars = float(1 + (t + j) % 5)
                r = c.put(f"/profiles/{pid}/ratings", json={"ratings": {str(movie): stars}}, params={"k": 1})
                if r.status_code == 200:
                    with lock:
                        accepted[pid][str(movie)] = stars
                else:
                    errors.append(f"{r.status_code} {r.text[:200]}")

    threads = [threading.Thread(target=client, args=(t,)) for t in range(n_clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()

    assert errors == []
    assert sum(len(v) for v in accepted.values()) == n_clients * 20
    with httpx.Client(base_url=live_server.url, timeout=30) as c:
        for pid in pids:
            assert c.get(f"/profiles/{pid}").json()["ratings"] == accepted[pid]
    # Exactly once, counted in the file itself.
    con = sqlite3.connect(tmp_path / "profiles.sqlite")
    rows = con.execute("SELECT profile_id, movie_id, COUNT(*) FROM ratings GROUP BY profile_id, movie_id").fetchall()
    con.close()
    assert len(rows) == n_clients * 20 and all(n == 1 for _, _, n in rows)
