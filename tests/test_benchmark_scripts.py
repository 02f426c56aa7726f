"""The benchmark scripts' own command lines: a bad argument is one line and exit 2,
refused before any work (some would write gigabytes first), and RecBole's script runs
where cinerec is not installed."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(args: list[str], tmp_path: Path, *prefix: str, env: dict[str, str] | None = None
         ) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1", "CINEREC_HOME": str(tmp_path / "home"),
           "CINEREC_BENCH_OUT": str(tmp_path / "out"), **(env or {})}
    return subprocess.run([sys.executable, *prefix, *args], capture_output=True, text=True, cwd=ROOT, env=env,
                          timeout=120)


@pytest.mark.parametrize("args, message", [
    (["bench_pair_check.py", "--rows", "-5"], "--rows -5: must be at least 1"),
    (["bench_load.py", "--fractions", "0"], "argument --fractions: must be at least 1 (got 0)"),
    (["bench_pair_check.py", "--repeat", "0"], "--repeat 0: must be at least 1"),
    (["bench_twins.py", "--ratings", "0"], "argument --ratings: must be at least 1"),
    (["bench_topk.py", "--scale", "-1"], "--scale: must be above 0"),
    (["bench_topk.py", "--dim", "0"], "--dim 0: must be at least 1"),
    (["bench_topk.py", "-k", "0"], "-k 0: must be at least 1"),
    (["bench_sampling.py", "--scale", "0"], "--scale: must be above 0"),
    (["defaults.py", "--report", "/nonexistent.json"], "--report /nonexistent.json: cannot be read"),
    (["bench_export.py", "--skip-large"], "--skip-large without --ml100k measures nothing"),
    (["gpu_check.py", "--device", "cpu"], "--device cpu: only with --tiny"),
    (["bench_two_stage.py", "speed", "--sample", "0"], "--sample: must be at least 1"),
    (["bench_ease.py", "--sweep", "--lambdas", "0"], "--lambdas: the sweep needs at least 1"),
    # Sizes, counts, threads and seeds: each was a traceback after the work began, or ran
    # with another value than the one it printed.
    (["bench_ease.py", "--sweep", "--items", "-5", "--users", "100"], "argument --items: must be at least 10"),
    (["bench_ease.py", "--sweep", "--items", "200", "--users", "400", "--valid-users", "-3", "--lambdas", "2",
      "--variants-items", "0"], "argument --valid-users: must be at least 1"),
    (["bench_ease.py", "--curve", "nowhere", "--lambdas", "-2"], "argument --lambdas: must be at least 0"),
    (["bench_ease.py", "--curve", "nowhere", "--lambdas", "0"], "--lambdas 0 without --tune-trials measures nothing"),
    (["bench_ease.py", "--memory", "--memory-items", "5"], "argument --memory-items: must be at least 10"),
    (["bench_topk.py", "--scale", "0.000001"], "--scale 1e-06: leaves no users"),
    (["bench_topk.py", "--scale", "0.001", "-k", "100000"], "-k 100000: at most 59,047, the movies"),  # (a traceback)
    (["bench_sampling.py", "--scale", "0.01", "--seed", "-1"], "argument --seed: must be at least 0"),
    (["bench_models.py", "--data", "nowhere", "--threads", "0"], "argument --threads: must be at least 1"),
    (["bench_ncf.py", "--data", "nowhere", "--threads", "0", "--no-quality", "--no-recbole", "--epochs", "2"],
     "argument --threads: must be at least 1"),
    (["bench_export.py", "--users", "-5", "--movies", "100"], "argument --users: must be at least 1"),
    (["bench_pg_read.py", "--db", "postgresql://nowhere", "--reads", "0"], "argument --reads: must be at least 1"),
    (["bench_pg_read.py", "--db", "postgresql://nowhere", "--repeat", "0"], "argument --repeat: must be at least 1"),
    (["bench_index.py", "--models", "als", "--ef", "0"], "argument --ef: must be at least 1"),
    (["bench_serving.py", "--ml100k", "nowhere", "--workers", "0"], "argument --workers: must be at least 1"),
    (["bench_serving.py", "--ml100k", "nowhere", "--write-rate", "0"], "--rate and --write-rate must be in (0, 2000]"),
    (["bench_serving.py", "--ml100k", "nowhere", "--seconds", "1", "--write-rate", "0.5"],
     "--write-rate 0.5 for --seconds 1 sends no request"),
    (["bench_profile_writes.py", "--threads", "0"], "argument --threads: must be at least 1"),
    (["bench_profile_writes.py", "--processes", "-1"], "argument --processes: must be at least 1"),
    (["bench_two_stage.py", "quality", "--protocols", "loo-sampled"], "argument --protocols: invalid choice"),
    (["gpu_check.py", "--budget", "0"], "argument --budget: must be at least 10"),
    (["gpu_check.py", "--tiny", "--device", "nosuch"], "--device nosuch: not a device torch knows"),
    # A traceback (infinity; a request count of 0 after the whole set-up), a margin no
    # candidate or every candidate passes, and names found only after every fit.
    (["bench_topk.py", "--scale", "inf"], "argument --scale: must be finite"),
    (["bench_topk.py", "--scale", "1e300"], "--scale 1e+300: at most 10"),
    (["bench_sampling.py", "--scale", "1e300"], "--scale 1e+300: at most 10"),
    (["defaults.py", "--ml100k", "nowhere", "--out", "o.json", "--models", "ease", "--candidate", 'ease:x:{"bogus": 1}'],
     "unknown key 'bogus'"),
    (["bench_sampling.py", "--scale", "nan"], "argument --scale: must be above 0 (got nan)"),
    (["bench_serving.py", "--ml100k", "nowhere", "--rate", "0.5", "--seconds", "1"],
     "--rate 0.5 for --seconds 1 sends no request"),
    (["defaults.py", "--ml100k", "nowhere", "--out", "o.json", "--margin", "-1"],
     "argument --margin: must be a finite number, 0 or more (got -1)"),
    (["defaults.py", "--ml100k", "nowhere", "--out", "o.json", "--candidate", "bogus"],
     "--candidate 'bogus': give MODEL:LABEL:JSON"),
    (["defaults.py", "--ml100k", "nowhere", "--out", "o.json", "--models", "ease", "--candidate", "als:x:{}"],
     "--candidate 'als:x:{}': 'als' is not one of --models (ease)"),
    (["defaults.py", "--ml100k", "nowhere", "--out", "o.json", "--candidate", "ease:x:{bad"],
     "--candidate 'ease:x:{bad': its settings are not JSON"),
    # Found only after every model's search, as a traceback, the figures lost.
    (["defaults.py", "--ml100k", "nowhere", "--out", "/no/such/folder/x.json"],
     "--out /no/such/folder/x.json: no folder /no/such/folder to write it in"),
    (["defaults.py", "--ml100k", "nowhere", "--out", "benchmarks"], "--out benchmarks: a folder; give the JSON file"),
    (["paired_rows.py", "studies/keras-u1.toml", "--metric", "ndcg@10", "--only", "nosuch"],
     "--only nosuch: not one of the study's rows (mf, "),
    (["paired_rows.py", "studies/keras-u1.toml", "--metric", "ndcg@10", "--only", "mf", "--pair", "mf:nosuch"],
     "--pair mf:nosuch: give A:B, two different rows of those fitted (mf)"),
    (["paired_rows.py", "studies/keras-u1.toml", "--metric", "ndcg@10", "--pair", "mf:mf"], "--pair mf:mf: give A:B"),
    (["paired_rows.py", "studies/keras-u1.toml", "--metric", "bogus"],
     "--metric bogus: not one of the figures ratings-fold keeps per user (rmse, mae, ndcg@5, ndcg@10)"),
    (["paired_rows.py", "studies/keras-u1.toml", "--metric", "auc"], "--metric auc: not one of the figures"),
    (["paired_rows.py", "studies/keras-u1.toml", "--metric", "rmse", "--only", "mf", "--only", "mf-liked"],
     "--metric rmse: mf-liked predicts liked-or-not, not stars; leave them out with --only"),
])
def test_a_bad_argument_is_one_line_before_any_work(tmp_path, args, message):
    # Each was a traceback, or ran on: minutes writing a release, or figures of nothing.
    done = _run([f"benchmarks/{args[0]}", *args[1:]], tmp_path)
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if "error:" in line]
    assert len(lines) == 1 and message in lines[0], done.stderr
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob("gpu-check*"))


@pytest.mark.parametrize("processes", [1, 2])
def test_profile_writes_are_counted_from_every_process(tmp_path, processes):
    done = _run(["benchmarks/bench_profile_writes.py", "--threads", "3", "--writes", "4", "--processes",
                 str(processes)], tmp_path)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["changes"] == 3 * 4 * processes and out["processes"] == processes
    assert 0 < out["p50_ms"] <= out["p99_ms"] <= out["max_ms"] and out["machine"]["cpus"] >= 1


def test_recbole_script_runs_where_cinerec_cannot_be_imported(tmp_path):
    # Its last lines imported cinerec, which RecBole's own environment does not have: the
    # side-by-side run always ended "skipped".
    script = ("import runpy, sys; sys.modules['cinerec'] = None; "
              "sys.argv = ['recbole_ncf.py', '--data', 'nowhere']; "
              "runpy.run_path('benchmarks/recbole_ncf.py', run_name='__main__')")
    done = _run(["-c", script], tmp_path)
    assert "ModuleNotFoundError" not in done.stderr and "ImportError" not in done.stderr, done.stderr
    assert done.returncode == 2 and "RecBole is not installed" in done.stderr


def test_the_ncf_study_data_writes_only_where_it_wrote_before(tmp_path):
    # It wrote ratings.csv and movies.csv into any folder, beside a person's own files, and
    # took a folder without ratings.csv for a release to write (replacing a synthetic one).
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("mine\n")
    done = _run(["benchmarks/ncf_study_data.py", "--out", str(other)], tmp_path)
    assert done.returncode == 2 and "holds 'notes.txt', so it is not a folder this script wrote" in done.stderr
    done = _run(["benchmarks/ncf_study_data.py", "--out", str(tmp_path / "new"), "--release", str(other)], tmp_path)
    assert done.returncode == 2 and "holds no ratings.csv; give a release folder, or a new folder" in done.stderr
    assert sorted(p.name for p in other.iterdir()) == ["notes.txt"] and not (tmp_path / "new").exists()


def test_a_failed_child_process_is_one_line_and_its_own_exit_status(tmp_path):
    # A missing data folder was a SystemExit of status 1 carrying the child's last 500
    # characters; the child had said exit 2, a bad argument.
    done = _run(["benchmarks/bench_startup.py", "--data", "/nonexistent", "--repeat", "1"], tmp_path)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "cinerec data info /nonexistent exited with status 2" in lines[0], done.stderr
    assert "/nonexistent: no such file or folder" in lines[0]


def test_startup_refuses_a_run_folder_that_is_none(tmp_path):
    done = _run(["benchmarks/bench_startup.py", "--data", str(tmp_path), "--run", str(tmp_path), "--repeat", "1"],
                tmp_path)
    assert done.returncode == 2 and f"--run {tmp_path}: no run folder (it holds no run.json)" in done.stderr


def _machine_module():
    spec = importlib.util.spec_from_file_location("benchmark_machine", ROOT / "benchmarks" / "machine.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_child_failed_keeps_the_child_s_status_and_a_signal_is_1(capsys):
    # bench_serving's server exiting 2 (a bad setting) ended the script with 1.
    machine = _machine_module()
    with pytest.raises(SystemExit) as stop:
        machine.child_failed("the server", 2, "cinerec: error: bad\nsetting\n")
    assert stop.value.code == 2
    assert "the server exited with status 2: cinerec: error: bad setting" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        machine.child_failed("the server", -9)
    assert stop.value.code == 1


def test_the_figures_name_the_machine_and_the_size_run(tmp_path):
    # The machine was recorded by some scripts and not others, each its own way; and a
    # small synthetic case was reported under "synthetic-ml-25m".
    done = _run(["benchmarks/bench_export.py", "--users", "50", "--movies", "100", "-k", "5"], tmp_path)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert "synthetic-ml-25m" not in out and out["synthetic-50x100"]["users"] == 50
    record = out["machine"]
    assert {"cpus", "processor", "python", "numpy", "scipy", "torch", "cinerec", "OMP_NUM_THREADS", "load"} <= set(record)
    assert record["OMP_NUM_THREADS"] == "1" and record["cpus"] >= 1 and len(record["load"]) == 3
    assert isinstance(record["processor"], str) and record["processor"]


def test_the_ease_memory_benchmark_gives_each_size_its_own_process_and_the_refusals_figure(tmp_path):
    done = _run(["benchmarks/bench_ease.py", "--memory", "--memory-items", "300", "--spectrum-items", "200"], tmp_path)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["machine"]["cpus"] >= 1
    assert [(f["items"], f["route"], f["the_refusal_says"]) for f in out["fits"]] == [(300, "fit", 21),
                                                                                      (200, "spectrum", 24)]
    assert all(f["bytes_per_cell"] >= 0 for f in out["fits"])


def test_the_fractions_benchmark_reads_both_logs_and_names_the_machine(tmp_path):
    done = _run(["benchmarks/bench_load.py", "--fractions", "400", "--repeat", "1"], tmp_path)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["rows"] == 400 and out["ms"]["seconds"] > 0 and out["seconds"]["seconds"] > 0
    assert "extra_seconds" in out and out["machine"]["cpus"] >= 1


def test_a_data_folder_that_cannot_be_written_is_one_line_naming_the_way_out(tmp_path):
    # In a read-only checkout it ended in a traceback (OSError from mkdir under benchmarks/out/).
    (tmp_path / "out").write_text("a file where the folder would be\n")
    done = _run(["benchmarks/bench_load.py", "--fractions", "400", "--repeat", "1"], tmp_path)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert done.stderr.startswith(f"bench_load.py: error: cannot write {tmp_path / 'out'}/fractions-log-400.tmp (")
    assert done.stderr.strip().endswith("set CINEREC_BENCH_OUT to a folder that can be written")
    # A folder above it that cannot be made: the same line, naming that folder.
    done = _run(["benchmarks/bench_load.py", "--fractions", "400", "--repeat", "1"], tmp_path,
                env={"CINEREC_BENCH_OUT": str(tmp_path / "out" / "deeper" / "still")})
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert done.stderr.startswith(f"bench_load.py: error: cannot write {tmp_path / 'out'}/deeper")


def test_the_ncf_study_data_made_from_a_synthetic_release_is_marked_synthetic(tmp_path):
    # It wrote ratings.csv and movies.csv alone: runs on it were taken for real MovieLens
    # (no note under their figures, "synthetic": false in the store's meta).
    from cinerec.data import load
    from cinerec.data.synthetic import write_release

    release = write_release(tmp_path / "rel", "ml-25m", 0.002, seed=0)
    done = _run(["benchmarks/ncf_study_data.py", "--release", str(release), "--out", str(tmp_path / "ncf")], tmp_path)
    assert done.returncode == 0, done.stderr
    assert load(tmp_path / "ncf").info.get("synthetic")
    assert (tmp_path / "ncf" / "SYNTHETIC.txt").read_text().endswith(
        "cut to the NCF study's shape by benchmarks/ncf_study_data.py\n")


def test_the_gpu_check_on_a_machine_without_cuda_ends_after_saying_so(tmp_path):
    # It went on to every step, each failing on the missing GPU after minutes of its budget.
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    done = _run(["benchmarks/gpu_check.py", "--out", str(tmp_path / "check"), "--only", "environment", "--only", "neumf",
                 "--only", "topk"], tmp_path)
    assert done.returncode == 1, done.stderr
    assert "the other steps are skipped: --device cuda: torch sees no CUDA device here" in done.stderr, done.stderr
    steps = json.loads((tmp_path / "check" / "gpu_check.json").read_text())["steps"]
    assert steps["neumf"]["skipped"] == steps["topk"]["skipped"] == "--device cuda: torch sees no CUDA device here"
    assert not list((tmp_path / "check").glob("*.part"))  # (each record written whole, then put in place)


def test_paired_rows_fits_the_rows_of_the_studys_filtered_data(tmp_path, ml100k_dir):
    # It read the whole source, leaving out the study's [data] filters (the autoencoder
    # study's most active users and most rated movies): other rows than cinerec run's.
    study = tmp_path / "s.toml"
    study.write_text(f'[data]\nsource = "{ml100k_dir}"\ntop_users = 100\ntop_movies = 200\n'
                     '[protocol]\nname = "ratings-random"\n[models.baseline]\n')
    done = _run(["benchmarks/paired_rows.py", str(study), "--metric", "rmse"], tmp_path,
                env={"PYTHONPATH": str(ROOT / "src")})
    assert done.returncode == 0, done.stderr
    figure = float(re.search(r"baseline seed 0: rmse ([0-9.]+)", done.stdout)[1])
    ran = _run(["-m", "cinerec", "run", str(study), "--out", str(tmp_path / "run"), "--json", "-q"], tmp_path,
               env={"PYTHONPATH": str(ROOT / "src")})
    assert ran.returncode == 0, ran.stderr
    board = json.loads(ran.stdout)
    assert round(board["models"][0]["metrics"]["rmse"]["mean"], 4) == figure, (board["models"][0], figure)


def test_the_models_benchmark_sets_each_model_up_as_evaluate_does(tmp_path):
    # It made ALS with its plain defaults, recency weighting on under random-full, where the
    # command line turns it off: its figures for a protocol were not the protocol's.
    from cinerec.cli import main

    data = tmp_path / "syn"
    assert main(["data", "synthesize", "--like", "ml-100k", "--scale", "0.2", "--out", str(data), "--seed", "3"]) == 0
    done = _run(["benchmarks/bench_models.py", "--data", str(data), "--models", "als", "--seeds", "0"], tmp_path)
    assert done.returncode == 0, done.stderr
    als = json.loads(done.stdout)["models"]["als"]
    assert als["config"]["random-full"]["recency_half_life"] == 0 < als["config"]["loo"]["recency_half_life"]
    done = subprocess.run([sys.executable, "-m", "cinerec", "evaluate", "--data", str(data), "--model", "als",
                           "--protocol", "random-full", "--seed", "0", "--json", "-q"], capture_output=True, text=True,
                          cwd=ROOT, env={"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1",
                                         "CINEREC_HOME": str(tmp_path / "home")}, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["metrics"]["recall@10"] == pytest.approx(
        als["figures"]["random-full/recall@10"]["mean"], abs=1e-9)
