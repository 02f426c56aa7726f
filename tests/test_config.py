import re
from dataclasses import dataclass
from typing import Literal

import pytest

from cinerec.config import Config, parse_set_options
from cinerec.errors import ConfigError


@dataclass(frozen=True)
class Toy(Config):
    factors: int = 8
    lr: float = 0.01
    loss: Literal["mse", "bce"] = "mse"
    layers: tuple[int, ...] = (64, 32)
    device: str = "cpu"

    def validate(self) -> None:
        self._check(self.factors > 0, "factors", "must be positive")


def test_round_trip_and_coercion():
    c = Toy.from_dict({"factors": 16, "lr": 1, "layers": [8, 4]})
    assert c.lr == 1.0 and isinstance(c.lr, float)
    assert c.layers == (8, 4)
    assert Toy.from_dict(c.to_dict()) == c


@pytest.mark.parametrize(
    "values, message",
    [
        ({"factorz": 3}, "unknown key 'factorz'"),
        ({"factors": "big"}, "expected an integer"),
        ({"factors": 1.5}, "expected an integer"),
        ({"factors": -1}, "must be positive"),
        ({"loss": "hinge"}, 'expected "mse" or "bce"'),
        ({"lr": True}, "expected a number"),
        ({"lr": float("inf")}, "expected a finite number"),
        ({"lr": float("nan")}, "expected a finite number"),
    ],
)
def test_bad_values_are_named(values, message):
    with pytest.raises(ConfigError, match=message):
        Toy.from_dict(values)


@pytest.mark.parametrize("model", ["als", "gmf", "bpmf", "blend", "ensemble"])
def test_a_negative_seed_is_refused_by_every_model_that_has_one(model):
    from cinerec.models.base import MODELS

    with pytest.raises(ConfigError, match=r"--set: seed = -1: must be from 0 to 2\*\*63 - 1"):
        MODELS[model].Config.from_dict({"seed": -1}, where="--set")
    with pytest.raises(ConfigError, match=r"--set: seed = 18446744073709551616: must be from 0"):
        MODELS[model].Config.from_dict({"seed": 2**64}, where="--set")  # torch's manual_seed overflows


def test_parse_set_options():
    assert parse_set_options(["factors=16", "lr=1e-3", "loss=bce", "layers=[8, 4]", "flag=true"]) == {
        "factors": 16, "lr": 0.001, "loss": "bce", "layers": [8, 4], "flag": True,
    }
    with pytest.raises(ConfigError, match="key=value"):
        parse_set_options(["oops"])
    # A number past any float: said as written (it was "regularization = inf: expected a
    # finite number", and for a whole-number setting "expected an integer").
    for given in ("regularization=1e400", "regularization=-1e400", "weights=[1e400, 1, 1]", "t={a=[2, -1e999]}",
                  't={n="info", b=1e400}'):
        with pytest.raises(ConfigError, match=rf"^--set {re.escape(given)}: a number too large to hold \(it reads as "
                                              r"infinity\)$"):
            parse_set_options([given])
    assert parse_set_options(["x=inf", "y=-inf"]) == {"x": float("inf"), "y": float("-inf")}  # (asked for: judged later)


def test_a_dotted_set_key_sets_one_entry_of_a_table_as_toml_does():
    # "--set settings.bpmf.sweeps=100" was refused as an unknown key 'settings.bpmf.sweeps'.
    assert parse_set_options(["settings.bpmf.sweeps=100", "settings.bpmf.factors=5", "settings.autorec.epochs=3",
                              "repeats.autorec=2", "lr=0.1"]) == {
        "settings": {"bpmf": {"sweeps": 100, "factors": 5}, "autorec": {"epochs": 3}}, "repeats": {"autorec": 2},
        "lr": 0.1}
    assert parse_set_options(["settings.bpmf.sweeps=100", "settings={}"]) == {"settings": {}}  # the later wins
    assert parse_set_options(["settings={autorec={epochs=2}}", "settings.bpmf.sweeps=1"]) == {
        "settings": {"autorec": {"epochs": 2}, "bpmf": {"sweeps": 1}}}
    # the example --help gives is one a blend takes (sweeps=100 was below bpmf's burn_in of 100)
    import typing

    from cinerec.commands import flags
    from cinerec.models import create

    example = re.search(r"settings\.bpmf\.\S+=\d+", typing.get_args(flags.Set)[1].help)[0]
    assert create("blend", parse_set_options([example])).config.settings["bpmf"]
    with pytest.raises(ConfigError, match=r"^--set settings\.bpmf\.sweeps=\[1,: not a TOML value"):
        parse_set_options(["settings.bpmf.sweeps=[1,"])


@pytest.mark.parametrize("model", ["als", "mf", "neumf", "two-tower"])
def test_index_settings_are_named_as_written_not_by_their_class(model):
    from cinerec.models.base import MODELS

    with pytest.raises(ConfigError, match=r"^--set: index_nlist = -1: must be >= 0"):
        MODELS[model].Config.from_dict({"index_nlist": -1}, where="--set")
    with pytest.raises(ConfigError, match=r"^--set: unknown key 'nosuch' \(known: "):
        MODELS[model].Config.from_dict({"nosuch": 1}, where="--set")


@pytest.mark.parametrize("settings, message", [
    ({"layers": [64, 0]}, "layers = [64, 0]: must list one or more hidden sizes"),
    ({"layers": [64, True]}, "layers = [64, true]: true: expected an integer"),
    ({"epochs": True}, "epochs = true: expected an integer"),
    ({"epochs": {"a": 1}}, "epochs = {a = 1}: expected an integer"),
    ({"loss": "zz"}, 'loss = "zz": expected one of "mse", "bce", "bpr"'),
])
def test_values_in_messages_are_written_as_toml_writes_them(settings, message):
    # They came as Python writes them: (64, 0), True, {'a': 1}, 'zz'.
    from cinerec.models import create

    with pytest.raises(ConfigError, match=re.escape(message)):
        create("neumf" if "layers" in settings else "mf", settings)


def test_shown_writes_settings_as_toml():
    import numpy as np

    from cinerec.config import shown

    assert [shown(v) for v in (True, (64, 0), "a", 2.0, 0.5, {"a": 1}, np.int64(50), None)] == [
        "true", "[64, 0]", '"a"', "2", "0.5", "{a = 1}", "50", "nothing"]
    # a control character as TOML escapes it: it reached the terminal raw (an escape sequence)
    assert shown("\x1b[31mRED\x01") == '"\\u001b[31mRED\\u0001"'


def test_a_toml_date_is_said_as_it_was_typed(tmp_path, capsys):
    # "epochs = datetime.date(2023, 1, 1): expected an integer"
    from cinerec.cli import main

    (tmp_path / "date.toml").write_text("epochs = 2023-01-01\nlr = 07:32:00\n")
    assert main(["evaluate", "--data", "synthetic", "--model", "gmf", "--config", str(tmp_path / "date.toml"), "-q"]) == 2
    err = capsys.readouterr().err
    assert "epochs = 2023-01-01: expected an integer" in err and "datetime" not in err, err


def test_a_model_without_settings_says_so_not_an_empty_list():
    # "unknown key 'x' (known: )"
    from cinerec.models import create

    with pytest.raises(ConfigError, match=r"^config: unknown key 'x': this model takes no settings$"):
        create("popularity", {"x": 1})


def test_a_misspelt_setting_is_told_the_one_it_reads_like():
    from cinerec.models import create

    with pytest.raises(ConfigError, match=r"^config: unknown key 'regularisation' \(did you mean 'regularization'\? "
                                          r"known: binary, "):
        create("ease", {"regularisation": 5})
    with pytest.raises(ConfigError, match=r"^config: unknown key 'zzz' \(known: binary, "):  # (none close)
        create("ease", {"zzz": 5})


@pytest.mark.parametrize("pair, reason", [("epochs=01", "Expected newline"), ("layers=[64, 32", "Unclosed array"),
                                          ("loss='bpr", "")])
def test_a_set_value_meant_as_a_number_or_list_that_is_no_toml_is_named(pair, reason):
    # epochs=01 was taken as the text "01" (then "expected an integer"), and an unclosed
    # list as text too.
    with pytest.raises(ConfigError, match=rf"^--set {re.escape(pair)}: not a TOML value \({reason}"):
        parse_set_options([pair])
    assert parse_set_options(["loss=bpr", "gmf_path=./runs/gmf/models/gmf"]) == {
        "loss": "bpr", "gmf_path": "./runs/gmf/models/gmf"}


@pytest.mark.parametrize("value, written", [(".5", "0.5"), ("-.5", "-0.5"), ("+.5e-3", "+0.5e-3")])
def test_a_fraction_without_its_leading_zero_is_told_how_to_write_it(value, written, capsys):
    # ".5" was taken as the text ".5" ("expected a number"), and "-.5" was told to drop leading zeros.
    from cinerec.cli import main

    assert main(["evaluate", "--data", "synthetic", "--model", "ease", "--set", f"regularization={value}", "-q"]) == 2
    assert f"--set regularization={value}: write a fraction with its leading zero ({written})" in capsys.readouterr().err


def test_numpy_numbers_set_settings_and_options_as_their_values():
    # A notebook's grid (np.arange) was refused: "factors = 8: expected an integer".
    import numpy as np

    from cinerec.evaluation.protocols import get_protocol
    from cinerec.models import create

    als = create("als", {"factors": np.int64(8), "epochs": np.int32(2), "regularization": np.float32(0.5)})
    assert (als.config.factors, als.config.epochs, als.config.regularization) == (8, 2, 0.5)
    assert type(als.config.factors) is int and type(als.config.regularization) is float
    assert create("ease", {"binary": np.bool_(True)}).config.binary is True
    assert get_protocol("loo-sampled", n_negatives=np.int64(50)).options() == {"n_negatives": 50}
    assert get_protocol("loo-full", ks=np.array([5, 10])).options() == {"ks": [5, 10]}
    with pytest.raises(ConfigError, match=r"factors = 2\.5: expected an integer"):
        create("als", {"factors": np.float64(2.5)})


def test_a_whole_number_too_large_for_a_float_is_refused_in_one_line():
    # It ended in OverflowError (int too large to convert to float) where 1e400 said "expected a finite number".
    from cinerec.models import create

    for model, key in (("ease", "regularization"), ("mf", "lr"), ("als", "confidence")):
        for big, digits in ((10**400, "401"), (10**5000, "5,001")):  # (Python writes no int of 5,000 digits)
            with pytest.raises(ConfigError, match=rf"^config: {key} = a number of about {digits} digits: too large "
                                                  r"\(at most 3\.403e\+38\)$"):
                create(model, {key: big})
    with pytest.raises(ConfigError, match=r"regularization = a negative number of about 401 digits: too small"):
        create("ease", {"regularization": -10**400})


@pytest.mark.parametrize("model", ["mf", "bpmf"])
def test_threads_have_a_ceiling(model):
    # threads = 100000 was taken, and the fit died starting them (a traceback from torch's import).
    from cinerec.models import create

    assert create(model, {"threads": 256}).config.threads == 256
    with pytest.raises(ConfigError, match=r"threads = 257: must be from 0 .*to 256"):
        create(model, {"threads": 257})


def test_a_config_built_in_python_with_a_value_of_the_wrong_kind_is_one_line():
    # ALSConfig(factors="8") failed inside validate() with a TypeError ('>=' between str and int).
    from cinerec.models import MODELS

    with pytest.raises(ConfigError, match=r'^ALSConfig.factors = "8": expected an integer$'):
        MODELS["als"].Config(factors="8")
    assert MODELS["als"].Config(factors=8).factors == 8


def test_tuned_settings_read_as_set_takes_them():
    from cinerec.config import settings_words

    assert settings_words({"regularization": 1400.0, "recency_half_life": 0.12, "layers": [64, 32],
                           "loss": "bpr", "binary": True}) == \
        'regularization=1400, recency_half_life=0.12, layers=[64, 32], loss="bpr", binary=true'
