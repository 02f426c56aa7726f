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
def test_a_user_another_runs_store_lacks_is_scored_live_not_given_an_empty_stored_list(run_dir, tmp_path, request,
                                                                                      ml100k_dir, backend):
    # Another run's store, of 20 people, landed between the freshness check and the read:
    # user 100, whom it lacks, was answered an empty list labelled "store" (200).
    from cinerec.data import load
    from cinerec.data.filters import Filters, apply_filters
    from cinerec.errors import DataError
    from cinerec.models import create
    from cinerec.runs import finish_run, save_dataset, save_model
    from cinerec.serving.api import create_app
    from cinerec.serving.store import export_store

    few = tmp_path / "few"
    small, _ = apply_filters(load(ml100k_dir), Filters(top_users=20))
    save_model(few, create("popularity").fit(small.interactions))
    save_dataset(few, small)
    finish_run(few, meta={"source": "ml-100k", "best_model": "popularity"})
    db = tmp_path / "recs.sqlite" if backend == "sqlite" else request.getfixturevalue("pg_url")
    export_store(run_dir, db, k=10, model="ease", progress=False)
    service = create_app(run_dir, db, profiles=tmp_path / "p.sqlite").state.service
    store, info = service._fresh_store()
    assert len(store.recommendations(100, 5, info)[0]) == 5
    export_store(few, db, k=10, progress=False)
    store.refresh() if backend == "sqlite" else None
    with pytest.raises(DataError, match="exported again while this list was read"):
        store.recommendations(100, 5, info)
    service._fresh_store = lambda: (store, info)
    source, recs = service.user_recommendations(100, 5, None)
    assert source == "live" and len(recs) == 5


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


def test_a_request_cut_by_a_stopping_server_is_answered_503_saying_whether_a_change_may_be_saved(run_dir, tmp_path):
    # Past the stop's grace, a profile change still being made was answered uvicorn's bare
    # "500 Internal Server Error", though the change could be saved a moment later.
    import time

    import uvicorn

    from cinerec.serving.api import create_app

    from .conftest import free_port

    app = create_app(run_dir, profiles=tmp_path / "profiles.sqlite")
    profiles = app.state.service.profiles
    pid = profiles.create()
    entered = threading.Event()
    slow_set = profiles.set_ratings

    def set_ratings(*args, **kwargs):
        entered.set()
        time.sleep(1.5)
        return slow_set(*args, **kwargs)

    profiles.set_ratings = set_ratings
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical",
                                           timeout_graceful_shutdown=0.2))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    answers = {}

    def put() -> None:
        answers["put"] = httpx.put(f"http://127.0.0.1:{port}/profiles/{pid}/ratings",
                                   json={"ratings": {"50": 4}}, timeout=30)

    client = threading.Thread(target=put)
    client.start()
    assert entered.wait(10)
    server.should_exit = True
    client.join(30)
    thread.join(30)
    answer = answers["put"]
    assert answer.status_code == 503, (answer.status_code, answer.text)
    assert "may or may not have been saved" in answer.json()["detail"]
    time.sleep(1.5)  # (the write goes on in its thread, and is saved)
    assert profiles.get(pid) == {"50": 4.0}
