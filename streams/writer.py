"""The steps of writing one flush, in their order (docs/reliability.md, "Mechanism").

Run off the ingest thread by streams/ingest.py (one flush at a time), or on it for a replay
and the last flushes before partitions are handed over. The offset commit is not here: the
consumer that commits is the ingest thread's.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from confluent_kafka import KafkaError, Message, Producer

from dxpulse.core.errors import DxpulseError
from dxpulse.streams.batch import PartitionBatch
from dxpulse.streams.faults import FaultHook
from dxpulse.streams.flush import Flush
from dxpulse.streams.health import health_rows, health_token
from dxpulse.streams.memory import release_free_memory
from dxpulse.streams.sink import ClickHouseSink
from dxpulse.streams.state import BatchIntent, SinkStateStore

# The sink's table checkpoints, as fault points (streams/faults.py).
_TABLE_POINTS = {
    "aggregates": "before_aggregates",
    "late_events": "before_late_events",
    "dead_letters": "before_dead_letter_rows",
}


class KafkaUnavailable(DxpulseError):
    """A flush step that needs the brokers failed: the outage is Kafka's, not ClickHouse's."""


def intent(batch: PartitionBatch, flush: Flush) -> BatchIntent:
    return BatchIntent(
        batch.topic,
        batch.topic_id,
        batch.partition,
        batch.first_offset,
        batch.last_offset,
        batch.watermark_start,
        batch.watermark,
        batch.token,
        batch.dedup_start,
        batch.dedup_end,
        flush_token=flush.token,
        flush_batches=len(flush.batches),
    )


class FlushWriter:
    def __init__(
        self,
        sink: ClickHouseSink,
        state: SinkStateStore,
        faults: FaultHook,
        *,
        dead_letter_topic: str,
        worker: str,
        group_id: str,
        topic_types: Mapping[str, str],
        remaining: Callable[[float], float],
    ) -> None:
        self.sink = sink
        self.state = state
        self.producer: Producer | None = None  # set by the loop when it starts
        self._faults = faults
        self._dead_letter_topic = dead_letter_topic
        self._worker = worker
        self._group_id = group_id
        self._topic_types = topic_types
        self._remaining = remaining  # seconds left of the stop budget, at most the default
        self._delivery_errors: list[str] = []

    def write(self, flush: Flush) -> Flush:
        """Intents, dead letters, rows, health: everything but the commit. Raises if any
        step fails; the same flush written again sends the same blocks."""
        number = flush.number

        def fault(point: str) -> None:
            self._faults(point, number)

        flush.started = time.monotonic()
        self.state.record(intent(b, flush) for b in flush.batches)
        fault("after_intent")
        self._deliver_dead_letters(flush.batches)
        fault("after_dead_letters")
        self.sink.write_flush(flush.batches, flush.token, lambda t: fault(_TABLE_POINTS[t]))
        flush.visible_ms = int(time.time() * 1000)  # the inserts returned: queryable now
        fault("before_health")
        self._write_health(flush)
        fault("before_commit")
        # Earlier flushes' events, columns and blocks are garbage by now: hand their pages
        # back to the system (streams/memory.py).
        release_free_memory()
        return flush

    def _write_health(self, flush: Flush) -> None:
        """Report the flush in ``pipeline_flushes``: one insert, a row per batch.

        Written inside the flush it describes, so ``flush_ms`` covers intents, dead letters
        and row inserts, not this insert and the commit. The token is a function of the
        batches, so a retried or replayed flush does not report them twice.
        """
        rows = health_rows(
            flush.batches,
            flush.high_watermarks,
            worker=self._worker,
            group_id=self._group_id,
            topic_types=self._topic_types,
            flush_ms=(time.monotonic() - flush.started) * 1000,
            flushed_ms=flush.visible_ms,
        )
        self.sink.write_health(rows, health_token(flush.batches))

    def _deliver_dead_letters(self, batches: list[PartitionBatch]) -> None:
        producer = self.producer
        assert producer is not None
        letters = [dl for b in batches for dl in b.dead_letters]
        for dl in letters:
            while True:
                try:
                    producer.produce(
                        self._dead_letter_topic,
                        key=dl.key,
                        value=dl.value,
                        headers=dl.headers(),
                        on_delivery=self._on_delivery,
                    )
                    break
                except BufferError:
                    producer.poll(0.05)
        wait_s = self._remaining(30)
        if letters and producer.flush(wait_s) > 0:
            raise KafkaUnavailable(f"dead letters not delivered within {wait_s:.0f} s")
        if self._delivery_errors:
            first = self._delivery_errors[0]
            self._delivery_errors.clear()
            raise KafkaUnavailable(f"dead-letter delivery failed: {first}")

    def _on_delivery(self, err: KafkaError | None, _msg: Message) -> None:
        if err is not None:
            self._delivery_errors.append(str(err))
