"""The base of every neural model: what a model contributes to the one training loop.

A model contributes its network (:meth:`NeuralRecommender._build`), the tensors of one
epoch (:meth:`NeuralRecommender._epoch_data`, already on the device, fresh negatives
each epoch, usually from :mod:`cinerec.data.sampling`) and its loss
(:meth:`NeuralRecommender._loss`). :func:`cinerec.training.train_model` owns the rest:
device, optimiser, batching, validation, early stopping and checkpoints.
"""

from __future__ import annotations

import functools
import json
from abc import abstractmethod
from pathlib import Path
from typing import Any, Callable, ClassVar, Self

import numpy as np
import torch

from cinerec.data.dataset import Interactions
from cinerec.errors import CinerecError, DataError
from cinerec.io import json_text, save_torch
from cinerec.models.base import Recommender
from cinerec.training import (
    TrainConfig, distributed_context, first_line, fork_rng, load_checkpoint, resolve_device, train_model,
)

__all__ = ["NeuralRecommender", "WEIGHTS", "HISTORY"]

WEIGHTS = "weights.pt"
HISTORY = "history.json"


def loads_without(module: torch.nn.Module, **before: float) -> None:
    """Let ``module`` load weights saved before its buffers named in ``before`` were added:
    each missing one reads as the value given, what the model did without it."""
    module._register_load_state_dict_pre_hook(_Fill(before))


class _Fill:
    """:func:`loads_without`'s hook: an object, not a function made inside it, so a fitted
    model holding it pickles (a notebook's copy, a process pool's)."""

    def __init__(self, before: dict[str, float]) -> None:
        self.before = dict(before)

    def __call__(self, state: dict[str, Any], prefix: str, *rest: Any) -> None:
        for name, value in self.before.items():
            state.setdefault(prefix + name, torch.tensor(value))


def _as_cpu_scores(fn):
    """Run a scoring hook in eval mode without gradients; return CPU ``float32`` numpy.

    Wrapping an already wrapped hook is harmless: the outer wrapper receives a NumPy
    array and hands it back unchanged.
    """

    @functools.wraps(fn)
    def wrapper(self, *args, **kwargs):
        module = self.module
        was_training = module.training if module is not None else False
        if module is not None:
            module.eval()
        try:
            with torch.no_grad():
                out = fn(self, *args, **kwargs)
        finally:
            if module is not None and was_training:
                module.train()
        if isinstance(out, torch.Tensor):
            out = out.detach().float().cpu().numpy()
        return np.asarray(out, dtype=np.float32)

    return wrapper


class NeuralRecommender(Recommender):
    """Base of every model trained by :func:`cinerec.training.train_model`.

    Subclasses set ``name``, ``Config`` (a :class:`~cinerec.training.TrainConfig`
    subclass) and ``task`` and implement :meth:`_build`, :meth:`_epoch_data`,
    :meth:`_loss` and :meth:`_score_rows`. The scoring hooks a subclass defines run in
    eval mode without gradients and may return tensors on the device. Anything the
    network needs at inference (a global mean, a rating range) belongs in module
    buffers, so the state dict carries it.

    Attributes:
        task: ``"ranking"`` (validation HR@10 against sampled negatives) or ``"rating"``
            (validation RMSE).
        module: the network, once built.
        history: one dict per epoch: ``epoch``, ``loss``, ``samples_per_s``,
            ``seconds``, ``lr`` and ``valid`` (the validation metric, if any); with
            validation, the epoch whose weights the model keeps has ``kept: true``, and
            an epoch after which early stopping ended the fit ``stopped_by: "patience"``.
        checkpoint_dir: where the loop writes checkpoints and curves; ``None`` for none.
        resume: continue from ``checkpoint_dir/checkpoint-last.pt`` when it exists.
        on_epoch: ``None``, or a function the loop calls at the end of every epoch,
            after validation, with ``(epoch, value)``: the epoch's number (from 1) and
            its validation figure (``None`` without validation data). It may look at
            the model as it stands (e.g. measure it some other way). A true return
            value stops the fit like early stopping does (the best weights are
            restored when there was validation; ``history`` marks the epoch
            ``stopped_by="on_epoch"``); an exception it raises ends the fit and
            reaches the caller of ``fit``. Under ``torchrun`` it must answer alike on
            every process. :func:`cinerec.tuning.tune` uses it to prune trials.
        epoch_is_last: while ``on_epoch`` runs, whether the fit ends after this epoch
            anyway (its last, or early stopping has ended it).
    """

    task: ClassVar[str] = "ranking"
    Config: ClassVar[type[TrainConfig]] = TrainConfig
    config: TrainConfig
    #: The fewest rows of a batch a step learns from (each process's, under torchrun):
    #: 2 for a model that learns each row against the batch's others (two-tower).
    min_batch_rows: ClassVar[int] = 1

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for hook in ("_score_rows", "_score_pairs"):
            fn = cls.__dict__.get(hook)
            if fn is not None:
                setattr(cls, hook, _as_cpu_scores(fn))

    def __init__(self, config: TrainConfig | None = None) -> None:
        super().__init__(config)
        self.module: torch.nn.Module | None = None
        self.history: list[dict[str, Any]] = []
        self.checkpoint_dir: Path | None = None
        self.resume: bool = False
        #: Each checkpoint a fit resumed from: its path, the epochs it had trained, the
        #: epoch training went on from, the epochs asked for and the epochs the checkpoint's
        #: own run was asked for (``None`` where it does not say; one per fold resumed).
        self.resumed_from: list[tuple[Path, int, int, int, int | None]] = []
        self.on_epoch: Callable[[int, float | None], bool | None] | None = None
        self.epoch_is_last = False
        self._device: torch.device | None = None

    # -- what a model contributes ------------------------------------------------------

    @abstractmethod
    def _build(self, train: Interactions) -> torch.nn.Module:
        """The network for ``train``'s id space (weights from the seeded torch generator)."""

    @abstractmethod
    def _epoch_data(self, train: Interactions, rng: np.random.Generator, device: torch.device) -> tuple[torch.Tensor, ...]:
        """One epoch's samples: tensors on ``device`` sharing their first dimension.

        Called once per epoch with ``rng = default_rng([seed, epoch])``: draw fresh
        negatives here (:func:`cinerec.data.sampling.pointwise_samples` and its kin,
        with the config's ``negative_distribution``). The loop shuffles and slices these
        tensors into batches.
        """

    @abstractmethod
    def _loss(self, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """The scalar loss of one batch (slices of the :meth:`_epoch_data` tensors)."""

    def _validation_targets(self, valid: Interactions) -> np.ndarray:
        """``(len(valid),)`` what ``score`` should come close to, for ``task="rating"``."""
        return valid.ratings

    # -- what the base provides --------------------------------------------------------

    @property
    def device(self) -> torch.device:
        """Where the module lives (resolved from ``config.device`` on first use)."""
        if self._device is None:
            self._device = resolve_device(self.config.device, distributed_context().local_rank)
        return self._device

    def fit(self, train: Interactions, valid: Interactions | None = None) -> Self:
        from cinerec.data.sampling import NO_NEGATIVE_WORDS

        self._remember(train)
        try:
            train_model(self, train, valid)
        except CinerecError as e:
            # A fit refused (features of other data, a diverged loss) leaves no model: it held
            # the new training data beside the earlier weights, and answered from them.
            self.train_, self.module = None, None
            if str(e) == NO_NEGATIVE_WORDS:  # (said deep in the sampler: the model that asked named)
                raise DataError(f"{self.name}: {e}") from None
            raise
        return self

    def _save_state(self, path: Path) -> None:
        if self.module is None:
            raise DataError(f"{self.name}: nothing to save, the model is not fitted")
        state = {k: v.detach().cpu() for k, v in self.module.state_dict().items()}
        save_torch(state, path / WEIGHTS)
        (path / HISTORY).write_text(json_text(self.history, indent=2))

    def _load_state(self, path: Path) -> None:
        with fork_rng(self.device, self.config.seed):
            module = self._build(self._train())
        state = load_checkpoint(path / WEIGHTS, self.device)
        try:
            module.load_state_dict(state)
        except (RuntimeError, KeyError) as e:
            raise DataError(f"{path / WEIGHTS}: weights do not fit a {self.name} model ({first_line(e)})") from None
        self.module = module.to(self.device).eval()
        if (path / HISTORY).exists():
            self.history = json.loads((path / HISTORY).read_text())
