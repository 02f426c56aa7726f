"""The one training loop every neural model uses.

A model (:class:`cinerec.models.neural.NeuralRecommender`) contributes its network, the
tensors of one epoch and its loss. The loop owns everything else: the device, mixed
precision, the optimiser and its schedule, shuffling and batching (slices of device
tensors, never a per-row ``__getitem__``), validation and early stopping, checkpoints
that let a killed run resume to the same result, the progress bar, the training curves
and multi-process training under ``torchrun``. Its steps are the methods of ``_Fit``:
resume, train one epoch, validate, checkpoint, finish.

Determinism: given ``seed`` and ``threads = 1`` a CPU run is bit-for-bit repeatable
(with more threads two runs on a heavily loaded machine were seen to differ in the last
digits of the loss: docs/conventions.md). The epoch ``e`` data
and permutation come from ``numpy.random.default_rng([seed, e])``, so they do not
depend on what ran before; the torch generator (weight initialisation, dropout) is
seeded inside :func:`torch.random.fork_rng`, so the caller's global state is untouched.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, cast

import numpy as np
import torch

from cinerec.config import MAX_THREADS, Config
from cinerec.processes import _Dist, distributed_context
from cinerec.data.dataset import Interactions
from cinerec.errors import ConfigError, DataError, Diverged
from cinerec.io import STALE_SECONDS, atomic_path, save_torch, sweep_stale_temps
from cinerec.ranking import rank_of

if TYPE_CHECKING:
    from cinerec.models.neural import NeuralRecommender

__all__ = [
    "TrainConfig", "resolve_device", "train_model", "validation_metric", "save_curves",
    "CHECKPOINT_BEST", "CHECKPOINT_LAST", "CURVES", "distributed_context", "fork_rng", "load_checkpoint",
    "check_ranks_agree", "data_fingerprint", "join_process_group",
]

CHECKPOINT_BEST = "checkpoint-best.pt"
CHECKPOINT_LAST = "checkpoint-last.pt"

# Fields that may differ between a killed run and the run that resumes it.
_RESUME_FREE = {"epochs", "patience", "device", "progress", "log_every", "amp", "threads"}
# What a checkpoint to resume from holds (``checkpoint-last.pt``).
_CHECKPOINT_KEYS = ("epoch", "module", "optimizer", "rng", "history", "best_metric", "best_state", "bad_epochs")


@dataclass(frozen=True)
class TrainConfig(Config):
    """What every neural model's config holds; model configs subclass it.

    Attributes:
        epochs: passes over the training data.
        batch_size: samples per optimiser step (summed over processes under torchrun).
        lr: learning rate.
        optimizer: ``adam``, ``adamw``, ``adagrad``, ``rmsprop``, ``sgd`` or ``nadam``.
        regularization: L2 penalty on the network's parameters, applied by the optimiser
            as weight decay (decoupled for ``adamw``), unless the config's class sets
            ``regularization_in_loss`` because the model's loss carries the penalty itself.
        lr_schedule: ``none``, ``cosine`` (to zero over ``epochs``) or ``step``
            (times ``lr_gamma`` every ``lr_step`` epochs).
        lr_step, lr_gamma: the ``step`` schedule.
        patience: epochs without a better validation metric before stopping; 0 never
            stops early. The best weights are restored at the end either way.
        device: ``cpu``, ``cuda``, ``cuda:1`` or ``auto`` (CUDA when available).
        amp: mixed precision (bf16 where supported, else fp16 with loss scaling); CUDA only.
        seed: the only source of randomness.
        smoke: run a single batch of a single epoch (a quick check that it all wires up).
        overfit_batches: when positive, train on this many fixed batches, unshuffled,
            every epoch (a model that cannot drive this loss near zero is broken).
        valid_negatives: sampled negatives per held-out item for validation HR@10.
        negative_distribution: how training negatives are drawn among the movies a user
            has not seen: ``uniform``, or ``popularity`` (probability proportional to
            the movie's number of training users raised to ``negative_exponent``;
            movies nobody saw in training are never drawn). Models that draw no
            negatives ignore it.
        negative_exponent: the exponent of ``popularity`` (0.75 as in word2vec; 0 is
            uniform over the movies seen in training, 1 plain popularity).
        progress: show a progress bar on stderr (only when stderr is a terminal).
        log_every: batches between progress-bar updates (each forces a device sync).
        threads: CPU threads torch may use while training (0: leave torch's setting).
            Small batches on a busy machine train many times faster with 1 thread,
            because the threads of tiny operations spend their time waiting for each other.
    """

    renamed = {"weight_decay": "regularization"}
    # True where the model's loss adds the ``regularization`` penalty itself, so the
    # optimiser must not apply it a second time as weight decay.
    regularization_in_loss: ClassVar[bool] = False

    epochs: int = 20
    batch_size: int = 1024
    lr: float = 1e-3
    optimizer: Literal["adam", "adamw", "adagrad", "rmsprop", "sgd", "nadam"] = "adam"
    regularization: float = 0.0
    lr_schedule: Literal["none", "cosine", "step"] = "none"
    lr_step: int = 10
    lr_gamma: float = 0.5
    patience: int = 3
    device: str = "auto"
    amp: bool = True
    seed: int = 0
    smoke: bool = False
    overfit_batches: int = 0
    valid_negatives: int = 99
    negative_distribution: Literal["uniform", "popularity"] = "uniform"
    negative_exponent: float = 0.75
    progress: bool = True
    log_every: int = 20
    threads: int = 0

    def validate(self) -> None:
        super().validate()
        self._check(self.epochs >= 1, "epochs", "must be at least 1")
        self._check(self.batch_size >= 1, "batch_size", "must be at least 1")
        self._check(self.lr > 0 and math.isfinite(self.lr), "lr", "must be a positive number")
        self._check(self.regularization >= 0, "regularization", "must be zero or more")
        self._check(self.lr_step >= 1, "lr_step", "must be at least 1")
        self._check(0 < self.lr_gamma <= 1, "lr_gamma", "must be in (0, 1]")
        self._check(self.patience >= 0, "patience", "must be zero or more")
        self._check(self.overfit_batches >= 0, "overfit_batches", "must be zero or more")
        self._check(self.valid_negatives >= 1, "valid_negatives", "must be at least 1")
        self._check(math.isfinite(self.negative_exponent) and self.negative_exponent >= 0, "negative_exponent",
                    "must be a finite number >= 0")
        self._check(self.log_every >= 1, "log_every", "must be at least 1")
        self._check(0 <= self.threads <= MAX_THREADS, "threads", f"must be from 0 (which leaves the setting alone) "
                    f"to {MAX_THREADS}")
        dev = self.device
        ok = dev in ("auto", "cpu", "cuda", "mps") or (dev.startswith("cuda:") and dev[5:].isascii() and dev[5:].isdigit())
        self._check(ok, "device", "expected cpu, cuda, cuda:N, mps or auto")


def check_device(model: Any) -> None:
    """Refuse, in one line, a ``device`` setting of ``model``'s that this machine lacks
    (``"cuda"`` without CUDA): said before the data load, not after it."""
    device = getattr(model.config, "device", None)
    if isinstance(device, str):
        resolve_device(device, distributed_context().local_rank)


def resolve_device(device: str, local_rank: int | None = None) -> torch.device:
    """The ``torch.device`` a device string names; ``auto`` is CUDA when available.

    Under ``torchrun`` on CUDA each process takes the GPU of its local rank.
    """
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f'device = "{device}": CUDA is not available on this machine (device = "cpu", or "auto" '
                              "to take a GPU when there is one)")
        if device == "cuda" and local_rank is not None:
            device = f"cuda:{local_rank}"
        idx = torch.device(device).index
        if idx is not None and idx >= torch.cuda.device_count():
            raise ConfigError(f'device = "{device}": this machine has {torch.cuda.device_count()} CUDA device(s), '
                              f"numbered from 0")
    if device == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f'device = "{device}": Apple\'s MPS is not available on this machine (device = "cpu" '
                              'or "auto")')
    return torch.device(device)


# -- distributed --------------------------------------------------------------------


def join_process_group(dist_ctx: _Dist, device: torch.device) -> None:
    """Join the process group ``torchrun`` set up, once per process: NCCL on CUDA (each
    process on the GPU of its local rank), gloo on CPU.

    The group stays for the life of the process (it is closed at exit): joining and
    leaving it around every fit races with the other ranks doing the same.
    """
    import atexit

    import torch.distributed as dist

    if not dist_ctx.active or dist.is_initialized():
        return
    if device.type == "cuda":
        torch.cuda.set_device(device)

    def join() -> None:
        if device.type == "cuda":  # (the current device is each thread's own: the joining thread's too)
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")

    _join_within(join, dist_ctx)
    atexit.register(_leave_process_group)


#: How long a process waits for the others of its torchrun job to join (``CINEREC_JOIN_TIMEOUT``
#: seconds): torchrun starts them together, so a process alone after this never will be joined.
JOIN_TIMEOUT_S = 600.0


def _join_within(join: Any, dist_ctx: _Dist) -> None:
    """``join()`` in a thread of its own, waited for at most ``CINEREC_JOIN_TIMEOUT``
    seconds. torch waits 30 minutes for processes that never come (a WORLD_SIZE, RANK and
    MASTER_PORT left in a shell, a port mistyped on one machine), inside a call that no
    Ctrl-C or SIGTERM reaches; waited for here, both stop the command as anywhere else,
    and the wait ends in one line."""
    import os
    import threading

    text = os.environ.get("CINEREC_JOIN_TIMEOUT", "").strip()
    try:
        limit = float(text) if text else JOIN_TIMEOUT_S
    except ValueError:
        limit = float("nan")
    if not limit > 0:  # (NaN too)
        raise ConfigError(f"CINEREC_JOIN_TIMEOUT={text!r} is not a number of seconds above 0 (inf: wait as long as "
                          "torch does)")
    done, failed = threading.Event(), []

    def run() -> None:
        try:
            join()
        except BaseException as e:  # noqa: BLE001 - raised again in the waiting thread
            failed.append(e)
        finally:
            done.set()

    threading.Thread(target=run, name="cinerec-join", daemon=True).start()
    if limit > threading.TIMEOUT_MAX:  # (longer than a wait can be told: without end)
        limit = float("inf")
    if limit == float("inf"):
        while not done.wait(60.0):  # (in steps: a wait without end overflows the clock)
            pass
    if not done.wait(limit if limit != float("inf") else 0.0):
        where = f"{os.environ.get('MASTER_ADDR', '?')}:{os.environ.get('MASTER_PORT', '?')}"
        others = dist_ctx.world - 1
        raise ConfigError(f"could not join the other {others} process{'es' if others > 1 else ''} of the torchrun job "
                          f"at {where} within {limit:g} s: start them all with torchrun (a WORLD_SIZE, RANK or "
                          "MASTER_PORT left in the shell starts one process alone), or set CINEREC_JOIN_TIMEOUT to "
                          "wait longer")
    if failed:
        raise failed[0]


def _leave_process_group() -> None:
    """Close the process group at exit, every rank together.

    A ``DistributedDataParallel`` wrapper holds the group until it is collected, and it
    sits in reference cycles: collected only at interpreter teardown, it ended the
    process in a native abort ("terminate called without an active exception", gloo's
    threads destroyed unjoined) about one start in four under load. So the cycles are
    collected first, while the interpreter is whole; then the ranks meet, so none closes
    its connections while another still uses them; then the group is destroyed.
    """
    import gc

    import torch.distributed as dist

    if not dist.is_initialized():
        return
    gc.collect()
    try:
        dist.barrier()
    except Exception:  # noqa: BLE001 - a rank that died first: close what is left anyway
        pass
    dist.destroy_process_group()


def check_ranks_agree(what: str, value: Any, describe: Any = None) -> None:
    """Raise one :class:`DataError` line when the processes under ``torchrun`` hold
    different ``value`` s (small, picklable, comparable with ``==``).

    Every rank takes part and every rank raises, so none is left waiting for the others.
    ``describe`` turns a value into words for the message (``str`` when ``None``).
    """
    import torch.distributed as dist

    values: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(values, value)
    odd = [r for r, v in enumerate(values) if v != values[0]]
    if odd:
        words = describe or str
        ranks = ", ".join(map(str, odd))
        raise DataError(f"torchrun ranks disagree on {what}: {'ranks' if len(odd) > 1 else 'rank'} {ranks} "
                        f"{'differ' if len(odd) > 1 else 'differs'} from "
                        f"rank 0 (rank 0: {words(values[0])}; rank {odd[0]}: {words(values[odd[0]])})")


def data_fingerprint(x: Interactions | None) -> tuple[int, int, int, str, str] | None:
    """``(n_users, n_items, interactions, hash, times hash)`` of ``x``: a hash of its users,
    movies and ratings in order, and one of their times (which recency weighs), so two
    processes can tell cheaply whether they hold the same data."""
    if x is None:
        return None
    import hashlib

    h = hashlib.blake2b(digest_size=8)
    for a in (x.users, x.items, x.ratings):
        h.update(np.ascontiguousarray(a).tobytes())
    t = hashlib.blake2b(np.ascontiguousarray(x.timestamps).tobytes(), digest_size=8)
    return int(x.n_users), int(x.n_items), len(x), h.hexdigest(), t.hexdigest()


def _describe_fingerprint(fp: tuple[tuple[int, int, int, str, str] | None, ...]) -> str:
    def one(part: tuple[int, int, int, str, str] | None) -> str:
        if part is None:
            return "none"
        n_users, n_items, n, digest, times = part
        return f"{n:,} interactions of {n_users:,} users x {n_items:,} movies (hash {digest}, times {times})"

    return "training " + one(fp[0]) + ", validation " + one(fp[1])


class _LossOf(torch.nn.Module):
    """A module whose ``forward`` is a model's loss on one batch.

    ``DistributedDataParallel`` averages gradients only for what runs through its own
    ``forward``; a model's :meth:`~cinerec.models.neural.NeuralRecommender._loss` may reach
    any part of its network (``net.user(...)``, ``net.matrix.rows(...)``), so the whole
    loss is what DDP wraps. ``net`` is registered as a child, so its parameters are the
    ones DDP synchronises; ``_loss`` keeps using the plain network, which holds the same
    parameter tensors.
    """

    def __init__(self, model: NeuralRecommender, net: torch.nn.Module) -> None:
        super().__init__()
        self.net = net
        self._loss = model._loss  # a bound method, not a module: not registered

    def forward(self, *batch: torch.Tensor) -> torch.Tensor:
        return self._loss(batch)


def _data_parallel(model: NeuralRecommender, net: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """``net``'s loss wrapped in ``DistributedDataParallel`` (which broadcasts rank 0's
    weights to every rank as it is built, so all start alike).

    Buffers are not re-broadcast on every step: the ones the models hold (rating ranges,
    a step counter, the training matrix) are equal on every rank by construction, and
    the training matrix can be large.
    """
    import inspect

    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else None
    # Newer torch renames the switch (and still syncs buffers once, at init, which is harmless here).
    no_sync = "forward_sync_buffers" if "forward_sync_buffers" in inspect.signature(DistributedDataParallel).parameters \
        else "broadcast_buffers"
    options: dict[str, Any] = {no_sync: False}
    return DistributedDataParallel(_LossOf(model, net), device_ids=ids, **options)


# -- random state and checkpoint files -----------------------------------------------


@contextlib.contextmanager
def fork_rng(device: torch.device, seed: int):
    """Seed torch inside a fork of its RNG state so the caller's state is left as it was."""
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def first_line(e: BaseException) -> str:
    """The first line of an exception's message (its type name when it has none)."""
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


def load_checkpoint(path: Path, device: torch.device) -> Any:
    """``torch.load`` with ``weights_only=True``: plain tensors and containers, no pickle code."""
    try:
        return torch.load(path, map_location=device, weights_only=True)
    except FileNotFoundError:
        raise DataError(f"{path}: file is missing") from None
    except Exception as e:  # truncated, tampered or not a checkpoint at all
        detail = first_line(e)
        detail = detail if len(detail) <= 100 else detail[:97] + "..."
        raise DataError(f"{path}: not a readable cinerec checkpoint ({type(e).__name__}: {detail})") from None


# -- validation ---------------------------------------------------------------------


@dataclass
class _Validator:
    """Fixed validation candidates, drawn once so every epoch is judged alike.

    Ranking: each held-out movie among ``valid_negatives`` sampled unseen movies, in a
    seeded random order, ranked by :func:`cinerec.ranking.rank_of` (ties fall at random,
    reproducibly, as in the ``loo-sampled`` protocol); HR@10. Rating: RMSE.
    """

    task: str
    users: np.ndarray
    items: np.ndarray  # (n,) for ratings; (n, 1 + negatives) candidates for ranking
    targets: np.ndarray  # (n,) stars for ratings; (n,) the held-out movie's column for ranking

    @property
    def higher_is_better(self) -> bool:
        return self.task == "ranking"

    @property
    def metric_name(self) -> str:
        return "hr@10" if self.task == "ranking" else "rmse"

    def unclipped(self, model: NeuralRecommender) -> float | None:
        """A model of stars' RMSE on its scores before they are clipped to the scale, which
        tells a tie of :meth:`__call__` apart: a model starting below the scale (mf, with no
        bias, starts near 0) has every prediction clipped to the lowest star for its first
        epochs, its figure flat while it learns, and early stopping ended it there."""
        from cinerec.evaluation import metrics as M

        if self.task != "rating" or not model.can_predict_ratings:
            return None
        return M.rmse(model.score(self.users, self.items), self.targets)

    def __call__(self, model: NeuralRecommender) -> float:
        # Imported here: cinerec.evaluation reaches the models, whose base imports this module.
        from cinerec.evaluation import metrics as M

        if self.task == "rating" and model.can_predict_ratings:  # the stars it predicts, within the scale, as a test measures them
            return M.rmse(model.predict(self.users, self.items), self.targets)
        scores = model.score(self.users, self.items)
        if self.task == "rating":  # (a liked model: its probability against the 0/1 labels)
            return M.rmse(scores, self.targets)
        return M.hit_rate_of_ranks(rank_of(scores, self.targets), 10)


def _make_validator(model: NeuralRecommender, train: Interactions, valid: Interactions | None) -> _Validator | None:
    if valid is None or len(valid) == 0:
        return None
    if model.task == "rating":
        return _Validator("rating", valid.users.astype(np.int64), valid.items.astype(np.int64),
                          np.asarray(model._validation_targets(valid), dtype=np.float64))
    from cinerec.data.sampling import sample_eval_negatives

    seen = train.seen.maximum(valid.seen).tocsr()
    users = valid.users.astype(np.int64)
    rng = np.random.default_rng([model.config.seed, 0x5EED])
    # A small catalog may leave a user fewer unseen movies than asked for: take what there is.
    room = int((train.n_items - np.diff(seen.indptr)[users]).min())
    n_neg = min(model.config.valid_negatives, room)
    if n_neg < 1:
        return None
    negs = sample_eval_negatives(seen, users, n_neg, rng=rng)
    items = np.concatenate([valid.items.astype(np.int64)[:, None], np.asarray(negs, dtype=np.int64)], axis=1)
    order = np.argsort(rng.random(items.shape), axis=1)
    items = np.take_along_axis(items, order, axis=1)
    return _Validator("ranking", users, items, np.argmin(order, axis=1))


def validation_metric(model: NeuralRecommender, train: Interactions, valid: Interactions) -> tuple[str, float]:
    """The metric early stopping uses: ``("hr@10", value)`` or ``("rmse", value)``."""
    v = _make_validator(model, train, valid)
    if v is None:
        raise DataError("validation needs at least one held-out interaction")
    return v.metric_name, v(model)


# -- the loop -----------------------------------------------------------------------


def _optimizer(cfg: TrainConfig, params: list[torch.nn.Parameter]) -> torch.optim.Optimizer:
    kinds = {
        "adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "adagrad": torch.optim.Adagrad,
        "rmsprop": torch.optim.RMSprop, "sgd": torch.optim.SGD, "nadam": torch.optim.NAdam,
    }
    kwargs: dict[str, Any] = {"lr": cfg.lr, "weight_decay": 0.0 if cfg.regularization_in_loss else cfg.regularization}
    if cfg.optimizer == "sgd":
        kwargs["momentum"] = 0.9
    return kinds[cfg.optimizer](params, **kwargs)


def _scheduler(cfg: TrainConfig, opt: torch.optim.Optimizer):
    if cfg.lr_schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs)
    if cfg.lr_schedule == "step":
        return torch.optim.lr_scheduler.StepLR(opt, step_size=cfg.lr_step, gamma=cfg.lr_gamma)
    return None


def _amp_settings(cfg: TrainConfig, device: torch.device) -> tuple[torch.dtype | None, bool]:
    """(autocast dtype or None, whether to scale the loss)."""
    if not cfg.amp or device.type != "cuda":
        return None, False
    if torch.cuda.is_bf16_supported():
        return torch.bfloat16, False
    return torch.float16, True


def _rng_state(device: torch.device) -> dict[str, torch.Tensor]:
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict[str, torch.Tensor], device: torch.device) -> None:
    torch.set_rng_state(state["cpu"].cpu())
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"].cpu(), device)


def sweep_checkpoint_temps(folder: Path, older_than: float = STALE_SECONDS) -> None:
    """Remove what a killed checkpoint's writing left in ``folder`` and each fold's folder
    in it (``.checkpoint-last.pt.*.tmp``), unwritten for ``older_than`` seconds: a resumed
    run kept them beside its checkpoints."""
    if not folder.is_dir():
        return
    for each in [folder, *(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))]:
        for name in (CHECKPOINT_LAST, CHECKPOINT_BEST, CURVES):
            sweep_stale_temps(each / name, older_than)


def _save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    with atomic_path(path) as tmp:
        save_torch(payload, tmp, shown=path)


def as_measured_by_main(*values: float | None) -> tuple[float | None, ...]:
    """``values`` as the main process (rank 0 of torchrun's) measured them, on every
    process: each decides from the same figures to stop early, keep an epoch or prune a
    trial. The weights are the same on each, but a GPU's kernels may round a figure
    otherwise on another, and a process that stopped alone left the others waiting for
    good. One process alone: ``values`` as they are."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return values
    # (NCCL's on this process's GPU, which the process group's start made current; gloo's on the CPU)
    device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else "cpu"
    t = torch.tensor([math.nan if v is None else float(v) for v in values], device=device, dtype=torch.float64)
    dist.broadcast(t, src=0)
    return tuple(None if v is None else float(x) for v, x in zip(values, t.tolist()))


def _state_copy(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def train_model(model: NeuralRecommender, train: Interactions, valid: Interactions | None = None) -> None:
    """Fit ``model.module`` on ``train``; see the module docstring for what the loop owns."""
    cfg: TrainConfig = model.config
    dctx = distributed_context()
    device = model.device
    join_process_group(dctx, device)
    threads = torch.get_num_threads()
    try:
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        with fork_rng(device, cfg.seed):
            _Fit(model, train, valid, device, dctx).run()
    finally:
        torch.set_num_threads(threads)


class _Fit:
    """One call of :func:`train_model`: its state, and the steps that move it along.

    ``run`` is the whole loop: :meth:`resume`, then per epoch :meth:`train_epoch`,
    :meth:`validate`, :meth:`epoch_ended` and :meth:`checkpoint`, then :meth:`finish`. The torch generator
    is drawn from in the same order on every run (build, then each epoch's batches),
    which is what makes a resumed run end exactly like an uninterrupted one.
    """

    def __init__(self, model: NeuralRecommender, train: Interactions, valid: Interactions | None,
                 device: torch.device, dctx: _Dist) -> None:
        self.model, self.cfg, self.train, self.device, self.dctx = model, model.config, train, device, dctx
        if dctx.active:
            # Different data on different ranks would train nonsense, or hang when their
            # early stopping disagrees: refuse it before the first step.
            check_ranks_agree("the data", (data_fingerprint(train), data_fingerprint(valid)), _describe_fingerprint)
            # The side features too (two-tower, mlp-rating): a rank reading another user file
            # or catalogue trained its share on them without a word.
            features = getattr(model, "features", None) if model.uses_features else None
            check_ranks_agree("the side features", None if features is None else features.part_fingerprints(),
                              _describe_features)
            check_ranks_agree("the model settings", (model.name, model.config.to_dict()),
                              lambda v: f"{v[0]} with {v[1]}")
            per = -(-model.config.batch_size // dctx.world)
            if per < model.min_batch_rows:  # (two-tower: no other movie in a batch of one, nothing trains)
                least = (model.min_batch_rows - 1) * dctx.world + 1
                raise ConfigError(f"{model.name}: batch_size = {model.config.batch_size} over {dctx.world} processes "
                                  f"gives each a batch of {per}, and it learns each movie against the other movies "
                                  f"of its process's batch: give batch_size = {least} or more")
        self.module = model._build(train).to(device)
        model.module = self.module
        self.params = [p for p in self.module.parameters() if p.requires_grad]
        # Under torchrun each step runs through DDP, which averages the gradients of
        # every rank's shard during backward; alone, the model's loss is called directly.
        self.loss_of = _data_parallel(model, self.module, device) if dctx.active else None
        self.opt = _optimizer(self.cfg, self.params)
        self.sched = _scheduler(self.cfg, self.opt)
        self.amp_dtype, scale = _amp_settings(self.cfg, device)
        self.scaler = torch.amp.GradScaler("cuda") if scale else None
        self.validator = _make_validator(model, train, valid)
        self.n_valid = len(valid) if valid is not None else 0
        self.ckpt_dir = Path(model.checkpoint_dir) if model.checkpoint_dir is not None else None
        self.write = self.ckpt_dir is not None and dctx.is_main
        if self.write:
            cast(Path, self.ckpt_dir).mkdir(parents=True, exist_ok=True)  # self.write implies a checkpoint folder
            sweep_checkpoint_temps(cast(Path, self.ckpt_dir))
        self.history: list[dict[str, Any]] = []
        self.best_metric: float | None = None
        self.best_unclipped: float | None = None  # (a model of stars': its best epoch's, before clipping)
        self.best_epoch: int | None = None  # (whose weights best_state holds)
        self.best_state: dict[str, torch.Tensor] | None = None
        self.bad_epochs = 0
        self.start_epoch = 0
        self.n_epochs = 1 if self.cfg.smoke else self.cfg.epochs
        self._fixed: tuple[torch.Tensor, ...] | None = None

    def run(self) -> None:
        self.resume()
        for epoch in range(self.start_epoch, self.n_epochs):
            record = self.train_epoch(epoch)
            stopped = self.validate(epoch, record)
            stopped = self.epoch_ended(epoch, record) or stopped
            self.history.append(record)
            self.model.history = list(self.history)
            self.checkpoint(epoch, stopped)
            if stopped:
                break
        self.finish()

    def resume(self) -> None:
        """Continue from ``checkpoint-last.pt`` when the model asks to and one exists."""
        path = self.ckpt_dir / CHECKPOINT_LAST if self.ckpt_dir is not None else None
        if not self.model.resume or path is None:
            return
        ck = self._read_checkpoint(path)
        if ck is None:
            return
        missing = [k for k in _CHECKPOINT_KEYS if k not in ck]
        if missing:  # (checkpoint-best.pt copied over checkpoint-last.pt holds the weights alone)
            raise DataError(f"{path}: not a checkpoint to resume from (it holds no {missing[0]!r}; "
                            f"{CHECKPOINT_LAST} is written by training itself)")
        _check_resumable(ck, self.cfg, path, self.trained(), self.n_epochs)
        try:
            self.module.load_state_dict(ck["module"])
            self.opt.load_state_dict(ck["optimizer"])
            if self.sched is not None and ck.get("scheduler") is not None:
                self.sched.load_state_dict(ck["scheduler"])
            if self.scaler is not None and ck.get("scaler") is not None:
                self.scaler.load_state_dict(ck["scaler"])
        except (RuntimeError, KeyError, ValueError, TypeError, AttributeError) as e:
            # A checkpoint without the record of its data (written by an earlier version) or
            # edited by hand: torch's error is many lines of tensor names and shapes.
            said = str(e).strip().splitlines()
            first = said[1].strip() if len(said) > 1 and said[0].startswith("Error(s) in loading") else \
                (said[0] if said else type(e).__name__)
            raise DataError(f"{path}: cannot resume, its weights do not fit this model and data ({first[:200]}); "
                            "train afresh in another folder, or resume with the data and settings it was trained "
                            "on") from None
        _set_rng_state(ck["rng"], self.device)
        self.history = list(ck["history"])
        self.best_metric = ck["best_metric"]
        self.best_unclipped = ck.get("best_unclipped")  # (none in a checkpoint of an earlier version)
        self.best_epoch = ck.get("best_epoch")
        self.best_state = ck["best_state"]
        self.bad_epochs = int(ck["bad_epochs"])
        self.start_epoch = int(ck["epoch"]) + 1
        if ck.get("stopped"):
            last = self.history[-1] if self.history else {}
            patience = self.cfg.patience
            if last.get("stopped_by") == "patience" and (patience == 0 or self.bad_epochs < patience) \
                    and self.start_epoch < self.n_epochs:
                # Stopped by a patience that is larger now (or 0, never stopping): it goes on,
                # and that epoch is no longer where it stopped.
                self.history[-1] = {k: v for k, v in last.items() if k != "stopped_by"}
            else:
                self.start_epoch = self.n_epochs  # it had stopped early and would again: nothing left to do
        saved = ck["config"] if isinstance(ck.get("config"), dict) else {}
        then = 1 if saved.get("smoke") else saved.get("epochs")  # (a smoke run trains one epoch, whatever its epochs)
        self.model.resumed_from.append((path, int(ck["epoch"]) + 1, self.start_epoch, self.n_epochs,
                                        then if isinstance(then, int) else None))

    def _read_checkpoint(self, path: Path) -> dict[str, Any] | None:
        """The checkpoint at ``path`` (``None`` when there is none).

        Under torchrun rank 0 reads it and sends it to the others, so a rank on another
        machine needs no copy of the file, and a bad file stops every rank with rank 0's error.
        """
        if not self.dctx.active:
            return load_checkpoint(path, self.device) if path.exists() else None
        import torch.distributed as dist

        box: list[Any] = [None]
        if self.dctx.is_main:
            try:
                box[0] = ("ok", load_checkpoint(path, torch.device("cpu")) if path.exists() else None)
            except DataError as e:
                box[0] = ("error", str(e))
        dist.broadcast_object_list(box, src=0, device=self.device if self.device.type == "cuda" else None)
        kind, value = box[0]
        if kind == "error":
            raise DataError(value)
        return value

    def epoch_data(self, epoch: int) -> tuple[tuple[torch.Tensor, ...], torch.Tensor | None, int]:
        """``(tensors, order, n)``: this epoch's samples, their shuffled order (``None``:
        as they are) and how many this process trains on."""
        cfg, device, dctx = self.cfg, self.device, self.dctx
        if cfg.overfit_batches:
            if self._fixed is None:
                data0 = self.model._epoch_data(self.train, np.random.default_rng([cfg.seed, 0]), device)
                self._fixed = tuple(t[: cfg.overfit_batches * cfg.batch_size] for t in data0)
            data, order = self._fixed, None
        else:
            rng = np.random.default_rng([cfg.seed, epoch])
            data = self.model._epoch_data(self.train, rng, device)
            order = torch.from_numpy(rng.permutation(len(data[0]))).to(device)
        n = len(data[0])
        if dctx.active:
            # Equal shards, so every process takes the same number of steps.
            per, least = n // dctx.world, max(1, self.model.min_batch_rows)
            if per < least:
                # (each process then took no step, or learned nothing, and the run was saved as
                # trained; every process finds this alike, before any step)
                most = n // least
                where = f"at most {most} processes" if most >= 2 else "one process (without torchrun)"
                raise ConfigError(f"{self.model.name}: {dctx.world} processes share {n:,} training "
                                  f"sample{'' if n == 1 else 's'}, {per} each, too few to train on: train with {where}")
            idx = (order if order is not None else torch.arange(n, device=device))[dctx.rank * per:(dctx.rank + 1) * per]
            order, n = idx, per
        return data, order, n

    def train_epoch(self, epoch: int) -> dict[str, Any]:
        """One pass over the epoch's batches; the epoch's record (loss, speed, lr)."""
        cfg, dctx = self.cfg, self.dctx
        t0 = time.perf_counter()
        data, order, n = self.epoch_data(epoch)
        batch = max(1, -(-cfg.batch_size // dctx.world))
        n_batches = min(1, -(-n // batch)) if cfg.smoke else -(-n // batch)
        self.module.train()
        loss_sum = torch.zeros((), device=self.device, dtype=torch.float64)
        seen_samples = 0
        bar = _progress(cfg, n_batches, epoch, self.n_epochs, dctx)
        try:
            for b in range(n_batches):
                sl = slice(b * batch, min(n, (b + 1) * batch))
                xb = tuple(t[sl] for t in data) if order is None else tuple(t.index_select(0, order[sl]) for t in data)
                loss = self.step(xb)
                rows = sl.stop - sl.start
                loss_sum += loss.detach().double() * rows
                seen_samples += rows
                if bar is not None:
                    if b % cfg.log_every == 0 or b == n_batches - 1:
                        rate = seen_samples * dctx.world / max(time.perf_counter() - t0, 1e-9)
                        bar.set_postfix(loss=f"{float(loss.detach()):.4f}", samples_s=f"{rate:,.0f}")
                    bar.update(1)
        finally:  # (a step that fails leaves no bar drawing, and no spinner held off by it)
            if bar is not None:
                bar.close()
        epoch_loss = self._mean_over_processes(float(loss_sum) / max(seen_samples, 1))
        if not math.isfinite(epoch_loss):
            raise Diverged(f"{self.model.name}: training diverged at epoch {epoch + 1} (loss {epoch_loss}); try a smaller lr")
        seconds = time.perf_counter() - t0
        lr_now = self.opt.param_groups[0]["lr"]
        if self.sched is not None:
            self.sched.step()
        return {"epoch": epoch + 1, "loss": epoch_loss, "seconds": seconds, "lr": lr_now,
                "samples_per_s": seen_samples * dctx.world / max(seconds, 1e-9)}

    def step(self, xb: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """One optimiser step on one batch; returns its loss."""
        self.opt.zero_grad(set_to_none=True)
        with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None):
            loss = self.loss_of(*xb) if self.loss_of is not None else self.model._loss(xb)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.step(self.opt)
            self.scaler.update()
        else:
            loss.backward()
            self.opt.step()
        return loss

    def _mean_over_processes(self, value: float) -> float:
        if not self.dctx.active:
            return value
        import torch.distributed as dist

        t = torch.tensor([value], device=self.device, dtype=torch.float64)
        dist.all_reduce(t)
        return float(t) / self.dctx.world

    def validate(self, epoch: int, record: dict[str, Any]) -> bool:
        """Measure the epoch, keep the best weights (and their checkpoint); True: stop early."""
        v = self.validator
        if v is None:
            return False
        metric, unclipped = as_measured_by_main(v(self.model), v.unclipped(self.model))
        metric = cast(float, metric)
        record["valid"], record["metric"] = metric, v.metric_name
        better = self.best_metric is None or (
            metric > self.best_metric if v.higher_is_better else metric < self.best_metric)
        if not better and metric == self.best_metric and unclipped is not None and self.best_unclipped is not None:
            better = unclipped < self.best_unclipped  # (the same stars, clipped: nearer the scale before clipping)
        if not better:
            self.bad_epochs += 1
            stop = self.cfg.patience > 0 and self.bad_epochs >= self.cfg.patience
            if stop:
                record["stopped_by"] = "patience"
            return stop
        self.best_metric, self.best_state, self.bad_epochs = metric, _state_copy(self.module), 0
        self.best_unclipped, self.best_epoch = unclipped, record["epoch"]
        if self.write:
            # self.write implies a checkpoint folder
            _save_checkpoint(cast(Path, self.ckpt_dir) / CHECKPOINT_BEST, {"module": self.best_state, "epoch": epoch,
                                                                         "metric": metric, "config": self.cfg.to_dict()})
        return False

    def epoch_ended(self, epoch: int, record: dict[str, Any]) -> bool:
        """Call the model's ``on_epoch`` hook, if any; True: it asks the fit to stop."""
        hook = self.model.on_epoch
        # (the fit ends after this epoch anyway: its last, or early stopping ended it)
        self.model.epoch_is_last = epoch + 1 >= self.n_epochs or record.get("stopped_by") == "patience"
        if hook is None or not hook(epoch + 1, record.get("valid")):
            return False
        record["stopped_by"] = "on_epoch"
        return True

    def checkpoint(self, epoch: int, stopped: bool) -> None:
        """Write ``checkpoint-last.pt``: everything a killed run needs to resume."""
        if not self.write:
            return
        _save_checkpoint(cast(Path, self.ckpt_dir) / CHECKPOINT_LAST, {  # self.write implies a checkpoint folder
            "module": self.module.state_dict(), "optimizer": self.opt.state_dict(),
            "scheduler": self.sched.state_dict() if self.sched is not None else None,
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "epoch": epoch, "rng": _rng_state(self.device), "history": self.history,
            "best_metric": self.best_metric, "best_unclipped": self.best_unclipped, "best_state": self.best_state,
            "best_epoch": self.best_epoch,
            "bad_epochs": self.bad_epochs,
            "stopped": stopped, "config": self.cfg.to_dict(), "trained": self.trained(),
        })

    def trained(self) -> dict[str, Any]:
        """What the checkpoint was trained on: the model, the shape of its data, a hash
        of its training ratings (:func:`data_fingerprint`) and one of its side features
        (``None`` for a model without them)."""
        if getattr(self, "_train_hash", None) is None:  # once: every checkpoint records it
            self._train_hash, self._times_hash = cast(tuple, data_fingerprint(self.train))[3:]
        features = getattr(self.model, "features", None) if self.model.uses_features else None
        return {"model": self.model.name, "users": self.train.n_users, "movies": self.train.n_items,
                "train": len(self.train), "valid": self.n_valid, "train_hash": self._train_hash,
                "times_hash": self._times_hash,
                "features": features.fingerprint() if features is not None else None,
                "feature_parts": features.part_fingerprints() if features is not None else None,
                "processes": self.dctx.world}

    def finish(self) -> None:
        """Restore the best weights, mark their epoch ``kept`` in the history, leave the
        module in eval mode, draw the curves."""
        if self.best_state is not None:
            self.module.load_state_dict(self.best_state)
        # Mark the epoch whose weights the model keeps: the one that last replaced them (a later
        # equal figure does where its stars before clipping are nearer the scale); a checkpoint
        # of an earlier version, which did not record it, marks the first to reach the best figure.
        kept = next((h for h in self.history if h.get("epoch") == self.best_epoch), None) \
            if self.best_epoch is not None else \
            next((h for h in self.history if self.best_metric is not None and h.get("valid") == self.best_metric), None)
        for h in self.history:
            h.pop("kept", None)
        if kept is not None:
            kept["kept"] = True
        self.module.eval()
        self.model.history = list(self.history)
        if self.write and self.history:
            save_curves(self.history, cast(Path, self.ckpt_dir) / CURVES, title=self.model.name)  # self.write implies a checkpoint folder


def _processes(n: int) -> str:
    return "1 process" if n == 1 else f"{n} processes"


def _check_resumable(ck: dict[str, Any], cfg: TrainConfig, path: Path, trained: dict[str, Any],
                     n_epochs: int) -> None:
    """Refuse, in one line, a checkpoint from another model, other data or other settings."""
    then = ck.get("trained")
    if then is not None:  # checkpoints written before this record skip these checks
        if then["model"] != trained["model"]:
            raise ConfigError(f"{path}: cannot resume, the model was {then['model']} and is now {trained['model']}")
        for key, what in (("users", "users"), ("movies", "movies"), ("train", "training ratings"),
                          ("valid", "validation ratings")):
            if then[key] != trained[key]:
                raise ConfigError(f"{path}: cannot resume, the data had {then[key]:,} {what} and now has "
                                  f"{trained[key]:,} (other data, filters or protocol options)")
        if then.get("train_hash", trained["train_hash"]) != trained["train_hash"]:  # (older checkpoints: none)
            raise ConfigError(f"{path}: cannot resume, the {trained['train']:,} training ratings are not the ones "
                              "it was trained on (other data, filters or protocol options)")
        if then.get("times_hash", trained["times_hash"]) != trained["times_hash"]:  # (older checkpoints: none)
            raise ConfigError(f"{path}: cannot resume, the times of the {trained['train']:,} training ratings are "
                              "not the ones it was trained with (other data: a model weighing recency learns "
                              "from them)")
        if then.get("processes", trained["processes"]) != trained["processes"]:  # (older checkpoints: no record)
            # Each process takes its share of a batch: the steps, and so the result, depend on their number.
            raise ConfigError(f"{path}: cannot resume, it was trained by {_processes(then['processes'])} and is now "
                              f"run by {_processes(trained['processes'])}; resume it with as many (torchrun "
                              "--nproc-per-node and --nnodes)")
    if int(ck["epoch"]) + 1 > n_epochs and not ck.get("stopped"):
        raise ConfigError(f"{path}: cannot resume, the checkpoint has trained {int(ck['epoch']) + 1} epochs and "
                          f"epochs is now {n_epochs}")
    now = cfg.to_dict()
    # Settings added since the checkpoint was written take their defaults.
    saved = {**type(cfg)().to_dict(), **ck.get("config", {})}
    if cfg.lr_schedule == "cosine" and saved.get("epochs") != n_epochs:  # its learning rate falls to 0 at epochs
        raise ConfigError(f"{path}: cannot resume, epochs was {saved.get('epochs')!r} and is now {n_epochs}, and "
                          "lr_schedule = 'cosine' anneals the learning rate to 0 over epochs: resume with the same "
                          "epochs, or train afresh in another folder")
    diff = sorted(k for k in set(saved) | set(now) if k not in _RESUME_FREE and saved.get(k) != now.get(k))
    if diff:
        k = diff[0]
        raise ConfigError(f"{path}: cannot resume, {k} was {saved.get(k)!r} and is now {now.get(k)!r}")
    # After the settings: one of them (features, zip_prefix) changes what is read, and is named.
    if then is not None and "features" in then and then["features"] != trained["features"]:  # (older: no record)
        raise ConfigError(f"{path}: cannot resume, {_features_changed(then, trained)}")


def _describe_features(parts: dict[str, str] | None) -> str:
    """A rank's side features (:meth:`TowerFeatures.part_fingerprints`) in words."""
    if parts is None:
        return "none"
    return f"users' demographics {parts['users'][:12]}, movies' genres and years {parts['movies'][:12]}"


def _features_changed(then: dict[str, Any], now: dict[str, Any]) -> str:
    """In words, how the side features of checkpoint record ``then`` differ from ``now``'s."""
    side = "side features (user demographics, genres, years)"
    if then["features"] is None:
        return f"it was trained on ids alone and the data now has {side} (another catalogue, user file or features setting)"
    if now["features"] is None:
        return f"it was trained with {side} and the data now has none (another catalogue, user file or features setting)"
    parts = then.get("feature_parts") or {}  # (older checkpoints: no record of each part)
    changed = [part for part in ("users", "movies") if part in parts and parts[part] != now["feature_parts"][part]]
    said = {"users": "the users' demographics (another user file, or its contents changed)",
            "movies": "the movies' genres and years (another catalogue, or its contents changed)"}
    if len(changed) == 1:
        return f"{said[changed[0]]} are not the ones it was trained with"
    return f"the {side} are not the ones it was trained with (another catalogue or user file, or their contents changed)"


def _progress(cfg: TrainConfig, total: int, epoch: int, n_epochs: int, dctx: _Dist):
    if not cfg.progress or not dctx.is_main:
        return None
    from cinerec.progress import bar

    return bar(total, f"epoch {epoch + 1}/{n_epochs}", unit="batch")  # drawn only on a terminal


# Imported last: the report module's package loads the models, and the neural models
# import this module, so by now everything they need from it must already be defined.
from cinerec.evaluation.report import CURVES, save_curves  # noqa: E402
