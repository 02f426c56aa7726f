"""``cinerec evaluate`` through ``cinerec.cli.main``."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cinerec.cli import main


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_table_names_the_protocol(capsys, ml100k_dir):
    code, out, err = run(capsys, "evaluate", "--data", str(ml100k_dir), "--model", "popularity",
                         "--protocol", "loo-sampled")
    assert code == 0, err
    assert "protocol: loo-sampled (seed 0)" in out
    row = next(line for line in out.splitlines() if line.startswith("loo-sampled"))
    assert "popularity" in row and "943" in row


def test_json_has_the_printed_metric_names(capsys, ml100k_dir):
    code, out, err = run(capsys, "evaluate", "--data", str(ml100k_dir), "--model", "itemknn",
                         "--protocol", "loo-sampled", "--seed", "2", "--set", "neighbors=50", "--json")
    assert code == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 1
    got = json.loads(lines[0])
    assert got["protocol"] == "loo-sampled" and got["model"] == "itemknn" and got["seed"] == 2
    assert {"hr@10", "ndcg@10", "hr@1", "ndcg@5"} <= set(got["metrics"])
    assert 0.5 < got["metrics"]["hr@10"] < 0.8 and got["n_users"] == 943
    assert got["config"]["neighbors"] == 50  # the settings it ran with
    # the same figures as the table, which prints them to four places
    code, out, err = run(capsys, "evaluate", "--data", str(ml100k_dir), "--model", "itemknn",
                         "--protocol", "loo-sampled", "--seed", "2", "--set", "neighbors=50")
    row = next(line for line in out.splitlines() if line.startswith("loo-sampled"))
    assert f"{got['metrics']['hr@10']:.4f}" in row


def test_ratings_fold_with_a_fold(capsys, ml100k_dir):
    code, out, err = run(capsys, "evaluate", "--data", str(ml100k_dir), "--model", "baseline",
                         "--protocol", "ratings-fold", "--protocol-option", "fold=u2", "--json", "--quiet")
    assert code == 0, err
    assert err == ""
    got = json.loads(out)
    m = got["metrics"]
    assert got["options"]["fold"] == "u2" and m["rmse"] < 0.97 and m["mae"] < m["rmse"]


def test_a_fold_whose_file_the_release_folder_lacks_names_the_file(capsys, ml100k_dir, tmp_path):
    # It said "no official fold 'u3'", as if u3 were no fold of ml-100k's.
    import shutil

    folder = tmp_path / "ml-100k"
    shutil.copytree(ml100k_dir, folder, ignore=shutil.ignore_patterns("u3.*"))
    code, out, err = run(capsys, "evaluate", "--data", str(folder), "--model", "baseline",
                         "--protocol", "ratings-fold", "--protocol-option", "fold=u3", "-q")
    assert code == 2 and err == (f"cinerec: error: ml-100k: no official fold 'u3': {folder} holds no u3.test "
                                 "(this dataset has: u1, u2, u4, u5, ua, ub)\n"), err
    # A name that is no fold's, from Python, is not said to lack its file.
    from cinerec.data import load
    from cinerec.data.split import official_split
    from cinerec.errors import NotFoundError

    with pytest.raises(NotFoundError) as e:
        official_split(load(folder), "u9")
    assert str(e.value) == "ml-100k: no official fold 'u9' (this dataset has: u1, u2, u4, u5, ua, ub)"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--model", "nope", "--protocol", "loo-sampled"], "unknown model 'nope' (known: als,"),
        (["--model", "ease", "--protocol", "nope"], "unknown protocol 'nope' (known: loo-sampled,"),
        # A slip is told what it is close to, in any case: it listed the 20 models alone.
        (["--model", "eas"], "unknown model 'eas' (did you mean 'ease'? known: als,"),
        (["--model", "EASE"], "unknown model 'EASE' (did you mean 'ease'? known: als,"),
        (["--model", "ease", "--protocol", "loo-sample"], "unknown protocol 'loo-sample' (did you mean 'loo-sampled'? "
                                                          "known: loo-sampled,"),
        (["--model", "itemknn", "--protocol", "loo-full", "--set", "neighbors=zero"], "neighbors"),
        (["--model", "itemknn", "--protocol", "loo-full", "--set", "neighbours=5"], "unknown key 'neighbours'"),
        (["--model", "ease", "--protocol", "loo-full", "--protocol-option", "fold=u1"], "unknown option 'fold'"),
        # (it named ratings-random alone, a protocol the user never gave)
        (["--model", "baseline", "--protocol-option", "fold=u2"], "protocol ratings-random (the one baseline is "
         "measured by when --protocol is not given): unknown option 'fold' (known: ks, test, valid); fold is an option "
         "of ratings-fold"),
        (["--model", "baseline", "--protocol", "ratings-fold", "--protocol-option", "fold=u7"], "fold='u7'"),
        (["--model", "ease", "--protocol-option", "fold"], "--protocol-option 'fold': expected key=value"),
        (["--model", "ease", "--fold", "u1"], "--protocol-option fold=NAME"),
        (["--model", "ease", "--protocol-option", "=3"], "--protocol-option '=3': expected key=value"),
        (["--protocol", "loo-full"], "Missing option '--model'"),
        (["--model", "popularity", "--protocol", "ratings-random"], "ranks movies and predicts no stars"),
        (["--model", "ease", "--protocol", "loo-full", "--seed", "-1"], "--seed"),
    ],
)
def test_mistakes_are_one_line_and_exit_2(capsys, argv, message, tmp_path):
    # The data folder is never read: names and values are checked first.
    code, out, err = run(capsys, "evaluate", "--data", str(tmp_path / "missing"), *argv)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("cinerec: error:") and message in err
    assert "Traceback" not in err and out == ""


def test_a_setting_given_twice_takes_the_later_value(capsys, ml100k_dir):
    code, out, err = run(capsys, "evaluate", "--data", str(ml100k_dir), "--model", "popularity", "--protocol",
                         "loo-sampled", "--protocol-option", "n_negatives=50", "--protocol-option", "n_negatives=20",
                         "--json", "--quiet")
    assert code == 0, err
    assert json.loads(out)["options"]["n_negatives"] == 20


def test_missing_data_is_one_line(capsys, tmp_path):
    code, out, err = run(capsys, "evaluate", "--data", str(tmp_path / "missing"), "--model", "ease",
                         "--protocol", "loo-full")
    assert code == 2 and err.count("\n") == 1


def test_mf_liked_under_a_ranking_protocol_says_what_to_drop(ml100k_dir, capsys):
    # It said to set loss = 'bce' too, which a ranking protocol then refused in its turn.
    from cinerec.cli import main

    code = main(["evaluate", "--data", str(ml100k_dir), "--model", "mf", "--set", 'target="liked"',
                 "--protocol", "loo-sampled"])
    err = capsys.readouterr().err
    assert code == 2 and 'mf with target = "liked" learns liked-or-not, not rankings; under loo-sampled drop target' in err
    # and with a loss given too (it said to set loss = 'bce', which was then refused as above)
    code = main(["evaluate", "--data", str(ml100k_dir), "--model", "mf", "--set", 'target="liked"', "--set",
                 'loss="mse"', "--protocol", "loo-sampled"])
    err = capsys.readouterr().err
    assert code == 2 and err == ('cinerec: error: --set: mf with target = "liked" learns liked-or-not, not rankings; '
                                 'under loo-sampled drop target and set loss = "bpr", regularization = 0.01, or '
                                 'measure stars with --protocol ratings-random, where the data holds stars (a log '
                                 'of plain interactions holds none)\n'), err


def test_json_says_which_settings_a_protocol_gave_the_model(capsys, ml100k_dir):
    # mf under loo-sampled trains with bpr and regularization 0.01; --json said only "mf".
    code, out, err = run(capsys, "evaluate", "--data", str(ml100k_dir), "--model", "mf", "--set", "epochs=1",
                         "--protocol", "loo-sampled", "--json")
    assert code == 0, err
    config = json.loads(out)["config"]
    assert (config["loss"], config["regularization"], config["epochs"]) == ("bpr", 0.01, 1)


def test_a_model_set_to_rank_gets_the_ranking_rule_without_protocol_and_is_refused_by_star_ones(capsys, ml100k_dir):
    """biasedmf with loss='bpr' is measured by loo-sampled whether or not --protocol says
    so; it kept the star penalty (0.1) when it did not, and gave other figures under the
    same label. A star protocol refused it only after the data was read and it was trained."""
    base = ["evaluate", "--data", str(ml100k_dir), "--model", "biasedmf", "--set", "loss='bpr'", "--set", "epochs=1",
            "--top-users", "100", "--json", "--quiet"]
    figures = []
    for extra in ([], ["--protocol", "loo-sampled"]):
        code, out, err = run(capsys, *base, *extra)
        assert code == 0, err
        got = json.loads(out)
        assert got["config"]["regularization"] == 0.01
        figures.append(got["metrics"])
    assert figures[0] == figures[1]
    code, _, err = run(capsys, "evaluate", "--data", "no-such-data", "--model", "biasedmf", "--set", "loss='bpr'",
                       "--protocol", "ratings-fold")
    assert code == 2 and 'protocol ratings-fold measures predicted stars; biasedmf with loss = "bpr"' in err


def test_an_empty_protocol_is_refused_not_the_default(capsys, ml100k_dir):
    # --protocol "" ran the model's default protocol without a word.
    assert main(["evaluate", "--data", str(ml100k_dir), "--model", "popularity", "--protocol", ""]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "give a protocol name (leave --protocol out for the model's default)" in err


def test_a_patience_with_no_validation_to_stop_on_is_said(capsys, ml100k_dir):
    # It was dropped without a word: every epoch trained, as if patience had been read.
    base = ["evaluate", "--data", str(ml100k_dir), "--model", "gmf", "--top-users", "60", "--set", "epochs=2",
            "--set", "factors=4", "--quiet"]
    assert main([*base, "--set", "patience=1"]) == 0
    assert ("note: patience = 1 stopped nothing: loo-sampled held out no validation ratings to stop early on, so all 2 "
            "epochs were trained (--protocol-option valid=true holds each user's second-latest rating out for it)"
            ) in capsys.readouterr().out
    for more in ([], ["--set", "patience=1", "--protocol-option", "valid=true"]):  # the default's; one with validation
        assert main([*base, *more]) == 0
        assert "patience" not in capsys.readouterr().out
    # ratings-random with valid = 0 takes a fraction, not true (which it refuses)
    assert main(["evaluate", "--data", str(ml100k_dir), "--model", "mlp-rating", "--top-users", "60", "--set", "epochs=2",
                 "--set", "patience=1", "--protocol", "ratings-random", "--protocol-option", "valid=0", "--quiet"]) == 0
    assert "(--protocol-option valid=0.15 holds that share of the ratings out for it)" in capsys.readouterr().out


def test_a_device_this_machine_lacks_is_refused_before_the_data_is_read(capsys, tmp_path):
    # It was refused after the data load (minutes on ml-25m): here the data is not even there.
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert main(["evaluate", "--data", str(tmp_path / "none"), "--model", "gmf", "--set", "device=cuda"]) == 2
    assert capsys.readouterr().err == ('cinerec: error: --set: device = "cuda": CUDA is not available on this machine '
                                       '(device = "cpu", or "auto" to take a GPU when there is one)\n')


def test_json_has_one_shape_for_every_model_under_a_ranking_protocol(capsys, ml100k_dir, tmp_path):
    # popularity's answer had no "popularity" or "below_popularity", and "notes" came only
    # when there were some: a reader of several models' answers had to allow for each.
    keys = []
    for model in ("popularity", "itemknn"):
        code, out, err = run(capsys, "evaluate", "--data", str(ml100k_dir), "--model", model, "--top-users", "100",
                             "--protocol", "loo-full", "--json", "-q")
        assert code == 0, err
        got = json.loads(out)
        keys.append(set(got))
        assert got["below_popularity"] == [] and isinstance(got["notes"], list)
        assert set(got["popularity"]) == set(got["metrics"])
    assert keys[0] == keys[1]
    code, out, err = run(capsys, "evaluate", "--data", str(ml100k_dir), "--model", "popularity", "--top-users", "100",
                         "--protocol", "loo-full", "--json", "-q")
    assert json.loads(out)["popularity"] == json.loads(out)["metrics"]  # the floor is itself
    code, out, err = run(capsys, "train", "--data", str(ml100k_dir), "--model", "itemknn", "--top-users", "100",
                         "--protocol", "loo-full", "--out", str(tmp_path / "run"), "--json", "-q")
    assert code == 0, err
    assert keys[1] | {"run", "resumed"} == set(json.loads(out))  # train's: evaluate's, the run and whether resumed
    # tuned or not, one shape: "tuning" is null when nothing was searched (it came only with --tune)
    assert json.loads(out)["tuning"] is None
    code, out, err = run(capsys, "evaluate", "--data", str(ml100k_dir), "--model", "itemknn", "--top-users", "100",
                         "--protocol", "loo-full", "--tune", "2", "--json", "-q")
    assert code == 0, err
    assert set(json.loads(out)) == keys[1] and json.loads(out)["tuning"]["n_trials"] == 2
    # Under a protocol of stars nothing is measured against popularity: run.json, as --json,
    # holds no below_popularity (it held [], which reads as "none below").
    code, out, err = run(capsys, "train", "--data", str(ml100k_dir), "--model", "baseline", "--top-users", "100",
                         "--protocol", "ratings-random", "--out", str(tmp_path / "stars"), "--json", "-q")
    assert code == 0, err
    assert "below_popularity" not in json.loads(out)
    assert "below_popularity" not in json.loads((tmp_path / "stars" / "run.json").read_text())


def test_a_rating_model_worse_than_the_training_mean_is_said_so(tmp_path, capsys):
    # mf fitted on a small log predicted 1 star for every pair (RMSE 3.0, the mean's 1.05)
    # without a word, where a ranking model below popularity is named.
    rng = np.random.default_rng(1)
    rows = ["user,movie,rating"] + [f"u{u},m{m},{rng.integers(3, 6)}" for u in range(30)
                                    for m in rng.choice(60, 20, replace=False)]
    (tmp_path / "log.csv").write_text("\n".join(rows) + "\n")
    assert main(["evaluate", "--data", str(tmp_path / "log.csv"), "--model", "mf", "-q", "--json"]) == 0
    # (beside the count of people NDCG averages over: some have one held-out rating)
    said = [n for n in json.loads(capsys.readouterr().out)["notes"] if not n.startswith("ndcg@5/ndcg@10 average over")]
    # (and, first, why: its stars had not reached the ratings' level)
    assert len(said) == 2 and said[0].startswith("mf: the stars it predicts for its own training ratings average "), said
    notes = said[1:]
    assert notes[0].startswith("mf: rmse ") and "of predicting every rating as the training " \
        "ratings' mean under " in notes[0] and notes[0].endswith(": it has not learned even the data's level")
    assert main(["train", "--data", str(tmp_path / "log.csv"), "--model", "mf", "--out", str(tmp_path / "run"),
                 "-q"]) == 0
    assert f"note: {notes[0]}\n" in capsys.readouterr().out
    assert f"**Note:** {notes[0]}." in (tmp_path / "run" / "report.md").read_text()
    assert main(["evaluate", "--data", str(tmp_path / "log.csv"), "--model", "biasedmf", "-q", "--json"]) == 0
    assert [n for n in json.loads(capsys.readouterr().out)["notes"] if not n.startswith("ndcg@")] == []


def test_figures_on_a_log_without_times_say_the_file_order_chose_the_held_out_rating(tmp_path, capsys):
    # Said on the data: line alone, which -q and --json leave out, and no run kept.
    rng = np.random.default_rng(2)
    rows = ["user,movie,rating"] + [f"u{u},m{m},{rng.integers(1, 6)}" for u in range(30)
                                    for m in rng.choice(60, 12, replace=False)]
    (tmp_path / "log.csv").write_text("\n".join(rows) + "\n")
    line = ("the data has no times (no time column, or every time alike): each user's last row in the file was held "
            "out as their latest rating, so these figures follow the file's order of rows, not time")
    assert main(["evaluate", "--data", str(tmp_path / "log.csv"), "--model", "popularity", "--protocol", "loo-full",
                 "-q", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["notes"] == [line]
    assert main(["train", "--data", str(tmp_path / "log.csv"), "--model", "itemknn", "--protocol", "loo-full",
                 "--out", str(tmp_path / "run"), "-q"]) == 0
    assert f"note: {line}\n" in capsys.readouterr().out
    assert f"**Note:** {line}." in (tmp_path / "run" / "report.md").read_text()
    # A random hold-out does not hold out "the latest": nothing to say.
    assert main(["evaluate", "--data", str(tmp_path / "log.csv"), "--model", "popularity", "--protocol",
                 "random-full", "-q", "--json"]) == 0
    assert not any("order of rows" in n for n in json.loads(capsys.readouterr().out)["notes"])


def test_a_log_without_times_says_what_recency_and_sequences_make_of_it(tmp_path, capsys):
    # recency_half_life = 0.5 gave the figures of 0 without a word (and a search "chose"
    # one), and seqknn read the file's order of rows as each person's sequence, unsaid.
    rng = np.random.default_rng(0)
    rows = sorted({(int(u), int(i)) for u, i in zip(rng.integers(0, 60, 1500), rng.integers(0, 120, 1500))})
    (tmp_path / "log.csv").write_text("user,item,rating\n" + "".join(f"u{u},m{i},{(u + i) % 5 + 1}\n" for u, i in rows))
    (tmp_path / "timed.csv").write_text("user,item,rating,ts\n" + "".join(
        f"u{u},m{i},{(u + i) % 5 + 1},{1000 + n}\n" for n, (u, i) in enumerate(rows)))
    base = ["evaluate", "--protocol", "loo-full", "--json", "-q"]
    code, out, err = run(capsys, *base, "--data", str(tmp_path / "log.csv"), "--model", "ease",
                         "--set", "recency_half_life=0.5")
    assert code == 0, err
    notes = json.loads(out)["notes"]
    assert "ease: recency_half_life = 0.5 weighs nothing here: the data has no times (no time column, or every time " \
           "alike)" in notes, notes
    code, out, err = run(capsys, *base, "--data", str(tmp_path / "timed.csv"), "--model", "ease",
                         "--set", "recency_half_life=0.5")
    assert code == 0 and not [n for n in json.loads(out)["notes"] if "weighs nothing" in n], out
    code, out, err = run(capsys, "evaluate", "--protocol", "random-full", "--json", "-q", "--data",
                         str(tmp_path / "log.csv"), "--model", "seqknn")
    assert code == 0, err
    said = ("seqknn: the data has no times (no time column, or every time alike), so it reads each person's ratings "
            "in the file's order as the order they were made")
    assert said in json.loads(out)["notes"]
    # a run keeps it: recommend says it too
    assert main(["train", "--data", str(tmp_path / "log.csv"), "--model", "seqknn", "--protocol", "random-full",
                 "--out", str(tmp_path / "run"), "-q"]) == 0
    capsys.readouterr()
    code, out, err = run(capsys, "recommend", "--run", str(tmp_path / "run"), "--user", "u1", "--json")
    assert code == 0 and said in json.loads(out)["notes"], out
    # a search on such data leaves the weighting out (any value it kept was noise)
    code, out, err = run(capsys, *base, "--data", str(tmp_path / "log.csv"), "--model", "ease", "--tune", "3")
    assert code == 0, err
    assert set(json.loads(out)["tuning"]["settings"]) == {"regularization"}, out
    code, out, err = run(capsys, *base, "--data", str(tmp_path / "log.csv"), "--model", "ease", "--tune", "3",
                         "--set", "regularization=100")  # (it "tuned" the weighting alone)
    assert code == 2 and err == ("cinerec: error: ease: the one setting left to search is recency_half_life, which "
                                 "weighs nothing on data without times: there is nothing to tune\n"), err


@pytest.mark.parametrize("protocol", ["loo-sampled", "loo-full", "random-full", "ratings-random"])
def test_a_log_of_one_person_is_refused_for_what_it_is(tmp_path, capsys, protocol):
    # A one-person export (Letterboxd's) was refused for "0 unseen movies", or for K = 10 not
    # below one movie, or measured: random-full printed NDCG@10 1.0000 over 1 user.
    (tmp_path / "mine.csv").write_text("user,item,rating\n" + "".join(f"me,m{i},{1 + i % 5}\n" for i in range(60)))
    code = main(["evaluate", "--data", str(tmp_path / "mine.csv"), "--model", "popularity" if protocol != "ratings-random"
                 else "baseline", "--protocol", protocol, "-q"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "mine.csv' holds the ratings of one person ('me'): a recommender learns from what other people rated" in err
    assert err.strip().endswith("cinerec recommend --run RUN --ratings ID=STARS,...")


def test_people_whose_lists_hold_every_movie_left_are_counted_in_a_note(capsys, tmp_path):
    # K = 10 is refused only past the median person's movies left to rank: five people
    # with 9 left each scored a hit whatever the model, without a word.
    rows = [(u, i, 3 + (u + i) % 3, 10**9 + 1000 * u + i) for u in range(20) for i in range(2 if u < 15 else 4)]
    (tmp_path / "log.csv").write_text("user,item,rating,ts\n" + "".join(f"u{u},m{(u + i) % 12},{r},{t}\n"
                                                                        for u, i, r, t in rows))
    assert main(["evaluate", "--data", str(tmp_path / "log.csv"), "--model", "popularity", "--protocol", "loo-full",
                 "--protocol-option", "ks=[1,10]"]) == 0
    out = capsys.readouterr().out
    assert ("note: 5 of the 20 people measured have 10 or fewer movies left to rank: their lists of K = 10 hold every "
            "one, so the figures at K = 10 count a hit for them whatever the model") in out, out


def test_the_data_line_and_json_name_the_rating_scale(capsys, tmp_path):
    # An RMSE of 23 was printed with nothing saying the ratings run from 0 to 100.
    (tmp_path / "log.csv").write_text("user,item,rating\n" + "".join(
        f"u{u},m{i},{25 * ((u + i) % 5)}\n" for u in range(30) for i in range(12) if (u + i) % 3))
    assert main(["evaluate", "--data", str(tmp_path / "log.csv"), "--model", "baseline", "--protocol",
                 "ratings-random", "--json"]) == 0
    captured = capsys.readouterr()
    assert f"data: {tmp_path / 'log.csv'}: 240 ratings (0 to 100), 30 users, 12 movies;" in captured.err
    assert json.loads(captured.out)["dataset"]["rating_scale"] == [0.0, 100.0]
    (tmp_path / "events.csv").write_text("user,item\n" + "".join(
        f"u{u},m{i}\n" for u in range(30) for i in range(12) if (u + i) % 3))
    assert main(["evaluate", "--data", str(tmp_path / "events.csv"), "--model", "popularity", "--protocol",
                 "loo-full", "--protocol-option", "ks=[1]", "--json"]) == 0
    captured = capsys.readouterr()
    assert f"data: {tmp_path / 'events.csv'}: 240 ratings, 30 users, 12 movies;" in captured.err
    assert json.loads(captured.out)["dataset"]["rating_scale"] is None


def test_a_log_of_zeros_and_ones_is_said_to_be_read_as_stars_from_0_to_1(capsys, tmp_path):
    # A thumbs-down/up log was read as a scale of 0 to 1 without a word; a person may have
    # meant likes, which --liked-threshold 1 keeps.
    (tmp_path / "thumbs.csv").write_text("user,item,rating\n" + "".join(
        f"u{u},m{i},{(u * i) % 2}\n" for u in range(30) for i in range(12) if (u + i) % 3))
    argv = ["evaluate", "--data", str(tmp_path / "thumbs.csv"), "--model", "popularity", "--protocol", "loo-full",
            "--protocol-option", "ks=[1]"]
    assert main(argv) == 0
    assert (f"note: the ratings of {tmp_path / 'thumbs.csv'} are 0 and 1 alone: read as stars from 0 to 1, so a 1 is "
            "liked and a 0 a movie seen and not liked (models of events learn from both as seen); --liked-threshold 1 "
            "keeps the 1s alone, as likes") in capsys.readouterr().err
    assert main([*argv, "--liked-threshold", "1"]) == 0
    assert "0 and 1 alone" not in capsys.readouterr().err


def test_a_stray_rating_a_filter_drops_is_still_said_for_the_scale_it_made(capsys, tmp_path):
    # The 6 among ratings of 1 to 5 was said only while the filters kept it: --top-users that
    # dropped its user left the scale 1 to 6 (what counts as liked moved up) without a word.
    rows = [f"u{u},m{i},{1 + (u * 7 + i) % 5}" for u in range(1, 50) for i in range(12)]
    rows += ["u0,m5,6", "u0,m6,4"]
    (tmp_path / "log.csv").write_text("user,item,rating\n" + "\n".join(rows) + "\n")
    assert main(["data", "info", str(tmp_path / "log.csv"), "--top-users", "49"]) == 0
    err = capsys.readouterr().err
    assert "49 users" in err and (f"note: the rating scale of {tmp_path / 'log.csv'} is read from its ratings as 1 to "
                                  "6, and only 1 of its 590 ratings is 6, its highest (user 'u0', movie 'm5')") in err


def test_rows_of_a_pair_logged_twice_that_the_reader_left_out_are_said(capsys, tmp_path):
    # evaluate, train and run left them out without a word; data info alone counted them.
    rows = [f"u{u},m{i},{1 + (u + i) % 5},{u * 100 + i}" for u in range(30) for i in range(12) if (u + i) % 3]
    rows += ["u0,m1,5,9999", "u2,m0,1,9999", "u2,m0,2,99999"]  # (u0's m1 again, u2's m0 twice again)
    (tmp_path / "log.csv").write_text("user,item,rating,ts\n" + "\n".join(rows) + "\n")
    assert main(["evaluate", "--data", str(tmp_path / "log.csv"), "--model", "popularity", "--protocol", "loo-full",
                 "--protocol-option", "ks=[1]", "--json"]) == 0
    captured = capsys.readouterr()
    line = (f"{tmp_path / 'log.csv'}: 3 rows left out, each an earlier row of a (user, movie) pair logged again: a "
            "pair keeps its latest row (by time, then by order in the file), as a re-rating replaces the earlier one")
    assert f"note: {line}" in captured.err and line in json.loads(captured.out)["notes"]
    (tmp_path / "once.csv").write_text("user,item,rating,ts\n" + "\n".join(rows[:-3]) + "\n")
    assert main(["data", "info", str(tmp_path / "once.csv")]) == 0
    assert "left out" not in capsys.readouterr().err


def test_a_scale_one_stray_rating_widens_is_said(capsys, tmp_path):
    # One 6 among 500 ratings of 1 to 5 made the scale 1 to 6 without a word: what counts
    # as liked moved up with it.
    rows = [f"u{u},m{i},{1 + (u * 7 + i) % 5}" for u in range(50) for i in range(12)]
    rows[5] = "u0,m5,6"
    (tmp_path / "log.csv").write_text("user,item,rating\n" + "\n".join(rows) + "\n")
    argv = ["data", "info", str(tmp_path / "log.csv")]
    assert main(argv) == 0
    assert (f"note: the rating scale of {tmp_path / 'log.csv'} is read from its ratings as 1 to 6, and only 1 of its "
            "600 ratings is 6, its highest (user 'u0', movie 'm5'): if that is a slip, correct it, or give the scale "
            "with --rating-scale LOW,HIGH (what counts as liked is read on it)") in capsys.readouterr().err
    # Not where the scale is given, nor where the highest rating is a common one.
    (tmp_path / "plain.csv").write_text((tmp_path / "log.csv").read_text().replace("u0,m5,6", "u0,m5,5"))
    for other in ([*argv, "--rating-scale", "1,6"], ["data", "info", str(tmp_path / "plain.csv")]):
        assert main(other) == 0
        assert "rating scale of" not in capsys.readouterr().err
