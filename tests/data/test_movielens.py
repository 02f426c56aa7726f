"""MovieLens loaders: the genuine ml-100k files, and every layout through synthetic copies."""

from __future__ import annotations

import numpy as np
import pytest

from cinerec.data import Dataset, load, official_fold
from cinerec.data.movielens import parse_titles
from cinerec.errors import NotFoundError


@pytest.fixture(scope="module")
def ml100k(ml100k_dir) -> Dataset:
    return load(ml100k_dir)


def test_real_ml100k_counts(ml100k: Dataset) -> None:
    d = ml100k.describe()
    assert (d["ratings"], d["users"], d["items"], d["catalog_items"]) == (100_000, 943, 1682, 1682)
    assert ml100k.info["release"] == "ml-100k"
    assert (d["min_rating"], d["max_rating"]) == (1.0, 5.0)
    assert d["genres"][:3] == ["unknown", "Action", "Adventure"] and len(d["genres"]) == 19


def test_real_ml100k_first_movie_and_user(ml100k: Dataset) -> None:
    assert ml100k.movie_record(0) == {
        "movie_id": 1, "title": "Toy Story", "year": 1995, "genres": ["Animation", "Children's", "Comedy"],
    }
    u = ml100k.user_ids.index([1])[0]
    row = ml100k.user_features.iloc[u]
    assert (row["age"], row["gender"], row["occupation"]) == (24, "M", "technician")
    assert row["zip"] == "85711"


def test_real_ml100k_keeps_file_order_and_sorted_ids(ml100k: Dataset) -> None:
    x = ml100k.interactions
    # u.data starts "196 242 3 881250949"; ids are encoded in sorted raw order.
    assert ml100k.user_ids.to_raw([x.users[0]])[0] == 196
    assert ml100k.item_ids.to_raw([x.items[0]])[0] == 242
    assert (x.ratings[0], x.timestamps[0]) == (3.0, 881250949)
    assert np.array_equal(ml100k.item_ids.raw, np.arange(1, 1683))
    assert not x.users.flags.writeable


def test_real_ml100k_official_folds(ml100k: Dataset, ml100k_dir) -> None:
    train, test = official_fold(ml100k, ml100k_dir, "u1")
    assert len(train) + len(test) == 100_000 and len(test) == 20_000
    assert (train.n_users, train.n_items) == (943, 1682)
    base, test_a = official_fold(ml100k, ml100k_dir, "ua")
    assert len(test_a) == 9_430
    assert np.all(np.bincount(test_a.users, minlength=943) == 10)
    # Same id space: every test rating is a rating of the full dataset.
    full = ml100k.interactions.csr
    assert np.allclose(full[test.users, test.items].A1, test.ratings)
    with pytest.raises(NotFoundError, match="u9"):
        official_fold(ml100k, ml100k_dir, "u9")


def test_real_ml100k_implicit(ml100k_dir) -> None:
    d = load(ml100k_dir, implicit=True)
    assert np.all(d.interactions.ratings == 1.0) and d.info["implicit"]
    _, test = official_fold(d, ml100k_dir, "u2")
    assert np.all(test.ratings == 1.0)


@pytest.mark.parametrize(
    "raw, title, year",
    [
        ("Toy Story (1995)", "Toy Story", 1995),
        ("Seven (Se7en) (1995)", "Seven (Se7en)", 1995),
        ("American President, The (1995)", "American President, The", 1995),
        ("Babylon 5 (2007-)", "Babylon 5", 2007),
        ("Cosmos (1980-1981) ", "Cosmos", 1980),
        ("unknown", "unknown", 0),
        ("1776 (1972)", "1776", 1972),
        ("Movie With No Year", "Movie With No Year", 0),
    ],
)
def test_parse_titles(raw: str, title: str, year: int) -> None:
    titles, years = parse_titles([raw])
    assert (titles[0], int(years[0])) == (title, year)
    assert years.dtype == np.int32
