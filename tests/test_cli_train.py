"""``cinerec train``, ``recommend`` and ``export`` through ``cinerec.cli.main``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from cinerec.cli import main
from cinerec.config import settings_words
from cinerec.io import read_json
from cinerec.runs import open_run
from cinerec.training import CHECKPOINT_BEST, CHECKPOINT_LAST, CURVES

TINY = ["--set", "epochs=3", "--set", "factors=8", "--set", "mlp_factors=8", "--set", "layers=[16]",
        "--set", "progress=false", "--set", "device='cpu'", "--set", "threads=1", "--set", "batch_size=512"]


@pytest.fixture(scope="module")
def small_data(tmp_path_factory):
    out = tmp_path_factory.mktemp("data") / "small"
    assert main(["data", "synthesize", "--like", "ml-100k", "--scale", "0.05", "--seed", "1", "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def neumf_run(small_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "neumf"
    assert main(["train", "--data", str(small_data), "--model", "neumf", *TINY,
                 "--protocol-option", "valid=true", "--out", str(out)]) == 0
    return out


def test_train_writes_a_complete_run(neumf_run):
    run = open_run(neumf_run)
    assert run.meta["best_model"] == "neumf" and run.meta["protocol"] == "loo-sampled"
    assert run.meta["config"]["neumf"]["epochs"] == 3
    assert 0 <= run.metrics["neumf"]["hr@10"] <= 1
    assert run.metrics["neumf"]["n_users"] == run.dataset.n_users  # as quickstart's and the console's tables say
    assert f"; {run.dataset.n_users:,} users measured" in (neumf_run / "report.md").read_text()
    # The note printed under the figures of a synthetic release is kept with them in the report.
    assert "**Note:** the data is a synthetic release shaped like ml-100k (cinerec data synthesize): these figures " \
           "say nothing about real movies." in (neumf_run / "report.md").read_text()
    ck = neumf_run / "checkpoints"
    assert (ck / CHECKPOINT_LAST).exists() and (ck / CHECKPOINT_BEST).exists() and (ck / CURVES).exists()
    assert "| epoch | loss | validation |" in (neumf_run / "report.md").read_text()


def test_run_json_says_how_many_epochs_ran_and_which_one_the_model_keeps(small_data, tmp_path, capsys):
    # Early stopping restores the best epoch's weights: run.json kept only the configured
    # epochs, so a run stopped at epoch 3 of 30 with epoch 1's weights looked like 30.
    out = tmp_path / "run"
    assert main(["train", "--data", str(small_data), "--model", "gmf", *TINY, "--set", "epochs=30",
                 "--set", "patience=2", "--set", "lr=0.2", "--protocol-option", "valid=true", "--out", str(out),
                 "--quiet"]) == 0
    run = open_run(out)
    history = run.model("gmf").history
    best = max(h["valid"] for h in history)
    kept = next(h["epoch"] for h in history if h["valid"] == best)
    training = run.meta["training"]
    assert training == {"epochs": len(history), "of": 30, "kept_epoch": kept, "stopped_by": "patience"}
    assert len(history) < 30 and [h["epoch"] for h in history if h.get("kept")] == [kept]
    assert "(kept) |" in (out / "report.md").read_text()


def test_recommend_lists_unseen_movies_with_reasons(neumf_run, capsys):
    run = open_run(neumf_run)
    raw_user = run.dataset.user_ids.raw[3].item()
    capsys.readouterr()
    assert main(["recommend", "--run", str(neumf_run), "--user", str(raw_user), "-k", "5", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)  # one object: who, which model, what
    assert got["user"] == raw_user and got["model"] == run.default_model
    recs = got["recommendations"]
    assert len(recs) == 5
    assert {"movie_id", "title", "year", "genres", "score", "reason"} <= set(recs[0])
    assert [r["score"] for r in recs] == sorted((r["score"] for r in recs), reverse=True)
    ds = run.dataset
    rated = set(ds.item_ids.raw[ds.interactions.items[ds.interactions.users == 3]].tolist())
    assert not rated & {r["movie_id"] for r in recs}
    titles = set(ds.catalog.titles[ds.interactions.items[ds.interactions.users == 3]])
    assert all(r["reason"].removeprefix("because you liked ") in titles for r in recs)
    assert main(["recommend", "--run", str(neumf_run), "--user", str(raw_user), "-k", "3"]) == 0
    text = capsys.readouterr().out
    assert text.count("because you liked") == 3 and text.startswith(" 1. ")


def test_train_json_is_the_saved_figures(small_data, tmp_path, capsys):
    out = tmp_path / "run"
    capsys.readouterr()
    assert main(["train", "--data", str(small_data), "--model", "popularity", "--seed", "3", "--out", str(out),
                 "--json", "--quiet"]) == 0
    captured = capsys.readouterr()
    got = json.loads(captured.out)
    assert captured.err == ""
    assert got["model"] == "popularity" and got["protocol"] == "loo-sampled" and got["seed"] == 3
    assert got["run"] == str(out) and {"hr@10", "ndcg@10"} <= set(got["metrics"])
    saved = open_run(out).metrics["popularity"]
    assert all(saved[k] == v for k, v in got["metrics"].items())


def test_export_json_and_the_run_model_flag(neumf_run, tmp_path, capsys):
    db = tmp_path / "store.sqlite"
    capsys.readouterr()
    assert main(["export", "--run", str(neumf_run), "--db", str(db), "-k", "7", "--run-model", "neumf", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    run = open_run(neumf_run)
    assert got["db"] == str(db) and db.is_file()
    assert got["model"] == "neumf" and got["k"] == 7
    assert got["n_users"] == run.dataset.n_users and got["n_items"] == run.dataset.n_items
    err = _error(capsys, ["export", "--run", str(neumf_run), "--db", str(db), "--run-model", "ease"])
    assert "no model 'ease'" in err
    assert "-k" in _error(capsys, ["export", "--run", str(neumf_run), "--db", str(db), "-k", "0"])


def test_rating_model_with_a_toml_config(small_data, tmp_path, capsys):
    cfg = tmp_path / "mf.toml"
    cfg.write_text('factors = 4\nepochs = 3\nprogress = false\ndevice = "cpu"\nthreads = 1\n')
    out = tmp_path / "run"
    assert main(["train", "--data", str(small_data), "--model", "biasedmf", "--config", str(cfg), "--out", str(out)]) == 0
    run = open_run(out)
    assert run.meta["protocol"] == "ratings-random" and "rmse" in run.metrics["biasedmf"]
    raw_user = run.dataset.user_ids.raw[0].item()
    capsys.readouterr()
    assert main(["recommend", "--run", str(out), "--user", str(raw_user), "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["recommendations"]) == 10
    # a list is never longer than the catalogue, however large -k is
    assert main(["recommend", "--run", str(out), "--user", str(raw_user), "-k", "100000000000", "--json"]) == 0
    unseen = run.dataset.n_items - len(set(run.dataset.interactions.items[run.dataset.interactions.users == 0]))
    assert len(json.loads(capsys.readouterr().out)["recommendations"]) == unseen


def _error(capsys, argv) -> str:
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    last = err.splitlines()[-1]  # progress lines ("data: ...") may come first
    assert last.startswith("cinerec: error: ")
    return last


def test_bad_input_is_one_line_naming_the_culprit(small_data, neumf_run, tmp_path, capsys):
    base = ["train", "--data", str(small_data), "--out", str(tmp_path / "x")]
    assert "unknown model 'neumff'" in _error(capsys, [*base, "--model", "neumff"])
    assert "epochs" in _error(capsys, [*base, "--model", "gmf", "--set", "epochs=many"])
    assert "epochs" in _error(capsys, [*base, "--model", "gmf", "--set", "epochs=0"])
    assert "unknown key 'epoch'" in _error(capsys, [*base, "--model", "gmf", "--set", "epoch=3"])
    bad = tmp_path / "bad.toml"
    bad.write_text("layer = [8]\n")
    err = _error(capsys, [*base, "--model", "mlp", "--config", str(bad)])
    assert "bad.toml" in err and "unknown key 'layer'" in err
    assert "ratings-fold measures predicted stars" in _error(capsys, [*base, "--model", "gmf", "--protocol", "ratings-fold"])
    assert "unknown user id '999999'" in _error(capsys, ["recommend", "--run", str(neumf_run), "--user", "999999"])
    assert "no model 'ease'" in _error(capsys, ["recommend", "--run", str(neumf_run), "--user", "1", "--run-model", "ease"])
    # --model only ever names a model to create; a run's saved model is --run-model
    assert "--run-model" in _error(capsys, ["recommend", "--run", str(neumf_run), "--user", "1", "--model", "neumf"])
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe bad\n")
    assert "binary.toml: not valid TOML (byte 1 is not UTF-8 text)" in _error(
        capsys, [*base, "--model", "gmf", "--config", str(binary)])
    assert 'valid="no" must be true or false' in _error(capsys, [*base, "--model", "gmf", "--protocol-option", "valid=no"])
    import torch

    if not torch.backends.mps.is_available():
        assert "MPS is not available" in _error(capsys, [*base, "--model", "gmf", "--set", 'device="mps"'])


def test_train_checks_its_out_folder_before_reading_and_never_mixes_runs(small_data, tmp_path, capsys):
    base = ["train", "--data", str(small_data), "--model", "popularity", "--protocol", "loo-full", "--quiet"]
    (tmp_path / "a-file").write_text("x")
    assert "is a file" in _error(capsys, [*base, "--out", str(tmp_path / "a-file")])
    half = tmp_path / "half"
    (half / "notes").mkdir(parents=True)
    assert "holds 'notes' and no run that train started there" in _error(capsys, [*base, "--out", str(half)])
    # Someone's own folder with names a run also writes is theirs: it was emptied as if
    # a killed run had left it.
    (half / "notes").rmdir()
    (half / "models").mkdir()
    (half / "models" / "my-weights.bin").write_text("precious")
    (half / "report.md").write_text("mine")
    assert "holds 'models' and no run that train started there" in _error(capsys, [*base, "--out", str(half)])
    assert (half / "models" / "my-weights.bin").read_text() == "precious" and (half / "report.md").read_text() == "mine"
    # A run killed while saving leaves its mark, some of its own files and no run.json:
    # started again, it writes a whole run, with nothing of the half-saved one (models/bpmf).
    (half / "models" / "my-weights.bin").unlink()
    (half / "report.md").unlink()
    (half / ".cinerec-train").touch()
    (half / "models" / "bpmf").mkdir(parents=True)
    (half / "metrics.json").write_text("{}")
    assert main([*base, "--out", str(half)]) == 0
    capsys.readouterr()
    assert open_run(half).model_names == ["popularity"] and not (half / "models" / "bpmf").exists()
    assert "cannot create the folder" in _error(capsys, [*base, "--out", "/proc/no-such/run"])
    # a source that cannot be read leaves no empty folder behind
    assert "no such file" in _error(capsys, ["train", "--data", str(tmp_path / "nope.csv"), "--model", "popularity",
                                             "--out", str(tmp_path / "new")])
    assert not (tmp_path / "new").exists()


def test_two_commands_never_write_one_run_folder_at_once(small_data, tmp_path, capsys):
    # Two trains into one --out both said "run saved", and one run's files were the other's.
    from cinerec.io import claimed

    out = tmp_path / "run"
    base = ["train", "--data", str(small_data), "--model", "popularity", "--protocol", "loo-full", "--quiet",
            "--out", str(out)]
    with claimed(out):  # another command is writing it
        assert "another cinerec command is writing it now" in _error(capsys, base)
        assert not out.exists()
    assert main(base) == 0 and open_run(out).model_names == ["popularity"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # the claim leaves nothing behind
    # What it ran on, for reproducing it: the versions of the packages its figures depend on.
    import numpy
    import scipy

    ran_on = open_run(out).meta["environment"]
    assert ran_on["packages"]["numpy"] == numpy.__version__ and ran_on["packages"]["scipy"] == scipy.__version__
    assert {"python", "platform", "cpus"} <= set(ran_on) and "torch" in ran_on["packages"]


def test_bpmf_trains_into_a_run_with_its_sweeps(small_data, tmp_path, capsys):
    out = tmp_path / "bpmf"
    assert main(["train", "--data", str(small_data), "--model", "bpmf", "--set", "sweeps=4", "--set", "burn_in=1",
                 "--out", str(out), "--quiet"]) == 0
    assert (out / "run.json").is_file() and (out / "plots" / "curves-bpmf.png").is_file()
    assert "| sweep | training RMSE |" in (out / "report.md").read_text()


def test_a_failure_while_saving_leaves_no_half_run(small_data, tmp_path, capsys, monkeypatch):
    import cinerec.runs

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")  # (as a full disk's write: no file named)

    monkeypatch.setattr(cinerec.runs, "write_json", broken)
    out = tmp_path / "run"
    assert main(["train", "--data", str(small_data), "--model", "popularity", "--protocol", "loo-full",
                 "--out", str(out), "--quiet"]) == 2
    # (named where it was writing: the bare "No space left on device" said not where)
    assert capsys.readouterr().err == f"cinerec: error: cannot write {out}: No space left on device\n"
    assert not out.exists()
    # A file written by NumPy (the dataset's, first) is named by its folder.
    import numpy as np

    monkeypatch.undo()
    monkeypatch.setattr(np, "savez", broken)
    assert main(["train", "--data", str(small_data), "--model", "popularity", "--protocol", "loo-full",
                 "--out", str(out), "--quiet"]) == 2
    assert capsys.readouterr().err == f"cinerec: error: cannot write {out / 'dataset'}: No space left on device\n"
    assert not out.exists()


def test_runs_from_another_version_and_damaged_weights_are_refused(neumf_run, tmp_path, capsys):
    import shutil

    old = tmp_path / "old"
    shutil.copytree(neumf_run, old)
    meta = json.loads((old / "run.json").read_text())
    (old / "run.json").write_text(json.dumps({**meta, "format": 99}))
    assert "run format 99, written by a newer cinerec" in _error(capsys, ["recommend", "--run", str(old), "--user", "1"])
    (old / "run.json").write_text(json.dumps({**meta, "format": 0}))
    assert "run format 0; this cinerec" in _error(capsys, ["recommend", "--run", str(old), "--user", "1"])

    broken = tmp_path / "broken"
    shutil.copytree(neumf_run, broken)
    (broken / "models" / "neumf" / "weights.pt").write_bytes(b"PK\x03\x04 truncated")
    raw_user = str(open_run(broken).dataset.user_ids.raw[0].item())
    err = _error(capsys, ["recommend", "--run", str(broken), "--user", raw_user])
    assert "weights.pt" in err


def test_resume_a_run_to_the_same_result(small_data, neumf_run, tmp_path, capsys):
    # a finished run is not overwritten by accident
    err = _error(capsys, ["train", "--data", str(small_data), "--model", "neumf", *TINY, "--out", str(neumf_run)])
    assert "holds a finished run, a train run of neumf; choose another folder or pass --resume to train it further" in err
    # --resume is offered only where it would be taken: not to another model, nor one without epochs
    for other in ("gmf", "popularity"):
        err = _error(capsys, ["train", "--data", str(small_data), "--model", other, "--out", str(neumf_run)])
        assert err.rstrip().endswith("holds a finished run, a train run of neumf; choose another folder")
    # --resume continues that run only: not another model's, not a model without checkpoints
    err = _error(capsys, ["train", "--data", str(small_data), "--model", "gmf", *TINY, "--resume",
                          "--out", str(neumf_run)])
    assert "holds a finished 'train neumf' run, and --resume continues only a 'train gmf' run" in err
    err = _error(capsys, ["train", "--data", str(small_data), "--model", "popularity", "--resume",
                          "--out", str(neumf_run)])
    assert "--resume: popularity is not trained in epochs" in err
    assert open_run(neumf_run).meta["best_model"] == "neumf"
    # the checkpoint of a broken run is named when it cannot be read
    out = tmp_path / "again"
    (out / "checkpoints").mkdir(parents=True)
    (out / "checkpoints" / CHECKPOINT_LAST).write_bytes(b"garbage")
    err = _error(capsys, ["train", "--data", str(small_data), "--model", "neumf", *TINY,
                          "--protocol-option", "valid=true", "--resume", "--out", str(out)])
    assert CHECKPOINT_LAST in err and "not a readable cinerec checkpoint" in err
    # resuming from the finished run's checkpoints gives the same figures
    import shutil

    # (with -q --json, whether a checkpoint was there to resume from is said in the answer)
    shutil.rmtree(out)
    assert main(["train", "--data", str(small_data), "--model", "neumf", *TINY, "--protocol-option", "valid=true",
                 "--resume", "--out", str(out), "-q", "--json"]) == 0
    said = capsys.readouterr()
    assert json.loads(said.out)["resumed"] is False and said.err == ""
    shutil.rmtree(out)
    shutil.copytree(neumf_run / "checkpoints", out / "checkpoints")
    assert main(["train", "--data", str(small_data), "--model", "neumf", *TINY, "--protocol-option", "valid=true",
                 "--resume", "--out", str(out), "--json"]) == 0
    said = capsys.readouterr()
    assert json.loads(said.out)["resumed"] is True
    # The resume says where it went on from (here: a checkpoint that had trained every epoch).
    epochs = int(open_run(neumf_run).meta["config"]["neumf"]["epochs"])
    went_on = f"resumed from {out / 'checkpoints' / CHECKPOINT_LAST}, which had trained {epochs} of {epochs} " \
              f"epoch{'s' if epochs != 1 else ''} (all of them): no epoch trained now"
    assert f"note: {went_on}" in said.err, said.err
    assert any(n.startswith(went_on) for n in json.loads(said.out)["notes"])  # (there too: -q keeps stderr empty)
    assert open_run(out).metrics["neumf"]["hr@10"] == open_run(neumf_run).metrics["neumf"]["hr@10"]
    # The fit time is this process's part; all the epochs' time is said beside it.
    resumed = open_run(out).metrics["neumf"]
    assert resumed["seconds_epochs"] > 0 and "since the resume; its" in (out / "report.md").read_text()
    assert "seconds_epochs" not in open_run(neumf_run).metrics["neumf"]


@pytest.mark.parametrize("where", ["checkpoint", "weights"])
def test_a_full_disk_while_saving_weights_is_one_line(small_data, tmp_path, capsys, monkeypatch, where):
    # torch says a write that failed as a RuntimeError of its own ("[enforce fail at
    # inline_container.cc:672] . unexpected pos ..."): a traceback of 60 lines, exit 1.
    import cinerec.models.neural
    import cinerec.training
    from cinerec import io

    module = cinerec.training if where == "checkpoint" else cinerec.models.neural

    def onto_a_full_disk(value, path, shown=None):
        io.save_torch(value, "/dev/full", shown=shown or path)  # (writing there fails as a full disk does)

    monkeypatch.setattr(module, "save_torch", onto_a_full_disk)
    out = tmp_path / "run"
    assert main(["train", "--data", str(small_data), "--model", "gmf", *TINY, "--out", str(out), "-q"]) == 2
    err = capsys.readouterr().err
    named = out / "checkpoints" / CHECKPOINT_LAST if where == "checkpoint" else "weights.pt"
    assert err.startswith("cinerec: error: cannot write ") and str(named) in err, err
    assert err.endswith(": No space left on device\n") and err.count("\n") == 1 and not (out / "run.json").exists()


def test_a_resume_clears_what_a_killed_checkpoint_writing_left(small_data, neumf_run, tmp_path, capsys):
    # A run killed while writing a checkpoint left ".checkpoint-best.pt.XXXX.tmp", kept by
    # every resume and finished run beside the checkpoints.
    out = tmp_path / "run"
    shutil.copytree(neumf_run, out)
    left = [out / "checkpoints" / f".{name}.abcd1234.tmp" for name in (CHECKPOINT_BEST, CHECKPOINT_LAST, CURVES)]
    for each in left:
        each.write_bytes(b"half")
    mine = out / "checkpoints" / ".notes.abcd1234.tmp"  # (no checkpoint's)
    mine.write_bytes(b"kept")
    assert main(["train", "--data", str(small_data), "--model", "neumf", *TINY, "--set", "epochs=4",
                 "--protocol-option", "valid=true", "--resume", "--out", str(out), "-q"]) == 0
    assert not any(each.exists() for each in left) and mine.exists()


@pytest.mark.parametrize("finished", [False, True])
@pytest.mark.parametrize("where", ["", "checkpoints"])
def test_a_run_folder_that_cannot_be_written_is_refused_before_the_data_is_read(small_data, neumf_run, tmp_path,
                                                                                 capsys, monkeypatch, finished, where):
    # A read-only copy of a killed run was said to have its checkpoints dropped (they were
    # not), and trained an epoch before its first checkpoint was refused.
    import errno
    import tempfile

    from cinerec import data

    out = tmp_path / "run"
    shutil.copytree(neumf_run, out)
    if not finished:
        (out / "run.json").unlink()
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    real = tempfile.TemporaryFile

    def read_only(*args, dir=None, **kwargs):
        if dir is not None and Path(dir) == out / where:
            raise OSError(errno.EROFS, "Read-only file system")
        return real(*args, dir=dir, **kwargs)

    def unread(*args, **kwargs):
        raise AssertionError("the data was read")

    monkeypatch.setattr(tempfile, "TemporaryFile", read_only)
    monkeypatch.setattr(data, "load", unread)
    resume = ["--resume", "--set", "epochs=4"] if finished else []
    assert main(["train", "--data", str(small_data), "--model", "neumf", *TINY, *resume, "--protocol-option",
                 "valid=true", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    folder = "the folder" if not where else "its checkpoints/ folder"
    assert err == f"cinerec: error: --out {out}: cannot write in {folder} (Read-only file system)\n"
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before


def test_a_finished_run_resumed_with_data_that_is_refused_keeps_its_mark(small_data, neumf_run, tmp_path, capsys):
    # The finished run's mark was rewritten before its data was read: a resume refused for
    # a damaged copy of the data left the mark naming that copy, no longer the run's record.
    import shutil

    run = tmp_path / "run"
    shutil.copytree(neumf_run, run)
    mark = (run / ".cinerec-train").read_bytes()
    bad = tmp_path / "bad" / "small"
    shutil.copytree(small_data, bad)
    with open(bad / "u.data", "a") as f:
        f.write("1\t1\t9\t881250949\n")
    err = _error(capsys, ["train", "--data", str(bad), "--model", "neumf", *TINY, "--set", "epochs=4",
                          "--protocol-option", "valid=true", "--resume", "--out", str(run)])
    assert "u.data line" in err
    assert (run / ".cinerec-train").read_bytes() == mark


def test_a_resumed_run_cut_short_while_saving_is_no_run_and_resumes_again(small_data, neumf_run, tmp_path, capsys,
                                                                           monkeypatch):
    # Cut short between the new model and run.json, a resumed finished run kept its old
    # figures beside the new model; it is now no run until a later --resume finishes it.
    import shutil

    from cinerec import runs

    out = tmp_path / "resumed"
    shutil.copytree(neumf_run, out)
    argv = ["train", "--data", str(small_data), "--model", "neumf", *TINY, "--set", "epochs=4",
            "--protocol-option", "valid=true", "--resume", "--out", str(out), "--quiet"]
    real = runs.finish_run

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(runs, "finish_run", interrupted)
    assert main(argv) == 130
    capsys.readouterr()
    assert not (out / "run.json").exists()
    with pytest.raises(Exception, match="run"):
        open_run(out)
    monkeypatch.setattr(runs, "finish_run", real)
    assert main(argv) == 0
    assert open_run(out).model("neumf").config.epochs == 4 and open_run(out).meta["config"]["neumf"]["epochs"] == 4


def test_a_resumed_run_interrupted_while_saving_is_saved_whole_first(small_data, neumf_run, tmp_path, capsys,
                                                                       monkeypatch, ctrl_c):
    # Ctrl-C (or SIGTERM) landing in the save of a resumed finished run left no run at all:
    # the run it replaced was gone and the new one unfinished.
    import os
    import shutil
    import signal

    from cinerec import runs

    out = tmp_path / "resumed"
    shutil.copytree(neumf_run, out)
    real = runs.save_model

    def interrupted_while_saving(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)
        return real(*args, **kwargs)

    monkeypatch.setattr(runs, "save_model", interrupted_while_saving)
    assert main(["train", "--data", str(small_data), "--model", "neumf", *TINY, "--set", "epochs=4", "--protocol-option",
                 "valid=true", "--resume", "--out", str(out), "--quiet"]) == 130
    assert f"the run {out} had been written in full before" in capsys.readouterr().err
    assert open_run(out).meta["config"]["neumf"]["epochs"] == 4


def test_resume_with_other_side_features_is_refused(small_data, tmp_path, capsys):
    # The same ratings with other user demographics: the checkpoint's weights were trained
    # on the old ones, and resuming went on as if nothing had changed.
    other = tmp_path / "other"
    shutil.copytree(small_data, other)
    lines = (other / "u.user").read_text().splitlines()
    (other / "u.user").write_text("\n".join(line.replace("|F|", "|M|") for line in lines) + "\n")
    out = tmp_path / "run"
    two_tower = ["--model", "two-tower", *TINY[:2], "--set", "factors=8", "--set", "layers=[16]", *TINY[8:],
                 "--out", str(out), "--quiet"]
    assert main(["train", "--data", str(small_data), *two_tower]) == 0
    capsys.readouterr()
    code = main(["train", "--data", str(other), *two_tower, "--set", "epochs=4", "--resume"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    # (it said "were other ones and are now other ones")
    assert err.strip().endswith("cannot resume, the users' demographics (another user file, or its contents changed) "
                                "are not the ones it was trained with"), err
    lines = (other / "u.item").read_text(encoding="latin-1").splitlines()
    (other / "u.item").write_text("\n".join(line.replace("|0|1|", "|1|1|", 1) for line in lines) + "\n",
                                  encoding="latin-1")
    shutil.copy(small_data / "u.user", other / "u.user")
    assert main(["train", "--data", str(other), *two_tower, "--set", "epochs=4", "--resume"]) == 2
    assert capsys.readouterr().err.strip().endswith(
        "cannot resume, the movies' genres and years (another catalogue, or its contents changed) are not the ones "
        "it was trained with")
    # A setting that changes what is read is named, not blamed on a user file.
    assert main(["train", "--data", str(small_data), *two_tower, "--set", "epochs=4", "--set", "zip_prefix=true",
                 "--resume"]) == 2
    assert capsys.readouterr().err.strip().endswith("cannot resume, zip_prefix was False and is now True")
    assert main(["train", "--data", str(small_data), *two_tower, "--set", "epochs=4", "--resume"]) == 0


@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_side_features_reach_the_models_that_read_them(ml100k_dir, tmp_path, capsys, command):
    """two-tower and mlp-rating with features = true get the data's demographics and genres."""
    argv = [command, "--data", str(ml100k_dir), "--model", "mlp-rating", "--set", "features=true",
            "--set", "epochs=1", "--json", "--quiet"]
    if command == "train":
        argv += ["--out", str(tmp_path / "run")]
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "rmse" in json.dumps(json.loads(out))
    if command == "train":
        model = open_run(tmp_path / "run").model()
        assert model.config.features and model.uses_features


def test_train_into_the_current_folder_and_over_a_file_named_checkpoints(small_data, tmp_path, capsys, monkeypatch):
    # "--out ." ended in "PosixPath('.') has an empty name"; a file named checkpoints in a
    # FileExistsError after the whole fit.
    base = ["train", "--data", str(small_data), "--model", "popularity", "--protocol", "loo-full", "--quiet"]
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    assert main([*base, "--out", "."]) == 0
    capsys.readouterr()
    assert open_run(here).model_names == ["popularity"]
    odd = tmp_path / "odd"
    odd.mkdir()
    (odd / "checkpoints").write_text("x")
    assert "holds a file named 'checkpoints'" in _error(capsys, [*base, "--out", str(odd)])


def test_a_run_started_again_drops_the_old_checkpoints_and_a_failed_one_leaves_nothing(small_data, tmp_path, capsys):
    out = tmp_path / "run"
    ck = out / "checkpoints"
    ck.mkdir(parents=True)
    (ck / "checkpoint-best.pt").write_bytes(b"another model's")  # a killed run's, from before the mark
    gmf = ["train", "--data", str(small_data), "--model", "gmf", "--set", "epochs=1", "--protocol", "loo-full",
           "--quiet", "--out", str(out)]
    assert main(gmf) == 0
    capsys.readouterr()
    assert not (ck / "checkpoint-best.pt").exists() and (ck / "checkpoint-last.pt").is_file()
    # A finished run resumed with the same settings would only be written again (and lost if cut short).
    assert "the run already finished with these settings" in _error(capsys, [*gmf, "--resume"])
    assert (out / "run.json").is_file()
    # Given more epochs, the finished run is said to have finished its own (it was said
    # to have trained "1 of 2 epochs", as a run killed part way).
    assert main([*[{"epochs=1": "epochs=2"}.get(a, a) for a in gmf if a != "--quiet"], "--resume"]) == 0
    said = capsys.readouterr().err
    assert f"note: resumed from {ck / 'checkpoint-last.pt'}, which had finished the 1 epoch its run was given; " \
           "trained epoch 2 now" in said, said
    # A tuned run too: its saved settings are the search's choice, not the defaults, and
    # the resume ran the whole search again and rewrote the run.
    tuned_out = tmp_path / "tuned"
    tuned = [*gmf[:-1], str(tuned_out), "--tune", "2"]
    assert main(tuned) == 0
    capsys.readouterr()
    before = (tuned_out / "run.json").read_bytes()
    assert "the run already finished with these settings" in _error(capsys, [*tuned, "--resume"])
    assert (tuned_out / "run.json").read_bytes() == before
    fresh = tmp_path / "fresh"
    assert "diverged" in _error(capsys, ["train", "--data", str(small_data), "--model", "mf", "--set", "lr=1e30",
                                         "--protocol", "ratings-random", "--quiet", "--out", str(fresh)]) \
        or not fresh.exists()
    assert not fresh.exists()  # no empty checkpoints/, no mark
    # Nor the folders made to hold it: newparent/a/ stayed behind, empty.
    deep = tmp_path / "newparent" / "a" / "run"
    assert "diverged" in _error(capsys, ["train", "--data", str(small_data), "--model", "mf", "--set", "lr=1e30",
                                         "--protocol", "ratings-random", "--quiet", "--out", str(deep)])
    assert not (tmp_path / "newparent").exists()


def test_a_killed_run_is_left_as_it_was_by_a_train_refused_for_its_input(small_data, tmp_path, capsys):
    # A fresh start dropped the killed run's checkpoints (and a half-saved run's files)
    # before the data was read: a command then refused for a filter that left no ratings
    # had lost the checkpoint to resume from.
    out = tmp_path / "run"
    gmf = ["train", "--data", str(small_data), "--model", "gmf", "--set", "epochs=2", "--protocol", "loo-full",
           "--quiet", "--out", str(out)]
    assert main(gmf) == 0
    (out / "run.json").unlink()  # as a run killed while saving leaves it
    # A reader is told what the folder is (it was "not a finished cinerec run" alone, also
    # while a finished run resumed there is saved again).
    from cinerec.commands.train import _MARK
    from cinerec.runs import TRAIN_MARK

    assert _MARK == TRAIN_MARK
    assert _error(capsys, ["recommend", "--run", str(out), "--user", "1"]) == \
        f"cinerec: error: {out}: not a finished cinerec run (run.json is missing): cinerec train is training or saving " \
        "it now, or was cut short; open it once that train ends (one cut short goes on with cinerec train --resume and " \
        "its own arguments)"
    before = sorted((p.relative_to(out), p.read_bytes() if p.is_file() else None) for p in out.rglob("*"))
    assert any(name.name == "checkpoint-last.pt" for name, _ in before)
    capsys.readouterr()
    sampled = [*gmf[:gmf.index("--protocol")], *gmf[gmf.index("--protocol") + 2:], "--protocol", "loo-sampled"]
    for bad in ([*gmf, "--min-year", "3000"], [*sampled, "--protocol-option", "n_negatives=100000"]):
        assert main(bad) == 2
        assert capsys.readouterr().err.startswith("cinerec: error: ")
        assert sorted((p.relative_to(out), p.read_bytes() if p.is_file() else None) for p in out.rglob("*")) == before
    assert main([*gmf, "--resume"]) == 0  # (and it resumes)


def test_a_run_stopped_early_resumes_with_a_larger_patience_and_is_refused_with_the_same(small_data, tmp_path, capsys):
    # Resumed with patience = 0 it trained nothing, exited 0 and recorded settings it never used;
    # with the same patience it was told to ask for more epochs, which did nothing either.
    import json

    out = tmp_path / "run"
    argv = ["train", "--data", str(small_data), "--model", "gmf", "--protocol-option", "valid=true", "--set", "epochs=30",
            "--set", "lr=0.05", "--quiet", "--out", str(out)]
    assert main([*argv, "--set", "patience=1"]) == 0
    training = json.loads((out / "run.json").read_text())["training"]
    assert training["stopped_by"] == "patience" and training["epochs"] < 30, training
    before = (out / "run.json").read_bytes()
    for more in ([], ["--set", "epochs=60"]):  # the same patience would stop it again at once
        said = _error(capsys, [*argv, "--set", "patience=1", *more, "--resume"])
        assert f"the run stopped early after epoch {training['epochs']} (patience = 1" in said
        assert "resume with a larger patience (--set patience=N, or 0 never to stop early)" in said
    assert (out / "run.json").read_bytes() == before
    import shutil

    more = tmp_path / "more"
    shutil.copytree(out, more)
    assert main([*argv[:-3], "--set", "patience=0", "--resume", "--out", str(out)]) == 0
    said = capsys.readouterr().err
    done = training["epochs"]
    # Given more epochs too, the count said is of the epochs its run was given (it said
    # "of 40", which that run never was).
    assert main([*argv[:-3], "--set", "patience=0", "--set", "epochs=32", "--resume", "--out", str(more)]) == 0
    assert f"note: resumed from {more / 'checkpoints' / 'checkpoint-last.pt'}, which had trained {done} of the 30 " \
           f"epochs its run was given; trained epochs {done + 1} to 32 now" in capsys.readouterr().err
    assert f"note: resumed from {out / 'checkpoints' / 'checkpoint-last.pt'}, which had trained {done} of 30 epochs; " \
           f"trained epochs {done + 1} to 30 now" in said, said
    after = json.loads((out / "run.json").read_text())
    assert after["training"]["epochs"] == 30 and "stopped_by" not in after["training"]
    assert after["config"]["gmf"]["patience"] == 0
    # Trained to its last epoch, another patience alone changes nothing: it wrote the same
    # run again, recorded with a patience it never trained with.
    before = (out / "run.json").read_bytes()
    said = _error(capsys, [*argv, "--set", "patience=3", "--resume"])
    assert "the run trained all its 30 epochs without stopping early, so patience = 3 changes nothing" in said
    assert (out / "run.json").read_bytes() == before


def test_a_run_that_diverged_after_its_first_checkpoint_leaves_no_folder(small_data, tmp_path, capsys, monkeypatch):
    # Its checkpoints stayed: resumed they diverged again, and resumed with the smaller lr
    # the message asks for they were refused ("lr was 100000000.0 and is now 0.01").
    import torch

    from cinerec.models import create

    kind = type(create("biasedmf"))
    real = kind._epoch_data
    calls = {"n": 0}

    def second_epoch_diverges(self, *args):
        data = real(self, *args)
        calls["n"] += 1
        return data if calls["n"] == 1 else (*data[:-1], torch.full_like(data[-1], float("nan")))

    monkeypatch.setattr(kind, "_epoch_data", second_epoch_diverges)
    out = tmp_path / "run"
    argv = ["train", "--data", str(small_data), "--model", "biasedmf", "--protocol", "ratings-random", "--set",
            "epochs=4", "--quiet", "--out", str(out)]
    assert "biasedmf: training diverged at epoch 2 (loss nan)" in _error(capsys, argv)
    assert not out.exists()


def test_resuming_over_a_damaged_run_json_names_the_file(small_data, tmp_path, capsys):
    # It said "holds a finished '? ?' run".
    out = tmp_path / "run"
    out.mkdir()
    (out / "run.json").write_text("{not json")
    base = ["train", "--data", str(small_data), "--model", "gmf", "--set", "epochs=1", "--quiet", "--out", str(out)]
    assert "its run.json cannot be read" in _error(capsys, [*base, "--resume"])
    (out / "run.json").write_text("[1, 2]")
    assert "its run.json holds no run's record" in _error(capsys, [*base, "--resume"])


def test_resuming_with_another_catalogue_or_columns_is_refused_naming_them(tmp_path, capsys, monkeypatch):
    # A run trained with --catalog, resumed without it, went on and saved its data with no
    # titles, years or genres, without a word.
    rows = [(u, i) for u in range(30) for i in range(40) if (u * 7 + i) % 4]
    (tmp_path / "log.csv").write_text("who,what,rating,ts\n" + "".join(
        f"u{u},m{i},{1 + (u + i) % 5},{1600000000 + 50 * u + i}\n" for u, i in rows))
    (tmp_path / "items.csv").write_text("what,title\n" + "".join(f"m{i},Film {i} (2001)\n" for i in range(40)))
    (tmp_path / "other.csv").write_text("what,title\n" + "".join(f"m{i},Other {i} (2001)\n" for i in range(40)))
    out = tmp_path / "run"
    base = ["train", "--data", str(tmp_path / "log.csv"), "--columns", "user=who,item=what,time=ts", "--model", "gmf",
            *TINY, "--protocol", "loo-full", "--quiet", "--out", str(out)]
    assert main([*base, "--catalog", str(tmp_path / "items.csv")]) == 0
    capsys.readouterr()
    before = (out / "run.json").read_bytes()
    more = ["--set", "epochs=4", "--resume"]
    err = _error(capsys, [*base, *more])
    assert err == (f"cinerec: error: --resume: the run in {out} was trained with --catalog {tmp_path / 'items.csv'}, "
                   f"and no catalogue is given now; give --catalog {tmp_path / 'items.csv'} to train it further"), err
    err = _error(capsys, [*base, *more, "--catalog", str(tmp_path / "other.csv")])
    assert err == (f"cinerec: error: --resume: the run in {out} was trained with --catalog {tmp_path / 'items.csv'}, "
                   f"and --catalog {tmp_path / 'other.csv'} is asked now; give --catalog {tmp_path / 'items.csv'} to "
                   "train it further"), err
    err = _error(capsys, [*base[:3], "--columns", "user=who,item=what", *base[5:], *more, "--catalog",
                          str(tmp_path / "items.csv")])
    assert err == (f"cinerec: error: --resume: the run in {out} was trained with --columns user=who,item=what,time=ts, "
                   "and --columns user=who,item=what is asked now; give --columns user=who,item=what,time=ts to "
                   "train it further"), err
    # The scale given: another moves where "liked" starts in the data the run saves.
    err = _error(capsys, [*base, *more, "--catalog", str(tmp_path / "items.csv"), "--rating-scale", "0,5"])
    assert err == (f"cinerec: error: --resume: the run in {out} was trained with no --rating-scale, and --rating-scale "
                   "0,5 is asked now; leave --rating-scale out to train it further"), err
    assert (out / "run.json").read_bytes() == before
    # The same catalogue named from another folder is the same: it trains on.
    monkeypatch.chdir(tmp_path)
    assert main([*base, *more, "--catalog", "items.csv"]) == 0
    assert read_json(out / "run.json")["dataset"]["catalog_path"] == str(tmp_path / "items.csv")
    # A run's record from before these were kept says nothing of them: nothing to compare.
    meta = read_json(out / "run.json")
    del meta["dataset"]["catalog_path"], meta["dataset"]["columns"]
    (out / "run.json").write_text(json.dumps(meta))
    assert main([*base, "--set", "epochs=5", "--resume", "--catalog", "other.csv"]) == 0


def test_a_finished_run_with_a_setting_the_fit_settles_is_still_nothing_to_resume(small_data, tmp_path, capsys):
    # run.json holds liked_threshold as the fit settled it (4.0), the new model None: they
    # differed, so the run was trained again (zero epochs) and rewritten.
    liked = ["train", "--data", str(small_data), "--model", "mf", "--set", "epochs=1", "--set", 'loss="bce"',
             "--set", 'target="liked"', "--protocol", "ratings-random", "--quiet", "--out", str(tmp_path / "run")]
    assert main(liked) == 0
    capsys.readouterr()
    before = (tmp_path / "run" / "run.json").read_bytes()
    assert "the run already finished with these settings" in _error(capsys, [*liked, "--resume"])
    assert (tmp_path / "run" / "run.json").read_bytes() == before


def test_resuming_a_finished_run_on_other_data_says_the_data_differs_not_that_it_is_done(small_data, tmp_path, capsys):
    # With --top-users 20 it said "the run already finished with these settings, so there
    # is nothing to resume", though the data was not the run's.
    argv = ["train", "--data", str(small_data), "--model", "gmf", *TINY, "--quiet", "--out", str(tmp_path / "run")]
    assert main(argv) == 0
    capsys.readouterr()
    before = (tmp_path / "run" / "run.json").read_bytes()
    # Other filters or another seed: named as the flags, before the data is read (it said
    # "cannot resume, the data had 47 users and now has 20").
    err = _error(capsys, [*argv, "--resume", "--top-users", "20", "--implicit"])
    assert err == (f"cinerec: error: --resume: the run in {tmp_path / 'run'} was trained with no filters, and "
                   "--top-users 20 --implicit is asked now; give the same filters to train it further"), err
    err = _error(capsys, [*argv, "--resume", "--seed", "3"])
    assert err == (f"cinerec: error: --resume: the run in {tmp_path / 'run'} was trained with --seed 0, and --seed 3 "
                   "is asked now; give --seed 0 to train it further"), err
    # Other protocol options: taken in silence (a killed run's were refused); the same ones
    # as the protocol takes them (a default given, ks) are the run's.
    err = _error(capsys, [*argv, "--resume", "--protocol-option", "n_negatives=50"])
    assert err == (f"cinerec: error: --resume: the run in {tmp_path / 'run'} was trained under loo-sampled with no "
                   "--protocol-option, and --protocol-option n_negatives=50 is asked now; give the same "
                   "--protocol-option values to train it further"), err
    assert (tmp_path / "run" / "run.json").read_bytes() == before
    assert "nothing to resume" in _error(capsys, [*argv, "--resume", "--protocol-option", "n_negatives=99",
                                                  "--protocol-option", "ks=[10, 1]"])
    assert "nothing to resume" in _error(capsys, [*argv, "--resume"])
    # Another protocol (here the one a model of stars gets when none is given): named, not
    # "the data had 4,000 training ratings and now has 3,200".
    stars = ["train", "--data", str(small_data), "--model", "mf", "--set", "epochs=1", "--protocol", "loo-sampled",
             "--quiet", "--out", str(tmp_path / "mf")]
    assert main(stars) == 0
    capsys.readouterr()
    err = _error(capsys, [*stars[:-5], "--quiet", "--out", str(tmp_path / "mf"), "--set", "epochs=2", "--resume"])
    assert "--resume: the run in " in err and "was trained under protocol loo-sampled, and ratings-random is asked " \
        "now; give --protocol loo-sampled" in err, err


def test_resume_with_nothing_to_resume_from_says_it_trains_from_the_first_epoch(small_data, tmp_path, capsys):
    argv = ["train", "--data", str(small_data), "--model", "gmf", "--set", "epochs=1", "--protocol", "loo-full",
            "--out", str(tmp_path / "typo"), "--resume"]
    assert main(argv) == 0
    assert "holds no checkpoint to resume from; training from the first epoch" in capsys.readouterr().err
    # and in --json's notes, which -q keeps it to
    shutil.rmtree(tmp_path / "typo")
    assert main([*argv, "--json", "-q"]) == 0
    said = capsys.readouterr()
    assert said.err == "" and f"{tmp_path / 'typo'} holds no checkpoint to resume from; training from the first " \
        "epoch" in json.loads(said.out)["notes"]


def test_a_tuned_run_resumes_with_the_settings_its_search_chose(small_data, tmp_path, capsys):
    # Resumed for more epochs, a tuned run took the defaults (the checkpoint refused them:
    # "factors was 32 and is now 16"), or with --tune searched again and chose otherwise.
    base = ["train", "--data", str(small_data), "--model", "gmf", "--set", "progress=false", "--set", "device='cpu'",
            "--set", "threads=1", "--quiet", "--out", str(tmp_path / "run")]
    assert main([*base, "--set", "epochs=2", "--tune", "3"]) == 0
    capsys.readouterr()
    chosen = read_json(tmp_path / "run" / "run.json")["tuning"]["settings"]
    for extra in ([], ["--tune", "3"]):
        assert "the run already finished with these settings" in _error(capsys, [*base, "--set", "epochs=2", "--resume",
                                                                                 *extra])
    assert main([*base, "--set", "epochs=3", "--resume"]) == 0
    meta = read_json(tmp_path / "run" / "run.json")
    config = meta["config"]["gmf"]
    assert {k: config[k] for k in chosen} == chosen and config["epochs"] == 3
    assert meta["tuning"]["settings"] == chosen and meta["training"]["epochs"] == 3
    # Where its settings came from is still said: under the table, in the report and in
    # --json (they went with the resume, kept in run.json alone).
    printed = capsys.readouterr().out
    assert f"tuned gmf: {settings_words(chosen)} (validation hr@10 {meta['tuning']['value']:.4f};" in printed
    assert f"Chosen settings `{settings_words(chosen)}`" in (tmp_path / "run" / "report.md").read_text()
    assert main([*base, "--set", "epochs=4", "--resume", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["tuning"] == read_json(tmp_path / "run" / "run.json")["tuning"]
    # A searched setting given otherwise here: it was said to go on with the search's, then
    # refused by the checkpoint once the data was read.
    key = next(iter(chosen))
    other = chosen[key] * 2
    said = _error(capsys, [*base, "--set", "epochs=5", "--set", f"{key}={other}", "--resume", "--tune", "3"])
    assert said == (f"cinerec: error: --resume: {key} = {other!r} is given here, but {tmp_path / 'run'} trained with "
                    f"{key} = {chosen[key]!r} (its search chose it), which a resume keeps: leave {key} out, or train "
                    "afresh in another folder"), said
    # Another model's finished run is refused as such, not for the search's settings (run.json
    # was read as this model's).
    said = _error(capsys, [a if a != "gmf" else "mlp" for a in base] + ["--set", "epochs=5", "--set", f"{key}={other}",
                                                                         "--resume"])
    assert "holds a finished 'train gmf' run, and --resume continues only a 'train mlp' run" in said, said


def test_a_run_resumed_with_tune_goes_on_with_its_checkpoint_s_settings(small_data, tmp_path, capsys):
    # The search ran all its trials, then the checkpoint refused what it chose ("lr was
    # 0.005 and is now ..."): for a finished run that never searched, and for one cut short
    # before its record (checkpoints alone), which may have searched or not.
    import shutil

    base = ["train", "--data", str(small_data), "--model", "gmf", "--set", "progress=false", "--set", "device='cpu'",
            "--set", "threads=1", "--quiet"]
    assert main([*base, "--set", "epochs=1", "--out", str(tmp_path / "run")]) == 0
    lr = read_json(tmp_path / "run" / "run.json")["config"]["gmf"]["lr"]
    shutil.copytree(tmp_path / "run" / "checkpoints", tmp_path / "cut" / "checkpoints")
    for out in ("run", "cut"):
        capsys.readouterr()
        assert main([*base, "--out", str(tmp_path / out), "--set", "epochs=2", "--resume", "--tune", "3"]) == 0
        meta = read_json(tmp_path / out / "run.json")
        assert "tuning" not in meta and meta["training"]["epochs"] == 2 and meta["config"]["gmf"]["lr"] == lr
    # Another model's checkpoint lends it no settings (it said it went on with gmf's, then was refused).
    shutil.copytree(tmp_path / "run" / "checkpoints", tmp_path / "other" / "checkpoints")
    capsys.readouterr()
    argv = [a if a != "gmf" else "mlp" for a in base if a != "--quiet"]  # (the note is chatter -q keeps off)
    assert main([*argv, "--out", str(tmp_path / "other"), "--set", "epochs=2", "--resume", "--tune", "2"]) == 2
    err = capsys.readouterr().err
    assert "goes on with the settings" not in err and "cannot resume, the model was gmf and is now mlp" in err, err


def test_a_tuned_run_killed_after_its_search_resumes_with_its_record_and_refuses_another_model_or_protocol(
        small_data, tmp_path, capsys, monkeypatch):
    # Killed before run.json, a tuned run resumed lost its search's record (tuning null in
    # run.json and --json, no "tuned" line); another protocol was taken silently (its
    # training part is the same), and another model searched all its trials before the
    # checkpoint refused it.
    from cinerec import runs

    out = tmp_path / "run"
    base = ["train", "--data", str(small_data), "--set", "progress=false", "--set", "device='cpu'",
            "--set", "threads=1", "--set", "epochs=2", "--quiet", "--out", str(out)]
    real = runs.finish_run

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(runs, "finish_run", interrupted)
    assert main([*base, "--model", "gmf", "--tune", "3"]) == 130
    monkeypatch.setattr(runs, "finish_run", real)
    assert not (out / "run.json").exists() and (out / "checkpoints").is_dir()
    capsys.readouterr()
    said = _error(capsys, [*base, "--model", "mlp", "--tune", "3", "--resume"])
    assert said == (f"cinerec: error: --resume: the run killed in {out} trained gmf, and mlp is asked now; give --model "
                    "gmf to go on with it, or drop --resume to start again"), said
    said = _error(capsys, [*base, "--model", "gmf", "--tune", "3", "--resume", "--protocol", "loo-full"])
    assert said.startswith(f"cinerec: error: --resume: the run killed in {out} trained under protocol loo-sampled, "
                           "and loo-full is asked now; give --protocol loo-sampled"), said
    # Other protocol options were taken silently: the run went on measured otherwise.
    said = _error(capsys, [*base, "--model", "gmf", "--tune", "3", "--resume", "--protocol-option", "n_negatives=50"])
    assert said == (f"cinerec: error: --resume: the run killed in {out} trained under loo-sampled with no "
                    "--protocol-option, and --protocol-option n_negatives=50 is asked now; give the same "
                    "--protocol-option values to go on with it, or drop --resume to start again"), said
    said = _error(capsys, [*base, "--model", "gmf", "--tune", "3", "--resume", "--kcore", "2,3"])
    assert said == (f"cinerec: error: --resume: the run in {out} was trained with no filters, and --kcore 2,3 is "
                    "asked now; give the same filters to train it further"), said
    # Options that build the same protocol (its default; ks, which names the figures alone) go on.
    assert main([*base, "--model", "gmf", "--tune", "3", "--resume", "--json", "--protocol-option", "n_negatives=99",
                 "--protocol-option", "ks=[10,5,1]"]) == 0
    answer = json.loads(capsys.readouterr().out)
    meta = read_json(out / "run.json")
    assert answer["tuning"] == meta["tuning"] and meta["tuning"]["n_trials"] == 3
    chosen = meta["tuning"]["settings"]
    assert {k: meta["config"]["gmf"][k] for k in chosen} == chosen
    assert f"Chosen settings `{settings_words(chosen)}`" in (out / "report.md").read_text()


def test_a_tuned_run_killed_before_its_first_checkpoint_keeps_its_search(small_data, tmp_path, capsys, monkeypatch):
    # Killed in the first epoch after its search, the run's folder went whole, search and
    # all, and --resume searched every trial again.
    from cinerec import training

    out = tmp_path / "run"
    base = ["train", "--data", str(small_data), "--set", "progress=false", "--set", "device='cpu'",
            "--set", "threads=1", "--set", "epochs=2", "--quiet", "--out", str(out), "--model", "gmf", "--tune", "3"]
    real = training._save_checkpoint

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(training, "_save_checkpoint", interrupted)
    assert main(base) == 130
    monkeypatch.setattr(training, "_save_checkpoint", real)
    assert sorted(p.name for p in out.iterdir()) == [".cinerec-train"]
    searched = json.loads((out / ".cinerec-train").read_text())["tuning"]
    capsys.readouterr()
    from cinerec.commands import evaluate

    monkeypatch.setattr(evaluate, "_tune", lambda *a, **k: pytest.fail("searched again"))
    assert main([*base, "--resume", "--json"]) == 0
    meta = read_json(out / "run.json")
    assert meta["tuning"]["settings"] == searched["settings"] and meta["tuning"]["n_trials"] == 3
    assert {k: meta["config"]["gmf"][k] for k in searched["settings"]} == searched["settings"]


def test_ctrl_c_landing_in_a_weak_reference_s_callback_still_stops_the_run(small_data, tmp_path, capsys,
                                                                           monkeypatch):
    # Python drops an exception raised in such a callback ("Exception ignored in: <function
    # WeakKeyDictionary...>", a traceback): the run went on, was saved and exited 0.
    from cinerec import runs
    from tests.interrupts import drop_an_interrupt

    real = runs.save_model

    def collected_during_ctrl_c(*args, **kwargs):
        drop_an_interrupt()
        return real(*args, **kwargs)

    monkeypatch.setattr(runs, "save_model", collected_during_ctrl_c)
    out = tmp_path / "run"
    assert main(["train", "--data", str(small_data), "--model", "popularity", "--out", str(out), "-q"]) == 130
    err = capsys.readouterr().err
    assert err.strip() == "cinerec: interrupted" and "Exception ignored" not in err, err
    assert not out.exists()
    from cinerec.io import interrupt_dropped

    assert not interrupt_dropped()  # it belonged to that command alone
    # The next command starts afresh.
    monkeypatch.setattr(runs, "save_model", real)
    assert main(["train", "--data", str(small_data), "--model", "popularity", "--out", str(out), "-q"]) == 0
    assert (out / "run.json").exists()


def test_a_figure_no_one_could_be_measured_by_is_n_a_in_the_report_and_nan_in_the_leaderboard(tmp_path, capsys):
    # Each person gives every movie the same stars: no NDCG of stars. The report said "nan"
    # without a word, and the notebook's leaderboard dropped the columns.
    import math

    rows = [f"u{u},m{i},{u % 5 + 1},{u * 100 + i}" for u in range(60) for i in range(12) if (u + i) % 4]
    (tmp_path / "flat.csv").write_text("user,item,rating,ts\n" + "\n".join(rows) + "\n")
    run = tmp_path / "run"
    assert main(["train", "--data", str(tmp_path / "flat.csv"), "--model", "baseline", "--protocol", "ratings-random",
                 "--out", str(run), "-q"]) == 0
    capsys.readouterr()
    report = (run / "report.md").read_text()
    assert "| ndcg@10 | n/a |" in report and "nan" not in report
    assert "n/a: no one in the test part could be measured by ndcg@5, ndcg@10" in report
    board = open_run(run).leaderboard()
    assert "ndcg@10" in board.columns and math.isnan(board["ndcg@10"].iloc[0])


def test_a_run_over_all_official_folds_keeps_each_fold_s_checkpoints_and_resumes(ml100k_dir, tmp_path, capsys):
    # The five folds shared one checkpoint-last.pt, which held u5's at the end: every resume
    # was refused ("the 80,000 training ratings are not the ones it was trained on").
    import json

    argv = ["train", "--data", str(ml100k_dir), "--model", "biasedmf", "--protocol", "ratings-fold", "--protocol-option",
            "fold=all", "--set", "factors=4", "--quiet", "--json"]
    assert main([*argv, "--set", "epochs=1", "--out", str(tmp_path / "run")]) == 0
    capsys.readouterr()
    for fold in ("u1", "u2", "u3", "u4", "u5"):
        assert (tmp_path / "run" / "checkpoints" / fold / "checkpoint-last.pt").is_file()
    assert main([*argv, "--set", "epochs=2", "--out", str(tmp_path / "run"), "--resume"]) == 0
    resumed = json.loads(capsys.readouterr().out)["metrics"]
    assert main([*argv, "--set", "epochs=2", "--out", str(tmp_path / "straight")]) == 0
    assert json.loads(capsys.readouterr().out)["metrics"] == resumed
    assert "The last fold's (u5) training" in (tmp_path / "run" / "report.md").read_text()
    # Resumed on another fold, finished or killed, the fold is named: the checkpoint refused it
    # by its counts ("the 80,000 training ratings are not the ones it was trained on").
    run = tmp_path / "run"
    before = (run / "run.json").read_bytes()
    more = ["--set", "epochs=3", "--out", str(run), "--resume"]
    err = _error(capsys, [*argv[:8], "fold=u2", *argv[9:], *more])
    assert err == (f"cinerec: error: --resume: the run in {run} was trained on fold=all, and fold=u2 is asked now; "
                   "give --protocol-option fold=all to train it further"), err
    err = _error(capsys, [*argv[:7], *argv[9:], *more])
    assert err.endswith("was trained on fold=all, and the default fold=u1 is taken now; give --protocol-option "
                        "fold=all to train it further"), err
    assert (run / "run.json").read_bytes() == before
    from cinerec import runs

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    one = [*argv[:8], "fold=u3", *argv[9:], "--set", "epochs=1", "--out", str(tmp_path / "killed")]
    # Killed, then killed again while resumed: the mark still names the fold (the resume's own
    # mark dropped it, and the next resume on another fold was refused by the checkpoint's counts alone).
    for again in ([], ["--resume"]):
        real, runs.finish_run = runs.finish_run, interrupted
        try:
            assert main([*one, *again]) == 130
        finally:
            runs.finish_run = real
        capsys.readouterr()
        err = _error(capsys, [*argv[:8], "fold=u1", *argv[9:], "--set", "epochs=2", "--out", str(tmp_path / "killed"),
                              "--resume"])
        assert err.endswith("was trained on fold=u3, and fold=u1 is asked now; give --protocol-option fold=u3 to "
                            "train it further"), err
    # A mark that names no fold (from before it kept one): a resume on another fold, refused by
    # the checkpoint, leaves it naming none, not the fold refused (every resume was then refused).
    mark = tmp_path / "killed" / ".cinerec-train"
    mark.write_text(json.dumps({k: v for k, v in json.loads(mark.read_text()).items()
                                if k not in ("fold", "fold_given")}))
    before = mark.read_bytes()
    err = _error(capsys, [*argv[:8], "fold=u1", *argv[9:], "--set", "epochs=1", "--out", str(tmp_path / "killed"),
                          "--resume"])
    assert "cannot resume" in err and mark.read_bytes() == before, err
    assert main([*one, "--resume"]) == 0


def test_a_killed_run_on_data_without_official_folds_is_not_said_to_have_trained_on_one(small_data, tmp_path, capsys):
    # Its mark kept the protocol's default fold (u1), so a resume with fold=u2 was told
    # "trained on fold=u1, give --protocol-option fold=u1", which the data then refused.
    from cinerec import runs

    log = tmp_path / "log.csv"  # (the synthetic release has ml-100k's folds; a log of one's own has none)
    log.write_text("user,item,rating,time\n" + (small_data / "u.data").read_text().replace("\t", ","))
    out = tmp_path / "run"
    argv = ["train", "--data", str(log), "--model", "biasedmf", "--protocol", "ratings-fold", "--set",
            "factors=4", "--quiet", "--out", str(out)]

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    real, runs.finish_run = runs.finish_run, interrupted
    try:
        assert main([*argv, "--set", "epochs=1"]) == 130
    finally:
        runs.finish_run = real
    capsys.readouterr()
    err = _error(capsys, [*argv, "--set", "epochs=2", "--protocol-option", "fold=u2", "--resume"])
    assert "fold=u2 is one of ml-100k's official folds" in err and "trained on fold" not in err, err
    assert main([*argv[:-3], "--set", "epochs=2", "--resume", "--out", str(out)]) == 0
    assert "note: resumed from" in capsys.readouterr().err


def test_recommend_says_when_fewer_movies_are_left_than_k(neumf_run, capsys):
    # -k 50 on a small catalogue listed a few movies without a word, where export says so.
    run = open_run(neumf_run)
    ds = run.dataset
    raw_user = ds.user_ids.raw[3].item()
    unseen = ds.n_items - len(set(ds.interactions.items[ds.interactions.users == 3].tolist()))
    capsys.readouterr()
    k = unseen + 7
    assert main(["recommend", "--run", str(neumf_run), "--user", str(raw_user), "-k", str(k)]) == 0
    said = capsys.readouterr()
    assert said.out.count("\n") == unseen + 1  # (and the synthetic release's note under the list)
    assert f"note: {unseen} movies listed for user {raw_user}, not {k}: they rated the other " \
           f"{ds.n_items - unseen} of the run's {ds.n_items} movies" in said.err
    assert main(["recommend", "--run", str(neumf_run), "--user", str(raw_user), "-k", str(k), "-q", "--json"]) == 0
    said = capsys.readouterr()
    got = json.loads(said.out)
    assert said.err == "" and len(got["recommendations"]) == unseen
    made_up = ["the run's data is a synthetic release shaped like ml-100k (cinerec data synthesize): its movies, "
               "people and lists are made up"]  # (the run's data, said first)
    assert got["notes"] == made_up + [f"{unseen} movies listed for user {raw_user}, not {k}: they rated the other "
                                      f"{ds.n_items - unseen} of the run's {ds.n_items} movies"]  # (-q kept it off stderr)
    assert main(["recommend", "--run", str(neumf_run), "--user", str(raw_user), "-k", str(unseen)]) == 0
    said = capsys.readouterr()
    assert said.err == "" and said.out.endswith(f"\nnote: {made_up[0]}\n")  # (under the list)
    assert main(["recommend", "--run", str(neumf_run), "--user", str(raw_user), "-k", str(unseen), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["notes"] == made_up


def test_movies_of_a_synthetic_run_say_they_are_made_up(neumf_run, capsys):
    # recommend, similar and export said so; movies, alone of the commands that list them, did not.
    made_up = ("the run's data is a synthetic release shaped like ml-100k (cinerec data synthesize): its movies, "
               "people and lists are made up")
    capsys.readouterr()
    assert main(["movies", "--run", str(neumf_run), "--limit", "2", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["synthetic"] is True and got["notes"] == [made_up] and len(got["movies"]) == 2
    assert main(["movies", "--run", str(neumf_run), "--limit", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 3 and out[-1] == f"note: {made_up}"  # (under the list, as recommend's)


def test_recommend_json_says_why_a_list_is_empty(tmp_path, capsys):
    rows = ["user,item,rating,ts", *(f"all,m{m},4,{m}" for m in range(1, 7))]
    rows += [f"u{u},m{m},{1 + u * m % 5},{10 * u + m + 10}" for u in range(8) for m in range(1, 7) if (u + m) % 3]
    (tmp_path / "log.csv").write_text("\n".join(rows) + "\n")
    assert main(["train", "--data", str(tmp_path / "log.csv"), "--model", "popularity", "--protocol", "random-full",
                 "--protocol-option", "ks=[1]", "--out", str(tmp_path / "r"), "-q"]) == 0
    capsys.readouterr()
    assert main(["recommend", "--run", str(tmp_path / "r"), "--user", "all", "--json", "-q"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["recommendations"] == [] and got["notes"] == ["no movie listed for user all: they rated all 6 of the "
                                                             "run's movies"]


def test_an_empty_list_names_the_user_as_the_data_has_them(tmp_path, capsys):
    # Typed "013", the line said "user 013" where --json and its note said user 13.
    rows = ["user,item,rating,ts", *(f"13,m{m},4,{m}" for m in range(1, 7))]
    rows += [f"{u},m{m},{1 + u * m % 5},{10 * u + m + 10}" for u in range(1, 9) for m in range(1, 7) if (u + m) % 3]
    (tmp_path / "log.csv").write_text("\n".join(rows) + "\n")
    assert main(["train", "--data", str(tmp_path / "log.csv"), "--model", "popularity", "--protocol", "random-full",
                 "--protocol-option", "ks=[1]", "--out", str(tmp_path / "r"), "-q"]) == 0
    capsys.readouterr()
    assert main(["recommend", "--run", str(tmp_path / "r"), "--user", "013", "-q"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "no unseen movie left to recommend to user 13"


def test_a_run_s_mark_is_written_whole_and_left_alone_when_it_says_the_same(tmp_path):
    # Under torchrun the other ranks read the mark while rank 0 writes it: written in place,
    # a rank could read it empty, and go on with other settings than rank 0's.
    from cinerec.commands.train import _MARK, _mark, _marked

    _mark(tmp_path, {"model": "gmf", "seed": 0})
    before = (tmp_path / _MARK).stat().st_ino
    _mark(tmp_path, {"model": "gmf", "seed": 0})
    assert (tmp_path / _MARK).stat().st_ino == before  # not written again
    _mark(tmp_path, {"model": "gmf", "seed": 0, "tuning": {"settings": {"lr": 0.01}}})
    assert _marked(tmp_path)["tuning"] == {"settings": {"lr": 0.01}}
    assert sorted(p.name for p in tmp_path.iterdir()) == [_MARK]  # (put in place whole, under another name first)


def test_a_mark_a_kill_left_half_put_in_place_is_the_run_s_own(small_data, tmp_path, capsys):
    # Killed between writing the mark and putting it in place, a new folder held only
    # '.cinerec-train.new', and the next train refused it as someone else's file.
    out = tmp_path / "run"
    out.mkdir()
    (out / ".cinerec-train.new").write_text('{"model": "gmf"}')
    assert main(["train", "--data", str(small_data), "--model", "popularity", "--out", str(out), "-q"]) == 0
    assert (out / "run.json").exists()


def test_a_tuned_model_that_is_not_neural_is_fitted_once(small_data, tmp_path, capsys, monkeypatch):
    # train fitted the search's winner a second time (evaluate did not), and recorded the
    # second fit's time beside the search's.
    from cinerec.models.baselines import EASE

    fits = []
    real = EASE.fit

    def counted(self, *args, **kwargs):
        fits.append(self.config.regularization)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(EASE, "fit", counted)
    out = tmp_path / "run"
    assert main(["train", "--data", str(small_data), "--model", "ease", "--tune", "2", "--protocol", "loo-full",
                 "--out", str(out), "-q"]) == 0
    meta, metrics = read_json(out / "run.json"), read_json(out / "metrics.json")
    chosen = meta["tuning"]["settings"]["regularization"]
    assert fits.count(chosen) == 1  # (the search fits its winner on the training part; train did again)
    assert metrics["ease"]["seconds_fit"] == meta["tuning"]["seconds_fit"]
    assert open_run(out).model("ease").config.regularization == chosen


def test_a_tuned_neural_model_is_trained_once_on_the_training_part(small_data, tmp_path, monkeypatch):
    # The search fitted its winner on the training part, then train threw that model away
    # and trained it again with checkpoints; run.json's tuning.seconds_fit was the first's.
    from cinerec.models.neural import NeuralRecommender

    sizes = []
    real = NeuralRecommender.fit

    def counted(self, train, *args, **kwargs):
        sizes.append(len(train))
        return real(self, train, *args, **kwargs)

    monkeypatch.setattr(NeuralRecommender, "fit", counted)
    out = tmp_path / "run"
    assert main(["train", "--data", str(small_data), "--model", "gmf", "--set", "epochs=1", "--tune", "2",
                 "--protocol", "loo-full", "--out", str(out), "-q"]) == 0
    meta, metrics = read_json(out / "run.json"), read_json(out / "metrics.json")
    assert len(sizes) == 3 and sizes[0] == sizes[1] < sizes[2], sizes  # two trials on the carve-out, one fit
    assert metrics["gmf"]["seconds_fit"] == meta["tuning"]["seconds_fit"] > 0
    chosen = meta["tuning"]["settings"]
    assert {k: getattr(open_run(out).model("gmf").config, k) for k in chosen} == chosen
    assert meta["tuning"]["held"] == {}


def test_settings_held_out_of_a_search_are_recorded_with_their_values(small_data, tmp_path, capsys):
    # The line said "regularization = 50 kept as given"; --json and run.json's record did not.
    out = tmp_path / "run"
    assert main(["train", "--data", str(small_data), "--model", "ease", "--set", "regularization=50", "--tune", "2",
                 "--protocol", "loo-full", "--out", str(out), "-q", "--json"]) == 0
    said = json.loads(capsys.readouterr().out)
    assert read_json(out / "run.json")["tuning"]["held"] == {"regularization": 50.0}
    assert said["tuning"]["held"] == {"regularization": 50.0} and "regularization" not in said["tuning"]["settings"]


def test_a_train_refused_for_a_full_disk_leaves_no_folder_behind(small_data, tmp_path, capsys, monkeypatch):
    # Its mark's empty ".cinerec-train.new" was left in the folder it made, which run and
    # quickstart then refused as a folder holding files of no run.
    import cinerec.commands.train as train_module

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(train_module.os, "replace", full)
    out = tmp_path / "new" / "run"
    assert main(["train", "--data", str(small_data), "--model", "popularity", "--protocol", "loo-full",
                 "--out", str(out), "--quiet"]) == 2
    assert capsys.readouterr().err == (f"cinerec: error: --out {out}: cannot write in the folder (No space left on "
                                       "device)\n")
    assert not out.exists()


def test_a_resume_counts_the_epochs_its_checkpoint_trained_against_the_right_number():
    # Counted against the epochs its run was given where they differ from those asked now,
    # and told apart from them when the run now asks for no more than it had trained
    # (it said "4 of the 30 epochs its run was given (all of them)").
    from cinerec.commands.train import _resumed_words

    said = {args: _resumed_words(Path("c.pt"), *args).removeprefix("resumed from c.pt, which had ")
            for args in [(4, 4, 3, 30), (3, 3, 3, 30), (30, 30, 3, 30), (4, 30, 30, 30), (4, 30, 30, None),
                         (1, 1, 6, 1), (1, 1, 1, 1)]}
    measured = ": no epoch trained now, its weights are measured as they were"
    assert said == {
        (4, 4, 3, 30): f"trained 4 of the 30 epochs its run was given (more than the 3 epochs asked now){measured}",
        (3, 3, 3, 30): f"trained 3 of the 30 epochs its run was given (as many as the 3 epochs asked now){measured}",
        (30, 30, 3, 30): f"finished the 30 epochs its run was given (more than the 3 epochs asked now){measured}",
        (4, 30, 30, 30): f"trained 4 of 30 epochs (it had stopped early){measured}",
        (4, 30, 30, None): f"trained 4 of 30 epochs (it had stopped early){measured}",
        (1, 1, 6, 1): "finished the 1 epoch its run was given; trained epochs 2 to 6 now",
        (1, 1, 1, 1): f"trained 1 of 1 epoch (all of them){measured}",
    }


def test_a_smoke_run_resumed_is_said_to_have_trained_its_one_epoch(small_data, tmp_path, capsys):
    # A smoke run trains one epoch whatever its epochs setting: it was said to have trained
    # "1 of the 20 epochs its run was given (all of them)".
    out = tmp_path / "run"
    argv = ["train", "--data", str(small_data), "--model", "gmf", "--protocol", "loo-full", "--out", str(out)]
    assert main([*argv, "--set", "smoke=true", "--quiet"]) == 0
    capsys.readouterr()
    assert main([*argv, "--set", "smoke=true", "--set", "epochs=6", "--resume"]) == 0
    assert f"note: resumed from {out / 'checkpoints' / 'checkpoint-last.pt'}, which had trained 1 of 1 epoch (all of " \
           "them): no epoch trained now" in capsys.readouterr().err


def test_a_stopped_run_started_again_without_resume_says_its_checkpoints_go(small_data, neumf_run, tmp_path, capsys):
    # They were dropped without a word, where --resume would have gone on from them.
    import shutil

    out = tmp_path / "stopped"
    shutil.copytree(neumf_run / "checkpoints", out / "checkpoints")
    capsys.readouterr()
    assert main(["train", "--data", str(small_data), "--model", "neumf", *TINY, "--protocol-option", "valid=true",
                 "--out", str(out), "--json"]) == 0
    said = capsys.readouterr()
    dropped = f"{out} held the checkpoints of a run that was stopped; started again without --resume, they are " \
              "dropped (--resume goes on from them)"
    assert f"note: {dropped}" in said.err, said.err
    assert json.loads(said.out)["resumed"] is False and dropped in json.loads(said.out)["notes"]
    # A new folder says nothing of the kind.
    assert main(["train", "--data", str(small_data), "--model", "neumf", *TINY, "--protocol-option", "valid=true",
                 "--out", str(tmp_path / "new")]) == 0
    assert "held the checkpoints" not in capsys.readouterr().err


def test_a_folder_holding_only_a_file_browsers_files_is_empty_to_train_and_run(small_data, tmp_path):
    # "holds '.DS_Store' and no run that train started there": a folder made in Finder.
    for name in ("a", "b", "c"):
        (tmp_path / name).mkdir()
        (tmp_path / name / ".DS_Store").write_text("x")
    assert main(["train", "--data", str(small_data), "--model", "popularity", "--out", str(tmp_path / "a"), "-q"]) == 0
    assert (tmp_path / "a" / "run.json").is_file()
    study = tmp_path / "s.toml"
    study.write_text(f'[data]\nsource = "{small_data}"\n[protocol]\nname = "loo-full"\n[models.popularity]\n')
    assert main(["run", str(study), "--out", str(tmp_path / "b"), "-q"]) == 0
    assert main(["quickstart", "--data", str(small_data), "--model", "popularity", "--out", str(tmp_path / "c"),
                 "-q"]) == 0
    (tmp_path / "c" / ".DS_Store").write_text("x")  # (opened since: the run is replaced whole)
    assert main(["quickstart", "--data", str(small_data), "--model", "popularity", "--out", str(tmp_path / "c"),
                 "-q"]) == 0
    again = tmp_path / "release"
    assert main(["data", "synthesize", "--like", "ml-100k", "--scale", "0.01", "--out", str(again), "-q"]) == 0
    (again / ".DS_Store").write_text("x")
    assert main(["data", "synthesize", "--like", "ml-100k", "--scale", "0.01", "--out", str(again), "-q"]) == 0


def test_a_saved_stage_of_two_stage_is_checked_before_the_data_and_blamed_on_its_setting(tmp_path, capsys):
    # A folder with no saved model, or one of another model than the stage names, was found
    # after the data was read and said as "TwoStageConfig.ranker_path = '...': holds a 'als'
    # model, the config names 'neumf'", naming neither --set nor the file.
    from cinerec.data.synthetic import write_release
    from cinerec.models import create

    saved = tmp_path / "als"
    write_release(tmp_path / "d", like="ml-100k", scale=0.05, seed=0)
    from cinerec.data import load

    create("als", {"factors": 4, "epochs": 1}).fit(load(tmp_path / "d").interactions).save(saved)
    not_read = str(tmp_path / "not-read")
    argv = ["train", "--data", not_read, "--model", "two-stage", "--out", str(tmp_path / "o")]
    err = _error(capsys, [*argv, "--set", f"ranker_path='{saved}'"])
    assert err == f"cinerec: error: --set: ranker_path = \"{saved}\": holds a saved als model, and ranker is \"neumf\""
    err = _error(capsys, [*argv, "--set", f"retriever_path='{tmp_path / 'none'}'"])
    assert err.startswith(f"cinerec: error: --set: retriever_path = \"{tmp_path / 'none'}\": {tmp_path / 'none'}: no "
                          "saved model here"), err
    err = _error(capsys, [*argv, "--set", f"ranker_path='{'x' * 300}'", "--set", "ranker='als'"])
    assert err.endswith(": cannot be read (File name too long)"), err
    (tmp_path / "ts.toml").write_text(f"candidates = 50\nranker_path = '{saved}'\n")
    err = _error(capsys, [*argv, "--config", str(tmp_path / "ts.toml")])
    assert err.startswith(f"cinerec: error: {tmp_path / 'ts.toml'}:2: ranker_path = "), err
    # the saved model's kind from the file and the stage's from --set: both named (the file alone was)
    (tmp_path / "ts.toml").write_text(f"ranker = 'als'\nranker_path = '{saved}'\n")
    err = _error(capsys, [*argv, "--config", str(tmp_path / "ts.toml"), "--set", "ranker='mf'"])
    assert err.startswith(f"cinerec: error: {tmp_path / 'ts.toml'} with --set: ranker_path = "), err
    assert not (tmp_path / "o").exists()
