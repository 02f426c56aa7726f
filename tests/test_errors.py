"""cinerec's errors survive a trip to another process (pickle, as multiprocessing and
joblib send them): the same class, the same one-line message, the same parts."""

from __future__ import annotations

import pickle

import pytest

from cinerec.errors import (ConfigError, DataError, FilterLeavesNothing, FilterRefused, NotFoundError,
                            OutOfMemory, TooFewUnseen)


@pytest.mark.parametrize("error", [
    ConfigError("--k: expected a whole number, got 'x'"),
    DataError("log.csv line 3: rating 'x' is not a number"),
    NotFoundError("user 'u9' is not in the run"),
    OutOfMemory("ease", "Unable to allocate 12 GiB"),
    FilterRefused("--min-year 2050", "leaves no ratings", "min_year", 2050),
    FilterLeavesNothing("--top-users 0", "leaves no ratings", "top_users", 0, "top_users=0"),
    TooFewUnseen("user 7 has only 3 unseen movies", 3, "n_negatives={n}", True, 10),
])
def test_an_error_pickles_whole(error):
    error.add_note("while fitting the second seed")  # (what a caller adds to it goes along too)
    error.attempt = 2
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is type(error)
    assert str(back) == str(error)
    assert vars(back) == vars(error) and back.__notes__ == ["while fitting the second seed"] and back.attempt == 2
    assert isinstance(back, MemoryError) == isinstance(error, MemoryError)
