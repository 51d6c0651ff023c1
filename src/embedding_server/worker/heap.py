"""The worker's heap: keep the garbage collector off TensorFlow's objects,
and give a replaced model version's memory back to the system."""
from __future__ import annotations

import ctypes
import ctypes.util
import gc


def settle_heap() -> None:
    """Exclude everything alive after start-up from the garbage collector.

    TensorFlow leaves ~300,000 Python objects behind, and every full
    collection walks them all: 140 ms during which the worker answers
    nobody, which was the whole p99 of a loaded worker. Frozen, they are
    never walked again; only what requests allocate is collected.
    """
    gc.collect()
    gc.freeze()


def release_memory() -> None:
    """After a model version is unloaded: collect its object cycles (a graph
    and its operations refer to each other), even those frozen at start-up,
    freeze the survivors again, and let the C allocator return free pages."""
    frozen = gc.get_freeze_count() > 0
    if frozen:
        gc.unfreeze()
    gc.collect()
    if frozen:
        gc.freeze()
    _malloc_trim()


def _malloc_trim() -> None:
    # glibc keeps freed memory in its arenas; malloc_trim hands it back.
    name = ctypes.util.find_library("c")
    if not name:
        return
    try:
        ctypes.CDLL(name).malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc
