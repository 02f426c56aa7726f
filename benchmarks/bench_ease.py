"""EASE fit + top-10 for every user on real MovieLens-100K, beside popularity and item-kNN.

Also times the ways to invert ``XᵀX + λI`` (the whole cost of fitting EASE), which is
how the implementation in cinerec.models.baselines was chosen.

Usage: python benchmarks/bench_ease.py [ML100K_FOLDER] [--repeat N]
Prints one JSON object. Each figure is the best of ``--repeat`` runs (wall clock).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import scipy.linalg
import torch

from cinerec.data import load
from cinerec.models import create
import cinerec.models.baselines as baselines
from cinerec.models.baselines import _ease_weights

DEFAULT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ml-100k"


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return round(min(times), 4)


def inverse_variants(gram: np.ndarray) -> dict[str, callable]:
    g32 = gram.astype(np.float32)
    t64, t32 = torch.from_numpy(gram), torch.from_numpy(g32)
    return {
        "numpy_inv_f64": lambda: np.linalg.inv(gram),
        "numpy_inv_f32": lambda: np.linalg.inv(g32),
        "scipy_cholesky_potri_f64": lambda: scipy.linalg.lapack.dpotri(scipy.linalg.lapack.dpotrf(gram)[0]),
        "scipy_cholesky_potri_f32": lambda: scipy.linalg.lapack.spotri(scipy.linalg.lapack.spotrf(g32)[0]),
        "torch_inv_f64": lambda: torch.linalg.inv(t64),
        "torch_inv_f32": lambda: torch.linalg.inv(t32),
        "torch_cholesky_inverse_f64": lambda: torch.cholesky_inverse(torch.linalg.cholesky(t64)),
        "torch_cholesky_inverse_f32": lambda: torch.cholesky_inverse(torch.linalg.cholesky(t32)),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("data", nargs="?", default=str(DEFAULT))
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    ds = load(args.data)
    x = ds.interactions
    users = np.arange(x.n_users)
    out: dict = {
        "data": ds.name, "ratings": len(x), "users": x.n_users, "items": x.n_items,
        "machine": {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(), "python": platform.python_version()},
        "repeat": args.repeat, "seconds": {},
    }
    for name in ("popularity", "itemknn", "ease"):
        model = create(name)
        fit = best_of(lambda: model.fit(x), args.repeat)
        top = best_of(lambda: model.recommend(users, 10), args.repeat)
        out["seconds"][name] = {"fit": fit, "top10_all_users": top, "total": round(fit + top, 4)}

    # The inverse alone, several ways, on the same Gram matrix EASE builds.
    seen = x.seen.astype(np.float64)
    gram = (seen.T @ seen).toarray()
    gram[np.diag_indices_from(gram)] += create("ease").config.regularization
    out["seconds"]["ease_inverse"] = {name: best_of(fn, args.repeat) for name, fn in inverse_variants(gram).items()}
    # The two paths EASE actually takes (chosen by catalogue size), end to end.
    limit = baselines._FLOAT32_MAX_ITEMS
    paths = {}
    try:
        baselines._FLOAT32_MAX_ITEMS = 10**9
        paths["float32_torch_inv"] = best_of(lambda: _ease_weights(gram.copy()), args.repeat)
        baselines._FLOAT32_MAX_ITEMS = 0
        paths["float64_lapack_cholesky_in_place"] = best_of(lambda: _ease_weights(gram.copy()), args.repeat)
    finally:
        baselines._FLOAT32_MAX_ITEMS = limit
    out["seconds"]["ease_weights_paths"] = paths
    # float32 vs float64 accuracy of B (what the scores depend on)
    p64 = np.linalg.inv(gram)
    b64 = -p64 / np.diag(p64)[None, :]
    np.fill_diagonal(b64, 0)
    b32 = _ease_weights(gram.copy()).astype(np.float64)  # the path EASE takes on this catalogue
    out["ease_float32_max_abs_error_of_B"] = float(np.abs(b32 - b64).max())
    out["ease_B_max_abs"] = float(np.abs(b64).max())
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
