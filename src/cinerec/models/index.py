"""Approximate nearest-neighbour search behind ``recommend`` and ``similar_items``.

A model whose ranking is an inner product (``has_inner_product``: ALS, MF, biased MF,
GMF, two-tower) exposes a query vector per user and a key vector per movie, with each
user's score order equal to the order of ``query · key``. With the setting
``index = "ivf"`` or ``"hnsw"`` a faiss index over the keys answers ``recommend``
instead of scoring the whole catalogue for every user; ``index = "exact"`` (the default)
keeps the exact path, whose answers are those of every other model.

Both kinds search by inner product directly (faiss's ``METRIC_INNER_PRODUCT``). The
usual alternative, an extra dimension that turns inner products into distances
(Bachrach et al., RecSys 2014), was measured and dropped: with ALS's movie factors,
whose lengths vary tenfold, it put every key near one pole of a sphere and HNSW's
recall@10 fell to 0.48 on the NCF study's shape, against 0.9999 searching by inner
product.

What the index returns is only a shortlist. Movies the user has seen are removed from
it exactly (the index is asked for ``k`` plus the number of movies to exclude), the
survivors are scored by the model itself and ranked by the shared
:func:`~cinerec.models.base.top_k` (ties to the lower movie index), and the rare user
whose shortlist comes up short is scored exactly over the whole catalogue. So every
answer holds only unseen movies with the model's own scores; only which movies make the
shortlist is approximate.

``similar_items`` uses a second index of the same kind over the unit-length movie
vectors (cosine). Both indexes are built on first use after ``fit`` and saved with the
model (``faiss.serialize_index`` bytes in ``index.npy`` and ``similar-index.npy``, no
pickle). On a CUDA model with a GPU build of faiss the search runs on the GPU.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Protocol, cast

import numpy as np
import scipy.sparse as sp

from cinerec.config import Config
from cinerec.data.dataset import Interactions
from cinerec.errors import ConfigError, DataError, NotFoundError
from cinerec.models.base import CapabilityError, Recommender, cosine_range, top_k
from cinerec.ranking import check_k

__all__ = ["IndexedRecommender", "VectorIndex", "INDEX_KINDS", "INDEX_SETTINGS", "check_index_settings"]

INDEX_KINDS = ("exact", "ivf", "hnsw")
#: Candidates built per graph node while adding movies to an HNSW index.
_EF_CONSTRUCTION = 200
#: The longest result list faiss's GPU search returns.
_GPU_MAX_K = 2048
#: A user who must skip more than this share of the catalogue is scored exactly: the
#: shortlist would be most of the catalogue anyway.
EXACT_SHARE = 0.25


def through_index(want: Any, n_items: int) -> Any:
    """Whether a search for ``want`` movies (a list's length and the movies it skips; one
    number or an array of them) goes through an index over ``n_items`` movies, not exact
    scoring: it asks for no more than :data:`EXACT_SHARE` of the catalogue. The one rule
    for lists, similar movies and what is said of them."""
    return np.asarray(want) <= EXACT_SHARE * n_items


#: The settings a model config adds to use an index, with their meaning:
#:
#: * ``index``: ``"exact"`` scores the whole catalogue (the answers of every other
#:   model, no faiss); ``"ivf"`` an inverted file over k-means cells; ``"hnsw"`` a
#:   navigable small-world graph.
#: * ``index_nlist``: IVF cells; 0 picks ``round(sqrt(n_items))`` (at most one cell per
#:   39 movies, faiss's minimum for training).
#: * ``index_nprobe``: IVF cells searched per query; 0 searches 70 % of the cells
#:   (factor models' movie vectors are not clustered enough for fewer to reach 0.95
#:   recall@10 against exact search), and a number past the cells searches every one.
#: * ``index_hnsw_m``: HNSW links per node.
#: * ``index_ef_search``: HNSW search breadth (raised to the shortlist length when that
#:   is larger).
#:
#: The defaults keep recall@10 against exact search at 0.95 or more on the measured
#: cases (``docs/benchmarks.md``).
INDEX_SETTINGS = ("index", "index_nlist", "index_nprobe", "index_hnsw_m", "index_ef_search")
#: The index kind each of the other settings belongs to: given to another kind, it would
#: be ignored.
_INDEX_SETTING_KIND = {"index_nlist": "ivf", "index_nprobe": "ivf", "index_hnsw_m": "hnsw", "index_ef_search": "hnsw"}


def check_index_settings(config: Config) -> None:
    """Raise ``ConfigError`` naming the index setting of ``config`` that is out of range."""
    c: Any = config
    config._check(c.index in INDEX_KINDS, "index", f"expected one of {', '.join(map(repr, INDEX_KINDS))}")
    config._check(c.index_nlist >= 0, "index_nlist", "must be >= 0 (0 picks the square root of the movie count)")
    config._check(c.index_nprobe >= 0, "index_nprobe", "must be >= 0 (0 searches 70 % of the cells)")
    config._check(c.index_hnsw_m >= 2, "index_hnsw_m", "must be at least 2")
    config._check(c.index_ef_search >= 1, "index_ef_search", "must be at least 1")
    defaults = {f.name: f.default for f in dataclasses.fields(c)}
    for name, kind in _INDEX_SETTING_KIND.items():
        config._check(c.index == kind or getattr(c, name) == defaults[name], name,
                      f"only an index = {kind!r} uses it (index is {c.index!r})")


def max_ivf_cells(n_items: int) -> int:
    """The most IVF cells ``n_items`` movies fill: faiss trains each cell's centroid on at
    least 39 movies."""
    return max(1, n_items // 39)


def check_nlist(nlist: int, n_items: int) -> None:
    """Refuse an ``index_nlist`` that ``n_items`` movies cannot fill, in one line."""
    most = max_ivf_cells(n_items)
    if nlist > most:
        raise ConfigError(f"index_nlist = {nlist}: at most {most} IVF cells for {n_items:,} movies "
                          "(39 movies per cell); 0 picks the square root of the movie count")


def _faiss() -> Any:
    try:
        import faiss
    except ImportError:  # pragma: no cover - faiss-cpu is a dependency
        raise ConfigError("index: faiss is not installed (pip install faiss-cpu)") from None
    return faiss


class VectorIndex:
    """A faiss index answering "the keys of largest inner product with each query".

    Args:
        kind: ``"ivf"`` or ``"hnsw"``.
        keys: ``(n, d) float32`` vectors to search.
        nlist, nprobe, hnsw_m, ef_search: as ``index_nlist`` ... in :data:`INDEX_SETTINGS`.
        gpu: search on a GPU when faiss has GPU support (build and storage stay on CPU).
    """

    def __init__(self, kind: str, keys: np.ndarray, *, nlist: int = 0, nprobe: int = 0,
                 hnsw_m: int = 32, ef_search: int = 128, gpu: bool = False) -> None:
        faiss = _faiss()
        keys = np.ascontiguousarray(keys, dtype=np.float32)
        n, d = keys.shape
        self.kind, self.n, self.ef_search = kind, n, ef_search
        # A single thread while building: faiss's parallel HNSW insertion (and k-means)
        # depend on thread timing, and a model's answers must not.
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            if kind == "ivf":
                check_nlist(nlist, n)
                cells = min(nlist or max(1, int(round(np.sqrt(n)))), max_ivf_cells(n))
                index = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, cells, faiss.METRIC_INNER_PRODUCT)
                index.cp.seed = 1234
                # Fewer than 39 movies fill their one cell: said by faiss on stderr, raw, at
                # each build ("WARNING clustering 5 points to 1 centroids").
                index.cp.min_points_per_centroid = 1
                index.train(keys)
                index.add(keys)
            elif kind == "hnsw":
                index = faiss.IndexHNSWFlat(d, hnsw_m, faiss.METRIC_INNER_PRODUCT)
                index.hnsw.efConstruction = _EF_CONSTRUCTION
                index.add(keys)
            else:
                raise ConfigError(f"index = {kind!r}: expected 'ivf' or 'hnsw' (exact search needs no index)")
        finally:
            faiss.omp_set_num_threads(threads)
        self.index = index
        self.nprobe = self._probes(nprobe)
        self._gpu = self._to_gpu(kind, index, self.nprobe) if gpu else None

    @classmethod
    def from_bytes(cls, kind: str, blob: np.ndarray, *, nprobe: int, ef_search: int, gpu: bool = False) -> "VectorIndex":
        """An index read back from :meth:`to_bytes`."""
        faiss = _faiss()
        self = cls.__new__(cls)
        self.index = faiss.deserialize_index(np.ascontiguousarray(blob, dtype=np.uint8))
        held = "ivf" if isinstance(self.index, faiss.IndexIVF) else \
            "hnsw" if isinstance(self.index, faiss.IndexHNSW) else type(self.index).__name__
        if held != kind:
            raise DataError(f"holds an index of kind {held!r}, the model's is {kind!r}")
        self.kind, self.n, self.ef_search = kind, int(self.index.ntotal), ef_search
        self.nprobe = self._probes(nprobe)
        self._gpu = self._to_gpu(kind, self.index, self.nprobe) if gpu else None
        return self

    def _probes(self, nprobe: int) -> int:
        """IVF cells searched: ``nprobe``, or 70 % of the cells when 0."""
        if self.kind != "ivf":
            return nprobe
        return nprobe or max(1, int(np.ceil(0.7 * self.index.nlist)))

    def to_bytes(self) -> np.ndarray:
        """``(n_bytes,) uint8``: the index as ``faiss.serialize_index`` writes it."""
        return _faiss().serialize_index(self.index)

    @staticmethod
    def _to_gpu(kind: str, index: Any, nprobe: int) -> Any:
        """A GPU copy of an IVF index, or None (a CPU build of faiss; faiss has no GPU HNSW)."""
        faiss = _faiss()
        if kind != "ivf" or not hasattr(faiss, "StandardGpuResources") or faiss.get_num_gpus() < 1:
            return None
        index.nprobe = nprobe  # the copy keeps it
        return faiss.index_cpu_to_gpu(faiss.StandardGpuResources(), 0, index)

    def search(self, queries: np.ndarray, k: int) -> np.ndarray:
        """``(n, k) int64`` key indices, nearest first; ``-1`` where fewer were found."""
        q = np.ascontiguousarray(queries, dtype=np.float32)
        k = int(min(k, self.n))
        if self._gpu is not None and k <= _GPU_MAX_K:
            return self._gpu.search(q, k)[1]
        # Per-call parameters, not settings on the shared index: concurrent searches
        # (the API answers requests on several threads) do not disturb each other.
        faiss = _faiss()
        if self.kind == "ivf":
            params = faiss.SearchParametersIVF(nprobe=self.nprobe)
        else:
            params = faiss.SearchParametersHNSW(efSearch=max(self.ef_search, k))
        return self.index.search(q, k, params=params)[1]


class _IndexSettings(Protocol):
    """The index settings a model's config carries when the model can use an index."""

    index: str
    index_nlist: int
    index_nprobe: int
    index_hnsw_m: int
    index_ef_search: int


class IndexedRecommender(Recommender):
    """Mixin of the models that can search their movies through a :class:`VectorIndex`.

    A model sets ``has_inner_product = True`` and implements :meth:`query_vectors` and
    :meth:`key_vectors`; its config carries the :data:`INDEX_SETTINGS`. Asking a model
    without inner-product vectors for an index is refused when it is built.
    """

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self._check_index(self.config)
        self._ann: VectorIndex | None = None
        self._ann_similar: VectorIndex | None = None

    def _check_fit_data(self, train: Interactions) -> None:
        # Known before fitting, and whether or not a protocol ever builds the index.
        self.check_size(train.n_users, train.n_items)

    def check_size(self, n_users: int, n_items: int) -> None:
        super().check_size(n_users, n_items)
        settings = cast(_IndexSettings, self.config)
        if settings.index == "ivf":
            check_nlist(settings.index_nlist, n_items)

    def _check_index(self, config: Config) -> None:
        check_index_settings(config)
        kind = cast(_IndexSettings, config).index
        if kind != "exact" and not self.has_inner_product:
            raise ConfigError(
                f"{self.name}: index = {kind!r} needs user and movie vectors whose inner product "
                f"orders the scores, which {self.name} does not have; use index = 'exact'")

    # -- what a model provides -----------------------------------------------------------

    # Models that set ``has_inner_product`` override both; the others never reach them,
    # since _check_index refuses an index for them.
    def query_vectors(self, users: np.ndarray) -> np.ndarray:
        """``(len(users), d) float32``: each user's side of the inner product."""
        raise CapabilityError(f"{self.name} has no user vectors whose inner product orders its scores")

    def key_vectors(self) -> np.ndarray:
        """``(n_items, d) float32``: each movie's side of the inner product."""
        raise CapabilityError(f"{self.name} has no movie vectors whose inner product orders its scores")

    def _index_on_gpu(self) -> bool:
        """Whether searches should run on a GPU (neural models on CUDA say so)."""
        return False

    def with_index(self, index: str, **settings: Any) -> "IndexedRecommender":
        """The same fitted model answering through another index (no refit).

        ``settings`` are other :data:`INDEX_SETTINGS` (e.g. ``index_nprobe=32``); those of
        other index kinds go back to their defaults. The copy shares this model's parameters; its index is built on first use.
        """
        import copy

        unknown = set(settings) - set(INDEX_SETTINGS)
        if unknown:
            raise ConfigError(f"{self.name}: {sorted(unknown)[0]!r} is not an index setting ({', '.join(INDEX_SETTINGS)})")
        # The settings of the kind left behind go back to their defaults: the new kind
        # would not use them.
        defaults = {f.name: f.default for f in dataclasses.fields(self.config)}
        left = {name: defaults[name] for name, kind in _INDEX_SETTING_KIND.items() if kind != index}
        other = copy.copy(self)
        other.config = self.config.replace(index=index, **{**left, **settings})
        self._check_index(other.config)
        other._ann = other._ann_similar = None
        return other

    # -- the index -----------------------------------------------------------------------

    def _remember(self, train: Interactions) -> None:
        super()._remember(train)
        self._ann = self._ann_similar = None  # a refit invalidates both indexes

    @property
    def _ix(self) -> _IndexSettings:
        # Every model that mixes this in carries the index settings in its config.
        return cast(_IndexSettings, self.config)

    def _movie_vectors(self) -> np.ndarray:
        vec = self.similarity_vectors()
        if vec is None:
            raise CapabilityError(f"{self.name}: has no movie vectors to index")
        return vec

    def _build_index(self, keys: np.ndarray) -> VectorIndex:
        c = self._ix
        return VectorIndex(c.index, keys, nlist=c.index_nlist, nprobe=c.index_nprobe, hnsw_m=c.index_hnsw_m,
                           ef_search=c.index_ef_search, gpu=self._index_on_gpu())

    def ann_index(self) -> VectorIndex:
        """The index over :meth:`key_vectors` (built on first use)."""
        self._train()
        if self._ann is None:
            self._ann = self._build_index(self.key_vectors())
        return self._ann

    def similar_index(self) -> VectorIndex:
        """The index over unit-length :meth:`item_vectors` (built on first use)."""
        self._train()
        if self._ann_similar is None:
            self._ann_similar = self._build_index(_unit(self._movie_vectors()))
        return self._ann_similar

    # -- recommend and similar_items through the index -----------------------------------

    def _recommend_chunk(self, users: np.ndarray, k: int, seen: sp.csr_matrix | None,
                         candidates: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        if self._ix.index == "exact" or candidates is not None:
            return super()._recommend_chunk(users, k, seen, candidates)
        return self._search_chunk(users, k, sp.csr_matrix(seen[users]) if seen is not None else None)

    def _search_chunk(self, users: np.ndarray, k: int, seen: sp.csr_matrix | None) -> tuple[np.ndarray, np.ndarray]:
        n_items = self.n_items
        n_seen = np.diff(seen.indptr) if seen is not None else np.zeros(len(users), np.int64)
        want = k + n_seen
        items = np.full((len(users), k), -1, np.int32)
        scores = np.full((len(users), k), -np.inf, np.float32)
        exact = ~through_index(want, n_items)
        searched = np.flatnonzero(~exact)
        if len(searched):
            q = np.asarray(self.query_vectors(users[searched]))
            # A query of zeros finds every movie alike: the index would hand back any of
            # them, where ties go to the lower movie (scored exactly instead).
            blank = ~q.any(axis=1)
            if blank.any():
                exact[searched[blank]] = True
                searched, q = searched[~blank], q[~blank]
        if len(searched):
            index = self.ann_index()
            # One search per power-of-two shortlist length: a user who has seen thousands
            # of movies does not make every other user's search that long.
            bucket = np.ceil(np.log2(np.maximum(want[searched], 1))).astype(np.int64)
            for b in np.unique(bucket):
                rows = searched[bucket == b]
                ids = index.search(q[bucket == b], int(2 ** b))
                it, sc, short = self._rank_shortlist(users[rows], ids, k, seen[rows] if seen is not None else None)
                items[rows], scores[rows] = it, sc
                exact[rows[short]] = True
        rest = np.flatnonzero(exact)
        if len(rest):
            ex = seen[rest] if seen is not None else None
            items[rest], scores[rest] = top_k(self._score_rows(users[rest]), k, ex, copy=False)
        return items, scores

    def _rank_shortlist(self, users: np.ndarray, ids: np.ndarray, k: int,
                        seen: sp.csr_matrix | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The model's own top-``k`` of each shortlist, and which rows came up short."""
        n_items = self.n_items
        ids = np.sort(np.where(ids < 0, n_items, ids), axis=1)  # item order: ties go to the lower movie
        valid = ids < n_items
        cand = np.where(valid, ids, 0)
        sc = np.asarray(self.score(users, cand), dtype=np.float32)
        sc[~valid] = -np.inf
        ex = None
        if seen is not None and seen.nnz:
            ex = sp.csr_matrix(seen)
            ex.sort_indices()
        it, out = top_k(sc, k, ex, cand, copy=False)  # removes the seen movies exactly
        n_unseen = n_items - (np.diff(seen.indptr) if seen is not None else 0)
        short = np.isfinite(out).sum(axis=1) < np.minimum(k, n_unseen)
        return it, out, short

    def similar_items(self, items: Any, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        k = check_k(k)
        if self._ix.index == "exact":
            return super().similar_items(items, k)
        it = np.atleast_1d(np.asarray(items, dtype=np.int64))
        n = self.n_items
        if len(it) and (it.min() < 0 or it.max() >= n):
            raise NotFoundError(f"movie index {it[(it < 0) | (it >= n)][0]} outside [0, {n})")
        if not through_index(k + 1, n):
            return super().similar_items(items, k)
        vec = _unit(self._movie_vectors())
        ids = self.similar_index().search(vec[it], k + 1)
        ids = np.sort(np.where((ids < 0) | (ids == it[:, None]), n, ids), axis=1)
        valid = ids < n
        cand = np.where(valid, ids, 0)
        sc = cosine_range(np.einsum("nd,nmd->nm", vec[it], vec[cand]).astype(np.float32))
        sc[~valid] = -np.inf
        out_items, out_scores = top_k(sc, k, None, cand, copy=False)
        # (a movie of a zero vector is like every movie alike: the index's pick among them is
        # any, where ties go to the lower movie)
        short = np.flatnonzero((valid.sum(axis=1) < min(k, n - 1)) | ~vec[it].any(axis=1))
        if len(short):
            out_items[short], out_scores[short] = super().similar_items(it[short], k)
        return out_items, out_scores

    # -- persistence ---------------------------------------------------------------------

    def _save_state(self, path: Path) -> None:
        super()._save_state(path)
        if self._ix.index != "exact":
            np.save(path / "index.npy", self.ann_index().to_bytes())
            np.save(path / "similar-index.npy", self.similar_index().to_bytes())

    def _load_state(self, path: Path) -> None:
        super()._load_state(path)
        self._ann = self._ann_similar = None
        if self._ix.index == "exact":
            return
        c = self._ix
        for name, attr, vectors in (("index.npy", "_ann", self.key_vectors),
                                    ("similar-index.npy", "_ann_similar", self._movie_vectors)):
            f = path / name
            if not f.exists():
                raise DataError(f"{f}: file is missing (the model was saved with index = {c.index!r})")
            try:
                blob = np.load(f, allow_pickle=False)
                index = VectorIndex.from_bytes(c.index, blob, nprobe=c.index_nprobe, ef_search=c.index_ef_search,
                                               gpu=self._index_on_gpu())
            except DataError as e:  # (another kind of index)
                raise DataError(f"{f}: {e}") from None
            except (OSError, ValueError, EOFError, RuntimeError) as e:  # (faiss's own errors)
                said = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                raise DataError(f"{f}: saved model is damaged, this file cut short or overwritten "
                                f"({type(e).__name__}: {said[:200]})") from None
            if index.n != self.n_items:
                raise DataError(f"{f}: the index holds {index.n} movies, the model knows {self.n_items}")
            dims = np.shape(vectors())[1]
            if index.index.d != dims:
                raise DataError(f"{f}: the index holds vectors of {index.index.d} numbers, the model's have {dims}")
            setattr(self, attr, index)


def _unit(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32)
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
