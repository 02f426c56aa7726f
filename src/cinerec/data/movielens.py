"""Loaders for every MovieLens release, producing a :class:`~cinerec.data.dataset.Dataset`.

Three file layouts cover the releases:

- ``ml-100k``: ``u.data`` (tab-separated ``user item rating timestamp``), ``u.item``
  (``|``-separated, 24 fields, latin-1: id, title, release date, video release date,
  IMDb URL, 19 genre flags), ``u.genre`` (the genre vocabulary), ``u.user``
  (``id|age|gender|occupation|zip``) and the official folds ``u1..u5``, ``ua``, ``ub``
  (``uN.base`` / ``uN.test``, read with the ratings into ``Dataset.folds``).
- ``ml-1m`` and ``ml-10m``: ``::``-separated ``ratings.dat`` and ``movies.dat``
  (``id::title::genres``, genres joined by ``|``); ml-1m adds ``users.dat``
  (``id::gender::age::occupation::zip``, occupation an integer code). ml-1m is
  latin-1. Every small text file (movies, users, genres, occupations) is read as UTF-8
  when it is (a copy an editor re-saved), as latin-1 when most of its lines beyond ASCII
  are not UTF-8, else as UTF-8 with each stray byte as Windows-1252 writes it; a
  byte-order mark at its start is skipped.
- ``ml-20m``, ``ml-25m``, ``ml-32m``, ``ml-latest(-small)``: ``ratings.csv``
  (``userId,movieId,rating,timestamp`` with a header) and ``movies.csv``
  (``movieId,title,genres``, titles quoted when they hold commas); UTF-8, Unix or
  Windows line endings; ``(no genres listed)`` means no genre.

Ids are encoded once, here: user and movie indices follow the **sorted raw id order**
(index 0 is the smallest raw id), so ml-100k's movie ``k`` is index ``k - 1``. Only
movies that have at least one rating enter the item space; the movie file's row count
is kept in ``info["catalog_items"]``. The ratings keep their file order.

Titles lose their trailing ``(year)``, which becomes ``Catalog.years`` (``0`` when
unknown; ranges such as ``(2007-)`` give their first year). Genre vocabularies follow
each release's own order: ``u.genre`` for ml-100k, the documented alphabetical list for
the others (the genres that occur, sorted).

Ratings files are parsed by pyarrow's multi-threaded CSV reader with explicit column
types (Unix and Windows line endings alike); ``::`` files are first rewritten in memory
to a one-character separator. The id columns are encoded straight from pyarrow's chunks.
``movies.csv`` goes through the same reader. Checks are vectorised; only once a check
fails is the file scanned again, slowly (Python's csv module for ``movies.csv``), to
name the line at fault.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import zipfile
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd

from cinerec.data import download
from cinerec.data.dataset import Catalog, Dataset, IdMap, Interactions
from cinerec.errors import ConfigError, DataError, NotFoundError, expect, said
from cinerec.io import arrow_source, sweep_stale_temps

__all__ = [
    "RELEASE_NAMES",
    "OFFICIAL_FOLDS",
    "ML1M_OCCUPATIONS",
    "load",
    "locate",
    "parse_titles",
]

RELEASE_NAMES: tuple[str, ...] = tuple(download.RELEASES)
OFFICIAL_FOLDS: tuple[str, ...] = ("u1", "u2", "u3", "u4", "u5", "ua", "ub")

#: The oldest age ``u.user`` or ``users.dat`` may give (ml-1m's ages are codes 1-56).
_MAX_AGE = 150
#: ml-1m ``users.dat`` occupation codes, as listed in the release's README.
ML1M_OCCUPATIONS: tuple[str, ...] = (
    "other", "academic/educator", "artist", "clerical/admin", "college/grad student",
    "customer service", "doctor/health care", "executive/managerial", "farmer", "homemaker",
    "K-12 student", "lawyer", "programmer", "retired", "sales/marketing", "scientist",
    "self-employed", "technician/engineer", "tradesman/craftsman", "unemployed", "writer",
)

#: ml-1m's age groups, each given by its first age (1: under 18, 18: 18-24, ..., 56: 56 and over).
ML1M_AGES: tuple[int, ...] = (1, 18, 25, 35, 45, 50, 56)

_FAMILY = {"ml-100k": "100k", "ml-1m": "dat", "ml-10m": "dat"}  # every other release: "csv"
_RATINGS_FILE = {"100k": "u.data", "dat": "ratings.dat", "csv": "ratings.csv"}
_MOVIES_FILE = {"100k": "u.item", "dat": "movies.dat", "csv": "movies.csv"}
_CSV_COLUMNS = ("userId", "movieId", "rating", "timestamp")
_NO_GENRES = "(no genres listed)"
# RE2 syntax (pyarrow): a trailing "(1995)", "(2007-)" or "(1980-1981)", en dash allowed,
# perhaps followed by a video or television mark, "(V)" or "(TV)", which stays in the title.
_YEAR_PATTERN = r"^(?P<title>.*?)\s*\(\s*(?P<year>\d{4})(?:\s*[-\x{2013}]\s*\d{0,4})?\s*\)(?P<mark>\s*\((?:V|TV)\))?$"


def _release_file(name: str) -> str | None:
    """The release a file of this name belongs to (``"ml-100k"`` for ``u1.base``), or None:
    the files of ml-100k, ml-1m and ml-10m, which no ratings log is named like."""
    if re.fullmatch(r"u\.(data|item|user|genre|occupation|info)|u[1-5ab]\.(base|test)", name):
        return "ml-100k"
    return {"ratings.dat": "ml-1m's or ml-10m", "movies.dat": "ml-1m's or ml-10m", "users.dat": "ml-1m",
            "tags.dat": "ml-10m"}.get(name)


def _family(release: str) -> str:
    return _FAMILY.get(release, "csv")


# -- public API -----------------------------------------------------------------------


def load(
    source: str | os.PathLike,
    *,
    release: str | None = None,
    implicit: bool = False,
    progress: bool = False,
    columns: Mapping[str, str] | str | None = None,
    catalog: str | os.PathLike | None = None,
    rating_scale: Sequence[float] | str | None = None,
) -> Dataset:
    """Read a MovieLens release, or a ratings log of one's own, into a :class:`Dataset`.

    Args:
        source: a release name (``"ml-100k"``, ``"ml-1m"``, ``"ml-10m"``, ``"ml-20m"``,
            ``"ml-25m"``, ``"ml-32m"``, ``"ml-latest-small"``, ``"ml-latest"``; taken from the cache or
            downloaded), a folder holding a release (or holding its extracted folder),
            an official zip file; or a ratings log: a CSV, TSV or Parquet file, or a
            folder of them that holds no release (a ``ratings.csv`` without
            ``movies.csv`` is a log), read by :func:`cinerec.data.logs.load_log`.
        release: which release the folder holds, when its name does not say (it then
            labels ``info["release"]``); checked against the file layout found
            (``u.data``, ``.dat`` or ``.csv`` files), which releases of one layout share.
        implicit: turn every rating into ``1.0`` ("watched"); those that were not liked
            are kept aside (:attr:`Dataset.not_liked`), never named as a reason.
        progress: show a progress bar while downloading.
        columns: a log's column names by role (``{"user": "uid", ...}``), where they
            are not the usual ones.
        catalog: a log's movie file (ids, titles, optional genres and years).
        rating_scale: a log's lowest and highest possible rating (``(1, 10)``), where
            the log itself may not hold both (:func:`cinerec.data.logs.load_log`).

    Returns:
        The dataset; ``info`` holds ``release`` (``format: "log"`` for a log),
        ``catalog_items`` (rows in the movie file), ``source`` (what was read) and
        ``implicit``.

    Raises:
        NotFoundError: the source does not exist and is not a release name.
        DataError: a file is missing, malformed or fails its checksum.
        ConfigError: ``columns``, ``catalog`` or ``rating_scale`` given for a MovieLens release.
    """
    for flag, value in (("implicit", implicit), ("progress", progress)):  # ("no" read as true)
        if not isinstance(value, (bool, np.bool_)):
            raise ConfigError(f"load: {flag} = {value!r}: must be true or false")
    named = name_of_local_copy(source) if release is None else None
    if named is not None:  # a copy found by the release's name where one runs must hold that release
        release = named
    here = local_copy(source)
    try:
        try:
            return _load(here, release=release, implicit=implicit, progress=progress, columns=columns,
                         catalog=catalog, rating_scale=rating_scale)
        except DataError as e:
            if named is None or (refused := not_that_release(named, here, e)) is None:
                raise
            raise refused from None
    except PermissionError as e:  # a folder that cannot be listed or entered
        raise DataError(_unreadable(os.fspath(source), e)) from None


def not_that_release(name: str, here: str | os.PathLike, error: DataError) -> DataError | None:
    """The refusal of ``here``, the copy where one runs that release name ``name`` read,
    when ``error`` says it holds no such release (another layout, no release files);
    ``None`` for another error (a damaged line of the right release)."""
    if "is not the layout of" not in str(error) and "no MovieLens files here" not in str(error):
        return None
    shown = f"./{os.fspath(here)}"
    what = "a ratings log of your own" if _is_log(Path(here)) else f"not MovieLens {name} ({error})"
    return DataError(f"{name}: the release name read {shown}, found where you run, which is {what}; to read it as "
                     f"it is, give it as {shown}")


def name_of_local_copy(source: str | os.PathLike) -> str | None:
    """The release name ``source`` is, when it reads a copy where one runs (``./ml-1m``,
    ``./ml-10M100K``, ``./ml-1m.zip``): that copy must hold that release. ``None`` otherwise."""
    if not isinstance(source, str) or source not in download.RELEASES:
        return None
    return source if local_copy(source) is not source or Path(source).exists() else None


def local_copy(source: str | os.PathLike) -> str | os.PathLike:
    """A release name's copy where one runs, read before the cache's: ``./ml-1m``, or the
    folder its zip unzips to when that is named otherwise (``./ml-10M100K``), or the zip
    itself (``./ml-1m.zip``). Any other source is as given."""
    if not isinstance(source, str) or source not in download.RELEASES or Path(source).exists():
        return source
    found = next((name for name in (download.RELEASES[source].folder, download.RELEASES[source].zip_name)
                  if Path(name).exists()), None)
    return source if found is None else found


def _unreadable(source: str, e: OSError) -> str:
    """One line for a source the system will not let cinerec read, naming where it stopped."""
    at = f" at {e.filename}" if e.filename and os.fspath(e.filename) != source else ""
    return f"{source}: cannot be read ({(e.strerror or 'permission denied').lower()}{at})"


def _load(source: str | os.PathLike, *, release: str | None, implicit: bool, progress: bool,
          columns: Mapping[str, str] | str | None, catalog: str | os.PathLike | None,
          rating_scale: Sequence[float] | str | None = None) -> Dataset:
    expect(source, (str, os.PathLike), "load: source")
    if catalog is not None:
        expect(catalog, (str, os.PathLike), "load: catalog")
    path = Path(os.path.expanduser(os.fspath(source)))
    if path.exists() and not (path.is_file() or path.is_dir()):
        raise DataError(f"{os.fspath(source)}: not a file or a folder (a device, pipe or socket); give a ratings "
                        "file, a release folder or zip, or a release name")
    if release is not None and path.is_file() and _is_log(path):
        raise ConfigError(f"{said('--release', 'release')} {release}: names the layout of a MovieLens folder or zip; "
                          f"{os.fspath(source)} is a ratings log of your own (drop {said('--release', 'release')})")
    if release is None and path.exists() and _is_log(path):
        from cinerec.data.logs import load_log

        return load_log(path, columns=columns, catalog=catalog, implicit=implicit, rating_scale=rating_scale)
    own_log = columns or catalog is not None or rating_scale is not None
    if own_log and not path.exists() and os.fspath(source) not in download.RELEASES:
        raise NotFoundError(f"{os.fspath(source)}: no such file or folder")
    if own_log and is_release(source):
        # (a file that is neither a log nor a zip is no release: locate() says what it is)
        given = said("--columns", "columns") if columns else said("--catalog", "catalog") if catalog is not None \
            else said("--rating-scale", "rating_scale")
        own = next((f for f in ("ratings.csv", "ratings.tsv", "ratings.parquet") if (path / f).is_file()), None) \
            if path.is_dir() else None
        hint = f" (to read {own} as one, name the file itself, {path / own}" + \
            (f", with {said('--catalog ', 'catalog=')}{path / 'movies.csv'})" if (path / "movies.csv").is_file()
             else ")") if own else ""
        if not columns and catalog is None:  # the scale alone
            raise ConfigError(f"{given}: {os.fspath(source)} is a MovieLens release, whose scale is its own stars; "
                              f"{given} applies to a ratings log of your own{hint}")
        raise ConfigError(f"{given}: {os.fspath(source)} is a MovieLens release, which names its own columns "
                          f"and movies; {said('--columns and --catalog', 'columns and catalog')} apply to a ratings "
                          f"log of your own{hint}")
    folder, family, rel, name = locate(source, release=release, progress=progress)
    if release is None and path.is_dir() and _guessed_csv(folder, family, rel) and _own_ids(folder):
        # ratings.csv and movies.csv in a folder no release name or marker vouches for, with
        # ids MovieLens never writes ("00051", "Anna 244"): someone's own log, its ids
        # kept exactly as written, movies.csv its catalogue.
        from cinerec.data.logs import check_read_alone, load_log

        import dataclasses

        check_read_alone(folder / "ratings.csv")
        mine = load_log(folder / "ratings.csv", catalog=folder / "movies.csv", implicit=implicit)
        return dataclasses.replace(mine, name=name)  # the folder's name, as any folder of logs has
    try:
        return _load_folder(folder, family, rel, name, implicit)
    except DataError as e:
        if release is None and path.is_dir() and _guessed_csv(folder, family, rel) and "is not an integer" in str(e):
            raise DataError(f"{e} (read as a MovieLens release; to read it as a log of your own, give the "
                            f"file {folder / 'ratings.csv'} with --catalog {folder / 'movies.csv'})") from None
        if not path.exists():  # a release by name: the copy in the cache is at fault
            raise DataError(f"{e}{_cached_hint(os.fspath(source))}") from None
        if not path.is_file():
            raise
        # A zip given: name it, not the cache folder it was unpacked into, and keep no
        # unpacking of one that is not an official release and cannot be read.
        cache = download.cache_dir()
        root = next((p for p in [folder, *folder.parents] if p.parent in (cache, cache / "local")), folder)
        if root.parent == cache / "local":
            shutil.rmtree(root, ignore_errors=True)
        raise DataError(str(e).replace(str(root), f"{path} (unpacked)")) from None


def _cached_hint(name: str) -> str:
    """How to get a fresh copy of release ``name`` when its copy in the cache is damaged."""
    where = download.cache_dir() / download.release_info(name).name
    return f" (the cached copy of {name}: remove {where} to download it again)"


def _guessed_csv(folder: Path, family: str, release: str) -> bool:
    """True when a CSV release's name is only a guess: neither its folder's name nor a
    synthetic marker says which release it is."""
    return family == "csv" and _normalise(folder.name) != release and synthetic_like(folder) is None


#: Lines of ratings.csv looked at for ids MovieLens never writes (the whole movies.csv is).
_ID_PEEK_LINES = 10_000
#: Ids MovieLens never writes on at least one row in this many make a folder's CSVs a log.
_OWN_IDS_SHARE = 100


def _own_ids(folder: Path) -> bool:
    """True when ids MovieLens never writes (text, a leading zero or sign) are common in
    ``movies.csv``, or in the head of ``ratings.csv``: at least one row in a hundred,
    and at least two rows.

    One such row among plain numbers is a damaged line of a release (a header written
    twice), which its reader then names, not a reason to read the whole folder as
    someone's own log, however small the file."""
    import itertools

    def plain(text: str) -> bool:
        return text.isdigit() and (text == "0" or not text.startswith("0"))

    for name, columns in (("movies.csv", 1), ("ratings.csv", 2)):
        odd = seen = 0
        try:
            with open(folder / name, encoding="utf-8-sig", errors="replace", newline="") as f:
                rows = csv.reader(itertools.islice(f, _ID_PEEK_LINES + 1))
                next(rows, None)  # the header
                for row in rows:
                    if row:
                        seen += 1
                        odd += not all(plain(v.strip()) for v in row[:columns])
        except OSError:
            return False
        if odd >= 2 and odd * _OWN_IDS_SHARE >= seen:
            return True
    return False


def is_release(source: str | os.PathLike[str]) -> bool:
    """Whether ``source`` is a MovieLens release (its name, or a folder or zip holding one)
    rather than a ratings log of one's own; ``False`` for what cannot be read (``load``
    then says why)."""
    path = Path(os.path.expanduser(os.fspath(source)))
    try:
        if not path.exists():
            return os.fspath(source) in download.RELEASES
        return not _is_log(path) and (path.is_dir() or zipfile.is_zipfile(path))
    except OSError:
        return False


def _is_log(path: Path) -> bool:
    """True when ``path`` is a ratings log: a log file, or a folder of them holding no release."""
    from cinerec.data.logs import LOG_SUFFIXES

    if path.is_file():
        return path.suffix.lower() in LOG_SUFFIXES and not zipfile.is_zipfile(path)
    if _layout_of(path) is not None or _csv_release_file(path) is not None:  # (a release missing a file)
        return False
    if any(_layout_of(d) is not None for d in path.iterdir() if d.is_dir() and not d.name.startswith(".")):
        return False
    return any(p.is_file() and p.suffix.lower() in LOG_SUFFIXES for p in path.iterdir())


def check_source(source: str | os.PathLike[str]) -> None:
    """Refuse a source that is neither a file or folder nor a release name, in one line."""
    text = os.fspath(source)
    try:
        there = Path(os.path.expanduser(text)).exists()
    except PermissionError as e:  # inside a folder that cannot be entered
        raise DataError(_unreadable(text, e)) from None
    if there or text in download.RELEASES:
        return
    known = ", ".join(download.RELEASES)
    if text.lower().startswith("ml-"):
        raise NotFoundError(f"unknown MovieLens release {text!r}; known: {known} (or pass a folder or zip)")
    raise NotFoundError(f"{text}: no such file or folder, and not a MovieLens release name ({known})")


def locate(
    source: str | os.PathLike, *, release: str | None = None, progress: bool = False
) -> tuple[Path, str, str, str]:
    """Resolve a source to ``(folder, layout, release, name)`` without parsing it.

    ``layout`` is ``"100k"``, ``"dat"`` or ``"csv"``; ``name`` labels the dataset (the
    release name, or the folder / zip name given).
    """
    if release is not None and release not in download.RELEASES:
        raise ConfigError(f"{said('--release', 'release')} {release!r}: unknown MovieLens release; known: "
                          f"{', '.join(download.RELEASES)}")
    text = os.fspath(source)
    path = Path(os.path.expanduser(text))
    if path.exists() and not (path.is_file() or path.is_dir()):  # (a traceback in data fetch)
        raise DataError(f"{text}: not a file or a folder (a device, pipe or socket); give a release folder or zip, "
                        "or a release name")
    if not path.exists():
        check_source(text)
        folder = download.fetch(text, progress=progress)
        try:
            folder, family, rel = _detect(folder, release or text)
        except DataError as e:
            raise DataError(f"{e}{_cached_hint(text)}") from None
        return folder, family, rel, text
    name = path.stem if path.is_file() else path.resolve().name
    if path.is_file():
        from cinerec.data.logs import SPREADSHEET_SUFFIXES, compressed_log, compressed_refused, is_workbook

        if path.suffix.lower() in SPREADSHEET_SUFFIXES or is_workbook(path):  # (a workbook is a zip too: it read as a release's)
            raise DataError(f"{path}: a spreadsheet, which cinerec does not read; save its sheet of ratings as CSV "
                            "(UTF-8) and give that")
        if not zipfile.is_zipfile(path):
            with open(path, "rb") as f:
                first = f.readline(1 << 16)
            if (packed := compressed_refused(path, first)) is not None:
                raise packed
            if (of := _release_file(path.name)) is not None:
                raise DataError(f"{path}: one file of a MovieLens release ({of}'s); give the folder that holds the "
                                f"release ({path.parent})")
            from cinerec.data.logs import LOG_SUFFIXES

            if compressed_log(path):
                raise DataError(f"{path}: a compressed ratings log ({path.suffix}), which cinerec does not read; "
                                "decompress it first")
            if b"::" in first:  # (a .dat file of one's own: "1::10::5::978300760")
                raise DataError(f"{path}: its lines look '::'-separated, as MovieLens's .dat files are; a ratings "
                                f"log ({', '.join(LOG_SUFFIXES)}) has its fields separated by commas or tabs, under a "
                                "header naming them")
            raise DataError(f"{path}: not a folder, a zip file or a ratings log ({', '.join(LOG_SUFFIXES)}); "
                            "a zip that is cut short or damaged reads as no zip")
        given, (path, official, fresh) = path, _extract_local_zip(path)
        try:
            try:
                folder, family, rel = _detect(path, release, name=given.stem)
            except DataError:
                if fresh:
                    raise
                # An earlier unpacking, damaged since (a file deleted): unpacked again.
                shutil.rmtree(path, ignore_errors=True)
                path, official, fresh = _extract_local_zip(given)
                folder, family, rel = _detect(path, release, name=given.stem)
        except DataError as e:  # name the zip given, not the cache folder it was unpacked into
            from cinerec.data.logs import LOG_SUFFIXES

            logs = sorted(p.relative_to(path) for p in path.rglob("*")
                          if p.is_file() and p.suffix.lower() in LOG_SUFFIXES and p.suffix.lower() != ".txt")
            if not official:
                shutil.rmtree(path, ignore_errors=True)  # a zip holding no release keeps nothing in the cache
            if logs and "no MovieLens files here" in str(e):
                raise DataError(f"{given}: holds {logs[0].as_posix()}, no MovieLens release; a log of your own is read "
                                "from its file or folder, not from a zip: unzip it and give that") from None
            if isinstance(e, _SeveralReleases):  # no folder of a zip can be given: unzipped, one can
                raise DataError(f"{given}: holds several MovieLens releases ({e.names}); unzip it and give the "
                                "folder of one of them") from None
            raise DataError(str(e).replace(str(path), f"{given} (unpacked)")) from None
        return folder, family, rel, name
    folder, family, rel = _detect(path, release)
    return folder, family, rel, name


def parse_titles(titles: Sequence[str] | np.ndarray | pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Split ``"Seven (Se7en) (1995)"`` into ``"Seven (Se7en)"`` and ``1995``.

    Args:
        titles: ``(n,)`` titles as published (a pyarrow string array is taken as is).

    Returns:
        ``(titles, years)``: ``(n,) object`` titles without the trailing year, and
        ``(n,) int32`` years, ``0`` where the title carries none. A range such as
        ``(2007-)`` or ``(2007-2013)`` gives its first year. A video or television mark
        after the year, ``"(1995) (V)"``, stays in the title: ``"... (V)"`` and ``1995``.
        A title that is nothing but its year (and a mark), ``"(1999)"``, stays whole:
        ``"(1999)"`` and ``1999``.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pc.utf8_trim_whitespace(_arrow_strings(titles))
    found = pc.extract_regex(text, _YEAR_PATTERN)  # null where a title has no year
    has = found.is_valid()
    mark = pc.utf8_trim_whitespace(pc.struct_field(found, "mark"))  # one space before it, whatever was written
    title = pc.utf8_trim_whitespace(pc.binary_join_element_wise(pc.struct_field(found, "title"), mark, " "))
    # A title that is its year alone, "(1999)" or "(1999) (V)", keeps it as its words too:
    # not an empty title, nor one of its mark alone.
    named = pc.not_equal(pc.utf8_trim_whitespace(pc.struct_field(found, "title")), "")
    out = pc.if_else(pc.and_kleene(has, named), title, text).to_numpy(zero_copy_only=False)
    years = pc.if_else(has, pc.struct_field(found, "year"), "0").cast(pa.int32()).to_numpy(zero_copy_only=False)
    return np.asarray(out, dtype=object), years.astype(np.int32)


# -- finding the release in a folder ----------------------------------------------------


def _layout_of(folder: Path) -> str | None:
    if (folder / "u.data").is_file():
        if not (folder / "u.item").is_file():  # (found only once read: fetch called the copy fine)
            raise DataError(f"{folder}: u.data is there but u.item is missing")
        return "100k"
    for family, ratings, movies in (("dat", "ratings.dat", "movies.dat"), ("csv", "ratings.csv", "movies.csv")):
        if (folder / ratings).is_file():
            if not (folder / movies).is_file():
                if family == "csv":  # a ratings.csv alone is a ratings log, not a release
                    return None
                raise DataError(f"{folder}: {ratings} is there but {movies} is missing")
            return family
    return None


def _part_of_a_release(folder: Path) -> str | None:
    """Why ``folder``, holding no whole release, is a part of one: MovieLens's own
    ``links.csv`` or tag genome without its ratings or movies file, or a movie file alone;
    ``None`` otherwise. Said where nothing else there can be read (a movies.dat beside a
    log of one's own is no part of the log)."""
    if (marker := _csv_release_file(folder)) is not None:
        lacking = " and ".join(f for f in ("ratings.csv", "movies.csv") if not (folder / f).is_file())
        if lacking:
            alone = " (to read ratings.csv alone as a log of your own, give that file)" \
                if (folder / "ratings.csv").is_file() else ""
            return (f"{folder}: a MovieLens release (it holds {marker}), but {lacking} "
                    f"{'are' if ' and ' in lacking else 'is'} missing{alone}")
    for movies, ratings in (("movies.dat", "ratings.dat"), ("u.item", "u.data")):
        if (folder / movies).is_file() and not (folder / ratings).is_file():
            return f"{folder}: {movies} is there but {ratings} is missing"
    return None


#: The first line of MovieLens's links.csv, a file only its CSV releases hold.
_LINKS_HEADER = "movieId,imdbId,tmdbId"


def _csv_release_file(folder: Path) -> str | None:
    """The file marking ``folder`` as a MovieLens CSV release whatever else it holds: its
    ``links.csv`` (by its header) or a tag genome file; ``None`` where it holds neither."""
    for name in ("genome-scores.csv", "genome-tags.csv"):
        if (folder / name).is_file():
            return name
    try:
        with open(folder / "links.csv", encoding="utf-8-sig", errors="replace") as f:
            first = f.readline(256)
    except OSError:
        return None
    return "links.csv" if first.strip().replace(" ", "") == _LINKS_HEADER else None


#: The release label of a folder in MovieLens's CSV layout that neither its name nor a
#: synthetic marker names (``--release`` names it): the CSV releases share one layout.
UNNAMED_CSV = "movielens-csv"

#: The releases rated in whole stars 1-5; the others rate in half stars 0.5-5.
WHOLE_STAR_RELEASES = frozenset({"ml-100k", "ml-1m"})


def _normalise(name: str) -> str:
    name = name.lower()
    return "ml-10m" if name.startswith("ml-10m100k") else name


class _SeveralReleases(DataError):
    """A folder holding more than one release; ``names`` lists their folders."""

    def __init__(self, message: str, names: str) -> None:
        super().__init__(message)
        self.names = names


def _detect(folder: Path, release: str | None, name: str | None = None) -> tuple[Path, str, str]:
    """The release folder in ``folder`` (itself, or the one release folder inside it), its
    layout and its release; ``name`` is ``folder``'s own name where its folder name is not
    (a zip unpacked into the cache: the zip's name, ``ml-latest-small``)."""
    family = _layout_of(folder)
    named = _normalise(name or folder.name)
    if family is None:
        inside = [d for d in sorted(folder.iterdir()) if d.is_dir() and not d.name.startswith(".")]
        subs = [d for d in inside if _layout_of(d) is not None]
        if not subs:  # one folder deeper (a zip of download/ml-latest-small/...), no further
            subs = [e for d in inside for e in sorted(d.iterdir())
                    if e.is_dir() and not e.name.startswith(".") and _layout_of(e) is not None]
        if release is not None and len(subs) > 1:
            subs = [d for d in subs if _normalise(d.name) == release] or subs
        if len(subs) > 1:
            names = ", ".join(d.name for d in subs)
            raise _SeveralReleases(f"{folder}: holds several MovieLens releases ({names}); give the folder of one of "
                                   f"them, e.g. {subs[0]}", names)
        if not subs:
            from cinerec.data.logs import unread_files

            for place in (folder, *inside):
                if (part := _part_of_a_release(place)) is not None:
                    raise DataError(part)
            raise DataError(
                f"{folder}: no MovieLens files here (expected u.data, ratings.dat with movies.dat, "
                f"or ratings.csv with movies.csv) and no ratings log (.csv, .tsv or .parquet files){unread_files(folder)}"
            )
        folder = subs[0]
        family = _layout_of(folder) or ""
        named = _normalise(folder.name)
    if release is not None:
        if _family(release) != family:
            raise DataError(f"{folder}: holds {_RATINGS_FILE[family]}, which is not the layout of {release}")
        like = synthetic_like(folder)
        if like is not None and like != release and like in download.RELEASES:
            raise DataError(f"{folder}: a synthetic release shaped like {like} (cinerec data synthesize), not {release}; "
                            f"drop the release name or give {like}")
        users = (folder / "users.dat").is_file()
        if family == "dat" and users != (release == "ml-1m"):  # ml-1m alone has users.dat
            said = "holds users.dat, which ml-10m has not (ml-1m's layout)" if users else \
                "holds no users.dat, which ml-1m has (ml-10m's layout)"
            raise DataError(f"{folder}: {said}; drop the release name or give the one it is")
        return folder, family, release
    # What the files say comes before the folder's name: `cinerec data synthesize` marks the
    # release it imitates, and of the '::' releases ml-1m alone has users.dat.
    like = synthetic_like(folder)
    if like is not None and like in download.RELEASES and _family(like) == family:
        return folder, family, like
    users = (folder / "users.dat").is_file()
    if named in download.RELEASES and _family(named) == family and (family != "dat" or users == (named == "ml-1m")):
        return folder, family, named
    if family == "100k":
        return folder, family, "ml-100k"
    if family == "dat":
        return folder, family, "ml-1m" if users else "ml-10m"
    return folder, family, UNNAMED_CSV


def synthetic_like(folder: Path) -> str | None:
    """The release a synthetic release imitates (its hidden marker, or its label file where
    a copy left the marker behind), else ``None``."""
    import json

    from cinerec.data.synthetic import LABEL, MARKER, label_like

    try:
        like = json.loads((folder / MARKER).read_text()).get("like")
    except (OSError, ValueError, AttributeError):
        like = None
    if isinstance(like, str):
        return like
    try:
        with open(folder / LABEL, encoding="utf-8", errors="replace") as f:
            return label_like(f.read(4096))
    except OSError:
        return None


def _extract_local_zip(path: Path) -> tuple[Path, bool, bool]:
    """Extract a zip given as a source into the cache (once per distinct content); the
    folder, whether the zip is an official release (by its checksum), and whether it was
    unpacked just now."""
    digest = download.file_digest(path)
    root = download.cache_dir()
    known = next((r for r in download.RELEASES.values() if r.sha256 == digest), None)
    stem = path.stem  # (cut short: a folder's name holds 255 bytes, and the digest tells zips apart)
    while len(os.fsencode(stem)) > 64:
        stem = stem[:-1]
    dest = root / known.name if known else root / "local" / f"{stem}-{digest[:16]}"
    sweep_stale_temps(dest)  # what a killed unpacking of this zip left
    fresh = not dest.is_dir()
    if fresh:
        download.check_writable(root)
        # (the same zip unpacked by another process meanwhile: that whole copy is kept)
        download.extract(path, dest, keep=lambda folder: folder.is_dir())
    return dest, known is not None, fresh


# -- reading a folder -------------------------------------------------------------------


def _load_folder(folder: Path, family: str, release: str, name: str, implicit: bool) -> Dataset:
    ratings_path = folder / _RATINGS_FILE[family]
    whole = release in WHOLE_STAR_RELEASES
    users_col, items_col, ratings_col, stamps_col = _rating_columns(ratings_path, family, whole_stars=whole)
    user_codes, user_raw = _encode(users_col)
    item_codes, item_raw = _encode(items_col)
    del users_col, items_col  # the raw id columns are no longer needed: free them early
    ratings, stamps = _numpy(ratings_col), _numpy(stamps_col)
    del ratings_col, stamps_col

    movie_ids, titles, years, genre_names, flags = _read_movies(folder, family)
    pos = pd.Index(movie_ids).get_indexer(item_raw)
    if (pos < 0).any():
        # The first line that names a movie the movies file lacks (by the ids' order, a
        # later line naming a smaller id was named first).
        row = int(np.flatnonzero(pos[item_codes] < 0)[0])
        missing = int(item_raw[item_codes[row]])
        line = _line_of_row(ratings_path, row, header=family == "csv")
        raise DataError(
            f"{ratings_path} line {line}: movie id {missing} is not in {_MOVIES_FILE[family]}"
        )
    twice = _pair_again(user_codes, item_codes, len(item_raw))
    if twice is not None:
        header = family == "csv"
        first, again = (_line_of_row(ratings_path, r, header=header) for r in twice)
        raise DataError(f"{ratings_path} line {again}: user {user_raw[user_codes[twice[1]]]} rated movie "
                        f"{item_raw[item_codes[twice[1]]]} again (first on line {first}); a MovieLens release holds "
                        "each pair once: the file is damaged or joined with another")
    catalog = Catalog(titles[pos], years[pos], genre_names, flags[pos])
    features = _read_users(folder, family, user_raw)
    interactions = Interactions(user_codes, item_codes, ratings, stamps, len(user_raw), len(item_raw))
    folds = _read_folds(folder, user_raw, item_raw, user_codes, item_codes) if family == "100k" else {}
    info: dict[str, Any] = {
        "release": release,
        "catalog_items": int(len(movie_ids)),
        "source": str(folder),
        "implicit": False,
        # the stars the release uses (1-5, or 0.5-5 in half stars), which "liked" is read on
        **({} if not len(ratings) else {"rating_scale": [float(ratings.min()), float(ratings.max())]}),
        "id_order": "sorted raw ids",
        # written by `cinerec data synthesize`: its figures say nothing about real movies
        **({"synthetic": True} if synthetic_like(folder) is not None else {}),
    }
    out = Dataset(name, interactions, IdMap(user_raw, "user"), IdMap(item_raw, "movie"), catalog, features, info,
                  folds)
    if not implicit:
        return out
    from cinerec.data.transforms import as_implicit

    return as_implicit(out)  # (those not liked kept aside: never named as a reason)


def _read_folds(folder: Path, user_raw: np.ndarray, item_raw: np.ndarray, user_codes: np.ndarray,
                item_codes: np.ndarray) -> dict[str, np.ndarray]:
    """ml-100k's published folds as test masks over the rows of ``u.data``.

    For each ``<fold>.test`` present (``u1``..``u5``, ``ua``, ``ub``): ``(n,) bool``, True
    for the ratings of ``u.data`` whose (user, movie) pair that file lists. The fold's
    training set, ``<fold>.base``, is the rest of ``u.data`` by construction, so it is
    not read. A test file naming a user or movie without a rating, or a pair that
    ``u.data`` does not hold, is refused with its line.
    """
    n_items = len(item_raw)
    keys = user_codes.astype(np.int64) * n_items + item_codes
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    folds: dict[str, np.ndarray] = {}
    for fold in OFFICIAL_FOLDS:
        path = folder / f"{fold}.test"
        if not path.is_file():
            continue
        users, items, _, _ = _read_ratings(path, "100k", whole_stars=True)
        u = np.searchsorted(user_raw, users)
        i = np.searchsorted(item_raw, items)
        known = (u < len(user_raw)) & (i < n_items)
        known[known] &= (user_raw[u[known]] == users[known]) & (item_raw[i[known]] == items[known])
        test = np.where(known, u.astype(np.int64) * n_items + i, -1)
        lo = np.searchsorted(sorted_keys, test, side="left")
        hi = np.searchsorted(sorted_keys, test, side="right")
        held = known & (hi > lo)
        if not held.all():
            row = int(np.argmin(held))
            line = _line_of_row(path, row, header=False)
            raise DataError(f"{path} line {line}: user {int(users[row])} never rated movie {int(items[row])} in u.data")
        # Every row of u.data holding a listed pair (one, unless the pair repeats): the
        # runs [lo, hi) of the sorted keys, marked through a difference array.
        n = len(keys)
        runs = np.cumsum(np.bincount(lo, minlength=n + 1) - np.bincount(hi, minlength=n + 1))[:n] > 0
        mask = np.zeros(n, dtype=bool)
        mask[order] = runs
        folds[fold] = mask
    return folds


def _encode(column: Any) -> tuple[np.ndarray, np.ndarray]:
    """Dense codes ``(n,) int32`` and the sorted distinct raw ids ``(k,) int64``.

    ``column`` is an ``(n,)`` integer array, or a pyarrow column without nulls, whose
    chunks are then encoded one by one into the output (no concatenated copy of the raw
    ids). Non-negative ids below 2**26 (every MovieLens release) go through a lookup
    table, which is a few linear passes; anything else falls back to a hash factorisation.
    """
    chunks = [c for c in _chunks(column) if len(c)]
    n = sum(len(c) for c in chunks)
    if n == 0:
        return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int64)
    lo = min(int(c.min()) for c in chunks)
    hi = max(int(c.max()) for c in chunks)
    if lo >= 0 and hi < (1 << 26):
        present = np.zeros(hi + 1, dtype=bool)
        for c in chunks:
            present[c] = True
        lookup = np.cumsum(present, dtype=np.int32)
        lookup -= 1
        codes = np.empty(n, dtype=np.int32)
        at = 0
        for c in chunks:
            # Every id is within the table, so "clip" never clips; it spares a buffered copy.
            np.take(lookup, c, out=codes[at:at + len(c)], mode="clip")
            at += len(c)
        return codes, np.flatnonzero(present).astype(np.int64)
    codes, uniques = pd.factorize(np.concatenate(chunks), sort=True)
    return codes.astype(np.int32), np.asarray(uniques, dtype=np.int64)


def _chunks(column: Any) -> list[np.ndarray]:
    """The pieces of a pyarrow column (or a NumPy array) as NumPy views, without copying."""
    if isinstance(column, np.ndarray):
        return [column]
    return [np.asarray(c) for c in getattr(column, "chunks", [column])]


def _on_steps(chunk: np.ndarray, step: float, each: bool = False) -> Any:
    """Whether every rating (each rating, where ``each``) is a whole number of ``step``s."""
    scaled = chunk / np.float32(step)
    on = scaled == np.rint(scaled)
    return on if each else bool(on.all())


def _numpy(column: Any) -> np.ndarray:
    """One contiguous NumPy array holding a pyarrow column without nulls."""
    chunks = _chunks(column)
    return chunks[0] if len(chunks) == 1 else np.concatenate(chunks)


# -- ratings ----------------------------------------------------------------------------


def _read_ratings(path: Path, family: str, whole_stars: bool = False) -> tuple[np.ndarray, ...]:
    """Raw user ids, raw movie ids ``(n,) int64``, ratings ``(n,) float32``, timestamps ``(n,) int64``."""
    users, items, ratings, stamps = _rating_columns(path, family, whole_stars)
    return _numpy(users), _numpy(items), _numpy(ratings), _numpy(stamps)


def _rating_columns(path: Path, family: str, whole_stars: bool = False) -> tuple[Any, Any, Any, Any]:
    """The checked columns of a ratings file, as pyarrow chunked arrays without nulls.

    Raw user ids and raw movie ids ``int64``, ratings ``float32`` in half stars 0.5-5
    (whole stars 1-5 where ``whole_stars``), timestamps ``int64``; the file's row order.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    head = _head(path)
    if family == "csv":
        sep = ","
        header_line = head.split(b"\n", 1)[0].rstrip(b"\r")
        if header_line.startswith(b"\xef\xbb\xbf"):
            header_line = header_line[3:]
        names = [c.strip().strip('"') for c in header_line.decode("utf-8", "replace").split(",")]
        missing = [c for c in _CSV_COLUMNS if c not in names]
        if missing:
            hint = _separator_hint(header_line, b",")
            raise DataError(f"{path} line 1: missing column {', '.join(missing)} "
                            f"in the header {header_line.decode('utf-8', 'replace')!r}{hint}")
        twice = [c for c in _CSV_COLUMNS if names.count(c) > 1]
        if twice:
            raise DataError(f"{path} line 1: column {twice[0]} appears {names.count(twice[0])} times "
                            f"in the header {header_line.decode('utf-8', 'replace')!r}")
        columns = {"user": "userId", "item": "movieId", "rating": "rating", "timestamp": "timestamp"}
        source: Any = str(path)
        skip = 1
    else:
        sep = "\t"
        names = ["user", "item", "rating", "timestamp"]
        columns = {c: c for c in names}
        skip = 0
        if family == "dat":
            # pyarrow splits on one character: rewrite '::' as a tab in memory, once no
            # line holds a tab of its own (it would split there too).
            raw = _read_bytes(path)
            tab = raw.find(b"\t")
            if tab >= 0:
                start = raw.rfind(b"\n", 0, tab) + 1
                end = raw.find(b"\n", tab)
                text = raw[start:end if end >= 0 else len(raw)].rstrip(b"\r").decode("latin-1")
                number = raw.count(b"\n", 0, tab) + 1
                raise DataError(f"{path} line {number}: {text!r} holds a tab; ratings.dat fields are "
                                "separated by '::'")
            source = pa.BufferReader(raw.replace(b"::", b"\t"))
        else:
            source = str(path)
    types = {
        columns["user"]: pa.int64(), columns["item"]: pa.int64(),
        columns["rating"]: pa.float32(), columns["timestamp"]: pa.int64(),
    }
    try:
        with arrow_source(source) as opened:
            table = pacsv.read_csv(
                opened,
                read_options=pacsv.ReadOptions(column_names=names, skip_rows=skip, block_size=1 << 24),
                parse_options=pacsv.ParseOptions(delimiter=sep, quote_char=False, double_quote=False),
                convert_options=pacsv.ConvertOptions(
                    column_types=types, include_columns=list(types), null_values=[""], strings_can_be_null=False,
                ),
            )
    except (pa.ArrowException, OSError) as e:
        raise _parse_error(path, family, e) from None
    if table.num_rows == 0:
        raise DataError(f"{path}: no ratings in the file")
    from cinerec.data.logs import holds_hex

    if holds_hex(path):  # (0x1F, which the reader took for 31 and no release writes: refused by line)
        hexed = _parse_error(path, family, ValueError("a number written in hexadecimal"))
        if " line " in str(hexed):
            raise hexed
    out = []
    for key in ("user", "item", "rating", "timestamp"):
        col = table.column(columns[key])
        if col.null_count:
            row = int(np.flatnonzero(col.is_null().to_numpy(zero_copy_only=False))[0])
            line = _line_of_row(path, row, header=skip == 1)
            raise DataError(f"{path} line {line}: the {key} field is empty")
        out.append(col)
    # MovieLens rates in whole stars 1-5 (ml-100k, ml-1m) or in half stars 0.5-5.
    low, step = (1.0, 1.0) if whole_stars else (0.5, 0.5)
    at = 0
    for chunk in _chunks(out[2]):
        # NaN makes min and max NaN, which fails both tests; off-step ratings change under rounding.
        if len(chunk) and not (chunk.min() >= low and chunk.max() <= 5.0 and _on_steps(chunk, step)):
            outside = ~((chunk >= low) & (chunk <= 5.0))
            row = int(np.flatnonzero(outside | ~_on_steps(chunk, step, each=True))[0])
            line = _line_of_row(path, at + row, header=skip == 1)
            if outside[row]:
                raise DataError(f"{path} line {line}: rating {chunk[row]:g} is outside the valid range {low:g}-5")
            why = ("is not a whole star; ml-100k and ml-1m rate in whole stars 1 to 5" if whole_stars
                   else "is not a half star; MovieLens rates in half stars 0.5 to 5")
            raise DataError(f"{path} line {line}: rating {chunk[row]:g} {why}")
        at += len(chunk)
    # Ids are never negative, and times lie between 1970 and the year 9999.
    for key, k, low, high in (("user id", 0, 0, None), ("movie id", 1, 0, None), ("timestamp", 3, 0, _LAST_SECOND)):
        at = 0
        for chunk in _chunks(out[k]):
            bad = (chunk < low) if high is None else ((chunk < low) | (chunk > high))
            if len(chunk) and bad.any():
                row = int(np.flatnonzero(bad)[0])
                line = _line_of_row(path, at + row, header=skip == 1)
                why = "is negative" if chunk[row] < low else "is after the year 9999"
                if key == "timestamp" and chunk[row] < low:
                    why = "is before 1970"
                raise DataError(f"{path} line {line}: {key} {int(chunk[row])} {why}")
            at += len(chunk)
    _check_not_cut(path, out[3], header=skip == 1)
    return out[0], out[1], out[2], out[3]


def _check_not_cut(path: Path, stamps: Any, *, header: bool) -> None:
    """Refuse a ratings file cut short inside its last timestamp: every release ends its
    last line, and a copy stopped early reads as a rating from 1970 (``…::102811`` for
    ``…::1028115192``). Caught where the file ends without a line end and its last
    timestamp has fewer digits than the one before and is earlier than every other: a
    whole line may hold a shorter one (ml-10m's times go from 9 digits to 10 in 2001, and
    its rows follow the movies, not the time)."""
    import pyarrow.compute as pc

    n = len(stamps)
    if n < 2:
        return
    with open(path, "rb") as f:
        f.seek(-1, os.SEEK_END)
        if f.read(1) == b"\n":
            return
    last, before = int(stamps[n - 1].as_py()), int(stamps[n - 2].as_py())
    if len(str(last)) < len(str(before)) and last < int(pc.min(stamps.slice(0, n - 1)).as_py()):
        line = _line_of_row(path, n - 1, header=header)
        raise DataError(f"{path} line {line}: the file ends inside this line (timestamp {last}, shorter than the "
                        "line before's, and no line end): it looks cut short; copy or fetch the release again")


#: 9999-12-31 23:59:59 UTC, the last second a timestamp may name.
_LAST_SECOND = 253402300799


def _head(path: Path, n: int = 1 << 16) -> bytes:
    """The first bytes of a file, after checking it exists, is not empty and is text."""
    try:
        with open(path, "rb") as f:
            head = f.read(n)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror or e})") from None
    if not head.strip():
        raise DataError(f"{path}: empty file")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head:
        raise DataError(f"{path}: unreadable encoding (UTF-16 or binary data); MovieLens files are plain 8-bit text")
    return head


def _read_bytes(path: Path) -> bytes:
    _head(path)
    try:
        return path.read_bytes()
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror or e})") from None


def _separator_hint(line: bytes, sep: bytes) -> str:
    """A guess at the separator a line was written with, when it holds none of the
    expected one (a line that does holds too few or too many fields, no other separator)."""
    if sep in line:
        return ""
    for other, name in ((b"::", "'::'"), (b"\t", "tab"), (b";", "';'"), (b"|", "'|'"), (b",", "','"), (b" ", "space")):
        if other != sep and other in line and not (sep == b"::" and other == b":"):
            return f" (it looks {name}-separated)"
    return ""


def _parse_error(path: Path, family: str, error: BaseException) -> DataError:
    """Name the first bad line of a ratings file once the fast parser has refused it.

    Each block of the file is screened with array operations (field count per line,
    bytes a numeric line cannot hold); only the lines picked out are checked in Python.
    """
    sep = {"100k": b"\t", "dat": b"::", "csv": b","}[family]
    label = {"100k": "tab", "dat": "'::'", "csv": "','"}[family]
    index, width = list(range(4)), 4
    if family == "csv":
        with open(path, "rb") as f:
            head = f.readline().rstrip(b"\r\n")
        cols = [c.strip().lstrip("\ufeff").strip('"') for c in head.decode("utf-8", "replace").split(",")]
        index, width = [cols.index(c) for c in _CSV_COLUMNS], len(cols)
    allowed = np.zeros(256, dtype=bool)
    allowed[list(b"0123456789.-+eE\r\n" + sep)] = True
    unit = sep[0]
    per_field = len(sep)
    for first, block in _blocks(path):
        arr = np.frombuffer(block, dtype=np.uint8)
        starts, ends = _line_bounds(arr)
        seps = np.add.reduceat((arr == unit).astype(np.int32), starts)
        odd = np.logical_or.reduceat(~allowed[arr], starts)
        suspect = (ends > starts) & ((seps != per_field * (width - 1)) | odd)
        if family == "csv" and first == 1:
            suspect[0] = False  # the header
        for k in np.flatnonzero(suspect):
            message = _check_line(block[starts[k]:ends[k]], sep, label, width, index)
            if message:
                return DataError(f"{path} line {first + int(k)}: {message}")
    # A value made of number characters that is still no number ("2017-01-01", "4.0.0"):
    # the parser's message quotes it, so only the lines holding it are checked.
    quoted = re.search(r"invalid value '([^']*)'", str(error))
    if quoted and quoted.group(1):
        value = quoted.group(1).encode()
        for first, block in _blocks(path):
            if value not in block:
                continue
            for j, line in enumerate(block.split(b"\n")):
                if value in line and not (family == "csv" and first + j == 1):
                    message = _check_line(line.rstrip(b"\r"), sep, label, width, index)
                    if message:
                        return DataError(f"{path} line {first + j}: {message}")
    first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return DataError(f"{path}: cannot parse the file ({first_line})")


def _check_line(line: bytes, sep: bytes, label: str, width: int, index: list[int]) -> str | None:
    """What is wrong with one ratings line, or ``None``."""
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return "unreadable encoding (not UTF-8 text)"
    fields = line.split(sep)
    if len(fields) != width:
        return f"expected {width} {label}-separated fields, found {len(fields)}{_separator_hint(line, sep)}"
    for name, k in zip(("user", "movie", "rating", "timestamp"), index):
        try:
            value = float(fields[k]) if name == "rating" else int(fields[k])
        except ValueError:
            kind = "a number" if name == "rating" else "an integer"
            return f"{name} {fields[k].decode('utf-8', 'replace')!r} is not {kind}"
        if name != "rating" and not -2**63 <= value < 2**63:
            return f"{name} {fields[k].decode('utf-8', 'replace')!r} is too large"
    return None


_BLOCK = 1 << 24


def _blocks(path: Path) -> Iterator[tuple[int, bytes]]:
    """``(number of its first line, block)`` for blocks of whole lines, each ending in a newline."""
    number, carry = 1, b""
    with open(path, "rb") as f:
        while True:
            chunk = f.read(_BLOCK)
            if not chunk:
                if carry:
                    yield number, carry + b"\n"
                return
            data = carry + chunk
            cut = data.rfind(b"\n") + 1
            if not cut:
                carry = data
                continue
            block, carry = data[:cut], data[cut:]
            yield number, block
            number += block.count(b"\n")


def _line_bounds(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (without the newline and a Windows ``\\r``) of each line of a block."""
    newlines = np.flatnonzero(arr == 10)
    starts = np.concatenate([[0], newlines[:-1] + 1])
    ends = newlines.copy()
    cr = ends > starts
    cr[cr] = arr[ends[cr] - 1] == 13
    return starts, ends - cr


def _pair_again(users: np.ndarray, items: np.ndarray, n_items: int) -> tuple[int, int] | None:
    """The rows ``(first, again)`` of the first (user, movie) pair a ratings file holds
    twice (``again`` the earliest row repeating an earlier one), or ``None``.

    ml-10m and the CSV releases list their rows by user, then by movie: rows in that
    order are checked in one pass. Others (ml-100k, ml-1m, at most a million rows) are
    sorted by pair.
    """
    n = len(users)
    if n < 2:
        return None
    step = users[1:] - users[:-1]
    if bool(np.all((step > 0) | ((step == 0) & (items[1:] > items[:-1])))):
        return None  # strictly increasing pairs: none twice
    del step
    keys = users.astype(np.int64) * n_items + items
    order = np.argsort(keys, kind="stable")  # file order within a pair
    ordered = keys[order]
    same = np.flatnonzero(ordered[1:] == ordered[:-1])  # order[same + 1] repeats an earlier row
    if not len(same):
        return None
    again = int(order[same + 1].min())
    first = int(np.flatnonzero(keys[:again] == keys[again])[0])
    return first, again


def _line_of_row(path: Path, row: int, *, header: bool) -> int:
    """1-based line number of data row ``row``; blank lines are skipped, as the parser does."""
    target = row + (1 if header else 0)
    for first, block in _blocks(path):
        if b"\n\n" not in block and b"\n\r\n" not in block and not block.startswith((b"\n", b"\r\n")):
            lines = block.count(b"\n")  # no blank line here: every line is a row
            if target < lines:
                return first + target
            target -= lines
            continue
        starts, ends = _line_bounds(np.frombuffer(block, dtype=np.uint8))
        filled = np.flatnonzero(ends > starts)
        if target < len(filled):
            return first + int(filled[target])
        target -= len(filled)
    return row + 1


# -- movies -----------------------------------------------------------------------------


def _text(path: Path, encoding: str) -> str:
    """A small text file's text, for ``"utf-8-or-latin-1"``: UTF-8 when it is UTF-8 (a copy
    an editor saved so), Latin-1 when most of its lines that hold more than ASCII are not
    UTF-8 (MovieLens's own files, read whole as they always were: a Latin-1 "É" before a
    "»" is no UTF-8 letter), else UTF-8 left with a few stray bytes, each read as
    Windows-1252 writes it, so the UTF-8 letters beside them stay themselves (as a log's
    text). A leading byte-order mark is no text."""
    data = _read_bytes(path).removeprefix(b"\xef\xbb\xbf")
    if encoding == "utf-8-or-latin-1":
        from cinerec.data.logs import WINDOWS_BYTES, _utf8

        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            pass
        wide = [line for line in data.split(b"\n") if not line.isascii()]
        utf8 = sum(_utf8(line) for line in wide)
        return data.decode("latin-1") if len(wide) - utf8 > utf8 else data.decode("utf-8", errors=WINDOWS_BYTES)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise DataError(f"{path} line {line}: unreadable encoding (not {encoding.upper()} text)") from None


def _lines(path: Path, encoding: str) -> tuple[pd.Series, np.ndarray]:
    """Non-blank lines of a small text file and their 1-based line numbers."""
    text = _text(path, encoding)
    lines = pd.Series(text.split("\n"), dtype=object).str.rstrip("\r")
    keep = (lines.str.strip() != "").to_numpy()
    numbers = np.flatnonzero(keep) + 1
    lines = lines[keep].reset_index(drop=True)
    if not len(lines):
        raise DataError(f"{path}: empty file")
    return lines, numbers


def _fields(path: Path, sep: str, n: int, encoding: str) -> tuple[pd.DataFrame, np.ndarray]:
    """Split every line of a small file into exactly ``n`` fields (object columns ``0..n-1``)."""
    lines, numbers = _lines(path, encoding)
    parts = lines.str.split(sep, regex=False)
    counts = parts.str.len().to_numpy()
    bad = np.flatnonzero(counts != n)
    if len(bad):
        k = bad[0]
        label = "tab" if sep == "\t" else repr(sep)
        hint = _separator_hint(lines[k].encode("utf-8", "replace"), sep.encode())
        raise DataError(f"{path} line {numbers[k]}: expected {n} {label}-separated fields, found {counts[k]}{hint}")
    return pd.DataFrame(parts.tolist(), columns=range(n), dtype=object), numbers


def _ints(values: pd.Series, path: Path, numbers: np.ndarray, what: str) -> np.ndarray:
    out = pd.to_numeric(values.str.strip(), errors="coerce")
    bad = np.flatnonzero(out.isna().to_numpy() | (out.to_numpy() != np.floor(out.to_numpy())))
    if len(bad):
        k = bad[0]
        raise DataError(f"{path} line {numbers[k]}: {what} {values.iloc[k]!r} is not an integer")
    return out.to_numpy().astype(np.int64)


def _unique_ids(ids: np.ndarray, path: Path, numbers: np.ndarray) -> None:
    dup = pd.Index(ids).duplicated()
    if dup.any():
        k = int(np.flatnonzero(dup)[0])
        first = int(np.flatnonzero(ids == ids[k])[0])
        raise DataError(f"{path} line {numbers[k]}: duplicate movie id {ids[k]} (first on line {numbers[first]})")


def _read_movies(folder: Path, family: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[str, ...], np.ndarray]:
    """Movie ids ``(m,) int64``, titles, years ``(m,) int32``, genre names, flags ``(m, g) bool``."""
    if family == "100k":
        return _read_u_item(folder)
    if family == "dat":
        path = folder / "movies.dat"
        lines, numbers = _lines(path, "utf-8-or-latin-1")
        # The title may hold ':' but never '::'; genres never hold ':' -- so split the
        # id off the left and the genres off the right.
        left = lines.str.split("::", n=1, regex=False)
        ok = left.str.len().to_numpy() == 2
        rest = left.str[1].fillna("").str.rsplit("::", n=1)
        ok &= rest.str.len().to_numpy() == 2
        ok &= ~rest.str[0].fillna("").str.contains("::", regex=False).to_numpy()  # a fourth field
        if not ok.all():
            k = int(np.flatnonzero(~ok)[0])
            found = lines.iloc[k].count("::") + 1
            raise DataError(f"{path} line {numbers[k]}: expected 3 '::'-separated fields (id::title::genres), "
                            f"found {found}")
        ids = _ints(left.str[0], path, numbers, "movie id")
        raw_titles, genres = rest.str[0], rest.str[1]
        _unique_ids(ids, path, numbers)
        _titled(raw_titles, ids, path, numbers)
    else:
        path = folder / "movies.csv"
        ids, raw_titles, genres = _read_movies_csv(path)
    _check_movies_not_cut(path, genres)
    titles, years = parse_titles(raw_titles)
    names, flags = _genre_flags(genres)
    return ids, titles, years, names, flags


def _titled(titles: pd.Series, ids: np.ndarray, path: Path, numbers: np.ndarray) -> None:
    """Refuse a movie whose title is blank: every release titles each movie, and one
    without would be shown as nothing at all (\"movies most like , ...\")."""
    blank = np.flatnonzero(titles.fillna("").str.strip().eq("").to_numpy())
    if len(blank):
        k = int(blank[0])
        raise DataError(f"{path} line {numbers[k]}: movie {ids[k]} has no title")


def _check_movies_not_cut(path: Path, genres: Any) -> None:
    """Refuse a movie file cut short inside its last line's genres: every release ends its
    last line, and a copy stopped early read as a movie of the genre "Dr" (for "Drama").
    Caught where the file ends without a line end and the last genre is empty or the start
    of a longer genre the file names elsewhere."""
    with open(path, "rb") as f:
        f.seek(-1, os.SEEK_END)
        if f.read(1) == b"\n":
            return
    values = genres.to_pylist() if hasattr(genres, "to_pylist") else list(genres)
    last = str(values[-1] or "").split("|")[-1].strip()
    known = {g.strip() for text in values[:-1] for g in str(text or "").split("|")}
    if last in known:
        return
    start_of = next((g for g in sorted(known) if g.startswith(last) and g != last), None)
    if start_of is None:
        return
    with open(path, "rb") as f:  # (the last line, which holds the last movie)
        line = sum(block.count(b"\n") for block in iter(lambda: f.read(1 << 20), b"")) + 1
    said = f"genre {last!r}, the start of {start_of!r}" if last else "no genre"
    raise DataError(f"{path} line {line}: the file ends inside this line ({said}, and no line end): it looks cut "
                    "short; copy or fetch the release again")


def _read_movies_csv(path: Path) -> tuple[np.ndarray, Any, Any]:
    """Movie ids ``(m,) int64`` (checked: integers, unique), titles and genre strings.

    pyarrow's CSV reader takes the file when it is sound; when it refuses the file or a
    check fails, Python's csv module reads it again, line by line, to name the culprit.
    Both parse quoting alike (``"`` quotes, ``""`` inside quotes, line breaks in quotes).
    """
    fast = _movies_csv_fast(path)
    if fast is not None:
        return fast
    return _movies_csv_by_line(path)


def _movies_csv_fast(path: Path) -> tuple[np.ndarray, Any, Any] | None:
    """``movies.csv`` through pyarrow, or ``None`` when anything is off."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    header = _head(path).split(b"\n", 1)[0].rstrip(b"\r")
    if header.startswith(b"\xef\xbb\xbf"):
        header = header[3:]
    if b'"' in header:
        return None
    try:
        names = [h.strip() for h in header.decode("utf-8").split(",")]
        index = [names.index(c) for c in ("movieId", "title", "genres")]
    except (UnicodeDecodeError, ValueError):
        return None
    if len(set(names)) < len(names):
        return None  # the careful reader names the column given twice
    columns = [f"f{k}" for k in range(len(names))]
    try:
        with arrow_source(path) as source:
            table = pacsv.read_csv(
                source,
                read_options=pacsv.ReadOptions(column_names=columns, skip_rows=1),
                parse_options=pacsv.ParseOptions(newlines_in_values=True),
                convert_options=pacsv.ConvertOptions(
                    column_types={c: pa.string() for c in columns},
                    include_columns=[columns[k] for k in index],
                    strings_can_be_null=False,
                ),
            )
    except (pa.ArrowException, OSError):
        return None
    if table.num_rows == 0:
        return None
    id_text, titles, genres = (table.column(columns[k]) for k in index)
    id_text = pc.utf8_trim_whitespace(id_text)
    if not pc.all(pc.match_substring_regex(id_text, r"^-?[0-9]+$")).as_py():  # pyarrow alone would take "0x1F"
        return None
    try:
        ids = pc.cast(id_text, pa.int64()).to_numpy()
    except pa.ArrowException:  # out of the int64 range
        return None
    if len(np.unique(ids)) != len(ids):
        return None
    if pc.any(pc.match_substring(titles, "\n")).as_py():  # an unclosed quote swallowed lines: name it
        return None
    if pc.any(pc.equal(pc.utf8_trim_whitespace(titles), "")).as_py():  # (the careful reader names the line)
        return None
    return ids, titles, genres


def _movies_csv_by_line(path: Path) -> tuple[np.ndarray, pd.Series, pd.Series]:
    text = _text(path, "utf-8")
    if text.startswith("\ufeff"):
        text = text[1:]
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None:
        raise DataError(f"{path}: empty file")
    header = [h.strip() for h in header]
    missing = [c for c in ("movieId", "title", "genres") if c not in header]
    if missing:
        hint = _separator_hint(",".join(header).encode(), b",")
        raise DataError(f"{path} line 1: missing column {', '.join(missing)} in the header{hint}")
    twice = [c for c in ("movieId", "title", "genres") if header.count(c) > 1]
    if twice:
        raise DataError(f"{path} line 1: column {twice[0]} appears {header.count(twice[0])} times in the header")
    # The csv module is the reference parser for quoted titles; the file is small
    # (under 100k movies), and line_num gives the line of each record.
    # A record starts on the line after the previous one ended (a quoted title may hold
    # line breaks, so it can end further down).
    rows, numbers, start = [], [], reader.line_num + 1
    try:
        for row in reader:
            first, start = start, reader.line_num + 1
            if not row:
                continue
            if len(row) != len(header):
                runs = f" (a quoted field runs on to line {reader.line_num})" if reader.line_num > first else ""
                raise DataError(f"{path} line {first}: expected {len(header)} ','-separated fields, found {len(row)}{runs}")
            if "\n" in row[header.index("title")]:  # no MovieLens title spans lines: a quote left open
                raise DataError(f"{path} line {first}: the title's quote is not closed on its line (it runs on to "
                                f"line {reader.line_num})")
            rows.append(row)
            numbers.append(first)
    except csv.Error as e:
        raise DataError(f"{path} line {start}: {e}") from None
    if not rows:
        raise DataError(f"{path}: no movies in the file")
    frame = pd.DataFrame(rows, columns=header, dtype=object)
    lines = np.asarray(numbers, dtype=np.int64)
    ids = _ints(frame["movieId"], path, lines, "movie id")
    _unique_ids(ids, path, lines)
    _titled(frame["title"], ids, path, lines)
    return ids, frame["title"], frame["genres"]


def _genre_flags(genres: Any) -> tuple[tuple[str, ...], np.ndarray]:
    """``|``-joined genre strings ``(m,)`` to the sorted vocabulary and ``(m, g) bool`` flags.

    The whole string is trimmed, not each genre; empty names and ``(no genres listed)``
    are no genre.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    text = _arrow_strings(genres)
    parts = pc.split_pattern(pc.utf8_trim_whitespace(text), "|")
    rows = pc.list_parent_indices(parts).to_numpy()
    coded = pc.list_flatten(parts).dictionary_encode()
    if isinstance(coded, pa.ChunkedArray):
        coded = coded.combine_chunks()
    vocabulary = coded.dictionary.to_pylist()
    names = tuple(sorted(g for g in vocabulary if g and g != _NO_GENRES))
    column = {g: k for k, g in enumerate(names)}
    where = np.array([column.get(g, -1) for g in vocabulary], dtype=np.int64)
    cols = where[coded.indices.to_numpy()] if len(where) else np.zeros(0, dtype=np.int64)
    flags = np.zeros((len(text), len(names)), dtype=bool)
    keep = cols >= 0
    flags[rows[keep], cols[keep]] = True
    return names, flags


def _arrow_strings(values: Any) -> Any:
    """``(n,)`` strings as a pyarrow string array (pyarrow columns pass through)."""
    import pyarrow as pa

    if isinstance(values, pa.ChunkedArray):
        return values.combine_chunks()
    if isinstance(values, pa.Array):
        return values
    return pa.array(np.asarray(values, dtype=object), type=pa.string(), from_pandas=True)


def _read_u_item(folder: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[str, ...], np.ndarray]:
    genre_path = folder / "u.genre"
    g, g_lines = _fields(genre_path, "|", 2, "utf-8-or-latin-1")
    order = _ints(g[1], genre_path, g_lines, "genre index")
    names = tuple(g[0].to_numpy(dtype=object)[np.argsort(order, kind="stable")].tolist())
    path = folder / "u.item"
    n = 5 + len(names)
    frame, numbers = _fields(path, "|", n, "utf-8-or-latin-1")
    ids = _ints(frame[0], path, numbers, "movie id")
    _unique_ids(ids, path, numbers)
    _titled(frame[1], ids, path, numbers)
    titles, years = parse_titles(frame[1].to_numpy(dtype=object))
    # Titles without a year fall back on the release date (dd-Mon-yyyy), if any.
    date_year = pd.to_numeric(frame[2].str.strip().str[-4:], errors="coerce").fillna(0).to_numpy().astype(np.int32)
    years = np.where(years == 0, date_year, years).astype(np.int32)
    flag_text = frame[list(range(5, n))].to_numpy(dtype=object).astype(str)
    ok = (flag_text == "0") | (flag_text == "1")
    if not ok.all():
        r, c = np.argwhere(~ok)[0]
        raise DataError(f"{path} line {numbers[r]}: genre flag {c + 1} is {str(flag_text[r, c])!r}, expected 0 or 1")
    return ids, titles, years, names, flag_text == "1"


# -- users ------------------------------------------------------------------------------


def _read_users(folder: Path, family: str, user_raw: np.ndarray) -> pd.DataFrame | None:
    if family == "100k":
        path = folder / "u.user"
        if not path.is_file():
            return None
        f, numbers = _fields(path, "|", 5, "utf-8-or-latin-1")
        ids = _ints(f[0], path, numbers, "user id")
        frame = pd.DataFrame({
            "age": _ints(f[1], path, numbers, "age"),
            "gender": f[2].str.strip().to_numpy(dtype=object),
            "occupation": f[3].str.strip().to_numpy(dtype=object),
            "zip": f[4].str.strip().to_numpy(dtype=object),
        })
        listed = folder / "u.occupation"  # the release's list of occupations, one a line
        if listed.is_file():
            known = {line.strip() for line in _text(listed, "utf-8-or-latin-1").splitlines()} - {""}
            bad = np.flatnonzero(~frame["occupation"].isin(known).to_numpy() & (frame["occupation"] != "").to_numpy())
            if len(bad):
                raise DataError(f"{path} line {numbers[bad[0]]}: occupation {frame['occupation'].iloc[bad[0]]!r} is "
                                f"not one of the {len(known)} that {listed.name} lists")
    elif family == "dat" and (folder / "users.dat").is_file():
        path = folder / "users.dat"
        f, numbers = _fields(path, "::", 5, "utf-8-or-latin-1")
        ids = _ints(f[0], path, numbers, "user id")
        codes = _ints(f[3], path, numbers, "occupation")
        bad = np.flatnonzero((codes < 0) | (codes >= len(ML1M_OCCUPATIONS)))
        if len(bad):
            raise DataError(f"{path} line {numbers[bad[0]]}: occupation code {codes[bad[0]]} is not 0-20")
        ages = _ints(f[2], path, numbers, "age")
        bad = np.flatnonzero(~np.isin(ages, ML1M_AGES))
        if len(bad):  # ml-1m gives each person's age group by its first age, not an age
            raise DataError(f"{path} line {numbers[bad[0]]}: age {ages[bad[0]]} is not one of ml-1m's age groups "
                            f"({', '.join(map(str, ML1M_AGES))})")
        frame = pd.DataFrame({
            "age": ages,
            "gender": f[1].str.strip().to_numpy(dtype=object),
            "occupation": np.asarray(ML1M_OCCUPATIONS, dtype=object)[codes],
            "zip": f[4].str.strip().to_numpy(dtype=object),
        })
    else:
        return None
    ages = frame["age"].to_numpy()
    bad = np.flatnonzero((ages < 0) | (ages > _MAX_AGE))
    if len(bad):
        raise DataError(f"{path} line {numbers[bad[0]]}: age {ages[bad[0]]} is outside 0-{_MAX_AGE}")
    for column in ("gender", "occupation", "zip"):
        bad = np.flatnonzero(frame[column].to_numpy() == "")
        if len(bad):
            raise DataError(f"{path} line {numbers[bad[0]]}: the {column} field is empty")
    dup = pd.Index(ids).duplicated()
    if dup.any():
        k = int(np.flatnonzero(dup)[0])
        raise DataError(f"{path} line {numbers[k]}: duplicate user id {ids[k]}")
    pos = pd.Index(ids).get_indexer(user_raw)
    if (pos < 0).any():
        raise DataError(f"{path}: user id {int(user_raw[np.flatnonzero(pos < 0)[0]])} has ratings but no line here")
    return frame.iloc[pos].reset_index(drop=True)
