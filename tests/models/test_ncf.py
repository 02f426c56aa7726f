import re

import numpy as np
import pytest
import torch

from cinerec.data.dataset import Interactions
from cinerec.errors import ConfigError
from cinerec.models import MODELS, create
from cinerec.models.ncf import NCFNet, recency_weights
from tests.models.conformance import ModelConformance, planted_groups, random_ratings

FAST = {"factors": 8, "mlp_factors": 8, "layers": [16, 8], "epochs": 25, "lr": 0.01, "batch_size": 256, "init_std": 0.1,
        "patience": 0, "progress": False, "device": "cpu", "threads": 1}


class TestGMF(ModelConformance):
    model_name = "gmf"
    config = FAST


class TestMLP(ModelConformance):
    model_name = "mlp"
    config = FAST


class TestNeuMF(ModelConformance):
    model_name = "neumf"
    # The planted toy's timestamps are its row order, so the default recency decay would
    # leave each user about two effective positives of nine (0.98 of picks right, not 1);
    # the decay has its own tests below and the quality check runs the defaults.
    config = {**FAST, "recency_half_life": 0.0}
    # The defaults (recency-weighted, lr 0.002, batches of 2048, 8 epochs) score 0.679 on seed 0.
    quality = ("loo-sampled", "hr@10", 0.65)
    quality_config = {"device": "cpu", "progress": False, "threads": 1}


@pytest.mark.parametrize("kind", ["gmf", "mlp", "neumf"])
def test_whole_catalog_scores_equal_pair_scores(kind):
    net = NCFNet(7, 11, kind, 4, 3, (5, 2), 0.0, 0.3).eval()
    users = torch.arange(7)
    rows = net.rows(users)
    pairs = net(users.repeat_interleave(11), torch.arange(11).repeat(7)).reshape(7, 11)
    torch.testing.assert_close(rows, pairs, atol=1e-5, rtol=1e-5)


def test_neumf_starts_from_pretrained_parts_with_the_paper_blend(tmp_path):
    x = planted_groups()
    gmf = create("gmf", FAST).fit(x)
    mlp = create("mlp", FAST).fit(x)
    gmf.save(tmp_path / "gmf")
    mlp.save(tmp_path / "mlp")
    # one step with a tiny lr: the start must already rank like the blend of its parts
    cfg = {**FAST, "gmf_path": str(tmp_path / "gmf"), "mlp_path": str(tmp_path / "mlp"), "epochs": 1,
           "lr": 1e-9, "smoke": True}
    neumf = create("neumf", cfg).fit(x)
    u = np.arange(x.n_users)
    blend = 0.5 * gmf.module.rows(torch.as_tensor(u)) + 0.5 * mlp.module.rows(torch.as_tensor(u))
    np.testing.assert_allclose(neumf.score(u), blend.detach().numpy(), atol=1e-4)
    g = FAST["factors"]
    np.testing.assert_allclose(neumf.item_vectors()[:, :g], gmf.item_vectors(), atol=1e-6)


def test_pretrain_true_trains_both_parts_first():
    x = planted_groups()
    model = create("neumf", {**FAST, "pretrain": True, "epochs": 10, "recency_half_life": 0.0}).fit(x)  # toy: see TestNeuMF
    items, _ = model.recommend(np.arange(x.n_users), k=3)
    group = (np.arange(x.n_users) >= x.n_users // 2)[:, None]
    assert ((items >= x.n_items // 2) == group).all()


def test_pretraining_is_a_step_of_fit_not_of_building_the_network(tmp_path, monkeypatch):
    from cinerec.models import load_model
    from cinerec.models.ncf import GMF, MLP

    x = planted_groups()
    cfg = {**FAST, "pretrain": True, "epochs": 3, "recency_half_life": 0.0}
    model = create("neumf", cfg).fit(x)
    # The parts pretrain = a GMF and an MLP fitted first with NeuMF's own settings.
    part = {k: v for k, v in model.config.to_dict().items() if k not in ("pretrain", "gmf_path", "mlp_path", "alpha")}
    create("gmf", part).fit(x).save(tmp_path / "gmf")
    create("mlp", part).fit(x).save(tmp_path / "mlp")
    from_saved = create("neumf", {**cfg, "pretrain": False, "gmf_path": str(tmp_path / "gmf"),
                                  "mlp_path": str(tmp_path / "mlp")}).fit(x)
    users = np.arange(x.n_users)
    np.testing.assert_array_equal(from_saved.score(users), model.score(users))
    # Building the network (as loading a saved model does) trains nothing.
    model.save(tmp_path / "neumf")

    def refuse(self, *args, **kwargs):
        raise AssertionError("a part was trained again")

    monkeypatch.setattr(GMF, "fit", refuse)
    monkeypatch.setattr(MLP, "fit", refuse)
    np.testing.assert_array_equal(load_model(tmp_path / "neumf").score(users), model.score(users))


def test_mismatched_pretrained_parts_are_refused(tmp_path):
    x = planted_groups()
    create("gmf", {**FAST, "factors": 4, "epochs": 1}).fit(x).save(tmp_path / "gmf")
    create("mlp", {**FAST, "epochs": 1}).fit(x).save(tmp_path / "mlp")
    cfg = {**FAST, "gmf_path": str(tmp_path / "gmf"), "mlp_path": str(tmp_path / "mlp")}
    with pytest.raises(ConfigError, match="do not fit"):
        create("neumf", cfg).fit(x)
    with pytest.raises(ConfigError, match="holds a mlp model, expected a saved gmf model"):
        create("neumf", {**cfg, "gmf_path": str(tmp_path / "mlp")}).fit(x)
    # A folder holding no model is named by the setting that pointed there (it named the folder alone).
    with pytest.raises(ConfigError, match=r'^gmf_path = ".*nowhere": .*no saved model here'):
        create("neumf", {**cfg, "gmf_path": str(tmp_path / "nowhere")}).fit(x)


def test_config_errors_name_the_field():
    with pytest.raises(ConfigError, match="layers"):
        create("neumf", {"layers": []})
    with pytest.raises(ConfigError, match="gmf_path"):
        create("neumf", {"gmf_path": "x"})
    with pytest.raises(ConfigError, match="dropout"):
        create("mlp", {"dropout": 1.5})


@pytest.mark.parametrize("kind", ["mlp", "neumf"])
def test_large_batches_take_the_projected_path_to_the_same_answer_and_gradients(kind):
    net = NCFNet(5, 6, kind, 4, 3, (5, 2), 0.0, 0.3)
    users, items = torch.randint(0, 5, (40,)), torch.randint(0, 6, (40,))  # 40 > 5 + 6 rows: projected
    big = net(users, items)
    g_big = torch.autograd.grad(big.sum(), list(net.parameters()))
    small = torch.cat([net(users[s:s + 8], items[s:s + 8]) for s in range(0, 40, 8)])  # 8 < 11: plain
    g_small = torch.autograd.grad(small.sum(), list(net.parameters()))
    torch.testing.assert_close(big, small, atol=1e-5, rtol=1e-5)
    for a, b in zip(g_big, g_small):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def _timed() -> Interactions:
    # user 0 rated movies 2, 0, 1 at t = 0, 50, 100 (span 100); movie 1 twice, the later
    # row counts. user 1 has one rating (zero span).
    return Interactions(np.array([0, 0, 0, 0, 1]), np.array([2, 0, 1, 1, 3]), np.ones(5, np.float32),
                        np.array([0, 50, 10, 100, 7]), 2, 4)


def test_recency_weights_halve_every_half_life_of_the_users_span():
    x = _timed()
    # pairs in train.seen order: (0,0) age 50, (0,1) age 0, (0,2) age 100, (1,3) age 0
    np.testing.assert_allclose(recency_weights(x, 0.5), [0.5, 1.0, 0.25, 1.0])
    np.testing.assert_allclose(recency_weights(x, 0.25), [0.25, 1.0, 0.0625, 1.0])
    with pytest.raises(ValueError, match="half_life"):
        recency_weights(x, 0.0)


@pytest.mark.parametrize("share", [True, False])
def test_epoch_data_carries_the_weights_to_the_loss(share):
    x = _timed()
    cfg = {**FAST, "negatives": 1, "recency_half_life": 0.5, "recency_negatives": share}
    model = create("neumf", cfg).fit(x)
    u, i, y, w = model._epoch_data(x, np.random.default_rng(0), torch.device("cpu"))
    pos = [0.5, 1.0, 0.25, 1.0]
    np.testing.assert_allclose(w.numpy(), pos + (pos if share else [1.0] * 4))
    np.testing.assert_array_equal(y.numpy(), [1, 1, 1, 1, 0, 0, 0, 0])
    with torch.no_grad():
        per = torch.nn.functional.binary_cross_entropy_with_logits(model.module(u, i), y, reduction="none")
        torch.testing.assert_close(model._loss((u, i, y, w)), (per * w).mean())
    assert len(create("gmf", FAST)._epoch_data(x, np.random.default_rng(0), torch.device("cpu"))) == 3


@pytest.mark.parametrize("name", ["gmf", "mlp", "neumf"])
def test_each_searched_embedding_size_is_one_the_network_uses(name):
    """MLP searched ``factors``, the GMF part's size, which its network does not have: every
    trial of it trained the same model."""
    x = random_ratings(n_users=20, n_items=15)
    space = MODELS[name].search_space
    sizes = [k for k in space if k.endswith("factors")]
    assert sizes
    for key in sizes:
        small, large = (create(name, {key: v, "epochs": 1, "progress": False}) for v in (8, 64))
        count = [sum(p.numel() for p in m._build(x).parameters()) for m in (small, large)]
        assert count[0] < count[1], f"{name} searches {key}, which its network ignores"


def test_a_saved_history_is_strict_json_a_figure_that_is_no_number_written_as_null(tmp_path):
    # history.json was written with Python's NaN, which strict JSON readers (jq, a browser's
    # JSON.parse) refuse; the project's other JSON files write null.
    import json

    from cinerec.models.base import load_model

    model = create("gmf", {**FAST, "epochs": 2}).fit(planted_groups())
    model.history[-1]["valid"] = float("nan")  # (an AUC over validation ratings of one kind)
    model.save(tmp_path / "gmf")

    def refused(word: str) -> None:
        raise ValueError(word)

    for name in ("history.json", "model.json"):
        json.loads((tmp_path / "gmf" / name).read_text(), parse_constant=refused)
    again = load_model(tmp_path / "gmf")
    assert again.history[-1]["valid"] is None
    # and its curves plot from what was read back (the null was a TypeError there)
    from cinerec.evaluation.report import save_curves

    again.history[0]["valid"], again.history[0]["metric"] = 0.5, "hr@10"
    save_curves(again.history, tmp_path / "curves.png", "gmf")
    assert (tmp_path / "curves.png").stat().st_size > 0


def test_no_negative_to_draw_names_the_model_and_the_stage_that_asked():
    # "every user has rated every movie ... no negative can be drawn" named no model: a
    # two-stage run could not tell which stage, nor an ensemble which member.
    from cinerec.data.dataset import Interactions
    from cinerec.errors import DataError
    from cinerec.models import create

    users, items = np.repeat(np.arange(4), 3), np.tile(np.arange(3), 4)
    x = Interactions(users, items, np.ones(12), np.arange(12), 4, 3)
    words = "every user has rated every movie (or every movie of positive weight): no negative can be drawn"
    for name, config, said in (("gmf", {"epochs": 1}, "gmf"), ("mf", {"loss": "bpr", "epochs": 1}, "mf"),
                               ("two-stage", {"mix": 1.0}, "two-stage's ranker neumf"),
                               ("two-stage", {"mix": "auto"}, "two-stage's ranker neumf")):
        with pytest.raises(DataError, match=rf"^{re.escape(said)}: {re.escape(words)}; keep more movies$"):
            create(name, config).fit(x)
