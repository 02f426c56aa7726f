"""The Python API refuses an argument of the wrong kind in one line, before any work."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from cinerec.errors import ConfigError


def test_arguments_of_the_wrong_kind_are_named(ml100k_dir):
    from cinerec.data import load
    from cinerec.data.filters import Filters, apply_filters
    from cinerec.data.logs import load_log
    from cinerec.data.split import leave_last_out
    from cinerec.evaluation.protocols import get_protocol
    from cinerec.models import create
    from cinerec.runs import open_run
    from cinerec.serving.lists import top_n
    from cinerec.tuning import tune

    ds = load(ml100k_dir)
    model = create("popularity").fit(ds.interactions)
    protocol = get_protocol("loo-full")
    cases = [
        (lambda: apply_filters(pd.DataFrame(), Filters(kcore=5)), "apply_filters: dataset: expected Dataset, got DataFrame"),
        (lambda: top_n(model, [1], dataset=pd.DataFrame()), "dataset: expected Dataset, got DataFrame"),
        (lambda: top_n(model, [1], dataset=ds.interactions), "expected Dataset (the Dataset they belong to"),
        (lambda: leave_last_out(ds), "leave_last_out: expected Interactions (its .interactions), got Dataset"),
        (lambda: protocol.prepare(ds.interactions, seed=0), "loo-full.prepare: expected Dataset"),
        (lambda: protocol.prepare(ds, seed=0).evaluate("ease"), "got the name 'ease' (cinerec.models.create('ease')"),
        (lambda: load(123), "load: source: expected str or PathLike, got int"),
        # (a notebook's frame of ratings: how to give it is said)
        (lambda: load(pd.DataFrame({"user": [1], "item": [2]})), "load: source: expected str or PathLike, got "
         "DataFrame; a frame is read from a file: save it first (frame.to_csv('ratings.csv', index=False)"),
        (lambda: load_log(pd.DataFrame()), "load_log: source: expected str or PathLike, got DataFrame; a frame is"),
        (lambda: load(ml100k_dir, catalog=pd.DataFrame()), "load: catalog: expected str or PathLike, got DataFrame; a "
         "frame is read from a file: save it first (frame.to_csv('movies.csv', index=False)"),
        (lambda: load_log(ml100k_dir / "u.data", catalog=pd.DataFrame()), "load_log: catalog: expected str or "
         "PathLike, got DataFrame; a frame is read from a file: save it first (frame.to_csv('movies.csv'"),
        (lambda: open_run(123), "open_run: path: expected str or PathLike, got int"),
        (lambda: tune(ds, "ease", protocol, trials=2), "tune: name must be a model name such as 'ease', got Dataset"),
    ]
    for call, needle in cases:
        with pytest.raises(ConfigError) as e:
            call()
        assert needle in str(e.value) and "\n" not in str(e.value)
    # filters given as a study file writes them are read as such
    assert apply_filters(ds, {"top_users": 50})[0].n_users == 50


def test_ids_taken_from_a_dataframe_are_named_as_plain_ids(ml100k_dir):
    # An id from pandas (np.int64) was named "np.int64(99999)" in the unknown-id line.
    import numpy as np

    from cinerec.data import load
    from cinerec.errors import NotFoundError
    from cinerec.models import create
    from cinerec.serving.lists import Lists, top_n

    ds = load(ml100k_dir)
    model = create("popularity").fit(ds.interactions)
    assert len(top_n(model, [np.int64(1)], dataset=ds, k=3)) == 3
    # (a dataset handed over with the model, not a run's: "the run's data" was said)
    with pytest.raises(NotFoundError, match=r"^unknown user id 99999 \(the dataset given has 943 users\)$"):
        top_n(model, [np.int64(99999)], dataset=ds)
    with pytest.raises(NotFoundError, match=r"^unknown movie id 99999 "):
        Lists(ds, model).history_frame(liked=[np.int64(99999)])
    # Several unknown ids are named at once (only the first was): the first five and how
    # many more, raw ids as given.
    with pytest.raises(NotFoundError, match=r"^unknown user ids 99999, 'u7' \(the dataset given has 943 users\)$"):
        top_n(model, [1, np.int64(99999), 2, "u7"], dataset=ds)
    with pytest.raises(NotFoundError, match=r"^unknown movie ids 0, 2000, 2001, 2002, 2003 and 2 more \(.* has "
                                            r"1,682 movies\)$"):
        Lists(ds, model).history_frame(liked=[50, 0, *range(2000, 2006)])
    with pytest.raises(NotFoundError, match=r"^unknown movie ids 'a', 'b' "):
        Lists(ds, model).history_frame(liked=[50], ratings={"a": 4, 181: 5, "b": 3})
    # (liked and rated alike, and an id given twice named once)
    with pytest.raises(NotFoundError, match=r"^unknown movie ids 99998, 99999 \("):
        Lists(ds, model).history_frame(liked=[99998, 99998], ratings={99999: 4})
    with pytest.raises(NotFoundError, match=r"^unknown user id 99999 \("):
        top_n(model, [99999, 99999], dataset=ds)


def test_misused_arrays_settings_and_splits_are_named_not_numpy_or_scipy_errors(ml100k_dir):
    # Each of these ended in numpy's, scipy's or Python's own words (or, for a 2-D log, in
    # a wrong count), or pasted a split's repr where a protocol's name goes.
    import types

    import numpy as np

    from cinerec.data import load
    from cinerec.data.dataset import Interactions
    from cinerec.errors import DataError
    from cinerec.evaluation.protocols import get_protocol
    from cinerec.models import create
    from cinerec.tuning import tune

    z = np.zeros(2)
    for make, said in [
        (lambda: Interactions([[0, 1], [1, 0]], [[0, 1], [0, 1]], [[1, 2], [3, 4]], [[0, 0], [0, 0]], 2, 2),
         "Interactions: users must be one number per rating (a flat array), got shape (2, 2)"),
        (lambda: Interactions([0, 1], [0, 1], [1, 2], z, 2.7, 2), "Interactions: n_users must be a whole number, 0 or "
                                                                   "more, got 2.7"),
        (lambda: Interactions([0, 1], [0, 1], [1, 2], z, "2", 2), "n_users must be a whole number"),
        (lambda: Interactions([], [], [], [], -1, 2), "n_users must be a whole number, 0 or more, got -1"),
        (lambda: Interactions([0, 1], [0, 1], ["a", "b"], z, 2, 2), "Interactions: ratings must be numbers"),
        (lambda: Interactions([0, 1], [0, 1], [1, 2], None, 2, 2), "Interactions: timestamps must be one number per "
                                                                   "rating (a flat array), got none"),
        (lambda: Interactions([0, 2**33], [0, 1], [1, 2], z, 2, 2), "Interactions: user index 8.58993e+09 is out of "
                                                                    "range"),
        (lambda: Interactions([True, False], [0, 1], [1, 2], z, 2, 2), "Interactions: users must be numbers, got bool"),
        (lambda: Interactions([0, 1], [0, 1], ["4", "5"], z, 2, 2), "Interactions: ratings must be numbers, got text"),
        (lambda: Interactions([0, 1], [0, 1], [4 + 1j, 5], z, 2, 2), "ratings must be numbers, got complex"),
        (lambda: Interactions([0, 1], [0, 1], [4, 5], [1e30, 0.0], 2, 2), "Interactions: timestamp 1e+30 is out of "
                                                                          "range"),
    ]:
        with pytest.raises(DataError, match=re.escape(said)):
            make()
    for n in (np.int64(2), 2.0, np.float32(2), np.array(2)):  # (whole numbers of any kind)
        assert Interactions(np.array([0, 1]), [0, 1], [1, 2], z, n, 2).n_users == 2
    ds = load(ml100k_dir)
    x = ds.interactions
    small = Interactions([0], [0], [1.0], [0], 3, 3)
    model = create("popularity").fit(x)
    for call, said in [
        (lambda: create("ease").fit(x, valid=ds), "ease.fit: valid: expected Interactions (its .interactions) or None, "
                                                  "got Dataset"),
        (lambda: create("ease").fit(x, [1, 2]), "ease.fit: valid: expected Interactions"),
        (lambda: create("ease").fit(x, valid=small), "ease.fit: valid holds 3×3 users×movies and train 943×1682"),
        (lambda: model.recommend([0, 1], k=2, candidates=[[1, 2, 3], [4, 5]]), "movie indices: expected an array of "
                                                                                "whole numbers, got rows of different"),
        (lambda: model.score([0, 1], [[1, 2], [3]]), "got rows of different lengths"),
        (lambda: model.similar_items([[1, 2]]), "similar_items: expected a flat list of movie indices, got an array "
                                                "of shape (1, 2)"),
        (lambda: create("ease").fit(x).score_history(x), "ease: a history is an (n, 1682) matrix of ratings, one row "
                                                          "per person, not Interactions (its .csr is one"),
        (lambda: tune("ease", ds, get_protocol("loo-full").prepare(ds, seed=0), trials=1),
         "tune: protocol must be a Protocol (cinerec.evaluation.get_protocol(NAME) for a name), got Prepared (a "
         "split a protocol prepared: give the protocol itself"),
    ]:
        with pytest.raises(ConfigError, match=re.escape(said)):
            call()
    # Any mapping of settings is one, as a dict is.
    assert create("ease", types.MappingProxyType({"regularization": 1.0})).config.regularization == 1.0
