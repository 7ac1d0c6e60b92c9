"""Send generated events to Kafka: idempotent, acks=all, compressed, keyed by province.

Keying by province code keeps one province's events in order within its partition.

Throughput: events come from ``EventGenerator.batch`` already encoded, and librdkafka
reports only failed deliveries, so the per-event Python work is one ``produce()`` call.
A delivery is counted exactly anyway: every message sent either fails (reported), is still
queued when ``flush`` gives up (returned by it), or was delivered.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from confluent_kafka import KafkaError, Message, Producer

from dxpulse.core.config import Settings
from dxpulse.core.errors import DxpulseError
from dxpulse.producers.backfill import BackfillPlan
from dxpulse.producers.generator import EncodedEvents, EventGenerator
from dxpulse.producers.intensity import total_intensity

ProgressFn = Callable[[int], None]
_PROGRESS_EVERY = 2_000
# Events generated per step: big enough that numpy's per-call cost is spread thin, small
# enough that pacing, should_stop and progress stay responsive (a few ms at full speed).
_STEP = 2_000
# When paced, wait for at least this much of the rate's events before generating: a batch
# call has a fixed cost (~50 µs), which one-event batches would pay per event.
_MIN_PACED_STEP_S = 0.005
_MAX_ERRORS_KEPT = 5
# How long the final flush waits for deliveries; what is still queued then is undelivered.
_FLUSH_S = 60


def producer_config(settings: Settings) -> dict[str, Any]:
    return {
        **settings.kafka.client_config(),
        "enable.idempotence": True,
        "acks": "all",
        "compression.type": settings.producer.compression,
        "linger.ms": settings.producer.linger_ms,
        "batch.size": 1_000_000,
        "queue.buffering.max.messages": 500_000,
        # A callback per delivered message costs about a microsecond of Python each; only
        # failures need one, delivered = sent - failed - still queued after flush.
        "delivery.report.only.error": True,
    }


@dataclass
class ProduceReport:
    sent: int = 0
    delivered: int = 0
    failed: int = 0
    seconds: float = 0.0
    by_type: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.delivered / self.seconds if self.seconds else 0.0

    @property
    def undelivered(self) -> int:
        """Sent but not delivered: failed, or still queued when the flush gave up."""
        return self.sent - self.delivered


class UndeliveredError(DxpulseError):
    """Some events were not delivered. Carries the exact report, so that a caller that stops
    in order (`run` after a signal) can still land and count what was delivered."""

    def __init__(self, report: ProduceReport) -> None:
        self.report = report
        super().__init__(
            f"{report.undelivered} of {report.sent} events not delivered"
            + (f": {report.errors[0]}" if report.errors else "")
        )


class RatePacer:
    """How many events may be sent by now, for a target rate (0 = unlimited)."""

    def __init__(self, rate: float, diurnal: bool = False) -> None:
        self.rate = rate
        self.diurnal = diurnal
        self._start = time.monotonic()
        self._credit = 0.0
        self._last = self._start

    def allowance(self, sent: int, now: float | None = None) -> int:
        if self.rate <= 0:
            return 1 << 30
        now = time.monotonic() if now is None else now
        factor = total_intensity(datetime.now(UTC)) if self.diurnal else 1.0
        self._credit += (now - self._last) * self.rate * factor
        self._last = now
        return max(0, int(self._credit) - sent)


class EventClock:
    """The event times of live events: one every 1 / rate seconds from the start.

    Why not the wall clock: the producer generates ~400,000 events a second, so stamping
    each step with "now" put a 300,000-event run into ~1 s of event time, one spike on every
    chart. With a rate, event k is stamped ``start + k / rate`` (the diurnal factor, if any,
    stretching the interval), so N events cover N / rate seconds whatever the machine's
    speed; pacing keeps these times at or behind the wall clock. At rate 0 (as fast as
    possible) there is no rate to follow: events are stamped evenly between the previous
    step and now, so they cover exactly the time it took to produce them.
    """

    def __init__(self, rate: float, start_ms: int, diurnal: bool = False) -> None:
        self.rate = rate
        self.diurnal = diurnal
        self._next = float(start_ms)  # the next event's time, epoch ms (float: no drift)

    def times(self, n: int, now_ms: int) -> npt.NDArray[np.int64]:
        """The next ``n`` events' times, ascending epoch ms, none after ``now_ms``."""
        if self.rate > 0:
            factor = total_intensity(datetime.now(UTC)) if self.diurnal else 1.0
            gap = 1000.0 / (self.rate * factor)
            times = self._next + gap * np.arange(n)
            self._next += gap * n
        else:
            last = min(self._next, float(now_ms))
            times = last + (now_ms - last) * np.arange(1, n + 1) / n
            self._next = float(now_ms)
        # Never in the future: the worker rejects events too far ahead of its clock.
        stamped: npt.NDArray[np.int64] = np.minimum(times, now_ms).astype(np.int64)
        return stamped


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class SharedProducer:
    """One connected producer for several :func:`produce` runs, each counting its own report.

    A fresh producer spends its first second connecting and getting its idempotent producer
    id, so the first messages of a run it starts wait that long: the bench's freshness phase
    warms one up on other topics, then measures with it connected.
    """

    def __init__(self, settings: Settings) -> None:
        self._report: ProduceReport | None = None  # none yet: nothing is sent before attach
        self.client = Producer({**producer_config(settings), "on_delivery": self._on_delivery})

    def _on_delivery(self, err: KafkaError | None, _msg: Message) -> None:
        if self._report is not None:
            _count_failure(self._report, err)

    def attach(self, report: ProduceReport) -> Producer:
        """The client, its failed deliveries counted into ``report`` from now on (a run's
        final flush leaves none of the previous run's pending)."""
        self._report = report
        return self.client


def produce(
    settings: Settings,
    generator: EventGenerator,
    count: int | None = None,
    duration_s: float | None = None,
    rate: float = 0.0,
    diurnal: bool = False,
    progress: ProgressFn | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    shared: SharedProducer | None = None,
) -> ProduceReport:
    """Produce until ``count`` events, ``duration_s`` seconds, or ``should_stop()``; with a
    ``shared`` producer already connected, else a new one."""
    report = ProduceReport()
    producer = (shared or SharedProducer(settings)).attach(report)
    topics = {t: settings.kafka.topic(t) for t in generator.event_types}
    pacer = RatePacer(rate, diurnal)
    clock = EventClock(rate, _now_ms(), diurnal)
    started = time.monotonic()
    deadline = started + duration_s if duration_s else None
    reported = 0
    min_step = max(1, int(rate * _MIN_PACED_STEP_S))
    while (count is None or report.sent < count) and not should_stop():
        now = time.monotonic()
        if deadline is not None and now >= deadline:
            break
        left = None if count is None else count - report.sent
        step = _step(pacer.allowance(report.sent, now), left, min_step)
        if step == 0:
            producer.poll(0.001)
            continue
        for events in generator.batch_at(clock.times(step, _now_ms())):
            _send_counted(producer, topics, events, report)
        reported = _advance(progress, report.sent, reported)
    return _finish(producer, report, started, progress, report.sent - reported)


def produce_backfill(
    settings: Settings,
    generator: EventGenerator,
    plan: BackfillPlan,
    progress: ProgressFn | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> ProduceReport:
    """Produce a history backfill at full speed, in the plan's order, until ``should_stop()``.

    Each type's events go out in ascending event time, so each partition's watermark only
    moves forward: run it before live traffic, whose newer events would make these late.
    """
    report = ProduceReport()
    producer = Producer({**producer_config(settings), "on_delivery": _failure_counter(report)})
    topics = {t: settings.kafka.topic(t) for t in plan.event_types}
    started = time.monotonic()
    reported = 0
    for step in plan.steps():
        if should_stop():
            break
        events = generator.batch_times(step.event_type, step.times_ms)
        _send_counted(producer, topics, events, report)
        reported = _advance(progress, report.sent, reported)
    return _finish(producer, report, started, progress, report.sent - reported)


def _send_counted(
    producer: Producer, topics: dict[str, str], events: EncodedEvents, report: ProduceReport
) -> None:
    _send(producer, topics[events.event_type], events)
    report.by_type[events.event_type] += len(events.values)
    report.sent += len(events.values)
    producer.poll(0)  # serve delivery reports (failures) as we go


def _advance(progress: ProgressFn | None, sent: int, reported: int) -> int:
    """Report progress every _PROGRESS_EVERY events; returns the count reported so far."""
    if progress and sent - reported >= _PROGRESS_EVERY:
        progress(sent - reported)
        return sent
    return reported


def _finish(
    producer: Producer,
    report: ProduceReport,
    started: float,
    progress: ProgressFn | None,
    unreported: int,
) -> ProduceReport:
    """Flush, count deliveries exactly, and raise UndeliveredError if any event was not
    delivered. The flush is bounded; a second stop signal does not wait for it (see
    dxpulse/signals.py)."""
    remaining = producer.flush(_FLUSH_S)
    report.seconds = time.monotonic() - started
    report.delivered = report.sent - report.failed - remaining
    if progress:
        progress(unreported)
    if report.undelivered:
        raise UndeliveredError(report)
    return report


def _step(budget: int, left: int | None, min_step: int) -> int:
    """Events to generate now, or 0 to wait for more pacing credit."""
    if left is not None:
        budget, min_step = min(budget, left), min(min_step, left)
    return min(budget, _STEP) if budget >= min_step else 0


def _failure_counter(report: ProduceReport) -> Callable[[KafkaError | None, Message], None]:
    def on_delivery(err: KafkaError | None, _msg: Message) -> None:
        _count_failure(report, err)

    return on_delivery


def _count_failure(report: ProduceReport, err: KafkaError | None) -> None:
    if err is None:  # not called for successes (delivery.report.only.error)
        return
    report.failed += 1
    if len(report.errors) < _MAX_ERRORS_KEPT:
        report.errors.append(str(err))


def _send(producer: Producer, topic: str, events: EncodedEvents) -> None:
    send = producer.produce
    values, keys = events.values, events.keys
    done = 0
    while done < len(values):
        try:
            for value, key in zip(values[done:], keys[done:], strict=True):
                send(topic, value, key)
                done += 1
        except BufferError:
            # librdkafka's local queue is full: wait for it to drain to the broker.
            producer.poll(0.05)
