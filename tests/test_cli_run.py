"""``cinerec run STUDY.toml`` and ``--tune`` through ``cinerec.cli.main``, on the genuine ml-100k."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from cinerec.cli import main
from cinerec.config import settings_words
from cinerec.errors import ConfigError
from cinerec.models.baselines import EASE
from cinerec.io import read_json

STUDY = """\
title = "tiny"

[data]
source = "{source}"

[protocol]
name = "loo-sampled"
seeds = [0, 1]

[models.popularity]

[models.ease]
regularization = 300

[export]
k = 5

[reference]
metric = "hr@10"
value = 0.5
source = "a made-up study"
"""


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def finished(tmp_path_factory, ml100k_dir):
    """One study run (2 seeds, popularity and EASE), its source given by --data."""
    root = tmp_path_factory.mktemp("run")
    study = root / "tiny.toml"
    study.write_text(STUDY.format(source=root / "no-such-release"))  # --data must win
    out = root / "out"
    code = main([str(p) for p in ("run", study, "--out", out, "--data", ml100k_dir, "--json", "--quiet")])
    return code, study, out


def test_run_writes_the_leaderboard_with_spread_and_paired_comparison(finished, capsys, ml100k_dir):
    code, _, out = finished
    assert code == 0
    board = read_json(out / "leaderboard.json")
    assert board["protocol"] == "loo-sampled" and board["seeds"] == [0, 1] and board["metric"] == "hr@10"
    assert [m["label"] for m in board["models"]] == ["ease", "popularity"] and board["best_model"] == "ease"
    assert board["reference"]["differs"].startswith("--data ")  # the file's own figure, not on these data
    assert "so the two do not compare" in (out / "report.md").read_text()
    ease, pop = board["models"]
    for row in (ease, pop):
        hr = row["metrics"]["hr@10"]
        assert len(hr["values"]) == 2
        assert hr["mean"] == pytest.approx(np.mean(hr["values"])) and hr["sd"] == pytest.approx(np.std(hr["values"], ddof=1))
    assert ease["vs_best"] is None
    vs = pop["vs_best"]
    assert vs["n"] == 2 * 943 and vs["diff"] == pytest.approx(pop["metrics"]["hr@10"]["mean"] - ease["metrics"]["hr@10"]["mean"])
    assert vs["diff"] < -0.15 and 0 < vs["se"] < 0.05 and vs["wins"] + vs["losses"] + vs["ties"] == vs["n"]
    assert 0.62 < ease["metrics"]["hr@10"]["mean"] < 0.70 and 0.38 < pop["metrics"]["hr@10"]["mean"] < 0.44
    metrics = read_json(out / "metrics.json")
    assert metrics["ease"]["hr@10"] == ease["metrics"]["hr@10"]["mean"] and "hr@10_sd" in metrics["ease"]
    assert metrics["ease"]["seconds_fit"] == ease["seconds_fit"]  # the printed table's "fit s" (it was missing)
    assert metrics["popularity"]["hr@10_vs_best"] == pytest.approx(vs["diff"])
    settings = read_json(out / "settings.json")
    assert settings["ease"]["per_seed"]["0"]["regularization"] == 300 and "refit" in settings["ease"]
    meta = read_json(out / "run.json")
    assert meta["command"] == "run" and meta["best_model"] == "ease" and meta["models"] == ["ease"]
    assert meta["study"]["source"] == meta["data"] != str(finished[1].parent / "no-such-release")
    report = (out / "report.md").read_text()
    assert "± " in report and "hr@10 = 0.5 (a made-up study)" in report and "vs best" in report
    # The title is the file's, which the report said of data --data replaced without a word.
    assert "is the study file's: this run was given --data on the command line (what it read is below).*" in report
    # --no-filters changes the data too (it went unsaid).
    study_ = finished[1]
    code = main([str(p) for p in ("run", study_, "--out", out.parent / "nf", "--data", ml100k_dir, "--no-filters",
                                  "--quiet")])
    assert code == 0
    assert "this run was given --data, --no-filters on the command line" in (out.parent / "nf" / "report.md").read_text()
    # and run.json says which keys the command line set (the file's own values are in its file)
    assert read_json(out.parent / "nf" / "run.json")["study"]["from_flags"] == ["source", "no_filters"]
    assert meta["study"]["from_flags"] == ["source"]
    # Its plots: the leaderboard always (EASE, the best here, has no movie vectors to map).
    assert "![leaderboard](plots/leaderboard.png)" in report
    assert (out / "plots" / "leaderboard.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_best_model_is_refitted_on_all_data_and_served(finished, capsys):
    from cinerec.runs import open_run

    _, _, out = finished
    run_ = open_run(out)
    model = run_.model()
    assert model.name == "ease" and len(model.train_) == 100_000
    code, text, err = run(capsys, "recommend", "--run", str(out), "--user", "42", "-k", "3", "--json")
    assert code == 0, err
    assert len(json.loads(text)["recommendations"]) == 3
    assert (out / "store.sqlite").exists()  # [export]
    from cinerec.serving.store import open_store

    info = open_store(out / "store.sqlite").info
    assert info.k == 5 and info.model == "ease" and Path(info.run) == out.resolve()
    # run.json lists every file the run wrote: the store, written after the run was in place, too.
    on_disk = sorted(f.relative_to(out).as_posix() for f in out.rglob("*") if f.is_file() and f.name != "run.json")
    assert "store.sqlite" in run_.meta["files"] and run_.meta["files"] == on_disk


def test_a_study_says_what_its_figures_measure_as_evaluate_does(tmp_path, capsys, ml100k_dir):
    # evaluate said an approximate index's lists were measured as served; a study said nothing.
    study = tmp_path / "s.toml"
    study.write_text(f'[data]\nsource = "{ml100k_dir}"\ntop_users = 200\n[protocol]\nname = "loo-full"\nseeds = [0]\n'
                     '[models.als-ivf]\nmodel = "als"\nepochs = 2\nindex = "ivf"\nindex_nprobe = 1\n')
    code, out, err = run(capsys, "run", str(study), "--out", str(tmp_path / "o"), "--quiet")
    assert code == 0, err
    said = "als-ivf: its lists come from an approximate ivf index, and these figures measure them as served"
    assert f"note: {said}" in out and said in (tmp_path / "o" / "report.md").read_text()


def test_a_run_killed_before_its_store_was_written_is_named_so(finished, capsys, tmp_path, ml100k_dir):
    # SIGKILL between the run taking its place and its store: a finished-looking run without
    # store.sqlite, and a second run refused as for any folder ("already exists and is not empty").
    from cinerec.studies import EXPORT_PENDING

    _, study, out = finished
    cut = Path(shutil.copytree(out, tmp_path / "cut"))
    (cut / "store.sqlite").unlink()
    (cut / EXPORT_PENDING).touch()  # what the run holds until its store is in
    before = sorted(p.name for p in cut.iterdir())
    code, _, err = run(capsys, "run", str(study), "--out", str(cut), "--data", str(ml100k_dir), "--quiet")
    assert code == 2 and err == (f"cinerec: error: --out {cut}: holds a study run cut short while writing its store "
                                 f"(store.sqlite is not there); remove the folder and run the study again, or write "
                                 f"the store with cinerec export --run {cut} --db {cut / 'store.sqlite'} -k 5\n"), err
    assert sorted(p.name for p in cut.iterdir()) == before
    # The way back is a command to paste: a folder name with a space is quoted for the shell.
    spaced = Path(shutil.copytree(cut, tmp_path / "cut short"))
    code, _, err = run(capsys, "run", str(study), "--out", str(spaced), "--data", str(ml100k_dir), "--quiet")
    assert code == 2 and f"cinerec export --run '{spaced}' --db '{spaced / 'store.sqlite'}' -k 5\n" in err, err
    # Its store written as the line says, the run is whole: any other run there is refused as usual.
    assert run(capsys, "export", "--run", str(cut), "--db", str(cut / "store.sqlite"), "-k", "5", "--quiet")[0] == 0
    code, _, err = run(capsys, "run", str(study), "--out", str(cut), "--data", str(ml100k_dir), "--quiet")
    assert code == 2 and "already exists and is not empty" in err, err


def test_a_study_writes_its_store_before_the_run_takes_its_place(tmp_path, capsys, ml100k_dir, monkeypatch):
    # The run took its place, then its store was written: a kill meanwhile left a run without
    # its store, and the same command run again was refused until the folder was removed.
    from cinerec.serving import store
    from cinerec.serving.api import create_app

    study = tmp_path / "s.toml"
    study.write_text(STUDY.format(source=ml100k_dir).replace("seeds = [0, 1]", "seeds = [0]"))
    out = tmp_path / "o"
    real, seen = store.export_store, []

    def watched(run_, db, **kwargs):
        seen.append((out.exists(), Path(db).parent.parent == tmp_path, Path(db).parent != out))
        return real(run_, db, **kwargs)

    monkeypatch.setattr(store, "export_store", watched)
    code, _, err = run(capsys, "run", str(study), "--out", str(out), "--quiet")
    assert code == 0, err
    assert seen == [(False, True, True)]  # (into the run beside its place, before the swap)
    written = store.open_store(out / "store.sqlite")
    assert written.info.run == str(out.resolve()) and written.info.k == 5
    written.close()
    assert create_app(out, out / "store.sqlite").state.service.store_state()["stale"] is None
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]  # (no marker, no lock)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o", "s.toml"]


def test_a_store_that_cannot_be_written_is_named_where_it_was_asked_for(tmp_path, capsys, ml100k_dir, monkeypatch):
    # Written into the run before it takes its place, a store that failed was named in the
    # unfinished copy's folder, gone by the time the line was read.
    import sqlite3

    from cinerec.serving import store

    def full(self, progress):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(store.ExportPlan, "recommendation_blocks", full)
    study = tmp_path / "s.toml"
    study.write_text(STUDY.format(source=ml100k_dir).replace("seeds = [0, 1]", "seeds = [0]"))
    code, _, err = run(capsys, "run", str(study), "--out", str(tmp_path / "o"), "--quiet")
    assert code == 2 and err == (f"cinerec: error: {tmp_path / 'o' / 'store.sqlite'}: the export could not be "
                                 "written (database or disk is full); no store was made there\n"), err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.toml"]


def test_a_studys_year_filter_says_what_it_dropped_for_want_of_a_year(tmp_path, capsys, ml100k_dir):
    # data info said so beside the counts; cinerec run's own line did not.
    study = tmp_path / "s.toml"
    study.write_text(f'[data]\nsource = "{ml100k_dir}"\nmin_year = 1990\n[protocol]\nname = "loo-sampled"\n'
                     'seeds = [0]\n[models.popularity]\n')
    code, _, err = run(capsys, "run", str(study), "--out", str(tmp_path / "o"))
    assert code == 0, err
    said = "(1 of the movies dropped, with 9 ratings, has no known release year)"
    assert f"  min_year=1990: 69,472 ratings, 943 users, 1,337 movies {said}\n" in err, err
    assert said in (tmp_path / "o" / "report.md").read_text()


def test_json_is_one_object_and_the_table_names_the_protocol(tmp_path, capsys, ml100k_dir, monkeypatch):
    study = tmp_path / "s.toml"
    study.write_text(STUDY.format(source=ml100k_dir).replace("seeds = [0, 1]", "seeds = [3]").replace("[export]\nk = 5\n", ""))
    code, out, err = run(capsys, "run", str(study), "--out", str(tmp_path / "a"), "--json", "--quiet")
    assert code == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 1 and err == ""
    board = json.loads(lines[0])
    assert "differs" not in board["reference"]  # the file's own data
    assert board["seeds"] == [3] and board["run"] == str(tmp_path / "a") and "store" not in board
    assert not (tmp_path / "a" / "store.sqlite").exists()
    # notes and synthetic always there (notes came only when there were some)
    assert isinstance(board["notes"], list) and board["synthetic"] is False
    monkeypatch.chdir(tmp_path)  # a relative --out: named whole, as train's --json names its run
    code, out, err = run(capsys, "run", str(study), "--out", "b", "--json", "--quiet")
    assert code == 0, err
    assert json.loads(out)["run"] == str(tmp_path / "b")
    shutil.rmtree(tmp_path / "b")
    # The store under a relative --out is named whole as well, in --json and leaderboard.json
    # (it was relative to the folder the command ran in, beside a whole run and study).
    study.write_text(study.read_text() + "[export]\nk = 2\n")
    code, out, err = run(capsys, "run", str(study), "--out", "stored", "--json", "--quiet")
    assert code == 0, err
    assert json.loads(out)["store"] == read_json(tmp_path / "stored" / "leaderboard.json")["store"] == \
        str(tmp_path / "stored" / "store.sqlite")
    study.write_text(study.read_text().replace("[export]\nk = 2\n", ""))
    code, out, err = run(capsys, "run", str(study), "--out", str(tmp_path / "b"))
    assert code == 0, err
    assert "protocol: loo-sampled, seed 3 (one seed: no sd)" in out
    assert "the study (a made-up study): hr@10 0.5; ours (ease, the best):" in out  # its source, as report.md says
    row = next(line for line in out.splitlines() if line.startswith("popularity"))
    popularity = f"{board['models'][1]['metrics']['hr@10']['mean']:.4f}"
    assert popularity in row
    # The study's own model named: its figure beside the study's, and the best's after it.
    study.write_text(study.read_text() + 'model = "popularity"\n')
    code, out, err = run(capsys, "run", str(study), "--out", str(tmp_path / "c"))
    assert code == 0, err
    ease = f"{board['models'][0]['metrics']['hr@10']['mean']:.4f}"
    assert f"the study (a made-up study): hr@10 0.5; ours (popularity, the study's model): {popularity}; the best (ease): {ease}" in out
    report = (tmp_path / "c" / "report.md").read_text()
    assert "- popularity (the study's model): hr@10 = " in report and "- ease (the best): hr@10 = " in report


def test_tuning_in_a_study_is_recorded(tmp_path, capsys, ml100k_dir):
    study = tmp_path / "s.toml"
    study.write_text(STUDY.format(source=ml100k_dir).replace("seeds = [0, 1]", "seeds = [0]")
                     .replace("[export]\nk = 5\n", ""))
    code, out, err = run(capsys, "run", str(study), "--out", str(tmp_path / "t"), "--tune", "2", "--json", "--quiet")
    assert code == 0, err
    board = json.loads(out)
    ease = next(m for m in board["models"] if m["label"] == "ease")
    tuning = ease["tuning"]["0"]
    assert tuning["n_trials"] == 2 and tuning["metric"] == "hr@10" and tuning["value"] >= tuning["default_value"]
    assert ease["settings"]["0"]["regularization"] == tuning["settings"]["regularization"]
    assert next(m for m in board["models"] if m["label"] == "popularity")["tuning"] is None  # nothing to search
    assert read_json(tmp_path / "t" / "settings.json")["ease"]["tuning"]["0"]["settings"] == tuning["settings"]
    assert read_json(tmp_path / "t" / "run.json")["tuning"] == {"ease": ease["tuning"]}  # as train --tune keeps it
    # --tune replacing the file's trials (here, no [tune] at all) is recorded and said.
    assert read_json(tmp_path / "t" / "run.json")["study"]["tune"]["trials_by_flag"] is True
    assert "*--tune 2 on the command line set the trials of each search.*" in (tmp_path / "t" / "report.md").read_text()
    # One seed has no spread: its sd was written as 0.0, a spread the table does not show.
    metrics = read_json(tmp_path / "t" / "metrics.json")["ease"]
    assert "hr@10" in metrics and "hr@10_sd" not in metrics and metrics["seconds_fit"] == ease["seconds_fit"]
    assert ease["metrics"]["hr@10"]["sd"] is None  # and in leaderboard.json: null, not 0.0
    # Printed under the table, --quiet too, as evaluate --tune and train --tune print theirs.
    code, out, err = run(capsys, "run", str(study), "--out", str(tmp_path / "t2"), "--tune", "2", "--quiet")
    assert code == 0 and f"tuned ease seed 0: {settings_words(tuning['settings'])} (validation hr@10 " \
        f"{tuning['value']:.4f}" in out
    assert "tuned" not in err and "popularity seed" not in out
    assert read_json(tmp_path / "t" / "leaderboard.json")["models"][0]["metrics"]["hr@10"]["sd"] is None
    # The study's own model, searched, is no longer on the study's settings: said beside its name.
    study.write_text(study.read_text() + 'model = "ease"\n')  # (the file's [reference] table is last)
    code, out, err = run(capsys, "run", str(study), "--out", str(tmp_path / "t3"), "--tune", "2", "--quiet")
    assert code == 0, err
    assert "; ours (ease, the study's model, its settings tuned and the best): " in out
    assert "- ease (the study's model, its settings tuned and the best): hr@10 = " in \
        (tmp_path / "t3" / "report.md").read_text()


@pytest.mark.parametrize("change, needle", [
    (lambda s: s.replace('source = "{source}"', 'source = "{source}"\nmin_yaer = 2000'), "s.toml:5: [data] min_yaer: unknown key"),
    (lambda s: s.replace("regularization = 300", "regularization = -1"), "s.toml:13: [models.ease] regularization = -1: must be"),
    (lambda s: s.replace('source = "{source}"\n', ""), "s.toml:3: [data]: no source"),
    # A rule across two keys pointed at the [data] header, not at a line of either key.
    (lambda s: s.replace('source = "{source}"', 'source = "{source}"\nmin_year = 2000\nmax_year = 1990'),
     "s.toml:5: [data]: min_year = 2000 is after max_year = 1990"),
    # A label names the model's folder: "../x" saved the refitted model outside the run.
    (lambda s: s.replace("[models.popularity]\n", '[models."../../outside"]\nmodel = "popularity"\n'),
     "[models] ../../outside: label '../../outside': a label is a plain name"),
    (lambda s: s.replace("[models.popularity]\n", '[models.""]\nmodel = "popularity"\n'), "label '': a label is"),
    # The pipeline [export.two_stage] saves is "two-stage": a model of that label was overwritten.
    (lambda s: s.replace("[models.popularity]\n", '[models.two-stage]\nretriever = "ease"\nranker = "popularity"\n')
     .replace("[models.ease]\nregularization = 300\n", "")
     .replace("k = 5\n", 'k = 5\n\n[export.two_stage]\nretriever = "popularity"\ncandidates = 50\n'),
     "the label two-stage is the pipeline [export.two_stage] saves"),
])
def test_bad_study_files_are_one_line_and_leave_nothing(tmp_path, capsys, ml100k_dir, change, needle):
    study = tmp_path / "s.toml"
    study.write_text(change(STUDY).format(source=ml100k_dir))
    code, out, err = run(capsys, "run", str(study), "--out", str(tmp_path / "out"))
    assert code == 2 and out == ""
    assert err.startswith("cinerec: error: ") and needle in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "out").exists()


def test_errors_after_the_data_is_read_leave_no_run_folder(tmp_path, capsys, ml100k_dir):
    study = tmp_path / "s.toml"
    study.write_text(STUDY.format(source=ml100k_dir).replace('[protocol]', 'min_year = 3000\n\n[protocol]'))
    code, out, err = run(capsys, "run", str(study), "--out", str(tmp_path / "out"), "--quiet")
    # The file, line and key at fault, the value as the file writes it.
    assert code == 2 and f"{study}:6: [data] min_year = 3000 leaves no ratings (the data had" in err
    assert not (tmp_path / "out").exists() and list(tmp_path.iterdir()) == [study]
    # A liked-or-not threshold that keeps every rating: its key in the file, not a flag never given.
    study.write_text(STUDY.format(source=ml100k_dir).replace('[protocol]', 'liked_threshold = 1\n\n[protocol]'))
    code, out, err = run(capsys, "run", str(study), "--out", str(tmp_path / "out"), "--quiet")
    assert code == 2 and f"{study}:6: [data] liked_threshold = 1 is at or below every rating of this data" in err
    assert "--liked-threshold" not in err and not (tmp_path / "out").exists()
    assert "ask for implicit data instead (implicit = true under [data])" in err and "--implicit" not in err
    plain = study.read_text().replace("liked_threshold = 1\n", "")
    study.write_text(plain)
    code, out, err = run(capsys, "run", str(study), "--out", str(tmp_path / "out"), "--min-year", "3000")
    assert code == 2 and f"{study}: --min-year 3000 (given on the command line) leaves no ratings" in err
    # A flag that replaces the file's value is blamed, not the file's line; a rule across
    # the two names each where it was set.
    study.write_text(STUDY.format(source=ml100k_dir).replace('[protocol]', 'min_year = 1990\n\n[protocol]'))
    code, out, err = run(capsys, "run", str(study), "--out", str(tmp_path / "out"), "--min-year", "3000")
    assert code == 2 and f"{study}: --min-year 3000 (given on the command line) leaves no ratings" in err
    code, out, err = run(capsys, "run", str(study), "--out", str(tmp_path / "out"), "--max-year", "1950")
    assert code == 2 and f"{study}:6: [data] with the command line: min_year = 1990 is after --max-year = 1950" in err
    study.write_text(f'[data]\nsource = "{ml100k_dir}"\nkcore = 30\n[protocol]\nname = "ratings-fold"\n[models.baseline]\n')
    code, out, err = run(capsys, "run", str(study), "--out", str(tmp_path / "out"))
    assert code == 2 and f"{study}:5: [protocol] name: protocol ratings-fold: the official folds" in err
    assert 'set name = "ratings-random" there' in err and "--protocol" not in err  # run has no --protocol
    assert not (tmp_path / "out").exists() and list(tmp_path.iterdir()) == [study]
    # An official fold asked of data without them: the fold's line (it named [protocol] name's)
    log = tmp_path / "log.csv"
    log.write_text("user,item,rating\n" + "\n".join(f"u{u},m{i},{(u + i) % 5 + 1}" for u in range(20) for i in range(8))
                   + "\n")
    study.write_text(f'[data]\nsource = "{log}"\n[protocol]\nname = "ratings-fold"\nfold = "u1"\n[models.baseline]\n')
    code, out, err = run(capsys, "run", str(study), "--out", str(tmp_path / "out"))
    assert code == 2 and f"{study}:5: [protocol] fold: protocol ratings-fold: fold=u1 is one of ml-100k's" in err
    log.unlink()
    code, out, err = run(capsys, "run", str(study), "--out", str(tmp_path / "out"), "--data", str(tmp_path / "nothing"))
    assert code == 2 and f"--data {tmp_path / 'nothing'}: no such file or folder" in err
    assert not (tmp_path / "out").exists()
    # A log's columns set in the file, run on a release: the file's key is named, not a flag.
    study.write_text(f'[data]\nsource = "{ml100k_dir}"\ncolumns = "user=who"\n[protocol]\nname = "loo-sampled"\n'
                     '[models.popularity]\n')
    code, out, err = run(capsys, "run", str(study), "--out", str(tmp_path / "out"))
    assert code == 2 and f"{study}:3: [data] columns: {ml100k_dir} is a MovieLens release" in err, err
    assert "[data] columns and catalog apply to a ratings log of your own" in err


@pytest.mark.parametrize("name", ["", "  "])
def test_an_empty_study_name_is_named_as_such(tmp_path, capsys, name):
    # It was read as the folder one is in: "cinerec: error: .: is a folder, not a study file".
    code, out, err = run(capsys, "run", name, "--out", str(tmp_path / "o"))
    assert code == 2 and not out and err.count("\n") == 1, err
    assert "Invalid value for 'STUDY.toml': give the study file's name (an empty one would be the folder you are in)" \
        in err, err
    assert not (tmp_path / "o").exists()


def test_a_zero_budget_and_a_used_folder_are_refused(tmp_path, capsys, ml100k_dir):
    study = tmp_path / "s.toml"
    study.write_text(STUDY.format(source=ml100k_dir))
    code, _, err = run(capsys, "run", str(study), "--out", str(tmp_path / "o"), "--tune", "0")
    assert code == 2 and "--tune 0: a tuning budget must be at least 1 trial" in err
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "keep.txt").write_text("mine")
    code, _, err = run(capsys, "run", str(study), "--out", str(tmp_path / "used"))
    assert code == 2 and "already exists and is not empty" in err
    assert (tmp_path / "used" / "keep.txt").read_text() == "mine"


def test_a_folder_written_meanwhile_is_kept_and_an_interrupted_export_leaves_nothing(tmp_path, capsys, ml100k_dir,
                                                                                   monkeypatch):
    from cinerec import studies
    from cinerec.serving import store

    study = tmp_path / "s.toml"
    study.write_text(STUDY.format(source=ml100k_dir))
    out = tmp_path / "o"
    real_run = studies._run

    def another_writes_meanwhile(*args, **kwargs):  # a second command wrote its run into --out
        board = real_run(*args, **kwargs)
        out.mkdir(exist_ok=True)
        (out / "run.json").write_text('{"theirs": true}')
        return board

    monkeypatch.setattr(studies, "_run", another_writes_meanwhile)
    code, _, err = run(capsys, "run", str(study), "--out", str(out), "--quiet")
    assert code == 2 and "something else was written there while the study ran ('run.json')" in err
    assert read_json(out / "run.json") == {"theirs": True} and sorted(p.name for p in tmp_path.iterdir()) == ["o", "s.toml"]
    monkeypatch.setattr(studies, "_run", real_run)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    (out / "run.json").unlink()  # an empty folder given: left empty, not holding a run without its store
    monkeypatch.setattr(store, "export_store", interrupted)
    assert main(["run", str(study), "--out", str(out), "--quiet"]) == 130
    capsys.readouterr()
    assert out.is_dir() and list(out.iterdir()) == []
    # Through a link to that empty folder: a traceback (the link could not be removed, then
    # not made again) and the folder kept the run, listing a store it did not hold.
    link = tmp_path / "link"
    link.symlink_to(out)
    assert main(["run", str(study), "--out", str(link), "--quiet"]) == 130
    capsys.readouterr()
    assert link.is_symlink() and list(out.iterdir()) == []


def test_tune_on_evaluate_and_train(tmp_path, capsys, ml100k_dir):
    code, out, err = run(capsys, "evaluate", "--data", str(ml100k_dir), "--model", "ease", "--tune", "3", "--json")
    assert code == 0, err
    got = json.loads(out)
    t = got["tuning"]
    assert t["n_trials"] == 3 and t["metric"] == "hr@10" and set(t["settings"]) == set(EASE.search_space)
    defaults = {k: v for k, v in EASE.Config().to_dict().items() if k in EASE.search_space}
    assert t["trials"][0]["settings"] == defaults and t["value"] >= t["default_value"]
    assert "tuned ease:" in err
    code, out, err = run(capsys, "train", "--data", str(ml100k_dir), "--model", "ease", "--tune", "3",
                         "--out", str(tmp_path / "r"), "--json", "--quiet")
    assert code == 0, err
    got2 = json.loads(out)
    assert got2["tuning"]["settings"] == t["settings"]  # the same seed gives the same search
    meta = read_json(tmp_path / "r" / "run.json")
    assert meta["tuning"]["settings"] == t["settings"]
    assert meta["config"]["ease"]["regularization"] == t["settings"]["regularization"]
    # Without --json the chosen settings come with the table on stdout, --quiet or not
    # (they were stderr chatter, which --quiet took away); train's report.md says them too.
    code, out, err = run(capsys, "evaluate", "--data", str(ml100k_dir), "--model", "ease", "--tune", "3", "--quiet")
    # (as --set takes them, not as Python writes a dict)
    assert code == 0 and f"tuned ease: {settings_words(t['settings'])} (" in out and "tuned" not in err
    assert "{'" not in out and "regularization=" in out
    code, out, err = run(capsys, "train", "--data", str(ml100k_dir), "--model", "ease", "--tune", "3", "--quiet",
                         "--out", str(tmp_path / "r2"))
    assert code == 0 and f"tuned ease: {settings_words(t['settings'])} (" in out
    assert f"Chosen settings `{settings_words(t['settings'])}`" in (tmp_path / "r2" / "report.md").read_text()
    for command in ("evaluate", "train"):
        extra = ["--out", str(tmp_path / "z")] if command == "train" else []
        code, _, err = run(capsys, command, "--data", str(ml100k_dir), "--model", "ease", "--tune", "0", *extra)
        assert code == 2 and "--tune 0: a tuning budget must be at least 1 trial" in err
        # A number past any search (a typing slip) ran with no end.
        code, _, err = run(capsys, command, "--data", str(ml100k_dir), "--model", "ease", "--tune", "9" * 20, *extra)
        assert code == 2 and f"--tune {'9' * 20}: a tuning budget is at most 100,000 trials" in err


def test_tune_keeps_the_settings_given_and_refuses_what_it_cannot_search(tmp_path, capsys, ml100k_dir):
    code, out, err = run(capsys, "evaluate", "--data", str(ml100k_dir), "--top-users", "150", "--model", "ease",
                         "--set", "regularization=123", "--tune", "2", "--json")
    assert code == 0, err
    got = json.loads(out)
    assert set(got["tuning"]["settings"]) == {"recency_half_life"}  # --set holds λ; the search covers the rest
    assert all(t["settings"].keys() == {"recency_half_life"} for t in got["tuning"]["trials"])
    # ... and the line says so, and that the first trial ("defaults") ran with it (it was
    # called "defaults" alone, though λ was the one given)
    assert "(regularization = 123 kept as given; validation hr@10 " in err and "; defaults with it " in err, err
    for command, extra in (("evaluate", []), ("train", ["--out", str(tmp_path / "kept")])):
        code, out, err = run(capsys, command, "--data", str(ml100k_dir), "--top-users", "150", "--model", "ease",
                             "--set", "regularization=123", "--tune", "2", *extra, "-q")
        assert code == 0 and "(regularization = 123 kept as given; " in out, out
        code, out, err = run(capsys, command, "--data", str(ml100k_dir), "--top-users", "150", "--model", "ease",
                             "--tune", "2", *extra[:1], *[e + "2" for e in extra[1:]], "-q")
        assert code == 0 and "kept as given" not in out and "; defaults " in out, out
    # A --config that is a pipe (<(...)) was read twice, empty the second time: its λ was searched.
    # The next command's pipe, by the same /dev/fd name, is its own.
    for given in ("123", "7"):
        r, w = os.pipe()
        os.write(w, f"regularization = {given}\n".encode())
        os.close(w)
        try:
            code, out, err = run(capsys, "evaluate", "--data", str(ml100k_dir), "--top-users", "150", "--model",
                                 "ease", "--config", f"/dev/fd/{r}", "--tune", "2", "-q")
        finally:
            os.close(r)
        assert code == 0 and f"(regularization = {given} kept as given; " in out, out + err
    # "-" is the standard input, as for most tools (it was "--config -: no such file").
    import io
    import sys

    stdin = sys.stdin
    sys.stdin = io.TextIOWrapper(io.BytesIO(b"regularization = 9\n"))
    try:
        code, out, err = run(capsys, "evaluate", "--data", str(ml100k_dir), "--top-users", "150", "--model",
                             "ease", "--config", "-", "--tune", "2", "-q")
    finally:
        sys.stdin = stdin
    assert code == 0 and "(regularization = 9 kept as given; " in out, out + err
    refused = [
        (["--model", "popularity"], "--tune 2: popularity declares no search space: there is nothing to tune"),
        (["--model", "ease", "--set", "regularization=5", "--set", "recency_half_life=0"],
         "--tune 2: --set/--config give every setting ease searches (recency_half_life, regularization): there is "
         "nothing left to tune"),
        (["--model", "baseline", "--protocol", "ratings-fold", "--protocol-option", "fold=all"],
         "--tune 2: fold=all: each official fold's training part holds the other folds' test ratings"),
    ]
    for command in ("evaluate", "train"):
        for args, needle in refused:
            extra = ["--out", str(tmp_path / "z")] if command == "train" else []
            code, _, err = run(capsys, command, "--data", str(ml100k_dir), *args, "--tune", "2", *extra)
            # Refused before the data is read: no "data:" line, no folder.
            assert code == 2 and needle in err and "data:" not in err, err
            assert not (tmp_path / "z").exists()


def test_every_stage_is_timed_with_its_peak_memory(finished):
    _, _, out = finished
    board = read_json(out / "leaderboard.json")
    names = [r["stage"] for r in board["stages"]]
    assert names == ["load", "filter", "split (seed 0)", "popularity (seed 0)", "ease (seed 0)", "split (seed 1)",
                     "popularity (seed 1)", "ease (seed 1)", "refit ease", "save", "export"]
    assert all(r["seconds"] >= 0 and r["peak_gb"] > 0 for r in board["stages"])
    assert board["seconds"] >= sum(r["seconds"] for r in board["stages"]) - 1.0
    assert board["peak_gb"] == max(r["peak_gb"] for r in board["stages"])
    report = (out / "report.md").read_text()
    assert "## Time and memory per stage" in report and "| export |" in report


TWO_STAGE = """\
[data]
source = "{source}"

[protocol]
name = "loo-sampled"
seeds = [0]

[models.popularity]

[models.als]
factors = 16
epochs = 5

[export]
k = 5

[export.two_stage]
retriever = "ease"
candidates = 20
"""


def test_the_store_can_be_listed_through_two_stages(tmp_path, capsys, ml100k_dir):
    from cinerec.runs import open_run
    from cinerec.serving.store import open_store

    study = tmp_path / "s.toml"
    study.write_text(TWO_STAGE.format(source=ml100k_dir))
    code, out, err = run(capsys, "run", str(study), "--out", str(tmp_path / "o"), "--json", "--quiet")
    assert code == 0, err
    board = json.loads(out)
    assert board["best_model"] == "als" and "two-stage: fit ease" in [r["stage"] for r in board["stages"]]
    run_ = open_run(tmp_path / "o")
    assert run_.meta["best_model"] == "als" and set(run_.model_names) == {"als", "two-stage"}
    # recommend, export and serve use what the store holds unless told otherwise
    assert run_.default_model == "two-stage"
    pipeline = run_.model("two-stage")
    assert pipeline.ranker.config == run_.model("als").config  # the refitted best model ranks
    store = open_store(tmp_path / "o" / "store.sqlite")
    assert store.info.model == "two-stage" and store.info.k == 5
    from cinerec.serving.api import create_app

    assert create_app(tmp_path / "o", tmp_path / "o" / "store.sqlite").state.service.store_state()["stale"] is None
    # Each stored list is the ranker's order of the retriever's shortlist.
    users = np.arange(run_.dataset.n_users)[:50]
    shortlist, _ = pipeline.retriever.recommend(users, 20)
    listed, _ = pipeline.recommend(users, 5)
    assert all(set(listed[i]) <= set(shortlist[i]) for i in range(len(users)))
    assert "The store lists through `models/two-stage`: ease shortlists 20 movies" in (tmp_path / "o" / "report.md").read_text()
    # A list past the shortlist names the flag that asked for it, as export does.
    code, _, err = run(capsys, "recommend", "--run", str(tmp_path / "o"), "--user", "1", "-k", "30")
    assert code == 2 and "cinerec: error: -k 30: two-stage: k = 30 is more than candidates = 20" in err


@pytest.mark.parametrize("change, needle", [
    (lambda s: s.replace('retriever = "ease"', 'retriever = "ease"\nranker = "gmf"'),
     "s.toml:19: [export.two_stage] ranker: unknown setting (the ranker is the study's best model"),
    (lambda s: s.replace("[models.als]", "[models.ease]\n\n[models.als]"),
     "[models.ease]: ease cannot rank a shortlist"),
    (lambda s: s.replace("candidates = 20", "candidates = 3"),
     "s.toml:19: [export.two_stage] candidates = 3 is fewer than [export] k = 5"),
    (lambda s: s.replace('retriever = "ease"', 'retriever = "nope"'), "s.toml:18: [export.two_stage] retriever = 'nope': unknown model"),
    # A stage's own setting: its line in the nested table, not the table's header.
    (lambda s: s + "\n[export.two_stage.retriever_settings]\nregularization = 5\nepoch = 3\n",
     "s.toml:23: [export.two_stage.retriever_settings] epoch: retriever_settings: unknown key 'epoch'"),
])
def test_a_bad_two_stage_export_is_refused_before_reading(tmp_path, capsys, change, needle):
    study = tmp_path / "s.toml"
    study.write_text(change(TWO_STAGE).format(source=tmp_path / "not-read"))
    code, out, err = run(capsys, "run", str(study), "--out", str(tmp_path / "o"))
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "o").exists()


def test_filters_and_models_picked_on_the_command_line(tmp_path, capsys, ml100k_dir):
    study = tmp_path / "s.toml"
    study.write_text(STUDY.format(source=ml100k_dir).replace('[protocol]', 'min_year = 1995\n\n[protocol]')
                     .replace("seeds = [0, 1]", "seeds = [0]").replace("[export]\nk = 5\n", ""))
    code, out, err = run(capsys, "run", str(study), "--out", str(tmp_path / "a"), "--no-filters", "--top-users",
                         "300", "--only", "ease", "--json", "--quiet")
    assert code == 0, err
    board = json.loads(out)
    assert [m["label"] for m in board["models"]] == ["ease"]
    assert [f["transform"] for f in board["transforms"]] == ["top_users"] and board["users"] == 300
    code, out, err = run(capsys, "run", str(study), "--out", str(tmp_path / "b"), "--only", "ease,nope")
    assert code == 2 and "--only nope: not one of the study's models (popularity, ease)" in err
    # a label given twice runs once, and is said to (it was merged without a word), with the
    # figures as what --only left out is said; a label of no model is refused first
    code, out, err = run(capsys, "run", str(study), "--out", str(tmp_path / "c"), "--no-filters", "--top-users",
                         "300", "--only", "ease,ease", "--json", "-q")
    board = json.loads(out)
    assert code == 0 and [m["label"] for m in board["models"]] == ["ease"], err
    assert "--only ease given more than once; each runs once" in board["notes"]
    code, out, err = run(capsys, "run", str(study), "--out", str(tmp_path / "d"), "--only", "nope,nope")
    assert code == 2 and err.startswith("cinerec: error: --only nope: not one of"), err
    code, out, err = run(capsys, "run", str(study), "--out", str(tmp_path / "b"), "--top-users", "0")
    assert code == 2 and "--top-users" in err and not (tmp_path / "b").exists()


def test_a_setting_the_fit_chooses_is_recorded_as_chosen(tmp_path, capsys, ml100k_dir):
    """two-stage's mix = "auto" is searched at fit time; the run records the weight it used."""
    study = tmp_path / "s.toml"
    study.write_text(f"""\
[data]
source = "{ml100k_dir}"

[protocol]
name = "loo-sampled"
seeds = [0]

[models.two-stage]
retriever = "ease"
ranker = "als"
candidates = 50
ranker_settings = {{ factors = 8, epochs = 3 }}
""")
    code, out, err = run(capsys, "run", str(study), "--out", str(tmp_path / "o"), "--json", "--quiet")
    assert code == 0, err
    used = read_json(tmp_path / "o" / "settings.json")["two-stage"]
    chosen = used["per_seed"]["0"]["mix"]
    assert isinstance(chosen, float) and 0.0 <= chosen <= 1.0 and used["refit"]["mix"] == chosen


def test_a_study_of_ones_own_log_with_its_catalogue(tmp_path, capsys, ml100k_dir):
    """A text-id log with its own column names and a movie file: titles reach the run and its store."""
    rng = np.random.default_rng(0)
    rows = ["who,sku,stars,when"]
    for u in range(40):
        for m in rng.choice(60, size=12, replace=False):
            rows.append(f"p{u},film-{m},{rng.integers(1, 6)},{1_600_000_000 + int(rng.integers(0, 10**6))}")
    (tmp_path / "log.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "items.csv").write_text("id,title,genres\n" + "".join(
        f"film-{m},Film {m} ({1990 + m % 20}),Drama\n" for m in range(60)))
    study = tmp_path / "mine.toml"
    study.write_text(f"""\
[data]
source = "{tmp_path / 'log.csv'}"
columns = {{user = "who", item = "sku", rating = "stars", time = "when"}}
catalog = "{tmp_path / 'items.csv'}"
kcore = 3

[protocol]
name = "loo-sampled"
n_negatives = 20

[models.itemknn]

[export]
k = 5
""")
    code, out, err = run(capsys, "run", str(study), "--out", str(tmp_path / "r"), "--json", "--quiet")
    assert code == 0, err
    meta = read_json(tmp_path / "r" / "run.json")
    assert json.loads(out)["dataset"] == meta["dataset"]  # (as train's and evaluate's --json give it)
    assert meta["dataset"]["columns"] == {"user": "who", "item": "sku", "rating": "stars", "time": "when"}
    assert meta["dataset"]["catalog"] == str(tmp_path / "items.csv") and meta["dataset"]["format"] == "log"
    assert meta["dataset"]["source_path"] == str((tmp_path / "log.csv").resolve())
    assert meta["dataset"]["catalog_path"] == str((tmp_path / "items.csv").resolve())
    assert [t["transform"] for t in meta["dataset"]["transforms"]] == ["kcore"]
    code, out, err = run(capsys, "recommend", "--run", str(tmp_path / "r"), "--user", "p3", "-k", "3", "--json")
    assert code == 0, err
    titles = [r["title"] for r in json.loads(out)["recommendations"]]
    assert len(titles) == 3 and all(t.startswith("Film ") for t in titles)
    # Without its columns the same file is refused in one line, and nothing is left behind.
    plain = tmp_path / "plain.toml"
    plain.write_text(study.read_text().replace('columns = {user = "who", item = "sku", rating = "stars", '
                                               'time = "when"}\n', ""))
    code, out, err = run(capsys, "run", str(plain), "--out", str(tmp_path / "s"))
    assert code == 2 and "log.csv: no user column" in err and not (tmp_path / "s").exists()
    # ... and the flags name them instead.
    code, out, err = run(capsys, "run", str(plain), "--out", str(tmp_path / "s"), "--quiet", "--json",
                         "--columns", "user=who,item=sku,rating=stars,time=when")
    assert code == 0, err
    # Run on a release with --data, the file's columns and catalog (its own log's) are left
    # out, said so: they were refused, and only editing the file could run the study.
    code, out, err = run(capsys, "run", str(study), "--out", str(tmp_path / "on-release"), "--data", str(ml100k_dir))
    assert code == 0, err
    assert (f"note: {study} [data] columns and catalog are for a log of your own; --data {ml100k_dir} is a "
            "MovieLens release, which names its own columns and movies, so the file's are left out") in err
    meta = read_json(tmp_path / "on-release" / "run.json")
    assert meta["dataset"]["release"] == "ml-100k" and meta["dataset"]["columns"] is None
    # Columns given on the command line with a release are still refused: they were asked for.
    code, out, err = run(capsys, "run", str(study), "--out", str(tmp_path / "t"), "--data", str(ml100k_dir),
                         "--columns", "user=who")
    assert code == 2 and "is a MovieLens release" in err and not (tmp_path / "t").exists()


def test_the_runs_leaderboard_frame_keeps_the_studys_order(finished):
    from cinerec.runs import open_run

    code, _, out = finished
    assert code == 0
    board = read_json(out / "leaderboard.json")
    frame = open_run(out).leaderboard()
    assert frame.index.tolist() == [row["label"] for row in board["models"]]
    assert frame.index[0] == board["best_model"]


@pytest.mark.parametrize("fold, reference", [("u2", "rmse"), ("all", "rmse_u1")])
def test_a_ratings_fold_study_names_its_fold(tmp_path, capsys, ml100k_dir, fold, reference):
    # Runs on u1, u2 and all were labelled alike ("ratings-fold"); fold = "all" also refused
    # a reference on one fold's figure (rmse_u1), which it measures.
    study = tmp_path / "fold.toml"
    study.write_text(f'[data]\nsource = "ml-100k"\n[protocol]\nname = "ratings-fold"\nfold = "{fold}"\n'
                     f'[models.baseline]\n[reference]\nmetric = "{reference}"\nvalue = 0.95\n')
    code, out, err = run(capsys, "run", str(study), "--out", str(tmp_path / "out"), "--data", str(ml100k_dir))
    assert code == 0, err
    assert f"protocol: ratings-fold (fold={fold})" in out
    for name in ("leaderboard.json", "run.json"):
        assert read_json(tmp_path / "out" / name)["protocol_options"] == {"fold": fold}
    report = (tmp_path / "out" / "report.md").read_text()
    assert f"fold={fold}" in report and "vs best" in report
    from cinerec.runs import open_run

    assert open_run(tmp_path / "out").leaderboard()["protocol"].iloc[0] == f"ratings-fold (fold={fold})"


def test_a_flag_at_fault_is_named_as_the_flag_not_as_the_file(tmp_path, capsys):
    study = tmp_path / "s.toml"
    study.write_text('[data]\nsource = "ml-100k"\n[protocol]\nname = "ratings-random"\n[models.baseline]\n')
    code, _, err = run(capsys, "run", str(study), "--out", str(tmp_path / "o"), "--implicit")
    assert code == 2 and "and --implicit (given on the command line) makes every rating a plain event" in err
    study.write_text('[data]\nsource = "ml-100k"\nimplicit = true\n[protocol]\nname = "ratings-random"\n[models.baseline]\n')
    code, _, err = run(capsys, "run", str(study), "--out", str(tmp_path / "o"))
    assert code == 2 and "and implicit = true makes every rating a plain event" in err


def test_only_rows_the_files_tune_does_not_search_run_with_a_note(tmp_path, capsys, ml100k_dir):
    study = tmp_path / "s.toml"
    study.write_text(STUDY.format(source=ml100k_dir).replace("seeds = [0, 1]", "seeds = [0]")
                     .replace("[export]\nk = 5\n", "[tune]\ntrials = 2\nmodels = [\"ease\"]\n"))
    code, out, err = run(capsys, "run", str(study), "--out", str(tmp_path / "o"), "--only", "popularity")
    assert code == 0, err
    assert "note: [tune] searches none of the models --only keeps (popularity); they run with their settings" in err
    # Without --only: the note spoke of --only all the same. Two EASE tables that set
    # everything EASE searches, each otherwise, leave [tune] nothing to search.
    study.write_text(STUDY.format(source=ml100k_dir).replace("seeds = [0, 1]", "seeds = [0]")
                     .replace("[export]\nk = 5\n", "[models.ease-b]\nmodel = \"ease\"\nregularization = 900\n"
                              "recency_half_life = 0.5\n[tune]\ntrials = 2\n")
                     .replace("regularization = 300\n", "regularization = 300\nrecency_half_life = 0.2\n"))
    code, out, err = run(capsys, "run", str(study), "--out", str(tmp_path / "o2"))
    assert code == 0, err
    assert "note: [tune] searches none of the study's models (popularity, ease, ease-b); they run with their " \
           "settings" in err
    code, out, err = run(capsys, "run", str(study), "--out", str(tmp_path / "o3"), "--only", "ease", "--tune", "2")
    assert code == 2 and "their tables set every setting searched, each otherwise than another table of its model" \
        in err
    # --tune without --only, searching nothing, is refused alike (a note named a [tune] the
    # file's search was then given by the flag).
    code, out, err = run(capsys, "run", str(study), "--out", str(tmp_path / "o4"), "--tune", "2")
    assert code == 2 and "--tune 2 searches none of the study's models (they have no settings to search" in err, err
    assert not (tmp_path / "o4").exists()


def test_features_a_log_cannot_give_are_refused_before_any_model_trains(tmp_path, capsys):
    log = tmp_path / "log.csv"
    log.write_text("user,item,rating\n" + "".join(f"u{u},m{(u * 7 + i) % 40},{1 + (u + i) % 5}\n"
                                                  for u in range(30) for i in range(12)))
    study = tmp_path / "s.toml"
    study.write_text(f'[data]\nsource = "{log}"\n[protocol]\nname = "ratings-random"\n[models.baseline]\n'
                     '[models.feat]\nmodel = "mlp-rating"\nfeatures = true\n')
    code, _, err = run(capsys, "run", str(study), "--out", str(tmp_path / "o"))
    assert code == 2 and f"{study}:8: [models.feat] features: mlp-rating: features = true, but '{log}' has no" in err
    assert "baseline seed" not in err and not (tmp_path / "o").exists()
    # A stage's or a member's features: refused before the models train too (they were
    # refused once the stage was fitted), at the key in its nested table.
    nested = tmp_path / "nested.toml"
    nested.write_text(f'[data]\nsource = "{log}"\n[protocol]\nname = "ratings-random"\n[models.baseline]\n'
                      '[models.b]\nmodel = "blend"\nmembers = ["mlp-rating", "baseline"]\n'
                      '[models.b.settings.mlp-rating]\nepochs = 1\nfeatures = true\n')
    code, _, err = run(capsys, "run", str(nested), "--out", str(tmp_path / "o"))
    assert code == 2 and f"cinerec: error: {nested}:11: [models.b.settings.mlp-rating] features: " in err, err
    assert err.strip().endswith("set settings.mlp-rating.features = false") and "baseline seed" not in err
    # A log without stars: the protocol's refusal, which every model meets, comes first
    # (it was the features', and dropping that model only led to the protocol's).
    (tmp_path / "plain.csv").write_text("user,item\n" + "".join(f"u{u},m{(u * 7 + i) % 40}\n"
                                                                for u in range(30) for i in range(12)))
    code, _, err = run(capsys, "run", str(study), "--out", str(tmp_path / "o"), "--data", str(tmp_path / "plain.csv"))
    assert code == 2 and f"{study}:4: [protocol] name: protocol ratings-random measures predicted stars, but " in err, err


def test_a_source_of_the_wrong_kind_is_named_where_it_was_given(tmp_path, capsys, ml100k_dir):
    # The reader's message came alone, with neither the study file nor its key, and
    # advised a flag (--columns) where the file's key is the fix.
    (tmp_path / "weird.csv").write_text("a,b\n1,2\n")
    (tmp_path / "notes.md").write_text("x\n")
    study = tmp_path / "s.toml"
    for source, needle in ((tmp_path / "notes.md", "notes.md: not a folder, a zip file or a ratings log"),
                           (tmp_path / "weird.csv", 'no user column (looked for user, userid, user_id, uid; name it with '
                                                    '[data] columns = "user=NAME"')):
        study.write_text(f'[data]\nsource = "{source}"\n[protocol]\nname = "loo-sampled"\n[models.popularity]\n')
        code, _, err = run(capsys, "run", str(study), "--out", str(tmp_path / "out"))
        assert code == 2 and err.startswith(f"cinerec: error: {study}:2: [data] source: ") and needle in err, err
    code, _, err = run(capsys, "run", str(study), "--out", str(tmp_path / "out"), "--data", str(tmp_path / "notes.md"))
    assert code == 2 and err.startswith("cinerec: error: --data: ") and "notes.md: not a folder" in err
    assert not (tmp_path / "out").exists()
    # A byte-order mark first (Notepad's) was "not valid TOML (Invalid statement, column 1)".
    study.write_text(f'\ufeff[data]\nsource = "{ml100k_dir}"\ntop_movies = 300\n[protocol]\nname = "loo-sampled"\n'
                     'seeds = [0]\nn_negatives = 20\n[models.popularity]\n', encoding="utf-8")
    code, _, err = run(capsys, "run", str(study), "--out", str(tmp_path / "out"), "--quiet")
    assert code == 0, err


def test_a_study_over_every_official_fold_compares_each_model_with_the_best_fold_by_fold(tmp_path, capsys, ml100k_dir):
    # fold = "all" had no paired comparison ("-") and its table dropped ndcg@5 for mae_u1...
    study = tmp_path / "folds.toml"
    study.write_text('[data]\nsource = "ml-100k"\n[protocol]\nname = "ratings-fold"\nfold = "all"\n'
                     '[models.baseline]\n[models.mf]\nepochs = 2\n')
    code, out, err = run(capsys, "run", str(study), "--out", str(tmp_path / "out"), "--data", str(ml100k_dir))
    assert code == 0, err
    board = read_json(tmp_path / "out" / "leaderboard.json")
    best, other = board["models"]
    assert best["vs_best"] is None and other["vs_best"] is not None
    # The difference is the figure's own: the mean over folds of the two models' RMSE gap.
    gap = np.mean([other["metrics"][f"rmse_u{i}"]["mean"] - best["metrics"][f"rmse_u{i}"]["mean"] for i in range(1, 6)])
    assert other["vs_best"]["diff"] == pytest.approx(gap, abs=1e-9)
    assert other["vs_best"]["diff"] == pytest.approx(other["metrics"]["rmse"]["mean"] - best["metrics"]["rmse"]["mean"])
    assert other["vs_best"]["n"] == sum(len(np.unique(u)) for u in _fold_test_users(ml100k_dir))
    header = next(line for line in out.splitlines() if line.lstrip().startswith("model"))
    for column in ("rmse", "mae", "ndcg@5", "ndcg@10", "rmse_u1", "rmse_u5"):
        assert column in header.split()
    assert "mae_u1" not in header and "ndcg@10_u1" not in header  # kept in leaderboard.json
    assert "mae_u1" in best["metrics"]
    report = (tmp_path / "out" / "report.md").read_text()
    assert "(mean over seeds and folds)" in report


def _fold_test_users(folder):
    for i in range(1, 6):
        yield np.loadtxt(folder / f"u{i}.test", dtype=np.int64, usecols=0)


def test_a_study_measuring_no_k_of_10_shows_its_own_ks_figures_as_it_goes(tmp_path, capsys, ml100k_dir):
    # The per-seed lines read "ease seed 0:  (fit 0.3 s)": they looked for @10 only.
    study = tmp_path / "ks.toml"
    study.write_text('[data]\nsource = "ml-100k"\n[protocol]\nname = "loo-sampled"\nks = [1, 5]\n[models.popularity]\n')
    code, out, err = run(capsys, "run", str(study), "--out", str(tmp_path / "out"), "--data", str(ml100k_dir))
    assert code == 0, err
    line = next(x for x in (out + err).splitlines() if x.startswith("popularity seed 0:"))
    assert "hr@5 0." in line and "ndcg@5 0." in line


def test_a_fault_in_the_catalogue_or_a_column_name_is_blamed_on_its_own_key_or_flag(tmp_path, capsys, monkeypatch):
    # Every fault found while reading the data was said to be [data] source's (or --data's):
    # a bad year in the movie file, or a column name the log does not have.
    rng = np.random.default_rng(0)
    rows = ["user,item,rating,timestamp"] + [f"p{u},m{m},{rng.integers(1, 6)},{1_600_000_000 + 10 * u + k}"
                                             for u in range(30) for k, m in enumerate(rng.choice(40, 10, replace=False))]
    (tmp_path / "log.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "bad.csv").write_text("item,title,year\nm1,Foo,abc\n")
    (tmp_path / "good.csv").write_text("item,title\nm1,Foo\n")
    study = tmp_path / "s.toml"
    study.write_text(f'[data]\nsource = "{tmp_path / "log.csv"}"\ncatalog = "{tmp_path / "bad.csv"}"\n'
                     '[protocol]\nname = "loo-full"\n[models.popularity]\n')
    said = f"{tmp_path / 'bad.csv'} line 2: year 'abc' is not a whole number"
    code, out, err = run(capsys, "run", str(study), "--out", str(tmp_path / "r"))
    assert code == 2 and err == f"cinerec: error: {study}:3: [data] catalog: {said}\n", err
    code, out, err = run(capsys, "run", str(study), "--out", str(tmp_path / "r"), "--data", str(tmp_path / "log.csv"))
    assert code == 2 and err == f"cinerec: error: {study}:3: [data] catalog: {said}\n", err
    good = tmp_path / "g.toml"
    good.write_text(study.read_text().replace("bad.csv", "good.csv"))
    code, out, err = run(capsys, "run", str(good), "--out", str(tmp_path / "r"), "--catalog", str(tmp_path / "bad.csv"))
    assert code == 2 and err == f"cinerec: error: {good}: --catalog (given on the command line): {said}\n", err
    # Run, its report names the catalogue beside the log (it named the log alone).
    code, out, err = run(capsys, "run", str(good), "--out", str(tmp_path / "ok"), "--quiet")
    assert code == 0, err
    assert f"Data: `{tmp_path / 'log.csv'}` with the catalogue `{tmp_path / 'good.csv'}`: " in \
        (tmp_path / "ok" / "report.md").read_text()
    named = tmp_path / "c.toml"
    named.write_text(good.read_text().replace("[protocol]", 'columns = {user = "who"}\n[protocol]'))
    code, out, err = run(capsys, "run", str(named), "--out", str(tmp_path / "r"))
    assert code == 2 and err.startswith(f"cinerec: error: {named}:4: [data] columns: {tmp_path / 'log.csv'}: no column "
                                        "'who' for the user"), err
    code, out, err = run(capsys, "run", str(good), "--out", str(tmp_path / "r"), "--columns", "user=who")
    assert code == 2 and err.startswith(f"cinerec: error: {good}: --columns (given on the command line): "), err
    # The file's path as the reader names it (./ dropped, ~ expanded) is the catalogue's too,
    # and a source whose name starts with the catalogue's is still the source.
    monkeypatch.chdir(tmp_path)
    dotted = tmp_path / "d.toml"
    dotted.write_text(study.read_text().replace(f'"{tmp_path / "bad.csv"}"', '"./bad.csv"'))
    code, out, err = run(capsys, "run", str(dotted), "--out", str(tmp_path / "r"))
    assert code == 2 and err.startswith(f"cinerec: error: {dotted}:3: [data] catalog: bad.csv line 2: "), err
    (tmp_path / "bad.csv_log.csv").write_text("user,item,rating\np1,m1,x\n")
    prefix = tmp_path / "p.toml"
    prefix.write_text(dotted.read_text().replace(f'"{tmp_path / "log.csv"}"', '"bad.csv_log.csv"'))
    code, out, err = run(capsys, "run", str(prefix), "--out", str(tmp_path / "r"))
    assert code == 2 and err.startswith(f"cinerec: error: {prefix}:2: [data] source: bad.csv_log.csv line 2: "), err
    assert not (tmp_path / "r").exists()


def test_export_asking_more_than_the_filtered_catalogue_says_so(tmp_path, capsys, ml100k_dir):
    """Lists and shortlists longer than the catalogue are cut to it; that was done in
    silence, so a study asking top-15 of 12 movies read as if it had them."""
    study = tmp_path / "s.toml"
    study.write_text(f'[data]\nsource = "{ml100k_dir}"\ntop_movies = 12\n[protocol]\nname = "ratings-random"\n'
                     'seeds = [0]\n[models.baseline]\n[models.biasedmf]\nepochs = 2\n'
                     '[export]\nk = 15\n[export.two_stage]\nretriever = "popularity"\ncandidates = 20\n')
    code, _, err = run(capsys, "run", str(study), "--out", str(tmp_path / "o"))
    assert code == 0, err
    said = err + _
    assert "note: [export] k = 15 is more than the 12 movies of the data: each list holds at most 12" in said
    assert "note: [export.two_stage] candidates = 20 is more than the 12 movies of the data" in said
    assert said.count("note: [export] k = 15") == 1  # (said at the start and again under the table)
    # Kept with the figures too: they went to stderr alone, so --json and -q lost them.
    board = json.loads((tmp_path / "o" / "leaderboard.json").read_text())
    assert any(n.startswith("[export] k = 15 is more than the 12 movies") for n in board["notes"])
    assert "**Note:** [export] k = 15 is more than the 12 movies" in (tmp_path / "o" / "report.md").read_text()
    code, out, err = run(capsys, "run", str(study), "--out", str(tmp_path / "o2"), "-q", "--json")
    assert code == 0 and err == "", err
    assert any(n.startswith("[export.two_stage] candidates = 20") for n in json.loads(out)["notes"])
    code, _, err = run(capsys, "export", "--run", str(tmp_path / "o"), "--db", str(tmp_path / "x.sqlite"), "-k", "30",
                       "--run-model", "baseline")
    assert code == 0, err
    assert "note: -k 30 is more than the 12 movies of the run: each list holds at most 12" in err
    assert "users rated every one, so their lists are empty)" in err  # (the few who rated all 12)
    # Within the catalogue, users who rated all but a few get shorter lists: said, with how many
    # ("top-12 of 940 users" read as if every list held 12, where none did).
    code, out, err = run(capsys, "export", "--run", str(tmp_path / "o"), "--db", str(tmp_path / "x.sqlite"), "-k", "12",
                         "--run-model", "baseline", "--json")
    assert code == 0, err
    got = json.loads(out)
    import sqlite3

    with sqlite3.connect(tmp_path / "x.sqlite") as db:
        lengths = dict(db.execute("SELECT user, COUNT(*) FROM recommendations GROUP BY user").fetchall())
    short = sum(1 for u in range(got["n_users"]) if lengths.get(u, 0) < 12)
    empty = got["n_users"] - len(lengths)
    assert got["short_lists"] == short and got["empty_lists"] == empty and short > 0
    assert f"note: {short:,} of the {got['n_users']:,} users have fewer than 12 movies they did not rate, so their " \
           f"lists are shorter ({empty:,} with none)" in err
    code, out, err = run(capsys, "export", "--run", str(tmp_path / "o"), "--db", str(tmp_path / "x.sqlite"), "-k", "1",
                         "--run-model", "baseline", "--json")
    assert code == 0 and json.loads(out)["short_lists"] == empty > 0
    assert f"note: {empty:,} of the {got['n_users']:,} users rated every movie of the run, so their lists are empty" in err


def test_the_studys_figure_is_set_beside_a_model_that_gives_its_metric(tmp_path, capsys, ml100k_dir):
    """The best row (by RMSE) gives no AUC; the line said 'not measured by this protocol'
    while the liked-or-not row beside it had one."""
    study = tmp_path / "s.toml"
    study.write_text(f'[data]\nsource = "{ml100k_dir}"\ntop_users = 100\n[protocol]\nname = "ratings-random"\n'
                     'seeds = [0]\n[models.baseline]\n[models.mf-liked]\nmodel = "mf"\nloss = "bce"\n'
                     'target = "liked"\nepochs = 2\n[reference]\nmetric = "auc"\nvalue = 0.8\n')
    code, out, err = run(capsys, "run", str(study), "--out", str(tmp_path / "o"), "--quiet")
    assert code == 0, err
    board = read_json(tmp_path / "o" / "leaderboard.json")
    auc = next(r for r in board["models"] if r["label"] == "mf-liked")["metrics"]["auc"]["mean"]
    assert board["best_model"] == "baseline"
    assert f"the study: auc 0.8; ours (mf-liked, the best giving auc): {auc:.4f}" in out


def test_liked_or_not_rows_ranked_by_auc_say_why_they_have_no_paired_comparison(tmp_path, capsys, ml100k_dir):
    """AUC is measured over all test ratings at once, so no row is compared with the best
    person by person; the report said it was (its words for a per-user figure)."""
    study = tmp_path / "s.toml"
    liked = 'loss = "bce"\ntarget = "liked"\nepochs = 2\nfactors = 4\n'
    study.write_text(f'[data]\nsource = "{ml100k_dir}"\ntop_users = 100\n[protocol]\nname = "ratings-random"\n'
                     f'seeds = [0]\n[models.mf-liked]\nmodel = "mf"\n{liked}[models.bmf-liked]\nmodel = "biasedmf"\n{liked}')
    code, out, err = run(capsys, "run", str(study), "--out", str(tmp_path / "o"), "--quiet")
    assert code == 0, err
    board = read_json(tmp_path / "o" / "leaderboard.json")
    assert board["metric"] == "auc" and all(r["vs_best"] is None for r in board["models"])
    text = (tmp_path / "o" / "report.md").read_text()
    assert "per-user auc" not in text
    assert ("*vs best*: none: auc is measured over all test ratings at once, not person by person, so no model is "
            "compared with the best paired over users.") in text


def test_a_figure_no_one_could_be_measured_by_shows_n_a_with_the_reason(tmp_path, capsys):
    # Each person gives every movie the same stars: NDCG of stars has no order to judge.
    rng = np.random.default_rng(1)
    rows = ["user,item,rating,ts"]
    for u in range(50):
        rows += [f"u{u},m{m},{3 if u % 2 else 5},{u * 100 + int(m)}" for m in rng.choice(70, size=20, replace=False)]
    (tmp_path / "log.csv").write_text("\n".join(rows) + "\n")
    study = tmp_path / "same.toml"
    study.write_text(f'[data]\nsource = "{tmp_path / "log.csv"}"\n[protocol]\nname = "ratings-random"\n'
                     "seeds = [0, 1]\n[models.baseline]\n")
    code, out, err = run(capsys, "run", str(study), "--out", str(tmp_path / "r"), "--quiet")
    assert code == 0, err
    note = ("n/a: in some seed no one in the test part could be measured by ndcg@5, ndcg@10 (NDCG of stars "
            "counts only people whose test ratings differ in stars)")
    assert "nan" not in out and " n/a " in out and note in out
    assert note in (tmp_path / "r" / "report.md").read_text()
    code, out, err = run(capsys, "evaluate", "--data", str(tmp_path / "log.csv"), "--model", "baseline",
                         "--protocol", "ratings-random", "--quiet")
    assert code == 0 and "nan" not in out and note.replace("in some seed ", "") in out


def test_faults_found_once_the_data_is_read_name_the_study_files_own_keys(tmp_path, capsys, ml100k_dir):
    # An inline [data] table was taken for flags ("--min-year (given on the command line)")
    # and its bad values lost their line; a filter set in the file was named as a flag in
    # the advice; a size a model refuses at fit time named neither the file nor the table,
    # and came only after the models before it had trained.
    def refused(text: str) -> str:
        study = tmp_path / "s.toml"
        study.write_text(text)
        code, out, err = run(capsys, "run", str(study), "--out", str(tmp_path / "out"), "--quiet")
        assert code == 2 and out == "" and len(err.strip().splitlines()) == 1, err
        assert not (tmp_path / "out").exists()
        return err.removeprefix("cinerec: error: ").replace(str(study), "FILE")

    tail = '[protocol]\nname = "loo-sampled"\nseeds = [0]\n[models.popularity]\n'
    err = refused(f'data = {{source = "{ml100k_dir}", min_year = 2010}}\n' + tail)
    assert err.startswith("FILE:1: [data] min_year = 2010 leaves no ratings"), err
    err = refused(f'data = {{source = "{ml100k_dir}", implicit = true}}\n'
                  '[protocol]\nname = "ratings-random"\n[models.baseline]\n')
    assert "implicit = true makes every rating a plain event" in err and "command line" not in err, err
    err = refused(f'data = {{source = "{ml100k_dir}", top_users = -1}}\n' + tail)
    assert err.startswith("FILE:1: [data]: top_users = -1"), err
    err = refused(f'[data]\nsource = "{ml100k_dir}"\ntop_users = 20\n'
                  '[protocol]\nname = "loo-sampled"\nn_negatives = 900\nseeds = [0]\n[models.popularity]\n')
    assert "a larger top_users under [data]" in err and "--top-users" not in err, err
    err = refused(f'[data]\nsource = "{ml100k_dir}"\ntop_movies = 300\n' + tail
                  + '[models.ease-big]\nmodel = "ease"\nmax_items = 100\n')
    assert err.startswith("FILE:8: [models.ease-big]: ease: 300 movies exceed max_items=100"), err


def test_the_refit_trains_for_the_epoch_early_stopping_chose(tmp_path, ml100k_dir, capsys):
    # Measured, biasedmf stopped early on its validation part; refitted with none, it trained
    # every epoch of its setting: the saved model was not the one measured.
    study = tmp_path / "s.toml"
    study.write_text(f'[data]\nsource = "{ml100k_dir}"\ntop_users = 150\ntop_movies = 300\n'
                     '[protocol]\nname = "ratings-random"\n'
                     '[models.biasedmf]\nepochs = 40\npatience = 2\nlr = 0.05\nfactors = 8\nbatch_size = 512\n')
    out = tmp_path / "out"
    assert main(["run", str(study), "--out", str(out), "-q"]) == 0
    capsys.readouterr()
    board = read_json(out / "leaderboard.json")
    kept = board["refit_epochs"]
    assert 1 <= kept < 40
    used = read_json(out / "settings.json")["biasedmf"]
    assert used["refit"]["epochs"] == kept and used["kept_epochs"] == {"0": kept}  # per_seed's epochs: 40, the most
    assert len(read_json(out / "models" / "biasedmf" / "history.json")) == kept
    assert f"refitted on all the data for {kept} epochs" in (out / "report.md").read_text()


def test_features_on_data_without_demographics_are_said_to_be_the_movies_alone(tmp_path, capsys):
    # mlp-rating with features = true read the movies' genres and years alone, and nothing said so.
    log, movies = tmp_path / "log.csv", tmp_path / "movies.csv"
    log.write_text("user,item,rating\n" + "\n".join(f"u{u},m{i},{(u * 3 + i) % 5 + 1}" for u in range(30)
                                                    for i in range(12) if (u + i) % 3) + "\n")
    movies.write_text("id,title,genres\n" + "\n".join(f"m{i},Film {i} (199{i % 10}),{'Drama' if i % 2 else 'Comedy'}"
                                                      for i in range(12)) + "\n")
    study = tmp_path / "s.toml"
    study.write_text(f'[data]\nsource = "{log}"\ncatalog = "{movies}"\n[protocol]\nname = "ratings-random"\n'
                     '[models.mlp-features]\nmodel = "mlp-rating"\nfeatures = true\nepochs = 1\n')
    assert main(["run", str(study), "--out", str(tmp_path / "out"), "-q"]) == 0
    said = ("mlp-features: features = true, but the data has no user demographics (age, gender, occupation, zip "
            "code), so it read the users' ids only; of the movies it read genres and release years")
    assert f"note: {said}" in capsys.readouterr().out
    assert f"**Note:** {said}." in (tmp_path / "out" / "report.md").read_text()


@pytest.mark.parametrize("tail, where", [
    # the export's retriever: refused once every model had run and the best was refitted, and not named
    ('[export]\nk = 5\n[export.two_stage]\nretriever = "als"\ncandidates = 40\n'
     '[export.two_stage.retriever_settings]\nindex = "ivf"\nindex_nlist = 500\n',
     ":14: [export.two_stage.retriever_settings] index_nlist = 500: at most 43 IVF cells"),
    # a model's own table: refused only when its turn came, after the models before it
    ('[models.als-ivf]\nmodel = "als"\nindex = "ivf"\nindex_nlist = 500\n',
     ":10: [models.als-ivf] index_nlist = 500: at most 43 IVF cells"),
])
def test_an_index_the_data_cannot_fill_is_refused_before_any_model_runs(tmp_path, capsys, ml100k_dir, tail, where):
    study = tmp_path / "s.toml"
    study.write_text(f'[data]\nsource = "{ml100k_dir}"\n[protocol]\nname = "loo-sampled"\nseeds = [0]\n'
                     f'[models.popularity]\n{tail}')
    code, out, err = run(capsys, "run", str(study), "--out", str(tmp_path / "out"))
    assert code == 2 and f"{study}{where}" in err, err  # (at the key's line: it was the table's)
    assert "popularity seed 0" not in err + out and not (tmp_path / "out").exists()
    if "export" in tail:  # and the same asked of evaluate names the stage's settings
        code, _, err = run(capsys, "evaluate", "--data", str(ml100k_dir), "--model", "two-stage", "-q",
                           "--set", 'retriever_settings={index="ivf", index_nlist=500}')
        assert code == 2 and "retriever_settings: index_nlist = 500: at most 43" in err, err


def test_a_study_s_model_below_popularity_is_said_whether_or_not_the_study_runs_popularity(tmp_path, capsys, ml100k_dir):
    # evaluate, train and quickstart said so; a study's report did not.
    study = tmp_path / "s.toml"
    base = (f'[data]\nsource = "{ml100k_dir}"\n[protocol]\nname = "loo-sampled"\nseeds = [0, 1]\n'
            '[models.knn1]\nmodel = "itemknn"\nneighbors = 1\n[models.ease]\n')
    for extra in ("", "[models.popularity]\n"):
        study.write_text(base + extra)
        out = tmp_path / f"o{len(extra)}"
        code, printed, err = run(capsys, "run", str(study), "--out", str(out), "--quiet")
        assert code == 0, err
        board = read_json(out / "leaderboard.json")
        rows = {r["label"]: r["metrics"]["hr@10"]["mean"] for r in board["models"]}
        floor = rows.get("popularity")
        [line] = board["below_popularity"]
        assert line.startswith(f"knn1: hr@10 {rows['knn1']:.4f} is below popularity's ")
        assert line.endswith(" under loo-sampled (the mean over 2 seeds)")
        if floor is not None:  # the study's own popularity row is the floor
            assert f"popularity's {floor:.4f}" in line
        assert f"note: {line}" in printed and f"**Below popularity:** {line}." in (out / "report.md").read_text()
        # once, under its own key and label, as train's and quickstart's (it was in notes too)
        assert line not in board["notes"] and f"**Note:** {line}." not in (out / "report.md").read_text()
        assert read_json(out / "run.json")["below_popularity"] == [line]
        # and a notebook's leaderboard keeps it beside the figures (its notes were empty)
        from cinerec.runs import open_run

        assert open_run(out).leaderboard().attrs["notes"] == [line]


def test_a_model_that_diverges_in_a_study_is_named_by_its_table(tmp_path, capsys, ml100k_dir):
    # It said "biasedmf: training diverged ...", naming neither the table nor its line: two
    # tables may hold one model with other settings.
    study = tmp_path / "s.toml"
    study.write_text(f'[data]\nsource = "{ml100k_dir}"\n[protocol]\nname = "ratings-fold"\nfold = "u1"\nseeds = [0]\n'
                     '[models.baseline]\n[models.hot]\nmodel = "biasedmf"\nepochs = 2\nlr = 1e8\npatience = 0\n')
    code, _, err = run(capsys, "run", str(study), "--out", str(tmp_path / "o"), "--quiet")
    assert code == 2 and not (tmp_path / "o").exists()
    assert err.startswith(f"cinerec: error: {study}:8: [models.hot]: biasedmf: training diverged"), err


def test_a_studys_export_says_how_many_lists_come_out_short(tmp_path, capsys, ml100k_dir):
    study = tmp_path / "s.toml"
    study.write_text(f'[data]\nsource = "{ml100k_dir}"\ntop_movies = 40\n[protocol]\nname = "loo-full"\nks = [5]\n'
                     'seeds = [0]\n[models.popularity]\n[export]\nk = 30\n')
    code, out, err = run(capsys, "run", str(study), "--out", str(tmp_path / "o"))
    assert code == 0, err
    import sqlite3

    with sqlite3.connect(tmp_path / "o" / "store.sqlite") as db:
        n_users = int(db.execute("SELECT value FROM meta WHERE key = 'n_users'").fetchone()[0])
        lengths = dict(db.execute("SELECT user, COUNT(*) FROM recommendations GROUP BY user").fetchall())
    short = sum(1 for u in range(n_users) if lengths.get(u, 0) < 30)
    assert short > 0
    # (under the figures, with the other notes)
    assert f"note: [export] k = 30: {short:,} of the {n_users:,} users have fewer than 30 movies they did not rate" in out


def test_a_study_names_a_rating_model_worse_than_the_training_mean_once_by_its_mean_over_the_seeds(tmp_path, capsys):
    # It was named once a seed, each with that seed's figures, where a model below
    # popularity is named once, by its mean over the seeds.
    rng = np.random.default_rng(1)
    rows = ["user,item,rating"] + [f"u{u},m{m},{rng.integers(3, 6)}" for u in range(30)
                                   for m in rng.choice(60, 20, replace=False)]
    (tmp_path / "log.csv").write_text("\n".join(rows) + "\n")
    study = tmp_path / "s.toml"
    study.write_text(f'[data]\nsource = "{tmp_path / "log.csv"}"\n[protocol]\nname = "ratings-random"\nseeds = [0, 1]\n'
                     '[models.mf-small]\nmodel = "mf"\n[models.biasedmf]\n')
    code, out, err = run(capsys, "run", str(study), "--out", str(tmp_path / "r"), "--json", "-q")
    assert code == 0, err
    board = json.loads(out)
    # (and, once, not once a seed, why: its stars had not reached the ratings' level)
    assert len([n for n in board["notes"] if n.startswith("mf-small: the stars it predicts")]) == 1, board["notes"]
    said = [n for n in board["notes"] if n.startswith("mf-small: rmse")]
    assert len(said) == 1 and said[0].endswith(
        "under ratings-random (the mean over 2 seeds): it has not learned even the data's level"), said
    row = next(m for m in board["models"] if m["label"] == "mf-small")
    assert f"rmse {row['metrics']['rmse']['mean']:.4f} is worse" in said[0]
    assert said[0] in read_json(tmp_path / "r" / "leaderboard.json")["notes"]


def test_the_study_s_figures_at_other_metrics_are_printed_beside_ours(tmp_path, capsys, ml100k_dir):
    # The two-tower study's top-50 and top-100 accuracy were words in its source string:
    # only its top-10 was set beside ours.
    study = tmp_path / "s.toml"
    study.write_text('[data]\nsource = "ml-100k"\n[protocol]\nname = "random-full"\nseeds = [0]\n'
                     '[models.popularity]\n[reference]\nmetric = "cat_acc@10"\nvalue = 0.0036\nsource = "the study"\n'
                     'also = { "cat_acc@50" = 0.074, "cat_acc@100" = 0.188 }\n')
    code, out, err = run(capsys, "run", str(study), "--out", str(tmp_path / "out"), "--data", str(ml100k_dir))
    assert code == 0, err
    board = read_json(tmp_path / "out" / "leaderboard.json")
    assert board["reference"]["also"] == {"cat_acc@50": 0.074, "cat_acc@100": 0.188}
    ours = {k: board["models"][0]["metrics"][k]["mean"] for k in ("cat_acc@10", "cat_acc@50", "cat_acc@100")}
    assert f"the study (the study): cat_acc@10 0.0036; ours (popularity, the best): {ours['cat_acc@10']:.4f}" in out
    assert f"\nthe study: cat_acc@50 0.074; ours (popularity, the best): {ours['cat_acc@50']:.4f}\n" in out
    assert f"\nthe study: cat_acc@100 0.188; ours (popularity, the best): {ours['cat_acc@100']:.4f}\n" in out
    report = (tmp_path / "out" / "report.md").read_text()
    assert "## The study's figures beside ours" in report
    assert "The study: cat_acc@10 = 0.0036, cat_acc@50 = 0.074, cat_acc@100 = 0.188 (the study)." in report
    assert "- popularity (the best): cat_acc@100 = " in report


def test_a_store_ranked_by_popularity_through_two_stages_says_so(tmp_path, capsys, ml100k_dir):
    # When popularity was the best, the store listed the retriever's shortlists in
    # popularity's order, every person's alike, under the file's "ranks by the best model".
    study = tmp_path / "s.toml"
    text = TWO_STAGE.format(source=ml100k_dir).replace("[models.als]\nfactors = 16\nepochs = 5\n", "")
    study.write_text(text.replace("candidates = 20\n", "candidates = 20\nmix = 1\n"))
    code, out, err = run(capsys, "run", str(study), "--out", str(tmp_path / "o"), "--json", "--quiet")
    assert code == 0, err
    board = json.loads(out)
    assert board["best_model"] == "popularity"
    assert "[export.two_stage]: the best model, popularity, ranks every person's shortlist alike, so the store's " \
           "lists order ease's shortlists by popularity (mix = 1)" in board["notes"]
    # Its weight chosen on the data (mix = "auto"): what the pipeline's fit says is said too.
    study.write_text(text)
    code, out, err = run(capsys, "run", str(study), "--out", str(tmp_path / "o2"), "--json", "--quiet")
    assert code == 0, err
    assert "two-stage: mix = 'auto' chose 0 on held-out training ratings, so its lists are ease's own order and " \
           "popularity changes none of them" in json.loads(out)["notes"]


def test_a_studys_store_shortlisted_through_an_approximate_index_says_so(tmp_path, capsys, ml100k_dir):
    # cinerec export of the same run said so; the study's own export, beside its figures, did not.
    study = tmp_path / "s.toml"
    study.write_text(TWO_STAGE.format(source=ml100k_dir).replace('retriever = "ease"\n', 'retriever = "als"\n')
                     + '[export.two_stage.retriever_settings]\nfactors = 8\nepochs = 2\nindex = "ivf"\n'
                       'index_nlist = 8\nindex_nprobe = 1\n')
    code, out, err = run(capsys, "run", str(study), "--out", str(tmp_path / "o"), "--json")
    assert code == 0, err
    said = ("model 'two-stage' shortlists through its retriever's approximate ivf index, which may leave out a movie "
            "exact scoring would list (retriever_settings.index = 'exact' scores every movie)")
    assert said in json.loads(out)["notes"] and f"note: {said}" in err
    assert read_json(tmp_path / "o" / "leaderboard.json")["notes"].count(said) == 1
    assert f"**Note:** {said}." in (tmp_path / "o" / "report.md").read_text()
    code, out, err = run(capsys, "export", "--run", str(tmp_path / "o"), "--db", str(tmp_path / "again.sqlite"), "-k", "5",
                         "--json")
    assert code == 0 and said in json.loads(out)["notes"], err


def test_a_k_some_seeds_left_out_is_left_out_of_the_leaderboard_not_averaged_over_fewer_seeds(tmp_path, capsys,
                                                                                            ml100k_dir):
    # On the 125 most rated movies the median user has 101 movies left on seed 0's split and
    # 100 on seed 3's: K = 100 was kept on one and left out on the other, and the board gave
    # seed 0's recall@100 as the mean over seeds 0 and 3, without a word.
    study = tmp_path / "s.toml"
    study.write_text(f'[data]\nsource = "{ml100k_dir}"\ntop_movies = 125\n[protocol]\nname = "random-full"\n'
                     'seeds = [0, 3]\n[models.popularity]\n')
    code, out, err = run(capsys, "run", str(study), "--out", str(tmp_path / "o"), "--quiet")
    assert code == 0, err
    board = read_json(tmp_path / "o" / "leaderboard.json")
    metrics = board["models"][0]["metrics"]
    assert "recall@100" not in metrics and all(len(v["values"]) == 2 for v in metrics.values())
    assert board["protocol_options"]["ks"] == [10, 50]
    said = "cat_acc@100, hr@100, ndcg@100, precision@100, recall@100 left out: measured on some of the seeds only"
    assert any(n.startswith(said) for n in board["notes"]) and f"note: {said}" in out
    # A reference at that K: ranked by the protocol's own figure (ranked by nothing, the first
    # row, popularity, was "best", refitted and saved).
    study.write_text(study.read_text().replace("[models.popularity]\n", "[models.popularity]\n[models.ease]\n")
                     + '[reference]\nmetric = "recall@100"\nvalue = 0.9\nsource = "made up"\n')
    code, out, err = run(capsys, "run", str(study), "--out", str(tmp_path / "o2"))
    assert code == 0, err
    board = read_json(tmp_path / "o2" / "leaderboard.json")
    assert board["metric"] == "recall@10" and board["best_model"] == "ease" and "recall@100" in board["left_out"]
    # Beside the study's figure: left out, not "no model of this run gives recall@100".
    assert "ours: left out, measured on some of the seeds only" in out
    assert "- ours left out: measured on some of the seeds only" in (tmp_path / "o2" / "report.md").read_text()


def test_a_k_the_data_cannot_take_is_blamed_on_the_file_s_ks(tmp_path, capsys, ml100k_dir):
    # It was blamed on [protocol] name, two lines up.
    study = tmp_path / "s.toml"
    study.write_text(f'[data]\nsource = "{ml100k_dir}"\n[protocol]\nname = "loo-full"\nks = [2000]\n'
                     '[models.popularity]\n')
    code, _, err = run(capsys, "run", str(study), "--out", str(tmp_path / "o"), "--quiet")
    assert code == 2 and err.startswith(f"cinerec: error: {study}:5: [protocol] ks: protocol loo-full: ks=[2000]: "), err


def test_a_log_study_on_the_command_line_keeps_its_catalogue_and_only_leaves_a_trace(tmp_path, capsys, ml100k_dir):
    from cinerec.runs import open_run

    rng = np.random.default_rng(0)
    rows = ["who,sku,stars,ts"] + [f"p{u},m{m},{rng.integers(1, 6)},{1_600_000_000 + 10 * u + k}"
                                   for u in range(30) for k, m in enumerate(rng.choice(40, 10, replace=False))]
    (tmp_path / "log.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "items.csv").write_text("sku,name\n" + "".join(f"m{i},Movie {i} (1999)\n" for i in range(40)))
    study = tmp_path / "s.toml"
    study.write_text(f'[data]\nsource = "{tmp_path / "log.csv"}"\ncatalog = "{tmp_path / "items.csv"}"\n'
                     'columns = {user = "who", item = "sku", rating = "stars", time = "ts"}\n'
                     '[protocol]\nname = "loo-full"\n[models.popularity]\n[models.ease]\n')
    # --columns naming a column of the file's catalogue was refused: "none is given".
    code, out, err = run(capsys, "run", str(study), "--out", str(tmp_path / "a"), "--columns", "title=name", "-q")
    assert code == 0, err
    assert open_run(tmp_path / "a").dataset.movie_record(0)["title"] == "Movie 0"
    # --only left no trace: the leaderboard read as if the file held one model.
    code, out, err = run(capsys, "run", str(study), "--out", str(tmp_path / "b"), "--only", "ease", "--json", "-q")
    assert code == 0, err
    said = "--only ease: the file's other models (popularity) were not run; the best is the best of those run"
    board = json.loads(out)
    assert board["not_run"] == ["popularity"] and said in board["notes"]
    assert read_json(tmp_path / "b" / "run.json")["study"]["not_run"] == ["popularity"]  # (the run's own record too)
    assert f"**Note:** {said}." in (tmp_path / "b" / "report.md").read_text()
    # The popularity measured as every model's floor is not the file's row: its stage was
    # named as that row's, beside the note that the row was not run.
    stages = [r["stage"] for r in board["stages"]]
    assert "popularity, the floor (seed 0)" in stages and "popularity (seed 0)" not in stages, stages
    # On a release given with --data the file's catalogue is left out, and the report named it as read.
    code, out, err = run(capsys, "run", str(study), "--out", str(tmp_path / "c"), "--data", str(ml100k_dir),
                         "--only", "popularity")
    assert code == 0 and "so the file's are left out" in err, err
    report = (tmp_path / "c" / "report.md").read_text()
    assert f"Data: `{ml100k_dir}`: 100,000 ratings (1 to 5), 943 users, 1,682 movies." in report and "items.csv" not in report


def test_min_year_after_max_year_in_a_study_file_names_the_year_line(tmp_path, capsys):
    # It named the first [data] key's line, top_users's.
    study = tmp_path / "s.toml"
    study.write_text('[data]\nsource = "ml-100k"\ntop_users = 10\nmax_year = 1990\nmin_year = 1995\n'
                     '[protocol]\nname = "loo-full"\n[models.popularity]\n')
    code, out, err = run(capsys, "run", str(study), "--out", str(tmp_path / "o"))
    assert code == 2 and err == f"cinerec: error: {study}:5: [data]: min_year = 1995 is after max_year = 1990\n", err


def test_a_study_report_keeps_its_notes_under_the_table_and_names_its_store(tmp_path, capsys, ml100k_dir):
    # Its notes ran into the "Study file" line (one paragraph once rendered), above the
    # filters and the table; and a store written by [export] went unsaid.
    study = tmp_path / "s.toml"
    study.write_text(f'[data]\nsource = "{ml100k_dir}"\ntop_users = 100\ntop_movies = 200\n[protocol]\n'
                     'name = "loo-sampled"\nn_negatives = 20\nseeds = [0]\n[models.popularity]\n[models.itemknn]\n'
                     '[export]\nk = 500\n')
    code, out, err = run(capsys, "run", str(study), "--out", str(tmp_path / "o"), "-q")
    assert code == 0, err
    text = (tmp_path / "o" / "report.md").read_text()
    board = json.loads((tmp_path / "o" / "leaderboard.json").read_text())
    assert board["notes"], board  # ([export] k = 500 is more than the 200 movies)
    lines = text.splitlines()
    table_end = next(i for i, x in enumerate(lines) if x.startswith("| "))
    while lines[table_end + 1].startswith("| "):  # the leaderboard's last row
        table_end += 1
    for note in board["notes"]:
        at = lines.index(f"**Note:** {note}.")
        assert at > table_end and lines[at - 1] == "" and lines[at + 1] == ""
    assert lines.index("- top_users=100: " + lines[lines.index(next(x for x in lines if x.startswith("- top_users")))]
                       .split(": ", 1)[1]) < table_end
    assert f"Store: `store.sqlite`, every user's top-500 from `{board['best_model']}`" in text


def test_a_split_with_no_one_to_measure_names_the_file_s_filter_in_its_words(tmp_path, capsys, ml100k_dir):
    # "keep more movies (a larger --top-movies)" for a [data] top_movies: a flag not given.
    study = tmp_path / "s.toml"
    study.write_text(f'[data]\nsource = "{ml100k_dir}"\ntop_movies = 1\n[protocol]\nname = "loo-full"\n'
                     '[models.popularity]\n')
    code, out, err = run(capsys, "run", str(study), "--out", str(tmp_path / "o"))
    assert code == 2 and err.rstrip().endswith("it needs users with at least 2 ratings: keep more movies (a larger "
                                               "top_movies under [data])"), err
    # A flag's name inside the data's path is the path's, not a filter's.
    import shutil

    odd = tmp_path / "my--kcore.d"
    shutil.copytree(ml100k_dir, odd)
    study.write_text(f'[data]\nsource = "{odd}"\ntop_users = 100\n[protocol]\nname = "ratings-fold"\n'
                     '[models.baseline]\n')
    code, out, err = run(capsys, "run", str(study), "--out", str(tmp_path / "o"))
    assert code == 2 and f"'{odd}'" in err and "under [data].d" not in err, err


def test_a_saved_retriever_is_checked_where_the_study_names_it(tmp_path, capsys, monkeypatch):
    # [export.two_stage] retriever_path was read only once every model had run: a folder
    # that was not there, a model of another kind or one fitted on other data were refused
    # without the file, line or key (and by an internal class name); a model of other
    # people with as many of them was used with their indices.
    def log(path: Path, user: str) -> Path:
        path.write_text("user,item,rating,ts\n" + "".join(f"{user}{u},m{i},{(u + i) % 5 + 1},{u * 100 + i}\n"
                                                         for u in range(30) for i in range(80) if (u * 7 + i) % 3 == 0))
        return path

    mine, others = log(tmp_path / "mine.csv", "u"), log(tmp_path / "others.csv", "x")
    assert main(["train", "--data", str(mine), "--model", "ease", "--protocol", "random-full", "--out",
                 str(tmp_path / "t"), "-q"]) == 0
    saved = tmp_path / "t" / "models" / "ease"
    study = tmp_path / "s.toml"

    def refused(source: Path, tail: str) -> str:
        study.write_text(f'[data]\nsource = "{source}"\n[protocol]\nname = "random-full"\nseeds = [0]\n'
                         f'[models.als]\nfactors = 4\n[export]\nk = 5\n[export.two_stage]\ncandidates = 10\n{tail}')
        capsys.readouterr()
        code, out, err = run(capsys, "run", str(study), "--out", str(tmp_path / "o"), "-q")
        assert code == 2 and len(err.strip().splitlines()) == 1 and not (tmp_path / "o").exists(), err
        return err.strip()

    # before any data is read (the source named is not there)
    assert refused(tmp_path / "not-read", f'retriever_path = "{tmp_path / "none"}"\n') == (
        f"cinerec: error: {study}:12: [export.two_stage] retriever_path: {tmp_path / 'none'}: no saved model here "
        "(model.json is missing)")
    assert refused(tmp_path / "not-read", f'retriever_path = "{saved}"\n') == (
        f'cinerec: error: {study}:12: [export.two_stage] retriever_path: {saved}: holds a ease model, not the '
        'retriever (retriever = "als", the default)')
    # once the data is read: as many people, but other ones; other counts
    assert refused(others, f'retriever = "ease"\nretriever_path = "{saved}"\n') == (
        f"cinerec: error: {study}:13: [export.two_stage] retriever_path: {saved} was fitted on other users than "
        f"the study's ({tmp_path / 't' / 'dataset'} holds them); give a retriever fitted on this data")
    monkeypatch.chdir(saved.parent)  # (a path without its run's folders: the run is found all the same)
    assert refused(others, 'retriever = "ease"\nretriever_path = "ease"\n').endswith(
        f"was fitted on other users than the study's ({tmp_path / 't' / 'dataset'} holds them); give a retriever "
        "fitted on this data")
    monkeypatch.chdir(tmp_path)
    study.write_text(f'[data]\nsource = "{mine}"\ntop_users = 20\n[protocol]\nname = "random-full"\nseeds = [0]\n'
                     f'[models.als]\nfactors = 4\n[export]\nk = 5\n[export.two_stage]\ncandidates = 10\n'
                     f'retriever = "ease"\nretriever_path = "{saved}"\n')
    code, out, err = run(capsys, "run", str(study), "--out", str(tmp_path / "o"), "-q")
    assert code == 2 and err.strip() == (
        f"cinerec: error: {study}:14: [export.two_stage] retriever_path: {saved} knows 30 users x 80 movies, the "
        "study's data has 20 x 54; give a retriever fitted on this data"), err
    assert not (tmp_path / "o").exists()
    # the data it was fitted on: the store lists through it
    study.write_text(f'[data]\nsource = "{mine}"\n[protocol]\nname = "random-full"\nseeds = [0]\n'
                     f'[models.als]\nfactors = 4\n[export]\nk = 5\n[export.two_stage]\ncandidates = 10\n'
                     f'retriever = "ease"\nretriever_path = "{saved}"\n')
    code, out, err = run(capsys, "run", str(study), "--out", str(tmp_path / "o"), "-q")
    assert code == 0, err
    assert (tmp_path / "o" / "store.sqlite").is_file()


def test_a_note_on_a_logs_own_catalogue_reaches_the_report_and_json(tmp_path, capsys):
    # Said on the console alone: not in report.md, nor in --json's notes (nowhere under -q).
    rows = [f"p{u},m{m},{1 + (u * m) % 5},{u * 100 + m},Film {m} ({1980 + m})" for u in range(30) for m in range(40)
            if (u + m) % 3]
    rows.append("p0,m1,4,1,A review")  # (another title for m1: the column is left unread)
    (tmp_path / "log.csv").write_text("user,item,rating,ts,name\n" + "\n".join(rows) + "\n")
    study = tmp_path / "s.toml"
    study.write_text(f'[data]\nsource = "{tmp_path / "log.csv"}"\ncolumns = {{title = "name"}}\n[protocol]\n'
                     'name = "loo-full"\nseeds = [0]\nks = [1, 5]\n[models.popularity]\n')
    code, out, err = run(capsys, "run", str(study), "--out", str(tmp_path / "out"), "--json", "-q")
    assert code == 0, err
    notes = json.loads(out)["notes"]
    unread = "the log's title column is left unread, and its genres and years with it, so movies show their ids ("
    said = [n for n in notes if n.startswith(unread)]
    assert len(said) == 1 and "movie id 'm1' has title 'A review' here" in said[0], notes
    assert said[0] in (tmp_path / "out" / "report.md").read_text()


def test_the_best_beside_the_study_s_figure_says_by_which_metric_when_another_model_does_better_there(
        tmp_path, capsys, ml100k_dir):
    # "ease (the best): cat_acc@10 = 0.0370" beside a two-tower row at 0.0522: the best by
    # the metric the run ranks by (recall@10), not at the study's.
    study = tmp_path / "s.toml"
    study.write_text(f'[data]\nsource = "{ml100k_dir}"\ntop_users = 200\n[protocol]\nname = "random-full"\n'
                     'seeds = [0]\n[models.popularity]\n[models.ease]\n'
                     '[reference]\nmetric = "cat_acc@10"\nvalue = 0.0036\nalso = { "recall@10" = 0.1 }\n')
    code, out, err = run(capsys, "run", str(study), "--out", str(tmp_path / "out"))
    assert code == 0, err
    board = read_json(tmp_path / "out" / "leaderboard.json")
    rows = {r["label"]: r["metrics"] for r in board["models"]}
    assert board["best_model"] == "ease" and board["metric"] == "recall@10"
    assert rows["popularity"]["cat_acc@10"]["mean"] > rows["ease"]["cat_acc@10"]["mean"]  # (0.0330 against 0.0000)
    assert "ours (ease, the best by recall@10): " in out and "ours (ease, the best): " in out  # (at recall@10)
    report = (tmp_path / "out" / "report.md").read_text()
    assert "- ease (the best by recall@10): cat_acc@10 = " in report and "- ease (the best): recall@10 = " in report


def test_a_study_says_how_many_lists_held_every_movie_once_for_each_seed(tmp_path, capsys):
    # Said beside each model's figures, it came four times over three seeds, and the report
    # held two paragraphs of different counts naming no seed.
    rng = np.random.default_rng(0)
    rows = [f"u{u},m{i},{rng.integers(1, 6)},{10**9 + 100 * u + n}\n" for u in range(60)
            for n, i in enumerate(rng.choice(25, int(rng.integers(4, 25)), replace=False))]
    (tmp_path / "log.csv").write_text("user,item,rating,ts\n" + "".join(rows))
    (tmp_path / "s.toml").write_text(f'title = "t"\n[data]\nsource = "{tmp_path / "log.csv"}"\n[protocol]\n'
                                     'name = "random-full"\nseeds = [0, 1, 2]\nks = [1, 10]\n'
                                     "[models.popularity]\n[models.itemknn]\n")
    assert main(["run", str(tmp_path / "s.toml"), "--out", str(tmp_path / "run")]) == 0
    captured = capsys.readouterr()
    said = [line for line in (captured.out + captured.err).splitlines() if "movies left to rank: their lists" in line]
    report = [line for line in (tmp_path / "run" / "report.md").read_text().splitlines()
              if "movies left to rank: their lists" in line]
    assert 1 <= len(said) <= 3 and len(report) == len(said), said
    if len(said) > 1:  # counts that differ by seed: each line names its seeds, each seed once
        named = [line.split("note: ")[1].split(":")[0] for line in said]
        assert all(n.startswith("seed") for n in named) and len(set(named)) == len(named), said


def test_a_studys_rating_scale_is_the_logs_and_a_rating_outside_it_is_named_by_the_key(tmp_path, capsys, ml100k_dir):
    rows = [f"u{u},m{m},{2 + (u * 3 + m) % 9},{1600000000 + 40 * u + m}" for u in range(30) for m in range(25)
            if (u + m) % 3]
    (tmp_path / "log.csv").write_text("user,item,rating,ts\n" + "\n".join(rows) + "\n")
    study = tmp_path / "s.toml"
    text = ('[data]\nsource = "{}"\nrating_scale = {}\n\n[protocol]\nname = "random-full"\n\n[models.itemknn]\n')
    study.write_text(text.format(tmp_path / "log.csv", "[1, 10]"))
    code, _, err = run(capsys, "run", str(study), "--out", str(tmp_path / "o"), "--quiet")
    assert code == 0, err
    record = json.loads((tmp_path / "o" / "run.json").read_text())
    assert record["dataset"]["rating_scale"] == record["dataset"]["rating_scale_given"] == [1.0, 10.0]
    # The report says what was read, its scale with it (it said nothing of the scale).
    assert f"Data: `{tmp_path / 'log.csv'}`: 500 ratings (1 to 10), 30 users, 25 movies." in \
        (tmp_path / "o" / "report.md").read_text()
    study.write_text(text.format(tmp_path / "log.csv", "[3, 10]"))
    code, _, err = run(capsys, "run", str(study), "--out", str(tmp_path / "o2"), "--quiet")
    assert (code, err) == (2, f"cinerec: error: {study}:3: [data] rating_scale: {tmp_path / 'log.csv'} line 22: "
                              "rating 2 is outside the scale given, 3 to 10\n")
    code, _, err = run(capsys, "run", str(study), "--out", str(tmp_path / "o2"), "--quiet", "--rating-scale", "4,10")
    assert (code, err) == (2, f"cinerec: error: {study}: --rating-scale (given on the command line): "
                              f"{tmp_path / 'log.csv'} line 2: rating 3 is outside the scale given, 4 to 10\n")
    code, _, err = run(capsys, "run", str(study), "--out", str(tmp_path / "o2"), "--quiet", "--rating-scale", "1,10")
    assert code == 0, err
    # A log of plain events has no scale: the file's key is named, not a flag nobody gave.
    (tmp_path / "events.csv").write_text("user,item\n" + "".join(f"u{u},m{m}\n" for u in range(9) for m in range(9)))
    study.write_text(text.format(tmp_path / "events.csv", "[1, 10]"))
    code, _, err = run(capsys, "run", str(study), "--out", str(tmp_path / "o4"), "--quiet")
    assert (code, err) == (2, f"cinerec: error: {study}:3: [data] rating_scale: {tmp_path / 'events.csv'} has no "
                              "rating column (every row is a plain event), so no scale of ratings applies to it\n")
    study.write_text(text.format(tmp_path / "log.csv", "[10, 1]"))
    code, _, err = run(capsys, "run", str(study), "--out", str(tmp_path / "o3"), "--quiet")
    assert (code, err) == (2, f"cinerec: error: {study}:3: [data] rating_scale: [10, 1]: the lowest rating must be "
                              "below the highest\n")
    study.write_text(text.format(tmp_path / "log.csv", '"1-10"'))
    code, _, err = run(capsys, "run", str(study), "--out", str(tmp_path / "o3"), "--quiet")
    assert (code, err) == (2, f"cinerec: error: {study}:3: [data] rating_scale: expected [LOW, HIGH], the lowest and "
                              'highest rating of the log\'s scale, got "1-10"\n')
    assert not (tmp_path / "o3").exists()
    # Run on a release with --data, the file's scale is left out with its columns, said so.
    study.write_text(text.format(tmp_path / "log.csv", "[1, 10]").replace("[data]", '[data]\ncolumns = "user=user"'))
    code, _, err = run(capsys, "run", str(study), "--out", str(tmp_path / "o5"), "--data", str(ml100k_dir))
    assert code == 0, err
    assert f"note: {study} [data] columns and rating_scale are for a log of your own; --data {ml100k_dir} is a " \
           "MovieLens release, which names its own columns, movies and scale, so the file's are left out" in err, err
    study.write_text(text.format(tmp_path / "log.csv", "[1, 10]"))
    code, _, err = run(capsys, "run", str(study), "--out", str(tmp_path / "o6"), "--data", str(ml100k_dir),
                       "--rating-scale", "1,10")
    assert (code, err) == (2, f"cinerec: error: {study}: --rating-scale (given on the command line): {ml100k_dir} is "
                              "a MovieLens release, whose scale is its own stars; --rating-scale applies to a ratings "
                              "log of your own\n")


def test_a_study_read_in_python_checks_the_scale_it_is_given(tmp_path):
    from cinerec.studies import Study

    study = tmp_path / "s.toml"
    study.write_text('[data]\nsource = "ml-100k"\n\n[protocol]\nname = "random-full"\n\n[models.itemknn]\n')
    assert Study.from_toml(study, rating_scale="1,10").rating_scale == (1.0, 10.0)
    assert Study.from_toml(study, rating_scale=(1, 10)).data_source()["rating_scale"] == [1.0, 10.0]
    with pytest.raises(ConfigError, match=r"^(--rating-scale|rating_scale) \[10, 1\]: the lowest rating must be "
                                          r"below the highest$"):
        Study.from_toml(study, rating_scale=(10, 1))


def test_a_stage_s_peak_memory_is_in_gb_as_named(monkeypatch):
    # It divided by 2^30 and said GB: 7.13 "GB" was 7.66 GB.
    import cinerec.studies as studies

    monkeypatch.setattr(studies, "_peak_bytes", lambda: 2_000_000_000)
    stages = studies.Stages()
    with stages("load"):
        pass
    assert stages.rows[0]["peak_gb"] == 2.0 and stages.peak_gb == 2.0


def test_a_study_says_each_seed_s_count_of_people_its_ndcg_averages_over(tmp_path, capsys):
    # The note was said beside the first model of each seed's split and then taken for a
    # repeat: seed 2's count never shown, and how many were depended on how many models ran.
    rng = np.random.default_rng(4)
    rows = [f"u{u},m{m},{rng.integers(1, 6)}" for u in range(40) for m in rng.choice(30, 12, replace=False)]
    (tmp_path / "log.csv").write_text("user,item,rating\n" + "\n".join(rows) + "\n")
    study = tmp_path / "s.toml"
    study.write_text(f'[data]\nsource = "{tmp_path / "log.csv"}"\n[protocol]\nname = "ratings-random"\n'
                     'seeds = [0, 1, 2]\n[models.baseline]\n[models.knnbaseline]\n')
    assert main(["run", str(study), "--out", str(tmp_path / "out"), "-q"]) == 0
    notes = [n for n in read_json(tmp_path / "out" / "leaderboard.json")["notes"] if "average over" in n]
    from cinerec.data import load
    from cinerec.evaluation.protocols import get_protocol, ndcg_measured

    data = load(tmp_path / "log.csv")
    lines = [ndcg_measured(get_protocol("ratings-random").prepare(data, seed))[0] for seed in (0, 1, 2)]
    assert lines[0].endswith("; the other figures over all of them")
    if len(set(lines)) == 1:
        assert notes == lines[:1]
    else:
        assert sorted(notes) == sorted({f"seed{'s' if lines.count(line) > 1 else ''} "
                                        f"{', '.join(str(s) for s in (0, 1, 2) if lines[s] == line)}: {line}"
                                        for line in lines})
