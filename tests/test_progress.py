"""Progress bars: drawn on a terminal with description, counts, rate and end time; silent otherwise."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from cinerec import progress


CLOCK = [100.0]  # the bars' clock in these tests, moved by hand


@pytest.fixture
def terminal(monkeypatch):
    """stderr replaced by a 100-column terminal whose output the test can read."""
    screen = io.StringIO()
    monkeypatch.setattr(progress, "_console", lambda: Console(
        file=screen, force_terminal=True, width=100, color_system=None, get_time=lambda: CLOCK[0]))
    return screen


def _frames(screen: io.StringIO) -> list[str]:
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.getvalue())
    return [f for f in re.split(r"[\r\n]", text) if f.strip()]


def test_a_bar_shows_counts_rate_and_end(terminal):
    bar = progress.bar(200, "epoch 1/3", unit="batch")
    for _ in range(4):
        CLOCK[0] += 1.0
        bar.update(25)  # 25 batches a second: 100 batches left after four seconds
    bar.set_postfix(loss="0.4213")
    bar._progress.refresh()
    last = _frames(terminal)[-1]
    bar.close()
    assert last.startswith("epoch 1/3")
    assert "100/200" in last and "25 batch/s" in last
    assert re.search(r"0:04 left, ends \d\d:\d\d:\d\d", last), last
    assert "loss=0.4213" in last


def test_a_download_bar_counts_bytes(terminal):
    with progress.bar(4 * 1024 * 1024, "ml-100k.zip", in_bytes=True) as bar:
        bar.update(1024 * 1024)
        bar._progress.refresh()
    assert re.search(r"1\.0/4\.2 MB", _frames(terminal)[-1])


def test_no_bar_when_disabled_or_silenced_or_not_a_terminal(terminal, monkeypatch):
    for bar in (progress.bar(10, "off", enabled=False),):
        bar.update(3)
        bar.close()
    with progress.silenced():
        assert progress.is_silenced()
        with progress.silenced(False):  # an inner block cannot turn bars back on
            assert progress.is_silenced()
        progress.bar(10, "quiet").update(1)
    assert not progress.is_silenced()
    assert terminal.getvalue() == ""
    monkeypatch.undo()
    # pytest's captured stderr is no terminal: nothing is drawn there either
    assert type(progress.bar(10, "captured")) is progress.Bar
    # Nor a dumb terminal (TERM=dumb), which kept a blank line where each bar or spinner was.
    screen = io.StringIO()
    monkeypatch.setenv("TERM", "dumb")
    monkeypatch.setattr(progress, "_console", lambda: Console(file=screen, force_terminal=True, width=100))
    with progress.stage("fitting ease"), progress.bar(10, "dumb") as drawn:
        drawn.update(1)
    assert type(drawn) is progress.Bar and screen.getvalue() == ""


def test_a_stage_shows_its_time_and_gives_way_to_a_bar(terminal):
    # A closed-form fit (EASE at 13,203 movies: a minute) drew nothing at all.
    with progress.stage("fitting ease"):
        shown = progress._stage
        assert shown is not None
        CLOCK[0] += 42
        shown._progress.refresh()
        with progress.bar(10, "epoch 1/2", unit="batch") as bar:  # (the bar says what is done meanwhile)
            assert not shown._drawn
            bar.update(1)
            with progress.stage("measuring ease"):  # (under a bar: nothing more drawn)
                assert progress._stage is shown and not shown._drawn
        assert shown._drawn and progress._bars == 0
    assert progress._stage is None and not shown._drawn
    assert any("fitting ease" in f and "0:00:42" in f for f in _frames(terminal))
    with progress.silenced():
        with progress.stage("quiet"):
            assert progress._stage is None


def test_a_fit_that_fails_mid_epoch_leaves_no_bar_drawing(terminal, monkeypatch):
    # Its epoch's bar stayed open, and every spinner after it in the process was held off.
    from cinerec import training
    from cinerec.models import create
    from tests.models.conformance import random_ratings

    def fails(self, xb):
        raise RuntimeError("a step that fails")

    monkeypatch.setattr(training._Fit, "step", fails)
    with progress.stage("fitting mf"):
        with pytest.raises(RuntimeError, match="a step that fails"):
            create("mf", {"epochs": 1, "progress": True}).fit(random_ratings())
        assert progress._bars == 0 and progress._stage._drawn


def test_what_is_printed_under_a_spinner_or_a_bar_stays_on_a_stdout_sent_elsewhere(terminal, capsys):
    # Rich moved it to the spinner's stream: a script's output, sent to a file, went to the terminal.
    with progress.stage("fitting ease"):
        print("printed while fitting")
        with progress.bar(2, "epoch 1/1"):
            print("printed in an epoch")
    assert capsys.readouterr().out == "printed while fitting\nprinted in an epoch\n"
    assert "printed" not in terminal.getvalue()


def test_under_torchrun_only_the_first_process_draws_a_spinner(terminal, monkeypatch):
    monkeypatch.setenv("RANK", "1")
    with progress.stage("fitting ease"):
        assert progress._stage is None
    monkeypatch.setenv("RANK", "0")
    with progress.stage("fitting ease"):
        assert progress._stage is not None
