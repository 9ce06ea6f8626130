"""Pausing Python's cyclic garbage collector around allocation-heavy stages.

The strategy search, the task graph and the emulator create hundreds of thousands of small
objects that form no reference cycles (states, tasks, buffers, events). Each allocation burst
triggers generational collections that walk every live object and find nothing to free: a third
of the emulator's time on a 64-layer decoder, a tenth of the search's. Reference counting still
frees everything as usual; the collector runs again when the stage ends.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_gc() -> Iterator[None]:
    """Disable the cyclic collector for the block; restore its previous state after (nests)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
