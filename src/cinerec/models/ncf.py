"""Neural collaborative filtering: ``gmf``, ``mlp`` and ``neumf``.

He, Liao, Zhang, Nie, Hu and Chua, "Neural Collaborative Filtering", WWW 2017.

* GMF: the element-wise product of a user and a movie embedding, weighted by a learned
  output layer (matrix factorisation with a learned, non-uniform dot product).
* MLP: user and movie embeddings concatenated and passed through a ReLU tower.
* NeuMF: both, with separate embeddings, their last layers concatenated into one
  output. It may start from trained GMF and MLP weights, the output layer blending
  them as ``[pretrain_mix * h_gmf, (1 - pretrain_mix) * h_mlp]`` (section 3.4.1 of
  the paper, where the share is called alpha).

All three learn from implicit feedback with the paper's pointwise log loss: every
rating is a positive and ``negatives`` unseen movies per positive, drawn afresh each
epoch, are negatives.

Speed: the user's GMF and MLP embeddings share one table (and the movie's another), so
a batch costs two lookups whatever the variant. The first MLP layer splits into a user
part and a movie part, ``W [p; q] + b = W_p p + (W_q q + b)``: whole-catalog scoring,
and training batches larger than the id space (ml-100k with batches of thousands),
project every user and movie once and gather, instead of multiplying once per pair.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, cast

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from cinerec.data import transforms
from cinerec.data.dataset import Interactions
from cinerec.errors import CinerecError, ConfigError
from cinerec.models.base import load_model, register
from cinerec.data.sampling import pointwise_samples, with_unseen
from cinerec.models.index import IndexedRecommender, check_index_settings
from cinerec.models.neural import NeuralRecommender
from cinerec.training import TrainConfig
from cinerec.tuning import Param

__all__ = ["NCFConfig", "NeuMFConfig", "NCFNet", "GMF", "MLP", "NeuMF", "recency_weights"]

#: Scores computed at once when ranking the whole catalog (bounds the MLP activations).
_PAIRS_PER_CHUNK = 1 << 19


@dataclass(frozen=True)
class NCFConfig(TrainConfig):
    """Settings of :class:`GMF`, :class:`MLP` and :class:`NeuMF`.

    Defaults were compared on a validation carve-out of the ml-100k leave-latest-out
    training data (NeuMF validation HR@10 0.698, best epoch 12); :class:`NeuMFConfig`
    changes a few of them for NeuMF.

    Attributes:
        factors: GMF embedding size (GMF and NeuMF).
        mlp_factors: MLP embedding size per side; the tower's input is twice this.
        layers: hidden sizes of the MLP tower, e.g. ``(64, 32)``.
        dropout: dropout after each hidden layer.
        negatives: sampled unseen movies per positive, fresh each epoch (the paper's 4).
        init_std: standard deviation of the normal initial embeddings (the paper's 0.01).
        pretrain: NeuMF only: first train a GMF and an MLP with these settings and start
            from their weights.
        gmf_path, mlp_path: NeuMF only: saved ``gmf`` / ``mlp`` model folders to start
            from instead (both or neither).
        pretrain_mix: NeuMF only: weight of the GMF part in the pretrained output layer
            (the MLP part gets ``1 - pretrain_mix``; the paper's alpha).
        recency_half_life: a fraction of each user's own time span; 0 turns it off.
            When positive, each positive's log-loss term is multiplied by
            ``0.5 ** (age / (recency_half_life * span))``, where ``age`` is the time from
            that rating back to the user's latest training rating and ``span`` the time
            from their earliest to latest training rating (a zero span gives weight 1).
            Computed once per fit from the training timestamps; scoring is unchanged.
        recency_negatives: the negatives drawn for a positive share its weight (when
            false they keep weight 1).
    """

    renamed = {"alpha": "pretrain_mix"}

    factors: int = 16
    mlp_factors: int = 16
    layers: tuple[int, ...] = (64, 32)
    dropout: float = 0.0
    negatives: int = 4
    init_std: float = 0.01
    pretrain: bool = False
    gmf_path: str = ""
    mlp_path: str = ""
    pretrain_mix: float = 0.5
    recency_half_life: float = 0.0
    recency_negatives: bool = True
    epochs: int = 20
    batch_size: int = 8192
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
        self._check(self.mlp_factors >= 1, "mlp_factors", "must be at least 1")
        self._check(len(self.layers) >= 1 and all(h >= 1 for h in self.layers), "layers",
                    "must list one or more hidden sizes, each a positive whole number")
        self._check(0 <= self.dropout < 1, "dropout", "must be in [0, 1)")
        self._check(self.negatives >= 1, "negatives", "must be at least 1")
        self._check(self.init_std > 0, "init_std", "must be positive")
        self._check(0 <= self.pretrain_mix <= 1, "pretrain_mix", "must be in [0, 1]")
        self._check(self.recency_half_life >= 0 and np.isfinite(self.recency_half_life), "recency_half_life",
                    "must be a finite number >= 0 (0 turns it off)")
        self._check(bool(self.gmf_path) == bool(self.mlp_path), "gmf_path",
                    "give both gmf_path and mlp_path, or neither")


@dataclass(frozen=True)
class NeuMFConfig(NCFConfig):
    """Settings of :class:`NeuMF`: :class:`NCFConfig` with recency weighting on.

    Chosen on the seed-0 validation carve-out of ml-100k's leave-latest-out training
    data (validation item: each user's second-latest rating), mean best HR@10 over three
    model seeds: 0.693 without the decay at lr 0.005, 0.711 with ``recency_half_life``
    0.2 (0.702-0.709 for 0.1, 0.3, 0.5; weighting the negatives too did no better),
    0.722 with that and lr 0.002, whose seed-0 run peaked at epoch 20. The same lr
    without the decay reached 0.683. Then batches of 2,048 for 8 epochs (rather than
    8,192 for 20): the candidate ``benchmarks/defaults.py`` picked over the five ml-100k
    folds and the filtered ml-25m shape (docs/defaults.md), in about half the fit time.
    GMF and MLP keep :class:`NCFConfig`'s defaults (neither change was compared for them).
    """

    recency_half_life: float = 0.2
    recency_negatives: bool = False
    lr: float = 2e-3
    epochs: int = 8
    batch_size: int = 2048


class NCFNet(nn.Module):
    """The GMF, MLP or NeuMF network.

    ``user`` / ``item`` tables hold ``[gmf part | mlp part]`` side by side (either part
    absent for the single variants).
    """

    def __init__(self, n_users: int, n_items: int, kind: str, factors: int, mlp_factors: int,
                 layers: tuple[int, ...], dropout: float, init_std: float) -> None:
        super().__init__()
        self.kind = kind
        self.g = factors if kind in ("gmf", "neumf") else 0
        self.m = mlp_factors if kind in ("mlp", "neumf") else 0
        self.user = nn.Embedding(n_users, self.g + self.m)
        self.item = nn.Embedding(n_items, self.g + self.m)
        nn.init.normal_(self.user.weight, std=init_std)
        nn.init.normal_(self.item.weight, std=init_std)
        tower: list[nn.Module] = []
        width = 2 * self.m
        if self.m:
            for h in layers:
                tower += [nn.Linear(width, h), nn.ReLU()]
                if dropout:
                    tower.append(nn.Dropout(dropout))
                width = h
        self.tower = nn.Sequential(*tower)
        self.out_width = self.g + (width if self.m else 0)
        self.predict = nn.Linear(self.out_width, 1)
        for mod in self.modules():
            if isinstance(mod, nn.Linear):
                nn.init.xavier_uniform_(mod.weight)
                nn.init.zeros_(mod.bias)

    def _head(self, gmf: torch.Tensor | None, mlp_in: torch.Tensor | None, first: bool = True) -> torch.Tensor:
        parts = []
        if gmf is not None:
            parts.append(gmf)
        if mlp_in is not None:
            parts.append(self.tower(mlp_in) if first else self.tower[1:](mlp_in))
        h = parts[0] if len(parts) == 1 else torch.cat(parts, dim=-1)
        return self.predict(h).squeeze(-1)

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """``(n,)`` logits for ``(n,) int64`` user and movie indices."""
        g, m = self.g, self.m
        n_rows = self.user.num_embeddings + self.item.num_embeddings
        if m and len(users) > n_rows:
            # A batch larger than the id space: project every user and movie through the
            # first MLP layer once and gather the results. Same function and gradients as
            # the concatenation below, at a cost set by the id space, not the batch.
            first = cast(nn.Linear, self.tower[0])  # with an MLP part, __init__ starts the tower with a Linear
            pu = self.user.weight[:, g:] @ first.weight[:, :m].T
            qi = torch.addmm(first.bias, self.item.weight[:, g:], first.weight[:, m:].T)
            mlp: torch.Tensor | None = pu.index_select(0, users) + qi.index_select(0, items)
            gmf: torch.Tensor | None = None
            if g:
                gmf = self.user.weight[:, :g].index_select(0, users) * self.item.weight[:, :g].index_select(0, items)
            return self._head(gmf, mlp, first=False)
        p, q = self.user(users), self.item(items)
        gmf = p[:, :g] * q[:, :g] if g else None
        mlp = torch.cat([p[:, g:], q[:, g:]], dim=1) if m else None
        return self._head(gmf, mlp)

    def rows(self, users: torch.Tensor) -> torch.Tensor:
        """``(len(users), n_items)`` logits over the whole catalog."""
        g, m = self.g, self.m
        p = self.user(users)
        q = self.item.weight
        n_u, n_i = len(users), q.shape[0]
        if m:
            # W [p; q] + b = (W_p p) + (W_q q + b): one projection per user and per movie.
            first = cast(nn.Linear, self.tower[0])  # with an MLP part, __init__ starts the tower with a Linear
            a = p[:, g:] @ first.weight[:, :m].T
            b = torch.addmm(first.bias, q[:, g:], first.weight[:, m:].T)
        out = torch.empty(n_u, n_i, device=q.device, dtype=torch.float32)
        step = max(1, _PAIRS_PER_CHUNK // max(n_i, 1))
        for s in range(0, n_u, step):
            e = min(n_u, s + step)
            gmf = (p[s:e, None, :g] * q[None, :, :g]) if g else None
            mlp = (a[s:e, None, :] + b[None, :, :]) if m else None
            out[s:e] = self._head(gmf, mlp, first=False).float()
        return out


class _NCFModel(IndexedRecommender, NeuralRecommender):
    Config = NCFConfig
    kind = "neumf"
    search_space = {
        "factors": Param("choice", choices=(8, 16, 32, 64)),
        "lr": Param("float", 5e-4, 2e-2, log=True),
        "negatives": Param("int", 1, 8),
    }
    has_item_vectors = True
    config: NCFConfig
    module: NCFNet
    can_score_pairs = True

    def _build(self, train: Interactions) -> NCFNet:
        c = self.config
        return NCFNet(train.n_users, train.n_items, self.kind, c.factors, c.mlp_factors, c.layers,
                      c.dropout, c.init_std)

    def _epoch_data(self, train: Interactions, rng: np.random.Generator, device: torch.device) -> tuple[torch.Tensor, ...]:
        c = self.config
        data = pointwise_samples(train, c.negatives, rng, device, distribution=c.negative_distribution,
                                 exponent=c.negative_exponent)
        w = self._sample_weights(train, device)
        return data if w is None else (*data, w)

    def _sample_weights(self, train: Interactions, device: torch.device) -> torch.Tensor | None:
        """``(n_pos * (1 + negatives),) float32`` loss weights in ``pointwise_samples`` order, or None when off.

        Built once per training set (the loop asks every epoch; only the negatives change).
        """
        c = self.config
        if c.recency_half_life <= 0:
            return None
        cached = getattr(self, "_weights_cache", None)
        if cached is not None and cached[0] is train and cached[1] == device:
            return cached[2]
        pos = recency_weights(train, c.recency_half_life)
        drawn = with_unseen(train, c.negative_distribution, c.negative_exponent)
        given = pos if drawn is None else pos[drawn]  # the positives pointwise_samples gives negatives
        neg = np.repeat(given, c.negatives) if c.recency_negatives else np.ones(len(given) * c.negatives, np.float32)
        w = torch.from_numpy(np.concatenate([pos, neg])).to(device)
        self._weights_cache = (train, device, w)
        return w

    def _loss(self, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        u, i, y = batch[:3]
        logits = self.module(u, i).float()
        if len(batch) == 3:
            return F.binary_cross_entropy_with_logits(logits, y)
        return (F.binary_cross_entropy_with_logits(logits, y, reduction="none") * batch[3]).mean()

    def _score_rows(self, users: np.ndarray) -> torch.Tensor:
        return self.module.rows(torch.as_tensor(users, dtype=torch.int64, device=self.device))

    def _score_pairs(self, users: np.ndarray, items: np.ndarray) -> torch.Tensor:
        d = self.device
        u = torch.as_tensor(users, dtype=torch.int64, device=d)
        i = torch.as_tensor(items, dtype=torch.int64, device=d)
        step = _PAIRS_PER_CHUNK
        return torch.cat([self.module(u[s:s + step], i[s:s + step]).float() for s in range(0, len(u), step)]
                         or [torch.zeros(0, device=d)])

    def item_vectors(self) -> np.ndarray:
        """``(n_items, factors + mlp_factors)`` movie embeddings (GMF and MLP parts side by side)."""
        return self.module.item.weight.detach().float().cpu().numpy()

    def _index_on_gpu(self) -> bool:
        return self.device.type == "cuda"


@register
class GMF(_NCFModel):
    """Generalized matrix factorisation (He et al., "Neural Collaborative Filtering", WWW 2017)."""

    name = "gmf"
    kind = "gmf"
    has_inner_product = True

    def query_vectors(self, users: np.ndarray) -> np.ndarray:
        """``(len(users), factors)``: ``p ⊙ h``, the user embedding times the output weights.

        The logit is ``h · (p ⊙ q) + b = (p ⊙ h) · q + b``, so this dotted with the movie
        embedding ``q`` orders a user's movies exactly as the model does.
        """
        net = self.module
        with torch.no_grad():
            p = net.user.weight[torch.as_tensor(users, dtype=torch.int64, device=self.device)]
            return (p * net.predict.weight[0]).float().cpu().numpy()

    def key_vectors(self) -> np.ndarray:
        """``(n_items, factors)`` movie embeddings."""
        return self.item_vectors()


@register
class MLP(_NCFModel):
    """The MLP variant of neural collaborative filtering (He et al., WWW 2017)."""

    name = "mlp"
    kind = "mlp"
    # Its network has no GMF part, so ``factors`` changes nothing: the MLP's own
    # embedding size is what is searched.
    search_space = {"mlp_factors": Param("choice", choices=(8, 16, 32, 64)),
                    **{k: v for k, v in _NCFModel.search_space.items() if k != "factors"}}


@register
class NeuMF(_NCFModel):
    """Neural matrix factorisation, GMF and MLP fused (He et al., WWW 2017).

    With ``pretrain`` (or ``gmf_path`` / ``mlp_path``) the embeddings and tower start
    from trained GMF and MLP models and the output layer from
    ``[pretrain_mix * h_gmf, (1 - pretrain_mix) * h_mlp]``, as in the paper.
    """

    name = "neumf"
    search_space = {**_NCFModel.search_space, "recency_half_life": Param("float", 0.0, 1.0)}
    # Under random hold-outs its recency weighting costs 0.03 to 0.04 validation Recall@10
    # on ml-100k's random-full carve-outs (docs/protocols.md).
    unordered_settings = {"recency_half_life": 0.0}
    kind = "neumf"
    Config = NeuMFConfig
    config: NeuMFConfig

    def __init__(self, config: NeuMFConfig | None = None) -> None:
        super().__init__(config)
        # The trained GMF and MLP networks the next build starts from, set by ``fit``
        # for the length of one training run only.
        self._parts: tuple[NCFNet, NCFNet] | None = None

    def fit(self, train: Interactions, valid: Interactions | None = None) -> "NeuMF":
        """Pretrain (or load) the GMF and MLP parts when asked, then train NeuMF from them."""
        self._parts = self._pretrained_parts(train, valid)
        try:
            return super().fit(train, valid)
        finally:
            self._parts = None

    def _pretrained_parts(self, train: Interactions, valid: Interactions | None) -> tuple[NCFNet, NCFNet] | None:
        """The GMF and MLP networks to start from: loaded from ``gmf_path`` / ``mlp_path``,
        or fitted here on ``train`` with NeuMF's own settings (``pretrain``; they early-stop
        on the same ``valid``), or ``None`` for a random start."""
        c = self.config
        if c.gmf_path:
            return _load_part(c.gmf_path, "gmf").module, _load_part(c.mlp_path, "mlp").module
        if not c.pretrain:
            return None
        base = {k: v for k, v in c.to_dict().items() if k not in ("pretrain", "gmf_path", "mlp_path", "pretrain_mix")}
        sub = NCFConfig.from_dict({**base, "progress": c.progress})
        return GMF(sub).fit(train, valid).module, MLP(sub).fit(train, valid).module

    def _build(self, train: Interactions) -> NCFNet:
        net = super()._build(train)
        if self._parts is not None:
            _blend(net, *self._parts, self.config.pretrain_mix)
        return net


def recency_weights(train: Interactions, half_life: float) -> np.ndarray:
    """Recency weight of each distinct (user, movie) pair of ``train``.

    Args:
        train: the training interactions (``timestamps`` in seconds).
        half_life: a fraction of each user's time span, > 0.

    Returns:
        ``(n_pairs,) float32`` in the order of :func:`cinerec.data.sampling.positive_pairs`
        (``train.seen``'s cells): ``0.5 ** (age / (half_life * span))``, ``age`` measured
        back from the user's latest training timestamp, ``span`` from their earliest to
        latest (a repeated pair takes its last row's timestamp, as ``train.csr`` does).
    """
    return np.asarray(transforms.recency_weights(train, half_life).data, dtype=np.float32)


def _load_part(path: str, expect: str) -> _NCFModel:
    said = f'{expect}_path = "{path}"'
    try:
        model = load_model(Path(path))
    except CinerecError as e:  # named by the setting that pointed there
        raise ConfigError(f"{said}: {e}") from None
    if not isinstance(model, _NCFModel) or model.name != expect:
        raise ConfigError(f"{said}: holds a {model.name} model, expected a saved {expect} model "
                          f"(a train run's models/{expect} folder)")
    return model


def _blend(net: NCFNet, gmf: NCFNet, mlp: NCFNet, alpha: float) -> None:
    """Copy trained GMF and MLP weights into ``net`` (section 3.4.1 of the paper)."""
    g, m = net.g, net.m
    if (gmf.g, mlp.m) != (g, m) or gmf.user.weight.shape[0] != net.user.weight.shape[0] \
            or gmf.item.weight.shape[0] != net.item.weight.shape[0]:
        raise ConfigError(f"pretrained parts do not fit: GMF has {gmf.g} factors and MLP {mlp.m} per side; "
                          f"NeuMF wants {g} and {m} over {net.user.weight.shape[0]} users")
    if [t.shape for t in mlp.tower.state_dict().values()] != [t.shape for t in net.tower.state_dict().values()]:
        raise ConfigError("pretrained MLP tower has other layer sizes than this NeuMF's layers")
    with torch.no_grad():
        net.user.weight[:, :g] = gmf.user.weight.to(net.user.weight.device)
        net.item.weight[:, :g] = gmf.item.weight.to(net.item.weight.device)
        net.user.weight[:, g:] = mlp.user.weight.to(net.user.weight.device)
        net.item.weight[:, g:] = mlp.item.weight.to(net.item.weight.device)
        net.tower.load_state_dict(mlp.tower.state_dict())
        net.predict.weight[:, :g] = alpha * gmf.predict.weight
        net.predict.weight[:, g:] = (1 - alpha) * mlp.predict.weight
        net.predict.bias[:] = alpha * gmf.predict.bias + (1 - alpha) * mlp.predict.bias
