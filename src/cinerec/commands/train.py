"""``cinerec train``: fit one model, measure it under a protocol, keep it in a run folder.

Examples::

    cinerec train --data ml-100k --model neumf --out runs/neumf
    cinerec train --data ./ml-100k --model biasedmf --protocol ratings-fold --set epochs=40 --out runs/mf
    cinerec train --data ml-100k --model neumf --config neumf.toml --resume --out runs/neumf

The TOML file holds the model's config keys at top level (``epochs = 30``); ``--set``
values override it. Neural models write checkpoints to ``RUN_DIR/checkpoints``;
``--resume`` continues a killed run from its last checkpoint to the same result.
Under ``torchrun`` every process trains its share and only the first writes the run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "run", "read_config_file"]


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train a model, evaluate it under a protocol and save a run folder",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--data", required=True, help="a release name, folder or zip")
    p.add_argument("--model", required=True, help="a registered model name")
    p.add_argument("--config", type=Path, help="a TOML file of model config values")
    p.add_argument("--set", dest="set_", action="append", metavar="KEY=VALUE", help="a model config value (repeatable)")
    p.add_argument("--protocol", default=None,
                   help="evaluation protocol (default: ratings-random for rating losses, else loo-sampled)")
    p.add_argument("--protocol-option", dest="protocol_options", action="append", metavar="KEY=VALUE",
                   help="a protocol option, e.g. fold=u2 or valid=true (repeatable)")
    p.add_argument("--seed", type=int, default=0, help="split seed; also the model's seed unless set")
    p.add_argument("--resume", action="store_true", help="continue from RUN_DIR/checkpoints/checkpoint-last.pt")
    p.add_argument("--out", required=True, type=Path, help="the run folder to write")
    p.set_defaults(func=run)


def read_config_file(path: Path) -> dict[str, Any]:
    """Model config values from a TOML file, with one clear error if it cannot be read."""
    import tomllib

    from cinerec.errors import ConfigError

    try:
        with open(path, "rb") as f:
            values = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"--config {path}: no such file") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML ({e})") from None
    nested = [k for k, v in values.items() if isinstance(v, dict)]
    if nested:
        raise ConfigError(f"{path}: [{nested[0]}] tables are not read; put the model's keys at top level")
    return values


def run(args: argparse.Namespace) -> int:
    from cinerec.config import parse_set_options
    from cinerec.data import load
    from cinerec.errors import ConfigError
    from cinerec.evaluation.protocols import get_protocol
    from cinerec.models import create
    from cinerec.runs import finish_run, save_dataset, save_model
    from cinerec.models.neural import NeuralRecommender
    from cinerec.training import distributed_context

    if args.seed < 0:
        raise ConfigError(f"--seed must be 0 or more, got {args.seed}")
    # Every name and value is checked before the (slow) data load.
    values: dict[str, Any] = read_config_file(args.config) if args.config is not None else {}
    cli_values = parse_set_options(args.set_)
    values.update(cli_values)  # --set wins over the file
    where = " or ".join(w for w, used in ((str(args.config), args.config is not None), ("--set", bool(cli_values))) if used) \
        or "--set"
    model = create(args.model, values, where=where)
    if "seed" in model.config.to_dict() and "seed" not in values:
        model = create(args.model, {**values, "seed": args.seed}, where=where)
    protocol_name = args.protocol or ("ratings-random" if model.task == "rating" else "loo-sampled")
    options = parse_set_options(args.protocol_options)
    protocol = get_protocol(protocol_name, **options)
    protocol.check(model)
    out: Path = args.out
    if (out / "run.json").exists() and not args.resume:
        raise ConfigError(f"--out {out}: a finished run is already there; choose another folder or pass --resume")

    dataset = load(args.data)
    main = distributed_context().is_main
    if main:
        print(f"data: {args.data}: {len(dataset.interactions):,} ratings, {dataset.n_users:,} users, "
              f"{dataset.n_items:,} movies; {protocol.describe()}", file=sys.stderr)
    if isinstance(model, NeuralRecommender):
        model.checkpoint_dir = out / "checkpoints"
        model.resume = args.resume
    result = protocol.prepare(dataset, seed=args.seed).evaluate(model)
    if not main:
        return 0
    save_dataset(out, dataset)
    save_model(out, model)
    history = getattr(model, "history", [])
    meta = {
        "command": "train", "best_model": model.name, "data": str(args.data), "protocol": protocol_name,
        "protocol_options": result.options, "seed": args.seed, "config": {model.name: model.config.to_dict()},
    }
    metrics = {model.name: {**result.metrics, "seconds_fit": result.seconds_fit, "seconds_eval": result.seconds_eval}}
    finish_run(out, meta=meta, metrics=metrics, report=_report(args, model.name, result, history))
    shown = ", ".join(f"{k} {v:.4f}" for k, v in result.metrics.items())
    print(f"{model.name} under {result.label}: {shown}")
    print(f"run saved to {out}")
    return 0


def _report(args: argparse.Namespace, name: str, result: Any, history: list[dict[str, Any]]) -> str:
    lines = [f"# {name} on {args.data}", "", f"Protocol: {result.label}", "", "| metric | value |", "|---|---|"]
    lines += [f"| {k} | {v:.4f} |" for k, v in result.metrics.items()]
    lines += ["", f"Fit {result.seconds_fit:.1f} s, evaluation {result.seconds_eval:.1f} s.", ""]
    if history:
        lines += ["## Training", "", "| epoch | loss | validation | samples/s |", "|---|---|---|---|"]
        for h in history:
            valid = f"{h['metric']} {h['valid']:.4f}" if "valid" in h else "-"
            lines.append(f"| {h['epoch']} | {h['loss']:.4f} | {valid} | {h['samples_per_s']:,.0f} |")
        lines += ["", "Curves: `checkpoints/curves.png`.", ""]
    return "\n".join(lines)
