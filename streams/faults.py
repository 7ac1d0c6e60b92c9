"""Test support: the named points of a flush where fault tests crash a worker.

The ingest loop calls its fault hook with a point's name and the flush's number at each
point below, in this order; the default hook does nothing. Every test seam of the product
is typed here, so one module names them all. Two hooks ship for tests:

- ``DXPULSE_TEST_CRASH_AT=<point>:<n>`` in a worker's environment makes it SIGKILL itself
  at that point of its n-th flush and every later one (tests/integration_tests/test_faults.py);
- :func:`raise_at` makes an in-process loop stop dead there, as if killed, by raising
  :class:`SimulatedCrash` (tests/integration_tests/test_crash_sequences.py).

The sink has one more seam, :data:`InsertFault`: a ClickHouse outage, injected per insert.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Mapping

# In flush order (streams/writer.py, streams/sink.py, streams/ingest.py). All but
# after_commit are on the sink thread; the three "before_…" table points are between the
# flush's inserts, one per table for all its batches.
CRASH_POINTS = (
    "after_intent",  # intents recorded, nothing else
    "after_dead_letters",  # dead letters acknowledged on their topic, no rows written
    "before_aggregates",  # raw events written
    "before_late_events",  # raw events and window aggregates written
    "before_dead_letter_rows",  # all but the dead_letters rows
    "before_health",  # every row written, pipeline_flushes not
    "before_commit",  # everything written, offsets not committed
    "after_commit",  # the flush complete
)
FaultHook = Callable[[str, int], None]
# The sink's seam, ClickHouseSink.fault: while set, called with a table's name before each
# insert; outage tests raise from it (test_reliability.py, test_metrics.py, ...).
InsertFault = Callable[[str], None]


def no_faults(point: str, flush_number: int) -> None:
    """The production hook."""


class SimulatedCrash(BaseException):
    """Raised by :func:`raise_at`: a BaseException, so no ``except Exception`` handles it."""


def _parse(spec: str) -> tuple[str, int]:
    point, _, nth = spec.partition(":")
    if point not in CRASH_POINTS or not nth.isdigit() or int(nth) < 1:
        raise ValueError(f"crash point must be <point>:<n>, point one of {CRASH_POINTS}: {spec!r}")
    return point, int(nth)


def raise_at(spec: str) -> FaultHook:
    """A hook raising SimulatedCrash at ``<point>:<n>`` (the n-th flush and later ones)."""
    point, nth = _parse(spec)

    def hook(at: str, flush_number: int) -> None:
        if at == point and flush_number >= nth:
            raise SimulatedCrash(f"{at} of flush {flush_number}")

    return hook


def hook_from_env(env: Mapping[str, str] = os.environ) -> FaultHook:
    """SIGKILL at DXPULSE_TEST_CRASH_AT's point, if set (worker processes in tests)."""
    spec = env.get("DXPULSE_TEST_CRASH_AT", "")
    if not spec:
        return no_faults
    point, nth = _parse(spec)

    def hook(at: str, flush_number: int) -> None:
        if at == point and flush_number >= nth:
            os.kill(os.getpid(), signal.SIGKILL)

    return hook
