"""The hot path: consume message batches, validate, aggregate, flush, then commit.

Runs in its own thread inside the Faust worker (see streams/app.py). It reads with
confluent-kafka's batch ``consume()`` rather than Faust's per-event stream machinery,
which costs ~100 µs of CPU per event (docs/architecture.md). Ordering per flush:
dead letters delivered -> ClickHouse inserts acknowledged -> Kafka offsets committed,
so a crash at any point re-reads only what is not yet durable.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from datetime import timedelta
from typing import Any, cast

from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition

from dxpulse.config import EVENT_TYPES, Settings
from dxpulse.errors import DxpulseError
from schemas.validation import EventValidator, Rejection
from streams.batch import PartitionBatch
from streams.sink import ClickHouseSink
from streams.status import WorkerStatus

log = logging.getLogger(__name__)

TP = tuple[str, int]
_RETRY_BACKOFF_S = (0.2, 0.5, 1.0, 2.0, 5.0)


def consumer_config(settings: Settings) -> dict[str, Any]:
    kafka = settings.kafka
    return {
        **kafka.client_config(),
        "group.id": kafka.group_id,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": kafka.session_timeout_ms,
        "heartbeat.interval.ms": max(100, kafka.session_timeout_ms // 5),
        # librdkafka's default backoff stalls a full second whenever its queue fills.
        "fetch.queue.backoff.ms": 10,
        "enable.partition.eof": False,
    }


def dead_letter_producer_config(settings: Settings) -> dict[str, Any]:
    return {
        **settings.kafka.client_config(),
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
        "compression.type": settings.producer.compression,
    }


class IngestLoop:
    def __init__(self, settings: Settings, sink: ClickHouseSink, status: WorkerStatus) -> None:
        self.settings = settings
        self.sink = sink
        self.status = status
        stream = settings.stream
        self.validator = EventValidator(
            max_bytes=stream.max_event_bytes,
            max_future_skew=timedelta(seconds=stream.max_future_skew_s),
        )
        self._topic_type = {settings.kafka.topic(t): t for t in EVENT_TYPES}
        self._batches: dict[TP, PartitionBatch] = {}
        self._pending = 0
        self._oldest: float | None = None
        self._stop = threading.Event()
        self._consumer: Consumer | None = None
        self._producer: Producer | None = None
        self._delivery_errors: list[str] = []

    # -- lifecycle ----------------------------------------------------------------------
    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        """Consume until :meth:`stop`; the final flush and commit happen before returning."""
        self._producer = Producer(dead_letter_producer_config(self.settings))
        consumer = self._consumer = Consumer(consumer_config(self.settings))
        consumer.subscribe(
            list(self._topic_type),
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )
        self._set_state("running")
        try:
            while not self._stop.is_set():
                messages = consumer.consume(self.settings.stream.poll_batch, timeout=0.2)
                if messages:
                    self._absorb(messages)
                if self._flush_due():
                    self._flush(list(self._batches))
            self._flush(list(self._batches))
            self._set_state("stopped")
        except BaseException as exc:
            self._set_state("failed", f"{type(exc).__name__}: {exc}")
            raise
        finally:
            consumer.close()
            self._producer.flush(10)

    # -- consuming ----------------------------------------------------------------------
    def _absorb(self, messages: list[Message]) -> None:
        ctx = self.validator.context()
        now = ctx["now"]
        window = self.settings.stream.window_seconds
        accepted = rejected = 0
        rejections: list[str] = []
        for msg in messages:
            err = msg.error()
            if err is not None:
                self._consumer_error(err)
                continue
            topic, partition, offset = (
                cast(str, msg.topic()),
                cast(int, msg.partition()),
                cast(int, msg.offset()),
            )
            batch = self._batches.get((topic, partition))
            if batch is None:
                batch = self._batches[(topic, partition)] = PartitionBatch(topic, partition, window)
            result = self.validator.validate(msg.value(), self._topic_type.get(topic), ctx)
            if isinstance(result, Rejection):
                batch.add_rejection(offset, msg.key(), msg.value(), result)
                rejections.append(result.code)
                rejected += 1
            else:
                batch.add_event(offset, result, now, msg.value())
                accepted += 1
        handled = accepted + rejected
        if handled and self._oldest is None:
            self._oldest = time.monotonic()
        self._pending += handled
        with self.status.lock:
            self.status.consumed += handled
            self.status.accepted += accepted
            self.status.dead_lettered += rejected
            self.status.rejections.update(rejections)

    def _consumer_error(self, err: KafkaError) -> None:
        if err.fatal():
            raise DxpulseError(f"fatal Kafka consumer error: {err}")
        log.warning("Kafka consumer error: %s", err)

    def _flush_due(self) -> bool:
        if self._oldest is None:
            return False
        stream = self.settings.stream
        if self._pending >= stream.flush_max_events:
            return True
        return time.monotonic() - self._oldest >= stream.flush_interval_s

    # -- flushing -----------------------------------------------------------------------
    def _flush(self, keys: Iterable[TP]) -> None:
        batches = [b for k in keys if (b := self._batches.pop(k, None)) and b.messages]
        if not batches:
            return
        started = time.monotonic()
        self._deliver_dead_letters(batches)
        for batch in batches:
            self._write_with_retry(batch)
        assert self._consumer is not None
        self._consumer.commit(
            offsets=[TopicPartition(b.topic, b.partition, b.last_offset + 1) for b in batches],
            asynchronous=False,
        )
        flushed = sum(b.messages for b in batches)
        self._pending -= flushed
        if not self._batches:
            self._pending, self._oldest = 0, None
        with self.status.lock:
            self.status.committed += flushed
            self.status.flushes += 1
            self.status.last_flush_at = time.time()
            self.status.last_flush_seconds = time.monotonic() - started

    def _deliver_dead_letters(self, batches: list[PartitionBatch]) -> None:
        producer = self._producer
        assert producer is not None
        topic = self.settings.kafka.dead_letter_topic
        letters = [dl for b in batches for dl in b.dead_letters]
        for dl in letters:
            while True:
                try:
                    producer.produce(
                        topic,
                        key=dl.key,
                        value=dl.value,
                        headers=dl.headers(),
                        on_delivery=self._on_delivery,
                    )
                    break
                except BufferError:
                    producer.poll(0.05)
        if letters and producer.flush(30) > 0:
            raise DxpulseError("dead letters not delivered within 30 s")
        if self._delivery_errors:
            first = self._delivery_errors[0]
            self._delivery_errors.clear()
            raise DxpulseError(f"dead-letter delivery failed: {first}")

    def _on_delivery(self, err: KafkaError | None, _msg: Message) -> None:
        if err is not None:
            self._delivery_errors.append(str(err))

    def _write_with_retry(self, batch: PartitionBatch) -> None:
        # The same batch (same offset range, same token) is re-sent, so a retry after an
        # insert that did land is deduplicated by ClickHouse.
        for attempt, delay in enumerate((*_RETRY_BACKOFF_S, None)):
            try:
                self.sink.write(batch)
                return
            except Exception as exc:
                if delay is None or self._stop.is_set():
                    raise
                log.warning("ClickHouse insert failed (attempt %d): %s", attempt + 1, exc)
                time.sleep(delay)

    # -- rebalancing --------------------------------------------------------------------
    def _on_assign(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        with self.status.lock:
            self.status.assigned = sorted(
                {*self.status.assigned, *(f"{p.topic}[{p.partition}]" for p in partitions)}
            )

    def _on_revoke(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Finish what we hold for these partitions before another worker takes them.
        self._flush([(p.topic, p.partition) for p in partitions])
        self._forget(partitions)

    def _on_lost(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Another member may already own them: drop, the new owner re-reads from the commit.
        for p in partitions:
            dropped = self._batches.pop((p.topic, p.partition), None)
            if dropped:
                self._pending -= dropped.messages
        self._forget(partitions)

    def _forget(self, partitions: list[TopicPartition]) -> None:
        gone = {f"{p.topic}[{p.partition}]" for p in partitions}
        with self.status.lock:
            self.status.assigned = [a for a in self.status.assigned if a not in gone]

    def _set_state(self, state: str, error: str | None = None) -> None:
        with self.status.lock:
            self.status.state = state
            self.status.error = error
