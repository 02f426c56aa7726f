"""Bayesian probabilistic matrix factorisation with biases: ``bpmf``.

Salakhutdinov and Mnih, "Bayesian Probabilistic Matrix Factorization using Markov Chain
Monte Carlo", ICML 2008. A rating is ``mean + b_u + b_i + p_u . q_i`` plus Gaussian noise
of precision ``alpha``. Each user's ``[p_u, b_u]`` is drawn from a Gaussian whose mean and
precision matrix have a Normal-Wishart prior, and likewise each movie's ``[q_i, b_i]``;
``alpha`` has a Gamma prior. Instead of a point estimate found by gradient descent, a
Gibbs sampler draws the whole posterior: every sweep draws the user hyper-parameters,
every user's vector given the movies, the movie hyper-parameters, every movie's vector
given the users, then the noise precision. A prediction is the average of the sampled
predictions after burn-in. Averaging over the posterior is what keeps the model from
over-fitting without a regularisation weight to tune.

Every sweep is a handful of array operations: the per-user sums of outer products
``sum_j x_j x_j^T`` are one sparse-times-dense product against the row-wise outer
products of the movie vectors, and the ``n_users`` small systems are solved as one
batched Cholesky factorisation.

The kept samples are stored side by side: with ``S`` samples, user ``u``'s vector is
``[p_u^1, b_u^1, 1, ..., p_u^S, b_u^S, 1] / sqrt(S)`` and movie ``i``'s is
``[q_i^1, 1, b_i^1, ...] / sqrt(S)``, so one dot product is the posterior-mean
prediction minus the global mean, and ranking every movie for a user is a single
matrix product like any factor model.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import threadpoolctl
import torch

from cinerec.config import MAX_THREADS, Config
from cinerec.data.dataset import Interactions
from cinerec.errors import DataError
from cinerec.models.base import CapabilityError, RatingRecommender, register, scale_of
from cinerec.progress import is_silenced
from cinerec.tuning import Param

__all__ = ["BPMF", "BPMFConfig", "sample_normal_wishart"]


@dataclass(frozen=True)
class BPMFConfig(Config):
    """Settings of :class:`BPMF`.

    Defaults were chosen on a validation carve-out of the ml-100k u1 training ratings
    (a random fifth held out): RMSE 0.904 with 10 factors, 0.905 with 6, 0.906 with 20
    and 32; a fixed noise precision of 2 (the paper's) gave 0.917; 800 sweeps instead of
    400 gained 0.0004; keeping 100 of 400 draws cost 0.001.

    Attributes:
        factors: latent dimension (the biases come on top).
        sweeps: Gibbs sweeps in all, burn-in included.
        burn_in: first sweeps whose draws are thrown away.
        keep: at most this many draws after burn-in are kept (evenly spaced, the last
            one included) and averaged for every prediction; memory and scoring time
            grow with ``keep * (factors + 2)``: the defaults store 2,400 float32 values
            per user and per movie, about 2 GB at ml-25m's size, so lower it there.
        prior_strength: strength of the Normal-Wishart prior on the hyper-parameter
            means (the paper's beta0).
        noise_precision: a fixed rating-noise precision ``alpha``; 0 draws it every
            sweep from its posterior under a Gamma(1, 1) prior.
        seed: seeds the initial vectors and every draw.
        threads: BLAS and torch threads while fitting (0: leave them as they are). The
            work is many small solves, which gain nothing from a second thread.
        progress: print one line per 25 sweeps with the training RMSE.
    """

    renamed = {"beta0": "prior_strength"}

    factors: int = 10
    sweeps: int = 500
    burn_in: int = 100
    keep: int = 200
    prior_strength: float = 2.0
    noise_precision: float = 0.0
    seed: int = 0
    threads: int = 1
    progress: bool = False

    def validate(self) -> None:
        self._check(self.factors >= 1, "factors", "must be at least 1")
        self._check(self.sweeps >= 1, "sweeps", "must be at least 1")
        self._check(0 <= self.burn_in < self.sweeps, "burn_in", "must be >= 0 and below sweeps")
        self._check(self.keep >= 1, "keep", "must be at least 1")
        self._check(self.prior_strength > 0, "prior_strength", "must be positive")
        self._check(self.noise_precision >= 0, "noise_precision", "must be >= 0 (0 draws it)")
        self._check(0 <= self.threads <= MAX_THREADS, "threads", f"must be from 0 (which leaves the setting alone) "
                    f"to {MAX_THREADS}")


def sample_normal_wishart(rng: np.random.Generator, x: np.ndarray, beta0: float) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``(mu, Lambda)`` from the Normal-Wishart posterior given the rows of ``x``.

    Prior: ``mu0 = 0``, ``W0 = I``, ``nu0 = k`` (the dimension), strength ``beta0``
    (equations 14 of Salakhutdinov and Mnih). The Wishart draw uses Bartlett's
    decomposition.

    Args:
        rng: the generator every draw comes from.
        x: ``(n, k) float64`` current vectors.
        beta0: prior strength of the mean.

    Returns:
        ``mu (k,)`` and the precision matrix ``Lambda (k, k)``, both float64.
    """
    n, k = x.shape
    xbar = x.mean(axis=0)
    centred = x - xbar
    s = centred.T @ centred / max(n, 1)
    beta = beta0 + n
    w_inv = np.eye(k) + n * s + (beta0 * n / beta) * np.outer(xbar, xbar)
    w = np.linalg.inv(w_inv)
    chol = np.linalg.cholesky((w + w.T) / 2)
    nu = k + n
    a = np.zeros((k, k))
    a[np.diag_indices(k)] = np.sqrt(rng.chisquare(nu - np.arange(k)))
    a[np.tril_indices(k, -1)] = rng.standard_normal(k * (k - 1) // 2)
    la = chol @ a
    lam = la @ la.T
    mean = n * xbar / beta
    # mu ~ N(mean, (beta * Lambda)^-1): mean + L^-T z / sqrt(beta), Lambda = L L^T
    lam_chol = np.linalg.cholesky(lam)
    mu = mean + np.linalg.solve(lam_chol.T, rng.standard_normal(k)) / np.sqrt(beta)
    return mu, lam


def _draw_rows(rng: np.random.Generator, counts: sp.csr_matrix, targets: sp.csr_matrix, other: np.ndarray,
               mu: np.ndarray, lam: np.ndarray, alpha: float) -> np.ndarray:
    """Draw every row's vector from its Gaussian conditional, all rows at once.

    Row ``r`` (a user, or a movie) sees the vectors ``other[j]`` of the columns it rated
    and the targets ``y_rj``; its conditional has precision
    ``Lambda + alpha * sum_j x_j x_j^T`` and mean
    ``precision^-1 (Lambda mu + alpha * sum_j y_rj x_j)``.

    Args:
        rng: the generator of the noise.
        counts: ``(n, m)`` CSR of ones on the rated cells.
        targets: ``(n, m)`` CSR of the targets on the same cells.
        other: ``(m, k) float64`` the other side's vectors.
        mu, lam: the prior mean ``(k,)`` and precision ``(k, k)``.
        alpha: the noise precision.

    Returns:
        ``(n, k) float64`` drawn vectors.
    """
    n, k = counts.shape[0], other.shape[1]
    outer = (other[:, :, None] * other[:, None, :]).reshape(len(other), k * k)
    prec = torch.from_numpy(np.asarray(counts @ outer).reshape(n, k, k) * alpha + lam[None])
    rhs = torch.from_numpy(alpha * np.asarray(targets @ other) + (lam @ mu)[None])
    chol = torch.linalg.cholesky(prec)
    mean = torch.cholesky_solve(rhs.unsqueeze(-1), chol)
    # precision = L L^T, so L^-T z has covariance precision^-1
    noise = torch.linalg.solve_triangular(chol.mT, torch.from_numpy(rng.standard_normal((n, k, 1))), upper=True)
    return (mean + noise).squeeze(-1).numpy()


def _layout(rows: np.ndarray, cols: np.ndarray, n_rows: int, n_cols: int) -> tuple[sp.csr_matrix, np.ndarray]:
    """``(n_rows, n_cols)`` CSR of ones on the cells ``(rows, cols)``, and the order of its entries.

    Returns:
        The matrix and ``(nnz,) int64`` positions such that entry ``k`` of the matrix is
        the cell ``(rows[at[k]], cols[at[k]])``; the cells must be distinct.
    """
    at = np.lexsort((cols, rows))
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n_rows), out=indptr[1:])
    return sp.csr_matrix((np.ones(len(at)), cols[at], indptr), shape=(n_rows, n_cols)), at


def _with_data(layout: sp.csr_matrix, data: np.ndarray) -> sp.csr_matrix:
    """``layout``'s cells holding ``data`` (in the layout's entry order), sharing its index arrays."""
    return sp.csr_matrix((data, layout.indices, layout.indptr), shape=layout.shape, copy=False)


@register
class BPMF(RatingRecommender):
    """Bayesian probabilistic matrix factorisation with biases (Salakhutdinov and Mnih, ICML 2008).

    ``valid`` is not used: the posterior average needs no early stopping.
    """

    name = "bpmf"
    search_space = {"factors": Param("int", 4, 32)}
    has_item_vectors = True
    Config = BPMFConfig
    config: BPMFConfig

    def __init__(self, config: BPMFConfig | None = None) -> None:
        super().__init__(config)
        self.user_vecs: np.ndarray | None = None
        self.item_vecs: np.ndarray | None = None
        self.mean = 0.0
        self.low, self.high = -np.inf, np.inf
        self.history: list[dict[str, float]] = []

    def fit(self, train: Interactions, valid: Interactions | None = None) -> "BPMF":
        self._remember(train)
        threads = self.config.threads
        if not threads:
            return self._fit(train)
        before = torch.get_num_threads()
        try:
            torch.set_num_threads(threads)
            with threadpoolctl.threadpool_limits(threads):
                return self._fit(train)
        finally:
            torch.set_num_threads(before)

    def _fit(self, train: Interactions) -> "BPMF":
        x = train.csr.tocoo()  # one rating per (user, movie): the latest where repeated
        u, i = x.row.astype(np.int64), x.col.astype(np.int64)
        r = x.data.astype(np.float64)
        if not np.isfinite(r).all():
            raise DataError(f"{self.name}: ratings must be finite numbers")
        cfg = self.config
        n_u, n_i, d = train.n_users, train.n_items, cfg.factors
        rng = np.random.default_rng(cfg.seed)
        self.mean = float(r.mean())
        self.low, self.high = scale_of(train) or (float(r.min()), float(r.max()))
        # The rated cells never change, only their targets: build both sparse layouts
        # once and, every sweep, put the targets into them in the layouts' order.
        by_user, at_u = _layout(u, i, n_u, n_i)
        by_item, at_i = _layout(i, u, n_i, n_u)
        # Columns of the augmented vectors: user [p, b_u], movie [q, b_i]. Drawing users
        # uses movie features [q, 1] and targets r - mean - b_i; drawing movies uses
        # user features [p, 1] and targets r - mean - b_u.
        users = np.hstack([rng.normal(0.0, 0.1, (n_u, d)), np.zeros((n_u, 1))])
        items = np.hstack([rng.normal(0.0, 0.1, (n_i, d)), np.zeros((n_i, 1))])
        alpha = cfg.noise_precision or 2.0
        n_after = cfg.sweeps - cfg.burn_in
        keep_at = set((cfg.burn_in + np.linspace(n_after - 1, 0, min(cfg.keep, n_after)).round()).astype(int).tolist())
        kept_u, kept_i = [], []
        self.history = []
        t0 = time.perf_counter()
        for sweep in range(cfg.sweeps):
            mu, lam = sample_normal_wishart(rng, users, cfg.prior_strength)
            feats = np.hstack([items[:, :d], np.ones((n_i, 1))])
            y = r - self.mean - items[i, d]
            users = _draw_rows(rng, by_user, _with_data(by_user, y[at_u]), feats, mu, lam, alpha)
            mu, lam = sample_normal_wishart(rng, items, cfg.prior_strength)
            feats = np.hstack([users[:, :d], np.ones((n_u, 1))])
            y = r - self.mean - users[u, d]
            items = _draw_rows(rng, by_item, _with_data(by_item, y[at_i]), feats, mu, lam, alpha)
            resid = r - self.mean - users[u, d] - items[i, d] - np.einsum("nk,nk->n", users[u, :d], items[i, :d])
            sse = float(resid @ resid)
            if not cfg.noise_precision:
                alpha = float(rng.gamma(1.0 + len(r) / 2, 1.0 / (1.0 + sse / 2)))
            if sweep in keep_at:
                kept_u.append(np.hstack([users, np.ones((n_u, 1))]))
                kept_i.append(np.hstack([items[:, :d], np.ones((n_i, 1)), items[:, d:]]))
            if not np.isfinite(sse):
                raise DataError(f"{self.name}: the sampler diverged at sweep {sweep + 1}")
            self.history.append({"sweep": sweep + 1, "train_rmse": float(np.sqrt(sse / len(r))), "alpha": alpha})
            if cfg.progress and ((sweep + 1) % 25 == 0 or sweep + 1 == cfg.sweeps) and not is_silenced():
                # (on stderr, as the bars: stdout is the command's answer, --json's one object)
                print(f"bpmf sweep {sweep + 1}/{cfg.sweeps}: train RMSE {np.sqrt(sse / len(r)):.4f}, "
                      f"alpha {alpha:.3f}, {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
        scale = 1.0 / np.sqrt(len(kept_u))
        self.user_vecs = (np.hstack(kept_u) * scale).astype(np.float32)
        self.item_vecs = (np.hstack(kept_i) * scale).astype(np.float32)
        return self

    @property
    def n_kept(self) -> int:
        """How many posterior draws the predictions average."""
        assert self.item_vecs is not None
        return self.item_vecs.shape[1] // (self.config.factors + 2)

    def _score_rows(self, users: np.ndarray) -> np.ndarray:
        assert self.user_vecs is not None and self.item_vecs is not None
        out = self.user_vecs[users] @ self.item_vecs.T
        out += np.float32(self.mean)
        return out

    def _score_pairs(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        assert self.user_vecs is not None and self.item_vecs is not None
        out = np.empty(len(users), dtype=np.float32)
        step = 1 << 16
        for s in range(0, len(users), step):
            a, b = self.user_vecs[users[s:s + step]], self.item_vecs[items[s:s + step]]
            out[s:s + step] = np.einsum("nk,nk->n", a, b) + np.float32(self.mean)
        return out

    def predict(self, users: Any, items: Any) -> np.ndarray:
        """``(n,) float32`` posterior-mean stars for (user, movie) pairs, clipped to the training range."""
        return np.clip(self.score(users, np.asarray(items)), self.low, self.high).astype(np.float32)

    def item_vectors(self) -> np.ndarray:
        """``(n_items, keep * factors)`` the kept draws of each movie's factors, side by side."""
        assert self.item_vecs is not None
        k = self.config.factors + 2
        v = self.item_vecs.reshape(self.n_items, -1, k)[:, :, : self.config.factors]
        return v.reshape(self.n_items, -1)

    def _fitted_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """The user and movie vectors; ``fit`` or ``load`` sets both."""
        if self.user_vecs is None or self.item_vecs is None:
            raise CapabilityError(f"{self.name}: the model is not fitted yet")
        return self.user_vecs, self.item_vecs

    def _save_state(self, path: Path) -> None:
        user_vecs, item_vecs = self._fitted_vectors()  # save() has checked the model is fitted
        np.savez(path / "bpmf.npz", user_vecs=user_vecs, item_vecs=item_vecs,
                 stats=np.array([self.mean, self.low, self.high]))

    def _load_state(self, path: Path) -> None:
        with np.load(path / "bpmf.npz", allow_pickle=False) as z:
            self.user_vecs, self.item_vecs = z["user_vecs"], z["item_vecs"]
            self.mean, self.low, self.high = (float(v) for v in z["stats"])
        k = self.config.factors + 2
        if self.user_vecs.shape[1] != self.item_vecs.shape[1] or self.item_vecs.shape[1] % k \
                or self.user_vecs.shape[0] != self.n_users or self.item_vecs.shape[0] != self.n_items:
            raise DataError(f"{path}/bpmf.npz: vectors of shape {self.user_vecs.shape} and {self.item_vecs.shape} "
                            f"do not fit {self.n_users} users, {self.n_items} movies and {self.config.factors} factors")
