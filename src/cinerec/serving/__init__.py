"""Serving: the exported SQLite store, profiles, title search, the HTTP API and the page.

``cinerec.serving.store`` needs only the standard library and NumPy; the web app lives
in ``cinerec.serving.api`` (``create_app``), imported on demand because FastAPI is heavy.
"""

from cinerec.serving.search import MovieSearch, search_key
from cinerec.serving.store import ProfileStore, RecStore, StoreInfo, export_store, open_store, profiles_path_for

__all__ = [
    "MovieSearch", "search_key", "ProfileStore", "RecStore", "StoreInfo", "export_store", "open_store",
    "profiles_path_for",
]
