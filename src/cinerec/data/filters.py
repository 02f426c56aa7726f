"""The filters a command or a study asks for, as one value, and the call that applies them.

``Filters`` holds the keys (``min_year``, ``max_year``, ``top_users``, ``top_movies``,
``kcore``, ``implicit``, ``liked_threshold``); :func:`apply_filters` runs them in a fixed
order through :mod:`cinerec.data.transforms` and records what each one left.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Mapping

from cinerec.data.dataset import Dataset
from cinerec.errors import ConfigError

__all__ = ["Filters", "apply_filters"]


@dataclass(frozen=True)
class Filters:
    """Which ratings to keep, applied in this order: years, k-core, most active users,
    most rated movies, then likes (``liked_threshold``) or bare interactions (``implicit``).

    Attributes:
        min_year, max_year: release years kept (inclusive); movies of unknown year go.
        top_users: keep the most active users.
        top_movies: keep the most rated movies.
        kcore: ``(user_k, movie_k)``: every user and movie keeps at least that many ratings.
        implicit: every rating becomes 1 ("watched").
        liked_threshold: ratings from this many stars become 1, the others are dropped.
    """

    min_year: int | None = None
    max_year: int | None = None
    top_users: int | None = None
    top_movies: int | None = None
    kcore: tuple[int, int] | None = None
    implicit: bool = False
    liked_threshold: float | None = None

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], *, where: str) -> "Filters":
        """Filters from a mapping (a study's ``[data]`` keys); ``where`` prefixes every error."""
        known = {f.name for f in fields(cls)}
        out: dict[str, Any] = {}
        for key, value in values.items():
            if key not in known:
                raise ConfigError(f"{where}: unknown key {key!r} (known: {', '.join(sorted(known))})")
            out[key] = _check(key, value, where)
        if out.get("min_year") is not None and out.get("max_year") is not None and out["min_year"] > out["max_year"]:
            raise ConfigError(f"{where}: min_year = {out['min_year']} is after max_year = {out['max_year']}")
        if out.get("implicit") and out.get("liked_threshold") is not None:
            raise ConfigError(f"{where}: implicit and liked_threshold exclude each other")
        return cls(**out)

    @property
    def is_empty(self) -> bool:
        return self == Filters()

    def to_dict(self) -> dict[str, Any]:
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v) for f in fields(self)}


def _check(key: str, value: Any, where: str) -> Any:
    def whole(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    if key in ("min_year", "max_year"):
        if not whole(value):
            raise ConfigError(f"{where}: {key} = {value!r}: expected a year (a whole number)")
        return value
    if key in ("top_users", "top_movies"):
        if not whole(value) or value < 1:
            raise ConfigError(f"{where}: {key} = {value!r}: expected a positive whole number")
        return value
    if key == "kcore":
        pair = [value, value] if whole(value) else value
        if not isinstance(pair, (list, tuple)) or len(pair) != 2 or not all(whole(v) and v >= 1 for v in pair):
            raise ConfigError(f"{where}: kcore = {value!r}: expected a positive whole number or [users, movies]")
        return (int(pair[0]), int(pair[1]))
    if key == "implicit":
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: implicit = {value!r}: expected true or false")
        return value
    if not isinstance(value, (int, float)) or isinstance(value, bool):  # liked_threshold
        raise ConfigError(f"{where}: liked_threshold = {value!r}: expected a number of stars")
    return float(value)


def apply_filters(dataset: Dataset, filters: Filters) -> tuple[Dataset, list[dict[str, Any]]]:
    """Apply ``filters`` to ``dataset``; return the result and what each step did.

    Each record holds the transform's name, its arguments and the ratings, users and
    movies before and after it.
    """
    from cinerec.data import transforms as T

    steps: list[tuple[str, dict[str, Any], Any]] = []
    if filters.min_year is not None or filters.max_year is not None:
        steps.append(("filter_years", {"min_year": filters.min_year, "max_year": filters.max_year},
                      lambda d: T.filter_years(d, filters.min_year, filters.max_year)))
    if filters.kcore is not None:
        u, i = filters.kcore
        steps.append(("kcore", {"user_k": u, "item_k": i}, lambda d: T.kcore(d, u, i)))
    if filters.top_users is not None:
        steps.append(("top_users", {"n": filters.top_users}, lambda d: T.top_users(d, filters.top_users)))
    if filters.top_movies is not None:
        steps.append(("top_items", {"n": filters.top_movies}, lambda d: T.top_items(d, filters.top_movies)))
    if filters.liked_threshold is not None:
        steps.append(("binarize", {"threshold": filters.liked_threshold},
                      lambda d: T.binarize(d, filters.liked_threshold)))
    if filters.implicit:
        steps.append(("as_implicit", {}, T.as_implicit))
    record = []
    for name, args, step in steps:
        before = _counts(dataset)
        dataset = step(dataset)
        record.append({"transform": name, "args": args, "before": before, "after": _counts(dataset)})
    return dataset, record


def _counts(ds: Dataset) -> dict[str, int]:
    return {"ratings": len(ds.interactions), "users": ds.n_users, "movies": ds.n_items}
