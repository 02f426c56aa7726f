"""Data: the core values, MovieLens loaders and downloads, and a synthetic generator.

``load`` reads any MovieLens release (by name, folder or zip) into a ``Dataset``.
"""

from cinerec.data.dataset import Catalog, Dataset, IdMap, Interactions
from cinerec.data.download import cache_dir, fetch
from cinerec.data.movielens import OFFICIAL_FOLDS, RELEASE_NAMES, load
from cinerec.data.split import official_split

__all__ = [
    "Catalog",
    "Dataset",
    "IdMap",
    "Interactions",
    "OFFICIAL_FOLDS",
    "RELEASE_NAMES",
    "cache_dir",
    "fetch",
    "load",
    "official_split",
]
