"""Send generated events to Kafka: idempotent, acks=all, compressed, keyed by province.

Keying by province code keeps one province's events in order within its partition.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from dxpulse.config import Settings
from dxpulse.errors import DxpulseError
from producers.generator import EventGenerator
from producers.intensity import total_intensity

ProgressFn = Callable[[int], None]
_PROGRESS_EVERY = 2_000


def producer_config(settings: Settings) -> dict[str, Any]:
    return {
        **settings.kafka.client_config(),
        "enable.idempotence": True,
        "acks": "all",
        "compression.type": settings.producer.compression,
        "linger.ms": settings.producer.linger_ms,
        "batch.size": 1_000_000,
        "queue.buffering.max.messages": 500_000,
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


def produce(
    settings: Settings,
    generator: EventGenerator,
    count: int | None = None,
    duration_s: float | None = None,
    rate: float = 0.0,
    diurnal: bool = False,
    progress: ProgressFn | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> ProduceReport:
    """Produce until ``count`` events, ``duration_s`` seconds, or ``should_stop()``."""
    report = ProduceReport()

    def on_delivery(err: KafkaError | None, _msg: Message) -> None:
        if err is None:
            report.delivered += 1
        else:
            report.failed += 1
            if len(report.errors) < 5:
                report.errors.append(str(err))

    producer = Producer({**producer_config(settings), "on_delivery": on_delivery})
    topics = {t: settings.kafka.topic(t) for t in generator.event_types}
    pacer = RatePacer(rate, diurnal)
    started = time.monotonic()
    deadline = started + duration_s if duration_s else None
    reported = 0
    while (count is None or report.sent < count) and not should_stop():
        now = time.monotonic()
        if deadline is not None and now >= deadline:
            break
        budget = pacer.allowance(report.sent, now)
        if budget == 0:
            producer.poll(0.001)
            continue
        if count is not None:
            budget = min(budget, count - report.sent)
        at = datetime.now(UTC)
        for _ in range(min(budget, 1_000)):
            event = generator.event(at)
            _send(producer, topics[event["event_type"]], event, generator)
            report.by_type[event["event_type"]] += 1
            report.sent += 1
        producer.poll(0)
        if progress and report.sent - reported >= _PROGRESS_EVERY:
            progress(report.sent - reported)
            reported = report.sent
    remaining = producer.flush(60)
    report.seconds = time.monotonic() - started
    if progress:
        progress(report.sent - reported)
    if remaining or report.failed:
        raise DxpulseError(
            f"{report.failed + remaining} of {report.sent} events not delivered"
            + (f": {report.errors[0]}" if report.errors else "")
        )
    return report


def _send(producer: Producer, topic: str, event: dict[str, Any], gen: EventGenerator) -> None:
    value = gen.encode(event)
    key = event["province_code"].encode()
    while True:
        try:
            producer.produce(topic, value=value, key=key)
            return
        except BufferError:
            producer.poll(0.05)
