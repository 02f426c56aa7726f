"""``mlp-rating``: user and movie embeddings fed through an MLP that predicts the rating.

The embedding-MLP rating model of Covington, Adams and Sargin, "Deep Neural Networks
for YouTube Recommendations" (RecSys 2016) and of the usual Keras MovieLens
walk-throughs, learned with squared error on the stars. With ``target="liked"`` the same
network learns a "liked it" probability instead: log loss on ``rating >= liked_threshold``.

With ``features = true`` the MLP also reads side features beside the two ids, as the
embedding-MLP study on ml-100k did: the user's age bucket, gender, occupation and
zip-code region (the first digit of a US zip code; any other code is one region), and the
movie's genre flags and release-year bucket (the encoding of
:class:`~cinerec.models.two_tower.TowerFeatures`). They come from a dataset before ``fit``
(:meth:`MLPRating.set_features`) and are saved with the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from cinerec.data.dataset import Interactions, data_label
from cinerec.errors import DataError, said
from cinerec.models.base import CapabilityError, RatingRecommender, register, scale_of
from cinerec.models.neural import NeuralRecommender
from cinerec.models.two_tower import ZIP_REGIONS, TowerFeatures, add_feature_inputs, item_inputs, user_inputs
from cinerec.training import TrainConfig
from cinerec.tuning import Param

if TYPE_CHECKING:
    from cinerec.data.dataset import Dataset

__all__ = ["MLPRating", "MLPRatingConfig", "RatingMLPNet", "rating_features", "ZIP_REGIONS"]

_PAIRS_PER_CHUNK = 1 << 19
FEATURES = "features.npz"

def rating_features(dataset: "Dataset") -> TowerFeatures:
    """The side features :class:`MLPRating` reads, encoded from ``dataset``:
    :meth:`TowerFeatures.from_dataset` with the zip code's region (age bucket, gender,
    occupation, zip region; genre flags and release-year bucket)."""
    return TowerFeatures.from_dataset(dataset, zip_prefix=True)


@dataclass(frozen=True)
class MLPRatingConfig(TrainConfig):
    """Settings of :class:`MLPRating`.

    Attributes:
        factors: embedding size of users and of movies.
        layers: hidden sizes of the MLP over the concatenated embeddings.
        dropout: dropout on the embeddings and after each hidden layer.
        target: ``rating`` (squared error on stars) or ``liked`` (log loss on
            ``rating >= liked_threshold``).
        liked_threshold: stars from which a rating counts as "liked"; unset, three
            quarters of the way up the training ratings' scale (4 on 1 to 5 stars, 7.75
            on 1 to 10), written into the config at fit.
        features: also read the users' demographics and the movies' genres and year
            beside the ids (:meth:`MLPRating.set_features` before ``fit``).
        feature_embedding: size of each side-feature embedding (``features = true``).
    """

    factors: int = 32
    layers: tuple[int, ...] = (64, 32)
    dropout: float = 0.2
    target: Literal["rating", "liked"] = "rating"
    liked_threshold: float | None = None
    features: bool = False
    feature_embedding: int = 8
    epochs: int = 30
    batch_size: int = 1024
    lr: float = 1e-3
    regularization: float = 1e-5
    patience: int = 3

    def validate(self) -> None:
        super().validate()
        self._check(self.factors >= 1, "factors", "must be at least 1")
        self._check(len(self.layers) >= 1 and all(h >= 1 for h in self.layers), "layers",
                    "must list one or more hidden sizes, each a positive whole number")
        self._check(0 <= self.dropout < 1, "dropout", "must be in [0, 1)")
        self._check(self.liked_threshold is None or np.isfinite(self.liked_threshold), "liked_threshold",
                    "must be a finite number")
        self._check(self.feature_embedding >= 1, "feature_embedding", "must be at least 1")


class RatingMLPNet(nn.Module):
    """``[user side; movie side]`` → ReLU tower → one output, offset by the mean target.

    The user side is the user's embedding (and, with features, one embedding per
    demographic column); the movie side the movie's embedding (and a linear map of its
    genre flags and an embedding of its year bucket).
    """

    mean: torch.Tensor
    low: torch.Tensor
    high: torch.Tensor
    user_codes: torch.Tensor
    item_genres: torch.Tensor
    item_year: torch.Tensor

    def __init__(self, n_users: int, n_items: int, factors: int, layers: tuple[int, ...], dropout: float,
                 mean: float, low: float, high: float, features: TowerFeatures | None = None,
                 feature_embedding: int = 8) -> None:
        super().__init__()
        self.user = nn.Embedding(n_users, factors)
        self.item = nn.Embedding(n_items, factors)
        nn.init.normal_(self.user.weight, std=0.05)
        nn.init.normal_(self.item.weight, std=0.05)
        extra_u, extra_i = add_feature_inputs(self, features, feature_embedding)
        u_width, i_width = factors + extra_u, factors + extra_i
        self.user_width = u_width
        self.drop = nn.Dropout(dropout)
        mods: list[nn.Module] = []
        width = u_width + i_width
        for h in layers:
            mods += [nn.Linear(width, h), nn.ReLU(), nn.Dropout(dropout)]
            width = h
        mods.append(nn.Linear(width, 1))
        self.tower = nn.Sequential(*mods)
        self.register_buffer("mean", torch.tensor(float(mean)))
        self.register_buffer("low", torch.tensor(float(low)))
        self.register_buffer("high", torch.tensor(float(high)))

    def user_side(self, users: torch.Tensor) -> torch.Tensor:
        """``(n, user_width)``: the users' embeddings, then their feature embeddings."""
        return user_inputs(self, self.user(users), users)

    def item_side(self, items: torch.Tensor) -> torch.Tensor:
        """``(n, item width)``: the movies' embeddings, then their genre and year embeddings."""
        return item_inputs(self, self.item(items), items)

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """``(n,)`` raw outputs (stars, or logits of "liked") for ``(n,) int64`` indices."""
        x = torch.cat([self.user_side(users), self.item_side(items)], dim=1)
        return self.tower(self.drop(x)).squeeze(-1) + self.mean

    def rows(self, users: torch.Tensor) -> torch.Tensor:
        """``(len(users), n_items)`` raw outputs over the whole catalog (eval mode)."""
        f = self.user_width
        first = cast(nn.Linear, self.tower[0])  # __init__ always starts the tower with a Linear
        # W [p; q] + b = W_p p + (W_q q + b): project users and movies once, not per pair.
        a = self.user_side(users) @ first.weight[:, :f].T
        every = torch.arange(self.item.num_embeddings, device=first.weight.device)
        b = torch.addmm(first.bias, self.item_side(every), first.weight[:, f:].T)
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
    liking the movie (``target="liked"``, also :meth:`predict_liked`); ``predict`` gives
    stars clipped to the training range and needs ``target="rating"``.

    With ``features = true`` side features come in before ``fit``::

        model = create("mlp-rating", {"features": True}).set_features(dataset)
        model.fit(train)

    A person the model was not trained on cannot be scored (``score_history`` refuses):
    the network needs the person's own embedding.
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

    def __init__(self, config: MLPRatingConfig | None = None, features: TowerFeatures | None = None) -> None:
        super().__init__(config)
        self.features: TowerFeatures | None = features
        self.can_predict_liked = self.config.target == "liked"
        self.uses_features = self.config.features  # type: ignore[misc]  # follows the config

    @property
    def can_predict_ratings(self) -> bool:  # type: ignore[override]
        return not self.can_predict_liked  # (target = "liked": predict refuses, predict_liked answers)

    def set_features(self, dataset: "Dataset") -> "MLPRating":
        """Read the users' demographics and the movies' genres and years from ``dataset`` (:func:`rating_features`)."""
        if not self.config.features:
            raise CapabilityError(f"{self.name} reads ids only unless features = true")
        features = rating_features(dataset)
        if features.is_empty:  # an ids-only model under a name that says otherwise
            log = dataset.info.get("format") == "log" and not dataset.info.get("catalog")
            where = (" (a ratings log takes genres and years from its catalogue: "
                     f"{said('--catalog', 'load(catalog=...)')}, or its own title, genres and year columns)") if log else ""
            raise DataError(f"{self.name}: features = true, but {data_label(dataset)} has no user demographics, genres "
                            f"or release years to read{where}; set {self.settings_path}features = false")
        self.features = features
        return self

    def fit_notes(self) -> list[str]:
        """Said where ``features = true`` read less than it says: no user demographics, or
        movies without genres or known years (an all-unknown year was read without a word)."""
        f = self.features
        if not self.config.features or f is None:
            return super().fit_notes()
        movies = f.movie_words()
        if f.user_columns and movies == "genres and release years":
            return super().fit_notes()
        users = "" if f.user_columns else \
            "the data has no user demographics (age, gender, occupation, zip code), so it read the users' ids only; "
        return super().fit_notes() + [f"{self.name}: features = true, but {users}of the movies it read {movies}"]

    def fit(self, train: Interactions, valid: Interactions | None = None) -> "MLPRating":
        self.settle_liked_threshold(train)
        return super().fit(train, valid)

    def is_liked(self, ratings: Any) -> np.ndarray:
        """``(n,) bool``: ``ratings >= liked_threshold`` (what ``target="liked"`` learns)."""
        if not self.can_predict_liked:
            return super().is_liked(ratings)
        return np.asarray(ratings, dtype=np.float64) >= self.liked_at(ratings)

    def predict_liked(self, users: Any, items: Any) -> np.ndarray:
        """``(n,) float32`` probability of liking (``target="liked"``) for (user, movie) pairs."""
        if not self.can_predict_liked:
            return super().predict_liked(users, items)
        return self.score(users, np.asarray(items))

    def _targets(self, ratings: np.ndarray) -> np.ndarray:
        if self.config.target == "liked":
            return (ratings >= self.liked_at(ratings)).astype(np.float32)
        return ratings.astype(np.float32)

    def _validation_targets(self, valid: Interactions) -> np.ndarray:
        return self._targets(valid.ratings).astype(np.float64)

    def _build(self, train: Interactions) -> RatingMLPNet:
        c = self.config
        f = self.features if c.features else None
        if c.features and f is None:
            raise DataError(f"{self.name}: features = true, but no features were given; call "
                            "set_features(dataset) before fit")
        if f is not None and (f.n_users, f.n_items) != (train.n_users, train.n_items):
            raise DataError(
                f"{self.name}: features describe {f.n_users} users x {f.n_items} movies, the training "
                f"data has {train.n_users} x {train.n_items}; call set_features with the same dataset")
        y = self._targets(train.ratings)
        if c.target == "liked":
            p = float(np.clip(y.mean(), 1e-3, 1 - 1e-3))
            mean, low, high = float(np.log(p / (1 - p))), 0.0, 1.0
        else:
            mean, (low, high) = float(y.mean()), scale_of(train) or (float(y.min()), float(y.max()))
        return RatingMLPNet(train.n_users, train.n_items, c.factors, c.layers, c.dropout, mean, low, high,
                            f, c.feature_embedding)

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

    def _save_state(self, path: Path) -> None:
        super()._save_state(path)
        if self.config.features and self.features is not None:
            self.features.save(path / FEATURES)

    def _load_state(self, path: Path) -> None:
        if self.config.features:
            if not (path / FEATURES).exists():
                raise DataError(f"{path}: {FEATURES} is missing; a features = true model needs it")
            self.features = TowerFeatures.load(path / FEATURES)
        super()._load_state(path)
