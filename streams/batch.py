"""One topic-partition's pending work: raw rows, window aggregates, late events, dead letters.

A batch always covers a contiguous offset range of one partition, and everything in it is
a function of that range's messages plus the watermark it started from. That is what makes
its ClickHouse insert token deterministic and a replay after a crash identical.
"""

from __future__ import annotations

import zlib
from datetime import datetime
from operator import itemgetter

from dxpulse.schemas.flat import EVENT_ID, EVENT_MS, FlatEvent
from dxpulse.schemas.validation import Rejection
from dxpulse.streams.aggregate import LateAggregator, WindowAggregator
from dxpulse.streams.deadletter import DeadLetter
from dxpulse.streams.dedup import EMPTY, DedupIndex
from dxpulse.streams.windows import epoch_ms

NO_WATERMARK = -(2**62)
_event_ms = itemgetter(EVENT_MS)


class PartitionBatch:
    def __init__(
        self,
        topic: str,
        partition: int,
        window_seconds: int,
        watermark_ms: int = NO_WATERMARK,
        lateness_ms: int = 600_000,
        dedup: DedupIndex | None = None,
        topic_id: str = "",
    ) -> None:
        self.topic = topic
        self.topic_id = topic_id
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
        # The dedup index's front before and after this batch: with the rows written, all
        # a restarted worker needs to rebuild the index exactly (streams/dedup.py). The
        # end is taken when the batch is sealed.
        self.dedup_start = dedup.front() if dedup is not None else EMPTY
        self.dedup_end = self.dedup_start
        # The raw rows, kept as columns' worth of parallel lists (see streams.rows).
        self.events: list[FlatEvent] = []
        self.offsets: list[int] = []
        self.ingested_ms: list[int] = []
        self.late_rows: list[int] = []  # indexes into events
        # Kafka CreateTime of each accepted message: production -> visible freshness.
        self.produced_ms: list[int] = []
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
        self,
        offset: int,
        event: FlatEvent,
        ingested_at: datetime,
        value: bytes | None,
        ingested_ms: int = 0,
        produced_ms: int = 0,
    ) -> bool:
        """Add a valid event; False if it was a duplicate and dropped.

        ``ingested_ms`` is ``ingested_at`` in epoch ms (the caller converts once per poll).
        """
        self._advance(offset, value)
        if self.ingested_at is None:
            self.ingested_at = ingested_at
        event_ms = event[EVENT_MS]
        dedup = self.dedup
        if dedup is not None and dedup.seen_before(
            event[EVENT_ID], max(event_ms, self.watermark), offset
        ):
            self.duplicates += 1
            return False
        late = event_ms < self.watermark - self.lateness_ms
        if event_ms > self.watermark:
            self.watermark = event_ms
            if self.dedup is not None:
                self.dedup.evict(event_ms)
        if late:
            self.late_count += 1
            self.late_rows.append(len(self.events))
            self.late.add(event)
        else:
            self.aggregator.add(event)
        self.events.append(event)
        self.offsets.append(offset)
        self.ingested_ms.append(ingested_ms or epoch_ms(ingested_at))
        if produced_ms:
            self.produced_ms.append(produced_ms)
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
        if self.ingested_at is None:
            self.ingested_at = ingested_at
        self.dead_letters.append(
            DeadLetter(
                self.topic, self.partition, offset, key, value, rejection.code, rejection.reason
            )
        )

    def seal(self) -> None:
        """No more messages: note where the dedup index stands after this batch."""
        if self.dedup is not None:
            self.dedup_end = self.dedup.front()

    @property
    def max_event_ms(self) -> int:
        """Newest event time among this batch's own accepted events (epoch ms), 0 if none.

        Unlike ``watermark`` it ignores earlier batches. Computed on demand (once per flush)
        so that add_event stays as it is.
        """
        return max(map(_event_ms, self.events), default=0)

    @property
    def token(self) -> str:
        """Deterministic identity of this offset range and its content, for insert dedup.

        With the topic's id when known: a recreated topic is another log, even when its
        messages are byte for byte the old ones, and its rows must land under its own id
        (a restarted worker reads them back by it, streams/state.py).
        """
        token = (
            f"{self.topic}:{self.partition}:{self.first_offset}-{self.last_offset}"
            f":{self._digest:08x}"
        )
        return f"{token}@{self.topic_id}" if self.topic_id else token
