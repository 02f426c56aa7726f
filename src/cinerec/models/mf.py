"""Matrix factorisation trained by gradient descent: ``mf`` and ``biasedmf``.

Koren, Bell and Volinsky, "Matrix Factorization Techniques for Recommender Systems",
IEEE Computer 2009: a user and a movie are ``factors``-dimensional vectors and their dot
product scores the pair; the biased variant adds a global mean and a bias per user and
per movie. The same network learns from explicit stars (``loss="mse"``) or from bare
interactions (``loss="bce"`` with sampled negatives, or ``loss="bpr"``, Rendle et al.,
"BPR: Bayesian Personalized Ranking from Implicit Feedback", UAI 2009). With
``target="liked"`` (and ``loss="bce"``) it learns instead whether each rating is a like
(``rating >= liked_threshold``): log loss on the rated pairs, no sampled negatives, the
binary "liked" variant of the Keras MovieLens studies; its score is then that probability.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from cinerec.data.dataset import Interactions
from cinerec.models.base import CapabilityError, RatingRecommender, register, scale_of, star_unit
from cinerec.data.sampling import pairwise_samples, pointwise_samples
from cinerec.models.index import IndexedRecommender, check_index_settings
from cinerec.models.neural import NeuralRecommender, loads_without
from cinerec.training import TrainConfig
from cinerec.tuning import Param

__all__ = ["MF", "BiasedMF", "MFConfig", "FactorNet"]


@dataclass(frozen=True)
class MFConfig(TrainConfig):
    """Settings of :class:`MF` and :class:`BiasedMF`.

    Defaults were chosen for ``loss="mse"`` on a validation carve-out of the ml-100k u1
    training ratings (RMSE 0.931 there, against 0.951 with ``regularization=0.05`` and 0.969
    with 0.02).

    Attributes:
        factors: latent dimension.
        loss: ``mse`` on stars (a rating model), ``bce`` with ``negatives`` sampled
            unseen movies per rating, or ``bpr`` (each rating against ``negatives``
            sampled unseen movies).
        negatives: sampled negatives per positive for ``bce`` and ``bpr`` (unused with
            ``target="liked"``).
        target: ``rating`` (what ``loss`` says) or ``liked``: log loss on the rated pairs,
            labelled ``rating >= liked_threshold`` (needs ``loss="bce"``).
        liked_threshold: stars from which a rating counts as "liked" (``target="liked"``);
            unset, three quarters of the way up the training ratings' scale (4 on 1 to 5
            stars, 7.75 on 1 to 10), written into the config at fit.
        init_std: standard deviation of the normal initial factors.
        regularization: L2 penalty on the factors and biases of the users and movies
            in each batch, per sample, added to the loss (Funk-SVD style: rarely seen
            rows are not shrunk every step, as optimiser weight decay on whole tables
            would shrink them). The optimiser gets no weight decay.
    """

    renamed = {"reg": "regularization"}
    regularization_in_loss = True

    factors: int = 64
    loss: Literal["mse", "bce", "bpr"] = "mse"
    target: Literal["rating", "liked"] = "rating"
    liked_threshold: float | None = None
    negatives: int = 4
    init_std: float = 0.1
    regularization: float = 0.1
    epochs: int = 30
    batch_size: int = 1024
    lr: float = 5e-3
    patience: int = 3
    # Approximate-neighbour search behind recommend and similar_items
    # (cinerec.models.index.INDEX_SETTINGS says what each one does).
    index: Literal["exact", "ivf", "hnsw"] = "exact"
    index_nlist: int = 0
    index_nprobe: int = 0
    index_hnsw_m: int = 32
    index_ef_search: int = 128

    def validate(self) -> None:
        super().validate()
        check_index_settings(self)
        self._check(self.factors >= 1, "factors", "must be at least 1")
        self._check(self.negatives >= 1, "negatives", "must be at least 1")
        self._check(self.init_std > 0, "init_std", "must be positive")
        self._check(self.liked_threshold is None or np.isfinite(self.liked_threshold), "liked_threshold",
                    "must be a finite number")
        self._check(self.target == "rating" or self.loss == "bce", "target",
                    f"'liked' learns liked-or-not with log loss: set loss = 'bce' too (the loss is {self.loss!r}"
                    + (", which a ranking protocol gives mf unless a loss is set)" if self.loss == "bpr" else ")"))


class FactorNet(nn.Module):
    """Dot-product scorer, optionally with a global mean and user/movie biases.

    Buffers ``mean``, ``low``, ``high`` travel with the state dict: the global mean
    rating and the training rating range (``predict`` clips to it); and ``unit``
    (:func:`~cinerec.models.base.star_unit`): the factors and biases score stars in it,
    the scores they make are stars.
    """

    mean: torch.Tensor
    low: torch.Tensor
    high: torch.Tensor
    unit: torch.Tensor

    def __init__(self, n_users: int, n_items: int, factors: int, biased: bool, init_std: float,
                 mean: float = 0.0, low: float = -np.inf, high: float = np.inf, unit: float = 1.0) -> None:
        super().__init__()
        self.user = nn.Embedding(n_users, factors)
        self.item = nn.Embedding(n_items, factors)
        nn.init.normal_(self.user.weight, std=init_std)
        nn.init.normal_(self.item.weight, std=init_std)
        self.biased = biased
        if biased:
            self.user_bias = nn.Embedding(n_users, 1)
            self.item_bias = nn.Embedding(n_items, 1)
            nn.init.zeros_(self.user_bias.weight)
            nn.init.zeros_(self.item_bias.weight)
        self.register_buffer("mean", torch.tensor(float(mean)))
        self.register_buffer("low", torch.tensor(float(low)))
        self.register_buffer("high", torch.tensor(float(high)))
        self.register_buffer("unit", torch.tensor(float(unit)))
        loads_without(self, unit=1.0)  # (stars scored as they are)

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """``(n,)`` scores of (user, movie) pairs given ``(n,) int64`` indices."""
        s = (self.user(users) * self.item(items)).sum(-1)
        if self.biased:
            s = s + self.user_bias(users).squeeze(-1) + self.item_bias(items).squeeze(-1) + self.mean / self.unit
        return s * self.unit

    def rows(self, users: torch.Tensor) -> torch.Tensor:
        """``(len(users), n_items)`` scores over the whole catalog."""
        s = self.user(users) @ self.item.weight.T
        if self.biased:
            s = s + self.user_bias(users) + self.item_bias.weight.T + self.mean / self.unit
        return s * self.unit


class _FactorModel(IndexedRecommender, NeuralRecommender, RatingRecommender):
    Config = MFConfig
    biased = False
    search_space = {
        "factors": Param("choice", choices=(16, 32, 64, 128)),
        "regularization": Param("float", 1e-3, 1.0, log=True),
        "lr": Param("float", 1e-4, 5e-2, log=True),
    }
    has_item_vectors = True
    config: MFConfig
    module: FactorNet
    has_inner_product = True
    can_score_pairs = True
    # Under a ranking protocol, for each key the user did not choose: the ranking loss, and
    # the penalty that suits it (the default 0.1 was chosen for stars; docs/protocols.md
    # says why bpr, and why 0.01).
    ranking_settings = {"loss": "bpr", "regularization": 0.01}
    stars_settings = {"loss": "mse"}

    def __init__(self, config: MFConfig | None = None) -> None:
        super().__init__(config)
        self.can_predict_liked = self.config.target == "liked"

    @property
    def can_predict_ratings(self) -> bool:  # type: ignore[override]
        # Trained to rank, or on liked-or-not labels, it predicts no stars (predict refuses).
        return self.config.loss == "mse" and not self.can_predict_liked

    @property
    def task(self) -> str:  # type: ignore[override]
        # A liked model is judged on validation like a rating model: RMSE of its
        # probability against the 0/1 labels.
        return "rating" if self.config.loss == "mse" or self.can_predict_liked else "ranking"

    def fit(self, train: Interactions, valid: Interactions | None = None) -> "_FactorModel":
        self.settle_liked_threshold(train)
        return super().fit(train, valid)

    def fit_notes(self) -> list[str]:
        """Said where the stars it predicts for its own training ratings sit nearer the
        scale's lowest than the ratings' mean: a model of stars with no bias starts its
        scores near 0 and climbs to the ratings' level only over many optimiser steps, which
        a small log gives few of (one batch an epoch); its lists then come in the order of
        scores shown alike, at the lowest star."""
        notes = super().fit_notes()
        if self.biased or not self.can_predict_ratings or getattr(self, "module", None) is None:
            return notes
        try:
            train = self._train()
        except CapabilityError:
            return notes
        if not len(train):
            return notes
        step = max(1, len(train) // 20_000)  # (a spread of its pairs is enough)
        low, mean = float(self.module.low), float(train.ratings.mean())
        predicted = float(self.predict(train.users[::step], train.items[::step]).mean())
        if not predicted < (low + mean) / 2:
            return notes
        steps = -(-len(train) // self.config.batch_size)
        return notes + [f"{self.name}: the stars it predicts for its own training ratings average {predicted:.2f} "
                        f"where those ratings average {mean:.2f} (the scale's lowest is {low:g}): with no bias its "
                        f"scores start near 0 and had not reached the ratings' level when it stopped "
                        f"({len(self.history)} epochs of {steps} optimiser step{'' if steps == 1 else 's'} each); "
                        "train more epochs (--set epochs=N), or use biasedmf, which starts at the ratings' mean"]

    def is_liked(self, ratings: Any) -> np.ndarray:
        """``(n,) bool``: ``ratings >= liked_threshold`` (what ``target="liked"`` learns)."""
        if not self.can_predict_liked:
            return super().is_liked(ratings)
        return np.asarray(ratings, dtype=np.float64) >= self.liked_at(ratings)

    def _validation_targets(self, valid: Interactions) -> np.ndarray:
        if self.can_predict_liked:
            return self.is_liked(valid.ratings).astype(np.float64)
        return valid.ratings

    def _build(self, train: Interactions) -> FactorNet:
        cfg = self.config
        explicit = cfg.loss == "mse"
        r = train.ratings
        mean = float(r.mean()) if explicit and self.biased else 0.0
        if self.can_predict_liked and self.biased:  # start at the log-odds of the share liked
            p = float(np.clip(self.is_liked(r).mean(), 1e-3, 1 - 1e-3))
            mean = float(np.log(p / (1 - p)))
        low, high = (scale_of(train) or (-np.inf, np.inf)) if explicit else (-np.inf, np.inf)
        unit = star_unit(low, high) if explicit and not self.can_predict_liked else 1.0  # (log-odds: no stars)
        return FactorNet(train.n_users, train.n_items, cfg.factors, self.biased, cfg.init_std, mean, low, high, unit)

    def _epoch_data(self, train: Interactions, rng: np.random.Generator, device: torch.device) -> tuple[torch.Tensor, ...]:
        cfg = self.config
        if self.can_predict_liked:  # the rated pairs, labelled liked or not
            return (torch.from_numpy(train.users.astype(np.int64)).to(device),
                    torch.from_numpy(train.items.astype(np.int64)).to(device),
                    torch.from_numpy(self.is_liked(train.ratings).astype(np.float32)).to(device))
        if cfg.loss == "mse":
            return (torch.from_numpy(train.users.astype(np.int64)).to(device),
                    torch.from_numpy(train.items.astype(np.int64)).to(device),
                    torch.from_numpy(train.ratings.copy()).to(device))
        if cfg.loss == "bce":
            return pointwise_samples(train, cfg.negatives, rng, device, distribution=cfg.negative_distribution,
                                     exponent=cfg.negative_exponent)
        return pairwise_samples(train, cfg.negatives, rng, device, distribution=cfg.negative_distribution,
                                exponent=cfg.negative_exponent)

    def _loss(self, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        net = self.module
        loss = self.config.loss
        if loss == "mse":
            u, i, r = batch
            # (in the unit the factors score in: the penalty weighs the same on any scale)
            out = F.mse_loss(net(u, i).float() / net.unit, r / net.unit)
        elif loss == "bce":
            u, i, y = batch
            out = F.binary_cross_entropy_with_logits(net(u, i).float(), y)
        else:
            u, i, neg = batch
            out = -F.logsigmoid((net(u, i) - net(u, neg)).float()).mean()
        if self.config.regularization:
            out = out + self.config.regularization * self._penalty(u, i)
        return out

    def _penalty(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Mean squared norm of the batch's user and movie parameters."""
        net = self.module
        sq = net.user(users).pow(2).sum(-1) + net.item(items).pow(2).sum(-1)
        if net.biased:
            sq = sq + net.user_bias(users).squeeze(-1).pow(2) + net.item_bias(items).squeeze(-1).pow(2)
        return sq.mean()

    def _finish(self, raw: torch.Tensor) -> torch.Tensor:
        # A liked model scores the probability; the sigmoid keeps the order of the inner
        # products, so an index over query and key vectors still ranks it.
        return torch.sigmoid(raw) if self.can_predict_liked else raw

    def _score_rows(self, users: np.ndarray) -> torch.Tensor:
        return self._finish(self.module.rows(torch.as_tensor(users, dtype=torch.int64, device=self.device)))

    def _score_pairs(self, users: np.ndarray, items: np.ndarray) -> torch.Tensor:
        d = self.device
        return self._finish(self.module(torch.as_tensor(users, dtype=torch.int64, device=d),
                                        torch.as_tensor(items, dtype=torch.int64, device=d)))

    def predict_liked(self, users: Any, items: Any) -> np.ndarray:
        """``(n,) float32`` probability of liking (``target="liked"``) for (user, movie) pairs."""
        if not self.can_predict_liked:
            return super().predict_liked(users, items)
        return self.score(users, np.asarray(items))

    def predict(self, users: Any, items: Any) -> np.ndarray:
        """``(n,) float32`` stars for (user, movie) pairs, clipped to the training range."""
        if self.can_predict_liked:
            raise CapabilityError(f"{self.name} with target='liked' gives the probability of liking "
                                  "(predict_liked), not stars; predicting stars needs loss='mse'")
        if self.config.loss != "mse":
            raise CapabilityError(f"{self.name} trained with loss={self.config.loss!r} ranks movies; "
                                  "predicting stars needs loss='mse'")
        s = self.score(users, np.asarray(items))
        return np.clip(s, float(self.module.low), float(self.module.high)).astype(np.float32)

    def item_vectors(self) -> np.ndarray:
        """``(n_items, factors)`` movie factors."""
        return self.module.item.weight.detach().float().cpu().numpy()

    def query_vectors(self, users: np.ndarray) -> np.ndarray:
        """``(len(users), d)`` user factors, with a trailing 1 in the biased model.

        A user's bias and the global mean are the same for every movie, so they do not
        change the user's order and are left out.
        """
        with torch.no_grad():
            rows = self.module.user.weight[torch.as_tensor(users, dtype=torch.int64, device=self.device)]
            u = rows.detach().float().cpu().numpy()
        if self.biased:
            u = np.hstack([u, np.ones((len(u), 1), np.float32)])
        return u

    def key_vectors(self) -> np.ndarray:
        """``(n_items, d)`` movie factors, with the movie bias appended in the biased model."""
        v = self.item_vectors()
        if self.biased:
            v = np.hstack([v, self.module.item_bias.weight.detach().float().cpu().numpy()])
        return v

    def _index_on_gpu(self) -> bool:
        return self.device.type == "cuda"


@register
class MF(_FactorModel):
    """Plain matrix factorisation: score = user · movie (Koren, Bell, Volinsky 2009)."""

    name = "mf"


@register
class BiasedMF(_FactorModel):
    """Biased matrix factorisation: score = mean + b_user + b_movie + user · movie.

    The model of Koren, Bell and Volinsky (IEEE Computer 2009, eq. 4).
    """

    name = "biasedmf"
    biased = True
