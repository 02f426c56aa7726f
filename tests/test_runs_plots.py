"""A run folder holds the pictures of its models, and its report shows them."""

from __future__ import annotations

import numpy as np
import pytest

from cinerec.errors import DataError
from cinerec.models import create
from cinerec.runs import PLOTS, finish_run, open_run, save_dataset, save_model
from tests.evaluation.test_plots import GENRES, assert_not_blank, make_dataset, read_png


@pytest.fixture(scope="module")
def dataset():
    """80 movies rated by up to 60 people, in two genres with distinct audiences."""
    rng = np.random.default_rng(0)
    counts = rng.integers(22, 60, 80)
    genres = np.zeros((80, len(GENRES)), bool)
    genres[:40, 0] = genres[40:, 1] = True
    return make_dataset(80, counts, genres)


def test_a_model_with_movie_vectors_gets_a_map_linked_from_the_report(dataset, tmp_path):
    save_dataset(tmp_path, dataset)
    als = create("als", {"factors": 8, "epochs": 3}).fit(dataset.interactions)
    save_model(tmp_path, als)
    pop = create("popularity").fit(dataset.interactions)  # no movie vectors: no map
    save_model(tmp_path, pop)
    finish_run(tmp_path, meta={"command": "test"}, report="# A run\n\nSome figures.\n")

    assert sorted(p.name for p in (tmp_path / PLOTS).iterdir()) == ["map-als.png"]
    pixels = read_png(tmp_path / PLOTS / "map-als.png")
    assert pixels.shape[:2] == (800, 1100)
    assert_not_blank(pixels, min_colours=100)
    report = (tmp_path / "report.md").read_text()
    assert report.startswith("# A run\n\nSome figures.\n\n## Plots")
    assert "![map-als](plots/map-als.png)" in report and "popularity" not in report
    assert open_run(tmp_path).model_names == ["als", "popularity"]


def test_a_map_is_titled_by_the_run_s_name_for_the_model(dataset, tmp_path, monkeypatch):
    # A study's neumf-study row had its map titled "neumf", the name of another row.
    import cinerec.evaluation.plots as plots
    from cinerec.runs import save_plots

    titles = []
    monkeypatch.setattr(plots, "save_movie_map", lambda m, path: titles.append(m.model))
    als = create("als", {"factors": 8, "epochs": 3}).fit(dataset.interactions)
    save_plots(tmp_path, als, "als-small", dataset=dataset)
    save_plots(tmp_path, als, dataset=dataset)
    two = create("two-stage", {"retriever": "als", "ranker": "popularity", "candidates": 20,
                               "retriever_settings": {"factors": 8, "epochs": 3}}).fit(dataset.interactions)
    save_plots(tmp_path, two, dataset=dataset)
    assert titles == ["als-small (als)", "als", "two-stage, its retriever als's vectors"]


def test_a_run_without_plots_says_so_in_a_notebook(dataset, tmp_path):
    save_dataset(tmp_path, dataset)
    save_model(tmp_path, create("popularity").fit(dataset.interactions))
    finish_run(tmp_path, meta={"command": "test"}, report="# r\n")
    plots = open_run(tmp_path).plots()
    assert len(plots) == 0
    assert "this run has no plots" in plots._repr_html_() and "no plots" in repr(plots)


def test_a_notebook_shows_the_plots_in_the_report_s_order(dataset, tmp_path):
    # The notebook sorted them by name: a neural model's curves came before the leaderboard,
    # which report.md shows first.
    save_dataset(tmp_path, dataset)
    save_model(tmp_path, create("popularity").fit(dataset.interactions))
    (tmp_path / PLOTS).mkdir()
    for name in ("map-b.png", "leaderboard.png", "curves-a.png"):
        (tmp_path / PLOTS / name).write_bytes(b"\x89PNG\r\n\x1a\n")
    finish_run(tmp_path, meta={"command": "run"}, report="# r\n")
    report = (tmp_path / "report.md").read_text()
    in_report = sorted(("leaderboard.png", "curves-a.png", "map-b.png"), key=lambda n: report.index(f"(plots/{n})"))
    assert [p.name for p in open_run(tmp_path).plots().paths] == in_report == ["leaderboard.png", "curves-a.png",
                                                                                "map-b.png"]


def test_a_run_whose_plots_were_deleted_says_so_not_that_it_draws_none(dataset, tmp_path):
    # A study whose plots/ was removed said only models with movie vectors draw plots,
    # though a study always draws its leaderboard.
    save_dataset(tmp_path, dataset)
    save_model(tmp_path, create("popularity").fit(dataset.interactions))
    finish_run(tmp_path, meta={"command": "run"}, report="# r\n\n![leaderboard](plots/leaderboard.png)\n")
    plots = open_run(tmp_path).plots()
    assert len(plots) == 0 and "its plots/ folder was moved or deleted" in repr(plots)
    assert "this run has no plots" not in plots._repr_html_()
    assert "a study always draws plots/leaderboard.png" in repr(plots)
    with pytest.raises(Exception, match=r"no model 'pop' in this run \(has: popularity; a study keeps its best model "
                                        r"alone, refitted\)"):
        open_run(tmp_path).model("pop")
    # Another command's run whose report shows plots: the study's words were no reason there.
    finish_run(tmp_path, meta={"command": "quickstart"}, report="# r\n\n![map](plots/map-als.png)\n")
    said = repr(open_run(tmp_path).plots())
    assert "(report.md shows them): its plots/ folder was moved or deleted" in said and "a study" not in said


def test_a_neural_model_gets_its_training_curves_and_map(dataset, tmp_path):
    x = dataset.interactions
    last = np.zeros(len(x), bool)
    last[np.unique(x.users[::-1], return_index=True)[1]] = True
    last = last[::-1]
    cfg = {"factors": 4, "mlp_factors": 4, "layers": [8, 4], "epochs": 3, "batch_size": 256, "patience": 0,
           "progress": False, "device": "cpu", "threads": 1}
    model = create("neumf", cfg).fit(x.select(~last), x.select(last))
    save_model(tmp_path, model, "ncf", dataset=dataset)  # the dataset passed, not saved in the run
    finish_run(tmp_path, meta={"command": "test"}, report="# r\n")

    assert sorted(p.name for p in (tmp_path / PLOTS).iterdir()) == ["curves-ncf.png", "map-ncf.png"]
    curves = read_png(tmp_path / PLOTS / "curves-ncf.png")
    assert curves.shape[:2] == (560, 800)  # two panels: loss and validation HR@10
    assert_not_blank(curves, min_colours=20)
    report = (tmp_path / "report.md").read_text()
    assert report.index("![curves-ncf](plots/curves-ncf.png)") < report.index("![map-ncf](plots/map-ncf.png)")


def test_without_a_dataset_no_map_is_drawn_and_no_section_added(dataset, tmp_path):
    save_model(tmp_path, create("als", {"factors": 4, "epochs": 2}).fit(dataset.interactions))
    finish_run(tmp_path, meta={"command": "test"}, report="# r\n")
    assert not (tmp_path / PLOTS).exists()
    assert (tmp_path / "report.md").read_text() == "# r\n"


def test_leaderboard_flattens_protocol_results_into_columns(tmp_path):
    from cinerec.runs import Run

    run = Run(tmp_path, {}, None, {"ease": {"loo-full": {"metrics": {"hr@10": 0.14}, "seconds_fit": 1.0, "seed": 0},
                                            "loo-sampled": {"metrics": {"hr@10": 0.65}}},
                                   "pop": {"loo-full": {"metrics": {"hr@10": 0.09}}}})
    board = run.leaderboard()
    assert board.loc["ease", "loo-full hr@10"] == 0.14 and board.loc["ease", "loo-sampled hr@10"] == 0.65
    assert board.loc["ease", "loo-full seconds_fit"] == 1.0 and "loo-full seed" not in board.columns
    assert board.index.tolist() == ["ease", "pop"]


def test_a_leaderboard_without_its_metrics_file_says_so(tmp_path):
    # It was a quiet empty frame.
    from cinerec.runs import Run

    with pytest.raises(DataError, match=r"metrics.json is missing"):
        Run(tmp_path, {}, None, {}).leaderboard()


def test_a_metrics_file_holding_no_figures_for_a_model_names_it(tmp_path):
    # It ended in AttributeError: 'int' object has no attribute 'items'.
    from cinerec.runs import Run

    (tmp_path / "metrics.json").write_text('{"ease": 5}')
    with pytest.raises(DataError, match=r"metrics.json: ease: expected an object of figures, got int"):
        Run(tmp_path, {}, None).leaderboard()


def test_leaderboard_columns_read_as_the_report_does(tmp_path):
    from cinerec.runs import Run

    figures = {"ndcg@10": 0.3, "hr@10": 0.6, "hr@1": 0.2, "hr@5": 0.4, "hr@10_sd": 0.01}
    run = Run(tmp_path, {}, None, {"m": {"seconds_fit": 2.0, "n_users": 9, "metrics": figures}})
    # by k as a number (not hr@1, hr@10, hr@5), each sd beside its figure, counts and times last
    assert list(run.leaderboard().columns) == ["hr@1", "hr@5", "hr@10", "hr@10_sd", "ndcg@10", "n_users", "seconds_fit"]


def test_leaderboard_ranks_models_by_the_runs_own_figure(tmp_path):
    from cinerec.runs import Run

    metrics = {"a": {"loo-full": {"metrics": {"hr@10": 0.10}}}, "b": {"loo-full": {"metrics": {"hr@10": 0.20}}},
               "c": {"loo-sampled": {"metrics": {"hr@10": 0.70}}}}
    run = Run(tmp_path, {"ranked_by": ["loo-full", "hr@10"]}, None, metrics)
    assert run.leaderboard().index.tolist() == ["b", "a", "c"]  # c has no loo-full figure: last
    stars = {"x": {"rmse": 0.95, "mae": 0.7}, "y": {"rmse": 0.90, "mae": 0.75}}
    assert Run(tmp_path, {"metric": "rmse"}, None, stars).leaderboard().index.tolist() == ["y", "x"]
    assert Run(tmp_path, {"metric": "mae"}, None, stars).leaderboard().index.tolist() == ["x", "y"]


def test_a_one_protocol_runs_leaderboard_names_the_protocol_on_every_row(tmp_path):
    from cinerec.runs import Run

    meta = {"command": "train", "protocol": "loo-sampled", "protocol_options": {"n_negatives": 49}}
    board = Run(tmp_path, meta, None, {"ease": {"hr@10": 0.7, "ndcg@10": 0.4}}).leaderboard()
    assert board.columns[0] == "protocol" and board["protocol"].tolist() == ["loo-sampled (n_negatives=49)"]
    assert board.loc["ease", "hr@10"] == 0.7


def test_a_several_protocol_leaderboard_names_options_that_differ_from_the_defaults(tmp_path):
    # quickstart --negatives 49: its loo-sampled columns were named as if ranked among 99.
    from cinerec.runs import Run

    metrics = {"a": {"loo-sampled": {"metrics": {"hr@10": 0.6}}, "loo-full": {"metrics": {"hr@10": 0.1}}},
               "b": {"loo-sampled": {"metrics": {"hr@10": 0.7}}, "loo-full": {"metrics": {"hr@10": 0.2}}}}
    meta = {"ranked_by": ["loo-sampled", "hr@10"], "protocol_options": {"loo-sampled": {"n_negatives": 49}}}
    board = Run(tmp_path, meta, None, metrics).leaderboard()
    assert list(board.columns) == ["loo-full hr@10", "loo-sampled (n_negatives=49) hr@10"]
    assert board.index.tolist() == ["b", "a"]  # still ranked by that figure
    meta["protocol_options"] = {"loo-sampled": {"n_negatives": 99}}  # the default: nothing to say
    assert list(Run(tmp_path, meta, None, metrics).leaderboard().columns) == ["loo-full hr@10", "loo-sampled hr@10"]


def test_a_notebook_shows_each_object_in_one_short_line(dataset, tmp_path):
    # A run's repr was 8.7 KB (run.json and the dataset's arrays); a model's was
    # <cinerec.models.baselines.EASE object at 0x...>; a prepared split's 40,000 characters.
    from cinerec.data.split import leave_last_out
    from cinerec.evaluation.protocols import get_protocol

    protocol = get_protocol("loo-sampled", n_negatives=20)
    prepared = protocol.prepare(dataset, seed=3)
    model = create("ease", {"regularization": 300})
    assert repr(model) == "<ease: regularization=300.0; not fitted>"
    model.fit(prepared.train)
    assert repr(model) == (f"<ease: regularization=300.0; fitted on {len(prepared.train):,} ratings of "
                           f"{dataset.n_users:,} users x 80 movies>")
    assert repr(create("neumf")) == "<neumf: defaults; not fitted>"
    assert repr(protocol) == "<protocol loo-sampled (n_negatives=20)>"
    assert repr(prepared).startswith("<protocol loo-sampled (n_negatives=20) split, seed 3: ")
    assert repr(dataset) == f"<Dataset {dataset.name!r}: {len(dataset.interactions):,} ratings, " \
                            f"{dataset.n_users:,} users, 80 movies>"
    assert repr(leave_last_out(dataset.interactions)).startswith("<Split: ")
    save_dataset(tmp_path, dataset)
    save_model(tmp_path, model)
    finish_run(tmp_path, meta={"command": "train", "best_model": "ease"})
    said = repr(open_run(tmp_path))
    assert said == f"<Run {str(tmp_path)!r} (train): models ease, best ease; {repr(dataset)[1:-1]}>" and len(said) < 300


def test_a_run_written_again_after_it_was_opened_asks_to_be_opened_again(dataset, tmp_path):
    # quickstart again into the same folder: the opened run kept its old dataset and read the
    # new model, "fitted on 943×300 ... a model folder copied from another run?"
    from cinerec.serving.lists import top_n

    run_dir = tmp_path / "run"
    save_model(run_dir, create("popularity").fit(dataset.interactions))
    save_dataset(run_dir, dataset)
    finish_run(run_dir, meta={"best_model": "popularity"})
    run = open_run(run_dir)
    save_model(run_dir, create("itemknn").fit(dataset.interactions))
    finish_run(run_dir, meta={"best_model": "itemknn"})
    with pytest.raises(DataError, match=r"the run folder was written again since it was opened \(run.json is of "
                                        r".*, not .*\): open it again"):
        top_n(run, [dataset.user_ids.raw_id(0)])
    assert len(top_n(open_run(run_dir), [dataset.user_ids.raw_id(0)], model="itemknn")) == 10
    # While a train into the folder has removed its run.json, or cut it short: the same line.
    run = open_run(run_dir)
    for damage in ("gone", "cut"):
        (run_dir / "run.json").rename(tmp_path / "kept.json")
        if damage == "cut":
            (run_dir / "run.json").write_text('{"created": "20')
        with pytest.raises(DataError, match=r"written again since it was opened \(run.json is unreadable now\)"):
            run.model("itemknn")
        (run_dir / "run.json").unlink(missing_ok=True)
        (tmp_path / "kept.json").rename(run_dir / "run.json")
    # Its figures and plots too: read after the folder was written again, they were the new
    # run's under the old one's labels.
    run = open_run(run_dir)
    finish_run(run_dir, meta={"best_model": "itemknn"})
    for call in (run.leaderboard, run.plots):
        with pytest.raises(DataError, match=r"written again since it was opened"):
            call()
