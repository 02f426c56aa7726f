"""The HTTP API on a real ml-100k run (EASE served, popularity beside it)."""

from __future__ import annotations

import json
import os
import socket
import shutil

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from cinerec.cli import main
from cinerec.data.history import liked
from cinerec.serving.api import MAX_BODY_BYTES, create_app
from cinerec.runs import open_run
from cinerec.serving.store import export_store

from .conftest import build_run, popular_movie_ids

RECORD_KEYS = {"movie_id", "title", "year", "genres"}


def _seen_raw(run, user_id):
    ds = run.dataset
    u = ds.user_ids.index([user_id])[0]
    return set(ds.item_ids.raw[ds.interactions.seen[u].indices].tolist())


def _liked_raw(run, user_id):
    ds = run.dataset
    u = ds.user_ids.index([user_id])[0]
    return set(ds.item_ids.raw[liked(ds.interactions.csr[[u]]).indices].tolist())


def test_health_names_model_dataset_counts_and_store(client):
    h = client.get("/health").json()
    assert h["model"] == "ease" and h["dataset"] == "ml-100k" and h["synthetic"] is False
    assert (h["users"], h["movies"], h["ratings"]) == (943, 1682, 100000)
    assert h["store"]["model"] == "ease" and h["store"]["stale"] is None and h["store"]["age_s"] >= 0


def test_openapi_schema_lists_the_endpoints(client):
    paths = client.get("/openapi.json").json()["paths"]
    for p in ("/health", "/movies", "/movies/{movie_id}", "/movies/{movie_id}/similar",
              "/users/{user_id}/recommendations", "/recommendations", "/profiles",
              "/profiles/{profile_id}", "/profiles/{profile_id}/ratings"):
        assert p in paths


def test_openapi_schema_declares_every_answer_a_client_gets(client):
    # A client made from the schema could not type the commonest error (a 404 was declared
    # nowhere), took fields every answer carries for optional, /health for any object, and
    # bodies the server always refuses (an empty list, 501 ids) for valid.
    spec = client.get("/openapi.json").json()
    paths, schemas = spec["paths"], spec["components"]["schemas"]
    problem = {"$ref": "#/components/schemas/Problem"}
    assert schemas["Problem"]["required"] == ["detail"] and schemas["Problem"]["properties"]["detail"]["type"] == "string"
    for path, method in [("/movies/{movie_id}", "get"), ("/movies/{movie_id}/similar", "get"), ("/similar", "get"),
                         ("/users/{user_id}/recommendations", "get"), ("/profiles/{profile_id}", "get"),
                         ("/profiles/{profile_id}", "delete"), ("/profiles/{profile_id}/ratings", "put"),
                         ("/profiles/{profile_id}/ratings", "delete"),
                         ("/profiles/{profile_id}/ratings/{movie_id}", "delete")]:
        answers = paths[path][method]["responses"]
        assert answers["404"]["content"]["application/json"]["schema"] == problem, (path, method)
    for path, method in [("/recommendations", "post"), ("/profiles", "post"), ("/profiles/{profile_id}/ratings", "put")]:
        answers = paths[path][method]["responses"]
        assert {"413", "415", "503"} <= set(answers), (path, method)
    assert "503" in paths["/users/{user_id}/recommendations"]["get"]["responses"]
    for name, fields in [("Movie", {"movie_id", "title", "year", "genres", "same_film"}),
                         ("Recommendation", {"score", "reason", "reason_movie_id", "same_film"}),
                         ("RecommendationList", {"source", "recommendations", "notes"}),
                         ("UserRecommendations", {"user_id", "notes"}), ("Profile", {"profile_id", "notes"})]:
        assert fields <= set(schemas[name]["required"]), name
    health = paths["/health"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert health == {"$ref": "#/components/schemas/Health"}
    assert {"status", "model", "stars_range", "store", "profiles"} <= set(schemas["Health"]["required"])
    body = schemas["ColdStartRequest"]
    liked = next(a for a in body["properties"]["liked"]["anyOf"] if a.get("type") == "array")
    ratings = next(a for a in body["properties"]["ratings"]["anyOf"] if a.get("type") == "object")
    assert (liked["minItems"], liked["maxItems"]) == (1, 500)
    assert (ratings["minProperties"], ratings["maxProperties"]) == (1, 500)
    import jsonschema_rs  # (as schemathesis checks answers)

    whole = {"$ref": "#/components/schemas/ColdStartRequest", "components": spec["components"]}
    for sent, valid in [({"liked": [50]}, True), ({"ratings": {"50": 4}, "liked": None}, True), ({}, False),
                        ({"liked": [50], "ratings": {"50": 4}}, False), ({"liked": []}, False),
                        ({"ratings": {}}, False), ({"liked": list(range(1, 502))}, False)]:
        assert jsonschema_rs.Draft202012Validator(whole).is_valid(sent) == valid, sent
        assert (client.post("/recommendations", json=sent).status_code == 200) == valid, sent
    # What the schema and the answers agree on, the server does.
    h = client.get("/health").json()
    assert set(schemas["Health"]["required"]) <= set(h)
    assert client.get("/movies/99999").json() == {"detail": "unknown movie id '99999'"}


def test_a_whole_number_written_with_a_point_is_a_number_of_recommendations(client):
    # JSON reads 5.0 as the integer 5, as the schema's "integer" does; the server said "int_type".
    assert len(client.post("/recommendations", json={"liked": [50], "k": 5.0}).json()["recommendations"]) == 5
    for k in (5.5, "5", True):
        assert client.post("/recommendations", json={"liked": [50], "k": k}).status_code == 422, k
    assert client.post("/recommendations", json={"liked": [50.0]}).json() == \
        client.post("/recommendations", json={"liked": [50]}).json()
    assert client.post("/recommendations", json={"liked": [50.5]}).status_code == 422


def test_a_method_not_allowed_names_head_where_get_is_taken(client):
    answer = client.post("/health")
    assert answer.status_code == 405 and answer.headers["allow"] == "GET, HEAD"
    # and neither where a GET is refused too (a route that answers its 405 named GET)
    answer = client.patch("/profiles/abc/ratings")
    assert answer.status_code == 405 and answer.headers["allow"] == "DELETE, PUT"


def test_movie_search(client):
    hits = client.get("/movies", params={"query": "star wars"}).json()
    assert hits[0] == {"movie_id": 50, "title": "Star Wars", "year": 1977,
                       "genres": ["Action", "Adventure", "Romance", "Sci-Fi", "War"], "same_film": []}
    # A film the catalogue lists twice names its other id (the page shows it once).
    amy = client.get("/movies", params={"query": "chasing amy"}).json()
    assert sorted((m["movie_id"], m["same_film"]) for m in amy) == [(246, [268]), (268, [246])]
    # and so does every list that holds such a film: stored, live and cold start
    twinned = {m: client.get(f"/movies/{m}").json()["same_film"] for m in (246, 268)}
    answers = [client.get("/users/1/recommendations", params={"k": 100}).json(),
               client.post("/recommendations", json={"liked": ["50"], "k": 100}).json(),
               client.get("/users/1/recommendations", params={"k": 100, "genre": "Comedy"}).json()]
    listed = [m for a in answers for m in a["recommendations"] if m["movie_id"] in twinned]
    assert listed and all(m["same_film"] == twinned[m["movie_id"]] for m in listed), listed
    assert client.get("/movies", params={"query": "GODFATHER"}).json()[0]["title"] == "Godfather, The"
    horror = client.get("/movies", params={"genre": "horror", "year_from": 1990, "year_to": 1995, "limit": 5}).json()
    # A range ending before it starts holds no year: said, not an empty answer.
    r = client.get("/movies", params={"year_from": 2000, "year_to": 1990})
    assert r.status_code == 422 and r.json()["detail"] == [
        {"loc": ["query", "year_to"], "type": "value_error", "msg": "year_to 1990 is before year_from 2000: no year is both"}]
    assert client.get("/movies", params={"year_from": 1995, "year_to": 1995}).status_code == 200
    assert len(horror) == 5 and all("Horror" in m["genres"] and 1990 <= m["year"] <= 1995 for m in horror)
    assert client.get("/movies", params={"query": "zzzqqq"}).json() == []
    assert client.get("/movies", params={"query": "?!"}).json() == []  # no word to match: no movie, not all
    assert len(client.get("/movies", params={"query": "  "}).json()) == 20  # blank: the most rated
    # Accents and case do not matter, either way round.
    assert client.get("/movies", params={"query": "les miserables"}).json()[0]["title"] == "Misérables, Les"
    assert client.get("/movies", params={"query": "CÉRÉMONIE"}).json()[0]["title"] == "Cérémonie, La"
    assert client.get("/movies", params={"query": "cafe au lait"}).json()[0]["title"] == "Metisse (Café au Lait)"


def test_movie_and_similar(client):
    assert client.get("/movies/50").json()["title"] == "Star Wars"
    similar = client.get("/movies/50/similar", params={"k": 5}).json()
    assert len(similar) == 5 and 50 not in [m["movie_id"] for m in similar]
    assert all(RECORD_KEYS | {"similarity"} <= m.keys() for m in similar)
    assert 181 in [m["movie_id"] for m in similar]  # Return of the Jedi


@pytest.mark.parametrize("path", ["/health", "/movies/50", "/users/1/recommendations", "/", "/static/app.js"])
def test_head_answers_as_get_without_a_body(client, path):
    got, head = client.get(path), client.head(path)
    assert got.status_code == head.status_code == 200
    assert head.content == b"" and head.headers["content-type"] == got.headers["content-type"]
    assert head.headers.get("content-length") == got.headers.get("content-length")


@pytest.mark.parametrize("method,path,needle", [
    ("GET", "/profiles/a%2F", "unknown profile id 'a/'"),
    ("GET", "/profiles/abc/", "unknown profile id 'abc/'"),
    ("GET", "/profiles/%2F", "unknown profile id '/'"),
    ("PUT", "/profiles/a%2Fb/ratings", "unknown profile id 'a/b'"),
    ("DELETE", "/profiles/a%2Fb/ratings/50", "unknown profile id 'a/b'"),
    ("PUT", "/profiles//ratings", "unknown profile id ''"),
    # the whole id, "/ratings" within it included (it was cut there, naming another profile)
    ("GET", "/profiles/a%2Fratingsy", "unknown profile id 'a/ratingsy'"),
    ("PUT", "/profiles/a%2Fratingsy/ratings", "unknown profile id 'a/ratingsy'"),
    ("DELETE", "/profiles/a%2Fratings%2Fb/ratings/50", "unknown profile id 'a'"),  # (as the path reads)
    # a GET of an id holding "/ratings" (a 405, and the page that asked for it was stuck)
    ("GET", "/profiles/a%2Fratings", "unknown profile id 'a/ratings'"),
    ("GET", "/profiles/a%2Fratings%2F50", "unknown profile id 'a/ratings/50'"),
])
def test_a_profile_id_with_a_slash_is_404_naming_it_not_a_redirect_to_another(client, method, path, needle):
    r = client.request(method, path, json={"liked": [50]} if method == "PUT" else None, follow_redirects=False)
    assert r.status_code == 404 and needle in r.json()["detail"]


def test_a_profile_route_asked_with_another_method_is_still_405(client):
    assert client.get("/profiles/abc/ratings").status_code == 405
    r = client.get("/profiles/abc/ratings/50")
    assert r.status_code == 405 and r.headers["allow"] == "DELETE"
    r = client.get("/profiles/abc/rating%73")  # the route's word, a letter percent-encoded
    assert r.status_code == 405 and r.headers["allow"] == "DELETE, PUT"
    assert client.head("/profiles/abc/ratings").status_code == 405
    r = client.post("/profiles/abc")
    assert r.status_code == 405 and r.headers["allow"] == "DELETE, GET, HEAD", r.headers
    r = client.request("PATCH", "/profiles/abc/", follow_redirects=False)
    assert r.status_code == 405 and "POST" not in r.headers["allow"]


def test_answers_about_a_profile_are_never_stored_by_a_cache(run_dir, tmp_path):
    # Its id is all it takes to read and change a profile: a shared cache kept its movies.
    with TestClient(create_app(run_dir, profiles=tmp_path / "p.sqlite")) as c:
        pid = c.post("/profiles").json()["profile_id"]
        answers = [c.get(f"/profiles/{pid}"), c.put(f"/profiles/{pid}/ratings", json={"liked": [50]}),
                   c.head(f"/profiles/{pid}"), c.get("/profiles/nobody"), c.delete(f"/profiles/{pid}")]
        assert [r.headers.get("cache-control") for r in answers] == ["no-store"] * 5
        assert "cache-control" not in c.get("/movies/50").headers


def test_head_on_a_path_without_get_is_405_and_unknown_ids_404(client):
    assert client.head("/recommendations").status_code == 405  # POST only
    r = client.head("/movies/99999")
    assert r.status_code == 404 and r.content == b""


@pytest.mark.parametrize("path,needle", [
    ("/movies/99999", "unknown movie id '99999'"),
    ("/movies/abc/similar", "unknown movie id 'abc'"),
    ("/movies/99999999999999999999999", "unknown movie id"),
    ("/users/5000/recommendations", "unknown user id '5000'"),
    ("/profiles/nobody", "unknown profile id 'nobody'"),
    ("/movies/--50", "unknown movie id '--50'"),  # int() would raise on these: never a 500
    ("/movies/%C2%B2", "unknown movie id"),
    ("/movies/%D9%A5%D9%A0", "unknown movie id"),  # Arabic-Indic digits are no movie 50
    ("/users/%2B%2B1/recommendations", "unknown user id '++1'"),
])
def test_unknown_ids_are_404_naming_the_id(client, path, needle):
    r = client.get(path)
    assert r.status_code == 404 and needle in r.json()["detail"]


def test_known_user_from_store_matches_live_scoring(run, run_dir, client):
    stored = client.get("/users/1/recommendations", params={"k": 10}).json()
    assert stored["source"] == "store" and stored["user_id"] == 1
    with TestClient(create_app(run_dir)) as live_client:
        live = live_client.get("/users/1/recommendations", params={"k": 10}).json()
    assert live["source"] == "live"
    assert [m["movie_id"] for m in stored["recommendations"]] == [m["movie_id"] for m in live["recommendations"]]
    assert [m["reason"] for m in stored["recommendations"]] == [m["reason"] for m in live["recommendations"]]
    seen, likes = _seen_raw(run, 1), _liked_raw(run, 1)
    for m in stored["recommendations"]:
        assert RECORD_KEYS | {"score", "reason"} <= m.keys()
        assert m["movie_id"] not in seen
        assert m["reason"].startswith("because you liked ") and m["reason_movie_id"] in likes


def test_known_user_genre_and_k_beyond_the_store(client):
    horror = client.get("/users/1/recommendations", params={"k": 10, "genre": "Horror"}).json()
    assert len(horror["recommendations"]) == 10
    assert all("Horror" in m["genres"] for m in horror["recommendations"])
    many = client.get("/users/1/recommendations", params={"k": 40}).json()  # the store keeps 20
    assert many["source"] == "live" and len(many["recommendations"]) == 40


def test_stale_store_is_not_served(run_dir, tmp_path):
    db = tmp_path / "pop.sqlite"
    export_store(run_dir, db, k=10, model="popularity", progress=False)
    with TestClient(create_app(run_dir, db, model="ease")) as c:
        assert "popularity" in c.get("/health").json()["store"]["stale"]
        assert c.get("/users/1/recommendations").json()["source"] == "live"


def test_a_copied_run_serves_its_copied_store(run_dir, tmp_path):
    # A copy that does not keep times (cp -r) leaves run.json newer than the export: its
    # own store, whose stamps match the run's, was said to be stale and every list scored live.
    export_store(run_dir, tmp_path / "recs.sqlite", k=10, model="ease", progress=False)
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy, copy_function=shutil.copy)
    shutil.copy(tmp_path / "recs.sqlite", copy / "recs.sqlite")
    later = os.stat(copy / "run.json").st_mtime + 3600
    os.utime(copy / "run.json", (later, later))
    with TestClient(create_app(copy, copy / "recs.sqlite", model="ease")) as c:
        assert c.get("/health").json()["store"]["stale"] is None
        assert c.get("/users/1/recommendations").json()["source"] == "store"


def test_without_a_model_named_the_store_says_which_to_serve(run_dir, tmp_path, ml100k_dir):
    # A store of popularity's lists, served without --run-model, served the run's best
    # (EASE) instead: stale, every list scored live.
    db = tmp_path / "pop.sqlite"
    export_store(run_dir, db, k=10, model="popularity", progress=False)
    with TestClient(create_app(run_dir, db)) as c:
        health = c.get("/health").json()
        assert health["model"] == "popularity" and health["store"]["stale"] is None
        assert c.get("/users/1/recommendations").json()["source"] == "store"
    # A store of another run (or one that no longer matches) leaves the run's best served.
    other = build_run(tmp_path / "other", ml100k_dir, ("popularity",))
    export_store(other, tmp_path / "other.sqlite", k=10, progress=False)
    with TestClient(create_app(run_dir, tmp_path / "other.sqlite")) as c:
        health = c.get("/health").json()
        assert health["model"] == "ease" and "another run" in health["store"]["stale"]


def test_cold_start_with_likes_excludes_them_and_explains(client):
    liked = [50, 181, 172]
    r = client.post("/recommendations", json={"liked": liked, "k": 10})
    assert r.status_code == 200
    recs = r.json()["recommendations"]
    assert len(recs) == 10 and not set(liked) & {m["movie_id"] for m in recs}
    titles = {"Star Wars", "Return of the Jedi", "Empire Strikes Back, The"}
    assert all(m["reason"] in {f"because you liked {t}" for t in titles} for m in recs)
    assert 174 in [m["movie_id"] for m in recs]  # Raiders of the Lost Ark


def test_cold_start_with_ratings_and_genre(client):
    body = {"ratings": {"50": 5, "98": 4.5, "1": 1}, "k": 5, "genre": "Drama"}
    recs = client.post("/recommendations", json=body).json()["recommendations"]
    assert len(recs) == 5 and all("Drama" in m["genres"] for m in recs)
    assert not {50, 98, 1} & {m["movie_id"] for m in recs}
    # A one-star movie is never given as the reason.
    assert all(m["reason_movie_id"] in {50, 98} for m in recs)


def test_cold_start_fallback_for_models_without_history_scoring(run_dir, monkeypatch):
    app = create_app(run_dir, model="ease")
    monkeypatch.setattr(type(app.state.service.model), "can_score_history", False)
    with TestClient(app) as c:
        recs = c.post("/recommendations", json={"liked": [50, 181, 172], "k": 5}).json()["recommendations"]
    assert len(recs) == 5 and not {50, 181, 172} & {m["movie_id"] for m in recs}
    assert all(m["reason"] for m in recs)


@pytest.mark.parametrize("body,loc", [
    ({"liked": []}, ["body", "liked"]),
    ({"ratings": {}}, ["body", "ratings"]),
    ({}, ["body"]),
    ({"liked": [50], "ratings": {"50": 4}}, ["body"]),
    ({"ratings": {"50": 7}}, ["body", "ratings", "50"]),
    ({"ratings": {"50": 0}}, ["body", "ratings", "50"]),
    ({"ratings": {"50": "lots"}}, ["body", "ratings", "50"]),
    ({"liked": list(range(1, 502))}, ["body", "liked"]),
    ({"liked": [50], "k": -1}, ["body", "k"]),
    ({"liked": [50], "k": 10**9}, ["body", "k"]),
    ({"liked": [50], "k": "ten"}, ["body", "k"]),
    ({"liked": "50"}, ["body", "liked"]),
    ({"liked": [99999]}, ["body", "liked", 0]),
    ({"ratings": {"12345": 3}}, ["body", "ratings", "12345"]),
    ({"liked": [50], "genre": "Space Opera"}, ["body", "genre"]),
    ({"liked": [50], "extra": 1}, ["body", "extra"]),
    # strict types: true is no movie and no k; a number of stars or a k is no string
    ({"liked": [True]}, ["body", "liked", 0]),
    ({"ratings": {"50": True}}, ["body", "ratings", "50"]),
    ({"ratings": {"50": "4"}}, ["body", "ratings", "50"]),
    ({"liked": [50], "k": True}, ["body", "k"]),
    ({"liked": [50], "k": "5"}, ["body", "k"]),
])
def test_bad_bodies_are_422_naming_the_field(client, body, loc):
    r = client.post("/recommendations", json=body)
    assert r.status_code == 422, r.text
    assert any(d["loc"][: len(loc)] == loc for d in r.json()["detail"]), r.json()


@pytest.mark.parametrize("liked", [[50.5], [True], [[1]], [{"id": 50}]])
def test_an_id_of_no_kind_an_id_can_be_is_one_error_at_its_place(client, liked):
    # It was two, at ["body", "liked", 0, "int"] and [..., "str"]: the validator's inner names.
    r = client.post("/recommendations", json={"liked": [50, *liked]})
    assert r.status_code == 422, r.text
    assert r.json()["detail"] == [{"type": "movie_id_type", "loc": ["body", "liked", 1], "input": liked[0],
                                   "msg": "Input should be a movie id: a whole number or a text"}]
    # Movie ids "int" and "str" as a mapping's keys, their stars wrong: two errors of stars.
    r = client.post("/recommendations", json={"ratings": {"int": True, "str": "x"}})
    assert [(d["loc"], d["type"]) for d in r.json()["detail"]] == [(["body", "ratings", "int"], "float_type"),
                                                                  (["body", "ratings", "str"], "float_type")]


@pytest.mark.parametrize("path,params,loc", [
    ("/users/1/recommendations", {"k": 0}, ["query", "k"]),
    ("/users/1/recommendations", {"k": 100000}, ["query", "k"]),
    ("/users/1/recommendations", {"k": "x"}, ["query", "k"]),
    ("/users/1/recommendations", {"genre": "nope"}, ["query", "genre"]),
    ("/movies/50/similar", {"k": -3}, ["query", "k"]),
    ("/movies", {"limit": 0}, ["query", "limit"]),
    ("/movies", {"year_from": "old"}, ["query", "year_from"]),
])
def test_bad_parameters_are_422_naming_the_parameter(client, path, params, loc):
    r = client.get(path, params=params)
    assert r.status_code == 422, r.text
    assert any(d["loc"] == loc for d in r.json()["detail"])


@pytest.mark.parametrize("body", [b'{"ratings": {"\\ud800": 4}}', b'{"liked": "\\ud800"}',
                                  b'{"liked": ["\\ud800"]}', b'{"ratings": {"\\udfff": 5}}', b'{"liked": [50, "\\udfff"]}',
                                  b'{"liked": [50], "\\ud800": 1}', b'{"liked": [50], "genre": "\\ud800"}',
                                  b'{"liked": ["+-50"]}', b'{"ratings": {"5\xc2\xb2": 4}}'])
def test_odd_ids_and_lone_surrogates_are_422_not_500(client, body):
    for path in ("/recommendations", "/profiles"):
        r = client.post(path, content=body, headers={"content-type": "application/json"})
        assert r.status_code == 422, (path, r.status_code, r.text)


@pytest.mark.parametrize("value", [b"NaN", b"Infinity", b"-Infinity", b"1e400"])
def test_non_finite_stars_are_422_not_500(client, value):
    # Python's JSON reader takes these; the error echoes the value back, as text
    for method, path in (("post", "/recommendations"), ("post", "/profiles")):
        r = client.request(method, path, content=b'{"ratings": {"50": ' + value + b"}}",
                           headers={"content-type": "application/json"})
        assert r.status_code == 422, r.text
        (d,) = r.json()["detail"]
        assert d["loc"] == ["body", "ratings", "50"] and isinstance(d["input"], str)


def test_health_notices_a_reexport_without_another_request(run_dir, tmp_path):
    db = tmp_path / "recs.sqlite"
    export_store(run_dir, db, k=10, model="popularity", progress=False)
    with TestClient(create_app(run_dir, db, model="ease")) as c:
        before = c.get("/health").json()["store"]
        assert before["model"] == "popularity" and before["stale"]
        export_store(run_dir, db, k=12, model="ease", progress=False)
        after = c.get("/health").json()["store"]
        assert after["model"] == "ease" and after["k"] == 12 and after["stale"] is None
        db.unlink()
        gone = c.get("/health").json()["store"]
        assert "unreadable" in gone["stale"]
        assert c.get("/users/1/recommendations").json()["source"] == "live"
        # a damaged file put in its place: lists scored live on every request, health says so
        export_store(run_dir, db, k=12, model="ease", progress=False)
        assert c.get("/users/1/recommendations").json()["source"] == "store"
        (tmp_path / "junk").write_bytes(b"garbage" * 100)
        os.replace(tmp_path / "junk", db)
        for _ in range(3):
            r = c.get("/users/1/recommendations")
            assert r.status_code == 200 and r.json()["source"] == "live"
        assert "not a cinerec recommendation store" in c.get("/health").json()["store"]["stale"]
        # a folder in its place: opening it failed before the check that scores live (a 500, /health too)
        db.unlink()
        db.mkdir()
        for path in ("/users/1/recommendations", "/health"):
            r = c.get(path)
            assert r.status_code == 200 and r.json().get("source", "live") == "live", (path, r.text)
        assert "not a readable store" in c.get("/health").json()["store"]["stale"]


def test_malformed_json_and_oversized_bodies(client):
    r = client.post("/recommendations", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422
    big = b'{"liked": [' + b"50," * (MAX_BODY_BYTES // 3) + b"50]}"
    r = client.post("/recommendations", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413

    def chunks():  # no content-length: the limit still holds while streaming
        for _ in range(40):
            yield b" " * 4096

    r = client.post("/recommendations", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413


@pytest.mark.parametrize("kind", ["application/x-www-form-urlencoded", "text/plain", None])
def test_a_json_body_sent_as_another_type_is_told_to_say_json(client, kind):
    # curl -d sends a form: the answer was 422 "Input should be a valid dictionary or
    # object to extract fields from".
    headers = {"content-type": kind} if kind else {}
    r = client.post("/recommendations", content=b'{"liked": [50]}', headers=headers)
    assert r.status_code == 415
    assert r.json()["detail"].startswith("send the body as JSON, with Content-Type: application/json (it came ")


def test_one_movie_rated_twice_under_two_spellings_is_refused_unless_alike(client):
    # "050" and "50" are one movie: the stars given later won, silently.
    r = client.post("/recommendations", json={"ratings": {"50": 5, "050": 1}})
    assert r.status_code == 422
    assert r.json()["detail"][0]["msg"] == "movie ids '50' and '050' name one movie, rated 5 and 1 stars: give it once"
    assert client.post("/recommendations", json={"ratings": {"50": 5, "050": 5}}).status_code == 200
    # A saved profile refuses them too: it kept the later stars without a word.
    r = client.post("/profiles", json={"ratings": {"50": 5, "050": 3}})
    assert r.status_code == 422 and "name one movie, rated 5 and 3 stars" in r.json()["detail"][0]["msg"]
    pid = client.post("/profiles", json={"ratings": {"1": 4}}).json()["profile_id"]
    r = client.put(f"/profiles/{pid}/ratings", json={"ratings": {"50": 5, "050": 1}})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "ratings", "050"]
    assert client.get(f"/profiles/{pid}").json()["ratings"] == {"1": 4.0}  # nothing saved
    assert client.put(f"/profiles/{pid}/ratings", json={"ratings": {"50": 5, "050": 5}}).json()["ratings"] == \
        {"1": 4.0, "50": 5.0}


def test_a_rejected_input_is_echoed_cut_short(client):
    # 20,000 ids under the body limit came back whole in the 422, about 60 KB.
    r = client.post("/recommendations", json={"liked": [50] * 20000})
    assert r.status_code == 422 and len(r.content) < 2000
    echoed = r.json()["detail"][0]["input"]
    assert echoed.startswith("[50, 50") and echoed.endswith(" characters in all)")
    # a long text is cut and counted as sent: it came back opening with a JSON quote, counted 2 over
    r = client.get("/movies", params={"query": "a" * 201})
    assert r.status_code == 422 and r.json()["detail"][0]["input"] == "a" * 200 + "... (201 characters in all)"


def test_a_long_unknown_id_is_named_cut_short(client):
    # A 20 KB id came back whole in 404s and in the unknown-movie 422 (twice: loc and msg).
    long_id = "x" * 20000
    said = f"{'x' * 200!r}... (20,000 characters in all)"
    for r in (client.get(f"/users/{long_id}/recommendations"), client.get(f"/movies/{long_id}"),
              client.get(f"/movies/{long_id}/similar")):
        assert r.status_code == 404 and len(r.content) < 1000
        assert said in r.json()["detail"]
    for body in ({"liked": [long_id]}, {"ratings": {long_id: 3}}, {"ratings": {long_id: 99}}):
        r = client.post("/recommendations", json=body)
        assert r.status_code == 422 and len(r.content) < 1000, r.content[:300]
    r = client.post("/recommendations", json={"liked": [long_id]})
    assert said in r.json()["detail"][0]["msg"]


def test_profiles_keep_ratings_and_recommend(run_dir, tmp_path, run):
    profiles = tmp_path / "profiles.sqlite"
    with TestClient(create_app(run_dir, profiles=profiles)) as c:
        created = c.post("/profiles")
        assert created.status_code == 201
        pid = created.json()["profile_id"]
        empty = c.get(f"/profiles/{pid}").json()
        assert empty["ratings"] == {} and empty["source"] == "popular" and len(empty["recommendations"]) == 10
        liked = popular_movie_ids(run, 3)
        r = c.put(f"/profiles/{pid}/ratings", json={"liked": liked})
        assert r.status_code == 200
        r = c.put(f"/profiles/{pid}/ratings", json={"ratings": {"98": 4.5, "050": 5}})  # "050" is movie 50
        p = r.json()
        assert p["ratings"] == {**{str(m): None for m in liked}, "98": 4.5, "50": 5.0}
        given = {int(m) for m in p["ratings"]}
        assert {m["movie_id"] for m in p["movies"]} == given
        assert p["source"] == "history" and not given & {m["movie_id"] for m in p["recommendations"]}
        assert c.delete(f"/profiles/{pid}/ratings/98").json()["ratings"].get("98") is None
        assert c.delete(f"/profiles/{pid}/ratings/98").status_code == 404
        assert "50" not in c.delete(f"/profiles/{pid}/ratings/050").json()["ratings"]  # saved as "50"
        c.put(f"/profiles/{pid}/ratings", json={"ratings": {"50": 5}})
        assert c.put("/profiles/nobody/ratings", json={"liked": [50]}).status_code == 404
        # An id longer than any profile's is unknown too (it was a 422 on its length).
        long = "A" * 65
        for answer in (c.get(f"/profiles/{long}"), c.put(f"/profiles/{long}/ratings", json={"liked": [50]}),
                       c.delete(f"/profiles/{long}/ratings/50"), c.delete(f"/profiles/{long}/ratings?movie_id=50")):
            assert answer.status_code == 404 and answer.json()["detail"] == f"unknown profile id {long!r}", answer.text
        assert c.get(f"/profiles/{'A' * 5000}").json()["detail"].endswith("(5,000 characters in all)")
        assert c.put(f"/profiles/{pid}/ratings", json={"liked": [99999]}).status_code == 422
        before = c.get(f"/profiles/{pid}").json()
        # A profile can be removed, ratings and all (a link to it kept it for anyone holding it).
        other = c.post("/profiles", json={"liked": [50]}).json()["profile_id"]
        r = c.delete(f"/profiles/{other}")
        assert r.status_code == 204 and r.content == b""
        assert c.get(f"/profiles/{other}").json()["detail"] == f"unknown profile id {other!r}"
        assert c.delete(f"/profiles/{other}").status_code == 404
        assert c.put(f"/profiles/{other}/ratings", json={"liked": [50]}).status_code == 404
        assert c.delete("/profiles/nobody").json()["detail"] == "unknown profile id 'nobody'"
        assert c.get(f"/profiles/{pid}").json() == before  # (the others kept)
        assert (tmp_path / "profiles.sqlite-wal").exists()  # open while serving
    # A stopped server closes its connections: no -wal or -shm is left to say it still
    # runs (quickstart refused to replace such a run folder ever after).
    assert sorted(p.name for p in tmp_path.glob("profiles.sqlite*")) == ["profiles.sqlite"]
    # A restart keeps everything.
    with TestClient(create_app(run_dir, profiles=profiles)) as c:
        assert c.get(f"/profiles/{pid}").json() == before


def test_profiles_survive_reexport_while_serving(run_dir, tmp_path):
    db = tmp_path / "recs.sqlite"
    export_store(run_dir, db, k=10, model="popularity", progress=False)
    with TestClient(create_app(run_dir, db, model="ease")) as c:
        pid = c.post("/profiles", json={"ratings": {"50": 5, "172": 4}}).json()["profile_id"]
        assert c.get("/users/1/recommendations").json()["source"] == "live"  # stale store
        export_store(run_dir, db, k=10, model="ease", progress=False)
        assert c.get("/users/1/recommendations").json()["source"] == "store"  # picked up
        assert c.get(f"/profiles/{pid}").json()["ratings"] == {"50": 5.0, "172": 4.0}
    assert (tmp_path / "recs.profiles.sqlite").exists()


def _cli(argv, monkeypatch):
    import cinerec.cli as cli

    return cli.main(argv)


def test_serve_refuses_missing_or_corrupt_inputs_with_one_line(run_dir, tmp_path, monkeypatch, capsys):
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"garbage" * 500)
    cases = [
        (["serve", "--run", str(tmp_path / "nope")], "no such run folder"),
        (["serve", "--run", str(run_dir), "--db", str(tmp_path / "absent.sqlite")], "no recommendation store"),
        (["serve", "--run", str(run_dir), "--db", str(bad)], "not a cinerec recommendation store"),
        (["serve", "--run", str(run_dir), "--run-model", "nope"], "no model 'nope'"),
        (["serve", "--run", str(run_dir), "--host", "no.such.host.invalid"], "cannot listen there"),
        (["serve", "--run", str(run_dir), "--host", ""], "--host '': give an address"),  # was: every interface
        (["serve", "--run", str(run_dir), "--profiles", str(tmp_path / "nope" / "p.sqlite")], "no such folder"),
        # Folders named where files go: said so (it was "no recommendation store here" and
        # "not a cinerec profiles file (unable to open database file)").
        (["serve", "--run", str(run_dir), "--db", str(tmp_path)], "a folder, not a recommendation store"),
        (["serve", "--run", str(run_dir), "--profiles", str(tmp_path)], "a folder; name the profiles file"),
    ]
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    with taken:  # a port in use: one line before anything is announced, not uvicorn's exit 3
        cases.append((["serve", "--run", str(run_dir), "--port", str(taken.getsockname()[1])], "address already in use"))
        for argv, needle in cases:
            assert _cli(argv, monkeypatch) == 2
            err = capsys.readouterr().err.strip()
            assert err.startswith("cinerec: error:") and needle in err.lower() and "\n" not in err
        # A server that cannot listen writes nothing into the run folder (no profiles file).
        import shutil

        fresh = tmp_path / "fresh"
        shutil.copytree(run_dir, fresh, ignore=shutil.ignore_patterns("profiles.sqlite*"))
        for where in (["--host", "no.such.host.invalid"], ["--port", str(taken.getsockname()[1])]):
            assert _cli(["serve", "--run", str(fresh), *where], monkeypatch) == 2
            capsys.readouterr()
            assert not list(fresh.glob("profiles.sqlite*"))


def test_export_command_writes_the_store(run_dir, tmp_path, monkeypatch, capsys, ml100k_dir):
    db = tmp_path / "cli.sqlite"
    assert _cli(["export", "--run", str(run_dir), "--db", str(db), "-k", "3", "--quiet"], monkeypatch) == 0
    assert capsys.readouterr().err == ""
    assert _cli(["export", "--run", str(run_dir), "--db", str(db), "-k", "3"], monkeypatch) == 0
    assert "top-3 of 943 users" in capsys.readouterr().err
    assert _cli(["export", "--run", str(run_dir), "--db", str(db), "-k", "-1"], monkeypatch) == 2
    capsys.readouterr()
    # Another run's store replaced is said (a server of that run then scores every list live).
    # (a copy of the run's folder is that run: its servers read the new store, and nothing is said)
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns("profiles.sqlite*"))
    assert _cli(["export", "--run", str(copy), "--db", str(db), "-k", "3"], monkeypatch) == 0
    assert "another run" not in capsys.readouterr().err
    other = build_run(tmp_path / "other", ml100k_dir, models=("popularity",))
    assert _cli(["export", "--run", str(other), "--db", str(db), "-k", "3"], monkeypatch) == 0
    err = capsys.readouterr().err
    assert f"note: {db} held the store of another run ({copy}, model 'ease'), now replaced: a server of that " \
           "run scores its lists live from now on" in err, err
    assert _cli(["export", "--run", str(other), "--db", str(db), "-k", "4"], monkeypatch) == 0
    assert "another run" not in capsys.readouterr().err


def test_cold_start_reasons_are_the_models_explain_over_liked_movies(app, client):
    import scipy.sparse as sp

    svc = app.state.service
    body = {"ratings": {"50": 5, "181": 4, "172": 2, "1": 4.5}, "k": 8}
    recs = client.post("/recommendations", json=body).json()["recommendations"]
    # The mean is 3.875: Star Wars, Toy Story and Return of the Jedi are liked, not 2 stars.
    likes = np.sort(svc.dataset.item_ids.index([50, 181, 1]))
    history = sp.csr_matrix((np.ones(3), (np.zeros(3, int), likes)), shape=(1, svc.dataset.n_items))
    items = svc.dataset.item_ids.index([m["movie_id"] for m in recs])
    why = svc.model.explain(history, items[None, :])[0]
    assert [m["reason_movie_id"] for m in recs] == svc.dataset.item_ids.raw[why].tolist()


def test_the_same_movie_twice_counts_once(client):
    once = client.post("/recommendations", json={"ratings": {"50": 5}, "k": 5}).json()
    twice = client.post("/recommendations", json={"ratings": {"050": 5, "50": 5}, "k": 5}).json()
    assert once == twice  # (with other stars each time it is refused: which would count?)


def test_export_refuses_targets_it_would_wrongly_create_or_destroy(run_dir, tmp_path, monkeypatch, capsys):
    notes = tmp_path / "notes.json"
    notes.write_text('{"keep": true}')
    other = tmp_path / "other.sqlite"
    import sqlite3

    with sqlite3.connect(other) as con:
        con.execute("CREATE TABLE t (x)")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # (opening it to look inside waited for a writer, past Ctrl-C and SIGTERM)
    cases = [
        (tmp_path, "is a folder"),
        (fifo, "is not a regular file (a pipe or a device); --db names the store file to write"),
        (notes, "is not a cinerec recommendation store"),
        (other, "is not a cinerec recommendation store"),
        (tmp_path / "absent" / "x.sqlite", "no such folder"),
        ("mysql://host/db", "unsupported URL scheme 'mysql'"),
        # An unescaped "@" in the password: refused whole, no piece of the password shown.
        ("postgresql://u:se@cret@127.0.0.1:1/db", "--db postgresql://u:***@127.0.0.1:1/db: the part before the "
                                                 "host holds more than one '@'; write an '@' in the user name or "
                                                 "password as %40"),
        ("postgresql://u:se?cret@x@127.0.0.1:1/db", "the part before the host holds more than one '@'"),
        # (a "/" in the password hid the second "@": "failed to resolve host 'ss'")
        ("postgresql://u:se@c:r/cret@127.0.0.1:1/db", "the part before the host holds more than one '@'"),
        # Both were taken for a file's name, written with the password in it.
        ("host=127.0.0.1 port=1 user=u password=secret dbname=db", "--db: a connection string of key=value pairs "
                                                                   "is not read here; write it as a URL"),
        ("postgres:/u:secret@127.0.0.1:1/db", "--db: 'postgres:' needs two slashes after it to be a URL"),
        # Its colon left out: a folder "postgresql/u:secret@127.0.0.1:1", named with the password.
        ("postgresql//u:secret@127.0.0.1:1/db", "--db: 'postgresql' needs '://' after it to be a URL"),
        ("POSTGRES///u:secret@127.0.0.1:1/db", "--db: 'POSTGRES' needs '://' after it to be a URL"),
        # A "/" in the password: the driver took "u" for the host ("failed to resolve host 'u'").
        ("postgresql://u:se/cret@127.0.0.1:1/db", "--db postgresql://u:***@127.0.0.1:1/db: an '@' after the first "
                                                  "'/'; write a '/' in the user name or password as %2F"),
    ]
    # URLs the driver reads as written, and a folder named postgres: none refused by those checks.
    from cinerec.serving.store import check_url

    for fine in ("postgresql:///db?host=/var/run/postgresql&user=me@corp", "postgresql://host/db?sslcert=/etc/me@c.crt",
                 "postgresql://u:p@[::1]:5432/db", "postgres/store@2024.sqlite", "postgresql/backup@2024/s.sqlite"):
        check_url(fine)
    for db, needle in cases:
        assert _cli(["export", "--run", str(run_dir), "--db", str(db), "-k", "3"], monkeypatch) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("cinerec: error:") and needle in err and "\n" not in err and "cret" not in err, err
    assert notes.read_text() == '{"keep": true}' and not (tmp_path / "absent").exists()
    # Served from, or keeping profiles in, a pipe or device: said so (no advice to export
    # into it, no full disk to free).
    from pathlib import Path

    from cinerec.errors import DataError
    from cinerec.serving.store import open_profiles, open_store

    with pytest.raises(DataError, match="fifo: is not a regular file .*, not a recommendation store"):
        open_store(fifo)
    for special in (fifo, Path(os.devnull)):
        with pytest.raises(DataError, match=r"profiles .*: is not a regular file \(a pipe or a device\); name the "
                                            "profiles file"):
            open_profiles(None, run_dir, special)
    assert not list(tmp_path.glob("mysql*"))
    # an earlier store is replaced, as before
    db = tmp_path / "recs.sqlite"
    assert _cli(["export", "--run", str(run_dir), "--db", str(db), "-k", "3", "--quiet"], monkeypatch) == 0
    assert _cli(["export", "--run", str(run_dir), "--db", str(db), "-k", "4", "--quiet"], monkeypatch) == 0


def test_a_database_out_of_reach_is_503_and_a_degraded_health_not_500_or_422(run_dir, tmp_path):
    from cinerec.errors import Unavailable

    def down(*args, **kwargs):
        raise Unavailable("postgresql://cinerec@db/recs: PostgreSQL write failed (terminating connection)")

    app = create_app(run_dir, profiles=tmp_path / "p.sqlite")
    with TestClient(app) as c:
        profiles = app.state.service.profiles
        profiles.count = profiles.create = profiles.get = down
        health = c.get("/health")
        assert health.status_code == 200 and health.json()["status"] == "degraded"
        assert health.json()["profiles"].startswith("unreadable")
        r = c.post("/profiles", json={"liked": [50]})
        assert r.status_code == 503 and "terminating connection" in r.json()["detail"] and r.headers["Retry-After"]
        assert c.get("/profiles/abc").status_code == 503
        assert c.get("/users/1/recommendations").status_code == 200  # lists still answer


def test_health_reads_the_store_and_the_profiles_at_once(run_dir, tmp_path):
    # From a PostgreSQL server that hangs each read gives up after 10 s; read one after
    # the other, /health took 20 s. Here each read waits until the other has started.
    import threading

    db = tmp_path / "recs.sqlite"
    export_store(run_dir, db, k=10, model="ease", progress=False)
    app = create_app(run_dir, db, model="ease", profiles=tmp_path / "p.sqlite")
    both = threading.Barrier(2, timeout=10)
    with TestClient(app) as c:
        service = app.state.service
        count, refresh = service.profiles.count, service.store.refresh
        service.profiles.count = lambda: (both.wait(), count())[1]
        service.store.refresh = lambda: (both.wait(), refresh())[1]
        health = c.get("/health").json()
    assert health["status"] == "ok" and health["profiles"] == 0, health
    assert health["store"]["k"] == 10 and health["store"]["stale"] is None


def test_a_read_only_profiles_file_is_a_degraded_health_before_a_change_finds_out(run_dir, tmp_path, monkeypatch):
    # /health said "ok" while every POST /profiles answered 503. (Tests run as root, for whom
    # no file is read-only: the answer of os.access is what a read-only file or disk gives.)
    from pathlib import Path

    import cinerec.serving.store as store_module

    path = tmp_path / "p.sqlite"
    with TestClient(create_app(run_dir, profiles=path)) as c:
        assert c.get("/health").json()["status"] == "ok"
        real = os.access
        monkeypatch.setattr(store_module.os, "access",
                            lambda p, mode, *a, **k: False if Path(p) == path and mode == os.W_OK else real(p, mode))
        health = c.get("/health").json()
        assert health["status"] == "degraded", health
        assert health["profiles"] == f"0 readable, none can be saved ({path}: read-only (the file cannot be written): " \
                                     "changes are refused)"


@pytest.mark.parametrize("existing", [False, True])
def test_a_server_starts_beside_a_store_in_a_read_only_folder(run_dir, tmp_path, monkeypatch, existing):
    # serve refused to start: "store.profiles.sqlite: not a cinerec profiles file (unable to open
    # database file)", for a folder it could not make the file in, and for a profiles file of its own
    # (SQLite's WAL mode makes files beside it to read). (As root no folder is read-only to
    # os.access, so its answer is set to what a read-only mount gives; SQLite is opened as for one.)
    from pathlib import Path

    import cinerec.serving.store as store_module

    folder = tmp_path / "ro"
    folder.mkdir()
    path = folder / "p.sqlite"
    if existing:
        with TestClient(create_app(run_dir, profiles=path)) as c:
            made = c.post("/profiles", json={"liked": [50]}).json()["profile_id"]
    real = os.access
    monkeypatch.setattr(store_module.os, "access",
                        lambda p, mode, *a, **k: False if Path(p) in (path, folder) and mode == os.W_OK else real(p, mode))
    with TestClient(create_app(run_dir, profiles=path)) as c:
        health = c.get("/health").json()
        assert health["status"] == "degraded" and "read-only" in health["profiles"], health
        assert health["profiles"].startswith(f"{1 if existing else 0} readable, none can be saved"), health
        assert c.get("/users/1/recommendations").status_code == 200
        r = c.post("/profiles", json={"liked": [50]})
        assert r.status_code == 503 and "read-only" in r.json()["detail"]
        if existing:
            assert c.get(f"/profiles/{made}").status_code == 200
    # Nothing made there (SQLite's -shm and -wal for reading appear only where, as for root
    # here, the folder can in fact be written).
    made_there = {p.name for p in folder.iterdir()} - {"p.sqlite-shm", "p.sqlite-wal"}
    assert sorted(made_there) == (["p.sqlite"] if existing else [])


def test_profiles_made_read_only_while_served_refuse_changes_and_recover_when_writable(run_dir, tmp_path, monkeypatch):
    # Made read-only while served, changes were still saved on the open connections while
    # /health said none could be; started read-only, a server refused changes until it was
    # restarted; a -shm file left read-only beside a writable file gave "ok" and a 503 on
    # every change. (As root nothing is read-only to os.access: its answer is set.)
    from pathlib import Path

    import cinerec.serving.store as store_module

    path = tmp_path / "p.sqlite"
    real = os.access
    read_only: set[Path] = set()
    monkeypatch.setattr(store_module.os, "access",
                        lambda p, mode, *a, **k: False if Path(p) in read_only and mode == os.W_OK else real(p, mode))
    with TestClient(create_app(run_dir, profiles=path)) as c:
        assert c.post("/profiles", json={"liked": [50]}).status_code == 201
        read_only.add(path)
        r = c.post("/profiles", json={"liked": [51]})
        assert r.status_code == 503 and "read-only (the file cannot be written)" in r.json()["detail"]
        assert c.get("/health").json()["profiles"].startswith("1 readable, none can be saved")
    with TestClient(create_app(run_dir, profiles=path)) as c:  # started read-only
        assert c.post("/profiles", json={"liked": [51]}).status_code == 503
        read_only.clear()
        made = c.post("/profiles", json={"liked": [52]})
        assert made.status_code == 201, made.text
        assert c.get("/health").json()["status"] == "ok" and c.get("/health").json()["profiles"] == 2
        assert c.get(f"/profiles/{made.json()['profile_id']}").status_code == 200
    shm = path.with_name("p.sqlite-shm")
    shm.write_bytes(b"")
    read_only.add(shm)
    with TestClient(create_app(run_dir, profiles=path)) as c:
        health = c.get("/health").json()
        assert health["status"] == "degraded" and "its shared-memory file cannot be written" in health["profiles"]
        assert c.post("/profiles", json={"liked": [53]}).status_code == 503


def test_read_only_profiles_still_in_their_write_ahead_log_are_read(run_dir, tmp_path, monkeypatch):
    # Profiles saved but not yet folded into the file (a server killed, or a folder copied
    # while served) live in its -wal file: read as an unchanging file, SQLite ignored it and
    # the file was called "not a cinerec profiles file (no such table: profiles)".
    import shutil
    from pathlib import Path

    import cinerec.serving.store as store_module

    live, folder = tmp_path / "live.sqlite", tmp_path / "ro"
    folder.mkdir()
    with TestClient(create_app(run_dir, profiles=live)) as c:
        made = [c.post("/profiles", json={"liked": [50 + i]}).json()["profile_id"] for i in range(3)]
        for suffix in ("", "-wal", "-shm"):  # copied while served: the profiles are in the -wal file
            shutil.copy(f"{live}{suffix}", folder / f"p.sqlite{suffix}")
    path = folder / "p.sqlite"
    real = os.access
    monkeypatch.setattr(store_module.os, "access",
                        lambda p, mode, *a, **k: False if Path(p) in (path, folder) and mode == os.W_OK else real(p, mode))
    with TestClient(create_app(run_dir, profiles=path)) as c:
        assert c.get("/health").json()["profiles"].startswith("3 readable, none can be saved")
        assert all(c.get(f"/profiles/{pid}").status_code == 200 for pid in made)


def test_a_run_trained_again_while_served_makes_health_say_restart(ml100k_dir, tmp_path, monkeypatch):
    # The server kept serving the model it loaded, and /health said "ok".
    from cinerec.cli import main

    out = tmp_path / "run"
    argv = ["quickstart", "--data", str(ml100k_dir), "--model", "popularity", "--users", "0", "--out", str(out), "-q"]
    assert main(argv) == 0
    with TestClient(create_app(out, profiles=tmp_path / "profiles.sqlite")) as c:  # kept outside the run
        health = c.get("/health").json()
        assert health["status"] == "ok" and health["run_stale"] is None
        assert main([*argv, "--seed", "1"]) == 0  # a quickstart replaces its own earlier run
        health = c.get("/health").json()
        assert health["status"] == "degraded" and "restart the server to serve the new run" in health["run_stale"]
        started_with = c.app.state.service.run.meta["created"]
    # serve --workers: a worker started again (one died) reads the re-written run, while
    # its siblings serve the old one; it said "ok".
    from cinerec.commands import serve

    monkeypatch.setenv(serve.ENV_RUN, str(out))
    monkeypatch.setenv(serve.ENV_PROFILES, str(tmp_path / "profiles.sqlite"))
    monkeypatch.setenv(serve.ENV_CREATED, started_with)
    monkeypatch.setattr(serve, "limit_threads", lambda n: None)
    with TestClient(serve.app_from_environment()) as c:
        health = c.get("/health").json()
        assert health["status"] == "degraded" and "while the others serve the run the server started with" \
            in health["run_stale"], health
    monkeypatch.setenv(serve.ENV_CREATED, str(open_run(out).meta["created"]))
    with TestClient(serve.app_from_environment()) as c:
        assert c.get("/health").json()["status"] == "ok"
        # The run folder removed while served: /health said "ok", and a worker started again would fail.
        shutil.rmtree(out)
        health = c.get("/health").json()
        assert health["status"] == "degraded" and health["run_stale"].startswith(
            f"the run folder's run.json is gone or unreadable since this server loaded it ({out})"), health
        assert c.get("/users/1/recommendations").status_code == 200  # still answered, with the run loaded


def test_a_short_history_is_filled_by_popularity_said_so_not_by_catalogue_order(run):
    from cinerec.models import create
    from cinerec.serving.lists import POPULAR, Lists

    lists = Lists(run.dataset, create("itemknn").fit(run.dataset.interactions))
    counts = run.dataset.interactions.item_counts
    rare = int(np.argmin(np.where(counts > 0, counts, counts.max() + 1)))  # few neighbours
    items, scores, reasons = lists.for_history(np.array([rare]), np.array([1.0]), np.array([True]), 100)
    filler = scores == 0
    assert filler.any() and (reasons[filler] == POPULAR).all() and rare not in items
    assert (np.diff(counts[items[filler]]) <= 0).all()  # most rated first
    records = lists.records(items, scores, reasons)
    assert all(r["reason"] == "popular with many viewers" for r, f in zip(records, filler) if f)


def test_movies_a_history_speaks_against_are_filled_by_popularity_too(run):
    # EASE scores some movies below 0 for a one-movie history: such places are filler, like
    # those scored 0, and never carry a reason naming what the person liked.
    from cinerec.models import create
    from cinerec.serving.lists import POPULAR, Lists

    lists = Lists(run.dataset, create("ease").fit(run.dataset.interactions))
    items, scores, reasons = lists.for_history(np.array([49]), np.array([1.0]), np.array([True]), 1000)
    assert len(set(items.tolist())) == len(items) == 1000 and 49 not in items
    filler = scores <= 0
    assert filler.any() and (reasons[filler] == POPULAR).all() and (reasons[~filler] >= 0).all()
    counts = run.dataset.interactions.item_counts
    assert (scores[~filler] > 0).all() and (np.diff(scores) <= 0).all()  # the list reads in descending score
    assert not filler[:int((~filler).sum())].any()  # the evidence first, then the filler
    from cinerec.data.history import history_row

    own = np.asarray(lists.model.score_history(history_row(np.array([49]), np.array([1.0], np.float32),
                                                                 run.dataset.n_items))).ravel()
    np.testing.assert_allclose(scores, own[items], rtol=1e-6)  # each movie's own score
    # the filler is the best, by its own scores, of the most rated movies scored 0 or below
    from cinerec.serving.lists import POPULAR_POOL

    pool = np.setdiff1d(np.flatnonzero(own <= 0), [49])
    most_rated = pool[np.argsort(-counts[pool], kind="stable")][:max(int(filler.sum()), POPULAR_POOL)]
    assert set(items[filler].tolist()) <= set(most_rated.tolist())
    assert own[items[filler]].min() >= np.sort(own[most_rated])[::-1][int(filler.sum()) - 1]


def test_similar_movies_have_something_in_common(client, run):
    counts = run.dataset.interactions.item_counts
    rare = run.dataset.item_ids.raw[int(np.argmin(np.where(counts > 0, counts, counts.max() + 1)))].item()
    similar = client.get(f"/movies/{rare}/similar", params={"k": 100}).json()
    assert all(m["similarity"] > 0 for m in similar)


@pytest.mark.parametrize("damage", ["DROP TABLE recommendations", "UPDATE recommendations SET item = 99999"])
def test_a_store_damaged_inside_is_scored_live_not_a_500(run_dir, tmp_path, damage):
    import sqlite3

    db = tmp_path / "recs.sqlite"
    export_store(run_dir, db, k=12, model="ease", progress=False)
    with TestClient(create_app(run_dir, db, model="ease")) as c:
        assert c.get("/users/1/recommendations").json()["source"] == "store"
        con = sqlite3.connect(db)
        con.execute(damage)
        con.commit()
        con.close()
        os.utime(db, (os.stat(db).st_atime, os.stat(db).st_mtime + 5))
        r = c.get("/users/1/recommendations")
        assert r.status_code == 200 and r.json()["source"] == "live", r.text


def test_stars_are_taken_on_the_served_datas_scale(tmp_path, client):
    # ml-100k: MovieLens's 0.5 to 5 (the page's stars); a 0-10 log: up to 10, not refused above 5.
    from .conftest import build_run

    assert client.get("/health").json()["stars_range"] == [1.0, 5.0]
    log = tmp_path / "ten.csv"
    log.write_text("user,item,rating\n" + "\n".join(
        f"u{u},m{i},{(u * 7 + i * 3) % 10 + 1}" for u in range(8) for i in range(10)) + "\n")
    ten = TestClient(create_app(build_run(tmp_path / "run", log, models=("itemknn",))))
    assert ten.get("/health").json()["stars_range"] == [1.0, 10.0]
    assert ten.post("/recommendations", json={"ratings": {"m1": 9, "m2": 2}}).status_code == 200
    for path in ("/recommendations", "/profiles"):
        r = ten.post(path, json={"ratings": {"m1": 11}})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "ratings", "m1"]
        assert "outside this data's scale, 1 to 10" in r.json()["detail"][0]["msg"]


def test_a_log_of_plain_events_takes_each_movie_as_one_liked_event(tmp_path):
    # No rating column: no scale to give stars on (the page offers likes alone), and each
    # movie given is a like, as every event of the log is: a reason names it.
    from .conftest import build_run

    log = tmp_path / "events.csv"
    log.write_text("user,item\n" + "\n".join(
        f"u{u},m{i}" for u in range(12) for i in range(10) if (u + i) % 3) + "\n")
    c = TestClient(create_app(build_run(tmp_path / "run", log, models=("itemknn",))))
    assert c.get("/health").json()["stars_range"] == [1.0, 1.0]
    one = c.post("/recommendations", json={"ratings": {"m1": 1}})
    like = c.post("/recommendations", json={"liked": ["m1"]})
    assert one.status_code == 200 and one.json() == like.json()
    assert any("m1" in r["reason"] or r.get("reason_movie_id") == "m1" for r in one.json()["recommendations"]), one.json()
    r = c.post("/recommendations", json={"ratings": {"m1": 5}})
    # (it said "outside this data's scale, 1 to 1")
    assert r.status_code == 422 and r.json()["detail"][0]["msg"] == (
        "5 stars is outside this data's scale: it holds plain events, so it takes likes only: give the movie as "
        "liked"), r.text


def test_stars_outside_a_run_made_implicit_from_stars_name_its_scale(tmp_path):
    # A --liked-threshold run keeps its source's scale (stars 1 to 5 are taken), and was
    # said to hold plain events taking likes only.
    (tmp_path / "log.csv").write_text("user,item,rating\n" + "".join(
        f"u{u},m{i},{1 + (u + i) % 5}\n" for u in range(30) for i in range(12) if (u + i) % 3))
    run = tmp_path / "run"
    assert main(["train", "--data", str(tmp_path / "log.csv"), "--liked-threshold", "4", "--model", "itemknn",
                 "--protocol", "loo-full", "--protocol-option", "ks=[1]", "--out", str(run), "-q"]) == 0
    c = TestClient(create_app(run))
    assert c.post("/recommendations", json={"ratings": {"m1": 2}}).status_code == 200
    r = c.post("/recommendations", json={"ratings": {"m1": 9}})
    assert r.status_code == 422 and r.json()["detail"][0]["msg"] == "9 stars is outside this data's scale, 1 to 5", r.text


def test_stars_outside_a_log_rated_all_alike_name_the_one_rating_it_takes(tmp_path):
    # A rating column of 5s alone was said to hold plain events taking likes only, and 5 stars was taken.
    from .conftest import build_run

    log = tmp_path / "fives.csv"
    log.write_text("user,item,rating\n" + "\n".join(
        f"u{u},m{i},5" for u in range(12) for i in range(10) if (u + i) % 3) + "\n")
    c = TestClient(create_app(build_run(tmp_path / "run", log, models=("itemknn",))))
    assert c.post("/recommendations", json={"ratings": {"m1": 5}}).status_code == 200
    r = c.post("/recommendations", json={"ratings": {"m1": 4}})
    assert r.status_code == 422 and r.json()["detail"][0]["msg"] == (
        "4 stars is outside this data's scale: its every rating is 5, so it takes 5 stars or a like"), r.text


def test_ids_with_spaces_or_slashes_are_reachable(tmp_path):
    # A log's ids are kept as written, but for the spaces around them (the file's layout):
    # "  padded" is user "padded", "u/253" (sent as %2F) and "x y" name their own users,
    # and every id the API returns can be sent back to it.
    from urllib.parse import quote

    from .conftest import build_run

    users = ["  padded", "u/253", "plain", "x y", "zoe\u0308"]
    movies = [" fargo ", "film/1", "m2", "m3", "m4", "m2/similar"]
    log = tmp_path / "log.csv"
    log.write_text("user,item,rating\n" + "\n".join(
        f'"{u}","{m}",{(a + b) % 5 + 1}' for a, u in enumerate(users) for b, m in enumerate(movies) if (a + b) % 3)
        + "\n")
    c = TestClient(create_app(build_run(tmp_path / "run", log, models=("itemknn",))))
    for u in (x.strip() for x in users):
        r = c.get(f"/users/{quote(u, safe='')}/recommendations", params={"k": 3})
        assert r.status_code == 200 and r.json()["user_id"] == u, (u, r.text)
    # An accent sent composed finds the id the file writes as two characters.
    composed = quote("zo\u00eb", safe="")
    r = c.get(f"/users/{composed}/recommendations", params={"k": 3})
    assert r.status_code == 200 and r.json()["user_id"] == "zoe\u0308", r.text
    for m in (x.strip() for x in movies):
        assert c.get(f"/movies/{quote(m, safe='')}").json()["movie_id"] == m
        assert c.get(f"/movies/{quote(m, safe='')}/similar").status_code == 200
    # "m2/similar" sent as m2%2Fsimilar is that movie, not the movies like m2.
    assert c.get("/movies/m2%2fsimilar").json()["movie_id"] == "m2/similar"
    assert c.get("/movies/m2/similar").json()[0]["movie_id"] != "m2"
    # No route answers for a user alone: "u/253/recommendations" sent whole is no list of u/253's.
    r = c.get("/users/u%2F253%2Frecommendations")
    assert r.status_code == 404 and r.json() == {"detail": "Not Found"}, r.text
    assert c.get("/users/u%2F253/recommendations").status_code == 200
    # An id ending in "%2F" after the route's word is no list, nor a redirect to one.
    for path in ("/users/u%2F253/recommendations%2F", "/users/plain/recommendations%2f"):
        r = c.get(path, follow_redirects=False)
        assert r.status_code == 404 and r.json() == {"detail": "Not Found"}, (path, r.status_code)
    # ... while the route's own word, its letters percent-encoded, is still the route.
    assert c.get("/users/u%2F253/recommendation%73").json()["user_id"] == "u/253"
    assert c.get("/movies/m2/simila%72").json()[0]["movie_id"] != "m2"
    assert c.post("/recommendations", json={"liked": ["fargo", "film/1"]}).status_code == 200
    pid = c.post("/profiles", json={"liked": ["film/1", "m2"]}).json()["profile_id"]
    r = c.delete(f"/profiles/{pid}/ratings/{quote('film/1', safe='')}")
    assert r.status_code == 200 and list(r.json()["ratings"]) == ["m2"]
    # The same with the id in the query, the form for "." and "..", which a browser
    # drops from a path.
    r = c.delete(f"/profiles/{pid}/ratings", params={"movie_id": "m2"})
    assert r.status_code == 200 and r.json()["ratings"] == {}
    r = c.delete(f"/profiles/{pid}/ratings", params={"movie_id": "m2"})
    assert r.status_code == 404 and "has no rating for movie id 'm2'" in r.json()["detail"]
    assert c.delete(f"/profiles/{pid}/ratings").status_code == 422


def test_similar_movies_of_any_id_have_a_query_form(tmp_path):
    # The ids "." and ".." cannot be sent in a path (a client takes them out: /movies/./similar
    # is sent as /movies/similar): their similar movies had no address at all.
    from .conftest import build_run

    log = tmp_path / "log.csv"
    movies = [".", "..", "m2", "m3", "m4", "similar"]
    log.write_text("user,item,rating\n" + "\n".join(
        f'u{a},"{m}",{(a + b) % 5 + 1}' for a in range(6) for b, m in enumerate(movies) if (a + b) % 3) + "\n")
    c = TestClient(create_app(build_run(tmp_path / "run", log, models=("itemknn",))))
    for m in movies:
        r = c.get("/similar", params={"movie_id": m, "k": 3})
        assert r.status_code == 200 and r.json() and all(x["movie_id"] != m for x in r.json()), (m, r.text)
        if m not in (".", ".."):
            assert r.json() == c.get(f"/movies/{m}/similar", params={"k": 3}).json()
    assert c.get("/similar", params={"movie_id": "050"}).json() == {"detail": "unknown movie id '050'"}
    assert c.get("/similar", params={"movie_id": "m2", "k": 0}).status_code == 422
    assert c.get("/similar").status_code == 422
    # A movie named "similar" is still that movie under /movies/.
    assert c.get("/movies/similar").json()["movie_id"] == "similar"


def test_ids_with_a_line_break_are_reachable(tmp_path):
    # A quoted CSV field may hold a line break; the path routes stopped at it and answered
    # a bare "Not Found" for the movie, its similar movies and the user alike.
    from .conftest import build_run

    log = tmp_path / "log.csv"
    users, movies = ["a\nb", "plain", "c", "d"], ["m\n1", "m2", "m3", "m4", "m5"]
    log.write_text("user,item,rating\n" + "\n".join(
        f'"{u}","{m}",{(a + b) % 5 + 1}' for a, u in enumerate(users) for b, m in enumerate(movies) if (a + b) % 3)
        + "\n")
    c = TestClient(create_app(build_run(tmp_path / "run", log, models=("itemknn",))))
    r = c.get("/users/a%0Ab/recommendations", params={"k": 2})
    assert r.status_code == 200 and r.json()["user_id"] == "a\nb", r.text
    assert c.get("/movies/m%0A1").json()["movie_id"] == "m\n1"
    assert c.get("/movies/m%0A1/similar").status_code == 200
    assert c.get("/movies/x%0Ay").json() == {"detail": "unknown movie id 'x\\ny'"}
    pid = c.post("/profiles", json={"liked": ["m\n1", "m2"]}).json()["profile_id"]
    r = c.delete(f"/profiles/{pid}/ratings/m%0A1")
    assert r.status_code == 200 and list(r.json()["ratings"]) == ["m2"]


def test_a_nul_in_an_id_is_404_on_every_store_not_500(client):
    # PostgreSQL text cannot hold NUL: its driver's error surfaced as a 500.
    assert client.get("/profiles/%00").status_code == 404
    assert client.get("/profiles/a%00b", params={"k": 3}).status_code == 404
    assert client.put("/profiles/%00/ratings", json={"liked": [50]}).status_code == 404
    assert client.delete("/profiles/%00/ratings/50").status_code == 404
    pid = client.post("/profiles", json={"liked": [50]}).json()["profile_id"]
    r = client.delete(f"/profiles/{pid}/ratings/%00")
    assert r.status_code == 404 and "has no rating for movie id" in r.json()["detail"]


def test_a_two_stage_cold_start_keeps_its_own_order_and_scores(run):
    """A two-stage model mixes standardised scores, so half its shortlist scores below 0:
    those places went to popular movies, some from outside the shortlist with a score of
    -inf (null in the API), and its own ranked movies lost their reasons."""
    from cinerec.data.history import history_row
    from cinerec.models import create
    from cinerec.serving.lists import POPULAR, Lists

    model = create("two-stage", {"retriever": "als", "retriever_settings": {"epochs": 3}, "ranker": "popularity",
                                 "candidates": 20, "mix": 0.5}).fit(run.dataset.interactions)
    lists = Lists(run.dataset, model)
    given = np.array([49, 180])
    items, scores, reasons = lists.for_history(given, np.zeros(2), np.ones(2, bool), 20)
    top = float(run.dataset.interactions.ratings.max())  # a like is the top of the scale
    own = np.asarray(model.score_history(history_row(np.sort(given), np.full(2, top, np.float32),
                                                     run.dataset.n_items))).ravel()
    assert len(items) == 20 and np.isfinite(scores).all() and (scores < 0).any()
    np.testing.assert_allclose(scores, own[items], rtol=1e-6)  # the model's own shortlist, in its order
    assert (np.diff(scores) <= 0).all() and not (reasons == POPULAR).any()
    assert all(r["score"] is not None for r in lists.records(items, scores, reasons))


def test_an_ensemble_cold_start_keeps_its_own_order_past_zero(run):
    # Its scores are standardised: the lower half of a long list scored below 0 and went
    # to popular movies, said to be popular, in place of the ensemble's own order.
    from cinerec.models import create
    from cinerec.serving.lists import POPULAR, Lists

    lists = Lists(run.dataset, create("ensemble").fit(run.dataset.interactions))
    items, scores, reasons = lists.for_history(np.array([49, 180]), np.zeros(2), np.ones(2, bool), 1000)
    assert (scores < 0).any() and not (reasons == POPULAR).any() and (np.diff(scores) <= 0).all()


def test_a_list_past_a_two_stage_shortlist_is_a_422_naming_k(tmp_path, run):
    """The 422 had "loc": [] where the docs promise the field at fault; a profile's new
    ratings were saved before the k was refused."""
    from fastapi.testclient import TestClient

    from cinerec.models import create
    from cinerec.runs import finish_run, save_dataset, save_model
    from cinerec.serving.api import create_app

    folder = tmp_path / "two"
    save_model(folder, create("two-stage", {"retriever": "ease", "ranker": "popularity", "candidates": 8})
               .fit(run.dataset.interactions))
    save_dataset(folder, run.dataset)
    finish_run(folder, meta={"source": "ml-100k", "best_model": "two-stage"})
    with TestClient(create_app(folder, profiles=tmp_path / "profiles.sqlite")) as c:
        for r, where in ((c.get("/users/1/recommendations?k=9"), "query"),
                         (c.post("/recommendations", json={"liked": [50], "k": 9}), "body")):
            assert r.status_code == 422 and r.json()["detail"][0]["loc"] == [where, "k"], r.text
            assert "k = 9 is more than candidates = 8" in r.json()["detail"][0]["msg"]
        assert c.get("/users/1/recommendations?k=8").status_code == 200
        pid = c.post("/profiles", json={"liked": [50]}).json()["profile_id"]
        r = c.put(f"/profiles/{pid}/ratings?k=9", json={"liked": [181]})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "k"]
        assert set(c.get(f"/profiles/{pid}?k=5").json()["ratings"]) == {"50"}  # nothing written


def test_a_two_stage_genre_list_is_one_list_whatever_k(tmp_path, run):
    # k=3 was cut from the store's list, k=9 scored live within the genre: another first
    # movie, order and scores for the same person and genre.
    from fastapi.testclient import TestClient

    from cinerec.models import create
    from cinerec.runs import finish_run, save_dataset, save_model
    from cinerec.serving.api import create_app

    folder = tmp_path / "two"
    save_model(folder, create("two-stage", {"retriever": "itemknn", "retriever_settings": {"neighbors": 3},
                                            "ranker": "als", "ranker_settings": {"epochs": 3}, "mix": 0.5})
               .fit(run.dataset.interactions))
    save_dataset(folder, run.dataset)
    finish_run(folder, meta={"source": "ml-100k", "best_model": "two-stage"})
    export_store(folder, folder / "store.sqlite", k=50, progress=False)
    with TestClient(create_app(folder, folder / "store.sqlite")) as c:
        for user in (700, 256, 1):
            short = c.get(f"/users/{user}/recommendations?k=3&genre=Western").json()
            long = c.get(f"/users/{user}/recommendations?k=9&genre=Western").json()
            assert short["source"] == "live"
            assert short["recommendations"] == long["recommendations"][:3]


def test_a_new_persons_list_is_no_longer_than_a_two_stage_shortlist_either(run):
    # Known users were refused k > candidates; cold start gave 8 where 10 were asked, without a word.
    from cinerec.errors import ConfigError
    from cinerec.models import create
    from cinerec.serving.lists import Lists

    model = create("two-stage", {"retriever": "ease", "ranker": "popularity", "candidates": 8})
    lists = Lists(run.dataset, model.fit(run.dataset.interactions))
    with pytest.raises(ConfigError, match="k = 10 is more than candidates = 8"):
        lists.for_history(np.array([49]), np.array([5.0]), np.array([False]), 10)
    items, _, _ = lists.for_history(np.array([49]), np.array([5.0]), np.array([False]), 8)
    assert len(items) == 8 and 49 not in items
    # A k past the catalogue was cut to the catalogue's size first, and the error named that.
    too_many = run.dataset.n_items + 500
    for ask in (lambda: lists.for_users(np.array([0]), too_many),
                lambda: lists.for_history(np.array([49]), np.array([5.0]), np.array([False]), too_many)):
        with pytest.raises(ConfigError, match=f"k = {too_many} is more than candidates = 8"):
            ask()


def test_a_like_weighs_as_the_top_of_the_scale_for_a_model_of_stars(run):
    # A like entered a model of stars as 1 star: "I liked A, B, C" gave the list of
    # three 1-star ratings.
    from cinerec.models import create
    from cinerec.serving.lists import Lists

    lists = Lists(run.dataset, create("baseline").fit(run.dataset.interactions))
    given = np.array([49, 171, 180])
    liked_ = lists.for_history(given, np.zeros(3), np.ones(3, bool), 10)
    five = lists.for_history(given, np.full(3, 5.0), np.zeros(3, bool), 10)
    one = lists.for_history(given, np.ones(3), np.zeros(3, bool), 10)
    assert liked_[0].tolist() == five[0].tolist() and np.allclose(liked_[1], five[1])
    assert not np.allclose(liked_[1], one[1])


def test_a_user_asked_twice_is_listed_once(run):
    # Repeats were listed again: (user_id, rank) pairs twice in one frame.
    frame = run.top_n([3, 1, 2, 1, "3"], k=4)
    assert frame["user_id"].tolist() == [3] * 4 + [1] * 4 + [2] * 4
    assert not frame.duplicated(["user_id", "rank"]).any()


def test_notebook_calls_refuse_what_the_api_refuses(run, tmp_path):
    # Stars off the data's scale were taken (the API answers 422), and a bad k went
    # unnoticed when no user was given.
    from cinerec.errors import ConfigError, DataError

    for stars in (99, -5, 0, 5.0000001, 0.9999999):  # (the last two were said as 5 and 1: inside the scale)
        with pytest.raises(ConfigError, match=rf"movie '50': {stars} stars is outside this data's scale, 1 to 5"):
            run.recommend_for(ratings={"50": stars}, k=3)
    with pytest.raises(ConfigError, match=r"movie '50': 5.1 stars is outside"):  # float32's 5.1, from a frame
        run.recommend_for(ratings={"50": np.float32(5.1)}, k=3)
    c = TestClient(create_app(run.path))
    r = c.post("/recommendations", json={"ratings": {"50": 5.0000001}})
    assert r.status_code == 422 and r.json()["detail"][0]["msg"] == \
        "5.0000001 stars is outside this data's scale, 1 to 5", r.text
    for k in (0, -5, "abc", 2.5):
        with pytest.raises(ConfigError, match=r"expected a whole number of at least 1"):
            run.top_n([], k)
    with pytest.raises(ConfigError, match=r"user_ids: expected a raw user id or a list of them, got None"):
        run.top_n(None)  # it said "unknown user id None"
    with pytest.raises(ConfigError, match=r"ratings: expected a mapping of movie id to stars .*got list"):
        run.recommend_for(ratings=[50, 4])
    # A k past the catalogue is cut to it, as top_n and recommend_for do (it was a TypeError);
    # two ids where one is asked, or liked=None, were a ValueError and a TypeError.
    assert len(run.similar(50, k=10**30)) == len(run.similar(50, k=run.dataset.n_items)) > 0
    with pytest.raises(ConfigError, match=r"movie id: expected one movie id, got a list \(\[50, 181\]\)"):
        run.similar([50, 181])
    with pytest.raises(ConfigError, match=r"movie id: expected one movie id, got None"):
        run.similar(None)
    # A frame's missing cell (a reason_movie_id of <NA>) is no id either: it was "unknown movie id <NA>".
    for missing in (pd.NA, np.nan, float("nan")):
        with pytest.raises(ConfigError, match=r"movie id: expected one movie id, got .* \(a missing value\)"):
            run.similar(missing)
    with pytest.raises(ConfigError, match=r"user id: expected one user id, got <NA> \(a missing value\)"):
        run.top_n([1, pd.NA])
    assert run.recommend_for(liked=None, ratings={"50": 5}, k=3).shape[0] == 3
    # The API refuses a movie given both ways (422); the notebook took the stars silently.
    with pytest.raises(ConfigError, match=r"movie 50 is both liked and rated 1 star: give it once"):
        run.recommend_for(liked=["50"], ratings={50: 1})
    # One movie under two spellings of its id: the stars given last won, silently.
    with pytest.raises(ConfigError, match=r"ratings: movie '50' is rated twice \(5 and 1 stars\): give it once"):
        run.recommend_for(ratings={50: 5, "50": 1})
    # Movie id to stars given first (as liked): its stars were dropped, a 1-star movie a reason.
    with pytest.raises(ConfigError, match=r"liked: expected movie ids \(\[50, 181\]\), got a mapping: give movie "
                                          r"id to stars as ratings= \(\{50: 4.5\}\)"):
        run.recommend_for({181: 1, 1: 5}, k=4)
    # top_n took arguments it then ignored: model= with a fitted model, dataset= with a run.
    from cinerec.serving.lists import top_n

    # Neither a run nor a model: it named open_run's own argument; a list of settings named no mapping.
    with pytest.raises(ConfigError, match=r"top_n: source: expected a run folder \(a path or an opened run\) or a "
                                          r"fitted model, got int"):
        top_n(5, [1])
    from cinerec.models import create

    with pytest.raises(ConfigError, match=r"ease: settings: expected a mapping of setting to value \(or the model's "
                                          r"EASEConfig\), got list"):
        create("ease", [1])
    with pytest.raises(ConfigError, match=r"model='als' picks one of a run's models"):
        top_n(run.model("ease"), [1], 3, dataset=run.dataset, model="als")
    with pytest.raises(ConfigError, match=r"dataset= goes with a fitted model"):
        top_n(run, [1], 3, dataset=run.dataset)
    with pytest.raises(ConfigError) as e:  # (it named history_frame, a method the caller never called)
        run.recommend_for(liked=None)
    assert str(e.value) == "give at least one movie, liked or rated"
    # A model given with another dataset than its own: no run is involved to name.
    from cinerec.data.filters import Filters, apply_filters

    smaller, _ = apply_filters(run.dataset, Filters(top_movies=100))
    with pytest.raises(DataError, match=r"^model 'ease' was fitted on \d+×\d+ users×movies, and the dataset given has "
                                        r"\d+×\d+: give the dataset it was fitted on$"):
        top_n(run.model("ease"), [1], 3, dataset=smaller)
    from cinerec.serving.lists import Lists

    with pytest.raises(DataError, match=r"and the run's dataset has \d+×\d+: the model does not belong to this run"):
        Lists(smaller, run.model("ease"))  # (a run folder's own: no dataset was given)
    # Another dataset of the very same shape relabelled the model's lists by its own ids.
    from cinerec.models import create as make

    a, _ = apply_filters(run.dataset, Filters(top_users=300, top_movies=400))
    b, _ = apply_filters(run.dataset, Filters(min_year=1990, top_users=300, top_movies=400))
    assert (a.n_users, a.n_items) == (b.n_users, b.n_items)
    fitted = make("popularity").fit(a.interactions)
    with pytest.raises(DataError, match=r"^model 'popularity' was fitted on ratings the dataset given does not hold "
                                        r"\(the same number of users and movies, other ratings\): give the dataset"):
        top_n(fitted, [a.user_ids.raw_id(0)], 3, dataset=b)
    assert len(top_n(fitted, [a.user_ids.raw_id(0)], 3, dataset=a)) == 3
    # Text ids: an empty frame has the column types of a full one.
    log = tmp_path / "log.csv"
    log.write_text("user,item\n" + "".join(f"u{u:03d},m{(u * 7 + j) % 60:04d}\n" for u in range(40) for j in range(12)))
    assert main(["train", "--data", str(log), "--model", "itemknn", "--protocol-option", "n_negatives=20",
                 "--out", str(tmp_path / "r"), "-q"]) == 0
    own = open_run(tmp_path / "r")
    assert own.top_n([], 3).dtypes.to_dict() == own.top_n(["u001"], 3).dtypes.to_dict()
    # A reason naming no movie (popular ones fill the list) is missing in a column typed as
    # the movie ids are (it was object, holding float NaN beside the ids).
    full = own.top_n(["u001"], 48)
    unnamed = full["reason_movie_id"].isna()
    assert unnamed.any() and not unnamed.all(), full
    assert full["reason_movie_id"].dtype == full["movie_id"].dtype
    assert set(full["reason_movie_id"].dropna()) <= set(map(str, own.dataset.item_ids.raw))


def test_similar_movies_and_cold_start_from_python_by_raw_ids(run, client):
    # A notebook had only index-based calls for these; the frames answer as the API does.
    similar = run.similar(50, k=5)
    api = client.get("/movies/50/similar", params={"k": 5}).json()
    assert similar["movie_id"].tolist() == [m["movie_id"] for m in api]
    assert similar["similarity"].tolist() == pytest.approx([m["similarity"] for m in api])
    assert similar["rank"].tolist() == list(range(1, 6)) and str(similar["year"].dtype) == "Int64"
    new = run.recommend_for(liked=[50, "181"], ratings={"172": 2}, k=5)
    api = client.post("/recommendations", json={"ratings": {"50": 5, "181": 5, "172": 2}, "k": 5}).json()
    assert len(new) == 5 and not {50, 181, 172} & set(new["movie_id"])
    assert all(r.startswith("because you liked") or r.startswith("popular") for r in new["reason"])
    liked_only = client.post("/recommendations", json={"liked": [50, 181], "k": 5}).json()["recommendations"]
    assert run.recommend_for(liked=[50, 181], k=5)["movie_id"].tolist() == [m["movie_id"] for m in liked_only]
    assert api["recommendations"]  # the API answers the same kind of history
    from cinerec.errors import ConfigError, NotFoundError

    with pytest.raises(NotFoundError, match="unknown movie id 99999"):
        run.similar(99999)
    with pytest.raises(ConfigError, match="give at least one movie"):
        run.recommend_for()


@pytest.mark.parametrize("body, status", [(b'{"liked": [50', 422), (b'{"liked": [50], "k": "caf\xe9"}', 400),
                                          (b"\xff{}", 400), ('{"liked": [50]}'.encode("utf-16"), 200)])
def test_a_body_that_is_no_json_is_422_and_one_that_is_no_text_400(client, body, status):
    # As docs/serving.md says: broken JSON is json_invalid; bytes in no JSON encoding
    # (Latin-1 here) cannot be read at all; UTF-16, which JSON readers take, is read.
    for path in ("/recommendations", "/profiles"):
        r = client.post(path, content=body, headers={"content-type": "application/json"})
        assert r.status_code in ((200, 201) if status == 200 else (status,)), (path, r.status_code, r.text)
        if status == 422:
            assert r.json()["detail"][0]["type"] == "json_invalid"


def test_a_lone_surrogate_among_text_ids_is_an_unknown_id_not_a_500(tmp_path):
    # With text ids a lone surrogate reached the id map's Unicode lookup and ended in a
    # UnicodeEncodeError: 500 on every body naming movies.
    from cinerec.cli import main

    rows = ["user,item,rating,ts"] + [f"u{u},m{(u * 7 + j) % 40},{1 + (u + j) % 5},{u * 100 + j}"
                                      for u in range(30) for j in range(12)]
    (tmp_path / "log.csv").write_text("\n".join(rows) + "\n")
    assert main(["train", "--data", str(tmp_path / "log.csv"), "--model", "popularity", "--out", str(tmp_path / "run"),
                 "--protocol-option", "n_negatives=20", "-q"]) == 0
    with TestClient(create_app(tmp_path / "run", profiles=tmp_path / "p.sqlite")) as c:
        for method, path, body in (("post", "/recommendations", b'{"liked": ["\\ud800"]}'),
                                   ("post", "/recommendations", b'{"ratings": {"m1": 4, "\\udfff": 5}}'),
                                   ("post", "/profiles", b'{"liked": ["m1", "\\ud800"]}')):
            r = c.request(method, path, content=body, headers={"content-type": "application/json"})
            assert r.status_code == 422 and "unknown movie id" in r.text, (path, body, r.status_code, r.text)


def test_every_genre_health_lists_can_be_asked_for(tmp_path):
    # A catalogue's genre of 150 characters was listed by /health but refused by the genre
    # filter (at most 100 characters); an unknown genre of any length is an unknown genre,
    # echoed cut short.
    long = "Documentary about " + "very " * 26 + "long things"
    assert len(long) > 100
    rng = np.random.default_rng(0)
    (tmp_path / "log.csv").write_text("user,item,rating\n" + "".join(
        f"u{u},m{i},{rng.integers(1, 6)}\n" for u in range(40) for i in rng.choice(60, 15, replace=False)))
    (tmp_path / "movies.csv").write_text("id,title,genres\n" + "".join(
        f"m{i},Movie {i} (1990),{long if i % 2 else 'Drama'}\n" for i in range(60)))
    run = tmp_path / "run"
    assert main(["train", "--data", str(tmp_path / "log.csv"), "--catalog", str(tmp_path / "movies.csv"),
                 "--model", "popularity", "--protocol-option", "n_negatives=10", "--out", str(run), "-q"]) == 0
    with TestClient(create_app(run)) as c:
        assert long in c.get("/health").json()["genres"]
        movies = c.get("/movies", params={"genre": long, "limit": 5}).json()
        assert len(movies) == 5 and all(m["genres"] == [long] for m in movies)
        recs = c.get("/users/u0/recommendations", params={"k": 3, "genre": long}).json()["recommendations"]
        assert len(recs) == 3 and all(m["genres"] == [long] for m in recs)
        # Spaces around it aside, as around an id (" Drama" was an unknown genre where " u0" is u0).
        assert c.get("/users/u0/recommendations", params={"k": 3, "genre": " drama "}).json()["recommendations"]
        body = c.post("/recommendations", json={"liked": ["m0"], "k": 3, "genre": long}).json()
        assert all(m["genres"] == [long] for m in body["recommendations"])
        r = c.get("/movies", params={"genre": "x" * 5000})
        assert r.status_code == 422
        msg = r.json()["detail"][0]["msg"]
        assert msg.startswith("unknown genre 'xxx") and "(5,000 characters in all)" in msg and len(msg) < 1000


def test_a_genre_asked_of_a_run_whose_data_gave_none_says_so(tmp_path):
    # It said "unknown genre 'Comedy' (known: )", where the CLI says the movies have none.
    (tmp_path / "log.csv").write_text("user,item,rating\n" + "".join(
        f"u{u},m{i},{1 + (u + i) % 5}\n" for u in range(40) for i in range(30) if (u + i) % 3 == 0))
    (tmp_path / "movies.csv").write_text("id,title\n" + "".join(f"m{i},Movie {i} (1990)\n" for i in range(30)))
    run = tmp_path / "run"
    assert main(["train", "--data", str(tmp_path / "log.csv"), "--catalog", str(tmp_path / "movies.csv"),
                 "--model", "popularity", "--protocol-option", "n_negatives=10", "--out", str(run), "-q"]) == 0
    said = "unknown genre 'Comedy': the run's movies have no genres (its data gave none)"
    with TestClient(create_app(run)) as c:
        assert c.get("/health").json()["genres"] == []
        for r in (c.get("/movies", params={"genre": "Comedy"}),
                  c.get("/users/u0/recommendations", params={"genre": "Comedy"}),
                  c.post("/recommendations", json={"liked": ["m0"], "genre": "Comedy"})):
            assert r.status_code == 422 and r.json()["detail"][0]["msg"] == said, r.text


def test_health_names_the_run_and_the_store_by_their_whole_paths(run_dir, tmp_path, monkeypatch):
    # Served from the folder above them, /health said "run": "run" and "path": "store.sqlite",
    # and a stale store "exported from another run (/abs/other), serving run".
    from cinerec.serving.store import export_store

    export_store(run_dir, tmp_path / "store.sqlite", k=5)
    monkeypatch.chdir(tmp_path)
    relative_run = os.path.relpath(run_dir, tmp_path)
    with TestClient(create_app(relative_run, "store.sqlite", profiles=tmp_path / "p.sqlite")) as c:
        h = c.get("/health").json()
    assert h["run"] == os.path.abspath(run_dir) and h["store"]["path"] == str(tmp_path / "store.sqlite")
    # A URL that is not PostgreSQL's is refused as one (made whole, it read as a file's name,
    # its password shown).
    import re

    from cinerec.errors import ConfigError

    # (named by the argument to a caller of the library, by the flag on the command line)
    for url, said in (("mysql://u:secret@h/db", "db mysql://u:***@h/db: unsupported URL scheme 'mysql'"),
                      ("postgresql:/u:pw@h/db", "db: 'postgresql:' needs two slashes")):
        with pytest.raises(ConfigError, match=re.escape(said)):
            create_app(relative_run, url)
    with pytest.raises(ConfigError, match=re.escape("profiles sqlite://x: unsupported URL scheme 'sqlite'")):
        create_app(relative_run, profiles="sqlite://x")
    # ".." after a link is read as the system reads it: beside the link's target, not beside the link.
    (tmp_path / "elsewhere" / "d").mkdir(parents=True)
    (tmp_path / "lnk").symlink_to(tmp_path / "elsewhere" / "d")
    with TestClient(create_app(relative_run, profiles="lnk/../linked.sqlite")) as c:
        assert c.get("/health").json()["status"] == "ok"
    assert (tmp_path / "elsewhere" / "linked.sqlite").is_file() and not (tmp_path / "linked.sqlite").exists()


def test_a_json_body_giving_one_key_twice_is_refused_not_half_read(client):
    # {"ratings": {"50": 5, "50": 1}} kept the 1 and dropped the 5 without a word.
    body = '{"ratings": {"50": 5, "50": 1}}'
    for method, path in (("POST", "/recommendations"), ("POST", "/profiles")):
        r = client.request(method, path, content=body, headers={"content-type": "application/json"})
        assert r.status_code == 422, r.text
        assert r.json()["detail"][0]["msg"] == "'50' is given twice in one JSON object: give it once"
        assert r.text.startswith('{"detail":[{"loc":["body"],')  # (written as every other answer is)
    pid = client.post("/profiles", json={"liked": [50]}).json()["profile_id"]
    r = client.put(f"/profiles/{pid}/ratings", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422 and client.get(f"/profiles/{pid}").json()["ratings"] == {"50": None}
    # Keys alike in separate objects, and a body that is no JSON, are the route's to judge.
    assert client.post("/recommendations", json={"ratings": {"50": 5}, "k": 3}).status_code == 200
    assert client.post("/recommendations", content="{", headers={"content-type": "application/json"}).status_code == 422
    # A path no route reads a body on is what it was: 404 or 405, whatever the body.
    for method, path, status in (("POST", "/nope", 404), ("POST", "/profiles/abc", 405),
                                 ("PUT", "/profiles/a%2Fb/ratings", 404)):
        r = client.request(method, path, content=body, headers={"content-type": "application/json"})
        assert r.status_code == status, (method, path, r.text)


def test_an_unknown_movie_is_named_before_its_stars_are_judged(client):
    # {"ratings": {"nope": 9}} answered "9 stars is outside this data's scale" for a movie
    # the run does not hold (a page left open across a switch to another run's data).
    for method, path in (("POST", "/recommendations"), ("POST", "/profiles")):
        r = client.request(method, path, json={"ratings": {"50": 4, "nope": 9}})
        assert r.status_code == 422 and "unknown movie id 'nope'" in r.json()["detail"][0]["msg"], r.text
    pid = client.post("/profiles").json()["profile_id"]
    r = client.put(f"/profiles/{pid}/ratings", json={"ratings": {"nope": 9}})
    assert r.status_code == 422 and "unknown movie id 'nope'" in r.json()["detail"][0]["msg"], r.text
    # A known movie's stars off the scale are still named so.
    r = client.post("/recommendations", json={"ratings": {"50": 9}})
    assert r.status_code == 422 and "9 stars is outside this data's scale" in r.json()["detail"][0]["msg"], r.text


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts open files through /proc")
def test_health_leaves_no_profiles_connection_open_behind_it(run_dir, tmp_path):
    # Each /health counted the profiles on a thread of its own, whose connection was kept
    # for good: a server probed once a second ran out of open files within hours, then
    # answered 500.
    import threading

    path = tmp_path / "p.sqlite"

    def held() -> int:
        return sum(os.path.realpath(f"/proc/self/fd/{fd}") == str(path.resolve()) for fd in os.listdir("/proc/self/fd"))

    with TestClient(create_app(run_dir, profiles=path)) as c:
        pid = c.post("/profiles", json={"liked": ["50"]}).json()["profile_id"]
        assert c.get("/health").json()["profiles"] == 1
        before = held()
        for _ in range(40):
            assert c.get("/health").status_code == 200
        # Threads that come and go (a server's worker threads are let go when idle).
        for _ in range(10):
            t = threading.Thread(target=lambda: c.get(f"/profiles/{pid}"))
            t.start()
            t.join()
        assert c.get("/health").json()["profiles"] == 1
        assert held() <= before + 2, (before, held())


@pytest.mark.parametrize("how", ["removed", "replaced"])
def test_a_profiles_file_removed_or_replaced_while_served_is_refused_not_written_blind(run_dir, tmp_path, how):
    # Removed while the server ran: changes answered 200 went into the removed file (lost at
    # the next start), while a thread opening anew made an empty file and answered 500
    # ("no such table: profiles"), /health included.
    import sqlite3
    import threading

    path = tmp_path / "p.sqlite"
    with TestClient(create_app(run_dir, profiles=path)) as c:
        pid = c.post("/profiles", json={"liked": ["50"]}).json()["profile_id"]
        for extra in ("", "-wal", "-shm"):
            (tmp_path / f"p.sqlite{extra}").unlink(missing_ok=True)
        if how == "replaced":
            sqlite3.connect(path).close()  # (an empty file in its place)
        said = f"{path}: the profiles file was {how if how == 'removed' else 'removed or replaced'}"
        answers = [c.put(f"/profiles/{pid}/ratings", json={"liked": ["181"]}), c.get(f"/profiles/{pid}"),
                   c.post("/profiles", json={"liked": ["50"]})]
        seen: list = []
        t = threading.Thread(target=lambda: seen.append(c.get(f"/profiles/{pid}")))  # (a thread opening anew)
        t.start()
        t.join()
        for r in [*answers, *seen]:
            assert r.status_code == 503 and r.json()["detail"].startswith(f"{said} while the server ran; restart the "
                                                                          "server"), r.text
        health = c.get("/health").json()
        assert health["status"] == "degraded" and f"{said} while the server ran" in health["profiles"], health
    assert path.exists() == (how == "replaced")  # (nothing made in its place)
    # A server started again uses the file there now.
    with TestClient(create_app(run_dir, profiles=path)) as c:
        assert c.get("/health").json()["status"] == "ok"
        assert c.get(f"/profiles/{pid}").status_code == 404


def test_a_query_parameter_given_twice_is_refused_not_read_as_the_last(client):
    # ?genre=Comedy&genre=Drama answered Drama's list, Comedy dropped without a word (as a
    # JSON key given twice was).
    for path in ("/users/1/recommendations?genre=Comedy&genre=Drama", "/movies?query=star&query=wars",
                 "/movies/50/similar?k=3&k=5", "/users/1/recommendations?k=3&k=3"):
        r = client.get(path)
        key = path.split("?")[1].split("=")[0]
        assert r.status_code == 422 and r.json() == {"detail": [{
            "loc": ["query", key], "type": "value_error",
            "msg": f"the query parameter {key!r} is given twice: give it once"}]}, (path, r.text)
    assert client.get("/users/1/recommendations?k=3&genre=Comedy").status_code == 200
    # Parameters no route reads are left alone (a link's, a cache-buster's), as the page is.
    for path in ("/?profile=a&profile=b", "/health?a=1&a=2", "/movies?query=star&x=1&x=2", "/static/app.js?v=1&v=2"):
        assert client.get(path).status_code == 200, path


def test_a_profiles_file_made_after_a_read_only_start_is_watched_too(run_dir, tmp_path, monkeypatch):
    # Started read-only with no file, the server made it once the folder could be written,
    # but never noted which file it was: removed later, it was written into blind again.
    from pathlib import Path

    import cinerec.serving.store as store_module

    folder = tmp_path / "ro"
    folder.mkdir()
    path = folder / "p.sqlite"
    real = os.access
    locked = [True]
    monkeypatch.setattr(store_module.os, "access", lambda p, mode, *a, **k: False if locked[0] and Path(p) == folder
                        and mode == os.W_OK else real(p, mode))
    with TestClient(create_app(run_dir, profiles=path)) as c:
        assert c.post("/profiles", json={"liked": ["50"]}).status_code == 503
        locked[0] = False
        pid = c.post("/profiles", json={"liked": ["50"]}).json()["profile_id"]
        for extra in ("", "-wal", "-shm"):
            (folder / f"p.sqlite{extra}").unlink(missing_ok=True)
        r = c.put(f"/profiles/{pid}/ratings", json={"liked": ["181"]})
        assert r.status_code == 503 and "was removed while the server ran" in r.json()["detail"], r.text
        assert c.get("/health").json()["status"] == "degraded"
    assert not path.exists()


def test_a_profiles_file_removed_while_served_is_not_made_again(run_dir, tmp_path):
    # Stopping the server made an empty file where the removed one was (its log folded into
    # a new file by name), and a thread opening its first connection after the removal did too.
    import threading

    from cinerec.serving.store import ProfileStore

    path = tmp_path / "p.sqlite"
    with TestClient(create_app(run_dir, profiles=path)) as c:
        assert c.post("/profiles", json={"liked": ["50"]}).status_code == 201
        path.unlink()
        assert c.get("/health").json()["status"] == "degraded"
    assert not path.exists() and not path.with_name("p.sqlite-shm").exists()
    store = ProfileStore(tmp_path / "q.sqlite")
    store.create()
    (tmp_path / "q.sqlite").unlink()
    said: list[str] = []

    def first_use() -> None:  # (a thread with no connection yet)
        try:
            store.count()
        except Exception as e:  # noqa: BLE001
            said.append(f"{type(e).__name__}: {e}")

    worker = threading.Thread(target=first_use)
    worker.start()
    worker.join()
    store.close_all()
    assert said and said[0].startswith("Unavailable: ") and "was removed while the server ran" in said[0]
    assert not (tmp_path / "q.sqlite").exists()
    # Through a link: the log and shared memory lie beside the file it points at, and go from there.
    (tmp_path / "real").mkdir()
    (tmp_path / "link.sqlite").symlink_to(tmp_path / "real" / "r.sqlite")
    linked = ProfileStore(tmp_path / "link.sqlite")
    linked.create()
    (tmp_path / "real" / "r.sqlite").unlink()
    linked.close_all()
    assert list((tmp_path / "real").iterdir()) == []


def test_a_serve_worker_started_after_the_profiles_file_went_finds_it_gone(tmp_path, monkeypatch):
    # serve --workers N: a worker that built its app after the file was removed made a new
    # empty one, and took changes there while its siblings answered 503.
    from cinerec.serving.store import SERVED_PROFILES_ENV, ProfileStore, Unavailable, served_profiles_file

    path = tmp_path / "p.sqlite"
    checked = ProfileStore(path)  # (the serve command's own check, before the workers start)
    checked.create()
    monkeypatch.setenv(SERVED_PROFILES_ENV, served_profiles_file(checked))
    checked.close_all()
    assert ProfileStore(path).count() == 1  # (a worker while it is there)
    path.unlink()
    late = ProfileStore(path)
    with pytest.raises(Unavailable, match="was removed while the server ran"):
        late.create()
    late.close_all()
    assert not path.exists()


def test_a_change_the_disk_refused_makes_health_degraded_until_one_is_saved(run_dir, tmp_path, monkeypatch):
    # A full disk answered 503 to every change while /health said "ok": a monitor saw nothing.
    import sqlite3

    from cinerec.serving.store import ProfileStore

    with TestClient(create_app(run_dir, profiles=tmp_path / "p.sqlite")) as c:
        pid = c.post("/profiles", json={"liked": ["50"]}).json()["profile_id"]
        real = ProfileStore._conn
        full = [True]

        class Full:
            def __init__(self, con):
                self.con = con

            def execute(self, sql, *args):
                if full[0] and sql == "COMMIT":
                    raise sqlite3.OperationalError("database or disk is full")
                return self.con.execute(sql, *args)

            def __getattr__(self, name):
                return getattr(self.con, name)

        monkeypatch.setattr(ProfileStore, "_conn", lambda self: Full(real(self)))
        r = c.put(f"/profiles/{pid}/ratings", json={"liked": ["181"]})
        assert r.status_code == 503 and "database or disk is full" in r.json()["detail"], r.text
        health = c.get("/health").json()
        assert health["status"] == "degraded" and health["profiles"] == (
            "1 readable, the last change could not be saved (database or disk is full)"), health
        full[0] = False  # (room again)
        assert c.put(f"/profiles/{pid}/ratings", json={"liked": ["181"]}).status_code == 200
        health = c.get("/health").json()
        assert health["status"] == "ok" and health["profiles"] == 1, health


def test_one_star_outside_the_scale_is_said_as_one_star():
    from cinerec.serving.lists import outside_scale

    assert outside_scale(1, (2.0, 10.0)) == "1 star is outside this data's scale, 2 to 10"
    assert outside_scale(3, (1.0, 1.0)) == ("3 stars is outside this data's scale: its every rating is 1, so it takes "
                                            "1 star or a like")
    assert outside_scale(1.5, (2.0, 10.0)).startswith("1.5 stars is")


def test_a_threshold_of_one_star_is_said_as_one_star(tmp_path, ml100k_dir, capsys):
    # A 0/1 log kept to its likes (--liked-threshold 1, as its note advises): "(1 stars and up)".
    frame = pd.read_csv(ml100k_dir / "u.data", sep="\t", names=["user", "item", "rating", "timestamp"])
    frame["rating"] = (frame["rating"] >= 4).astype(int)
    frame.to_csv(tmp_path / "log.csv", index=False)
    assert main(["train", "--data", str(tmp_path / "log.csv"), "--liked-threshold", "1", "--model", "itemknn",
                 "--out", str(tmp_path / "run"), "-q"]) == 0
    capsys.readouterr()
    assert main(["recommend", "--run", str(tmp_path / "run"), "--ratings", "50=0,181=0", "--json"]) == 0
    notes = json.loads(capsys.readouterr().out)["notes"]
    assert any("(1 star and up" in n for n in notes), notes
