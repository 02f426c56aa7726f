"""benchmarks/defaults.py: the rows it holds out and the rule that picks a default."""

from __future__ import annotations

import importlib.util
from pathlib import Path


from cinerec.data.split import leave_last_out
from tests.models.conformance import random_ratings

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "defaults.py"
_spec = importlib.util.spec_from_file_location("defaults_benchmark", _PATH)
assert _spec is not None and _spec.loader is not None
defaults = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(defaults)


def test_latest_rows_are_the_rows_leave_last_out_tests_on():
    x = random_ratings(seed=4)
    # Coarse timestamps force ties, which the later row must win.
    x = x.replace(timestamps=x.timestamps // 50)
    last = defaults.latest_rows(x)
    test = leave_last_out(x).test
    assert last.sum() == len(test) == x.n_users
    got = set(zip(x.users[last].tolist(), x.items[last].tolist()))
    assert got == set(zip(test.users.tolist(), test.items.tolist()))


def _row(label, score, worst=0.9):
    return {"candidate": label, "settings": {"x": label}, "score": score, "worst": worst}


def test_a_default_moves_only_past_the_margin_over_the_default_in_force():
    close = {"candidates": [_row("current default", 0.965), _row("candidate (best on a)", 0.970)]}
    assert defaults.choose(close, 0.01)["robust"] == "current default"
    clear = {"candidates": [_row("current default", 0.945), _row("candidate (best on a)", 0.979)]}
    assert defaults.choose(clear, 0.01)["robust"] == "candidate (best on a)"
    # A rerun after the defaults changed measures the margin against the old default.
    rerun = {"candidates": [_row("old default", 0.951), _row("current default", 0.984),
                            _row("candidate (best on a)", 0.989)]}
    assert defaults.choose(rerun, 0.01)["robust"] == "candidate (best on a)"


def test_round2_keeps_two_significant_figures():
    assert defaults.round2(1370.38) == 1400.0 and defaults.round2(0.11890) == 0.12
    assert defaults.round2(64) == 64 and defaults.round2(0.0) == 0.0


def test_a_figure_to_minimise_scores_best_over_value_and_picks_the_lowest():
    assert defaults.relative(0.9, 0.9, "minimize") == 1.0
    assert defaults.relative(1.0, 0.9, "minimize") == 0.9 and defaults.relative(3.0, 4.0, "maximize") == 0.75
    # Two datasets' RMSE: the candidate is lower on both, by about 0.5% and 0.3%.
    rmse = {"default": {"a": 0.9300, "b": 0.8500}, "challenger": {"a": 0.9254, "b": 0.8475}}
    best = {d: min(rmse[c][d] for c in rmse) for d in ("a", "b")}
    table = []
    for label, figures in (("current default", rmse["default"]), ("candidate (best on a, b)", rmse["challenger"])):
        rel = [defaults.relative(figures[d], best[d], "minimize") for d in ("a", "b")]
        table.append(_row(label, sum(rel) / 2, min(rel)))
    assert table[1]["score"] == 1.0 and 0.995 < table[0]["score"] < 0.997
    result = {"candidates": table}
    assert defaults.choose(result, defaults.MARGIN_MINIMISED)["robust"] == "candidate (best on a, b)"
    assert defaults.choose(result, defaults.MARGIN_MAXIMISED)["robust"] == "current default"


def test_each_protocol_gets_its_figures_margin():
    assert defaults.default_margin("loo-sampled") == defaults.default_margin("random-full") == 0.01
    assert defaults.default_margin("ratings-fold") == defaults.default_margin("ratings-random") == 0.002
