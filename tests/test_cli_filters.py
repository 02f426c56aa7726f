"""Own logs and filters on the command line: round trips, records, and bad input in one line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cinerec.cli import main
from cinerec.runs import open_run


@pytest.fixture(scope="module")
def own_log(tmp_path_factory) -> dict[str, Path]:
    """A person's own log: string ids, unusual column names, dates; and a catalogue file."""
    root = tmp_path_factory.mktemp("own")
    rng = np.random.default_rng(0)
    rows = []
    for u in range(40):
        items = rng.choice(150, size=int(rng.integers(8, 30)), replace=False)
        for j, i in enumerate(items):
            day = pd.Timestamp("2021-01-01") + pd.Timedelta(days=u + j)
            rows.append((f"person-{u}", f"sku{i:03d}", int(rng.integers(1, 6)), day.strftime("%Y-%m-%d")))
    log = root / "log.csv"
    pd.DataFrame(rows, columns=["who", "sku", "stars", "when"]).to_csv(log, index=False)
    catalog = root / "items.csv"
    pd.DataFrame({"id": [f"sku{i:03d}" for i in range(150)],
                  "title": [f"Film {i} ({1980 + i % 40})" for i in range(150)],
                  "genres": ["Drama|Comedy" if i % 2 else "Action" for i in range(150)]}).to_csv(catalog, index=False)
    return {"log": log, "catalog": catalog, "columns": "user=who,item=sku,rating=stars,time=when"}


@pytest.fixture(scope="module")
def synthetic_100k(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("data") / "ml-100k"
    assert main(["data", "synthesize", "--like", "ml-100k", "--scale", "0.05", "--seed", "1", "--out", str(out)]) == 0
    return out


def _one_line_error(capsys, argv: list[str]) -> str:
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("cinerec: error: ") and "Traceback" not in err, err
    return err


def test_own_log_round_trip_train_recommend_export(own_log, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--data", str(own_log["log"]), "--columns", own_log["columns"], "--catalog",
                 str(own_log["catalog"]), "--min-year", "1985", "--model", "ease", "--out", str(out), "-q"]) == 0
    run = open_run(out)
    record = run.meta["dataset"]
    assert record["source"] == str(own_log["log"]) and record["format"] == "log"
    assert record["columns"] == {"user": "who", "item": "sku", "rating": "stars", "time": "when"}
    assert record["catalog"] == str(own_log["catalog"]) and record["filters"] == {"min_year": 1985}
    [step] = record["transforms"]
    assert step["transform"] == "years" and step["args"] == {"min_year": 1985, "max_year": None}
    assert step["after"] == record["counts"] and step["before"]["movies"] > step["after"]["movies"]
    # The run keeps the filtered data: export and serve read it and never filter again.
    assert run.dataset.n_items == record["counts"]["movies"] and (run.dataset.catalog.years >= 1985).all()
    assert run.dataset.info["transforms"] == record["transforms"]
    capsys.readouterr()
    assert main(["recommend", "--run", str(out), "--user", "person-3", "-k", "4", "--json"]) == 0
    recs = json.loads(capsys.readouterr().out)["recommendations"]
    assert len(recs) == 4 and all(r["movie_id"].startswith("sku") and r["title"].startswith("Film ") for r in recs)
    assert all(r["year"] >= 1985 for r in recs)
    assert main(["export", "--run", str(out), "--db", str(tmp_path / "store.sqlite"), "-k", "5", "--json"]) == 0
    exported = json.loads(capsys.readouterr().out)
    assert exported["n_users"] == 40 and exported["n_items"] == record["counts"]["movies"]


def test_a_folder_with_ratings_csv_and_no_movies_csv_is_a_log(tmp_path, capsys):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "ratings.csv").write_text("userId,movieId,rating,timestamp\na,x,4,1\na,y,5,2\nb,x,3,3\n")
    capsys.readouterr()
    assert main(["data", "info", str(folder), "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["ratings"] == 3 and facts["users"] == 2 and facts["dataset"]["format"] == "log"


def test_data_info_json_records_the_filters(synthetic_100k, capsys):
    capsys.readouterr()
    assert main(["data", "info", str(synthetic_100k), "--top-users", "20", "--kcore", "3", "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    data = facts["dataset"]
    assert data["filters"] == {"top_users": 20, "kcore": [3, 3]}
    assert [s["transform"] for s in data["transforms"]] == ["top_users", "kcore"]
    assert data["transforms"][0]["after"]["users"] == 20
    assert facts["users"] == data["counts"]["users"] and facts["official_folds"] == []
    assert main(["data", "info", str(synthetic_100k), "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["dataset"]["transforms"] == [] and "u1" in facts["official_folds"]


def test_each_filter_is_said_in_the_flag_s_words(synthetic_100k, tmp_path, capsys):
    # They read "years {'min_year': 1990, 'max_year': None}" and "top_users {'n': 100000}",
    # the last without saying it dropped nothing.
    capsys.readouterr()
    assert main(["data", "info", str(synthetic_100k), "--min-year", "1990", "--top-users", "100000"]) == 0
    said = [line for line in capsys.readouterr().err.splitlines() if line.startswith("filter ")]
    assert said[0].startswith("filter min_year=1990: 5,000 -> ")
    assert said[1].startswith("filter top_users=100000 (dropped nothing): ")
    # evaluate and train said the data: line alone, what was left after the filters
    for command in (["evaluate"], ["train", "--out", str(tmp_path / "run")]):
        assert main([*command, "--data", str(synthetic_100k), "--model", "popularity", "--min-year", "1990",
                     "--protocol", "loo-full"]) == 0
        said = [line for line in capsys.readouterr().err.splitlines() if line.startswith("filter ")]
        assert len(said) == 1 and said[0].startswith("filter min_year=1990: 5,000 -> "), said
        assert " users, " in said[0] and said[0].endswith(" movies")


def test_mf_under_a_ranking_protocol_trains_for_ranking(synthetic_100k, tmp_path, capsys):
    out = tmp_path / "mf"
    tiny = ["--set", "epochs=2", "--set", "factors=4", "--set", "progress=false", "--set", "threads=1"]
    assert main(["train", "--data", str(synthetic_100k), "--model", "mf", "--protocol", "loo-full", *tiny,
                 "--out", str(out)]) == 0
    assert open_run(out).meta["config"]["mf"]["loss"] == "bpr"
    # ... and says so: only run.json's config told the figures were not a model of stars'.
    said = 'note: mf: measured as trained for ranking (loss = "bpr", regularization = 0.01: its ranking variant'
    printed = capsys.readouterr()
    assert said in printed.out + printed.err and said.removeprefix("note: ") in (out / "report.md").read_text()
    # Its own penalty beside the ranking loss: still a ranking variant, said with the values used.
    assert main(["evaluate", "--data", str(synthetic_100k), "--model", "mf", "--protocol", "loo-sampled", *tiny,
                 "--set", "loss='bpr'", "--set", "regularization=0.05"]) == 0
    assert ('note: mf: measured as trained for ranking (loss = "bpr", regularization = 0.05: its ranking variant; a '
            'ranking protocol gives it loss = "bpr", regularization = 0.01 for each left unset)') in capsys.readouterr().out
    err = _one_line_error(capsys, ["evaluate", "--data", str(synthetic_100k), "--model", "mf", "--protocol",
                                   "loo-sampled", "--set", "loss='mse'"])
    assert '--set: mf with loss = "mse" learns stars, not rankings; under loo-sampled set loss = "bpr"' in err


def test_a_rating_models_default_protocol_on_implicit_data_says_it_was_the_default(synthetic_100k, tmp_path, capsys):
    # "protocol ratings-random measures predicted stars" named a protocol the user never gave.
    for command in (["evaluate"], ["train", "--out", str(tmp_path / "run")]):
        err = _one_line_error(capsys, [*command, "--data", str(synthetic_100k), "--model", "biasedmf", "--implicit"])
        assert "ratings-random, the protocol biasedmf is measured by when --protocol is not given" in err
        assert "--protocol loo-sampled (it then trains for ranking)" in err
    err = _one_line_error(capsys, ["evaluate", "--data", str(synthetic_100k), "--model", "baseline", "--implicit"])
    assert "use a ranking model such as ease or als" in err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("argv, message", [
    # (as typed, not as a study file's key: it said 'command line: --kcore = "5,x" must be...')
    (["--kcore", "5,x"], "--kcore '5,x': must be U or U,I"),
    (["--liked-threshold", "5.000001"], "--liked-threshold 5.000001 leaves no ratings"),  # not "5", which keeps some
    # (a threshold below every rating named the scale; one above it did not)
    (["--liked-threshold", "6"], "--liked-threshold 6 leaves no ratings (the data had 5,000 ratings of 47 users); "
                                 "its ratings run from 1 to 5 stars"),
    (["--top-users", "0"], "--top-users 0: must be a positive whole number"),
    # (the flag that does what it asks named: "ask for implicit data" named none)
    (["--liked-threshold", "1"], "for all of them as plain likes ask for implicit data instead (--implicit), else "),
    # (named as typed: it was said back as "inf")
    (["--liked-threshold", "1e400"], "Invalid value for '--liked-threshold': '1e400' is too large to be a number of "
                                     "stars"),
    (["--liked-threshold", "-inf"], "--liked-threshold -inf: must be a number of stars"),
    (["--liked-threshold", "four"], "Invalid value for '--liked-threshold': 'four' is not a valid float"),
    (["--min-year", "2001", "--max-year", "1990"], "--min-year 2001: must not be after --max-year 1990"),
    (["--min-year", "2100"], "--min-year 2100 leaves no ratings (the data had 5,000 ratings"),
    (["--columns", "user=a"], "--columns: "),
    (["--catalog", "nowhere.csv"], "--catalog nowhere.csv: no such file"),
    (["--protocol", "ratings-fold", "--top-users", "30"],
     "official folds of '"),
    (["--protocol", "ratings-random", "--liked-threshold", "4"], "measures predicted stars"),
    (["--top-movies", "60"], "has only"),
])
def test_bad_filters_and_sources_are_one_line_and_leave_no_run(synthetic_100k, tmp_path, capsys, argv, message):
    out = tmp_path / "run"
    model = ["--model", "baseline"] if "--protocol" in argv else ["--model", "popularity"]
    err = _one_line_error(capsys, ["train", "--data", str(synthetic_100k), *model, *argv, "--out", str(out), "-q"])
    assert message in err
    assert not out.exists()
    if "official folds" in message:
        assert f"official folds of '{synthetic_100k}' no longer apply" in err


def test_too_few_unseen_movies_names_the_raw_user_and_the_way_out(own_log, capsys):
    err = _one_line_error(capsys, ["evaluate", "--data", str(own_log["log"]), "--columns", own_log["columns"],
                                   "--top-movies", "60", "--model", "popularity", "-q"])
    assert "protocol loo-sampled: user 'person-" in err and "fewer than the 99 negatives asked for" in err
    # The way out keeps more movies: keeping fewer, more active users leaves them fewer unseen ones.
    assert "keep more movies (a larger --top-movies)" in err and "--protocol-option n_negatives=" in err
    assert "--top-users" not in err
    # With no filter that drops movies there is no filter to loosen: it was advised all the same.
    err = _one_line_error(capsys, ["evaluate", "--data", str(own_log["log"]), "--columns", own_log["columns"],
                                   "--protocol-option", "n_negatives=130", "--model", "popularity", "-q"])
    assert "the data holds only 150 movies; ask for fewer negatives (--protocol-option n_negatives=" in err
    assert "--top-movies" not in err and "keep more movies" not in err
    err = _one_line_error(capsys, ["evaluate", "--data", str(own_log["log"]), "--columns", own_log["columns"],
                                   "--kcore", "1,6", "--model", "popularity", "-q"])
    assert "keep more movies (a smaller --kcore)" in err


def test_too_few_unseen_movies_after_a_liked_threshold_names_it(tmp_path, capsys):
    # Movies no one rated 4 or more go with --liked-threshold 4: it was the filter to
    # loosen, but the line said only how many movies the data holds.
    import random

    pick = random.Random(0)
    log = tmp_path / "log.csv"
    log.write_text("user,item,rating,ts\n" + "\n".join(
        f"u{u},m{i},{1 if i < 20 else pick.choice([3, 4, 5])},{u * 100 + n}"
        for u in range(30) for n, i in enumerate(pick.sample(range(140), 45))) + "\n")
    err = _one_line_error(capsys, ["evaluate", "--data", str(log), "--liked-threshold", "4", "--model", "popularity", "-q"])
    assert "keep more movies (a lower --liked-threshold) or ask for fewer negatives" in err, err


def test_each_command_says_how_to_ask_for_fewer_negatives_in_its_own_terms(own_log, tmp_path, capsys):
    """quickstart takes --negatives; a study sets n_negatives under [protocol]."""
    data = ["--data", str(own_log["log"]), "--columns", own_log["columns"], "--top-movies", "60"]
    err = _one_line_error(capsys, ["quickstart", *data, "--model", "popularity", "--out", str(tmp_path / "q"), "-q"])
    assert "fewer than the 99 negatives asked for" in err and "(--negatives " in err and "--protocol-option" not in err
    assert not (tmp_path / "q").exists()
    fewer = int(err.rsplit("--negatives ", 1)[1].rstrip(")\n"))
    assert main(["quickstart", *data, "--model", "popularity", "--negatives", str(fewer), "--users", "0",
                 "--out", str(tmp_path / "q"), "-q"]) == 0
    assert open_run(tmp_path / "q").meta["protocol_options"] == {"loo-sampled": {"n_negatives": fewer}}
    assert f"among {fewer} sampled unseen ones" in (tmp_path / "q" / "report.md").read_text()
    study = tmp_path / "s.toml"
    study.write_text(f'[data]\nsource = "{own_log["log"]}"\ncolumns = "{own_log["columns"]}"\ntop_movies = 60\n\n'
                     '[protocol]\nname = "loo-sampled"\n\n[models.popularity]\n')
    err = _one_line_error(capsys, ["run", str(study), "--out", str(tmp_path / "r"), "-q"])
    # The file and line first, as every study error (the table's line when the file sets no n_negatives).
    assert err.startswith(f"cinerec: error: {study}:6: [protocol]: protocol loo-sampled: ")
    assert f"(n_negatives = {fewer})" in err and not (tmp_path / "r").exists()
    study.write_text(study.read_text().replace('"loo-sampled"\n', '"loo-sampled"\nn_negatives = 99\n'))
    assert _one_line_error(capsys, ["run", str(study), "--out", str(tmp_path / "r"), "-q"]).startswith(
        f"cinerec: error: {study}:8: [protocol] n_negatives: protocol loo-sampled: ")
    assert "keep more movies (a larger top_movies under [data])" in err
    assert "--top-movies" not in err  # the file's key, not a flag run does not need
    study.write_text(study.read_text().replace("top_movies = 60\n", ""))  # the same filter, as a flag
    err = _one_line_error(capsys, ["run", str(study), "--top-movies", "60", "--out", str(tmp_path / "r"), "-q"])
    assert "keep more movies (a larger --top-movies" in err and "under [data]" not in err
    # One year bound given: that one is named, in the file's words (it said "min_year/max_year").
    study.write_text(study.read_text().replace("[protocol]", f'catalog = "{own_log["catalog"]}"\nmax_year = 1985\n\n'
                                                             "[protocol]"))
    err = _one_line_error(capsys, ["run", str(study), "--out", str(tmp_path / "r"), "-q"])
    assert "keep more movies (a later max_year under [data])" in err, err
    # A threshold of liked stars in the file is the file's key too (it said --liked-threshold).
    study.write_text(study.read_text().replace("max_year = 1985\n", "liked_threshold = 5\n"))
    err = _one_line_error(capsys, ["run", str(study), "--out", str(tmp_path / "r"), "-q"])
    assert "keep more movies (a lower liked_threshold under [data])" in err and "--liked-threshold" not in err, err


def test_quickstart_takes_a_log_and_filters_and_marks_models_below_popularity(own_log, tmp_path, capsys):
    out = tmp_path / "qs"
    capsys.readouterr()
    assert main(["quickstart", "--data", str(own_log["log"]), "--columns", own_log["columns"], "--catalog",
                 str(own_log["catalog"]), "--kcore", "2", "--model", "popularity,autorec", "--out", str(out),
                 "--users", "1", "--json", "-q"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["dataset"]["filters"] == {"kcore": [2, 2]} and got["dataset"]["format"] == "log"
    # A log of random ratings: nothing to learn beyond popularity, and its ranking variant does worse.
    lines = got["below_popularity"]
    assert lines and all(line.startswith("autorec: hr@10 ") for line in lines)
    run = open_run(out)
    assert run.meta["below_popularity"] == lines and "Below popularity" in (out / "report.md").read_text()
    assert got["recommendations"][0]["movies"][0]["title"].startswith("Film ")
    # A model of stars with no ranking variant is refused before anything is fitted or written.
    err = _one_line_error(capsys, ["quickstart", "--data", str(own_log["log"]), "--columns", own_log["columns"],
                                   "--model", "popularity,baseline", "--out", str(tmp_path / "qs2"), "-q"])
    assert "baseline learns stars with no ranking variant" in err and not (tmp_path / "qs2").exists()


def test_a_user_a_filter_dropped_is_said_to_be_so(synthetic_100k, tmp_path, capsys):
    # "unknown user id" alone, for a user the source has and --top-users dropped.
    from cinerec.data import load

    out = tmp_path / "run"
    assert main(["train", "--data", str(synthetic_100k), "--model", "popularity", "--top-users", "30",
                 "--out", str(out), "-q"]) == 0
    kept = set(open_run(out).dataset.user_ids.raw.tolist())
    dropped = next(u for u in load(synthetic_100k).user_ids.raw.tolist() if u not in kept)
    err = _one_line_error(capsys, ["recommend", "--run", str(out), "--user", str(dropped)])
    assert f"unknown user id '{dropped}' (the run's data has 30 users, after the filter top_users=30)" in err
    err = _one_line_error(capsys, ["recommend", "--run", str(out), "--user", "999999"])
    assert "after the filter top_users=30" in err  # an id never in the source is no different to the run
    err = _one_line_error(capsys, ["recommend", "--run", str(out), "--similar-to", "99999999"])
    assert "after the filter" not in err  # top_users=30 dropped no movie here


def test_the_api_says_which_filter_dropped_a_movie(synthetic_100k, tmp_path):
    from fastapi.testclient import TestClient

    from cinerec.data import load
    from cinerec.serving.api import create_app

    out = tmp_path / "run"
    assert main(["train", "--data", str(synthetic_100k), "--model", "popularity", "--top-movies", "150",
                 "--protocol-option", "n_negatives=20", "--out", str(out), "-q"]) == 0
    kept = set(open_run(out).dataset.item_ids.raw.tolist())
    dropped = next(m for m in load(synthetic_100k).item_ids.raw.tolist() if m not in kept)
    with TestClient(create_app(out)) as client:
        assert client.get(f"/movies/{dropped}").json()["detail"] == \
            f"unknown movie id '{dropped}' (the run's data has 150 movies, after the filter top_movies=150)"
        body = client.post("/recommendations", json={"liked": [dropped]}).json()
        assert body["detail"][0]["msg"].endswith("(the run's data has 150 movies, after the filter top_movies=150)")


def test_quickstarts_next_line_pastes_into_a_shell_whatever_the_id_and_folder(tmp_path, capsys):
    """The first user's id ("user 002") and the run folder ("my runs/qs") hold spaces: the
    line printed as the next step works as a shell would split it."""
    import shlex

    log = tmp_path / "log.csv"
    log.write_text("user,item,rating\n" + "".join(
        f"user {u:03d},m{i},{1 + (u + i) % 5}\n" for u in range(2, 14) for i in range(160) if (u * 7 + i) % 6 == 0))
    out = tmp_path / "my runs" / "qs"
    capsys.readouterr()
    assert main(["quickstart", "--data", str(log), "--model", "popularity", "--out", str(out), "--users", "1"]) == 0
    line = next(x for x in capsys.readouterr().err.splitlines() if x.startswith("next: "))
    recommend = shlex.split(line.removeprefix("next: ").split("   |   ")[0])
    assert recommend[:2] == ["cinerec", "recommend"]
    assert main([*recommend[1:], "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["user"] == "user 002"


def test_a_rating_protocol_on_plain_interactions_names_the_file_read(own_log, capsys):
    # It named the dataset ("log", the file's stem), not the file the user gave.
    err = _one_line_error(capsys, ["evaluate", "--data", str(own_log["log"]), "--columns", own_log["columns"],
                                   "--implicit", "--model", "baseline", "--protocol", "ratings-random"])
    # The flag made it so, not the file: the file's stars were blamed.
    assert f"measures predicted stars, but '{own_log['log']}' holds plain interactions after the filter implicit;" in err
    # Its way out names a model that ranks too: a model of stars under loo-sampled is refused again.
    assert "use a ranking protocol such as loo-sampled, with a model that ranks (ease, als, itemknn...)" in err


@pytest.mark.parametrize("flags, said", [(["--liked-threshold", "4"], "after the filter liked_threshold=4"),
                                         (["--implicit"], "after the filter implicit")])
def test_a_rating_default_protocol_refused_on_filtered_data_names_the_filter(own_log, capsys, flags, said):
    # "'log.csv' holds plain interactions (implicit)" read as if the file held no stars.
    err = _one_line_error(capsys, ["evaluate", "--data", str(own_log["log"]), "--columns", own_log["columns"],
                                   *flags, "--model", "biasedmf", "--set", "epochs=1"])
    assert f"'{own_log['log']}' holds plain interactions {said}, and ratings-random, the protocol biasedmf" in err


def test_an_empty_columns_flag_is_refused_as_catalog_is(tmp_path, capsys):
    # --columns= was dropped without a word (--catalog= and --columns ' ' are refused).
    (tmp_path / "log.csv").write_text("user,item\nu1,m1\nu1,m2\n")
    err = _one_line_error(capsys, ["evaluate", "--data", str(tmp_path / "log.csv"), "--model", "popularity",
                                   "--columns=", "-q"])
    assert "--columns '': expected role=column pairs, e.g. user=uid,item=sku" in err, err


def test_nothing_left_to_rank_after_a_filter_says_to_keep_more_movies_in_one_clause(synthetic_100k, capsys):
    # It read "no list is short enough to measure anything here or keep more movies (...)".
    err = _one_line_error(capsys, ["evaluate", "--data", str(synthetic_100k), "--model", "popularity",
                                   "--top-movies", "2", "--protocol", "random-full", "-q"])
    assert err.rstrip().endswith("no list is short enough to measure anything here: keep more movies "
                                 "(a larger --top-movies)")


@pytest.mark.parametrize("argv, advice", [
    # (with no such flag the data is not read yet: a log of one's own may hold no stars, and
    # ratings-random, the way out given, refused it)
    (["--model", "mlp-rating"], "measure its stars with --protocol ratings-random, where the data holds stars (a "
                                "log of plain interactions holds none), or rank"),
    (["--model", "mf", "--set", "loss='mse'"],
     "or measure stars with --protocol ratings-random, where the data holds stars (a log of plain interactions holds "
     "none)"),
    (["--model", "baseline", "--liked-threshold", "4"],
     "measure its stars with --protocol ratings-random and without --liked-threshold 4, which leaves no stars, or rank"),
    (["--model", "biasedmf", "--set", "loss=mse", "--implicit"],
     "or measure stars with --protocol ratings-random and without --implicit, which leaves no stars"),
])
def test_advice_to_measure_stars_names_the_filter_that_leaves_none(tmp_path, capsys, argv, advice):
    # It sent a model of stars to ratings-random, which then refused the data that --implicit
    # or --liked-threshold had left without stars: each refusal pointed at the other.
    capsys.readouterr()
    code = main(["evaluate", "--data", str(tmp_path / "not-read"), *argv, "--protocol", "loo-sampled", "-q"])
    err = capsys.readouterr().err
    assert code == 2 and advice in err and err.count("\n") == 1, err


def test_reports_say_what_the_filters_left(synthetic_100k, tmp_path, capsys):
    # train's report gave neither the data's counts nor its filters, and quickstart's its
    # counts alone: a run on a fifth of a release read as if on all of it.
    from cinerec.data.dataset import dataset_sizes
    from cinerec.data.filters import step_words
    from cinerec.runs import open_run

    flags = ["--top-users", "20", "--kcore", "2"]
    assert main(["train", "--data", str(synthetic_100k), "--model", "popularity", *flags,
                 "--out", str(tmp_path / "t"), "-q"]) == 0
    assert main(["quickstart", "--data", str(synthetic_100k), "--model", "popularity", *flags, "--users", "0",
                 "--out", str(tmp_path / "q"), "-q"]) == 0
    for run in ("t", "q"):
        steps = open_run(tmp_path / run).meta["dataset"]["transforms"]
        ds = open_run(tmp_path / run).dataset
        text = (tmp_path / run / "report.md").read_text()
        counts = f"{dataset_sizes(ds)} (after the filters below)."
        assert counts in text, text
        for step in steps:
            a = step["after"]
            assert f"- {step_words(step)}: {a['ratings']:,} ratings, {a['users']:,} users, {a['movies']:,} movies " \
                   "left" in text, text
    assert "- top_users=20: " in (tmp_path / "t" / "report.md").read_text()


def test_a_runs_data_record_says_whether_the_official_folds_still_apply(ml100k_dir, tmp_path):
    # Only the saved dataset.json said a filter had dropped them; run.json did not.
    assert main(["train", "--data", str(ml100k_dir), "--model", "popularity", "--out", str(tmp_path / "all"),
                 "-q"]) == 0
    record = open_run(tmp_path / "all").meta["dataset"]
    assert record["official_folds"] == ["u1", "u2", "u3", "u4", "u5", "ua", "ub"] and "folds_dropped_by" not in record
    assert main(["train", "--data", str(ml100k_dir), "--model", "popularity", "--top-users", "300",
                 "--out", str(tmp_path / "some"), "-q"]) == 0
    record = open_run(tmp_path / "some").meta["dataset"]
    assert record["official_folds"] == [] and record["folds_dropped_by"] == "top_users=300"
