"""The ``cinerec`` program's first step: Ctrl-C while it starts is one line too.

Importing the command line takes a moment (click, typer, every command's module). A
Ctrl-C in that moment ended the program in a traceback of the import, before
:mod:`cinerec.cli` could say ``cinerec: interrupted``; here it says so and exits 130, as
a Ctrl-C at any later time does.
"""

from __future__ import annotations

import os
import sys

__all__ = ["entry"]


def entry() -> None:
    """The ``cinerec`` program (and ``python -m cinerec``): :func:`cinerec.cli.entry`."""
    try:
        from cinerec.cli import entry as run
    except KeyboardInterrupt:
        from cinerec.processes import distributed_context

        if distributed_context().is_main:  # under torchrun rank 0 says it, as for any other stop
            print("cinerec: interrupted", file=sys.stderr)
        sys.stderr.flush()
        os._exit(130)
    run()
