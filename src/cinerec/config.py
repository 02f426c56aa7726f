"""Frozen, typed model configs: defaults, ``ValueError`` on bad values, JSON round trip.

A model's config is a frozen dataclass deriving from :class:`Config`. Field types are
checked when a config is built from a mapping (a TOML file, ``--set key=value`` pairs,
a saved run); unknown keys are rejected by name, and a key a class lists in ``renamed``
is refused with its new name. The names shared across models are fixed in
``docs/conventions.md``.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import math
import re
import typing
from typing import Any, ClassVar, Mapping, TypeVar

from cinerec.errors import ConfigError, unknown_name

__all__ = ["Config", "parse_set_options", "MAX_SEED", "MAX_THREADS", "toml_error", "shown"]

#: The largest seed: every seed feeds NumPy or torch, and torch takes none past int64.
MAX_SEED = 2**63 - 1

#: The most CPU threads a fit takes (as ``serve --threads``): more is a typo, and asking
#: torch for 100,000 threads ends the process while it starts them.
MAX_THREADS = 256
#: What a TOML number past Python's 4,300-digit limit on reading integers is said to be.
TOO_MANY_DIGITS = "a number of more than 4,300 digits, far out of any setting's range"
#: The largest float32: settings feed models that compute in float32.
_FLOAT32_MAX = 3.4028234663852886e38

C = TypeVar("C", bound="Config")


@dataclasses.dataclass(frozen=True)
class Config:
    """Base of every model config. Subclasses add fields and override :meth:`validate`.

    Attributes:
        renamed: old setting name → today's name, for names a class (or one of its
            bases) no longer accepts; :meth:`from_dict` refuses an old name with one line
            naming the new one. Subclasses add their own; a base's entries are inherited.
    """

    renamed: ClassVar[Mapping[str, str]] = {}

    def __post_init__(self) -> None:
        # Each value of the kind its field takes, as from_dict reads them: a config built in
        # Python with factors="8" failed deep in validate() with a TypeError.
        hints = _hints(type(self))
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            kind = _coerce(value, hints[f.name], f"{type(self).__name__}.{f.name}")
            if kind is not value:
                object.__setattr__(self, f.name, kind)
        seed = getattr(self, "seed", None)
        self._check(not isinstance(seed, int) or 0 <= seed <= MAX_SEED, "seed", "must be from 0 to 2**63 - 1")
        self.validate()
        for f in dataclasses.fields(self):  # past int64, which NumPy and torch take at most
            value = getattr(self, f.name)
            # (the numbers in a list, such as layers, and a table's, such as repeats, too)
            parts = value if isinstance(value, (tuple, list)) else value.values() if isinstance(value, dict) else (value,)
            past = [v for v in parts if isinstance(v, int) and abs(v) > MAX_SEED]
            # (said by the side it is past: "from -(2**63 - 1)" named numbers a setting of at
            # least 1 refuses)
            self._check(not past, f.name, "too large (at most 2**63 - 1)" if past and past[0] > 0
                        else "too small (at least -(2**63 - 1))")

    def validate(self) -> None:
        """Raise ``ConfigError`` (a ``ValueError``) naming the field at fault."""

    # helpers for validate()
    def _check(self, ok: bool, name: str, rule: str) -> None:
        if not ok:
            raise ConfigError(f"{type(self).__name__}.{name} = {shown(getattr(self, name))}: {rule}")

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def renames(cls) -> dict[str, str]:
        """Every old name this class refuses, its own ``renamed`` over its bases'."""
        out: dict[str, str] = {}
        for klass in reversed(cls.__mro__):
            out.update(vars(klass).get("renamed", {}))
        return out

    @classmethod
    def from_dict(cls: type[C], values: Mapping[str, Any], *, where: str = "config") -> C:
        """Build from a mapping, converting and checking each value's type."""
        fields = {f.name: f for f in dataclasses.fields(cls)}
        hints = typing.get_type_hints(cls)
        renames = cls.renames()
        kwargs: dict[str, Any] = {}
        for key, value in values.items():
            if key not in fields and key in renames:
                raise ConfigError(f"{where}: {key!r} was renamed to {renames[key]!r} (see docs/conventions.md)")
            if key not in fields:
                if not fields:
                    raise ConfigError(f"{where}: unknown key {key!r}: this model takes no settings")
                raise ConfigError(f"{where}: {unknown_name('key', key, sorted(fields))}")
            kwargs[key] = _coerce(value, hints[key], f"{where}: {key}")
        try:
            return cls(**kwargs)
        except TypeError as e:
            raise ConfigError(f"{where}: {e}") from None
        except ConfigError as e:
            # Said as the user wrote it (``--set: epochs = 0: ...``), not by the class's
            # name, which :meth:`validate` uses for configs built in Python.
            message = str(e)
            own = f"{cls.__name__}."
            if message.startswith(own):
                raise ConfigError(f"{where}: {message[len(own):]}") from None
            raise

    def replace(self: C, **changes: Any) -> C:
        return self.from_dict({**self.to_dict(), **changes})


def parse_set_options(pairs: list[str] | None, flag: str = "--set") -> dict[str, Any]:
    """Turn ``["epochs=5", "lr=0.01"]`` into a dict; values are parsed as TOML scalars.

    A key given twice takes its last value, as a later flag overrides an earlier one (a
    command with settings of its own, then one changed at the end). A dotted key sets
    one entry of a table, as in TOML (``settings.bpmf.sweeps=300``); the table holds
    what ``--set`` gave it, later entries merged in. ``flag`` names the option in an error.
    """
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"{flag} {pair!r}: expected key=value")
        if "\n" in raw or "\r" in raw:  # a second line would be a second key, silently dropped
            raise ConfigError(f"{flag} {pair!r}: a value on one line, please")
        value = _set_value(key, raw, flag)
        if re.fullmatch(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)+", key):
            for part in reversed(key.split(".")[1:]):
                value = {part: value}
            _merge(out, {key.split(".")[0]: value})
        else:
            out[key] = value
    return out


def _set_value(key: str, raw: str, flag: str) -> Any:
    """The value of ``--set key=raw``: TOML, or a bare word as text."""
    import tomllib

    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError as e:
        text = raw.strip()
        if re.fullmatch(r"[-+]?\.\d+(?:[eE][-+]?\d+)?", text):  # ".5": a number TOML writes 0.5
            raise ConfigError(f"{flag} {key}={text}: write a fraction with its leading zero "
                              f"({text.replace('.', '0.', 1)})") from None
        # A bare word is text (loss=bpr); what starts as a number, list, table or quoted
        # text and is no TOML was meant as one, and taken as text it read as another mistake.
        if re.match(r"[-+\d\[{\"']", text):
            reason = str(e).split(" (at ")[0]
            raise ConfigError(f"{flag} {key}={text}: not a TOML value ({reason}); write numbers without "
                              "leading zeros, lists as [64, 32], text as \"bpr\" or bpr") from None
        return text
    except ValueError:  # a number of thousands of digits: Python's own limit
        raise ConfigError(f"{flag} {key}: {TOO_MANY_DIGITS}") from None
    if _overflows(value) and not re.search(r"(?<![\w.])[+-]?inf(?![\w.])", raw):  # 1e400: past any float
        raise ConfigError(f"{flag} {key}={raw.strip()}: a number too large to hold (it reads as infinity)")
    return value


def _overflows(value: Any) -> bool:
    """Whether ``value`` (or a value inside it) is an infinite float."""
    if isinstance(value, float):
        return math.isinf(value)
    if isinstance(value, dict):
        return any(_overflows(v) for v in value.values())
    return isinstance(value, list) and any(_overflows(v) for v in value)


def _merge(into: dict[str, Any], value: Mapping[str, Any]) -> None:
    """``value``'s entries into ``into``, tables merged entry by entry, anything else replaced."""
    for key, v in value.items():
        if isinstance(v, Mapping) and isinstance(into.get(key), dict):
            _merge(into[key], v)
        else:
            into[key] = dict(v) if isinstance(v, Mapping) else v


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def shown(value: Any) -> str:
    """``value`` as a settings file or ``--set`` writes it (TOML): ``true``, ``[64, 32]``,
    ``"bpr"``, ``{a = 1}``, a whole float as the whole number it was typed as; never
    Python's ``True``, ``(64, 32)`` or ``np.int64(50)``."""
    if hasattr(value, "item") and not isinstance(value, (list, tuple, dict, str)):
        try:
            value = value.item()  # a NumPy scalar
        except (TypeError, ValueError):
            pass
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "nothing"
    if isinstance(value, str):  # (a control character as TOML escapes it: never raw on the terminal)
        text = value.replace("\\", "\\\\").replace('"', '\\"')
        return '"' + re.sub(r"[\x00-\x1f\x7f]", lambda m: f"\\u{ord(m.group()):04x}", text) + '"'
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(shown(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k} = {shown(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (_dt.date, _dt.time)):  # a TOML date or time: as it was typed
        return value.isoformat()
    if isinstance(value, int) and value.bit_length() > 100:  # (Python will not write 5,000 digits; no one reads 400)
        return f"a {'negative ' if value < 0 else ''}number of about {int(value.bit_length() * math.log10(2)) + 1:,} digits"
    return str(value) if isinstance(value, (int, float)) else repr(value)


def settings_words(settings: Mapping[str, Any]) -> str:
    """Settings as ``--set`` takes them, one after the other: ``regularization=1400,
    recency_half_life=0.12`` (never Python's ``{'regularization': 1400.0}``)."""
    return ", ".join(f"{k}={shown(v)}" for k, v in settings.items())


def shown_exactly(value: Any) -> str:
    """:func:`shown`, but a float keeps its point (``8.0``): said where an integer is
    expected, ``8`` would read as the very value asked for."""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(shown_exactly(v) for v in value) + "]"
    return shown(value)


def _rule(message: str, where: str, value: Any) -> str:
    """The rule of a ``"{where} = {value}: {rule}"`` message (the whole message otherwise)."""
    for prefix in (f"{where} = {shown(value)}: ", f"{where} = {shown_exactly(value)}: "):
        if message.startswith(prefix):
            return message[len(prefix):]
    return message


def from_numpy(value: Any) -> Any:
    """A NumPy number, flag or array as the plain Python value it holds (``np.int64(8)``
    is 8, an array a list); any other value as it is. A notebook's ``np.arange`` grid
    then sets a setting as its numbers would."""
    if type(value).__module__ == "numpy" and hasattr(value, "tolist"):
        return value.tolist()
    return value


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    """A config class's fields' types, read once."""
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _coerce(value: Any, hint: Any, where: str) -> Any:
    value = from_numpy(value)
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Union or (origin is not None and str(origin) == "<class 'types.UnionType'>"):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, where)
            except ConfigError as e:
                errors.append(_rule(str(e), where, value))
        # A value of a form the setting takes but out of its range says so alone; a value of
        # no form it takes hears every form it may take.
        wrong_kind = ("expected a list", "expected true or false", "expected an integer", "expected a number",
                      "expected a string")
        bad = [e for e in errors if e not in wrong_kind and not e.startswith(('expected "', "expected one of"))]
        if errors and not bad:
            raise ConfigError(f"{where} = {shown(value)}: expected " + " or ".join(e[len("expected "):] for e in errors))
        raise ConfigError(f"{where} = {shown(value)}: {bad[0]}" if bad else f"{where}: bad value {shown(value)}")
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{where} = {shown(value)}: expected {' or '.join(map(shown, args))}"
                              if len(args) <= 2 else f"{where} = {shown(value)}: expected one of "
                              f"{', '.join(map(shown, args))}")
        return value
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where} = {shown(value)}: expected a list")
        inner = args[0] if args else Any
        out = []
        for v in value:
            try:
                out.append(_coerce(v, inner, where))
            except ConfigError as e:  # the whole list as given, and the item at fault
                raise ConfigError(f"{where} = {shown_exactly(value)}: {shown_exactly(v)}: {_rule(str(e), where, v)}") from None
        return tuple(out)
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where} = {shown(value)}: expected true or false")
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{where} = {shown_exactly(value)}: expected an integer")
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            # (a whole number is finite, and compared with the largest float32 as it is: 10**400
            # has no float to become)
            if isinstance(value, float) and not math.isfinite(value):  # no setting means "infinite": inf and nan are typos or overflow
                raise ConfigError(f"{where} = {shown(value)}: expected a finite number")
            if abs(value) > _FLOAT32_MAX:  # the models compute in float32, where it would be infinite
                raise ConfigError(f"{where} = {shown(value)}: " + (f"too large (at most {_FLOAT32_MAX:.4g})" if value > 0
                                                                    else f"too small (at least -{_FLOAT32_MAX:.4g})"))
            return float(value)
        raise ConfigError(f"{where} = {shown(value)}: expected a number")
    if hint is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{where} = {shown(value)}: expected a string")
    return value


def toml_error(path: Any, error: Exception) -> ConfigError:
    """``FILE:LINE: not valid TOML (what, column C)`` from a ``tomllib.TOMLDecodeError``,
    whose own text puts the place at its end ("... (at line 7, column 13)")."""
    text = str(error)
    at = re.search(r"\s*\(at line (\d+), column (\d+)\)$", text)
    if at is None:
        return ConfigError(f"{path}: not valid TOML ({text})")
    return ConfigError(f"{path}:{at.group(1)}: not valid TOML ({text[:at.start()]}, column {at.group(2)})")

