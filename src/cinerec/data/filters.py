"""The filters a study applies to its data, as one value, applied in one fixed order.

:class:`Filters` holds the filter settings of the command-line flags (``--min-year``,
``--max-year``, ``--top-users``, ``--top-movies``, ``--kcore``, ``--implicit``,
``--liked-threshold``) and of a study file's ``[data]`` table (the same names with
underscores). :func:`apply_filters` applies them in this order, whatever order they
were given in:

1. ``years`` (``min_year``, ``max_year``): keep ratings of movies released in the
   range (the year read from the title; movies of unknown year are dropped).
2. ``liked_threshold``: keep ratings of at least that many stars, as plain positives
   (1.0); the data becomes implicit.
3. ``implicit``: every rating becomes a plain positive (1.0).
4. ``top_users``: keep the N users with the most ratings left.
5. ``top_movies``: keep the N movies with the most ratings left.
6. ``kcore`` (``U,I``): repeatedly drop users with fewer than U ratings and movies
   with fewer than I, until none is left below its bound.

Why this order: the years say which movies are in scope at all, and a like threshold
says which rows count as positives, so both come before anything is counted; "most
active" and "most rated" are then counted over what remains; the k-core comes last, so
every user and movie of the final data has its minimum whatever the other filters
dropped.

Users and movies left with no rating are dropped and both id spaces renumbered
(:meth:`~cinerec.data.dataset.Dataset.subset`). Each step updates the dataset's own
description (``Dataset.info``): ``implicit`` once ratings are plain positives, and
``folds_dropped_by`` once a step dropped ratings from a source that publishes official
folds (the folds no longer apply, so ``ratings-fold`` refuses the data).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any, Collection, Mapping, Sequence

import numpy as np

from cinerec.config import from_numpy, shown, shown_exactly
from cinerec.data.dataset import Dataset
from cinerec.errors import ConfigError, FilterLeavesNothing, FilterRefused, expect, said

__all__ = ["Filters", "apply_filters", "FILTER_ORDER", "counts", "data_record", "step_said", "step_words"]

#: The steps of :func:`apply_filters`, in the order they run.
FILTER_ORDER: tuple[str, ...] = ("years", "liked_threshold", "implicit", "top_users", "top_movies", "kcore")


@dataclass(frozen=True)
class Filters:
    """Filter settings; ``None`` (or ``False``) leaves a filter off.

    Attributes:
        min_year: earliest release year kept (inclusive).
        max_year: latest release year kept (inclusive).
        top_users: keep this many most active users.
        top_movies: keep this many most rated movies.
        kcore: ``(users, movies)``: the fewest ratings a user and a movie may keep (a
            whole number, a list or ``"U,I"`` text are read as :meth:`from_mapping` reads them).
        implicit: every rating becomes a plain positive (1.0).
        liked_threshold: keep ratings of at least this many stars, as plain positives.
    """

    min_year: int | None = None
    max_year: int | None = None
    top_users: int | None = None
    top_movies: int | None = None
    kcore: tuple[int, int] | None = None
    implicit: bool = False
    liked_threshold: float | None = None

    def __post_init__(self) -> None:
        # Read and checked here too, so a Filters built directly takes what a study file
        # takes (``kcore=5``, ``[5, 10]``, ``"5,10"``) and is as safe as one read from it.
        for key, value in asdict(self).items():  # (NumPy's numbers and arrays as the values they hold)
            object.__setattr__(self, key, from_numpy(value))
        if self.kcore is not None:
            object.__setattr__(self, "kcore", _kcore(self.kcore, "Filters", flags=False))
        _check_all(asdict(self), "Filters", flags=False)
        # Kept as one type whoever gave them (a study file's 4, the flag's 4.0, NumPy's numbers),
        # so the records of the same filters read alike.
        if self.liked_threshold is not None:
            object.__setattr__(self, "liked_threshold", float(self.liked_threshold))
        for key in ("min_year", "max_year", "top_users", "top_movies"):
            if getattr(self, key) is not None:
                object.__setattr__(self, key, int(getattr(self, key)))

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], *, where: str, flags: bool | Collection[str] = False) -> "Filters":
        """Filters from ``{"min_year": 2010, "kcore": [5, 10], ...}``.

        Args:
            values: keys named as the flags with underscores; ``kcore`` may be a whole
                number (both bounds), a pair ``[users, movies]`` or the text ``"U,I"``.
            where: what to name in an error: the file and table, or the command line.
            flags: name keys as flags (``--top-users``) in errors, for the command line;
                or the keys to name so (those a study file's flags replaced), the others
                as written in the file.

        Raises:
            ConfigError: an unknown key or a bad value, naming ``where`` and the key.
        """
        known = [f.name for f in fields(cls)]
        out: dict[str, Any] = {}
        for key, value in values.items():
            value = from_numpy(value)
            if key not in known:
                raise ConfigError(f"{where}: unknown key {_label(key, flags)!r} "
                                  f"(known: {', '.join(_label(k, flags) for k in known)})")
            if key == "kcore" and value is not None:
                value = _kcore(value, where, flags)
            out[key] = value
        candidate = {key: out.get(key, getattr(cls, key)) for key in known}
        _check_all(candidate, where, flags)
        return cls(**candidate)

    @property
    def is_empty(self) -> bool:
        """True when no filter is on: :func:`apply_filters` returns the data as it is."""
        return self == Filters()

    def as_flags(self) -> str:
        """The flags that ask for these filters, as typed (``--top-users 20 --implicit``);
        empty when none is on."""
        steps: list[tuple[str, dict[str, Any]]] = []
        years = {k: getattr(self, k) for k in ("min_year", "max_year") if getattr(self, k) is not None}
        steps += [("years", years)] if years else []
        steps += [(k, {"n": getattr(self, k)}) for k in ("top_users", "top_movies") if getattr(self, k) is not None]
        steps += [("kcore", {"users": self.kcore[0], "movies": self.kcore[1]})] if self.kcore is not None else []
        steps += [("implicit", {})] if self.implicit else []
        steps += [("liked_threshold", {"threshold": self.liked_threshold})] if self.liked_threshold is not None else []
        return " ".join(_as_flags(name, args) for name, args in steps)

    def to_dict(self) -> dict[str, Any]:
        """The filters that are on, JSON-ready (``kcore`` as a list)."""
        out = {}
        for key, value in asdict(self).items():
            if value is None or value is False:
                continue
            out[key] = list(value) if isinstance(value, tuple) else value
        return out


def counts(dataset: Dataset) -> dict[str, int]:
    """``{"ratings", "users", "movies"}`` of a dataset, as the record gives them."""
    return {"ratings": len(dataset.interactions), "users": dataset.n_users, "movies": dataset.n_items}


def _checked_init(init: Any) -> Any:
    """``Filters``' own ``__init__``, an unknown keyword refused in one line naming it and
    the known ones (it was Python's bare ``TypeError``, as a protocol's is not)."""
    import functools

    @functools.wraps(init)
    def checked(self: Filters, *args: Any, **kwargs: Any) -> None:
        known = [f.name for f in fields(Filters)]
        unknown = [k for k in kwargs if k not in known]
        if unknown:
            raise ConfigError(f"Filters: unknown filter {unknown[0]!r} (known: {', '.join(known)})")
        init(self, *args, **kwargs)

    return checked


Filters.__init__ = _checked_init(Filters.__init__)  # type: ignore[method-assign]


def apply_filters(dataset: Dataset, filters: Filters) -> tuple[Dataset, list[dict[str, Any]]]:
    """Apply ``filters`` in the order of :data:`FILTER_ORDER`.

    Returns:
        The filtered dataset and the record: one dict per step applied,
        ``{"transform": name, "args": {...}, "before": counts, "after": counts}``.

    Raises:
        DataError: a step leaves no ratings (naming the step and its value).
    """
    from cinerec.data import transforms  # here: it needs scipy, which reading data alone does not
    from cinerec.data.history import is_implicit

    expect(dataset, Dataset, "apply_filters: dataset")
    if isinstance(filters, Mapping):  # {"kcore": 5, ...}, as a study file's [data] writes them
        filters = Filters.from_mapping(filters, where="apply_filters")
    expect(filters, Filters, "apply_filters: filters")

    record: list[dict[str, Any]] = []
    steps: list[tuple[str, dict[str, Any], Any]] = []
    if filters.min_year is not None or filters.max_year is not None:
        steps.append(("years", {"min_year": filters.min_year, "max_year": filters.max_year},
                      lambda d: transforms.filter_years(d, filters.min_year, filters.max_year)))
    if filters.liked_threshold is not None:
        steps.append(("liked_threshold", {"threshold": filters.liked_threshold},
                      lambda d: _liked(d, filters.liked_threshold)))
    if filters.implicit:
        steps.append(("implicit", {}, transforms.as_implicit))
    if filters.top_users is not None:
        steps.append(("top_users", {"n": filters.top_users}, lambda d: transforms.top_users(d, filters.top_users)))
    if filters.top_movies is not None:
        steps.append(("top_movies", {"n": filters.top_movies}, lambda d: transforms.top_items(d, filters.top_movies)))
    if filters.kcore is not None:
        u, i = filters.kcore
        steps.append(("kcore", {"users": u, "movies": i}, lambda d: transforms.kcore(d, u, i)))
    # A rating dropped by liked_threshold stays seen (Dataset.also_seen), carried into the
    # ids of every later step by binarize and subset.
    for name, args, step in steps:
        before = counts(dataset)
        if name == "liked_threshold" and is_implicit(dataset):
            raise FilterRefused(_as_flags(name, args), "finds no stars to compare with: the data is implicit "
                                "(every rating is a plain event)", "liked_threshold", args["threshold"],
                                _as_arguments(name, args))
        out = step(dataset)
        if len(out.interactions) == 0:
            why = ""
            if name == "years" and not dataset.catalog.years.any():
                why = ("; no movie has a known release year (a ratings log takes them from its catalogue: "
                       f"{said('--catalog', 'load(catalog=...)')}, or its own title column, with any year column beside it)")
                # (the note saying why the log's own columns were left unread came after the filters: never)
                why += "".join(f"; {note}" for note in dataset.info.get("catalog_notes") or [])
            elif name == "years":  # what the years asked for missed: those known, and how many are not
                years = np.asarray(dataset.catalog.years)
                known, unknown = years[years > 0], int((years <= 0).sum())
                why = (f"; the movies' known release years run from {int(known.min())} to {int(known.max())}"
                       + (f", and {unknown:,} of the {len(years):,} movies {'has' if unknown == 1 else 'have'} none "
                          "(a year filter drops those)"
                          if unknown else ""))
            elif name == "liked_threshold":  # above the top rating: the scale, as a threshold too low says it
                stars = dataset.interactions.ratings
                why = f"; its ratings run from {float(stars.min()):g} to {float(stars.max()):g} stars"
            key = _setting(name, args)
            users = f"{before['users']:,} user{'' if before['users'] == 1 else 's'}"
            raise FilterLeavesNothing(_as_flags(name, args), f"leaves no ratings (the data had {before['ratings']:,} "
                                      f"ratings of {users}){why}", key, _value(name, args), _as_arguments(name, args))
        done = {"transform": name, "args": dict(args), "before": before, "after": counts(out)}
        if name == "years":  # dropped for having no known year, whatever the bounds: said with the counts
            unknown = np.asarray(dataset.catalog.years)[dataset.interactions.items] <= 0
            if unknown.any():
                done["unknown_year"] = {"ratings": int(unknown.sum()),
                                        "movies": int(len(np.unique(dataset.interactions.items[unknown])))}
        record.append(done)
        dataset = out
    if record:  # the dataset carries its own history, saved with it in a run folder
        dataset = dataset.replace(info={**dataset.info, "transforms": [*dataset.info.get("transforms", []), *record]})
    return dataset, record


# -- helpers ---------------------------------------------------------------------------------


def _liked(dataset: Dataset, threshold: float) -> Dataset:
    from cinerec.data import transforms

    r = dataset.interactions.ratings
    # Compared as binarize compares: at the ratings' own precision (1.00000001 is 1 there).
    if len(r) and transforms.at_ratings_precision(threshold) <= r.min():  # (keeping none: refused where it leaves nothing)
        raise FilterRefused(f"--liked-threshold {shown(float(threshold))}", f"is at or below every rating of this data "
                            f"({float(r.min()):g} to {float(r.max()):g} stars), so none would be dropped: for all of "
                            f"them as plain likes ask for implicit data instead ({said('--implicit', 'implicit=True')}), "
                            "else give a threshold above the "
                            "lowest rating", "liked_threshold", threshold, f"liked_threshold={shown(float(threshold))}")
    # binarize keeps the id space; as a filter it also drops whoever is left with no like.
    liked = transforms.binarize(dataset, threshold)
    return liked.subset(np.ones(len(liked.interactions), dtype=bool))


def _setting(name: str, args: Mapping[str, Any]) -> str:
    """The setting (a flag's or a study key's name) behind the step ``name``."""
    if name == "years":
        return "min_year" if args.get("min_year") is not None else "max_year"
    return name


def _value(name: str, args: Mapping[str, Any]) -> Any:
    """The value of the setting behind the step ``name`` as a study file writes it
    (``kcore = [20, 5]``; it was said as ``kcore = true``)."""
    if name == "kcore":
        return args["users"] if args["users"] == args["movies"] else [args["users"], args["movies"]]
    if name == "implicit":
        return True
    return args.get(_setting(name, args), args.get("n", args.get("threshold")))


def dropping(dataset: Dataset, what: str) -> list[Mapping[str, Any]]:
    """The records (``dataset.info["transforms"]``, as ``run.json`` keeps them) of the
    filters that dropped some of the ``what`` (``"users"`` or ``"movies"``)."""
    return [r for r in dataset.info.get("transforms", [])
            if isinstance(r, Mapping) and r.get("after", {}).get(what, 0) < r.get("before", {}).get(what, 0)]


def last_dropping(dataset: Dataset, what: str) -> str | None:
    """The setting (``top_users``, ``min_year``...) of the last filter that dropped some of
    the ``what``, or ``None``."""
    steps = dropping(dataset, what)
    return _setting(steps[-1]["transform"], steps[-1].get("args", {})) if steps else None


def dropped_by(dataset: Dataset, what: str) -> list[str]:
    """:func:`dropping`'s filters, each in the flag's words (``top_users=300``)."""
    return [_describe(r["transform"], r.get("args", {})) for r in dropping(dataset, what)]


def made_implicit_by(dataset: Dataset) -> str | None:
    """The filter that turned a dataset's stars into plain events, in the flag's words
    (``liked_threshold=8``, ``implicit``); ``None`` when it came so (a log without ratings)."""
    for r in dataset.info.get("transforms", []):
        if isinstance(r, Mapping) and r.get("transform") in ("liked_threshold", "implicit"):
            return _describe(r["transform"], r.get("args", {}))
    return None


def step_words(step: Mapping[str, Any]) -> str:
    """A step of a run's filter record as the user asked for it (``top_users=10000``,
    ``min_year=2010``), saying when it dropped nothing (a top-N above the count there is)."""
    said = _describe(step["transform"], step.get("args", {}))
    before, after = step.get("before"), step.get("after")
    if before is not None and after is not None and before == after:
        said += " (dropped nothing)"
    return said


def step_said(step: Mapping[str, Any]) -> str:
    """A step of a run's filter record as a command says it on stderr, with the counts
    before and after it (``data info``, ``evaluate``, ``train``, ``quickstart``)."""
    return f"filter {step_words(step)}: {_counts(step, before=True)}{unknown_years(step)}"


def left_counts(step: Mapping[str, Any]) -> str:
    """The ratings, users and movies a filter step left (``5 ratings, 1 user, 5 movies``)."""
    return _counts(step)


def _counts(step: Mapping[str, Any], before: bool = False) -> str:
    """The ratings, users and movies after ``step`` (``1 user``, ``5 movies``), each after
    its count before the step too with ``before`` (``943 -> 1 user``)."""
    b, a = step["before"], step["after"]
    return ", ".join(f"{f'{b[what]:,} -> ' if before else ''}{a[what]:,} {what if a[what] != 1 else what[:-1]}"
                     for what in ("ratings", "users", "movies"))


def step_lines(steps: Sequence[Mapping[str, Any]]) -> list[str]:
    """A Markdown list item per filter step of a run's record, with what it left (the
    reports of ``train``, ``quickstart`` and ``run``)."""
    return [f"- {step_words(step)}: {left_counts(step)} left{unknown_years(step)}" for step in steps]


def unknown_years(step: Mapping[str, Any]) -> str:
    """What a year filter dropped for want of a known year (a catalogue lacking them)."""
    if not (unknown := step.get("unknown_year")):
        return ""
    m, r = unknown["movies"], unknown["ratings"]
    return (f" ({m:,} of the movies dropped, with {r:,} rating{'' if r == 1 else 's'}, "
            f"{'has' if m == 1 else 'have'} no known release year)")


def _describe(name: str, args: Mapping[str, Any]) -> str:
    if name == "years":
        parts = [f"{k}={v}" for k, v in args.items() if v is not None]
        return " ".join(parts)
    if name == "implicit":
        return "implicit"
    if name == "liked_threshold":
        return f"liked_threshold={shown(float(args['threshold']))}"
    if name == "kcore":
        return f"kcore={args['users']},{args['movies']}"
    return f"{name}={args['n']}"


def _as_flags(name: str, args: Mapping[str, Any]) -> str:
    """The flags that ask for the step ``name`` with ``args``, as typed: ``--min-year 2050``."""
    return _as_typed(name, args, flags=True)


def _as_arguments(name: str, args: Mapping[str, Any]) -> str:
    """The arguments of :class:`Filters` that ask for the step ``name`` with ``args``, as a
    caller of the library writes them: ``min_year=1999, max_year=2005``, ``kcore=(20, 5)``."""
    return _as_typed(name, args, flags=False)


def _as_typed(name: str, args: Mapping[str, Any], flags: bool) -> str:
    """The step ``name`` with ``args`` as the command line's flags or as Filters' arguments."""
    def one(key: str, value: Any) -> str:
        return f"--{key.replace('_', '-')} {value}" if flags else f"{key}={value}"

    if name == "years":
        return (" " if flags else ", ").join(one(k, v) for k, v in args.items() if v is not None)
    if name == "implicit":
        return "--implicit" if flags else "implicit=True"
    if name == "liked_threshold":
        return one(name, shown(float(args["threshold"])))
    if name == "kcore":
        u, i = args["users"], args["movies"]
        return one(name, u if u == i else f"{u},{i}" if flags else f"({u}, {i})")
    return one(name, args["n"])


def _label(key: str, flags: bool | Collection[str]) -> str:
    flag = flags if isinstance(flags, bool) else key in flags
    return "--" + key.replace("_", "-") if flag else key


def _whole(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, np.integer))


#: ``where`` for values that all came from the command line's flags: a fault is then told
#: as the flag and its value were typed (``--kcore '5,x': must be...``), not as a file's key.
COMMAND_LINE = "command line"


def _fault(where: str, key: str, value: Any, rule: str, flags: bool | Collection[str]) -> ConfigError:
    """The one line for ``key``'s bad ``value``: ``--top-users 0: must be...`` on the command
    line, ``FILE [data]: top_users = 0 must be...`` in a study file."""
    if where == COMMAND_LINE:
        shown = repr(value) if isinstance(value, str) else shown_exactly(value)
        return ConfigError(f"{_label(key, flags)} {shown}: {rule}")
    return ConfigError(f"{where}: {_label(key, flags)} = {shown_exactly(value)} {rule}")


def _kcore(value: Any, where: str, flags: bool | Collection[str]) -> tuple[int, int]:
    bad = _fault(where, "kcore", value, "must be U or U,I: the fewest ratings a user and a movie keep (positive "
                 "whole numbers)", flags)
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(",")]
        # ASCII digits only: str.isdigit also takes '²', which int() refuses.
        if len(parts) not in (1, 2) or not all(p.isascii() and p.isdigit() for p in parts):
            raise bad
        nums = [int(p) for p in parts]
    elif _whole(value):
        nums = [int(value)]
    elif isinstance(value, (list, tuple)) and len(value) in (1, 2) and all(_whole(v) for v in value):
        nums = [int(v) for v in value]
    else:
        raise bad
    if min(nums) < 1:
        raise bad
    return (nums[0], nums[-1])


#: Beyond this, a liked_threshold is no number of stars a rating could hold (nor a float: 10**400).
_MOST_STARS = 1e300


def _check_all(f: Mapping[str, Any], where: str, flags: bool | Collection[str]) -> None:
    def fail(key: str, value: Any, rule: str) -> None:
        # (a whole number's float keeps its point: "top_users = 100 must be a whole number" refused 100.0)
        raise _fault(where, key, value, rule, flags)

    for key in ("min_year", "max_year"):
        v = f[key]
        if v is not None and not (_whole(v) and 1 <= v <= 9999):  # a title's year has four digits
            fail(key, v, "must be a whole year from 1 to 9999")
    if f["min_year"] is not None and f["max_year"] is not None and f["min_year"] > f["max_year"]:
        fail("min_year", f["min_year"], f"must not be after {_label('max_year', flags)} {f['max_year']}"
             if where == COMMAND_LINE else f"is after {_label('max_year', flags)} = {f['max_year']}")
    for key in ("top_users", "top_movies"):
        v = f[key]
        if v is not None and (not _whole(v) or v < 1):
            fail(key, v, "must be a positive whole number")
    if f["kcore"] is not None:
        k = f["kcore"]
        if not (isinstance(k, tuple) and len(k) == 2 and all(_whole(v) and v >= 1 for v in k)):
            fail("kcore", k, "must be a pair (users, movies) of positive whole numbers")
    if not isinstance(f["implicit"], bool):
        fail("implicit", f["implicit"], "must be true or false")
    t = f["liked_threshold"]
    if t is not None and not _stars(t):
        fail("liked_threshold", t, "must be a number of stars")


def _stars(value: Any) -> bool:
    """Whether ``value`` is a number a threshold of stars can be: finite, and a float
    (a whole number of 400 digits has none to become)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return False
    if isinstance(value, (int, np.integer)):
        return abs(int(value)) <= _MOST_STARS
    return math.isfinite(float(value)) and abs(float(value)) <= _MOST_STARS


def data_record(source: Mapping[str, Any], dataset: Dataset, filters: Any, transforms: list[dict[str, Any]]
                ) -> dict[str, Any]:
    """What a run read and how it was filtered, for ``run.json`` (key ``"dataset"``) and ``--json``.

    Args:
        source: ``{"source": ..., "columns": ... or None, "catalog": ... or None}`` as given,
            and ``rating_scale`` where one was.
        dataset: the dataset after the filters (the one saved in the run folder).
        filters: the :class:`~cinerec.data.filters.Filters` applied.
        transforms: the record :func:`~cinerec.data.filters.apply_filters` returned: each
            step with its arguments and the counts before and after.

    Returns:
        ``source``, ``columns``, ``catalog`` as given; ``source_path`` and
        ``catalog_path``, the files or folders read, as absolute paths (``None`` for a
        release read from the cache by its name); ``format`` (``"movielens"`` or
        ``"log"``), ``release``, ``implicit``, ``official_folds`` (those that still apply)
        and ``folds_dropped_by`` (the step that dropped them), ``filters`` (those that are on),
        ``transforms`` and ``counts`` (``ratings``, ``users``, ``movies`` of the data
        used), ``rating_scale`` (the lowest and highest rating of its scale as read,
        kept after ``--liked-threshold``; ``None`` for a log of plain events) and
        ``rating_scale_given`` (``--rating-scale``'s, else ``None``).
        ``export`` and ``serve`` read the saved, already filtered dataset; nothing
        filters again.
    """
    from pathlib import Path

    from cinerec.data.history import rating_scale

    def read(given: Any) -> str | None:  # "../log.csv" says little once the run folder moves
        if isinstance(given, str):  # a release name read from its copy where one runs: that copy
            from cinerec.data.movielens import local_copy

            given = local_copy(given)
        return None if given is None or not Path(given).exists() else str(Path(given).resolve())

    info = dataset.info
    return {
        "source": str(source["source"]),
        "source_path": read(source["source"]),
        "columns": dict(source["columns"]) if source.get("columns") else None,
        "catalog": None if source.get("catalog") is None else str(source["catalog"]),
        "catalog_path": read(source.get("catalog")),
        "format": info.get("format", "movielens"),
        "release": info.get("release"),
        **({"synthetic": True} if info.get("synthetic") else {}),  # (a synthetic release passed for the real one)
        "implicit": bool(info.get("implicit", False)),
        # Whether the source's official folds still apply (ratings-fold), and if not, the
        # step that dropped them.
        "official_folds": sorted(dataset.folds),
        **({"folds_dropped_by": info["folds_dropped_by"]} if info.get("folds_dropped_by") else {}),
        "filters": filters.to_dict(),
        "transforms": list(transforms),
        "counts": {"ratings": len(dataset.interactions), "users": dataset.n_users, "movies": dataset.n_items},
        "rating_scale": None if (scale := rating_scale(dataset)) is None else list(scale),
        # The scale as --rating-scale gave it (None: read from the log's own lowest and highest).
        "rating_scale_given": list(source["rating_scale"]) if source.get("rating_scale") is not None else None,
    }
