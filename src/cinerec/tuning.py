"""Settings tuned on the data at hand: a search on a validation carve-out, never on test.

Tuning is a protocol applied twice. The protocol that splits train from test splits
the training part again, the same way (the latest rating of each person for the
leave-latest-out protocols, a random share for the others), into a fit part and a
validation part. Optuna's TPE sampler proposes settings from the model's declared
:attr:`~cinerec.models.base.Recommender.search_space`; each trial fits on the fit part
and is scored on the validation part with the protocol's own metric. The model's
default settings are always the first trial, so the chosen settings are never worse
than the defaults on validation. The winner is then fitted on the whole training part,
as an ordinary fit would be.

Given the seed and a number of trials, a search is reproducible. A time budget stops
it after the trial that runs past it.

Three things make trials cheaper without changing what they measure:

* A neural model's trial is measured after every epoch, with the same metric on the
  same carve-out as its final figure (through the model's ``on_epoch`` hook; the final
  figure is that of the epoch early stopping keeps, not always the curve's last), and
  Optuna's pruner ends a trial whose curve falls behind the earlier trials' (by
  default :class:`optuna.pruners.MedianPruner`: no pruning during the first
  ``PRUNE_STARTUP_TRIALS`` trials nor before epoch ``PRUNE_WARMUP_EPOCHS + 1``). The
  defaults' trial is never pruned. A pruned trial's figure is its last epoch's; it is
  marked ``"state": "pruned"`` in :attr:`Tuned.trials` and can never be chosen. A
  trial whose training diverges (settings the search drew, such as a learning rate at
  the top of its range) ends likewise, marked ``"diverged"``, its figure NaN; the search
  goes on (the defaults' trial diverging ends it, as a fit without a search would).
* A model that can start from another fitted one (``fit(..., init=previous)``, e.g.
  ALS with the same factor count) starts each trial from the latest earlier trial's
  model it accepts (among the last ``_KEEP_FOR_INIT``). Such a trial's figure is not
  quite what a fit from scratch gives, and the final model is fitted from scratch: when
  the chosen trial started from another, its settings are fitted again from scratch on
  the carve-out and kept only if they still beat the defaults (whose trial, the first,
  always starts from scratch) and every trial that started from scratch.
* A model with a shortcut for some of its settings (``tuning_fits``, e.g. EASE's λ from
  one eigendecomposition) is measured through it when only those settings are searched.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Collection, Iterator, Literal, Mapping, Sequence, cast

from cinerec.errors import ConfigError, DataError, Diverged, TooFewUnseen, said

__all__ = ["Param", "Tuned", "tune", "tune_with_bar", "carve", "carve_seed", "check_protocol", "objective", "PRUNE_STARTUP_TRIALS",
           "PRUNE_WARMUP_EPOCHS", "MAX_TRIALS"]

#: The most trials a search may ask for: a number past it (a typing slip, 10**20) ran with no end.
MAX_TRIALS = 100_000
#: The most minutes a search may be given (a year): minutes = 1e308 overflowed to a search
#: without end.
MAX_MINUTES = 525_600

#: Trials (the defaults' included) that run to the end before the default pruner prunes any.
PRUNE_STARTUP_TRIALS = 3
#: Epochs of every trial the default pruner lets pass before it may prune.
PRUNE_WARMUP_EPOCHS = 2
# Fitted trials kept for warm starts: enough to hold one of each factor count ALS searches.
_KEEP_FOR_INIT = 8


@dataclass(frozen=True)
class Param:
    """One dimension of a search space.

    Attributes:
        kind: ``"int"``, ``"float"`` or ``"choice"``.
        low, high: the range (inclusive) of ``int`` and ``float`` parameters.
        log: search the range on a log scale.
        choices: the values of a ``choice`` parameter.
    """

    kind: Literal["int", "float", "choice"]
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    choices: tuple[Any, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in ("int", "float", "choice"):
            raise ConfigError(f"Param: kind = {self.kind!r}: expected 'int', 'float' or 'choice'")
        if self.kind == "choice":
            if not self.choices:
                raise ConfigError("Param: a choice parameter needs choices")
        elif not all(isinstance(end, numbers.Real) and _finite(end) for end in (self.low, self.high)) \
                or not _finite(float(self.high) - float(self.low)):  # (-1e308 to 1e308: optuna's width overflows)
            raise ConfigError(f"Param: bad range [{self.low}, {self.high}]: its ends must be finite numbers, "
                              "less than 1.8e308 apart")
        elif not self.low <= self.high or (self.log and self.low <= 0):
            raise ConfigError(f"Param: bad range [{self.low}, {self.high}] (log={self.log}): low must not be above "
                              f"high{', and above 0 on a log scale' if self.log else ''}")
        elif self.kind == "int" and not (float(self.low).is_integer() and float(self.high).is_integer()):
            # (optuna cut them down: [2.2, 2.8] searched 2 alone, below its low end)
            raise ConfigError(f"Param: bad range [{self.low}, {self.high}]: a whole-number range needs whole-number ends")

    def suggest(self, trial: Any, name: str) -> Any:
        if self.kind == "int":
            return trial.suggest_int(name, int(self.low), int(self.high), log=self.log)
        if self.kind == "float":
            return trial.suggest_float(name, float(self.low), float(self.high), log=self.log)
        return trial.suggest_categorical(name, list(self.choices))


def _finite(value: Any) -> bool:
    """Whether a number is finite as a float (10**400 is not one)."""
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def _or_nan(value: Any) -> Any:
    return math.nan if value is None else value


@dataclass
class Tuned:
    """What a search found.

    Attributes:
        model: the model with the chosen settings, fitted on the whole training part.
        settings: the chosen settings (only the searched keys).
        metric: the validation metric, e.g. ``"hr@10"`` or ``"rmse"``.
        direction: ``"maximize"`` or ``"minimize"``.
        value: the chosen settings' validation figure.
        default_value: the default settings' validation figure (the first trial).
        trials: every trial, in order: ``settings``, its figure under the metric's name,
            ``state`` (``"complete"``, ``"pruned"`` or ``"diverged"``), and for models trained epoch by
            epoch ``epochs`` (how many ran) and ``curve`` (the figure after each epoch).
        seconds: the search's wall time, with what its trials share (EASE's sketch or
            eigendecomposition), the final fit excluded.
        screened: the chosen trial's figure came from an approximation (EASE's sketch
            on a large catalogue, whose trials carry ``approximate``; or a trial that
            started from an earlier one's model, ``warm_start``); ``value`` and
            ``default_value`` then come from plain fits of the chosen settings and the
            defaults on the carve-out, and the best of those and of the trials that were
            plain fits already is chosen.
        seconds_fit: the final fit's wall time (the chosen settings on the whole
            training part): what a result that uses :attr:`model` reports as its fit.
        scored: how many held-out validation figures each trial was scored on: the
            carve-out's users under a ranking protocol, its ratings under a rating one
            (0: not known, a record written before it was kept).
        held: the settings of the search space kept as given (``hold``: the command
            line's ``--set`` and ``--config``), with their values: every trial ran with them.
        stopped_by: ``"minutes"`` where the time budget ended the search before its
            trials (checked between trials: the trial under way when it is up runs to its
            end), ``"trials"`` where their number did, ``""`` where not known.
    """

    model: Any
    settings: dict[str, Any]
    metric: str
    direction: str
    value: float
    default_value: float
    trials: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    screened: bool = False
    seconds_fit: float = 0.0
    scored: int = 0
    held: dict[str, Any] = field(default_factory=dict)
    stopped_by: str = ""

    def __repr__(self) -> str:
        # (a notebook cell echoes it: the trials, one line each, stay in .trials)
        return (f"<Tuned {self.model.name}: {self.metric} {self.value:.4f} on validation (defaults "
                f"{self.default_value:.4f}), {len(self.trials)} trial{'' if len(self.trials) == 1 else 's'}, "
                f"settings {self.settings}>")

    def to_dict(self) -> dict[str, Any]:
        """Everything but the model, for ``--json`` and ``run.json``."""
        return {"model": self.model.name, "settings": self.settings, "metric": self.metric,
                "direction": self.direction, "value": self.value, "default_value": self.default_value,
                "n_trials": len(self.trials), "n_pruned": self.n_pruned, "trials": self.trials,
                "seconds": self.seconds, "screened": self.screened, "seconds_fit": self.seconds_fit,
                "n_scored": self.scored, "n_diverged": sum(t.get("state") == "diverged" for t in self.trials),
                "held": self.held, "stopped_by": self.stopped_by or None}

    @classmethod
    def from_dict(cls, record: Mapping[str, Any], model: Any) -> "Tuned":
        """A search's record as :meth:`to_dict` wrote it (a run's ``tuning``), with
        ``model``, the model trained with its settings."""
        return cls(model, dict(record["settings"]), str(record.get("metric", "")), str(record.get("direction", "")),
                   # (null: a figure that was no number, as strict JSON writes it)
                   float(_or_nan(record.get("value"))), float(_or_nan(record.get("default_value"))),
                   list(record.get("trials", [])), float(record.get("seconds", 0.0)),
                   bool(record.get("screened", False)), float(record.get("seconds_fit", 0.0)),
                   int(record.get("n_scored", 0)), dict(record.get("held") or {}),
                   str(record.get("stopped_by") or ""))

    @property
    def n_pruned(self) -> int:
        """How many trials the pruner ended early."""
        return sum(t.get("state") == "pruned" for t in self.trials)


def objective(protocol: Any, model: Any = None) -> tuple[str, Literal["minimize", "maximize"]]:
    """The metric a search on ``protocol`` optimises, and its direction (for a ``model``
    that predicts the chance of a like, AUC under a rating protocol: it predicts no stars):
    HR@10 or Recall@10, at the protocol's largest K when it measures none of 10."""
    if protocol.needs_ratings:
        if model is not None and model.can_predict_liked:
            return "auc", "maximize"
        return "rmse", "minimize"
    from cinerec.evaluation.protocols import headline

    return str(headline(protocol.name, getattr(protocol, "ks", ()))), "maximize"


#: Fewer held-out figures than this under each trial, and the line reporting the search
#: says how few: HR@10 over 100 people has a standard error of about 0.04.
FEW_SCORED = 100


def _rating_metric(metric: str) -> bool:
    """Whether a search's metric is one of a rating protocol, scored per rating (AUC: a
    model of likes under one)."""
    return metric in ("rmse", "mae", "mse", "auc")


#: Said beside a tuned line whose chosen trial came from a shortcut (``Tuned.screened``).
SCREENED_WORDS = "; trials screened by a shortcut (a warm start or a sketch), both figures from plain fits"
#: Said of a search its time budget ended (a trial under way then ran to its end).
TIMED_OUT_WORDS = "; its time budget ended it"


def search_words(stopped_by: str | None, screened: bool) -> str:
    """What the line reporting a search says after its time: that its time budget ended
    it (:attr:`Tuned.stopped_by`), and that its trials were screened (:attr:`Tuned.screened`)."""
    return (TIMED_OUT_WORDS if stopped_by == "minutes" else "") + (SCREENED_WORDS if screened else "")


def trials_text(n: int | Sequence[Mapping[str, Any]], metric: str = "", scored: int = 0) -> str:
    """``"1 trial"``, ``"30 trials"``, as the lines that report a search say it. Given the
    trials themselves and their metric, several completed trials that all scored the same
    are said to (``mf`` fitted in a few steps on a small log predicts the scale's edge
    whatever its settings): the settings kept are then the defaults on a tie, not a choice.
    ``scored``: the held-out figures under each trial, said when fewer than :data:`FEW_SCORED`."""
    if isinstance(n, int):
        return f"{n} trial{'' if n == 1 else 's'}"
    said = trials_text(len(n))
    ended = [f"{count} {state}" for state in ("pruned", "diverged")
             if (count := sum(t.get("state") == state for t in n))]  # (stopped early by their epochs' figures)
    if ended:
        said += f" ({', '.join(ended)})"
    if 0 < scored < FEW_SCORED:
        unit = "rating" if _rating_metric(metric) else "user"
        said += f", each scored on only {scored} validation {unit}{'' if scored == 1 else 's'}"
    # (a figure read back from JSON is null where it was NaN: such a trial scored nothing alike)
    done = [t.get(metric) for t in n if t.get("state") == "complete"]
    figures = {float(v) for v in done if v is not None}
    complete = len(done)
    if complete > 1 and None not in done and len(figures) == 1 and math.isfinite(next(iter(figures))):
        said += f", all {complete} that ran to the end scoring {figures.pop():.4f} (the search told no settings apart)"
    return said


def carve(protocol: Any, dataset: Any, train: Any, seed: int) -> Any:
    """The validation carve-out: ``protocol``'s own split applied to the training part.

    ``ratings-fold`` has no second official fold inside a fold, so its training part is
    carved like ``ratings-random`` (a random 10% held out), with no part for early
    stopping: its final fit has none and runs every epoch, and each trial fits alike.
    The held-out part is then kept to known ids as the protocol's is under ``known_only``.
    """
    from cinerec.evaluation.protocols import get_protocol

    sub = dataset.with_interactions(train)
    known_only = protocol.name == "ratings-fold" and bool(protocol.known_only)
    if protocol.name == "ratings-fold":
        protocol = get_protocol("ratings-random", test=0.1, valid=0.0)
    prepared = protocol.prepare(sub, seed=carve_seed(seed))
    if known_only:  # scored as the protocol scores: on ratings of ids the fit has seen
        import dataclasses

        import numpy as np

        from cinerec.evaluation.protocols import known_ratings

        test = known_ratings(prepared.train, prepared.test)
        prepared = dataclasses.replace(prepared, test=test, users=np.unique(test.users).astype(np.int64))
    return prepared


def carve_seed(seed: int) -> int:
    """The seed the carve-out is prepared with: one of its own, drawn from ``seed``. With
    ``seed`` itself, ``loo-sampled`` drew each person's validation negatives from the same
    stream as their test negatives, over nearly the same unseen movies: 99.95 % of them
    were the test's own, so the search chose settings on the movies the test ranks against."""
    import numpy as np

    return int(np.random.SeedSequence([seed, 0x0C4B7E]).generate_state(1, dtype=np.uint64)[0] >> 1)


def check_protocol(fold: Any, where: str = "tune") -> None:
    """Refuse a search under ``ratings-fold`` with ``fold="all"``: one search for five folds
    would run on the first fold's training part, which holds the other folds' test ratings."""
    if fold == "all":
        raise ConfigError(f"{where}: fold=all: each official fold's training part holds the other folds' test "
                          "ratings, so one search would see the data it is tested on; tune on one fold "
                          "(fold=u1 ... u5), or measure all five without tuning")



def _few_ratings_advice() -> str:
    """The way out where a search has too few ratings per person, in its reader's terms."""
    return said("keep people with more ratings, e.g. with --kcore, or leave out --tune",
                "keep people with more ratings, e.g. with Filters(kcore=N), or fit without a search")


def tune(
    name: str,
    data: Any,
    protocol: Any,
    *,
    train: Any = None,
    valid: Any = None,
    trials: int | None = None,
    minutes: float | None = None,
    seed: int = 0,
    base: Mapping[str, Any] | None = None,
    space: Mapping[str, Param] | None = None,
    progress: Callable[[int, float, float, str], None] | None = None,
    pruner: Any = None,
    warm_start: bool = True,
    hold: Collection[str] = (),
    fit: bool = True,
) -> Tuned:
    """Search model ``name``'s settings on a carve-out of the training data; fit the best.

    Args:
        name: a registered model name.
        data: the dataset (a :class:`~cinerec.data.dataset.Dataset`).
        protocol: the protocol whose split and metric the search uses (a
            :class:`~cinerec.evaluation.protocols.Protocol`).
        train: the training interactions to tune and fit on (default: the protocol's
            training part of ``data`` for ``seed``).
        valid: validation interactions the final fit reads, as an evaluation's fit does
            (a neural model stops early on them; the search itself never reads them).
            Default: the protocol's validation part for ``seed`` when ``train`` is not
            given either (``prepared.valid`` goes with ``prepared.train``).
        trials: the most trials to run.
        minutes: the most minutes to search (checked between trials).
        seed: seeds the carve-out, the sampler and the models.
        base: settings every trial starts from (e.g. ``epochs``); those the space
            searches are the first trial's, and the search may change them.
        space: the search space (default: the model's own ``search_space``).
        progress: called after each trial with ``(trial number, its figure, best so far,
            state)``, state ``"complete"``, ``"pruned"`` or ``"diverged"``.
        pruner: the Optuna pruner for models trained epoch by epoch (default: a
            :class:`optuna.pruners.MedianPruner` with ``PRUNE_STARTUP_TRIALS`` and
            ``PRUNE_WARMUP_EPOCHS``; :class:`optuna.pruners.NopPruner` turns pruning off).
            Other models report no epochs, so no pruner touches them.
        warm_start: start each trial of a model whose ``fit`` takes ``init`` from the
            previous trial's model, when the model accepts it (ALS: same factor count).
        hold: settings of ``base`` kept as they are: taken out of the search space
            (the command line's ``--set`` and ``--config`` settings).
        fit: fit the chosen settings on ``train``; ``False`` leaves the model unfitted
            (and ``seconds_fit`` 0) for a caller that trains it its own way (``cinerec
            train``: with checkpoints to resume from).

    Returns:
        A :class:`Tuned`; its model is fitted on ``train`` (with ``valid``) with the chosen
        settings, unless ``fit`` is false.

    Raises:
        ConfigError: no budget, a zero budget, an empty space (or one ``hold`` empties),
            or a space key the model does not have.
    """
    import optuna

    from cinerec.evaluation.protocols import check_learnable
    from cinerec.models import create
    from cinerec.models.base import model_class, with_features
    from cinerec.models.neural import NeuralRecommender

    if trials is None and minutes is None:
        raise ConfigError("tuning needs a budget: a number of trials and/or minutes")
    from cinerec.config import MAX_SEED

    whole = not isinstance(seed, bool) and hasattr(seed, "__index__")  # (NumPy's integers too)
    if not whole or not 0 <= int(seed) <= MAX_SEED:
        # (checked here too: a search given its training part splits nothing with the seed,
        # and seed 2**64 drew seed 0's trials)
        raise ConfigError(f"tune: seed must be a whole number from 0 to 2**63 - 1, got {seed!r}")
    if trials is not None and (isinstance(trials, bool) or not isinstance(trials, numbers.Integral) or trials < 1):
        raise ConfigError(f"tuning trials must be a positive whole number, got {trials!r}")
    if trials is not None and trials > MAX_TRIALS:
        raise ConfigError(f"tuning trials must be at most {MAX_TRIALS:,}, got {trials!r} (minutes= bounds a search by "
                          "time)")
    if minutes is not None and (isinstance(minutes, bool) or not isinstance(minutes, numbers.Real)):
        raise ConfigError(f"tuning minutes must be a number, got {type(minutes).__name__} {minutes!r}")
    if minutes is not None and not (math.isfinite(minutes) and 0 < minutes <= MAX_MINUTES):
        raise ConfigError(f"tuning minutes must be a number above 0 and at most {MAX_MINUTES:,} (a year), "
                          f"got {minutes!r}")
    trials = None if trials is None else int(trials)
    _check_arguments(data, protocol, train, base, space, progress, name, valid)
    if not isinstance(warm_start, bool):  # ("no" was taken as true)
        raise ConfigError(f"tune: warm_start must be true or false, got {warm_start!r}")
    if pruner is not None and not callable(getattr(pruner, "prune", None)):  # (it failed after the first trial)
        raise ConfigError(f"tune: pruner must be an Optuna pruner (optuna.pruners.MedianPruner(), ...), "
                          f"got {type(pruner).__name__}")
    check_protocol(getattr(protocol, "fold", None))
    cls = model_class(name)
    own_space = space is None
    space = dict(space if space is not None else cls.search_space)
    if not space:
        raise ConfigError(f"{name} declares no search space: there is nothing to tune" if not cls.search_space
                          else "tune: space={} searches no setting: give at least one, or leave space out for "
                               f"{name}'s own ({', '.join(cls.search_space)})")
    if isinstance(hold, str):  # one key, not its letters
        hold = [hold]
    fields = cls.Config().to_dict()
    # (a misspelt name held nothing, and the setting meant to stay fixed was searched)
    if unheld := sorted(str(key) for key in hold if key not in fields):
        raise ConfigError(f"tune: hold names {unheld[0]!r}, which is not one of {name}'s settings")
    held = sorted(set(hold) & set(space))
    space = {key: param for key, param in space.items() if key not in held}
    if not space:
        raise ConfigError(f"{name}: every setting it searches is held ({', '.join(held)}): there is nothing "
                          "left to tune")
    unknown = sorted(set(space) - set(fields))
    if unknown:
        raise ConfigError(f"{name}: the search space names {unknown[0]!r}, which is not one of its settings")
    # The settings the model gets under this protocol, as on the command line: mf trains
    # for ranking under a ranking protocol, EASE drops its recency weighting under a
    # random hold-out... (Protocol.settings_for), for every key ``base`` leaves unset.
    fixed = protocol.settings_for(cls, dict(base or {}), "base")
    if "seed" in fields and "seed" not in fixed:
        fixed["seed"] = seed
    create(name, fixed, where="base")  # a bad or unknown setting in base: one line now, before the split
    holdout = valid  # (the name valid is the search's carve-out below)
    if train is None:
        prepared = protocol.prepare(data, seed=seed)
        train = prepared.train
        holdout = prepared.valid if holdout is None else holdout
    try:
        valid = carve(protocol, data, train, seed)
    except TooFewUnseen:
        raise  # (it names the way out: fewer negatives or more movies)
    except DataError as e:  # split again, the training part is too small: say it is the search's own split
        raise DataError(f"tuning needs a validation carve-out of the training part ({len(train):,} ratings), "
                        f"split again as the protocol splits the data, and it cannot be made: {e} (counted in the "
                        "training part, which lacks the protocol's test ratings: a search needs more ratings per "
                        f"person than the protocol alone; {_few_ratings_advice()})") from None
    if own_space and valid.train.untimed and "recency_half_life" in space:
        # Data without times: the weighting weighs nothing, and any value the search "chose" is noise.
        space = {key: param for key, param in space.items() if key != "recency_half_life"}
        if not space:
            raise ConfigError(f"{name}: the one setting left to search is recency_half_life, which weighs nothing "
                              "on data without times: there is nothing to tune")
    first = create(name, fixed)
    metric, direction = objective(protocol, first)
    check_learnable(first, valid.train, name)
    # The first trial: the settings the model would otherwise be fitted with (``base``
    # over the class defaults, so a protocol's own defaults too: ``Protocol.settings_for``).
    defaults = {key: fixed.get(key, fields[key]) for key in space}
    history: list[dict[str, Any]] = []
    # The search's time counts from here: the shared computation below (EASE's sketch or
    # eigendecomposition) is part of what the search costs.
    start = time.perf_counter()
    # A shortcut that measures every trial from one shared computation (EASE's λ).
    fits = cls.tuning_fits(valid.train, fixed, set(space))
    # Recent trials' models a later trial may start from (models whose fit takes ``init``).
    previous: list[Any] = []

    def measure(model: Any) -> float:
        return float(valid.protocol.measure(valid, model)[metric])

    def run(trial: Any) -> float:
        settings = {key: param.suggest(trial, key) for key, param in space.items()}
        if trial.number == 0:  # the defaults exactly, even where the space clips them (a half-life of 0: off)
            settings = dict(defaults)
        record: dict[str, Any] = {"settings": settings}
        history.append(record)
        if fits is not None:
            model = fits({**fixed, **settings})
        else:
            model = with_features(create(name, {**fixed, **settings}), data)
        valid.protocol.check(model)  # a model the protocol cannot measure fails before it trains
        if isinstance(model, NeuralRecommender):
            record["curve"] = []
            model.on_epoch = _pruning_hook(trial, model, measure, record, metric, optuna)
        if not model.is_fitted:
            # The latest earlier trial the model can start from (ALS: the same factor count).
            starts = warm_start and model.can_warm_start
            init = next((m for m in reversed(previous) if model.accepts_init(m)), None) if starts else None
            try:
                if init is not None:
                    model.fit(valid.train, valid.valid, init=init)  # type: ignore[call-arg]  # can_warm_start
                    record["warm_start"], record["epochs"] = True, len(model.history)
                else:
                    model.fit(valid.train, valid.valid)
            except Diverged as e:
                if trial.number == 0:
                    raise  # the settings asked for diverge: said as without --tune
                # Settings the search drew (a learning rate at the top of its range) that
                # diverge are a dead end, not the end of the search, whose "try a smaller lr"
                # pointed at a setting nobody gave: the trial ends as a pruned one does.
                # (its epochs: those measured, and the one that diverged)
                record.update({metric: math.nan, "state": "diverged", "epochs": len(record.get("curve", [])) + 1})
                raise optuna.TrialPruned(str(e)) from None
        if getattr(model, "approximate", False):
            record["approximate"] = True
        value = float(valid.evaluate(model, fit=False, label=name).metrics[metric])
        if trial.number == 0 and math.isnan(value):
            # Not a number for the defaults: the carve-out cannot measure it (AUC on ratings
            # all liked, or all not), for any settings; a search would pick among nothing.
            scored = f"{len(valid.test):,} rating{'' if len(valid.test) == 1 else 's'}" \
                if valid.protocol.needs_ratings else f"{len(valid.users):,} people"
            raise DataError(f"tuning cannot score its trials: {name}'s validation {metric} on the search's carve-out "
                            f"of the training part ({scored}) is not a number: they are too few, or all of one kind, "
                            f"to measure it; {_few_ratings_advice()}")
        if isinstance(model, NeuralRecommender):
            model.on_epoch = None
            record["epochs"] = len(record["curve"])
        record.update({metric: value, "state": "complete"})
        if warm_start and model.can_warm_start:
            previous[:] = [*previous[-(_KEEP_FOR_INIT - 1):], model]  # the few latest, for models that start from them
        return value if math.isfinite(value) else (-math.inf if direction == "maximize" else math.inf)

    # A trial that raises (an error, Ctrl-C) ends the search with that exception, which the
    # command line reports in one line; Optuna's own warning would repeat it as a traceback.
    # (Optuna's level is the caller's again afterwards: a notebook's other studies keep theirs.)
    with _optuna_quiet(optuna):
        if pruner is None:
            # Steps are epochs counted from 1; the pruner waits while step < n_warmup_steps.
            pruner = optuna.pruners.MedianPruner(n_startup_trials=PRUNE_STARTUP_TRIALS,
                                                 n_warmup_steps=PRUNE_WARMUP_EPOCHS + 1)
        # (Optuna's sampler takes seeds below 2**32 only; the command line takes any up to 2**63 - 1.)
        study = optuna.create_study(direction="maximize" if direction == "maximize" else "minimize",
                                    sampler=optuna.samplers.TPESampler(seed=seed % 2**32), pruner=pruner)
        study.enqueue_trial(_in_range(defaults, space))
        callbacks = []
        if progress is not None:
            def report(s: Any, t: Any) -> None:
                state = "pruned" if t.state == optuna.trial.TrialState.PRUNED else "complete"
                state = history[t.number].get("state", state) if state == "pruned" else state  # (or "diverged")
                value = float(t.value) if t.value is not None else math.nan
                progress(t.number + 1, value, float(s.best_value), state)

            callbacks.append(report)
        # The defaults' trial always runs, however small the time budget: it is the figure
        # every other trial is compared with. The rest of the budget goes to the search.
        study.optimize(run, n_trials=1, callbacks=callbacks)
        left = None if minutes is None else minutes * 60 - (time.perf_counter() - start)
        if (trials is None or trials > 1) and (left is None or left > 0):
            study.optimize(run, n_trials=None if trials is None else trials - 1, timeout=left, callbacks=callbacks)
    best = dict(defaults) if study.best_trial.number == 0 else {key: study.best_params[key] for key in space}
    value, default_value = float(study.best_value), float(history[0][metric])
    screened = any(r.get("approximate") for r in history) or bool(history[study.best_trial.number].get("warm_start"))
    if screened:
        # The trials were scored through an approximation (EASE's sketch), or the chosen
        # one started from an earlier trial's model while the final fit starts from
        # scratch: the chosen settings and the defaults are fitted the ordinary way and
        # the better kept, so the figures reported are a plain fit's and never below the
        # defaults'. (The defaults' trial, the first, starts from scratch.)
        def plain(settings: Mapping[str, Any]) -> float:
            # Through the shared computation when there is one: its model fits the ordinary
            # way and may start from what it already holds (EASE's sketch: XᵀX).
            model = fits({**fixed, **settings}) if fits is not None else \
                with_features(create(name, {**fixed, **settings}), data)
            model.fit(valid.train, valid.valid)
            return float(valid.evaluate(model, fit=False, label=name).metrics[metric])

        first = history[0]["settings"]
        value = plain(best)
        if best == first:
            default_value = value
        elif not history[0].get("approximate"):
            default_value = float(history[0][metric])
        else:
            default_value = plain(first)
        # The chosen settings' plain figure against those known to be a plain fit's: the
        # defaults', and any trial's that started from scratch and was scored exactly. The
        # best of those wins a tie (the earliest, the defaults first): a warm-started
        # trial that led on its head start does not displace one that measured better.
        known = [(default_value, dict(first))] + [
            (float(r[metric]), r["settings"]) for r in history[1:]
            if r.get("state") == "complete" and not r.get("warm_start") and not r.get("approximate")
            and math.isfinite(r[metric])]
        sign = 1.0 if direction == "maximize" else -1.0
        top = max(known, key=lambda pair: sign * pair[0])  # (the earliest among equals)
        if sign * top[0] >= sign * value:
            value, best = top[0], dict(top[1])
    seconds = time.perf_counter() - start
    fits = None  # what the trials shared (EASE's sketch and its XᵀX) is freed before the final fit
    model: Any = with_features(create(name, {**fixed, **best}), data)
    if fit:
        model.fit(train, holdout)
    model.searched_ = True  # (its notes then send no one to a search: this one ran)
    # What each trial's figure stands on: the carve-out's people (ranking) or ratings.
    scored = len(valid.test) if valid.protocol.needs_ratings else len(valid.users)
    stopped_by = "minutes" if minutes is not None and (trials is None or len(history) < trials) else "trials"
    return Tuned(model, best, metric, direction, value, default_value, history, seconds, screened,
                 time.perf_counter() - start - seconds if fit else 0.0, scored,
                 {key: fixed.get(key, fields[key]) for key in held}, stopped_by)


@contextlib.contextmanager
def _optuna_quiet(optuna: Any) -> Iterator[None]:
    """Optuna's log at ERROR for the length of the block, then as it was."""
    was = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(was)


def _pruning_hook(trial: Any, model: Any, measure: Callable[[Any], float], record: dict[str, Any],
                  metric: str, optuna: Any) -> Callable[[int, float | None], bool]:
    """The ``on_epoch`` hook of one neural trial: measure the model as it stands with the
    search's own metric on the carve-out, report it, and prune when the pruner says so.

    The training loop's own validation figure is not what is reported: the loop measures
    HR@10 against its own sampled negatives (or RMSE) on the early-stopping part, which
    the leave-latest-out carve-outs do not even have; the search scores trials with the
    protocol's metric on the carve-out's held-out part, so each epoch is measured that way.
    """

    from cinerec.training import as_measured_by_main

    def hook(epoch: int, _loop_value: float | None) -> bool:
        # An approximate-neighbour index built now would be kept and answer for later
        # weights: measure through a copy that shares the weights, not the index.
        index = getattr(model.config, "index", "exact")
        value = measure(model if index == "exact" else model.with_index(index))
        # (under torchrun, every process prunes, and the sampler learns, from rank 0's figure)
        value = cast(float, as_measured_by_main(value)[0])
        record["curve"].append(value)
        trial.report(value, epoch)
        # The defaults' trial always completes: it is the figure the search must not fall below.
        # A trial at its last epoch (or one early stopping ends) has done all its work: it
        # completes, whatever its figure.
        if trial.number > 0 and not model.epoch_is_last and trial.should_prune():
            record.update({metric: value, "state": "pruned", "epochs": epoch})
            raise optuna.TrialPruned(f"pruned after epoch {epoch}")
        return False

    return hook


def tune_with_bar(name: str, dataset: Any, protocol: Any, *, label: str, train: Any, trials: int | None,
                  minutes: float | None, seed: int, base: Mapping[str, Any] | None = None,
                  hold: Collection[str] = (), valid: Any = None, fit: bool = True) -> Tuned:
    """:func:`tune` with a progress bar: each trial, its figure and the best so far; a
    pruned trial shows as ``pruned`` with its last epoch's figure."""
    from cinerec.progress import bar

    pruned = diverged = 0
    with bar(trials, f"tune {label} (seed {seed})", unit="trial") as b:
        def step(number: int, value: float, best: float, state: str) -> None:
            nonlocal pruned, diverged
            b.update(1)
            pruned += state == "pruned"
            diverged += state == "diverged"
            shown = {"pruned": f"pruned ({value:.4f})", "diverged": "diverged"}.get(state, f"{value:.4f}")
            b.set_postfix(trial=shown, best=f"{best:.4f}", pruned=pruned, **({"diverged": diverged} if diverged else {}))

        return tune(name, dataset, protocol, train=train, valid=valid, trials=trials, minutes=minutes,
                    seed=seed, base=base, progress=step, hold=hold, fit=fit)


def _check_arguments(data: Any, protocol: Any, train: Any, base: Any, space: Any, progress: Any,
                     name: Any = "", valid: Any = None) -> None:
    """One line for an argument of :func:`tune` of the wrong kind, before any work."""
    from cinerec.data.dataset import Dataset, Interactions
    from cinerec.evaluation.protocols import Protocol

    if not isinstance(name, str):
        raise ConfigError(f"tune: name must be a model name such as 'ease', got {type(name).__name__} "
                          "(the arguments are name, data, protocol)")

    if not isinstance(data, Dataset):
        # (a ratings log as a table or a file: the way to the Dataset it reads as)
        hint = " (pass the dataset as data and these as train=)" if isinstance(data, Interactions) else \
            " (write the frame to a file, frame.to_parquet('log.parquet'), and read it with " \
            "cinerec.data.load('log.parquet'))" if type(data).__name__ == "DataFrame" else \
            f" (read it with cinerec.data.load({str(data)!r}))" if isinstance(data, (str, os.PathLike)) else ""
        raise ConfigError(f"tune: data must be a Dataset, got {type(data).__name__}{hint}")
    if not isinstance(protocol, Protocol):
        named = repr(protocol) if isinstance(protocol, str) else "NAME"
        split = " (a split a protocol prepared: give the protocol itself, whose carve-out of the training part tune " \
            "prepares)" if type(protocol).__name__ == "Prepared" else ""
        raise ConfigError(f"tune: protocol must be a Protocol (cinerec.evaluation.get_protocol({named}) for a name), "
                          f"got {type(protocol).__name__}{split}")
    if train is not None and not isinstance(train, Interactions):
        raise ConfigError(f"tune: train must be Interactions, got {type(train).__name__}")
    if train is not None and (train.n_users, train.n_items) != (data.n_users, data.n_items):
        raise ConfigError(f"tune: train is {train.n_users}×{train.n_items} users×movies, data "
                          f"{data.n_users}×{data.n_items}: train must be a part of data (prepared.train)")
    if valid is not None and not isinstance(valid, Interactions):
        raise ConfigError(f"tune: valid must be Interactions, got {type(valid).__name__}")
    if valid is not None and (valid.n_users, valid.n_items) != (data.n_users, data.n_items):
        raise ConfigError(f"tune: valid is {valid.n_users}×{valid.n_items} users×movies, data "
                          f"{data.n_users}×{data.n_items}: valid must be a part of data (prepared.valid)")
    if base is not None and not isinstance(base, Mapping):
        raise ConfigError(f"tune: base must map setting names to values, got {type(base).__name__}")
    if space is not None and not (isinstance(space, Mapping) and all(isinstance(p, Param) for p in space.values())):
        raise ConfigError("tune: space must map setting names to cinerec.tuning.Param ranges")
    if progress is not None and not callable(progress):
        raise ConfigError(f"tune: progress must be a function, got {type(progress).__name__}")


def _in_range(defaults: Mapping[str, Any], space: Mapping[str, Param]) -> dict[str, Any]:
    """The defaults clipped into the space where a default lies outside it: what the
    sampler records for the first trial, which itself runs the defaults exactly."""
    out = {}
    for key, value in defaults.items():
        p = space[key]
        if p.kind == "choice":
            out[key] = value if value in p.choices else p.choices[0]
        else:
            v = min(max(value, p.low), p.high)
            out[key] = int(round(v)) if p.kind == "int" else float(v)
    return out

