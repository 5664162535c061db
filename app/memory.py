"""Bulk work and Python's cyclic garbage collector."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def cycle_collection_paused() -> Iterator[None]:
    """For bulk work (a bank file's lines, a job's chunk of loans) that keeps
    many objects alive until it ends, few of them in a reference cycle: the
    cyclic collector would traverse them again and again as they pile up (a
    fifth of a bank file's processing time, a twentieth of a due day's).
    Paused meanwhile; what it would have found it finds after."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
