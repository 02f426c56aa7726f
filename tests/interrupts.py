"""A Ctrl-C as Python drops it: raised inside a weak reference's callback."""

from __future__ import annotations

import weakref


def drop_an_interrupt() -> None:
    """Raise ``KeyboardInterrupt`` where Python drops it (and calls ``sys.unraisablehook``),
    as a signal handler does when the signal lands during such a callback."""

    class Thing:
        pass

    def callback(_: object) -> None:
        raise KeyboardInterrupt

    thing = Thing()
    ref = weakref.ref(thing, callback)
    del thing
    assert ref() is None
