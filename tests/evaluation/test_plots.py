"""The pictures: training curves and the movie map are real, readable, non-blank PNGs."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from cinerec.data.dataset import Catalog, Dataset, IdMap, Interactions
from cinerec.errors import ConfigError, DataError
from cinerec.evaluation.plots import MovieMap, main_genres, movie_map, save_movie_map
from cinerec.evaluation.report import CURVES, plots_section, save_curves

GENRES = ("Action", "Comedy", "Drama", "Horror")
HAS_UMAP = importlib.util.find_spec("umap") is not None


def read_png(path: Path) -> np.ndarray:
    """``(height, width, channels)`` pixels in [0, 1]; fails unless the file is a valid PNG."""
    import matplotlib.image

    data = Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return matplotlib.image.imread(path, format="png")


def assert_not_blank(pixels: np.ndarray, min_colours: int) -> None:
    rgb = (pixels[..., :3] * 255).round().astype(np.int64)
    colours = np.unique(rgb.reshape(-1, 3) @ np.array([65536, 256, 1]))
    assert len(colours) >= min_colours, f"only {len(colours)} distinct colours"
    # A blank canvas has no variance; drawn dots, lines and text give plenty.
    assert rgb.std() > 10
    assert (rgb.sum(axis=2) < 600).mean() > 0.01  # more than 1% of the pixels are not near-white


class VectorModel:
    """A fitted model reduced to what the map reads: a name and movie vectors."""

    has_item_vectors = True

    def __init__(self, vectors: np.ndarray | None, name: str = "toy") -> None:
        self.name = name
        self._vectors = vectors

    def item_vectors(self) -> np.ndarray | None:
        return self._vectors


def make_dataset(n_items: int, counts: np.ndarray, genres: np.ndarray, seed: int = 0) -> Dataset:
    """A dataset whose movie ``i`` has ``counts[i]`` ratings, from distinct users."""
    rng = np.random.default_rng(seed)
    n_users = int(max(2 * counts.max(), 10))
    items = np.repeat(np.arange(n_items), counts)
    # Movie i is rated by a run of counts[i] consecutive users (mod n_users) starting at
    # a random one: distinct users per movie, and everyone leaves many movies unrated.
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    users = (np.repeat(rng.integers(0, n_users, n_items), counts) + np.arange(len(items)) - starts) % n_users
    inter = Interactions(users, items, rng.integers(1, 6, len(items)), np.arange(len(items)), n_users, n_items)
    titles = np.array([f"Movie {i}" for i in range(n_items)], dtype=object)
    years = 1950 + np.arange(n_items) % 60
    return Dataset("toy", inter, IdMap(np.arange(n_users) + 1, "user"), IdMap(np.arange(n_items) + 1000),
                   Catalog(titles, years, GENRES, genres))


@pytest.fixture(scope="module")
def toy():
    """60 movies in two clusters of vectors (movies 0-29 Action, 30-59 Horror)."""
    rng = np.random.default_rng(1)
    n = 60
    centre = np.zeros((n, 8))
    centre[:30, 0], centre[30:, 1] = 3.0, 3.0
    vectors = centre + rng.normal(0, 0.3, (n, 8))
    genres = np.zeros((n, len(GENRES)), bool)
    genres[:30, 0] = True
    genres[30:, 3] = True
    genres[::3, 2] = True  # some are also dramas
    counts = (200 / (1 + np.arange(n))).astype(int) + 25  # movie 0 the most rated
    return VectorModel(vectors), make_dataset(n, counts, genres)


# -- curves ---------------------------------------------------------------------------


def _history(valid: bool) -> list[dict]:
    hist = []
    for e in range(1, 9):
        h = {"epoch": e, "loss": 1.0 / e, "seconds": 1.0, "lr": 0.01, "samples_per_s": 1000.0}
        if valid:
            h.update(valid=0.5 + 0.05 * min(e, 5) - 0.01 * max(e - 5, 0), metric="hr@10")
        hist.append(h)
    return hist


@pytest.mark.parametrize("valid, height", [(True, 560), (False, 340)])
def test_curves_are_a_readable_non_blank_png(tmp_path, valid, height):
    save_curves(_history(valid), tmp_path / CURVES, title="neumf")
    pixels = read_png(tmp_path / CURVES)
    assert pixels.shape[:2] == (height, 800)
    assert_not_blank(pixels, min_colours=20)
    assert not list(tmp_path.glob(".*.tmp"))  # written atomically, nothing left behind


def test_curves_of_a_rating_model_mark_the_lowest_rmse(tmp_path):
    from cinerec.evaluation.report import _kept_at

    hist = [{"epoch": e, "loss": 2.0 / e, "valid": v, "metric": "rmse"} for e, v in enumerate([1.0, 0.95, 0.97], 1)]
    save_curves(hist, tmp_path / "c.png")
    assert read_png(tmp_path / "c.png").shape[:2] == (560, 800)
    assert _kept_at(hist, lower=True) == 1
    # The epoch training marked kept, where a later one of equal figure replaced the first's
    # weights: the star named the first.
    tied = [{**h, "valid": 0.95} for h in hist]
    tied[2]["kept"] = True
    assert _kept_at(tied, lower=True) == 2 and _kept_at([{**h, "kept": False} for h in tied], lower=True) == 0


# -- the movie map --------------------------------------------------------------------


def test_main_genre_is_the_first_listed_one():
    flags = np.array([[0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0], [1, 1, 1, 1]], bool)
    np.testing.assert_array_equal(main_genres(flags), [1, 3, -1, 0])
    assert main_genres(np.zeros((3, 0), bool)).tolist() == [-1, -1, -1]


def test_pca_map_keeps_distances_of_vectors_that_span_a_plane():
    # Unit vectors in a 2-D plane of R^5: after centring they still span that plane, so
    # the two principal components lose nothing and every distance is kept exactly.
    rng = np.random.default_rng(0)
    angles = rng.uniform(0, 2 * np.pi, 40)
    basis = np.linalg.qr(rng.normal(size=(5, 2)))[0]
    vectors = np.stack([np.cos(angles), np.sin(angles)], 1) @ basis.T * rng.uniform(0.5, 2, (40, 1))
    ds = make_dataset(40, np.full(40, 30), np.eye(40, len(GENRES), dtype=bool))
    m = movie_map(VectorModel(vectors), ds, method="pca")
    unit = vectors[m.items] / np.linalg.norm(vectors[m.items], axis=1, keepdims=True)

    def dist(p):
        return np.linalg.norm(p[:, None] - p[None], axis=2)

    np.testing.assert_allclose(dist(m.xy), dist(unit), atol=1e-9)
    assert m.method == "PCA"


def test_map_separates_planted_clusters_and_labels_the_most_rated(toy):
    model, ds = toy
    m = movie_map(model, ds, method="pca", n_labels=5)
    assert isinstance(m, MovieMap) and m.method == "PCA"
    assert m.items[:5].tolist() == [0, 1, 2, 3, 4]  # most rated first
    assert m.labels == tuple(f"Movie {i} ({1950 + i})" for i in range(5))
    first = m.xy[:, 0]
    action, horror = first[m.items < 30], first[m.items >= 30]
    assert action.max() < horror.min() or horror.max() < action.min()  # the first axis splits them
    # Action comes before Drama in the vocabulary, Drama before Horror.
    expected = np.where(m.items < 30, 0, np.where(m.items % 3 == 0, 2, 3))
    np.testing.assert_array_equal(m.genres, expected)


def test_map_is_deterministic_down_to_the_png_bytes(toy, tmp_path):
    model, ds = toy
    a, b = movie_map(model, ds, method="pca"), movie_map(model, ds, method="pca")
    np.testing.assert_array_equal(a.xy, b.xy)
    save_movie_map(a, tmp_path / "a.png")
    save_movie_map(b, tmp_path / "b.png")
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()


def test_map_png_is_readable_sized_and_not_blank(toy, tmp_path):
    model, ds = toy
    save_movie_map(movie_map(model, ds), tmp_path / "map.png")
    pixels = read_png(tmp_path / "map.png")
    assert pixels.shape[:2] == (800, 1100)
    assert_not_blank(pixels, min_colours=100)


def test_auto_says_in_the_map_which_projection_ran(toy):
    model, ds = toy
    m = movie_map(model, ds)
    if HAS_UMAP:
        assert m.method == "UMAP" and m.note == ""
    else:
        assert m.method == "PCA" and m.note == "umap-learn not installed"


@pytest.mark.skipif(HAS_UMAP, reason="umap-learn is installed")
def test_asking_for_umap_without_umap_learn_is_one_clear_error(toy):
    with pytest.raises(ConfigError, match="umap-learn is not installed"):
        movie_map(*toy, method="umap")


@pytest.mark.skipif(not HAS_UMAP, reason="needs umap-learn (the umap extra)")
def test_umap_map_is_seeded_and_separates_planted_clusters(toy):
    model, ds = toy
    a, b = movie_map(model, ds, method="umap", seed=3), movie_map(model, ds, method="umap", seed=3)
    assert a.method == "UMAP"
    np.testing.assert_array_equal(a.xy, b.xy)
    # Every movie's nearest neighbour on the map belongs to its own cluster.
    d = np.linalg.norm(a.xy[:, None] - a.xy[None], axis=2)
    np.fill_diagonal(d, np.inf)
    cluster = a.items >= 30
    assert (cluster[d.argmin(axis=1)] == cluster).all()


def test_bad_requests_name_the_culprit(toy):
    model, ds = toy
    with pytest.raises(ConfigError, match="method='tsne'"):
        movie_map(model, ds, method="tsne")
    with pytest.raises(ConfigError, match="max_points=0"):
        movie_map(model, ds, max_points=0)
    with pytest.raises(DataError, match="toy: the model has no movie vectors"):
        movie_map(VectorModel(None), ds)
    with pytest.raises(DataError, match=r"\(59, 8\) movie vectors for a dataset of 60 movies"):
        movie_map(VectorModel(model.item_vectors()[:59]), ds)


def test_rarely_rated_and_unrated_movies_are_left_off(toy):
    model, ds = toy
    counts = np.r_[np.full(150, 30), np.full(50, 3), np.zeros(10, int)]
    genres = np.zeros((210, len(GENRES)), bool)
    big = make_dataset(210, counts, genres)
    vectors = np.random.default_rng(0).normal(size=(210, 4))
    m = movie_map(VectorModel(vectors), big, method="pca")
    assert sorted(m.items.tolist()) == list(range(150))  # the 3-rating and unrated ones are out
    assert m.n_movies == 200 and (m.genres == -1).all()
    # Too few would be left: then the 100 most rated that have any rating are drawn.
    few = make_dataset(210, np.r_[np.full(20, 30), np.full(180, 3), np.zeros(10, int)], genres)
    assert len(movie_map(VectorModel(vectors), few, method="pca").items) == 100


def test_a_catalogue_of_60000_movies_is_subsampled_keeping_the_labelled_ones(tmp_path):
    n = 60_000
    rng = np.random.default_rng(0)
    counts = rng.zipf(1.6, n).clip(1, 5000)
    genres = rng.random((n, len(GENRES))) < 0.3
    ds = make_dataset(n, counts, genres)
    vectors = rng.normal(size=(n, 16)).astype(np.float32)
    m = movie_map(VectorModel(vectors), ds, method="pca", max_points=3000, n_labels=10)
    top10 = np.lexsort((np.arange(n), -counts))[:10]
    assert len(m.items) == 3000 and m.items[:10].tolist() == top10.tolist()
    assert (m.counts[:-1] >= m.counts[1:]).all()  # most rated first
    save_movie_map(m, tmp_path / "big.png")
    assert_not_blank(read_png(tmp_path / "big.png"), min_colours=100)


# -- the report section ---------------------------------------------------------------


def test_plots_section_links_every_png_by_name(tmp_path):
    assert plots_section(tmp_path) == ""
    (tmp_path / "plots").mkdir()
    for name in ("map-als.png", "curves-neumf.png", "notes.txt"):
        (tmp_path / "plots" / name).write_bytes(b"x")
    text = plots_section(tmp_path)
    assert text.startswith("## Plots")
    assert "![curves-neumf](plots/curves-neumf.png)" in text and "![map-als](plots/map-als.png)" in text
    assert "Training curves of `neumf`" in text and "Movie map of `als`" in text
    assert "notes.txt" not in text
    # A study's leaderboard chart comes first, whatever the other plots are called.
    (tmp_path / "plots" / "leaderboard.png").write_bytes(b"x")
    text = plots_section(tmp_path)
    assert text.index("plots/leaderboard.png") < text.index("plots/curves-neumf.png") < text.index("plots/map-als.png")


def test_movie_map_labels_never_overlap_each_other_in_a_crowd():
    # The label width was guessed from the title's length; wide titles overlapped
    # ("Scream (1996)" covered the start of "Fargo (1996)" on ml-100k's map).
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cinerec.evaluation.plots import _alignment, _place_labels

    labels = tuple(f"{w} (199{i})" for i, w in enumerate(
        ["Scream", "Fargo", "Mission: Impossible", "Return of the Jedi", "Contact", "English Patient, The",
         "Liar Liar", "Star Wars", "Toy Story", "Air Force One"]))
    rng = np.random.default_rng(0)
    for _ in range(8):
        fig, ax = plt.subplots(figsize=(11, 8), dpi=100)
        xy = rng.normal(size=(400, 2))
        ax.scatter(xy[:, 0], xy[:, 1], s=10)
        crowd = xy[:len(labels)] * 0.15
        drawn = [ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points", fontsize=9,
                             ha=_alignment(dx, dy)[0], va=_alignment(dx, dy)[1],
                             bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none"})
                 for (dx, dy), (x, y), text in zip(_place_labels(ax, crowd, labels, 9), crowd, labels)]
        fig.canvas.draw()
        boxes = [a.get_bbox_patch().get_window_extent(fig.canvas.get_renderer()) for a in drawn]
        plt.close(fig)
        assert not [(labels[i], labels[j]) for i in range(len(boxes)) for j in range(i + 1, len(boxes))
                    if boxes[i].overlaps(boxes[j])]


def test_titles_and_genres_of_ones_own_are_drawn_as_written_and_long_ones_shortened(toy, tmp_path):
    # A title holding "$x^$" ended the run in a traceback (matplotlib read it as maths);
    # "Price $100 and $200" was drawn as "Price 100*and*200" in italics; a title of 250
    # letters ran across the whole figure.
    import dataclasses

    from cinerec.evaluation.plots import _shown

    model, ds = toy
    m = movie_map(model, ds, method="pca")
    odd = ("Rich $x^$ Poor $\\frac$ (1999)", "Price $100 and $200 (1999)", "L" * 250 + " (1980)")
    genres = ("Action $x^$", *m.genre_names[1:])
    save_movie_map(dataclasses.replace(m, labels=odd + m.labels[3:], genre_names=genres), tmp_path / "map.png")
    assert (tmp_path / "map.png").stat().st_size > 0
    assert _shown(odd[1]) == r"Price \$100 and \$200 (1999)"
    long = _shown(odd[2])
    assert len(long) <= 60 and long.endswith("… (1980)") and long.startswith("LLLL")
    assert _shown("Fargo (1996)") == "Fargo (1996)"


def test_the_study_figure_legend_sits_beside_the_leaderboard_not_over_a_bar(tmp_path, monkeypatch):
    # Inside the axes (lower right), it hid the last row's bar and figure.
    import cinerec.evaluation.report as report
    from cinerec.evaluation.report import save_leaderboard

    kept = {}
    monkeypatch.setattr(report, "save_png", lambda fig, path: kept.setdefault("fig", fig))
    rows = [{"label": name, "metrics": {"rmse": {"mean": m, "sd": 0.001}}}
            for name, m in (("knnbaseline", 0.926), ("baseline", 0.953), ("biasedmf", 1.007))]
    save_leaderboard({"models": rows, "metric": "rmse", "direction": "minimize", "protocol": "ratings-fold",
                      "seeds": [0, 1], "reference": {"metric": "rmse", "value": 0.95}}, tmp_path / "l.png")
    fig = kept["fig"]
    fig.canvas.draw()
    ax = fig.axes[0]
    legend, area = ax.get_legend().get_window_extent(), ax.get_window_extent()
    assert legend.x0 >= area.x1 - 1  # right of the plotting area
    assert all(t.get_window_extent().x1 <= fig.bbox.x1 + 1 for t in ax.texts)  # every figure on the picture
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["the study's own figure: 0.95"]
    # Measured on other data than this run's (a synthetic release...): the line reads as a target unless said.
    kept.clear()
    save_leaderboard({"models": rows, "metric": "rmse", "direction": "minimize", "protocol": "ratings-fold",
                      "seeds": [0, 1], "reference": {"metric": "rmse", "value": 0.95, "differs": "a synthetic release"}},
                     tmp_path / "l.png")
    assert [t.get_text() for t in kept["fig"].axes[0].get_legend().get_texts()] == \
        ["the study's own figure: 0.95\n(measured on other data:\nthe two do not compare)"]


def test_a_wide_error_bar_and_its_figure_stay_inside_the_leaderboards_axes(tmp_path, monkeypatch):
    # The axis ended at 1.15 times the largest mean: b's bar ran off the edge, its figure lost.
    import cinerec.evaluation.report as report
    from cinerec.evaluation.report import save_leaderboard

    kept = {}
    monkeypatch.setattr(report, "save_png", lambda fig, path: kept.setdefault("fig", fig))
    rows = [{"label": "a", "metrics": {"hr@10": {"mean": 0.5, "sd": 0.02}}},
            {"label": "b", "metrics": {"hr@10": {"mean": 0.4, "sd": 0.3}}},
            {"label": "c", "metrics": {"hr@10": {"mean": float("nan"), "sd": None}}}]
    save_leaderboard({"models": rows, "metric": "hr@10", "direction": "maximize", "protocol": "loo-sampled",
                      "seeds": [0, 1, 2], "reference": None}, tmp_path / "l.png")
    fig = kept["fig"]
    fig.canvas.draw()
    ax = fig.axes[0]
    assert ax.get_xlim()[1] >= 0.7
    area = ax.get_window_extent()
    shown = [t for t in ax.texts if t.get_text() == "0.4000"]
    assert shown and shown[0].get_window_extent().x1 <= area.x1 + 1


def test_drawing_leaves_the_callers_matplotlib_backend_and_figures_alone(tmp_path):
    """A notebook's backend (inline, widget) is its own: drawing a run's plots switched it
    to Agg for the whole process, so the person's own figures stopped showing."""
    import subprocess
    import sys

    script = f"""
import matplotlib
matplotlib.use("svg")  # stands in for a notebook's backend
import matplotlib.pyplot as plt
plt.figure(); plt.plot([1, 2, 3])
from tests.evaluation.test_plots import _history
from cinerec.evaluation.report import save_curves, CURVES
save_curves(_history(True), {str(tmp_path)!r} + "/" + CURVES, title="neumf")
print(matplotlib.get_backend(), plt.get_fignums())
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[2], timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[0] == "svg [1]"  # the backend kept, the caller's figure kept, none of ours left
    assert read_png(tmp_path / CURVES).shape[:2] == (560, 800)


def test_titles_in_a_script_the_font_lacks_are_drawn_without_a_warning_each(toy, tmp_path, recwarn):
    # "UserWarning: Glyph 26481 (CJK UNIFIED IDEOGRAPH-6771) missing from font(s) DejaVu Sans", with
    # its source line, on stderr under -q too, for each such character of a title on the map.
    import dataclasses

    model, ds = toy
    m = movie_map(model, ds, method="pca", n_labels=3)
    m = dataclasses.replace(m, labels=("東京物語 (1953)", "Amélie 🎬", "Plain"))
    save_movie_map(m, tmp_path / "map.png")
    assert_not_blank(read_png(tmp_path / "map.png"), min_colours=100)
    assert not [str(w.message) for w in recwarn if "missing from font" in str(w.message)]
    # The leaderboard and the training curves lay their text out before saving it: alike.
    from cinerec.evaluation.report import save_curves, save_leaderboard

    rows = [{"label": "協調フィルタ", "metrics": {"hr@10": {"mean": 0.5, "sd": 0.02}}}]
    save_leaderboard({"models": rows, "metric": "hr@10", "direction": "maximize", "protocol": "loo-sampled",
                      "seeds": [0, 1], "reference": None}, tmp_path / "board.png")
    save_curves([{"epoch": 1, "loss": 0.5}, {"epoch": 2, "loss": 0.4}], tmp_path / "curves.png", title="東京物語")
    assert not [str(w.message) for w in recwarn if "missing from font" in str(w.message)]
    import warnings

    assert not [f for f in warnings.filters if "Glyph" in str(f[1])]  # (the filter is not left behind)
