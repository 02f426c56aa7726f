"""``cinerec similar`` and ``cinerec recommend --liked/--ratings``: the API's similar movies and
cold-start lists on the command line, the same as the notebook's and the API's."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from cinerec.cli import main
from cinerec.runs import open_run


def _out(capsys, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    got = capsys.readouterr()
    return code, got.out, got.err


def test_similar_lists_what_the_api_and_the_notebook_list(run_dir, run, capsys):
    code, out, err = _out(capsys, "similar", "--run", str(run_dir), "--movie", "50", "-k", "5", "--json")
    assert code == 0, err
    got = json.loads(out)
    assert got["movie"]["movie_id"] == 50 and got["movie"]["title"] == "Star Wars" and got["model"] == "ease"
    frame = run.similar(50, 5)
    assert [m["movie_id"] for m in got["similar"]] == frame["movie_id"].tolist()
    assert [m["similarity"] for m in got["similar"]] == pytest.approx(frame["similarity"].tolist())
    assert 50 not in [m["movie_id"] for m in got["similar"]]
    code, out, err = _out(capsys, "similar", "--run", str(run_dir), "--movie", "50", "-k", "2")
    assert code == 0 and err.startswith("movies most like Star Wars (1977), by model 'ease':")
    first = frame.iloc[0]
    assert out.splitlines()[0].startswith(f" 1. {first['title']} ({first['year']}) [")
    assert out.splitlines()[0].endswith(f"similarity {first['similarity']:.3f}") and len(out.splitlines()) == 2


def test_recommend_for_someone_new_lists_what_the_notebook_lists_and_none_of_the_movies_given(run_dir, run, capsys):
    code, out, err = _out(capsys, "recommend", "--run", str(run_dir), "--liked", "50,181", "--liked", "172",
                          "--ratings", "1=1,127=5", "-k", "8", "--json")
    assert code == 0, err
    got = json.loads(out)
    assert got["liked"] == [50, 181, 172] and got["ratings"] == {"1": 1.0, "127": 5.0}
    frame = run.recommend_for(liked=[50, 181, 172], ratings={1: 1, 127: 5}, k=8)
    recs = got["recommendations"]
    assert [r["movie_id"] for r in recs] == frame["movie_id"].tolist() and len(recs) == 8
    assert [r["reason"] for r in recs] == frame["reason"].tolist()
    assert [r["reason_movie_id"] for r in recs] == frame["reason_movie_id"].tolist()
    assert not {r["movie_id"] for r in recs} & {50, 181, 172, 1, 127}
    assert all(r["reason_movie_id"] != 1 for r in recs)  # a 1-star movie is never a reason
    code, out, err = _out(capsys, "recommend", "--run", str(run_dir), "--liked", "50", "-k", "3")
    assert code == 0 and len(out.splitlines()) == 3 and out.startswith(" 1. ")


@pytest.mark.parametrize("argv, line", [
    (["--user", "1", "--liked", "50"], "recommend: give --user, or --liked/--ratings for someone new, not both"),
    ([], "recommend: give --user ID, or --liked IDS and/or --ratings ID=STARS for someone new"),
    (["--liked", "50,,181"], "--liked '50,,181': an empty movie id; give raw movie ids separated by commas"),
    (["--ratings", "50"], "--ratings '50': expected ID=STARS, such as 50=4.5"),
    (["--ratings", "50,181=4"], "--ratings '50': expected ID=STARS, such as 50=4.5"),
    # A title typed, commas and all: named whole, with where to find its id (its first
    # part was said to lack its stars).
    (["--ratings", "Godfather, The=5"], "unknown movie id 'Godfather, The' (the run's data has 1,682 movies); find "
                                        "movies' ids by their titles with: cinerec movies --run {run} WORDS OF THE "
                                        "TITLE"),
    (["--ratings", "50=x"], "--ratings '50=x': stars must be a number, got 'x'"),
    (["--ratings", "50=nan"], "--ratings '50=nan': stars must be a number, got 'nan'"),
    (["--ratings", "50=4,50=5"], "--ratings: movie '50' is given twice (4 and 5 stars): give it once"),
    (["--ratings", "50=4", "--ratings", "050=5"], "--ratings: movie '050' is given twice (4 and 5 stars): give it once"),
    (["--ratings", "50=4_5"], "--ratings '50=4_5': stars must be a number, got '4_5'"),
    (["--ratings", "50=9"], "--ratings: movie 50: 9 stars is outside this data's scale, 1 to 5"),
    (["--liked", "50", "--ratings", "50=4"], "movie '50' is given with --liked and with --ratings: give it once"),
    (["--liked", "99999"], "unknown movie id '99999' (the run's data has 1,682 movies); find movies' ids by their "
                           "titles with: cinerec movies --run {run} WORDS OF THE TITLE"),
])
def test_someone_new_given_wrongly_is_one_line(run_dir, capsys, argv, line):
    code, out, err = _out(capsys, "recommend", "--run", str(run_dir), *argv)
    assert code == 2 and out == "" and err == f"cinerec: error: {line.format(run=run_dir)}\n"


def test_similar_of_an_unknown_movie_is_one_line(run_dir, capsys):
    code, out, err = _out(capsys, "similar", "--run", str(run_dir), "--movie", "99999")
    assert code == 2 and out == "" and err == ("cinerec: error: unknown movie id '99999' (the run's data has 1,682 "
                                               f"movies); find movies' ids by their titles with: cinerec movies --run "
                                               f"{run_dir} WORDS OF THE TITLE\n")


def test_a_run_missing_its_model_is_named_once(run_dir, tmp_path, capsys):
    # similar and recommend --liked put the run's folder before the model's own refusal,
    # which names it already: "run: run/models/ease: no saved model here".
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    (copy / "models" / "ease" / "model.json").unlink()
    line = f"cinerec: error: {copy / 'models' / 'ease'}: no saved model here (model.json is missing)\n"
    for argv in (["similar", "--movie", "50"], ["recommend", "--liked", "50"], ["recommend", "--user", "1"]):
        code, out, err = _out(capsys, *argv, "--run", str(copy), "--run-model", "ease", "-q")
        assert (code, out, err) == (2, "", line), argv


def test_someone_new_is_listed_alike_whatever_the_order_and_each_movie_once(run_dir, capsys):
    # The CLI kept the order given, the API sorted: scores differed in their last digits.
    # And "50,050" echoed one movie twice, where "50=4 --ratings 50=4" was refused.
    lists = []
    for liked in ("50,181,172", "172,181,50", "50,181,172,050,50"):
        code, out, err = _out(capsys, "recommend", "--run", str(run_dir), "--liked", liked, "-k", "5", "--json")
        assert code == 0, err
        lists.append(json.loads(out))
    assert lists[0]["recommendations"] == lists[1]["recommendations"] == lists[2]["recommendations"]
    assert lists[2]["liked"] == [50, 181, 172]
    code, out, err = _out(capsys, "recommend", "--run", str(run_dir), "--ratings", "50=4,050=4", "--ratings", "50=4",
                          "--json")
    assert code == 0 and json.loads(out)["ratings"] == {"50": 4.0}, err


@pytest.fixture(scope="module")
def own_run(tmp_path_factory):
    """A run of a log whose movie ids hold commas and equal signs, one movie seen by one person alone."""
    import csv

    from cinerec.data.logs import load_log
    from cinerec.models import create
    from cinerec.runs import finish_run, save_dataset, save_model

    root = tmp_path_factory.mktemp("own")
    rng = np.random.default_rng(0)
    movies = ["a,b", "x=y", "c,d=e", "z,", "p=q,r", *[f"m{i}" for i in range(15)]]
    with open(root / "log.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["user", "item", "rating", "ts"])
        for u in range(30):
            for j, m in enumerate(rng.choice(movies, 8, replace=False)):
                w.writerow([f"u{u}", m, int(rng.integers(1, 6)), 1000 * u + j])
        w.writerow(["loner", "lonely", 5, 99999])
    ds = load_log(root / "log.csv")
    run_dir = root / "run"
    save_model(run_dir, create("popularity").fit(ds.interactions))
    save_dataset(run_dir, ds)
    finish_run(run_dir, meta={"source": "log", "best_model": "popularity"})
    return run_dir


def test_an_id_holding_commas_is_taken_whole_where_the_run_knows_it(own_run, capsys):
    code, out, err = _out(capsys, "recommend", "--run", str(own_run), "--liked", "p=q,r", "--json")
    assert code == 0 and json.loads(out)["liked"] == ["p=q,r"], err
    code, out, err = _out(capsys, "recommend", "--run", str(own_run), "--liked", "a,b", "--liked", "z,",
                          "--ratings", "c,d=e=4", "--ratings", "m1=2", "--json")
    assert code == 0, err
    got = json.loads(out)
    assert got["liked"] == ["a,b", "z,"] and got["ratings"] == {"c,d=e": 4.0, "m1": 2.0}
    assert not {r["movie_id"] for r in got["recommendations"]} & {"a,b", "z,", "c,d=e", "m1"}
    code, out, err = _out(capsys, "recommend", "--run", str(own_run), "--liked", "m1,m2", "--json")
    assert code == 0 and json.loads(out)["liked"] == ["m1", "m2"], err


def test_similar_of_a_movie_nothing_is_like_says_so_on_stdout(own_run, capsys):
    # It printed nothing, and with -q was silent, exit 0.
    code, out, err = _out(capsys, "similar", "--run", str(own_run), "--movie", "lonely", "-q")
    assert code == 0 and out == "no movie like lonely under model 'popularity': none has a positive similarity to " \
                                "it\n", (out, err)
    code, out, err = _out(capsys, "similar", "--run", str(own_run), "--movie", "lonely", "--json", "-q")
    assert json.loads(out)["notes"] == ["0 movies listed, not 10: model 'popularity' finds no more movies like movie "
                                        "'lonely' (only those with a positive similarity are listed)"]


def test_similar_names_the_neighbours_a_model_keeps_when_they_cut_the_list(ml100k_dir, tmp_path, capsys):
    # "no other movie has anything in common with it" was said of item-kNN's 100 neighbours.
    from tests.serving.conftest import build_run

    run_dir = build_run(tmp_path / "run", ml100k_dir, models=("itemknn",))
    code, out, err = _out(capsys, "similar", "--run", str(run_dir), "--movie", "50", "-k", "500", "--json")
    got = json.loads(out)
    assert code == 0 and len(got["similar"]) == 100, err
    assert got["notes"] == ["100 movies listed, not 500: model 'itemknn' keeps 100 similar movies per movie (its "
                            "neighbors setting)"]
    # A notebook's frame says it too (its notes were empty).
    frame = open_run(run_dir).similar(50, k=500)
    assert len(frame) == 100 and frame.attrs["notes"] == got["notes"]
    # knnbaseline's neighbours predict stars; its similar movies are not cut by them.
    run_dir = build_run(tmp_path / "knn", ml100k_dir, models=("knnbaseline",))
    code, out, err = _out(capsys, "similar", "--run", str(run_dir), "--movie", "1500", "-k", "1000", "--json")
    got = json.loads(out)
    assert code == 0 and 80 < len(got["similar"]) < 1000, err
    assert got["notes"] == [f"{len(got['similar'])} movies listed, not 1000: model 'knnbaseline' finds no more movies "
                            "like movie 1500 (only those with a positive similarity are listed)"]
    assert open_run(run_dir).similar(1500, k=1000).attrs["notes"] == got["notes"]


def test_similar_names_the_neighbours_of_the_member_that_lists_for_an_ensemble(ml100k_dir, tmp_path, capsys):
    # An ensemble lists its lead member's similar movies: their neighbours cut them, not
    # the want of anything in common.
    from cinerec.data import load
    from cinerec.models import create
    from cinerec.runs import finish_run, save_dataset, save_model

    ds = load(ml100k_dir)
    run_dir = tmp_path / "run"
    save_model(run_dir, create("ensemble", {"members": ["itemknn"], "settings": {"itemknn": {"neighbors": 5}}})
               .fit(ds.interactions))
    save_dataset(run_dir, ds)
    finish_run(run_dir, meta={"source": "ml-100k", "best_model": "ensemble"})
    code, out, err = _out(capsys, "similar", "--run", str(run_dir), "--movie", "50", "--json")
    assert code == 0 and json.loads(out)["notes"] == [
        "5 movies listed, not 10: the itemknn in model 'ensemble' keeps 5 similar movies per movie (its neighbors "
        "setting)"]


def test_someone_new_whose_ratings_are_all_low_is_told_why_the_list_is_the_most_rated(tmp_path, capsys):
    # mf lists a new person by movies like the ones they liked: given 1.25 stars alone, every
    # place went to the most rated movies, scored 0.000, with no word of why.
    import json

    from cinerec.data.logs import load_log
    from cinerec.models import create
    from cinerec.runs import finish_run, save_dataset, save_model

    rng = np.random.default_rng(0)
    (tmp_path / "log.csv").write_text("user,item,rating,ts\n" + "".join(
        f"u{u},m{i},{int(rng.integers(1, 6))},{100 * u + i}\n" for u in range(30) for i in range(20) if (u + i) % 3))
    ds = load_log(tmp_path / "log.csv")
    run_dir = tmp_path / "run"
    save_model(run_dir, create("mf", {"epochs": 2, "device": "cpu", "progress": False, "threads": 1})
               .fit(ds.interactions))
    save_dataset(run_dir, ds)
    finish_run(run_dir, meta={"source": "log", "best_model": "mf"})
    code, out, err = _out(capsys, "recommend", "--run", str(run_dir), "--ratings", "m1=1.25,m2=1", "-k", "3", "--json")
    said = ("none of the ratings given counts as liked (3 stars and up on this data, and not below the others given), "
            "and mf finds movies like liked ones: the list is the most rated movies")
    assert code == 0 and said in json.loads(out)["notes"], out
    code, out, err = _out(capsys, "recommend", "--run", str(run_dir), "--ratings", "m1=5,m2=1", "-k", "3", "--json")
    assert code == 0 and said not in json.loads(out)["notes"]
    code, out, err = _out(capsys, "recommend", "--run", str(run_dir), "--liked", "m1", "--ratings", "m2=1", "-k", "3")
    assert code == 0 and "counts as liked" not in out + err
    # The API said none of it: the same list, "source": "history", and no word of why.
    from fastapi.testclient import TestClient

    from cinerec.serving.api import create_app

    with TestClient(create_app(run_dir)) as c:
        got = c.post("/recommendations", json={"ratings": {"m1": 1.25, "m2": 1}, "k": 3}).json()
        assert got["notes"] == [said], got
        assert c.post("/recommendations", json={"ratings": {"m1": 5, "m2": 1}, "k": 3}).json()["notes"] == []
        pid = c.post("/profiles", json={"ratings": {"m1": 1.25, "m2": 1}}).json()["profile_id"]
        assert c.get(f"/profiles/{pid}", params={"k": 3}).json()["notes"] == [said]
        # Short lists, as the command line says them: a known person's, and someone new's.
        code, out, err = _out(capsys, "recommend", "--run", str(run_dir), "--user", "u0", "-k", "10", "--json")
        cli = json.loads(out)
        api = c.get("/users/u0/recommendations", params={"k": 10}).json()
        assert [r["movie_id"] for r in api["recommendations"]] == [r["movie_id"] for r in cli["recommendations"]]
        assert api["notes"] == ["7 movies listed for user u0, not 10: they rated the other 13 of the run's 20 movies"]
        assert api["notes"][0] in cli["notes"]
        given = {f"m{i}": 4 for i in range(18)}
        code, out, err = _out(capsys, "recommend", "--run", str(run_dir), "--ratings",
                              ",".join(f"{m}={s}" for m, s in given.items()), "-k", "5", "--json")
        short = "2 movies listed, not 5: the other 18 movies of the run's 20 are the ones given"
        assert short in json.loads(out)["notes"]
        assert c.post("/recommendations", json={"ratings": given, "k": 5}).json()["notes"] == [short]
        assert c.get("/users/u0/recommendations", params={"k": 3}).json()["notes"] == []
        # Every movie given, all low: no list, said once (not "the list is the most rated movies").
        every = {f"m{i}": 1 for i in range(20)}
        assert c.post("/recommendations", json={"ratings": every, "k": 5}).json() == {
            "source": "history", "recommendations": [], "notes": ["no movie listed: every movie of the run's 20 was given"]}
    # A notebook's frames carry what the command line says beside the same lists.
    from cinerec.runs import open_run

    run = open_run(run_dir)
    code, out, err = _out(capsys, "recommend", "--run", str(run_dir), "--ratings", "m1=1.25,m2=1", "-k", "3", "--json")
    assert run.recommend_for(ratings={"m1": 1.25, "m2": 1}, k=3).attrs["notes"] == json.loads(out)["notes"]
    assert run.top_n(["u0", "u1"], k=10).attrs["notes"] == cli["notes"] + \
        ["6 movies listed for user u1, not 10: they rated the other 14 of the run's 20 movies"]
    assert run.top_n(["u0"], k=3).attrs["notes"] == run.model_notes()


def test_seqknn_s_similar_movies_are_not_said_to_be_cut_by_its_neighbours(tmp_path, capsys):
    # It listed 1,192 movies and said it "keeps 1000 similar movies per movie": seqknn keeps
    # its neighbours of what follows a movie, and its similar movies are those leading to it.
    from cinerec.cli import main

    rng = np.random.default_rng(0)
    (tmp_path / "log.csv").write_text("user,item,rating,ts\n" + "".join(
        f"u{u},m{i},4,{100 * u + k}\n" for u in range(60) for k, i in enumerate(rng.choice(40, 15, replace=False))))
    assert main(["train", "--data", str(tmp_path / "log.csv"), "--model", "seqknn", "--set", "neighbors=3",
                 "--protocol", "loo-full", "--protocol-option", "ks=[1,2]", "--out", str(tmp_path / "run"), "-q"]) == 0
    capsys.readouterr()
    code, out, err = _out(capsys, "similar", "--run", str(tmp_path / "run"), "--movie", "m1", "-k", "500", "--json")
    got = json.loads(out)
    assert code == 0 and len(got["similar"]) > 3, got
    assert not any("neighbors setting" in n for n in got["notes"]), got["notes"]


def test_movies_finds_ids_by_title_and_an_unknown_id_points_to_it(run_dir, capsys, tmp_path):
    # A title given to --liked was "unknown movie id 'Star Wars (1977)'", and nothing on the
    # command line turned titles into the ids it takes (the API's GET /movies?query= alone).
    code, out, err = _out(capsys, "movies", "--run", str(run_dir), "star", "wars", "--json")
    assert code == 0, err
    got = json.loads(out)
    assert got["query"] == "star wars" and got["movies"][0]["movie_id"] == 50
    assert got["synthetic"] is False and got["notes"] == []
    assert got["movies"][0]["title"] == "Star Wars" and got["movies"][0]["ratings"] == 583
    code, out, err = _out(capsys, "movies", "--run", str(run_dir), "heat", "1995")
    assert code == 0 and out.splitlines()[0].startswith("273  Heat (1995) [Action, Crime, Thriller] - rated by ")
    code, out, err = _out(capsys, "movies", "--run", str(run_dir), "--limit", "3")
    assert code == 0 and [line.split()[0] for line in out.splitlines()] == ["50", "258", "100"]  # the most rated
    code, out, err = _out(capsys, "movies", "--run", str(run_dir), "zzzq")
    assert code == 0 and out.strip() == "no movie of the run's 1,682 matches 'zzzq'"
    code, out, err = _out(capsys, "movies", "--run", str(run_dir), "--genre", "Documentary", "zzzq")
    assert code == 0 and out.strip() == "no movie of the run's 1,682 matches 'zzzq' in Documentary"
    code, out, err = _out(capsys, "movies", "--run", str(run_dir), "--genre", "", "heat")  # (it searched every genre)
    assert code == 2 and not out and err.strip().endswith("Invalid value for '--genre': give a genre's name (leave "
                                                          "--genre out to search every genre) (see cinerec movies "
                                                          "--help)"), err
    # The API's bounds: a query one takes, the others take (it was any length, and up to 1000 movies).
    code, out, err = _out(capsys, "movies", "--run", str(run_dir), "a" * 201)
    assert code == 2 and err.strip() == "cinerec: error: the words: at most 200 characters, as the API and the page take, got 201"
    code, out, err = _out(capsys, "movies", "--run", str(run_dir), "--limit", "201")
    assert code == 2 and "--limit" in err
    for argv in (["recommend", "--liked", "Star Wars (1977)"], ["similar", "--movie", "heat"]):
        code, out, err = _out(capsys, argv[0], "--run", str(run_dir), *argv[1:])
        assert code == 2 and err.strip().endswith(f"find movies' ids by their titles with: cinerec movies --run "
                                                  f"{run_dir} WORDS OF THE TITLE"), err
    # A command to paste: a folder whose name holds a space or a quote is quoted for the shell.
    import shlex
    import shutil
    from pathlib import Path

    odd = Path(shutil.copytree(run_dir, tmp_path / "it's my run"))
    code, out, err = _out(capsys, "recommend", "--run", str(odd), "--liked", "Star Wars (1977)")
    assert code == 2 and err.strip().endswith(f"cinerec movies --run {shlex.quote(str(odd))} WORDS OF THE TITLE"), err
    assert shlex.split(err.strip().split("with: ")[-1])[3] == str(odd)



def test_movies_filters_by_release_year_as_the_api_does(run_dir, capsys):
    # The API's GET /movies takes year_from and year_to; the command line had no way to.
    from fastapi.testclient import TestClient

    from cinerec.serving.api import create_app

    with TestClient(create_app(run_dir)) as client:
        for params in ({"query": "star", "year_from": 1990}, {"query": "star", "year_to": 1980},
                       {"genre": "Drama", "year_from": 1995, "year_to": 1996, "limit": 50}):
            argv = [*params.get("query", "").split(), *[f"--{k.replace('_', '-')}={v}" for k, v in params.items()
                                                        if k != "query"], "--json"]
            code, out, err = _out(capsys, "movies", "--run", str(run_dir), *argv)
            assert code == 0, err
            got = [m["movie_id"] for m in json.loads(out)["movies"]]
            api = client.get("/movies", params=params).json()
            api = api["movies"] if isinstance(api, dict) else api
            assert got and got == [m["movie_id"] for m in api], params
            years = [m["year"] for m in json.loads(out)["movies"]]
            assert all(params.get("year_from", 0) <= y <= params.get("year_to", 9999) for y in years), years
    # A movie of no known year (ml-100k's 267, "unknown") passes no lower bound, 0 included.
    code, out, err = _out(capsys, "movies", "--run", str(run_dir), "unknown", "--year-from", "0", "--json")
    assert code == 0 and 267 not in [m["movie_id"] for m in json.loads(out)["movies"]]
    with TestClient(create_app(run_dir)) as client:
        assert 267 not in [m["movie_id"] for m in client.get("/movies", params={"query": "unknown",
                                                                                  "year_from": 0}).json()]
        assert 267 in [m["movie_id"] for m in client.get("/movies", params={"query": "unknown", "year_to": 0}).json()]
    code, out, err = _out(capsys, "movies", "--run", str(run_dir), "zzzq", "--year-from", "1990", "--year-to", "1995")
    assert code == 0 and out.strip() == "no movie of the run's 1,682 matches 'zzzq' released from 1990 to 1995"
    code, out, err = _out(capsys, "movies", "--run", str(run_dir), "--year-from", "1999", "--year-to", "1990")
    assert code == 2 and err.strip() == "cinerec: error: --year-to 1990 is before --year-from 1999: no year is both"


def test_movies_names_a_films_other_ids_as_the_api_does(run_dir, capsys):
    # "chasing amy" listed 268 and 246 as two movies: the API's same_film said they are one
    # film, the command line did not.
    from fastapi.testclient import TestClient

    from cinerec.serving.api import create_app

    code, out, err = _out(capsys, "movies", "--run", str(run_dir), "chasing", "amy")
    assert code == 0 and [line.split("- rated by")[1].split(" (", 1)[1] for line in out.splitlines()] == [
        "the same film as 246)", "the same film as 268)"], out
    code, out, err = _out(capsys, "movies", "--run", str(run_dir), "chasing", "amy", "--json")
    got = json.loads(out)["movies"]
    with TestClient(create_app(run_dir)) as client:
        api = client.get("/movies", params={"query": "chasing amy"}).json()
    api = api["movies"] if isinstance(api, dict) else api
    assert [(m["movie_id"], m["same_film"]) for m in got] == [(268, [246]), (246, [268])]
    assert [(m["movie_id"], m["same_film"]) for m in got] == [(m["movie_id"], m["same_film"]) for m in api]
    code, out, err = _out(capsys, "movies", "--run", str(run_dir), "star", "wars", "--json")
    assert json.loads(out)["movies"][0]["same_film"] == []


def test_a_run_whose_movies_have_no_titles_sends_no_one_to_search_them(tmp_path, capsys):
    # Its movies are their ids: the hint sent people to a search of "m1  m1", and --genre
    # said "unknown genre 'Drama' (known: )".
    (tmp_path / "log.csv").write_text("user,item,rating\n" + "".join(
        f"u{u},m{i},{1 + (u + i) % 5}\n" for u in range(40) for i in range(30) if (u + i) % 3 == 0))
    run = tmp_path / "run"
    assert main(["train", "--data", str(tmp_path / "log.csv"), "--model", "itemknn", "--out", str(run),
                 "--protocol", "loo-full", "-q"]) == 0
    code, out, err = _out(capsys, "recommend", "--run", str(run), "--liked", "Star Wars")
    assert code == 2 and err.strip().endswith("unknown movie id 'Star Wars' (the run's data has 30 movies)"), err
    code, out, err = _out(capsys, "movies", "--run", str(run), "--genre", "Drama")
    assert code == 2 and err.strip() == ("cinerec: error: --genre 'Drama': the run's movies have no genres (its data "
                                         "gave none)")


@pytest.mark.parametrize("model", ["itemknn", "ease", "seqknn", "als", "two-stage", "ensemble"])
def test_someone_new_with_only_low_ratings_is_told_a_model_of_movies_seen_reads_them_alike(tmp_path, capsys, model,
                                                                                            ml100k_dir):
    # Star Wars and Return of the Jedi given 2 and 1 stars brought The Empire Strikes Back
    # first, as a 5 would, with "notes": [] (a two-stage model and an ensemble of such
    # models said nothing either).
    run = tmp_path / "run"
    settings = {"two-stage": ["--set", 'retriever="itemknn"', "--set", 'ranker="als"', "--set", "candidates=50"],
                "ensemble": ["--set", 'members=["itemknn", "popularity"]']}.get(model, [])
    assert main(["train", "--data", str(ml100k_dir), "--model", model, *settings, "--out", str(run), "-q"]) == 0
    said = (f"none of the ratings given counts as liked (3 stars and up on this data, and not below the others "
            f"given), and {model} reads each rating, however low, as a movie seen: the list holds movies like these "
            "all the same")
    code, out, err = _out(capsys, "recommend", "--run", str(run), "--ratings", "50=2,181=1", "--json")
    assert code == 0 and said in json.loads(out)["notes"], out
    for given in (["--ratings", "50=5,181=1"], ["--liked", "50", "--ratings", "181=1"]):
        code, out, err = _out(capsys, "recommend", "--run", str(run), *given, "--json")
        assert code == 0 and not any("counts as liked" in n for n in json.loads(out)["notes"])


def test_a_study_runs_similar_movies_name_its_model_as_the_study_does_from_python_too(tmp_path, capsys, ml100k_dir):
    # A notebook's note named the model's kind, 'itemknn', where the command line named the
    # study's 'knn5'.
    study = tmp_path / "s.toml"
    study.write_text(f'[data]\nsource = "{ml100k_dir}"\n[protocol]\nname = "loo-sampled"\nseeds = [0]\n'
                     '[models.knn5]\nmodel = "itemknn"\nneighbors = 5\n')
    assert main(["run", str(study), "--out", str(tmp_path / "run"), "-q"]) == 0
    code, out, err = _out(capsys, "similar", "--run", str(tmp_path / "run"), "--movie", "50", "-k", "20", "--json")
    said = json.loads(out)["notes"]
    assert code == 0 and said == ["5 movies listed, not 20: model 'knn5' keeps 5 similar movies per movie (its "
                                  "neighbors setting)"], err
    assert open_run(tmp_path / "run").similar(50, k=20).attrs["notes"] == said


def test_similar_of_a_movie_the_model_was_not_trained_on_says_so(own_run, tmp_path, capsys):
    # A movie a protocol's split left to its test part alone was said to have nothing with a
    # positive similarity, where the model had no rating of it to compare.
    import shutil

    from cinerec.models import create
    from cinerec.runs import open_run, save_model

    run_dir = tmp_path / "run"
    shutil.copytree(own_run, run_dir)
    ds = open_run(run_dir).dataset
    lonely = int(ds.item_ids.index(["lonely"])[0])
    x = ds.interactions
    save_model(run_dir, create("popularity").fit(x.select(np.flatnonzero(x.items != lonely))))
    code, out, err = _out(capsys, "similar", "--run", str(run_dir), "--movie", "lonely", "--json", "-q")
    assert code == 0 and json.loads(out)["notes"] == ["0 movies listed, not 10: model 'popularity' was trained on no "
                                                      "rating of movie 'lonely', so nothing is like it"], (out, err)
    code, out, err = _out(capsys, "similar", "--run", str(run_dir), "--movie", "lonely", "-q")
    assert out == "no movie like lonely under model 'popularity': it was trained on no rating of it\n", (out, err)


def test_ids_and_titles_a_terminal_would_act_on_are_printed_as_escapes(tmp_path, capsys):
    # A movie id holding ESC coloured every line after it red, and one holding a new line
    # broke the list in two; --json escaped them, the plain text did not.
    import csv

    odd = ["\x1b[31mred", "new\nline", "tab\there", "\u202eevil"]
    with open(tmp_path / "log.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["user", "item", "rating", "ts"])
        for u in range(30):
            for j in range(12):
                w.writerow([f"u{u}", odd[(u + j) % 4] if j < 2 else f"m{(u * 3 + j) % 25}", 1 + (u + j) % 5, j])
    assert main(["train", "--data", str(tmp_path / "log.csv"), "--model", "popularity", "--protocol", "random-full",
                 "--out", str(tmp_path / "run"), "-q"]) == 0
    for argv in (["recommend", "--run", str(tmp_path / "run"), "--user", "u2", "-k", "30"],  # (u2 rated the others)
                 ["movies", "--run", str(tmp_path / "run")],
                 ["similar", "--run", str(tmp_path / "run"), "--movie", "m1", "-k", "30"]):
        code, out, err = _out(capsys, *argv)
        assert code == 0, err
        assert not set(out + err) & {"\x1b", "\t", "\u202e"}, argv
        shown = out.splitlines()
        assert any("\\x1b[31mred" in line or "new\\nline" in line for line in shown), argv
        if argv[0] != "similar":  # (every movie listed)
            assert any("\\x1b[31mred" in line for line in shown) and any("new\\nline" in line for line in shown)
    # A user id said in a note (a list shorter than asked), a genre in data info's table,
    # quickstart's heading of a user's list: escaped as well.
    with open(tmp_path / "log.csv", "a", newline="") as f:
        csv.writer(f).writerows([["u\x1b[32mgreen", f"m{j}", 4, j] for j in range(12)])
    (tmp_path / "cat.csv").write_text("movieId,title,genres\nm1,One,\"Dra\x1b[31mma|Comedy\"\nm2,Two,Drama\n")
    assert main(["train", "--data", str(tmp_path / "log.csv"), "--model", "popularity", "--protocol", "random-full",
                 "--out", str(tmp_path / "run2"), "-q"]) == 0
    for argv in (["recommend", "--run", str(tmp_path / "run2"), "--user", "u\x1b[32mgreen", "-k", "25"],
                 ["data", "info", str(tmp_path / "log.csv"), "--catalog", str(tmp_path / "cat.csv")],
                 ["quickstart", "--data", str(tmp_path / "log.csv"), "--model", "popularity", "--users", "40",
                  "--negatives", "10", "--out", str(tmp_path / "qs")]):
        code, out, err = _out(capsys, *argv)
        assert code == 0, err
        assert "\x1b" not in out + err and "\\x1b[3" in out + err, argv


def test_a_title_search_starts_without_torch(own_run):
    # cinerec movies imported the models (torch: about 2 s of its 3 to 5) through the
    # store, for a search of the run's titles that reads no model.
    import os
    import subprocess
    import sys
    from pathlib import Path

    probe = ("import sys\nfrom cinerec.cli import main\ncode = main(['movies', '--run', sys.argv[1], 'm1'])\n"
             "print('TORCH' if 'torch' in sys.modules else 'NO TORCH')\nsys.exit(code)\n")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    done = subprocess.run([sys.executable, "-c", probe, str(own_run)], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and done.stdout.strip().endswith("NO TORCH"), done.stdout + done.stderr


def test_the_python_calls_refuse_arguments_of_another_kind_in_one_line(own_run, tmp_path):
    # load(implicit="no") made every rating a positive; load_model(None) was pathlib's
    # TypeError and load_model("") read the folder one is in; similar(a Series) was pandas's
    # "Index data must be 1-dimensional".
    import pandas as pd

    from cinerec.data import load
    from cinerec.errors import ConfigError
    from cinerec.models.base import load_model

    with pytest.raises(ConfigError, match="load: implicit = 'no': must be true or false"):
        load(tmp_path / "nothing.csv", implicit="no")
    with pytest.raises(ConfigError, match="load: progress = 'x': must be true or false"):
        load(tmp_path / "nothing.csv", progress="x")
    with pytest.raises(ConfigError, match="load_model: path: expected str or PathLike, got NoneType"):
        load_model(None)
    with pytest.raises(ConfigError, match="load_model: path: empty"):
        load_model("")
    run = open_run(own_run)
    for many in (pd.Series(["m1"]), pd.Index(["m1"]), range(2), pd.RangeIndex(1, 2), pd.array(["m1"]),
                 pd.Categorical(["m1"])):
        with pytest.raises(ConfigError, match=r"movie id: expected one movie id, got a \w+ \([^\n]*\)$"):
            run.similar(many, k=2)
    import cinerec.serving

    assert {"open_store", "export_store", "MovieSearch"} <= set(dir(cinerec.serving))


def test_a_score_that_rounds_to_zero_is_printed_without_a_sign():
    # An EASE list on a -2..2 log printed "score -0.000".
    from cinerec.commands.recommend import three_places

    assert [three_places(v) for v in (-0.0004, -0.0, 0.0, 0.0004, -0.0005, 1.23456, -2.5)] == [
        "0.000", "0.000", "0.000", "0.000", "-0.001", "1.235", "-2.500"]
