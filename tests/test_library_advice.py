"""Mistakes made from Python are told in the library's terms: the arguments a caller
wrote (``n_negatives=``, ``Filters(top_movies=...)``, ``model=``), not the command line's
flags, which the same mistakes name there (``tests/test_cli*.py``)."""

from __future__ import annotations

import pytest

from cinerec.data.filters import Filters, apply_filters
from cinerec.errors import CinerecError, ConfigError, said, spoken_to
from cinerec.evaluation.protocols import evaluate, get_protocol
from tests.evaluation.test_protocols import small_dataset


def _said(call) -> str:
    with pytest.raises(CinerecError) as e:
        call()
    text = str(e.value)
    assert "--" not in text, text  # (no flag: a caller of the library gave none)
    return text


def test_the_advice_speaks_to_who_reads_it():
    assert said("--run-model", "model=") == "model="
    with spoken_to("cli"):
        assert said("--run-model", "model=") == "--run-model"
    assert said("--run-model", "model=") == "model="


def test_too_few_unseen_movies_name_the_arguments():
    ds = small_dataset(n_users=30, n_items=60)
    text = _said(lambda: evaluate("loo-sampled", ds, "popularity"))
    assert "ask for fewer negatives (n_negatives=" in text, text
    filtered, _ = apply_filters(small_dataset(n_users=60, n_items=150), Filters(top_movies=60))
    text = _said(lambda: evaluate("loo-sampled", filtered, "popularity"))
    assert "keep more movies (a larger top_movies)" in text, text


def test_a_model_of_stars_under_a_ranking_protocol_names_the_protocol_to_use():
    ds = small_dataset()
    assert "with the protocol 'ratings-random'" in _said(lambda: evaluate("loo-full", ds, "baseline"))
    assert "with the protocol 'ratings-random'" in _said(lambda: evaluate("loo-full", ds, "mf", config={"loss": "mse"}))


def test_filters_name_themselves_as_written():
    ds = small_dataset()
    # (they read "--min-year 2050 leaves no ratings", "--liked-threshold 0.5 is at or below")
    assert _said(lambda: apply_filters(ds, Filters(min_year=2050))).startswith("min_year=2050 leaves no ratings")
    assert _said(lambda: apply_filters(ds, Filters(liked_threshold=0.5))).startswith("liked_threshold=0.5 is at or")
    # a misspelt filter was Python's bare TypeError
    text = _said(lambda: Filters(min_yr=1990))
    assert text == ("Filters: unknown filter 'min_yr' (known: min_year, max_year, top_users, top_movies, kcore, "
                    "implicit, liked_threshold)")
    with pytest.raises(ConfigError):
        Filters(min_yr=1990)


def test_a_seed_given_as_an_option_and_a_run_without_its_best_model_name_the_arguments():
    text = _said(lambda: get_protocol("loo-full", seed=1))
    assert "the split's seed is evaluate()'s seed=N, or prepare(dataset, seed)'s" in text, text


def test_ease_past_its_movies_names_the_filter_argument():
    from cinerec.models import create

    ds = small_dataset()
    text = _said(lambda: create("ease", {"max_items": 100}).fit(ds.interactions))
    assert "keep fewer movies, e.g. with Filters(top_movies=N), or raise max_items" in text, text


def test_a_bad_setting_in_tune_s_base_is_named_as_base():
    from cinerec.tuning import tune

    ds = small_dataset()
    text = _said(lambda: tune("ease", ds, get_protocol("loo-full"), trials=2, base={"lambda": 3}))
    assert text.startswith("base: unknown key 'lambda'"), text


def test_official_folds_a_filter_dropped_name_the_protocol_to_use(ml100k_dir):
    from cinerec.data import load

    filtered, _ = apply_filters(load(ml100k_dir), Filters(top_users=200))
    text = _said(lambda: evaluate("ratings-fold", filtered, "baseline"))
    assert text.endswith("(it dropped ratings); use the protocol 'ratings-random'"), text


def test_the_command_line_still_names_its_flags(capsys, ml100k_dir):
    from cinerec.cli import main

    assert main(["evaluate", "--data", str(ml100k_dir), "--model", "popularity", "--protocol-option", "seed=1"]) == 2
    assert "the split's seed is --seed on the command line" in capsys.readouterr().err
    assert main(["evaluate", "--data", str(ml100k_dir), "--model", "baseline", "--top-users", "200",
                 "--protocol", "ratings-fold"]) == 2
    assert "use --protocol ratings-random" in capsys.readouterr().err


def test_a_filter_is_named_with_every_argument_given_as_written(ml100k_dir):
    from cinerec.data import load

    ds = load(ml100k_dir)
    # (both bounds read "min_year=1999"; kcore=(900, 5) read "kcore=[900, 5]")
    assert _said(lambda: apply_filters(ds, Filters(min_year=1999, max_year=2005))).startswith(
        "min_year=1999, max_year=2005 leaves no ratings")
    assert _said(lambda: apply_filters(ds, Filters(kcore=(900, 5)))).startswith("kcore=(900, 5) leaves no ratings")


def test_text_from_the_data_is_never_reworded(tmp_path):
    from cinerec.data import load

    # A folder and a year cell starting with "--" read "my_data" and "new_one" in the message.
    folder = tmp_path / "--my-data"
    folder.mkdir()
    (folder / "log.csv").write_text("user,item,rating,title,year\n1,1,4,A,--new-one\n2,1,4,A,x\n")
    with pytest.raises(CinerecError) as e:
        apply_filters(load(folder / "log.csv"), Filters(min_year=1990))
    assert "--my-data/log.csv" in str(e.value) and "'--new-one'" in str(e.value), str(e.value)
    assert "load(catalog=...)" in str(e.value)


def test_loading_and_fitting_name_the_arguments(tmp_path, ml100k_dir):
    from cinerec.data import load

    text = _said(lambda: load(ml100k_dir, release="ml-1k"))
    assert text.startswith("release 'ml-1k': unknown MovieLens release"), text
    assert "columns and catalog apply to a ratings log of your own" in _said(
        lambda: load(ml100k_dir, columns={"user": "u"}))


def test_a_study_in_one_thread_leaves_another_thread_s_words_alone():
    import threading

    inside, outside = threading.Event(), threading.Event()
    heard = []

    def study():
        with spoken_to("cli"):  # (what a study's run does: its own thread's words)
            heard.append(said("--x", "x="))
            inside.set()
            outside.wait(10)

    thread = threading.Thread(target=study)
    thread.start()
    assert inside.wait(10)
    heard.append(said("--x", "x="))
    outside.set()
    thread.join()
    assert heard == ["--x", "x="]
    with spoken_to("cli", process=True):  # (the command line's: every thread of its process)
        other: list[str] = []
        t = threading.Thread(target=lambda: other.append(said("--x", "x=")))
        t.start()
        t.join()
        assert other == ["--x"]


def test_leaving_the_words_in_any_order_never_raises_and_puts_each_back():
    import contextvars
    import threading

    def speaking():
        with spoken_to("cli"):
            yield said("--x", "x=")
            yield said("--x", "x=")

    # A generator closed late, from another context (asyncio's shutdown): a ContextVar token
    # raised ValueError there.
    ctx = contextvars.copy_context()
    it = ctx.run(speaking)
    assert ctx.run(next, it) == "--x"
    contextvars.copy_context().run(it.close)
    assert said("--x", "x=") == "x="  # (this context's words were never changed)
    it = speaking()  # closed where it was advanced: the words before it, back
    assert next(it) == "--x" and said("--x", "x=") == "--x"
    it.close()
    assert said("--x", "x=") == "x="
    # Two threads' process-wide blocks ending out of order: each takes out its own.
    entered, left = threading.Event(), threading.Event()

    def other():
        with spoken_to("python", process=True):
            entered.set()
            left.wait(10)

    with spoken_to("cli", process=True):
        t = threading.Thread(target=other)
        t.start()
        assert entered.wait(10)
    heard = said("--x", "x=")  # (the other thread's block is still open: its word stands)
    left.set()
    t.join()
    assert heard == "x=" and said("--x", "x=") == "x="
