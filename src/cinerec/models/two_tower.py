"""Two-tower retrieval with in-batch sampled softmax and the log-Q correction.

Yi, Yang, Hong, Cheng, Heldt, Kumthekar, Zhao, Wei and Chi, "Sampling-Bias-Corrected
Neural Modeling for Large Corpus Item Recommendations", RecSys 2019.

A user tower and a movie tower each map their inputs through an MLP to a normalised
``factors``-dimensional vector; the score of a (user, movie) pair is the dot product of the
two. Training treats every other movie of a batch as a negative (in-batch softmax).
Popular movies turn up as in-batch negatives more often than rare ones, which would
push their scores down for everyone; subtracting ``log q(movie)`` (the chance the movie
is in a batch, estimated from its training frequency) from each logit removes that
bias. Retrieval is brute force over the whole catalogue through the shared ``top_k``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from cinerec.data.dataset import Interactions
from cinerec.errors import DataError
from cinerec.models.base import register
from cinerec.data.sampling import positive_pairs
from cinerec.models.index import IndexedRecommender, check_index_settings
from cinerec.models.neural import NeuralRecommender
from cinerec.training import TrainConfig
from cinerec.tuning import Param

if TYPE_CHECKING:
    from cinerec.data.dataset import Dataset

__all__ = ["TwoTower", "TwoTowerConfig", "TowerFeatures", "AGE_EDGES", "YEAR_EDGES", "add_feature_inputs",
           "user_inputs", "item_inputs"]

#: Age buckets (as ml-1m publishes them): under 18, 18-24, 25-34, 35-44, 45-49, 50-55, 56+.
AGE_EDGES = (18, 25, 35, 45, 50, 56)
#: Release-year buckets; two years wide from 1990, where most MovieLens movies were
#: released (ml-100k's all end by 1998; the later releases' run to the 2020s, which one
#: bucket from 1998 on made alike). Bucket 0 is "unknown year".
YEAR_EDGES = (1930, 1940, 1950, 1960, 1970, 1980, 1985, 1990, 1992, 1994, 1996, 1998, *range(2000, 2025, 2))

_USER_COLUMNS = ("age", "gender", "occupation")
#: Zip-code regions: the first digit of a US zip code (0-9), and 10 for any other code.
ZIP_REGIONS = 11


def _digest(head: str, arrays: tuple[np.ndarray, ...]) -> str:
    """A short hash of ``head`` and each array's shape and bytes."""
    import hashlib

    h = hashlib.blake2b(digest_size=8)
    h.update(head.encode())
    for a in arrays:
        h.update(repr(a.shape).encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


@dataclass(frozen=True, eq=False)
class TowerFeatures:
    """Side features of users and movies, encoded as small integer codes and flags.

    Attributes:
        user_columns: names of the user feature columns present (subset of age,
            gender, occupation, zip), in the order of ``user_codes``' columns.
        user_codes: ``(n_users, len(user_columns)) int64`` category codes.
        user_vocab: number of categories of each user column.
        item_genres: ``(n_items, n_genres) float32`` genre flags.
        item_year: ``(n_items,) int64`` release-year bucket (0 = unknown).
    """

    user_columns: tuple[str, ...]
    user_codes: np.ndarray
    user_vocab: tuple[int, ...]
    item_genres: np.ndarray
    item_year: np.ndarray

    @property
    def n_users(self) -> int:
        return len(self.user_codes)

    @property
    def n_items(self) -> int:
        return len(self.item_year)

    @property
    def is_empty(self) -> bool:
        """Nothing beyond the ids: no user column, no genre, no known release year."""
        return not self.user_columns and not self.item_genres.shape[1] and not self.item_year.any()

    def movie_words(self) -> str:
        """What the movies' side reads that tells movies apart, in words: ``"genres and
        release years"``, one of them with what is missing, or ``"ids only (no genres or
        release years)"``. Years all in one bucket (or all unknown), or the same genres
        for every movie, tell none apart; years known for fewer than half the movies are
        said with their count (a catalogue whose titles carry no year: one in 1,682 did)."""
        genres = self.item_genres.shape[1] > 0 and len(np.unique(self.item_genres, axis=0)) > 1
        years = len(np.unique(self.item_year)) > 1
        known, n = int(np.count_nonzero(self.item_year)), len(self.item_year)
        few = f"known for only {known:,} of {n:,} movies" if years and known < n / 2 else ""
        if genres and years:
            return f"genres and release years ({few})" if few else "genres and release years"
        if genres:
            why = "none is known" if not self.item_year.any() else "every movie's falls in one bucket"
            return f"genres only (no release years: {why})"
        if years:
            why = "none is given" if not self.item_genres.any() else "every movie has the same"
            return f"release years only ({few + '; ' if few else ''}no genres: {why})"
        return "ids only (no genres or release years)"

    @classmethod
    def from_dataset(cls, dataset: "Dataset", zip_prefix: bool = False) -> "TowerFeatures":
        """Encode ``dataset.user_features`` (when present) and ``dataset.catalog``; with
        ``zip_prefix``, a ``zip`` column too when the users have one: the first digit of
        the zip code, a US region (``ZIP_REGIONS - 1`` for a code that does not start with one)."""
        n_users = dataset.n_users
        columns: list[str] = []
        codes: list[np.ndarray] = []
        vocab: list[int] = []
        uf = dataset.user_features
        if uf is not None:
            for col in _USER_COLUMNS:
                if col not in uf.columns:
                    continue
                values = uf[col].to_numpy()
                if col == "age":
                    ages = np.asarray(values, dtype=np.float64)
                    code = np.digitize(ages, AGE_EDGES).astype(np.int64)
                    n = len(AGE_EDGES) + 1
                else:
                    _, code = np.unique(np.asarray(values).astype(str), return_inverse=True)
                    code = code.astype(np.int64).ravel()
                    n = int(code.max()) + 1 if len(code) else 1
                columns.append(col)
                codes.append(code)
                vocab.append(n)
            if zip_prefix and "zip" in uf.columns:
                first = np.array([str(z).strip()[:1] for z in uf["zip"].to_numpy()])
                region = np.where(np.char.isdigit(first), first, str(ZIP_REGIONS - 1))
                columns.append("zip")
                codes.append(region.astype(np.int64))
                vocab.append(ZIP_REGIONS)
        user_codes = np.stack(codes, axis=1) if codes else np.zeros((n_users, 0), np.int64)
        years = np.asarray(dataset.catalog.years, dtype=np.int64)
        year = np.where(years > 0, 1 + np.digitize(years, YEAR_EDGES), 0).astype(np.int64)
        genres = np.asarray(dataset.catalog.genres, dtype=np.float32)
        return cls(tuple(columns), user_codes, tuple(vocab), genres, year)

    def save(self, path: Path) -> None:
        np.savez(path, user_columns=np.array(self.user_columns, dtype=str), user_codes=self.user_codes,
                 user_vocab=np.array(self.user_vocab, dtype=np.int64), item_genres=self.item_genres,
                 item_year=self.item_year)

    def fingerprint(self) -> str:
        """A hash of every feature, so a checkpoint can tell whether it was trained on these."""
        return _digest(repr((self.user_columns, self.user_vocab)), (self.user_codes, self.item_genres, self.item_year))

    def part_fingerprints(self) -> dict[str, str]:
        """A hash of the users' features and one of the movies', so that a checkpoint can
        say which of them changed."""
        return {"users": _digest(repr((self.user_columns, self.user_vocab)), (self.user_codes,)),
                "movies": _digest("", (self.item_genres, self.item_year))}

    @classmethod
    def load(cls, path: Path) -> "TowerFeatures":
        with np.load(path, allow_pickle=False) as z:
            return cls(tuple(str(c) for c in z["user_columns"]), z["user_codes"].astype(np.int64),
                       tuple(int(v) for v in z["user_vocab"]), z["item_genres"].astype(np.float32),
                       z["item_year"].astype(np.int64))


@dataclass(frozen=True)
class TwoTowerConfig(TrainConfig):
    """Settings of :class:`TwoTower` (defaults tuned on MovieLens-100K).

    Attributes:
        factors: size of the normalised output vectors of both towers (the vectors
            whose dot product is the score).
        id_embedding: size of the user-id and movie-id embeddings.
        feature_embedding: size of each side-feature embedding.
        layers: hidden layer sizes of each tower's MLP (empty: a single linear map).
        temperature: softmax temperature dividing the cosine scores during training.
        logq: subtract ``log q(movie)`` from the in-batch logits (Yi et al.'s correction).
        dropout: dropout inside the towers' MLPs.
        zip_prefix: the user tower also reads the first digit of the zip code (a US
            region; any other code is one more region), where the data has zip codes.
    """

    renamed = {"dim": "factors", "embedding": "id_embedding", "hidden": "layers"}

    factors: int = 64
    id_embedding: int = 64
    feature_embedding: int = 16
    layers: tuple[int, ...] = (128,)
    temperature: float = 0.1
    logq: bool = True
    dropout: float = 0.0
    zip_prefix: bool = False
    epochs: int = 10
    # 256 in-batch negatives: the softmax costs batch^2 per step, and on ml-100k a
    # larger batch bought no recall@10 on a validation carve-out.
    batch_size: int = 256
    lr: float = 2e-3
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
        self._check(self.id_embedding >= 1, "id_embedding", "must be at least 1")
        self._check(self.feature_embedding >= 1, "feature_embedding", "must be at least 1")
        self._check(all(h >= 1 for h in self.layers), "layers", "layer sizes must be at least 1")
        self._check(self.temperature > 0, "temperature", "must be > 0")
        self._check(0 <= self.dropout < 1, "dropout", "must be in [0, 1)")
        # (a batch of one row holds no other movie to learn against: the loss is 0, nothing trains)
        self._check(self.batch_size >= TwoTower.min_batch_rows, "batch_size",
                    f"must be at least {TwoTower.min_batch_rows}: each movie of a batch is learned against the "
                    "batch's other movies")


def _mlp(width: int, hidden: tuple[int, ...], out: int, dropout: float) -> nn.Sequential:
    layers: list[nn.Module] = []
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU(), nn.Dropout(dropout)]
        width = h
    layers.append(nn.Linear(width, out))
    return nn.Sequential(*layers)


def add_feature_inputs(net: Any, feats: TowerFeatures | None, width: int) -> tuple[int, int]:
    """Give ``net`` embeddings of ``feats`` (the users' codes, the movies' genres and year),
    each ``width`` wide, and the feature tables as buffers; return the extra widths
    ``(user, item)`` they add (``(0, 0)`` without features).

    Shared by the two-tower model and mlp-rating; :func:`user_inputs` and
    :func:`item_inputs` read them back.
    """
    net.has_features = feats is not None
    net.user_feats = nn.ModuleList()
    net.genre = None
    if feats is None:
        return 0, 0
    for n in feats.user_vocab:
        net.user_feats.append(nn.Embedding(n, width))
    if feats.item_genres.shape[1]:
        net.genre = nn.Linear(feats.item_genres.shape[1], width, bias=False)
    net.year = nn.Embedding(int(feats.item_year.max(initial=0)) + 1, width)
    # Side features are inputs, not parameters: non-persistent buffers move with the
    # module but are saved once, in features.npz.
    net.register_buffer("user_codes", torch.from_numpy(feats.user_codes), persistent=False)
    net.register_buffer("item_genres", torch.from_numpy(feats.item_genres), persistent=False)
    net.register_buffer("item_year", torch.from_numpy(feats.item_year), persistent=False)
    return width * len(feats.user_vocab), width * (2 if net.genre is not None else 1)


def user_inputs(net: Any, ids: torch.Tensor, users: torch.Tensor) -> torch.Tensor:
    """``ids`` (the users' id embeddings), then their feature embeddings when ``net`` has them."""
    if not net.has_features:
        return ids
    codes = net.user_codes[users]
    return torch.cat([ids, *(emb(codes[:, j]) for j, emb in enumerate(net.user_feats))], dim=1)


def item_inputs(net: Any, ids: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
    """``ids`` (the movies' id embeddings), then their genre and year embeddings when ``net`` has them."""
    if not net.has_features:
        return ids
    parts = [ids] + ([net.genre(net.item_genres[items])] if net.genre is not None else [])
    return torch.cat([*parts, net.year(net.item_year[items])], dim=1)


class _Towers(nn.Module):
    user_codes: torch.Tensor
    item_genres: torch.Tensor
    item_year: torch.Tensor
    log_q: torch.Tensor

    def __init__(self, n_users: int, n_items: int, cfg: TwoTowerConfig, feats: TowerFeatures | None,
                 item_counts: np.ndarray) -> None:
        super().__init__()
        e, fe = cfg.id_embedding, cfg.feature_embedding
        self.user_id = nn.Embedding(n_users, e)
        self.item_id = nn.Embedding(n_items, e)
        for emb in (self.user_id, self.item_id):
            nn.init.normal_(emb.weight, std=0.1)
        extra_u, extra_i = add_feature_inputs(self, feats, fe)
        u_width, i_width = e + extra_u, e + extra_i
        self.user_mlp = _mlp(u_width, cfg.layers, cfg.factors, cfg.dropout)
        self.item_mlp = _mlp(i_width, cfg.layers, cfg.factors, cfg.dropout)
        q = np.maximum(item_counts.astype(np.float64), 1.0)
        self.register_buffer("log_q", torch.from_numpy(np.log(q / q.sum()).astype(np.float32)), persistent=False)

    def users(self, u: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.user_mlp(user_inputs(self, self.user_id(u), u)), dim=1)

    def items(self, i: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.item_mlp(item_inputs(self, self.item_id(i), i)), dim=1)


@register
class TwoTower(IndexedRecommender, NeuralRecommender):
    """Two-tower retrieval (Yi et al., RecSys 2019): in-batch softmax with log-Q correction.

    The user tower reads the user-id embedding plus, when known, embeddings of the age
    bucket (:data:`AGE_EDGES`), gender and occupation (and the zip code's first digit with
    ``zip_prefix``); the movie tower reads the movie-id
    embedding plus the genre flags and the release-year bucket (:data:`YEAR_EDGES`).

    ``fit`` only receives interactions, so side features come in beforehand::

        model = create("two-tower")
        model.set_features(dataset)   # or TwoTower(config, features=TowerFeatures.from_dataset(dataset))
        model.fit(train)

    Without features the towers read ids only. Features are saved with the model
    (``features.npz``) and come back on load.
    """

    name = "two-tower"
    min_batch_rows = 2  # (in-batch negatives)
    search_space = {
        "factors": Param("choice", choices=(32, 64, 128)),
        "temperature": Param("float", 0.02, 1.0, log=True),
        "lr": Param("float", 5e-4, 1e-2, log=True),
    }
    has_item_vectors = True
    uses_features = True
    Config = TwoTowerConfig
    task = "ranking"
    config: TwoTowerConfig
    module: _Towers
    has_inner_product = True
    can_score_pairs = True

    def __init__(self, config: TwoTowerConfig | None = None, features: TowerFeatures | None = None) -> None:
        super().__init__(config)
        self.features: TowerFeatures | None = features

    def set_features(self, dataset: "Dataset") -> "TwoTower":
        """Use ``dataset``'s user demographics and movie catalogue as tower inputs."""
        self.features = TowerFeatures.from_dataset(dataset, zip_prefix=self.config.zip_prefix)
        return self

    def fit_notes(self) -> list[str]:
        """Said where the towers read less than their name promises: no features given
        (both towers on ids alone), data without user demographics (the user tower on ids
        alone), a catalogue without genres or years (the movie tower without them), the note
        naming what the movie tower did read."""
        f = self.features
        if f is None:  # (fitted on ratings alone, from Python: the command line always gives them)
            return super().fit_notes() + [f"{self.name}: no side features were given, so both towers read ids only; "
                                          "call set_features(dataset) before fit"]
        movies = f.movie_words()
        if f.user_columns and movies == "genres and release years":
            return super().fit_notes()
        wanted = "age, gender, occupation, zip code" if self.config.zip_prefix else "age, gender, occupation"
        users = "" if f.user_columns else \
            f"the data has no user demographics ({wanted}): the user tower read ids only, "
        return super().fit_notes() + [f"{self.name}: {users}the movie tower read {movies}"]

    @property
    def vectors_without_ratings(self) -> bool:  # type: ignore[override]
        """The movie tower reads genres or a release year: a movie nobody rated still has
        a vector that says something of it."""
        f = self.features
        return f is not None and (f.item_genres.shape[1] > 0 or bool(f.item_year.any()))

    def _build(self, train: Interactions) -> _Towers:
        f = self.features
        if f is not None and (f.n_users, f.n_items) != (train.n_users, train.n_items):
            raise DataError(
                f"{self.name}: features describe {f.n_users} users x {f.n_items} movies, the training "
                f"data has {train.n_users} x {train.n_items}; call set_features with the same dataset")
        return _Towers(train.n_users, train.n_items, self.config, f, train.item_counts)

    def _epoch_data(self, train: Interactions, rng: np.random.Generator, device: torch.device) -> tuple[torch.Tensor, ...]:
        u, i = positive_pairs(train)
        return torch.from_numpy(u).to(device), torch.from_numpy(i).to(device)

    def _loss(self, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        users, items = batch
        net = self.module
        logits = net.users(users).float() @ net.items(items).float().T / self.config.temperature
        if self.config.logq:
            logits = logits - net.log_q[items][None, :]
        # The same movie twice in a batch is a positive, not a negative, for both rows.
        dup = (items[:, None] == items[None, :]) & ~torch.eye(len(items), dtype=torch.bool, device=items.device)
        logits = logits.masked_fill(dup, float("-inf"))
        return F.cross_entropy(logits, torch.arange(len(items), device=items.device))

    def _item_matrix(self) -> torch.Tensor:
        net = self.module
        return net.items(torch.arange(self.n_items, device=net.log_q.device))

    def _score_rows(self, users: np.ndarray) -> torch.Tensor:
        net = self.module
        u = torch.as_tensor(users, dtype=torch.int64, device=net.log_q.device)
        return net.users(u).float() @ self._item_matrix().float().T

    def _score_pairs(self, users: np.ndarray, items: np.ndarray) -> torch.Tensor:
        net = self.module
        dev = net.log_q.device
        u = net.users(torch.as_tensor(users, dtype=torch.int64, device=dev)).float()
        v = net.items(torch.as_tensor(items, dtype=torch.int64, device=dev)).float()
        return (u * v).sum(dim=1)

    def user_vectors(self, users: np.ndarray) -> np.ndarray:
        """``(len(users), factors) float32`` user-tower outputs."""
        net = self.module
        net.eval()
        with torch.no_grad():
            return net.users(torch.as_tensor(users, dtype=torch.int64, device=net.log_q.device)).float().cpu().numpy()

    def item_vectors(self) -> np.ndarray:
        """``(n_items, factors) float32`` movie-tower outputs (unit length)."""
        self.module.eval()
        with torch.no_grad():
            return self._item_matrix().float().cpu().numpy()

    def query_vectors(self, users: np.ndarray) -> np.ndarray:
        """``(len(users), dim)`` user-tower outputs: scores are their dot products with :meth:`key_vectors`."""
        return self.user_vectors(np.asarray(users, dtype=np.int64))

    def key_vectors(self) -> np.ndarray:
        """``(n_items, dim)`` movie-tower outputs."""
        return self.item_vectors()

    def _index_on_gpu(self) -> bool:
        return self.device.type == "cuda"

    def _save_state(self, path: Path) -> None:
        super()._save_state(path)
        if self.features is not None:
            self.features.save(path / "features.npz")

    def _load_state(self, path: Path) -> None:
        f = path / "features.npz"
        self.features = TowerFeatures.load(f) if f.exists() else None
        try:
            super()._load_state(path)
        except DataError as e:
            if f.exists() or "do not fit" not in str(e):
                raise
            # Weights that read features, without the file of them: the file is what is missing
            # (it blamed weights.pt).
            raise DataError(f"{f}: missing, and the saved weights read the features it held (the model's towers "
                            "are built from it)") from None
