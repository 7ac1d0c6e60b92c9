"""One topic-partition's pending work: raw rows, window aggregates, late events, dead letters.

A batch always covers a contiguous offset range of one partition, and everything in it is
a function of that range's messages plus the watermark it started from. That is what makes
its ClickHouse insert token deterministic and a replay after a crash identical.
"""

from __future__ import annotations

import zlib
from datetime import datetime

from schemas.events import Envelope
from schemas.validation import Rejection
from streams.aggregate import LateAggregator, WindowAggregator
from streams.deadletter import DeadLetter
from streams.dedup import DedupIndex
from streams.rows import event_row
from streams.windows import epoch_ms

NO_WATERMARK = -(2**62)


class PartitionBatch:
    def __init__(
        self,
        topic: str,
        partition: int,
        window_seconds: int,
        watermark_ms: int = NO_WATERMARK,
        lateness_ms: int = 600_000,
        dedup: DedupIndex | None = None,
    ) -> None:
        self.topic = topic
        self.partition = partition
        self.first_offset = -1
        self.last_offset = -1
        self.messages = 0
        self.duplicates = 0
        self.late_count = 0
        self.watermark_start = watermark_ms
        self.watermark = watermark_ms
        self.lateness_ms = lateness_ms
        self.dedup = dedup
        self.event_rows: list[list[object]] = []
        self.aggregator = WindowAggregator(window_seconds)
        self.late = LateAggregator(window_seconds)
        self.dead_letters: list[DeadLetter] = []
        self.ingested_at: datetime | None = None
        self._digest = 0

    def _advance(self, offset: int, value: bytes | None) -> None:
        # Offsets alone do not identify content: a recreated topic or a fresh broker starts
        # again at 0, and its batches must not be mistaken for already-written ones.
        self._digest = zlib.crc32(value or b"", self._digest)
        if self.first_offset < 0:
            self.first_offset = offset
        self.last_offset = offset
        self.messages += 1

    def add_event(
        self, offset: int, event: Envelope, ingested_at: datetime, value: bytes | None
    ) -> bool:
        """Add a valid event; False if it was a duplicate and dropped."""
        self._advance(offset, value)
        self.ingested_at = self.ingested_at or ingested_at
        event_ms = epoch_ms(event.event_time)
        if self.dedup is not None and self.dedup.seen_before(event.event_id.bytes, event_ms):
            self.duplicates += 1
            return False
        late = event_ms < self.watermark - self.lateness_ms
        if event_ms > self.watermark:
            self.watermark = event_ms
            if self.dedup is not None:
                self.dedup.evict(event_ms)
        self.event_rows.append(event_row(event, self.partition, offset, ingested_at, late))
        if late:
            self.late_count += 1
            self.late.add(event, event_ms)
        else:
            self.aggregator.add(event)
        return True

    def add_rejection(
        self,
        offset: int,
        key: bytes | None,
        value: bytes | None,
        rejection: Rejection,
        ingested_at: datetime | None = None,
    ) -> None:
        self._advance(offset, value)
        self.ingested_at = self.ingested_at or ingested_at
        self.dead_letters.append(
            DeadLetter(
                self.topic, self.partition, offset, key, value, rejection.code, rejection.reason
            )
        )

    @property
    def token(self) -> str:
        """Deterministic identity of this offset range and its content, for insert dedup."""
        return (
            f"{self.topic}:{self.partition}:{self.first_offset}-{self.last_offset}"
            f":{self._digest:08x}"
        )
