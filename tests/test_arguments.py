"""The Python API refuses an argument of the wrong kind in one line, before any work."""

from __future__ import annotations

import pandas as pd
import pytest

from cinerec.errors import ConfigError


def test_arguments_of_the_wrong_kind_are_named(ml100k_dir):
    from cinerec.data import load
    from cinerec.data.filters import Filters, apply_filters
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
