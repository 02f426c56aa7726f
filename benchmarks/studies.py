"""Run the study files under ``studies/`` and print their leaderboards beside each study's figure.

Each study is an ordinary ``cinerec run STUDY.toml``: its file holds the data, filters,
protocol, seeds, models, settings and the study's own published figure; this script only
loops over the files, times them and gathers their leaderboards into one JSON object
(and, with ``--markdown``, each study's leaderboard as a Markdown table, the form of the
"Study files" tables at the end of docs/results.md; its earlier tables came from older
recipes, as it says).

Usage::

    python benchmarks/studies.py --out runs/studies                           # every study
    python benchmarks/studies.py --out runs/studies --study mlp-ml100k --data PATH/TO/ml-100k
    python benchmarks/studies.py --out runs/studies --study ncf-ml25m --data PATH/TO/ml-25m --markdown

``--data`` replaces each chosen study's source (use it with studies of one release).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from cinerec.data.filters import step_lines
from cinerec.errors import CinerecError
from cinerec.studies import Study, differs_words, leaderboard_note, leaderboard_rows, run_study

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/machine.py, however this file is run

from machine import at_least, machine, one_line  # noqa: E402

STUDIES = Path(__file__).resolve().parents[1] / "studies"


def markdown(board: dict[str, Any], seconds: float) -> str:
    """One study's leaderboard as Markdown, with the study's figure and the wall time."""
    title, head, rows = leaderboard_rows(board)
    lines = [f"### {board['title']}", "", f"`{Path(board['study']).name}` on `{board['data']}`; {title}; "
             f"{seconds:.0f} s.", "", "| " + " | ".join(head) + " |",
             "| --- | " + " | ".join(["---:"] * (len(head) - 1)) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    note = leaderboard_note(board)
    lines += ["", note] if note else []
    # what cinerec run prints under its table: a synthetic release, a model below popularity, what a fit chose
    said = [*board.get("below_popularity", []), *board.get("notes", [])]
    lines += ["", *(f"note: {line}" for line in said)] if said else []
    if board.get("transforms"):  # what the file's filters (or --data's data) left, as the report says it
        lines += ["", *step_lines(board["transforms"])]
    ref = board.get("reference")
    if ref:
        figures = {ref["metric"]: ref["value"], **ref.get("also", {})}
        lines += ["", "The study: " + ", ".join(f"{m} = {v}" for m, v in figures.items())
                  + (f" ({ref['source']})" if ref["source"] else "") + "."]
        if ref.get("differs"):
            lines += ["", f"note: {differs_words(ref)}"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    names = sorted(p.stem for p in STUDIES.glob("*.toml"))
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="a folder; each study's run folder is written inside it")
    p.add_argument("--study", action="append", choices=names, help="default: every study")
    p.add_argument("--data", help="replaces each chosen study's [data] source")
    p.add_argument("--tune", type=at_least(1), help="tuning trials, replacing each study's [tune] trials")
    p.add_argument("--markdown", action="store_true", help="also print the tables to stderr")
    args = p.parse_args(argv)
    try:  # every file is read and checked before the first study runs
        studies = [Study.from_toml(STUDIES / f"{n}.toml", data=args.data, trials=args.tune)
                   for n in args.study or names]
    except CinerecError as e:
        print(f"studies: error: {e}", file=sys.stderr)
        return 2
    results, failed = [], []
    where = machine()
    if args.markdown:
        print(f"machine: {one_line(where)}", file=sys.stderr, flush=True)
    for study in studies:
        t0 = time.perf_counter()
        try:
            board = run_study(study, Path(args.out) / study.path.stem, quiet=True)
        except CinerecError as e:  # found once its data is read: said in one line, and the next study runs
            print(f"{study.path.stem}: error: {e}", file=sys.stderr, flush=True)
            failed.append({"study": str(study.path), "error": str(e)})
            continue
        seconds = time.perf_counter() - t0
        results.append({"seconds": round(seconds, 1), **board})
        print(f"{study.path.stem}: {seconds:.0f} s", file=sys.stderr, flush=True)
        if args.markdown:
            print(markdown(board, seconds), file=sys.stderr, flush=True)
    print(json.dumps({"benchmark": "studies", "studies": results, "failed": failed, "machine": where}, indent=2))
    return 2 if failed else 0


if __name__ == "__main__":
    from cinerec.cli import script_main

    script_main(main)
