import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from cinerec.errors import ConfigError, DataError
from cinerec.models import MODELS, create
from cinerec.training import CHECKPOINT_BEST, CHECKPOINT_LAST, CURVES, TrainConfig, resolve_device
from tests.models.conformance import planted_groups, random_ratings
from tests.test_distributed import ranks_said, run_torchrun

FAST = {"factors": 8, "mlp_factors": 8, "layers": [16, 8], "epochs": 4, "lr": 0.01, "batch_size": 128,
        "init_std": 0.1, "patience": 0, "progress": False, "device": "cpu", "threads": 1}


def _split(x):
    """The last row of each user held out for validation."""
    last = np.zeros(len(x), bool)
    last[np.unique(x.users[::-1], return_index=True)[1]] = True
    last = last[::-1]
    return x.select(~last), x.select(last)


@pytest.fixture(scope="module")
def data():
    return _split(random_ratings(n_users=60, n_items=50))


def test_resumed_run_ends_exactly_like_an_uninterrupted_one(data, tmp_path, monkeypatch):
    train, valid = data
    cfg = {**FAST, "lr_schedule": "cosine", "patience": 10, "dropout": 0.1}
    straight = create("neumf", cfg)
    straight.fit(train, valid)

    killed = create("neumf", cfg)
    killed.checkpoint_dir = tmp_path
    calls = {"n": 0}
    real = type(killed)._epoch_data

    def dies_in_epoch_3(self, *args):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt  # the run is killed in its third epoch
        return real(self, *args)

    monkeypatch.setattr(type(killed), "_epoch_data", dies_in_epoch_3)
    with pytest.raises(KeyboardInterrupt):
        killed.fit(train, valid)
    monkeypatch.undo()
    assert torch.load(tmp_path / CHECKPOINT_LAST, weights_only=True)["epoch"] == 1  # lost one epoch at most

    resumed = create("neumf", cfg)
    resumed.checkpoint_dir, resumed.resume = tmp_path, True
    resumed.fit(train, valid)
    users = np.arange(train.n_users)
    np.testing.assert_array_equal(resumed.score(users), straight.score(users))
    assert [h["loss"] for h in resumed.history] == [h["loss"] for h in straight.history]
    assert [h["valid"] for h in resumed.history] == [h["valid"] for h in straight.history]
    assert (tmp_path / CHECKPOINT_BEST).exists() and (tmp_path / CURVES).read_bytes()[:4] == b"\x89PNG"


def test_early_stopping_restores_the_best_epoch(data):
    train, valid = data
    model = create("neumf", {**FAST, "epochs": 40, "lr": 0.05, "patience": 2}).fit(train, valid)
    hist = model.history
    assert len(hist) < 40  # it stopped
    best = max(h["valid"] for h in hist)
    assert all(h["valid"] < best or h["valid"] == best for h in hist[-2:])
    from cinerec.training import validation_metric

    name, value = validation_metric(model, train, valid)
    assert name == "hr@10" and value == pytest.approx(best)


def test_rating_models_stop_on_validation_rmse(data):
    train, valid = data
    model = create("biasedmf", {"factors": 4, "epochs": 30, "lr": 0.05, "patience": 2, "progress": False,
                                "device": "cpu", "threads": 1}).fit(train, valid)
    assert all(h["metric"] == "rmse" for h in model.history)
    best = min(h["valid"] for h in model.history)
    err = model.score(valid.users, valid.items) - valid.ratings
    assert np.sqrt(np.mean(err.astype(np.float64) ** 2)) == pytest.approx(best, rel=1e-5)


def test_smoke_runs_one_batch(data):
    train, _ = data
    model = create("gmf", {**FAST, "smoke": True, "epochs": 50}).fit(train)
    assert len(model.history) == 1
    assert model.history[0]["samples_per_s"] > 0
    assert model.history[0]["loss"] > 0


def test_overfit_batches_drives_the_loss_down(data):
    train, _ = data
    model = create("neumf", {**FAST, "overfit_batches": 2, "epochs": 150, "lr": 0.02}).fit(train)
    losses = [h["loss"] for h in model.history]
    assert losses[-1] < 0.05 * losses[0]


@pytest.mark.parametrize("optimizer", ["adam", "adamw", "adagrad", "rmsprop", "sgd", "nadam"])
@pytest.mark.parametrize("schedule", ["none", "step"])
def test_every_optimizer_and_schedule_learns(optimizer, schedule):
    x = planted_groups()
    lr = {"sgd": 0.5, "adagrad": 0.1}.get(optimizer, 0.02)
    model = create("gmf", {**FAST, "epochs": 15, "lr": lr, "optimizer": optimizer, "lr_schedule": schedule,
                           "lr_step": 5, "regularization": 1e-5}).fit(x)
    assert model.history[-1]["loss"] < model.history[0]["loss"]
    if schedule == "step":
        assert model.history[5]["lr"] == pytest.approx(0.5 * lr)


def test_training_leaves_the_global_torch_rng_alone(data):
    train, _ = data
    torch.manual_seed(123)
    want = torch.rand(3)
    torch.manual_seed(123)
    create("gmf", {**FAST, "epochs": 1}).fit(train)
    assert torch.equal(torch.rand(3), want)


def test_a_corrupted_checkpoint_is_one_clear_error(data, tmp_path):
    train, valid = data
    (tmp_path / CHECKPOINT_LAST).write_bytes(b"not a checkpoint at all")
    model = create("gmf", FAST)
    model.checkpoint_dir, model.resume = tmp_path, True
    with pytest.raises(DataError, match=f"{CHECKPOINT_LAST}: not a readable cinerec checkpoint") as e:
        model.fit(train, valid)
    assert "\n" not in str(e.value)


def test_resuming_with_other_settings_is_refused(data, tmp_path):
    train, _ = data
    model = create("gmf", FAST)
    model.checkpoint_dir = tmp_path
    model.fit(train)
    other = create("gmf", {**FAST, "lr": 0.5})
    other.checkpoint_dir, other.resume = tmp_path, True
    with pytest.raises(ConfigError, match="cannot resume, lr was 0.01 and is now 0.5"):
        other.fit(train)


def test_resuming_another_model_other_data_or_fewer_epochs_is_refused_by_name(data, tmp_path):
    train, valid = data
    model = create("gmf", FAST)
    model.checkpoint_dir = tmp_path
    model.fit(train, valid)

    def resume(name, settings, *fit):
        other = create(name, {**FAST, **settings})
        other.checkpoint_dir, other.resume = tmp_path, True
        other.fit(*fit)

    with pytest.raises(ConfigError, match="cannot resume, the model was gmf and is now mlp"):
        resume("mlp", {}, train, valid)
    with pytest.raises(ConfigError, match="cannot resume, the data had 60 users and now has 59"):
        keep = train.users < 59
        resume("gmf", {}, type(train)(train.users[keep], train.items[keep], train.ratings[keep],
                                      train.timestamps[keep], 59, train.n_items), None)
    with pytest.raises(ConfigError, match=r"cannot resume, the data had \d+ validation ratings and now has 0"):
        resume("gmf", {}, train)  # validation held out before, not now (another protocol option)
    with pytest.raises(ConfigError, match="cannot resume, the checkpoint has trained 4 epochs and epochs is now 2"):
        resume("gmf", {"epochs": 2}, train, valid)
    with pytest.raises(ConfigError, match=r"cannot resume, the \d+ training ratings are not the ones it was trained"):
        moved = train.items.copy()  # as many users, movies and ratings, but not the same ones
        moved[0] = (moved[0] + 1) % train.n_items
        resume("gmf", {}, train.replace(items=moved), valid)
    # The same ratings at other times: a model weighing recency learns otherwise from them.
    with pytest.raises(ConfigError, match=r"cannot resume, the times of the \d+ training ratings are not the ones"):
        resume("gmf", {}, train.replace(timestamps=train.timestamps * 2), valid)
    resume("gmf", {"epochs": 6}, train, valid)  # more epochs: it goes on


def test_a_run_stopped_early_goes_on_when_resumed_with_more_patience(data, tmp_path):
    # It ended at once, kept the early-stopped weights and was recorded with the new settings.
    train, valid = data
    cfg = {**FAST, "epochs": 30, "lr": 0.05}
    early = create("gmf", {**cfg, "patience": 1})
    early.checkpoint_dir = tmp_path
    early.fit(train, valid)
    stopped = len(early.history)
    assert stopped < 30 and early.history[-1]["stopped_by"] == "patience"
    straight = create("gmf", cfg).fit(train, valid)  # patience 0: never stops early
    for patience in (1, 0):  # the same patience stops again at once; none goes on to the end
        resumed = create("gmf", {**cfg, "patience": patience})
        resumed.checkpoint_dir, resumed.resume = tmp_path, True
        resumed.fit(train, valid)
        assert len(resumed.history) == (stopped if patience else 30)
    assert [h["loss"] for h in resumed.history] == [h["loss"] for h in straight.history]
    assert "stopped_by" not in resumed.history[stopped - 1]
    np.testing.assert_array_equal(resumed.score(np.arange(5)), straight.score(np.arange(5)))


def test_a_checkpoint_whose_weights_do_not_fit_is_one_line(data, tmp_path):
    # A checkpoint without the record of what it was trained on (written by an earlier
    # version) met other data: torch's size mismatch came out as a traceback.
    train, valid = data
    model = create("gmf", FAST)
    model.checkpoint_dir = tmp_path
    model.fit(train, valid)
    ck = torch.load(tmp_path / CHECKPOINT_LAST, weights_only=False)
    del ck["trained"]
    torch.save(ck, tmp_path / CHECKPOINT_LAST)
    keep = train.users < 59
    fewer = type(train)(train.users[keep], train.items[keep], train.ratings[keep], train.timestamps[keep], 59,
                        train.n_items)
    other = create("gmf", {**FAST, "epochs": 6})
    other.checkpoint_dir, other.resume = tmp_path, True
    with pytest.raises(DataError, match=r"checkpoint-last.pt: cannot resume, its weights do not fit this model and "
                                        r"data \(size mismatch for .*\[60, 8\].*\[59, 8\]") as e:
        other.fit(fewer)
    assert "\n" not in str(e.value)


def test_saved_weights_load_with_weights_only(data, tmp_path):
    train, _ = data
    model = create("neumf", FAST).fit(train)
    model.save(tmp_path / "m")
    state = torch.load(tmp_path / "m" / "weights.pt", weights_only=True)
    assert set(state) == set(model.module.state_dict())
    (tmp_path / "m" / "weights.pt").write_bytes(b"\x00garbage")
    from cinerec.models import load_model

    with pytest.raises(DataError, match="weights.pt"):
        load_model(tmp_path / "m")


def test_bad_training_settings_name_the_field():
    for key, value in [("epochs", 0), ("batch_size", -1), ("lr", 0.0), ("patience", -1), ("device", "gpu"),
                       ("device", "cuda:²"),  # passes str.isdigit, which torch.device would not take
                       ("optimizer", "lbfgs"), ("lr_schedule", "cyclic"), ("threads", -2),
                       ("negative_distribution", "zipf"), ("negative_exponent", -0.5),
                       ("negative_exponent", float("inf"))]:
        with pytest.raises(ConfigError, match=key):
            TrainConfig.from_dict({key: value})
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA is not available"):
            resolve_device("cuda")
    assert resolve_device("auto").type in ("cpu", "cuda")


def test_popularity_negatives_are_a_model_setting(data):
    train, _ = data
    cfg = {**FAST, "epochs": 2, "negative_distribution": "popularity", "negative_exponent": 0.5}
    a, b = create("gmf", cfg).fit(train), create("gmf", cfg).fit(train)
    users = np.arange(train.n_users)
    np.testing.assert_array_equal(a.score(users), b.score(users))  # deterministic given the seed
    uniform = create("gmf", {**FAST, "epochs": 2}).fit(train)
    assert not np.array_equal(a.score(users), uniform.score(users))  # other negatives, other weights
    assert create("bpr" if "bpr" in MODELS else "mf", {"negative_distribution": "popularity"}).config.negative_exponent == 0.75


def test_validation_ties_fall_at_random_not_for_the_held_out_movie(data):
    from cinerec.training import validation_metric

    train, valid = data
    model = create("gmf", {**FAST, "epochs": 1}).fit(train)
    with torch.no_grad():
        for p in model.module.parameters():
            p.zero_()  # every movie scores the same
    name, value = validation_metric(model, train, valid)
    # This small catalog leaves 1 + 35 candidates per user; when all tie, the seeded
    # shuffle puts the held-out movie in the top 10 about 10 / 36 of the time (not
    # always, as the lower-column rule would on a fixed order, nor never).
    assert name == "hr@10" and 0.1 < value < 0.5


@pytest.mark.parametrize("module", ["cinerec.training", "cinerec.models.neural"])
def test_the_training_modules_import_on_their_own(module):
    import cinerec

    env = {**os.environ, "PYTHONPATH": str(Path(cinerec.__file__).resolve().parents[1])}
    run = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True, env=env,
                         timeout=120, check=False)
    assert run.returncode == 0, run.stderr[-2000:]


@pytest.mark.slow
def test_torchrun_two_processes_train_one_model(tmp_path):
    torchrun = Path(sys.executable).with_name("torchrun")
    if not torchrun.exists():
        pytest.skip("torchrun is not installed")
    script = tmp_path / "ddp.py"
    script.write_text(textwrap.dedent(f"""
        import os, numpy as np, torch
        from cinerec.models import create
        from tests.models.conformance import planted_groups
        x = planted_groups()
        model = create("gmf", {{**{FAST!r}, "epochs": 30, "batch_size": 256}})
        model.checkpoint_dir = {str(tmp_path / "ck")!r}
        model.fit(x)
        items, _ = model.recommend(np.arange(x.n_users), k=3)
        w = torch.cat([p.detach().flatten() for p in model.module.parameters()]).numpy()
        np.savez({str(tmp_path)!r} + f"/rank{{os.environ['RANK']}}.npz", items=items, w=w)
    """))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "OMP_NUM_THREADS": "1",
           "TMPDIR": str(tmp_path)}  # where torchrun leaves its torchelastic_* folder
    run = run_torchrun([str(torchrun), "--standalone", "--nproc_per_node=2", str(script)],
                       env=env, timeout=120)
    assert run.returncode == 0, ranks_said(run.stderr)
    r0, r1 = np.load(tmp_path / "rank0.npz"), np.load(tmp_path / "rank1.npz")
    np.testing.assert_array_equal(r0["w"], r1["w"])  # gradients were averaged: one model, two processes
    x = planted_groups()
    group = (np.arange(x.n_users) >= x.n_users // 2)[:, None]
    assert ((r0["items"] >= x.n_items // 2) == group).mean() >= 0.95
    assert (tmp_path / "ck" / CHECKPOINT_LAST).exists()


def test_the_epoch_hook_sees_each_validation_figure_and_can_stop_the_fit(data):
    train, valid = data
    model = create("gmf", {**FAST, "epochs": 5})
    calls = []

    def hook(epoch, value):
        calls.append((epoch, value))
        return epoch == 2

    model.on_epoch = hook
    model.fit(train, valid)
    assert [e for e, _ in calls] == [1, 2] and len(model.history) == 2
    assert [v for _, v in calls] == [h["valid"] for h in model.history]
    assert model.history[-1]["stopped_by"] == "on_epoch" and "stopped_by" not in model.history[0]

    alone = create("gmf", {**FAST, "epochs": 2})
    seen = []
    alone.on_epoch = lambda epoch, value: seen.append(value)
    alone.fit(train)
    assert seen == [None, None]  # no validation data, no figure

    class Stop(Exception):
        pass

    def raises(epoch, value):
        raise Stop

    failing = create("gmf", FAST)
    failing.on_epoch = raises
    with pytest.raises(Stop):
        failing.fit(train, valid)


def test_resuming_a_cosine_schedule_with_other_epochs_or_from_the_best_weights_alone_is_refused(data, tmp_path):
    # More epochs kept the old schedule: an epoch at lr 0, then lr climbing back up. And
    # checkpoint-best.pt copied over checkpoint-last.pt ended in KeyError: 'optimizer'.
    import shutil

    train, valid = data
    first = create("gmf", {**FAST, "lr_schedule": "cosine", "patience": 0})
    first.checkpoint_dir = tmp_path
    first.fit(train, valid)
    more = create("gmf", {**FAST, "lr_schedule": "cosine", "patience": 0, "epochs": 8})
    more.checkpoint_dir, more.resume = tmp_path, True
    with pytest.raises(ConfigError, match=r"cannot resume, epochs was 4 and is now 8, and lr_schedule = 'cosine' "
                                          r"anneals the learning rate to 0 over epochs"):
        more.fit(train, valid)
    plain = create("gmf", {**FAST, "patience": 0})  # no schedule: more epochs resume
    plain.checkpoint_dir = tmp_path / "plain"
    plain.fit(train, valid)
    longer = create("gmf", {**FAST, "patience": 0, "epochs": 6})
    longer.checkpoint_dir, longer.resume = tmp_path / "plain", True
    assert len(longer.fit(train, valid).history) == 6
    shutil.copy(tmp_path / CHECKPOINT_BEST, tmp_path / CHECKPOINT_LAST)
    again = create("gmf", {**FAST, "lr_schedule": "cosine", "patience": 0})
    again.checkpoint_dir, again.resume = tmp_path, True
    with pytest.raises(DataError, match=r"not a checkpoint to resume from \(it holds no 'optimizer'"):
        again.fit(train, valid)
