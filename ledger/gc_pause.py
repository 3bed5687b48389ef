"""Pausing the cyclic garbage collector around bulk work that creates no cycles.

Decoding thousands of timeline steps creates tens of thousands of short-lived dicts; the
collector would run full passes in the middle of it, which is where page and query
latency get their slow tail. Reference counting still frees everything as usual.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_gc() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
