"""Training and exporting on several processes under ``torchrun`` (gloo on CPU).

The torchrun tests are slow-marked: each starts two Python processes that import torch.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from cinerec.models import MODELS, create
from cinerec.models.neural import NeuralRecommender
from cinerec.training import CHECKPOINT_LAST, data_fingerprint
from tests.models.conformance import random_ratings

ROOT = Path(__file__).resolve().parents[1]
TORCHRUN = Path(sys.executable).with_name("torchrun")

# Small enough for two processes sharing two cores; ``threads`` 1 because tiny batches
# train faster on one thread, and two processes must not fight over the cores.
QUALITY = {"factors": 16, "epochs": 6, "lr": 0.005, "batch_size": 1024, "patience": 0, "progress": False,
           "device": "cpu", "threads": 1, "seed": 0}


def _torchrun(script: Path, *args: str, nproc: int = 2, timeout: int = 240) -> subprocess.CompletedProcess:
    if not TORCHRUN.exists():
        pytest.skip("torchrun is not installed")
    # TMPDIR: torchrun leaves a torchelastic_* folder in the temporary directory on every start.
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}", "OMP_NUM_THREADS": "1",
           "TMPDIR": str(script.parent)}
    return run_torchrun([str(TORCHRUN), "--standalone", f"--nproc-per-node={nproc}", str(script), *args],
                        env=env, timeout=timeout)


def run_torchrun(command: list[str], env: dict, timeout: int) -> subprocess.CompletedProcess:
    """Run ``command`` once. (Runs used to be retried when a rank died in a native abort at
    exit, "terminate called without an active exception"; the process group is now closed
    cleanly at exit, so such an abort fails the test.)"""
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout, check=False)


def ranks_said(stderr: str) -> str:
    """A failed run's stderr, its start and its end: torchrun's own traceback ends it, and
    a rank's message (a native abort's reason) comes before it."""
    return stderr if len(stderr) <= 8000 else f"{stderr[:5000]}\n[...]\n{stderr[-3000:]}"


def _split(x):
    """The last row of each user held out for validation."""
    last = np.zeros(len(x), bool)
    last[np.unique(x.users[::-1], return_index=True)[1]] = True
    last = last[::-1]
    return x.select(~last), x.select(last)


def test_every_neural_loss_reaches_every_trainable_parameter():
    """DistributedDataParallel (without its slower unused-parameter search) expects a
    gradient for every trainable parameter on every step; a parameter the loss never
    touches would stall the second step under torchrun."""
    x = random_ratings(n_users=40, n_items=30)
    names = [n for n, cls in MODELS.items() if isinstance(cls, type) and issubclass(cls, NeuralRecommender)]
    assert names
    for name in names:
        model = create(name, {"device": "cpu", "progress": False})
        model._remember(x)
        net = model._build(x)
        model.module = net.train()
        data = model._epoch_data(x, np.random.default_rng(0), torch.device("cpu"))
        model._loss(tuple(t[:64] for t in data)).backward()
        missing = [n for n, p in net.named_parameters() if p.requires_grad and p.grad is None]
        assert not missing, f"{name}: the loss never reaches {missing}"
        assert not any(p.grad.is_sparse for p in net.parameters() if p.grad is not None), name


def test_the_data_fingerprint_sees_any_change():
    x = random_ratings(n_users=40, n_items=30)
    fp = data_fingerprint(x)
    assert fp == data_fingerprint(x.select(np.ones(len(x), bool)))
    assert fp[:3] == (x.n_users, x.n_items, len(x))
    ratings = x.ratings.copy()
    ratings[7] += 1
    from cinerec.data.dataset import Interactions

    changed = Interactions(x.users, x.items, ratings, x.timestamps, x.n_users, x.n_items)
    assert data_fingerprint(changed) != fp and data_fingerprint(changed)[:3] == fp[:3]
    # Times too: ranks whose times differ weigh recency otherwise (it trained on in silence).
    later = Interactions(x.users, x.items, x.ratings, x.timestamps + 1, x.n_users, x.n_items)
    assert data_fingerprint(later)[:4] == fp[:4] and data_fingerprint(later) != fp
    assert data_fingerprint(None) is None


@pytest.mark.slow
def test_two_processes_reach_the_quality_of_one(ml100k_dir, tmp_path):
    """GMF on MovieLens-100K, validation HR@10 (each user's last rating among 99 sampled
    negatives), one process against two with the same total batch size.

    Two processes see the same samples per epoch but group them into other batches, so
    the runs differ like two seeds do. Over 943 validation users an HR@10 near 0.8 has a
    standard error of about 0.013, so two independent runs differ by about 0.018 (one
    standard deviation); four seeds in one process spanned 0.796-0.816, and two
    processes gave 0.800 and 0.805 for seeds 0 and 1. 0.05 is nearly three standard
    deviations.
    """
    script = tmp_path / "quality.py"
    script.write_text(textwrap.dedent(f"""
        import json, os, sys
        from cinerec.data import load
        from cinerec.models import create
        from tests.test_distributed import QUALITY, _split
        train, valid = _split(load({str(ml100k_dir)!r}).interactions)
        model = create("gmf", QUALITY).fit(train, valid)
        if os.environ["RANK"] == "0":
            json.dump(model.history, open(sys.argv[1], "w"))
    """))
    run = _torchrun(script, str(tmp_path / "two.json"))
    assert run.returncode == 0, ranks_said(run.stderr)
    two = json.loads((tmp_path / "two.json").read_text())

    from cinerec.data import load

    train, valid = _split(load(ml100k_dir).interactions)
    one = create("gmf", QUALITY).fit(train, valid).history
    assert len(one) == len(two) == QUALITY["epochs"]
    best_one, best_two = max(h["valid"] for h in one), max(h["valid"] for h in two)
    assert best_one > 0.6  # it learned something worth comparing
    assert abs(best_one - best_two) < 0.05, (best_one, best_two)
    # The loss is averaged over both processes' samples: the same scale as one process's.
    assert two[-1]["loss"] == pytest.approx(one[-1]["loss"], rel=0.1)


_RESUME_SCRIPT = """
    import json, os, sys
    import numpy as np, torch, torch.distributed as dist
    from cinerec.models import create
    from tests.test_training import FAST, _split
    from tests.models.conformance import random_ratings

    out = sys.argv[1]
    train, valid = _split(random_ratings(n_users=60, n_items=50))
    cfg = {**FAST, "lr_schedule": "cosine", "patience": 10, "dropout": 0.1, "batch_size": 64}
    straight = create("neumf", cfg).fit(train, valid)

    killed = create("neumf", cfg)
    killed.checkpoint_dir = out + "/ck"
    real, calls = type(killed)._epoch_data, {"n": 0}
    def dies_in_epoch_3(self, *args):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt  # both processes are killed in their third epoch
        return real(self, *args)
    type(killed)._epoch_data = dies_in_epoch_3
    try:
        killed.fit(train, valid)
        raise SystemExit("the run was not killed")
    except KeyboardInterrupt:
        pass
    type(killed)._epoch_data = real
    dist.barrier()
    last_epoch = torch.load(out + "/ck/checkpoint-last.pt", weights_only=True)["epoch"] if dist.get_rank() == 0 else -1

    resumed = create("neumf", cfg)
    resumed.checkpoint_dir, resumed.resume = out + "/ck", True
    resumed.fit(train, valid)
    users = np.arange(train.n_users)
    np.savez(out + f"/rank{dist.get_rank()}.npz", straight=straight.score(users), resumed=resumed.score(users),
             loss_straight=[h["loss"] for h in straight.history], loss_resumed=[h["loss"] for h in resumed.history],
             valid_straight=[h["valid"] for h in straight.history], valid_resumed=[h["valid"] for h in resumed.history],
             last_epoch=last_epoch)
"""


@pytest.mark.slow
def test_a_run_killed_under_torchrun_resumes_to_the_same_result(tmp_path):
    script = tmp_path / "resume.py"
    script.write_text(textwrap.dedent(_RESUME_SCRIPT))
    run = _torchrun(script, str(tmp_path))
    assert run.returncode == 0, ranks_said(run.stderr)
    r0, r1 = np.load(tmp_path / "rank0.npz"), np.load(tmp_path / "rank1.npz")
    assert int(r0["last_epoch"]) == 1  # rank 0 wrote a checkpoint after each finished epoch
    assert sorted(p.name for p in (tmp_path / "ck").iterdir() if p.suffix == ".pt") == [
        "checkpoint-best.pt", CHECKPOINT_LAST]
    for r in (r0, r1):
        np.testing.assert_array_equal(r["resumed"], r["straight"])
        np.testing.assert_array_equal(r["loss_resumed"], r["loss_straight"])
        np.testing.assert_array_equal(r["valid_resumed"], r["valid_straight"])
    np.testing.assert_array_equal(r0["straight"], r1["straight"])  # one model on both processes


@pytest.mark.slow
def test_ranks_holding_different_data_are_refused_in_one_line(tmp_path):
    script = tmp_path / "differ.py"
    script.write_text(textwrap.dedent("""
        import os, sys
        import numpy as np
        from cinerec.errors import DataError
        from cinerec.models import create
        from tests.test_training import FAST
        from tests.models.conformance import random_ratings

        x = random_ratings(n_users=60, n_items=50)
        if os.environ["RANK"] == "1":
            x = x.select(np.arange(len(x)) != 5)  # one rating fewer on rank 1
        try:
            create("gmf", FAST).fit(x)
        except DataError as e:
            open(sys.argv[1] + f"/rank{os.environ['RANK']}.txt", "w").write(str(e))
            sys.exit(2)
    """))
    run = _torchrun(script, str(tmp_path), timeout=180)
    assert run.returncode != 0
    n = len(random_ratings(n_users=60, n_items=50))
    for rank in (0, 1):  # every rank stops with the same line; none is left waiting
        msg = (tmp_path / f"rank{rank}.txt").read_text()
        assert "\n" not in msg
        assert msg.startswith("torchrun ranks disagree on the data: rank 1 differs from rank 0 ")
        assert f"rank 0: training {n:,} interactions of 60 users x 50 movies" in msg
        assert f"rank 1: training {n - 1:,} interactions" in msg


@pytest.mark.slow
def test_ranks_holding_different_side_features_are_refused_in_one_line(tmp_path):
    # A rank reading another catalogue (its genres) trained its share on them in silence.
    script = tmp_path / "features.py"
    script.write_text(textwrap.dedent("""
        import os, sys
        import numpy as np
        from cinerec.errors import DataError
        from cinerec.models import create
        from cinerec.models.two_tower import TowerFeatures
        from tests.models.conformance import random_ratings

        x = random_ratings(n_users=60, n_items=50)
        genres = np.zeros((50, 3), np.float32)
        genres[:, 0] = 1
        if os.environ["RANK"] == "1":
            genres[7] = [0, 1, 0]  # one movie's genre differs on rank 1
        features = TowerFeatures(("age",), np.zeros((60, 1), np.int64), (2,), genres, np.ones(50, np.int64))
        model = create("two-tower", {"batch_size": 64, "epochs": 1})
        model.features = features
        try:
            model.fit(x)
        except DataError as e:
            open(sys.argv[1] + f"/rank{os.environ['RANK']}.txt", "w").write(str(e))
            sys.exit(2)
    """))
    run = _torchrun(script, str(tmp_path), timeout=180)
    assert run.returncode != 0, run.stderr
    for rank in (0, 1):
        msg = (tmp_path / f"rank{rank}.txt").read_text()
        assert "\n" not in msg and msg.startswith("torchrun ranks disagree on the side features: rank 1 differs from "
                                                  "rank 0 (rank 0: users' demographics "), msg


@pytest.mark.slow
def test_a_two_tower_batch_of_one_row_a_process_is_refused(tmp_path):
    # batch_size = 2 over two processes gave each a batch of one row: no other movie to
    # learn against, a loss of 0, and an untrained model saved as trained.
    script = tmp_path / "batch.py"
    script.write_text(textwrap.dedent("""
        import os, sys
        from cinerec.errors import ConfigError
        from cinerec.models import create
        from tests.models.conformance import random_ratings

        try:
            create("two-tower", {"batch_size": 2, "epochs": 1}).fit(random_ratings(n_users=60, n_items=50))
        except ConfigError as e:
            open(sys.argv[1] + f"/rank{os.environ['RANK']}.txt", "w").write(str(e))
            sys.exit(2)
    """))
    run = _torchrun(script, str(tmp_path), timeout=180)
    assert run.returncode != 0
    for rank in (0, 1):
        assert (tmp_path / f"rank{rank}.txt").read_text() == (
            "two-tower: batch_size = 2 over 2 processes gives each a batch of 1, and it learns each movie against the "
            "other movies of its process's batch: give batch_size = 3 or more")


@pytest.mark.slow
def test_too_few_samples_for_every_process_are_refused(tmp_path):
    # One user's row for multivae, three rows for two-tower, over two processes: a process
    # took no step (or learned against nothing), and the untrained model was saved as
    # trained, exit 0.
    script = tmp_path / "few.py"
    script.write_text(textwrap.dedent("""
        import os, sys
        import numpy as np
        from cinerec.data.dataset import Interactions
        from cinerec.errors import ConfigError
        from cinerec.models import create

        said = []
        for name, n_users in (("multivae", 1), ("two-tower", 3)):
            x = Interactions(np.arange(3) % n_users, np.arange(3), np.full(3, 4.0), np.arange(3), n_users, 4)
            try:
                create(name, {"epochs": 1, "batch_size": 64, "device": "cpu", "progress": False}).fit(x)
            except ConfigError as e:
                said.append(str(e))
        open(sys.argv[1] + f"/rank{os.environ['RANK']}.txt", "w").write("\\n".join(said))
    """))
    run = _torchrun(script, str(tmp_path), timeout=180)
    assert run.returncode == 0, ranks_said(run.stderr)
    for rank in (0, 1):
        assert (tmp_path / f"rank{rank}.txt").read_text().split("\n") == [
            "multivae: 2 processes share 1 training sample, 0 each, too few to train on: train with one process "
            "(without torchrun)",
            "two-tower: 2 processes share 3 training samples, 1 each, too few to train on: train with one process "
            "(without torchrun)"]


def _table(db: Path, sql: str) -> list[tuple]:
    import sqlite3

    con = sqlite3.connect(db)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.mark.slow
def test_an_export_over_two_processes_writes_what_one_process_writes(ml100k_dir, tmp_path):
    from cinerec.serving.store import export_store
    from tests.serving.conftest import build_run

    run_dir = build_run(tmp_path / "run", ml100k_dir, models=("ease",))
    # 943 users in chunks of 90: 11 chunks, so the last round has work for one rank only.
    one = export_store(run_dir, tmp_path / "one.sqlite", k=10, progress=False, chunk_size=90)
    script = tmp_path / "export.py"
    script.write_text(textwrap.dedent(f"""
        import json, os
        from cinerec.serving.store import export_store
        info = export_store({str(run_dir)!r}, {str(tmp_path / "two.sqlite")!r}, k=10, progress=False, chunk_size=90)
        json.dump([str(info.path), info.n_users, info.k], open({str(tmp_path)!r} + f"/info{{os.environ['RANK']}}.json", "w"))
    """))
    run = _torchrun(script)
    assert run.returncode == 0, ranks_said(run.stderr)
    # Rank 0 alone wrote the store; every rank was told what it holds.
    for rank in (0, 1):
        assert json.loads((tmp_path / f"info{rank}.json").read_text()) == [str(tmp_path / "two.sqlite"), 943, 10]
    assert sorted(p.name for p in tmp_path.iterdir() if "sqlite" in p.name) == ["one.sqlite", "two.sqlite"]
    for sql in ("SELECT * FROM recommendations ORDER BY user, rank", "SELECT * FROM movies ORDER BY item",
                "SELECT * FROM users ORDER BY user",
                "SELECT * FROM meta WHERE key NOT LIKE 'exported_at%' ORDER BY key"):
        assert _table(tmp_path / "two.sqlite", sql) == _table(tmp_path / "one.sqlite", sql), sql
    assert len(_table(tmp_path / "two.sqlite", "SELECT user FROM recommendations")) == one.n_users * one.k


@pytest.mark.slow
def test_an_export_checks_the_store_s_folder_on_rank_0_alone(ml100k_dir, tmp_path):
    # Every rank checked --db, though rank 0 alone writes it: a folder only rank 0's machine
    # has was refused by rank 1 ("rank 1: ...: no such folder for the store").
    from tests.serving.conftest import build_run

    build_run(tmp_path / "a", ml100k_dir, models=("popularity",))
    (tmp_path / "d0").mkdir()
    script = tmp_path / "folders.py"
    script.write_text(textwrap.dedent(f"""
        import os
        from cinerec.serving.store import export_store
        db = {str(tmp_path)!r} + f"/d{{os.environ['RANK']}}/x.sqlite"  # (d1 is not there)
        export_store({str(tmp_path / "a")!r}, db, k=5, progress=False)
    """))
    run = _torchrun(script)
    assert run.returncode == 0, ranks_said(run.stderr)
    assert (tmp_path / "d0" / "x.sqlite").is_file() and not (tmp_path / "d1").exists()
    # A target rank 0 cannot write is said before any rank reads the run (it came after the
    # run, its dataset and model were read: here, a run that is not there at all).
    bad = tmp_path / "bad.py"
    bad.write_text(textwrap.dedent(f"""
        import sys
        from cinerec.cli import main
        sys.exit(main(["export", "--run", {str(tmp_path / "no-run")!r}, "--db", {str(tmp_path / "nope" / "x.sqlite")!r}]))
    """))
    run = _torchrun(bad)
    assert run.returncode != 0 and f"{tmp_path / 'nope'}: no such folder for the store x.sqlite" in run.stderr, \
        ranks_said(run.stderr)
    assert "no such run folder" not in run.stderr


@pytest.mark.slow
@pytest.mark.parametrize("other", ["itemknn", "popularity"])
def test_an_export_whose_ranks_hold_other_runs_is_refused(ml100k_dir, tmp_path, other):
    # A run of the same model on the same data, trained apart (other settings, or again),
    # passed: its lists went into that rank's share of the store without a word.
    from tests.serving.conftest import build_run

    build_run(tmp_path / "a", ml100k_dir, models=("popularity",))
    build_run(tmp_path / "b", ml100k_dir, models=(other,))
    script = tmp_path / "differ.py"
    script.write_text(textwrap.dedent(f"""
        import os, sys
        from cinerec.errors import DataError
        from cinerec.serving.store import export_store
        run = {str(tmp_path)!r} + ("/a" if os.environ["RANK"] == "0" else "/b")
        try:
            export_store(run, {str(tmp_path / "x.sqlite")!r}, k=5, progress=False)
        except DataError as e:
            open({str(tmp_path)!r} + f"/rank{{os.environ['RANK']}}.txt", "w").write(str(e))
            sys.exit(2)
    """))
    run = _torchrun(script)
    assert run.returncode != 0
    for rank in (0, 1):
        msg = (tmp_path / f"rank{rank}.txt").read_text()
        assert "\n" not in msg and msg.startswith("torchrun ranks disagree on the run to export: rank 1 differs")
        assert "rank 0: model popularity over 100,000 ratings of 943 users x 1,682 movies" in msg
        assert f"rank 1: model {other} over" in msg and "of the run created " in msg
    assert not (tmp_path / "x.sqlite").exists()


@pytest.mark.slow
def test_an_export_to_a_postgresql_server_rank_0_cannot_reach_is_one_line_on_every_rank(ml100k_dir, tmp_path):
    # Rank 0 refused it in one line, while rank 1, already waiting for the lists, died in
    # a gloo traceback ("Connection closed by peer").
    from tests.serving.conftest import build_run, free_port

    build_run(tmp_path / "a", ml100k_dir, models=("popularity",))
    url = f"postgresql://cinerec:s3cret@127.0.0.1:{free_port()}/recs"  # nothing listens there
    script = tmp_path / "unreachable.py"
    script.write_text(textwrap.dedent(f"""
        import os, sys
        from cinerec.errors import DataError
        from cinerec.serving.store import export_store
        try:
            export_store({str(tmp_path / "a")!r}, {url!r}, k=5, progress=False)
        except DataError as e:
            open({str(tmp_path)!r} + f"/rank{{os.environ['RANK']}}.txt", "w").write(str(e))
            sys.exit(2)
    """))
    run = _torchrun(script, timeout=120)
    # (torchrun's own summary of a failed rank is a traceback of its launcher; a rank's is not)
    assert run.returncode != 0 and "[rank1]" not in run.stderr and "gloo" not in run.stderr, ranks_said(run.stderr)
    msg = (tmp_path / "rank0.txt").read_text()
    assert "\n" not in msg and msg.startswith("postgresql://cinerec:***@127.0.0.1:") and "s3cret" not in msg, msg
    if (tmp_path / "rank1.txt").exists():  # (torchrun may stop rank 1 once rank 0 has exited)
        assert (tmp_path / "rank1.txt").read_text() == msg


def test_a_mistake_of_every_rank_is_said_once_and_one_of_another_rank_alone_by_that_rank(ml100k_dir, tmp_path):
    """Every rank finds the same mistake: rank 0 says it, once (another rank failing first
    used to end rank 0 before it could, leaving "cinerec: interrupted"). A mistake of
    rank 1's alone (its copy of the data is missing) was said by no one."""
    script = tmp_path / "mistake.py"
    script.write_text(textwrap.dedent(f"""
        import os, sys
        from cinerec.cli import main
        mine = {str(ml100k_dir)!r} if sys.argv[1] == "rank1" and os.environ["RANK"] == "0" else "/no/such/data"
        sys.exit(main(["evaluate", "--data", mine, "--model", "gmf", "--set", "epochs=1", "-q"]))
    """))
    for case in ("all", "rank1"):
        run = _torchrun(script, case, timeout=120)
        # (rank 0, with its data, waits for rank 1 in training until torchrun stops it: interrupted)
        lines = [x for x in run.stderr.splitlines() if x.startswith("cinerec: error: ")]
        assert run.returncode != 0
        if case == "all":
            assert lines == ["cinerec: error: --data /no/such/data: no such file or folder, and not a MovieLens release "
                             "name (ml-100k, ml-1m, ml-10m, ml-20m, ml-25m, ml-32m, ml-latest-small, ml-latest)"], ranks_said(run.stderr)
        else:
            assert lines == ["cinerec: error: rank 1: --data /no/such/data: no such file or folder, and not a MovieLens "
                             "release name (ml-100k, ml-1m, ml-10m, ml-20m, ml-25m, ml-32m, ml-latest-small, ml-latest)"], \
                ranks_said(run.stderr)
            # Rank 0, ended by torchrun, said "interrupted" as if Ctrl-C had been pressed.
            stopped = [x for x in run.stderr.splitlines() if x.startswith("cinerec: interrupted")]
            assert stopped in ([], ["cinerec: interrupted (by Ctrl-C, or by torchrun ending the job because another "
                                    "process failed)"]), ranks_said(run.stderr)


def test_an_export_under_torchrun_answers_once(ml100k_dir, tmp_path):
    # Every rank printed the wrote line, and with --json its own object: no JSON at all.
    from tests.serving.conftest import build_run

    run_dir = build_run(tmp_path / "run", ml100k_dir, models=("popularity",))
    script = tmp_path / "export.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        from cinerec.cli import main
        sys.exit(main(["export", "--run", {str(run_dir)!r}, "--db", {str(tmp_path / "recs.sqlite")!r}, "-k", "5",
                       *sys.argv[1:]]))
    """))
    run = _torchrun(script, "--json", timeout=120)
    assert run.returncode == 0, ranks_said(run.stderr)
    got = json.loads(run.stdout)  # one object
    assert got["k"] == 5 and got["n_users"] == 943
    run = _torchrun(script, timeout=120)
    assert run.returncode == 0 and run.stderr.count("wrote ") == 1, ranks_said(run.stderr)


def test_only_rank_0_makes_the_run_folder(ml100k_dir, tmp_path):
    # Every rank made --out and marked it as a train run's: on another machine, rank 1 was
    # left an empty run folder. Here each rank works in a folder of its own, as on two machines.
    for rank in (0, 1):
        (tmp_path / f"rank{rank}").mkdir()
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(f"""
        import os, sys
        from cinerec.cli import main
        os.chdir({str(tmp_path)!r} + "/rank" + os.environ["RANK"])
        sys.exit(main(["train", "--data", {str(ml100k_dir)!r}, "--top-users", "60", "--model", "gmf", "--set",
                       "epochs=1", "--set", 'device="cpu"', "--set", "threads=1", "--out", "out", "-q"]))
    """))
    run = _torchrun(script, timeout=240)
    assert run.returncode == 0, ranks_said(run.stderr)
    assert (tmp_path / "rank0" / "out" / "run.json").is_file()
    assert not (tmp_path / "rank1" / "out").exists()


def test_a_model_that_does_not_share_its_training_is_refused_under_torchrun(ml100k_dir, tmp_path):
    # als, ease... were fitted whole by every process, and the run said 2 processes trained it.
    script = tmp_path / "als.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        from cinerec.cli import main
        sys.exit(main([sys.argv[1], "--data", {str(ml100k_dir)!r}, "--model", "als", "--out", {str(tmp_path / "r")!r}]
                      if sys.argv[1] == "train" else ["evaluate", "--data", {str(ml100k_dir)!r}, "--model", "als"]))
    """))
    for command in ("train", "evaluate"):
        run = _torchrun(script, command, timeout=120)
        lines = [x for x in run.stderr.splitlines() if x.startswith("cinerec: ")]
        assert run.returncode != 0 and lines == [
            "cinerec: error: --model als: under torchrun (2 processes) only the neural models share their training, "
            "and every process would fit als whole; run it without torchrun (export runs under torchrun for any "
            "model)"], ranks_said(run.stderr)
    assert not (tmp_path / "r").exists()


def test_resuming_with_another_number_of_processes_is_refused(ml100k_dir, tmp_path):
    # A run of one process resumed by two went on, and run.json said two had trained it.
    from cinerec.cli import main

    argv = ["train", "--data", str(ml100k_dir), "--top-users", "60", "--model", "gmf", "--set", 'device="cpu"',
            "--set", "threads=1", "--out", str(tmp_path / "r"), "-q"]
    assert main([*argv, "--set", "epochs=1"]) == 0
    script = tmp_path / "resume.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        from cinerec.cli import entry
        sys.argv = ["cinerec", *{[*argv, "--set", "epochs=2", "--resume"]!r}]
        entry()  # as the program leaves (main alone would then meet the other rank at exit)
    """))
    run = _torchrun(script, timeout=240)
    lines = [x for x in run.stderr.splitlines() if x.startswith("cinerec: ")]
    assert run.returncode != 0 and len(lines) == 1, ranks_said(run.stderr)
    assert "cannot resume, it was trained by 1 process and is now run by 2 processes" in lines[0]


def test_a_process_whose_job_never_comes_gives_up_in_one_line(tmp_path):
    # WORLD_SIZE, RANK and the master's address left in a shell: torch waited 30 minutes
    # for the other process inside a call no Ctrl-C or SIGTERM reached, then a traceback.
    import socket

    from cinerec.data.synthetic import write_release

    data = write_release(tmp_path / "syn", "ml-100k", 0.02, seed=1)
    with socket.socket() as s:  # a port where nobody listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "WORLD_SIZE": "2", "RANK": "1", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port),
           "CINEREC_JOIN_TIMEOUT": "3", "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "cinerec", "train", "--data", str(data), "--model", "gmf", "--set",
                           "epochs=1", "--out", str(tmp_path / "run"), "-q"], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stderr == (f"cinerec: error: rank 1: could not join the other 1 process of the torchrun job at "
                           f"127.0.0.1:{port} within 3 s: start them all with torchrun (a WORLD_SIZE, RANK or "
                           "MASTER_PORT left in the shell starts one process alone), or set CINEREC_JOIN_TIMEOUT to "
                           "wait longer\n")
    assert not (tmp_path / "run").exists()


def test_the_join_timeout_is_a_number_of_seconds_above_0_or_inf(monkeypatch):
    # inf overflowed the clock in a traceback; 0, a negative number and nan gave up at once.
    import threading

    from cinerec.errors import ConfigError
    from cinerec.processes import _Dist
    from cinerec.training import _join_within

    job = _Dist(rank=1, world=2, local_rank=1)
    for text in ("0", "-5", "nan", "soon"):
        monkeypatch.setenv("CINEREC_JOIN_TIMEOUT", text)
        with pytest.raises(ConfigError, match=rf"^CINEREC_JOIN_TIMEOUT='{text}' is not a number of seconds above 0 "):
            _join_within(lambda: None, job)
    monkeypatch.setenv("CINEREC_JOIN_TIMEOUT", "inf")
    joined = threading.Event()
    _join_within(joined.set, job)  # waits as long as the join takes
    assert joined.is_set()
    monkeypatch.setenv("CINEREC_JOIN_TIMEOUT", "1e300")  # (beyond what a wait can be told: without end)
    joined.clear()
    _join_within(joined.set, job)
    assert joined.is_set()
    monkeypatch.setenv("CINEREC_JOIN_TIMEOUT", "0.2")
    with pytest.raises(ConfigError, match="could not join the other 1 process of the torchrun job at .* within 0.2 s"):
        _join_within(threading.Event().wait, job)  # (a join that never ends)

    def refused() -> None:
        raise RuntimeError("the address is in use")

    monkeypatch.setenv("CINEREC_JOIN_TIMEOUT", "5")
    with pytest.raises(RuntimeError, match="the address is in use"):  # its own error, in the waiting thread
        _join_within(refused, job)


@pytest.mark.slow
def test_every_process_decides_from_rank_0s_validation_figure(tmp_path):
    # Each process measured the epoch itself and decided alone to stop early: a GPU that
    # rounds a figure otherwise on one process stopped it alone, and the others waited for
    # good. Here rank 1 measures falling figures (it alone would stop after epoch 2).
    script = tmp_path / "figures.py"
    script.write_text(textwrap.dedent("""
        import json, os, sys
        from cinerec import training
        from cinerec.models import create
        from tests.test_training import FAST
        from tests.models.conformance import random_ratings

        measured = training._Validator.__call__
        calls = []

        def figure(self, model):
            calls.append(1)
            return measured(self, model) if os.environ["RANK"] == "0" else 1.0 / len(calls)

        training._Validator.__call__ = figure
        from tests.test_distributed import _split

        train, valid = _split(random_ratings(n_users=60, n_items=50))
        model = create("gmf", {**FAST, "epochs": 5, "patience": 1}).fit(train, valid)
        json.dump({"epochs": len(model.history), "valid": [h.get("valid") for h in model.history]},
                  open(sys.argv[1] + f"/rank{os.environ['RANK']}.json", "w"))
    """))
    run = _torchrun(script, str(tmp_path), timeout=180)
    assert run.returncode == 0, ranks_said(run.stderr)
    zero, one = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    assert zero == one, (zero, one)
