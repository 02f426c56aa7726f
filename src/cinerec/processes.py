"""Which process this is among those ``torchrun`` started: read from its environment.

Kept apart from :mod:`cinerec.training` (which imports torch) so that the command line's
start and its error lines can ask without loading it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

__all__ = ["distributed_context"]


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
    """Rank and world size from the ``torchrun`` environment (1 process otherwise)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return _Dist()
    return _Dist(int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0")))
