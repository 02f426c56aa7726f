"""What the commands print: figures on stdout (Rich tables, or one JSON object), chatter on stderr.

Figures go to stdout so they can be piped; everything said along the way (what was
loaded, how long it took, where a run was saved) goes to stderr and is silenced by
``--quiet``. Tables are never cut to the terminal's width: a table wider than the
terminal is drawn at its full width and left to the terminal to wrap.
"""

from __future__ import annotations

import re
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Sequence

__all__ = ["say", "print_json", "print_table", "print_leaderboard", "print_facts", "visible", "shell_word"]


#: Characters a terminal acts on rather than shows: control characters (a tab, a new line,
#: ESC starting a colour or a cursor move), the line and paragraph separators, and the marks
#: that turn text right to left.
_UNSHOWN = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def visible(text: str) -> str:
    """``text`` with every character a terminal would act on written as its escape
    (``\\t``, ``\\x1b``, ``\\u202e``): an id or a title of a person's own data printed as
    plain text moved the cursor, coloured the lines after it or broke the list's lines."""
    return _UNSHOWN.sub(lambda m: repr(m.group())[1:-1], text)


def shell_word(text: str) -> str:
    """``text`` as one word a shell reads back as it is, shown with no character a terminal
    acts on: quoted as :func:`shlex.quote` quotes, or, where it holds such a character (an
    id holding ESC), in bash's ``$'...'`` with that character's bytes (``$'a\\x1bb'``)."""
    import shlex

    if not _UNSHOWN.search(text):
        return shlex.quote(text)
    body = text.replace("\\", "\\\\").replace("'", "\\'")
    # (each byte of its UTF-8 as \\xHH: bash reads \\uHHHH as the character only in a UTF-8
    # locale, and a container's shell often runs in C's)
    return "$'" + _UNSHOWN.sub(lambda m: "".join(f"\\x{b:02x}" for b in m.group().encode()), body) + "'"


def say(message: str, quiet: bool = False) -> None:
    """One line of chatter on stderr, unless ``quiet`` (an id or title in it, a person's
    own data, shown with :func:`visible`)."""
    if not quiet:
        print(visible(message), file=sys.stderr, flush=True)


def print_json(value: Any) -> None:
    """``value`` as one line of JSON on stdout (NumPy numbers and paths become plain values,
    and a number that is not finite ``null``: :func:`cinerec.io.json_text`)."""
    from cinerec.io import json_text

    print(json_text(value, default=_plain))


#: Spaces ending a line, before any closing style codes.
_PADDING = re.compile(r" +((?:\x1b\[[0-9;]*m)*)$", re.MULTILINE)


def print_table(head: Sequence[str], rows: Iterable[Sequence[Any]], *, title: str | None = None,
                numeric_from: int = 1, wrap_last: bool = False) -> None:
    """A Rich table on stdout; columns from ``numeric_from`` on are right-aligned. Drawn
    whole, however wide; with ``wrap_last``, the last column's text wraps between words to
    fit the terminal instead (a long list of words; one word longer widens the table)."""
    from rich import box
    from rich.console import Console
    from rich.measure import Measurement
    from rich.table import Table
    from rich.text import Text

    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
    for j, name in enumerate(head):
        wraps = wrap_last and j == len(head) - 1
        table.add_column(Text(name), justify="right" if j >= numeric_from else "left", no_wrap=not wraps)
    for row in rows:
        table.add_row(*(Text(visible(str(c))) for c in row))  # Text: a "[" in a title or path is not markup
    console = Console(file=sys.stdout)
    measured = Measurement.get(console, console.options.update(max_width=100_000), table)
    # Drawn whole: cut columns would hide figures; a wrapped column breaks between words,
    # never inside one (a path without spaces is shown on one line).
    width = measured.minimum if wrap_last else measured.maximum
    if width > console.width:  # (with its height: Rich takes a dumb terminal, TERM=dumb, as 80 wide else)
        console = Console(file=sys.stdout, width=width, height=console.height)
    # Each line ends where its text does: Rich pads every row to the widest, and one long
    # value (ml-100k's genres) made each short row wrap on a narrower terminal.
    with console.capture() as drawn:
        if title is not None:
            console.print(Text(title, style="bold"), soft_wrap=True)
        console.print(table)
    sys.stdout.write(_PADDING.sub(r"\1", drawn.get()))
    sys.stdout.flush()


def print_leaderboard(results: Sequence[Any]) -> None:
    """Evaluation results as Rich tables, one per protocol, the protocol named above each."""
    from cinerec.evaluation.report import leaderboard_blocks

    for i, (title, head, rows, note) in enumerate(leaderboard_blocks(results)):
        if i:
            print()
        print_table(head, rows, title=title, numeric_from=2)
        if note:
            print(note)


def print_facts(facts: dict[str, Any]) -> None:
    """A data summary (``Dataset.describe()``) as a two-column Rich table."""
    rows = []
    for key, value in facts.items():
        if key == "density":
            value = f"{value:.4%}"
        elif key.endswith("_timestamp") and isinstance(value, int):
            value = f"{value} ({datetime.fromtimestamp(value, timezone.utc):%Y-%m-%d %H:%M} UTC)"
        elif isinstance(value, bool) or value is None:
            value = "-" if value is None else str(value).lower()
        elif isinstance(value, int):
            value = f"{value:,}"
        elif isinstance(value, float):
            value = str(value)
        elif isinstance(value, list):
            value = ", ".join(map(str, value)) or "-"
        rows.append((key, value))
    print_table(["fact", "value"], rows, numeric_from=2, wrap_last=True)  # (ml-100k's 19 genres wrap)


def _plain(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
