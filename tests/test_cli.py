"""The command line as a whole: one vocabulary of flags, one-line mistakes, a light start-up."""

from __future__ import annotations

import json
import os
import re
import subprocess
import textwrap
import sys
from pathlib import Path

import click
import numpy as np
import pytest
import typer

from cinerec.cli import app, main
from cinerec.errors import DataError
from cinerec.runs import open_run

SRC = Path(__file__).resolve().parents[1] / "src"
FIGURES = {"data info", "evaluate", "train", "recommend", "similar", "movies", "export", "quickstart", "run"}
RUN_READERS = {"recommend", "similar", "export", "serve"}


@pytest.fixture(autouse=True)
def _master_address(monkeypatch):
    """The address torchrun sets beside WORLD_SIZE and RANK, which the tests below set to play
    a process of a job (harmless alone: without WORLD_SIZE nothing reads it)."""
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", "29500")


def _commands() -> dict[str, object]:
    """Every leaf command by its name (``data info``...)."""
    out = {}

    def walk(group, path):
        for name, cmd in group.commands.items():
            full = f"{path} {name}".strip()
            if isinstance(cmd, click.Group):
                walk(cmd, full)
            else:
                out[full] = cmd

    walk(typer.main.get_command(app), "")
    return out


def _options(cmd) -> dict[str, object]:
    return {opt: p for p in cmd.params for opt in p.opts}


def test_every_command_is_there():
    assert set(_commands()) == {"data fetch", "data info", "data synthesize", "quickstart", "evaluate", "train",
                                "recommend", "similar", "movies", "export", "serve", "run"}


def test_a_flag_means_the_same_on_every_command():
    commands = _commands()
    shared = ["--data", "--model", "--config", "--set", "--protocol", "--protocol-option", "--seed", "--json",
              "--quiet", "--run", "--run-model", "--tune"]
    for flag in shared:
        params = {name: _options(cmd)[flag] for name, cmd in commands.items() if flag in _options(cmd)}
        assert params, flag
        # quickstart's --data and --model have defaults (ml-100k, the quick models), and its
        # --seed no setting overrides (it takes none); synthesize's --seed seeds the
        # synthetic ratings; otherwise one help text per flag.
        usual = {name: p for name, p in params.items()
                 if (name, flag) not in {("quickstart", "--data"), ("quickstart", "--model"),
                                         ("quickstart", "--seed"), ("data synthesize", "--seed")}}
        assert len({p.help for p in usual.values()}) == 1, (flag, sorted(usual))
    # --json exactly where figures are printed; --quiet everywhere
    assert {n for n, c in commands.items() if "--json" in _options(c)} == FIGURES
    assert all("--quiet" in _options(c) for c in commands.values())
    # a run's saved model is --run-model; --model only ever names a model to create
    for name in RUN_READERS:
        assert "--run-model" in _options(commands[name]) and "--model" not in _options(commands[name])
    assert {n for n, c in commands.items() if "--model" in _options(c)} == {"evaluate", "train", "quickstart"}


def _one_line_error(capsys, argv) -> str:
    capsys.readouterr()
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and err.startswith("cinerec: error: ") and "Traceback" not in err, err
    assert out == ""
    return err


@pytest.mark.parametrize("argv", [
    ["serve", "--run", "runs/x", "--json"],
    ["data", "fetch", "ml-100k", "--json"],
    ["data", "synthesize", "--like", "ml-100k", "--out", "x", "--json"],
])
def test_json_on_a_command_without_figures_is_one_line(capsys, argv):
    err = _one_line_error(capsys, argv)
    assert "--json" in err and "prints no figures" in err
    assert "evaluate" in err and "data info" in err  # where it does work


@pytest.mark.parametrize("argv, needle", [
    (["evaluate", "--model", "ease"], "Missing option '--data'"),
    (["evaluate", "--data", "x", "--model", "ease", "--seed", "-1"], "--seed"),
    (["evaluate", "--data", "x", "--model", "ease", "--bogus"], "--bogus"),
    (["export", "--run", "x", "--db", "y", "--model", "ease"], "--run-model"),
    (["export", "--run", "x", "--db", "y", "--no-progress"], "--quiet"),
    (["quickstart", "--models", "ease"], "--model"),
    (["serve", "--run", "x", "--port", "70000"], "--port"),
    (["nonsense"], "nonsense"),
    (["recommend", "--run", "x", "--user", "1", "--run-model", ""], "--run-model': give a model name"),
    # An unset "$DATA" read every log of the current folder without a word.
    (["evaluate", "--data", "", "--model", "popularity"], "--data: empty; name a release"),
    (["train", "--data", " ", "--model", "popularity", "--out", "o"], "--data: empty; name a release"),
    (["quickstart", "--data", ""], "--data: empty; name a release"),
    (["data", "info", ""], "SOURCE: empty; name a release"),
    (["run", "s.toml", "--out", "o", "--only", ""], "--only '': give the labels of [models.LABEL] tables"),
    (["run", "s.toml", "--out", "o", "--only", "ease,"], "--only 'ease,': give the labels"),
])
def test_usage_mistakes_are_one_line_and_exit_2(capsys, argv, needle):
    assert needle in _one_line_error(capsys, argv)


@pytest.mark.parametrize("argv", [["evaluate", "--model", "ease", "--bogus"],
                                  ["evaluate", "--data", "/no/such/folder", "--model", "ease"]])
def test_under_torchrun_rank_0_alone_says_a_mistake(capsys, monkeypatch, argv):
    """Another rank waits to be stopped (torchrun stops every rank once rank 0, having
    said the mistake, has failed too) and says nothing then; a mistake no one stopped it
    for is its own, said naming its rank."""
    import os
    import signal
    import threading

    import cinerec.cli as cli

    monkeypatch.setattr(cli, "RANK_ERROR_WAIT_S", 5.0)
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    stop = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGTERM))  # as torchrun stops it
    stop.start()
    try:
        assert main(argv) == 2
    finally:
        stop.join()
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(cli, "RANK_ERROR_WAIT_S", 0.1)
    assert main(argv) == 2  # not stopped: a mistake of this rank alone
    assert capsys.readouterr().err.startswith("cinerec: error: rank 1: ")
    monkeypatch.setenv("RANK", "0")
    assert main(argv) == 2
    assert capsys.readouterr().err.startswith("cinerec: error: ")


@pytest.mark.parametrize("argv", [["run", "study.toml", "--out", "r"], ["quickstart", "--out", "q"],
                                  ["serve", "--run", "r"], ["data", "info", "ml-100k"],
                                  ["recommend", "--run", "r", "--user", "1"], ["movies", "--run", "r", "star"]])
def test_a_command_of_one_process_is_refused_under_torchrun(monkeypatch, capsys, tmp_path, argv):
    # `run STUDY` under torchrun: every rank ran the whole study, printed it all, and the
    # ranks wrote the same run folder until one failed ("something else was written there").
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert main(argv) == 2
    # (recommend and data info write no file: "write the same files" was said of them too)
    doing = "print the same lines" if argv[0] in ("recommend", "data", "movies") else "write the same files"
    assert capsys.readouterr().err == (f"cinerec: error: {argv[0]}: runs in one process; under torchrun (2 processes) "
                                       f"every process would run it whole and {doing}: run it without "
                                       "torchrun (train, evaluate, export share their work under torchrun)\n")
    assert not any(tmp_path.iterdir())
    assert main([argv[0], "--help"]) == 0  # (help is help)


def test_a_process_of_the_job_gone_is_one_line_under_torchrun(monkeypatch, capsys, ml100k_dir):
    # Another rank killed mid-training: rank 0's collective step failed with about 90
    # lines of traceback ending in gloo's "Connection closed by peer".
    import cinerec.data

    def gone(*args, **kwargs):
        raise RuntimeError("[../third_party/gloo/gloo/transport/tcp/pair.cc:537] Read error [127.0.0.1]:35565: "
                           "Connection reset by peer. This is typically caused by a remote worker hanging")

    monkeypatch.setattr(cinerec.data, "load", gone)
    argv = ["evaluate", "--data", str(ml100k_dir), "--model", "gmf"]
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("cinerec: error: another process of this torchrun job stopped (Read error [127.0.0.1]:35565: "
                          "Connection reset by peer); a train run that had saved a checkpoint keeps its folder")
    # (it said the folder "keeps its checkpoints" where one killed before the first had none, and was
    # removed; and "is removed" where rank 0 itself was killed, which is what removes it)
    assert err.endswith("--resume goes on from it (one stopped before its first checkpoint is removed, or left "
                        "holding no checkpoint where rank 0 itself stopped: the same command starts it again)\n") and \
        err.count("\n") == 1
    # Rank 1 says it too, at once: the process lost may be rank 0 (killed on its own), and
    # torchrun stopped rank 1 before it said anything.
    monkeypatch.setenv("RANK", "1")
    assert main(argv) == 1
    assert capsys.readouterr().err.startswith("cinerec: error: rank 1: another process of this torchrun job stopped")
    monkeypatch.setenv("WORLD_SIZE", "3")
    monkeypatch.setenv("RANK", "2")
    import cinerec.cli

    monkeypatch.setattr(cinerec.cli, "RANK_ERROR_WAIT_S", 0.1)  # and stopped: rank 0 and rank 1 say it
    monkeypatch.setattr(cinerec.cli, "_stopped_within", lambda seconds: True)
    assert main(argv) == 1 and capsys.readouterr().err == ""
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "1")  # alone, the same words are no lost peer: a bug, its traceback
    with pytest.raises(RuntimeError, match="Connection reset by peer"):
        main(argv)


_JOB = {"RANK": "1", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500"}


@pytest.mark.parametrize("env, said", [
    ({"WORLD_SIZE": "2"}, "WORLD_SIZE=2 is set but RANK, MASTER_ADDR and MASTER_PORT are not: torchrun sets them "
                          "together; run the command under torchrun (docs/distributed.md), or unset WORLD_SIZE"),
    ({**_JOB, "WORLD_SIZE": "2", "MASTER_PORT": ""}, "rank 1: WORLD_SIZE=2 is set but MASTER_PORT is not: "),
    ({"WORLD_SIZE": "abc"}, "WORLD_SIZE='abc' is not a number of processes; torchrun sets it: "),
    ({"WORLD_SIZE": "0"}, "WORLD_SIZE=0 is not a number of processes (at least 1)"),
    ({**_JOB, "WORLD_SIZE": "2", "RANK": "x"}, "RANK='x' is not a process of WORLD_SIZE=2 (0 to 1)"),
    ({**_JOB, "WORLD_SIZE": "2", "MASTER_PORT": "70000"}, "rank 1: MASTER_PORT='70000' is not a port (1 to 65535)"),
])
def test_a_torchrun_environment_left_half_set_is_one_line_before_anything_is_read(monkeypatch, capsys, tmp_path,
                                                                                    env, said):
    # A WORLD_SIZE left in a shell read all the data, then ended in torch's 73-line
    # traceback ("RANK expected, but not set"); "abc" in int()'s.
    import cinerec.data

    monkeypatch.chdir(tmp_path)
    for name in ("RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(cinerec.data, "load", lambda *a, **k: pytest.fail("the data was read"))
    assert main(["evaluate", "--data", "ml-100k", "--model", "popularity"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"cinerec: error: {said}") and err.count("\n") == 1, err
    assert not any(tmp_path.iterdir())


def test_help_and_an_empty_world_size_are_not_refused_for_a_torchrun_environment(monkeypatch, capsys):
    # The help is help whatever the environment; WORLD_SIZE set empty is unset, as RANK is.
    for name in ("RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert main(["train", "--help"]) == 0 and "Usage: cinerec train" in capsys.readouterr().out
    assert main(["--version"]) == 0
    capsys.readouterr()
    monkeypatch.setenv("WORLD_SIZE", "")
    assert main(["data", "synthesize", "--like", "nope", "--out", "x"]) == 2
    assert "WORLD_SIZE" not in capsys.readouterr().err


def test_help_and_version(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in ("quickstart", "data", "evaluate", "train", "recommend", "similar", "export", "serve", "--install-completion"):
        assert name in out
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("cinerec ")


def test_defaults_are_shown_one_way_in_every_command_s_help(capsys):
    # export's -k said "(default 50)" in its text where every other option shows [default: N].
    def said() -> str:  # (the help as words, however it wraps)
        return " ".join(capsys.readouterr().out.split())

    assert main(["export", "--help"]) == 0
    assert "Recommendations per user. [default: 50; 1<=x<=1000]" in said()


def test_an_interrupt_after_the_command_returned_is_still_said(capsys, monkeypatch):
    """Ctrl-C (or SIGTERM) landing once a command has finished, after "run saved" say,
    escaped as a bare KeyboardInterrupt: exit 130 with a traceback, not the one line."""
    import cinerec.cli as cli

    def finished_then_interrupted(command, argv):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_run", finished_then_interrupted)
    assert main(["--version"]) == 130
    assert capsys.readouterr().err.strip() == "cinerec: interrupted"


def test_shell_completion_names_models_and_protocols():
    env = {**os.environ, "PYTHONPATH": str(SRC), "_CINEREC_COMPLETE": "complete_bash",
           "COMP_WORDS": "cinerec evaluate --model ea", "COMP_CWORD": "3"}
    done = subprocess.run([sys.executable, "-m", "cinerec"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    offered = {line.split(",")[-1] for line in done.stdout.split()}  # bash's lines are "plain,NAME"
    assert "ease" in offered and "popularity" not in offered


def test_help_starts_without_the_heavy_libraries():
    # What `cinerec --help` imports, seen from inside the process that answers it.
    probe = ("import sys\nfrom cinerec.cli import main\ncode = main(['--help'])\n"
             "heavy = ['torch', 'numpy', 'pandas', 'scipy', 'pyarrow', 'fastapi', 'uvicorn', 'matplotlib', 'implicit']\n"
             "print('LOADED', *[m for m in heavy if m in sys.modules])\nsys.exit(code)\n")
    env = {**os.environ, "PYTHONPATH": str(SRC), "COLUMNS": "100"}
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "LOADED"
    for command in ("evaluate", "data", "serve"):  # nor does a command's help
        done = subprocess.run([sys.executable, "-c", probe.replace("['--help']", f"['{command}', '--help']")],
                              env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0 and done.stdout.splitlines()[-1] == "LOADED", (command, done.stdout[-300:])


def test_python_dash_m_runs_the_same_command():
    done = subprocess.run([sys.executable, "-m", "cinerec", "evaluate", "--data", "x", "--model", "ease", "--json",
                           "--bogus"], env={**os.environ, "PYTHONPATH": str(SRC)}, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2 and done.stderr.startswith("cinerec: error: evaluate: ") and done.stdout == ""


# -- --config ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_data(tmp_path_factory):
    out = tmp_path_factory.mktemp("data") / "small"
    assert main(["data", "synthesize", "--like", "ml-100k", "--scale", "0.05", "--seed", "2", "--out", str(out)]) == 0
    return out


def test_set_wins_over_a_bad_value_in_the_config_file(small_data, tmp_path, capsys):
    bad = tmp_path / "neg.toml"
    bad.write_text("regularization = -1\nbinary = true\n")
    assert main(["evaluate", "--data", str(small_data), "--model", "ease", "--config", str(bad),
                 "--set", "regularization=500", "--json", "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out)["model"] == "ease"
    err = _one_line_error(capsys, ["evaluate", "--data", str(small_data), "--model", "ease", "--config", str(bad)])
    assert "neg.toml:1: regularization = -1: must be positive" in err


def test_settings_split_between_the_config_file_and_set_are_judged_together(small_data, tmp_path, capsys):
    # The file was judged alone, with defaults for the rest: index_nlist without --set's
    # index = "ivf", settings of a member only --set names, were refused and blamed on the file.
    cases = [("als", 'index_nlist = 4\n', ["index=ivf", "factors=8", "epochs=2"]),
             ("ensemble", '[settings.itemknn]\nneighbors = 10\n', ['members=["ease","itemknn"]']),
             ("two-stage", '[retriever_settings]\nneighbors = 10\n', ["retriever=itemknn", "ranker=popularity"])]
    for model, text, sets in cases:
        (tmp_path / "c.toml").write_text(text)
        argv = ["evaluate", "--data", str(small_data), "--model", model, "--config", str(tmp_path / "c.toml"),
                "--protocol", "loo-full", "--json", "--quiet", *(a for s in sets for a in ("--set", s))]
        assert main(argv) == 0, capsys.readouterr().err
        capsys.readouterr()
    # A mistake neither makes alone is said of both (it was blamed on --set, which never gave weights).
    (tmp_path / "c.toml").write_text("weights = [1.0, 1.0, 1.0]\n")
    err = _one_line_error(capsys, ["evaluate", "--data", str(small_data), "--model", "ensemble", "--config",
                                   str(tmp_path / "c.toml"), "--set", 'members=["ease","itemknn"]'])
    assert err.startswith(f"cinerec: error: {tmp_path / 'c.toml'} with --set: weights = [1, 1, 1]: must hold one "
                          "number per member (2), got 3"), err
    # One only --set's override makes is not the file's (it was: the file without the overridden
    # key, filled with the defaults, made it too).
    (tmp_path / "c.toml").write_text('members = ["ease", "als"]\nweights = [1.0, 2.0]\n')
    err = _one_line_error(capsys, ["evaluate", "--data", str(small_data), "--model", "ensemble", "--config",
                                   str(tmp_path / "c.toml"), "--set", 'members=["ease","als","seqknn"]'])
    assert err.startswith(f"cinerec: error: {tmp_path / 'c.toml'} with --set: weights = [1, 2]: "), err
    # A bad file value --set replaced does not hide the file's other mistake, still its own.
    (tmp_path / "c.toml").write_text("factors = 0\nregularization = -1.0\n")
    err = _one_line_error(capsys, ["evaluate", "--data", str(small_data), "--model", "als", "--config",
                                   str(tmp_path / "c.toml"), "--set", "factors=8"])
    assert err.startswith(f"cinerec: error: {tmp_path / 'c.toml'}:2: regularization = -1"), err
    # One the file makes alone is still the file's.
    (tmp_path / "c.toml").write_text("weights = [1.0, 1.0]\n")
    err = _one_line_error(capsys, ["evaluate", "--data", str(small_data), "--model", "ensemble", "--config",
                                   str(tmp_path / "c.toml"), "--set", "seed=3"])
    assert err.startswith(f"cinerec: error: {tmp_path / 'c.toml'}:1: weights = [1, 1]: must hold one number per "
                          "member (3), got 2"), err


def test_a_setting_that_asks_for_too_much_memory_is_one_line(small_data, capsys):
    err = _one_line_error(capsys, ["evaluate", "--data", str(small_data), "--model", "als",
                                   "--set", "factors=1000000000000", "--quiet"])
    assert "cinerec: error: out of memory fitting als (Unable to allocate" in err  # NumPy's MemoryError
    # From Python, one line too (a raw MemoryError), still a MemoryError.
    from cinerec.data import load
    from cinerec.errors import CinerecError
    from cinerec.models import create

    train = load(small_data).interactions
    with pytest.raises(CinerecError, match=r"^out of memory fitting als \(Unable to allocate .*\); a setting may ask "
                                           r"for too much") as caught:
        create("als", {"factors": 10**12, "epochs": 1}).fit(train)
    assert isinstance(caught.value, MemoryError)
    with pytest.raises(CinerecError, match=r"^out of memory fitting neumf \("):  # (torch's, a RuntimeError)
        create("neumf", {"factors": 10**12, "epochs": 1}).fit(train)
    # Bigger than any array can be: NumPy's ValueError, a traceback from the command line.
    err = _one_line_error(capsys, ["evaluate", "--data", str(small_data), "--model", "als",
                                   "--set", f"factors={2**63 - 1}", "--quiet"])
    assert "cinerec: error: out of memory fitting als (array is too big" in err, err
    with pytest.raises(CinerecError, match=r"^out of memory fitting als \(array is too big"):
        create("als", {"factors": 2**62, "epochs": 1}).fit(train)


BLEND = """\
holdout = 0.2

[settings.bpmf]
factors = 3
sweeps = 4
burn_in = 2

[settings.autorec]
epochs = 2
progress = false
"""


def test_blend_members_take_their_settings_from_tables(small_data, tmp_path, capsys):
    cfg = tmp_path / "blend.toml"
    cfg.write_text(BLEND)
    out = tmp_path / "run"
    capsys.readouterr()
    assert main(["train", "--data", str(small_data), "--model", "blend", "--config", str(cfg),
                 "--set", "holdout=0.25", "--out", str(out), "--json", "--quiet"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["protocol"] == "ratings-random" and got["metrics"]["rmse"] > 0
    saved = open_run(out).meta["config"]["blend"]
    assert saved["settings"] == {"bpmf": {"factors": 3, "sweeps": 4, "burn_in": 2},
                                 "autorec": {"epochs": 2, "progress": False}}
    assert saved["holdout"] == 0.25  # --set wins over the file
    blend = open_run(out).model("blend")
    bpmf = next(m for m in blend.members if m.name == "bpmf")  # members: every fitted copy, in order
    assert bpmf.config.factors == 3 and bpmf.config.sweeps == 4


def test_blend_members_take_their_settings_from_dotted_set_keys(small_data, tmp_path, capsys):
    # --set settings.bpmf.factors=3 was refused as an unknown key 'settings.bpmf.factors'.
    out = tmp_path / "run"
    sets = ["members=[\"bpmf\", \"autorec\"]", "repeats={}", "settings.bpmf.factors=3", "settings.bpmf.sweeps=4",
            "settings.bpmf.burn_in=2", "settings.autorec.epochs=2", "settings.autorec.progress=false"]
    assert main(["train", "--data", str(small_data), "--model", "blend", *[a for s in sets for a in ("--set", s)],
                 "--out", str(out), "--json", "--quiet"]) == 0
    assert open_run(out).meta["config"]["blend"]["settings"] == {"bpmf": {"factors": 3, "sweeps": 4, "burn_in": 2},
                                                                  "autorec": {"epochs": 2, "progress": False}}
    err = _one_line_error(capsys, ["evaluate", "--data", str(tmp_path / "never-read"), "--model", "blend",
                                   "--set", "settings.bpmf.factorz=4"])
    assert "unknown key 'factorz'" in err and "settings.bpmf" in err


@pytest.mark.parametrize("text, model, needles", [
    ("[settings.ease]\nneighbors = 5\n", "blend", ["'ease'", "settings", "members"]),
    ("[bpmf]\nfactors = 4\n", "blend", ["table [bpmf]", "[settings]"]),
    ("[bpmf]\nfactors = 4\n", "ease", ["table [bpmf]", "top level"]),
    ("[settings.bpmf]\nfactorz = 4\n", "blend", ["unknown key 'factorz'", "settings.bpmf"]),
    ("factorz = 4\n", "biasedmf", ["unknown key 'factorz'"]),
    ("factors = \n", "biasedmf", ["not valid TOML"]),
])
def test_a_bad_config_file_is_one_line_naming_it(small_data, tmp_path, capsys, text, model, needles):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(text)
    for command in (["evaluate"], ["train", "--out", str(tmp_path / "run")]):
        err = _one_line_error(capsys, [*command, "--data", str(tmp_path / "never-read"), "--model", model,
                                       "--config", str(cfg)])
        assert str(cfg) in err and all(n in err for n in needles), err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("text, model, said", [
    ("# settings\nfactors = 4\n\nepochs = -3\n", "mf", ":4: epochs = -3: must be at least 1"),
    ("# epochs = -3\nepochs = -3\n", "mf", ":2: epochs = -3: must be at least 1"),
    ("factors = 4\nfactorz = 4\n", "biasedmf", ":2: unknown key 'factorz'"),
    ("factors = 4\n[bpmf]\nfactors = 4\n", "ease", ":2: table [bpmf] is not a table setting"),
    ('members = ["ease", "itemknn"]\n\n[settings.ease]\nlamda = 3\n', "blend",
     ":4: settings.ease: unknown key 'lamda'"),
    ('members = ["ease", "itemknn"]\nsettings.ease.l2 = 3\n', "blend", ":2: settings.ease: 'l2' was renamed"),
    ('members = ["ease", "itemknn"]\n[settings]\nease = {l2 = 3}\n', "blend", ":3: settings.ease: 'l2' was renamed"),
])
def test_a_bad_config_file_names_the_line_of_the_key(tmp_path, capsys, text, model, said):
    # It named the file alone, as a study file's mistakes name the file and the line.
    cfg = tmp_path / "bad.toml"
    cfg.write_text(text)
    err = _one_line_error(capsys, ["evaluate", "--data", "x", "--model", model, "--config", str(cfg)])
    assert err.startswith(f"cinerec: error: {cfg}{said}"), err


def test_a_config_or_study_file_under_a_file_is_one_line_naming_it(tmp_path, capsys):
    # A path inside a file ended in a NotADirectoryError traceback (exit 1).
    (tmp_path / "afile").write_text("x")
    inside = tmp_path / "afile" / "x.toml"
    for command in (["evaluate"], ["train", "--out", str(tmp_path / "run")]):
        err = _one_line_error(capsys, [*command, "--data", "x", "--model", "ease", "--config", str(inside)])
        assert err == f"cinerec: error: --config {inside}: cannot be read (not a directory)\n", err
    err = _one_line_error(capsys, ["run", str(inside), "--out", str(tmp_path / "run")])
    assert err == f"cinerec: error: {inside}: cannot be read (not a directory)\n", err
    assert not (tmp_path / "run").exists()


def test_a_bad_set_is_blamed_on_set_not_the_file(tmp_path, capsys):
    cfg = tmp_path / "fine.toml"
    cfg.write_text("factors = 4\n")
    err = _one_line_error(capsys, ["evaluate", "--data", "x", "--model", "biasedmf", "--config", str(cfg),
                                   "--set", "factorz=3"])
    assert "--set" in err and "unknown key 'factorz'" in err and str(cfg) not in err
    err = _one_line_error(capsys, ["evaluate", "--data", "x", "--model", "biasedmf", "--config",
                                   str(tmp_path / "missing.toml")])
    assert "missing.toml: no such file" in err


def test_settings_past_what_the_models_compute_with_are_one_line(small_data, capsys):
    err = _one_line_error(capsys, ["evaluate", "--data", str(small_data), "--model", "als",
                                   "--set", "factors=99999999999999999999"])
    # Said by the side it is past: "out of range (from -(2**63 - 1) to 2**63 - 1)" named
    # numbers that a setting of at least 1 refuses.
    assert "--set: factors = 99999999999999999999: too large (at most 2**63 - 1)" in err
    err = _one_line_error(capsys, ["evaluate", "--data", str(small_data), "--model", "ease",
                                   "--set", "regularization=1e39"])
    assert "--set: regularization = 1e+39: too large (at most 3.403e+38)" in err
    err = _one_line_error(capsys, ["evaluate", "--data", str(small_data), "--model", "ease",
                                   "--set", "regularization=-1e39"])
    assert "--set: regularization = -1e+39: too small (at least -3.403e+38)" in err


def test_a_damaged_run_folder_is_one_line(small_data, tmp_path, capsys):
    import shutil

    run = tmp_path / "run"
    assert main(["train", "--data", str(small_data), "--model", "popularity", "--out", str(run), "--quiet"]) == 0
    assert main(["recommend", "--run", str(run), "--user", "1", "--quiet"]) == 0  # user 1 is there
    cases = [
        ("dataset/interactions.npz", lambda p: p.write_bytes(p.read_bytes()[:500]), "saved dataset is damaged"),
        ("run.json", lambda p: p.write_text("[]"), "run.json: expected a JSON object, got list"),
        ("dataset/dataset.json", lambda p: p.write_text("[]"), "dataset.json: expected a JSON object, got list"),
        # A run.json whose models were not a list of names ended in a TypeError traceback.
        *[("run.json", lambda p, v=v: p.write_text(json.dumps({**json.loads(p.read_text()), "models": v})),
           f"run.json: models = {json.dumps(v)}; expected a list of model names") for v in (None, [1], "als")],
        ("run.json", lambda p: p.write_text(json.dumps({**json.loads(p.read_text()), "best_model": 3})),
         "run.json: best_model = 3; expected a model name"),
        # A best model the run does not hold: another model's lists were given in silence.
        ("run.json", lambda p: p.write_text(json.dumps({**json.loads(p.read_text()), "best_model": "ease"})),
         "run.json: best_model is 'ease', which the run does not hold (models/ has popularity): name one with "
         "--run-model"),
    ]
    for n, (name, damage, needle) in enumerate(cases):
        copy = tmp_path / f"copy{n}"
        shutil.copytree(run, copy)
        damage(copy / name)
        err = _one_line_error(capsys, ["recommend", "--run", str(copy), "--user", "1"])
        assert needle in err, err
    # A damaged metrics.json stopped recommend, export and serve, which never read it;
    # the leaderboard, which shows it, still says it is damaged.
    (run / "metrics.json").write_text("{bad")
    assert main(["recommend", "--run", str(run), "--user", "1", "--quiet"]) == 0
    capsys.readouterr()
    with pytest.raises(DataError, match=r"metrics.json: not valid JSON"):
        open_run(run).leaderboard()


def test_output_that_cannot_be_written_is_one_line_and_a_reader_gone_is_no_error(tmp_path):
    # A full disk printed a traceback and exited 1; a pipe whose reader stopped (| head)
    # exited 1, which `set -o pipefail` scripts read as a failure.
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    log = tmp_path / "log.csv"
    log.write_text("user,item\n" + "".join(f"u{u},m{(u * 7 + j) % 60}\n" for u in range(40) for j in range(12)))
    run = tmp_path / "run"
    assert main(["train", "--data", str(log), "--model", "itemknn", "--protocol-option", "n_negatives=20",
                 "--out", str(run), "-q"]) == 0
    if Path("/dev/full").exists():
        with open("/dev/full", "w") as full:
            done = subprocess.run([sys.executable, "-m", "cinerec", "data", "info", str(log)], env=env, stdout=full,
                                  stderr=subprocess.PIPE, text=True, timeout=120)
        assert done.returncode == 2
        assert re.fullmatch(r"cinerec: error: (cannot write the output: )?No space left on device\n", done.stderr)
    many = [sys.executable, "-m", "cinerec", "recommend", "--run", str(run), "--user", "u1", "-k", "48", "-q"]
    lines = subprocess.run(many, env=env, capture_output=True, text=True, timeout=120).stdout.splitlines()
    assert len(lines) == 48
    # The reader is gone before a line is written: every write meets a closed pipe.
    with subprocess.Popen(many, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as p:
        p.stdout.close()
        err = p.stderr.read()
    assert p.returncode == 0 and err == ""


def test_the_program_leaves_at_once_with_its_output_and_status(tmp_path, ml100k_dir):
    # `cinerec` exits without the interpreter's teardown (pyarrow's read-ahead threads
    # aborted it, exit 134, just after a file was read): what it printed must still be
    # there, to a pipe, with its status.
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    done = subprocess.run([sys.executable, "-m", "cinerec", "--version"], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and done.stdout.startswith("cinerec ") and done.stderr == ""
    folder = tmp_path / "r1"
    folder.mkdir()
    (folder / "ratings.dat").write_text("1::1::5::978300760\n")
    (folder / "movies.dat").write_text("")
    for _ in range(3):
        done = subprocess.run([sys.executable, "-m", "cinerec", "data", "info", str(folder)], env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 2 and done.stderr == f"cinerec: error: {folder / 'movies.dat'}: empty file\n"
    # Data info reads a release without torch (it took 2 s more to start, and joined the teardown).
    probe = ("import sys\nfrom cinerec.cli import main\ncode = main(['data', 'info', sys.argv[1]])\n"
             "print('TORCH' if 'torch' in sys.modules else 'NO TORCH')\n")
    done = subprocess.run([sys.executable, "-c", probe, str(ml100k_dir)], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.stdout.strip().endswith("NO TORCH"), done.stdout + done.stderr


@pytest.mark.parametrize("argv, said", [
    (["train", "--data", "x", "--model", "ease", "--model", "als", "--out", "o"],
     "train: --model given 2 times (ease, als): train fits one model;"),
    (["evaluate", "--data", "x", "--model=ease", "--model", "als"],
     "evaluate: --model given 2 times (ease, als): evaluate measures one model;"),
])
def test_one_model_asked_for_twice_is_refused_not_silently_the_last(capsys, argv, said, tmp_path):
    # train --model ease --model als fitted als alone, without a word.
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and said in err and "quickstart or a study file (cinerec run) compares several" in err


@pytest.mark.parametrize("argv", [["train", "--data", "x", "--model", "ease", "--out", ""],
                                  ["train", "--data", "x", "--model", "ease", "--out="],
                                  ["export", "--run", " ", "--db", "x.sqlite"],
                                  ["evaluate", "--data", "x", "--model", "ease", "--config", ""]])
def test_an_empty_file_or_folder_name_is_refused_not_read_as_the_folder_one_is_in(capsys, argv, tmp_path,
                                                                                  monkeypatch):
    monkeypatch.chdir(tmp_path)  # an empty folder: train --out '' would have written the run here
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "give a name (an empty one would be the folder you are in)" in err
    assert not any(tmp_path.iterdir())


def test_saved_arrays_of_the_wrong_shape_are_a_damaged_model_not_a_traceback(small_data, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--data", str(small_data), "--model", "ease", "--out", str(run), "--quiet"]) == 0
    state = run / "models" / "ease" / "state.npz"
    with np.load(state) as z:
        arrays = dict(z)
    arrays["weights"] = arrays["weights"][:5, :5]  # a valid archive, cut down
    np.savez(state, **arrays)
    err = _one_line_error(capsys, ["recommend", "--run", str(run), "--user", "1"])
    assert "models/ease: saved model is damaged" in err, err


@pytest.mark.parametrize("model, file", [("ease", "state.npz"), ("ease", "train.npz"), ("gmf", "history.json")])
def test_a_saved_models_file_cut_short_is_named(small_data, tmp_path, capsys, model, file):
    # "models/ease: saved model is damaged (BadZipFile: File is not a zip file)", whichever
    # of its files it was.
    run = tmp_path / "run"
    quick = ["--set", "epochs=1"] if model == "gmf" else []
    assert main(["train", "--data", str(small_data), "--model", model, *quick, "--out", str(run), "--quiet"]) == 0
    damaged = run / "models" / model / file
    damaged.write_bytes(damaged.read_bytes()[:len(damaged.read_bytes()) // 2])
    err = _one_line_error(capsys, ["recommend", "--run", str(run), "--user", "1"])
    assert f"{damaged}: saved model is damaged, this file cut short or overwritten (" in err, err


def test_a_model_json_at_odds_with_its_arrays_is_a_damaged_model(small_data, tmp_path, capsys):
    # "n_items": 10 beside a model of every movie was served as it was.
    import json

    run = tmp_path / "run"
    assert main(["train", "--data", str(small_data), "--model", "ease", "--out", str(run), "--quiet"]) == 0
    meta_path = run / "models" / "ease" / "model.json"
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps({**meta, "n_items": 10}))
    err = _one_line_error(capsys, ["recommend", "--run", str(run), "--user", "1"])
    assert (f"models/ease: saved model is damaged (ValueError: model.json says {meta['n_users']} users x 10 movies, "
            f"its training matrix is {meta['n_users']} x {meta['n_items']})") in err, err


def test_a_model_json_count_written_as_text_or_a_file_one_cannot_read_is_said_as_such(small_data, tmp_path, capsys,
                                                                                       monkeypatch):
    # "n_items": "1682" was "model.json says 943 users x 1682 movies, its training matrix is
    # 943 x 1682"; a file this user may not read was "cut short or overwritten".
    import json

    import numpy as np

    run = tmp_path / "run"
    assert main(["train", "--data", str(small_data), "--model", "ease", "--out", str(run), "--quiet"]) == 0
    meta_path = run / "models" / "ease" / "model.json"
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps({**meta, "n_items": str(meta["n_items"])}))
    err = _one_line_error(capsys, ["recommend", "--run", str(run), "--user", "1"])
    assert f"models/ease/model.json: n_items: expected a whole number, got '{meta['n_items']}'" in err, err
    meta_path.write_text(json.dumps(meta))
    real = np.load

    def refused(file, *args, **kwargs):  # (as a file of mode 000 is to anyone but root)
        if str(file).endswith("state.npz") or str(file).endswith("train.npz"):
            raise PermissionError(13, "Permission denied", str(file))
        return real(file, *args, **kwargs)

    monkeypatch.setattr(np, "load", refused)
    err = _one_line_error(capsys, ["recommend", "--run", str(run), "--user", "1"])
    assert "models/ease/train.npz: cannot be read (Permission denied); the saved model's files must be readable" in err


def test_a_model_json_whose_config_is_no_object_is_a_damaged_model(small_data, tmp_path, capsys):
    # "config": null was an AttributeError traceback (exit 1).
    import json

    run = tmp_path / "run"
    assert main(["train", "--data", str(small_data), "--model", "ease", "--out", str(run), "--quiet"]) == 0
    meta_path = run / "models" / "ease" / "model.json"
    meta = json.loads(meta_path.read_text())
    for config, said in ((None, "null"), ([1], "list")):
        meta_path.write_text(json.dumps({**meta, "config": config}))
        err = _one_line_error(capsys, ["recommend", "--run", str(run), "--user", "1"])
        assert f"models/ease/model.json: config: expected an object of settings, got {said}" in err, err


def test_odd_setting_text_is_one_line_or_read_as_meant(small_data, tmp_path, capsys):
    big = "9" * 5000  # past Python's own limit on the digits of a number: tracebacks everywhere
    err = _one_line_error(capsys, ["evaluate", "--data", str(small_data), "--model", "als", "--set", f"factors={big}"])
    assert "--set factors: a number of more than 4,300 digits" in err
    (tmp_path / "big.toml").write_text(f"factors = {big}\n")
    err = _one_line_error(capsys, ["evaluate", "--data", str(small_data), "--model", "als",
                                   "--config", str(tmp_path / "big.toml")])
    assert "big.toml: a number of more than 4,300 digits" in err
    study = tmp_path / "s.toml"
    study.write_text(f'[data]\nsource = "{small_data}"\n[protocol]\nname = "loo-sampled"\n[models.als]\nfactors = {big}\n')
    err = _one_line_error(capsys, ["run", str(study), "--out", str(tmp_path / "out")])
    assert "s.toml: a number of more than 4,300 digits" in err
    # A second line in a value was a second key, silently dropped.
    err = _one_line_error(capsys, ["evaluate", "--data", str(small_data), "--model", "als", "--set", "factors=8\nepochs=1"])
    assert "a value on one line" in err
    # A byte-order mark first (Notepad's) was "not valid TOML (Invalid statement, column 1)".
    (tmp_path / "bom.toml").write_bytes("\ufeffregularization = 300\n".encode("utf-8"))
    assert main(["evaluate", "--data", str(small_data), "--model", "ease", "--config", str(tmp_path / "bom.toml"),
                 "--json", "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out)["config"]["regularization"] == 300


def test_numbers_past_int64_in_a_list_and_sizes_no_allocation_can_count_are_one_line(small_data, capsys):
    err = _one_line_error(capsys, ["evaluate", "--data", str(small_data), "--model", "mlp",
                                   "--set", "layers=[99999999999999999999]"])  # torch's TypeError traceback
    assert "layers = [99999999999999999999]: too large (at most 2**63 - 1)" in err
    err = _one_line_error(capsys, ["evaluate", "--data", str(small_data), "--model", "mf", "--set", "epochs=1", "-q",
                                   "--set", "factors=9223372036854775807"])  # torch's RuntimeError traceback
    assert "out of memory fitting mf (Storage size calculation overflowed" in err and "a setting may ask for too " \
                                                                                   "much" in err


def test_a_rule_the_config_file_breaks_is_blamed_on_the_file_when_set_adds_other_keys(small_data, tmp_path, capsys):
    (tmp_path / "mfloss.toml").write_text('loss = "mse"\n')
    err = _one_line_error(capsys, ["evaluate", "--data", str(small_data), "--model", "mf", "--protocol", "loo-sampled",
                                   "--config", str(tmp_path / "mfloss.toml"), "--set", "epochs=1"])
    assert f"{tmp_path / 'mfloss.toml'}: mf with loss = \"mse\" learns stars" in err, err  # it said "--set: mf with ..."


@pytest.mark.parametrize("argv, said", [
    (["recommend", "--run", "r", "--user", "1", "--user", "2"], "recommend: --user given 2 times (1, 2): "
                                                                  "it takes one"),
    (["data", "info", "--data=a", "--data", "b"], "data info: --data given 2 times (a, b): it takes one"),
    (["serve", "--run", "a", "--run", "b"], "serve: --run given 2 times (a, b): it takes one"),
    # train and evaluate checked --model alone; short options were not checked at all
    (["evaluate", "--data", "x", "--model", "ease", "--seed", "1", "--seed=2"],
     "evaluate: --seed given 2 times (1, 2): it takes one"),
    (["train", "--data", "x", "--model", "ease", "--out", "a", "--out", "b"],
     "train: --out given 2 times (a, b): it takes one"),
    (["evaluate", "--data", "x", "--model", "ease", "--top-users", "5", "--top-users", "3"],
     "evaluate: --top-users given 2 times (5, 3): it takes one"),
    (["recommend", "--run", "r", "--user", "1", "-k", "1", "-k3"], "recommend: -k given 2 times (1, 3): "
                                                                    "it takes one"),
])
def test_an_option_of_one_value_given_twice_is_refused_not_silently_the_last(capsys, argv, said):
    # recommend --user 1 --user 2 listed user 2's movies alone, without a word.
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err == f"cinerec: error: {said}\n"


def test_another_options_value_that_starts_like_a_flag_is_not_that_flag_given_again(tmp_path, capsys):
    # "--user -k7 -k 3" was refused as "-k given 2 times (7, 3)": -k7 is the user id.
    assert main(["recommend", "--run", str(tmp_path / "none"), "--user", "-k7", "-k", "3"]) == 2
    assert "given 2 times" not in capsys.readouterr().err
    assert main(["recommend", "--run", "r", "--user", "-k7", "-k", "3", "-k4"]) == 2
    assert "-k given 2 times (3, 4)" in capsys.readouterr().err


@pytest.mark.parametrize("argv, said", [
    (["expotr"], "No such command 'expotr'. Did you mean 'export'? (see cinerec --help)"),
    (["data", "fetcj"], "data: No such command 'fetcj'. Did you mean 'fetch'? (see cinerec data --help)"),
])
def test_a_misspelled_command_is_told_its_likely_name_once(capsys, argv, said):
    assert main(argv) == 2
    assert capsys.readouterr().err == f"cinerec: error: {said}\n"


def test_ctrl_c_while_the_program_starts_is_one_line(tmp_path):
    """A Ctrl-C while the command line's modules were imported ended in a traceback of the
    import (the first ~0.2 s of every command). Here the import of a command module stops
    as a Ctrl-C would stop it."""
    probe = tmp_path / "probe.py"
    probe.write_text(textwrap.dedent("""
        import sys

        class CtrlC:  # the keyboard interrupt arrives while a command module is imported
            def find_spec(self, name, path=None, target=None):
                if name == "cinerec.commands.train":
                    raise KeyboardInterrupt
                return None

        sys.meta_path.insert(0, CtrlC())
        sys.argv = ["cinerec", "--help"]
        from cinerec.program import entry
        entry()
    """))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    done = subprocess.run([sys.executable, str(probe)], capture_output=True, text=True, env=env, timeout=120)
    assert (done.returncode, done.stderr, done.stdout) == (130, "cinerec: interrupted\n", "")


@pytest.mark.parametrize("argv, said", [
    (["recommend", "--run", "r", "--user", "1", "-k"], "recommend: Option '-k' requires an argument. "
                                                       "(see cinerec recommend --help)"),
    (["data", "info", "--data"], "data info: Option '--data' requires an argument. (see cinerec data info --help)"),
])
def test_an_option_without_its_value_points_to_its_commands_help(capsys, argv, said):
    # It said "(see cinerec --help)", whose page does not list the option.
    assert main(argv) == 2
    assert capsys.readouterr().err == f"cinerec: error: {said}\n"


@pytest.mark.parametrize("argv, said", [
    # click took --protocol as the model and then said "Got unexpected extra argument (loo-full)"
    (["evaluate", "--data", "x", "--model", "--protocol", "loo-full"],
     "cinerec: error: evaluate: --model needs a value (the next word, --protocol, is an option)"),
    (["data", "info", "--data", "--columns", "user=u"],
     "cinerec: error: data info: --data needs a value (the next word, --columns, is an option)"),
    (["recommend", "--run", "r", "--user", "-k", "3"],
     "cinerec: error: recommend: --user needs a value (the next word, -k, is an option)"),
    # A misspelt option taken as the value: export wrote a store named "--quite" and ended well.
    (["export", "--run", "r", "--db", "--quite"],
     "cinerec: error: export: --db needs a value (the next word, --quite, looks like an option; did you mean "
     "--quiet?); a value that starts with -- is given as --db=--quite"),
    (["evaluate", "--data", "--modle", "ease"],
     "cinerec: error: evaluate: --data needs a value (the next word, --modle, looks like an option; did you mean "
     "--model?); a value that starts with -- is given as --data=--modle"),
])
def test_an_option_without_its_value_is_named_not_the_next_option_taken_as_it(capsys, argv, said, tmp_path,
                                                                              monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    assert capsys.readouterr().err == said + "\n"
    assert not list(tmp_path.iterdir())  # (nothing written under the misspelt name)


@pytest.mark.parametrize("argv, said", [
    # Another command's option: click offered this command's closest names ("Did you mean
    # one of: '--quiet', '--run', '--user'?").
    (["recommend", "--run", "r", "--user", "1", "--tune", "3"],
     "recommend: no such option --tune: it is an option of evaluate, train and run, not of cinerec recommend"),
    (["evaluate", "--data", "x", "--model", "ease", "--resume"],
     "evaluate: no such option --resume: it is an option of train, not of cinerec evaluate"),
    (["evaluate", "--data", "x", "--model", "ease", "--modle", "x"], "Did you mean '--model'?"),  # (a slip: click's)
    # movies names its years otherwise: said beside the commands that take --min-year.
    (["movies", "--run", "r", "--min-year", "1990"], "movies: no such option --min-year: it is an option of "
     "quickstart, evaluate, train, run and data info, not of cinerec movies, which takes --year-from"),
    # --k for -k: click offered nothing; --version of a command: click offered --json.
    (["similar", "--run", "r", "--movie", "50", "--k", "5"], "similar: no such option --k: did you mean -k?"),
    (["evaluate", "--version"], "evaluate: no such option --version: it is an option of cinerec itself, given "
     "before any command (cinerec --version)"),
    # A bounded number's type was "integer range": "'abc' is not a valid integer range."
    (["recommend", "--run", "r", "--user", "1", "-k", "abc"], "Invalid value for '-k': 'abc' is not a valid integer. "),
    (["data", "synthesize", "--like", "ml-100k", "--scale", "x"], "'x' is not a valid float. "),
    # A stray word was told as a missing option ("Missing option '--data'").
    (["evaluate", "help"], "evaluate: unexpected extra argument 'help': cinerec evaluate takes options alone"),
    (["evaluate", "--model", "ease", "--seed", "3", "x"], "unexpected extra argument 'x'"),
    (["evaluate", "--model", "ease"], "evaluate: Missing option '--data'."),
])
def test_another_commands_option_names_the_commands_that_take_it(capsys, argv, said):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("cinerec: error: ") and said in err and err.count("\n") == 1, err


@pytest.mark.parametrize("argv, usage", [
    (["run", "--out", "-h"], "Usage: cinerec run [OPTIONS] STUDY.toml"),  # was a run folder named "-h"
    (["run", "-h", "--out"], "Usage: cinerec run [OPTIONS] STUDY.toml"),  # was "--out requires an argument"
    (["data", "info", "--data", "--help"], "Usage: cinerec data info"),
    (["evaluate", "--model", "-h"], "Usage: cinerec evaluate"),
])
def test_help_wins_over_the_rest_of_the_line(capsys, argv, usage):
    assert main(argv) == 0
    assert capsys.readouterr().out.startswith(usage)


def test_a_study_setting_that_asks_for_too_much_memory_names_its_table(small_data, tmp_path, capsys):
    # It said "out of memory" without naming the file or the model.
    study = tmp_path / "huge.toml"
    study.write_text(f'[data]\nsource = "{small_data}"\n[protocol]\nname = "loo-sampled"\n\n[models.als]\n'
                     'factors = 1000000000000\n')
    err = _one_line_error(capsys, ["run", str(study), "--out", str(tmp_path / "out"), "--quiet"])
    assert err.startswith(f"cinerec: error: {study}:6: [models.als]: out of memory fitting it (Unable to allocate"), err
    assert not (tmp_path / "out").exists()
    study.write_text(study.read_text().replace("1000000000000", str(2**63 - 1)))
    err = _one_line_error(capsys, ["run", str(study), "--out", str(tmp_path / "out"), "--quiet"])
    assert err.startswith(f"cinerec: error: {study}:6: [models.als]: out of memory fitting it (array is too big"), err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("argv", [["--version"], ["train", "--help"], ["data", "info", "-h"]])
def test_under_torchrun_rank_0_alone_shows_the_help_or_version(capsys, monkeypatch, argv):
    # Each process printed it: the help twice in a row under --nproc-per-node 2.
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    assert main(argv) == 0
    assert capsys.readouterr().out == ""
    monkeypatch.setenv("RANK", "0")
    assert main(argv) == 0
    assert capsys.readouterr().out.startswith(("cinerec ", "Usage: cinerec"))


@pytest.mark.parametrize("argv, said", [
    (["data", "fetch", "--help"], "SOURCE: A release name (ml-100k,"),
    (["data", "info", "--help"], "SOURCE: The ratings, as --data names them"),
    (["run", "--help"], "STUDY.toml: The study file (see studies/ for examples)."),
    (["movies", "--help"], " WORDS: Words of the title"),  # (it read "WORDS]...:")
])
def test_a_positional_argument_s_help_is_shown(capsys, argv, said):
    # Plain help listed "SOURCE  [required]" alone: the argument's own help was never shown.
    assert main(argv) == 0
    assert said in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("argv", [["evaluate"], ["train"], ["quickstart"], ["run"], ["data", "fetch"],
                                  ["data", "info"], ["export"], ["serve"], ["recommend"]])
def test_help_wraps_between_words_never_at_a_hyphen(capsys, monkeypatch, argv):
    # At 80 columns "ml-latest-" ended a line and "small" began the next, and
    # "checkpoint-" / "last.pt": a name copied from the help was not the name.
    monkeypatch.setenv("COLUMNS", "80")
    assert main([*argv, "--help"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert max(map(len, lines)) <= 80
    assert not [line for line in lines if re.search(r"[A-Za-z]-$", line)], "\n".join(lines)


def test_a_path_flag_reads_a_leading_tilde_as_the_home_folder(tmp_path, monkeypatch, capsys, ml100k_dir):
    # --data read "~/..." as the home folder's; --out=~/r (no shell expands it there) made
    # a folder named "~" where the command ran, and --run "~/r" found no run.
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--model", "popularity", "--data", str(ml100k_dir), "--out=~/r", "-q"]) == 0
    assert (tmp_path / "home" / "r" / "run.json").is_file() and not (tmp_path / "~").exists()
    assert main(["export", "--run", "~/r", "--db", "~/store.sqlite", "-q"]) == 0
    assert (tmp_path / "home" / "store.sqlite").is_file()
    capsys.readouterr()
    assert main(["recommend", "--run", "~/r", "--user", "1", "-k", "1", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["recommendations"]) == 1


def test_a_path_of_no_such_users_home_is_taken_as_written(tmp_path, capsys, monkeypatch):
    # ~nosuchuser/x ended in a traceback (RuntimeError: Could not determine home directory).
    monkeypatch.chdir(tmp_path)
    for argv in (["movies", "--run", "~nosuchuser/r", "star"], ["data", "info", "~nosuchuser/log.csv"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("cinerec: error: ") and "~nosuchuser" in err and "Traceback" not in err, err


@pytest.mark.parametrize("argv, said", [
    (["evaluate", "--data", "x", "--model", "ease", "--tune", "3_0"], "evaluate: --tune '3_0'"),
    (["train", "--data", "x", "--model", "ease", "--out", "o", "--seed=1_0"], "train: --seed '1_0'"),
    (["recommend", "--run", "r", "--user", "1", "-k", "1_0"], "recommend: -k '1_0'"),
    (["data", "synthesize", "--like", "ml-100k", "--scale", "0_1", "--out", "s"], "data synthesize: --scale '0_1'"),
    (["data", "info", "--data", "x", "--liked-threshold", "5_0"], "data info: --liked-threshold '5_0'"),
])
def test_a_number_with_digits_grouped_by_underscores_is_refused(tmp_path, capsys, monkeypatch, argv, said):
    # Python's int() reads "3_0" as 30: --tune 3_0 ran 30 trials, a slip taken for a number.
    monkeypatch.chdir(tmp_path)
    err = _one_line_error(capsys, argv)
    assert err == f"cinerec: error: {said}: write the number with digits alone (no _)\n", err
    assert list(tmp_path.iterdir()) == []
