"""Result tables for the terminal and for Markdown reports, protocol always named.

Results are grouped by protocol (with its options and seed): figures from different
protocols are never put in one column, because they are not comparable.
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

from cinerec.evaluation.protocols import LOWER_IS_BETTER, Result

__all__ = ["leaderboard", "markdown_table", "leaderboard_blocks"]


def _groups(results: Iterable[Result]) -> list[list[Result]]:
    groups: dict[str, list[Result]] = {}
    for r in results:
        groups.setdefault(r.label, []).append(r)
    return list(groups.values())


def _columns(group: Sequence[Result], metrics: Sequence[str] | None) -> list[str]:
    if metrics is not None:
        return [m for m in metrics if any(m in r.metrics for r in group)]
    cols: list[str] = []
    for r in group:
        cols.extend(k for k in r.metrics if k not in cols)
    return cols


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    return f"{value:.4f}"


def _rows(group: Sequence[Result], cols: list[str]) -> tuple[list[str], list[list[str]]]:
    head = ["protocol", "model", *cols, "users", "fit s", "eval s"]
    rows = [
        [r.protocol, r.model, *(_fmt(r.metrics.get(c)) for c in cols), str(r.n_users),
         f"{r.seconds_fit:.1f}", f"{r.seconds_eval:.1f}"]
        for r in group
    ]
    return head, rows


def _direction(cols: list[str]) -> str:
    lower = [c for c in cols if c.split("_")[0] in LOWER_IS_BETTER]
    if lower and len(lower) == len(cols):
        return "lower is better"
    if not lower:
        return "higher is better"
    return f"lower is better for {', '.join(lower)}; higher for the rest"


def leaderboard_blocks(results: Iterable[Result], metrics: Sequence[str] | None = None
                       ) -> list[tuple[str, list[str], list[list[str]]]]:
    """The parts of :func:`leaderboard`, for drawing it another way (the CLI's Rich tables).

    Returns:
        One ``(title, column names, rows of formatted cells)`` per protocol.
    """
    blocks = []
    for group in _groups(results):
        cols = _columns(group, metrics)
        head, rows = _rows(group, cols)
        blocks.append((f"protocol: {group[0].label}  ({_direction(cols)})", head, rows))
    return blocks


def leaderboard(results: Iterable[Result], metrics: Sequence[str] | None = None) -> str:
    """A fixed-width table, one block per protocol, the protocol named above and in each row.

    Args:
        results: results in the order to show them (e.g. best first).
        metrics: the metric columns to show (default: every metric, in first-seen order).

    Returns:
        The table as text, ending without a newline.
    """
    blocks = []
    for group in _groups(results):
        cols = _columns(group, metrics)
        head, rows = _rows(group, cols)
        widths = [max(len(h), *(len(row[j]) for row in rows)) for j, h in enumerate(head)]

        def line(cells: list[str]) -> str:
            # Names left-aligned, numbers right-aligned, so decimals line up.
            return "  ".join(c.ljust(w) if j < 2 else c.rjust(w) for j, (c, w) in enumerate(zip(cells, widths)))

        title = f"protocol: {group[0].label}  ({_direction(cols)})"
        blocks.append("\n".join([title, line(head), "  ".join("-" * w for w in widths), *map(line, rows)]))
    return "\n\n".join(blocks)


def markdown_table(results: Iterable[Result], metrics: Sequence[str] | None = None) -> str:
    """The same tables in Markdown: a bold protocol line, then a table per protocol."""
    blocks = []
    for group in _groups(results):
        cols = _columns(group, metrics)
        head, rows = _rows(group, cols)
        align = ["---", "---", *(["---:"] * (len(head) - 2))]
        lines = [f"**Protocol `{group[0].label}`** ({_direction(cols)})", "",
                 "| " + " | ".join(head) + " |", "| " + " | ".join(align) + " |"]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
