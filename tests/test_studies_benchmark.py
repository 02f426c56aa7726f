"""benchmarks/studies.py: a loop over the study files that keeps going past a study that fails."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "studies.py"
_spec = importlib.util.spec_from_file_location("studies_benchmark", _PATH)
assert _spec is not None and _spec.loader is not None
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def test_a_study_failing_once_its_data_is_read_is_one_line_and_the_others_are_kept(tmp_path, capsys, monkeypatch,
                                                                                 ml100k_dir):
    # One failing study ended the loop in a traceback, and the JSON of those already run
    # was never printed.
    studies = tmp_path / "studies"
    studies.mkdir()
    (studies / "a-fine.toml").write_text('[data]\nsource = "ml-100k"\n[protocol]\nname = "loo-sampled"\n'
                                         'seeds = [0]\n[models.popularity]\n')
    (studies / "b-empty.toml").write_text('[data]\nsource = "ml-100k"\nmin_year = 3000\n[protocol]\n'
                                          'name = "loo-sampled"\nseeds = [0]\n[models.popularity]\n')
    monkeypatch.setattr(bench, "STUDIES", studies)
    code = bench.main(["--out", str(tmp_path / "runs"), "--data", str(ml100k_dir)])
    out, err = capsys.readouterr()
    assert code == 2
    got = json.loads(out)
    assert [Path(s["study"]).name for s in got["studies"]] == ["a-fine.toml"]
    assert [Path(f["study"]).name for f in got["failed"]] == ["b-empty.toml"]
    assert "b-empty: error: " in err and "min_year" in err and "Traceback" not in err
    assert (tmp_path / "runs" / "a-fine" / "leaderboard.json").exists()


def test_the_markdown_tables_say_when_the_study_s_figure_does_not_compare(tmp_path, capsys, monkeypatch, ml100k_dir):
    # The JSON carried "differs", and cinerec run printed the note; the tables did not.
    studies = tmp_path / "studies"
    studies.mkdir()
    (studies / "s.toml").write_text('[data]\nsource = "ml-100k"\ntop_users = 100\n[protocol]\nname = "loo-sampled"\nn_negatives = 20\n'
                                    'seeds = [0]\n[models.popularity]\n[reference]\nmetric = "hr@10"\nvalue = 0.5\n'
                                    'source = "a made-up study"\n')
    monkeypatch.setattr(bench, "STUDIES", studies)
    log = tmp_path / "log.csv"
    rows = [f"u{u},m{(u * 7 + i) % 40},{1 + (u + i) % 5},{u * 100 + i}" for u in range(30) for i in range(15)]
    log.write_text("user,item,rating,ts\n" + "\n".join(rows) + "\n")
    assert bench.main(["--out", str(tmp_path / "runs"), "--data", str(log), "--markdown"]) == 0
    out, err = capsys.readouterr()
    board = json.loads(out)["studies"][0]
    board["below_popularity"], board["notes"] = ["ease: hr@10 0.1 is below popularity's 0.2"], ["a fit's note"]
    assert "\nnote: ease: hr@10 0.1 is below popularity's 0.2\nnote: a fit's note\n" in bench.markdown(board, 1.0)
    assert "The study: hr@10 = 0.5 (a made-up study)." in err
    assert f"note: the study's figure was measured on the data its file names; this run read other data (--data {log} " \
           "for the file's ml-100k), so the two do not compare" in err, err
    assert "- top_users=100 (dropped nothing): 450 ratings, 30 users, " in err  # what the filters left, as the report says
