"""``cinerec quickstart`` end to end, and the run folders it writes."""

import json
import os

from pathlib import Path

import numpy as np
import pytest

from cinerec.cli import main
from cinerec.errors import DataError
from cinerec.runs import open_run


@pytest.mark.slow
def test_quickstart_on_real_ml100k_writes_a_reusable_run(ml100k_dir, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["quickstart", "--data", str(ml100k_dir), "--out", str(out), "--model", "popularity", "--model", "ease",
                 "--users", "2"]) == 0
    printed = capsys.readouterr().out
    assert "protocol: loo-sampled" in printed and "protocol: loo-full" in printed
    assert "top-10 unseen movies for user 1" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["ease"]["loo-sampled"]["metrics"]["hr@10"] >= 0.62
    assert 0.38 <= metrics["popularity"]["loo-sampled"]["metrics"]["hr@10"] <= 0.46
    run = open_run(out)
    assert set(run.model_names) == {"popularity", "ease"}
    assert run.default_model == run.meta["best_model"]
    assert "| loo-sampled" in (out / "report.md").read_text() or "loo-sampled" in (out / "report.md").read_text()
    # the saved models were refitted on every rating: nothing a user rated is recommended
    model = run.model("ease")
    items, _ = model.recommend(np.arange(run.dataset.n_users), k=10)
    seen = run.dataset.interactions.seen
    assert not np.take_along_axis(seen.toarray(), items, axis=1).any()
    # the listed movies are the real ones
    assert "Toy Story" in run.dataset.catalog.titles[0]


def test_quickstart_offline_falls_back_to_a_labelled_synthetic_sample(tmp_path, capsys, monkeypatch):
    import tempfile

    out = tmp_path / "run"
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    assert main(["quickstart", "--out", str(out), "--model", "popularity", "--users", "1", "--json", "--quiet"]) == 0
    # the sample written for the fallback is gone once read: the run folder keeps its own copy
    assert list(scratch.iterdir()) == []
    captured = capsys.readouterr()
    # even under --quiet the fallback is said: its figures must not pass for real ones
    assert "OFFLINE FALLBACK" in captured.err and "SYNTHETIC" in captured.err and "--data" in captured.err
    run = open_run(out)
    assert "synthetic" in run.meta["data"]
    # Named as the data is said everywhere, not after the temporary folder it was read from
    # (the store's meta and /health gave "cinerec-synthetic-e4k6tdrk", different each run).
    assert run.dataset.name == "synthetic-ml-100k"
    assert run.dataset.info["source"] == "synthetic ml-100k sample (offline fallback)"
    assert str(scratch) not in "".join(p.read_text() for p in out.rglob("*.json"))
    got = json.loads(captured.out)  # the figures, as one JSON object
    assert got["data"] == run.meta["data"] and got["best_model"] == "popularity" and got["run"] == str(out)
    assert {(r["model"], r["protocol"]) for r in got["results"]} == {("popularity", "loo-sampled"),
                                                                      ("popularity", "loo-full")}
    for r in got["results"]:
        assert r == json.loads(json.dumps(run.metrics["popularity"][r["protocol"]]))
    (listed,) = got["recommendations"]
    assert listed["user"] == run.dataset.user_ids.raw[0].item() and len(listed["movies"]) == 10
    seen = set(run.dataset.interactions.items[run.dataset.interactions.users == 0].tolist())
    movie_ids = [run.dataset.item_ids.get(m["movie_id"]) for m in listed["movies"]]
    assert not seen & set(movie_ids)
    monkeypatch.chdir(out.parent)  # a relative --out: named whole, as train's --json names its run
    assert main(["quickstart", "--out", out.name, "--model", "popularity", "--users", "1", "--json", "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out)["run"] == str(out)


def test_a_damaged_copy_is_an_error_not_the_offline_fallback(tmp_path, capsys, monkeypatch, ml100k_dir):
    # A cached release with a damaged file, or a zip whose checksum differs, was taken for
    # "offline": the run went on with synthetic data and exited 0.
    import shutil

    from cinerec.data.download import cache_dir

    home = tmp_path / "home"
    monkeypatch.setenv("CINEREC_HOME", str(home))
    folder = cache_dir() / "ml-100k" / "ml-100k"
    shutil.copytree(ml100k_dir, folder)
    (folder / "u.data").write_bytes((folder / "u.data").read_bytes()[:100_000])
    assert main(["quickstart", "--out", str(tmp_path / "a"), "--model", "popularity", "-q"]) == 2
    err = capsys.readouterr().err
    assert "u.data line" in err and "OFFLINE" not in err and not (tmp_path / "a").exists()
    shutil.rmtree(cache_dir() / "ml-100k")
    import zipfile

    with zipfile.ZipFile(cache_dir() / "ml-100k.zip", "w") as z:  # a zip, not the release's
        z.writestr("ml-100k/u.data", "1\t2\t3\t881250949\n")
    assert main(["quickstart", "--out", str(tmp_path / "b"), "--model", "popularity", "-q"]) == 2
    err = capsys.readouterr().err
    assert "checksum" in err and "OFFLINE" not in err and not (tmp_path / "b").exists()
    # A copy missing a file, with no zip to unpack it again from: the download offline fails,
    # and the damaged copy is said, not passed over for the synthetic fallback.
    (cache_dir() / "ml-100k.zip").unlink()
    shutil.copytree(ml100k_dir, folder)
    (folder / "u.item").unlink()
    assert main(["quickstart", "--out", str(tmp_path / "c"), "--model", "popularity", "-q"]) == 2
    err = capsys.readouterr().err
    assert "lacks ml-100k/u.item" in err and "FALLBACK" not in err and not (tmp_path / "c").exists()


def test_quickstart_replaces_an_earlier_run_and_nothing_else(tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    (tmp_path / "a-file").write_text("keep")
    for out, needle in ((mine, "holds other files and no run"), (tmp_path / "a-file", "is a file"),
                        (tmp_path / "a-file" / "sub", f"cannot create the folder ({tmp_path / 'a-file'} is a file)"),
                        # found before the models were evaluated and the table printed, not at the save
                        (Path("/proc/cinerec-qs"), "--out /proc/cinerec-qs: cannot create the folder in /proc")):
        assert main(["quickstart", "--out", str(out), "--model", "popularity"]) == 2
        said = capsys.readouterr()
        assert needle in said.err and said.out == ""
    assert (mine / "notes.txt").read_text() == "keep" and (tmp_path / "a-file").read_text() == "keep"
    run = tmp_path / "run"
    for _ in range(2):  # the second run replaces the first
        assert main(["quickstart", "--out", str(run), "--model", "popularity", "--users", "0", "--quiet"]) == 0
    assert (run / "run.json").is_file()
    # a store exported from the run goes with it; a profiles file beside it is the user's: refused, kept
    assert main(["export", "--run", str(run), "--db", str(run / "store.sqlite"), "--quiet"]) == 0
    assert main(["quickstart", "--out", str(run), "--model", "popularity", "--users", "0", "--quiet"]) == 0
    # A store exported from another run, kept here, is the user's: it went with the run in silence.
    other = tmp_path / "other"
    assert main(["quickstart", "--out", str(other), "--model", "popularity", "--users", "0", "--quiet"]) == 0
    assert main(["export", "--run", str(other), "--db", str(run / "theirs.sqlite"), "--quiet"]) == 0
    assert main(["quickstart", "--out", str(run), "--model", "popularity", "--users", "0", "--quiet"]) == 2
    assert "holds 'theirs.sqlite' beside the earlier run" in capsys.readouterr().err
    assert (run / "theirs.sqlite").is_file()
    # An export writing into the folder now holds its lock there: wait for it, not "move it out".
    import fcntl

    (run / "theirs.sqlite").unlink()
    lock = run / ".store.sqlite.lock"
    with open(lock, "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        assert main(["quickstart", "--out", str(run), "--model", "popularity", "--users", "0", "--quiet"]) == 2
        assert "holds '.store.sqlite.lock' beside the earlier run, which replacing the run would delete; another " \
               "cinerec command (an export?) is writing into the folder now: wait for it to end" in capsys.readouterr().err
    assert main(["quickstart", "--out", str(run), "--model", "popularity", "--users", "0", "--quiet"]) == 2
    assert "'.store.sqlite.lock' beside the earlier run, which replacing the run would delete; move it out" in \
        capsys.readouterr().err  # (a killed export's, left over)
    lock.unlink()
    assert main(["export", "--run", str(other), "--db", str(run / "theirs.sqlite"), "--quiet"]) == 0
    (run / "theirs.sqlite").unlink()
    # serve makes an empty profiles file when it starts: nothing saved, so the run is replaced
    from cinerec.serving.store import ProfileStore

    argv = ["quickstart", "--out", str(run), "--model", "popularity", "--users", "0", "--quiet"]
    serving = ProfileStore(run / "profiles.sqlite")  # a server running: refused, it would write to a deleted file
    assert main(argv) == 2 and "a server has its profiles open: stop it first" in capsys.readouterr().err
    serving._local.con.close()  # the server stopped
    assert main(argv) == 0 and not (run / "profiles.sqlite").exists()
    serving = ProfileStore(run / "profiles.sqlite")
    pid = serving.create({"50": None})  # one saved: refused, kept
    serving._local.con.close()
    assert main(argv) == 2
    assert "holds 'profiles.sqlite' beside the earlier run" in capsys.readouterr().err
    assert ProfileStore(run / "profiles.sqlite").get(pid) == {"50": None}
    for f in run.glob("profiles.sqlite*"):
        f.unlink()
    (run / "store.profiles.sqlite").write_bytes(b"saved profiles")
    assert main(["quickstart", "--out", str(run), "--model", "popularity", "--users", "0", "--quiet"]) == 2
    assert "holds 'store.profiles.sqlite' beside the earlier run" in capsys.readouterr().err
    assert (run / "store.profiles.sqlite").read_bytes() == b"saved profiles" and (run / "run.json").is_file()
    (run / "store.profiles.sqlite").unlink()
    # A file of the user's inside the run's own folders: refused and kept too (it went with
    # the run, since only the top level was looked at).
    for mine in (run / "models" / "my-notes" / "README.txt", run / "plots" / "annotated.png"):
        mine.parent.mkdir(exist_ok=True)
        mine.write_text("mine")
        assert main(["quickstart", "--out", str(run), "--model", "popularity", "--users", "0", "--quiet"]) == 2
        assert f"holds '{mine.relative_to(run).as_posix()}' beside the earlier run" in capsys.readouterr().err
        assert mine.read_text() == "mine"
        mine.unlink()
    assert main(["quickstart", "--out", str(run), "--model", "popularity", "--users", "0", "--quiet"]) == 0


def test_a_quickstart_leaderboard_holds_figures_not_protocol_settings(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["quickstart", "--out", str(run), "--model", "popularity", "--users", "0", "--negatives", "50",
                 "--quiet"]) == 0
    board = open_run(run).leaderboard()
    assert not [c for c in board.columns if str(c).endswith("n_negatives") or "options" in str(c)]
    # The figures ranked among 50 say so, as a one-protocol run's protocol column does.
    assert "loo-sampled (n_negatives=50) hr@10" in board.columns and "loo-full hr@10" in board.columns
    assert "loo-sampled hr@10" not in board.columns
    # A count is a whole number, as metrics.json writes it (it came back 943.0).
    assert board["loo-full n_users"].dtype.kind == "i" and board["loo-full hr@10"].dtype.kind == "f"


def test_the_quickstart_report_ranks_best_first_counts_the_one_fit_and_leaves_out_empty_lists(tmp_path, capsys):
    # loo-full showed fit s 0.0 (the model was fitted for loo-sampled); the rows came in
    # --model order while the run's leaderboard() ranked them; --users 0 left an empty
    # "Sample recommendations" block.
    run = tmp_path / "run"
    assert main(["quickstart", "--out", str(run), "--model", "popularity,ease", "--users", "0", "--json",
                 "--quiet"]) == 0
    results = json.loads(capsys.readouterr().out)["results"]
    assert [r["model"] for r in results] == ["ease", "ease", "popularity", "popularity"]
    assert results[0]["seconds_fit"] == results[1]["seconds_fit"] > 0
    report = (run / "report.md").read_text()
    assert "Sample recommendations" not in report and report.index("| ease") < report.index("| popularity")
    assert list(open_run(run).leaderboard().index)[:2] == ["ease", "popularity"]


def test_a_log_without_a_catalogue_lists_no_empty_genres(tmp_path, capsys):
    # Each movie of its sample lists showed "[]" where its genres go.
    log = tmp_path / "log.csv"
    rng = np.random.default_rng(0)
    log.write_text("user,item,rating\n" + "".join(f"u{u},m{i},{rng.integers(1, 6)}\n" for u in range(40)
                                                   for i in rng.choice(60, 15, replace=False)))
    assert main(["quickstart", "--data", str(log), "--out", str(tmp_path / "run"), "--model", "popularity",
                 "--users", "1", "--negatives", "10"]) == 0
    out = capsys.readouterr().out
    assert "top-10 unseen movies for user u0 (popularity):" in out and "[]" not in out


def test_quickstart_never_replaces_another_commands_run(tmp_path, capsys):
    # A train run's checkpoints or a study's leaderboard are not quickstart's to delete.
    run = tmp_path / "trained"
    assert main(["quickstart", "--out", str(run), "--model", "popularity", "--users", "0", "--quiet"]) == 0
    meta = json.loads((run / "run.json").read_text())
    # Said by what wrote it ("holds a 'run' run" read as nonsense).
    for command, words in (("train", "a train run of popularity"), ("run", "a study run (cinerec run)")):
        (run / "run.json").write_text(json.dumps({**meta, "command": command}))
        assert main(["quickstart", "--out", str(run), "--model", "popularity", "--users", "0", "--quiet"]) == 2
        assert f"holds {words}, which quickstart would delete" in capsys.readouterr().err
        assert json.loads((run / "run.json").read_text())["command"] == command
    (run / "run.json").write_text("{")
    assert main(["quickstart", "--out", str(run), "--model", "popularity", "--users", "0", "--quiet"]) == 2
    assert "holds a run whose run.json cannot be read, which quickstart would delete" in capsys.readouterr().err


def test_a_second_command_aimed_at_the_same_folder_is_refused_before_its_work(tmp_path, capsys, ml100k_dir):
    # run and quickstart did all their work and were refused only at the swap (train held the
    # folder already); a lock held by another command now refuses them at once.
    from cinerec.io import claimed

    out = tmp_path / "out"
    study = tmp_path / "s.toml"
    study.write_text(f'[data]\nsource = "{ml100k_dir}"\n[protocol]\nname = "loo-sampled"\n[models.popularity]\n')
    with claimed(out):
        for argv in (["quickstart", "--model", "popularity"], ["run", str(study)]):
            assert main([*argv, "--out", str(out), "--quiet"]) == 2
            err = capsys.readouterr().err
            assert f"--out {out}: another cinerec command is writing it now" in err and "data:" not in err
    assert not out.exists()
    assert main(["run", str(study), "--out", str(out), "--quiet"]) == 0  # let go at the end of the command
    # A folder train is writing holds its files and no run.json yet: quickstart called it "other
    # files and no run" where the others said it was being written.
    (busy := tmp_path / "busy").mkdir()
    (busy / "checkpoints").mkdir()
    with claimed(busy):
        assert main(["quickstart", "--model", "popularity", "--out", str(busy), "--quiet"]) == 2
        assert f"--out {busy}: another cinerec command is writing it now" in capsys.readouterr().err


def test_profiles_saved_while_quickstart_runs_are_never_deleted(tmp_path, capsys, monkeypatch):
    # A server on the earlier run saves profiles there while the new run is written: the
    # swap is refused at the end, naming the file, and the file is kept.
    from cinerec import runs

    run = tmp_path / "run"
    assert main(["quickstart", "--out", str(run), "--model", "popularity", "--users", "0", "--quiet"]) == 0
    finish = runs.finish_run

    def finish_while_serving(*args, **kwargs):
        (run / "profiles.sqlite").write_bytes(b"saved meanwhile")
        return finish(*args, **kwargs)

    monkeypatch.setattr(runs, "finish_run", finish_while_serving)
    assert main(["quickstart", "--out", str(run), "--model", "popularity", "--users", "0", "--quiet"]) == 2
    assert "holds 'profiles.sqlite' beside the earlier run" in capsys.readouterr().err
    assert (run / "profiles.sqlite").read_bytes() == b"saved meanwhile" and (run / "run.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_sigterm_stops_a_command_as_ctrl_c_does(tmp_path, ml100k_dir):
    # kill, docker stop and systemd send SIGTERM: one line, status 130, no temporary left.
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "cinerec", "train", "--data", str(ml100k_dir), "--model", "mf",
                             "--set", "epochs=500", "--set", "patience=500", "--out", str(out), "--quiet"],
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    time.sleep(6)  # training by then (each epoch is short; 500 of them are not)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and err.strip().splitlines()[-1] == "cinerec: interrupted", err
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_quickstart_rejects_unknown_models_without_writing(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["quickstart", "--out", str(out), "--model", "popularity,nonsense"]) == 2
    assert "unknown model 'nonsense'" in capsys.readouterr().err
    assert not out.exists()
    # A name left empty beside others was dropped without a word, as if never asked for.
    for models in (["popularity", ""], ["popularity,"], ["popularity,,ease"]):
        assert main(["quickstart", "--out", str(out), *[a for m in models for a in ("--model", m)]]) == 2
        assert "--model: an empty name among 'popularity" in capsys.readouterr().err
        assert not out.exists()


def test_unfinished_or_missing_runs_are_refused(tmp_path):
    with pytest.raises(DataError, match="no such run folder"):
        open_run(tmp_path / "nope")
    (tmp_path / "half").mkdir()
    with pytest.raises(DataError, match="run.json is missing"):
        open_run(tmp_path / "half")


def test_fewer_than_ten_negatives_are_refused_by_the_flag(tmp_path, capsys):
    # HR@10, which the leaderboard ranks by, counts every held-out movie a hit among 10 or fewer.
    assert main(["quickstart", "--out", str(tmp_path / "run"), "--negatives", "9", "--quiet"]) == 2
    assert "'--negatives': 9 is not in the range x>=10" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_a_model_named_twice_runs_once_and_says_so(tmp_path, capsys, ml100k_dir):
    # --model ease,ease ran one ease row without a word.
    assert main(["quickstart", "--data", str(ml100k_dir), "--top-users", "100", "--model", "popularity,ease",
                 "--model", "ease", "--out", str(tmp_path / "run"), "--users", "0", "--json"]) == 0
    out, err = capsys.readouterr()
    assert "note: --model ease given more than once; each runs once" in err
    rows = [r["model"] for r in json.loads(out)["results"] if r["protocol"] == "loo-full"]
    assert sorted(rows) == ["ease", "popularity"]
    # in the answer too, where -q keeps it off stderr (it was never there)
    assert "--model ease given more than once; each runs once" in json.loads(out)["notes"]


def test_a_short_user_is_not_offered_fewer_negatives_than_the_flag_takes(tmp_path, capsys, ml100k_dir):
    # "ask for fewer negatives (--negatives 3)", which --negatives itself refuses (at least 10).
    assert main(["quickstart", "--data", str(ml100k_dir), "--top-movies", "60", "--kcore", "5", "--model", "popularity",
                 "--out", str(tmp_path / "run"), "--negatives", "10", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "has only 3 unseen movies" in err and "keep more movies (a larger --top-movies)" in err
    assert "--negatives 3" not in err and not (tmp_path / "run").exists()


def test_a_log_too_small_for_ten_negatives_is_sent_where_it_can_be_measured(tmp_path, capsys):
    # It ended at "the data holds only 20 movies", with no way out quickstart takes.
    (tmp_path / "log.csv").write_text("user,item,rating\n" + "".join(
        f"u{u},m{i},{1 + (u + i) % 5}\n" for u in range(30) for i in range(20) if (u * 7 + i) % 3))
    assert main(["quickstart", "--data", str(tmp_path / "log.csv"), "--model", "popularity",
                 "--out", str(tmp_path / "run"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].endswith(
        "the data holds only 20 movies; quickstart ranks each held-out movie among at least 10 the person has not "
        "rated: measure this data with cinerec evaluate --protocol loo-sampled --protocol-option n_negatives=6 "
        "--protocol-option \"ks=[1, 5]\""), err
    assert not (tmp_path / "run").exists()
    # The advice works as given.
    assert main(["evaluate", "--data", str(tmp_path / "log.csv"), "--model", "popularity", "--protocol", "loo-sampled",
                 "--protocol-option", "n_negatives=6", "--protocol-option", "ks=[1, 5]", "-q"]) == 0


def test_figures_of_a_synthetic_release_carry_the_note_under_them(tmp_path, capsys, ml100k_dir):
    # evaluate, train and run said it under their figures; quickstart only in its data: line.
    from cinerec.data.synthetic import write_release

    folder = write_release(tmp_path / "syn", "ml-100k", 0.1, seed=2)
    assert main(["quickstart", "--data", str(folder), "--out", str(tmp_path / "run"), "--model", "popularity",
                 "--users", "0", "-q"]) == 0
    out = capsys.readouterr().out
    assert "note: the data is a synthetic release shaped like ml-100k (cinerec data synthesize): these figures say " \
           "nothing about real movies" in out, out
    assert "note: the run's data" not in out  # no lists (--users 0): nothing to say beside them
    # ... and kept with them in report.md, as the other notes under them are (it was left out).
    assert "**Note:** the data is a synthetic release shaped like ml-100k (cinerec data synthesize): these figures " \
           "say nothing about real movies." in (tmp_path / "run" / "report.md").read_text()
    # Lists and a store of made-up movies say so in --json too, as every figure of them does.
    from cinerec.cli import main as cli

    assert cli(["recommend", "--run", str(tmp_path / "run"), "--user", "1", "--json", "-q"]) == 0
    assert json.loads(capsys.readouterr().out)["synthetic"] is True
    assert cli(["export", "--run", str(tmp_path / "run"), "--db", str(tmp_path / "s.sqlite"), "--json", "-q"]) == 0
    assert json.loads(capsys.readouterr().out)["synthetic"] is True
    # Figures too, at the top as every other command's --json has it (it was only in "dataset").
    assert cli(["evaluate", "--data", str(folder), "--model", "popularity", "--json", "-q"]) == 0
    assert json.loads(capsys.readouterr().out)["synthetic"] is True
    assert cli(["quickstart", "--data", str(folder), "--out", str(tmp_path / "run2"), "--model", "popularity",
                "--users", "0", "--json", "-q"]) == 0
    assert json.loads(capsys.readouterr().out)["synthetic"] is True
    assert cli(["evaluate", "--data", str(ml100k_dir), "--model", "popularity", "--json", "-q"]) == 0
    assert json.loads(capsys.readouterr().out)["synthetic"] is False
    # ... and in words beside the lists, and in the store's meta.
    made_up = ("note: the run's data is a synthetic release shaped like ml-100k (cinerec data synthesize): its "
               "movies, people and lists are made up")
    assert cli(["recommend", "--run", str(tmp_path / "run"), "--user", "1", "-q"]) == 0  # (kept by -q: a result)
    said = capsys.readouterr()
    assert said.out.startswith(" 1. ") and said.out.endswith(f"\n{made_up}\n") and said.err == ""
    assert cli(["recommend", "--run", str(tmp_path / "run"), "--user", "1", "--json", "-q"]) == 0
    assert json.loads(capsys.readouterr().out)["notes"] == [made_up.removeprefix("note: ")]
    assert cli(["export", "--run", str(tmp_path / "run"), "--db", str(tmp_path / "s.sqlite")]) == 0
    assert made_up in capsys.readouterr().err
    # quickstart's own lists say it beside them too, on stdout and in report.md (it was only said
    # under the figures).
    assert main(["quickstart", "--data", str(folder), "--out", str(tmp_path / "run3"), "--model", "popularity",
                 "--users", "2", "-q"]) == 0
    out = capsys.readouterr().out
    assert out.rstrip("\n").endswith(made_up), out
    assert f"{made_up}\n\n```" in (tmp_path / "run3" / "report.md").read_text()
    import sqlite3

    with sqlite3.connect(tmp_path / "s.sqlite") as con:
        assert con.execute("SELECT value FROM meta WHERE key = 'synthetic'").fetchone() == ("true",)
    # Without popularity among the models it is measured beside them, as evaluate does: a
    # model below it went unsaid (null, "nothing compared").
    small = tmp_path / "s1"
    assert main(["data", "synthesize", "--like", "ml-1m", "--scale", "0.01", "--out", str(small), "-q"]) == 0
    capsys.readouterr()
    assert main(["quickstart", "--data", str(small), "--out", str(tmp_path / "knn"), "--model", "als,seqknn",
                 "--users", "0", "-q", "--json"]) == 0
    below = json.loads(capsys.readouterr().out)["below_popularity"]
    assert below and all(" is below popularity's " in line for line in below), below
    assert json.loads((tmp_path / "knn" / "run.json").read_text())["below_popularity"] == below
    assert main(["evaluate", "--data", str(small), "--model", "seqknn", "--protocol", "loo-full", "--json",
                 "-q"]) == 0  # (the same line as evaluate's)
    assert json.loads(capsys.readouterr().out)["below_popularity"][0] in below
    assert f"**Below popularity:** {below[0]}." in (tmp_path / "knn" / "report.md").read_text()
    # The data line above the table counts what was measured, as the one on stderr does.
    from cinerec.data import load

    from cinerec.data.dataset import dataset_sizes

    assert f": {dataset_sizes(load(folder))}\n" in \
        next(line + "\n" for line in out.splitlines() if line.startswith("data: ")), out


def test_a_model_of_stars_alone_is_refused_with_advice_quickstart_can_follow(tmp_path, capsys):
    # The protocol's line said "--protocol ratings-random", a flag quickstart does not have.
    assert main(["quickstart", "--out", str(tmp_path / "run"), "--model", "baseline", "-q"]) == 2
    err = capsys.readouterr().err
    assert "--model baseline: quickstart ranks movies, and baseline learns stars with no ranking variant; measure " \
           "its stars with cinerec evaluate --model baseline --protocol ratings-random" in err, err
    assert not (tmp_path / "run").exists()


def test_the_folder_one_is_in_is_refused_before_any_work(ml100k_dir, tmp_path, capsys, monkeypatch):
    # quickstart read the data, fitted and printed both leaderboards, and only then said
    # that --out . is the folder one is in.
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    assert main(["quickstart", "--data", str(ml100k_dir), "--model", "popularity", "--out", "."]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err == "cinerec: error: --out .: is the folder you are in, which is replaced whole once the " \
                                "new one is complete; name a folder inside it (for example run)\n"
    assert list(here.iterdir()) == []
    study = tmp_path / "s.toml"
    study.write_text(f'[data]\nsource = "{ml100k_dir}"\n[protocol]\nname = "loo-sampled"\nseeds = [0]\n'
                     "[models.popularity]\n")
    assert main(["run", str(study), "--out", "."]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("cinerec: error: --out .: is the folder you are in") and err.count("\n") == 1


def test_how_a_log_was_read_reaches_quickstart_and_trains_report_each_note_its_own_paragraph(tmp_path, capsys):
    # Times in 1970 and dates read month first were said on stderr and in --json, and left
    # out of both reports (a study's had them); notes one under another ran together.
    rng = np.random.default_rng(2)
    rows = ["user,movie,rating,timestamp"]
    for u in range(30):
        for m in rng.choice(60, 20, replace=False):
            rows.append(f"u{u},m{m},{rng.integers(0, 2)},{int(rng.integers(1, 10**6))}")  # (thumbs: a note too)
    log = tmp_path / "log.csv"
    log.write_text("\n".join(rows) + "\n")
    assert main(["quickstart", "--data", str(log), "--model", "popularity", "--negatives", "20",
                 "--out", str(tmp_path / "q"), "--users", "0", "--json", "-q"]) == 0
    notes = json.loads(capsys.readouterr().out)["notes"]
    assert notes[0].startswith(f"the times of {log} read as seconds since 1970 all fall in 1970")
    assert f"\n\n**Note:** {notes[0]}.\n\n" in (tmp_path / "q" / "report.md").read_text()
    assert main(["train", "--data", str(log), "--model", "popularity", "--protocol", "loo-sampled",
                 "--protocol-option", "n_negatives=20", "--out", str(tmp_path / "t"), "-q", "--json"]) == 0
    said = json.loads(capsys.readouterr().out)["notes"]
    report = (tmp_path / "t" / "report.md").read_text()
    assert said[0] == notes[0] and len(said) > 1, said
    for line in said:
        assert f"\n\n**Note:** {line}.\n" in report, line


def test_what_a_fit_says_of_its_figures_reaches_quickstart_and_trains_report(tmp_path, capsys):
    # ALS's note that its movie vectors collapsed (the default regularization on a small
    # log) was printed by evaluate and train only: quickstart dropped every such note, and
    # train's report.md left them out.
    rng = np.random.default_rng(1)
    rows = ["user,movie,rating,timestamp"]
    for u in range(27):
        for m in rng.choice(60, rng.integers(12, 31), replace=False):
            rows.append(f"u{u},m{m},{rng.integers(1, 11) / 2},{1_600_000_000 + int(rng.integers(0, 10**7))}")
    log = tmp_path / "log.csv"
    log.write_text("\n".join(rows) + "\n")
    start = "als: its movie vectors all point one way ("
    assert main(["quickstart", "--data", str(log), "--model", "als", "--model", "popularity", "--negatives", "20",
                 "--out", str(tmp_path / "q"), "--users", "0", "--json", "-q"]) == 0
    notes = json.loads(capsys.readouterr().out)["notes"]
    assert len(notes) == 1 and notes[0].startswith(start)
    assert f"**Note:** {notes[0]}." in (tmp_path / "q" / "report.md").read_text()
    assert main(["train", "--data", str(log), "--model", "als", "--protocol", "loo-sampled", "--protocol-option",
                 "n_negatives=20", "--out", str(tmp_path / "t"), "-q"]) == 0
    assert f"note: {notes[0]}\n" in capsys.readouterr().out
    assert f"**Note:** {notes[0]}." in (tmp_path / "t" / "report.md").read_text()
    # The lists of that run said nothing: recommend and export showed them as any other.
    assert main(["recommend", "--run", str(tmp_path / "t"), "--user", "u0"]) == 0
    said = capsys.readouterr().out.splitlines()
    assert said[-1].startswith(f"note: {start}") and "regularization = 80 is too strong" in said[-1]
    assert main(["recommend", "--run", str(tmp_path / "t"), "--user", "u0", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["notes"] == [said[-1].removeprefix("note: ")]
    assert main(["export", "--run", str(tmp_path / "t"), "--db", str(tmp_path / "t" / "recs.db")]) == 0
    assert f"note: {said[-1].removeprefix('note: ')}\n" in capsys.readouterr().err
    # ... and in export's --json, which -q keeps them for (they went to stderr alone).
    assert main(["export", "--run", str(tmp_path / "t"), "--db", str(tmp_path / "t" / "recs.db"), "--json", "-q"]) == 0
    got = capsys.readouterr()
    assert got.err == "" and json.loads(got.out)["notes"][-1] == said[-1].removeprefix("note: ")
    assert json.loads(got.out)["notes"][0].startswith("27 of the 27 users have fewer than 50 movies")
    # ... and similar movies, all about as similar as the next, said nothing either.
    assert main(["similar", "--run", str(tmp_path / "t"), "--movie", "m1"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == said[-1]
    assert main(["similar", "--run", str(tmp_path / "t"), "--movie", "m1", "--json", "-q"]) == 0
    assert json.loads(capsys.readouterr().out)["notes"] == [said[-1].removeprefix("note: ")]


def test_the_leaderboard_puts_the_best_model_first_among_ties(tmp_path):
    # Three models tied on the figure quickstart ranks by: the DataFrame put them in name
    # order, so its first row was not the run's best_model, which its table showed first.
    from cinerec.data.dataset import Catalog, Dataset, IdMap
    from cinerec.runs import finish_run, save_dataset
    from tests.models.conformance import random_ratings

    run = tmp_path / "run"
    save_dataset(run, Dataset("small", random_ratings(20, 30, 0), IdMap(np.arange(20), "user"),
                              IdMap(np.arange(30), "movie"), Catalog.unknown(30)))
    figures = {"loo-full": {"hr@10": 0.225}, "loo-sampled": {"hr@10": 0.5}}
    finish_run(run, meta={"command": "quickstart", "best_model": "popularity", "ranked_by": ["loo-full", "hr@10"]},
               metrics={"als": figures, "itemknn": figures, "popularity": figures,
                        "ease": {"loo-full": {"hr@10": 0.1}, "loo-sampled": {"hr@10": 0.9}}})
    assert list(open_run(run).leaderboard().index) == ["popularity", "als", "itemknn", "ease"]


def test_models_tied_on_the_ranking_figure_are_told_apart_by_the_others_not_by_their_order(ml100k_dir, tmp_path,
                                                                                            capsys):
    # Tied on loo-full HR@10, the first model named was the run's best, so the same data gave
    # another best model (and default for recommend, export and serve) as --model was ordered.
    import pandas as pd

    data = pd.read_csv(ml100k_dir / "u.data", sep="\t", names=["user", "item", "rating", "timestamp"])
    users = np.random.default_rng(0).choice(data["user"].unique(), 30, replace=False)
    log = data[data["user"].isin(users)].sample(frac=1.0, random_state=0).groupby("user").head(7)
    log.to_csv(tmp_path / "log.csv", index=False)
    best = {}
    for order in (["ease", "itemknn", "seqknn"], ["itemknn", "seqknn", "ease"]):
        out = tmp_path / order[0]
        assert main(["quickstart", "--data", str(tmp_path / "log.csv"), "--out", str(out),
                     *[a for m in order for a in ("--model", m)], "--json", "-q"]) == 0
        answer = json.loads(capsys.readouterr().out)
        figures = {r["model"]: r["metrics"] for r in answer["results"] if r["protocol"] == "loo-full"}
        assert len({f["hr@10"] for f in figures.values()}) == 1  # (the case under test: all tied)
        best[order[0]] = answer["best_model"]
        assert best[order[0]] == max(figures, key=lambda m: figures[m]["ndcg@10"])
        assert list(open_run(out).leaderboard().index)[0] == best[order[0]]
    assert best["ease"] == best["itemknn"] == "seqknn"


def test_a_refused_quickstart_leaves_no_folders_it_made_on_the_way(ml100k_dir, tmp_path, capsys):
    # The check of --out made its parents up front, and a refusal left them behind.
    out = tmp_path / "qp" / "a" / "b"
    argv = ["quickstart", "--data", str(ml100k_dir), "--min-year", "2030", "--out", str(out), "-q"]
    assert main(argv) == 2 and "leaves no ratings" in capsys.readouterr().err
    assert not (tmp_path / "qp").exists()


@pytest.mark.parametrize("lists", [0, 200])
def test_a_reader_that_leaves_early_still_gets_the_run_written(tmp_path, ml100k_dir, lists):
    # `cinerec quickstart | head -n 5`: the leaderboard or the lists, printed before the
    # run folder was finished, met the closed pipe, and the run was never written (or an
    # earlier one kept), with exit status 0.
    import subprocess
    import sys

    out = tmp_path / "run"
    reader, writer = os.pipe()
    os.close(reader)  # (gone before the first line: every write meets a closed pipe)
    try:
        proc = subprocess.run([sys.executable, "-m", "cinerec", "quickstart", "--data", str(ml100k_dir), "--model",
                               "popularity", "--users", str(lists), "--out", str(out), "--quiet"], stdout=writer,
                              stderr=subprocess.PIPE, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"},
                              timeout=600)
    finally:
        os.close(writer)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert (out / "run.json").is_file() and (out / "models" / "popularity").is_dir()
