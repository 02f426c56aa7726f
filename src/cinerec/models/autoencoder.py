"""Autoencoders over rows of the rating matrix: AutoRec and Mult-VAE.

Both models read whole rows of the user×movie matrix. The training matrix stays on the
device in CSR form and each batch is a set of row indices; :func:`dense_rows` turns
them into dense ``(batch, width)`` tensors with a handful of vectorised tensor ops, so
no dense copy of the whole matrix is ever made (ml-20m would need 15 GB).

- :class:`AutoRec` — Sedhain, Menon, Sanner and Xie, "AutoRec: Autoencoders Meet
  Collaborative Filtering", WWW 2015. Predicts stars; the loss only sees observed
  ratings.
- :class:`MultVAE` — Liang, Krishnan, Hoffman and Jebara, "Variational Autoencoders for
  Collaborative Filtering", WWW 2018. Ranks the whole catalogue from a binary history.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn
from torch.nn import functional as F

from cinerec.data.dataset import Interactions
from cinerec.models.base import CapabilityError, RatingRecommender, check_history, register, scale_of, star_unit
from cinerec.models.baselines import _history_matrix
from cinerec.models.neural import NeuralRecommender, loads_without
from cinerec.training import TrainConfig
from cinerec.tuning import Param

__all__ = [
    "AutoRec", "AutoRecConfig", "MultVAE", "MultVAEConfig", "dense_rows", "kl_weight", "masked_sse",
]


# -- shared plumbing ---------------------------------------------------------------


class _CSR(nn.Module):
    """A CSR matrix held as non-persistent buffers, so ``.to(device)`` moves it but the
    state dict (the saved weights) does not carry a copy of the training data."""

    indptr: torch.Tensor
    indices: torch.Tensor
    data: torch.Tensor

    def __init__(self, x: sp.csr_matrix) -> None:
        super().__init__()
        x = sp.csr_matrix(x)
        x.sort_indices()
        self.shape = x.shape
        self.register_buffer("indptr", torch.from_numpy(x.indptr.astype(np.int64)), persistent=False)
        self.register_buffer("indices", torch.from_numpy(x.indices.astype(np.int64)), persistent=False)
        self.register_buffer("data", torch.from_numpy(x.data.astype(np.float32)), persistent=False)

    def rows(self, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Dense ``(len(rows), width) float32`` values and ``bool`` mask of stored cells."""
        return dense_rows(self.indptr, self.indices, self.data, rows, self.shape[1])


def dense_rows(indptr: torch.Tensor, indices: torch.Tensor, data: torch.Tensor, rows: torch.Tensor,
               width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Gather rows of a CSR matrix into dense tensors, without a Python loop.

    Args:
        indptr, indices, data: the CSR arrays, ``int64``/``int64``/``float32``, on one device.
        rows: ``(b,) int64`` row indices.
        width: number of columns.

    Returns:
        ``(values (b, width) float32, observed (b, width) bool)``; unstored cells are
        ``0`` in ``values`` and ``False`` in ``observed``.
    """
    start = indptr[rows]
    counts = indptr[rows + 1] - start
    total = int(counts.sum())
    out = torch.zeros((len(rows), width), dtype=torch.float32, device=data.device)
    mask = torch.zeros((len(rows), width), dtype=torch.bool, device=data.device)
    if total:
        which = torch.repeat_interleave(torch.arange(len(rows), device=data.device), counts)
        # position of each gathered entry inside its own row: 0, 1, ... count-1
        offset = torch.arange(total, device=data.device) - torch.repeat_interleave(torch.cumsum(counts, 0) - counts, counts)
        src = start[which] + offset
        out[which, indices[src]] = data[src]
        mask[which, indices[src]] = True
    return out, mask


def _check_history(history: sp.csr_matrix, width: int, name: str) -> sp.csr_matrix:
    return check_history(history, width, name)


# -- AutoRec -----------------------------------------------------------------------


def masked_sse(recon: torch.Tensor, target: torch.Tensor, observed: torch.Tensor) -> torch.Tensor:
    """Sum of squared errors over observed cells only (AutoRec's data term).

    Args:
        recon: ``(b, width)`` reconstructions.
        target: ``(b, width)`` ratings; what unobserved cells hold is irrelevant.
        observed: ``(b, width) bool``, ``True`` where a rating exists.

    Returns:
        A ``float32`` scalar; neither its value nor its gradient depends on ``recon``
        or ``target`` at unobserved cells.
    """
    err = torch.where(observed, recon.float() - target.float(), torch.zeros((), device=recon.device))
    return (err ** 2).sum()


@dataclass(frozen=True)
class AutoRecConfig(TrainConfig):
    """Settings of :class:`AutoRec` (defaults tuned on MovieLens-100K, I-AutoRec).

    Attributes:
        kind: ``"item"`` (I-AutoRec: each movie's column of ratings is encoded; the
            paper's better variant) or ``"user"`` (U-AutoRec: each user's row).
        layers: sizes of the hidden layers (the paper uses one of 500).
        activation: hidden-layer activation; the paper's encoder is ``sigmoid``.
        output: output activation; the paper's decoder is the ``identity``.
        regularization: the paper's ``lambda``: weight of ``lambda/2 * sum ||W||^2``
            over all weight matrices, added to the sum of squared errors on observed
            ratings. The optimiser gets no weight decay.
        target: ``"rating"`` (the paper's: stars, the loss over observed ratings
            only) or ``"seen"`` (for ranking: each vector holds 1 where a rating
            exists and 0 elsewhere, the output is read as log-odds, and the loss is
            the log loss over every cell, so unrated cells count as "not seen"). A
            ranking protocol gives ``"seen"`` when the user chose no ``target``.
    """

    renamed = {"l2": "regularization", "hidden": "layers"}
    regularization_in_loss = True

    kind: Literal["item", "user"] = "item"
    layers: tuple[int, ...] = (500,)
    activation: Literal["sigmoid", "identity", "relu", "tanh"] = "sigmoid"
    output: Literal["sigmoid", "identity", "relu", "tanh"] = "identity"
    # Tuned by validation RMSE on a carve-out of ml-100k training ratings; 50 epochs is
    # where that curve bottomed out, so runs without a validation set stop near it.
    regularization: float = 50.0
    epochs: int = 50
    batch_size: int = 256
    lr: float = 1e-3
    patience: int = 10
    target: Literal["rating", "seen"] = "rating"

    def validate(self) -> None:
        super().validate()
        self._check(len(self.layers) >= 1 and all(h >= 1 for h in self.layers), "layers",
                    "needs at least one layer, each of size 1 or more")
        self._check(self.target == "rating" or self.output == "identity", "output",
                    'must be "identity" with target = "seen" (the output is read as log-odds)')


_ACT = {"sigmoid": nn.Sigmoid, "identity": nn.Identity, "relu": nn.ReLU, "tanh": nn.Tanh}


class _AutoRecNet(nn.Module):
    low: torch.Tensor
    high: torch.Tensor
    unit: torch.Tensor
    lifted: torch.Tensor

    def __init__(self, x: sp.csr_matrix, cfg: AutoRecConfig, low: float, high: float, unit: float = 1.0) -> None:
        super().__init__()
        self.matrix = _CSR(x)
        width = x.shape[1]
        sizes = [width, *cfg.layers]
        enc: list[nn.Module] = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            enc += [nn.Linear(a, b), _ACT[cfg.activation]()]
        self.encoder = nn.Sequential(*enc)
        dec: list[nn.Module] = []
        back = sizes[::-1]
        for j, (a, b) in enumerate(zip(back[:-1], back[1:])):
            last = j == len(back) - 2
            dec += [nn.Linear(a, b), _ACT[cfg.output if last else cfg.activation]()]
        self.decoder = nn.Sequential(*dec)
        # Known at inference time, so kept in the state dict.
        self.register_buffer("low", torch.tensor(float(low)))
        self.register_buffer("high", torch.tensor(float(high)))
        # The unit the network reads and writes ratings in (star_unit): kept, so a model
        # saved from before it (read as they were) loads as 1.
        self.register_buffer("unit", torch.tensor(float(unit)))
        # Whether the ratings learnt are lifted as the inputs are (so that 0 to 100 is learnt
        # as 1 to 5 stars are, not as 0 to 4): 1, but for weights saved before.
        self.register_buffer("lifted", torch.tensor(1.0))
        loads_without(self, unit=1.0, lifted=0.0)  # (read and learnt as they are)
        self.n_rows = max(1, int((np.diff(x.indptr) > 0).sum()))  # rows that carry a loss

    def forward(self, values: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(values))

    def inputs(self, values: torch.Tensor, observed: torch.Tensor) -> torch.Tensor:
        """What the encoder reads of rows of ``values`` (``observed``: their stored cells),
        in :attr:`unit`. An input of 0 is a movie not rated: on a scale reaching 0 or below
        (a thumbs-down, -2 to 2; 0 to 100) each rating is lifted so that the lowest reads as
        1, or a rating of 0 read as none; a scale above 0 (1 to 5 stars) is read as it is.
        What the reconstruction learns is lifted alike (:meth:`targets`), so 0 to 100 is
        learnt as 1 to 5 stars are."""
        return values / self.unit + self.lift() * observed.to(values.dtype)

    def lift(self) -> torch.Tensor:
        """What :meth:`inputs` adds to each rating in :attr:`unit`: 0 on a scale above 0.
        (Worked out on the buffers' device: a number read back to the host each batch
        would wait for the device.)"""
        low = self.low / self.unit
        return torch.where(torch.isfinite(low) & (low <= 0), 1.0 - low, torch.zeros_like(low))

    def targets(self, values: torch.Tensor, observed: torch.Tensor) -> torch.Tensor:
        """The ratings the reconstruction learns, in :attr:`unit` and lifted as the inputs."""
        return values / self.unit + self.lifted * self.lift() * observed.to(values.dtype)

    def stars(self, reconstruction: torch.Tensor) -> torch.Tensor:
        """A reconstruction read back as ratings on the data's scale."""
        return (reconstruction - self.lifted * self.lift()) * self.unit

    def weight_norm(self) -> torch.Tensor:
        squares = ((m.weight ** 2).sum() for m in self.modules() if isinstance(m, nn.Linear))
        # A tensor start (not sum's int 0) keeps the result a Tensor; the value is the same.
        return sum(squares, torch.zeros((), device=self.low.device))


@register
class AutoRec(NeuralRecommender, RatingRecommender):
    """AutoRec (Sedhain et al., WWW 2015): an autoencoder that reconstructs ratings.

    ``kind="item"`` (I-AutoRec, the default) encodes each movie's vector of ratings
    from every training user and reads user ``u``'s predicted stars off position ``u``
    of the reconstruction; ``kind="user"`` (U-AutoRec) encodes each user's row.
    Unobserved ratings enter the input as 0 and are left out of the loss, which is the
    paper's: squared error over observed ratings plus ``regularization/2`` times the
    squared weights. Predictions are clipped to the training rating range.

    New people (``score_history``): only U-AutoRec can take them, by encoding the new
    rating row as it encodes a training user's. In I-AutoRec every input unit *is* a
    training user, so a new person has no input weights until the model is refitted;
    ``can_score_history`` is therefore ``True`` only for ``kind="user"``.

    ``target="seen"`` is its ranking variant, which a ranking protocol gives it: the
    same network learns which cells hold a rating at all (log loss over every cell of
    a binary matrix), and its scores are log-odds of a rating, not stars.
    """

    name = "autorec"
    search_space = {
        "regularization": Param("float", 1.0, 500.0, log=True),
        "lr": Param("float", 1e-4, 1e-2, log=True),
    }
    has_item_vectors = True
    Config = AutoRecConfig
    config: AutoRecConfig
    module: _AutoRecNet

    # Under a ranking protocol, for each key the user did not choose: the ranking variant,
    # and the penalty that suits it (50 was chosen for stars; docs/protocols.md says why 2).
    ranking_settings = {"target": "seen", "regularization": 2.0}
    stars_settings = {"target": "rating"}

    def __init__(self, config: AutoRecConfig | None = None) -> None:
        super().__init__(config)
        self.can_score_history = self.config.kind == "user"

    @property
    def task(self) -> str:  # type: ignore[override]
        return "rating" if self.config.target == "rating" else "ranking"

    @property
    def can_predict_ratings(self) -> bool:  # type: ignore[override]
        return self.config.target == "rating"  # (target = "seen" ranks: predict refuses)

    @property
    def history_scores_signed(self) -> bool:  # type: ignore[override]
        # Log-odds: below 0 is a probability under one half, still the model's order.
        return self.config.target == "seen"

    def predict(self, users: Any, items: Any) -> np.ndarray:
        """``(n,) float32`` stars for (user, movie) pairs, clipped to the training range."""
        if self.config.target != "rating":
            raise CapabilityError(f"{self.name} with target = {self.config.target!r} ranks movies (its scores are "
                                  "log-odds of a rating, not stars); predicting stars needs target = 'rating'")
        net = self.module
        return np.clip(super().predict(users, items), float(net.low), float(net.high)).astype(np.float32)

    def _matrix(self, train: Interactions) -> sp.csr_matrix:
        """Rows the network encodes: users×movies, or movies×users for I-AutoRec; with
        ``target="seen"`` every stored value is 1."""
        x = _history_matrix(train.csr, train.n_items, self.config.target == "seen", self.name)
        return x.T.tocsr() if self.config.kind == "item" else x

    def _build(self, train: Interactions) -> _AutoRecNet:
        low, high = scale_of(train) or (0.0, 1.0)
        if self.config.target == "seen":  # log-odds, not clipped
            low, high = -np.inf, np.inf
        return _AutoRecNet(self._matrix(train), self.config, low, high, star_unit(low, high))

    def _epoch_data(self, train: Interactions, rng: np.random.Generator, device: torch.device) -> tuple[torch.Tensor, ...]:
        x = self._matrix(train)
        rows = np.flatnonzero(np.diff(x.indptr))  # a row with no rating carries no loss
        return (torch.from_numpy(rows.astype(np.int64)).to(device),)

    def _loss(self, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        net = self.module
        values, observed = net.matrix.rows(batch[0])
        recon = net(net.inputs(values, observed))
        # The weight penalty is shared out over rows so that one epoch sums to the
        # paper's objective; dividing by the batch size keeps the step size independent of it.
        penalty = 0.5 * self.config.regularization * net.weight_norm() * (len(values) / net.n_rows)
        if self.config.target == "seen":  # every cell: 1 for a rating, 0 for none
            fit = F.binary_cross_entropy_with_logits(recon.float(), values, reduction="sum")
        else:
            fit = masked_sse(recon, net.targets(values, observed), observed)
        return (fit + penalty) / len(values)

    def _reconstruct(self, values: torch.Tensor) -> torch.Tensor:
        # Unclipped: a ranking keeps the model's own order past the top of the scale, where
        # clipped scores tied at 5 and fell into movie-id order; predict clips the stars.
        return self.module.stars(self.module(values).float())

    def _score_rows(self, users: np.ndarray) -> torch.Tensor:
        net = self.module
        dev = net.low.device
        u = torch.as_tensor(users, dtype=torch.int64, device=dev)
        if self.config.kind == "user":
            return self._reconstruct(net.inputs(*net.matrix.rows(u)))
        # I-AutoRec: reconstruct every movie's column, keep the requested users' entries.
        out = torch.empty((len(u), self.n_items), dtype=torch.float32, device=dev)
        step = 4096
        for start in range(0, self.n_items, step):
            items = torch.arange(start, min(self.n_items, start + step), device=dev)
            out[:, start:start + len(items)] = self._reconstruct(net.inputs(*net.matrix.rows(items)))[:, u].T
        return out

    def score_history(self, history: sp.csr_matrix) -> np.ndarray:
        if not self.can_score_history:
            raise CapabilityError(
                f"{self.name}: an item-based AutoRec cannot score a new person (each input unit is a "
                "training user); refit, or use kind = \"user\"")
        # With target "seen", what it learned from: 1 for each movie rated, whatever the stars.
        history = _history_matrix(history, self.n_items, self.config.target == "seen", self.name)
        net = self.module
        with torch.no_grad():
            net.eval()
            values = torch.from_numpy(history.toarray()).to(net.low.device)
            seen = _history_matrix(history, self.n_items, True, self.name)  # (its stored cells, a 0 too)
            observed = torch.from_numpy(seen.toarray() > 0).to(net.low.device)
            return self._reconstruct(net.inputs(values, observed)).cpu().numpy()

    def item_vectors(self) -> np.ndarray:
        """Movie vectors: I-AutoRec's hidden code of each movie's ratings column, less the
        mean code of the rated movies, or U-AutoRec's decoder weights into each movie.

        The codes are sigmoid outputs, all positive: uncentred, any two movies' cosine was
        near 1 (a median 10th most similar movie of 0.96 on ml-100k, 0.9995 on a small
        sparse log), so similar movies and reasons hung on the last digits. Centred, the
        median 10th is 0.64 on ml-100k, and as many of each movie's 10 most similar share
        a genre with it (0.688 both ways)."""
        net = self.module
        with torch.no_grad():
            if self.config.kind == "item":
                parts = []
                for start in range(0, self.n_items, 4096):
                    items = torch.arange(start, min(self.n_items, start + 4096), device=net.low.device)
                    parts.append(net.encoder(net.inputs(*net.matrix.rows(items))).float().cpu())
                codes = torch.cat(parts).numpy()
                rated = self._train().item_counts > 0
                return codes - (codes[rated].mean(axis=0) if rated.any() else 0.0)
            last = [m for m in net.decoder if isinstance(m, nn.Linear)][-1]
            return last.weight.detach().float().cpu().numpy()


# -- Mult-VAE ----------------------------------------------------------------------


@dataclass(frozen=True)
class MultVAEConfig(TrainConfig):
    """Settings of :class:`MultVAE` (defaults tuned on MovieLens-100K).

    Attributes:
        layers: encoder layer sizes, the last being the latent dimension (the paper's
            600 → 200); the decoder mirrors them.
        dropout: dropout on the normalised input history (the paper's 0.5).
        anneal_cap: the largest KL weight ``beta``.
        total_anneal_steps: optimiser steps over which ``beta`` rises linearly from 0;
            it then stays at ``anneal_cap``.
    """

    renamed = {"hidden": "layers"}

    layers: tuple[int, ...] = (600, 200)
    # Tuned on a leave-latest-out carve-out of ml-100k training data: less input dropout
    # than the paper's 0.5 suits 943 users; 40 epochs of 15 steps keep beta near 0 there
    # (the annealing reaches its cap only on larger releases).
    dropout: float = 0.2
    anneal_cap: float = 0.2
    total_anneal_steps: int = 20000
    epochs: int = 40
    batch_size: int = 64
    lr: float = 1e-3
    patience: int = 10

    def validate(self) -> None:
        super().validate()
        self._check(len(self.layers) >= 1 and all(h >= 1 for h in self.layers), "layers",
                    "needs at least the latent size, each of size 1 or more")
        self._check(0 <= self.dropout < 1, "dropout", "must be in [0, 1)")
        self._check(self.anneal_cap >= 0, "anneal_cap", "must be zero or more")
        self._check(self.total_anneal_steps >= 1, "total_anneal_steps", "must be at least 1")


def kl_weight(step: int | torch.Tensor, anneal_cap: float, total_anneal_steps: int) -> float:
    """The KL weight ``beta`` after ``step`` optimiser steps: ``min(cap, step / total)``."""
    return min(float(anneal_cap), float(step) / float(total_anneal_steps))


class _VAENet(nn.Module):
    steps: torch.Tensor

    def __init__(self, x: sp.csr_matrix, cfg: MultVAEConfig) -> None:
        super().__init__()
        self.matrix = _CSR(x)
        sizes = [x.shape[1], *cfg.layers]
        latent = sizes[-1]
        enc: list[nn.Module] = []
        for a, b in zip(sizes[:-2], sizes[1:-1]):
            enc += [nn.Linear(a, b), nn.Tanh()]
        self.encoder = nn.Sequential(*enc)
        self.to_stats = nn.Linear(sizes[-2], 2 * latent)
        back = sizes[::-1]
        dec: list[nn.Module] = []
        for j, (a, b) in enumerate(zip(back[:-1], back[1:])):
            dec.append(nn.Linear(a, b))
            if j < len(back) - 2:
                dec.append(nn.Tanh())
        self.decoder = nn.Sequential(*dec)
        self.drop = nn.Dropout(cfg.dropout)
        self.latent = latent
        # The annealing clock lives in the state dict, so a resumed run picks up where it was.
        self.register_buffer("steps", torch.zeros((), dtype=torch.int64))
        for m in self.modules():
            if isinstance(m, nn.Linear):  # Xavier weights, small normal biases, as in the paper's code
                nn.init.xavier_normal_(m.weight)
                nn.init.normal_(m.bias, std=0.001)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Logits over movies, and the posterior mean and log-variance."""
        h = F.normalize(x, dim=1)
        h = self.drop(h)
        stats = self.to_stats(self.encoder(h))
        mu, logvar = stats[:, : self.latent], stats[:, self.latent:]
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if self.training else mu
        return self.decoder(z), mu, logvar


@register
class MultVAE(NeuralRecommender):
    """Mult-VAE (Liang et al., WWW 2018): a variational autoencoder over binary histories.

    A user's history (1 for every movie watched) is L2-normalised, dropped out, encoded
    to a Gaussian posterior, and decoded to a multinomial over the whole catalogue. The
    loss is the negative multinomial log-likelihood plus ``beta`` times the KL term,
    with ``beta`` rising linearly to ``anneal_cap`` over ``total_anneal_steps`` steps
    (:func:`kl_weight`). Scores are the decoder's logits at the posterior mean.

    A new person's binary history goes through the encoder exactly like a training
    user's, so ``score_history`` needs no refit.
    """

    name = "multivae"
    search_space = {
        "dropout": Param("float", 0.0, 0.7),
        "anneal_cap": Param("float", 0.05, 1.0, log=True),
        "lr": Param("float", 1e-4, 1e-2, log=True),
    }
    has_item_vectors = True
    Config = MultVAEConfig
    task = "ranking"
    can_score_history = True
    config: MultVAEConfig
    module: _VAENet

    def _build(self, train: Interactions) -> _VAENet:
        return _VAENet(train.seen, self.config)

    def _epoch_data(self, train: Interactions, rng: np.random.Generator, device: torch.device) -> tuple[torch.Tensor, ...]:
        rows = np.flatnonzero(train.user_counts > 0)
        return (torch.from_numpy(rows.astype(np.int64)).to(device),)

    @property
    def beta(self) -> float:
        """The KL weight the next training step will use."""
        steps = int(self.module.steps) if self.module is not None else 0
        return kl_weight(steps, self.config.anneal_cap, self.config.total_anneal_steps)

    def _loss(self, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        net = self.module
        x, _ = net.matrix.rows(batch[0])
        logits, mu, logvar = net(x)
        nll = -(F.log_softmax(logits.float(), dim=1) * x).sum(dim=1).mean()
        kl = (-0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum(dim=1)).mean()
        # beta computed on the device from the step counter: no host sync per step.
        beta = torch.clamp(net.steps.float() / self.config.total_anneal_steps, max=self.config.anneal_cap)
        if net.training:
            net.steps += 1
        return nll + beta * kl.float()

    def _score_rows(self, users: np.ndarray) -> torch.Tensor:
        net = self.module
        dev = net.steps.device
        x, _ = net.matrix.rows(torch.as_tensor(users, dtype=torch.int64, device=dev))
        return net(x)[0].float()

    def score_history(self, history: sp.csr_matrix) -> np.ndarray:
        # Each movie given is one seen, a rating of 0 too (the bottom of a scale from 0), as
        # its training rows (Interactions.seen) had it: it was read as none.
        history = _history_matrix(history, self.n_items, True, self.name)
        net = self.module
        with torch.no_grad():
            net.eval()
            x = torch.from_numpy(history.toarray()).to(net.steps.device)
            return net(x)[0].float().cpu().numpy()

    def item_vectors(self) -> np.ndarray:
        """The decoder's output weights: one vector per movie in the latent-side space."""
        last = [m for m in self.module.decoder if isinstance(m, nn.Linear)][-1]
        return last.weight.detach().float().cpu().numpy()
