"""Which process this is among those ``torchrun`` started: read from its environment.

Kept apart from :mod:`cinerec.training` (which imports torch) so that the command line's
start and its error lines can ask without loading it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

__all__ = ["distributed_context", "environment_problem", "TORCHRUN_VARIABLES"]


@dataclass(frozen=True)
class _Dist:
    rank: int = 0
    world: int = 1
    local_rank: int | None = None

    @property
    def active(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def distributed_context() -> _Dist:
    """Rank and world size from the ``torchrun`` environment (1 process otherwise; a value
    that is no number counts as unset here: :func:`environment_problem` names it)."""
    world = _number("WORLD_SIZE", 1)
    if world <= 1:
        return _Dist()
    return _Dist(_number("RANK", 0), world, _number("LOCAL_RANK", 0))


def _number(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


#: What torchrun sets for each process beside ``WORLD_SIZE``, and a process needs to join the others.
TORCHRUN_VARIABLES = ("RANK", "MASTER_ADDR", "MASTER_PORT")


def environment_problem() -> str | None:
    """The error line for a ``WORLD_SIZE`` that torchrun did not set whole (left in a shell,
    copied from a job script), else ``None``: without ``RANK`` or the master's address a
    command read all the data, then ended in torch's traceback; with them and no torchrun
    it waited 30 minutes for processes that never come."""
    text = os.environ.get("WORLD_SIZE", "").strip()
    if not text:  # (set empty: unset, as RANK and the master's address are read)
        return None
    way_out = "run the command under torchrun (docs/distributed.md), or unset WORLD_SIZE"
    try:
        world = int(text)
    except ValueError:
        return f"WORLD_SIZE={text!r} is not a number of processes; torchrun sets it: {way_out}"
    if world < 1:
        return f"WORLD_SIZE={world} is not a number of processes (at least 1); torchrun sets it: {way_out}"
    if world == 1:
        return None
    missing = [name for name in TORCHRUN_VARIABLES if not os.environ.get(name, "").strip()]
    if missing:
        named = ", ".join(missing[:-1]) + (" and " if len(missing) > 1 else "") + missing[-1]
        return (f"WORLD_SIZE={world} is set but {named} {'is' if len(missing) == 1 else 'are'} not: "
                f"torchrun sets them together; {way_out}")
    rank, port = os.environ["RANK"].strip(), os.environ["MASTER_PORT"].strip()
    if not rank.isdigit() or int(rank) >= world:
        return f"RANK={rank!r} is not a process of WORLD_SIZE={world} (0 to {world - 1}); {way_out}"
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        return f"MASTER_PORT={port!r} is not a port (1 to 65535); {way_out}"
    return None
