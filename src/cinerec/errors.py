"""Errors a user can cause, and the one place that turns them into a single line."""

from __future__ import annotations

import contextlib
import contextvars
import functools
import re
from typing import Any, Callable, Iterable, Iterator, Mapping, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

__all__ = ["format_refused", "CinerecError", "DataError", "ConfigError", "NotFoundError", "TooFewUnseen", "Unavailable", "Diverged",
           "OutOfMemory", "allocation_words", "out_of_memory", "OUT_OF_MEMORY_ADVICE", "said", "spoken_to", "in_cli_words", "python_words",
           "unknown_name", "known_words", "closest", "unreadable"]

#: Who an error's advice speaks to: "python" (a caller of the library, the default) or
#: "cli" (the command line, and a study file, which words its flags its own way). The
#: command line sets its whole process's (threads it starts included); a study sets its
#: own thread's alone, so a study run in one thread leaves another's words as they were.
_PROCESS: list[tuple[object, str]] = [(object(), "python")]
_HERE: contextvars.ContextVar[str | None] = contextvars.ContextVar("cinerec_audience", default=None)


@contextlib.contextmanager
def spoken_to(audience: str, *, process: bool = False) -> Iterator[None]:
    """Errors raised inside give their advice in ``audience``'s terms (:func:`said`): in
    this thread (and what it calls), or with ``process`` in every thread of the process.
    Leaving it puts back what was there on entering, without raising, in whatever order
    blocks are left (a generator closed late, from another context)."""
    if process:
        entry = (object(), audience)  # (its own: another thread's block may end first)
        _PROCESS.append(entry)
    else:
        before = _HERE.get()
        _HERE.set(audience)
    try:
        yield
    finally:
        if process:
            _PROCESS.remove(entry)
        else:
            _HERE.set(before)


def in_cli_words(function: Callable[P, R]) -> Callable[P, R]:
    """``function``, its errors said as the command line says them (:func:`spoken_to`): a
    study's, which a study file words in its own terms from the command line's. For plain
    functions (a generator's or a coroutine's body runs after it has returned)."""

    @functools.wraps(function)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
        with spoken_to("cli"):
            return function(*args, **kwargs)

    return wrapped


def said(cli: str, python: str) -> str:
    """Advice in its reader's terms: ``cli`` on the command line (``--protocol-option
    n_negatives=35``), ``python`` to a caller of the library (``n_negatives=35``)."""
    return cli if (_HERE.get() or _PROCESS[-1][1]) == "cli" else python


def python_words(text: str) -> str:
    """``text`` with each flag named as the setting it sets (``a larger --top-movies``:
    ``a larger top_movies``), to a caller of the library; as it is on the command line."""
    return said(text, re.sub(r"(?<![\w-])--([a-z]+(?:-[a-z]+)*)", lambda m: m.group(1).replace("-", "_"), text))


class CinerecError(Exception):
    """A mistake in what the user gave cinerec (a file, an id, an argument).

    The CLI prints ``str(error)`` on one line and exits with status 2; it never shows a
    traceback for these.
    """

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled (multiprocessing, joblib): made again from its message and parts, without
        # its __init__, which for some errors takes the parts rather than the message.
        return _remade, (type(self), self.args, self.__dict__)


def _remade(kind: type[CinerecError], args: tuple[Any, ...], parts: dict[str, Any]) -> CinerecError:
    """An unpickled :class:`CinerecError` (see its ``__reduce__``)."""
    error = kind.__new__(kind, *args)
    error.__dict__.update(parts)
    return error


class DataError(CinerecError, ValueError):
    """A data file or source is malformed, missing or fails its checksum."""


class Unavailable(DataError):
    """A database the service needs cannot be reached now (PostgreSQL down or restarting).

    Not the request's fault: the API answers 503, and the same request may work later.
    """


class DownloadFailed(DataError):
    """A release could not be downloaded (offline, the server unreachable or failing) and
    no copy is kept. Not a damaged copy or a checksum that differs: those are
    :class:`DataError` and are never passed over (quickstart falls back on this alone)."""


class Diverged(DataError):
    """A model's training diverged (its loss is no longer a number): its checkpoints hold a
    run that, resumed, diverges again, so ``cinerec train`` removes them."""


def allocation_words(error: BaseException) -> str:
    """An allocation error's own words on one line, cut to 200 characters."""
    return " ".join(str(error).split())[:200] or "an allocation failed"


class OutOfMemory(CinerecError, MemoryError):
    """A fit that asked for more memory than there is (NumPy's ``MemoryError``, torch's
    allocation error), in one line naming the model; ``said`` is the allocation's own
    words. Still a ``MemoryError``, as it was."""

    def __init__(self, model: str, said: str) -> None:
        self.model, self.said = model, said
        super().__init__(f"out of memory fitting {model} ({said}); {OUT_OF_MEMORY_ADVICE}")

    def __reduce__(self) -> tuple[Any, ...]:
        # (MemoryError's own __new__ cannot make this class without its __init__)
        return type(self), (self.model, self.said), self.__dict__


class FilterRefused(DataError):
    """A filter cannot apply to this data; ``key`` is its setting (``min_year``,
    ``liked_threshold``...) and ``value`` its value, ``flag`` the flag that sets it as
    typed (``--min-year 2050``), ``written`` the arguments of :class:`Filters` that do
    (``min_year=2050``), and ``rest`` what is wrong (``leaves no ratings (...)``),
    for a caller that names where the setting came from in its own terms (a study file's
    line)."""

    def __init__(self, flag: str, rest: str, key: str, value: object, written: str | None = None) -> None:
        # (a caller of the library wrote Filters(min_year=2050), not --min-year 2050: ``written``)
        super().__init__(said(f"{flag} {rest}", f"{written or f'{key}={value!r}'} {rest}"))
        self.key, self.value, self.flag, self.rest = key, value, flag, rest


class FilterLeavesOne(DataError):
    """The filters left the ratings of one person; ``key`` is the setting of the last of
    them that dropped people (``top_users``, ``kcore``...), for a caller that names where
    it was set (a study file's line)."""

    def __init__(self, message: str, key: str) -> None:
        super().__init__(message)
        self.key = key

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (str(self), self.key), self.__dict__


class FilterLeavesNothing(FilterRefused):
    """A filter left no ratings (:class:`FilterRefused`)."""


class TooFewUnseen(DataError):
    """Some person has fewer unseen movies than a protocol's sampled negatives.

    ``fewer`` is the most negatives every person can give (0: none can). The message
    ends with the way out as the command line says it (``--protocol-option``), the only
    one when ``only_way`` (no filter dropped movies, so none can be loosened); a command
    that sets the count another way says so with :meth:`asking`.
    """

    def __init__(self, message: str, fewer: int, how: str | None = None,
                 only_way: bool = False, top_k: int = 0) -> None:
        how = how or said("--protocol-option n_negatives={n}", "n_negatives={n}")
        self.base, self.fewer, self.only_way, self.top_k = message, fewer, only_way, top_k
        joint = "; ask" if only_way else " or ask"
        # ``top_k``: the protocol's largest K, which must stay below the fewer + 1 candidates.
        ks = f", and for no K above {fewer} in ks (K = {top_k} needs {top_k} negatives)" if top_k > fewer else ""
        super().__init__(message + (f"{joint} for fewer negatives ({how.format(n=fewer)}){ks}" if fewer else ""))

    def asking(self, how: str, flags: Mapping[str, str] | None = None, least: int = 0) -> "TooFewUnseen":
        """The same error, its way out said as ``how`` (``{n}`` becomes the count), and the
        flags it names said as ``flags`` says (``{"--top-movies": "top_movies"}``). A count
        below ``least``, which the command would refuse, is not offered."""
        base = self.base
        for flag, said in (flags or {}).items():
            base = base.replace(flag, said)
        return TooFewUnseen(base, self.fewer if self.fewer >= least else 0, how, self.only_way, self.top_k)


class ConfigError(CinerecError, ValueError):
    """A configuration value, key or command-line argument is wrong."""


class NotFoundError(CinerecError, KeyError):
    """An id (user, movie, profile) or a named thing (release, model, run) is unknown."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


def closest(name: object, known: Iterable[str]) -> str | None:
    """The one of ``known`` that ``name`` reads most like (in any case, spaces aside), if
    any is close: what a "did you mean" names."""
    import difflib

    folded = {k.lower(): k for k in known}
    text = str(name).strip().lower() if isinstance(name, str) else ""
    close = difflib.get_close_matches(text, list(folded), n=1) if text else []
    return folded[close[0]] if close else None


def known_words(name: object, known: Iterable[str]) -> str:
    """``(did you mean 'ease'? known: als, ease, ...)``: what follows a name given that is
    none of ``known``, with the one it is closest to (:func:`closest`)."""
    known = list(known)
    close = closest(name, known)
    maybe = f"did you mean {close!r}? " if close else ""
    return f"({maybe}known: {', '.join(known)})"


def unknown_name(what: str, name: object, known: Iterable[str]) -> str:
    """``unknown model 'eas' (did you mean 'ease'? known: als, ease, ...)``."""
    return f"unknown {what} {name!r} {known_words(name, known)}"


def expect(value: object, kinds: type | tuple[type, ...], what: str) -> None:
    """Refuse an argument of the wrong kind in one line, as ``what: expected X, got Y``,
    before it fails deep inside (a Dataset where Interactions go says to take its
    ``.interactions``, and the other way round)."""
    if isinstance(value, kinds):
        return
    names = " or ".join(k.__name__ for k in (kinds if isinstance(kinds, tuple) else (kinds,)))
    got = type(value).__name__
    if got == "DataFrame" and "PathLike" in names:  # (a notebook's ratings, where a file's path goes)
        name = "movies.csv" if what.endswith("catalog") else "ratings.csv"
        raise ConfigError(f"{what}: expected {names}, got DataFrame; a frame is read from a file: save it first "
                          f"(frame.to_csv('{name}', index=False), or to_parquet) and give that file")
    hint = " (its .interactions)" if names == "Interactions" and hasattr(value, "interactions") else \
        " (the Dataset they belong to, not its .interactions)" if names == "Dataset" and got == "Interactions" else ""
    raise ConfigError(f"{what}: expected {names}{hint}, got {got}")


#: What an out-of-memory error says after the allocation that failed.
OUT_OF_MEMORY_ADVICE = ("a setting may ask for too much (factors, negatives, candidates, chunk or batch size) or the "
                        "data is too big")


def out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` is a failed allocation: NumPy's ``MemoryError``, or torch's (CPU
    or GPU), which is a ``RuntimeError``, or NumPy's ``ValueError`` for an array bigger
    than any allocation can be."""
    if isinstance(error, MemoryError) or type(error).__name__ == "OutOfMemoryError":
        return True
    if isinstance(error, ValueError):
        return str(error).startswith(("array is too big", "Maximum allowed size exceeded"))
    text = str(error) if isinstance(error, RuntimeError) else ""
    # (a size past what an allocation can even count: "Storage size calculation overflowed")
    return "can't allocate memory" in text or "out of memory" in text or "size calculation overflowed" in text


def unreadable(e: PermissionError, where: Any, what: str) -> "DataError":
    """A file of a saved ``what`` ("model", "dataset") this user may not read, said as such,
    not as damage: the file ``e`` names, else ``where``."""
    return DataError(f"{e.filename or where}: cannot be read ({e.strerror}); the saved {what}'s files must be "
                     "readable by you")


def format_refused(path: Any, what: str, found: Any, reads: int, again: str = "") -> "DataError":
    """The refusal of a saved ``what`` (a run, a model, a store) whose format number
    ``found`` is not the ``reads`` this cinerec reads: one written by a newer cinerec asks
    for that one (writing it again here would lose what is new in it), an older one says
    ``again`` (how to write it anew), when given."""
    import cinerec

    if isinstance(found, int) and not isinstance(found, bool) and found > reads:
        return DataError(f"{path}: {what} format {found!r}, written by a newer cinerec; this cinerec "
                         f"{cinerec.__version__} reads format {reads}: upgrade cinerec to read it")
    return DataError(f"{path}: {what} format {found!r}; this cinerec {cinerec.__version__} reads format {reads}"
                     + (f"; {again}" if again else ""))
