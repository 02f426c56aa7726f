"""RecBole's own NeuMF, timed and scored on MovieLens-100K; prints one JSON object.

Runs under RecBole's environment (``scripts/setup-recbole-venv`` makes ``.venv-recbole``)
and never imports cinerec, so that ``benchmarks/bench_ncf.py`` can put RecBole's measured
figures beside cinerec's from the same run on the same machine.

What it does:

* converts the release's ``u.data`` into RecBole's atomic ``.inter`` file in a temporary
  folder (``user_id:token, item_id:token, rating:float, timestamp:float``); every rating is
  a positive (no threshold, no filtering);
* configures ``NeuMF`` with RecBole's *own* model and training defaults (embedding sizes,
  MLP, dropout, learner, learning rate, train batch size are read back from RecBole's
  config and printed, never set here), uniform negatives, ``--negatives`` per positive;
* times every training epoch itself, around ``Trainer._train_epoch`` (negative sampling,
  batching and every optimiser step; evaluation excluded), and counts the samples the
  model's loss actually saw, so samples/s is RecBole's real work, not a formula;
* with ``--quality``, trains with RecBole's early stopping on its validation item (its
  default ``stopping_step`` and ``valid_metric``) up to ``--max-epochs`` and scores the
  best validation epoch's weights on the test item: HR@10 and NDCG@10.

How RecBole's split differs from cinerec's ``loo-sampled``: both order each user's ratings
by time and hold out the latest one for test, ranked among sampled movies the user never
rated. RecBole (``split: {LS: valid_and_test}``) also holds out each user's *second*-latest
rating as a validation item, so it trains on two ratings per user fewer than cinerec, which
trains on everything but the latest. RecBole's ``uniN`` mode samples N negatives per held-out
item, so cinerec's 99 negatives (100 candidates) is ``uni99`` here, not ``uni100``
(``--eval-negatives`` sets it). Timestamp ties are broken by RecBole's own sort, cinerec's by
file row; RecBole draws its evaluation negatives with its own global seed.

Usage::

    .venv-recbole/bin/python benchmarks/recbole_ncf.py --data PATH/TO/ml-100k --negatives 4
    .venv-recbole/bin/python benchmarks/recbole_ncf.py --data PATH/TO/ml-100k --quality
"""

from __future__ import annotations

import argparse
import importlib.util
import contextlib
import copy
import json
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/machine.py, however this file is run

from machine import at_least, machine  # noqa: E402

__all__ = ["write_inter", "recbole_config", "run", "main"]

DATASET_NAME = "ml100k_inter"  # not "ml-100k": RecBole would apply its own dataset preset


def write_inter(data_dir: Path, dest_dir: Path) -> int:
    """Write ``<dest_dir>/<DATASET_NAME>/<DATASET_NAME>.inter`` from the release's ``u.data``.

    Args:
        data_dir: an ml-100k release folder holding ``u.data`` (tab-separated
            user id, item id, rating, unix timestamp; no header).
        dest_dir: RecBole's ``data_path``.

    Returns:
        The number of ratings written.

    Raises:
        ValueError: ``u.data`` is missing or a line does not hold four integer fields
            (the message names the file and line).
    """
    import pandas as pd

    src = Path(data_dir) / "u.data"
    if not src.is_file():
        raise ValueError(f"--data {data_dir}: no u.data there (expected an ml-100k release folder)")
    try:
        raw = pd.read_csv(src, sep="\t", header=None, dtype=str, keep_default_na=False, encoding="latin-1")
    except pd.errors.ParserError as e:
        raise ValueError(f"{src}: {e}") from None
    if raw.shape[1] != 4:
        raise ValueError(f"{src}:1: expected 4 tab-separated fields, found {raw.shape[1]}")
    num = raw.apply(pd.to_numeric, errors="coerce")
    bad = num.isna().any(axis=1).to_numpy()
    if bad.any():
        line = int(bad.argmax())
        shown = "\t".join(raw.iloc[line])
        raise ValueError(f"{src}:{line + 1}: expected 4 integers, got {shown!r}")
    table = pd.DataFrame({"user_id:token": num[0].astype("int64"), "item_id:token": num[1].astype("int64"),
                          "rating:float": num[2].astype("float64"), "timestamp:float": num[3].astype("float64")})
    out_dir = Path(dest_dir) / DATASET_NAME
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{DATASET_NAME}.inter"
    tmp = target.with_suffix(".inter.tmp")
    table.to_csv(tmp, sep="\t", index=False)
    os.replace(tmp, target)  # RecBole never sees a half-written file
    return len(table)


def recbole_config(data_path: Path, out_dir: Path, negatives: int, eval_negatives: int, epochs: int,
                   seed: int) -> Any:
    """RecBole's ``Config`` for NeuMF: its model defaults, our data, split and negatives.

    Only the data layout, the evaluation protocol, negative sampling, the epoch count, the
    seed and housekeeping (CPU, no progress bars, no saved files) are set; every NeuMF and
    optimiser hyperparameter is left at RecBole's default.
    """
    from recbole.config import Config

    settings = {
        "data_path": str(data_path),
        "checkpoint_dir": str(out_dir / "saved"),
        "gpu_id": "",  # an empty id makes RecBole choose the CPU
        "use_gpu": False,
        "worker": 0,
        "seed": seed,
        "reproducibility": True,
        "show_progress": False,
        "log_wandb": False,
        "save_dataset": False,
        "save_dataloaders": False,
        "load_col": {"inter": ["user_id", "item_id", "rating", "timestamp"]},
        "user_inter_num_interval": "[0,inf)",
        "item_inter_num_interval": "[0,inf)",
        "train_neg_sample_args": {"distribution": "uniform", "sample_num": negatives, "alpha": 1.0,
                                  "dynamic": False, "candidate_num": 0},
        "eval_args": {"split": {"LS": "valid_and_test"}, "group_by": "user", "order": "TO",
                      "mode": f"uni{eval_negatives}"},
        # MRR stays among the metrics because it is RecBole's default early-stopping metric.
        "metrics": ["Hit", "NDCG", "MRR"],
        "topk": [10],
        "epochs": epochs,
    }
    return Config(model="NeuMF", dataset=DATASET_NAME, config_dict=settings)


def run(data_dir: Path, negatives: int = 4, epochs: int = 5, threads: int = 2, seed: int = 2020,
        quality: bool = False, max_epochs: int = 100, eval_negatives: int = 99,
        out_dir: Path | None = None) -> dict[str, Any]:
    """Train RecBole's NeuMF, timing each epoch; with ``quality``, also score the test item.

    Returns:
        The JSON-ready result (see the module docstring).
    """
    for name, value, low in (("--negatives", negatives, 1), ("--epochs", epochs, 1), ("--threads", threads, 1),
                             ("--max-epochs", max_epochs, 1), ("--eval-negatives", eval_negatives, 1)):
        if value < low:
            raise ValueError(f"{name}={value} must be at least {low}")
    import torch

    torch.set_num_threads(threads)
    import recbole
    from recbole.data import create_dataset, data_preparation
    from recbole.model.general_recommender import NeuMF
    from recbole.trainer import Trainer
    from recbole.utils import init_seed

    with contextlib.ExitStack() as stack:
        if out_dir is None:
            out_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="recbole-ncf-")))
        out_dir = Path(out_dir).resolve()
        out_dir.mkdir(parents=True, exist_ok=True)
        data_path = out_dir / "data"
        n_ratings = write_inter(data_dir, data_path)
        # RecBole's Trainer opens a TensorBoard writer in the working directory; keep it in out_dir.
        stack.enter_context(contextlib.chdir(out_dir))

        config = recbole_config(data_path, out_dir, negatives, eval_negatives,
                                max_epochs if quality else epochs, seed)
        init_seed(config["seed"], config["reproducibility"])
        t0 = time.perf_counter()
        dataset = create_dataset(config)
        train_data, valid_data, test_data = data_preparation(config, dataset)
        prep_s = time.perf_counter() - t0
        init_seed(config["seed"], config["reproducibility"])
        model = NeuMF(config, train_data._dataset).to(config["device"])
        trainer = Trainer(config, model)

        # Count what the loss really sees: RecBole's epoch is whatever its dataloader yields.
        seen = [0]
        loss_fn = model.calculate_loss

        def counted_loss(interaction: Any) -> Any:
            seen[0] += len(interaction)
            return loss_fn(interaction)

        model.calculate_loss = counted_loss
        epochs_log: list[dict[str, Any]] = []
        train_epoch = trainer._train_epoch

        def timed_epoch(data: Any, epoch_idx: int, loss_func: Any = None, show_progress: bool = False) -> Any:
            before = seen[0]
            start = time.perf_counter()
            loss = train_epoch(data, epoch_idx, loss_func=loss_func, show_progress=show_progress)
            seconds = time.perf_counter() - start
            epochs_log.append({"seconds": seconds, "samples": seen[0] - before, "loss": float(loss)})
            # One line per epoch on stderr: a long quality run shows where it is.
            print(f"recbole epoch {epoch_idx + 1}: {seconds:.2f} s, {seen[0] - before} samples, loss {float(loss):.4f}",
                  file=sys.stderr, flush=True)
            return loss

        trainer._train_epoch = timed_epoch

        # Keep the best validation weights in memory (RecBole's rule: ties go to the later
        # epoch) instead of its pickled checkpoint, which torch.load's weights-only default refuses.
        best: dict[str, Any] = {"score": None, "epoch": None, "state": None, "scores": []}

        def on_valid(epoch_idx: int, score: float) -> None:
            best["scores"].append(round(float(score), 4))
            print(f"recbole epoch {epoch_idx + 1}: valid {config['valid_metric']} {score:.4f}", file=sys.stderr, flush=True)
            if best["score"] is None or score >= best["score"]:
                best.update(score=float(score), epoch=epoch_idx, state=copy.deepcopy(model.state_dict()))

        t0 = time.perf_counter()
        if quality:
            trainer.fit(train_data, valid_data, verbose=False, saved=False, callback_fn=on_valid)
        else:
            trainer.fit(train_data, None, verbose=False, saved=False)
        fit_s = time.perf_counter() - t0

        positives = len(train_data._dataset)
        per_epoch_s = [e["seconds"] for e in epochs_log]
        rates = [e["samples"] / e["seconds"] for e in epochs_log]
        steady = rates[1:] or rates  # the first epoch also warms caches and allocators
        out: dict[str, Any] = {
            "benchmark": "recbole neumf training throughput",
            "recbole": recbole.__version__, "torch": torch.__version__, "python": platform.python_version(),
            "threads": torch.get_num_threads(), "device": str(config["device"]), "seed": config["seed"],
            "data": {"ratings": n_ratings, "users": dataset.user_num - 1, "items": dataset.item_num - 1,
                     "train_positives": positives, "valid_rows": len(valid_data._dataset),
                     "test_rows": len(test_data._dataset), "prepare_s": round(prep_s, 2)},
            "architecture": {
                "mf_embedding_size": config["mf_embedding_size"],
                "mlp_embedding_size": config["mlp_embedding_size"],
                "mlp_hidden_size": list(config["mlp_hidden_size"]),
                "dropout_prob": config["dropout_prob"],
                "parameters": sum(p.numel() for p in model.parameters()),
            },
            "training": {
                "learner": config["learner"], "learning_rate": config["learning_rate"],
                "weight_decay": config["weight_decay"], "train_batch_size": config["train_batch_size"],
                # RecBole keeps a positive with its negatives in one batch: whole groups only.
                "effective_batch_size": train_data._batch_size,
                "train_neg_sample_args": dict(config["train_neg_sample_args"]),
                "eval_args": config["eval_args"],
            },
            "negatives": negatives,
            "epochs_run": len(epochs_log),
            "samples_per_epoch": [e["samples"] for e in epochs_log],
            "expected_samples_per_epoch": positives * (1 + negatives),
            "seconds_per_epoch": [round(s, 3) for s in per_epoch_s],
            "samples_per_s_per_epoch": [round(r) for r in rates],
            "samples_per_s": round(statistics.median(steady)),
            "median_seconds_per_epoch": round(statistics.median(per_epoch_s[1:] or per_epoch_s), 3),
            "train_loss": [round(e["loss"], 4) for e in epochs_log],
            "fit_wall_s": round(fit_s, 2),
        }
        if quality:
            model.load_state_dict(best["state"])
            result = trainer.evaluate(test_data, load_best_model=False)
            out["quality"] = {
                "protocol": f"recbole LS valid_and_test, order TO, mode uni{eval_negatives}",
                "valid_metric": config["valid_metric"], "stopping_step": config["stopping_step"],
                "max_epochs": max_epochs, "best_valid_epoch": best["epoch"] + 1,
                "best_valid_score": round(best["score"], 4), "valid_scores": best["scores"],
                "hr@10": round(float(result["hit@10"]), 4), "ndcg@10": round(float(result["ndcg@10"]), 4),
                "mrr@10": round(float(result["mrr@10"]), 4),
            }
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, type=Path, help="an ml-100k release folder (with u.data)")
    p.add_argument("--negatives", type=at_least(1), default=4, help="uniform negatives per positive in training")
    p.add_argument("--epochs", type=at_least(2), default=5, help="epochs timed (median samples/s after the first)")
    p.add_argument("--threads", type=at_least(1), default=2, help="torch.set_num_threads")
    p.add_argument("--seed", type=at_least(0), default=2020, help="RecBole's seed (its default is 2020)")
    p.add_argument("--quality", action="store_true",
                   help="train with RecBole's early stopping up to --max-epochs, then score the test item")
    p.add_argument("--max-epochs", type=at_least(1), default=100)
    p.add_argument("--eval-negatives", type=at_least(1), default=99,
                   help="sampled negatives per held-out item (cinerec's loo-sampled uses 99)")
    p.add_argument("--out-dir", type=Path, help="working folder (default: a temporary one, removed)")
    args = p.parse_args(argv)
    if importlib.util.find_spec("recbole") is None:
        print("error: RecBole is not installed in this Python; run this script with RecBole's own "
              "(.venv-recbole/bin/python, made by scripts/setup-recbole-venv)", file=sys.stderr)
        return 2
    # RecBole's libraries warn on import and on every run; the JSON on stdout is what matters.
    warnings.filterwarnings("ignore")
    logging.getLogger().setLevel(logging.ERROR)
    try:
        out = run(args.data, args.negatives, args.epochs, args.threads, args.seed, args.quality,
                  args.max_epochs, args.eval_negatives, args.out_dir)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    out["machine"] = machine()
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())  # (not cinerec's script_main: RecBole's environment has no cinerec)
