"""Study files: read into one checked value before any data is read; every mistake is one
line naming the file, the line and the key. Also the per-user metric values and the paired
comparison a study's leaderboard rests on."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from cinerec.errors import ConfigError
from cinerec.evaluation import metrics as M
from cinerec.studies import Study, differs_words, key_line, paired, paired_errors, paired_folds, shown_metrics

ROOT = Path(__file__).resolve().parents[1]

GOOD = """\
title = "a study"

[data]
source = "ml-100k"
min_year = 1990
top_users = 500

[protocol]
name = "loo-sampled"
n_negatives = 49
seeds = [0, 1]

[models.ease]
regularization = 200

[models.neumf-small]   # a second label for a registered model
model = "neumf"
factors = 8
layers = [16, 8]

[models.ensemble]
members = ["mf", "ease"]

[models.ensemble.settings.mf]
factors = 4

[tune]
trials = 5
models = ["ease"]

[export]
k = 10

[reference]
metric = "hr@10"
value = 0.9
source = "somewhere"
"""


def random_log(path: Path, seed: int, users: int, movies: int, counts: tuple[int, int], width: int = 0) -> Path:
    """A log of ``users`` people rating ``counts[0]`` to ``counts[1] - 1`` of ``movies``
    movies at random, one star value at random each, at increasing times: the small logs
    the study notes are checked on."""
    rng = np.random.default_rng(seed)
    rows = ["user,item,rating,ts"]
    for u in range(users):
        for k, m in enumerate(rng.choice(movies, rng.integers(*counts), replace=False)):
            rows.append(f"u{u},m{m:0{width}d},{rng.integers(1, 6)},{1600000000 + 100 * u + k}")
    path.write_text("\n".join(rows) + "\n")
    return path


def write(tmp_path: Path, text: str, name: str = "study.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_good_file_gives_every_part(tmp_path):
    s = Study.from_toml(write(tmp_path, GOOD))
    assert s.title == "a study" and s.source == "ml-100k"
    assert s.filters.min_year == 1990 and s.filters.top_users == 500 and not s.filters.is_empty
    assert s.protocol == "loo-sampled" and dict(s.protocol_options) == {"n_negatives": 49} and s.seeds == (0, 1)
    assert [(m.label, m.model) for m in s.models] == [("ease", "ease"), ("neumf-small", "neumf"), ("ensemble", "ensemble")]
    assert dict(s.models[1].settings) == {"factors": 8, "layers": [16, 8]}
    assert s.models[2].settings["settings"] == {"mf": {"factors": 4}}
    assert s.trials == 5 and s.minutes is None and s.tune_models == ("ease",)
    assert s.tuned(s.models[0]) and not s.tuned(s.models[1])
    assert s.export_k == 10 and s.reference.metric == "hr@10" and s.reference.value == 0.9
    assert s.to_dict()["models"][1] == {"label": "neumf-small", "model": "neumf", "settings": {"factors": 8, "layers": [16, 8]}}


def test_data_and_tune_overrides(tmp_path):
    s = Study.from_toml(write(tmp_path, GOOD), data="/somewhere/ml-100k", trials=2)
    assert s.source == "/somewhere/ml-100k" and s.trials == 2


def test_key_line_finds_keys_headers_and_dotted_keys():
    text = 'a = 1\n[data]\nsource = "x"\n  min_year=3 # c\n[models."odd.name"]\nfactors = 2\n[models]\nease.regularization = 5\n'
    assert key_line(text, (), "a") == 1
    assert key_line(text, ("data",)) == 2
    assert key_line(text, ("data",), "min_year") == 4
    assert key_line(text, ("models", "odd.name")) == 5
    assert key_line(text, ("models", "odd.name"), "factors") == 6
    assert key_line(text, ("models", "ease"), "regularization") == 8
    assert key_line(text, ("data",), "nope") is None
    # A key written as a table's header, or inside one: that header's line (it had none).
    assert key_line('[models.als]\nfactors = 8\n[models.als.settings.ease]\nx = 1\n', ("models", "als"), "settings") == 3
    assert key_line('[models.als.settings]\nx = 1\n', ("models", "als"), "settings") == 1
    # A dotted key that starts with the key, in the table itself: its own line.
    assert key_line('[models.als]\nfactors = 8\nmodels.ease.regularization = -1\n', ("models", "als"), "models") == 3


def test_key_line_skips_what_continues_a_multi_line_string_or_value():
    """A note's text may hold a line like a header (``[1] a reference``) or a key: it is
    not one, and the key written after it is found on its own line."""
    text = ('notes = """\n[data]\nbogus = 1\nSee:\n[1] He et al., 2017\n"""\ntitle = 5\n'
            "quoted = '''\n[models.x]\n'''\n[data]\nsource = \"a # b [\"\nseeds = [\n  {bogus = 2},\n]\nbogus = 3\n")
    assert key_line(text, (), "title") == 7
    assert key_line(text, ("data",)) == 11
    assert key_line(text, ("data",), "bogus") == 16
    assert key_line(text, ("models", "x")) is None
    # A key or header commented out is no statement: the one written below it is found.
    text = '# epochs = 1\n  #[data]\nepochs = 2\n[data]\n# source = "a"\nsource = "b"\n'
    assert key_line(text, (), "epochs") == 3 and key_line(text, ("data",)) == 4
    assert key_line(text, ("data",), "source") == 6


def test_a_mistake_after_a_multi_line_note_is_named_at_its_own_line(tmp_path):
    note = 'notes = """\nSee:\n[1] He et al., NCF, 2017\n[data]\ntop_userz = 1\n"""\n'  # six lines
    with pytest.raises(ConfigError, match=r":7: top level title: expected a string, got 5$"):
        Study.from_toml(write(tmp_path, note + GOOD.replace('title = "a study"', "title = 5")))
    with pytest.raises(ConfigError, match=r":12: \[data\] top_userz: unknown key"):
        Study.from_toml(write(tmp_path, (note + GOOD).replace("top_users = 500", "top_userz = 500")))
    assert Study.from_toml(write(tmp_path, note + GOOD)).title == "a study"  # the note's [data] is text


def test_a_reference_no_model_of_the_study_gives_is_refused(tmp_path):
    """Under a rating protocol a model gives stars (rmse, mae) or liked-or-not (auc,
    accuracy), never both: a reference none of the study's models gives could only print
    "not measured" beside the study's figure."""
    study = ('[data]\nsource = "ml-100k"\n[protocol]\nname = "ratings-fold"\n'
             '[models.mf-liked]\nmodel = "mf"\nloss = "bce"\ntarget = "liked"\n'
             '[reference]\nmetric = "rmse"\nvalue = 0.9\n')
    with pytest.raises(ConfigError) as e:
        Study.from_toml(write(tmp_path, study))
    assert str(e.value).endswith(":10: [reference] metric: 'rmse': no model of this study gives it "
                                 "(it needs a model that predicts stars)")
    stars = study.replace('loss = "bce"\ntarget = "liked"\n', "").replace('"rmse"', '"auc"').replace("0.9", "0.7")
    with pytest.raises(ConfigError, match=r"'auc': no model of this study gives it \(it needs a model trained on liked"):
        Study.from_toml(write(tmp_path, stars))
    # One model of each kind: both references are somebody's figure.
    both = study.replace("[reference]", '[models.baseline]\n[reference]')
    assert Study.from_toml(write(tmp_path, both)).reference.metric == "rmse"
    assert Study.from_toml(write(tmp_path, both.replace('"rmse"', '"auc"'))).reference.metric == "auc"
    # An RMSE is not a share: above 1 is possible; below 0 is not.
    assert Study.from_toml(write(tmp_path, both.replace("0.9", "1.2"))).reference.value == 1.2
    with pytest.raises(ConfigError, match=r"value: -0.5 is not a possible rmse \(it lies at 0 or above\)"):
        Study.from_toml(write(tmp_path, both.replace("0.9", "-0.5")))


@pytest.mark.parametrize("old, new, needle", [
    ("top_users = 500", "top_userz = 500", ":6: [data] top_userz: unknown key (did you mean 'top_users'? known: "
     "source, columns, catalog, "),
    ("top_users = 500", "top_users = 0", ":6: [data]: top_users = 0"),
    ("n_negatives = 49", "n_negative = 49", ":10: [protocol] n_negative: protocol loo-sampled: unknown option"),
    ("n_negatives = 49", "n_negatives = -1", ":10: [protocol] n_negatives:"),
    # (the seeds' key was not named)
    ("n_negatives = 49", "seed = 3", ":10: [protocol] seed: protocol loo-sampled: unknown option 'seed' (known: ks, "
     "n_negatives, valid); the split's seed is --seed on the command line, and seeds = [...] in a study's [protocol]"),
    ("seeds = [0, 1]", "seeds = [0, 0]", ":11: [protocol] seeds: expected a list of distinct"),
    ("seeds = [0, 1]", "seeds = [1.0]", ":11: [protocol] seeds: expected a list of distinct whole numbers from 0 to "
     "2**63 - 1, got [1.0]"),  # it said "got [1]"
    ("seeds = [0, 1]", "seeds = [18446744073709551616]", ":11: [protocol] seeds: expected a list of distinct whole"),
    ('name = "loo-sampled"', 'name = "loo-sampld"', ":9: [protocol] name: unknown protocol 'loo-sampld'"),
    ("regularization = 200", "regularisation = 200", ":14: [models.ease] regularisation: unknown setting of ease "
     "(did you mean 'regularization'? known: "),
    # A nested table for a model that has no members: the table's own line (there was none).
    ("regularization = 200", "[models.ease.settings.als]\nfactors = 2", ":14: [models.ease] settings: unknown setting"),
    ("regularization = 200", 'regularization = "big"', ':14: [models.ease] regularization = "big": expected a number'),
    ("factors = 8", "factors = 0", ":18: [models.neumf-small] factors = 0: must be"),
    ("factors = 8", "factors = true", ":18: [models.neumf-small] factors = true: expected an integer"),  # TOML's
    # A float where an integer belongs is shown as typed: "factors = 8: expected an integer" contradicted itself.
    ("factors = 8", "factors = 8.0", ":18: [models.neumf-small] factors = 8.0: expected an integer"),
    ("layers = [16, 8]", "layers = [16.0, 8]", ":19: [models.neumf-small] layers = [16.0, 8]: 16.0: expected an integer"),
    ("n_negatives = 49", "n_negatives = 49.0", ":10: [protocol] n_negatives: protocol loo-sampled: n_negatives=49.0 "
                                               "must be a positive integer"),
    # A table given for a number is the setting's fault, not a table [models.ease.regularization]'s.
    ("regularization = 200", "regularization = { a = 1 }", ":14: [models.ease] regularization = {a = 1}: expected a number"),
    ("k = 10", "k = true", ":32: [export] k: true: expected a whole number from 1 to 1000"),
    # The way out in the file's own terms, not the command line's flag.
    ('model = "neumf"\nfactors = 8\nlayers = [16, 8]', 'model = "mf"\nloss = "mse"',
     ':18: [models.neumf-small] loss: mf with loss = "mse" learns stars, not rankings; under loo-sampled set loss = '
     '"bpr", regularization = 0.01 (what mf gets when it is left unset), or measure stars with [protocol] name = '
     '"ratings-random"'),
    ('model = "neumf"', 'model = "neumff"', ":17: [models.neumf-small] model: unknown model 'neumff'"),
    # A label that names another model would put one model's figures on the other's row.
    ("regularization = 200", 'model = "als"', ":14: [models.ease] model: label 'ease' is the name of another model, so "
     "its row would read as ease's; give als a label of its own, such as als-ease"),
    ('[models.ease]\nregularization = 200', '[models.EASE]\nmodel = "als"', ":14: [models.EASE] model: label 'EASE' is "
     "the name of another model, so its row would read as ease's"),  # whatever its case
    ("factors = 4", "factorz = 4", ":25: [models.ensemble.settings.mf] factorz:"),
    # Settings of a model that is no member: its own table's line, not the ensemble's header.
    ("[models.ensemble.settings.mf]", "[models.ensemble.settings.als]",
     ":24: [models.ensemble.settings.als]: settings: 'als' is not one of the members"),
    # A sub-table a member's settings do not know: its own header, not a known key named in the message's list.
    ("factors = 4", "factors = 4\n[models.ensemble.settings.mf.deep]\nx = 1",
     ":26: [models.ensemble.settings.mf.deep]: settings.mf: unknown key 'deep'"),
    # An empty [models]: its line.
    ("[models.ease]\nregularization = 200\n\n[models.neumf-small]   # a second label for a registered model\n"
     'model = "neumf"\nfactors = 8\nlayers = [16, 8]\n\n[models.ensemble]\nmembers = ["mf", "ease"]\n\n'
     "[models.ensemble.settings.mf]\nfactors = 4\n\n[tune]\ntrials = 5\nmodels = [\"ease\"]\n",
     "[models]\n", ":13: [models]: no models: add a [models.NAME] table"),
    # A good key before the bad one, named in the message's list of known keys: still the bad one's line.
    ("factors = 4", "epochs = 2\nfactorz = 4", ":26: [models.ensemble.settings.mf] factorz:"),
    ("trials = 5", "trials = 0", ":28: [tune] trials: 0: a tuning budget must be a whole number of trials, at least 1"),
    ("trials = 5", "trials = 2.5", ":28: [tune] trials: 2.5: a tuning budget must be a whole number of trials"),
    ("trials = 5", "trials = true", ":28: [tune] trials: true: a tuning budget"),  # TOML's spelling, not Python's
    ('models = ["ease"]', 'models = ["ensemble", "neumf-small"]',
     ":29: [tune] models: 'ensemble' declares no search space: there is nothing to tune"),
    ("trials = 5", "trials = 5\nminutes = 0", ":29: [tune] minutes: 0: a tuning budget must be a number of minutes "
                                             "above 0 and at most 525,600 (a year"),
    # (inf was "must be more than 0 minutes"; 1e308 overflowed to a search without end)
    ("trials = 5", "trials = 5\nminutes = inf", ":29: [tune] minutes: inf: a tuning budget must be a number"),
    ("trials = 5", "trials = 5\nminutes = 1e308", ":29: [tune] minutes: 1e+308: a tuning budget must be a number"),
    ("trials = 5", 'trials = 5\nminutes = "1"', ":29: [tune] minutes: '1': expected a number of minutes"),
    ('models = ["ease"]', 'models = ["eas"]', ":29: [tune] models: 'eas' is not one of the study's models"),
    ('models = ["ease"]', 'models = ["ease", "ease"]', ":29: [tune] models: 'ease' is named twice"),
    # Labels that differ in case alone name one folder on macOS and Windows.
    ("[models.neumf-small]", "[models.EASE]", ":16: [models] EASE: label 'EASE' differs from 'ease' only in case"),
    # An empty list searched nothing, and silently swallowed a --tune given with it.
    ('models = ["ease"]', "models = []", ":29: [tune] models: [] names no model to tune"),
    ("k = 10", "k = 0", ":32: [export] k: 0: expected a whole number from 1 to 1000"),
    ("k = 10", "k = 10\nformat = 1", ":33: [export] format: unknown key"),
    ("value = 0.9", 'value = "high"', ":36: [reference] value: expected a number"),
    # A hit rate is a share: above 1 or below 0 is a typing slip, not a study's figure.
    ("value = 0.9", "value = 94.6", ":36: [reference] value: 94.6 is not a possible hr@10 (it lies between 0 and 1)"),
    ("value = 0.9", "value = -0.1", ":36: [reference] value: -0.1 is not a possible hr@10"),
    ('metric = "hr@10"', 'metric = "rmse"', ":35: [reference] metric: 'rmse' is not measured by protocol loo-sampled "
                                            "(it measures hr@1, ndcg@1, hr@5, ndcg@5, hr@10, ndcg@10)"),
    # The study's own model: one of its labels.
    ('source = "somewhere"', 'source = "somewhere"\nmodel = "neumf"', ':38: [reference] model: "neumf" is not one of '
                                                                      "the study's models (ease, neumf-small, ensemble)"),
    # The study's figures at other metrics: each checked as the first is, on its own line.
    ('source = "somewhere"', 'source = "somewhere"\nalso = 5', ":38: [reference] also: expected a table of metric"),
    ('source = "somewhere"', 'source = "somewhere"\nalso = {"hr@50" = 0.5}',
     ":38: [reference.also] hr@50: 'hr@50' is not measured by protocol loo-sampled"),
    ('source = "somewhere"', 'source = "somewhere"\n[reference.also]\n"hr@5" = 0.8\n"ndcg@5" = 1.5',
     ":40: [reference.also] ndcg@5: 1.5 is not a possible ndcg@5"),
    ('source = "somewhere"', 'source = "somewhere"\nalso = {"hr@10" = 0.5}',
     ":38: [reference.also] hr@10: 'hr@10' is the reference's metric already"),
    ('title = "a study"', 'titel = "a study"', ":1: top level titel: unknown key"),
    ("[export]", "[exports]", ":31: top level exports: unknown key"),  # a table's own header line
    # An array of tables where a table belongs: its header's line (there was none).
    ("[export]", "[[export]]", ":31: top level export: expected a table [export]"),
])
def test_each_mistake_names_file_line_and_key(tmp_path, old, new, needle):
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(ConfigError) as e:
        Study.from_toml(path)
    message = str(e.value)
    assert message.startswith(str(path)) and needle in message, message
    assert "\n" not in message and "\0" not in message


def test_a_fold_all_reference_names_one_of_the_five_folds(tmp_path):
    # rmse_u9 (or rmse_uxyz) was taken, then printed as "no model of this run gives rmse_u9".
    text = ('[data]\nsource = "ml-100k"\n[protocol]\nname = "ratings-fold"\nfold = "all"\n[models.baseline]\n'
            '[reference]\nmetric = "rmse_u1"\nvalue = 0.95\nalso = { "mse_u2" = 0.9 }\n')
    assert Study.from_toml(write(tmp_path, text)).reference.also == {"mse_u2": 0.9}
    for bad in ("rmse_u9", "rmse_uxyz", "rmse_ua"):
        with pytest.raises(ConfigError, match=rf":10: \[reference.also\] {bad}: '{bad}' is not measured"):
            Study.from_toml(write(tmp_path, text.replace("mse_u2", bad)))


def test_a_reference_holds_the_study_s_figures_at_other_metrics(tmp_path):
    # The two-tower study's @50 and @100 figures were words in its source string only.
    path = write(tmp_path, GOOD.replace('source = "somewhere"', 'source = "somewhere"\nalso = {"hr@5" = 0.8}'))
    ref = Study.from_toml(path).reference
    assert ref.also == {"hr@5": 0.8} and ref.to_dict()["also"] == {"hr@5": 0.8}
    assert "also" not in Study.from_toml(write(tmp_path, GOOD)).reference.to_dict()
    shipped = Study.from_toml(ROOT / "studies" / "two-tower-ml100k.toml").reference
    assert (shipped.metric, shipped.value, shipped.also) == ("cat_acc@10", 0.0036,
                                                             {"cat_acc@50": 0.074, "cat_acc@100": 0.188})


def test_the_study_s_own_model_is_kept_only_while_it_runs(tmp_path):
    path = write(tmp_path, GOOD.replace('source = "somewhere"', 'source = "somewhere"\nmodel = "neumf-small"'))
    assert Study.from_toml(path).reference.model == "neumf-small"
    # --only leaves it out: the figure is printed beside the best model's alone.
    assert Study.from_toml(path, only=["ease"]).reference.model is None


def test_the_reference_says_when_this_run_reads_other_data_than_the_file_s(tmp_path, ml100k_dir):
    """The study's figure was measured on the data its file names: beside a run on other
    data (another release or log, a synthetic release, filters from the command line) it
    is said not to compare; a copy of the file's own release read from a folder is that
    release (it was said not to compare, by the folder's name alone)."""
    from cinerec.data import load
    from cinerec.data.synthetic import write_release

    path = write(tmp_path, GOOD)
    real = load(ml100k_dir)
    assert "differs" not in Study.from_toml(path).reference.to_dict(real)
    assert "differs" not in Study.from_toml(path, data=str(ml100k_dir)).reference.to_dict(real)
    assert "differs" not in Study.from_toml(path, filters={"top_users": 500}).reference.to_dict(real)  # the file's own
    log = tmp_path / "log.csv"
    log.write_text("user,item,rating\na,m1,4\nb,m1,3\nb,m2,5\n")
    assert Study.from_toml(path, data=str(log)).reference.to_dict(load(log))["differs"] == \
        f"--data {log} for the file's ml-100k"
    synthetic = write_release(tmp_path / "syn", "ml-100k", 0.02, seed=0)
    assert Study.from_toml(path, data=str(synthetic)).reference.to_dict(load(synthetic))["differs"] == \
        "a synthetic release"
    ref = Study.from_toml(path, filters={"top_users": 50}, no_filters=True).reference
    assert ref.to_dict(real)["differs"] == "--no-filters; --top-users"
    assert differs_words(ref.to_dict(real)) == ("the study's figure was measured on the data its file names; this "
                                                "run read other data (--no-filters; --top-users), so the two do not "
                                                "compare")
    # A flag restating the file's value changes nothing, and is not named as a change.
    ref = Study.from_toml(path, filters={"top_users": 500, "min_year": 1980}).reference
    assert ref.to_dict(real)["differs"] == "--min-year"
    ref = Study.from_toml(path, filters={"min_year": 1990, "top_users": 500}, no_filters=True).reference
    assert "differs" not in ref.to_dict(real)  # --no-filters dropped nothing the flags did not give again
    ref = Study.from_toml(path, filters={"min_year": 1990}, no_filters=True).reference
    assert ref.to_dict(real)["differs"] == "--no-filters"  # it dropped top_users = 500
    # A file naming a release's folder, run on a copy of that folder: the same release.
    import shutil

    copy = Path(shutil.copytree(ml100k_dir, tmp_path / "copy"))
    path = write(tmp_path, GOOD.replace('source = "ml-100k"', f'source = "{ml100k_dir}"'))
    assert "differs" not in Study.from_toml(path, data=str(copy)).reference.to_dict(real)
    assert Study.from_toml(path, data=str(log)).reference.to_dict(load(log))["differs"] == \
        f"--data {log} for the file's {ml100k_dir}"
    # A copy cut down (half its ratings) is laid out as the release but is not it: its
    # figures were printed beside the study's as if they compared. Filtered by the study,
    # the release is still itself.
    from cinerec.data.filters import apply_filters

    assert "differs" not in Study.from_toml(path, data=str(copy)).reference.to_dict(
        apply_filters(real, {"top_users": 500})[0])
    (copy / "u.data").write_text("".join((ml100k_dir / "u.data").read_text().splitlines(True)[:50_000]))
    for fold in copy.glob("u[1-5ab]*.*[et]"):
        fold.unlink()
    cut = load(copy)
    assert cut.info["release"] == "ml-100k" and len(cut.interactions) == 50_000
    assert Study.from_toml(path, data=str(copy)).reference.to_dict(cut)["differs"] == \
        f"--data {copy} for the file's {ml100k_dir}"
    named = write(tmp_path, GOOD)  # (source = "ml-100k", the release's name)
    assert Study.from_toml(named, data=str(copy)).reference.to_dict(cut)["differs"] == \
        f"--data {copy} for the file's ml-100k"
    # A file naming a synthetic release's folder, run on the real release it is shaped like: other data.
    path = write(tmp_path, GOOD.replace('source = "ml-100k"', f'source = "{synthetic}"'))
    assert Study.from_toml(path, data=str(ml100k_dir)).reference.to_dict(real)["differs"] == \
        f"--data {ml100k_dir} for the file's {synthetic}"


def test_a_study_s_model_that_does_not_give_the_reference_is_refused(tmp_path):
    text = GOOD.replace('name = "loo-sampled"\nn_negatives = 49', 'name = "ratings-fold"')
    text = text[:text.index("[models.ease]")] + ('[models.mf]\n[models.mf-liked]\nmodel = "mf"\nloss = "bce"\n'
                                                 'target = "liked"\n[reference]\nmetric = "auc"\nvalue = 0.8\nmodel = "mf"\n')
    with pytest.raises(ConfigError, match=r":20: \[reference\] model: mf does not give auc \(it needs a model trained "
                                          r"on liked-or-not\)"):
        Study.from_toml(write(tmp_path, text))
    liked = 'model = "mf-liked"\n'.join(text.rsplit('model = "mf"\n', 1))  # the [reference]'s, the last
    assert Study.from_toml(write(tmp_path, liked)).reference.model == "mf-liked"


def test_a_missing_source_is_refused_unless_given(tmp_path):
    path = write(tmp_path, GOOD.replace('source = "ml-100k"\n', ""))
    with pytest.raises(ConfigError, match=r"study.toml:3: \[data\]: no source: set \[data\] source or pass --data"):
        Study.from_toml(path)
    assert Study.from_toml(path, data="ml-1m").source == "ml-1m"


def test_a_zero_tuning_budget_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"--tune 0: a tuning budget must be at least 1 trial"):
        Study.from_toml(write(tmp_path, GOOD), trials=0)
    with pytest.raises(ConfigError, match=r"\[tune\]: no budget"):
        Study.from_toml(write(tmp_path, GOOD.replace("trials = 5\n", "")))
    # A number past any search (a typing slip) ran with no end.
    with pytest.raises(ConfigError, match=r"--tune 1000000: a tuning budget is at most 100,000 trials"):
        Study.from_toml(write(tmp_path, GOOD), trials=10**6)
    with pytest.raises(ConfigError, match=r"study.toml:28: \[tune\] trials: 100000000000000000: a tuning budget is at "
                                          r"most 100,000 trials \(minutes bounds a search by time\)"):
        Study.from_toml(write(tmp_path, GOOD.replace("trials = 5\n", "trials = 100000000000000000\n")))


def test_a_model_the_protocol_cannot_measure_is_refused(tmp_path):
    text = GOOD.replace('name = "loo-sampled"\nn_negatives = 49', 'name = "ratings-fold"')
    with pytest.raises(ConfigError, match=r":12: \[models.ease\]: protocol ratings-fold measures predicted stars"):
        Study.from_toml(write(tmp_path, text))


def test_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="no such study file"):
        Study.from_toml(tmp_path / "none.toml")
    # Saved in Latin-1: the line and byte at fault (it said "not UTF-8 text" alone).
    latin = tmp_path / "latin.toml"
    latin.write_bytes('title = "tiny"\n[data]\nsource = "Année"\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match=r"latin\.toml:3: not UTF-8 text \(byte 14 of the line, 0xe9: invalid "
                                          r"continuation byte\); save it as UTF-8$"):
        Study.from_toml(latin)
    with pytest.raises(ConfigError, match=r"study.toml:1: not valid TOML \(.*, column \d+\)$"):
        Study.from_toml(write(tmp_path, "[data\n"))
    # A table declared twice: the line in the file:line form, not inside the parser's text
    with pytest.raises(ConfigError, match=r"study.toml:3: not valid TOML \(Cannot declare \('models', 'ease'\) twice"):
        Study.from_toml(write(tmp_path, "[models.ease]\n\n[models.ease]\n"))


@pytest.mark.parametrize("path", sorted((ROOT / "studies").glob("*.toml")), ids=lambda p: p.name)
def test_the_shipped_studies_are_valid(path):
    study = Study.from_toml(path)
    assert study.models and study.seeds


def test_per_user_values_average_to_the_metric():
    ranked = np.array([[3, 1, 2], [0, 4, 5], [7, 8, 9]])
    truth = np.array([1, 5, -1])  # the third user has nothing to find
    for fn in (M.hit_rate, M.ndcg, M.mrr, M.recall, M.precision):
        values = fn(ranked, truth, 3, per_user=True)
        assert values.shape == (3,) and np.isnan(values[2])
        assert M.user_mean(values) == pytest.approx(fn(ranked, truth, 3))
    assert M.ndcg(ranked, truth, 3, per_user=True)[:2] == pytest.approx([1 / np.log2(3), 1 / np.log2(4)])
    per = M.rmse([1.0, 3.0, 2.0], [2.0, 3.0, 4.0], users=[0, 0, 2])
    assert per[0] == pytest.approx(np.sqrt(0.5)) and np.isnan(per[1]) and per[2] == pytest.approx(2.0)
    assert M.mae([1.0, 3.0, 2.0], [2.0, 3.0, 4.0], users=[0, 0, 2])[[0, 2]] == pytest.approx([0.5, 2.0])


def test_paired_difference_and_standard_error():
    a = np.array([1.0, 0.0, 1.0, np.nan, 0.5])
    b = np.array([0.0, 0.0, 0.0, 1.0, 1.0])
    got = paired(a, b)
    d = np.array([1.0, 0.0, 1.0, -0.5])
    assert got["n"] == 4 and got["diff"] == pytest.approx(d.mean())
    assert got["se"] == pytest.approx(d.std(ddof=1) / 2)
    assert (got["wins"], got["losses"], got["ties"]) == (2, 1, 1)
    low = paired(a, b, lower=True)  # RMSE-like: a higher value loses
    assert (low["wins"], low["losses"], low["ties"]) == (1, 2, 1)


def test_paired_rmse_is_the_difference_of_the_rmses_and_ranks_as_they_do():
    rng = np.random.default_rng(0)
    seeds = []
    for _ in range(2):
        users = np.repeat(np.arange(30), rng.integers(1, 40, size=30))  # users with few and many ratings
        truth = rng.integers(1, 6, size=len(users)).astype(float)
        # a: small errors on the heavy users, large on the light; b: the same for everyone
        err_a = np.where(np.bincount(users)[users] > 20, 0.5, 1.6) * rng.standard_normal(len(users))
        err_b = 0.95 * rng.standard_normal(len(users))
        seeds.append((users, truth, truth + err_a, truth + err_b))
    a, b, counts, diffs = [], [], [], []
    for users, truth, pa, pb in seeds:
        a.append(M.rmse(pa, truth, users))
        b.append(M.rmse(pb, truth, users))
        counts.append(np.bincount(users).astype(float))
        diffs.append(M.rmse(pa, truth) - M.rmse(pb, truth))
    got = paired_errors(a, b, counts, "rmse")
    assert got["diff"] == pytest.approx(np.mean(diffs), abs=1e-12)
    assert 0 < got["se"] < 0.2 and got["n"] == 60
    assert got["wins"] + got["losses"] + got["ties"] == 60
    mae = paired_errors([M.mae(pa, t, u) for u, t, pa, _ in seeds], [M.mae(pb, t, u) for u, t, _, pb in seeds],
                        counts, "mae")
    assert mae["diff"] == pytest.approx(np.mean([M.mae(pa, t) - M.mae(pb, t) for _, t, pa, pb in seeds]))


def test_a_user_measured_on_several_splits_is_one_draw_in_the_standard_error():
    # The seeds of a deterministic split (or a deterministic model on the official folds)
    # repeat the same users' figures: counted as new pairs they shrank the error by √seeds.
    rng = np.random.default_rng(1)
    a, b = rng.random(50), rng.random(50)
    users = np.arange(50) * 3
    one = paired(a, b, users=users)
    twice = paired(np.tile(a, 2), np.tile(b, 2), users=np.tile(users, 2))
    assert twice["diff"] == pytest.approx(one["diff"]) and twice["n"] == 100
    assert twice["se"] == pytest.approx(one["se"]) and one["se"] == pytest.approx(paired(a, b)["se"])
    assert paired(np.tile(a, 2), np.tile(b, 2))["se"] == pytest.approx(one["se"] / np.sqrt(2), rel=0.02)
    folds = paired_folds([a, a], [b, b], users=[users, users])
    assert folds["se"] == pytest.approx(one["se"]) and folds["n"] == 100
    counts = rng.integers(1, 9, 50).astype(float)
    ra, rb = 0.8 + rng.random(50), 0.8 + rng.random(50)
    alone = paired_errors([ra], [rb], [counts], "rmse", users=[users])
    again = paired_errors([ra, ra], [rb, rb], [counts, counts], "rmse", users=[users, users])
    assert again["diff"] == pytest.approx(alone["diff"]) and again["se"] == pytest.approx(alone["se"])
    # Different users in each split are independent draws, as before.
    apart = paired_errors([ra, ra], [rb, rb], [counts, counts], "rmse", users=[users, users + 1])
    assert apart["se"] == pytest.approx(alone["se"] / np.sqrt(2), rel=0.02)


def test_splits_of_one_person_each_give_no_standard_error_and_the_table_says_n_a():
    # Each seed's one test user is its own mean: the error came out 0.0000 (differences
    # that varied over the seeds), or nan with one person in all, printed "± nan".
    from cinerec.studies import leaderboard_rows

    one = paired_errors([[0.5], [1.2], [0.9]], [[0.4], [0.3], [0.8]], [[1.0]] * 3, "rmse",
                        users=[[3], [4], [3]])
    assert one["diff"] == pytest.approx(np.mean([0.1, 0.9, 0.1])) and np.isnan(one["se"])
    assert np.isnan(paired_folds([[0.5], [0.2, 0.3]], [[0.4], [0.1, 0.1]])["se"])
    assert paired_folds([[0.5, 0.1], [0.2, 0.3]], [[0.4, 0.3], [0.1, 0.1]])["se"] > 0
    board = {"seeds": [0, 1, 2], "metric": "rmse", "direction": "minimize", "protocol": "ratings-random",
             "protocol_options": {}, "best_model": "a", "models": [
                 {"label": "a", "model": "a", "metrics": {"rmse": {"mean": 0.5, "sd": 0.1}}, "vs_best": None,
                  "seconds_fit": 0.1},
                 {"label": "b", "model": "b", "metrics": {"rmse": {"mean": 0.9, "sd": 0.1}},
                  "vs_best": {**one, "se": None}, "seconds_fit": 0.1}]}
    rows = leaderboard_rows(board)[2]
    assert rows[1][-2] == f"{one['diff']:+.4f} ± n/a", rows


def test_per_user_values_say_whose_they_are(ml100k_dir):
    from cinerec.data import load
    from cinerec.evaluation.protocols import get_protocol
    from cinerec.models import create

    prepared = get_protocol("loo-sampled", n_negatives=20).prepare(load(ml100k_dir), seed=0)
    result = prepared.evaluate(create("popularity"), per_user=True)
    assert result.per_user["user"].tolist() == prepared.users.tolist()
    assert len(result.per_user["hr@10"]) == len(prepared.users)


# -- a leaderboard with a row trained on liked-or-not -------------------------------------

LIKED = """\
title = "stars and likes"

[data]
source = "{source}"

[protocol]
name = "ratings-fold"
seeds = [0]
ks = [10]

[models.mf-liked]
model = "mf"
factors = 8
epochs = 2
loss = "bce"
target = "liked"
progress = false

[models.baseline]
"""


def test_a_liked_row_shows_after_the_star_rows_without_rmse(tmp_path, ml100k_dir):
    from cinerec.studies import leaderboard_rows, run_study

    study = Study.from_toml(write(tmp_path, LIKED.format(source=ml100k_dir)))
    board = run_study(study, tmp_path / "out", quiet=True)
    assert board["metric"] == "rmse" and board["best_model"] == "baseline"
    assert [r["label"] for r in board["models"]] == ["baseline", "mf-liked"]  # the liked row after
    base, liked = board["models"]
    assert {"rmse", "mse", "mae", "ndcg@10"} <= set(base["metrics"])
    assert set(liked["metrics"]) == {"auc", "accuracy", "ndcg@10"}  # a probability is not stars
    assert 0.6 < liked["metrics"]["auc"]["mean"] < 1 and 0.5 < liked["metrics"]["accuracy"]["mean"] < 1
    assert liked["vs_best"] is None  # no RMSE to pair
    _, head, rows = leaderboard_rows(board)
    cells = dict(zip(head, rows[1]))
    assert rows[1][0] == "mf-liked (mf)" and cells["rmse"] == "-" and cells["mse"] == "-"
    assert cells["auc"] != "-" and cells["ndcg@10"] != "-" and dict(zip(head, rows[0]))["auc"] == "-"
    report = (tmp_path / "out" / "report.md").read_text()
    assert "| mf-liked (mf) | - |" in report


def test_a_log_of_ones_own_names_its_columns_and_catalogue(tmp_path):
    (tmp_path / "items.csv").write_text("id,title\nm1,Alpha\n")
    (tmp_path / "log.csv").write_text("who,sku\nu1,m1\n")
    text = GOOD.replace('source = "ml-100k"', f'source = "{tmp_path / "log.csv"}"\ncolumns = {{user = "who", item = "sku"}}\n'
                                              f'catalog = "{tmp_path / "items.csv"}"')
    study = Study.from_toml(write(tmp_path, text))
    assert study.columns == {"user": "who", "item": "sku"} and study.catalog == str(tmp_path / "items.csv")
    assert study.to_dict()["columns"] == {"user": "who", "item": "sku"}
    # The flag's form is taken too, and the command line replaces the file's roles one by one.
    study = Study.from_toml(write(tmp_path, text.replace('{user = "who", item = "sku"}', '"user=who,item=sku"')),
                            columns={"item": "movie"}, catalog="other.csv")
    assert study.columns == {"user": "who", "item": "movie"} and study.catalog == "other.csv"
    # --catalog replaces a file's catalogue that is not there (as --data a missing source).
    gone = text.replace(str(tmp_path / "items.csv"), "no-such-items.csv")
    assert Study.from_toml(write(tmp_path, gone), catalog=str(tmp_path / "items.csv")).catalog == \
        str(tmp_path / "items.csv")


@pytest.mark.parametrize("line, needle", [
    ('columns = {users = "who"}', ":5: [data] columns: unknown role 'users' (roles: user, item, rating, time, title, genres, year)"),
    ("columns = 5", ":5: [data] columns: expected a table"),
    ('columns = "user=who,itm=sku"', ":5: [data] columns: unknown role 'itm'"),
    ('columns = {user = ""}', ":5: [data] columns: user: expected a column name"),
    ('catalog = "no-such-items.csv"', ":5: [data] catalog: no-such-items.csv: no such file"),
    ("catalog = 3", ":5: [data] catalog: expected the path of a movie file"),
])
def test_bad_columns_and_catalogue_name_the_line(tmp_path, line, needle):
    (tmp_path / "log.csv").write_text("who,sku\nu1,m1\n")
    path = write(tmp_path, GOOD.replace('source = "ml-100k"', f'source = "{tmp_path / "log.csv"}"\n{line}'))
    with pytest.raises(ConfigError) as e:
        Study.from_toml(path)
    assert str(e.value).startswith(str(path)) and needle in str(e.value), str(e.value)


def test_a_missing_source_names_the_line_unless_the_command_line_replaces_it(tmp_path):
    (tmp_path / "items.csv").write_text("id,title\n1,Alpha\n")
    path = write(tmp_path, GOOD.replace('source = "ml-100k"', f'source = "no-such-log.csv"\ncatalog = "{tmp_path / "items.csv"}"'))
    with pytest.raises(ConfigError) as e:
        Study.from_toml(path)
    assert str(e.value).startswith(f"{path}:4: [data] source: no-such-log.csv: no such file or folder"), str(e.value)
    path = write(tmp_path, GOOD.replace('source = "ml-100k"', 'source = "no-such-log.csv"'))
    assert Study.from_toml(path, data="ml-100k").source == "ml-100k"
    # A release given with --data leaves the file's catalogue out (with a note, as the run
    # reads it), so a catalogue the file names but that is not there does not stop it.
    path = write(tmp_path, GOOD.replace('source = "ml-100k"', 'source = "log.csv"\ncatalog = "no-such-items.csv"'))
    assert Study.from_toml(path, data="ml-100k").source == "ml-100k"
    (tmp_path / "own.csv").write_text("user,item\nu1,m1\n")  # another log of one's own: its catalogue counts
    with pytest.raises(ConfigError, match=re.escape(f"{path}:5: [data] catalog: no-such-items.csv: no such file")):
        Study.from_toml(path, data=str(tmp_path / "own.csv"))


def test_a_fault_inside_an_inline_table_names_the_line_holding_it(tmp_path):
    head = '[data]\nsource = "ml-100k"\n[protocol]\nname = "loo-sampled"\n[models.ens]\nmodel = "ensemble"\n' \
           'members = ["ease", "itemknn"]\n'
    for settings, needle in (("{ease = {regularizaton = 3}}", ":8: [models.ens.settings.ease] regularizaton"),
                             ("{ease = 3}", ":8: [models.ens.settings] ease")):
        path = tmp_path / "inline.toml"
        path.write_text(head + f"settings = {settings}\n")
        with pytest.raises(ConfigError, match=re.escape(f"{path}{needle}")):
            Study.from_toml(path)


def test_a_protocol_of_stars_with_filters_that_remove_them_is_refused_before_reading(tmp_path):
    stars = ('[data]\nsource = "ml-100k"\n[protocol]\nname = "ratings-random"\n[models.blend]\n'
             'members = ["bpmf", "baseline"]\n[models.blend.settings.bpmf]\nfactors = 4\n[models.mf-liked]\n'
             'model = "mf"\nloss = "bce"\ntarget = "liked"\n')  # a blend of rating models
    path = write(tmp_path, stars.replace('source = "ml-100k"', 'source = "ml-100k"\nimplicit = true'))
    with pytest.raises(ConfigError, match=re.escape(f"{path}:5: [protocol] name: protocol ratings-random measures "
                                                    "predicted stars, and implicit = true makes every rating")):
        Study.from_toml(path)
    # the command line's filters count too
    path = write(tmp_path, stars)
    with pytest.raises(ConfigError, match=r":4: \[protocol\] name: .* --liked-threshold 4 \(given on the command line\)"):
        Study.from_toml(path, filters={"liked_threshold": 4.0})
    # mf and autorec, whose task follows their settings, as well (the data was read before)
    for model in ("mf", "autorec"):
        alone = f'[data]\nsource = "no-such-log.csv"\nimplicit = true\n[protocol]\nname = "ratings-random"\n[models.{model}]\n'
        with pytest.raises(ConfigError, match=r":5: \[protocol\] name: protocol ratings-random measures predicted"):
            Study.from_toml(write(tmp_path, alone), data="ml-100k")
    assert Study.from_toml(write(tmp_path, GOOD), filters={"liked_threshold": 4.0}).models  # rankers: fine


def test_a_crowded_leaderboard_keeps_k_10_and_the_reference_figure_at_every_k():
    ks = (10, 50, 100)
    names = [f"{m}@{k}" for m in ("recall", "ndcg", "hr", "precision", "cat_acc") for k in ks]
    board = {"models": [{"metrics": dict.fromkeys(names, {})}], "metric": "recall@10",
             "reference": {"metric": "cat_acc@10"}}
    shown = shown_metrics(board)
    assert shown[0] == "recall@10"
    assert {"cat_acc@10", "cat_acc@50", "cat_acc@100", "ndcg@10"} <= set(shown)
    assert "ndcg@50" not in shown and "hr@100" not in shown


def test_tuning_a_study_with_nothing_to_search_is_refused(tmp_path):
    text = '[data]\nsource = "ml-100k"\n[protocol]\nname = "loo-sampled"\n[models.popularity]\n'
    path = write(tmp_path, text + "[tune]\ntrials = 2\n")
    with pytest.raises(ConfigError, match=r"study.toml:6: \[tune\]: none of the study's models \(popularity\) has "
                                          r"settings to search"):
        Study.from_toml(path)
    with pytest.raises(ConfigError, match=r"^--tune 3: none of the study's models"):
        Study.from_toml(write(tmp_path, text, "plain.toml"), trials=3)


def test_only_that_leaves_no_model_to_tune_and_tuning_over_all_folds_are_refused(tmp_path):
    text = ('[data]\nsource = "ml-100k"\n[protocol]\nname = "loo-sampled"\n[models.popularity]\n[models.ease]\n'
            '[models.als]\n')
    path = write(tmp_path, text + '[tune]\ntrials = 2\nmodels = ["als"]\n')
    kept = Study.from_toml(path, only=["ease", "popularity"])  # the file's [tune] has nothing to do for them
    assert kept.tunes and not any(kept.tuned(spec) for spec in kept.models)
    with pytest.raises(ConfigError, match=r"^--only ease,popularity: --tune 2 searches none of the models it keeps"):
        Study.from_toml(path, only=["ease", "popularity"], trials=2)
    with pytest.raises(ConfigError, match=r"^--only popularity: --tune 4 searches none of the models it keeps"):
        Study.from_toml(write(tmp_path, text, "plain.toml"), only=["popularity"], trials=4)
    assert Study.from_toml(path, only=["als"]).tuned(Study.from_toml(path, only=["als"]).models[0])
    folds = ('[data]\nsource = "ml-100k"\n[protocol]\nname = "ratings-fold"\nfold = "all"\n[models.baseline]\n')
    with pytest.raises(ConfigError, match=r"folds.toml:5: \[protocol\] fold \(with \[tune\]\): fold=all: "
                                          r"each official fold's training part"):
        Study.from_toml(write(tmp_path, folds + "[tune]\ntrials = 2\n", "folds.toml"))


def test_a_board_of_liked_rows_alone_is_ranked_by_auc(tmp_path, ml100k_dir):
    """No row has an RMSE: the best is the one with the higher AUC, not the first in the file."""
    from cinerec.studies import run_study

    text = LIKED.format(source=ml100k_dir).replace("[models.baseline]\n", "[models.biasedmf-liked]\nmodel = "
                                                   '"biasedmf"\nfactors = 8\nepochs = 6\nloss = "bce"\n'
                                                   'target = "liked"\nprogress = false\n')
    text = text.replace("epochs = 2\n", "epochs = 1\nlr = 0.0001\n")  # mf-liked, first in the file, barely trained
    board = run_study(Study.from_toml(write(tmp_path, text)), tmp_path / "out", quiet=True)
    auc = {r["label"]: r["metrics"]["auc"]["mean"] for r in board["models"]}
    assert board["metric"] == "auc" and board["direction"] == "maximize"
    assert auc["biasedmf-liked"] > auc["mf-liked"] and board["best_model"] == "biasedmf-liked"
    assert board["models"][1]["vs_best"] is None  # AUC is over ratings, not a mean over users: nothing to pair


def test_a_members_bad_setting_is_blamed_on_its_own_table_when_another_member_shares_the_key(tmp_path):
    text = ('[data]\nsource = "ml-100k"\n[protocol]\nname = "loo-sampled"\n[models.ens]\nmodel = "ensemble"\n'
            'members = ["ease", "als"]\n[models.ens.settings.als]\nregularization = 5.0\n'
            '[models.ens.settings.ease]\nregularization = -10.0\n')
    with pytest.raises(ConfigError, match=r"study\.toml:11: \[models\.ens\.settings\.ease\] regularization: "):
        Study.from_toml(write(tmp_path, text))


@pytest.mark.parametrize("seeds, said", [([3], "seed 3 (one seed: no sd)"), ([0, 1], "seeds 0, 1; mean ± sd over seeds")])
def test_the_leaderboard_title_says_one_seed_as_one_and_options_as_given(seeds, said):
    # One seed read "seeds 3; mean ± sd over seeds" (three seeds?), and options came as
    # Python writes them ("valid=True").
    from cinerec.studies import leaderboard_rows

    row = {"label": "ease", "model": "ease", "metrics": {"hr@10": {"mean": 0.5, "sd": 0.01}}, "vs_best": None,
           "seconds_fit": 1.0}
    board = {"seeds": seeds, "metric": "hr@10", "direction": "maximize", "protocol": "loo-full",
             "protocol_options": {"valid": True, "ks": [5, 10]}, "models": [row], "best_model": "ease"}
    title, _, rows = leaderboard_rows(board)
    assert title == f"protocol: loo-full (valid=true, ks=[5, 10]), {said}; ranked by hr@10 (higher is better)"
    assert rows[0][1] == ("0.5000" if len(seeds) == 1 else "0.5000 ± 0.0100")


def test_study_and_protocol_messages_write_values_as_toml(tmp_path):
    # They said "got True" and "n_negatives=True" of what the file wrote as true.
    from cinerec.evaluation.protocols import get_protocol

    path = tmp_path / "s.toml"
    path.write_text('title = true\n[data]\nsource = "ml-100k"\n[protocol]\nname = "loo-sampled"\n[models.ease]\n')
    with pytest.raises(ConfigError, match=r"title: expected a string, got true$"):
        Study.from_toml(path)
    with pytest.raises(ConfigError, match=r"n_negatives=true must be a positive integer"):
        get_protocol("loo-sampled", n_negatives=True)


def test_a_model_of_stars_in_a_ranking_study_is_refused_in_the_files_words(tmp_path):
    # It said "--protocol ratings-random", a flag `cinerec run` does not take.
    study = write(tmp_path, '[data]\nsource = "ml-100k"\n[protocol]\nname = "loo-sampled"\n[models.baseline]\n')
    with pytest.raises(ConfigError) as e:
        Study.from_toml(study)
    text = str(e.value)
    assert text.startswith(f"{study}:5: [models.baseline]: protocol loo-sampled measures rankings; baseline learns")
    assert 'measure its stars with [protocol] name = "ratings-random"' in text and "--protocol" not in text
    assert "without" not in text
    # [data] that leaves no stars: measuring them takes leaving that key out too
    study = write(tmp_path, '[data]\nsource = "ml-100k"\nliked_threshold = 4\n[protocol]\nname = "loo-sampled"\n'
                            '[models.baseline]\n')
    with pytest.raises(ConfigError, match=r'name = "ratings-random" and without liked_threshold = 4 under \[data\], '
                                          r"which leaves no stars, or rank"):
        Study.from_toml(study)
    # The run's data, not the file's: --no-filters drops the key, a flag replaces it.
    with pytest.raises(ConfigError) as e:
        Study.from_toml(study, no_filters=True)
    assert "without" not in str(e.value)
    with pytest.raises(ConfigError, match=r'name = "ratings-random" and without --liked-threshold 3 and --implicit, '
                                          r"which leaves no stars"):
        Study.from_toml(study, filters={"liked_threshold": 3, "implicit": True})


def test_the_run_records_the_study_file_by_its_full_path(tmp_path, ml100k_dir, monkeypatch):
    # Run from the file's folder, the board said "study.toml": a run read from elsewhere
    # could not find the file it came from.
    from cinerec.studies import run_study

    (tmp_path / "study.toml").write_text(f'[data]\nsource = "{ml100k_dir}"\n[protocol]\nname = "loo-sampled"\n'
                                         'seeds = [0]\n[models.popularity]\n')
    monkeypatch.chdir(tmp_path)
    board = run_study(Study.from_toml(Path("study.toml")), tmp_path / "out", quiet=True)
    assert board["study"] == str((tmp_path / "study.toml").resolve())
    assert f"Study file: `{(tmp_path / 'study.toml').resolve()}`" in (tmp_path / "out" / "report.md").read_text()


def test_a_device_this_machine_lacks_is_blamed_on_its_line_before_the_data_load(tmp_path):
    # It was refused after the data load and the split, with the table's line only.
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    text = '[data]\nsource = "ml-100k"\n[protocol]\nname = "loo-sampled"\n\n[models.gmf]\nepochs = 1\ndevice = "cuda"\n'
    with pytest.raises(ConfigError, match=r'study.toml:8: \[models.gmf\] device = "cuda": CUDA is not available'):
        Study.from_toml(write(tmp_path, text))


def test_a_tie_on_the_studys_metric_is_broken_by_the_figures_after_it():
    # Popularity and EASE tied on HR@10 (19 of 31 users each); popularity, first in the
    # file, was called best though EASE led on every other figure.
    from cinerec.studies import ranked_rows

    def row(label, **m):
        return {"label": label, "metrics": {k: {"mean": v} for k, v in m.items()}}

    rows = [row("popularity", **{"hr@1": 0.2, "hr@10": 0.6129, "ndcg@10": 0.40}),
            row("ease", **{"hr@1": 0.1, "hr@10": 0.6129, "ndcg@10": 0.43}),  # the same K first
            row("liked", auc=0.8), row("als", **{"hr@10": 0.60, "ndcg@10": 0.50})]
    assert [r["label"] for r in ranked_rows(rows, "hr@10")] == ["ease", "popularity", "als", "liked"]
    rows = [row("a", rmse=0.9, mae=0.71), row("b", rmse=0.9, mae=0.70), row("c", rmse=0.8, mae=0.9)]
    assert [r["label"] for r in ranked_rows(rows, "rmse")] == ["c", "b", "a"]
    rows = [row("a", rmse=0.9, mae=0.7), row("b", rmse=0.9, mae=0.7)]  # a whole tie: file order
    assert [r["label"] for r in ranked_rows(rows, "rmse")] == ["a", "b"]
    # Means equal but for their last bits (one seed's 0.6904761904761906 against ...905)
    # tie: itemknn was called best on them though EASE's NDCG@10 was higher.
    rows = [row("itemknn", **{"recall@10": 0.7490079365079365, "ndcg@10": 0.3869}),
            row("ease", **{"recall@10": 0.7490079365079364, "ndcg@10": 0.4084})]
    assert [r["label"] for r in ranked_rows(rows, "recall@10")] == ["ease", "itemknn"]
    rows = [row("a", rmse=0.9000000000000001, mae=0.71), row("b", rmse=0.9, mae=0.70)]
    assert [r["label"] for r in ranked_rows(rows, "rmse")] == ["b", "a"]


def test_a_study_report_counts_the_trials_its_searches_stopped_early():
    # Its tuning table counted pruned trials alone; diverged ones went unsaid there.
    from cinerec.studies import _ended

    assert _ended({"n_pruned": 4, "n_diverged": 1}) == " (4 pruned, 1 diverged)"
    assert _ended({"n_pruned": 0, "n_diverged": 2}) == " (2 diverged)" and _ended({"n_pruned": 0}) == ""


def test_two_tables_of_one_model_keep_the_searched_setting_that_tells_them_apart(tmp_path, ml100k_dir):
    """ease_a (λ 100) and ease_b (λ 3000) under [tune]: both searches started from their own
    λ and, with one sampler seed, proposed the same trials after it, so the two rows ended
    as one model at one λ and the comparison the file was written for was gone."""
    from cinerec.studies import run_study

    text = (f'[data]\nsource = "{ml100k_dir}"\ntop_users = 120\ntop_movies = 300\n'
            '[protocol]\nname = "loo-sampled"\nn_negatives = 20\nseeds = [0]\n'
            '[models.ease_a]\nmodel = "ease"\nregularization = 100.0\n'
            '[models.ease_b]\nmodel = "ease"\nregularization = 3000.0\n'
            '[models.ease_c]\nmodel = "ease"\nregularization = 3000.0\nrecency_half_life = 0.5\n'
            '[models.knn_a]\nmodel = "itemknn"\nneighbors = 20\nshrink = 10.0\n'
            '[models.knn_b]\nmodel = "itemknn"\nneighbors = 50\nshrink = 10.0\n'
            '[models.popularity]\n[models.most-rated]\nmodel = "popularity"\n[tune]\ntrials = 3\n')
    study = Study.from_toml(write(tmp_path, text))
    by = {m.label: m for m in study.models}
    assert study.held(by["ease_a"]) == ("regularization",)
    assert study.held(by["ease_b"]) == ("regularization",)  # its half-life is not given: searched
    assert study.held(by["ease_c"]) == ("recency_half_life", "regularization")
    assert study.held(by["knn_a"]) == ("neighbors",) and study.tuned(by["knn_a"])
    assert study.tuned(by["ease_a"]) and study.tuned(by["ease_b"]) and not study.tuned(by["ease_c"])
    board = run_study(study, tmp_path / "out", quiet=True)
    rows = {r["label"]: r for r in board["models"]}
    assert rows["ease_a"]["settings"]["0"]["regularization"] == 100.0 and rows["ease_a"]["tuning"]
    assert rows["ease_b"]["settings"]["0"]["regularization"] == 3000.0 and rows["ease_b"]["tuning"]
    assert rows["ease_c"]["settings"]["0"]["recency_half_life"] == 0.5 and rows["ease_c"]["tuning"] is None
    assert [r["settings"]["0"]["neighbors"] for r in (rows["knn_a"], rows["knn_b"])] == [20, 50]
    assert "ease_a: regularization = 100.0 kept as its table gives it, to tell it from ease_b, ease_c; the search " \
           "covers its other settings" in board["notes"]
    assert "ease_c: recency_half_life = 0.5, regularization = 3000.0 kept as its table gives it, to tell it from " \
           "ease_a, ease_b; that is all ease searches, so it is not tuned" in board["notes"]
    # and the models with nothing to search say so, rather than sit untuned beside tuned ones
    assert "popularity, most-rated (popularity): no settings to search, so not tuned (they run as their tables " \
           "set them)" in board["notes"]


def test_tables_left_only_recency_to_search_on_data_without_times_run_untuned(tmp_path):
    """On a log without times, ease_a and ease_b (each keeping its own λ) had only the
    recency weighting left to search, which weighs nothing there: the study stopped after
    its first model, "there is nothing to tune", rather than run them untuned."""
    from cinerec.studies import run_study

    rows = [(u, i) for u in range(40) for i in range(60) if (u * 7 + i) % 3]
    (tmp_path / "log.csv").write_text("user,item,rating\n" + "".join(f"u{u},m{i},{1 + (u + i) % 5}\n" for u, i in rows))
    text = (f'[data]\nsource = "{tmp_path / "log.csv"}"\n[protocol]\nname = "loo-sampled"\nn_negatives = 10\n'
            'seeds = [0]\n[models.popularity]\n[models.ease_a]\nmodel = "ease"\nregularization = 100.0\n'
            '[models.ease_b]\nmodel = "ease"\nregularization = 1000.0\n[models.knn]\nmodel = "itemknn"\n'
            '[tune]\ntrials = 2\n')
    board = run_study(Study.from_toml(write(tmp_path, text)), tmp_path / "out", quiet=True)
    by = {r["label"]: r for r in board["models"]}
    assert by["ease_a"]["settings"]["0"]["regularization"] == 100.0 and by["ease_a"]["tuning"] is None
    assert by["ease_b"]["settings"]["0"]["regularization"] == 1000.0 and by["ease_b"]["tuning"] is None
    assert by["knn"]["tuning"]  # (it has more to search)
    assert "ease_a: regularization = 100.0 kept as its table gives it, to tell it from ease_b; the rest ease " \
           "searches, recency_half_life, weighs nothing on data without times, so it is not tuned" in board["notes"]


def test_a_tune_models_list_leaves_the_rest_without_a_not_tuned_note(tmp_path, ml100k_dir):
    """With [tune] models = ["ease"], popularity was said to be "not tuned, no settings to
    search", as if it had been asked for, beside itemknn, left out too and not named."""
    from cinerec.studies import run_study

    text = (f'[data]\nsource = "{ml100k_dir}"\ntop_users = 80\ntop_movies = 200\n'
            '[protocol]\nname = "loo-sampled"\nn_negatives = 20\nseeds = [0]\n'
            '[models.popularity]\n[models.itemknn]\n[models.ease]\n[tune]\ntrials = 2\nmodels = ["ease"]\n')
    board = run_study(Study.from_toml(write(tmp_path, text)), tmp_path / "out", quiet=True)
    assert not any("no settings to search" in note for note in board["notes"]), board["notes"]
    assert next(r for r in board["models"] if r["label"] == "ease")["tuning"]


def test_what_tells_two_tables_apart_is_the_files_whatever_only_keeps_and_names_searched_tables_alone(tmp_path):
    # --only ease_a tuned its λ away (ease_b, which it is kept apart from, was dropped
    # first), so one row rerun alone was another model; the note named ease_c, untuned.
    from cinerec.studies import held_note

    text = ('[data]\nsource = "ml-100k"\n[protocol]\nname = "loo-sampled"\n'
            '[models.ease_a]\nmodel = "ease"\nregularization = 100.0\n'
            '[models.ease_b]\nmodel = "ease"\nregularization = 3000.0\n'
            '[models.ease_c]\nmodel = "ease"\nregularization = 500.0\n'
            '[tune]\ntrials = 3\nmodels = ["ease_a", "ease_b"]\n')
    path = write(tmp_path, text)
    whole = Study.from_toml(path)
    a = whole.models[0]
    assert held_note(whole, a) == ("ease_a: regularization = 100.0 kept as its table gives it, to tell it from "
                                   "ease_b; the search covers its other settings")
    alone = Study.from_toml(path, only=["ease_a"])
    assert alone.held(alone.models[0]) == ("regularization",) and held_note(alone, alone.models[0]) == held_note(whole, a)
    assert alone.held_apart_from(alone.models[0]) == ("ease_b",)
    assert Study.from_toml(path, only=["ease_c"]).held(Study.from_toml(path, only=["ease_c"]).models[0]) == ()


def test_a_stores_two_stage_says_its_rankers_notes_under_the_best_models_label_once(tmp_path):
    # The tower's "no user demographics" came under its label (tt) and again under its
    # model's name (two-tower), from the store's two-stage model that ranks with it.
    from cinerec.studies import run_study

    rng = np.random.default_rng(0)
    rows = ["user,item,rating,ts"] + [f"u{u},m{m},{rng.integers(1, 6)},{1600000000 + 40 * u + k}"
                                      for u in range(40) for k, m in enumerate(rng.choice(50, 15, replace=False))]
    (tmp_path / "log.csv").write_text("\n".join(rows) + "\n")
    text = (f'[data]\nsource = "{tmp_path / "log.csv"}"\n[protocol]\nname = "loo-sampled"\nn_negatives = 20\n'
            'seeds = [0]\n[models.tt]\nmodel = "two-tower"\nepochs = 1\nprogress = false\n'
            '[export]\nk = 5\n[export.two_stage]\nretriever = "ease"\ncandidates = 20\n')
    board = run_study(Study.from_toml(write(tmp_path, text)), tmp_path / "out", quiet=True)
    towers = [n for n in board["notes"] if "no user demographics" in n]
    assert towers == ["tt: the data has no user demographics (age, gender, occupation): the user tower read ids "
                      "only, the movie tower read ids only (no genres or release years)"], board["notes"]
    # a retriever of the same kind reads ids only too: said as the store's retriever's
    board = run_study(Study.from_toml(write(tmp_path, text.replace('retriever = "ease"', 'retriever = "two-tower"\n'
                                                                     'retriever_settings = {epochs = 1}'),
                                            "same.toml")), tmp_path / "out2", quiet=True)
    towers = [n for n in board["notes"] if "no user demographics" in n]
    assert len(towers) == 2 and towers[0].startswith("tt: the data has no user demographics") and \
        towers[1].startswith("[export.two_stage] retriever two-tower: the data has no user demographics"), towers


def test_default_ks_left_out_on_some_seeds_are_said_once_seed_by_seed(tmp_path):
    # Each seed's split said its own "K = ... left out" line, with no seed named: the report
    # held two lines that read as contradicting each other.
    from cinerec.studies import run_study

    rows = random_log(tmp_path / "log.csv", 1, 41, 66, (17, 24)).read_text().splitlines()
    text = (f'[data]\nsource = "{tmp_path / "log.csv"}"\n[protocol]\nname = "random-full"\nseeds = [0, 1, 2, 3]\n'
            '[models.popularity]\n')
    board = run_study(Study.from_toml(write(tmp_path, text)), tmp_path / "out", quiet=True)
    said = [n for n in board["notes"] if "a list that long would hold every movie" in n]
    assert said == ["K = 100 on seeds 0, 1, 3; K = 50, 100 on seed 2 left out: a list that long would hold every "
                    "movie the median user has left to rank, on that seed's split"], board["notes"]
    # every seed alike: the line evaluate says
    one = text.replace("seeds = [0, 1, 2, 3]", "seeds = [0, 1]").replace('log.csv"', 'small.csv"')
    (tmp_path / "small.csv").write_text("\n".join(rows[:1] + [r for r in rows[1:] if int(r.split(",")[1][1:]) < 50])
                                        + "\n")
    board = run_study(Study.from_toml(write(tmp_path, one, "one.toml")), tmp_path / "out1", quiet=True)
    assert [n for n in board["notes"] if "would hold every movie" in n] == [
        "K = 50, 100 left out: a list that long would hold every movie the median user has left to rank; measured "
        "at K = 10"]


def test_a_search_the_data_cannot_carve_for_is_refused_in_the_study_s_words(tmp_path, capsys):
    """A [tune] table on data too thin for the search's carve-out was told to "leave out
    --tune", a flag the study was not given."""
    from cinerec.cli import main

    rows = [(u, i) for u in range(50) for i in (u % 7, (u + 3) % 7 + 7)]
    (tmp_path / "two.csv").write_text("user,item,rating,ts\n" + "".join(
        f"u{u},m{i},{1 + (u + i) % 5},{1600000000 + 10 * u + k}\n" for k, (u, i) in enumerate(rows)))
    text = (f'[data]\nsource = "{tmp_path / "two.csv"}"\n[protocol]\nname = "loo-full"\nks = [1, 2]\nseeds = [0]\n'
            '[models.ease]\n[tune]\ntrials = 2\n')
    path = write(tmp_path, text)
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"cinerec: error: {path}:7: [models.ease]: tuning needs a validation carve-out") and \
        "leave it out of the search ([tune] models = [...] names the models searched)" in err and \
        "--tune" not in err, err
    assert not (tmp_path / "out").exists()


def test_tables_whose_labels_differ_in_digits_alone_each_keep_their_notes(tmp_path):
    """Notes were merged when only their figures differed, labels' digits included: als2's
    note on its collapsed vectors was dropped as a repeat of als1's."""
    from cinerec.studies import run_study

    rows = [(u, i) for u in range(30) for i in range(40) if (u * 7 + i) % 3]
    (tmp_path / "log.csv").write_text("user,item,rating,ts\n" + "".join(
        f"u{u},m{i},{1 + (u + i) % 5},{1600000000 + 50 * u + i}\n" for u, i in rows))
    text = (f'[data]\nsource = "{tmp_path / "log.csv"}"\n[protocol]\nname = "loo-full"\nks = [1, 2]\nseeds = [0]\n'
            '[models.als1]\nmodel = "als"\nregularization = 100000.0\n'
            '[models.als2]\nmodel = "als"\nregularization = 200000.0\n')
    board = run_study(Study.from_toml(write(tmp_path, text)), tmp_path / "out", quiet=True)
    for label in ("als1", "als2"):
        assert any(n.startswith(f"{label}: its movie vectors all point one way") for n in board["notes"]), board["notes"]


def test_random_full_s_paired_difference_is_the_leaderboard_s_own(tmp_path):
    # Its seeds measure unlike numbers of people (those with a held-out rating): pooled over
    # seeds, the paired difference of a model below the best came out positive.
    from cinerec.studies import run_study

    random_log(tmp_path / "log.csv", 2, 12, 30, (3, 9))
    text = (f'[data]\nsource = "{tmp_path / "log.csv"}"\n[protocol]\nname = "random-full"\nseeds = [0, 1, 2]\n'
            '[models.popularity]\n[models.itemknn]\n[models.ease]\n')
    board = run_study(Study.from_toml(write(tmp_path, text)), tmp_path / "out", quiet=True)
    metric = board["metric"]
    best = next(r for r in board["models"] if r["label"] == board["best_model"])
    compared = [r for r in board["models"] if r["vs_best"] is not None]
    assert compared
    for r in compared:
        assert r["vs_best"]["diff"] == pytest.approx(r["metrics"][metric]["mean"] - best["metrics"][metric]["mean"])


def test_few_people_measured_is_said_once_for_the_study_seed_by_seed(tmp_path):
    # Each seed's count was its own line, no seed named ("measured on 10 people only",
    # then "... 9 people", then "... 7 people"): read as figures measured on three groups.
    from cinerec.evaluation.protocols import few_words
    from cinerec.studies import run_study

    random_log(tmp_path / "log.csv", 1, 12, 30, (3, 9))
    text = (f'[data]\nsource = "{tmp_path / "log.csv"}"\n[protocol]\nname = "random-full"\nseeds = [0, 1, 2]\n'
            '[models.popularity]\n[models.itemknn]\n[models.ease]\n')
    board = run_study(Study.from_toml(write(tmp_path, text)), tmp_path / "out", quiet=True)
    assert [n for n in board["notes"] if n.startswith("measured on")] == [
        "measured on 7 to 10 people only (7 on seed 2; 9 on seed 1; 10 on seed 0): each counts for 0.1 to 0.143 of "
        "a figure, more than models usually differ by"], board["notes"]
    assert "measured on 7 to 10 people only (7 on seed 2" in (tmp_path / "out" / "report.md").read_text()
    # seeds alike: evaluate's line; some seeds with enough: those named too
    assert few_words({0: 5, 1: 5}, False, [0, 1]) == [
        "measured on 5 people only: each counts for 0.2 of a figure, more than models usually differ by"]
    assert few_words({1: 30}, True, [0, 1, 2]) == [
        "measured on 30 held-out ratings only on seed 1 (50 or more on seeds 0, 2): too few for the figures on that "
        "seed to tell models apart"]
    assert few_words({0: 5, 1: 7}, False, [0, 1, 2]) == [
        "measured on 5 to 7 people only on seeds 0, 1 (5 on seed 0; 7 on seed 1; 20 or more on seed 2): each counts "
        "for 0.143 to 0.2 of a figure on those seeds, more than models usually differ by"]


def test_a_split_alike_on_every_seed_says_its_spread_is_the_models_alone(tmp_path):
    # loo-full holds out each person's latest rating whatever the seed: EASE's and
    # popularity's ± 0.0000 over three seeds read as figures measured precisely.
    from cinerec.studies import run_study

    random_log(tmp_path / "log.csv", 3, 30, 40, (6, 12))
    said = "loo-full holds out the same ratings on every seed, so the ± over seeds is the models' own randomness alone"
    for name, alike in (("loo-full", True), ("random-full", False), ("loo-sampled", False)):
        options = 'n_negatives = 20\n' if name == "loo-sampled" else ""
        text = (f'[data]\nsource = "{tmp_path / "log.csv"}"\n[protocol]\nname = "{name}"\n{options}seeds = [0, 1, 2]\n'
                '[models.popularity]\n[models.ease]\n')
        board = run_study(Study.from_toml(write(tmp_path, text, f"{name}.toml")), tmp_path / name, quiet=True)
        assert any(n.startswith(said.replace("loo-full", name)) for n in board["notes"]) is alike, board["notes"]
        if alike:
            assert all(r["metrics"]["hr@10"]["sd"] == 0 for r in board["models"])


def test_a_best_model_that_learned_nothing_is_said_to_be_refitted_all_the_same(tmp_path):
    # A model scoring every movie alike (two-tower at lr = 1e6 scores every one 0) whose tie
    # order beat popularity on a tiny log was refitted and saved as the best with no word
    # beside the choice. (EASE at regularization = 1e9 is no such model: its scores are near
    # 1e-8, each apart, the movies' co-occurrence counts.)
    from cinerec.studies import run_study

    for seed, wins in ((0, True), (1, False)):
        random_log(tmp_path / "log.csv", seed, 12, 30, (6, 12), width=2)
        text = (f'[data]\nsource = "{tmp_path / "log.csv"}"\n[protocol]\nname = "random-full"\nseeds = [0, 1, 2]\n'
                '[models.popularity]\n[models.two-tower]\nlr = 1e6\nepochs = 1\n')
        board = run_study(Study.from_toml(write(tmp_path, text, f"s{seed}.toml")), tmp_path / f"o{seed}", quiet=True)
        said = [n for n in board["notes"] if n.startswith("two-tower is ranked best on the order its tied scores fall "
                                                          "in")]
        assert (board["best_model"] == "two-tower") is wins and bool(said) is wins, board["notes"]


def test_the_best_beside_a_figure_is_qualified_only_where_another_model_does_better_there():
    from cinerec.studies import best_words

    def board(metric, figures):
        return {"best_model": "a", "metric": "recall@10",
                "models": [{"label": k, "metrics": {"recall@10": {"mean": 0.2}, metric: {"mean": v}}}
                           for k, v in figures.items()]}

    # A tie there is no model doing better (the rows' order breaks it, not the figure).
    assert best_words(board("cat_acc@50", {"a": 0.1, "b": 0.1}), "cat_acc@50", "a") == "the best"
    assert best_words(board("cat_acc@50", {"a": 0.1, "b": 0.2}), "cat_acc@50", "a") == "the best by recall@10"
    # Lower is better for an error.
    assert best_words(board("rmse", {"a": 0.9, "b": 1.0}), "rmse", "a") == "the best"
    assert best_words(board("rmse", {"a": 0.9, "b": 0.8}), "rmse", "a") == "the best by recall@10"
    assert best_words(board("rmse", {"a": 0.9, "b": 0.8}), "rmse", "b") == "the best giving rmse"
    # A figure that is NaN, or missing, is the worst, as the leaderboard ranks it: no model doing better.
    nan = board("rmse", {"a": 0.9, "b": float("nan")})
    assert best_words(nan, "rmse", "a") == "the best"
    nan["models"][0]["metrics"]["rmse"]["mean"] = float("nan")
    nan["models"][1]["metrics"]["rmse"]["mean"] = 1.0
    assert best_words(nan, "rmse", "a") == "the best by recall@10"


@pytest.mark.parametrize(("members", "said"), [
    ('["Baseline"]', "members: unknown model 'Baseline'"),
    ('["baseline", "ease"]', "members: 'ease' does not predict stars"),
])
def test_a_fault_in_a_members_list_names_the_key_once(tmp_path, members, said):
    # It read "[models.blend] members: members: unknown model ...".
    path = write(tmp_path, '[data]\nsource = "ml-100k"\n[protocol]\nname = "ratings-random"\n[models.blend]\n'
                           f'members = {members}\n')
    with pytest.raises(ConfigError) as e:
        Study.from_toml(path)
    assert f"[models.blend] {said}" in str(e.value) and "members: members" not in str(e.value), str(e.value)


def test_filters_that_leave_one_person_are_named_where_they_were_set(tmp_path, ml100k_dir):
    # Said at "[protocol] name", which had nothing to do with it.
    from cinerec.errors import DataError
    from cinerec.studies import run_study

    text = f'[data]\nsource = "{ml100k_dir}"\ntop_users = 1\n\n[protocol]\nname = "loo-full"\n\n[models.popularity]\n'
    path = write(tmp_path, text)
    with pytest.raises(DataError, match=re.escape(f"{path}:3: [data] top_users: the filter top_users=1 left the "
                                                  "ratings of one person (")):
        run_study(Study.from_toml(path), tmp_path / "out", quiet=True)
    path = write(tmp_path, text.replace("top_users = 1\n", ""))
    with pytest.raises(DataError, match=re.escape(f"{path}: --top-users (given on the command line): the filter "
                                                  "top_users=1 left")):
        run_study(Study.from_toml(path, filters={"top_users": 1}), tmp_path / "out2", quiet=True)
    assert not (tmp_path / "out").exists() and not (tmp_path / "out2").exists()
