"""Counters a worker reports on its /status page; updated by the ingest thread."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from streams.freshness import FreshnessHistogram
from streams.liveness import HealthMonitor


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
