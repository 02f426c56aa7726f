"""``cinerec evaluate``: one model, one named protocol, the figures with the protocol beside them.

    cinerec evaluate --data ml-100k --model ease --protocol loo-sampled
    cinerec evaluate --data ./ml-100k --model baseline --protocol ratings-fold --protocol-option fold=all
    cinerec evaluate --data ml-100k --model itemknn --protocol random-full --set neighbors=50 --json
    cinerec evaluate --data ml-25m --min-year 2010 --kcore 5 --model ease
    cinerec evaluate --data my-log.csv --model als --protocol loo-full
"""

import dataclasses
import typing
from typing import Any, Collection

from cinerec.commands import flags

__all__ = ["evaluate"]


@flags.with_filters
def evaluate(
    data: flags.Data,
    model: flags.Model,
    protocol: flags.Protocol = None,
    protocol_option: flags.ProtocolOption = None,
    config: flags.ConfigFile = None,
    set_: flags.Set = None,
    seed: flags.Seed = 0,
    columns: flags.Columns = None,
    catalog: flags.CatalogFile = None,
    rating_scale: flags.RatingScale = None,
    filters: typing.Any = None,  # the filter flags (flags.with_filters)
    tune: flags.Tune = None,
    json: flags.Json = False,
    quiet: flags.Quiet = False,
) -> None:
    """Fit a model and measure it under a named protocol.

    Prints the figures with the protocol beside them; nothing is saved. Under a ranking
    protocol popularity is measured on the same split too, and a model below it is said to be.
    --tune searches the settings first, on a validation carve-out of the training part.
    """
    from cinerec import progress
    from cinerec.commands.show import print_json, print_leaderboard, say
    from cinerec.data.dataset import dataset_sizes, reading_notes, synthetic_notes, synthetic_words
    from cinerec.evaluation.protocols import below_mean, figure_notes
    from cinerec.models.base import with_features

    # Every name and value is checked before the (slow) data load.
    recommender = flags.make_model(model, config, set_, seed, protocol=protocol, filters=filters)
    protocol_name, options = flags.make_protocol(protocol, protocol_option, recommender, filters)
    source = flags.data_source(data, columns, catalog, rating_scale=rating_scale)
    held = flags.given_settings(model, config, set_)
    flags.check_tune(tune, recommender, held, options)

    from cinerec.training import distributed_context

    main = distributed_context().is_main  # under torchrun every rank measures; rank 0 speaks
    quiet = quiet or not main
    with progress.silenced(quiet):
        dataset, record = flags.load_data(source, filters)  # a bar only while downloading, on a terminal
        prepared_protocol = flags.protocol_for(protocol_name, options, dataset, data,
                                               default_for=None if protocol else recommender)
        flags.say_filters(record, quiet)
        say(f"data: {data}{synthetic_words(dataset)}: "
            f"{dataset_sizes(dataset)}; {prepared_protocol.describe(dataset)}", quiet)
        prepared = prepared_protocol.prepare(dataset, seed=seed)
        tuned = None
        if tune is not None:
            # Said on stderr while a --json answer is made; otherwise printed with the table.
            tuned = _tune(recommender, dataset, prepared, tune, seed, quiet or not json, held)
            recommender = tuned.model  # fitted on the training part (and its validation part) already
        if tuned is None:  # side features (two-tower; mlp-rating with features) come from the data
            recommender = with_features(recommender, dataset)
        result = prepared.evaluate(recommender)
        if tuned is not None:  # fitted by the search: its fit's time
            result = dataclasses.replace(result, seconds_fit=tuned.seconds_fit)
        notes, floor = flags.popularity_floor(prepared, result)
    if not main:
        return
    # What the figures measure, and a rating model below the training mean's RMSE
    said = figure_notes(prepared, recommender) + below_mean(prepared, result) + synthetic_notes(dataset)
    said += flags.unused_patience(recommender, prepared, held) if tuned is None else []
    if json:
        extra = flags.popularity_fields(prepared, result, floor, notes)
        extra["notes"] = reading_notes(dataset) + said  # (how the log was read: said on stderr as it was read)
        print_json({"data": data, "synthetic": bool(dataset.info.get("synthetic")), **result.to_dict(), **extra,
                    "dataset": record,
                    "config": recommender.config.to_dict(),  # the settings it ran with (mf's ranking loss...)
                    "tuning": tuned.to_dict() if tuned else None})
    else:
        print_leaderboard([result])
        if tuned is not None:  # a result, not chatter: --quiet keeps it
            print(tuned_line(tuned, held))
        for line in notes + said:
            print(f"note: {line}")


def _tune(model: Any, dataset: Any, prepared: Any, trials: int, seed: int, quiet: bool, held: list[str],
          fit: bool = True) -> Any:
    """``--tune``: search ``model``'s settings on the protocol's carve-out of the training part,
    those ``held`` (given by ``--set`` and ``--config``) kept as they are; ``fit``: the
    chosen settings fitted on the training part too (see :func:`cinerec.tuning.tune`)."""
    from cinerec.commands.show import say
    from cinerec.tuning import tune_with_bar

    tuned = tune_with_bar(model.name, dataset, prepared.protocol, label=model.name, train=prepared.train,
                          valid=prepared.valid, trials=trials, minutes=None, seed=seed,
                          base=model.config.to_dict(), hold=held, fit=fit)
    say(tuned_line(tuned, held), quiet)
    return tuned


def tuned_line(tuned: Any, held: Collection[str] = ()) -> str:
    """The search's outcome in one line: the chosen settings and both validation figures,
    and the searched settings ``held`` (given by ``--set`` or ``--config``) kept as given,
    which the first trial, "defaults", ran with too."""
    from cinerec.config import settings_words, shown
    from cinerec.models import MODELS
    from cinerec.tuning import search_words, trials_text

    model = tuned.model
    kept = [k for k in MODELS[model.name].search_space if k in held] if model.name in MODELS else []
    given = ", ".join(f"{k} = {shown(getattr(model.config, k))}" for k in kept)
    given = f"{given} kept as given; " if kept else ""
    screened = search_words(tuned.stopped_by, tuned.screened)
    return (f"tuned {model.name}: {settings_words(tuned.settings)} ({given}validation {tuned.metric} {tuned.value:.4f}; defaults"
            f"{' with ' + ('it' if len(kept) == 1 else 'them') if kept else ''} {tuned.default_value:.4f}; "
            f"{trials_text(tuned.trials, tuned.metric, tuned.scored)}, {tuned.seconds:.1f} s{screened})")


def _with(model: Any, settings: dict[str, Any]) -> Any:
    """A new, unfitted ``model`` with ``settings`` changed."""
    from cinerec.models import create

    return create(model.name, {**model.config.to_dict(), **settings})
