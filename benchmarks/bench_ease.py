"""EASE fit + top-10 for every user on real MovieLens-100K, beside popularity and item-kNN.

Also times the ways to invert ``XᵀX + λI`` (the whole cost of fitting EASE), which is
how the implementation in cinerec.models.baselines was chosen.

Usage: python benchmarks/bench_ease.py [ML100K_FOLDER] [--repeat N]
Prints one JSON object. Each figure is the best of ``--repeat`` runs (wall clock).

``--sweep`` measures the λ sweep instead (EASESpectrum: one eigendecomposition, then
each λ scored on the validation users) on a generated catalogue, against plain fits:

    python benchmarks/bench_ease.py --sweep [--items 10000] [--users 20000]
        [--valid-users 1000] [--lambdas 20] [--plain-fits 1] [--variants-items 3000]
        [--dtype float64|float32] [--route spectrum|sketch]

``--route sketch`` times :class:`cinerec.models.ease_sketch.EASESketch` instead (the top
512 eigenpairs from a randomized range finder, the rest by a mean): what the tuner uses
above ``SKETCH_MIN_ITEMS`` movies to screen λ. It is approximate, so ``--curve`` checks
what matters, whether it picks the λ a plain fit per λ would pick, on real carve-outs:

    python benchmarks/bench_ease.py --curve DATA_FOLDER [--top-movies 10000]
        [--protocol loo-sampled] [--lambdas 20] [--lambda-max 5000] [--tune-trials 20]

prints, for each λ, the validation figure of a plain fit and of the sketch on the
protocol's seed-0 carve-out of its training part (the tuner's carve-out), and the λ each
picks. ``--tune-trials N`` then times the tuner itself on λ (``--lambdas 0``: only that):
the sketch, N trials, the plain fits that confirm the choice, and the final fit; and,
before it, one plain trial with the defaults (fit and score the carve-out), which the
search's time is divided by (``search_over_plain_trial``).

Each figure there is one run, wall clock and process CPU time (with
``OMP_NUM_THREADS=1`` the CPU time is the single core's work, which a busy machine
disturbs less than the wall clock). A plain trial is a fit plus the validation users'
scores; "as many plain trials" is the fastest measured plain trial (of ``--plain-fits``)
times the number of λ swept (``--lambdas``).
``--variants-items`` times the eigendecomposition several ways (and one inverse) on a
smaller Gram matrix, since each takes minutes at 10,000 movies.

``--memory`` measures what a fit holds at once beyond its data, the figure EASE's
refusal of a large catalogue gives (``baselines._ease_peak_bytes``): each size in its
own process, on a generated catalogue, the peak resident memory after the fit less the
peak before it, in bytes a cell of the ``n × n`` matrix:

    python benchmarks/bench_ease.py --memory [--memory-items 4000 7000 9000]
        [--spectrum-items 4000]

The sizes up to 8,192 movies take the float32 inverse, those above the float64 one in
place; ``--spectrum-items`` sizes take the eigendecomposition of a search over λ.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import scipy.linalg
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import above, at_least, child_failed, machine  # noqa: E402

from cinerec.data import load  # noqa: E402
from cinerec.data.dataset import Interactions  # noqa: E402
from cinerec.models import create  # noqa: E402
import cinerec.models.baselines as baselines  # noqa: E402
from cinerec.models.baselines import EASESpectrum, _ease_weights  # noqa: E402
from cinerec.models.ease_sketch import EASESketch  # noqa: E402

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


def timed(fn) -> tuple[object, dict[str, float]]:
    """``fn()``'s value, and its wall and process CPU seconds."""
    w, c = time.perf_counter(), time.process_time()
    value = fn()
    return value, {"wall": round(time.perf_counter() - w, 3), "cpu": round(time.process_time() - c, 3)}


def generated(n_users: int, n_items: int, per_user: int, seed: int = 0) -> Interactions:
    """A popularity-skewed implicit log: about ``per_user`` distinct movies per user,
    movie ``j`` drawn with weight ``1 / (j + 1) ** 0.8``."""
    rng = np.random.default_rng(seed)
    counts = np.clip(rng.lognormal(np.log(per_user), 0.8, n_users).astype(np.int64), 5, n_items // 2)
    weights = 1.0 / np.arange(1, n_items + 1) ** 0.8
    users = np.repeat(np.arange(n_users), counts)
    items = rng.choice(n_items, size=len(users), p=weights / weights.sum())
    keys = np.unique(users * n_items + items)  # drop repeats
    u, i = (keys // n_items).astype(np.int32), (keys % n_items).astype(np.int32)
    return Interactions(u, i, np.ones(len(u), np.float32), np.arange(len(u)), n_users, n_items)


def eigh_variants(n: int, seed: int = 0) -> dict[str, dict[str, float]]:
    """One inverse and several eigendecompositions of one ``n × n`` Gram matrix."""
    x = generated(2 * n, n, 50, seed)
    gram = (x.csr.T @ x.csr).toarray().astype(np.float64)
    gram[np.diag_indices_from(gram)] += 300.0
    g32 = gram.astype(np.float32)
    torch.linalg.inv(torch.from_numpy(g32[:64, :64]))  # torch's first-call set-up, not timed
    variants = {
        "torch_inv_f32 (the plain fit's inverse)": lambda: torch.linalg.inv(torch.from_numpy(g32)),
        "scipy_eigh_evd_f32": lambda: scipy.linalg.eigh(g32, driver="evd", check_finite=False),
        "scipy_eigh_evd_f64": lambda: scipy.linalg.eigh(gram, driver="evd", check_finite=False),
        "scipy_eigh_evr_f32": lambda: scipy.linalg.eigh(g32, driver="evr", check_finite=False),
        "numpy_eigh_f32": lambda: np.linalg.eigh(g32),
        "torch_eigh_f32": lambda: torch.linalg.eigh(torch.from_numpy(g32)),
        "torch_eigh_f64": lambda: torch.linalg.eigh(torch.from_numpy(gram)),
    }
    return {name: timed(fn)[1] for name, fn in variants.items()}


def _peak_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # (kB on Linux)


def memory_child(n: int, route: str, seed: int) -> dict:
    """One fit of ``n`` movies (``route``: ``"fit"`` or ``"spectrum"``) and what it held at
    once beyond what the process held before it."""
    train = generated(2 * n, n, 50, seed)
    _ = train.csr  # (built before the baseline: the fit's share is the rest)
    before = _peak_bytes()
    start = time.perf_counter()
    if route == "spectrum":
        baselines.EASESpectrum(train, baselines.EASEConfig(max_items=10**6))
    else:
        create("ease", {"max_items": 10**6}).fit(train)
    above_data = _peak_bytes() - before
    return {"items": n, "route": route, "seconds": round(time.perf_counter() - start, 2),
            "peak_above_data_gib": round(above_data / 2**30, 3), "bytes_per_cell": round(above_data / n**2, 1),
            "the_refusal_says": baselines._ease_peak_bytes(n, spectrum=route == "spectrum") // n**2}


def memory_main(args: argparse.Namespace) -> None:
    runs = [(n, "fit") for n in args.memory_items] + [(n, "spectrum") for n in args.spectrum_items]
    out: dict = {"machine": machine(torch_threads=torch.get_num_threads()), "float32_max_items":
                 baselines._FLOAT32_MAX_ITEMS, "fits": []}
    for n, route in runs:
        done = subprocess.run([sys.executable, __file__, "--memory-child", str(n), "--seed", str(args.seed),
                               *(["--memory-spectrum"] if route == "spectrum" else [])], capture_output=True, text=True)
        if done.returncode:
            child_failed(f"the fit of {n:,} movies ({route})", done.returncode, done.stderr)
        out["fits"].append(json.loads(done.stdout))
    print(json.dumps(out, indent=2))


def sweep_main(args: argparse.Namespace) -> None:
    train = generated(args.users, args.items, args.per_user, args.seed)
    rng = np.random.default_rng(args.seed)
    valid_users = np.sort(rng.choice(train.n_users, size=min(args.valid_users, train.n_users), replace=False))
    lambdas = np.geomspace(10.0, 5000.0, args.lambdas)  # EASE's search range
    out: dict = {
        "what": "EASE λ sweep: one eigendecomposition, then each λ's scores for the validation users",
        "data": {"users": train.n_users, "items": train.n_items, "ratings": len(train),
                 "validation_users": len(valid_users), "lambdas": len(lambdas)},
        "machine": machine(torch_threads=torch.get_num_threads(), load_before=os.getloadavg()),
        "seconds": {},
    }
    plain_runs = []
    for k in range(args.plain_fits):
        model = create("ease", {"regularization": float(lambdas[k % len(lambdas)])})
        _, fit = timed(lambda m=model: m.fit(train))
        plain_scores, score = timed(lambda m=model: m.score(valid_users))
        plain_runs.append({"fit": fit, "score_validation_users": score,
                           "trial": {key: round(fit[key] + score[key], 3) for key in fit}})
        if k == 0:
            references = [(float(lambdas[0]), plain_scores)]
        del model
    for lam in args.check_lambdas:  # more λ whose scores are compared with a plain fit's
        references.append((lam, create("ease", {"regularization": lam}).fit(train).score(valid_users)))
    one = {key: min(r["trial"][key] for r in plain_runs) for key in ("wall", "cpu")}
    n = len(lambdas)  # the plain search the sweep stands in for: one trial per λ
    out["seconds"]["plain"] = {"runs": plain_runs, "one_trial": one,
                               "as_many_trials": {key: round(v * n, 3) for key, v in one.items()},
                               "as_many_trials_is": f"one trial x {n} (the λ swept)"}
    dtype = {"float32": np.float32, "float64": np.float64}[args.dtype]
    spectrum: EASESpectrum | EASESketch
    if args.route == "sketch":
        spectrum, decompose = timed(lambda: EASESketch(train))
        out["data"]["decomposition"] = f"sketch: top {spectrum.rank} eigenpairs, float32"
    else:
        spectrum, decompose = timed(lambda: EASESpectrum(train, dtype=dtype))
        out["data"]["decomposition"] = f"eigh (syevd), {spectrum.dtype}"
    per_lambda = []
    for lam in lambdas:
        _, t = timed(lambda s=spectrum, lam=lam: s.model(float(lam)).score(valid_users))
        per_lambda.append(t)
    sweep_total = {key: round(decompose[key] + sum(t[key] for t in per_lambda), 3) for key in ("wall", "cpu")}
    out["seconds"]["sweep"] = {"eigendecomposition": decompose, "per_lambda": per_lambda, "total": sweep_total}
    out["ratio_sweep_to_one_plain_trial"] = {key: round(sweep_total[key] / one[key], 2) for key in one}
    out["ratio_sweep_to_as_many_plain_trials"] = {key: round(sweep_total[key] / (n * one[key]), 3) for key in one}
    out["max_abs_score_difference_vs_plain_fit"] = []
    for lam0, ref in references:
        got = spectrum.model(lam0).score(valid_users)
        out["max_abs_score_difference_vs_plain_fit"].append(
            {"lambda": lam0, "difference": float(np.abs(got - ref).max()), "largest_score": float(np.abs(ref).max())})
    del spectrum
    if args.variants_items:
        out["seconds"][f"decompositions_at_{args.variants_items}_items"] = eigh_variants(args.variants_items, args.seed)
    out["machine"]["load_after"] = os.getloadavg()
    print(json.dumps(out, indent=2))


def curve_main(args: argparse.Namespace) -> None:
    from cinerec.data.filters import Filters, apply_filters
    from cinerec.evaluation.protocols import get_protocol
    from cinerec.tuning import carve, objective

    ds = load(args.curve)
    if args.top_movies:
        ds, _ = apply_filters(ds, Filters(top_movies=args.top_movies))
    protocol = get_protocol(args.protocol)
    valid = carve(protocol, ds, protocol.prepare(ds, seed=0).train, seed=0)
    metric = objective(protocol)[0]
    lambdas = np.geomspace(10.0, args.lambda_max, args.lambdas)
    out: dict = {"data": args.curve, "top_movies": args.top_movies, "protocol": args.protocol, "metric": metric,
                 "carve_out": {"users": valid.train.n_users, "movies": valid.train.n_items,
                               "ratings": len(valid.train)},
                 "machine": machine(load_before=os.getloadavg())}
    if args.lambdas:  # 0: only the tuner (--tune-trials)
        sketch, build = timed(lambda: EASESketch(valid.train))
        rows = []
        sketch_cpu = build["cpu"]
        for lam in lambdas:
            value, t = timed(lambda lam=lam, s=sketch: valid.evaluate(s.model(float(lam)), fit=False).metrics[metric])
            sketch_cpu += t["cpu"]
            rows.append({"lambda": round(float(lam), 1), "sketch": round(float(value), 4)})
        del sketch
        plain_cpu = []
        for row in rows:
            model = create("ease", {"regularization": row["lambda"]})
            value, t = timed(lambda m=model: valid.evaluate(m).metrics[metric])  # fits, then scores
            plain_cpu.append(t["cpu"])
            row["plain"] = round(float(value), 4)
            print(json.dumps(row), file=sys.stderr, flush=True)  # as it goes; stdout holds the one object
        best = {route: max(rows, key=lambda r: r[route]) for route in ("plain", "sketch")}
        out.update({"rows": rows, "sketch_cpu_seconds": round(sketch_cpu, 1),
                    "plain_trial_cpu_seconds": {"median": round(float(np.median(plain_cpu)), 1)},
                    "plain_picks": best["plain"], "sketch_picks": best["sketch"],
                    "plain_figure_at_the_sketchs_pick": best["sketch"]["plain"]})
    if args.tune_trials:
        # The tuner end to end on λ alone: the sketch, every trial, the plain fits that
        # confirm the choice (and the defaults when they differ), then the final fit.
        from cinerec.tuning import Param, tune

        space = {"regularization": Param("float", 10.0, args.lambda_max, log=True)}
        # What the search is compared with: one plain trial on the same carve-out, the
        # defaults fitted and scored as any trial without the sketch would be.
        plain_value, plain = timed(lambda: valid.evaluate(create("ease", {}), label="ease").metrics[metric])
        tuned, t = timed(lambda: tune("ease", ds, protocol, trials=args.tune_trials, seed=0, space=space))
        out["tune"] = {"trials": args.tune_trials, "screened": tuned.screened, "settings": tuned.settings,
                       "value": round(tuned.value, 4), "default_value": round(tuned.default_value, 4),
                       "plain_trial": {**plain, "value": round(float(plain_value), 4)},
                       "search_wall_seconds": round(tuned.seconds, 1),
                       "search_over_plain_trial": round(tuned.seconds / plain["wall"], 2),
                       "final_fit_wall_seconds": round(tuned.seconds_fit, 1), "whole_call": t,
                       "confirming_plain_fits": 1 if tuned.trials[0]["settings"] == tuned.settings else 2}
    out["machine"]["load_after"] = os.getloadavg()
    print(json.dumps(out, indent=2))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("data", nargs="?", default=str(DEFAULT))
    ap.add_argument("--repeat", type=at_least(1), default=3)
    ap.add_argument("--sweep", action="store_true", help="measure the λ sweep on a generated catalogue")
    ap.add_argument("--items", type=at_least(10), default=10_000)
    ap.add_argument("--users", type=at_least(1), default=20_000)
    ap.add_argument("--per-user", type=at_least(1), default=50)
    ap.add_argument("--valid-users", type=at_least(1), default=1_000)
    ap.add_argument("--lambdas", type=at_least(0), default=20)
    ap.add_argument("--plain-fits", type=at_least(1), default=1)
    ap.add_argument("--variants-items", type=at_least(0), default=3_000, help="0: skip the decomposition variants")
    ap.add_argument("--dtype", choices=["float32", "float64"], default="float64", help="the decomposition's precision")
    ap.add_argument("--route", choices=["spectrum", "sketch"], default="spectrum", help="the sweep's decomposition")
    ap.add_argument("--check-lambdas", type=above(0.0), nargs="*", default=[],
                    help="more λ whose scores are compared with a plain fit's (one plain fit each)")
    ap.add_argument("--curve", metavar="DATA", help="validation curves of plain fits and the sketch on DATA")
    ap.add_argument("--top-movies", type=at_least(1), help="--curve: keep this many most rated movies")
    ap.add_argument("--protocol", default="loo-sampled", help="--curve: the protocol whose carve-out is scored")
    ap.add_argument("--lambda-max", type=above(10.0), default=5000.0, help="--curve: the largest λ (the smallest is 10)")
    ap.add_argument("--tune-trials", type=at_least(0), default=0, help="--curve: also time the tuner with this many trials")
    ap.add_argument("--memory", action="store_true", help="measure what a fit holds at once, by catalogue size")
    ap.add_argument("--memory-items", type=at_least(10), nargs="*", default=[4_000, 7_000, 9_000])
    ap.add_argument("--spectrum-items", type=at_least(10), nargs="*", default=[4_000])
    ap.add_argument("--memory-child", type=at_least(10), help=argparse.SUPPRESS)
    ap.add_argument("--memory-spectrum", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--seed", type=at_least(0), default=0)
    args = ap.parse_args()
    if args.repeat < 1 or args.plain_fits < 1:
        ap.error("--repeat and --plain-fits: must be at least 1")
    if args.sweep and args.lambdas < 1:
        ap.error("--lambdas: the sweep needs at least 1 λ")
    if 0 < args.variants_items < 10:  # (the generated catalogue draws 5 to items/2 movies a user)
        ap.error("--variants-items: 0 (skip them), or at least 10")
    if args.curve and not args.lambdas and not args.tune_trials:
        ap.error("--lambdas 0 without --tune-trials measures nothing: give --lambdas N, --tune-trials N, or both")
    if args.memory_child:
        print(json.dumps(memory_child(args.memory_child, "spectrum" if args.memory_spectrum else "fit", args.seed)))
        return
    if args.memory:
        memory_main(args)
        return
    if args.curve:
        curve_main(args)
        return
    if args.sweep:
        sweep_main(args)
        return

    ds = load(args.data)
    x = ds.interactions
    users = np.arange(x.n_users)
    out: dict = {
        "data": ds.name, "ratings": len(x), "users": x.n_users, "items": x.n_items,
        "machine": machine(torch_threads=torch.get_num_threads()),
        "repeat": args.repeat, "seconds": {},
    }
    for name in ("popularity", "itemknn", "ease"):
        model = create(name)
        fit = best_of(lambda m=model: m.fit(x), args.repeat)
        top = best_of(lambda m=model: m.recommend(users, 10), args.repeat)
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
    from cinerec.cli import script_main

    script_main(main)
