"""The values every loader produces: id maps, interactions, the catalog, the dataset.

Ids are encoded once, when a source is loaded, before any filtering or split: raw user
and movie ids become dense indices ``0..n-1`` and every later step (transforms, splits,
samplers, models, metrics) works on those indices only. Raw ids come back at the two
edges that show things to people: reports and serving.

All values are immutable: dataclasses are frozen and their arrays are read-only.
"""

from __future__ import annotations

import dataclasses
import json
import numbers
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np
import pandas as pd

from cinerec.errors import DataError, NotFoundError, format_refused, said, unreadable
from cinerec.io import atomic_dir, written_files

if TYPE_CHECKING:
    import scipy.sparse as sp

__all__ = ["IdMap", "Interactions", "Catalog", "Dataset", "DATASET_FORMAT", "INTEGER_ID", "data_label", "synthetic_words",
           "synthetic_notes", "synthetic_list_notes", "reading_notes", "time_note", "catalog_notes"]

DATASET_FORMAT = 1


def _frozen(array: Any, dtype: Any) -> np.ndarray:
    """A read-only view of ``array`` as ``dtype`` (the caller's own array stays writeable)."""
    out = np.ascontiguousarray(array, dtype=dtype).view()
    out.flags.writeable = False
    return out


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


@dataclass(frozen=True, eq=False)
class IdMap:
    """Raw id ⇄ dense index, for users or for movies.

    Attributes:
        raw: ``(n,)`` raw ids, position ``i`` holding the raw id of index ``i``. Integer
            ids are kept as ``int64``; anything else as strings.
        kind: ``"user"`` or ``"movie"``, used in error messages.
    """

    raw: np.ndarray
    kind: str = "movie"

    def __post_init__(self) -> None:
        raw = np.asarray(self.raw)
        raw = raw.astype(np.int64) if raw.dtype.kind in "iu" else raw.astype(str).astype(object)
        object.__setattr__(self, "raw", _frozen(raw, raw.dtype))
        if len(self._lookup) != len(raw) or not self._lookup.is_unique:
            raise DataError(f"{self.kind} ids are not unique")

    def __len__(self) -> int:
        return len(self.raw)

    def __repr__(self) -> str:
        shown = [repr(_plain(r)) for r in (self.raw if len(self.raw) <= 4 else [*self.raw[:3], self.raw[-1]])]
        if len(self.raw) > 4:
            shown.insert(3, "...")
        return f"<IdMap: {len(self.raw):,} {self.kind} ids{': ' if shown else ''}{', '.join(shown)}>"

    @cached_property
    def _lookup(self) -> pd.Index:
        return pd.Index(self.raw)

    @cached_property
    def _composed(self) -> dict[str, int]:
        """Each text id in Unicode's composed form (NFC), without the spaces around it →
        its index; a form two ids share names neither. Asked only when an id with other
        than ASCII characters is not found as written."""
        out: dict[str, int] = {}
        shared = set()
        for i, raw in enumerate(self.raw.tolist()):
            key = unicodedata.normalize("NFC", str(raw).strip())
            if key in out:
                shared.add(key)
            out[key] = i
        for key in shared:
            del out[key]
        return out

    def _coerce(self, raw_ids: Any) -> np.ndarray:
        values = np.atleast_1d(np.asarray(raw_ids))
        if self.raw.dtype.kind == "i":
            if values.dtype.kind in "iu":
                return values.astype(np.int64)
            ints = [_integer(v) for v in values]
            bad = [v for v, i in zip(values, ints) if i is None]
            if bad:  # (a list, not next(..., None): None itself is such an id)
                raise NotFoundError(f"unknown {self.kind} id {_plain(bad[0])!r}")
            return np.array(ints, dtype=np.int64)
        text = values.astype(str).astype(object)
        for v in text:  # a lone surrogate ("\ud800") is no id's text, and no lookup can take it
            if not v.isascii():
                try:
                    v.encode("utf-8")
                except UnicodeEncodeError:
                    raise NotFoundError(f"unknown {self.kind} id {v!r}") from None
        return text

    def index(self, raw_ids: Any) -> np.ndarray:
        """Indices ``(n,) int32`` of ``raw_ids``; raises ``NotFoundError`` naming the first unknown id.

        Integer ids may come as numbers, whole floats (a pandas column that held a NaN) or
        text; a text id not found as written is tried without surrounding spaces, as the
        HTTP API does.
        """
        values = self._coerce(raw_ids)
        idx = self._lookup.get_indexer(values)
        if self.raw.dtype.kind != "i" and (idx < 0).any():
            missed = np.flatnonzero(idx < 0)
            idx[missed] = self._lookup.get_indexer(np.array([v.strip() for v in values[missed]], dtype=object))
            for i in np.flatnonzero(idx < 0):  # "é" typed as one character, written in the file as two
                if not values[i].isascii():
                    idx[i] = self._composed.get(unicodedata.normalize("NFC", values[i].strip()), -1)
        if (idx < 0).any():
            bad = values[np.flatnonzero(idx < 0)[0]]
            raise NotFoundError(f"unknown {self.kind} id {_plain(bad)!r}")
        return idx.astype(np.int32)

    def get_indexer(self, raw_ids: Any) -> np.ndarray:
        """Indices ``(n,) int64`` of ``raw_ids``, ``-1`` for each unknown one (no error).

        Read as :meth:`index` reads them, without its error: where ids are integers, one
        that is none (1.5, "abc", NaN) is unknown, never cut to another's index."""
        values = np.atleast_1d(np.asarray(raw_ids, dtype=object if isinstance(raw_ids, (list, tuple)) else None))
        if values.ndim != 1:
            raise ValueError(f"{self.kind} ids: expected a flat list of raw ids, got an array of shape {values.shape}")
        if len(values) == 0:
            return np.zeros(0, np.int64)
        if self.raw.dtype.kind != "i":
            return np.asarray(self._lookup.get_indexer(values.astype(str).astype(object)), dtype=np.int64)
        if values.dtype.kind in "iu":
            beyond = values > _INT64[1] if values.dtype.kind == "u" else np.zeros(len(values), dtype=bool)
            found = np.asarray(self._lookup.get_indexer(np.where(beyond, 0, values).astype(np.int64)), dtype=np.int64)
            return np.where(beyond, -1, found)  # (2**64 - 1 is no int64 id: wrapped, it read as -1)
        ints = [_integer(v) for v in values.tolist()]
        known = np.array([i is not None for i in ints])
        found = np.asarray(self._lookup.get_indexer(np.array([i or 0 for i in ints], dtype=np.int64)), dtype=np.int64)
        return np.where(known, found, -1)

    def get(self, raw_id: Any) -> int | None:
        """Index of one raw id, or ``None`` when it is unknown."""
        try:
            return int(self.index([raw_id])[0])
        except NotFoundError:
            return None

    def raw_id(self, index: int) -> Any:
        """The raw id of one index as a plain Python value (``int`` or ``str``)."""
        return _plain(self.raw[int(self._indices([index])[0])])

    def to_raw(self, indices: Any) -> np.ndarray:
        """Raw ids for indices ``(n,)``."""
        return self.raw[self._indices(indices)]

    def _indices(self, indices: Any) -> np.ndarray:
        """``indices`` as int64, refused in one line where one is no index of this map: a
        fraction (0.7 was cut to 0), or out of range (-1 read the last one)."""
        values = np.asarray(indices)
        if values.dtype == object and values.size and all(isinstance(v, numbers.Integral) for v in values.flat):
            values = values.astype(float)  # (whole numbers past int64, 2**70: out of range, said as such)
        if values.dtype.kind == "b" or (values.dtype.kind not in "iuf" and values.size):
            raise ValueError(f"{self.kind} indices: expected whole numbers, got {values.dtype} values")
        flat = values.ravel()
        if flat.dtype.kind == "f":
            bad = flat[~np.isfinite(flat) | (flat != np.round(flat))] if flat.size else flat
            if bad.size:
                raise ValueError(f"{self.kind} index {float(bad[0])!r} is no whole number")
        # (the range is checked on the numbers given, before they are made int64: 1e19 wrapped)
        out = ((flat < 0) | (flat >= len(self.raw))) if flat.size else np.zeros(0, dtype=bool)
        if out.any():
            bad = flat[out][0]
            shown = int(bad) if flat.dtype.kind in "iu" else f"{float(bad):g}"
            raise ValueError(f"{self.kind} index {shown} is out of range (0 to {len(self.raw) - 1}; "
                             "a raw id becomes an index through the id map's index())")
        return flat.astype(np.int64).reshape(values.shape)

    def take(self, indices: np.ndarray) -> "IdMap":
        """The map restricted to ``indices``, renumbered ``0..len(indices)-1`` in that order."""
        return IdMap(self.raw[np.asarray(indices, dtype=np.int64)], self.kind)


#: An integer id as people write it: one optional sign and ASCII digits (leading zeros
#: too); :func:`_integer` then keeps it only within int64, as the loaders read ids.
INTEGER_ID = re.compile(r"[+-]?[0-9]{1,64}")
_INT64 = (-(2**63), 2**63 - 1)


def _integer(value: Any) -> int | None:
    """``value`` as an integer id, or ``None`` when it is none.

    Whole floats count (``1.0``); text counts when it is an integer as people write it,
    one optional sign and ASCII digits ("٥٠" and "²" are no ids, though int() reads the
    one and isdigit() passes the other). Booleans are no ids.
    """
    if isinstance(value, (float, np.floating)):
        number = float(value)
        return int(number) if number.is_integer() and abs(number) < 1e18 else None
    if isinstance(value, (bool, np.bool_)):
        return None
    text = str(value).strip()
    if not INTEGER_ID.fullmatch(text):
        return None
    number = int(text)  # all of int64, 19 digits included (an id the loader read as a number)
    return number if _INT64[0] <= number <= _INT64[1] else None


@dataclass(frozen=True, eq=False)
class Interactions:
    """A ratings log over encoded ids, one row per (user, movie) event.

    Attributes:
        users: ``(n,) int32`` user indices in ``[0, n_users)``.
        items: ``(n,) int32`` movie indices in ``[0, n_items)``.
        ratings: ``(n,) float32`` stars, or ``1.0`` for implicit "watched" events.
        timestamps: ``(n,) int64`` seconds since the epoch (0 when the source has none).
        n_users, n_items: the size of the id space, which may exceed the ids present
            (a test split still lives in the full id space).
        scale: the lowest and highest rating the source's scale allows, where the source
            declared it (``--rating-scale``); ``None`` otherwise, and the scale is then the
            lowest and highest rating held (:func:`cinerec.models.base.scale_of`). Rows
            picked keep it; new ratings (``replace(ratings=...)``) drop it unless given.

    Rows keep the order of the source file; that order breaks timestamp ties. The arrays
    are kept as given, not copied (a 25M-row log would need twice the memory), and what
    is derived from them (``csr``, ``seen``, the counts) is computed once: change the
    arrays afterwards and those no longer agree, so build new Interactions instead
    (``replace``, ``select``).
    """

    users: np.ndarray
    items: np.ndarray
    ratings: np.ndarray
    timestamps: np.ndarray
    n_users: int
    n_items: int
    scale: tuple[float, float] | None = None

    def __repr__(self) -> str:
        return f"<Interactions: {len(self):,} ratings over {self.n_users:,} users x {self.n_items:,} movies>"

    def __post_init__(self) -> None:
        # Each column: numbers, one per rating; indices and times whole, within their type
        # (1.9 is no index to cut down to 1, and 2**33 none to wrap); then held read-only.
        highest: dict[str, Any] = {}
        for name, dtype in (("users", np.int32), ("items", np.int32), ("ratings", np.float32), ("timestamps", np.int64)):
            given = np.asarray(getattr(self, name))
            if given.dtype.kind in "USc":  # (text, even "4", and complex numbers are no ratings or indices)
                raise DataError(f"Interactions: {name} must be numbers, got "
                                f"{'text' if given.dtype.kind in 'US' else 'complex'} values")
            if given.dtype == object and given.ndim == 1:
                try:
                    given = given.astype(np.float64)
                except (TypeError, ValueError):
                    raise DataError(f"Interactions: {name} must be numbers, one per rating") from None
            if given.ndim != 1:
                raise DataError(f"Interactions: {name} must be one number per rating (a flat array), got "
                                f"{'none' if given.ndim == 0 and given.dtype == object else f'shape {given.shape}'}")
            if given.size and given.dtype.kind not in ("iuf" if name != "ratings" else "biuf"):
                raise DataError(f"Interactions: {name} must be numbers, got {given.dtype} values")
            if name != "ratings" and given.size:
                low, high = given.min(), given.max()
                if name != "timestamps" and (high > 2**31 - 1 or low < 0):
                    raise DataError(f"Interactions: {name[:-1] if name == 'users' else 'item'} index "
                                    f"{high if high > 2**31 - 1 else low:g} is out of range")
                if name == "timestamps" and (high >= 2.0**63 or low < -(2.0**63)):
                    raise DataError(f"Interactions: timestamp {high if high >= 2.0**63 else low:g} "
                                    "is out of range (seconds, within int64)")
                if given.dtype.kind == "f" and not np.array_equal(given, np.floor(given)):
                    bad = given[np.flatnonzero(given != np.floor(given))[0]]
                    raise DataError(f"Interactions: {name} must be whole numbers, got {float(bad):g}")
                highest[name] = high
            object.__setattr__(self, name, _frozen(given, dtype))
        for name, total in (("n_users", self.n_users), ("n_items", self.n_items)):
            if isinstance(total, np.ndarray) and total.ndim == 0:  # (np.array(2): a count as numpy holds one)
                total = total.item()
            if isinstance(total, (bool, np.bool_)) or not isinstance(total, numbers.Real) or \
                    not float(total).is_integer() or total < 0:
                raise DataError(f"Interactions: {name} must be a whole number, 0 or more, got {total!r}")
        finite = np.isfinite(self.ratings)
        if not finite.all():
            row = int(np.argmin(finite))
            raise DataError(f"Interactions: ratings must be finite numbers, got {self.ratings[row]} at row {row}")
        n = len(self.users)
        if not (len(self.items) == len(self.ratings) == len(self.timestamps) == n):
            raise ValueError("users, items, ratings and timestamps must have the same length")
        object.__setattr__(self, "n_users", int(self.n_users))
        object.__setattr__(self, "n_items", int(self.n_items))
        if self.scale is not None:
            low, high = (float(v) for v in self.scale)
            if not low < high:
                raise ValueError(f"scale {self.scale}: the lowest rating must be below the highest")
            object.__setattr__(self, "scale", (low, high))
            # (compared as the ratings are held: 0.1 of a scale is float32's 0.1 of a rating)
            outside = (self.ratings < np.float32(low)) | (self.ratings > np.float32(high)) if n else None
            if outside is not None and outside.any():
                bad = self.ratings[np.argmax(outside)]
                raise ValueError(f"rating {float(bad):g} is outside the scale given, {low:g} to {high:g}")
        if n:  # (below 0 was refused above, with the columns)
            if highest["users"] >= self.n_users:
                raise ValueError(f"user index out of range [0, {self.n_users})")
            if highest["items"] >= self.n_items:
                raise ValueError(f"item index out of range [0, {self.n_items})")

    def __len__(self) -> int:
        return len(self.users)

    @classmethod
    def empty(cls, n_users: int, n_items: int) -> "Interactions":
        z = np.zeros(0)
        return cls(z, z, z, z, n_users, n_items)

    def select(self, rows: np.ndarray) -> "Interactions":
        """The rows picked by a boolean mask or an index array, in the same id space."""
        return Interactions(
            self.users[rows], self.items[rows], self.ratings[rows], self.timestamps[rows],
            self.n_users, self.n_items, self.scale,
        )

    def replace(self, **changes: Any) -> "Interactions":
        """A copy with some fields replaced (e.g. ``ratings=np.ones(n)``): new ratings
        without a ``scale`` have none declared (likes made from stars are not stars)."""
        if "ratings" in changes:
            changes.setdefault("scale", None)
        return dataclasses.replace(self, **changes)

    def concat(self, other: "Interactions") -> "Interactions":
        """Rows of ``self`` followed by rows of ``other`` (same id space)."""
        if (self.n_users, self.n_items) != (other.n_users, other.n_items):
            raise ValueError("cannot concatenate interactions from different id spaces")
        return Interactions(
            np.concatenate([self.users, other.users]), np.concatenate([self.items, other.items]),
            np.concatenate([self.ratings, other.ratings]), np.concatenate([self.timestamps, other.timestamps]),
            self.n_users, self.n_items, self.scale if self.scale == other.scale else None,
        )

    @cached_property
    def csr(self) -> sp.csr_matrix:
        """``(n_users, n_items)`` CSR matrix of ratings, sorted indices.

        A repeated (user, movie) pair keeps its last rating in file order.
        """
        import scipy.sparse as sp  # here, not at the top: reading a release does not need it

        order = np.lexsort((np.arange(len(self)), self.items, self.users))
        u, i = self.users[order], self.items[order]
        last = np.ones(len(u), dtype=bool)
        if len(u) > 1:
            last[:-1] = (u[1:] != u[:-1]) | (i[1:] != i[:-1])
        order = order[last]
        indptr = np.zeros(self.n_users + 1, dtype=np.int64)
        np.cumsum(np.bincount(self.users[order], minlength=self.n_users), out=indptr[1:])
        m = sp.csr_matrix(
            (self.ratings[order], self.items[order].astype(np.int32), indptr),
            shape=(self.n_users, self.n_items),
        )
        m.has_sorted_indices = True
        return m

    @cached_property
    def seen(self) -> sp.csr_matrix:
        """``(n_users, n_items)`` CSR matrix of ones where a user interacted with a movie."""
        m = self.csr.copy()
        m.data = np.ones_like(m.data)
        return m

    @property
    def untimed(self) -> bool:
        """Whether the log has no times: more than one row, every time alike (no time
        column, or one constant), so order and recency come from the file alone."""
        return len(self) > 1 and int(self.timestamps.min()) == int(self.timestamps.max())

    @cached_property
    def user_counts(self) -> np.ndarray:
        """``(n_users,) int64`` number of rows per user."""
        return np.bincount(self.users, minlength=self.n_users)

    @cached_property
    def item_counts(self) -> np.ndarray:
        """``(n_items,) int64`` number of rows per movie."""
        return np.bincount(self.items, minlength=self.n_items)


@dataclass(frozen=True, eq=False)
class Catalog:
    """What is known about each movie, aligned to the movie index.

    Attributes:
        titles: ``(n_items,)`` titles as published, year suffix removed.
        years: ``(n_items,) int32`` release year, ``0`` where unknown.
        genre_names: the release's genre vocabulary, in its own order.
        genres: ``(n_items, n_genres) bool`` genre flags.
    """

    titles: np.ndarray
    years: np.ndarray
    genre_names: tuple[str, ...]
    genres: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "titles", _frozen(np.asarray(self.titles, dtype=object), object))
        object.__setattr__(self, "years", _frozen(self.years, np.int32))
        object.__setattr__(self, "genre_names", tuple(self.genre_names))
        genres = np.asarray(self.genres, dtype=bool).reshape(len(self.titles), len(self.genre_names))
        object.__setattr__(self, "genres", _frozen(genres, bool))
        if len(self.years) != len(self.titles):
            raise ValueError("titles and years must have the same length")

    def __len__(self) -> int:
        return len(self.titles)

    def __repr__(self) -> str:
        genres = len(self.present_genres)
        return f"<Catalog: {len(self.titles):,} movies, {genres} genre{'' if genres == 1 else 's'}>"

    @classmethod
    def unknown(cls, n_items: int) -> "Catalog":
        """A catalog for a ratings log with no movie file: titles are empty."""
        return cls(np.array([""] * n_items, dtype=object), np.zeros(n_items), (), np.zeros((n_items, 0)))

    @property
    def present_genres(self) -> tuple[str, ...]:
        """The genres at least one movie of the catalogue has, in the vocabulary's order: a
        filter that drops every movie of a genre leaves it in ``genre_names`` (the genre
        matrix keeps its columns) but not here, so no menu offers a genre that lists nothing."""
        movies = np.count_nonzero(self.genres, axis=0)  # per genre
        return tuple(g for g, n in zip(self.genre_names, np.atleast_1d(movies).tolist()) if n)

    def genres_of(self, item: int) -> list[str]:
        return [g for g, on in zip(self.genre_names, self.genres[item]) if on]

    def take(self, indices: np.ndarray) -> "Catalog":
        idx = np.asarray(indices, dtype=np.int64)
        return Catalog(self.titles[idx], self.years[idx], self.genre_names, self.genres[idx])


def _named(catalog: Catalog, raw_ids: np.ndarray) -> np.ndarray:
    """``(n,) bool``: the movies the catalogue says more of than their id (a log's movies
    that its catalogue file lacks show their id as the title, with no year or genres)."""
    ids = np.array([str(i) for i in raw_ids.tolist()], dtype=object)
    return (catalog.titles != ids) | (catalog.years != 0) | catalog.genres.any(axis=1)


@dataclass(frozen=True, eq=False)
class Dataset:
    """A loaded ratings source: interactions over encoded ids, both id maps and the catalog.

    Attributes:
        name: where it came from (``"ml-100k"``, a folder name...).
        interactions: every rating, in source order (rows of a log that share a whole
            second in the order of their times' fractions, when they have any).
        user_ids, item_ids: raw id ⇄ index.
        catalog: movie titles, years and genres aligned to item index.
        user_features: demographics aligned to user index (columns such as ``age``,
            ``gender``, ``occupation``, ``zip``), or ``None`` when the release has none.
        info: facts about the source, e.g. ``{"release": "ml-100k", "catalog_items": 1682}``.
        folds: the splits the source publishes (ml-100k: ``u1``..``u5``, ``ua``, ``ub``),
            read when the source is loaded: fold name → ``(n_ratings,) bool``, True for
            the ratings in that fold's test set, aligned to :attr:`interactions`' rows;
            the other ratings are its training set. Empty when the source has none.
        also_seen: ``(users, items)`` index arrays of movies people rated that are no
            longer ratings here (a ``--liked-threshold`` drops the low ones): never a
            rating to learn from or to test, but never to be recommended either
            (:func:`cinerec.data.history.seen`). ``None`` when nothing was dropped.
        not_liked: ``(users, items)`` index arrays of ratings still here that were not
            liked when they had stars, before ``--implicit`` made every rating a plain
            event: never named as the reason for a recommendation
            (:func:`cinerec.data.history.liked_in`). ``None`` when there are none.
    """

    name: str
    interactions: Interactions
    user_ids: IdMap
    item_ids: IdMap
    catalog: Catalog
    user_features: pd.DataFrame | None = None
    info: Mapping[str, Any] = field(default_factory=dict)
    folds: Mapping[str, np.ndarray] = field(default_factory=dict)
    also_seen: tuple[np.ndarray, np.ndarray] | None = None
    not_liked: tuple[np.ndarray, np.ndarray] | None = None

    def __repr__(self) -> str:
        release = _release_or_like(self.info)
        said = f" ({release}{', synthetic' if self.info.get('synthetic') else ''})" if release else ""
        return (f"<Dataset {self.name!r}{said}: {len(self.interactions):,} ratings, {self.n_users:,} users, "
                f"{self.n_items:,} movies>")

    def __post_init__(self) -> None:
        if len(self.user_ids) != self.interactions.n_users:
            raise ValueError("user id map and interactions disagree on the number of users")
        if len(self.item_ids) != self.interactions.n_items or len(self.catalog) != self.interactions.n_items:
            raise ValueError("movie id map, catalog and interactions disagree on the number of movies")
        if self.user_features is not None and len(self.user_features) != self.n_users:
            raise ValueError("user_features must have one row per user")
        object.__setattr__(self, "info", dict(self.info))
        folds = {}
        for fold, mask in self.folds.items():
            m = np.asarray(mask)
            if m.dtype != bool or m.shape != (len(self.interactions),):
                raise ValueError(f"fold {fold!r} must be a bool mask with one entry per rating")
            folds[str(fold)] = _frozen(m, bool)
        object.__setattr__(self, "folds", folds)

    @property
    def n_users(self) -> int:
        return self.interactions.n_users

    @property
    def n_items(self) -> int:
        return self.interactions.n_items

    def replace(self, **changes: Any) -> "Dataset":
        return dataclasses.replace(self, **changes)

    def with_interactions(self, interactions: Interactions) -> "Dataset":
        """Same id space, other rows (e.g. binarized ratings).

        The folds stay when the rows do (as many rows, e.g. new ratings); other rows
        lose them, since they can no longer say which rating is in which fold.
        """
        same_rows = len(interactions) == len(self.interactions)
        return dataclasses.replace(self, interactions=interactions, folds=self.folds if same_rows else {})

    def subset(self, rows: np.ndarray) -> "Dataset":
        """Keep the given rows, then drop users and movies left with no rows and renumber.

        This is how filters (k-core, most active users, release years) shrink a dataset;
        it happens before any split, so train and test always share one id space.
        """
        x = self.interactions.select(rows)
        users = np.flatnonzero(np.bincount(x.users, minlength=self.n_users))
        items = np.flatnonzero(np.bincount(x.items, minlength=self.n_items))
        user_new = np.full(self.n_users, -1, dtype=np.int64)
        user_new[users] = np.arange(len(users))
        item_new = np.full(self.n_items, -1, dtype=np.int64)
        item_new[items] = np.arange(len(items))
        inter = Interactions(user_new[x.users], item_new[x.items], x.ratings, x.timestamps, len(users), len(items),
                             x.scale)
        feats = None
        if self.user_features is not None:
            feats = self.user_features.iloc[users].reset_index(drop=True)
        def renumbered(pairs: tuple[np.ndarray, np.ndarray] | None) -> tuple[np.ndarray, np.ndarray] | None:
            """``pairs`` in the new ids, where both the user and the movie stay."""
            if pairs is None:
                return None
            u, i = user_new[pairs[0]], item_new[pairs[1]]
            keep = (u >= 0) & (i >= 0)
            return u[keep].astype(np.int32), i[keep].astype(np.int32)

        also_seen, not_liked = renumbered(self.also_seen), renumbered(self.not_liked)
        catalog, info = self.catalog.take(items), self.info
        named = list(info.get("dropped_twins") or [])
        if named:  # those an earlier filter parted, while the id it kept stays
            kept = set(self.item_ids.raw[items].tolist())
            named = [p for p in named if p[1] in kept]
        through = self._seen_through_dropped_twins(user_new, item_new, inter)
        if through is not None:  # a film rated under an id dropped here is seen under its twin's, kept
            pairs, parted = through
            if also_seen is not None:  # each pair once (a low rating of the twin kept is there already)
                u, i = np.concatenate([also_seen[0], pairs[0]]), np.concatenate([also_seen[1], pairs[1]])
                first = np.sort(np.unique(u.astype(np.int64) * len(items) + i, return_index=True)[1])
                pairs = (u[first], i[first])
            also_seen = pairs
            named += parted
        if named or "dropped_twins" in info:
            info = {**info, "dropped_twins": named}
        if "catalog_matched" in info:  # a log's own catalogue: how many of the movies kept it names
            info = {**info, "catalog_matched": int(_named(catalog, self.item_ids.raw[items]).sum())}
        return Dataset(
            self.name, inter, self.user_ids.take(users), self.item_ids.take(items),
            catalog, feats, info, {k: m[rows] for k, m in self.folds.items()}, also_seen, not_liked,
        )

    def _seen_through_dropped_twins(self, user_new: np.ndarray, item_new: np.ndarray, kept: Interactions
                                    ) -> tuple[tuple[np.ndarray, np.ndarray], list[list[Any]]] | None:
        """For :meth:`subset`: the ``(users, items)`` pairs, in the new ids, of the films
        people rated under an id dropped while its twin's id stays (:func:`title_twins`),
        those they did not rate under the id kept too; and the ``[dropped, kept]`` raw id
        pairs (a profile saved under the id dropped finds its twin by them). ``None``
        where no twin is parted."""
        import scipy.sparse as sp

        if (item_new >= 0).all():
            return None
        twins = title_twins(self)
        if twins is None:
            return None
        coo = twins.tocoo()
        parted = (item_new[coo.row] < 0) & (item_new[coo.col] >= 0)
        if not parted.any():
            return None
        dropped, twin = coo.row[parted], coo.col[parted]
        raw = self.item_ids.raw
        named = [[_plain(raw[i]), _plain(raw[j])] for i, j in zip(dropped.tolist(), twin.tolist())]
        x = self.interactions
        users, movies = x.users, x.items
        if self.also_seen is not None:
            users, movies = np.concatenate([users, self.also_seen[0]]), np.concatenate([movies, self.also_seen[1]])
        n = self.n_items
        rated = sp.csr_matrix((np.ones(len(users), np.float32), (users, movies)), shape=(self.n_users, n))
        under = (rated @ sp.csr_matrix((np.ones(len(dropped), np.float32), (dropped, twin)), shape=(n, n))).tocoo()
        u, i = user_new[under.row], item_new[under.col]
        keep = u >= 0
        u, i = u[keep], i[keep]
        done = np.isin(u.astype(np.int64) * kept.n_items + i,
                       kept.users.astype(np.int64) * kept.n_items + kept.items)  # rated under the id kept too
        return (u[~done].astype(np.int32), i[~done].astype(np.int32)), named

    def describe(self) -> dict[str, Any]:
        """Counts and time range, as printed by ``cinerec data info``."""
        x = self.interactions
        return {
            "name": self.name,
            "ratings": len(x),
            "users": self.n_users,
            "items": self.n_items,
            # movies the source's movie file lists (a log read without one, or titles, has none)
            **({"catalog_items": int(self.info["catalog_items"])} if "catalog_items" in self.info else {}),
            **({"synthetic": True} if self.info.get("synthetic") else {}),
            # a log's own catalogue: how many of the log's movies it names (the others show ids)
            **({"catalog_matched": int(self.info["catalog_matched"])} if "catalog_matched" in self.info else {}),
            # a log's repeated (user, movie) rows, of which the latest of each was kept
            **({"duplicates_dropped": int(self.info["duplicates_dropped"])}
               if "duplicates_dropped" in self.info else {}),
            # A source without times has every timestamp 0: no time range, rather than 1970.
            "min_timestamp": int(x.timestamps.min()) if len(x) and x.timestamps.any() else None,
            "max_timestamp": int(x.timestamps.max()) if len(x) and x.timestamps.any() else None,
            "min_rating": float(x.ratings.min()) if len(x) else None,
            "max_rating": float(x.ratings.max()) if len(x) else None,
            # the scale --rating-scale gave, where the ratings may not reach both of its ends
            **({"rating_scale": [float(v) for v in self.info["rating_scale"]]}
               if self.info.get("rating_scale_given") and self.info.get("rating_scale") else {}),
            "density": len(x) / max(1, self.n_users * self.n_items),
            "has_user_features": self.user_features is not None,
            "genres": list(self.catalog.present_genres),
        }

    def movie_record(self, item: int) -> dict[str, Any]:
        """``movie_id`` (raw), ``title``, ``year`` (``None`` if unknown) and ``genres`` of one movie index."""
        raw = self.item_ids.raw[item]
        year = int(self.catalog.years[item])
        return {
            "movie_id": raw.item() if isinstance(raw, np.generic) else raw,
            "title": str(self.catalog.titles[item]),
            "year": year or None,
            "genres": self.catalog.genres_of(int(item)),
        }

    # -- persistence (no pickle) -------------------------------------------------------

    def save(self, path: str | Path) -> None:
        """Write the dataset to a folder (``.npz`` arrays plus JSON), atomically; only a
        new or empty folder, or an earlier saved dataset, is replaced."""
        with atomic_dir(path, own=("dataset.json", "a saved dataset")) as tmp:
            x = self.interactions
            arrays = {"users": x.users, "items": x.items, "ratings": x.ratings, "timestamps": x.timestamps,
                      "n": np.array([x.n_users, x.n_items])}
            if x.scale is not None:  # (a scale its source declared)
                arrays["scale"] = np.array(x.scale)
            np.savez(tmp / "interactions.npz", **arrays)  # type: ignore[arg-type]
            _save_ids(tmp / "user_ids.npz", self.user_ids)
            _save_ids(tmp / "item_ids.npz", self.item_ids)
            np.savez(tmp / "catalog.npz", titles=self.catalog.titles.astype(str), years=self.catalog.years, genres=self.catalog.genres)
            if self.user_features is not None:
                self.user_features.to_csv(tmp / "user_features.csv", index=False)
            if self.folds:
                # The masks need no pickle and load() reads none; naming the keyword also
                # tells mypy that no fold name stands for it.
                np.savez_compressed(tmp / "folds.npz", allow_pickle=False, **self.folds)
            for name, pairs in (("also_seen", self.also_seen), ("not_liked", self.not_liked)):
                if pairs is not None:
                    np.savez_compressed(tmp / f"{name}.npz", users=pairs[0], items=pairs[1])
            meta = {"format": DATASET_FORMAT, "name": self.name, "info": self.info, "genre_names": list(self.catalog.genre_names),
                    "files": written_files(tmp)}  # (a later save over it keeps anything else by refusing)
            (tmp / "dataset.json").write_text(json.dumps(meta, indent=2, default=str))

    @classmethod
    def load(cls, path: str | Path) -> "Dataset":
        path = Path(path)
        try:
            meta = json.loads((path / "dataset.json").read_text())
        except (OSError, ValueError) as e:
            if isinstance(e, PermissionError):
                raise unreadable(e, path, "dataset") from None
            raise DataError(f"{path}: not a saved cinerec dataset ({e})") from None
        if not isinstance(meta, dict):
            raise DataError(f"{path}/dataset.json: expected a JSON object, got {type(meta).__name__}")
        if meta.get("format") != DATASET_FORMAT:
            raise format_refused(path, "dataset", meta.get("format"), DATASET_FORMAT)
        info: dict[str, Any] = meta.get("info", {})
        if not isinstance(info, dict):
            raise DataError(f"{path}/dataset.json: info: expected an object, got {type(info).__name__}")
        for key, kind in (("name", str), ("genre_names", list)):
            if not isinstance(meta.get(key), kind):
                raise DataError(f"{path}/dataset.json: {key}: expected {'text' if kind is str else 'a list'}, got "
                                f"{'nothing' if key not in meta else type(meta[key]).__name__}")
        reading = "interactions.npz"  # the file being read: named when it is found damaged
        try:
            with np.load(path / reading, allow_pickle=False) as z:
                n_users, n_items = (int(v) for v in z["n"])
                from cinerec.data.logs import saved_scale

                scale: tuple[float, float] | None = None
                if "scale" in z.files:
                    scale = saved_scale(z["scale"], f"{path}/interactions.npz: scale")
                elif info.get("rating_scale_given") and not info.get("implicit"):  # (saved with no scale array)
                    scale = saved_scale(info.get("rating_scale"), f"{path}/dataset.json: info.rating_scale")
                inter = Interactions(z["users"], z["items"], z["ratings"], z["timestamps"], n_users, n_items,
                                     scale)
            reading = "catalog.npz"
            with np.load(path / reading, allow_pickle=False) as z:
                catalog = Catalog(z["titles"].astype(object), z["years"], meta["genre_names"], z["genres"])
            feats = None
            reading = "user_features.csv"
            if (path / reading).exists():
                # Text as written (a zip "00660" stays one), ages as numbers.
                feats = pd.read_csv(path / reading, keep_default_na=False, dtype=str)
                if "age" in feats:
                    feats["age"] = feats["age"].astype(np.int64)
            folds = {}
            reading = "folds.npz"
            if (path / reading).exists():
                with np.load(path / reading, allow_pickle=False) as z:
                    folds = {k: z[k] for k in z.files}
            pairs: dict[str, tuple[np.ndarray, np.ndarray] | None] = {}
            for name in ("also_seen", "not_liked"):
                pairs[name] = None
                reading = f"{name}.npz"
                if (path / reading).exists():
                    with np.load(path / reading, allow_pickle=False) as z:
                        pairs[name] = (z["users"], z["items"])
            reading = "user_ids.npz"
            users = _load_ids(path / reading, "user")
            reading = "item_ids.npz"
            items = _load_ids(path / reading, "movie")
            reading = ""  # (the parts together: no one file at fault)
            return cls(meta["name"], inter, users, items, catalog, feats, info, folds, pairs["also_seen"],
                       pairs["not_liked"])
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:  # cut short, or edited
            if isinstance(e, DataError) and str(e).startswith(f"{path}/"):  # (one of its files named: its scale)
                raise
            where = f"{path}/{reading}" if reading else str(path)
            if isinstance(e, PermissionError):  # (no damage: this user may not read it)
                raise unreadable(e, where, "dataset") from None
            raise DataError(f"{where}: saved dataset is damaged ({type(e).__name__}: {e})") from None


def counted(n: int, noun: str) -> str:
    """``n`` and the noun, singular for one (``1 movie``, ``2,000 ratings``)."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def sizes_said(ratings: int, users: int, movies: int, scale: Sequence[float] | None = None) -> str:
    """``100,000 ratings, 943 users, 1,682 movies``, as the ``data:`` lines say a dataset's
    size; with the rating ``scale`` (lowest, highest), ``100,000 ratings (1 to 5)``: an
    RMSE of 23 reads otherwise on a scale of 0 to 100."""
    on = "" if scale is None else f" (every one {scale[0]:g})" if scale[0] == scale[1] else \
        f" ({scale[0]:g} to {scale[1]:g})"
    return f"{counted(ratings, 'rating')}{on}, {counted(users, 'user')}, {counted(movies, 'movie')}"


def dataset_sizes(dataset: "Dataset") -> str:
    """:func:`sizes_said` of ``dataset``, with its rating scale where it holds ratings (not
    plain events, nor likes kept by ``--liked-threshold``)."""
    from cinerec.data.history import is_implicit, rating_scale

    scale = None if is_implicit(dataset) else rating_scale(dataset)
    return sizes_said(len(dataset.interactions), dataset.n_users, dataset.n_items, scale)


def synthetic_words(dataset: Dataset) -> str:
    """`` (SYNTHETIC, shaped like ml-1m)`` after the data's name where it is a synthetic
    release (``cinerec data synthesize``), else nothing: the runs and reports made from one
    called it by its folder's name alone, as if it were the release."""
    return f" (SYNTHETIC{_shaped_like(dataset)})" if dataset.info.get("synthetic") else ""


def synthetic_notes(dataset: Dataset) -> list[str]:
    """The line printed beside figures measured on a synthetic release (none otherwise)."""
    if not dataset.info.get("synthetic"):
        return []
    return [f"the data is a synthetic release{_shaped_like(dataset).lstrip(',')} (cinerec data synthesize): these "
            "figures say nothing about real movies"]


def synthetic_list_notes(dataset: Dataset) -> list[str]:
    """The line printed beside lists (``recommend``, ``export``, ``serve``) of a run made
    on a synthetic release (none otherwise)."""
    if not dataset.info.get("synthetic"):
        return []
    return [f"the run's data is a synthetic release{_shaped_like(dataset).lstrip(',')} (cinerec data synthesize): "
            "its movies, people and lists are made up"]


#: The most ids one film is taken to be listed under: a larger group sharing a title, year
#: and genres is so many films of one name, not one film listed again.
TWIN_GROUP_MAX = 4


def later_twins(twins: "sp.csr_matrix") -> np.ndarray:
    """``(n_items,) bool``: the movies :func:`title_twins` lists under an earlier id too
    (each film's ids past its first), the places a list gives to a film it holds once."""
    pairs = twins.tocoo()
    later = np.zeros(twins.shape[0], dtype=bool)
    later[pairs.row[pairs.col < pairs.row]] = True
    return later


def other_ids(dataset: Dataset, twins: "sp.csr_matrix | None") -> dict[int, list[Any]]:
    """Per movie index of a film the data knows under other ids too, those raw ids: its
    twins (``twins``, :func:`title_twins` of ``dataset``), then the ids a filter dropped
    while keeping this one (``info["dropped_twins"]``)."""
    out: dict[int, list[Any]] = {}
    if twins is not None:
        for item in np.flatnonzero(np.diff(twins.indptr)).tolist():
            out[item] = [dataset.movie_record(j)["movie_id"]
                         for j in twins.indices[twins.indptr[item]:twins.indptr[item + 1]].tolist()]
    dropped = dataset.info.get("dropped_twins") or []
    if dropped:
        index = {str(raw): i for i, raw in enumerate(dataset.item_ids.raw.tolist())}
        for gone, kept in dropped:
            if (i := index.get(str(kept))) is not None:
                out.setdefault(i, []).append(gone)
    return out


def title_twins(dataset: Dataset) -> "sp.csr_matrix | None":
    """``(n_items, n_items)`` CSR of ones, row ``i`` the other movies the catalogue lists
    as the same film: the same title (as written), a known year and the same genres,
    under another id (ml-100k lists 18 films twice); None where it lists none. To a
    person, a film rated under one id is seen under the other too. A movie whose title is
    its id (a log without a catalogue, or one the catalogue leaves out) or unknown, or
    without a year, is no film's twin."""
    import scipy.sparse as sp

    catalog = dataset.catalog
    n = len(catalog)
    titles = pd.Series(np.asarray(catalog.titles, dtype=object)).fillna("").astype(str).str.strip()
    ids = pd.Series(np.asarray(dataset.item_ids.raw)).astype(str).str.strip()
    years = np.asarray(catalog.years, dtype=np.int64)
    named = (titles.ne("") & titles.ne(ids)).to_numpy() & (years > 0)
    if n < 2 or not named.any():
        return None
    # Only titles written more than once with one year can be twins: the genres of those alone.
    named &= pd.DataFrame({"title": titles, "year": years}).duplicated(keep=False).to_numpy()
    if not named.any():
        return None
    packed = np.packbits(np.asarray(catalog.genres, dtype=bool)[named], axis=1)
    key = pd.DataFrame({"title": titles[named], "year": years[named], "genres": [row.tobytes() for row in packed]})
    if not key.duplicated().any():
        return None
    rows, cols = [], []
    for members in key.groupby(["title", "year", "genres"], sort=False).indices.values():
        if not 2 <= len(members) <= TWIN_GROUP_MAX:
            continue
        films = key.index.to_numpy()[members]
        a, b = np.meshgrid(films, films, indexing="ij")
        off = a != b
        rows.append(a[off])
        cols.append(b[off])
    if not rows:
        return None
    rows_all, cols_all = np.concatenate(rows), np.concatenate(cols)
    return sp.csr_matrix((np.ones(len(rows_all), np.float32), (rows_all, cols_all)), shape=(n, n)).tocsr()


def reading_notes(dataset: Dataset) -> list[str]:
    """The lines said about how a log was read: a rating or time column it may have left
    unread (``info["log_notes"]``), its times where, written as numbers, they read oddly as
    seconds (:func:`time_note`, on the times the filters kept), the rows of pairs logged
    twice that it left out, its ratings' scale where it may mislead, then its
    catalogue's (:func:`catalog_notes`)."""
    said = time_note(dataset.interactions.timestamps, dataset.info.get("source") or dataset.name) \
        if dataset.info.get("times_in_numbers") else None
    log = [str(note) for note in dataset.info.get("log_notes") or []]  # (a rating or time column left unread)
    return log + ([said] if said else []) + _repeats_note(dataset) + _thumbs_note(dataset) + \
        _stray_scale_note(dataset) + catalog_notes(dataset)


def _repeats_note(dataset: Dataset) -> list[str]:
    """A line when a log logged some (user, movie) pair more than once: the earlier rows
    were left out as it was read, which nothing but ``data info``'s count said."""
    dropped = int(dataset.info.get("duplicates_dropped") or 0)
    if not dropped:
        return []
    source = dataset.info.get("source") or dataset.name
    each = "an earlier row" if dropped == 1 else "each an earlier row"
    return [f"{source}: {counted(dropped, 'row')} left out, {each} of a (user, movie) pair logged again: a pair keeps "
            "its latest row (by time, then by order in the file), as a re-rating replaces the earlier one"]


def _stray_scale_note(dataset: Dataset) -> list[str]:
    """A line when a log's scale, read from its ratings (no ``--rating-scale``), reaches an
    end that at most 3 of them hold, one in 500 or fewer (a 6 among ratings of 1 to 5, a
    slip): nothing said so, and what counts as liked is read halfway up that scale. The
    ratings are those read (``info["scale_strays"]``, kept as the log was read): a filter
    that drops the 6 leaves the scale it made."""
    from cinerec.data.history import is_implicit

    scale = dataset.info.get("rating_scale")
    if dataset.info.get("format") != "log" or dataset.info.get("rating_scale_given") or not scale or \
            is_implicit(dataset):
        return []
    strays = dataset.info["scale_strays"] if "scale_strays" in dataset.info else \
        stray_scale_ends(dataset.interactions, dataset.user_ids, dataset.item_ids, scale)
    source = dataset.info.get("source") or dataset.name
    give = said("--rating-scale LOW,HIGH", "rating_scale=(LOW, HIGH)")
    return [f"the rating scale of {source} is read from its ratings as {scale[0]:g} to {scale[1]:g}, and only "
            f"{len(s['who'])} of its {s['of']:,} ratings {'is' if len(s['who']) == 1 else 'are'} {s['end']:g}, its "
            f"{s['word']} ({', '.join(f'user {u!r}, movie {m!r}' for u, m in s['who'])}): if that is a slip, correct "
            f"it, or give the scale with {give} (what counts as liked is read on it)" for s in strays]


def stray_scale_ends(x: Interactions, user_ids: IdMap, item_ids: IdMap, scale: Sequence[float] | None
                     ) -> list[dict[str, Any]]:
    """The ends of ``scale``, a log's read from its ratings ``x``, that at most 3 of them
    hold, one in 500 or fewer (:func:`_stray_scale_note`): each end, which one
    (``"highest"``), how many ratings there were and the raw (user, movie) of each rating
    at that end."""
    if not scale or not len(x):
        return []
    out = []
    for end, word in ((float(scale[1]), "highest"), (float(scale[0]), "lowest")):
        at = np.flatnonzero(x.ratings == end)
        if 1 <= len(at) <= 3 and len(at) * 500 <= len(x) and len(np.unique(x.ratings)) > 2:
            who = [[_plain(user_ids.raw[x.users[i]]), _plain(item_ids.raw[x.items[i]])] for i in at]
            out.append({"end": end, "word": word, "of": len(x), "who": who})
    return out


def _thumbs_note(dataset: Dataset) -> list[str]:
    """A line when a log's ratings are 0 and 1 alone (thumbs down and up): read as stars
    on a scale of 0 to 1, which nothing said, where a person may have meant likes."""
    from cinerec.data.history import is_implicit

    r = dataset.interactions.ratings
    if not len(r) or is_implicit(dataset) or r.min() != 0 or r.max() != 1 or not ((r == 0) | (r == 1)).all():
        return []
    source = dataset.info.get("source") or dataset.name
    keep = said("--liked-threshold 1", "Filters(liked_threshold=1)")
    return [f"the ratings of {source} are 0 and 1 alone: read as stars from 0 to 1, so a 1 is liked and a 0 a movie "
            f"seen and not liked (models of events learn from both as seen); {keep} keeps the 1s alone, as likes"]


#: Seconds since 1970 in a year, and of 2100-01-01: a log whose times, read as seconds,
#: all lie in 1970 or reach past 2100 is in another unit.
_YEAR_SECONDS, _YEAR_2100 = 365 * 86_400, 4_102_444_800


def time_note(stamps: np.ndarray, source: str) -> str | None:
    """A line when times written as numbers, read as seconds since 1970, all fall in 1970
    (days, years or counts: their order alone tells anything) or reach past 2100 (a log in
    milliseconds from before 1973); None otherwise, and for times all alike."""
    import datetime as dt

    if not len(stamps) or (lo := int(stamps.min())) == (hi := int(stamps.max())):
        return None

    def day(seconds: int) -> str:
        return (dt.datetime(1970, 1, 1) + dt.timedelta(seconds=seconds)).strftime("%Y-%m-%d %H:%M:%S")

    if 0 <= lo and hi < _YEAR_SECONDS:
        return (f"the times of {source} read as seconds since 1970 all fall in 1970 ({day(lo)} to {day(hi)} UTC): "
                "numbers that are days, years or counts keep only their order (which rating of each person is the "
                "latest), and a recency weighting reads them as seconds; give seconds since 1970, or dates")
    if hi > _YEAR_2100:
        return (f"the latest time of {source} reads as {day(hi)[:4]} (seconds since 1970): a log in milliseconds from "
                "before 1973 reads so; give seconds since 1970, or dates")
    return None


def catalog_notes(dataset: Dataset) -> list[str]:
    """The lines said when a log's catalogue names only some of its movies: the others
    show their ids wherever a list names them, which ids written another way in the two
    files (``0001`` for ``1``) cause without a word; and those saying which of the log's
    own title, genres or year columns were left unread, and why."""
    said = [str(note) for note in dataset.info.get("catalog_notes") or []]  # (a log's own columns left unread)
    if note := dataset.info.get("catalog_columns_note"):  # (a catalogue file's, its genres not found)
        said.append(str(note))
    matched, path = dataset.info.get("catalog_matched"), dataset.info.get("catalog")
    if matched is None or path is None or matched >= dataset.n_items:
        return said
    rest = dataset.n_items - matched
    others = "the other one shows its id" if rest == 1 else f"the other {rest:,} show their ids"
    if dataset.info.get("catalog_in_log"):  # (rows without a title, or a folder's files without the column)
        return [*said, f"the log's titles name {matched:,} of the {dataset.n_items:,} movies; {others} for a title "
                "(their rows have no title, or sit in files without a title column)"]
    return [*said, f"the catalogue {path} names {matched:,} of the {dataset.n_items:,} movies; {others} for a title "
            "(if it lists them, its ids are written otherwise than the log's: 0001 is not 1)"]


def _release_or_like(info: Mapping[str, Any]) -> str | None:
    """The release the data is, or, for a synthetic release's file read as a log, the one it imitates."""
    return info.get("release") or info.get("synthetic_like")


def _shaped_like(dataset: Dataset) -> str:
    like = _release_or_like(dataset.info)
    return f", shaped like {like}" if like else ""


def data_label(dataset: Dataset) -> str:
    """The data as the user named it, for a message: the path it was read from (quoted),
    else its name (a dataset built in memory)."""
    source = dataset.info.get("source")
    return repr(str(source)) if source else repr(dataset.name)


def _save_ids(path: Path, ids: IdMap) -> None:
    raw = ids.raw if ids.raw.dtype.kind == "i" else ids.raw.astype(str)
    np.savez(path, raw=raw)


def _load_ids(path: Path, kind: str) -> IdMap:
    with np.load(path, allow_pickle=False) as z:
        return IdMap(z["raw"], kind)
