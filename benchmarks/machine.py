"""What every benchmark records beside its figures: the machine they were taken on, and
the checks its numeric arguments share.

``machine()`` gives the cores, the processor, the memory, Python's version and those of the
libraries the figures depend on, ``OMP_NUM_THREADS`` and the load average. The
``at_least`` and ``above`` helpers are ``argparse`` types, so a bad size is refused at
parse time as one line naming the flag (exit 2), before any work.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

#: The libraries whose versions go with the figures (those importable here).
LIBRARIES = ("numpy", "scipy", "torch")


def _processor() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else what ``platform`` says."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and value.strip():
                return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine(**extra: Any) -> dict[str, Any]:
    """The machine the figures were taken on, as a JSON-ready dict; ``extra`` keys (a
    script's own, such as ``torch_threads``) are added after the common ones."""
    versions: dict[str, str] = {}
    for name in LIBRARIES:
        try:
            versions[name] = importlib.import_module(name).__version__
        except ImportError:
            continue
    try:
        import cinerec

        versions["cinerec"] = cinerec.__version__
    except ImportError:  # recbole_ncf.py runs where cinerec is not installed
        pass
    try:
        load: list[float] | None = [round(x, 2) for x in os.getloadavg()]
    except OSError:  # not every system has a load average
        load = None
    try:
        memory: float | None = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):  # (no sysconf: not every system has these)
        memory = None
    return {"cpus": os.cpu_count(), "processor": _processor(), "memory_gib": memory,
            "python": platform.python_version(), **versions,
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"), "load": load, **extra}


def one_line(record: dict[str, Any]) -> str:
    """The machine record as one line of text, for output that is not JSON."""
    return ", ".join(f"{key} {value}" for key, value in record.items() if value is not None)


def child_failed(what: str, status: int, said: str = "") -> NoReturn:
    """End the script after a process it ran failed: one line naming the process, and the
    process's own exit status (a bad argument stays 2), or 1 where a signal ended it."""
    said = " ".join(said.split())[-500:]
    print(f"{Path(sys.argv[0]).name}: error: {what} exited with status {status}" + (f": {said}" if said else ""),
          file=sys.stderr)
    raise SystemExit(status if 0 < status < 256 else 1)


def cannot_write(error: OSError) -> NoReturn:
    """End the script on a folder it cannot write its data into (a read-only checkout): one
    line naming the path and ``CINEREC_BENCH_OUT``, exit 2."""
    where = error.filename or "its data folder"
    print(f"{Path(sys.argv[0]).name}: error: cannot write {where} ({error.strerror or error}); set CINEREC_BENCH_OUT "
          "to a folder that can be written", file=sys.stderr)
    raise SystemExit(2)


def at_least(low: int) -> Callable[[str], int]:
    """An ``argparse`` type: an integer of at least ``low``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low} (got {value})")
        return value

    parse.__name__ = "integer"  # what argparse names the type in its own messages
    return parse


def above(low: float) -> Callable[[str], float]:
    """An ``argparse`` type: a finite number greater than ``low``."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not value > low:  # NaN too
            raise argparse.ArgumentTypeError(f"must be above {low:g} (got {text})")
        if value == float("inf"):
            raise argparse.ArgumentTypeError("must be finite")
        return value

    parse.__name__ = "number"
    return parse
