"""Serving: the exported SQLite store, profiles, title search, the HTTP API and the page.

``cinerec.serving.store`` needs only the standard library and NumPy; the web app lives
in ``cinerec.serving.api`` (``create_app``), imported on demand because FastAPI is heavy.
The names below are imported when first used: the store's reads the models (torch),
which a title search (``cinerec movies``) needs none of.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cinerec.serving.search import MovieSearch, search_key
    from cinerec.serving.store import (ProfileStore, RecStore, StoreInfo, export_store, open_store,
                                       profiles_path_for)

__all__ = [
    "MovieSearch", "search_key", "ProfileStore", "RecStore", "StoreInfo", "export_store", "open_store",
    "profiles_path_for",
]

_WHERE = {"MovieSearch": "search", "search_key": "search", **dict.fromkeys(
    ("ProfileStore", "RecStore", "StoreInfo", "export_store", "open_store", "profiles_path_for"), "store")}


def __dir__() -> list[str]:
    return sorted({*__all__, *(name for name in globals() if not name.startswith("_"))})


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
