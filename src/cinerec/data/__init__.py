"""Data: the core values, MovieLens loaders and downloads, and a synthetic generator.

``load`` reads any MovieLens release (by name, folder or zip), or a ratings log of one's
own (CSV, TSV or Parquet), into a ``Dataset``; ``apply_filters`` applies ``Filters``
(years, likes, most active users and movies, k-core) in one fixed order.
"""

from cinerec.data.dataset import Catalog, Dataset, IdMap, Interactions
from cinerec.data.download import cache_dir, fetch
from cinerec.data.filters import Filters, apply_filters
from cinerec.data.movielens import OFFICIAL_FOLDS, RELEASE_NAMES, load
from cinerec.data.split import official_split

__all__ = [
    "Catalog",
    "Dataset",
    "Filters",
    "IdMap",
    "Interactions",
    "OFFICIAL_FOLDS",
    "RELEASE_NAMES",
    "apply_filters",
    "cache_dir",
    "fetch",
    "load",
    "official_split",
]
