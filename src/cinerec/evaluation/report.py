"""Result tables for the terminal and for Markdown reports, protocol always named; the
training curves; the "Plots" section of a run's report.

Results are grouped by protocol (with its options and seed): figures from different
protocols are never put in one column, because they are not comparable.

Pictures are PNGs drawn with matplotlib's Agg backend (no display needed), imported only
when a picture is drawn, so reading results never pays for matplotlib.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Mapping, Sequence

from cinerec.io import atomic_path

if TYPE_CHECKING:
    from cinerec.evaluation.protocols import Result


def _lower_is_better(metric: str) -> bool:
    # Imported here, not above: the protocols import the models, whose training loop
    # imports this module for its curves.
    from cinerec.evaluation.protocols import LOWER_IS_BETTER

    return metric.split("@")[0].split("_")[0] in LOWER_IS_BETTER

__all__ = ["leaderboard", "markdown_table", "leaderboard_blocks", "save_curves", "plot_files", "plots_section", "figure",
           "save_png", "CURVES"]

#: The file name the training loop gives the curves in its checkpoint folder.
CURVES = "curves.png"


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


def figure_cell(value: float | None) -> str:
    """A figure as a table shows it: 4 decimals, ``-`` where none was asked, :data:`UNMEASURED`
    where no one could be measured (NaN)."""
    if value is None:
        return "-"
    if isinstance(value, float) and math.isnan(value):
        return UNMEASURED
    return f"{value:.4f}"


#: How a figure no user could be measured by is shown; :func:`unmeasured_note` says why.
UNMEASURED = "n/a"


def unmeasured_note(group: Sequence[Result], cols: Sequence[str]) -> str | None:
    """One line under a table that shows :data:`UNMEASURED`: which figures, and why."""
    missing = [c for c in cols if any(isinstance(v, float) and math.isnan(v)
                                      for v in (r.metrics.get(c) for r in group))]
    return unmeasured_line(missing, stars=any(_lower_is_better(c) for c in cols)) if missing else None


def unmeasured_line(missing: Sequence[str], stars: bool, where: str = "") -> str:
    """Why the figures ``missing`` show :data:`UNMEASURED` (``stars``: a rating protocol's
    table, whose NDCG is of stars; ``where``: "in some seed " and the like)."""
    why = []
    if stars and any(c.startswith("ndcg@") for c in missing):
        why.append("NDCG of stars counts only people whose test ratings differ in stars")
    if "auc" in missing:
        why.append("AUC needs both liked and not-liked test ratings")
    return (f"{UNMEASURED}: {where}no one in the test part could be measured by {', '.join(missing)}"
            + (f" ({'; '.join(why)})" if why else ""))


def _rows(group: Sequence[Result], cols: list[str]) -> tuple[list[str], list[list[str]]]:
    head = ["protocol", "model", *cols, "users", "fit s", "eval s"]
    rows = [
        [r.protocol, r.model, *(figure_cell(r.metrics.get(c)) for c in cols), str(r.n_users),
         f"{r.seconds_fit:.1f}", f"{r.seconds_eval:.1f}"]
        for r in group
    ]
    return head, rows


def _direction(cols: list[str]) -> str:
    lower = [c for c in cols if _lower_is_better(c)]
    if lower and len(lower) == len(cols):
        return "lower is better"
    if not lower:
        return "higher is better"
    return f"lower is better for {', '.join(lower)}; higher for the rest"


def leaderboard_blocks(results: Iterable[Result], metrics: Sequence[str] | None = None
                       ) -> list[tuple[str, list[str], list[list[str]], str | None]]:
    """The parts of :func:`leaderboard`, for drawing it another way (the CLI's Rich tables).

    Returns:
        One ``(title, column names, rows of formatted cells, note or None)`` per protocol;
        the note says why a figure shows :data:`UNMEASURED`.
    """
    blocks = []
    for group in _groups(results):
        cols = _columns(group, metrics)
        head, rows = _rows(group, cols)
        blocks.append((f"protocol: {group[0].label}  ({_direction(cols)})", head, rows, unmeasured_note(group, cols)))
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

        def line(cells: list[str], widths: list[int] = widths) -> str:  # this block's widths, bound now
            # Names left-aligned, numbers right-aligned, so decimals line up.
            return "  ".join(c.ljust(w) if j < 2 else c.rjust(w) for j, (c, w) in enumerate(zip(cells, widths)))

        title = f"protocol: {group[0].label}  ({_direction(cols)})"
        note = unmeasured_note(group, cols)
        blocks.append("\n".join([title, line(head), "  ".join("-" * w for w in widths), *map(line, rows),
                                 *([note] if note else [])]))
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
        note = unmeasured_note(group, cols)
        blocks.append("\n".join([*lines, *(["", note] if note else [])]))
    return "\n\n".join(blocks)


# -- pictures -----------------------------------------------------------------------


def figure(**kwargs: Any) -> Any:
    """A matplotlib ``Figure`` on its own Agg canvas (``kwargs``: ``figsize``, ``dpi``).

    Drawn without pyplot, so no window is needed and the caller's backend (a notebook's
    inline one) is left as it was; nothing is kept once the figure is dropped.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(**{"dpi": 100, **kwargs})  # the saved pixels' dpi, whatever a notebook set
    FigureCanvasAgg(fig)
    return fig


@contextlib.contextmanager
def glyphs_unsaid() -> Iterator[None]:
    """Draw without matplotlib's warning for each character its font lacks (a title in
    Japanese: "Glyph 26481 missing from font(s) DejaVu Sans", with its source line, on
    stderr under ``-q`` too); such characters are drawn as boxes, as before."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from font", category=UserWarning)
        yield


def save_png(fig: Any, path: str | Path, dpi: int = 100) -> None:
    """Write a figure to ``path`` as PNG, atomically.

    The PNG carries no date, so the same figure always gives the same bytes.
    """
    with atomic_path(path) as tmp, glyphs_unsaid():
        fig.savefig(tmp, format="png", dpi=dpi, metadata={"Software": None})


def _kept_at(valid: list[dict[str, Any]], lower: bool) -> int:
    """Which of the validated epochs ``valid`` kept its weights: the one training marked
    ``kept`` (a later epoch of equal figure may have replaced the first's), else the first
    reaching the best figure, as a history without marks keeps it."""
    marked = [i for i, h in enumerate(valid) if h.get("kept")]
    figures = [h["valid"] for h in valid]
    return marked[0] if marked else min(range(len(figures)), key=lambda i: (figures[i] if lower else -figures[i], i))


def save_curves(history: list[dict[str, Any]], path: str | Path, title: str = "") -> None:
    """Plot training loss and the validation metric per epoch to a PNG, atomically.

    Args:
        history: one dict per epoch, as :attr:`NeuralRecommender.history` holds them:
            ``epoch`` and ``loss``, plus ``valid`` and ``metric`` (its name, e.g.
            ``hr@10`` or ``rmse``) when the model was validated; or one per Gibbs
            sweep, as BPMF's: ``sweep`` and ``train_rmse``.
        path: the PNG to write (800×560 pixels with validation, 800×340 without).
        title: the figure title, usually the model name.
    """
    step, y = ("epoch", "loss") if "epoch" in history[0] else ("sweep", "train_rmse")
    epochs = [h[step] for h in history]
    valid = [h for h in history if h.get("valid") is not None]  # (null in a saved history: a figure no number)
    rows = 2 if valid else 1
    fig = figure(figsize=(8, 5.6 if valid else 3.4))
    axes = fig.subplots(rows, 1, sharex=True, squeeze=False)
    ax = axes[0, 0]
    ax.plot(epochs, [h[y] for h in history], marker="o", color="tab:blue")
    ax.set_ylabel("training loss" if y == "loss" else "training RMSE")
    ax.grid(alpha=0.3)
    if valid:
        name = valid[0]["metric"]
        lower = _lower_is_better(name)
        vx, vy = [h["epoch"] for h in valid], [h["valid"] for h in valid]
        best = _kept_at(valid, lower)
        va = axes[1, 0]
        va.plot(vx, vy, marker="s", color="tab:orange")
        va.plot([vx[best]], [vy[best]], marker="*", markersize=16, color="tab:red", linestyle="none",
                label=f"best: epoch {vx[best]}, {name} {vy[best]:.4f} (weights kept)")
        va.set_ylabel(f"validation {name}\n({'lower' if lower else 'higher'} is better)")
        va.legend(loc="best", fontsize=9)
        va.grid(alpha=0.3)
    axes[-1, 0].set_xlabel(step)
    axes[-1, 0].xaxis.get_major_locator().set_params(integer=True)
    fig.suptitle(f"{title}: training curves" if title else "training curves")
    with glyphs_unsaid():  # (laying out draws the text: a title in a script the font lacks)
        fig.tight_layout()
    save_png(fig, path)


def save_leaderboard(board: Mapping[str, Any], path: str | Path) -> None:
    """Plot a study's leaderboard to a PNG, atomically: each model's figure on the study's
    metric, mean over the seeds with a bar of ± one standard deviation (when there are
    several seeds), best first, and the reference study's figure as a dashed line.

    Args:
        board: the leaderboard :func:`cinerec.studies.run_study` returns (``models``,
            ``metric``, ``direction``, ``protocol``, ``seeds``, ``reference``).
        path: the PNG to write.
    """
    metric = board["metric"]
    rows = [r for r in board["models"] if metric in r["metrics"]]
    labels = [r["label"] for r in rows]
    means = [r["metrics"][metric]["mean"] for r in rows]
    sds = [r["metrics"][metric]["sd"] or 0.0 for r in rows]  # null for one seed
    fig = figure(figsize=(8, 1.2 + 0.45 * max(len(rows), 1)))
    ax = fig.subplots()
    seeds = len(board["seeds"])
    y = list(range(len(rows)))[::-1]  # best at the top
    ax.barh(y, means, xerr=sds if seeds > 1 else None, color="tab:blue", alpha=0.8,
            error_kw={"ecolor": "black", "capsize": 3})
    ax.set_yticks(y, labels)
    for yi, m, sd in zip(y, means, sds):  # the figure, past its error bar
        ax.annotate(f"{m:.4f}", (m + (sd if seeds > 1 else 0), yi), xytext=(6, 0), textcoords="offset points",
                    va="center", fontsize=9)
    reference = board.get("reference")
    if reference and reference.get("metric") == metric:
        other = "\n(measured on other data:\nthe two do not compare)" if reference.get("differs") else ""
        ax.axvline(reference["value"], color="tab:red", linestyle="--",
                   label=f"the study's own figure: {reference['value']:g}{other}")
        # Beside the axes, never over a bar and its figure (inside, it hid the last row's)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9, frameon=False)
    better = "lower" if board["direction"] == "minimize" else "higher"
    ax.set_xlabel(f"{metric} ({better} is better); mean" + (f" ± sd over {seeds} seeds" if seeds > 1 else ", one seed"))
    # Room for every bar's error bar and the figure past it (a wide one ran off the edge,
    # its figure with it); a figure that is no number (NaN) sets no width.
    ends = [m + (sd if seeds > 1 else 0) for m, sd in zip(means, sds)]
    if reference and reference.get("metric") == metric:
        ends.append(reference["value"])
    ax.set_xlim(0, max([e for e in ends if math.isfinite(e)], default=0) * 1.15 or 1)
    ax.grid(axis="x", alpha=0.3)
    from cinerec.evaluation.protocols import options_text

    opts = options_text(board.get("protocol_options") or {})
    ax.set_title(f"leaderboard: {board['protocol']}" + (f" ({opts})" if opts else ""))
    with glyphs_unsaid():  # (laying out draws the labels: a model named in a script the font lacks)
        fig.tight_layout()
    save_png(fig, path)


def _caption(png: Path) -> str:
    stem = png.stem
    if stem == "leaderboard":
        return "Leaderboard"
    if stem.startswith("map-"):
        return f"Movie map of `{stem[4:]}`"
    if stem.startswith("curves-"):
        return f"Training curves of `{stem[7:]}`"
    return stem


def plot_files(run_dir: str | Path, folder: str = "plots") -> list[Path]:
    """The PNGs under ``run_dir/folder`` in the report's order: the leaderboard chart
    first, when there is one, then the others by name."""
    return sorted((Path(run_dir) / folder).glob("*.png"), key=lambda p: (p.name != "leaderboard.png", p.name))


def plots_section(run_dir: str | Path, folder: str = "plots") -> str:
    """A Markdown "Plots" section showing every PNG under ``run_dir/folder``: the
    leaderboard chart first, when there is one, then the others by name.

    Returns ``""`` when there is none. Links are relative to ``run_dir``, where
    ``report.md`` lives.
    """
    pngs = plot_files(run_dir, folder)
    if not pngs:
        return ""
    lines = ["## Plots", ""]
    for png in pngs:
        lines += [f"### {_caption(png)}", "", f"![{png.stem}]({folder}/{png.name})", ""]
    return "\n".join(lines)
