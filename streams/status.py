"""Counters a worker reports on its /status page and /metrics; updated by the ingest thread.

The ingest loop updates them once per consume batch and once per flush, never per message
(streams/ingest.py), under :attr:`WorkerStatus.lock`; the web thread reads them under the same
lock. Per-topic counts (:class:`TopicCounts`) are what /metrics exports; the totals beside them
are what /status has always shown, kept equal to the topics' sums by :meth:`absorbed`.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import Histogram

from dxpulse.streams.freshness import FreshnessHistogram
from dxpulse.streams.liveness import HealthMonitor
from dxpulse.streams.metrics import FLUSH_DURATION, FLUSH_ROWS, new_histogram

TP = tuple[str, int]


@dataclass
class TopicCounts:
    """One topic's messages by outcome: a consume batch's tally, or a worker's running total.

    consumed = accepted + duplicates + the dead letters; late events are among the accepted.
    """

    consumed: int = 0
    accepted: int = 0
    duplicates: int = 0
    late: int = 0
    committed: int = 0  # messages whose rows are written and whose offsets are committed
    dead_lettered: Counter[str] = field(default_factory=Counter)  # by rejection code

    def add(self, other: TopicCounts) -> None:
        self.consumed += other.consumed
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.late += other.late
        self.committed += other.committed
        self.dead_lettered.update(other.dead_lettered)

    def copy(self) -> TopicCounts:
        copied = TopicCounts()
        copied.add(self)
        return copied


@dataclass
class WorkerStatus:
    consumed: int = 0
    accepted: int = 0
    dead_lettered: int = 0
    duplicates: int = 0
    late: int = 0
    skipped_replayed: int = 0  # re-read after a restart, already written: not processed again
    committed: int = 0  # messages whose rows are in ClickHouse and whose offsets are committed
    flushes: int = 0
    last_flush_batches: int = 0
    write_failures: int = 0
    outage_seconds: float = 0.0
    # time.monotonic() when the ongoing ClickHouse outage began, None if none: the clock that
    # outage_seconds is measured with, so the exported total never steps back when it ends.
    outage_since: float | None = None
    last_flush_at: float = 0.0
    first_consumed_at: float = 0.0  # wall clock of the first message handled
    last_flush_seconds: float = 0.0
    assigned: list[str] = field(default_factory=list)
    rejections: Counter[str] = field(default_factory=Counter)
    dead_letter_topic_seen: Counter[str] = field(default_factory=Counter)
    state: str = "starting"
    error: str | None = None
    started_at: float = field(default_factory=time.time)
    freshness: FreshnessHistogram = field(default_factory=FreshnessHistogram)
    topics: dict[str, TopicCounts] = field(default_factory=dict)
    # Per owned partition, messages in the log past what is committed, as of its last flush.
    lag: dict[TP, int] = field(default_factory=dict)
    # prometheus-client's own, unregistered (streams/metrics.py exports them): one
    # observation per flush, so their lock costs nothing measurable.
    flush_duration: Histogram = field(default_factory=lambda: new_histogram(FLUSH_DURATION))
    flush_rows: Histogram = field(default_factory=lambda: new_histogram(FLUSH_ROWS))
    # Set by the ingest loop that reports to it; the verdict is taken when asked.
    health: HealthMonitor | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            state = self.state
            health = self.health.report(state) if self.health is not None else None
            reason = self.error
            if health is not None and not health["healthy"]:
                first = health["down"][0]
                reason = f"{first['dependency']}: {first['reason']}"
                if state == "running":  # up, but a dependency is not: as a write outage says
                    state = "degraded"
            return {
                "state": state,
                "reason": reason,
                "health": health,
                "error": self.error,
                "consumed": self.consumed,
                "accepted": self.accepted,
                "dead_lettered": self.dead_lettered,
                "duplicates": self.duplicates,
                "late": self.late,
                "skipped_replayed": self.skipped_replayed,
                "committed": self.committed,
                "flushes": self.flushes,
                "last_flush_batches": self.last_flush_batches,
                "write_failures": self.write_failures,
                "outage_seconds": round(self.outage_seconds, 2),
                "last_flush_at": self.last_flush_at,
                "first_consumed_at": self.first_consumed_at,
                "last_flush_seconds": round(self.last_flush_seconds, 4),
                "assigned": list(self.assigned),
                "rejections": dict(self.rejections),
                "dead_letter_topic_seen": dict(self.dead_letter_topic_seen),
                "uptime_s": round(time.time() - self.started_at, 1),
                "freshness": self.freshness.summary(),
            }

    @property
    def lock(self) -> threading.Lock:
        return self._lock

    def watch(self, topics: Iterable[str]) -> None:
        """Report these topics from the start, at zero, before any message of theirs."""
        with self._lock:
            for topic in topics:
                self.topics.setdefault(topic, TopicCounts())

    def absorbed(self, tallies: Mapping[str, TopicCounts], skipped: int) -> None:
        """Add one consume batch's per-topic tallies to the topics and to the totals."""
        with self._lock:
            for topic, tally in tallies.items():
                self.topics.setdefault(topic, TopicCounts()).add(tally)
                self.consumed += tally.consumed
                self.accepted += tally.accepted
                self.duplicates += tally.duplicates
                self.late += tally.late
                self.dead_lettered += tally.dead_lettered.total()
                self.rejections.update(tally.dead_lettered)
            self.skipped_replayed += skipped
            if self.consumed and not self.first_consumed_at:
                self.first_consumed_at = time.time()

    def committed_to(self, committed: Mapping[str, int], lag: Mapping[TP, int]) -> None:
        """A flush committed these messages per topic, leaving this lag per partition.

        Call with :attr:`lock` held: the flush updates its other figures at the same time.
        """
        for topic, messages in committed.items():
            self.topics.setdefault(topic, TopicCounts()).committed += messages
            self.committed += messages
        self.lag.update(lag)

    def released(self, tps: Iterable[TP]) -> None:
        """Partitions revoked or lost: another worker reports their lag now."""
        with self._lock:
            for tp in tps:
                self.lag.pop(tp, None)
