"""The hot path: consume message batches, validate, aggregate, flush, then commit.

Runs in its own thread inside the Faust worker (see streams/app.py). It reads with
confluent-kafka's batch ``consume()`` rather than Faust's per-event stream machinery,
which costs ~100 µs of CPU per event (docs/architecture.md).

A flush seals every open partition batch and hands them, as one :class:`Flush`, to a sink
thread (streams/writer.py: intents -> dead letters -> one insert per table -> health),
while this thread goes on consuming into the next batches. When the sink thread is done,
this thread commits the flush's offsets; only then does the next flush start, so flushes
are written and committed in order, one at a time (docs/reliability.md). A worker that dies
anywhere in between is replaced by one that re-forms the whole recorded flush
(streams/replay.py), so nothing is lost and nothing counts twice.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
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
from dxpulse.streams.flush import Flush
from dxpulse.streams.health import consumer_lag
from dxpulse.streams.liveness import CLICKHOUSE, KAFKA, HealthMonitor
from dxpulse.streams.replay import DedupRestorer, FlushReplayer
from dxpulse.streams.sink import ClickHouseSink
from dxpulse.streams.state import BatchIntent, SinkStateStore
from dxpulse.streams.status import TopicCounts, WorkerStatus
from dxpulse.streams.windows import epoch_ms
from dxpulse.streams.writer import FlushWriter, KafkaUnavailable

log = logging.getLogger(__name__)

TP = tuple[str, int]
__all__ = ["IngestLoop", "KafkaUnavailable", "consumer_config"]


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
        "fetch.wait.max.ms": kafka.fetch_wait_max_ms,
    }


def dead_letter_producer_config(settings: Settings) -> dict[str, Any]:
    return {
        **settings.kafka.client_config(),
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
        "compression.type": settings.producer.compression,
    }


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


class _PartitionState:
    """What the loop knows of one assigned partition between batches."""

    __slots__ = ("dedup", "seeded", "skip_to", "topic_id", "watermark")

    def __init__(self, topic_id: str, horizon_ms: int, max_ids: int) -> None:
        self.topic_id = topic_id
        self.watermark = NO_WATERMARK
        self.dedup = DedupIndex(horizon_ms, max_ids)
        self.skip_to = -1  # offsets up to this one are written (a recorded flush): skipped
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
        self._open_messages = 0  # messages in the open batches
        self._oldest: float | None = None  # when the oldest open message was consumed
        # The flush being written by the sink thread, and one whose writing failed (kept,
        # exactly as formed, to be written again: the same blocks under the same tokens).
        self._inflight: tuple[Flush, Future[Flush]] | None = None
        self._failed_flush: Flush | None = None
        self._executor: ThreadPoolExecutor | None = None
        # Recorded flushes this worker re-formed since it started (streams/replay.py).
        self._replayed: set[str] = set()
        self._stop = threading.Event()
        self._consumer: Consumer | None = None
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
        self.writer = FlushWriter(
            sink,
            self.state,
            faults,
            dead_letter_topic=settings.kafka.dead_letter_topic,
            worker=self._worker_id,
            group_id=settings.kafka.group_id,
            topic_types=self._topic_type,
            remaining=self._remaining,
        )
        self._restorer = DedupRestorer(self.state, self._topic_type, stream.dedup_max_ids)
        self._replayer = FlushReplayer(
            {**consumer_config(settings), "group.id": f"{settings.kafka.group_id}.replay"},
            self.state,
            self._restorer,
            self.validator,
            self._recorded_batch,
            lambda: DedupIndex(self._horizon_ms, stream.dedup_max_ids),
        )
        # Set when run() fails: from then on nothing more is written, not even by the
        # revoke that closing the consumer triggers; the next owner replays from the record.
        self._failed = False

    def _fault(self, point: str, number: int | None = None) -> None:
        self._faults(point, self._flush_number if number is None else number)

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
        producer = self.writer.producer = Producer(
            {**dead_letter_producer_config(self.settings), "error_cb": self._on_kafka_error}
        )
        consumer = self._consumer = Consumer(
            {**consumer_config(self.settings), "error_cb": self._on_kafka_error}
        )
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="dxpulse-sink")
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
            self._consume_until_stopped(consumer)
            self._final_flush()
            self._set_state("stopped")
        except BaseException as exc:
            self._failed = True
            self._set_state("failed", f"{type(exc).__name__}: {exc}")
            raise
        finally:
            self._executor.shutdown(wait=True)
            consumer.close()
            producer.flush(self._remaining(10))

    def _consume_until_stopped(self, consumer: Consumer) -> None:
        while not self._stop.is_set():
            messages = consumer.consume(self.settings.stream.poll_batch, timeout=0.1)
            if self._fatal is not None:
                raise DxpulseError(f"fatal Kafka error: {self._fatal.str()}")
            if messages:
                self._absorb(messages)
            self._collect(block=self._open_messages >= 2 * self.settings.stream.flush_max_events)
            if self._flush_due():
                self._start_flush()
            self._watch_health()

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
            unwritten = self._open_messages + (
                self._failed_flush.messages if self._failed_flush else 0
            )
            what = "ClickHouse is unavailable"
            if self._outage_of == KAFKA:
                what = "Kafka is unreachable"
            raise DxpulseError(
                f"stopped while {what}: {unwritten} messages not written "
                "and not committed; they will be consumed again"
            )
        if self._uncommitted:
            self._commit({})  # a last try of the commits that failed
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
        # Messages come in runs of one partition: look the batch up once per run.
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
                    run = None
                    continue
                if id(batch) not in touched:
                    touched[id(batch)] = (batch, _counts(batch))
                expected = self._topic_type.get(tp[0])
                run = tp
            value = msg.value()
            flat = validate(value, expected, ctx)
            if isinstance(flat, Rejection):
                batch.add_rejection(offset, msg.key(), value, flat, now)
                continue
            batch.add_event(offset, flat, now, value, now_ms, msg.timestamp()[1])
        tallies = _tally(touched.values())
        handled = sum(t.consumed for t in tallies.values())
        if handled and self._oldest is None:
            self._oldest = time.monotonic()
        self._open_messages += handled
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
        if offset <= part.skip_to:
            return None  # written by a recorded flush, committed or not
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

    def _recorded_batch(self, intent: BatchIntent, dedup: DedupIndex) -> PartitionBatch:
        """An empty batch in the state a recorded one started from (streams/replay.py)."""
        return PartitionBatch(
            intent.topic,
            intent.partition,
            self._window,
            intent.watermark_start,
            self._lateness_ms,
            dedup,
            intent.topic_id,
        )

    def _seed(self, tp: TP, part: _PartitionState, first_offset: int) -> None:
        """First message after assignment: carry on after the latest recorded batch, if any.

        If consumption resumes inside it (or before it), its flush may be incomplete: the
        whole flush is re-formed and written first (streams/replay.py), and the messages up
        to its end are skipped. Either way the watermark and the dedup index are set to what
        they were after the recorded batch, so every later message is decided exactly as
        the worker that recorded it would have.
        """
        part.seeded = True
        intent = self.state.latest(tp[0], part.topic_id, tp[1])
        if intent is None:
            return
        if first_offset <= intent.last_offset:
            replayed = None if intent.flush in self._replayed else self._replay(intent)
            part.skip_to = intent.last_offset
            # Committed now, not with a later flush: the partition may get no more messages.
            self._commit({tp: (intent.last_offset + 1, 0)})
            if replayed is not None:
                self._fault("after_commit", replayed)
        part.watermark = intent.watermark_end
        self._restorer.restore(part.dedup, intent, after=True)

    def _replay(self, intent: BatchIntent) -> int | None:
        """Write ``intent``'s whole recorded flush again, retrying through an outage; the
        replay's flush number, or None when the flush was known complete."""
        members = self._replayer.members(intent)
        number = None
        if members is not None:
            self._flush_number += 1
            flush = self._replayer.rebuild(self._flush_number, members, self._topic_type)
            self._write_replay(flush)
            number = flush.number
            log.info(
                "re-formed a recorded flush of %d batches (%d messages)",
                len(flush.batches),
                flush.messages,
            )
        self._replayed.add(intent.flush)
        return number

    def _write_replay(self, flush: Flush) -> None:
        while True:
            try:
                self.writer.write(flush)
            except Exception as exc:
                self._enter_outage(exc)
                self._wait_for_retry()
                continue
            self.health.wrote(CLICKHOUSE)
            self._leave_outage()
            return

    def _wait_for_retry(self) -> None:
        """Sleep until the backoff ends, keeping health reports current; a stop gives up
        (nothing of the partition is committed: the next owner re-forms the flush)."""
        while time.monotonic() < self._retry_at:
            if self._stop.is_set():
                raise DxpulseError("stopped while re-forming a recorded flush")
            self._watch_health()
            time.sleep(0.05)

    def _consumer_error(self, err: KafkaError) -> None:
        if err.fatal():
            raise DxpulseError(f"fatal Kafka consumer error: {err}")
        log.warning("Kafka consumer error: %s", err)

    # -- flushing -----------------------------------------------------------------------
    def _flush_due(self) -> bool:
        if self._inflight is not None:
            return False
        if self._failed_flush is not None:
            return time.monotonic() >= self._retry_at
        if self._oldest is None or not self._open_messages:
            return False
        if self._open_messages >= self.settings.stream.flush_max_events:
            return True
        return time.monotonic() - self._oldest >= self.settings.stream.flush_interval_s

    def _seal(self, only: set[TP] | None = None) -> Flush | None:
        """The open batches (of ``only``, if given) as the next flush, or None if empty."""
        tps = [tp for tp, b in self._open.items() if b.messages and (only is None or tp in only)]
        if not tps:
            return None
        batches = []
        for tp in tps:
            batch = self._open.pop(tp)
            batch.seal()
            self._parts[tp].watermark = batch.watermark
            batches.append(batch)
            self._open_messages -= batch.messages
        if not self._open:
            self._open_messages, self._oldest = 0, None
        self._flush_number += 1
        flush = Flush(self._flush_number, batches)
        # One look at the end offsets: pipeline_flushes and /metrics report the same lag.
        flush.high_watermarks = {tp: self._high_watermark(tp) for tp in flush.partitions}
        return flush

    def _start_flush(self) -> None:
        """Hand the next flush to the sink thread: the failed one again, else a new one."""
        assert self._executor is not None
        flush, self._failed_flush = self._failed_flush, None
        flush = flush or self._seal()
        if flush is not None:
            self._inflight = (flush, self._executor.submit(self.writer.write, flush))

    def _collect(self, block: bool = False) -> None:
        """If the sink thread finished the flush in flight (or, with ``block``, once it
        has): commit it, or keep it for a retry if writing it failed."""
        if self._inflight is None:
            return
        flush, future = self._inflight
        if not block and not future.done():
            return
        self._inflight = None
        try:
            future.result()
        except Exception as exc:
            self._failed_flush = flush
            self._enter_outage(exc)
            return
        self._completed(flush)

    def _completed(self, flush: Flush) -> None:
        """The flush is in ClickHouse: commit its offsets, report it."""
        self.health.wrote(CLICKHOUSE)
        self._leave_outage()
        self._commit(flush.next_offsets())
        self._fault("after_commit", flush.number)
        self._report_flush(flush, time.monotonic() - flush.started)

    def _write_now(self, flush: Flush) -> bool:
        """Write a flush on this thread (final flush, revoke); False if it failed."""
        try:
            self.writer.write(flush)
        except Exception as exc:
            self._failed_flush = flush
            self._enter_outage(exc)
            return False
        self._completed(flush)
        return True

    def _flush_everything(self, only: set[TP] | None = None) -> bool:
        """Write all that is held (of ``only``, if given), in order: the flush in flight,
        a failed one, then the open batches. False if ClickHouse fails."""
        self._collect(block=True)
        failed, self._failed_flush = self._failed_flush, None
        if failed is not None and not self._write_now(failed):
            return False
        flush = self._seal(only)
        return flush is None or self._write_now(flush)

    def _report_flush(self, flush: Flush, seconds: float) -> None:
        """A completed flush into WorkerStatus: once per flush, whatever its size."""
        committed: dict[str, int] = {}
        for b in flush.batches:
            committed[b.topic] = committed.get(b.topic, 0) + b.messages
        lag = {
            tp: consumer_lag(flush.high_watermarks.get(tp), nxt)
            for tp, (nxt, _) in flush.next_offsets().items()
        }
        with self.status.lock:
            for batch in flush.batches:
                self.status.freshness.record(batch.produced_ms, flush.visible_ms)
            self.status.committed_to(committed, lag)
            self.status.flushes += 1
            self.status.last_flush_at = time.time()
            self.status.last_flush_seconds = seconds
            self.status.last_flush_batches = len(flush.batches)
            self.status.flush_duration.observe(seconds)
            self.status.flush_rows.observe(sum(len(b.events) for b in flush.batches))

    def _high_watermark(self, tp: TP) -> int | None:
        """The partition's end offset as of the last fetch (no broker round trip), if known."""
        if self._consumer is None:
            return None
        try:
            _low, high = self._consumer.get_watermark_offsets(TopicPartition(*tp), cached=True)
        except KafkaException:
            return None
        return cast(int | None, high)

    def _commit(self, offsets: dict[TP, tuple[int, int]]) -> None:
        """Commit these offsets (next offset, messages), and again those that failed before."""
        pending = dict(self._uncommitted)
        for tp, (nxt, messages) in offsets.items():
            have, before = pending.get(tp, (0, 0))
            pending[tp] = (max(have, nxt), before + messages)
        if not pending:
            return
        assert self._consumer is not None
        try:
            self._consumer.commit(
                offsets=[TopicPartition(t, p, nxt) for (t, p), (nxt, _) in pending.items()],
                asynchronous=False,
            )
        except KafkaException as exc:
            # The rows are written and recorded: a restart replays the recorded flush into
            # deduplicated inserts, and the next successful commit covers these offsets.
            self._uncommitted = pending
            self.health.error(KAFKA, f"offset commit failed: {exc.args[0].str()}")
            log.warning("offset commit failed (will be covered by the next): %s", exc)
            return
        self._uncommitted = {}
        self.health.wrote(KAFKA)

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
            self.status.error = reason
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
        self._release(revoked)

    def _on_lost(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Another member may already own them: nothing more of theirs is written or
        # committed here; the new owner replays from the record.
        lost = {(p.topic, p.partition) for p in partitions}
        if self._inflight is not None:
            self._collect(block=True)
        self._release(lost)

    def _release(self, tps: set[TP]) -> None:
        """Let go of partitions: drop what is held of them, forget their state."""
        self._drop_failed_flush(tps)
        for tp in tps:
            dropped = self._open.pop(tp, None)
            if dropped:
                self._open_messages -= dropped.messages
            self._parts.pop(tp, None)
            self._uncommitted.pop(tp, None)  # another owner's now: it replays from the record
        if not self._open:
            self._open_messages, self._oldest = 0, None
        gone = {f"{t}[{p}]" for t, p in tps}
        with self.status.lock:
            self.status.assigned = [a for a in self.status.assigned if a not in gone]
        self.status.released(tps)

    def _drop_failed_flush(self, tps: set[TP]) -> None:
        """A failed flush holding any of these partitions can never be written by this
        worker again: only the owner of every batch in it may write the same blocks, or a
        new owner, not seeing its record, would count the released batch a second time.
        Its other partitions start over from their record and their committed offset."""
        flush = self._failed_flush
        if flush is None or not flush.partitions & tps:
            return
        self._failed_flush = None
        for batch in flush.batches:
            tp = (batch.topic, batch.partition)
            if tp in tps:
                continue
            dropped = self._open.pop(tp, None)
            if dropped:
                self._open_messages -= dropped.messages
            self._parts.pop(tp, None)  # seeded again from the record on its next message
            self._seek(tp, batch.first_offset)

    def _seek(self, tp: TP, offset: int) -> None:
        assert self._consumer is not None
        try:
            self._consumer.seek(TopicPartition(tp[0], tp[1], offset))
        except KafkaException as exc:  # not assigned after all: its next owner reads it
            log.warning("could not rewind %s[%d] to %d: %s", *tp, offset, exc)

    def _set_state(self, state: str, error: str | None = None) -> None:
        with self.status.lock:
            self.status.state = state
            self.status.error = error
