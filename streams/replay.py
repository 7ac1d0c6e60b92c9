"""Re-form a recorded flush that may not have been written completely.

A flush inserts all its batches together (streams/writer.py), so the blocks of a flush that
died halfway can only be matched by forming all of its batches again: not only those of
the partitions this worker now owns. The record (streams/state.py) holds, per batch, the
offset range, the watermark and the dedup index's front it started from; the rows already
written before that range give the rest of the index. Reading each range again from Kafka
with a consumer of its own (assigned, never committing, outside the group) and deciding
every message as before gives the same batches, so the same blocks under the same tokens:
what had landed is dropped by ClickHouse, the rest lands, and several workers doing it at
once for one flush write it once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, cast

from confluent_kafka import Consumer, Message, TopicPartition

from dxpulse.core.errors import DxpulseError
from dxpulse.schemas.validation import EventValidator, Rejection
from dxpulse.streams.batch import PartitionBatch
from dxpulse.streams.dedup import DedupIndex
from dxpulse.streams.flush import TP, Flush
from dxpulse.streams.state import BatchIntent, SinkStateStore
from dxpulse.streams.windows import epoch_ms

log = logging.getLogger(__name__)

# How long re-reading a flush's ranges may take before the worker gives up (and fails: the
# next owner tries again). Ranges are at most a flush's worth of messages.
_READ_TIMEOUT_S = 120.0


class DedupRestorer:
    """Sets a partition's dedup index to what it was before or after a recorded batch."""

    def __init__(self, state: SinkStateStore, topic_types: Mapping[str, str], max_ids: int):
        self.state = state
        self.topic_types = topic_types
        self.max_ids = max_ids

    def restore(self, dedup: DedupIndex, intent: BatchIntent, *, after: bool) -> None:
        front = intent.dedup_end if after else intent.dedup_start
        written_up_to = intent.last_offset if after else intent.first_offset - 1
        event_type = self.topic_types.get(intent.topic, "")
        if intent.dedup_known:
            rows = self.state.written_rows(
                event_type, intent.topic_id, intent.partition, front.offset, written_up_to
            )
            dedup.restore(front, rows)
            return
        watermark = intent.watermark_end if after else intent.watermark_start
        dedup.load_approximate(
            self.state.legacy_event_ids(
                event_type,
                intent.partition,
                written_up_to,
                watermark - dedup.horizon_ms,
                self.max_ids,
            )
        )


class FlushReplayer:
    def __init__(
        self,
        consumer_config: dict[str, Any],
        state: SinkStateStore,
        restorer: DedupRestorer,
        validator: EventValidator,
        make_batch: Callable[[BatchIntent, DedupIndex], PartitionBatch],
        new_index: Callable[[], DedupIndex],
    ) -> None:
        self._config = consumer_config
        self.state = state
        self.restorer = restorer
        self.validator = validator
        self._make_batch = make_batch
        self._new_index = new_index

    def members(self, intent: BatchIntent) -> list[BatchIntent] | None:
        """The recorded batches of ``intent``'s flush, or None when it is known complete (a
        partition of it has a later record, which only a completed flush allows)."""
        members = self.state.flush_intents(intent.flush) or [intent]
        if len(members) < intent.flush_batches:
            return None
        return members

    def rebuild(
        self, number: int, members: list[BatchIntent], topic_types: Mapping[str, str]
    ) -> Flush:
        """The flush as it was formed: each batch from its record and its messages."""
        messages = self._read(members)
        ctx = self.validator.context()
        batches = []
        for m in members:
            dedup = self._new_index()
            self.restorer.restore(dedup, m, after=False)
            batch = self._make_batch(m, dedup)
            expected = topic_types.get(m.topic)
            for msg in messages[(m.topic, m.partition)]:
                self._add(batch, msg, expected, ctx)
            batch.seal()
            if batch.token != m.token:
                log.error(
                    "%s[%d]: offsets %d..%d no longer read as recorded (retention, or a "
                    "changed log): the replay cannot be exact",
                    m.topic, m.partition, m.first_offset, m.last_offset,
                )  # fmt: skip
            batches.append(batch)
        flush = Flush(number, batches, replay=True)
        flush.token = members[0].flush  # the recorded token, whatever the log holds now
        return flush

    def _add(
        self, batch: PartitionBatch, msg: Message, expected: str | None, ctx: dict[str, Any]
    ) -> None:
        now = ctx["now"]
        offset, value = cast(int, msg.offset()), msg.value()
        flat = self.validator.validate_flat(value, expected, ctx)
        if isinstance(flat, Rejection):
            batch.add_rejection(offset, msg.key(), value, flat, now)
        else:
            batch.add_event(offset, flat, now, value, epoch_ms(now), msg.timestamp()[1])

    def _read(self, members: list[BatchIntent]) -> dict[TP, list[Message]]:
        """Every member's range, in offset order, read with a consumer of its own."""
        wanted = {(m.topic, m.partition): m for m in members}
        got: dict[TP, list[Message]] = {tp: [] for tp in wanted}
        todo = set(wanted)
        consumer = Consumer(self._config)
        try:
            consumer.assign([TopicPartition(t, p, m.first_offset) for (t, p), m in wanted.items()])
            deadline = time.monotonic() + _READ_TIMEOUT_S
            while todo:
                if time.monotonic() > deadline:
                    raise DxpulseError(f"could not re-read recorded offsets of {sorted(todo)}")
                for msg in consumer.consume(1000, timeout=0.2):
                    if msg.error() is not None:
                        continue
                    tp = (cast(str, msg.topic()), cast(int, msg.partition()))
                    m, offset = wanted[tp], cast(int, msg.offset())
                    if tp in todo and m.first_offset <= offset <= m.last_offset:
                        got[tp].append(msg)
                    if offset >= m.last_offset:
                        todo.discard(tp)
        finally:
            consumer.close()
        return got
