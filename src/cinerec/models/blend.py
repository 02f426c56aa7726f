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

When ``fit`` is given validation ratings (``ratings-random``), the weights are learned on
those instead (``weights_on = "valid"``): the members are fitted once, on all the
training ratings, and predict the validation ratings; steps 1 and 4 fall away.

The default members are ``bpmf`` (a Bayesian factor model), ``autorec`` (an
item-based autoencoder) and ``knnbaseline`` (a neighbourhood model over baseline
estimates): one factorises the rating matrix, one reconstructs each movie's column of
ratings, one averages a user's residuals on the most similar movies. ``autorec`` is
averaged over 5 seeds and ``bpmf`` over 2 (``repeats``), and the weights vary with the
user's and the movie's numbers of ratings (``meta``, below). On two validation
carve-outs of ml-100k's u1 training ratings (a random tenth held out as the test, the
blend fitted on eight tenths without a validation set, as ``ratings-fold`` fits it)
bpmf + autorec alone blended to RMSE 0.8911 / 0.8979; adding knnbaseline 0.8909 /
0.8974; averaging autorec over 3 seeds 0.8900 / 0.8971, over 5 0.8892 / 0.8967;
two bpmf seeds on top 0.8890 / 0.8963; meta 0.8887 / 0.8962 (these defaults). The
members are fitted ``2 * (2 + 5 + 1)`` times, about three times the work of the plain
two-member blend.

``meta`` turns the blend into feature-weighted linear stacking (Sill, Takács, Mackey
and Lin, "Feature-Weighted Linear Stacking", 2009): each member's weight becomes a linear
function of meta-features of the pair, ``w_k(u, i) = w_k + sum_f v_kf g_f(u, i)``, so a
member can count for more where it is known to do well (a factor model on well-rated
movies, a neighbourhood model on users with long histories). The meta-features are
standardised log counts of the user's and the movie's training ratings (on the
hold-out, counts in the part the members were fitted on, scaled up to all of train); the ridge
regression is then on the member × meta-feature products plus the meta-features alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np

from cinerec.config import MAX_SEED, Config, shown_exactly
from cinerec.data.dataset import Dataset, Interactions
from cinerec.data.split import random_split
from cinerec.errors import ConfigError, DataError
from cinerec.evaluation.metrics import rmse
from cinerec.models.base import (MODELS, CapabilityError, RatingRecommender, Recommender, create, create_member, load_model,
                                 register, scale_of)

__all__ = ["Blend", "BlendConfig", "META_FEATURES"]

#: Meta-features of a (user, movie) pair that ``BlendConfig.meta`` may name; each is
#: one value per user or one per movie, from the training ratings.
META_FEATURES = ("user_count", "item_count")


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
        seed: seeds the hold-out split, and each member whose settings give it no seed of
            its own.
        repeats: per member name, how many fits with consecutive seeds (the member's
            ``seed``, ``seed + 1``, ...) are averaged into that member's prediction; a
            neural member's predictions vary with its seed, and their average is better
            than any one of them. Members not named are fitted once; a named model that
            is not a member is ignored (so the default stays valid for other members).
        meta: meta-features that make the weights vary by pair (feature-weighted
            linear stacking): ``"user_count"`` and ``"item_count"``, the log of one plus
            the user's (movie's) number of training ratings, standardised; empty: one
            constant weight per member.
        weights_on: ``"holdout"``: the weights are learned on the blend's own ``holdout``
            of ``train`` (members fitted on the rest, then refitted on all of it);
            ``"valid"`` (the default): on the validation ratings given to ``fit`` when
            there are any (``ratings-random``), from the members fitted once on all of
            ``train``; without them (``ratings-fold``), as ``"holdout"``. On two
            ``ratings-random`` carve-outs of ml-100k's training part "valid" scored MSE
            0.8122 / 0.8322 against 0.8128 / 0.8344, in about 60 % of the time.
        refit: with the weights learned on validation ratings, fit the members again on
            ``train`` and those ratings together and blend these with the same weights
            (a neural member trains for the epoch count its early stopping chose, as
            there is nothing left to stop on). On the same two carve-outs: MSE 0.7948 /
            0.8124 against 0.8122 / 0.8322, for about 1.5× the fit time.
    """

    renamed = {"ridge": "regularization"}

    members: tuple[str, ...] = ("bpmf", "autorec", "knnbaseline")
    settings: dict[str, Any] = field(default_factory=dict)
    holdout: float = 0.1
    regularization: float = 1e-3
    seed: int = 0
    meta: tuple[str, ...] = ("user_count", "item_count")
    repeats: dict[str, int] = field(default_factory=lambda: {"bpmf": 2, "autorec": 5})
    weights_on: str = "valid"
    refit: bool = True

    def validate(self) -> None:
        self._check(all(m in META_FEATURES for m in self.meta), "meta",
                    f"names a meta-feature other than {', '.join(META_FEATURES)}")
        self._check(len(set(self.meta)) == len(self.meta), "meta", "names a meta-feature twice")
        self._check(len(self.members) >= 1, "members", "must name at least one rating model")
        self._check(len(set(self.members)) == len(self.members), "members", "names a model twice")
        self._check(0 < self.holdout < 1, "holdout", "must be a fraction strictly between 0 and 1")
        self._check(self.weights_on in ("holdout", "valid"), "weights_on", 'must be "holdout" or "valid"')
        self._check(self.regularization >= 0, "regularization", "must be >= 0")
        self._check(isinstance(self.settings, dict), "settings", "must map member names to tables of settings")
        for name in self.settings:
            if name not in self.members:
                raise ConfigError(f"BlendConfig.settings: {name!r} is not one of the members {list(self.members)}")
        self._check(isinstance(self.repeats, dict), "repeats", "must map member names to counts")
        for name, count in self.repeats.items():
            if name not in MODELS:
                raise ConfigError(f"BlendConfig.repeats: unknown model {name!r} (known: {', '.join(sorted(MODELS))})")
            if not isinstance(count, int) or isinstance(count, bool):  # (said as TOML writes it: true, not True)
                raise ConfigError(f"BlendConfig.repeats.{name} = {shown_exactly(count)}: expected a whole number")
            if count < 1:
                raise ConfigError(f"BlendConfig.repeats.{name} = {count}: must be at least 1")
        for name in self.members:
            model = self.member(name)  # unknown model, non-rating model or bad setting: named here
            count = self.repeats.get(name, 1)
            if count > 1 and not hasattr(model.config, "seed"):
                raise ConfigError(f"BlendConfig.repeats.{name}: {name!r} has no seed, so its repeats would agree")
            # (a seed of the member's own: its repeats must fit above it; the blend's, which
            # --seed gives up to the largest, counts on past it from 0)
            if count > 1 and "seed" in self.settings.get(name, {}) and \
                    int(model.config.to_dict()["seed"]) + count - 1 > MAX_SEED:
                raise ConfigError(f"BlendConfig.settings.{name}: seed = {model.config.to_dict()['seed']} leaves no "
                                  f"room for its {count} repeats (seed, seed + 1, ...); the largest seed is 2**63 - 1")

    def copies(self) -> list[tuple[int, str, int]]:
        """``(member index, name, copy)`` of every model fitted, in order (copy 0 first)."""
        return [(k, name, c) for k, name in enumerate(self.members) for c in range(self.repeats.get(name, 1))]

    def member(self, name: str, copy: int = 0) -> Recommender:
        """A new, unfitted member with its settings; it predicts stars (``can_predict_ratings``).

        ``copy`` > 0 shifts the member's seed by that much (see ``repeats``).
        """
        model = create_member("blend", name, self.settings, self.seed)
        if not model.can_predict_ratings or model.task != "rating":
            raise ConfigError(f"BlendConfig.members: {name!r} does not predict stars, so it cannot be blended")
        if copy:
            seed = (int(model.config.to_dict()["seed"]) + copy) % (MAX_SEED + 1)
            model = create(name, {**self.settings.get(name, {}), "seed": seed}, where=f"BlendConfig.settings.{name}")
        model.settings_path = f"settings.{name}."  # (its messages name the setting as the blend's)
        return model


@register
class Blend(RatingRecommender):
    """Least-squares blend of rating models, weights learned on held-out ratings.

    ``valid``, when given, reaches every member (for early stopping); the weights are
    learned on it (``weights_on = "valid"``, the default), or without it, or with
    ``weights_on = "holdout"``, on the blend's own hold-out of ``train``.
    """

    name = "blend"
    Config = BlendConfig
    config: BlendConfig

    def __init__(self, config: BlendConfig | None = None) -> None:
        super().__init__(config)
        # Scored through the shared protocol; each predicts stars (checked by BlendConfig.member).
        # Every fitted model in the order of ``config.copies()``: a member's repeats side by side.
        self.members: list[Recommender] = []
        # Its similarity is the first member's that has movie vectors.
        self.has_item_vectors = any(MODELS[m].has_item_vectors for m in self.config.members if m in MODELS)
        self.weights = np.zeros(0)
        self.intercept = 0.0
        self.low, self.high = -np.inf, np.inf
        self.holdout_rmse: dict[str, float] = {}
        # Feature-weighted stacking (``meta``): per-member slopes on each meta-feature,
        # the meta-features' own weights, their standardisation and standardised values.
        self.meta_weights = np.zeros((len(self.config.members), len(self.config.meta)))
        self.meta_bias = np.zeros(len(self.config.meta))
        self.meta_centre = np.zeros(len(self.config.meta))
        self.meta_scale = np.ones(len(self.config.meta))
        self.meta_values: dict[str, np.ndarray] = {}
        # A member reading side features (mlp-rating, features = true) gets them through the blend.
        self.uses_features = any(self.config.member(m).uses_features for m in self.config.members)  # type: ignore[misc]
        self._features: Any = None

    def set_features(self, dataset: "Dataset") -> "Blend":
        """Hand ``dataset``'s side features to the members that take them (checked now: a
        member that cannot read them says so before any member is fitted)."""
        if not self.uses_features:
            raise CapabilityError(f"{self.name}: none of {list(self.config.members)} takes side features")
        was, self._features = self._features, dataset
        try:
            for name in self.config.members:
                self._member(name)
        except Exception:
            self._features = was
            raise
        return self

    def _member(self, name: str, copy: int = 0, like: Recommender | None = None) -> Recommender:
        """A new member (:meth:`BlendConfig.member`), trained for ``like``'s best epoch count
        when given (:func:`_again`), with the side features it reads."""
        model = self.config.member(name, copy)
        if like is not None:
            model = _again(model, like)
            model.settings_path = f"settings.{name}."
        if self._features is not None and model.uses_features:
            model.set_features(self._features)
        return model

    def fit(self, train: Interactions, valid: Interactions | None = None) -> "Blend":
        cfg = self.config
        on_valid = cfg.weights_on == "valid" and valid is not None and len(valid) > 0
        if on_valid:  # the members as they will be kept, and the protocol's validation ratings
            fitted_on, held = train, cast(Interactions, valid)
        else:
            split = random_split(train, test=cfg.holdout, seed=cfg.seed)
            if len(split.train) == 0 or len(split.test) == 0:
                raise DataError(f"{self.name}: {len(train)} ratings are too few to hold {cfg.holdout:.0%} out")
            fitted_on, held = split.train, split.test
        x = np.zeros((len(held), len(cfg.members)))
        members = []
        for k, name, copy in cfg.copies():
            m = self._member(name, copy).fit(fitted_on, valid)
            x[:, k] += np.asarray(m.score(held.users, held.items), dtype=np.float64) / cfg.repeats.get(name, 1)
            members.append(m)
        y = held.ratings.astype(np.float64)
        k, n_meta = len(cfg.members), len(cfg.meta)
        # Meta-features on the hold-out come from the ratings its members were fitted on,
        # counts scaled up to the size of all of train (where the weights are used);
        # centre and scale are fixed there and reused on all of train.
        refit = on_valid and cfg.refit
        final = train.concat(held) if refit else train  # the ratings the kept members learn from
        raw = _raw_meta(fitted_on, cfg.meta, scale=len(final) / len(fitted_on))
        g = np.stack([raw[f][held.users if f.startswith("user") else held.items] for f in cfg.meta], axis=1) \
            if n_meta else np.zeros((len(y), 0))
        centre, scale = g.mean(axis=0), np.maximum(g.std(axis=0), 1e-12)
        g = (g - centre) / scale
        design = np.concatenate([x, (x[:, :, None] * g[:, None, :]).reshape(len(y), k * n_meta), g], axis=1)
        w, intercept = _ridge(design, y, cfg.regularization)
        low, high = scale_of(train) or (-np.inf, np.inf)
        blended = np.clip(design @ w + intercept, low, high)
        holdout_rmse = {name: rmse(np.clip(x[:, k], low, high), y) for k, name in enumerate(cfg.members)}
        holdout_rmse["blend"] = rmse(blended, y)
        if refit:
            members = [self._member(name, copy, like=m).fit(final, None) for (_, name, copy), m in zip(cfg.copies(), members)]
        elif not on_valid:
            members = [self._member(name, copy).fit(train, valid) for _, name, copy in cfg.copies()]
        full = _raw_meta(final, cfg.meta)
        # Only now, every member fitted, does the blend take its new state: a member that
        # fails leaves an earlier fit whole (or the blend unfitted), never half of each.
        self.meta_centre, self.meta_scale, self.intercept = centre, scale, intercept
        self.weights, self.meta_weights, self.meta_bias = w[:k], w[k:k + k * n_meta].reshape(k, n_meta), w[k + k * n_meta:]
        self.low, self.high, self.holdout_rmse, self.members = low, high, holdout_rmse, members
        self.meta_values = {f: (full[f] - centre[n]) / scale[n] for n, f in enumerate(cfg.meta)}
        self._remember(train)
        return self

    def _combine(self, scores: list[np.ndarray], meta: list[np.ndarray]) -> np.ndarray:
        """``intercept + sum_k p_k (w_k + sum_f v_kf g_f) + sum_f c_f g_f``; ``meta`` broadcasts against the parts.

        ``scores`` holds one array per fitted model; a member's repeats are averaged into its ``p_k``.
        """
        parts = [np.zeros(np.shape(scores[0]), dtype=np.float32) for _ in self.config.members]
        for (k, name, _), p in zip(self.config.copies(), scores):
            parts[k] += np.asarray(p, dtype=np.float32) / np.float32(self.config.repeats.get(name, 1))
        out = np.full(parts[0].shape, self.intercept, dtype=np.float32)
        for f, g in enumerate(meta):
            out += np.float32(self.meta_bias[f]) * g
        for k, p in enumerate(parts):
            weight: np.ndarray | np.float32 = np.float32(self.weights[k])
            for f, g in enumerate(meta):
                weight = weight + np.float32(self.meta_weights[k, f]) * g
            out += weight * np.asarray(p, dtype=np.float32)
        return out

    def _meta(self, users: np.ndarray, items: np.ndarray | None) -> list[np.ndarray]:
        """Each meta-feature for the pairs, or as a column (users) / a row (movies) for whole rows."""
        out = []
        for f in self.config.meta:
            v = self.meta_values[f].astype(np.float32)
            if f.startswith("user"):
                out.append(v[users] if items is not None else v[users][:, None])
            else:
                out.append(v[items] if items is not None else v[None, :])
        return out

    def _score_rows(self, users: np.ndarray) -> np.ndarray:
        return self._combine([m.score(users) for m in self.members], self._meta(users, None))

    def _score_pairs(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return self._combine([m.score(users, items) for m in self.members], self._meta(users, items))

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
            "meta_weights": self.meta_weights.tolist(), "meta_bias": self.meta_bias.tolist(),
            "meta_centre": self.meta_centre.tolist(), "meta_scale": self.meta_scale.tolist(),
        }, indent=2))
        if self.config.meta:
            values: dict[str, Any] = dict(self.meta_values)
            np.savez(path / "meta.npz", **values)

    def _load_state(self, path: Path) -> None:
        meta = json.loads((path / "blend.json").read_text())
        names, n_meta = self.config.members, len(self.config.meta)
        try:  # (each value as written: an edited one is named, not a KeyError of the folder)
            key = "blend.json"
            if not isinstance(meta, dict):
                raise ValueError(f"expected a JSON object, got {type(meta).__name__}")
            for key in ("weights", "intercept", "low", "high", "meta_weights"):
                if key not in meta:
                    raise ValueError("missing")
            key = "weights"
            self.weights = np.asarray(meta["weights"], dtype=np.float64).reshape(-1)
            if len(self.weights) != len(names):
                raise ValueError(f"{len(self.weights)} weights for {len(names)} members")
            for key in ("intercept", "low", "high"):
                setattr(self, key, float(meta[key]))
            key = "holdout_rmse"
            self.holdout_rmse = dict(meta.get("holdout_rmse", {}))
            key = "meta_weights"
            saved = np.asarray(meta["meta_weights"], dtype=np.float64)
            if saved.size != len(names) * n_meta:  # (config.meta edited: the weights learned for other features)
                raise ValueError(f"{saved.size} weights, where {len(names)} members and the config's {n_meta} "
                                 f"meta features ({', '.join(self.config.meta) or 'none'}) take {len(names) * n_meta}")
            if n_meta:
                self.meta_weights = saved.reshape(len(names), n_meta)
                for key in ("meta_bias", "meta_centre", "meta_scale"):
                    setattr(self, key, np.asarray(meta[key], dtype=np.float64))
        except (KeyError, ValueError, TypeError) as e:
            raise DataError(f"{path}/blend.json: {key}: {'missing' if isinstance(e, KeyError) else e}") from None
        if n_meta:
            with np.load(path / "meta.npz", allow_pickle=False) as z:
                self.meta_values = {f: z[f] for f in self.config.meta}
            for f, v in self.meta_values.items():
                want = self.n_users if f.startswith("user") else self.n_items
                if len(v) != want:
                    raise DataError(f"{path}/meta.npz: {f} holds {len(v)} values, expected {want}")
        self.members = []
        for k, (_, name, _) in enumerate(self.config.copies()):
            m = load_model(path / f"member-{k}-{name}")
            if m.name != name or (m.n_users, m.n_items) != (self.n_users, self.n_items):
                raise DataError(f"{path}/member-{k}-{name}: holds a {m.name!r} model of "
                                f"{m.n_users} users and {m.n_items} movies, not this blend's {name!r}")
            self.members.append(m)


def _again(model: Recommender, fitted: Recommender) -> Recommender:
    """``model`` (a fresh copy of ``fitted``'s member) set to train for the epoch count at which
    ``fitted``'s validation RMSE was lowest, when it early-stopped on one; else as it is."""
    from cinerec.models.neural import NeuralRecommender

    curve = [h.get("valid") for h in getattr(fitted, "history", [])] if isinstance(fitted, NeuralRecommender) else []
    if not curve or any(v is None for v in curve):
        return model
    best = 1 + int(np.argmin(curve))
    return type(model)(model.config.replace(epochs=best))


def _raw_meta(train: Interactions, names: tuple[str, ...], scale: float = 1.0) -> dict[str, np.ndarray]:
    """Each named meta-feature, unstandardised: ``log(1 + scale * count)`` per user or per movie."""
    out = {}
    for f in names:
        ids, n = (train.users, train.n_users) if f == "user_count" else (train.items, train.n_items)
        out[f] = np.log1p(scale * np.bincount(ids, minlength=n).astype(np.float64))
    return out


def _ridge(x: np.ndarray, y: np.ndarray, ridge: float) -> tuple[np.ndarray, float]:
    """Weights and intercept of ``y ~ x w + b`` with ``ridge * n`` on ``|w|^2`` (not on ``b``)."""
    xm, ym = x.mean(axis=0), y.mean()
    xc = x - xm
    a = xc.T @ xc + ridge * len(y) * np.eye(x.shape[1])
    w = np.linalg.solve(a, xc.T @ (y - ym))
    return w, float(ym - xm @ w)
