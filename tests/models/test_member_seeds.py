"""A model that holds others seeds each of them that has no seed of its own: ``--seed``
(and a study's seeds) reached an ensemble's, a blend's or a two-stage model's own
hold-out only, so under a split without chance every seed gave the same figures."""

from __future__ import annotations

from cinerec.models import create


def _seed(model):
    return model.config.to_dict()["seed"]


def test_an_ensemble_seeds_its_members_unless_they_have_their_own():
    cfg = create("ensemble", {"members": ["als", "ease"], "seed": 7, "settings": {}}).config
    assert _seed(cfg.member("als")) == 7  # ease has no seed
    cfg = create("ensemble", {"members": ["als", "ease"], "seed": 7, "settings": {"als": {"seed": 3}}}).config
    assert _seed(cfg.member("als")) == 3
    assert _seed(create("ensemble", {"members": ["als"]}).config.member("als")) == 0  # as before by default


def test_a_blend_seeds_its_members_and_their_repeats_from_its_seed():
    cfg = create("blend", {"members": ["baseline", "mf"], "seed": 5, "repeats": {"mf": 3}}).config
    assert [_seed(cfg.member("mf", c)) for c in range(3)] == [5, 6, 7]
    cfg = create("blend", {"members": ["mf"], "seed": 5, "settings": {"mf": {"seed": 40}}, "repeats": {"mf": 2}}).config
    assert [_seed(cfg.member("mf", c)) for c in range(2)] == [40, 41]


def test_a_two_stage_model_seeds_its_stages_unless_they_have_their_own():
    cfg = create("two-stage", {"retriever": "als", "ranker": "neumf", "seed": 9}).config
    assert _seed(cfg.stage("retriever")) == 9 and _seed(cfg.stage("ranker")) == 9
    cfg = create("two-stage", {"seed": 9, "ranker_settings": {"seed": 2}}).config
    assert _seed(cfg.stage("retriever")) == 9 and _seed(cfg.stage("ranker")) == 2
    assert create("two-stage").config.seed == 0
