"""``mlp-rating``: user and movie embeddings fed through an MLP that predicts the rating.

The embedding-MLP rating model of Covington, Adams and Sargin, "Deep Neural Networks
for YouTube Recommendations" (RecSys 2016) and of the usual Keras MovieLens
walk-throughs, learned with squared error on the stars. With ``target="liked"`` the same
network learns a "liked it" probability instead: log loss on ``rating >= liked_threshold``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, cast

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from cinerec.data.dataset import Interactions
from cinerec.models.base import CapabilityError, RatingRecommender, register
from cinerec.models.neural import NeuralRecommender
from cinerec.training import TrainConfig
from cinerec.tuning import Param

__all__ = ["MLPRating", "MLPRatingConfig", "RatingMLPNet"]

_PAIRS_PER_CHUNK = 1 << 19


@dataclass(frozen=True)
class MLPRatingConfig(TrainConfig):
    """Settings of :class:`MLPRating`.

    Attributes:
        factors: embedding size of users and of movies.
        layers: hidden sizes of the MLP over the concatenated embeddings.
        dropout: dropout on the embeddings and after each hidden layer.
        target: ``rating`` (squared error on stars) or ``liked`` (log loss on
            ``rating >= liked_threshold``).
        liked_threshold: stars from which a rating counts as "liked".
    """

    factors: int = 32
    layers: tuple[int, ...] = (64, 32)
    dropout: float = 0.2
    target: Literal["rating", "liked"] = "rating"
    liked_threshold: float = 4.0
    epochs: int = 30
    batch_size: int = 1024
    lr: float = 1e-3
    regularization: float = 1e-5
    patience: int = 3

    def validate(self) -> None:
        super().validate()
        self._check(self.factors >= 1, "factors", "must be at least 1")
        self._check(len(self.layers) >= 1 and all(h >= 1 for h in self.layers), "layers",
                    "must list at least one positive hidden size")
        self._check(0 <= self.dropout < 1, "dropout", "must be in [0, 1)")
        self._check(np.isfinite(self.liked_threshold), "liked_threshold", "must be a finite number")


class RatingMLPNet(nn.Module):
    """``[user; movie]`` embeddings → ReLU tower → one output, offset by the mean target."""

    mean: torch.Tensor
    low: torch.Tensor
    high: torch.Tensor

    def __init__(self, n_users: int, n_items: int, factors: int, layers: tuple[int, ...], dropout: float,
                 mean: float, low: float, high: float) -> None:
        super().__init__()
        self.user = nn.Embedding(n_users, factors)
        self.item = nn.Embedding(n_items, factors)
        nn.init.normal_(self.user.weight, std=0.05)
        nn.init.normal_(self.item.weight, std=0.05)
        self.drop = nn.Dropout(dropout)
        mods: list[nn.Module] = []
        width = 2 * factors
        for h in layers:
            mods += [nn.Linear(width, h), nn.ReLU(), nn.Dropout(dropout)]
            width = h
        mods.append(nn.Linear(width, 1))
        self.tower = nn.Sequential(*mods)
        self.factors = factors
        self.register_buffer("mean", torch.tensor(float(mean)))
        self.register_buffer("low", torch.tensor(float(low)))
        self.register_buffer("high", torch.tensor(float(high)))

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """``(n,)`` raw outputs (stars, or logits of "liked") for ``(n,) int64`` indices."""
        x = torch.cat([self.user(users), self.item(items)], dim=1)
        return self.tower(self.drop(x)).squeeze(-1) + self.mean

    def rows(self, users: torch.Tensor) -> torch.Tensor:
        """``(len(users), n_items)`` raw outputs over the whole catalog (eval mode)."""
        f = self.factors
        first = cast(nn.Linear, self.tower[0])  # __init__ always starts the tower with a Linear
        # W [p; q] + b = W_p p + (W_q q + b): project users and movies once, not per pair.
        a = self.user(users) @ first.weight[:, :f].T
        b = torch.addmm(first.bias, self.item.weight, first.weight[:, f:].T)
        n_u, n_i = a.shape[0], b.shape[0]
        out = torch.empty(n_u, n_i, device=b.device, dtype=torch.float32)
        step = max(1, _PAIRS_PER_CHUNK // max(n_i, 1))
        for s in range(0, n_u, step):
            h = a[s:s + step, None, :] + b[None, :, :]
            out[s:s + step] = self.tower[1:](h).squeeze(-1).float() + self.mean
        return out


@register
class MLPRating(NeuralRecommender, RatingRecommender):
    """Embedding MLP rating model (Covington et al., RecSys 2016 style), squared error on stars.

    ``score`` is the predicted rating (``target="rating"``) or the probability of
    liking the movie (``target="liked"``); ``predict`` gives stars clipped to the
    training range and needs ``target="rating"``.
    """

    name = "mlp-rating"
    search_space = {
        "factors": Param("choice", choices=(16, 32, 64)),
        "dropout": Param("float", 0.0, 0.5),
        "lr": Param("float", 1e-4, 1e-2, log=True),
        "regularization": Param("float", 1e-6, 1e-3, log=True),
    }
    has_item_vectors = True
    can_score_pairs = True
    Config = MLPRatingConfig
    task = "rating"  # validation RMSE (for "liked": of the probability against 0/1)
    config: MLPRatingConfig
    module: RatingMLPNet

    def _targets(self, ratings: np.ndarray) -> np.ndarray:
        if self.config.target == "liked":
            return (ratings >= self.config.liked_threshold).astype(np.float32)
        return ratings.astype(np.float32)

    def _validation_targets(self, valid: Interactions) -> np.ndarray:
        return self._targets(valid.ratings).astype(np.float64)

    def _build(self, train: Interactions) -> RatingMLPNet:
        c = self.config
        y = self._targets(train.ratings)
        if c.target == "liked":
            p = float(np.clip(y.mean(), 1e-3, 1 - 1e-3))
            mean, low, high = float(np.log(p / (1 - p))), 0.0, 1.0
        else:
            mean, low, high = float(y.mean()), float(y.min()), float(y.max())
        return RatingMLPNet(train.n_users, train.n_items, c.factors, c.layers, c.dropout, mean, low, high)

    def _epoch_data(self, train: Interactions, rng: np.random.Generator, device: torch.device) -> tuple[torch.Tensor, ...]:
        return (torch.from_numpy(train.users.astype(np.int64)).to(device),
                torch.from_numpy(train.items.astype(np.int64)).to(device),
                torch.from_numpy(self._targets(train.ratings)).to(device))

    def _loss(self, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        u, i, y = batch
        out = self.module(u, i).float()
        if self.config.target == "liked":
            return F.binary_cross_entropy_with_logits(out, y)
        return F.mse_loss(out, y)

    def _finish(self, raw: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(raw) if self.config.target == "liked" else raw

    def _score_rows(self, users: np.ndarray) -> torch.Tensor:
        return self._finish(self.module.rows(torch.as_tensor(users, dtype=torch.int64, device=self.device)))

    def _score_pairs(self, users: np.ndarray, items: np.ndarray) -> torch.Tensor:
        d = self.device
        u = torch.as_tensor(users, dtype=torch.int64, device=d)
        i = torch.as_tensor(items, dtype=torch.int64, device=d)
        step = _PAIRS_PER_CHUNK
        parts = [self._finish(self.module(u[s:s + step], i[s:s + step]).float()) for s in range(0, len(u), step)]
        return torch.cat(parts) if parts else torch.zeros(0, device=d)

    def predict(self, users: Any, items: Any) -> np.ndarray:
        """``(n,) float32`` stars for (user, movie) pairs, clipped to the training range."""
        if self.config.target != "rating":
            raise CapabilityError("mlp-rating with target='liked' gives the probability of liking "
                                  "(use score); predicting stars needs target='rating'")
        s = self.score(users, np.asarray(items))
        return np.clip(s, float(self.module.low), float(self.module.high)).astype(np.float32)

    def item_vectors(self) -> np.ndarray:
        """``(n_items, factors)`` movie embeddings."""
        return self.module.item.weight.detach().float().cpu().numpy()
