"""``cinerec similar`` and ``cinerec recommend --liked/--ratings``: the API's similar movies and
cold-start lists on the command line, the same as the notebook's and the API's."""

from __future__ import annotations

import json

import pytest

from cinerec.cli import main


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
    (["--ratings", "50=x"], "--ratings '50=x': stars must be a number, got 'x'"),
    (["--ratings", "50=nan"], "--ratings '50=nan': stars must be a number, got 'nan'"),
    (["--ratings", "50=4,50=5"], "--ratings: movie '50' is given twice; give it once"),
    (["--ratings", "50=9"], "--ratings: movie '50': 9 stars is outside this data's scale, 1 to 5"),
    (["--liked", "50", "--ratings", "50=4"], "movie '50' is given with --liked and with --ratings: give it once"),
    (["--liked", "99999"], "unknown movie id '99999' (the run's data has 1,682 movies)"),
])
def test_someone_new_given_wrongly_is_one_line(run_dir, capsys, argv, line):
    code, out, err = _out(capsys, "recommend", "--run", str(run_dir), *argv)
    assert code == 2 and out == "" and err == f"cinerec: error: {line}\n"


def test_similar_of_an_unknown_movie_is_one_line(run_dir, capsys):
    code, out, err = _out(capsys, "similar", "--run", str(run_dir), "--movie", "99999")
    assert code == 2 and out == "" and err == "cinerec: error: unknown movie id '99999' (the run's data has 1,682 movies)\n"
