"""A map of a model's movie vectors: every movie a dot in 2-D, coloured by genre.

:func:`movie_map` projects the vectors of a fitted model (``has_item_vectors``) to two
dimensions; :func:`save_movie_map` draws the projection to a PNG. Movies the model
places close together are ones it treats as alike, so the picture shows at a glance
whether the model has learned something about films (genres gather, sequels sit
together) or not.

Rules, all deterministic:

- **Which movies.** The most rated ones (ties by movie index), at most ``max_points``,
  and only those with at least ``min_ratings`` ratings: a vector learnt from a handful
  of ratings is mostly noise and would blur the picture. When that rule leaves fewer
  than 100 movies, the 100 most rated that have any rating are drawn instead. The
  labelled titles are the most rated of all, so they are always drawn.
- **Projection.** Vectors are scaled to unit length first, because cinerec compares
  movie vectors by cosine. ``pca`` takes the top two principal components (NumPy SVD,
  each axis signed so that its largest loading is positive); ``umap`` runs UMAP
  (``umap-learn``, the ``umap`` extra) with cosine distance and a fixed seed; ``auto``
  uses UMAP when it is installed and PCA otherwise. The figure title says which ran.
- **Colour.** A movie's *main genre* is the first of its genres in the catalogue's
  genre vocabulary (MovieLens lists genres alphabetically, so *Star Wars*, flagged
  Action, Adventure, Romance, Sci-Fi and War, counts as Action). The most frequent
  main genres among the drawn movies get a colour each; the others are grey, and
  movies that list no genre light grey.
"""

from __future__ import annotations

import importlib.util
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from cinerec.data.dataset import Dataset
from cinerec.errors import ConfigError, DataError

__all__ = ["MovieMap", "movie_map", "save_movie_map", "main_genres", "MAP_POINTS", "MAP_MIN_RATINGS", "MAP_LABELS"]

#: At most this many movies are drawn (the most rated); more only blurs the picture.
MAP_POINTS = 5000
#: Movies with fewer ratings are not drawn (unless too few movies would be left).
MAP_MIN_RATINGS = 20
# The fewest movies a map shows when enough have ratings at all.
_MIN_DRAWN = 100
#: How many of the most rated movies are labelled with their title.
MAP_LABELS = 10
# Colours for the most frequent main genres (matplotlib's tab10 without its grey, which
# stands for "other genres").
_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf")
_GREY = "#b0b0b0"
_NONE = "#dcdcdc"  # movies that list no genre


@dataclass(frozen=True)
class MovieMap:
    """Movie vectors projected to 2-D, ready to draw.

    Attributes:
        model: the model's name.
        items: ``(n,) int64`` the movie indices drawn, most rated first.
        xy: ``(n, 2) float64`` their coordinates.
        counts: ``(n,) int64`` their number of ratings.
        genres: ``(n,) int64`` each one's main genre, an index into ``genre_names``
            (``-1``: the movie lists no genre).
        genre_names: the catalogue's genre vocabulary.
        labels: ``(k,)`` the titles (with year) of the first ``k`` movies of ``items``.
        method: ``"PCA"`` or ``"UMAP"``.
        note: what the title adds about the method (e.g. that UMAP was not installed),
            or ``""``.
        axis_names: the two axis labels.
        n_movies: how many rated movies have vectors (drawn or not).
    """

    model: str
    items: np.ndarray
    xy: np.ndarray
    counts: np.ndarray
    genres: np.ndarray
    genre_names: tuple[str, ...]
    labels: tuple[str, ...]
    method: str
    note: str
    axis_names: tuple[str, str]
    n_movies: int


def main_genres(genres: np.ndarray) -> np.ndarray:
    """``(n,) int64`` each movie's first genre in vocabulary order, ``-1`` for none.

    Args:
        genres: ``(n, n_genres) bool`` genre flags, columns in the vocabulary's order.
    """
    genres = np.asarray(genres, dtype=bool)
    if genres.shape[1] == 0:
        return np.full(len(genres), -1, dtype=np.int64)
    main = genres.argmax(axis=1).astype(np.int64)  # argmax: the first True
    main[~genres.any(axis=1)] = -1
    return main


def _umap_installed() -> bool:
    return importlib.util.find_spec("umap") is not None


def _pca(x: np.ndarray) -> tuple[np.ndarray, tuple[str, str]]:
    x = x - x.mean(axis=0)
    u, s, vt = np.linalg.svd(x, full_matrices=False)
    k = min(2, len(s))
    # SVD signs are arbitrary; fix them so the same vectors always give the same picture.
    flip = np.sign(vt[np.arange(k), np.abs(vt[:k]).argmax(axis=1)])
    flip[flip == 0] = 1
    xy = np.zeros((len(x), 2))
    xy[:, :k] = u[:, :k] * s[:k] * flip
    total = float((s ** 2).sum())
    share = [float(s[i] ** 2) / total if total > 0 and i < k else 0.0 for i in range(2)]
    return xy, (f"principal component 1 ({share[0]:.0%} of variance)",
                f"principal component 2 ({share[1]:.0%} of variance)")


def _umap(x: np.ndarray, seed: int) -> tuple[np.ndarray, tuple[str, str]]:
    import umap

    # A fixed random_state makes UMAP deterministic and single-threaded; it warns about
    # the latter every time, which is the price of determinism, not news.
    reducer = umap.UMAP(n_components=2, metric="cosine", n_neighbors=min(15, len(x) - 1),
                        min_dist=0.1, random_state=seed, n_jobs=1)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="n_jobs value", category=UserWarning)
        xy = reducer.fit_transform(x)
    return np.asarray(xy, dtype=np.float64), ("UMAP 1", "UMAP 2")


def movie_map(
    model: Any,
    dataset: Dataset,
    *,
    method: Literal["auto", "pca", "umap"] = "auto",
    max_points: int = MAP_POINTS,
    min_ratings: int = MAP_MIN_RATINGS,
    n_labels: int = MAP_LABELS,
    seed: int = 0,
) -> MovieMap:
    """Project a fitted model's movie vectors to 2-D (see the module docstring for the rules).

    Args:
        model: a fitted model whose class declares ``has_item_vectors``.
        dataset: the dataset the model's movie indices refer to: its catalogue gives
            titles, years and genres, its interactions the number of ratings per movie.
        method: ``auto`` (UMAP when ``umap-learn`` is installed, else PCA), ``pca`` or ``umap``.
        max_points: at most this many movies, the most rated, are projected.
        min_ratings: movies with fewer ratings are left out (see the module docstring).
        n_labels: how many of the most rated movies get their title.
        seed: UMAP's seed (PCA needs none).

    Raises:
        ConfigError: an unknown ``method``, ``umap`` without ``umap-learn``, or a bad count.
        DataError: the model has no movie vectors, or they do not match the dataset.
    """
    if method not in ("auto", "pca", "umap"):
        raise ConfigError(f"method={method!r}: expected auto, pca or umap")
    if max_points < 1 or n_labels < 0:
        raise ConfigError(f"max_points={max_points}, n_labels={n_labels}: need at least one point and no negative labels")
    if method == "umap" and not _umap_installed():
        raise ConfigError("method='umap': umap-learn is not installed (pip install 'cinerec[umap]')")
    vectors = model.item_vectors() if model.has_item_vectors else None
    if vectors is None:
        raise DataError(f"{model.name}: the model has no movie vectors to map")
    vectors = np.asarray(vectors, dtype=np.float64)
    if vectors.ndim != 2 or len(vectors) != dataset.n_items:
        raise DataError(f"{model.name}: {vectors.shape} movie vectors for a dataset of {dataset.n_items} movies")

    counts = np.asarray(dataset.interactions.item_counts, dtype=np.int64)
    usable = (counts > 0) & np.isfinite(vectors).all(axis=1)
    order = np.lexsort((np.arange(len(counts)), -counts))  # most rated first, ties by index
    ranked = order[usable[order]]
    keep = max(int((counts[ranked] >= min_ratings).sum()), min(_MIN_DRAWN, len(ranked)))
    items = ranked[:min(keep, max_points)]
    if len(items) == 0:
        raise DataError(f"{model.name}: no rated movie has finite vectors to map")

    x = vectors[items]
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    note = ""
    use_umap = method == "umap" or (method == "auto" and _umap_installed())
    if use_umap and len(items) < 4:
        use_umap, note = False, "too few movies for UMAP"
    elif method == "auto" and not use_umap:
        note = "umap-learn not installed"
    if use_umap:
        xy, axis_names = _umap(x, seed)
    else:
        xy, axis_names = _pca(x)

    catalog = dataset.catalog
    labels = []
    for it in items[:n_labels]:
        title = str(catalog.titles[it]) or f"movie {dataset.item_ids.raw[it]}"
        year = int(catalog.years[it])
        labels.append(f"{title} ({year})" if year else title)
    return MovieMap(
        model=model.name, items=items.astype(np.int64), xy=xy, counts=counts[items],
        genres=main_genres(catalog.genres[items]), genre_names=tuple(catalog.genre_names),
        labels=tuple(labels), method="UMAP" if use_umap else "PCA", note=note,
        axis_names=axis_names, n_movies=int(usable.sum()),
    )


#: The most characters of a title a label shows (its year aside): a longer one ran across
#: the whole figure.
LABEL_CHARS = 40


def _shown(text: str) -> str:
    """A label or legend entry as drawn: a ``$`` as itself (matplotlib reads text between two
    as maths: "$x^$" ended the run in a traceback, "$100 and $200" was set in italics), and
    a title past :data:`LABEL_CHARS` cut short, its year kept."""
    import re

    title, year = (text[:-7], text[-7:]) if re.search(r" \(\d{4}\)$", text) else (text, "")
    if len(title) > LABEL_CHARS:
        title = title[:LABEL_CHARS - 1].rstrip() + "…"
    return (title + year).replace("$", r"\$")


# Where a label may go, in points from its dot: eight directions, nearest rings first.
_LABEL_SPOTS = [(r * dx, r * dy) for r in (10, 26, 46, 70)
                for dx, dy in ((0.7, 0.7), (-0.7, 0.7), (0.7, -0.7), (-0.7, -0.7), (1, 0), (-1, 0), (0, 1), (0, -1))]


def _alignment(dx: float, dy: float) -> tuple[str, str]:
    """Text alignment that keeps a label on the far side of its dot."""
    ha = "left" if dx > 0.1 else "right" if dx < -0.1 else "center"
    va = "bottom" if dy > 0.1 else "top" if dy < -0.1 else "center"
    return ha, va


def _place_labels(ax: Any, xy: np.ndarray, labels: tuple[str, ...], fontsize: float) -> list[tuple[float, float]]:
    """Text offsets in points, chosen so labels overlap neither each other, nor the
    labelled dots, nor the frame.

    Greedy, most rated first: each label takes the first free spot of
    :data:`_LABEL_SPOTS`, else the least crowded one.
    """
    fig = ax.figure
    fig.canvas.draw()  # fixes the axes limits and transforms
    px = fig.dpi / 72.0
    frame = ax.get_window_extent()
    dots = ax.transData.transform(xy)
    taken = [(x - 4 * px, y - 4 * px, x + 4 * px, y + 4 * px) for x, y in dots]
    offsets = []
    renderer = fig.canvas.get_renderer()
    for (x0, y0), text in zip(dots, labels):
        # The label's own size as drawn (its box pads 0.2 of the font size each side),
        # not a guess from its length: a guess too narrow let wide titles overlap.
        probe = ax.text(0, 0, _shown(text), fontsize=fontsize)
        extent = probe.get_window_extent(renderer)
        probe.remove()
        w, h = extent.width + 0.8 * fontsize * px, extent.height + 0.8 * fontsize * px
        best, best_cost, best_box = _LABEL_SPOTS[0], np.inf, taken[0]
        for dx, dy in _LABEL_SPOTS:
            ha, va = _alignment(dx, dy)
            left = x0 + dx * px - {"left": 0, "right": w, "center": w / 2}[ha]
            bottom = y0 + dy * px - {"bottom": 0, "top": h, "center": h / 2}[va]
            box = (left, bottom, left + w, bottom + h)
            cost = sum(max(0.0, min(box[2], b[2]) - max(box[0], b[0])) * max(0.0, min(box[3], b[3]) - max(box[1], b[1]))
                       for b in taken)
            outside = max(0.0, frame.x0 - box[0]) + max(0.0, box[2] - frame.x1) \
                + max(0.0, frame.y0 - box[1]) + max(0.0, box[3] - frame.y1)
            cost += outside * h * 10
            if cost < best_cost:
                best, best_cost, best_box = (dx, dy), cost, box
            if cost == 0:
                break
        taken.append(best_box)
        offsets.append(best)
    return offsets


def save_movie_map(movie_map: MovieMap, path: str | Path) -> None:
    """Draw a :class:`MovieMap` to a 1100×800-pixel PNG, atomically.

    Dot size grows with the number of ratings; the labelled movies are ringed in black.
    The same map always gives the same bytes.
    """
    from matplotlib.lines import Line2D

    from cinerec.evaluation.report import figure, glyphs_unsaid, save_png

    m = movie_map
    fig = figure(figsize=(11, 8))
    ax = fig.subplots()
    fig.subplots_adjust(left=0.06, right=0.78, top=0.9, bottom=0.07)

    # Legend order: main genres by how many drawn movies they colour; the rest grey.
    known = m.genres[m.genres >= 0]
    freq = np.bincount(known, minlength=len(m.genre_names)) if len(known) else np.zeros(len(m.genre_names), int)
    ranked = [g for g in np.lexsort((np.arange(len(freq)), -freq)) if freq[g] > 0][: len(_COLOURS)]
    colour_of = {int(g): _COLOURS[k] for k, g in enumerate(ranked)}
    colour_of[-1] = _NONE
    colours = np.array([colour_of.get(int(g), _GREY) for g in m.genres], dtype=object)

    logs = np.log1p(m.counts)
    sizes = 6 + 60 * (logs - logs.min()) / max(float(logs.max() - logs.min()), 1e-9)
    # Grey first and the most rated last, so coloured and popular dots stay on top.
    back = np.isin(colours, [_GREY, _NONE])
    draw = np.lexsort((m.counts, ~back))
    ax.scatter(m.xy[draw, 0], m.xy[draw, 1], s=sizes[draw], c=list(colours[draw]), alpha=0.7,
               linewidths=0, rasterized=False)

    handles = [Line2D([], [], marker="o", linestyle="none", color=colour_of[int(g)], markersize=8,
                          label=_shown(f"{m.genre_names[g]} ({freq[g]})")) for g in ranked]
    for colour, label in ((_GREY, "other genres"), (_NONE, "no genre listed")):
        n = int((colours == colour).sum())
        if n:
            handles.append(Line2D([], [], marker="o", linestyle="none", color=colour, markersize=8,
                                      label=f"{label} ({n})"))
    ax.legend(handles=handles, title="main genre (movies)", loc="upper left", bbox_to_anchor=(1.01, 1.0),
              frameon=False, fontsize=10, title_fontsize=10)

    k = len(m.labels)
    if k:
        ax.scatter(m.xy[:k, 0], m.xy[:k, 1], s=sizes[:k], facecolors="none", edgecolors="black", linewidths=1.0)
        fontsize = 9
        with glyphs_unsaid():
            spots = _place_labels(ax, m.xy[:k], m.labels, fontsize)
        for (dx, dy), (x, y), text in zip(spots, m.xy[:k], m.labels):
            ax.annotate(_shown(text), (x, y), xytext=(dx, dy), textcoords="offset points", fontsize=fontsize,
                        ha=_alignment(dx, dy)[0], va=_alignment(dx, dy)[1],
                        bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.8},
                        arrowprops={"arrowstyle": "-", "color": "black", "lw": 0.6})

    ax.set_xlabel(m.axis_names[0])
    ax.set_ylabel(m.axis_names[1])
    if m.method == "PCA":  # one unit is as long on both axes, so distances on the page are the model's
        ax.set_aspect("equal", adjustable="datalim")
    ax.set_xticks([])
    ax.set_yticks([])
    how = m.method + (f" ({m.note})" if m.note else "")
    drawn = f"{len(m.items):,} most rated of {m.n_movies:,} movies" if len(m.items) < m.n_movies \
        else f"all {m.n_movies:,} rated movies"
    fig.suptitle(f"Movie map of {m.model}: movie vectors projected to 2-D by {how}", fontsize=13)
    ax.set_title(f"{drawn}; close dots are movies the model finds alike; dot size: number of ratings; "
                 f"ringed: the {k} most rated", fontsize=9.5, color="#444444")
    save_png(fig, path)
