"""The HTTP API and the web page: FastAPI over one run folder and its SQLite files.

:func:`create_app` opens everything at start (run folder, model, store, profiles) and
fails with one :class:`~cinerec.errors.CinerecError` line when something is missing or
damaged, so ``cinerec serve`` never starts half-working. Ids are translated at this
edge only: paths and bodies carry raw MovieLens ids, the model sees indices.

Known users are answered from the exported store when it matches the served model and
run, else scored live. New people (``POST /recommendations``, saved profiles) are scored
on the spot. Every list and reason, stored or live, comes from
:class:`cinerec.serving.lists.Lists`: a list never holds a movie the person rated, and a
reason only ever names a movie they liked.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import re
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated, Any, AsyncIterator, Iterable, Mapping, Sequence
from urllib.parse import unquote

import numpy as np
from fastapi import Body, FastAPI, HTTPException, Path as PathParam, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.convertors import PathConvertor, register_url_convertor
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictInt, StrictStr, field_validator, model_validator

import cinerec
from cinerec.data.dataset import INTEGER_ID, other_ids
from cinerec.data.history import is_implicit
from cinerec.errors import CinerecError, ConfigError, DataError, NotFoundError, Unavailable
from cinerec.io import json_text
from cinerec.runs import open_run
from cinerec.serving.lists import POPULAR, Lists, after_filters, outside_scale, verdicts_said
from cinerec.serving.search import LIST_LIMIT, QUERY_LIMIT, MovieSearch
from cinerec.serving.store import check_url, created_on_disk, is_postgres, open_profiles, open_store

__all__ = ["create_app", "Service", "MAX_BODY_BYTES", "MAX_IDS", "MAX_K"]

MAX_BODY_BYTES = 64 * 1024
MAX_IDS = 500
MAX_K = 100
WEB_DIR = Path(__file__).with_name("web")



def _whole(value: Any) -> Any:
    """A whole number written with a point (5.0) as the integer it is, as JSON and the
    schema's ``integer`` read it; anything else as given, for the strict check."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


# Strict types: true is no movie id, and "4" no number of stars (a number is one, not a string).
MovieId = Annotated[StrictInt | StrictStr, BeforeValidator(_whole), Field(description="a raw movie id, e.g. 50")]
K = Annotated[int, Query(ge=1, le=MAX_K, description=f"how many (1–{MAX_K})")]
# No length bound: a catalogue's genre names may be long, and any other is an unknown genre.
Genre = Annotated[str | None, Query(description="only movies of this genre")]
# The range is the served data's (``Service.stars_range``), checked where a body is taken.
Stars = Annotated[float, Field(allow_inf_nan=False, strict=True,
                               description="stars on the data's own scale (/health: stars_range, e.g. 1 to 5 on ml-100k)")]



class _AnyPath(PathConvertor):
    """The rest of the path, line breaks included: a raw id may hold one (a quoted field
    of a CSV log), and starlette's ``path`` stops at it, so ``/movies/m%0A1`` met no route
    and answered a bare "Not Found" instead of that movie or "no movie id"."""

    regex = r"[\s\S]*"


register_url_convertor("rawid", _AnyPath())


class _NoProfilePath(PathConvertor):
    """Whatever follows ``/profiles/`` that no profile route takes: an id with a slash in it
    (``a%2F`` arrives as ``a/``), or an empty one. Without a route of its own, starlette
    redirected ``/profiles/a/`` to ``/profiles/a``, another profile, instead of answering
    that there is no profile ``a/``."""

    regex = r"(?![^/]+(?:/ratings(?:/[\s\S]*)?)?$)[\s\S]+"


register_url_convertor("noprofile", _NoProfilePath())

# -- request and response bodies -----------------------------------------------------------


def _history_schema(schema: dict[str, Any]) -> None:
    """What :class:`History` checks, in its schema too: one of the two, 1 to ``MAX_IDS`` movies."""
    schema["examples"] = [{"liked": [50, 181, 172]}, {"ratings": {"50": 5, "127": 4.5}}]
    schema["oneOf"] = [{"required": ["liked"], "properties": {"liked": {"type": "array"}}},
                       {"required": ["ratings"], "properties": {"ratings": {"type": "object"}}}]
    for name, kind, least, most in (("liked", "array", "minItems", "maxItems"),
                                    ("ratings", "object", "minProperties", "maxProperties")):
        for branch in schema["properties"][name].get("anyOf", []):
            if branch.get("type") == kind:
                branch.update({least: 1, most: MAX_IDS})


class History(BaseModel):
    """What a person tells about themselves: ratings (stars) or plain likes, not both."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_history_schema)

    ratings: dict[str, Stars] | None = Field(None, description="movie id → stars (within /health's stars_range)")
    liked: list[MovieId] | None = Field(None, description="movie ids the person liked")

    @field_validator("ratings", "liked")
    @classmethod
    def _size(cls, value: Any) -> Any:
        if value is not None and len(value) == 0:
            raise ValueError("must name at least one movie")
        if value is not None and len(value) > MAX_IDS:
            raise ValueError(f"at most {MAX_IDS} movies, got {len(value)}")
        return value

    @model_validator(mode="after")
    def _one_of(self) -> "History":
        if (self.ratings is None) == (self.liked is None):
            raise ValueError("give exactly one of 'ratings' or 'liked'")
        return self

    def as_mapping(self) -> dict[str, float | None]:
        if self.ratings is not None:
            return {str(m): float(s) for m, s in self.ratings.items()}
        return {str(m): None for m in self.liked or []}

    @property
    def field(self) -> str:
        return "ratings" if self.ratings is not None else "liked"


class ColdStartRequest(History):
    k: Annotated[int, BeforeValidator(_whole)] = Field(10, ge=1, le=MAX_K, strict=True,
                                                       description="how many recommendations")
    genre: str | None = Field(None, description="only movies of this genre")


class Problem(BaseModel):
    """An answer other than a validation error's: what was wrong, in one line."""

    detail: str


class Movie(BaseModel):
    # (every answer carries every field, those with a default too: required in the schema)
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    movie_id: int | str
    title: str
    year: int | None
    genres: list[str]
    same_film: list[int | str] = Field(
        default_factory=list, description="the film's other ids, where the catalogue lists it more than once "
                                          "(same title, year and genres): to a person they are one film")


class Recommendation(Movie):
    score: float
    reason: str | None = Field(None, description="why: 'because you liked <title>' (always a movie the person liked), "
                                                  "or a plain sentence when no liked movie explains it")
    reason_movie_id: int | str | None = None


class SimilarMovie(Movie):
    similarity: float


class RecommendationList(BaseModel):
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    source: str = Field(description="'store', 'live', 'history' or 'popular'")
    recommendations: list[Recommendation]
    notes: list[str] = Field(default=[], description="what `cinerec recommend` says beside the same list: that none "
                             "of the movies given counts as liked (the list is then the most rated movies), or why "
                             "the list is shorter than k")


class UserRecommendations(RecommendationList):
    user_id: int | str


class ProfileCreated(BaseModel):
    profile_id: str


class Health(BaseModel):
    status: str = Field(description="'ok', or 'degraded' when the profiles cannot be read or saved, or the run "
                                    "was trained again since it was loaded (profiles or run_stale say why)")
    run_stale: str | None = Field(description="why the run served is not the run folder's now, or null")
    cinerec: str
    model: str
    models: list[str]
    can_score_history: bool
    dataset: str
    synthetic: bool = Field(description="a made-up release (cinerec data synthesize)")
    run: str
    users: int
    movies: int
    ratings: int
    genres: list[str]
    stars_range: list[float] = Field(description="the lowest and highest stars a rating may give")
    store: dict[str, Any] | None = Field(description="the store's path, model, k, exported_at, age_s and stale "
                                                     "(why lists are scored live, or null); null without a store")
    profiles: int | str = Field(description="how many profiles are saved, or, when degraded, why they cannot be "
                                            "read or saved")


#: Answers besides a route's own, as its schema declares them.
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "no such movie, user or profile (named by its raw id)"}}
UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"model": Problem, "description": "the database behind the store or the profiles is out of reach, or the "
                                           "server stopped while the request came: nothing was done, send it again"}}
BODY: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "a body that is no text in an encoding JSON allows, or cannot be parsed"},
    413: {"model": Problem, "description": f"a body over {MAX_BODY_BYTES // 1024} KiB"},
    415: {"model": Problem, "description": "a body not sent as application/json"}, **UNAVAILABLE}


class Profile(RecommendationList):
    profile_id: str
    ratings: dict[str, float | None] = Field(description="movie id → stars, null for a like")
    movies: list[Movie]


# -- the service ---------------------------------------------------------------------------


class Service:
    """Everything the endpoints need, opened once: run, model, store, profiles, search."""

    def __init__(self, run_dir: str | os.PathLike, db: str | os.PathLike | None = None,
                 model: str | None = None, profiles: str | os.PathLike | None = None) -> None:
        # Whole paths: /health and the stale-store message name them, whatever folder the
        # server was started in (a relative "run" read oddly beside the store's whole one).
        self.run = open_run(os.path.realpath(run_dir))  # (.. read as the system reads it, past a link)
        #: ``serve --workers``: the run.json stamp of the run the server started with
        self.started_with: str | None = None
        self.dataset = self.run.dataset
        for given, flag in ((db, "--db"), (profiles, "--profiles")):
            if given is not None:
                check_url(given, flag)  # (a URL refused as such, before it could be read as a relative path)
        if db is not None and not is_postgres(db):
            db = os.path.realpath(db)
        if profiles is not None and not is_postgres(profiles):
            profiles = os.path.realpath(profiles)
        self.store = open_store(db) if db is not None else None
        self.model_name = model or self._stored_model() or self.run.default_model
        self.model = self.run.model(self.model_name)
        ds = self.dataset
        try:
            self.lists = Lists(ds, self.model)
        except DataError as e:
            raise DataError(f"{self.run.path}: {e}") from None
        # Stars a person may give: the source's own scale (ml-100k 1 to 5, a log 0 to 10),
        # or 1 to 1 for a log of plain events. The page maps its 5 stars onto it (likes
        # alone where the scale is one number).
        self.stars_range = self.lists.stars_range
        self.popularity = ds.interactions.item_counts
        self.search = MovieSearch(ds.catalog, self.popularity)
        self.records = [self.lists.record(i) for i in range(ds.n_items)]
        # Raw id (as text) → index: one dict probe per id instead of a pandas lookup.
        self._items = _id_table(ds.item_ids)
        self._users = _id_table(ds.user_ids)
        # A film the catalogue lists under two ids names the other in every answer (the page
        # shows it once): raw id -> the other ids, of the movies that have one.
        # (an id a filter of the run dropped among them: its twin, the film under another id
        # that the run kept, names it)
        self._same_film: dict[Any, list[Any]] = {self.records[i]["movie_id"]: ids
                                                 for i, ids in other_ids(ds, self.lists.twins).items()}
        # A movie a filter of the run dropped whose twin (the same film under another id,
        # title_twins) it kept: a profile that rated it has seen the twin.
        self._twin_kept: dict[str, list[int]] = {}
        for dropped, kept in ds.info.get("dropped_twins") or []:
            if (i := self.find_item(kept)) is not None:
                self._twin_kept.setdefault(_id_key(dropped, self._items[1]), []).append(i)
        self.records = self._films(self.records)
        self.profiles = open_profiles(db, self.run.path, profiles)
        # A database over the network may stop answering: its reads then run on worker
        # threads, never on the event loop, which would hold every other request with them.
        self.remote = any(getattr(x, "remote", False) for x in (self.store, self.profiles))

    def _stored_model(self) -> str | None:
        """The model the store was exported from, when it is one of this run's and the store
        matches it: without ``--run-model``, a store of EASE's lists exported with
        ``export --run-model ease`` served the run's best model instead, every list scored live."""
        if self.store is None:
            return None
        name = self.store.info.model
        return name if name in self.run.model_names and self.store.info.stale_reason(self.run, name) is None else None

    def close(self) -> None:
        """As the server stops: close the profiles' connections (SQLite then removes its
        ``-wal`` and ``-shm`` files, which would say a server still has them open)."""
        self.profiles.close_all()
        close = getattr(self.store, "close", None)  # (PostgreSQL's pool; SQLite's read-only files need nothing)
        if close is not None:
            close()

    # ids at the edge ---------------------------------------------------------------------

    def find_item(self, movie_id: Any) -> int | None:
        """Index of a raw movie id, ``None`` for anything unknown or malformed."""
        return _find(self._items, movie_id)

    def item_index(self, movie_id: Any) -> int:
        idx = self.find_item(movie_id)
        if idx is None:
            raise NotFoundError(self.unknown_movie(movie_id))
        return idx

    def unknown_movie(self, movie_id: Any) -> str:
        """What is said of a movie id the run does not know: a filter may have dropped it."""
        return f"unknown movie id {_echo(movie_id)}{self._kept(self.dataset.n_items, 'movies')}"

    def user_index(self, user_id: Any) -> int:
        idx = _find(self._users, user_id)
        if idx is None:  # an id the source has may be one the run's filters dropped: said so
            raise NotFoundError(f"unknown user id {_echo(user_id)}{self._kept(self.dataset.n_users, 'users')}")
        return idx

    def _kept(self, n: int, what: str) -> str:
        """``" (the run's data has 150 movies, after the filter top_movies=150)"`` when filters
        dropped some of ``what``; nothing otherwise. Without the count, "unknown movie id 5
        (after the filter kcore=5,5)" read as if the filter had dropped an id the data never had."""
        steps = after_filters(self.dataset, what)
        return f" (the run's data has {n:,} {what}{steps})" if steps else ""

    # store state -----------------------------------------------------------------------------

    def store_state(self, refresh: bool = False) -> dict[str, Any] | None:
        """The store's path, model, k, age and staleness; ``refresh`` first notices a re-export."""
        if self.store is None:
            return None
        try:
            info = self.store.refresh() if refresh else self.store.info
        except DataError as e:  # removed or damaged since: lists are scored live meanwhile
            return {"path": str(self.store.info.path), "stale": f"unreadable ({e}); scoring live"}
        return {"path": str(info.path), "model": info.model, "k": info.k, "exported_at": info.exported_at,
                "age_s": round(info.age_s, 1), "stale": info.stale_reason(self.run, self.model_name)}

    def _fresh_store(self) -> tuple[Any, Any]:
        """The store and the info it was found fresh by, or ``(None, None)``: a list read
        from it must come from that export (another may land meanwhile)."""
        if self.store is None:
            return None, None
        try:
            info = self.store.refresh()  # notices a re-export
        except DataError:
            return None, None
        return (self.store, info) if info.stale_reason(self.run, self.model_name) is None else (None, None)

    # recommendations -----------------------------------------------------------------------

    def _genre_exclude(self, genre: str | None) -> np.ndarray | None:
        if not genre:
            return None
        return ~self.search.filter_mask(genre=genre)

    def user_recommendations(self, user: int, k: int, genre: str | None) -> tuple[str, list[dict[str, Any]]]:
        source, recs, _ = self.user_list(user, k, genre)
        return source, recs

    def user_list(self, user: int, k: int, genre: str | None) -> tuple[str, list[dict[str, Any]], int]:
        """Where user index ``user``'s list came from ("store" or "live"), its movies, and
        the length its lists were made at (a store's: its export's ``k``)."""
        # A model that shortlists (two stages) shortlists within the genre asked for: the
        # stored list, cut to the genre, is another list, so a genre list is scored live.
        store: Any = None
        info: Any = None
        if not (genre and self.lists.model.shortlists):
            store, info = self._fresh_store()
        if store is not None and k <= info.k:
            try:  # (from the export found fresh above: one exported since is refused, and scored live)
                items, scores, reasons = store.recommendations(user, info.k if genre else k, info)
                if len(items) and (items.max() >= self.dataset.n_items or reasons.max() >= self.dataset.n_items):
                    raise DataError(f"{info.path}: holds a movie index outside this run's catalogue")
            except (DataError, sqlite3.Error):  # damaged since it was checked: scored live instead
                store = None
        if store is not None and k <= info.k:
            if genre:
                on = self.search.filter_mask(genre=genre)[items]
                items, scores, reasons = items[on], scores[on], reasons[on]
            # Without a genre the stored list is complete (shorter only when the user has
            # seen nearly everything); a list cut down by a genre may run short, and then
            # it is scored live instead. So is one reaching the movies listed for their
            # popularity: a genre's list fills with that genre's most rated movies, which
            # the catalogue-wide fill cut down to the genre need not hold.
            if not genre or (len(items) >= k and not (reasons[:k] == POPULAR).any()):
                return "store", self._records(items[:k], scores[:k], reasons[:k]), int(info.k)
        items, sc, reasons = self.lists.for_users([user], k, off=self._genre_exclude(genre))
        return "live", self._records(items[0], sc[0], reasons[0]), k

    def twins_kept(self, movie_ids: Iterable[Any]) -> list[int]:
        """The movies (indices) this run holds as the twins of ``movie_ids``, movies a
        filter of the run dropped (a profile saved before it rated them)."""
        return [i for m in movie_ids for i in self._twin_kept.get(_id_key(m, self._items[1]), [])]

    def history_recommendations(self, ratings: Mapping[str, float | None], k: int, genre: str | None,
                                field: str = "ratings", seen: Sequence[int] = ()) -> tuple[str, list[dict[str, Any]]]:
        """Recommendations for someone described only by ``{movie_id: stars or None}``,
        never the movies ``seen`` (indices) either."""
        if not ratings:
            return "popular", self.popular(k, genre, seen)
        idx = []
        for pos, m in enumerate(ratings):
            i = self.find_item(m)
            if i is None:
                raise _unknown_in_body(self, field, pos, m)
            idx.append(i)
        # One entry per movie: "050" and "50" are one movie, given alike or refused.
        given: dict[int, tuple[str, float | None]] = {}
        for i, (m, s) in zip(idx, ratings.items()):
            if i in given and given[i][1] != s:  # which stars would count?
                raise _given_twice(field, given[i], (m, s))
            given[i] = (m, s)
        # One film under two ids (a twin in the catalogue), liked under one and rated low under the other.
        if (clash := next(self.lists.twin_clashes(list(given), [v[1] for v in given.values()]), None)) is not None:
            a, b = (list(given)[pos] for pos in clash)
            raise _given_twice(field, given[a], given[b], film=self.lists.film_words(a))
        items_given = np.array(sorted(given), dtype=np.int64)
        values = [given[i][1] for i in items_given.tolist()]
        stars = np.array([1.0 if v is None else float(v) for v in values], dtype=np.float32)
        is_like = np.array([v is None for v in values])
        off = self._genre_exclude(genre)
        if len(seen):
            off = np.zeros(self.dataset.n_items, dtype=bool) if off is None else off.copy()
            off[np.asarray(seen, dtype=np.int64)] = True
        items, sc, reasons = self.lists.for_history(items_given, stars, is_like, k, off=off)
        return "history", self._films(self.lists.records(items, sc, reasons, stars=self.lists.history_in_stars))

    def user_notes(self, user: int, k: int, genre: str | None, listed: int, made: int | None = None) -> list[str]:
        """What is said beside user index ``user``'s list of ``listed`` movies, as ``cinerec
        recommend`` says it: that it is short because they rated the other movies, and that
        it came through an approximate index (its lists made ``made`` long: a store's are
        its export's length)."""
        if genre:
            return []
        short = self.lists.short_for_user(user, k, listed)
        index = self.lists.index_note(self.model_name, k=k if made is None else made, users=[user])
        return ([] if short is None else [short]) + index

    def history_notes(self, ratings: Mapping[str, float | None], k: int, genre: str | None, listed: int,
                      seen: Sequence[int] = ()) -> list[str]:
        """What is said beside the list of ``listed`` movies for someone described by
        ``{movie_id: stars or None}`` (and movie indices ``seen``), as ``cinerec recommend
        --liked/--ratings`` says it: that none of it counts as liked, so the list is the
        most rated movies, and that it is short because they gave the other movies."""
        if not ratings:
            return []
        notes = []
        unliked = self.lists.nothing_liked([m for m, s in ratings.items() if s is None],
                                           {m: s for m, s in ratings.items() if s is not None})
        if unliked is not None and listed:  # (no list: nothing to say of how it was made)
            notes.append(unliked)
        given = np.array([self.item_index(m) for m in ratings] + list(seen), dtype=np.int64)
        short = None if genre else self.lists.short_for_history(given, k, listed)
        return notes + ([] if short is None else [short])

    def popular(self, k: int, genre: str | None, seen: Sequence[int] = ()) -> list[dict[str, Any]]:
        skip = set(seen)
        items = [i for i in self.search.search("", genre=genre, limit=k + len(skip)) if i not in skip][:k]
        out = []
        for i in items:
            rec = dict(self.records[i], score=float(self.popularity[i]),
                       reason=self.lists.popularity_reason(i), reason_movie_id=None)
            out.append(rec)
        return out

    def similar(self, item: int, k: int) -> list[dict[str, Any]]:
        items, sims = self.lists.similar(item, k)
        return [dict(self.records[i], similarity=float(s)) for i, s in zip(items, sims)]

    def _records(self, items: np.ndarray, scores: np.ndarray, reasons: np.ndarray) -> list[dict[str, Any]]:
        return self._films(self.lists.records(items, scores, reasons))

    def _films(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """``records``, each with ``same_film``: the movie's other ids, if any (:class:`Movie`)."""
        return [dict(r, same_film=self._same_film.get(r["movie_id"], [])) for r in records]

    def _profile_count(self) -> int | str:
        unwritable = getattr(self.profiles, "unwritable", None)
        try:
            count = int(self.profiles.count())
            why = unwritable() if unwritable is not None else None
        except Unavailable as e:  # /health reports it rather than failing
            return f"unreadable ({e})"
        if why:
            return f"{count} readable, none can be saved ({why})"
        failed = getattr(self.profiles, "last_failure", None)  # (a full disk: the file itself can be written)
        return f"{count} readable, {failed}" if failed else count

    def health(self) -> dict[str, Any]:
        ds = self.dataset
        # The store and the profiles are read at once: from a database that hangs, each
        # read gives up after QUERY_WAIT_S, and one after the other /health took twice that.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="cinerec-health") as pool:
            counting = pool.submit(self._profile_count)
            store = self.store_state(refresh=True)
            profiles = counting.result()
        # A run trained again into the same folder: this server still holds the old one.
        loaded = str(self.run.meta.get("created", ""))
        on_disk = created_on_disk(self.run.path)
        stale = ("the run folder was written again after this server loaded it: restart the server to serve "
                 "the new run") if on_disk not in (None, loaded) else None
        if on_disk is None:  # removed, or being written again right now
            stale = (f"the run folder's run.json is gone or unreadable since this server loaded it ({self.run.path}): "
                     "the server answers with the run it loaded, and neither a restart nor a worker started again "
                     "could load it")
        if self.started_with is not None and self.started_with != loaded:
            # A worker started again after the run was re-written: its siblings serve the old run.
            stale = ("this process of the server started after the run folder was written again and serves the "
                     "new run, while the others serve the run the server started with: restart the server")
        return {
            # "degraded": the profiles' database is out of reach or cannot be written (lists
            # still answer, live), or the run was trained again since it was loaded
            "status": "ok" if isinstance(profiles, int) and stale is None else "degraded",
            "run_stale": stale,
            "cinerec": cinerec.__version__,
            "model": self.model_name,
            "models": self.run.model_names,
            "can_score_history": bool(self.model.can_score_history),
            "dataset": ds.name,
            "synthetic": bool(ds.info.get("synthetic")),  # a made-up release (cinerec data synthesize)
            "run": str(self.run.path),
            "users": ds.n_users,
            "movies": ds.n_items,
            "ratings": len(ds.interactions),
            "genres": list(ds.catalog.present_genres),
            "stars_range": list(self.stars_range),
            "store": store,
            "profiles": profiles,
        }


def _id_table(ids: Any) -> tuple[dict[str, int], bool, Any]:
    return {str(r): i for i, r in enumerate(ids.raw.tolist())}, ids.raw.dtype.kind == "i", ids


def _ends_in_route_word(request: Request, word: str) -> bool:
    """Whether the path as sent ends in ``/word`` after a slash written as one (its letters
    may be percent-encoded), not after an id's ``%2F`` (``/users/u%2Frecommendations``)."""
    raw = request.scope.get("raw_path")
    if raw is None:
        return True
    return unquote(raw.split(b"?")[0].rsplit(b"/", 1)[-1].decode("latin-1")) == word


def _id_key(raw: Any, integer: bool) -> str:
    """A raw id as text, whichever way it was written ("050" is 50 where ids are numbers)."""
    text = str(raw).strip()
    return str(int(text)) if integer and INTEGER_ID.fullmatch(text) else text


def _find(table: tuple[dict[str, int], bool, Any], raw: Any) -> int | None:
    """Index of a raw id, ``None`` for anything unknown or malformed (never an exception)."""
    index, integer, ids = table
    found = index.get(str(raw))  # as written, spaces and all ("  padded" is an id a log may hold)
    if found is not None:
        return found
    text = str(raw).strip()
    found = index.get(text)
    if found is None and integer:
        found = index.get(_id_key(text, integer))  # "050" and "+50" name movie 50
    if found is None and not integer and not text.isascii():
        found = ids.get(text)  # "é" as one character or two (IdMap: Unicode's composed form)
    return found



# -- the app ---------------------------------------------------------------------------------


class _HeadAsGet:
    """ASGI middleware: answer ``HEAD`` as the same ``GET`` would, headers only.

    FastAPI routes declared with ``@app.get`` answer ``HEAD`` with 405; HTTP says a
    ``HEAD`` gets the ``GET``'s status and headers (``curl -I``, link checkers, probes).
    A path with no ``GET`` still answers 405, naming the methods it takes.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: dict) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)


class _NoStoreProfiles:
    """ASGI middleware: ``Cache-Control: no-store`` on every answer under ``/profiles``.

    A profile's id is all it takes to read and change it (its link): a shared cache or
    the browser's history keeps no copy of what a profile holds.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/profiles"):
            await self.app(scope, receive, send)
            return

        async def no_store(message: dict) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"cache-control"]
                message = {**message, "headers": [*kept, (b"cache-control", b"no-store")]}
            await send(message)

        await self.app(scope, receive, no_store)


class _BodyLimit:
    """ASGI middleware: answer 413 to request bodies over ``limit`` bytes, declared or streamed."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    too_big = int(value) > self.limit
                except ValueError:
                    too_big = False
                if too_big:
                    await self._reject(send)
                    return
        # Bodies here are small (ids and stars), so read the whole body first, up to the
        # limit, then hand it on: the app never sees a body over the limit.
        parts, size = [], 0
        while True:
            try:
                message = await receive()
            except asyncio.CancelledError:  # the server stopped (its grace over) while the body still came
                await _send_json(send, 503, {"detail": "the server stopped before the request's body had "
                                                       "arrived; nothing was done: send it again"})
                return
            if message["type"] != "http.request":
                return  # the client went away
            size += len(message.get("body", b""))
            if size > self.limit:
                await self._reject(send)
                return
            parts.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body, replayed = b"".join(parts), False
        if body and _BODY_ROUTE.fullmatch(f"{scope.get('method')} {scope.get('path')}") \
                and (repeated := _repeated_key(body)) is not None:
            # A JSON reader keeps one of a key given twice ({"50": 5, "50": 1}: the 1) and
            # drops the other without a word; one movie given twice is refused instead.
            await _send_json(send, 422, {"detail": [{"loc": ["body"], "type": "value_error",
                                                     "msg": f"{_echo(repeated)} is given twice in one JSON object: "
                                                            "give it once"}]})
            return

        async def replay() -> dict:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        started = False

        async def sending(message: dict) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, replay, sending)
        except asyncio.CancelledError:  # the server stopped (its grace over) while the request was worked on
            if started:
                raise
            # (a change to a profile runs on in its thread: it may yet be saved)
            method, path = scope.get("method"), scope["path"]
            words = "the server stopped before it could answer: ask again"
            if method == "POST" and path.rstrip("/") == "/profiles":
                words = ("the server stopped while the profile was being made; it may or may not have been saved: "
                         "make it again")
            elif method in ("PUT", "DELETE") and path.startswith("/profiles"):
                words = ("the server stopped while this change was being made; it may or may not have been saved: "
                         "read the profile to see")
            await _send_json(send, 503, {"detail": words})

    async def _reject(self, send: Any) -> None:
        await _send_json(send, 413, {"detail": f"request body over {self.limit} bytes"})


class _EachParameterOnce:
    """ASGI middleware: refuse a query parameter the route reads given twice
    (``?genre=Comedy&genre=Drama``), which was read as the last and the other dropped
    without a word. Parameters no route reads (a link's ``?utm=``) are left alone, as one
    given once is. A query without ``&`` holds no name twice: passed on at once (the hot
    route's cost), and the route is looked up only for one that does."""

    def __init__(self, app: Any, routes: Any) -> None:
        self.app, self.routes = app, routes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        query = scope.get("query_string", b"") if scope["type"] == "http" else b""
        if b"&" in query and (twice := self._twice(scope, query)) is not None:
            await _send_json(send, 422, {"detail": [{"loc": ["query", twice], "type": "value_error",
                                                     "msg": f"the query parameter {twice!r} is given twice: "
                                                            "give it once"}]})
            return
        await self.app(scope, receive, send)

    def _twice(self, scope: dict, query: bytes) -> str | None:
        from urllib.parse import parse_qsl

        from starlette.routing import Match

        route = next((r for r in self.routes() if r.matches(scope)[0] is Match.FULL), None)
        read = {p.alias for p in getattr(getattr(route, "dependant", None), "query_params", ())}
        seen: set[str] = set()
        for name, _ in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
            if name in read and name in seen:
                return name
            seen.add(name)
        return None


async def _send_json(send: Any, status: int, value: Any) -> None:
    body = json_text(value, ensure_ascii=False, separators=(",", ":")).encode()  # (as every other answer is written)
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


#: The routes that read a JSON body (method and path): their bodies are checked for a key
#: given twice; any other path is the router's to answer (404, 405).
_BODY_ROUTE = re.compile(r"POST /recommendations|POST /profiles|PUT /profiles/[^/]+/ratings")


class _Repeated(Exception):
    pass


def _repeated_key(body: bytes) -> str | None:
    """The first key a JSON body gives twice in one object, or ``None`` (also for a body
    that is no JSON: the route says what is wrong with it)."""
    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for key, value in items:
            if key in seen:
                raise _Repeated(key)
            seen[key] = value
        return seen

    try:
        json.loads(body, object_pairs_hook=pairs)
    except _Repeated as e:
        return str(e.args[0])
    except (ValueError, RecursionError):
        return None
    return None


def create_app(run_dir: str | os.PathLike, db: str | os.PathLike | None = None, model: str | None = None,
               profiles: str | os.PathLike | None = None) -> FastAPI:
    """The FastAPI app serving one run folder.

    Args:
        run_dir: a finished run folder (``cinerec quickstart`` or any run writer).
        db: an exported store (``cinerec export``); without one, every list is scored live.
        model: which of the run's models; the run's default when ``None``.
        profiles: the profiles file; beside ``db`` (or in the run folder) when ``None``.

    Raises:
        CinerecError: the run folder, model or store is missing or damaged.
    """
    svc = Service(run_dir, db, model, profiles)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:  # the server stops (Ctrl-C, SIGTERM, the end of a test's client)
            svc.close()

    app = FastAPI(title="cinerec", version=cinerec.__version__, lifespan=lifespan,
                  description="Movie recommendations with reasons, from a cinerec run folder.")
    app.state.service = svc

    @app.exception_handler(NotFoundError)
    async def _not_found(request: Request, exc: NotFoundError) -> JSONResponse:
        return JSONResponse({"detail": _json_safe(str(exc))}, status_code=404)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's own answer, except that a rejected NaN or infinity, or a lone surrogate
        # (which JSON or UTF-8 cannot hold), is echoed back as text instead of failing as a 500.
        errors = exc.errors()
        kind = request.headers.get("content-type", "")
        if any(tuple(e.get("loc", ())) == ("body",) and e.get("type") == "model_attributes_type" for e in errors) \
                and kind.split(";")[0].strip().lower() != "application/json":
            # A JSON body sent as a form or text reaches the model as one string.
            said = f"it came as {kind!r}" if kind else "it came with none"
            return JSONResponse({"detail": f"send the body as JSON, with Content-Type: application/json ({said})"},
                                status_code=415)
        return JSONResponse({"detail": _json_safe(jsonable_encoder([_short_input(e) for e in _one_per_id(errors)]))},
                            status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # FastAPI's own answer, with a text it echoes back made safe for JSON and UTF-8.
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:  # (the router names the methods of the first route whose path matches)
            headers = {k: v for k, v in headers.items() if k.lower() != "allow"}
            headers["allow"] = ", ".join(_methods_of(app, request.scope))
        return JSONResponse({"detail": _json_safe(exc.detail)}, status_code=exc.status_code, headers=headers or None)

    @app.exception_handler(Unavailable)
    async def _unavailable(request: Request, exc: Unavailable) -> JSONResponse:
        # The database behind the store or the profiles is down: not the request's fault.
        return JSONResponse({"detail": _json_safe(str(exc))}, status_code=503, headers={"Retry-After": "5"})

    @app.exception_handler(CinerecError)
    async def _bad_input(request: Request, exc: CinerecError) -> JSONResponse:
        return JSONResponse({"detail": [{"loc": [], "msg": _json_safe(str(exc)), "type": "value_error"}]}, status_code=422)

    @app.get("/health", response_model=Health, tags=["service"])
    async def health() -> dict[str, Any]:
        """Model, dataset, counts and the store's age and freshness."""
        return await run_in_threadpool(svc.health) if svc.remote else svc.health()

    @app.get("/movies", response_model=list[Movie], tags=["movies"])
    async def movies(query: Annotated[str, Query(max_length=QUERY_LIMIT,
                                                 description="title words, partial, any case or accents")] = "",
                     genre: Genre = None,
                     year_from: Annotated[int | None, Query(ge=0, le=9999)] = None,
                     year_to: Annotated[int | None, Query(ge=0, le=9999)] = None,
                     limit: Annotated[int, Query(ge=1, le=LIST_LIMIT)] = 20) -> list[dict[str, Any]]:
        """Search the catalog by title; best matches, then the most rated, first."""
        _check_genre(svc, genre, "genre")
        if year_from is not None and year_to is not None and year_from > year_to:  # (none could pass: a slip)
            raise HTTPException(422, [{"loc": ["query", "year_to"], "type": "value_error",
                                       "msg": f"year_to {year_to} is before year_from {year_from}: no year is both"}])
        return [svc.records[i] for i in svc.search.search(query, genre=genre, year_from=year_from, year_to=year_to, limit=limit)]

    # Raw ids may hold "/" (sent as %2F): the id parameters take the rest of the path, so
    # the routes that end after an id come first.
    @app.get("/movies/{movie_id:rawid}/similar", response_model=list[SimilarMovie], tags=["movies"],
             responses=NOT_FOUND)
    def similar(request: Request, movie_id: Annotated[str, PathParam(description="raw movie id")],
                k: K = 10) -> Any:
        """The movies most like this one (``model.similar_items``), those with a positive
        similarity: fewer than ``k`` when fewer have anything in common with it."""
        if not _ends_in_route_word(request, "similar"):
            # The path ended in "%2Fsimilar": one movie whose id ends so, not its similar movies.
            record = svc.records[svc.item_index(f"{movie_id}/similar")]
            return JSONResponse(jsonable_encoder(Movie.model_validate(record)))
        return svc.similar(svc.item_index(movie_id), k)

    @app.get("/similar", response_model=list[SimilarMovie], tags=["movies"],
             responses=NOT_FOUND)
    def similar_named(movie_id: Annotated[str, Query(description="raw movie id")], k: K = 10) -> Any:
        """The movies most like this one, its id in the query: the form for the ids "." and
        "..", which a client takes out of a path (``/movies/./similar`` is sent as
        ``/movies/similar``)."""
        return svc.similar(svc.item_index(movie_id), k)

    @app.get("/movies/{movie_id:rawid}", response_model=Movie, tags=["movies"], responses=NOT_FOUND)
    async def movie(movie_id: Annotated[str, PathParam(description="raw movie id")]) -> dict[str, Any]:
        return svc.records[svc.item_index(movie_id)]

    @app.get("/users/{user_id:rawid}/recommendations", response_model=UserRecommendations, tags=["recommendations"],
             responses={**NOT_FOUND, **UNAVAILABLE})
    async def user_recs(request: Request, user_id: Annotated[str, PathParam(description="raw user id")],
                        k: K = 10, genre: Genre = None) -> Any:
        """A known user's top-k unseen movies: from the store when fresh, else scored live."""
        if not _ends_in_route_word(request, "recommendations"):
            # The path ended in "%2Frecommendations": one id, "u/1/recommendations", and no
            # route answers for a user alone (it is not user "u/1"'s list).
            return JSONResponse({"detail": "Not Found"}, status_code=404)
        # The hot path: an indexed SQLite read, answered on the event loop (no thread hop;
        # PostgreSQL's on a worker thread) and sent as built (the values are plain JSON
        # already, no second validation).
        u = svc.user_index(user_id)
        _check_k(svc, k)
        _check_genre(svc, genre, "genre")
        source, recs, made = await run_in_threadpool(svc.user_list, u, k, genre) if svc.remote else \
            svc.user_list(u, k, genre)
        raw = svc.dataset.user_ids.raw[u]
        user = raw.item() if isinstance(raw, np.generic) else raw
        return JSONResponse({"user_id": user, "source": source, "recommendations": recs,
                             "notes": svc.user_notes(u, k, genre, len(recs), made)})

    @app.get("/users/{rest:rawid}", include_in_schema=False)
    def no_user_route(rest: str) -> JSONResponse:
        """No route answers for a user alone, and a path ending in "%2F" (".../recommendations%2F")
        names no list: a 404, not a redirect to the path without the slash, another list."""
        return JSONResponse({"detail": "Not Found"}, status_code=404)

    @app.post("/recommendations", response_model=RecommendationList, tags=["recommendations"], responses=BODY)
    async def cold_start(body: ColdStartRequest) -> Any:
        """Recommendations for someone the model has never seen, never the movies given."""
        _check_k(svc, body.k, where="body")
        _check_genre(svc, body.genre, "genre", where="body")
        _known(svc, body.as_mapping(), body.field)
        source, recs = svc.history_recommendations(body.as_mapping(), body.k, body.genre, body.field)
        return JSONResponse({"source": source, "recommendations": recs,
                             "notes": svc.history_notes(body.as_mapping(), body.k, body.genre, len(recs))})

    @app.post("/profiles", response_model=ProfileCreated, status_code=201, tags=["profiles"], responses=BODY)
    def create_profile(body: Annotated[History | None, Body()] = None) -> dict[str, Any]:
        """A new saved profile, optionally with first ratings or likes."""
        ratings = body.as_mapping() if body is not None else {}
        if body is not None and ratings:
            _known(svc, ratings, body.field)
        return {"profile_id": svc.profiles.create(_canonical(svc, ratings, body.field if body else 'ratings'))}

    @app.put("/profiles/{profile_id}/ratings", response_model=Profile, tags=["profiles"],
             responses={**NOT_FOUND, **BODY})
    def put_ratings(profile_id: str, body: History,
                    k: K = 10, genre: Genre = None) -> dict[str, Any]:
        """Add or replace ratings (or likes); answers with the updated profile."""
        _check_profile_id(profile_id)
        ratings = body.as_mapping()
        _known(svc, ratings, body.field)
        _check_k(svc, k)
        _check_genre(svc, genre, "genre")
        given = _canonical(svc, ratings, body.field)
        # A film rated again under its other id replaces the verdict given under the first,
        # as the profile stands when the change is written (another at once is seen).
        def forget(stored: dict[str, float | None]) -> list[str]:
            return sorted(_superseded(svc, {**{m: s for m, s in stored.items() if m not in given}, **given}) - set(given))

        twins = svc.lists.twins
        twinned = twins is not None and twins[[svc.item_index(m) for m in given]].nnz > 0
        svc.profiles.set_ratings(profile_id, given, forget=forget if twinned else None)
        return _profile(svc, profile_id, k, genre)

    @app.delete("/profiles/{profile_id}/ratings/{movie_id:rawid}", response_model=Profile, tags=["profiles"],
                responses={**NOT_FOUND, **UNAVAILABLE})
    def delete_rating(profile_id: str, movie_id: str,
                      k: K = 10, genre: Genre = None) -> dict[str, Any]:
        """Forget one movie of a profile."""
        return _forget(profile_id, movie_id, k, genre)

    @app.delete("/profiles/{profile_id}/ratings", response_model=Profile, tags=["profiles"],
                responses={**NOT_FOUND, **UNAVAILABLE})
    def delete_rating_named(profile_id: str,
                            movie_id: Annotated[str, Query(description="raw movie id")],
                            k: K = 10, genre: Genre = None) -> dict[str, Any]:
        """Forget one movie of a profile, its id in the query: the form for the ids "." and
        "..", which a browser takes out of a path (``/ratings/..`` is sent as ``/profiles/ID``)."""
        return _forget(profile_id, movie_id, k, genre)

    def _forget(profile_id: str, movie_id: str, k: int, genre: str | None) -> dict[str, Any]:
        _check_profile_id(profile_id)
        _check_k(svc, k)
        _check_genre(svc, genre, "genre")
        index = svc.find_item(movie_id)  # "050" names movie 50, as when it was saved
        saved = str(svc.records[index]["movie_id"]) if index is not None else str(movie_id)
        if not svc.profiles.remove_rating(profile_id, saved):
            raise NotFoundError(f"profile {profile_id!r} has no rating for movie id {_echo(movie_id)}")
        return _profile(svc, profile_id, k, genre)

    @app.get("/profiles/{profile_id}", response_model=Profile, tags=["profiles"],
             responses={**NOT_FOUND, **UNAVAILABLE})
    def get_profile(profile_id: str, k: K = 10, genre: Genre = None) -> dict[str, Any]:
        """Saved ratings and this person's recommendations."""
        _check_profile_id(profile_id)
        _check_k(svc, k)
        _check_genre(svc, genre, "genre")
        return _profile(svc, profile_id, k, genre)

    @app.delete("/profiles/{profile_id}", status_code=204, tags=["profiles"],
                responses={**NOT_FOUND, **UNAVAILABLE})
    def delete_profile(profile_id: str) -> Response:
        """Remove a saved profile and all its ratings: its link then finds no profile."""
        _check_profile_id(profile_id)
        svc.profiles.delete(profile_id)
        return Response(status_code=204)

    @app.get("/profiles/{profile_id}/ratings", include_in_schema=False)
    @app.get("/profiles/{profile_id}/ratings/{movie_id:rawid}", include_in_schema=False)
    def no_profile_ratings_get(request: Request) -> Any:
        """A GET of a profile's ratings route is a 405; one of a profile id holding
        ``/ratings`` (``a%2Fratings``, which the router reads as that route) is a 404 naming it."""
        raw = request.scope.get("raw_path") or request.scope["path"].encode()
        written = raw.split(b"?")[0]
        written = written[written.find(b"/profiles/") + len(b"/profiles/"):]
        if b"/" in written:  # "/ratings" written as a path: the route, which takes no GET
            allow = "DELETE, PUT" if _ends_in_route_word(request, "ratings") else "DELETE"
            return JSONResponse({"detail": "Method Not Allowed"}, status_code=405, headers={"allow": allow})
        path = request.scope["path"]
        raise NotFoundError(f"unknown profile id {_echo(path[path.find('/profiles/') + len('/profiles/'):])}")

    @app.api_route("/profiles/{rest:noprofile}", methods=["GET", "PUT", "DELETE"], include_in_schema=False)
    def no_such_profile(rest: str, request: Request) -> None:
        """A 404 naming the profile id, never a redirect to another profile: the whole rest
        of the path for a GET, less the ``/ratings`` a PUT or a DELETE names after it."""
        if request.method == "PUT":
            rest = rest.removesuffix("/ratings")
        elif request.method == "DELETE":
            rest = rest.partition("/ratings/")[0] if "/ratings/" in rest else rest.removesuffix("/ratings")
        raise NotFoundError(f"unknown profile id {_echo(rest)}")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(WEB_DIR / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")
    app.add_middleware(_EachParameterOnce, routes=lambda: app.router.routes)
    app.add_middleware(_BodyLimit, limit=MAX_BODY_BYTES)
    app.add_middleware(_HeadAsGet)
    app.add_middleware(_NoStoreProfiles)
    return app


def _check_k(svc: Service, k: int, where: str = "query") -> None:
    """A list longer than a two-stage model's shortlist is a 422 naming ``k``, checked
    before anything is written."""
    limit = getattr(svc.model, "check_list_length", None)
    if limit is not None:
        try:
            limit(k)
        except ConfigError as e:
            raise HTTPException(422, [{"loc": [where, "k"], "msg": str(e), "type": "value_error"}]) from None


def _check_genre(svc: Service, genre: str | None, name: str, where: str = "query") -> None:
    if genre:
        try:
            svc.search.genre_column(genre)
        except ConfigError:
            known = svc.dataset.catalog.present_genres
            msg = (f"unknown genre {_echo(genre)} (known: {', '.join(known)})" if known else
                   f"unknown genre {_echo(genre)}: the run's movies have no genres (its data gave none)")
            raise HTTPException(422, [{"loc": [where, name], "msg": msg, "type": "value_error"}]) from None


#: The most characters of a rejected input an error echoes back.
_ECHO_LIMIT = 200


#: The longest profile id there can be (those given out are 12 characters).
PROFILE_ID_LIMIT = 64


#: Routes that only refuse a method (a GET of a profile's ratings, answered 405): no
#: method of theirs is one the path takes.
_REFUSING_ROUTES = frozenset({"no_profile_ratings_get"})


def _methods_of(app: FastAPI, scope: Mapping[str, Any]) -> list[str]:
    """Every method the routes whose path matches ``scope``'s take, in order: a path two
    routes serve (a profile's GET and DELETE) takes both."""
    from starlette.routing import Match

    taken = {m for route in app.router.routes if route.matches(dict(scope))[0] != Match.NONE
             and getattr(route, "name", None) not in _REFUSING_ROUTES
             for m in getattr(route, "methods", None) or ()}
    return sorted(taken | ({"HEAD"} if "GET" in taken else set()))  # (:class:`_HeadAsGet` answers HEAD)


def _check_profile_id(profile_id: str) -> None:
    """404 for an id longer than any profile's, as for any unknown id (it was a 422)."""
    if len(profile_id) > PROFILE_ID_LIMIT:
        raise NotFoundError(f"unknown profile id {_echo(profile_id)}")


def _echo(value: Any) -> str:
    """A raw id as an error names it, cut to its first ``_ECHO_LIMIT`` characters: a 20 KB
    id in a path came back whole (twice over in a 422)."""
    if isinstance(value, str) and len(value) > _ECHO_LIMIT:
        return f"{value[:_ECHO_LIMIT]!r}... ({len(value):,} characters in all)"
    return repr(value)


def _cut(key: str) -> str:
    """A movie id as a 422's ``loc`` names it, cut as :func:`_echo` cuts it."""
    return key if len(key) <= _ECHO_LIMIT else f"{key[:_ECHO_LIMIT]}..."


def _unknown_in_body(svc: Service, field: str, pos: int, movie_id: str) -> HTTPException:
    """The 422 for a movie id of a request's ``liked`` (at ``pos``) or ``ratings`` the run does not know."""
    loc = ["body", field, _cut(movie_id)] if field == "ratings" else ["body", field, pos]
    return HTTPException(422, [{"loc": loc, "msg": svc.unknown_movie(movie_id), "type": "value_error"}])


def _one_per_id(errors: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """``errors`` with the two that a movie id neither a whole number nor a text gets (one
    for each kind it may be, ``loc`` ending in ``"int"`` and ``"str"``) told as one, at the
    id's own place: what an id may be, not the validator's inner names."""
    # (an id of a list, at its position: a mapping's keys "int" and "str" are ids given, not these)
    places = [tuple(e.get("loc", ())) for e in errors]
    kinds = [(p[:-1], p[-1], e.get("type")) for p, e in zip(places, errors)
             if len(p) >= 2 and isinstance(p[-2], int) and (p[-1], e.get("type")) in (("int", "int_type"),
                                                                                    ("str", "string_type"))]
    both = {at for at, tag, _ in kinds if tag == "int"} & {at for at, tag, _ in kinds if tag == "str"}
    out: list[Mapping[str, Any]] = []
    for error, place in zip(errors, places):
        if len(place) >= 2 and place[:-1] in both and place[-1] in ("int", "str"):
            if place[-1] == "int":
                out.append({"type": "movie_id_type", "loc": list(place[:-1]), "input": error.get("input"),
                            "msg": "Input should be a movie id: a whole number or a text"})
            continue
        out.append(error)
    return out


def _short_input(error: Mapping[str, Any]) -> dict[str, Any]:
    """A validation error with its echoed ``input`` cut short: a 60 KB list of ids came back whole."""
    out = dict(error)
    if "input" in out:
        given = out["input"]  # a text is cut as written, not as JSON quotes and escapes it
        text = given if isinstance(given, str) else json.dumps(jsonable_encoder(given), default=str)
        if len(text) > _ECHO_LIMIT:
            out["input"] = f"{text[:_ECHO_LIMIT]}... ({len(text):,} characters in all)"
    return out


def _json_safe(value: Any) -> Any:
    """``value`` with every non-finite float replaced by its text ("nan", "inf"), and every
    lone surrogate in a text (``"\\ud800"`` in the JSON sent) by U+FFFD, which UTF-8 can hold."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_json_safe(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


_SURROGATE = re.compile("[\ud800-\udfff]")


def _known(svc: Service, ratings: Mapping[str, float | None], field: str) -> None:
    """Every movie given is one the run holds, then every star given is on its scale (a
    movie it does not hold is named so, whatever stars it was given)."""
    for pos, m in enumerate(ratings):
        if svc.find_item(m) is None:
            raise _unknown_in_body(svc, field, pos, m)
    _in_range(svc, ratings)


def _in_range(svc: Service, ratings: Mapping[str, float | None]) -> None:
    """Stars outside the served data's scale are a 422 naming the movie."""
    lo, hi = svc.stars_range
    for m, stars in ratings.items():
        if stars is not None and not lo <= stars <= hi:
            raise HTTPException(422, [{"loc": ["body", "ratings", _cut(m)], "type": "value_error",
                                       "msg": outside_scale(stars, (lo, hi), is_implicit(svc.dataset))}])


def _canonical(svc: Service, ratings: Mapping[str, float | None], field: str) -> dict[str, float | None]:
    """Raw ids as the dataset spells them ("050" and "50" are one movie), each given alike
    or refused, as a cold-start request's are: a saved profile must not keep one of two."""
    out: dict[str, float | None] = {}
    spelled: dict[str, str] = {}
    for m, s in ratings.items():
        raw = str(svc.records[svc.item_index(m)]["movie_id"])
        if raw in out and out[raw] != s:
            raise _given_twice(field, (spelled[raw], out[raw]), (m, s))
        out[raw], spelled[raw] = s, m
    at = [svc.item_index(m) for m in out]
    if (clash := next(svc.lists.twin_clashes(at, list(out.values())), None)) is not None:
        a, b = (list(out)[pos] for pos in clash)
        raise _given_twice(field, (spelled[a], out[a]), (spelled[b], out[b]), film=svc.lists.film_words(at[clash[0]]))
    return out


def _superseded(svc: Service, ratings: Mapping[str, float | None]) -> set[str]:
    """The movies of a profile's ``ratings`` (raw ids, the oldest first) given again later
    under the film's other id (its twin in the catalogue) with another verdict: the later
    one is the person's, and the earlier is forgotten."""
    known = [(m, i) for m in ratings if (i := svc.find_item(m)) is not None]
    newest_first = known[::-1]
    clashes = svc.lists.twin_clashes([i for _, i in newest_first], [ratings[m] for m, _ in newest_first])
    return {newest_first[older][0] for _, older in clashes}


def _given_twice(field: str, first: tuple[str, float | None], then: tuple[str, float | None],
                 film: str | None = None) -> HTTPException:
    """One movie under two spellings with different stars (or liked beside stars), or
    (``film``) one film the catalogue lists under two ids."""
    given = verdicts_said(first[1], then[1])
    one = f"are one film, {film}, under two ids" if film else "name one movie"
    msg = f"movie ids {_cut(first[0])!r} and {_cut(then[0])!r} {one}, {given}: give it once"
    return HTTPException(422, [{"loc": ["body", field, _cut(then[0])], "msg": msg, "type": "value_error"}])


def _profile(svc: Service, profile_id: str, k: int, genre: str | None) -> dict[str, Any]:
    ratings = svc.profiles.get(profile_id)
    # A movie dropped from the catalog by a later run stays saved but is not scored.
    usable = {m: s for m, s in ratings.items() if svc.find_item(m) is not None}
    # (a profile saved before a film's later verdict replaced its twin's: the later counts)
    later = _superseded(svc, usable)
    usable = {m: s for m, s in usable.items() if m not in later}
    # ... though its twin, kept by the run, is seen.
    seen = svc.twins_kept(m for m in ratings if m not in usable)
    source, recs = svc.history_recommendations(usable, k, genre, seen=seen)
    # (a film saved under an id the run's filter dropped is shown under the one it kept,
    # whose same_film names the id saved)
    listed = [svc.item_index(m) for m in usable]
    movies = [svc.records[i] for i in listed + [i for i in dict.fromkeys(seen) if i not in listed]]
    return {"profile_id": profile_id, "ratings": ratings, "movies": movies, "source": source, "recommendations": recs,
            "notes": svc.history_notes(usable, k, genre, len(recs), seen)}
