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


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_store_exported_between_the_freshness_check_and_the_read_is_scored_live(run_dir, tmp_path, request,
                                                                                 backend):
    # A request found the store fresh (ease's export), then another model's export landed
    # and another request's read took up its info: the first request's read handed out
    # popularity's list as the store's, labelled "store", on a server serving ease.
    from cinerec.errors import DataError
    from cinerec.serving.api import create_app
    from cinerec.serving.store import export_store

    db = tmp_path / "recs.sqlite" if backend == "sqlite" else request.getfixturevalue("pg_url")
    export_store(run_dir, db, k=10, model="ease", progress=False)
    service = create_app(run_dir, db, profiles=tmp_path / "p.sqlite").state.service
    store, info = service._fresh_store()
    assert store is not None and info.model == "ease"
    export_store(run_dir, db, k=10, model="popularity", progress=False)
    store.refresh() if backend == "sqlite" else setattr(store, "info", store._read_info())  # the other request
    with pytest.raises(DataError, match="exported again while this list was read"):
        store.recommendations(0, 5, info)
    # Through the service: the list is ease's, scored live, not popularity's from the store.
    service._fresh_store = lambda: (store, info)
    source, recs = service.user_recommendations(0, 5, None)
    live = service.lists.for_users([0], 5)[0][0]
    assert source == "live" and [r["movie_id"] for r in recs] == service.dataset.item_ids.to_raw(live).tolist()
