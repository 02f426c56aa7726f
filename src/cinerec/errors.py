"""Errors a user can cause, and the one place that turns them into a single line."""

from __future__ import annotations

__all__ = ["CinerecError", "DataError", "ConfigError", "NotFoundError"]


class CinerecError(Exception):
    """A mistake in what the user gave cinerec (a file, an id, an argument).

    The CLI prints ``str(error)`` on one line and exits with status 2; it never shows a
    traceback for these.
    """


class DataError(CinerecError, ValueError):
    """A data file or source is malformed, missing or fails its checksum."""


class ConfigError(CinerecError, ValueError):
    """A configuration value, key or command-line argument is wrong."""


class NotFoundError(CinerecError, KeyError):
    """An id (user, movie, profile) or a named thing (release, model, run) is unknown."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""
