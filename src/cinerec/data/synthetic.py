"""MovieLens-shaped synthetic releases, written in each release's exact file formats.

A release holds the files cinerec reads: ratings and movies, people where the release
has them (ml-100k, ml-1m) and ml-100k's folds and info files. The tags, links and
genome files of the later releases are left out. Two files say the folder is
synthetic: :data:`MARKER` (hidden; it lists the files written) and :data:`LABEL`,
which a copy made with a shell glob (``cp ml-25m-like/* ...``) keeps.

The generator exists so that everything can run (tests, demos, benchmarks at ml-25m
size) without the real files, and so that models have something learnable:

- **Who rates how much**: user activity is lognormal on top of the releases' floor of
  20 ratings per user; movie popularity is lognormal too, so both are heavy-tailed.
- **Who rates what**: users belong to taste groups; a group's choice of movies is
  popularity times ``exp(taste · movie factor)``, so the choices themselves carry a
  signal (implicit-feedback models can learn it). Each user picks distinct movies
  (no duplicate (user, movie) pairs); every movie of the item space gets a rating.
- **How they rate**: ``user bias + movie bias + user factor · movie factor + noise``,
  mapped through quantiles onto the release's star distribution (whole stars for
  ml-100k/ml-1m, half stars from ml-10m on).
- **When**: each user's ratings are a session of increasing timestamps inside the
  release's collection period, drawn apart from the movies' years (many ratings are
  dated before the year in their movie's title; :data:`LABEL` says so).
- **What**: titles with years (some with commas, quotes or an alternative title in
  parentheses, a few without a year where the genuine release has such: not ml-1m or
  ml-10m), genres from the release's vocabulary, and
  demographics for ml-100k and ml-1m.

``scale`` multiplies users and ratings; the number of rated movies, and the catalogue
with them, grows with ``sqrt(scale)`` so that small samples keep a realistic density. At ``scale=1``
the counts equal the real release's.
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cinerec.errors import NotFoundError
from cinerec.io import atomic_dir, check_replaceable, check_replaced_whole, contents

__all__ = ["Shape", "SHAPES", "SyntheticRelease", "synthesize", "write_release", "official_folds", "MARKER",
           "LABEL", "MAX_SCALE", "label_like", "release_files"]

#: The largest ``scale``: ten times a release's size (ml-32m ten times over is 320M ratings).
MAX_SCALE = 10.0

#: The file that marks a folder as a synthetic release (its ``like``, ``scale`` and
#: ``seed``), so that writing one again may replace it and nothing else.
MARKER = ".cinerec-synthetic.json"

#: A plain file that says, in words and on a ``like:`` line, that the folder is
#: synthetic: the label survives copies that skip hidden files.
LABEL = "SYNTHETIC.txt"


def label_text(like: str, scale: float, seed: int) -> str:
    return (f"This folder is a synthetic release written by `cinerec data synthesize`: made-up ratings\n"
            f"shaped like MovieLens {like}, not MovieLens data. cinerec says so wherever it is used.\n"
            f"A rating's date is drawn apart from its movie's year: many ratings are dated before the\n"
            f"year in their movie's title, so a year filter keeps movies rated all through the period.\n"
            f"like: {like}\nscale: {scale:g}\nseed: {seed}\n")


def label_like(text: str) -> str | None:
    """The release named on the ``like:`` line of a :data:`LABEL` file's text, else ``None``."""
    import re

    found = re.search(r"^like: (\S+)\s*$", text, re.MULTILINE)
    return found.group(1) if found and text.startswith("This folder is a synthetic release") else None


@dataclass(frozen=True)
class Shape:
    """The published size of a release.

    Attributes:
        users, items, ratings: rating users, rated movies, ratings.
        catalog: rows of the movie file (rated or not).
        max_movie_id: the largest movie id in the movie file.
        start, end: first and last timestamp of the collection period (seconds).
        half_stars: ratings in half-star steps 0.5-5 (else whole stars 1-5).
        layout: ``"100k"``, ``"dat"`` or ``"csv"`` file formats.
    """

    users: int
    items: int
    ratings: int
    catalog: int
    max_movie_id: int
    start: int
    end: int
    half_stars: bool
    layout: str


SHAPES: dict[str, Shape] = {
    "ml-100k": Shape(943, 1682, 100_000, 1682, 1682, 874_724_710, 893_286_638, False, "100k"),
    "ml-1m": Shape(6040, 3706, 1_000_209, 3883, 3952, 956_703_932, 1_046_454_590, False, "dat"),
    "ml-10m": Shape(69_878, 10_677, 10_000_054, 10_681, 65_133, 789_652_009, 1_231_131_736, True, "dat"),
    "ml-20m": Shape(138_493, 26_744, 20_000_263, 27_278, 131_262, 789_652_009, 1_427_784_002, True, "csv"),
    "ml-25m": Shape(162_541, 59_047, 25_000_095, 62_423, 209_171, 789_652_009, 1_574_327_703, True, "csv"),
    "ml-32m": Shape(200_948, 84_432, 32_000_204, 87_585, 292_757, 789_652_009, 1_697_164_147, True, "csv"),
    "ml-latest-small": Shape(610, 9724, 100_836, 9742, 193_609, 828_124_615, 1_537_799_250, True, "csv"),
}

ML100K_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama",
    "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
)
ML1M_GENRES = ML100K_GENRES[1:]
LATER_GENRES = (
    "Action", "Adventure", "Animation", "Children", "Comedy", "Crime", "Documentary", "Drama", "Fantasy",
    "Film-Noir", "Horror", "IMAX", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
)
ML100K_OCCUPATIONS = (
    "administrator", "artist", "doctor", "educator", "engineer", "entertainment", "executive", "healthcare",
    "homemaker", "lawyer", "librarian", "marketing", "none", "other", "programmer", "retired", "salesman",
    "scientist", "student", "technician", "writer",
)
# How often each genre is drawn (Drama and Comedy dominate every release).
_GENRE_WEIGHT = {
    "Drama": 10, "Comedy": 8, "Thriller": 4, "Romance": 4, "Action": 4, "Crime": 3, "Horror": 3,
    "Documentary": 2.5, "Adventure": 2.5, "Sci-Fi": 2, "Mystery": 1.5, "Fantasy": 1.5, "War": 1,
    "Children": 1.2, "Children's": 1.2, "Animation": 1.2, "Musical": 0.8, "Western": 0.6, "Film-Noir": 0.3,
    "IMAX": 0.3, "unknown": 0.0,
}
# Share of each star level in the real releases (whole stars: ml-100k; half stars: ml-25m).
_WHOLE = (1.0, 2.0, 3.0, 4.0, 5.0), (0.061, 0.114, 0.271, 0.342, 0.212)
_HALF = (
    (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0),
    (0.016, 0.031, 0.016, 0.066, 0.050, 0.196, 0.126, 0.266, 0.085, 0.148),
)
_ADJ = np.array(
    "Silent Last Golden Broken Hidden Wild Dark Bright Lonely Secret Lost Crimson Frozen Burning Quiet Empty "
    "Little Endless Savage Gentle Electric Midnight Paper Iron Velvet Hollow Restless Distant Sweet Bitter "
    "Crooked Shining Forgotten Sudden Strange Brave Fallen Sleeping Western Northern".split(), dtype=object
)
_NOUN = np.array(
    "River City Night Heart Road Garden Mirror Storm Summer Winter Dream Island Shadow Horizon Kingdom Stranger "
    "Promise Harbor Season Letter Machine Daughter Brother Empire Station Valley Forest Circus Voyage Detective "
    "Angel Ghost Highway Carnival Frontier Orchestra Lighthouse Witness Canyon Republic".split(), dtype=object
)
_ALT = np.array(
    "Le Fleuve|Die Stadt|La Notte|El Corazón|Il Viaggio|Les Ombres|Der Sturm|La Isla|Le Miroir|Das Herz".split("|"),
    dtype=object,
)


@dataclass(frozen=True, eq=False)
class SyntheticRelease:
    """The tables of a synthetic release, in its files' row order.

    Attributes:
        like: the release imitated, e.g. ``"ml-25m"``.
        ratings: columns ``user_id, movie_id`` (int64), ``rating`` (float32),
            ``timestamp`` (int64).
        movies: columns ``movie_id`` (int64), ``title`` (with the year, as published),
            ``genres`` (``|``-joined names, "" for none), ``release_date`` (``dd-Mon-yyyy`` or "").
        users: columns ``user_id, age, gender, occupation, zip`` (ml-100k: occupation
            names; ml-1m: occupation codes 0-20 and age-group codes), or ``None``.
        genre_names: the release's genre vocabulary, in its own order.
        genre_flags: ``(catalog, n_genres) bool``, aligned to ``movies``.
    """

    like: str
    ratings: pd.DataFrame
    movies: pd.DataFrame
    users: pd.DataFrame | None
    genre_names: tuple[str, ...]
    genre_flags: np.ndarray


def _shape(like: str) -> Shape:
    try:
        return SHAPES[like]
    except KeyError:
        raise NotFoundError(f"unknown MovieLens release {like!r}; known: {', '.join(SHAPES)}") from None


def _sizes(shape: Shape, scale: float) -> tuple[int, int, int, int, int, int, int]:
    """``(users, items, ratings, catalog, max_movie_id, min_per_user, max_per_user)`` at ``scale``."""
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale!r}")
    users = max(3, round(shape.users * scale))
    items = max(10, round(shape.items * min(1.0, scale) ** 0.5 * max(1.0, scale) ** 0.5))
    floor = min(20, items // 2)
    # At most half the movies per user; with three users or more that leaves room for
    # every movie to be rated at least once.
    cap = max(floor, (items + 1) // 2)
    ratings = round(shape.ratings * scale)
    ratings = int(np.clip(ratings, max(users * floor, items), users * cap))
    catalog = items + round((shape.catalog - shape.items) * items / shape.items)
    max_id = max(catalog, round(shape.max_movie_id * catalog / shape.catalog))
    return users, items, ratings, catalog, max_id, floor, cap


def size_note(like: str, scale: float) -> str | None:
    """Why a release synthesized at ``scale`` holds another number of ratings than
    ``scale`` times the real release's, or ``None`` when it holds that number: each user
    rates at least ``min(20, half the movies)`` and at most half the movies, which at a
    small scale (few users and movies) bounds the total."""
    shape = _shape(like)
    users, items, ratings, _, _, floor, cap = _sizes(shape, scale)
    asked = round(shape.ratings * scale)
    if ratings == asked:
        return None
    if ratings < asked:
        bound = f"its {users:,} users each rate at most half of its {items:,} movies ({cap:,})"
    elif ratings > users * floor:
        bound = f"each of its {items:,} movies is rated at least once"
    else:
        bound = f"each of its {users:,} users rates at least {floor:,} of its {items:,} movies"
    return f"{ratings:,} ratings, not the {asked:,} that scale {scale:g} gives: {bound}"


def synthesize(like: str, scale: float = 1.0, seed: int = 0) -> SyntheticRelease:
    """Generate a release shaped like ``like``.

    Args:
        like: a release name (``"ml-100k"``, ``"ml-1m"``, ``"ml-10m"``, ``"ml-20m"``,
            ``"ml-25m"``, ``"ml-32m"``, ``"ml-latest-small"``).
        scale: size relative to the real release (users and ratings scale linearly,
            rated movies and the catalogue with ``sqrt(scale)``; at a small scale the
            ratings are bounded by how many each user rates: :func:`size_note`).
        seed: the only source of randomness; equal seeds give equal releases.

    Returns:
        The tables; :func:`write_release` writes them in the release's file formats.
    """
    shape = _shape(like)
    if not 0 < scale <= MAX_SCALE:  # also refuses NaN and infinity
        raise ValueError(f"scale must be above 0 and at most {MAX_SCALE:g}, got {scale}")
    rng = np.random.default_rng(seed)
    n_users, n_items, n_ratings, n_catalog, max_id, floor, cap = _sizes(shape, scale)
    dim, groups = 8, 24

    # Movies of the item space: popularity, factors, bias.
    popularity = rng.lognormal(0.0, 1.4, n_items)
    item_f = rng.normal(0.0, 1.0 / np.sqrt(dim), (n_items, dim))
    item_b = rng.normal(0.0, 0.45, n_items) + 0.15 * (np.log(popularity) - np.log(popularity).mean())
    # Users: taste groups, factors near their group's centre, bias.
    centres = rng.normal(0.0, 1.0 / np.sqrt(dim), (groups, dim))
    group = rng.integers(0, groups, n_users)
    user_f = centres[group] + rng.normal(0.0, 0.5 / np.sqrt(dim), (n_users, dim))
    user_b = rng.normal(0.0, 0.35, n_users)

    counts = _activity(rng, n_users, n_ratings, floor, cap)
    log_choice = np.log(popularity)[None, :] + 5.0 * (centres @ item_f.T)  # (groups, items)
    users, items = _choose(rng, counts, group, log_choice)
    users, items = _cover_items(rng, users, items, n_items)

    # Chronological order inside each user: a random permutation of their movies.
    order = np.argsort((users.astype(np.int64) << 32) | rng.integers(0, 1 << 32, len(users)))
    users, items = users[order], items[order]
    stamps = _timestamps(rng, users, n_users, shape.start, shape.end)
    stars = _stars(rng, users, items, user_f, user_b, item_f, item_b, shape.half_stars)

    movie_ids = np.sort(rng.choice(np.arange(1, max_id + 1), n_catalog, replace=False)).astype(np.int64)
    rated = np.sort(rng.choice(n_catalog, n_items, replace=False))
    movies, flags = _movies(rng, like, shape, movie_ids, last=int(stamps.max()) if len(stamps) else shape.end)
    item_raw = movie_ids[rated]
    user_raw = np.arange(1, n_users + 1, dtype=np.int64)

    ratings = pd.DataFrame({
        "user_id": user_raw[users], "movie_id": item_raw[items],
        "rating": stars.astype(np.float32), "timestamp": stamps,
    })
    ratings = _file_order(rng, ratings, "csv" if like == "ml-10m" else shape.layout)
    people = _users(rng, like, n_users) if like in ("ml-100k", "ml-1m") else None
    names = ML100K_GENRES if like == "ml-100k" else ML1M_GENRES if like == "ml-1m" else LATER_GENRES
    return SyntheticRelease(like, ratings, movies, people, names, flags)


# -- who rates how much, and what ---------------------------------------------------------


def _activity(rng: np.random.Generator, n_users: int, total: int, floor: int, cap: int) -> np.ndarray:
    """Ratings per user ``(n_users,) int64``: ``floor`` each plus a lognormal share, summing to ``total``."""
    weight = rng.lognormal(0.0, 1.25, n_users)
    extra_total = total - n_users * floor
    extra = np.minimum(np.floor(weight / weight.sum() * extra_total).astype(np.int64), cap - floor)
    left = extra_total - int(extra.sum())
    while left > 0:  # hand out what rounding and the cap left, to users with room
        room = np.flatnonzero(extra < cap - floor)
        if not len(room):
            raise ValueError(f"cannot place {total} ratings on {n_users} users of at most {cap} each")
        add = np.bincount(rng.choice(room, min(left, len(room)), replace=False), minlength=n_users)
        extra += add
        left -= int(add.sum())
    return extra + floor


def _draw(rng: np.random.Generator, groups_of: np.ndarray, cdf: np.ndarray, n_items: int) -> np.ndarray:
    """One movie per entry of ``groups_of``, from that group's choice distribution."""
    # cdf holds group g's cumulative distribution shifted by g, so one search serves all.
    hit = np.searchsorted(cdf, groups_of + rng.random(len(groups_of)), side="right")
    return np.minimum(hit - groups_of.astype(np.int64) * n_items, n_items - 1)


def _choose(
    rng: np.random.Generator, counts: np.ndarray, group: np.ndarray, log_choice: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Distinct movies per user: ``counts[u]`` of them, drawn from ``log_choice[group[u]]``.

    Most users draw with replacement and keep the first distinct movies in draw order
    (successive sampling without replacement), topping up for a few rounds; the heaviest
    users, and any still short, use the Gumbel top-k trick over the whole item space.
    """
    n_users = len(counts)
    n_groups, n_items = log_choice.shape
    p = np.exp(log_choice - log_choice.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    cdf = np.cumsum(p, axis=1)
    cdf /= cdf[:, -1:]
    cdf = (cdf + np.arange(n_groups)[:, None]).ravel()

    heavy = counts > n_items // 4
    need = np.where(heavy, 0, counts).astype(np.int64)
    active = np.flatnonzero(need)
    kept: list[np.ndarray] = []
    have = np.zeros(0, dtype=np.int64)
    for _ in range(30):
        if not len(active):
            break
        k = need[active]
        users = np.repeat(active, k + (k >> 2) + 2)
        new = users * n_items + _draw(rng, group[users], cdf, n_items)
        first = _first_occurrences(np.concatenate([have, new]), n_users * n_items)
        pos = np.sort(first[first >= len(have)]) - len(have)  # new distinct pairs, in draw order
        owner = users[pos]
        take = _rank_in_runs(owner) < need[owner]
        added = new[pos[take]]
        need -= np.bincount(owner[take], minlength=n_users)
        kept.append(added)
        have = np.concatenate([have, added])
        have = np.sort(have[need[have // n_items] > 0])
        active = active[need[active] > 0]

    keys = np.concatenate(kept) if kept else np.zeros(0, dtype=np.int64)
    late = np.flatnonzero(heavy | (need > 0))
    if len(late):
        keys = keys[~np.isin(keys // n_items, late)]
        keys = np.concatenate([keys, _gumbel_top_k(rng, late, counts[late], group[late], log_choice)])
    return (keys // n_items).astype(np.int32), (keys % n_items).astype(np.int32)


def _first_occurrences(keys: np.ndarray, key_bound: int) -> np.ndarray:
    """Positions ``(k,) int64`` of the first occurrence of each distinct value of ``keys``.

    Packs (key, position) into one int64 so a plain sort does it (faster than a stable
    argsort); falls back to ``np.unique`` when the two do not fit in 62 bits.
    """
    pos_bits = max(1, int(len(keys)).bit_length())
    if int(key_bound).bit_length() + pos_bits > 62:
        return np.unique(keys, return_index=True)[1]
    packed = np.sort((keys << pos_bits) | np.arange(len(keys), dtype=np.int64))
    value = packed >> pos_bits
    first = np.ones(len(packed), dtype=bool)
    first[1:] = value[1:] != value[:-1]
    return packed[first] & ((1 << pos_bits) - 1)


def _rank_in_runs(sorted_values: np.ndarray) -> np.ndarray:
    """``(n,) int64`` position of each element within its run of equal values."""
    n = len(sorted_values)
    index = np.arange(n, dtype=np.int64)
    starts = np.zeros(n, dtype=np.int64)
    if n:
        new = np.ones(n, dtype=bool)
        new[1:] = sorted_values[1:] != sorted_values[:-1]
        starts = np.maximum.accumulate(np.where(new, index, 0))
    return index - starts


def _gumbel_top_k(
    rng: np.random.Generator, users: np.ndarray, counts: np.ndarray, group: np.ndarray, log_choice: np.ndarray
) -> np.ndarray:
    """Pair keys ``user * n_items + item``: for each user, ``counts`` distinct weighted draws."""
    n_items = log_choice.shape[1]
    block = max(1, (1 << 22) // n_items)
    out = []
    for s in range(0, len(users), block):  # blocks of users bound the memory, not a per-user loop
        u, k, g = users[s:s + block], counts[s:s + block], group[s:s + block]
        keys = log_choice[g] + rng.gumbel(size=(len(u), n_items))
        cut = np.sort(keys, axis=1)[np.arange(len(u)), n_items - k]
        rows, cols = np.nonzero(keys >= cut[:, None])
        out.append(u[rows].astype(np.int64) * n_items + cols)
    return np.concatenate(out)


def _cover_items(
    rng: np.random.Generator, users: np.ndarray, items: np.ndarray, n_items: int
) -> tuple[np.ndarray, np.ndarray]:
    """Give every movie of the item space at least one rating, moved from movies rated more than once."""
    counts = np.bincount(items, minlength=n_items)
    missing = np.flatnonzero(counts == 0)
    if not len(missing):
        return users, items
    # Each missing movie takes over one pair of a movie rated more than once; a movie
    # never gives away its last pair, so the user keeps their count and gains no
    # duplicate (the missing movie had no pair at all). Picks land mostly on popular
    # movies; the rare pick that would empty a movie is dropped and drawn again.
    items = items.copy()
    todo = rng.permutation(missing)
    for _ in range(10_000):
        if not len(todo):
            break
        donors = np.flatnonzero(counts[items] > 1)
        if not len(donors):
            raise ValueError("too few ratings to give every movie one")
        picks = donors[rng.choice(len(donors), min(len(todo), len(donors)), replace=False)]
        taken = np.bincount(items[picks], minlength=n_items)
        picks = picks[taken[items[picks]] < counts[items[picks]]]
        counts -= np.bincount(items[picks], minlength=n_items)
        items[picks] = todo[: len(picks)]
        counts[todo[: len(picks)]] += 1
        todo = todo[len(picks):]
    else:
        raise ValueError("could not give every movie a rating")
    return users, items


def _timestamps(rng: np.random.Generator, users: np.ndarray, n_users: int, start: int, end: int) -> np.ndarray:
    """Increasing timestamps ``(n,) int64`` within each user's rows (users are grouped, in order)."""
    period = end - start
    # Many users rate everything in one sitting, others over months or years.
    span = np.minimum(rng.lognormal(np.log(3 * 86_400), 2.5, n_users), period * 0.9)
    begin = start + rng.random(n_users) * (period - span)
    gaps = rng.exponential(1.0, len(users))
    total = np.cumsum(gaps)
    counts = np.bincount(users, minlength=n_users)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    before = np.where(first > 0, total[np.maximum(first - 1, 0)], 0.0)
    within = total - before[users]
    last = total[np.maximum(first + counts - 1, 0)] - before
    frac = within / np.maximum(last, 1e-12)[users]
    return np.floor(begin[users] + frac * span[users]).astype(np.int64)


def _stars(
    rng: np.random.Generator, users: np.ndarray, items: np.ndarray, user_f: np.ndarray, user_b: np.ndarray,
    item_f: np.ndarray, item_b: np.ndarray, half: bool,
) -> np.ndarray:
    """Star ratings ``(n,) float32`` from the latent model, matched to the release's star shares."""
    score = np.empty(len(users), dtype=np.float32)
    step = 1 << 21
    for s in range(0, len(users), step):  # chunks bound the (chunk, dim) gathers
        u, i = users[s:s + step], items[s:s + step]
        score[s:s + step] = (
            user_b[u] + item_b[i] + 2.0 * np.einsum("nd,nd->n", user_f[u], item_f[i]) + rng.normal(0.0, 0.45, len(u))
        )
    levels, shares = _HALF if half else _WHOLE
    sample = score if len(score) <= 1_000_000 else score[rng.integers(0, len(score), 1_000_000)]
    cuts = np.quantile(sample, np.cumsum(shares)[:-1])
    return np.asarray(levels, dtype=np.float32)[np.searchsorted(cuts, score)]


def _file_order(rng: np.random.Generator, ratings: pd.DataFrame, layout: str) -> pd.DataFrame:
    """The row order of the genuine files: shuffled (ml-100k), by user (ml-1m), by user then
    movie (ml-10m, whose README says so, and the .csv releases)."""
    if layout == "100k":
        return ratings.iloc[rng.permutation(len(ratings))].reset_index(drop=True)
    if layout == "csv":
        key = ratings["user_id"].to_numpy() * (int(ratings["movie_id"].max()) + 1) + ratings["movie_id"].to_numpy()
        return ratings.iloc[np.argsort(key)].reset_index(drop=True)  # keys are distinct pairs
    return ratings  # already grouped by user, in each user's own order


# -- what: movies and people -------------------------------------------------------------


def _movies(rng: np.random.Generator, like: str, shape: Shape, ids: np.ndarray, last: int) -> pd.DataFrame:
    """The movie table; ``last``: the time of the last rating, which no release date passes."""
    n = len(ids)
    end_year = int(pd.Timestamp(shape.end, unit="s").year)
    years = np.clip(end_year - np.floor(rng.exponential(11.0, n)).astype(int), 1915, end_year)
    adj, noun, noun2 = _ADJ[rng.integers(0, len(_ADJ), n)], _NOUN[rng.integers(0, len(_NOUN), n)], _NOUN[rng.integers(0, len(_NOUN), n)]
    form = rng.random(n)
    titles = adj + " " + noun
    titles = np.where((form >= 0.45) & (form < 0.6), noun + " of the " + noun2, titles)
    # MovieLens moves a leading article to the end: "Silent River, The" (never "The Silent River").
    titles = np.where((form >= 0.6) & (form < 0.72), adj + " " + noun + ", The", titles)
    titles = np.where((form >= 0.72) & (form < 0.77), adj + " " + noun + " (" + _ALT[rng.integers(0, len(_ALT), n)] + ")", titles)
    if shape.layout == "csv":
        titles = np.where((form >= 0.77) & (form < 0.79), '"' + adj + '" ' + noun, titles)
    # A repeated title in the same year becomes a sequel: "Silent River 2".
    sequel = pd.DataFrame({"t": titles, "y": years}).groupby(["t", "y"], sort=False).cumcount().to_numpy()
    titles = np.where(sequel > 0, titles + " " + (sequel + 1).astype(str).astype(object), titles)
    # A few titles carry no year, as in the CSV releases and ml-100k's "unknown"; every
    # title of ml-1m and ml-10m has one.
    no_year = (rng.random(n) < 0.004) & (shape.layout != "dat")
    suffix = " (" + years.astype(str).astype(object) + ")"
    if shape.layout == "csv":
        series = rng.random(n) < 0.003  # TV series carry a year range such as "(2007-)"
        suffix = np.where(series, " (" + years.astype(str).astype(object) + "-)", suffix)
    full = np.where(no_year, titles, titles + suffix)

    names = ML100K_GENRES if like == "ml-100k" else ML1M_GENRES if like == "ml-1m" else LATER_GENRES
    weight = np.array([_GENRE_WEIGHT[g] for g in names], dtype=float)
    picks = rng.choice(len(names), (n, 3), p=weight / weight.sum())
    flags = np.zeros((n, len(names)), dtype=bool)
    per = 1 + rng.binomial(2, 0.35, n)
    for j in range(3):  # three columns, not a loop over movies
        on = per > j
        flags[np.flatnonzero(on), picks[on, j]] = True
    if shape.layout == "csv":
        flags[rng.random(n) < 0.01] = False  # "(no genres listed)"
    if like == "ml-100k":
        flags[no_year] = False
        flags[no_year, 0] = True  # like the genuine "unknown" movie
    genres = np.full(n, "", dtype=object)
    for j, name in enumerate(names):  # one pass per genre, in vocabulary order
        genres = np.where(flags[:, j], np.where(genres == "", name, genres + "|" + name), genres)
    months = np.array("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), dtype=object)
    day = rng.integers(1, 29, n)
    month = rng.integers(0, 12, n)
    # No movie comes out after the last rating (a small release's ratings end before the
    # collection period does).
    end = pd.Timestamp(min(last, shape.end), unit="s")
    final = years == end.year
    month = np.where(final, np.minimum(month, end.month - 1), month)
    day = np.where(final & (month == end.month - 1), np.minimum(day, end.day), day)
    date = np.char.zfill(day.astype(str), 2).astype(object) + "-" + months[month] + "-" + years.astype(str).astype(object)
    date = np.where(no_year, "", date)
    return pd.DataFrame({"movie_id": ids, "title": full, "genres": genres, "release_date": date}), flags


def _users(rng: np.random.Generator, like: str, n: int) -> pd.DataFrame:
    ids = np.arange(1, n + 1, dtype=np.int64)
    gender = np.where(rng.random(n) < 0.71, "M", "F").astype(object)
    digits = rng.integers(0, 100_000, n)
    zips = np.char.zfill(digits.astype(str), 5).astype(object)
    if like == "ml-100k":
        age = np.clip(np.round(rng.normal(33, 11.5, n)), 7, 73).astype(np.int64)
        w = np.ones(len(ML100K_OCCUPATIONS))
        w[ML100K_OCCUPATIONS.index("student")] = 10
        w[ML100K_OCCUPATIONS.index("other")] = 5
        occupation = np.asarray(ML100K_OCCUPATIONS, dtype=object)[rng.choice(len(w), n, p=w / w.sum())]
        zips = np.where(rng.random(n) < 0.02, "T8H1N", zips)  # a few Canadian codes, as in the real file
    else:
        age = rng.choice([1, 18, 25, 35, 45, 50, 56], n, p=[0.037, 0.183, 0.347, 0.197, 0.091, 0.082, 0.063])
        occupation = rng.integers(0, 21, n)
    return pd.DataFrame({"user_id": ids, "age": age, "gender": gender, "occupation": occupation, "zip": zips})


# -- writing ---------------------------------------------------------------------------


def official_folds(ratings: pd.DataFrame, seed: int = 0) -> dict[str, np.ndarray]:
    """Test-row masks of ml-100k's official splits, made the way the genuine ones were.

    ``u1``..``u5`` cut the (shuffled) ratings into five disjoint test sets of 20%;
    ``ua`` and ``ub`` each hold exactly ten ratings per user (disjoint from each other).

    Returns:
        Fold name to an ``(n,) bool`` mask of the test rows.
    """
    rng = np.random.default_rng(seed)
    n = len(ratings)
    masks: dict[str, np.ndarray] = {}
    part = np.empty(n, dtype=np.int64)
    part[rng.permutation(n)] = np.arange(n) * 5 // n
    for k in range(5):
        masks[f"u{k + 1}"] = part == k
    users = ratings["user_id"].to_numpy()
    order = np.lexsort((rng.random(n), users))
    ranked = users[order]
    start = np.searchsorted(ranked, ranked, side="left")
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - start
    # 10 test ratings per user in each, as the release has (its users all rate 20 or
    # more); a tiny release's users with fewer give each half of theirs, so that neither
    # test file is empty and every user keeps training ratings.
    per_user = np.minimum(10, np.bincount(users)[users] // 2)
    masks["ua"] = rank < per_user
    masks["ub"] = (rank >= per_user) & (rank < 2 * per_user)
    return masks


def write_release(
    out_dir: str | os.PathLike, like: str, scale: float = 1.0, seed: int = 0, *, crlf: bool = False
) -> Path:
    """Synthesize a release and write it in that release's exact file formats.

    Args:
        out_dir: the folder to create (replaced atomically if it exists).
        like, scale, seed: as for :func:`synthesize`.
        crlf: end lines with ``\\r\\n`` (Windows) instead of ``\\n``.

    Returns:
        ``out_dir``, which :func:`cinerec.data.load` reads.
    """
    out = Path(out_dir)
    own = (MARKER, "a release written by cinerec data synthesize")
    check_replaceable(out, *own)  # before the release is generated, not only at the write
    check_replaced_whole(out)
    _check_only_its_own_files(out)
    release = synthesize(like, scale, seed)
    layout = SHAPES[like].layout
    # Checked again as the new release is swapped in: files put there while it was made go
    # nowhere (the swap would delete them).
    with atomic_dir(out, own=own, before_swap=_check_only_its_own_files) as tmp:
        if layout == "100k":
            _write_100k(tmp, release, seed, crlf)
        elif layout == "dat":
            _write_dat(tmp, release, crlf)
        else:
            _write_csv(tmp, release, crlf)
        _write_bytes(tmp / LABEL, label_text(like, scale, seed).encode(), crlf)  # (--crlf: every text file)
        # The files written, so that writing it again replaces those and nothing else.
        files = sorted(p.name for p in tmp.iterdir())
        (tmp / MARKER).write_text(json.dumps({"like": like, "scale": scale, "seed": seed, "files": files}) + "\n")
    return out


#: Every file a synthetic release of any shape writes: what an earlier one is taken to
#: hold when its marker names no files (written before the list was kept, or damaged).
_ANY_RELEASE_FILES = frozenset(
    ["u.data", "u.genre", "u.info", "u.item", "u.occupation", "u.user", "ua.base", "ua.test", "ub.base", "ub.test",
     *(f"u{i}.{part}" for i in range(1, 6) for part in ("base", "test")),
     "movies.dat", "ratings.dat", "users.dat", "movies.csv", "ratings.csv", LABEL])


def release_files(folder: Path) -> frozenset[str]:
    """The names of the files a synthetic release in ``folder`` wrote: its marker's list,
    or, where the marker is gone (a copy without hidden files) or names none, any
    release's files."""
    try:
        written = json.loads((folder / MARKER).read_text()).get("files")
    except (OSError, ValueError, AttributeError):
        written = None
    return frozenset(written) if isinstance(written, list) else _ANY_RELEASE_FILES


def _check_only_its_own_files(out: Path) -> None:
    """Refuse to replace an earlier synthetic release that now holds files it did not write
    (a run folder, notes): the swap would delete them. A marker that names no files (from
    before the list was kept, or damaged) is taken to list any release's files."""
    from cinerec.errors import ConfigError

    if not (out / MARKER).is_file():
        return
    written = release_files(out)
    other = sorted(p.name for p in contents(out) if p.name not in written and p.name != MARKER)
    if other:
        raise ConfigError(f"{out}: an earlier synthetic release that now holds files it did not write "
                          f"({', '.join(other[:3])}{', ...' if len(other) > 3 else ''}); not replacing it: "
                          "move them out, or give a new or empty folder")


def _eol(data: bytes, crlf: bool) -> bytes:
    return data.replace(b"\n", b"\r\n") if crlf else data


def _write_bytes(path: Path, data: bytes, crlf: bool) -> None:
    from cinerec.io import writing

    with writing(path):  # (a full disk's error names no file)
        path.write_bytes(_eol(data, crlf))


def _table_bytes(columns: dict[str, np.ndarray], sep: str, header: bool) -> bytes:
    """Numbers and plain strings as delimited text, through pyarrow's fast CSV writer."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    sink = pa.BufferOutputStream()
    table = pa.table({k: pa.array(v) for k, v in columns.items()})
    pacsv.write_csv(
        table, sink, write_options=pacsv.WriteOptions(include_header=False, delimiter=sep, quoting_style="none"),
    )
    # pyarrow quotes header names; the genuine files do not.
    head = (sep.join(columns) + "\n").encode() if header else b""
    return head + sink.getvalue().to_pybytes()


def _ratings_bytes(r: pd.DataFrame, sep: str, header: bool, point_zero: bool) -> bytes:
    cols = {
        "userId": r["user_id"].to_numpy(), "movieId": r["movie_id"].to_numpy(),
        "rating": _star_text(r["rating"].to_numpy(), point_zero), "timestamp": r["timestamp"].to_numpy(),
    }
    return _table_bytes(cols, sep, header)


def _star_text(ratings: np.ndarray, point_zero: bool):
    """Stars as the genuine files spell them: ``"4"``, ``"3.5"`` (the .dat and ml-100k
    files) or ``"4.0"``, ``"3.5"`` (the .csv files)."""
    import pyarrow as pa

    levels = np.arange(1, 11, dtype=np.float32) / 2
    text = pa.array([f"{v:.1f}" if point_zero else f"{v:g}" for v in levels])
    return text.take(pa.array(np.rint(ratings * 2).astype(np.int64) - 1))


def _genre_text(movies: pd.DataFrame, empty: str) -> np.ndarray:
    text = movies["genres"].to_numpy(dtype=object)
    return np.where(text == "", empty, text)


def _write_100k(folder: Path, rel: SyntheticRelease, seed: int, crlf: bool) -> None:
    r, m, u = rel.ratings, rel.movies, rel.users
    if u is None:
        raise ValueError("an ml-100k release needs its users table")
    _write_bytes(folder / "u.data", _ratings_bytes(r, "\t", False, False), crlf)
    names = rel.genre_names
    flags = rel.genre_flags.astype(int)
    url = "http://us.imdb.com/M/title-exact?" + m["title"].str.replace(" ", "%20", regex=False)
    url = np.where(m["release_date"].to_numpy(dtype=object) == "", "", url.to_numpy(dtype=object))
    cells = [m["movie_id"].astype(str).to_numpy(dtype=object), m["title"].to_numpy(dtype=object),
             m["release_date"].to_numpy(dtype=object), np.full(len(m), "", dtype=object), url]
    cells += [flags[:, j].astype(str).astype(object) for j in range(len(names))]
    item_lines = _join(cells, "|")
    _write_bytes(folder / "u.item", item_lines.encode("latin-1"), crlf)
    _write_bytes(folder / "u.genre", ("".join(f"{g}|{i}\n" for i, g in enumerate(names)) + "\n").encode("latin-1"), crlf)
    user_lines = _join([u[c].astype(str).to_numpy(dtype=object) for c in ("user_id", "age", "gender", "occupation", "zip")], "|")
    _write_bytes(folder / "u.user", user_lines.encode("latin-1"), crlf)
    _write_bytes(folder / "u.occupation", ("\n".join(ML100K_OCCUPATIONS) + "\n").encode(), crlf)
    info = f"{r['user_id'].nunique()} users\n{len(m)} items\n{len(r)} ratings\n"
    _write_bytes(folder / "u.info", info.encode(), crlf)
    for fold, test in official_folds(r, seed).items():
        for part, rows in (("base", ~test), ("test", test)):
            sub = r[rows].sort_values(["user_id", "movie_id"], kind="stable")
            _write_bytes(folder / f"{fold}.{part}", _ratings_bytes(sub, "\t", False, False), crlf)


def _write_dat(folder: Path, rel: SyntheticRelease, crlf: bool) -> None:
    r, m, u = rel.ratings, rel.movies, rel.users
    # pyarrow writes one-character separators; '\t' never occurs in these fields.
    data = _ratings_bytes(r, "\t", False, False).replace(b"\t", b"::")
    _write_bytes(folder / "ratings.dat", data, crlf)
    encoding = "latin-1" if rel.like == "ml-1m" else "utf-8"
    lines = _join([m["movie_id"].astype(str).to_numpy(dtype=object), m["title"].to_numpy(dtype=object),
                   _genre_text(m, "(no genres listed)")], "::")
    _write_bytes(folder / "movies.dat", lines.encode(encoding), crlf)
    if u is not None:
        lines = _join([u[c].astype(str).to_numpy(dtype=object) for c in ("user_id", "gender", "age", "occupation", "zip")], "::")
        _write_bytes(folder / "users.dat", lines.encode(encoding), crlf)


def _write_csv(folder: Path, rel: SyntheticRelease, crlf: bool) -> None:
    r, m = rel.ratings, rel.movies
    _write_bytes(folder / "ratings.csv", _ratings_bytes(r, ",", True, True), crlf)
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\r\n" if crlf else "\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(["movieId", "title", "genres"])
    writer.writerows(zip(m["movie_id"].tolist(), m["title"].tolist(), _genre_text(m, "(no genres listed)").tolist()))
    (folder / "movies.csv").write_bytes(buf.getvalue().encode("utf-8"))


def _join(columns: list[np.ndarray], sep: str) -> str:
    """Rows of string columns joined by ``sep``, one line each, with a final newline."""
    rows = columns[0].astype(object)
    for col in columns[1:]:
        rows = rows + sep + col.astype(object)
    return "\n".join(rows.tolist()) + "\n"
