"""The benchmark scripts' own command lines: a bad argument is one line and exit 2,
refused before any work (some would write gigabytes first), and RecBole's script runs
where cinerec is not installed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(args: list[str], tmp_path: Path, *prefix: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1", "CINEREC_HOME": str(tmp_path / "home"),
           "CINEREC_BENCH_OUT": str(tmp_path / "out")}
    return subprocess.run([sys.executable, *prefix, *args], capture_output=True, text=True, cwd=ROOT, env=env,
                          timeout=120)


@pytest.mark.parametrize("args, message", [
    (["bench_pair_check.py", "--rows", "-5"], "--rows and --repeat: must be at least 1"),
    (["bench_pair_check.py", "--repeat", "0"], "--rows and --repeat: must be at least 1"),
    (["bench_topk.py", "--scale", "-1"], "--scale: must be above 0"),
    (["bench_topk.py", "--dim", "0"], "--dim and -k: must be at least 1"),
    (["bench_sampling.py", "--scale", "0"], "--scale: must be above 0"),
    (["defaults.py", "--report", "/nonexistent.json"], "--report /nonexistent.json: cannot be read"),
    (["bench_export.py", "--skip-large"], "--skip-large without --ml100k measures nothing"),
    (["gpu_check.py", "--device", "cpu"], "--device cpu: only with --tiny"),
    (["bench_two_stage.py", "speed", "--sample", "0"], "--sample: must be at least 1"),
    (["bench_ease.py", "--sweep", "--lambdas", "0"], "--lambdas: the sweep needs at least 1"),
])
def test_a_bad_argument_is_one_line_before_any_work(tmp_path, args, message):
    # Each was a traceback, or ran on: minutes writing a release, or figures of nothing.
    done = _run([f"benchmarks/{args[0]}", *args[1:]], tmp_path)
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if "error:" in line]
    assert len(lines) == 1 and message in lines[0], done.stderr
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob("gpu-check*"))


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
