"""One topic-partition's pending work: raw rows, window aggregates and dead letters.

A batch always covers a contiguous offset range of one partition, which is what makes
its ClickHouse insert token deterministic.
"""

from __future__ import annotations

import zlib
from datetime import datetime

from schemas.events import Envelope
from schemas.validation import Rejection
from streams.aggregate import WindowAggregator
from streams.deadletter import DeadLetter
from streams.rows import event_row


class PartitionBatch:
    def __init__(self, topic: str, partition: int, window_seconds: int) -> None:
        self.topic = topic
        self.partition = partition
        self.first_offset = -1
        self.last_offset = -1
        self.messages = 0
        self.event_rows: list[list[object]] = []
        self.aggregator = WindowAggregator(window_seconds)
        self.dead_letters: list[DeadLetter] = []
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
    ) -> None:
        self._advance(offset, value)
        self.event_rows.append(event_row(event, self.partition, offset, ingested_at))
        self.aggregator.add(event)

    def add_rejection(
        self, offset: int, key: bytes | None, value: bytes | None, rejection: Rejection
    ) -> None:
        self._advance(offset, value)
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
