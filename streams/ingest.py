"""The hot path: consume message batches, validate, aggregate, flush, then commit.

Runs in its own thread inside the Faust worker (see streams/app.py). It reads with
confluent-kafka's batch ``consume()`` rather than Faust's per-event stream machinery,
which costs ~100 µs of CPU per event (docs/architecture.md).

Each flush, for every topic-partition batch (at most one per partition): record the
batch's intent in ClickHouse -> deliver dead letters -> insert rows with deterministic
tokens -> one insert of the flush's pipeline-health rows (streams/health.py) -> commit
offsets. A worker that dies anywhere in between is replaced by one that replays exactly the
recorded range from the recorded watermark and dedup state (docs/reliability.md), so
nothing is lost and nothing counts twice.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterable
from datetime import timedelta
from typing import Any, cast

from confluent_kafka import (
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicCollection,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient

from dxpulse.core.config import EVENT_TYPES, Settings
from dxpulse.core.errors import DxpulseError
from dxpulse.schemas.validation import EventValidator, Rejection
from dxpulse.streams.batch import NO_WATERMARK, PartitionBatch
from dxpulse.streams.dedup import DedupIndex
from dxpulse.streams.faults import FaultHook, no_faults
from dxpulse.streams.health import consumer_lag, health_rows, health_token, next_offsets
from dxpulse.streams.liveness import CLICKHOUSE, KAFKA, HealthMonitor
from dxpulse.streams.sink import ClickHouseSink
from dxpulse.streams.state import BatchIntent, SinkStateStore
from dxpulse.streams.status import TopicCounts, WorkerStatus
from dxpulse.streams.windows import epoch_ms

log = logging.getLogger(__name__)

TP = tuple[str, int]
# The sink's table checkpoints in a flush's first batch, as fault points (streams/faults.py).
_TABLE_POINTS = {
    "aggregates": "before_aggregates",
    "late_events": "before_late_events",
    "dead_letters": "before_dead_letter_rows",
}


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
        # librdkafka prefetches up to 64 MB by default; 16 MB keeps a worker's memory small
        # and still holds ~50,000 events, more than one consume() call takes.
        "queued.max.messages.kbytes": 16_384,
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


def _no_table_fault(table: str) -> None:
    pass


# A batch's running counts: messages, events, duplicates, late events, dead letters.
_Counts = tuple[int, int, int, int, int]


def _counts(batch: PartitionBatch) -> _Counts:
    return (batch.messages, len(batch.events), batch.duplicates, batch.late_count,
            len(batch.dead_letters))  # fmt: skip


def _tally(touched: Iterable[tuple[PartitionBatch, _Counts]]) -> dict[str, TopicCounts]:
    """Per topic, what one poll added to these batches (each with its counts before it)."""
    tallies: dict[str, TopicCounts] = {}
    for batch, (messages, events, duplicates, late, dead) in touched:
        tally = tallies.setdefault(batch.topic, TopicCounts())
        tally.consumed += batch.messages - messages
        tally.accepted += len(batch.events) - events
        tally.duplicates += batch.duplicates - duplicates
        tally.late += batch.late_count - late
        tally.dead_lettered.update(dl.code for dl in batch.dead_letters[dead:])
    return tallies


class KafkaUnavailable(DxpulseError):
    """A flush step that needs the brokers failed: the outage is Kafka's, not ClickHouse's."""


class _PartitionState:
    """What the loop knows of one assigned partition between batches."""

    __slots__ = ("dedup", "resume", "seeded", "topic_id", "watermark")

    def __init__(self, topic_id: str, horizon_ms: int, max_ids: int) -> None:
        self.topic_id = topic_id
        self.watermark = NO_WATERMARK
        self.dedup = DedupIndex(horizon_ms, max_ids)
        self.resume: BatchIntent | None = None
        self.seeded = False


class IngestLoop:
    def __init__(
        self,
        settings: Settings,
        sink: ClickHouseSink,
        status: WorkerStatus,
        state: SinkStateStore | None = None,
        faults: FaultHook = no_faults,
        health: HealthMonitor | None = None,
    ) -> None:
        self.settings = settings
        self.sink = sink
        self.status = status
        self.health = health or HealthMonitor(
            settings.stream.health_timeout_s, settings.stream.log_reminder_s
        )
        status.health = self.health
        self.state = state or SinkStateStore(
            sink.client, sink.database, settings.kafka.group_id, sink.lock
        )
        stream = settings.stream
        self.validator = EventValidator(
            max_bytes=stream.max_event_bytes,
            max_future_skew=timedelta(seconds=stream.max_future_skew_s),
        )
        self._window = stream.window_seconds
        self._lateness_ms = stream.allowed_lateness_s * 1000
        self._horizon_ms = stream.dedup_horizon_s * 1000
        self._topic_type = {settings.kafka.topic(t): t for t in EVENT_TYPES}
        self._topic_ids: dict[str, str] = {}
        self._parts: dict[TP, _PartitionState] = {}
        self._open: dict[TP, PartitionBatch] = {}
        self._ready: list[PartitionBatch] = []  # sealed replays and batches awaiting retry
        self._pending = 0
        self._oldest: float | None = None
        self._stop = threading.Event()
        self._consumer: Consumer | None = None
        self._producer: Producer | None = None
        self._delivery_errors: list[str] = []
        self._outage_since: float | None = None
        self._outage_of = CLICKHOUSE  # the dependency whose failure started the outage
        # Offsets written to ClickHouse whose commit failed: retried with the next commit;
        # what is left at the end decides the exit code (docs/reliability.md, "Shutdown").
        self._uncommitted: dict[TP, tuple[int, int]] = {}  # tp -> (next offset, messages)
        self._deadline: float | None = None  # set by stop(): when the final flush must end
        self._fatal: KafkaError | None = None
        self._backoff = 0.0
        self._retry_at = 0.0
        self._flush_number = 0
        self._worker_id = f"{socket.gethostname()}:{os.getpid()}"
        self._faults = faults
        # Set when run() fails: from then on nothing more is written, not even by the
        # revoke that closing the consumer triggers; the next owner replays from the record.
        self._failed = False

    def _fault(self, point: str) -> None:
        self._faults(point, self._flush_number)

    def _table_fault(self, table: str) -> None:
        self._fault(_TABLE_POINTS[table])

    # -- lifecycle ----------------------------------------------------------------------
    def stop(self, budget_s: float | None = None) -> None:
        """Stop consuming; with ``budget_s``, the final flush and closing must not wait on a
        gone broker for longer than that (dead letters, the producer's flush)."""
        if budget_s is not None:
            self._deadline = time.monotonic() + budget_s
        self._stop.set()

    def _remaining(self, default_s: float) -> float:
        if self._deadline is None:
            return default_s
        return max(0.0, min(default_s, self._deadline - time.monotonic()))

    def run(self) -> None:
        """Consume until :meth:`stop`; the final flush and commit happen before returning.

        Raises :class:`DxpulseError` if what was consumed could not all be written and
        committed by then (nothing is lost: it is read again).
        """
        self._producer = Producer(
            {**dead_letter_producer_config(self.settings), "error_cb": self._on_kafka_error}
        )
        consumer = self._consumer = Consumer(
            {**consumer_config(self.settings), "error_cb": self._on_kafka_error}
        )
        self._load_topic_ids()
        self.status.watch(self._topic_type)
        consumer.subscribe(
            list(self._topic_type),
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )
        self._set_state("running")
        try:
            while not self._stop.is_set():
                messages = consumer.consume(self.settings.stream.poll_batch, timeout=0.1)
                if self._fatal is not None:
                    raise DxpulseError(f"fatal Kafka error: {self._fatal.str()}")
                if messages:
                    self._absorb(messages)
                if self._flush_due():
                    self._try_flush()
                self._watch_health()
            self._final_flush()
            self._set_state("stopped")
        except BaseException as exc:
            self._failed = True
            self._set_state("failed", f"{type(exc).__name__}: {exc}")
            raise
        finally:
            consumer.close()
            self._producer.flush(self._remaining(10))

    def _watch_health(self) -> None:
        """Once per iteration: tell the monitor the loop turns, probe what has been silent
        (only when idle: traffic commits, which answers for Kafka, and inserts), log changes."""
        self.health.beat()
        if self.health.probe_due(KAFKA):
            self._probe_kafka()
        if self.health.probe_due(CLICKHOUSE):
            self._probe_clickhouse()
        self.health.log_changes()

    def _probe_kafka(self) -> None:
        """A metadata request for one topic: the cheapest round trip that needs a broker."""
        assert self._consumer is not None
        try:
            self._consumer.list_topics(
                next(iter(self._topic_type)), timeout=self.health.probe_timeout_s
            )
        except KafkaException as exc:
            self.health.error(KAFKA, str(exc.args[0].str() if exc.args else exc))
            return
        self.health.ok(KAFKA)

    def _probe_clickhouse(self) -> None:
        try:
            with self.sink.lock:
                self.sink.client.command("SELECT 1")
        except Exception as exc:  # the driver raises many types; all mean "no answer"
            self.health.error(CLICKHOUSE, f"{type(exc).__name__}: {exc}")
            return
        self.health.ok(CLICKHOUSE)

    def _on_kafka_error(self, err: KafkaError) -> None:
        """librdkafka's error callback (served by consume() and the producer's poll):
        the reason shown once Kafka counts as down; fatal errors stop the loop."""
        self.health.error(KAFKA, err.str())
        if err.fatal():
            self._fatal = err

    def _final_flush(self) -> None:
        """Write and commit everything held. What cannot be is read again by the next owner:
        unwritten messages are consumed again, written but uncommitted ones are re-read and
        dropped as duplicates by the insert tokens."""
        self._retry_at = 0.0
        if not self._flush_everything():
            unwritten = sum(b.messages for b in self._all_batches())
            what = "ClickHouse is unavailable"
            if self._outage_of == KAFKA:
                what = "Kafka is unreachable"
            raise DxpulseError(
                f"stopped while {what}: {unwritten} messages not written "
                "and not committed; they will be consumed again"
            )
        if self._uncommitted:
            self._commit([])  # a last try of the commits that failed
        if self._uncommitted:
            left = sum(n for _, n in self._uncommitted.values())
            raise DxpulseError(
                f"stopped while Kafka is unreachable: {left} messages are in ClickHouse but "
                "their offsets are not committed; they will be read again and dropped as "
                "duplicates"
            )

    # -- consuming ----------------------------------------------------------------------
    def _absorb(self, messages: list[Message]) -> None:
        ctx = self.validator.context()
        now = ctx["now"]
        now_ms = epoch_ms(now)
        validate = self.validator.validate_flat
        skipped = 0
        # The batches this poll touched, with their counts before it: what it added to each
        # is tallied per topic afterwards (_tally), so the loop below counts nothing itself.
        touched: dict[int, tuple[PartitionBatch, _Counts]] = {}
        # Messages come in runs of one partition: look the batch up once per run. A
        # partition being replayed takes the careful path, message by message.
        run: TP | None = None
        batch: PartitionBatch | None = None
        expected: str | None = None
        for msg in messages:
            if msg.error() is not None:
                self._consumer_error(cast(KafkaError, msg.error()))
                continue
            tp = (cast(str, msg.topic()), cast(int, msg.partition()))
            offset = cast(int, msg.offset())
            if tp != run or batch is None:
                batch = self._batch_for(tp, offset)
                if batch is None:
                    skipped += 1
                    continue
                if id(batch) not in touched:
                    touched[id(batch)] = (batch, _counts(batch))
                expected = self._topic_type.get(tp[0])
                run = tp if self._parts[tp].resume is None else None
            value = msg.value()
            flat = validate(value, expected, ctx)
            if isinstance(flat, Rejection):
                batch.add_rejection(offset, msg.key(), value, flat, now)
                if run is None:
                    self._seal_if_replayed(tp, batch)
                continue
            batch.add_event(offset, flat, now, value, now_ms, msg.timestamp()[1])
            if run is None:
                self._seal_if_replayed(tp, batch)
        tallies = _tally(touched.values())
        handled = sum(t.consumed for t in tallies.values())
        if handled and self._oldest is None:
            self._oldest = time.monotonic()
        self._pending += handled
        self.status.absorbed(tallies, skipped)

    def _batch_for(self, tp: TP, offset: int) -> PartitionBatch | None:
        """The open batch for this message, or None when it was already written."""
        part = self._parts.get(tp)
        if part is None:
            part = self._parts[tp] = _PartitionState(
                self._topic_id(tp[0]), self._horizon_ms, self.settings.stream.dedup_max_ids
            )
        if not part.seeded:
            self._seed(tp, part, offset)
        if part.resume is not None and offset < part.resume.first_offset:
            return None  # written in an earlier, committed-or-recorded batch
        batch = self._open.get(tp)
        if batch is None:
            batch = self._open[tp] = PartitionBatch(
                tp[0],
                tp[1],
                self._window,
                part.watermark,
                self._lateness_ms,
                part.dedup,
                part.topic_id,
            )
        return batch

    def _seed(self, tp: TP, part: _PartitionState, first_offset: int) -> None:
        """First message after assignment: resume from the latest recorded batch, if any.

        The watermark and the dedup index are set to what they were at the point where
        consumption resumes (before the recorded batch, to replay it, or after it), so every
        later message is decided exactly as the worker that recorded it would have.
        """
        part.seeded = True
        intent = self.state.latest(tp[0], part.topic_id, tp[1])
        if intent is None:
            return
        if first_offset > intent.last_offset:
            # The recorded batch was completed and committed: continue after it.
            part.watermark = intent.watermark_end
            front, written_up_to = intent.dedup_end, intent.last_offset
        else:
            if first_offset > intent.first_offset:
                log.error(
                    "%s[%d]: offsets %d..%d are gone from the log (retention?); the recorded "
                    "batch cannot be replayed exactly",
                    *tp,
                    intent.first_offset,
                    first_offset - 1,
                )
            part.resume = intent
            part.watermark = intent.watermark_start
            front, written_up_to = intent.dedup_start, intent.first_offset - 1
        event_type = self._topic_type.get(tp[0], "")
        if intent.dedup_known:
            rows = self.state.written_rows(
                event_type, part.topic_id, tp[1], front.offset, written_up_to
            )
            part.dedup.restore(front, rows)
        else:
            part.dedup.load_approximate(
                self.state.legacy_event_ids(
                    event_type,
                    tp[1],
                    written_up_to,
                    part.watermark - self._horizon_ms,
                    self.settings.stream.dedup_max_ids,
                )
            )

    def _seal_if_replayed(self, tp: TP, batch: PartitionBatch) -> None:
        part = self._parts[tp]
        if part.resume is not None and batch.last_offset >= part.resume.last_offset:
            # The replayed range is complete: flush it exactly as it was first formed.
            part.resume = None
            self._close(tp)

    def _close(self, tp: TP) -> None:
        """Seal the open batch of ``tp`` for the next flush.

        Only when no sealed batch of ``tp`` is waiting: a flush holds at most one batch per
        partition, because its intents are one row per partition (streams/state.py).
        """
        batch = self._open.pop(tp, None)
        if batch is not None and batch.messages:
            assert not any((b.topic, b.partition) == tp for b in self._ready)
            batch.seal()
            self._parts[tp].watermark = batch.watermark
            self._ready.append(batch)

    def _consumer_error(self, err: KafkaError) -> None:
        if err.fatal():
            raise DxpulseError(f"fatal Kafka consumer error: {err}")
        log.warning("Kafka consumer error: %s", err)

    def _flush_due(self) -> bool:
        if self._oldest is None and not self._ready:
            return False
        if self._outage_since is not None:
            return time.monotonic() >= self._retry_at
        if self._ready or self._pending >= self.settings.stream.flush_max_events:
            return True
        assert self._oldest is not None
        return time.monotonic() - self._oldest >= self.settings.stream.flush_interval_s

    # -- flushing -----------------------------------------------------------------------
    def _all_batches(self) -> list[PartitionBatch]:
        return [*self._ready, *(b for b in self._open.values() if b.messages)]

    def _try_flush(self, only: set[TP] | None = None) -> bool:
        """Flush; on failure keep everything, pause consumption and retry with backoff.

        A partition whose sealed batch is waiting keeps its open batch open, and a replay is
        only flushed when complete; so a flush holds at most one batch per partition.
        """
        waiting = {(b.topic, b.partition) for b in self._ready}
        for tp in [tp for tp in self._open if only is None or tp in only]:
            part = self._parts.get(tp)
            if tp not in waiting and (part is None or part.resume is None):
                self._close(tp)
        batches = [b for b in self._ready if only is None or (b.topic, b.partition) in only]
        if not batches:
            return True
        try:
            self._flush(batches)
        except Exception as exc:
            self._enter_outage(exc)
            return False
        self.health.wrote(CLICKHOUSE)
        done = set(map(id, batches))
        self._ready = [b for b in self._ready if id(b) not in done]
        flushed = sum(b.messages for b in batches)
        self._pending = max(0, self._pending - flushed)
        if not self._open and not self._ready:
            self._pending, self._oldest = 0, None
        elif not self._open:
            self._oldest = None
        self._leave_outage()
        return True

    def _flush_everything(self, only: set[TP] | None = None) -> bool:
        """Flush all that can be (a replay still incomplete cannot); False if ClickHouse
        fails. Two rounds: a partition's waiting batch, then the open one behind it."""
        return self._try_flush(only) and self._try_flush(only)

    def _flush(self, batches: list[PartitionBatch]) -> None:
        started = time.monotonic()
        self._flush_number += 1
        self.state.record(self._intent(b) for b in batches)
        self._fault("after_intent")
        self._deliver_dead_letters(batches)
        self._fault("after_dead_letters")
        visible_ms: list[int] = []
        for n, batch in enumerate(batches):
            self.sink.write(batch, self._table_fault if n == 0 else _no_table_fault)
            visible_ms.append(int(time.time() * 1000))  # the insert returned: queryable now
            if n == 0:
                self._fault("after_first_batch")
        self._fault("before_health")
        # One look at the end offsets: pipeline_flushes and /metrics report the same lag.
        highs = {tp: self._high_watermark(tp) for tp in {(b.topic, b.partition) for b in batches}}
        self._write_health(batches, highs, visible_ms[-1], started)
        self._fault("before_commit")
        self._commit(batches)
        self._fault("after_commit")
        self._report_flush(batches, highs, visible_ms, time.monotonic() - started)

    def _report_flush(
        self,
        batches: list[PartitionBatch],
        highs: dict[TP, int | None],
        visible_ms: list[int],
        seconds: float,
    ) -> None:
        """A completed flush into WorkerStatus: once per flush, whatever its size."""
        committed: dict[str, int] = {}
        for b in batches:
            committed[b.topic] = committed.get(b.topic, 0) + b.messages
        lag = {tp: consumer_lag(highs[tp], nxt) for tp, nxt in next_offsets(batches).items()}
        with self.status.lock:
            for batch, visible in zip(batches, visible_ms, strict=True):
                self.status.freshness.record(batch.produced_ms, visible)
            self.status.committed_to(committed, lag)
            self.status.flushes += 1
            self.status.last_flush_at = time.time()
            self.status.last_flush_seconds = seconds
            self.status.last_flush_batches = len(batches)
            self.status.flush_duration.observe(seconds)
            self.status.flush_rows.observe(sum(len(b.events) for b in batches))

    def _write_health(
        self,
        batches: list[PartitionBatch],
        highs: dict[TP, int | None],
        flushed_ms: int,
        started: float,
    ) -> None:
        """Report the flush in ``pipeline_flushes``: one insert, a row per batch.

        The rows are written inside the flush they describe, so ``flush_ms`` is the flush's
        duration up to here: intents, dead letters and row inserts, not this insert and the
        offset commit. Like any insert, a failure fails the flush, which is retried; the
        token is the same for the same batches, so a retry does not report them twice.
        """
        flush_ms = (time.monotonic() - started) * 1000
        rows = health_rows(
            batches,
            highs,
            worker=self._worker_id,
            group_id=self.settings.kafka.group_id,
            topic_types=self._topic_type,
            flush_ms=flush_ms,
            flushed_ms=flushed_ms,
        )
        self.sink.write_health(rows, health_token(batches))

    def _high_watermark(self, tp: TP) -> int | None:
        """The partition's end offset as of the last fetch (no broker round trip), if known."""
        if self._consumer is None:
            return None
        try:
            _low, high = self._consumer.get_watermark_offsets(TopicPartition(*tp), cached=True)
        except KafkaException:
            return None
        return cast(int | None, high)

    def _intent(self, batch: PartitionBatch) -> BatchIntent:
        return BatchIntent(
            batch.topic,
            self._parts[(batch.topic, batch.partition)].topic_id,
            batch.partition,
            batch.first_offset,
            batch.last_offset,
            batch.watermark_start,
            batch.watermark,
            batch.token,
            batch.dedup_start,
            batch.dedup_end,
        )

    def _commit(self, batches: list[PartitionBatch]) -> None:
        """Commit the batches' offsets, and again those whose commit failed before."""
        pending = dict(self._uncommitted)
        for b in batches:
            tp = (b.topic, b.partition)
            nxt, messages = pending.get(tp, (0, 0))
            pending[tp] = (max(nxt, b.last_offset + 1), messages + b.messages)
        if not pending:
            return
        assert self._consumer is not None
        try:
            self._consumer.commit(
                offsets=[TopicPartition(t, p, nxt) for (t, p), (nxt, _) in pending.items()],
                asynchronous=False,
            )
        except KafkaException as exc:
            # The rows are written and recorded: a restart replays the recorded range into
            # deduplicated inserts, and the next successful commit covers these offsets.
            self._uncommitted = pending
            self.health.error(KAFKA, f"offset commit failed: {exc.args[0].str()}")
            log.warning("offset commit failed (will be covered by the next): %s", exc)
            return
        self._uncommitted = {}
        self.health.wrote(KAFKA)

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

    # -- outages ------------------------------------------------------------------------
    def _enter_outage(self, exc: Exception) -> None:
        max_backoff = self.settings.stream.retry_max_backoff_s
        self._backoff = min(max_backoff, max(0.2, self._backoff * 2))
        self._retry_at = time.monotonic() + self._backoff
        reason = f"{type(exc).__name__}: {str(exc)[:300]}"
        if self._outage_since is None:
            self._outage_since = time.monotonic()
            self._outage_of = KAFKA if isinstance(exc, KafkaUnavailable) else CLICKHOUSE
            self._pause(True)
        # The monitor logs it, once, and when it ends (streams/liveness.py).
        self.health.failing(self._outage_of, f"{reason}; consumption paused, retrying")
        with self.status.lock:
            self.status.state = "degraded"
            self.status.error = f"{type(exc).__name__}: {str(exc)[:300]}"
            self.status.write_failures += 1
            self.status.outage_since = self._outage_since

    def _leave_outage(self) -> None:
        if self._outage_since is None:
            return
        lasted = time.monotonic() - self._outage_since
        self.health.wrote(self._outage_of)
        self._outage_since, self._backoff, self._retry_at = None, 0.0, 0.0
        self._pause(False)
        with self.status.lock:
            self.status.state, self.status.error = "running", None
            self.status.outage_seconds += lasted
            self.status.outage_since = None

    def _pause(self, paused: bool) -> None:
        consumer = self._consumer
        if consumer is None:
            return
        assignment = consumer.assignment()
        if assignment:
            # Paused, the consumer keeps its group membership but fetches nothing: memory
            # stays bounded to what is already buffered while ClickHouse is away.
            (consumer.pause if paused else consumer.resume)(assignment)

    # -- rebalancing --------------------------------------------------------------------
    def _load_topic_ids(self, topics: set[str] | None = None) -> None:
        """The topics' ids from the brokers. A topic that cannot be described forgets its
        id: after a broker lost its data, an old id would match the old topic's records."""
        admin = AdminClient(self.settings.kafka.client_config())
        futures = admin.describe_topics(TopicCollection(sorted(topics or self._topic_type)))
        for name, future in futures.items():
            try:
                self._topic_ids[name] = str(future.result(10).topic_id)
            except KafkaException as exc:
                self._topic_ids.pop(name, None)
                log.warning("no topic id for %s yet: %s", name, exc)
                continue
            self.health.ok(KAFKA)

    def _topic_id(self, topic: str) -> str:
        if topic not in self._topic_ids:
            self._load_topic_ids()
        return self._topic_ids.get(topic, "")

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # A topic may have been deleted and created again (or the broker restarted empty)
        # since its id was read: read it again before any of its records is decided.
        if partitions:
            self._load_topic_ids({p.topic for p in partitions})
        with self.status.lock:
            self.status.assigned = sorted(
                {*self.status.assigned, *(f"{p.topic}[{p.partition}]" for p in partitions)}
            )
        if self._outage_since is not None and partitions:
            consumer.pause(partitions)

    def _on_revoke(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Finish what we hold for these partitions before another worker takes them; if
        # ClickHouse is away, let go uncommitted: the new owner replays from the record.
        revoked = {(p.topic, p.partition) for p in partitions}
        if not self._failed:
            self._flush_everything(only=revoked)
        self._drop(revoked)  # what could not be written, or a replay still incomplete
        self._forget(revoked)

    def _on_lost(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Another member may already own them: drop, the new owner replays from the record.
        lost = {(p.topic, p.partition) for p in partitions}
        self._drop(lost)
        self._forget(lost)

    def _drop(self, tps: set[TP]) -> None:
        for tp in tps:
            dropped = self._open.pop(tp, None)
            if dropped:
                self._pending -= dropped.messages
        kept = [b for b in self._ready if (b.topic, b.partition) not in tps]
        self._pending -= sum(b.messages for b in self._ready) - sum(b.messages for b in kept)
        self._ready = kept
        self._pending = max(0, self._pending)

    def _forget(self, tps: set[TP]) -> None:
        for tp in tps:
            self._parts.pop(tp, None)
            self._uncommitted.pop(tp, None)  # another owner's now: it replays from the record
        gone = {f"{t}[{p}]" for t, p in tps}
        with self.status.lock:
            self.status.assigned = [a for a in self.status.assigned if a not in gone]
        self.status.released(tps)

    def _set_state(self, state: str, error: str | None = None) -> None:
        with self.status.lock:
            self.status.state = state
            self.status.error = error
