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
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Mapping

from cinerec.errors import ConfigError

__all__ = ["Param", "Tuned", "tune", "tune_with_bar", "carve", "objective"]


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
        if self.kind == "choice":
            if not self.choices:
                raise ValueError("a choice parameter needs choices")
        elif not self.low <= self.high or (self.log and self.low <= 0):
            raise ValueError(f"bad range [{self.low}, {self.high}] (log={self.log})")

    def suggest(self, trial: Any, name: str) -> Any:
        if self.kind == "int":
            return trial.suggest_int(name, int(self.low), int(self.high), log=self.log)
        if self.kind == "float":
            return trial.suggest_float(name, float(self.low), float(self.high), log=self.log)
        return trial.suggest_categorical(name, list(self.choices))


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
        trials: every trial's settings and figure, in order.
        seconds: the search's wall time, the final fit excluded.
    """

    model: Any
    settings: dict[str, Any]
    metric: str
    direction: str
    value: float
    default_value: float
    trials: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Everything but the model, for ``--json`` and ``run.json``."""
        return {"model": self.model.name, "settings": self.settings, "metric": self.metric,
                "direction": self.direction, "value": self.value, "default_value": self.default_value,
                "n_trials": len(self.trials), "trials": self.trials, "seconds": self.seconds}


def objective(protocol: Any) -> tuple[str, Literal["minimize", "maximize"]]:
    """The metric a search on ``protocol`` optimises, and its direction."""
    if protocol.needs_ratings:
        return "rmse", "minimize"
    return ("hr@10" if protocol.name.startswith("loo") else "recall@10"), "maximize"


def carve(protocol: Any, dataset: Any, train: Any, seed: int) -> Any:
    """The validation carve-out: ``protocol``'s own split applied to the training part.

    ``ratings-fold`` has no second official fold inside a fold, so its training part is
    carved like ``ratings-random`` (a random 10% held out, another 10% for early stopping).
    """
    from cinerec.evaluation.protocols import get_protocol

    sub = dataset.with_interactions(train)
    if protocol.name == "ratings-fold":
        protocol = get_protocol("ratings-random", test=0.1, valid=0.1)
    return protocol.prepare(sub, seed=seed)


def tune(
    name: str,
    data: Any,
    protocol: Any,
    *,
    train: Any = None,
    trials: int | None = None,
    minutes: float | None = None,
    seed: int = 0,
    base: Mapping[str, Any] | None = None,
    space: Mapping[str, Param] | None = None,
    progress: Callable[[int, float, float], None] | None = None,
) -> Tuned:
    """Search model ``name``'s settings on a carve-out of the training data; fit the best.

    Args:
        name: a registered model name.
        data: the dataset (a :class:`~cinerec.data.dataset.Dataset`).
        protocol: the protocol whose split and metric the search uses (a
            :class:`~cinerec.evaluation.protocols.Protocol`).
        train: the training interactions to tune and fit on (default: the protocol's
            training part of ``data`` for ``seed``).
        trials: the most trials to run.
        minutes: the most minutes to search (checked between trials).
        seed: seeds the carve-out, the sampler and the models.
        base: fixed settings every trial starts from (e.g. ``epochs``).
        space: the search space (default: the model's own ``search_space``).
        progress: called after each trial with ``(trial number, its figure, best so far)``.

    Returns:
        A :class:`Tuned`; its model is fitted on ``train`` with the chosen settings.

    Raises:
        ConfigError: no budget, a zero budget, an empty space, or a space key the model
            does not have.
    """
    import optuna

    from cinerec.models import MODELS, create

    if trials is None and minutes is None:
        raise ConfigError("tuning needs a budget: a number of trials and/or minutes")
    if trials is not None and (isinstance(trials, bool) or not isinstance(trials, int) or trials < 1):
        raise ConfigError(f"tuning trials must be a positive whole number, got {trials!r}")
    if minutes is not None and not (isinstance(minutes, (int, float)) and math.isfinite(minutes) and minutes > 0):
        raise ConfigError(f"tuning minutes must be a positive number, got {minutes!r}")
    if name not in MODELS:
        create(name)  # the usual one-line error for an unknown name
    cls = MODELS[name]
    space = dict(space if space is not None else cls.search_space)
    if not space:
        raise ConfigError(f"{name} declares no search space: there is nothing to tune")
    fields = cls.Config().to_dict()
    unknown = sorted(set(space) - set(fields))
    if unknown:
        raise ConfigError(f"{name}: the search space names {unknown[0]!r}, which is not one of its settings")
    fixed = dict(base or {})
    if "seed" in fields and "seed" not in fixed:
        fixed["seed"] = seed
    if train is None:
        train = protocol.prepare(data, seed=seed).train
    valid = carve(protocol, data, train, seed)
    metric, direction = objective(protocol)
    defaults = {key: fields[key] for key in space}
    history: list[dict[str, Any]] = []

    def run(trial: Any) -> float:
        settings = {key: param.suggest(trial, key) for key, param in space.items()}
        model = _with_features(create(name, {**fixed, **settings}), data)
        value = float(valid.evaluate(model, label=name).metrics[metric])
        history.append({"settings": settings, metric: value})
        return value if math.isfinite(value) else (-math.inf if direction == "maximize" else math.inf)

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize" if direction == "maximize" else "minimize",
                                sampler=optuna.samplers.TPESampler(seed=seed))
    study.enqueue_trial(_in_range(defaults, space))
    start = time.perf_counter()
    callbacks = []
    if progress is not None:
        callbacks.append(lambda s, t: progress(t.number + 1, float(t.value), float(s.best_value)))
    study.optimize(run, n_trials=trials, timeout=None if minutes is None else minutes * 60, callbacks=callbacks)
    seconds = time.perf_counter() - start
    best = {key: study.best_params[key] for key in space}
    model = _with_features(create(name, {**fixed, **best}), data).fit(train)
    return Tuned(model, best, metric, direction, float(study.best_value), float(history[0][metric]), history, seconds)


def tune_with_bar(name: str, dataset: Any, protocol: Any, *, label: str, train: Any, trials: int | None,
                  minutes: float | None, seed: int, base: Mapping[str, Any] | None = None) -> Tuned:
    """:func:`tune` with a progress bar: each trial, its figure and the best so far."""
    from cinerec.progress import bar

    with bar(trials, f"tune {label} (seed {seed})", unit="trial") as b:
        def step(number: int, value: float, best: float) -> None:
            b.update(1)
            b.set_postfix(trial=f"{value:.4f}", best=f"{best:.4f}")

        return tune(name, dataset, protocol, train=train, trials=trials, minutes=minutes, seed=seed,
                    base=base, progress=step)


def _in_range(defaults: Mapping[str, Any], space: Mapping[str, Param]) -> dict[str, Any]:
    """The defaults as a first trial, clipped into the space where a default lies outside it."""
    out = {}
    for key, value in defaults.items():
        p = space[key]
        if p.kind == "choice":
            out[key] = value if value in p.choices else p.choices[0]
        else:
            v = min(max(value, p.low), p.high)
            out[key] = int(round(v)) if p.kind == "int" else float(v)
    return out


def _with_features(model: Any, data: Any) -> Any:
    return model.set_features(data) if model.uses_features else model
