"""The worker's heap: the cyclic collector tuned for it, freed pages given back.

**The collector.** CPython runs a young-generation collection every 700 net allocations of
container objects. A worker holds one tuple per event until its flush is written, and
hundreds of thousands of live objects (batches in flight, the dedup index): at 80k events/s
it collected ~100 times a second, each pass promoting survivors that later full passes
traverse again. With a young collection per 50,000 new containers instead, the objects
alive at startup frozen (never traversed again) and a full pass per ten middle ones: on a
600,000-event backlog 68-73k -> 83-93k events/s, 16.8 -> 13.3-15 CPU-s per 1M events,
private memory unchanged (docs/benchmarks.md, round 3). Cycles are still collected, in
larger, rarer passes (tests/unit_tests/test_memory.py).

**Freed pages.** A flush builds and drops tens of thousands of Python objects (flat events,
columns, encoded blocks). glibc's allocator keeps the freed pages of its heaps for reuse, so
under a backlog the worker's private memory climbed from ~165 MB to 400-440 MB and stayed
there, though chDB's own tracker counted only 22-60 MB (issue 16). ``malloc_trim(0)``
returns every whole free page (in the middle of the heaps too, with ``madvise``); measured
on a 600,000-event backlog: 442 -> 316 MB peak private memory, throughput unchanged.

No maintained library wraps ``malloc_trim``; it is one ``ctypes`` call. Other C libraries
(musl, macOS) have no such function: there it is a no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
from collections.abc import Callable


def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


_TRIM = _malloc_trim()
# Young, middle and old generation thresholds (see above).
COLLECTOR_THRESHOLDS = (50_000, 20, 10)


def tune_collector() -> None:
    """Once, when the worker has started and before it consumes: what is alive now (code,
    models, clients) is frozen out of the collector's passes, and collections get rarer."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*COLLECTOR_THRESHOLDS)


def release_free_memory() -> bool:
    """Return the allocator's free pages to the system; False where there is no way to."""
    if _TRIM is None:
        return False
    _TRIM(0)
    return True
