"""A person's own ratings log as a source: CSV, TSV or Parquet, any column names.

A log is one file, or a folder of files with the same columns (read in name order).
Columns are found by their usual names, in any case:

=========  ======================================================
user       ``user``, ``userId``, ``user_id``, ``uid``
movie      ``item``, ``itemId``, ``item_id``, ``movie``, ``movieId``, ``movie_id``
rating     ``rating``, ``ratings``, ``stars``, ``score`` (optional)
time       ``timestamp``, ``ts``, ``time``, ``datetime``, ``date`` (optional)
=========  ======================================================

or named with ``columns={"user": ..., "item": ..., "rating": ..., "time": ...}``. Ids
that are all whole numbers are kept as numbers; anything else as text. A log without a
rating column is implicit: every row is a plain "watched" event. Times may be seconds
since the epoch or dates (``2021-03-04`` or ISO 8601 with a time).

The catalogue is optional (``catalog=FILE``): a movie id column (found like the log's),
``title``, and optionally ``genres`` (``|``-separated, or ``,`` or ``;`` where no cell
holds a ``|``) and ``year`` (else taken from a trailing ``(1995)`` in the title). Without
one, a log with a ``title`` column (a log joined with its movie file) is its own
catalogue; otherwise a movie's title is its id.

Bad input is named by file and line: a missing id, a rating that is not a number, a
date that cannot be read, a file with no user or movie column.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime
import json
import os
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable, Collection, Iterator, Literal, Mapping, Sequence, cast

import numpy as np
import pandas as pd

# (_YEAR_SECONDS: a number beside dates in text that reads as a time this close to 1970,
# and more than this before every one of those dates, is a placeholder or a year, not a time)
from cinerec.data.dataset import _YEAR_SECONDS, Catalog, Dataset, IdMap, Interactions, _plain, counted, \
    stray_scale_ends
from cinerec.errors import ConfigError, DataError, NotFoundError, expect, said
from cinerec.io import arrow_source

#: The largest rating, either way, a log may hold: ratings are kept in float32, whose
#: whole numbers are exact up to 2**24, and the models' sums of squared ratings stay
#: finite below it (a log rated up to 3e38 was read, then models crashed or overflowed).
RATING_LIMIT = float(2**24)

__all__ = ["load_log", "LOG_SUFFIXES", "COLUMN_NAMES", "parse_columns", "check_columns", "check_catalog",
           "parse_rating_scale", "scale_numbers", "rating_scale_fault"]

LOG_SUFFIXES = (".csv", ".tsv", ".txt", ".parquet", ".pq")
#: What a log's file may be compressed with (``part-0.csv.gz``): refused, not skipped.
COMPRESSED_SUFFIXES = (".gz", ".gzip", ".bz2", ".xz", ".zst", ".zstd", ".lz4", ".snappy", ".deflate", ".z", ".zip",
                       ".7z")
#: Spreadsheets, which are not read: saved as CSV, they are.
SPREADSHEET_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods", ".numbers")
#: The usual names of each column, compared without case.
COLUMN_NAMES: dict[str, tuple[str, ...]] = {
    "user": ("user", "userid", "user_id", "uid"),
    "item": ("item", "itemid", "item_id", "movie", "movieid", "movie_id"),
    "rating": ("rating", "ratings", "stars", "score"),
    "time": ("timestamp", "ts", "time", "datetime", "date"),
}
_CATALOG_NAMES: dict[str, tuple[str, ...]] = {
    "item": COLUMN_NAMES["item"] + ("id",),
    "title": ("title", "name"),
    "genres": ("genres", "genre"),
    "year": ("year",),
}


def parse_columns(text: str | None, where: str = "--columns") -> dict[str, str]:
    """``"user=uid,item=sku"`` → ``{"user": "uid", "item": "sku"}``, checked by name.

    ``where`` starts each error message (the flag, or a study file's key).
    """
    if text is None:
        return {}
    pairs: dict[str, str] = {}
    # A comma starts the next pair only where a role= follows it: a column named
    # "Stars (out of 5, halves)" is one name, as a note naming it asks to be given.
    for part in re.split(r",(?=[^,=]*=|\s*,|\s*$)", text):  # ("" too: --columns= is a mistake, not "no columns")
        key, sep, value = part.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise DataError(f"{where} {text!r}: expected role=column pairs, e.g. user=uid,item=sku")
        if key.strip() in pairs:
            raise DataError(f"{where} {text!r}: the {key.strip()} column is named twice")
        pairs[key.strip()] = value
    return check_columns(pairs, where)


#: Roles ``--columns`` may name in the ``--catalog`` file (its movie id is the log's item role's
#: column when the catalogue has one of that name, else found by the usual names).
CATALOG_ROLES = ("title", "genres", "year")



def _columns_words(role: str) -> str:
    """How to name the column of ``role``, in its reader's terms."""
    return said(f"--columns {role}=NAME", f"columns={{{role!r}: NAME}}")


def _catalog() -> str:
    """The name of the catalogue's argument, in its reader's terms."""
    return said("--catalog", "catalog")


def one_person_way() -> str:
    """The way to one person's list, in its reader's terms: someone new to a run."""
    return said("cinerec recommend --run RUN --ratings ID=STARS,...; ids by title: cinerec movies --run RUN WORDS",
                "open_run(RUN).recommend_for(ratings={ID: STARS, ...})")


def check_columns(columns: Mapping[str, Any], where: str = "--columns") -> dict[str, str]:
    """Role → column name, each role known and each name some text (stripped)."""
    for role, name in columns.items():
        if role not in COLUMN_NAMES and role not in CATALOG_ROLES:
            raise DataError(f"{where}: unknown role {role!r} (roles: {', '.join((*COLUMN_NAMES, *CATALOG_ROLES))})")
        if not isinstance(name, str) or not name.strip():
            raise DataError(f"{where}: {role}: expected a column name, got {name!r}")
    out = {role: name.strip() for role, name in columns.items()}
    _one_role_each({r: n for r, n in out.items() if r in COLUMN_NAMES}, where)
    _one_role_each({r: n for r, n in out.items() if r not in COLUMN_NAMES or r == "item"}, where)
    return out


def _one_role_each(columns: Mapping[str, str | None], where: Any) -> None:
    """Refuse one column serving two roles (``user=who,item=who``)."""
    roles: dict[str, str] = {}
    for role, name in columns.items():
        if name is None:
            continue
        if name in roles:
            raise DataError(f"{where}: the column {name!r} cannot be both the {roles[name]} and the {role}")
        roles[name] = role


def load_log(
    source: str | os.PathLike,
    *,
    columns: Mapping[str, str] | str | None = None,
    catalog: str | os.PathLike | None = None,
    implicit: bool = False,
    rating_scale: Sequence[float] | str | None = None,
) -> Dataset:
    """Read a ratings log (a file, or a folder of files) into a :class:`Dataset`.

    Args:
        source: a CSV, TSV or Parquet file, or a folder of them.
        columns: role → column name, for columns whose names are not the usual ones (or
            the flag's text, "user=who,item=sku"); an unknown role is refused.
        catalog: an optional file of movie ids, titles, genres and years (without it,
            the log's own ``title``, ``genres`` and ``year`` columns, where it has a title one).
        implicit: treat every row as a plain event even when ratings are present.
        rating_scale: the lowest and highest rating the log's scale allows (``(1, 10)``,
            or the flag's text ``"1,10"``); without it, the lowest and highest the log
            holds. Where "liked" starts (halfway up) and which stars a new person may
            give are read on it; a rating outside it is refused by file and line.

    Returns:
        The dataset; ``info`` holds ``source``, ``format`` (``"log"``), ``implicit`` and,
        with a catalogue, ``catalog`` (its path), ``catalog_items`` (its rows) and
        ``catalog_matched`` (the log's movies it names).

    Raises:
        NotFoundError: the source does not exist.
        DataError: a file cannot be read, a column is missing, or a value is bad.
    """
    expect(source, (str, os.PathLike), "load_log: source")
    if catalog is not None:
        expect(catalog, (str, os.PathLike), "load_log: catalog")
    path = Path(os.path.expanduser(source))
    if not path.exists():
        raise NotFoundError(f"{path}: no such file or folder")
    files = _log_files(path, catalog)
    if isinstance(columns, str):  # the flag's own form, "user=who,item=sku"
        roles = parse_columns(columns, where="columns")
    elif columns is not None and not isinstance(columns, Mapping):
        raise DataError(f"columns: expected a mapping of role to column name, got {type(columns).__name__}")
    else:
        roles = check_columns(columns or {}, where="columns")
    scale = parse_rating_scale(rating_scale)
    frames = [_read_log_file(f, roles) for f in files]
    frames = _dates_one_way(files, frames, roles)
    users = _join_ids([f["user"] for f in frames])
    items = _join_ids([f["item"] for f in frames])
    # A folder's files share their columns: an unrated file's rows would not be ratings,
    # and an untimed file's rows would all sit in 1970.
    for role, has in (("rating", [f["rating"] is not None for f in frames]), ("time", [f["timed"] for f in frames])):
        if len(set(has)) > 1:
            with_it, without = files[has.index(True)], files[has.index(False)]
            raise DataError(f"{path}: {without.name} has no {role} column and {with_it.name} has one; a folder's "
                            "files must share their columns (move the odd file out)")
    zoned = [(f, fr["zoned"]) for f, fr in zip(files, frames) if fr["zoned"] is not None]
    if len({z for _, z in zoned}) > 1:  # which of two clocks, one zoned, is later is unknown
        with_zone = next(f for f, z in zoned if z)
        without = next(f for f, z in zoned if not z)
        raise DataError(f"{path}: {with_zone.name} gives its times with their time zone and {without.name} without; "
                        "give every time with its zone, or none (times without one are read as UTC)")
    has_ratings = frames[0]["rating"] is not None
    if scale is not None:
        _within_scale(path, files, frames, scale, has_ratings)
    in_numbers = frames[0]["timed"] and all(f["numeric_time"] for f in frames)  # (every time written as a number)
    # The catalogue's id column is the log's item column where it holds one of that name.
    catalog_roles = {"item": str(frames[0]["item_column"]), **roles}
    n = len(users)
    if n == 0:
        raise DataError(f"{path}: the log holds no rows")
    # (read even where every rating becomes 1.0: as_implicit keeps aside those not liked)
    ratings = _joined([f["rating"] for f in frames]) if has_ratings else np.ones(n, np.float32)
    stamps = _joined([f["time"] for f in frames])
    rests = [f["rest"] if f["rest"] is not None else np.zeros(len(f["time"])) for f in frames]
    rest = _joined(rests) if any(f["rest"] is not None for f in frames) else None
    titled = [(f, fr["title_column"]) for f, fr in zip(files, frames) if fr["title_column"] is not None]
    headers = [fr["columns"] for fr in frames]
    unread, timed = frames[0]["unread"], frames[0]["timed"]  # (a folder's files share their columns)
    time_notes = _dates_note(path, frames) + _unit_notes(path, files, frames)
    del frames, rests  # (their columns are the ones above now, or copied into them)
    user_codes, user_raw = _encode(users)
    item_codes, item_raw = _encode(items)
    del users, items  # (their codes stand for them now: less memory held through the checks below)
    info: dict[str, Any] = {"source": str(path), "format": "log", "implicit": not has_ratings}
    if (like := _synthetic_release_of(files)) is not None:
        # A file of a synthetic release read as a log (its ratings.csv): as made up as the release.
        info.update(synthetic=True, synthetic_like=like)
    if not info["implicit"]:  # the scale "liked" is read on: halfway up it (cinerec.data.history)
        info["rating_scale"] = list(scale) if scale is not None else [float(ratings.min()), float(ratings.max())]
        if scale is not None:
            info["rating_scale_given"] = True
    if in_numbers:
        info["times_in_numbers"] = True  # (read as seconds: dataset.reading_notes says when they read oddly)
    if log_notes := [*filter(None, [_unread_note(path, unread, has_ratings or implicit, timed),
                                    _details_note(path, unread), _rounded_ids_note(path, user_raw, "user"),
                                    _rounded_ids_note(path, item_raw, "movie")]), *time_notes]:
        info["log_notes"] = log_notes
    if catalog is not None:
        left: list[str] = []
        cat, count, matched = _read_catalog(Path(os.path.expanduser(catalog)), item_raw, catalog_roles, unread=left)
        info.update(catalog=str(catalog), catalog_items=count, catalog_matched=matched)
        if left:  # (not among catalog_notes: those of a log's own columns, said with a year filter's refusal)
            info["catalog_columns_note"] = _no_genres_note(catalog, left)
    else:
        cat = Catalog(np.array([str(i) for i in item_raw.tolist()], dtype=object), np.zeros(len(item_raw)), (),
                      np.zeros((len(item_raw), 0)))
        sources: list[tuple[Path, Mapping[str, str]]] = []
        if any(role in roles for role in CATALOG_ROLES):  # --columns title=...: the log's own columns, as named
            for f, header in zip(files, headers):  # (a column named that is not there: refused, as anywhere)
                for role in (r for r in CATALOG_ROLES if r in roles):
                    _find(SimpleNamespace(column_names=header), _CATALOG_NAMES, roles, role, f, True)
            sources = [(f, catalog_roles) for f in files]
        elif titled:  # a log that holds each movie's title beside each rating is its own catalogue
            # Each file's own "title" column (a "name" column beside it is not the title).
            sources = [(f, {**catalog_roles, "title": name}) for f, name in titled]
        if sources:
            # Read as it is written: what does not serve, as a catalogue file would be refused,
            # leaves that column (or, for the titles, the ids shown) with a note saying why.
            notes: list[str] = []
            try:
                cat, count, matched = _read_catalog(sources, item_raw, notes=notes)
                info.update(catalog=str(path), catalog_items=count, catalog_matched=matched, catalog_in_log=True)
            except DataError as e:
                # (its genres and years go with the titles: said, where the note named the titles alone)
                notes = [f"the log's title column is left unread, and its genres and years with it, so movies show "
                         f"their ids ({e}); name a movie "  # (a note, kept with the data: the CLI's words)
                         "file with --catalog, or the column of titles with --columns title=NAME"]
            if notes:
                info["catalog_notes"] = notes
        elif left := [str(c) for c in headers[0] if c not in roles.values()  # (one --columns gave a role)
                      and str(c).strip().lower() in (*_CATALOG_NAMES["genres"], *_CATALOG_NAMES["year"])]:
            # A year or genres column with no title column: read with the titles alone, it was
            # left without a word, and --min-year then said the log had no year to read.
            info["catalog_notes"] = [f"{path}: {_left_unread(left)}: a log's own years and genres are read beside "
                                     "its titles, and it has no title column by its usual name (title, name); name "
                                     "that column with --columns title=NAME, or give a movie file with --catalog"]
    # (the scale declared goes with the ratings to the models: Interactions.scale)
    x = Interactions(user_codes, item_codes, ratings, stamps, len(user_raw), len(item_raw),
                     scale if scale is not None and not info["implicit"] else None)
    if rest is not None:
        x = _in_time_order(x, rest)
    x, dropped = _latest_of_each_pair(x)
    if dropped:
        info["duplicates_dropped"] = dropped
    name = path.stem if path.is_file() else path.resolve().name
    user_ids, item_ids = IdMap(user_raw, "user"), IdMap(item_raw, "movie")
    if not info["implicit"] and scale is None:  # (said of the ratings read, whatever a filter then drops)
        info["scale_strays"] = stray_scale_ends(x, user_ids, item_ids, info["rating_scale"])
    out = Dataset(name, x, user_ids, item_ids, cat, None, info)
    if not (implicit and has_ratings):
        return out
    from cinerec.data.transforms import as_implicit

    return as_implicit(out)


def parse_rating_scale(value: Any, where: str | None = None) -> tuple[float, float] | None:
    """``"1,10"`` or ``(1, 10)`` (numbers of any kind, numpy's too) → ``(1.0, 10.0)``,
    checked; ``None`` when not given.

    ``where`` starts each error message (the flag, a study file's key); by default the
    flag or the argument, in its reader's terms.
    """
    if value is None:
        return None
    where = where or said("--rating-scale", "rating_scale")
    shown = value if isinstance(value, str) else repr(value.tolist()) if isinstance(value, np.ndarray) \
        else repr(list(value)) if isinstance(value, (list, tuple)) else repr(value)
    shown = " ".join(shown.split())  # (one line)
    shown = shown if len(shown) <= 60 else f"{shown[:60]}…"
    numbers = scale_numbers(value)
    if numbers is None:
        raise ConfigError(f"{where} {_quoted(value, shown)}: give the lowest and highest rating of the log's scale, "
                          "LOW,HIGH (such as 1,10)")
    fault = rating_scale_fault(*numbers)
    if fault is not None:
        raise ConfigError(f"{where} {_quoted(value, shown)}: {fault}")
    return numbers


def _quoted(value: Any, shown: str) -> str:
    """The value as a message shows it: text quoted, as the flag gave it; a list as Python writes it."""
    return repr(shown) if isinstance(value, str) else shown


def scale_numbers(value: Any) -> tuple[float, float] | None:
    """The two numbers of a scale as given, or ``None`` where it is not two numbers."""
    if isinstance(value, str):
        parts = value.split(",")
        if len(parts) != 2 or not all(_NUMBER.fullmatch(p.strip()) for p in parts):
            return None  # (float() takes "1_0" and "infinity " too)
        return _as_float(parts[0]), _as_float(parts[1])
    if isinstance(value, np.ndarray):
        value = value.tolist() if value.ndim == 1 else None
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        return None
    if not all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))
               for v in value):
        return None
    return _as_float(value[0]), _as_float(value[1])


def saved_scale(value: Any, where: str) -> tuple[float, float]:
    """A scale read back from a file cinerec wrote (a saved model's or dataset's), checked
    as ``--rating-scale`` is; a value that is not one, in one line naming ``where``."""
    shown = json.dumps(value.tolist() if isinstance(value, np.ndarray) else value, default=str)
    scale = None if isinstance(value, str) else scale_numbers(value)  # (written as two numbers, never as text)
    if scale is None:
        raise DataError(f"{where}: expected [LOW, HIGH], got {shown}")
    if fault := rating_scale_fault(*scale):
        raise DataError(f"{where}: {shown}: {fault}")
    return scale


def _as_float(value: Any) -> float:
    """``float(value)``, infinite where it is past what a float holds (``10**400``)."""
    try:
        return float(value)
    except OverflowError:
        return float("inf") if value > 0 else float("-inf")


#: A number as a scale's end may be written: digits, a sign, a decimal point, an exponent.
_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")


def rating_scale_fault(low: float, high: float) -> str | None:
    """What is wrong with a scale from ``low`` to ``high``, in words, or ``None``."""
    if not (np.isfinite(low) and np.isfinite(high)) or max(abs(low), abs(high)) > RATING_LIMIT:
        return f"each end must be a finite number of at most {int(RATING_LIMIT):,} either way"
    if low >= high:
        return "the lowest rating must be below the highest"
    return None


def _within_scale(path: Path, files: list[Path], frames: list[dict[str, Any]], scale: tuple[float, float],
                  has_ratings: bool) -> None:
    """Refuse, by file and line, the first rating outside the scale given."""
    where = said("--rating-scale", "rating_scale")
    if not has_ratings:
        raise ConfigError(f"{where}: {path} has no rating column (every row is a plain event), so no scale of "
                          "ratings applies to it")
    low, high = scale
    for file, frame in zip(files, frames):
        values = frame["rating"]
        outside = (values < low) | (values > high)
        if outside.any():
            row = int(np.argmax(outside))
            raise DataError(f"{_line(file, row)}: rating {float(values[row]):g} is outside the scale given, "
                            f"{low:g} to {high:g} ({where})")


def _dates_one_way(files: list[Path], frames: list[dict[str, Any]], roles: Mapping[str, str]) -> list[dict[str, Any]]:
    """A folder's files with their dates of two leading numbers read one way, as a file's
    are: day first where some file shows it (files that showed neither way read again so),
    and refused where one file shows day first and another month first."""
    # (a file of dates written with dots reads day first, as one that shows it does)
    shown = {kind: next(((f, fr["date_order"]["example"]) for f, fr in zip(files, frames)
                         if fr["date_order"].get("order") in ((kind, "dots") if kind == "day" else (kind,))), None)
             for kind in ("day", "month")}
    if (day := shown["day"]) and (month := shown["month"]):
        raise DataError(f"{day[1][1]}: time {day[1][0]!r} reads day first, and {month[1][1]}: {month[1][0]!r} month "
                        "first; write the dates one way (YYYY-MM-DD reads only one way)")
    if not day:
        return frames
    return [_read_log_file(f, roles, day_first=True) if fr["date_order"].get("order") == "either" else fr
            for f, fr in zip(files, frames)]


def _dates_note(path: Path, frames: list[dict[str, Any]]) -> list[str]:
    """The line saying dates of two leading numbers were read month first where none of
    them, in any file, can only be read one way (03/04/2020): read wrong if they are day
    first, and nothing shows it."""
    orders = [fr["date_order"] for fr in frames if fr["date_order"].get("order")]
    if not orders:
        return []
    value, where = orders[0]["example"]
    where = where.removeprefix(f"{path} ")  # (a file's own line; a folder's names its file)
    said = []
    if all(o["order"] == "either" for o in orders):
        said.append(f"the dates of {path} that begin with two numbers, such as {value!r} ({where}), are read month "
                    "first: none of them can only be read one way (13/01 day first, 01/13 month first); if they are day "
                    "first, write them as YYYY-MM-DD")
    dots = [o for o in orders if o["order"] == "dots"]
    if dots and all(o["order"] in ("dots", "either") for o in orders):  # (a folder's others read as they are)
        dotted, at = dots[0]["example"]  # (its own example: the notes below name the first file's)
        others = "" if len(dots) == len(orders) else ", and so are its other dates that begin with two numbers"
        said.append(f"the dates of {path} written with dots, such as {dotted!r} ({at.removeprefix(f'{path} ')}), are "
                    f"read day first, as dates so written are{others}; if they are month first, write them as "
                    "YYYY-MM-DD")
    if all(o.get("year_first") for o in orders):
        read = "day, month, year" if any(o["order"] == "day" for o in orders) else "month, day, year"
        said.append(f"the dates of {path} written as numbers with dashes and a two-digit year, such as {value!r} "
                    f"({where}), are read as {read}; if their year comes first (21-03-04 for 2021-03-04), write them "
                    "as YYYY-MM-DD")
    return said


#: The finer units of a time written as a number, by how many make a second.
_UNITS = {10**3: "milliseconds", 10**6: "microseconds", 10**9: "nanoseconds"}


def _unit_notes(path: Path, files: list[Path], frames: list[dict[str, Any]]) -> list[str]:
    """The line saying times written as numbers were read in a finer unit than seconds,
    found from their size alone (every one past the year 5138 as seconds): nothing else
    shows it, and a log in another unit would read as the wrong years."""
    units = {f: _UNITS[u] for f, fr in zip(files, frames) if (u := fr["date_order"].get("unit"))}
    if not units:
        return []
    named = {unit: [f for f in units if units[f] == unit] for unit in dict.fromkeys(units.values())}
    whose = [f"{path}" if len(files) == 1 or len(fs) == len(files) else ", ".join(f.name for f in fs)
             for fs in named.values()]
    return [f"the times of {who} are numbers too large to be seconds, so they are read as {unit} since 1970; if they "
            "are in another unit, give them in seconds or as dates" for who, unit in zip(whose, named)]


def _synthetic_release_of(files: list[Path]) -> str | None:
    """The release that ``cinerec data synthesize`` imitated where every log file read is
    one of a synthetic release's own files (its ``ratings.csv`` read as a log), else
    ``None``: a log of one's own put in such a folder is not made up."""
    from cinerec.data.movielens import synthetic_like
    from cinerec.data.synthetic import release_files

    likes = set()
    for folder in {f.parent for f in files}:  # (each folder's marker read once, not once a file)
        like = synthetic_like(folder)
        mine = like is not None and {f.name for f in files if f.parent == folder} <= release_files(folder)
        likes.add(like if mine else None)
    return likes.pop() if len(likes) == 1 else None


def _joined(parts: list[np.ndarray]) -> np.ndarray:
    """The files' columns as one array; one file's own, not a copy of it."""
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _in_time_order(x: Interactions, rest: np.ndarray) -> Interactions:
    """``x`` with the rows that share a whole second ordered by ``rest``, the part of a
    second each time has beyond it (then by file order); every other row stays where it is.

    A dataset keeps whole seconds, and takes the later row for the later time where two
    share one (leave-latest-out's test movie, the pair kept of a re-rating): the time as
    written decides, not the order of the file, where it says which came later.
    """
    places = np.argsort(x.timestamps, kind="stable")  # by second, then file order
    seconds = x.timestamps[places]
    shared = np.zeros(len(x), dtype=bool)
    shared[1:] = seconds[1:] == seconds[:-1]
    shared[:-1] |= shared[1:]
    places, seconds = places[shared], seconds[shared]  # the rows of the seconds that two or more rows share
    # One whole-number key, in order already but within each second: the second's place
    # among them, then the time's nanoseconds (one sort, and a cheap one, instead of two).
    group = np.cumsum(np.concatenate([[0], seconds[1:] != seconds[:-1]]), dtype=np.int64)
    nanos = np.minimum(np.rint(rest[places] * 1e9), 999_999_999).astype(np.int64)
    exact = places[np.argsort(group * 1_000_000_000 + nanos, kind="stable")]  # (stable: file order on a tie)
    if (exact == places).all():
        return x
    order = np.arange(len(x))
    order[places] = exact  # each shared second's places, filled with its rows in their exact order
    return x.select(order)  # (the same rows: the scale declared stays with them)


def _latest_of_each_pair(x: Interactions) -> tuple[Interactions, int]:
    """``x`` with each (user, movie) pair once: its latest row by time (then by file
    order), as a re-rating replaces the earlier one; and how many rows were dropped.

    Kept twice, a pair would sit on both sides of a split: leave-latest-out would hold
    out the latest row and train on the earlier one. Duplicates are found through a
    sparse matrix of the pairs (its entry count is the number of distinct pairs), which
    costs less than sorting every row when there are none.
    """
    import scipy.sparse as sp

    n = len(x)
    pairs = sp.csr_matrix((np.ones(n, bool), (x.users, x.items)), shape=(x.n_users, x.n_items))
    pairs.sum_duplicates()
    if pairs.nnz == n:
        return x, 0
    order = np.lexsort((np.arange(n), x.timestamps, x.items, x.users))
    u, i = x.users[order], x.items[order]
    last = np.ones(n, dtype=bool)
    last[:-1] = (u[1:] != u[:-1]) | (i[1:] != i[:-1])
    keep = np.sort(order[last])
    return x.select(keep), n - len(keep)


# -- files ---------------------------------------------------------------------------------


def _log_files(path: Path, catalog: str | os.PathLike | None = None) -> list[Path]:
    """The log's files: ``path`` itself, or a folder's log files less the catalogue (a
    catalogue kept beside the log it describes is no part of it); a folder's ``.txt``
    files only where it holds no ``.csv``, ``.tsv`` or Parquet file."""
    if path.is_file():
        if path.suffix.lower() not in LOG_SUFFIXES:
            raise DataError(f"{path}: not a ratings log (expected a {', '.join(LOG_SUFFIXES)} file, a folder of them, "
                            "a MovieLens folder or its zip)")
        return [path]
    skip = Path(os.path.expanduser(catalog)).resolve() if catalog is not None else None
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in LOG_SUFFIXES
                   and p.resolve() != skip)
    # Compressed ones are not read: a part left out would leave its ratings out without a word.
    packed = [p for p in _compressed_logs(path) if p.resolve() != skip]
    if any(p.suffix.lower() != ".txt" for p in files + [q.with_suffix("") for q in packed]):
        # a README.txt or notes.txt (compressed or not) beside the logs is no log
        files = [p for p in files if p.suffix.lower() != ".txt"]
        packed = [p for p in packed if p.with_suffix("").suffix.lower() != ".txt"]
    if packed:
        raise DataError(f"{packed[0]}: a compressed part of the log ({packed[0].suffix}), which cinerec does not read; "
                        "decompress it first (for example gunzip -k, bunzip2 -k, unxz -k, unzip), so that no part is "
                        "left out")
    sheet = _spreadsheet(path)
    if files and sheet is not None:
        raise DataError(f"{sheet}: a spreadsheet beside the log's files, which cinerec does not read; save its sheet "
                        "as CSV (UTF-8) beside them, or move it out, so that no part is left out")
    nested = _nested_logs(path, skip)
    if files and nested is not None:  # (its ratings were left out without a word)
        raise DataError(f"{nested}: log files in a folder inside {path}, which cinerec does not read (it reads the "
                        "files of the folder given); move them beside the others, or out of it, so that no part is "
                        "left out")
    if not files and skip is not None and skip.parent == path.resolve():
        raise DataError(f"{path}: no ratings log in this folder besides the "
                        f"{_catalog()} file {skip.name}")
    if not files:
        raise DataError(f"{path}: no MovieLens release and no ratings log ({', '.join(LOG_SUFFIXES)} files) in this "
                        f"folder{unread_files(path)}")
    return files


#: The first bytes of a gzip file, and of a zip file (a workbook is one too).
GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"
#: The first bytes of Microsoft's compound files: an Excel 97-2003 workbook (.xls), or
#: another Office file of those years.
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def is_workbook(path: Path) -> bool:
    """Whether ``path`` is a spreadsheet's workbook (a zip holding ``xl/``, as .xlsx, or an
    OpenDocument sheet), whatever its name says: one saved as ``ratings.csv`` read as a zip."""
    import zipfile

    try:
        if not zipfile.is_zipfile(path):
            return False
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
            if any(n.startswith("xl/") for n in names):
                return True
            return "mimetype" in names and b"spreadsheet" in z.read("mimetype")[:200]
    except (OSError, zipfile.BadZipFile):
        return False


#: The first bytes of files compressed by each tool, the tool's name, its files' suffix,
#: and how it decompresses keeping the file (bzip2's magic holds its block's too: no header
#: line starts so).
PACKED_MAGIC = ((GZIP_MAGIC, "gzip", ".gz", "gunzip -k"), (b"BZh", "bzip2", ".bz2", "bunzip2 -k"),
                (b"\xfd7zXZ\x00", "xz", ".xz", "unxz -k"), (b"\x28\xb5\x2f\xfd", "zstd", ".zst", "zstd -d"))


def compressed_refused(path: Path, first: bytes) -> DataError | None:
    """The one line for a compressed file given where text is read, by its ``first`` bytes
    (whatever its name says); None for any other file."""
    import shlex

    for magic, kind, suffix, how in PACKED_MAGIC:
        if first.startswith(magic) and (kind != "bzip2" or first[4:10] == b"1AY&SY"):
            if path.suffix.lower() == suffix:
                way = f"{how} {path}"
            else:  # (named as text: the tool will not guess a name to write to)
                out = path.with_name(f"{path.stem}-decompressed{path.suffix}")
                way = f"{kind} -dc {shlex.quote(str(path))} > {shlex.quote(str(out))}"
            return DataError(f"{path}: a {kind}-compressed file, which cinerec does not read; decompress it first "
                             f"({way})")
    return None


def compressed_log(path: Path, suffixes: Collection[str] = LOG_SUFFIXES) -> bool:
    """Whether ``path`` is named as a log compressed (``part-0.csv.gz``): a log's suffix
    (of ``suffixes``), then a compressor's."""
    kind = [s.lower() for s in path.suffixes[-2:]]
    return len(kind) == 2 and kind[0] in suffixes and kind[1] in COMPRESSED_SUFFIXES


def _compressed_logs(folder: Path) -> list[Path]:
    """The files of ``folder`` that are logs compressed (``part-0.csv.gz``), which are not read."""
    return [p for p in sorted(folder.iterdir()) if p.is_file() and compressed_log(p)]


def _nested_logs(folder: Path, skip: Path | None = None) -> Path | None:
    """A folder inside ``folder`` holding log files (Hive-style ``year=2020/``), which are
    not read; hidden ones and those starting ``_`` (a writer's temporary files) aside, and
    the file ``skip`` (the catalogue, kept in a folder of its own)."""
    for sub in sorted(folder.iterdir()):
        if not sub.is_dir() or sub.name.startswith((".", "_")):
            continue
        try:
            if any(p.is_file() and p.suffix.lower() in LOG_SUFFIXES and p.suffix.lower() != ".txt"
                   and p.resolve() != skip for p in sub.iterdir()):
                return sub
        except OSError:  # (a folder this user may not list)
            continue
    return None


def unread_files(folder: Path) -> str:
    """What a folder with no log holds that looks like one and is not read (a compressed
    log, a spreadsheet, log files in a folder inside it), said as the end of the refusal;
    ``""`` when nothing does."""
    packed = _compressed_logs(folder)
    if packed:
        return f"; {packed[0].name} is compressed, which cinerec does not read: decompress it first"
    nested = _nested_logs(folder)
    if nested is not None:
        return (f"; the folder {nested.name} inside it holds log files, which cinerec does not read there: give "
                "that folder, or gather the files in one")
    sheet = _spreadsheet(folder)
    return f"; {sheet.name} is a spreadsheet, which cinerec does not read: save it as CSV (UTF-8)" if sheet else ""


def check_read_alone(log: Path) -> None:
    """``log`` read alone as its folder's log (``ratings.csv`` beside ``movies.csv``): another
    part of it beside it (``ratings-2.csv``, ``ratings.csv.gz``) or a spreadsheet is refused,
    naming it, rather than left out without a word; a ``.txt`` one is notes, as beside a
    folder's logs."""
    stem, logs = log.stem.lower(), [s for s in LOG_SUFFIXES if s != ".txt"]
    for p in sorted(log.parent.iterdir()):
        if p == log or p.name.startswith((".", "~$")) or not p.is_file():
            continue
        part = p.name.lower().startswith(stem) and (p.suffix.lower() in logs or compressed_log(p, logs))
        if part or p.suffix.lower() in SPREADSHEET_SUFFIXES:
            raise DataError(f"{p}: beside {log.name}, which is read alone as this folder's log (movies.csv its "
                            f"catalogue), so it would be left out; join it to {log.name} (as CSV, decompressed), or "
                            "move it out")


def _spreadsheet(folder: Path) -> Path | None:
    """A spreadsheet in ``folder``, not one's lock file (``~$ratings.xlsx``, which Excel keeps
    beside a workbook it has open) nor a hidden file."""
    return next((p for p in sorted(folder.iterdir()) if p.suffix.lower() in SPREADSHEET_SUFFIXES
                 and not p.name.startswith((".", "~$")) and p.is_file()), None)


def _table(path: Path, ids: Callable[[list[str]], list[str]] | None = None, what: str = "a ratings log") -> Any:
    """The whole file as a pyarrow Table (pyarrow's multi-threaded readers).

    ``ids`` picks, from a text file's header, the columns to read as text: the ids, so that
    an id such as ``007`` keeps its zeros (:func:`_arrow_ids` turns exact numbers back into
    numbers), and a catalogue's titles and genres. ``what`` names the file's part in an error (a ratings log, the catalogue).
    """
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            import pyarrow.parquet as pq

            with arrow_source(path) as source:
                names = pq.read_schema(source).names
            twice = next((n for k, n in enumerate(names) if n in names[:k]), None)
            if twice is not None:  # (pyarrow's own words: "Multiple matches for FieldRef.Name(...)")
                at = [k + 1 for k, n in enumerate(names) if n == twice]
                raise DataError(f"{path}: columns {at[0]} and {at[1]} are both named {twice!r}, so neither can be "
                                "told apart; rename one")
            with arrow_source(path) as source:
                return pq.read_table(source)
        import pyarrow as pa
        import pyarrow.csv as pacsv

        with open(path, "rb") as f:
            first = f.readline()
        if (packed := compressed_refused(path, first)) is not None:  # (a catalogue of .csv.gz, or a log named .csv)
            raise packed
        if first.startswith(ZIP_MAGIC):  # (a catalogue zipped, or a workbook: its bytes read as a header)
            if path.suffix.lower() in SPREADSHEET_SUFFIXES or is_workbook(path):
                raise DataError(f"{path}: a spreadsheet, which cinerec does not read; save its sheet as CSV (UTF-8) "
                                "and give that")
            raise DataError(f"{path}: a zip file, which cinerec does not read here; unzip it and give the file it "
                            "holds")
        if first.startswith(OLE_MAGIC):  # (its NULs read as UTF-16's below)
            raise DataError(f"{path}: an Excel 97-2003 workbook (.xls) or another Office file, which cinerec does "
                            "not read; save its sheet as CSV (UTF-8) and give that")
        if first.startswith((b"\xff\xfe", b"\xfe\xff")):  # (a UTF-32 BOM starts so too)
            raise DataError(f"{path}: UTF-16 or UTF-32 text (as Excel's \"Unicode Text\" saves), which cinerec does not "
                            "read; save it as CSV in UTF-8")
        if re.fullmatch(rb'"?sep=.?"?\r?\n?', first.removeprefix(b"\xef\xbb\xbf"), re.I):  # (Excel's first line)
            raise DataError(f"{path}: line 1, {first.decode('utf-8-sig', 'replace').strip()!r}, is a spreadsheet's hint "
                            "of its separator, not the header naming the columns: delete that line")
        if re.match(rb'\s*(\{\s*("|$)|\[\s*(\{|\[|"|$))', first.removeprefix(b"\xef\xbb\xbf")):  # (JSON, not [UserId])
            raise DataError(f"{path}: JSON, which cinerec does not read; save it as CSV (UTF-8) with a header line "
                            "naming its columns")
        if b"\x00" in first:  # (the same without its byte-order mark: a NUL beside each letter)
            raise DataError(f"{path}: its first line holds NUL bytes: UTF-16 or UTF-32 text, which cinerec does not "
                            "read (or no text at all); save it as CSV in UTF-8")
        if b"\n" not in first and b"\r" in first.rstrip(b"\r"):  # one "line" to the end: lines cut by CR alone
            raise DataError(f"{path}: its lines end in a carriage return alone (an old Mac text file); save it with "
                            "LF or CRLF line ends")
        delimiter = _delimiter(path, first)
        quoted = _csv_quoting(path, delimiter)
        text: dict[str, Any] = {}
        header = next(csv.reader([_header_text(first).rstrip("\r\n")], delimiter=delimiter,
                                 quoting=csv.QUOTE_MINIMAL if quoted else csv.QUOTE_NONE), [])
        if ids is not None:
            # Bytes, turned into text by _as_text: a Latin-1 id would stop a text column's reader.
            text = {name: pa.binary() for name in ids(header)}
        # A header that is not UTF-8 (a spreadsheet's "Année" in Windows-1252): its names as
        # read here, the reader's own would stop at the first such byte.
        named = {} if _utf8(first) else {"column_names": header, "skip_rows": 1}
        word = _skip_blank(delimiter)
        if header and not first.endswith((b"\n", b"\r")):  # the header alone, no line end: read as with one
            return pa.table({name: pa.array([], text.get(name, pa.null())) for name in header})

        def read(types: Mapping[str, Any]) -> Any:
            with _not_shown_to(word), arrow_source(path) as source:
                return pacsv.read_csv(source, parse_options=pacsv.ParseOptions(delimiter=delimiter,
                                                                             quote_char='"' if quoted else False,
                                                                             invalid_row_handler=word),
                                      read_options=pacsv.ReadOptions(block_size=1 << 24, **named),
                                      convert_options=pacsv.ConvertOptions(column_types=types))

        table = _hex_as_written(read(text), path, read, text)
        if quoted and (open_at := _open_last_line(path)) is not None:
            raise DataError(f'{path} line {open_at}: a quote (") opens a field that no quote closes')
        return _without_blank_rows(_as_text(table), path)
    except DataError:  # the header's own check (ids), already one line
        raise
    except (OSError, ValueError, csv.Error) as e:  # pyarrow's errors derive from the first two
        message = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        line = _ragged_line(path) if "columns, got" in message else None
        if line is not None and (line[3] or quoted and _open_last_line(path) == line[0]):
            # (an open quote on the last line reads as one short row)
            raise DataError(f"{path} line {line[0]}: a quote (\") opens a field that no quote closes") from None
        if line is not None:
            raise DataError(f"{path} line {line[0]}: {line[1]} field{'' if line[1] == 1 else 's'} where the header "
                            f"has {line[2]}") from None
        raise DataError(f"{path}: cannot read it as {what} ({message})") from None


def _hex_as_written(table: Any, path: Path, read: Callable[[Mapping[str, Any]], Any],
                    text: Mapping[str, Any]) -> Any:
    """``table`` with each whole-number column that holds a number written in hexadecimal
    (``0x10``, which pyarrow's reader takes for 16) as the text it was: a rating, time or
    year so written is then refused by line, as ``0b11`` or ``4_0`` is, not read as another.
    The file is read again only where its bytes hold ``0x`` at all."""
    import pyarrow as pa
    import pyarrow.compute as pc

    whole = [name for name, kind in zip(table.column_names, table.schema.types)
             if pa.types.is_integer(kind) and name not in text]
    if not whole or not holds_hex(path):
        return table
    again = read({**text, **{name: pa.string() for name in whole}})
    for name in whole:
        written = again.column(name)
        if pc.any(pc.match_substring_regex(written, r"^\s*[+-]?0[xX]")).as_py():
            # (a cell the first read took for missing, NA or NULL, stays missing)
            written = pc.if_else(pc.is_null(table.column(name)), pa.scalar(None, pa.string()), written)
            table = table.set_column(table.column_names.index(name), name, written)
    return table


def holds_hex(path: Path) -> bool:
    """Whether the file's bytes below its header hold ``0x`` or ``0X``. A letter x is looked
    for first, a single byte found at memory speed (a tenth of a second in 700 MB), where
    a search for the two bytes takes ten times that: a file of numbers has no x at all."""
    import mmap

    with open(path, "rb") as f:
        start = len(f.readline())
        if os.fstat(f.fileno()).st_size == start:
            return False
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return any(data.find(x, start) >= 0 for x in (b"x", b"X")) and \
                any(data.find(pair, start) >= 0 for pair in (b"0x", b"0X"))


def _skip_blank(delimiter: str) -> Callable[[Any], str]:
    """The fast reader's word on a row whose field count is not the header's: a line of
    spaces, tabs or separators alone (a spreadsheet's empty row) is blank, skipped as an
    empty one is; any other is an error."""
    def word(row: Any) -> str:
        return "skip" if not (row.text or "").replace(delimiter, "").strip() else "error"

    return word


@contextlib.contextmanager
def _not_shown_to(word: Callable[[Any], str]) -> Iterator[None]:
    """The reader cannot show ``word`` a row of another width whose bytes are not UTF-8 (it
    prints "Exception ignored in" and a traceback, then takes the row as an error): the row
    is refused all the same, in one line naming it, so that print is left out."""
    import sys

    before = sys.unraisablehook

    def hook(unraisable: Any) -> None:
        if unraisable.object is word and isinstance(unraisable.exc_value, UnicodeDecodeError):
            return
        before(unraisable)

    sys.unraisablehook = hook
    try:
        yield
    finally:
        sys.unraisablehook = before


def _blank(fields: list[str], header: list[str]) -> bool:
    """A row the readers skip, as the line-by-line reader sees it: of the header's width,
    every field empty (:func:`_without_blank_rows`); of another, blank as :func:`_skip_blank`
    finds it."""
    if len(fields) == len(header):
        return not any(fields)
    return not any(f.strip() for f in fields)


def _without_blank_rows(table: Any, path: Path) -> Any:
    """``table`` without the rows whose every field is empty (a spreadsheet's empty row,
    separators alone, of the header's width), as a blank line is none. A column of numbers
    with no empty field (a log's ratings, mostly) says at once that no row is."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not table.num_rows or not table.num_columns:
        return table
    empty = None
    for column in table.columns:
        text = pa.types.is_binary(column.type) or pa.types.is_string(column.type) or \
            pa.types.is_large_binary(column.type) or pa.types.is_large_string(column.type)
        if not text and not column.null_count:
            return table
        mask = pc.is_null(column) if not text else pc.or_kleene(pc.is_null(column),
                                                                 pc.equal(pc.binary_length(column), 0))
        empty = mask if empty is None else pc.and_kleene(empty, mask)
        if not pc.any(empty).as_py():
            return table
    # A number column reads words (NA, #N/A, NULL) as nothing too: such a row is no empty
    # one. The rows that look empty are looked at as written, as the line reader sees them.
    maybe = set(np.flatnonzero(np.asarray(cast(Any, empty).to_numpy(zero_copy_only=False), dtype=bool)).tolist())
    drop = np.zeros(table.num_rows, dtype=bool)
    last = max(maybe)
    with _text_rows(path) as (header, rows):
        row = -1
        for fields in rows:
            if len(fields) != len(header) and _blank(fields, header):
                continue  # (no row to the fast reader: an empty line, or blank of another width)
            row += 1
            if row in maybe and not any(fields):
                drop[row] = True
            if row >= last:
                break
    return table.filter(pa.array(~drop)) if drop.any() else table


def _as_text(table: Any) -> Any:
    """``table`` with each column the CSV reader left as bytes (text that is not UTF-8, such
    as a Latin-1 "Café") decoded: UTF-8, and each byte that is not as Windows-1252 writes it."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for i, f in enumerate(table.schema):
        if pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type):
            try:
                column = pc.cast(table.column(i), pa.string())  # UTF-8 throughout: the fast way
            except pa.ArrowInvalid:
                column = pa.array([None if v is None else _decoded(v) for v in table.column(i).to_pylist()],
                                  pa.string())
            table = table.set_column(i, f.name, column)
    return table


def _windows_byte(byte: int) -> str:
    try:
        return bytes([byte]).decode("cp1252")
    except UnicodeDecodeError:  # (one of the five bytes Windows-1252 leaves undefined)
        return chr(byte)


def _windows_bytes(error: UnicodeError) -> tuple[str, int]:
    """The bytes UTF-8 cannot read, each as Windows-1252 writes it (Latin-1 where it is
    none of Windows-1252's): the error handler :data:`WINDOWS_BYTES` names."""
    if not isinstance(error, UnicodeDecodeError):
        raise error
    return "".join(_windows_byte(b) for b in error.object[error.start:error.end]), error.end


#: The error handler, for ``bytes.decode`` and ``open``, that reads what is not UTF-8 in
#: UTF-8 text as Windows-1252 (a spreadsheet's "Don’t", its curly quote byte 0x92).
WINDOWS_BYTES = "cinerec.windows-1252"
codecs.register_error(WINDOWS_BYTES, _windows_bytes)


def _decoded(raw: bytes) -> str:
    """Text that is not UTF-8 as Windows-1252 writes it (a spreadsheet's "Don’t", its
    curly quote byte 0x92), byte by byte: in a value that is UTF-8 but for one stray
    byte ("Amélie" in UTF-8, then 0x92), the UTF-8 letters stay themselves."""
    return raw.decode("utf-8", errors=WINDOWS_BYTES)


def _utf8(line: bytes) -> bool:
    try:
        line.decode("utf-8-sig")
    except UnicodeDecodeError:
        return False
    return True


def _header_text(first: bytes) -> str:
    """A text file's first line as text: UTF-8 (its byte-order mark dropped), else as
    :func:`_decoded` reads a value."""
    return first.decode("utf-8-sig") if _utf8(first) else _decoded(first)


def _open_last_line(path: Path) -> int | None:
    """The number of the file's last line when it leaves a quote open (None when not),
    which the reader takes up to the end of the file without a word, or as a row of one
    field (an open quote earlier shows as a row of the wrong width)."""
    with open(path, "rb") as f:
        size = f.seek(0, os.SEEK_END)
        f.seek(max(0, size - (1 << 16)))
        tail = f.read()
        body = tail.rstrip(b"\r\n")
        start = body.rfind(b"\n") + 1  # where the last line begins, within the tail
        if body[start:].count(b'"') % 2 == 0:
            return None
        f.seek(0)  # its number: the line breaks before it, counted a block at a time
        before = size - len(tail)
        breaks = 0
        while f.tell() < before:
            breaks += f.read(min(1 << 24, before - f.tell())).count(b"\n")
    line = breaks + tail[:start].count(b"\n") + 1
    # Its odd quote may close a field opened on an earlier line (a quoted field over two
    # lines, last in the file), or sit inside a field not quoted (5" tall): a CSV reader
    # says whether a row is left open at the end, and where it starts.
    return line if _unclosed_row(path) == line else None


def _delimiter(path: Path, first: bytes) -> str:
    """Tabs for a ``.tsv`` file (unless its header holds commas and no tab: a CSV so named),
    or a header with more tabs than commas (a column named ``title, original`` among
    tab-separated ones), else commas."""
    tabs, commas = first.count(b"\t"), first.count(b",")
    return "\t" if (path.suffix.lower() == ".tsv" and (tabs or not commas)) or tabs > commas else ","


# Where a field of a tab-separated file starts with a quote; and one whole field quoted as
# CSV writes it ("" for a quote inside) up to the next tab or the line's end, looked for
# over at most 64 KiB so that a stray quote costs one bounded look ahead.
_FIELD_QUOTE = re.compile(rb'(?:^|(?<=\t))"', re.M)
_QUOTED_FIELD = re.compile(rb'"(?:[^"]|""){0,65535}"(?=\t|\r?\n|\Z)')
_QUOTE_CHECKS = 10_000


def _csv_quoting(path: Path, delimiter: str) -> bool:
    """Whether the text file's quotes are CSV quoting: always where commas separate.

    Tab-separated files follow two customs: quoting as CSV does (pandas, spreadsheets), or
    none at all, a quote being part of the text (a database's export of the title
    ``"Weird" Science (1985)``, which read as CSV loses its quotes). Such a file quotes as
    CSV when each field that starts with a quote (of the first 10,000) is one whole
    quoted field; a file with no quote at all is found so at the speed of a byte search.
    """
    if delimiter != "\t":
        return True
    import mmap

    with open(path, "rb") as f:
        if not os.fstat(f.fileno()).st_size:
            return True
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            first = data.find(b'"')
            if first < 0:
                return True
            start = data.rfind(b"\n", 0, first) + 1  # the line the first quote is on
            for n, m in enumerate(_FIELD_QUOTE.finditer(data, start)):
                if n == _QUOTE_CHECKS:
                    break
                if not _QUOTED_FIELD.match(data, m.start()):
                    return False
    return True


def _ragged_line(path: Path) -> tuple[int, int, int, bool] | None:
    """``(line, fields, header fields, unclosed)`` of a text file's first row whose field
    count is not the header's, read again line by line (only after the fast reader
    failed). A row that ran on over several lines to the end of the file holds a quote
    that nothing closes: its first line is named, with ``unclosed``."""
    with _text_rows(path) as (header, rows):
        start = rows.line_num
        for row in rows:
            if not _blank(row, header) and len(row) != len(header):
                # Named on its first line; open when it runs to the end of a file whose
                # quotes do not pair up (one over two lines that closes is of a wrong width).
                over = rows.line_num - start > 1 and any("\n" in field for field in row)
                return start + 2, len(row), len(header), over and _unclosed_row(path) == start + 2
            start = rows.line_num
    return None


def _unclosed_row(path: Path) -> int | None:
    """The line a text file's row starts on whose quoted field no quote closes before the
    file ends, read as a CSV reader reads it (a quote inside a field that is not quoted is
    text); None when every quoted field closes. Read only where a quote looks open."""
    with open(path, newline="", encoding="utf-8-sig", errors=WINDOWS_BYTES) as f:
        first = f.readline()
        reader = csv.reader(f, delimiter=_delimiter(path, first.encode()), strict=True)
        start = reader.line_num
        while True:
            try:
                next(reader)
            except StopIteration:
                return None
            except csv.Error as e:
                if "unexpected end of data" in str(e):
                    return start + 2
            start = reader.line_num


def _written(path: Path, row: int, column: str) -> str | None:
    """What a text file's data row ``row`` holds in ``column``, as written; None for Parquet."""
    if path.suffix.lower() in (".parquet", ".pq"):
        return None
    header, _, fields = _data_row(path, row)
    k = header.index(column) if column in header else len(fields)
    return fields[k] if k < len(fields) else None


def _data_row(path: Path, row: int) -> tuple[list[str], int, list[str]]:
    """A text file's header, and the line data row ``row`` (0-based, as the fast reader
    counts them: blank lines are no rows) starts on, with its fields. A quoted field
    may run over several lines, so lines and rows are counted apart."""
    with _text_rows(path) as (header, rows):
        start, seen = 2, -1
        for fields in rows:
            if not _blank(fields, header):  # a blank line is skipped, as the reader skips it
                seen += 1
                if seen == row:
                    return header, start, fields
            start = rows.line_num + 2
    return header, row + 2, []


def _unread_note(path: Path, unread: list[str], rated: bool, timed: bool) -> str | None:
    """The line said when a log has no rating column (and plain events were not asked for)
    or no time column by its usual name while some of its columns go unread: one of them
    may be it, and the log would lose its stars or its times without a word."""
    missing = [role for role, found in (("rating", rated), ("time", timed)) if not found]
    if not missing or not unread:
        return None
    columns = _left_unread(unread)
    usual = "; ".join(f"{role}: {', '.join(COLUMN_NAMES[role])}" if len(missing) > 1 else ", ".join(COLUMN_NAMES[role])
                      for role in missing)
    reads = {("rating",): "as plain events", ("time",): "in the file's order",
             ("rating", "time"): "as plain events in the file's order"}[tuple(missing)]
    held = " or ".join({"rating": "ratings", "time": "times"}[role] for role in missing)
    which = "one" if len(unread) > 1 else "it"
    found = f"no {missing[0]} column was" if len(missing) == 1 else "neither a rating nor a time column was"
    return (f"{path}: {found} found by its usual name ({usual}), and {columns}, "
            f"so the log reads {reads}; if {which} holds {held}, name it with --columns "
            f"{' or '.join(f'{role}=NAME' for role in missing)}")  # (a note, kept with the data: the CLI's words)


#: A number as a spreadsheet shows one too long for its column: 1.23457E+11.
_E_NOTATION = r"\s*[+-]?\d(?:[.,]\d+)?[eE]\+\d+\s*"


def _rounded_ids_note(path: Path, raw: np.ndarray, kind: str) -> str | None:
    """The line said when ids are written as a spreadsheet shows long numbers (1.23457E+11):
    saved so, they may have been rounded to six digits, and ids that differed may now be
    one, which nothing else shows (each reads as a text id of its own)."""
    if raw.dtype.kind != "O" or not len(raw):
        return None
    rounded = pd.Series(raw).astype(str).str.fullmatch(_E_NOTATION).to_numpy()
    if not rounded.any():
        return None
    n, example = int(rounded.sum()), str(raw[int(np.argmax(rounded))])
    return (f"{path}: {counted(n, f'{kind} id')} {'is' if n == 1 else 'are'} written in E notation, such as "
            f"{example!r}, as a spreadsheet shows long numbers: saved so, they may have been rounded, and ids that "
            "differed may now be one; save the ids as text (the column formatted as Text) and read the log again")


def _left_unread(unread: list[str]) -> str:
    """``the columns 'a', 'b' are left unread`` (or the one column)."""
    names = ", ".join(map(repr, unread))
    return f"the column{'s' if len(unread) > 1 else ''} {names} {'are' if len(unread) > 1 else 'is'} left unread"


def _no_genres_note(path: str | os.PathLike, unread: list[str]) -> str:
    """The line said when a catalogue has no genres column by its usual name while some of
    its columns go unread: one of them may be it, and its movies would have no genres
    (no --genre, no genre in the lists) without a word."""
    columns = _left_unread(unread)
    return (f"{os.fspath(path)}: no genres column was found by its usual name ({', '.join(_CATALOG_NAMES['genres'])}), "
            f"and {columns}, so the movies have no genres; if {'one' if len(unread) > 1 else 'it'} holds them, "
            "name it with --columns genres=NAME")  # (a note, kept with the data: the CLI's words)


#: Column names of people's details, as MovieLens's users files and their exports name them.
_DETAILS = ("age", "gender", "occupation", "zip", "zip_code", "zipcode")


def _details_note(path: Path, unread: list[str]) -> str | None:
    """The line said when a log's unread columns look like people's details (age, gender):
    a model of them (two-tower) said "the data has no user demographics" of a file holding
    them, and nothing said why."""
    details = [c for c in unread if str(c).strip().lower() in _DETAILS]
    if not details:
        return None
    return (f"{path}: {_left_unread(details)}: cinerec reads people's details (age, gender, occupation, zip code) from a MovieLens "
            "release's users file only, so a model of them (two-tower's user tower, mlp-rating with features) reads "
            "each person's id alone here")


@contextlib.contextmanager
def _text_rows(path: Path) -> Iterator[tuple[list[str], Any]]:
    """A text file's header fields and a csv reader over its other rows (``line_num``
    counts from the line after the header), for the slow paths that name a line."""
    with open(path, "rb") as raw:
        line = raw.readline()
    with open(path, newline="", encoding="utf-8-sig", errors=WINDOWS_BYTES) as f:
        f.readline()  # (the header: as the fast reader names its columns)
        first = _header_text(line)
        delimiter = _delimiter(path, line)
        quoting: Literal[0, 3] = csv.QUOTE_MINIMAL if _csv_quoting(path, delimiter) else csv.QUOTE_NONE
        header = next(csv.reader([first.rstrip("\r\n")], delimiter=delimiter, quoting=quoting), [])
        yield header, csv.reader(f, delimiter=delimiter, quoting=quoting)


#: A number as text (1, 4.5, -3, 1e9; not Python's "4_5" or "inf"). A header cell that is
#: one, with no usual column name beside it, makes the first line data, not a header.
NUMBER = re.compile(r"\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$")


def _find(frame: Any, names: Mapping[str, tuple[str, ...]], given: Mapping[str, str], role: str,
          path: Path, required: bool) -> str | None:
    columns = list(frame.column_names if hasattr(frame, "column_names") else frame.columns)
    known = {n for role_names in names.values() for n in role_names}
    numbers = [c for c in columns if NUMBER.match(str(c))]
    # (a Parquet file's column names are names, never a row of data)
    if numbers and path.suffix.lower() not in (".parquet", ".pq") \
            and not any(str(c).strip().lower() in known for c in columns):
        # No header line: naming line 1's values with --columns would drop that line's row.
        what = "a log" if names is COLUMN_NAMES else "a catalogue"
        roles = "user, item, rating, timestamp" if names is COLUMN_NAMES else "item, title, genres"
        raise DataError(f"{path}: line 1 ({', '.join(map(repr, columns))}) holds a number and none of the usual "
                        f"column names, so it reads as data: {what} names its columns ({roles}) in its first line, so "
                        f"add one; if this is that line, rename its columns that are numbers "
                        f"({', '.join(map(repr, numbers))})")
    if required and not columns:  # not a header without the name: no header at all (--columns or not)
        raise DataError(f"{path}: no header line naming its columns (the file is empty or blank)")
    if role in given:
        if given[role] not in columns:
            # A header written "user, item, rating": its names are the words, not the spaces.
            spaced = [c for c in columns if str(c).strip() == given[role]]
            if len(spaced) == 1:
                return spaced[0]
            raise DataError(f"{path}: no column {given[role]!r} for the {role} (columns: {', '.join(map(str, columns))})")
        _once(columns, given[role], role, path)
        return given[role]
    found = [c for c in columns if str(c).strip().lower() in names[role]]
    if len(found) > 1 and all(c == found[0] for c in found):
        _once(columns, found[0], role, path)
    if len(found) > 1:  # two columns could be it: which one is meant is the user's to say
        how = f"name the one to use with {_columns_words(role)}" if names is COLUMN_NAMES or role in CATALOG_ROLES \
            else "rename the other"
        raise DataError(f"{path}: columns {found[0]!r} and {found[1]!r} could both be the {role}; {how}")
    if found:
        return found[0]
    if required:
        hint = f"name it with {_columns_words(role)}" if names is COLUMN_NAMES or role in CATALOG_ROLES \
            else "rename its id column to one of those"
        # "::" first: a MovieLens .dat line ("1::Toy Story (1995)::Animation|Comedy") holds "|" too
        odd = next((name for sep, name in (("::", "'::'"), (";", "';'"), ("|", "'|'"), (" ", "space"))
                    if len(columns) == 1 and sep in str(columns[0])), None)
        if odd == "'::'":
            hint = ("the header is one column and looks '::'-separated, as MovieLens's .dat files are, with no header "
                    "line; a log's or catalogue's fields are separated by commas or tabs, under a header naming them")
        elif odd is not None:  # one column holding every name: another separator
            hint = f"the header is one column and looks {odd}-separated; a log's fields are separated by commas or tabs"
        elif path.suffix.lower() not in (".parquet", ".pq") and not any(
                str(c).strip().lower() in known or str(c).strip() in given.values() for c in columns):
            # No usual name at all, none named with --columns: line 1 may be data, and
            # naming its values would drop its row.
            hint += ("; if line 1 is data, not a header, add a header line above it instead (naming line 1's "
                     "values would drop its row)")
        if role == "user" and names is COLUMN_NAMES:  # (a Letterboxd export: one person's, with no such column)
            hint += ("; if it holds one person's own ratings (an export such as Letterboxd's), it is no log to learn "
                     f"from: give them to a run trained on many people's, as someone new ({one_person_way()})")
        raise DataError(f"{path}: no {role} column (looked for {', '.join(names[role])}; {hint}; "
                        f"columns found: {', '.join(map(repr, columns)) or 'none'})")
    return None


def _once(columns: list[Any], name: Any, role: str, path: Path) -> None:
    """Refuse a header naming the ``role``'s column ``name`` more than once: no name can pick one."""
    at = [k + 1 for k, c in enumerate(columns) if c == name]
    if len(at) > 1:
        raise DataError(f"{path}: columns {at[0]} and {at[1]} are both named {name!r}, so neither can be told "
                        f"apart as the {role}; rename one")


def _line(path: Path, row: int) -> str:
    """``file line N`` of data row ``row`` (0-based, after a header line); Parquet has rows, not lines."""
    if path.suffix.lower() in (".parquet", ".pq"):
        return f"{path} row {row + 1}"
    return f"{path} line {_data_row(path, row)[1]}"


def _read_log_file(path: Path, given: Mapping[str, str], day_first: bool = False) -> dict[str, Any]:
    """One file's columns: ids as pyarrow ``int64`` or string columns, ratings, times
    (with ``day_first``, dates of two leading numbers read day first, as another file of
    its folder shows them).

    The usual cases (numbers in number columns) stay in pyarrow and NumPy; a column of
    text where numbers are expected goes through pandas, which names the bad row.
    """
    import pyarrow as pa

    def id_columns(header: list[str]) -> list[str]:
        heading = SimpleNamespace(column_names=header)
        ids = {role: str(_find(heading, COLUMN_NAMES, given, role, path, True)) for role in ("user", "item")}
        _one_role_each(ids, path)
        return list(ids.values())

    table = _table(path, id_columns)
    for role in ("user", "item"):  # a frame indexed by its user or movie ids 1 to N, kept by pandas as a range
        table = _with_range_index(table, [*([given[role]] if role in given else []), *COLUMN_NAMES[role]])
    cols = {role: _find(table, COLUMN_NAMES, given, role, path, role in ("user", "item")) for role in COLUMN_NAMES}
    _one_role_each(cols, path)
    out: dict[str, Any] = {"item_column": cols["item"], "columns": [str(c) for c in table.column_names]}
    # Columns no role reads (nor a catalogue's, by name or as named): said where the log
    # has no rating or time column by its usual name, which one of them may be.
    catalogue = {n for names in _CATALOG_NAMES.values() for n in names}
    out["unread"] = [str(c) for c in table.column_names if c not in cols.values() and c not in given.values()
                     and str(c).strip().lower() not in catalogue
                     and not re.fullmatch(r"\s*(Unnamed: \d+)?\s*", str(c))]  # (pandas's row index: no name)
    # A column of titles makes the log its own catalogue (where no --catalog is given).
    out["title_column"] = next((c for c in table.column_names if str(c).strip().lower() == "title"), None)
    for role in ("user", "item"):
        values = table.column(cols[role])
        _check_id_type(values, path, role, str(cols[role]))
        if values.null_count or pa.types.is_floating(values.type):  # (a number column's empty field, a NaN)
            _check_ids(values, path, role)
        out[role] = _arrow_ids(values)
        if out[role].type not in (pa.int64(), pa.float64()):  # a number is never blank: only text is looked at
            _check_ids(out[role], path, role)
    out["rating"] = None
    if cols["rating"] is not None:
        column = table.column(cols["rating"])
        row = _first_value(column) if pa.types.is_boolean(column.type) else None
        if row is not None:  # true/false, which pandas would make 1 and 0
            value = _written(path, row, str(cols["rating"]))
            raise DataError(f"{_line(path, row)}: rating {column[row].as_py() if value is None else value!r} "
                            "is not a number")
        fast = (pa.types.is_integer(column.type) or pa.types.is_floating(column.type)) and not column.null_count
        raw = column.to_numpy() if fast else None
        # (the bounds, not abs(): int64's least value has no positive twin, and its abs() stays negative)
        fits = raw is not None and bool(np.isfinite(raw).all()) and (
            not len(raw) or (-RATING_LIMIT <= raw.min() and raw.max() <= RATING_LIMIT))
        values = raw.astype(np.float32) if fits and raw is not None else None  # (ratings are kept in float32)
        if values is None:
            series = pd.to_numeric(column.to_pandas(), errors="coerce")
            bad = (series.isna() | ~np.isfinite(series)).to_numpy()
            huge = ((series < -RATING_LIMIT) | (series > RATING_LIMIT)).to_numpy() & ~bad  # (no abs(): as above)
            if bad.any() or huge.any():
                row = int(np.argmax(bad | huge))
                # As the file writes it (1e309, not the inf it reads as; "NaN", a word the
                # reader takes for a missing value); a Parquet file's own value.
                written = _written(path, row, str(cols["rating"]))
                value = column[row].as_py() if written is None else written
                if value is None or (isinstance(value, str) and not value.strip()):  # a Parquet null, a blank cell
                    raise DataError(f"{_line(path, row)}: no rating")
                overflow = bool(np.isinf(series.iloc[row])) and "inf" not in str(value).lower()  # 1e309
                what = f"is too large to be a rating (at most {int(RATING_LIMIT):,} either way: ratings are kept as " \
                    "32-bit numbers, and the models square and sum them; divide the column down)" \
                    if huge[row] or overflow else "is not a number"
                raise DataError(f"{_line(path, row)}: rating {value!r} {what}")
            values = series.to_numpy(dtype=np.float32)
        out["rating"] = values
    out["timed"] = cols["time"] is not None
    out["zoned"] = None  # whether its clock times name their zone (None: times that need none)
    out["numeric_time"] = False  # written as numbers (seconds or finer), not as dates
    # What its dates of two leading numbers showed (day or month first), and day first to force.
    out["date_order"] = {"force": "day"} if day_first else {}
    if cols["time"] is None:
        out["time"], out["rest"] = np.zeros(table.num_rows, np.int64), None
    else:
        column = table.column(cols["time"])
        out["zoned"] = _zoned(column)
        out["numeric_time"] = pa.types.is_integer(column.type) or pa.types.is_floating(column.type)
        odd = pa.types.is_boolean(column.type) or pa.types.is_time(column.type)
        row = _first_value(column) if odd else None
        if row is not None:  # true/false (pandas would make them 1 and 0), or a clock time without its day
            value = _written(path, row, str(cols["time"]))
            what = "a clock time without its date" if pa.types.is_time(column.type) else "neither seconds nor a date"
            raise DataError(f"{_line(path, row)}: time {str(column[row].as_py()) if value is None else value!r} is "
                            f"{what}")
        if pa.types.is_integer(column.type) and not column.null_count:
            numbers = column.to_numpy()  # (uint64 as it is: past 2**63 a cast to int64 wrapped below zero)
            times, rest = numbers.astype(np.int64, copy=False), None
            if (calendar := _calendar_numbers(numbers, path)) is not None:
                times = calendar
            # (10**11 and up: past the year 5138 as seconds, milliseconds and finer when all are so)
            elif len(numbers) and (int(numbers.min()) < MIN_SECONDS or int(numbers.max()) >= 10**11):
                times, rest = _as_seconds(numbers, path, scale=True,  # milliseconds and finer, or refused
                                          order=out["date_order"])
            out["time"], out["rest"] = times, rest
        else:
            out["time"], out["rest"] = _times(column.to_pandas(), path, out["date_order"])
    return out


def _zoned(column: Any) -> bool | None:
    """Whether a time column's clock times name their zone: a Parquet timestamp by its
    type, text by its first value that is neither a number nor a date alone (a file
    whose times mix the two ways is refused as it is read); ``None`` for numbers, dates
    without a clock, and a column no such value shows."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_timestamp(column.type):
        if column.type.tz is not None:
            return True
        # Dates alone (every time midnight, as a column of dates read as timestamps) need no zone.
        per_day = {"s": 86_400, "ms": 86_400_000, "us": 86_400_000_000, "ns": 86_400_000_000_000}[column.type.unit]
        ticks = pc.fill_null(pc.cast(column, pa.int64()), 0).to_numpy(zero_copy_only=False)
        return False if (np.mod(ticks, per_day) != 0).any() else None
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        return None
    clocks = pc.match_substring_regex(column, r"\d:\d{2}")
    at = pc.index(clocks, True).as_py()
    if at is None or at < 0:
        return None
    return re.search(_ZONED, str(column[at].as_py())) is not None


def _first_value(column: Any) -> int | None:
    """The first row of an Arrow column that holds a value (not null), else None."""
    return next((i for i, v in enumerate(column.is_valid().to_pylist()) if v), None)


def _check_id_type(values: Any, path: Path, role: str, name: str) -> None:
    """Refuse an id column of lists, tables or maps, or of true and false (a Parquet file
    can hold them: two "ids", and the ratings of all but two pairs dropped as repeats)."""
    import pyarrow as pa

    if pa.types.is_nested(values.type) or pa.types.is_boolean(values.type):
        raise DataError(f"{path}: the {role} id column {name!r} holds {values.type} values, not ids")


def _check_ids(values: Any, path: Path, role: str) -> None:
    """Refuse a missing id, naming its line. The CSV reader keeps an empty text field as
    ``""`` rather than null, so a blank one is missing too."""
    import pyarrow as pa
    import pyarrow.compute as pc

    missing = pc.is_null(values)
    text = pa.types.is_string(values.type) or pa.types.is_large_string(values.type)
    if text:
        # Kleene logic: "null or anything" is true, where plain ``or_`` gives null, which
        # ``any`` then skips (a Parquet null id read as the text "None").
        trimmed = pc.utf8_trim_whitespace(values)
        missing = pc.or_kleene(missing, pc.equal(trimmed, ""))
    missing = pc.fill_null(missing, True)
    if pa.types.is_floating(values.type):  # NaN, as pandas and Polars write a missing number; inf
        numbers = values.to_numpy(zero_copy_only=False)  # (nulls as NaN)
        if not np.isfinite(numbers).all():
            row = int(np.argmax(~np.isfinite(numbers)))
            if not np.isnan(numbers[row]):
                raise DataError(f"{_line(path, row)}: {role} id {numbers[row]} is not an id")
            missing = pa.array(np.isnan(numbers))
        # From 2**53 on a float cannot hold every whole number: ids so written have lost
        # their last digits, and two people (or movies) may read as one.
        large = np.abs(np.where(np.isnan(numbers), 0.0, numbers)) >= 2.0 ** 53
        if large.any():
            row = int(np.argmax(large))
            raise DataError(f"{_line(path, row)}: {role} id {numbers[row]:.0f} is a floating-point number of 2**53 "
                            "or more, which cannot hold every whole number: such ids have lost their last digits, "
                            "and two may read as one; write the ids as whole numbers or as text")
    if pc.any(missing).as_py():
        row = int(np.argmax(missing.to_numpy(zero_copy_only=False)))
        raise DataError(f"{_line(path, row)}: no {role} id")
    if text:
        # R's write.csv writes a missing id as NA, a database's export as NULL, pandas as
        # NaN: read as text, each was a person (or movie) of its own, and numbers beside it
        # text too. (Only the short ids are looked at: every such word is 4 letters or fewer.)
        short = pc.fill_null(pc.less_equal(pc.utf8_length(trimmed), max(map(len, _MISSING_IDS))), False)
        rows = np.flatnonzero(short.to_numpy(zero_copy_only=False))
        words = pc.take(trimmed, pa.array(rows))  # (as written: "Nan" and "Na" are people's names)
        null = pc.fill_null(pc.is_in(words, value_set=pa.array(sorted(_MISSING_IDS))), False).to_numpy(
            zero_copy_only=False)
        if null.any():
            row = int(rows[np.argmax(null)])
            raise DataError(f"{_line(path, row)}: no {role} id ({values[row].as_py()!r}, as R, databases and pandas "
                            f"write a missing value); give each row its {role}'s id")


#: A whole number as Python and pandas write a float: ``1.0``, ``-42.0``, ``-0.0`` (no
#: leading zero or plus sign; within int64), or as an integer is written (``1``; not ``-0``).
_WHOLE_DECIMAL = r"^(-?(0|[1-9][0-9]{0,17})\.0|0|-?[1-9][0-9]{0,17})$"


def _whole_decimals(ids: Any) -> bool:
    """Whether a text id column is all whole numbers, written as decimals (``"1.0"``) or
    beside them as integers (``"1"``, where one file joined to another holds both)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not (pa.types.is_string(ids.type) or pa.types.is_large_string(ids.type)) or not len(ids):
        return False
    first = ids[0].as_py()  # (one id first: most columns of text are not so)
    return isinstance(first, str) and re.match(_WHOLE_DECIMAL, first) is not None and \
        bool(pc.all(pc.match_substring_regex(ids, _WHOLE_DECIMAL)).as_py())


def _as_whole(ids: Any) -> Any:
    """``"1.0"``, ``"-42.0"`` as the numbers 1, -42 (text :func:`_whole_decimals` accepts)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.cast(pc.replace_substring_regex(ids, r"\.0$", ""), pa.int64())


def _arrow_ids(values: Any) -> Any:
    """Whole numbers as a pyarrow ``int64`` column, whole floats as ``float64``, anything
    else as a pyarrow string column.

    Text is a number only when it is exactly how that number is written: ``"42"`` is
    42, while ``"007"``, ``"+7"`` and ``"7.0"`` stay text, so no two ids written
    differently become one and each keeps the spelling its file gave it. A column of
    floats stays floats where every one is whole, else is text as Python and pandas
    write them (``"1.0"``, ``"1.5"``), so a Parquet file reads as its CSV does:
    :func:`_join_ids` makes numbers of whole floats and of text written as whole
    decimals (``"1.0"``) where every file's ids are numbers or so, and text of them
    (``"1.0"``) where not. Missing and non-finite ids are refused before (:func:`_check_ids`).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_integer(values.type):
        if values.type == pa.int64():
            return values
        try:
            return pc.cast(values, pa.int64())
        except pa.ArrowInvalid:  # uint64 past int64's range: ids all the same, kept as text
            return pc.cast(values, pa.string())
    if pa.types.is_floating(values.type):
        numbers = values.to_numpy()
        # Whole numbers within int64 (1e20 would wrap to one shared, negative id): kept as
        # floats, which _join_ids makes numbers where every file's ids are numbers, and
        # text as a CSV writes them ("1.0") where another file's are text.
        if bool(np.all(np.mod(numbers, 1) == 0)) and bool(np.all(np.abs(numbers) < 2.0 ** 63)):
            return pa.chunked_array([numbers.astype(np.float64)])
        return _float_text(numbers)
    text = pc.cast(values, pa.string())
    try:
        numbers = pc.cast(text, pa.int64())  # digits with an optional sign, or it raises
    except pa.ArrowInvalid:
        # Spaces around an id are the file's layout, not the id: "anna " is anna.
        text = pc.utf8_trim_whitespace(text)
        try:
            numbers = pc.cast(text, pa.int64())
        except pa.ArrowInvalid:
            return text
    # The cast also takes a leading zero or plus sign. Each text's first byte, read from
    # the column's buffers, shows those; a minus sign is checked by writing the numbers back.
    for chunk in text.chunks:
        if len(chunk) == 0:
            continue
        offsets = np.frombuffer(chunk.buffers()[1], np.int32)[chunk.offset:chunk.offset + len(chunk) + 1]
        first = np.frombuffer(chunk.buffers()[2], np.uint8)[offsets[:-1]]
        if (((first == ord("0")) & (np.diff(offsets) > 1)) | (first == ord("+"))).any():
            return text
        if (first == ord("-")).any() and not pc.all(pc.equal(pc.cast(numbers, pa.string()), text)).as_py():
            return text
    return numbers


def _as_number(ids: Any) -> Any:
    """Ids that are numbers as ``int64``: already so, whole floats, or text written as whole
    decimals (``"1.0"``)."""
    import pyarrow as pa

    return ids if ids.type == pa.int64() else ids.cast(pa.int64()) if ids.type == pa.float64() else _as_whole(ids)


def _float_text(numbers: np.ndarray) -> Any:
    """Float ids as text, as a CSV of the same column writes them (``"1.0"``, ``"1.5"``;
    Arrow's own cast writes 1.0 as ``"1"``)."""
    import pyarrow as pa

    # (each as its own type writes it: a float32 1.1 is "1.1", not 1.100000023841858 as a float64)
    return pa.chunked_array([pa.array([str(v) for v in numbers], pa.string())])


def _join_ids(parts: list[Any]) -> Any:
    """The files' id columns as one: ``int64`` when every file has numbers (whole ones
    written as decimals too, ``"1.0"``, or a column of whole floats), else text as
    written, a column of floats as a CSV writes it (``"1.0"``), so that a Parquet file
    and a CSV of the same ids read alike beside text ids."""
    import pyarrow as pa

    if all(p.type in (pa.int64(), pa.float64()) or _whole_decimals(p) for p in parts):
        parts = [_as_number(p) for p in parts]
    parts = [_float_text(p.to_numpy()) if p.type == pa.float64() else p for p in parts]
    kind = pa.int64() if all(p.type == pa.int64() for p in parts) else pa.string()
    # Numbers in one file and text in another: all text.
    return pa.chunked_array([c for p in parts for c in (p if p.type == kind else p.cast(kind)).chunks], type=kind)


#: The earliest and latest times a log may hold, in seconds: the years 1 to 9999.
MIN_SECONDS, MAX_SECONDS = -62_135_596_800, 253_402_300_799

#: Times as read: ``(n,) int64`` whole seconds since the epoch, and the part of a second
#: that each time has beyond them (``(n,) float64``, in seconds), or None when every time
#: is whole. A dataset keeps whole seconds; the rest orders rows that share a second
#: (:func:`_in_time_order`), so that the latest of them is the latest as written.
Times = tuple[np.ndarray, "np.ndarray | None"]




def _times(values: pd.Series, path: Path, order: dict[str, Any] | None = None) -> Times:
    """Whole seconds since the epoch and what is left below them (:data:`Times`), from
    numbers (seconds, or milliseconds, microseconds or nanoseconds when every one is too
    large to be seconds: see :func:`_as_seconds`), dates or a mix of both in text
    (``order``: as :func:`_dates` takes and fills it)."""
    if values.dtype.kind in "iuf":
        bad = values.isna().to_numpy()
        if bad.any():
            raise DataError(f"{_line(path, int(np.argmax(bad)))}: no time")
        numbers = values.to_numpy()
        calendar = _calendar_numbers(numbers, path)
        return (calendar, None) if calendar is not None else _as_seconds(numbers, path, scale=True, order=order)
    if values.dtype.kind == "M":
        bad = values.isna().to_numpy()
        if bad.any():
            raise DataError(f"{_line(path, int(np.argmax(bad)))}: no time")
        return _seconds(pd.to_datetime(values, utc=True))
    # Text: numbers are seconds, anything else must read as a date.
    seconds = pd.to_numeric(values, errors="coerce")
    text = seconds.isna().to_numpy()
    out, rest = np.zeros(len(values), dtype=np.int64), np.zeros(len(values))
    rows, written = np.flatnonzero(~text), values.to_numpy()[~text]
    calendar = _calendar_numbers(seconds.to_numpy()[~text], path, rows=rows, written=written)
    if calendar is not None:
        out[~text] = calendar
    else:
        out[~text], part = _as_seconds(seconds.to_numpy()[~text], path, scale=not text.any(),
                                       rows=rows, written=written, order=order)
        if part is not None:
            rest[~text] = part

    if text.any():
        stamps = _dates(values[text], np.flatnonzero(text), path, order)
        bad = stamps.isna().to_numpy()
        if bad.any():
            row = int(np.flatnonzero(text)[np.argmax(bad)])
            value = values.iloc[row]
            if value is None or (isinstance(value, float) and np.isnan(value)) or not str(value).strip():
                raise DataError(f"{_line(path, row)}: no time")  # as an empty cell of seconds is said
            raise DataError(f"{_line(path, row)}: time {value!r} is neither seconds nor a date")
        out[text], part = _seconds(stamps)
        if part is not None:
            rest[text] = part
        # 0 or 2021 beside 2021-01-03: a placeholder or a year, not a time in 1970
        near = (np.abs(out[~text]) < _YEAR_SECONDS) & (out[~text] < out[text].min() - _YEAR_SECONDS)
        if calendar is None and near.any():
            at = int(np.argmax(near))
            example = values.iloc[int(np.argmax(text))]
            raise DataError(f"{_line(path, int(rows[at]))}: time {written[at]!r} reads as seconds within a year "
                            f"of 1970, beside dates in text (such as {example!r}): give it as a date")
    return out, rest if rest.any() else None


#: A clock time followed by its time zone: 10:00:00Z, 10:00+02:00, 10:00:00.5 -0500, 10:00 UTC,
#: 10:00 PM -05:00, 10:00:00,5Z, 10:00:00 GMT+0100.
_ZONED = (r"\d:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:[AaPp]\.?[Mm]\.?)?\s*"
          r"(?:[zZ]|(?:UTC|GMT)?\s*[+-]\d{2}(?::?\d{2})?|UTC|GMT)\s*$")

#: A date written with its day and month as numbers first: 12/01/2021, 1.2.21, 3-4-2020.
_NUMERIC_DATE = r"^\s*(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2}|\d{4})\b"


def _dates(values: pd.Series, rows: np.ndarray, path: Path, order: dict[str, Any] | None = None) -> pd.Series:
    """Dates in text, ``NaT`` where a value is none. Dates that start with day and month
    as numbers are read one way for the whole column: day first when some of them can
    only be read so (13/01/2021), or ``order["force"]`` says so (another file of the
    folder showed it), month first otherwise; a column holding both kinds (13/01/2021 and
    01/13/2021) is refused, naming a line of each. ``order`` gets what the column showed:
    ``"order"`` (``"day"``, ``"month"``, or ``"either"`` where none can only be read one
    way: 03/04/2021) and ``"example"`` (a date that shows it, and where)."""
    parts = values.astype(str).str.extract(_NUMERIC_DATE)
    first, second = pd.to_numeric(parts[0]), pd.to_numeric(parts[1])
    day_first, month_first = (first > 12).to_numpy(), (second > 12).to_numpy()
    if day_first.any() and month_first.any():
        a, b = int(np.argmax(day_first)), int(np.argmax(month_first))
        raise DataError(f"{_line(path, int(rows[a]))}: time {values.iloc[a]!r} reads day first, and "
                        f"{_line(path, int(rows[b])).removeprefix(f'{path} ')}: {values.iloc[b]!r} month first; "
                        "write the dates one way (YYYY-MM-DD reads only one way)")
    text = values.astype(str)
    zoned = text.str.contains(_ZONED, regex=True).to_numpy()
    if zoned.any() and not zoned.all():  # a clock with no zone beside ones with it: which is later is unknown
        a, b = int(np.argmax(zoned)), int(np.argmin(zoned))
        raise DataError(f"{_line(path, int(rows[a]))}: time {values.iloc[a]!r} names its time zone, and "
                        f"{_line(path, int(rows[b])).removeprefix(f'{path} ')}: {values.iloc[b]!r} does not; give "
                        "every time with its zone, or none (times without one are read as UTC)")
    stamps = pd.to_datetime(values, utc=True, errors="coerce", format="mixed")
    numeric = parts[0].notna().to_numpy()
    # Dates written with dots (04.03.2021) are day first wherever they are written so; they
    # were read month first, as 3 April, where none showed its order.
    dotted = numeric.any() and bool(text[numeric].str.match(r"\s*\d{1,2}\.\d{1,2}\.").all()) \
        and not month_first.any()
    if day_first.any() or dotted or (order or {}).get("force") == "day":  # the column's numeric dates, day first
        stamps[numeric] = pd.to_datetime(values[numeric], utc=True, errors="coerce", format="mixed", dayfirst=True)
    if order is not None:
        either = ((first != second) & first.notna()).to_numpy()  # (03/04: one date or another, by the order)
        for kind, shown in (("day", day_first), ("month", month_first), ("dots", either & dotted),
                            ("either", either)):
            if shown.any():
                one = int(np.argmax(shown))
                order.update(order=kind, example=(str(values.iloc[one]).strip(), _line(path, int(rows[one]))))
                break
        # Every such date as NN-NN-NN: a two-digit year may as well come first (21-03-04 is
        # 2021-03-04 as year, month, day), which no date of them rules out.
        third = pd.to_numeric(parts[2])
        if numeric.any() and values[numeric].astype(str).str.match(r"\s*\d{2}-\d{1,2}-\d{2}(?!\d)").all() and \
                bool(((second[numeric] <= 12) & (third[numeric] >= 1) & (third[numeric] <= 31)).all()):
            order["year_first"] = True
    # pandas reads "now", "today" and a clock time alone (10:30) as a time of the day the
    # log is read, no time of the log's; only times near it are looked at (a log of dates
    # long past has none).
    near = ((stamps - pd.Timestamp.now(tz="UTC")).abs() < pd.Timedelta(days=2)).to_numpy()
    if near.any():
        said = text[near].str.strip().str.lower()
        clock = said.str.fullmatch(_CLOCK_ALONE).to_numpy(dtype=bool)
        bad = said.isin(_CLOCK_WORDS).to_numpy() | clock
        if bad.any():
            first = int(np.flatnonzero(near)[np.argmax(bad)])
            what = " (a clock time without its date)" if clock[np.argmax(bad)] else ""
            raise DataError(f"{_line(path, int(rows[first]))}: time {values.iloc[first]!r} is neither seconds nor a "
                            f"date{what}")
    # and fills in a year not written (May, 10am, 2nd) from the year 1: refused, as text that is no date
    for at in np.flatnonzero((stamps.dt.year == 1).to_numpy()):
        if not _names_a_year(text.iloc[at]):
            raise DataError(f"{_line(path, int(rows[at]))}: time {values.iloc[at]!r} is neither seconds nor a date "
                            "(read as one, it falls in the year 1, which it does not name; write dates as YYYY-MM-DD)")
    return stamps


#: Words pandas reads as a time that is the clock's when the log is read.
_CLOCK_WORDS = ("now", "today", "tomorrow", "yesterday")
#: A clock time with no date (lower case): 10:30, 10:30:15.5, 9:00 pm, 10:30z, 10:30 utc+01:00.
_CLOCK_ALONE = r"t?\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:[ap]\.?m\.?)?\s*(?:z|(?:utc|gmt)?\s*[+-]\d{2}(?::?\d{2})?|utc|gmt)?"


def _names_a_year(text: str) -> bool:
    """Whether a date that reads as in the year 1 says so (0001-05-01), rather than
    leaving its year out (May): read again with another year to fill in, it stays there."""
    from datetime import datetime

    from dateutil import parser

    try:
        return parser.parse(text, default=datetime(2000, 6, 15)).year == 1
    except (ValueError, OverflowError):
        return False


#: Whole numbers that write a date as digits, years 1900 to 2100: YYYYMMDD, YYYYMMDDhhmm
#: and YYYYMMDDhhmmss (one column may mix them: a day alone beside a day and its time).
_CALENDAR_FORMATS = ((19_000_101, 21_001_231, "%Y%m%d"), (190_001_010_000, 210_012_312_359, "%Y%m%d%H%M"),
                     (19_000_101_000_000, 21_001_231_235_959, "%Y%m%d%H%M%S"))


def _calendar_numbers(numbers: np.ndarray, path: Path | None = None, *, rows: np.ndarray | None = None,
                      written: np.ndarray | None = None) -> np.ndarray | None:
    """Seconds since the epoch when every one of ``numbers`` is a date written as digits
    (20190304, or 201903041530 or 20190304153000 with its clock), else None. As seconds
    such numbers would lie within August 1970, as milliseconds in 1976 or the years 2572
    to 2635, so a log whose every time reads as such a date is taken for one. Where most
    of them are such dates and some are not (20211332, a typo), the first that is not is
    refused, naming its line in ``path`` (``rows``: the data rows of ``numbers``;
    ``written``: their text as the file has it): read as seconds, the whole column would
    have become August 1970."""
    if not len(numbers):
        return None
    if numbers.dtype.kind not in "iu":  # whole numbers written with ".0", or none of this
        if not ((np.abs(numbers) < 1e15) & (numbers == np.trunc(numbers))).all():
            return None
        numbers = numbers.astype(np.int64)
    def inside(x: Any) -> Any:
        return np.logical_or.reduce([(x >= first) & (x <= last) for first, last, _ in _CALENDAR_FORMATS])

    # Seconds since 1970 lie between the ranges: a column most of whose numbers lie outside
    # them is told from a strided sample alone, before any work on its rows (a 25M-row log).
    sample = numbers[::max(1, len(numbers) // 1024)]
    if 2 * int(inside(sample).sum()) <= len(sample):
        return None
    distinct, codes = np.unique(numbers, return_inverse=True)
    codes = codes.reshape(-1)
    out = np.zeros(len(distinct), dtype=np.int64)
    covered = np.zeros(len(distinct), dtype=bool)
    for first, last, form in _CALENDAR_FORMATS:
        these = np.flatnonzero((distinct >= first) & (distinct <= last))
        if len(these):
            stamps = pd.to_datetime(pd.Series(distinct[these].astype(str)), format=form, errors="coerce", utc=True)
            read = ~stamps.isna().to_numpy()
            out[these[read]] = _seconds(stamps[read])[0]  # (whole minutes or days: nothing below a second)
            covered[these[read]] = True
    if covered.all():
        return out[codes]
    dated = covered[codes]
    if path is not None and 2 * int(dated.sum()) > len(numbers):  # mostly dates: the rest are typos, not seconds
        odd, example = int(np.argmin(dated)), int(np.argmax(dated))

        def said(at: int) -> Any:
            return written[at] if written is not None else numbers[at].item()

        line = _line(path, int(rows[odd]) if rows is not None else odd)
        raise DataError(f"{line}: time {said(odd)!r} is not a date, where most of the column's times are dates "
                        f"written as digits (such as {said(example)!r}): give every time as a date")
    return None  # (20191399 beside 20190304 alone: seconds, as before)


def _as_seconds(numbers: np.ndarray, path: Path, *, scale: bool, rows: np.ndarray | None = None,
                written: np.ndarray | None = None, order: dict[str, Any] | None = None) -> Times:
    """Whole seconds from numbers that are seconds or, when ``scale`` and every one lies
    past the year 5138 as seconds (10**11 and up, as a log in milliseconds, microseconds
    or nanoseconds since 1973 does), that finer unit, with what is left below each second
    (see :data:`Times`). A time that is still not finite or not within the years 1 to 9999
    is refused, naming its line (``rows``: the data rows of ``numbers``; ``written``: their
    text as the file has it). A finer unit is written into ``order`` (``"unit"``: how many
    make a second), where the file's reading keeps what it found of its times."""
    x = numbers.astype(np.float64, copy=False)

    def where(at: int) -> tuple[str, Any]:
        row = int(rows[at]) if rows is not None else at
        return _line(path, row), written[at] if written is not None else numbers[at].item()

    unit = 1  # how many of the numbers' units make a second
    if scale and len(x) and np.isfinite(x).all() and x.min() >= 1e11:
        unit = 10 ** (3 * min(3, int(np.log10(x.max()) - 11) // 3 + 1))
        if order is not None:  # (said with the data: nothing else shows it)
            order["unit"] = unit
        # The unit is the largest time's. Times in a coarser unit beside them (milliseconds
        # among microseconds: a thousand times smaller) sit apart, with no time between:
        # a gap of a hundredfold or more, where times of one unit reaching back to early
        # 1970 run on without one.
        coarse = np.zeros(len(x), dtype=bool)
        if x.min() < x.max() / 100:
            steps = np.unique(x)
            jumps = steps[1:] / steps[:-1]
            if len(jumps) and jumps.max() >= 100:
                coarse = x <= steps[int(np.argmax(jumps))]
        if coarse.any() and 2 * int(coarse.sum()) > len(x):  # most of them: the largest are the odd ones out
            (line, shown), (_, other) = where(int(np.argmax(~coarse))), where(int(np.argmax(coarse)))
            raise DataError(f"{line}: time {shown!r} is a hundred times or more the column's other times (such as "
                            f"{other!r}): give every time in one unit")
        if coarse.any():
            (line, shown), (_, latest) = where(int(np.argmax(coarse))), where(int(np.argmax(x)))
            raise DataError(f"{line}: time {shown!r} reads as a time in early 1970, where the "
                            f"column's latest is {latest!r}: give every time in one unit")
        x = x / float(unit)
    elif scale and len(x) and np.isfinite(x).all() and 2 * (fine := x >= 1e11).sum() > len(x):
        # Most times in a finer unit, a few in seconds: the odd ones out are those, not the rest.
        (line, shown), (_, other) = where(int(np.argmin(fine))), where(int(np.argmax(fine)))
        raise DataError(f"{line}: time {shown!r} reads as seconds where most of the column's times are in a finer "
                        f"unit (such as {other!r}): give every time in one unit (a log in milliseconds reads so "
                        "before 1973: give it in seconds, or as dates)")
    bad = ~np.isfinite(x) | (x < MIN_SECONDS) | (x > MAX_SECONDS)
    if bad.any():
        line, shown = where(int(np.argmax(bad)))
        raise DataError(f"{line}: time {shown!r} is outside the years 1 to 9999 as "
                        "seconds (give seconds since 1970, or dates)")
    rest: np.ndarray | None
    if numbers.dtype.kind in "iu" and unit > 1:  # whole seconds and the digits below them exactly, not
        whole = (numbers // unit).astype(np.int64)  # through a float (past 2**53 it rounds up to the next second)
        rest = (numbers % unit).astype(np.float64) / unit
    else:
        whole = np.floor(x).astype(np.int64)
        rest = None if numbers.dtype.kind in "iu" else x - whole
    return whole, rest if rest is not None and rest.any() else None


def _seconds(stamps: pd.Series) -> Times:
    """Whole seconds since the epoch (rounded down), and what is left below each second
    (see :data:`Times`), whatever resolution pandas parsed the dates at: in that
    resolution, so that a date outside nanoseconds' years 1677 to 2262 (9999-12-31, a
    common "no end" date) is read as any other."""
    exact = stamps.dt.tz_convert(None).to_numpy()
    whole = exact.astype("datetime64[s]")
    rest = (exact - whole) / np.timedelta64(1, "s")
    return whole.astype(np.int64), rest if rest.any() else None


def _encode(raw: Any) -> tuple[np.ndarray, np.ndarray]:
    """Dense codes ``(n,) int32`` and the sorted distinct raw ids.

    Numbers go through the MovieLens readers' encoder (a lookup table for ids below
    2**26); text is encoded by pyarrow: its distinct values, sorted (UTF-8 byte order,
    which is code point order), then each row's position among them.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if raw.type == pa.int64():
        from cinerec.data.movielens import _encode as encode_numbers

        return encode_numbers(raw)  # chunk by chunk, without a concatenated copy

    distinct = pc.unique(raw)
    distinct = distinct.take(pc.sort_indices(distinct))
    codes = pc.index_in(raw, value_set=distinct).to_numpy().astype(np.int32, copy=False)
    return codes, np.asarray(distinct.to_pylist(), dtype=object)


# -- the catalogue -------------------------------------------------------------------------


#: A genres cell holding one of these alone has no genres: how R, pandas, Python, Excel
#: and databases write a missing value (a title keeps them as written: a film may be "NA").
_NO_GENRES = frozenset({"na", "n/a", "#n/a", "<na>", "nan", "null", "none", "\\n"})

#: An id cell holding one of these alone has no id: the same words, as those tools write
#: them (not "Nan" or "Na", which are names).
_MISSING_IDS = frozenset({"NA", "N/A", "#N/A", "<NA>", "NaN", "nan", "NULL", "null", "None", "\\N"})


def _with_range_index(table: Any, id_names: Sequence[str]) -> Any:
    """``table`` with the movie ids that pandas kept in its metadata alone as a column: a
    frame indexed by ``movieId`` holding 1 to N is saved as a range (start, stop, step),
    no column, and its ids were lost ("no item column"). Only an index named as the id
    column is (``id_names``), and only where no column is: any other index is the frame's
    row numbers."""
    import pyarrow as pa

    names = {str(n).strip().lower() for n in id_names}
    if any(str(c).strip().lower() in names for c in table.column_names):
        return table
    try:
        meta = table.schema.pandas_metadata or {}
    except (ValueError, TypeError):  # (not pandas's: nothing to read there)
        return table
    for index in meta.get("index_columns") or []:
        if not isinstance(index, dict) or index.get("kind") != "range" or not isinstance(index.get("name"), str) \
                or index["name"].strip().lower() not in names:
            continue
        name = index["name"]
        try:
            ids = np.arange(int(index["start"]), int(index["stop"]), int(index.get("step", 1)), dtype=np.int64)
        except (KeyError, TypeError, ValueError):
            continue
        if len(ids) == table.num_rows:
            return table.append_column(name, pa.array(ids))
    return table


def _whole(value: Any) -> Any:
    """A whole float as the integer it is (``12000.0`` as ``12000``); anything else as it is."""
    return int(value) if isinstance(value, (float, np.floating)) and float(value).is_integer() else value


def _genres_as_text(table: Any, column: str | None, path: Path) -> Any:
    """``table`` with a genres column of lists (a Parquet file's ``["Drama", "War"]``) as
    the ``|``-separated text a CSV catalogue writes; a list of other than text or numbers
    is refused. Each list's text had been numpy's printout of it, one "genre" per list."""
    import pyarrow as pa

    if column is None:
        return table
    values = table.column(column)
    kind = values.type
    if not (pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind)):
        if pa.types.is_nested(kind):
            raise DataError(f"{path}: the genres column {column!r} holds {kind} values, not genre names")
        return table
    inner = kind.value_type
    if not (pa.types.is_string(inner) or pa.types.is_large_string(inner) or pa.types.is_integer(inner)
            or pa.types.is_dictionary(inner) or pa.types.is_null(inner)):  # (null: every list empty)
        raise DataError(f"{path}: the genres column {column!r} holds {kind} values, not lists of genre names")
    # A missing name in a list is left out, not the list (joined by arrow, it was null).
    joined = ["|".join(str(name) for name in names if name is not None) if names is not None else None
              for names in values.to_pylist()]
    return table.set_column(table.column_names.index(column), column, pa.array(joined, pa.string()))


def _genre_flags(genres: pd.Series) -> tuple[list[str], np.ndarray]:
    """Sorted genre names and ``(rows, genres) bool`` flags from ``|``-separated text.

    Each name is trimmed ("Crime | Drama" is Crime and Drama) and names that differ only
    in case are one genre, spelt as the file most often spells it (ties: as first); "(no genres listed)" is none,
    and so is a cell that is a missing-value mark alone (R's ``NA``, Python's ``None``).
    """
    genres = genres.reset_index(drop=True)
    cells = genres.fillna("").astype(str)
    cells = cells.where(~cells.str.strip().str.casefold().isin(_NO_GENRES), "")
    parts = cells.str.split("|").explode()
    parts = parts.str.strip()
    parts = parts[(parts != "") & (parts != "(no genres listed)")]
    keys = parts.str.casefold()
    # The spelling most movies give each (ties: the first written): rows of a log that each
    # write a movie's genres took the first row's, "comedy" beside "Drama".
    counts = pd.DataFrame({"key": keys.to_numpy(), "name": parts.to_numpy()}).groupby(["key", "name"], sort=False).size()
    spelling = dict(counts.groupby(level=0, sort=False).idxmax().map(lambda pair: pair[1]).items())
    names = sorted(set(spelling.values()))
    column = {key: names.index(name) for key, name in spelling.items()}
    flags = np.zeros((len(genres), len(names)), dtype=bool)
    rows = parts.index.to_numpy(dtype=np.int64)
    flags[rows, keys.map(column).to_numpy(dtype=np.int64)] = True
    return names, flags


def check_catalog(path: Path) -> None:
    """Refuse a ``--catalog`` that is no file, in one line saying which way."""
    if not path.is_file():
        if path.exists():
            raise DataError(f"{_catalog()} {path}: not a file (a folder, device or pipe); give the movie file itself")
        raise NotFoundError(f"{_catalog()} {path}: no such file")


def _read_catalog(sources: Path | Sequence[tuple[Path, Mapping[str, str]]], item_raw: np.ndarray,
                  columns: Mapping[str, str] | None = None, *, notes: list[str] | None = None,
                  unread: list[str] | None = None) -> tuple[Catalog, int, int]:
    """The catalogue for the log's movies ``item_raw``, how many movies its files list
    and how many of the log's movies it holds (none at all is refused: the wrong file or
    id column). ``sources``: the ``--catalog`` file, with ``columns`` (``--columns``
    roles, of which ``title``, ``genres`` and ``year`` name the file's columns, and
    ``item`` its id column where it has a column of that name); or the log's own files
    that hold titles, each with its roles.

    A movie may be listed more than once (as each row of a log with titles lists it)
    where its rows agree: one title, and at most one year and one set of genres (a blank
    year or genres cell is unknown, filled by another row's). ``notes`` (the log's own
    columns): a genres or year column whose rows disagree is left unread, said there,
    where a catalogue file is refused. ``unread``: :func:`_catalog_rows`'s."""
    if isinstance(sources, Path):
        sources = [(sources, dict(columns or {}))]
    files = [path for path, _ in sources]
    for path in files:
        check_catalog(path)
    parts = [_catalog_rows(path, item_raw, dict(named), notes=notes, unread=unread) for path, named in sources]
    path, id_column = files[0], parts[0][1]
    if not sum(len(rows) for rows, _ in parts) and notes is not None:
        raise DataError("it is blank on every row")
    if not sum(len(rows) for rows, _ in parts):
        raise DataError(f"{_catalog()} {path}: no movies in it (a header alone); give the file that lists them, "
                        f"or leave {_catalog()} out")
    # Numbers in one file and text in another (or in the log): compared as text.
    as_text = any(rows["id"].dtype != item_raw.dtype for rows, _ in parts)
    frame = pd.concat([rows.assign(file=k) for k, (rows, _) in enumerate(parts)], ignore_index=True)
    # Text genres separated by , or ; where no file's text holds a | (lists name theirs apart)
    text = ~frame.pop("apart").to_numpy(dtype=bool)
    if text.any():
        frame.loc[text, "genres"] = _as_pipe_separated(frame.loc[text, "genres"])
    if as_text:
        frame["id"] = frame["id"].astype(str).astype(object)
        lookup_raw = item_raw.astype(str).astype(object)
    else:
        lookup_raw = item_raw
    frame = _one_listing_each(frame, files, notes)
    ids = frame["id"].to_numpy()
    pos = pd.Index(ids).get_indexer(lookup_raw)
    found = pos >= 0
    if not found.any():
        raise DataError(f"{_catalog()} {path}: none of its {len(ids):,} movie ids is a movie of the log (the log's "
                        f"look like {_plain(item_raw[0])!r}, the catalogue's like {_plain(ids[0])!r}, in its column "
                        f"{id_column!r})")
    from cinerec.data.movielens import parse_titles

    titles_all, years_all = parse_titles(frame["title"].to_numpy(dtype=object))
    given = frame["year"].to_numpy(dtype=np.int32)
    years_all = np.where(given > 0, given, years_all)
    titles = np.array([str(i) for i in item_raw.tolist()], dtype=object)
    years = np.zeros(len(item_raw), np.int32)
    titles[found] = titles_all[pos[found]]
    years[found] = years_all[pos[found]]
    if frame["genres"].notna().any():
        names, file_flags = _genre_flags(frame["genres"])
        flags = np.zeros((len(item_raw), len(names)), dtype=bool)
        flags[found] = file_flags[pos[found]]
        # Only the genres of the log's movies: a genre no rated movie has would list
        # nothing (a page's genre menu offering it, a filter by it always empty).
        held = np.asarray(flags.any(axis=0), dtype=bool)
        names, flags = [n for n, h in zip(names, held.tolist()) if h], flags[:, held]
    else:
        names, flags = [], np.zeros((len(item_raw), 0), dtype=bool)
    return Catalog(titles, years, tuple(names), flags), len(frame), int(found.sum())


def _as_pipe_separated(genres: pd.Series) -> pd.Series:
    """Genres cells separated by ``,`` or by ``;`` (one of them, in a column where no cell
    holds a ``|``) as ``|``-separated ones: "Adventure,Animation" was one genre of that
    name, which no genre filter found."""
    text = genres[genres.notna()].astype(str)
    if not len(text) or text.str.contains("|", regex=False).any():
        return genres
    used = [sep for sep in (",", ";") if text.str.contains(sep, regex=False).any()]
    if len(used) != 1:
        return genres
    return genres.where(genres.isna(), genres.astype(str).str.replace(used[0], "|", regex=False))


def _genre_set(cell: Any) -> frozenset[str]:
    """A genres cell as the genres it names (trimmed, without case; empty: none known)."""
    if cell is None or (isinstance(cell, float) and np.isnan(cell)):
        return frozenset()
    text = str(cell)
    if text.strip().casefold() in _NO_GENRES:
        return frozenset()
    return frozenset(g.strip().casefold() for g in text.split("|") if g.strip() and g.strip() != "(no genres listed)")


def _genre_key(cell: Any) -> str | None:
    """A genres cell as the genres it names, in one spelling (trimmed, without case, in
    order): None where it names none."""
    names = _genre_set(cell)
    return "|".join(sorted(names)) if names else None


def _one_listing_each(frame: pd.DataFrame, files: Sequence[Path], notes: list[str] | None) -> pd.DataFrame:
    """``frame`` (rows of ``id``, ``title``, ``genres``, ``year``, ``row``, ``file``) with
    one row per movie, its first, a blank year or genres filled from a later row. Rows of
    one movie disagreeing are refused naming both; with ``notes``, disagreeing years or
    genres leave that column unread instead, said in ``notes``."""
    if not frame["id"].duplicated().any():
        return frame
    frame = frame.reset_index(drop=True)
    ids = frame["id"]
    first = ~ids.duplicated().to_numpy()
    place = pd.Series(np.arange(len(frame)), dtype=np.int64)

    def where(k: int) -> str:
        return _line(files[int(frame["file"].iat[k])], int(frame["row"].iat[k]))

    def refuse(what: str, row: int, at: int, new: str, old: str) -> DataError:
        return DataError(f"{where(row)}: movie id {_plain(ids.iat[row])!r} has {what} {new} here and {old} on "
                         f"{where(at)}; a movie listed again must be listed alike")

    def shown(what: str, k: int) -> str:
        value = frame[what].iat[k]
        return "none" if value is None or (what == "year" and value == 0) else repr(_plain(value))

    # Each column's value as compared (None: unknown), and the first row of each movie that knows it.
    keys = {"title": frame["title"].astype(str).str.strip(),
            "year": frame["year"].where(frame["year"] > 0),
            "genres": frame["genres"].map(_genre_key)}
    out = frame[first].reset_index(drop=True)
    for what, key in keys.items():
        known = key.notna()
        lead = place.where(known).groupby(ids, sort=False).transform("first")  # (NaN: no row knows it)
        lead_key = key.groupby(ids, sort=False).transform("first")
        bad = (known & (key != lead_key)).to_numpy()
        if bad.any():
            row = int(np.argmax(bad))
            at = int(lead.iat[row])
            error = refuse(what, row, at, shown(what, row), shown(what, at))
            if what == "title" or notes is None:
                raise error
            out[what] = 0 if what == "year" else None
            notes.append(f"the log's {what} column is left unread: it does not hold one {what} per movie "
                         f"({str(error).split('; a movie listed again')[0]})")
        elif what != "title":  # the first row that knows it, for each movie
            at = lead[first].to_numpy()
            has = ~np.isnan(at)
            values = frame[what].to_numpy()[np.where(has, at, 0).astype(np.int64)]
            column = out[what].to_numpy(copy=True)
            column[has] = values[has]
            out[what] = column
    return out


def _catalog_rows(path: Path, item_raw: np.ndarray, named: dict[str, str], *, notes: list[str] | None = None,
                  unread: list[str] | None = None) -> tuple[pd.DataFrame, str]:
    """One catalogue file's rows, checked: ``id`` (as the log's ids are, where they can
    be), ``title`` as written, ``genres`` as ``|``-separated text (None without a genres
    column), ``year`` as given (0: none) and ``row``, the file's row; and its id column.
    ``notes`` (a log's own titles): a row without a title is left out, not refused (its
    movie shows its id unless another row names it), a title over several lines (a
    quoted field the log itself reads so) is one line, and a genres or year column that
    cannot be read is left unread, said in ``notes``. ``unread`` (a catalogue file) gets
    its columns left unread where none is the genres column by its usual name."""
    lenient = notes is not None

    def roles(header: list[str]) -> dict[str, str]:
        mine = {r: n for r, n in named.items() if r in CATALOG_ROLES}
        if "item" in named and named["item"] in header:
            mine["item"] = named["item"]
        return mine

    # (the log's item column's name, said among those looked for when no column is the id)
    looked = {**_CATALOG_NAMES, "item": tuple(dict.fromkeys([*([named["item"].lower()] if "item" in named else []),
                                                            *_CATALOG_NAMES["item"]]))}

    def text_columns(header: list[str]) -> list[str]:
        """The id, title and genres columns, read as written: a column of titles such as
        "007" and "1917" is not numbers ("7", "1917.0"), nor "NA" a missing title."""
        found = SimpleNamespace(column_names=header)
        text = [_find(found, looked, roles(header), "item", path, True)]
        text += [_find(found, looked, roles(header), role, path, False) for role in ("title", "genres")]
        return [str(name) for name in text if name is not None]

    import pyarrow as pa

    id_names = [*([named["item"]] if "item" in named else []), *_CATALOG_NAMES["item"]]
    table = _with_range_index(_table(path, text_columns, what="a movie catalogue"), id_names)
    mine = roles([str(c) for c in table.column_names])
    cols = {role: _find(table, looked, mine, role, path, role in ("item", "title")) for role in _CATALOG_NAMES}
    # (--columns year=movieId read each movie's id as its year; a catalogue keyed by its
    # titles, as a log of titles is, has the one column for both)
    _one_role_each({**cols, "item": None} if cols["item"] == cols["title"] else cols, path)
    if unread is not None and cols["genres"] is None:
        # (ids of other catalogues, imdbId and tmdbId as links.csv joined in gives them, hold no genres)
        unread += [str(c) for c in table.column_names if c not in cols.values() and str(c).strip()
                   and not str(c).startswith("__index_level_") and not str(c).strip().lower().endswith("id")]
    # A categorical column (pandas's) as its values: as a category of the frame, a blank
    # title or genres cell made "" met "Cannot setitem on a Categorical with a new category".
    for role in ("title", "genres", "year"):
        name = cols[role]
        if name is not None and pa.types.is_dictionary(kind := table.column(name).type):
            table = table.set_column(table.column_names.index(name), name, table.column(name).cast(kind.value_type))
    # A column of lists names each genre apart; one of text may separate them by , or ;.
    named_apart = cols["genres"] is not None and pa.types.is_nested(table.column(cols["genres"]).type)
    try:
        table = _genres_as_text(table, cols["genres"], path)
    except DataError as e:
        if notes is None:
            raise
        notes.append(f"the log's genres column is left unread ({e})")
        cols["genres"] = None
    if notes is not None and cols["year"] is not None and pa.types.is_nested(table.column(cols["year"]).type):
        notes.append(f"the log's year column is left unread ({path}: it holds {table.column(cols['year']).type} "
                     "values, not years)")
        cols["year"] = None
    for role in ("title", "year"):
        if cols[role] is not None and pa.types.is_nested(table.column(cols[role]).type):
            raise DataError(f"{path}: the {role} column {cols[role]!r} holds {table.column(cols[role]).type} values, "
                            f"not {'text' if role == 'title' else 'years'}")
    values = table.column(cols["item"])
    _check_id_type(values, path, "movie", str(cols["item"]))
    _check_ids(values, path, "movie")
    # Each distinct listing once, at its first row: a log with titles lists a movie on
    # every row that rates it, and its columns as Python objects took most of the time.
    listed = list(dict.fromkeys(str(cols[r]) for r in ("item", "title", "genres", "year") if cols[r] is not None))
    table = table.select([table.column_names.index(name) for name in listed])
    table = table.append_column("__row", pa.array(np.arange(table.num_rows, dtype=np.int64)))
    table = table.group_by(listed, use_threads=False).aggregate([("__row", "min")]).sort_by("__row_min")
    at = table.column("__row_min").to_numpy()
    # Every column a column, as it was found above: pandas's own metadata made one the
    # index of the frame (a catalogue saved from a frame indexed by its titles).
    frame = table.to_pandas(ignore_metadata=True)
    values = _arrow_ids(table.column(cols["item"]))
    # Whole floats, or "1.0": the log's 1 where its ids are numbers, as its own read; else
    # floats written as a CSV writes them.
    if item_raw.dtype.kind in "iu" and (values.type == pa.float64() or _whole_decimals(values)):
        values = _as_number(values)
    elif values.type == pa.float64():
        values = _float_text(values.to_numpy())
    ids = values.to_numpy() if values.type == pa.int64() else np.asarray(values.to_pylist(), dtype=object)
    raw_titles = frame[cols["title"]].fillna("").astype(str).to_numpy(dtype=object)
    blank = pd.Series(raw_titles).str.strip().eq("").to_numpy()
    if lenient:
        raw_titles = pd.Series(raw_titles).str.replace(r"\s*[\r\n]+\s*", " ", regex=True).to_numpy(dtype=object)
        keep = ~blank
        frame, ids, raw_titles, at = frame[keep].reset_index(drop=True), ids[keep], raw_titles[keep], at[keep]
        blank = blank[keep]
    if blank.any():
        row = int(np.argmax(blank))
        raise DataError(f"{_line(path, int(at[row]))}: movie {_plain(ids[row])!r} has no title")
    broken = pd.Series(raw_titles).str.contains("[\r\n]", regex=True).to_numpy()
    if broken.any():  # a quote nothing closed swallows the next lines into one title
        row = int(np.argmax(broken))
        raise DataError(f"{_line(path, int(at[row]))}: the title of movie {_plain(ids[row])!r} runs over several lines "
                        "(a quote (\") that no quote closes? or a line break inside a quoted title: write each title "
                        "on one line)")
    given = np.zeros(len(ids), np.int32)
    if cols["year"] is not None:
        try:
            given = _given_years(frame[cols["year"]], path, at)
        except DataError as e:
            if notes is None:
                raise
            notes.append(f"the log's year column is left unread ({e})")
    genres = np.full(len(ids), None, dtype=object)  # (None, not NaN: a movie's rows are compared)
    if cols["genres"] is not None:
        written = frame[cols["genres"]]
        genres = written.astype(object).where(written.notna(), None).to_numpy(dtype=object)
    rows = pd.DataFrame({"id": ids, "title": raw_titles, "genres": genres, "year": given,
                         "row": at, "apart": named_apart})
    return rows, str(cols["item"])


def _given_years(written: pd.Series, path: Path, at: np.ndarray) -> np.ndarray:
    """A catalogue's year column as whole years (0: none), a bad one refused naming the
    file's line (row ``at[k]`` of the file for the ``k``-th value)."""
    dated = written.map(lambda v: isinstance(v, datetime.date), na_action="ignore").fillna(False).to_numpy(dtype=bool)
    if dated.any():  # (a reader took the cells for dates: quoted as written, not as Python's objects)
        row = int(np.argmax(dated))
        when = written.iloc[row]
        text = when.isoformat() if type(when) is datetime.date else str(when)
        raise DataError(f"{_line(path, int(at[row]))}: year {text!r} is a date, not a year: give the year alone "
                        f"({when.year})")
    numbers = pd.to_numeric(written, errors="coerce")
    bad = (numbers.isna() & written.notna() & written.astype(str).str.strip().ne("")).to_numpy()
    bad = bad | (numbers.notna() & (numbers % 1 != 0)).to_numpy()
    if bad.any():
        row = int(np.argmax(bad))
        raise DataError(f"{_line(path, int(at[row]))}: year {_plain(written.iloc[row])!r} is not a whole number")
    wild = (numbers.notna() & ((numbers < 0) | (numbers > 9999))).to_numpy()
    if wild.any():
        row = int(np.argmax(wild))  # (whole: a column with a blank is read as floats, 12000 as 12000.0)
        raise DataError(f"{_line(path, int(at[row]))}: year {_plain(_whole(written.iloc[row]))!r} is not a year (0 to "
                        "9999; 0 or blank: unknown)")
    return numbers.fillna(0).to_numpy(dtype=np.int32)
