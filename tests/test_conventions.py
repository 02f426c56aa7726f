"""Every model's setting names against ``docs/conventions.md``, and old names refused.

The page's three tables are read as data: the shared names (with the models that use
each), the model-specific names, and the renames. A config field that is on neither of
the first two, a row naming a setting a model lacks, or a rename the code and the page
disagree on fails here.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import pytest

from cinerec.cli import main
from cinerec.config import Config
from cinerec.errors import ConfigError
from cinerec.models import MODELS, create, load_model
from cinerec.training import TrainConfig
from tests.models.conformance import planted_groups

PAGE = Path(__file__).resolve().parents[1] / "docs" / "conventions.md"
NEURAL = "every neural model"


def _sections(text: str) -> dict[str, list[list[str]]]:
    """``{heading: rows}``: the body rows of the first Markdown table under each ``##``."""
    out: dict[str, list[list[str]]] = {}
    heading = None
    for line in text.splitlines():
        if line.startswith("## "):
            heading = line[3:].strip()
            out[heading] = []
        elif heading is not None and line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            out[heading].append(cells)
    # drop each table's header and its |---| line
    return {h: rows[2:] for h, rows in out.items() if rows}


def _names(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def _neural() -> set[str]:
    return {name for name, cls in MODELS.items() if issubclass(cls.Config, TrainConfig)}


def _models(cell: str) -> set[str]:
    """The models a cell names: backquoted names, plus every neural model if it says so."""
    found = set(_names(cell))
    if NEURAL in cell.lower():
        found |= _neural()
    return found


def _fields(name: str) -> set[str]:
    return {f.name for f in dataclasses.fields(MODELS[name].Config)}


@pytest.fixture(scope="module")
def page() -> dict[str, list[list[str]]]:
    tables = _sections(PAGE.read_text())
    for heading in ("Shared names", "Model-specific names", "Renames"):
        assert tables.get(heading), f"{PAGE.name}: no table under '## {heading}'"
    return tables


@pytest.fixture(scope="module")
def shared(page) -> dict[str, set[str]]:
    """Shared name -> the models the page says use it."""
    out: dict[str, set[str]] = {}
    for row in page["Shared names"]:
        (name,) = _names(row[0])
        assert name not in out, f"{name!r} is listed twice among the shared names"
        out[name] = _models(row[-1])
    return out


@pytest.fixture(scope="module")
def specific(page) -> dict[str, set[str]]:
    """Model -> its names the page lists as its own."""
    out: dict[str, set[str]] = {}
    for row in page["Model-specific names"]:
        (name,) = _names(row[1])
        for model in _models(row[0]):
            out.setdefault(model, set()).add(name)
    return out


def test_the_page_names_the_neural_models_as_the_code_does():
    text = PAGE.read_text()
    sentence = next(p for p in text.split("\n\n") if p.startswith('"Every neural model"'))
    assert set(_names(sentence.split(":", 1)[1])) == _neural()


def test_every_setting_of_every_model_is_on_the_page(shared, specific):
    missing = {name: sorted(_fields(name) - shared.keys() - specific.get(name, set())) for name in MODELS}
    missing = {k: v for k, v in missing.items() if v}
    assert not missing, f"settings not in docs/conventions.md (add them to a table there): {missing}"


def test_shared_names_list_exactly_the_models_that_use_them(shared):
    for name, listed in shared.items():
        assert listed <= MODELS.keys(), f"{name}: the page lists unknown models {sorted(listed - MODELS.keys())}"
        users = {m for m in MODELS if name in _fields(m)}
        assert users <= listed, f"{name!r} is also used by {sorted(users - listed)}; add them on the page"
        # A shared name may be fixed on the page before the first model takes it; once
        # one does, the list must be exact.
        if users:
            assert listed == users, f"{name!r}: the page lists {sorted(listed - users)}, which lack it"


def test_model_specific_rows_name_settings_the_model_has(shared, specific):
    for model, names in specific.items():
        assert model in MODELS, f"the page has settings for an unknown model {model!r}"
        assert names <= _fields(model), f"{model}: no settings {sorted(names - _fields(model))}"
        assert not names & shared.keys(), f"{model}: {sorted(names & shared.keys())} are shared names"


def test_the_renames_table_is_what_the_configs_refuse(page):
    want: dict[str, dict[str, str]] = {name: {} for name in MODELS}
    for row in page["Renames"]:
        (old,), (new,) = _names(row[0]), _names(row[1])
        for model in _models(row[2]):
            assert model in MODELS, f"renames: unknown model {model!r}"
            want[model][old] = new
    for name, cls in MODELS.items():
        assert cls.Config.renames() == want[name], f"{name}: the renames in its config and on the page differ"
        for old, new in want[name].items():
            assert new in _fields(name) and old not in _fields(name), f"{name}: {old!r} -> {new!r}"


@pytest.mark.parametrize("model", sorted(m for m in MODELS if MODELS[m].Config.renames()))
def test_create_refuses_every_old_name_naming_the_new_one(model):
    for old, new in MODELS[model].Config.renames().items():
        with pytest.raises(ConfigError) as e:
            create(model, {old: 1}, where="--set")
        assert str(e.value).startswith(f"--set: '{old}' was renamed to '{new}'")
        assert "\n" not in str(e.value)


def test_renames_are_inherited_and_a_subclass_may_add_its_own():
    @dataclasses.dataclass(frozen=True)
    class Base(Config):
        renamed = {"reg": "regularization"}
        regularization: float = 0.0

    @dataclasses.dataclass(frozen=True)
    class Child(Base):
        renamed = {"dim": "factors"}
        factors: int = 4

    assert Child.renames() == {"reg": "regularization", "dim": "factors"}
    assert Base.renames() == {"reg": "regularization"}
    with pytest.raises(ConfigError, match="'reg' was renamed to 'regularization'"):
        Child.from_dict({"reg": 0.5})
    with pytest.raises(ConfigError, match="unknown key 'dim'"):
        Base.from_dict({"dim": 2})
    assert Child.from_dict({"regularization": 0.5, "factors": 2}) == Child(0.5, 2)


def _last_error_line(capsys, argv: list[str]) -> str:
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1
    return err


def test_the_cli_refuses_an_old_name_in_one_line(tmp_path, capsys):
    data = tmp_path / "small"
    assert main(["data", "synthesize", "--like", "ml-100k", "--scale", "0.02", "--seed", "1", "--out", str(data)]) == 0
    base = ["train", "--data", str(data), "--out", str(tmp_path / "run")]
    err = _last_error_line(capsys, [*base, "--model", "biasedmf", "--set", "reg=0.1"])
    assert err == "cinerec: error: --set: 'reg' was renamed to 'regularization' (see docs/conventions.md)"
    toml = tmp_path / "als.toml"
    toml.write_text("factors = 4\nalpha = 2.0\n")
    err = _last_error_line(capsys, [*base, "--model", "als", "--config", str(toml)])
    assert str(toml) in err and "'alpha' was renamed to 'confidence'" in err
    assert "unknown key 'regularisation'" in _last_error_line(
        capsys, [*base, "--model", "ease", "--set", "regularisation=3"])
    assert not (tmp_path / "run").exists()


def test_a_saved_model_with_an_old_name_is_refused_naming_it(tmp_path):
    model = create("ease", {"regularization": 5.0}).fit(planted_groups())
    model.save(tmp_path / "ease")
    meta_path = tmp_path / "ease" / "model.json"
    meta = json.loads(meta_path.read_text())
    meta["config"]["l2"] = meta["config"].pop("regularization")
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ConfigError, match=r"model\.json: 'l2' was renamed to 'regularization'"):
        load_model(tmp_path / "ease")
    meta["config"]["regularization"] = meta["config"].pop("l2")
    meta_path.write_text(json.dumps(meta))
    np.testing.assert_array_equal(load_model(tmp_path / "ease").score([0, 1]), model.score([0, 1]))


@pytest.mark.parametrize("model, in_loss", [("mf", True), ("biasedmf", True), ("autorec", True),
                                            ("mlp-rating", False), ("gmf", False), ("two-tower", False)])
def test_regularization_is_applied_once(model, in_loss):
    """In the loss (no weight decay) or as the optimiser's weight decay, never both."""
    import torch

    from cinerec.training import _optimizer

    cfg = create(model, {"regularization": 0.25}).config
    assert cfg.regularization_in_loss is in_loss
    opt = _optimizer(cfg, [torch.nn.Parameter(torch.zeros(2))])
    assert opt.param_groups[0]["weight_decay"] == (0.0 if in_loss else 0.25)
