"""The one training loop every neural model uses.

A model contributes its network (:meth:`NeuralRecommender._build`), the tensors of one
epoch (:meth:`NeuralRecommender._epoch_data`, already on the device, fresh negatives
each epoch) and its loss (:meth:`NeuralRecommender._loss`). The loop owns everything
else: the device, mixed precision, the optimiser and its schedule, shuffling and
batching (slices of device tensors, never a per-row ``__getitem__``), validation and
early stopping, checkpoints that let a killed run resume to the same result, the
progress bar, the training curves and multi-process training under ``torchrun``.

Determinism: given ``seed`` a CPU run is bit-for-bit repeatable. The epoch ``e`` data
and permutation come from ``numpy.random.default_rng([seed, e])``, so they do not
depend on what ran before; the torch generator (weight initialisation, dropout) is
seeded inside :func:`torch.random.fork_rng`, so the caller's global state is untouched.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import sys
import time
import weakref
from abc import abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import torch

from cinerec.config import Config
from cinerec.data.dataset import Interactions
from cinerec.errors import ConfigError, DataError
from cinerec.io import atomic_path
from cinerec.models.base import Recommender

__all__ = [
    "TrainConfig", "NeuralRecommender", "resolve_device", "train_model", "validation_metric", "save_curves",
    "CHECKPOINT_BEST", "CHECKPOINT_LAST", "CURVES", "distributed_context",
    "positive_pairs", "pointwise_samples", "pairwise_samples",
]

CHECKPOINT_BEST = "checkpoint-best.pt"
CHECKPOINT_LAST = "checkpoint-last.pt"
CURVES = "curves.png"
WEIGHTS = "weights.pt"
HISTORY = "history.json"

# Fields that may differ between a killed run and the run that resumes it.
_RESUME_FREE = {"epochs", "patience", "device", "progress", "log_every", "amp", "threads"}


@dataclass(frozen=True)
class TrainConfig(Config):
    """What every neural model's config holds; model configs subclass it.

    Attributes:
        epochs: passes over the training data.
        batch_size: samples per optimiser step (summed over processes under torchrun).
        lr: learning rate.
        optimizer: ``adam``, ``adamw``, ``adagrad``, ``rmsprop``, ``sgd`` or ``nadam``.
        weight_decay: L2 penalty applied by the optimiser (decoupled for ``adamw``).
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
        progress: show a progress bar on stderr (only when stderr is a terminal).
        log_every: batches between progress-bar updates (each forces a device sync).
        threads: CPU threads torch may use while training (0: leave torch's setting).
            Small batches on a busy machine train many times faster with 1 thread,
            because the threads of tiny operations spend their time waiting for each other.
    """

    epochs: int = 20
    batch_size: int = 1024
    lr: float = 1e-3
    optimizer: Literal["adam", "adamw", "adagrad", "rmsprop", "sgd", "nadam"] = "adam"
    weight_decay: float = 0.0
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
    progress: bool = True
    log_every: int = 20
    threads: int = 0

    def validate(self) -> None:
        super().validate()
        self._check(self.epochs >= 1, "epochs", "must be at least 1")
        self._check(self.batch_size >= 1, "batch_size", "must be at least 1")
        self._check(self.lr > 0 and math.isfinite(self.lr), "lr", "must be a positive number")
        self._check(self.weight_decay >= 0, "weight_decay", "must be zero or more")
        self._check(self.lr_step >= 1, "lr_step", "must be at least 1")
        self._check(0 < self.lr_gamma <= 1, "lr_gamma", "must be in (0, 1]")
        self._check(self.patience >= 0, "patience", "must be zero or more")
        self._check(self.overfit_batches >= 0, "overfit_batches", "must be zero or more")
        self._check(self.valid_negatives >= 1, "valid_negatives", "must be at least 1")
        self._check(self.log_every >= 1, "log_every", "must be at least 1")
        self._check(self.threads >= 0, "threads", "must be zero or more")
        dev = self.device
        ok = dev in ("auto", "cpu", "cuda", "mps") or (dev.startswith("cuda:") and dev[5:].isdigit())
        self._check(ok, "device", "expected cpu, cuda, cuda:N or auto")


def resolve_device(device: str, local_rank: int | None = None) -> torch.device:
    """The ``torch.device`` a device string names; ``auto`` is CUDA when available.

    Under ``torchrun`` on CUDA each process takes the GPU of its local rank.
    """
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"device={device!r}: CUDA is not available on this machine")
        if device == "cuda" and local_rank is not None:
            device = f"cuda:{local_rank}"
        idx = torch.device(device).index
        if idx is not None and idx >= torch.cuda.device_count():
            raise ConfigError(f"device={device!r}: only {torch.cuda.device_count()} CUDA device(s)")
    return torch.device(device)


# -- distributed --------------------------------------------------------------------


@dataclass(frozen=True)
class _Dist:
    rank: int = 0
    world: int = 1
    local_rank: int | None = None

    @property
    def active(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def distributed_context() -> _Dist:
    """Rank and world size from the ``torchrun`` environment (1 process otherwise)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return _Dist()
    return _Dist(int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0")))


def _init_process_group(dist_ctx: _Dist, device: torch.device) -> bool:
    """Join the process group ``torchrun`` set up; returns True when this call created it."""
    import torch.distributed as dist

    if not dist_ctx.active or dist.is_initialized():
        return False
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return True


def _all_reduce_grads(params: list[torch.nn.Parameter], world: int) -> None:
    """Average gradients over processes in one flat all-reduce.

    The same arithmetic as ``DistributedDataParallel``, done after ``backward`` so that a
    model's ``_loss`` may call any part of its module (DDP only sees ``forward``).
    """
    import torch.distributed as dist

    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= world
    offset = 0
    for p, g in zip(params, grads):
        n = g.numel()
        p.grad = flat[offset:offset + n].view_as(p)
        offset += n


# -- the model base -----------------------------------------------------------------


def _as_cpu_scores(fn):
    """Run a scoring hook in eval mode without gradients; return CPU ``float32`` numpy."""

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

    wrapper._cpu_wrapped = True  # type: ignore[attr-defined]
    return wrapper


class NeuralRecommender(Recommender):
    """Base of every model trained by :func:`train`.

    Subclasses set ``name``, ``Config`` (a :class:`TrainConfig` subclass) and ``task``
    and implement :meth:`_build`, :meth:`_epoch_data`, :meth:`_loss` and
    :meth:`_score_rows`. Anything the network needs at inference (a global mean, a
    rating range) belongs in module buffers, so the state dict carries it.

    Attributes:
        task: ``"ranking"`` (validation HR@10 against sampled negatives) or ``"rating"``
            (validation RMSE).
        module: the network, once built.
        history: one dict per epoch: ``epoch``, ``loss``, ``samples_per_s``,
            ``seconds``, ``lr`` and ``valid`` (the validation metric, if any).
        checkpoint_dir: where the loop writes checkpoints and curves; ``None`` for none.
        resume: continue from ``checkpoint_dir/checkpoint-last.pt`` when it exists.
    """

    task: ClassVar[str] = "ranking"
    Config: ClassVar[type[TrainConfig]] = TrainConfig

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for hook in ("_score_rows", "_score_pairs"):
            fn = cls.__dict__.get(hook)
            if fn is not None and not getattr(fn, "_cpu_wrapped", False):
                setattr(cls, hook, _as_cpu_scores(fn))

    def __init__(self, config: TrainConfig | None = None) -> None:
        super().__init__(config)
        self.module: torch.nn.Module | None = None
        self.history: list[dict[str, Any]] = []
        self.checkpoint_dir: Path | None = None
        self.resume: bool = False
        self._device: torch.device | None = None

    # -- what a model contributes ------------------------------------------------------

    @abstractmethod
    def _build(self, train: Interactions) -> torch.nn.Module:
        """The network for ``train``'s id space (weights from the seeded torch generator)."""

    @abstractmethod
    def _epoch_data(self, train: Interactions, rng: np.random.Generator, device: torch.device) -> tuple[torch.Tensor, ...]:
        """One epoch's samples: tensors on ``device`` sharing their first dimension.

        Called once per epoch with ``rng = default_rng([seed, epoch])``: draw fresh
        negatives here (``cinerec.data.sampling.sample_negatives``). The loop shuffles
        and slices these tensors into batches.
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

    def fit(self, train: Interactions, valid: Interactions | None = None) -> "NeuralRecommender":
        self._remember(train)
        train_model(self, train, valid)
        return self

    def _save_state(self, path: Path) -> None:
        if self.module is None:
            raise DataError(f"{self.name}: nothing to save, the model is not fitted")
        state = {k: v.detach().cpu() for k, v in self.module.state_dict().items()}
        torch.save(state, path / WEIGHTS)
        (path / HISTORY).write_text(json.dumps(self.history, indent=2))

    def _load_state(self, path: Path) -> None:
        with _fork_rng(self.device, self.config.seed):
            module = self._build(self._train())
        state = _load_torch(path / WEIGHTS, self.device)
        try:
            module.load_state_dict(state)
        except (RuntimeError, KeyError) as e:
            raise DataError(f"{path / WEIGHTS}: weights do not fit a {self.name} model ({_first_line(e)})") from None
        self.module = module.to(self.device).eval()
        if (path / HISTORY).exists():
            self.history = json.loads((path / HISTORY).read_text())


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


def _load_torch(path: Path, device: torch.device) -> Any:
    """``torch.load`` with ``weights_only=True``: plain tensors and containers, no pickle code."""
    try:
        return torch.load(path, map_location=device, weights_only=True)
    except FileNotFoundError:
        raise DataError(f"{path}: file is missing") from None
    except Exception as e:  # truncated, tampered or not a checkpoint at all
        detail = _first_line(e)
        detail = detail if len(detail) <= 100 else detail[:97] + "..."
        raise DataError(f"{path}: not a readable cinerec checkpoint ({type(e).__name__}: {detail})") from None


@contextlib.contextmanager
def _fork_rng(device: torch.device, seed: int):
    """Seed torch inside a fork of its RNG state so the caller's state is left as it was."""
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


# -- epoch data for implicit-feedback models --------------------------------------


# Per training set: its distinct positive pairs and a negative sampler, built once and
# reused every epoch (the sampler's membership filter costs more than one epoch's draws).
_EPOCH_CACHE: "weakref.WeakKeyDictionary[Interactions, tuple[np.ndarray, np.ndarray, Any]]" = weakref.WeakKeyDictionary()


def _pairs_and_sampler(train: Interactions) -> tuple[np.ndarray, np.ndarray, Any]:
    hit = _EPOCH_CACHE.get(train)
    if hit is None:
        from cinerec.data.sampling import NegativeSampler

        seen = train.seen
        users = np.repeat(np.arange(train.n_users, dtype=np.int64), np.diff(seen.indptr))
        hit = (users, seen.indices.astype(np.int64), NegativeSampler(seen))
        _EPOCH_CACHE[train] = hit
    return hit


def positive_pairs(train: Interactions) -> tuple[np.ndarray, np.ndarray]:
    """Each distinct (user, movie) pair of ``train`` once: ``(users, items)``, ``int64``.

    A repeated rating of the same movie counts once, so no pair weighs double.
    """
    users, items, _ = _pairs_and_sampler(train)
    return users, items


def _negatives(train: Interactions, users: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """``(len(users), k) int64`` unseen movies, uniform, exact (never a seen one)."""
    sampler = _pairs_and_sampler(train)[2]
    return np.asarray(sampler.sample(users, k, rng), dtype=np.int64)


def pointwise_samples(train: Interactions, negatives: int, rng: np.random.Generator,
                      device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Every positive pair plus ``negatives`` fresh unseen movies per positive.

    Returns:
        ``(users int64, items int64, labels float32)`` on ``device``, each
        ``(n_pos * (1 + negatives),)``: positives first (label 1), then negatives (label 0).
    """
    u, i = positive_pairs(train)
    neg = _negatives(train, u, negatives, rng)
    users = np.concatenate([u, np.repeat(u, negatives)])
    items = np.concatenate([i, neg.ravel()])
    labels = np.concatenate([np.ones(len(u), np.float32), np.zeros(neg.size, np.float32)])
    return (torch.from_numpy(users).to(device), torch.from_numpy(items).to(device),
            torch.from_numpy(labels).to(device))


def pairwise_samples(train: Interactions, negatives: int, rng: np.random.Generator,
                     device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Triples for pairwise losses (BPR): each positive paired with ``negatives`` unseen movies.

    Returns:
        ``(users, positives, negatives)``, ``int64`` on ``device``, each ``(n_pos * negatives,)``.
    """
    u, i = positive_pairs(train)
    neg = _negatives(train, u, negatives, rng)
    return (torch.from_numpy(np.repeat(u, negatives)).to(device),
            torch.from_numpy(np.repeat(i, negatives)).to(device),
            torch.from_numpy(neg.ravel()).to(device))


# -- validation ---------------------------------------------------------------------


@dataclass
class _Validator:
    """Fixed validation candidates, drawn once so every epoch is judged alike."""

    task: str
    users: np.ndarray
    items: np.ndarray  # (n,) for ratings; (n, 1 + negatives) for ranking, positive first
    ratings: np.ndarray | None

    @property
    def higher_is_better(self) -> bool:
        return self.task == "ranking"

    @property
    def metric_name(self) -> str:
        return "hr@10" if self.task == "ranking" else "rmse"

    def __call__(self, model: NeuralRecommender) -> float:
        scores = model.score(self.users, self.items)
        if self.task == "rating":
            return float(np.sqrt(np.mean((scores.astype(np.float64) - self.ratings) ** 2)))
        pos = scores[:, :1]
        # Ties count against the held-out item, so constant scores never look good.
        rank = (scores[:, 1:] >= pos).sum(axis=1)
        return float(np.mean(rank < 10))


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
    return _Validator("ranking", users, items, None)


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
    kwargs: dict[str, Any] = {"lr": cfg.lr, "weight_decay": cfg.weight_decay}
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


def _save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def _state_copy(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def train_model(model: NeuralRecommender, train: Interactions, valid: Interactions | None = None) -> None:
    """Fit ``model.module`` on ``train``; see the module docstring for what the loop owns."""
    cfg: TrainConfig = model.config
    dctx = distributed_context()
    device = model.device
    created_group = _init_process_group(dctx, device)
    threads = torch.get_num_threads()
    try:
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        with _fork_rng(device, cfg.seed):
            _run(model, cfg, train, valid, device, dctx)
    finally:
        torch.set_num_threads(threads)
        if created_group:
            import torch.distributed as dist

            dist.destroy_process_group()


def _run(model: NeuralRecommender, cfg: TrainConfig, train: Interactions, valid: Interactions | None,
         device: torch.device, dctx: _Dist) -> None:
    module = model._build(train).to(device)
    model.module = module
    params = [p for p in module.parameters() if p.requires_grad]
    if dctx.active:
        import torch.distributed as dist

        # Seeded alike already; the broadcast makes equal start weights a fact, not a hope.
        for t in module.state_dict().values():
            dist.broadcast(t, src=0)
    opt = _optimizer(cfg, params)
    sched = _scheduler(cfg, opt)
    amp_dtype, scale = _amp_settings(cfg, device)
    scaler = torch.amp.GradScaler("cuda") if scale else None
    validator = _make_validator(model, train, valid)

    ckpt_dir = Path(model.checkpoint_dir) if model.checkpoint_dir is not None else None
    write = ckpt_dir is not None and dctx.is_main
    if write:
        ckpt_dir.mkdir(parents=True, exist_ok=True)

    history: list[dict[str, Any]] = []
    best_metric: float | None = None
    best_state: dict[str, torch.Tensor] | None = None
    bad_epochs = 0
    start_epoch = 0
    if model.resume and ckpt_dir is not None and (ckpt_dir / CHECKPOINT_LAST).exists():
        ck = _load_torch(ckpt_dir / CHECKPOINT_LAST, device)
        _check_resumable(ck, cfg, ckpt_dir / CHECKPOINT_LAST)
        module.load_state_dict(ck["module"])
        opt.load_state_dict(ck["optimizer"])
        if sched is not None and ck.get("scheduler") is not None:
            sched.load_state_dict(ck["scheduler"])
        if scaler is not None and ck.get("scaler") is not None:
            scaler.load_state_dict(ck["scaler"])
        _set_rng_state(ck["rng"], device)
        history = list(ck["history"])
        best_metric = ck["best_metric"]
        best_state = ck["best_state"]
        bad_epochs = int(ck["bad_epochs"])
        start_epoch = int(ck["epoch"]) + 1
        if ck.get("stopped"):
            start_epoch = cfg.epochs  # it had already stopped early: nothing left to do

    n_epochs = 1 if cfg.smoke else cfg.epochs
    fixed_data = None
    for epoch in range(start_epoch, n_epochs):
        t0 = time.perf_counter()
        rng = np.random.default_rng([cfg.seed, epoch])
        if cfg.overfit_batches:
            if fixed_data is None:
                data0 = model._epoch_data(train, np.random.default_rng([cfg.seed, 0]), device)
                fixed_data = tuple(t[: cfg.overfit_batches * cfg.batch_size] for t in data0)
            data = fixed_data
            order = None
        else:
            data = model._epoch_data(train, rng, device)
            order = torch.from_numpy(rng.permutation(len(data[0]))).to(device)
        n = len(data[0])
        if dctx.active:
            # Equal shards, so every process takes the same number of steps.
            per = n // dctx.world
            idx = (order if order is not None else torch.arange(n, device=device))[dctx.rank * per:(dctx.rank + 1) * per]
            order, n = idx, per
        batch = max(1, -(-cfg.batch_size // dctx.world))
        n_batches = -(-n // batch)
        if cfg.smoke:
            n_batches = min(1, n_batches)
        module.train()
        loss_sum = torch.zeros((), device=device, dtype=torch.float64)
        seen_samples = 0
        bar = _progress(cfg, n_batches, epoch, n_epochs, dctx)
        for b in range(n_batches):
            sl = slice(b * batch, min(n, (b + 1) * batch))
            if order is None:
                xb = tuple(t[sl] for t in data)
            else:
                ix = order[sl]
                xb = tuple(t.index_select(0, ix) for t in data)
            opt.zero_grad(set_to_none=True)
            with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                loss = model._loss(xb)
            if scaler is not None:
                scaler.scale(loss).backward()
                if dctx.active:
                    _all_reduce_grads(params, dctx.world)
                scaler.step(opt)
                scaler.update()
            else:
                loss.backward()
                if dctx.active:
                    _all_reduce_grads(params, dctx.world)
                opt.step()
            rows = sl.stop - sl.start
            loss_sum += loss.detach().double() * rows
            seen_samples += rows
            if bar is not None and (b % cfg.log_every == 0 or b == n_batches - 1):
                elapsed = max(time.perf_counter() - t0, 1e-9)
                bar.set_postfix(loss=f"{float(loss.detach()):.4f}", samples_s=f"{seen_samples * dctx.world / elapsed:,.0f}")
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
        epoch_loss = float(loss_sum) / max(seen_samples, 1)
        if dctx.active:
            import torch.distributed as dist

            t = torch.tensor([epoch_loss], device=device, dtype=torch.float64)
            dist.all_reduce(t)
            epoch_loss = float(t) / dctx.world
        if not math.isfinite(epoch_loss):
            raise DataError(f"{model.name}: training diverged at epoch {epoch + 1} (loss {epoch_loss}); try a smaller lr")
        seconds = time.perf_counter() - t0
        lr_now = opt.param_groups[0]["lr"]
        if sched is not None:
            sched.step()
        record: dict[str, Any] = {
            "epoch": epoch + 1, "loss": epoch_loss, "seconds": seconds, "lr": lr_now,
            "samples_per_s": seen_samples * dctx.world / max(seconds, 1e-9),
        }
        stopped = False
        if validator is not None:
            metric = validator(model)
            record["valid"] = metric
            record["metric"] = validator.metric_name
            better = best_metric is None or (metric > best_metric if validator.higher_is_better else metric < best_metric)
            if better:
                best_metric, best_state, bad_epochs = metric, _state_copy(module), 0
                if write:
                    _save_checkpoint(ckpt_dir / CHECKPOINT_BEST, {"module": best_state, "epoch": epoch,
                                                                 "metric": metric, "config": cfg.to_dict()})
            else:
                bad_epochs += 1
                stopped = cfg.patience > 0 and bad_epochs >= cfg.patience
        history.append(record)
        model.history = list(history)
        if write:
            _save_checkpoint(ckpt_dir / CHECKPOINT_LAST, {
                "module": module.state_dict(), "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict() if sched is not None else None,
                "scaler": scaler.state_dict() if scaler is not None else None,
                "epoch": epoch, "rng": _rng_state(device), "history": history,
                "best_metric": best_metric, "best_state": best_state, "bad_epochs": bad_epochs,
                "stopped": stopped, "config": cfg.to_dict(),
            })
        if stopped:
            break

    if best_state is not None:
        module.load_state_dict(best_state)
    module.eval()
    model.history = list(history)
    if write and history:
        save_curves(history, ckpt_dir / CURVES, title=model.name)


def _check_resumable(ck: dict[str, Any], cfg: TrainConfig, path: Path) -> None:
    saved = ck.get("config", {})
    now = cfg.to_dict()
    diff = sorted(k for k in set(saved) | set(now) if k not in _RESUME_FREE and saved.get(k) != now.get(k))
    if diff:
        k = diff[0]
        raise ConfigError(f"{path}: cannot resume, {k} was {saved.get(k)!r} and is now {now.get(k)!r}")


def _progress(cfg: TrainConfig, total: int, epoch: int, n_epochs: int, dctx: _Dist):
    if not cfg.progress or not dctx.is_main:
        return None
    from cinerec.progress import bar

    return bar(total, f"epoch {epoch + 1}/{n_epochs}", unit="batch")  # drawn only on a terminal


def save_curves(history: list[dict[str, Any]], path: str | Path, title: str = "") -> None:
    """Plot training loss and the validation metric per epoch to a PNG, atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(epochs, [h["loss"] for h in history], marker="o", color="tab:blue", label="training loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss", color="tab:blue")
    if any("valid" in h for h in history):
        ax2 = ax.twinx()
        ve = [h["epoch"] for h in history if "valid" in h]
        name = next(h["metric"] for h in history if "valid" in h)
        ax2.plot(ve, [h["valid"] for h in history if "valid" in h], marker="s", color="tab:orange", label=f"validation {name}")
        ax2.set_ylabel(f"validation {name}", color="tab:orange")
    ax.set_title(title)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=80)
    plt.close(fig)


