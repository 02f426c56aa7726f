"""What only a GPU can check: the CUDA paths against the CPU.

Marked ``cuda``; skipped where torch sees no CUDA device. ``benchmarks/gpu_check.py``
runs them (``pytest -m cuda``) on a machine with one.
"""

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from cinerec.models import create
from cinerec.ranking import top_k
from tests.models.conformance import planted_groups

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]

SMALL = {"factors": 8, "mlp_factors": 8, "layers": [16, 8], "epochs": 30, "lr": 0.01, "batch_size": 256, "init_std": 0.1,
         "patience": 0, "progress": False}


def test_top_k_on_a_cuda_tensor_equals_top_k_on_the_cpu():
    rng = np.random.default_rng(0)
    scores = rng.standard_normal((300, 500)).astype(np.float32)
    scores[:, 100:110] = 2.5  # ties: ten equal scores near the top of every row
    seen = sp.random(300, 500, density=0.05, format="csr", random_state=1)
    for exclude in (None, seen):
        want = top_k(scores, 20, exclude)
        got = top_k(torch.from_numpy(scores).cuda(), 20, exclude)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])


def test_neumf_trains_under_bf16_autocast_and_ranks_like_the_cpu():
    x = planted_groups()
    model = create("neumf", {**SMALL, "device": "cuda", "amp": True}).fit(x)
    assert all(np.isfinite(h["loss"]) for h in model.history)
    assert model.history[-1]["loss"] < model.history[0]["loss"]
    # The same weights on the CPU: float32 there, float32 on the GPU (autocast is for
    # training only), so the scores agree to float32 rounding and the lists agree.
    cpu = create("neumf", {**SMALL, "device": "cpu"})
    cpu._remember(x)
    cpu.module = cpu._build(x)
    cpu.module.load_state_dict({k: v.cpu() for k, v in model.module.state_dict().items()})
    cpu.module.eval()
    users = np.arange(x.n_users)
    np.testing.assert_allclose(model.score(users), cpu.score(users), rtol=1e-4, atol=1e-5)
    got, _ = model.recommend(users, k=5)
    want, _ = cpu.recommend(users, k=5)
    assert (got == want).mean() > 0.99  # a near-tie may swap two neighbours, no more
    # and it learned the planted groups: the first half of users like the first half of movies
    group = (users >= x.n_users // 2)[:, None]
    assert ((got >= x.n_items // 2) == group).mean() >= 0.9


def test_a_cuda_model_loads_back_to_the_same_scores(tmp_path):
    x = planted_groups()
    model = create("gmf", {**SMALL, "device": "cuda"}).fit(x)
    model.save(tmp_path / "m")
    from cinerec.models import load_model

    back = load_model(tmp_path / "m")
    users = np.arange(x.n_users)
    assert back.device.type == "cuda"  # the config's device, as saved
    np.testing.assert_array_equal(back.score(users), model.score(users))
