"""A linear blend of rating models: ``blend``.

Models that make different kinds of mistakes average out each other's errors. The
Netflix Prize teams ("The BellKor Solution to the Netflix Grand Prize", Koren 2009)
blended many predictors with weights learned on ratings held out from training; this
model does the same with a few members:

1. hold out a seeded ``holdout`` share of the training ratings;
2. fit every member on the rest and predict the held-out ratings;
3. learn ``stars = intercept + sum_k w_k * member_k`` by least squares on them (a small
   ridge penalty, ``regularization``, keeps the weights tame when members agree closely);
4. refit every member on all the training ratings and keep the weights.

The default members are ``bpmf`` (a Bayesian factor model) and ``autorec`` (an
item-based autoencoder): on a validation carve-out of ml-100k's u1 training ratings
they score RMSE 0.904 and 0.902 alone and 0.888 blended, since one factorises the
rating matrix and the other reconstructs each movie's column of ratings.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cinerec.config import Config
from cinerec.data.dataset import Interactions
from cinerec.data.split import random_split
from cinerec.errors import ConfigError, DataError, NotFoundError
from cinerec.evaluation.metrics import rmse
from cinerec.models.base import MODELS, RatingRecommender, Recommender, create, load_model, register

__all__ = ["Blend", "BlendConfig"]


@dataclass(frozen=True)
class BlendConfig(Config):
    """Settings of :class:`Blend`.

    Attributes:
        members: names of the rating models blended, each at most once.
        settings: per-member config values, keyed by member name, e.g.
            ``{"bpmf": {"factors": 12}}`` (in TOML, a ``[settings.bpmf]`` table).
        holdout: share of the training ratings held out to learn the weights.
        regularization: L2 weight on the blend weights (a ridge regression), relative
            to the number of held-out ratings.
        seed: seeds the hold-out split (each member keeps its own seed).
    """

    renamed = {"ridge": "regularization"}

    members: tuple[str, ...] = ("bpmf", "autorec")
    settings: dict[str, Any] = field(default_factory=dict)
    holdout: float = 0.1
    regularization: float = 1e-3
    seed: int = 0

    def validate(self) -> None:
        self._check(len(self.members) >= 1, "members", "must name at least one rating model")
        self._check(len(set(self.members)) == len(self.members), "members", "names a model twice")
        self._check(0 < self.holdout < 1, "holdout", "must be a fraction strictly between 0 and 1")
        self._check(self.regularization >= 0, "regularization", "must be >= 0")
        self._check(isinstance(self.settings, dict), "settings", "must map member names to tables of settings")
        for name in self.settings:
            if name not in self.members:
                raise ConfigError(f"BlendConfig.settings: {name!r} is not one of the members {list(self.members)}")
        for name in self.members:
            self.member(name)  # unknown model, non-rating model or bad setting: named here

    def member(self, name: str) -> Recommender:
        """A new, unfitted member with its settings; it predicts stars (``can_predict_ratings``)."""
        if name == "blend":
            raise ConfigError("BlendConfig.members: a blend cannot contain another blend")
        values = self.settings.get(name, {})
        if not isinstance(values, dict):
            raise ConfigError(f"BlendConfig.settings.{name} = {values!r}: expected a table of settings")
        try:
            model = create(name, values, where=f"BlendConfig.settings.{name}")
        except NotFoundError as e:
            raise ConfigError(f"BlendConfig.members: {e}") from None
        if not model.can_predict_ratings or model.task != "rating":
            raise ConfigError(f"BlendConfig.members: {name!r} does not predict stars, so it cannot be blended")
        return model


@register
class Blend(RatingRecommender):
    """Least-squares blend of rating models, weights learned on held-out training ratings.

    ``valid``, when given, reaches every member (for early stopping); the weights are
    always learned on the blend's own hold-out of ``train``.
    """

    name = "blend"
    Config = BlendConfig
    config: BlendConfig

    def __init__(self, config: BlendConfig | None = None) -> None:
        super().__init__(config)
        # Scored through the shared protocol; each predicts stars (checked by BlendConfig.member).
        self.members: list[Recommender] = []
        # Its similarity is the first member's that has movie vectors.
        self.has_item_vectors = any(MODELS[m].has_item_vectors for m in self.config.members if m in MODELS)
        self.weights = np.zeros(0)
        self.intercept = 0.0
        self.low, self.high = -np.inf, np.inf
        self.holdout_rmse: dict[str, float] = {}

    def fit(self, train: Interactions, valid: Interactions | None = None) -> "Blend":
        cfg = self.config
        split = random_split(train, test=cfg.holdout, seed=cfg.seed)
        if len(split.train) == 0 or len(split.test) == 0:
            raise DataError(f"{self.name}: {len(train)} ratings are too few to hold {cfg.holdout:.0%} out")
        held = split.test
        preds = []
        for name in cfg.members:
            m = cfg.member(name).fit(split.train, valid)
            preds.append(np.asarray(m.score(held.users, held.items), dtype=np.float64))
        x = np.stack(preds, axis=1)
        y = held.ratings.astype(np.float64)
        self.weights, self.intercept = _ridge(x, y, cfg.regularization)
        self.low, self.high = float(train.ratings.min()), float(train.ratings.max())
        blended = np.clip(x @ self.weights + self.intercept, self.low, self.high)
        self.holdout_rmse = {name: rmse(np.clip(x[:, k], self.low, self.high), y) for k, name in enumerate(cfg.members)}
        self.holdout_rmse["blend"] = rmse(blended, y)
        self.members = [cfg.member(name).fit(train, valid) for name in cfg.members]
        self._remember(train)  # last: a member that fails leaves the blend unfitted
        return self

    def _combine(self, parts: list[np.ndarray]) -> np.ndarray:
        out = np.full(parts[0].shape, self.intercept, dtype=np.float32)
        for w, p in zip(self.weights, parts):
            out += np.float32(w) * np.asarray(p, dtype=np.float32)
        return out

    def _score_rows(self, users: np.ndarray) -> np.ndarray:
        return self._combine([m.score(users) for m in self.members])

    def _score_pairs(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return self._combine([m.score(users, items) for m in self.members])

    def predict(self, users: Any, items: Any) -> np.ndarray:
        """``(n,) float32`` blended stars for (user, movie) pairs, clipped to the training range."""
        return np.clip(self.score(users, np.asarray(items)), self.low, self.high).astype(np.float32)

    def item_vectors(self) -> np.ndarray | None:
        """The first member's movie vectors that has them (``None``: co-occurrence similarity)."""
        for m in self.members:
            v = m.item_vectors()
            if v is not None:
                return v
        return None

    def _save_state(self, path: Path) -> None:
        for k, m in enumerate(self.members):
            m.save(path / f"member-{k}-{m.name}")
        (path / "blend.json").write_text(json.dumps({
            "weights": [float(w) for w in self.weights], "intercept": self.intercept,
            "low": self.low, "high": self.high, "holdout_rmse": self.holdout_rmse,
        }, indent=2))

    def _load_state(self, path: Path) -> None:
        meta = json.loads((path / "blend.json").read_text())
        self.weights = np.asarray(meta["weights"], dtype=np.float64)
        self.intercept, self.low, self.high = float(meta["intercept"]), float(meta["low"]), float(meta["high"])
        self.holdout_rmse = dict(meta.get("holdout_rmse", {}))
        names = self.config.members
        if len(self.weights) != len(names):
            raise DataError(f"{path}/blend.json: {len(self.weights)} weights for {len(names)} members")
        self.members = []
        for k, name in enumerate(names):
            m = load_model(path / f"member-{k}-{name}")
            if m.name != name or (m.n_users, m.n_items) != (self.n_users, self.n_items):
                raise DataError(f"{path}/member-{k}-{name}: holds a {m.name!r} model of "
                                f"{m.n_users} users and {m.n_items} movies, not this blend's {name!r}")
            self.members.append(m)


def _ridge(x: np.ndarray, y: np.ndarray, ridge: float) -> tuple[np.ndarray, float]:
    """Weights and intercept of ``y ~ x w + b`` with ``ridge * n`` on ``|w|^2`` (not on ``b``)."""
    xm, ym = x.mean(axis=0), y.mean()
    xc = x - xm
    a = xc.T @ xc + ridge * len(y) * np.eye(x.shape[1])
    w = np.linalg.solve(a, xc.T @ (y - ym))
    return w, float(ym - xm @ w)
