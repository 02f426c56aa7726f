"""How a benchmark script ends: cinerec's own errors (a release not downloaded, a bad
setting) as one line and exit status 2, as the command line says them, not a traceback."""

from __future__ import annotations

import sys
from typing import Callable


def run_main(main: Callable[[], int | None]) -> None:
    from cinerec.errors import CinerecError

    try:
        status = main()
    except CinerecError as e:
        print(f"{sys.argv[0]}: error: {' '.join(str(e).split())}", file=sys.stderr)
        sys.exit(2)
    sys.exit(status or 0)
