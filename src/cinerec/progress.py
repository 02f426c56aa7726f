"""Progress bars on stderr: what is being done, how much of it, how fast, and when it ends.

One small wrapper over Rich, so the training loop, the export and downloads all show the
same bar: a description, done/total, the rate and the estimated time left with the clock
time it should end. A bar draws only when stderr is a terminal (never into logs or
captured output, nor on a dumb terminal), and not at all inside :func:`silenced` (the command line's
``--quiet``). Rich is imported only when a bar is actually drawn.

    with bar(n_batches, "epoch 1/20", unit="batch") as b:
        for ...:
            b.update(1)
            b.set_postfix(loss="0.3512")

Work with nothing to count (a closed-form fit, scoring every person) shows a spinner
and the time it has taken instead, on the same terms:

    with stage("fitting ease"):
        model.fit(train)
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from typing import Any, Iterator

__all__ = ["Bar", "bar", "stage", "silenced", "is_silenced"]

_silent = False
#: The stage whose spinner is on the screen (:func:`stage`), which a bar drawn under it
#: takes the place of while it draws; and the bars drawing now.
_stage: "_Stage | None" = None
_bars = 0


@contextlib.contextmanager
def silenced(on: bool = True) -> Iterator[None]:
    """Inside this block no bar draws (when ``on``); the setting before is restored after."""
    global _silent
    before = _silent
    _silent = before or on
    try:
        yield
    finally:
        _silent = before


def is_silenced() -> bool:
    """Whether bars are turned off by :func:`silenced`."""
    return _silent


class Bar:
    """A bar that draws nothing; the drawn bar below answers the same three calls.

    The calls are the ones the call sites used with tqdm: ``update(n)``,
    ``set_postfix(**fields)`` and ``close()``; a bar is also a context manager.
    """

    def update(self, n: int = 1) -> None:
        """Count ``n`` more units of work as done."""

    def set_postfix(self, **fields: Any) -> None:
        """Show ``key=value`` pairs after the bar (e.g. the current loss)."""

    def close(self) -> None:
        """Remove the bar from the terminal."""

    def __enter__(self) -> "Bar":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def bar(total: int | None, description: str, *, unit: str = "it", in_bytes: bool = False,
        enabled: bool = True) -> Bar:
    """A progress bar on stderr, or one that draws nothing.

    Args:
        total: units of work in all (``None`` when unknown: no end time is shown).
        description: what is being done, shown first (e.g. ``"epoch 3/20"``).
        unit: the unit counted, shown with the rate (``"batch"`` → ``"812 batch/s"``).
        in_bytes: the units are bytes: sizes and rates are shown in kB, MB...
        enabled: ``False`` gives the bar that draws nothing, as do :func:`silenced`
            and a stderr that is not a terminal.
    """
    if not enabled or _silent:
        return Bar()
    console = _console()
    if not _draws(console):
        return Bar()
    return _RichBar(console, total, description, unit, in_bytes)


@contextlib.contextmanager
def stage(description: str) -> Iterator[None]:
    """While the block runs, a spinner, ``description`` and the time taken so far on
    stderr (``⠋ fitting ease 0:00:42``), removed when it ends: drawn on a terminal only, not
    inside :func:`silenced`, and not under a bar or another stage (which already say
    what is being done). A bar drawn inside the block takes its place until it closes.
    What the block prints stays on stdout (:func:`_stdout_shown`)."""
    global _stage
    # (under torchrun, the first process alone: every process would draw its own on one terminal)
    if _silent or _stage is not None or _bars or os.environ.get("RANK", "0") != "0":
        yield
        return
    console = _console()
    if not _draws(console):
        yield
        return
    shown = _stage = _Stage(console, description)
    try:
        yield
    finally:
        _stage = None
        shown.stop()


class _Stage:
    def __init__(self, console: Any, description: str) -> None:
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self._progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                                  console=console, transient=True, redirect_stdout=_stdout_shown())
        self._progress.add_task(description, total=None)
        self._progress.start()
        self._drawn = True

    def pause(self) -> None:
        if self._drawn:
            self._drawn = False
            self._progress.stop()

    def resume(self) -> None:
        if not self._drawn:
            self._drawn = True
            self._progress.start()

    def stop(self) -> None:
        self.pause()


def _draws(console: Any) -> bool:
    """Whether a bar can draw on ``console``: a terminal that moves its cursor. A dumb one
    (``TERM=dumb``, as in some editors' shells) kept a blank line for each bar removed."""
    return bool(console.is_terminal and not console.is_dumb_terminal)


def _stdout_shown() -> bool:
    """Whether stdout is a terminal too, where Rich may show what is printed while a bar or
    spinner draws above it (its lines kept apart); stdout sent elsewhere (a file, a pipe)
    stays there, where Rich would put it on stderr with the bar."""
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):  # (no stdout, or a closed one)
        return False


def _console() -> Any:
    from rich.console import Console

    return Console(file=sys.stderr)


class _RichBar(Bar):
    def __init__(self, console: Any, total: int | None, description: str, unit: str, in_bytes: bool) -> None:
        from rich.progress import (BarColumn, DownloadColumn, MofNCompleteColumn, Progress, TextColumn,
                                   TransferSpeedColumn)

        counts = DownloadColumn() if in_bytes else MofNCompleteColumn()
        rate = TransferSpeedColumn() if in_bytes else _rate_column(unit)
        self._progress = Progress(
            TextColumn("{task.description}"), BarColumn(), counts, rate, _end_column(),
            TextColumn("{task.fields[note]}"), console=console, transient=True, redirect_stdout=_stdout_shown(),
        )
        self._task = self._progress.add_task(description, total=total, note="")
        global _bars
        if _stage is not None:  # (the bar says what is being done while it draws)
            _stage.pause()
        _bars += 1
        self._progress.start()
        self._closed = False

    def update(self, n: int = 1) -> None:
        self._progress.advance(self._task, n)

    def set_postfix(self, **fields: Any) -> None:
        note = "  ".join(f"{k}={v}" for k, v in fields.items())
        self._progress.update(self._task, note=note)

    def close(self) -> None:
        if not self._closed:
            global _bars
            self._closed = True
            self._progress.stop()
            _bars -= 1
            if _stage is not None and not _bars:
                _stage.resume()


def _rate_column(unit: str) -> Any:
    from rich.progress import ProgressColumn
    from rich.text import Text

    class Rate(ProgressColumn):
        """Units per second over the last half-minute."""

        def render(self, task: Any) -> Text:
            speed = task.speed
            if speed is None:
                return Text(f"? {unit}/s", style="progress.data.speed")
            shown = f"{speed:,.1f}" if speed < 10 else f"{speed:,.0f}"
            return Text(f"{shown} {unit}/s", style="progress.data.speed")

    return Rate()


def _end_column() -> Any:
    from rich.progress import ProgressColumn
    from rich.text import Text

    class End(ProgressColumn):
        """Time left at the current rate, and the clock time that makes."""

        max_refresh = 0.5  # the estimate jitters; redraw it at most twice a second

        def render(self, task: Any) -> Text:
            left = task.time_remaining
            if left is None:
                return Text("-- left", style="progress.remaining")
            ends = time.strftime("%H:%M:%S", time.localtime(time.time() + left))
            return Text(f"{_duration(left)} left, ends {ends}", style="progress.remaining")

    return End()


def _duration(seconds: float) -> str:
    """``75`` → ``"1:15"``, ``3700`` → ``"1:01:40"``."""
    s = int(round(seconds))
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"
