"""RatePacer (how many events may be sent by now for a target rate) and produce()'s exact
failure accounting against a real librdkafka client and an unreachable broker. Delivery to a
real broker is tested in tests/integration_tests/test_producer.py."""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from dxpulse.core.config import Settings
from dxpulse.core.errors import DxpulseError
from dxpulse.producers import producer as producer_module
from dxpulse.producers.backfill import plan_backfill
from dxpulse.producers.generator import EncodedEvents, EventGenerator
from dxpulse.producers.producer import (
    EventClock,
    ProduceReport,
    RatePacer,
    SharedProducer,
    produce,
    produce_backfill,
    producer_config,
)


def _pacer(rate: float) -> tuple[RatePacer, float]:
    pacer = RatePacer(rate)
    t0 = time.monotonic()  # within microseconds of the pacer's own start
    assert pacer.allowance(0, now=t0) == 0
    return pacer, t0


def test_unlimited_rate():
    pacer = RatePacer(0)
    assert pacer.allowance(0) == 1 << 30
    assert pacer.allowance(10**6) == 1 << 30


def test_allowance_grows_with_time():
    pacer, t0 = _pacer(10)
    assert pacer.allowance(0, now=t0 + 1.0) == 10
    assert pacer.allowance(0, now=t0 + 2.55) == 25


def test_allowance_subtracts_what_was_sent():
    pacer, t0 = _pacer(100)
    assert pacer.allowance(0, now=t0 + 0.5) == 50
    assert pacer.allowance(50, now=t0 + 0.5) == 0
    assert pacer.allowance(50, now=t0 + 0.75) == 25


def test_allowance_is_never_negative():
    pacer, t0 = _pacer(10)
    assert pacer.allowance(1_000, now=t0 + 1.0) == 0


def test_credit_accumulates_across_calls_without_loss():
    pacer, t0 = _pacer(3)
    sent = 0
    for step in range(1, 101):
        sent += pacer.allowance(sent, now=t0 + step * 0.1)
    assert sent == 30  # 3/s for 10 s, although each 0.1 s step earns only 0.3


def test_report_rate():
    assert ProduceReport().rate == 0.0
    assert ProduceReport(delivered=500, seconds=2.0).rate == 250.0


# --- produce(): failures are counted although librdkafka reports only failures -------------


@pytest.fixture
def reports(monkeypatch: pytest.MonkeyPatch) -> list[ProduceReport]:
    """Every report produce() makes: the way to read one when produce() raises."""
    made: list[ProduceReport] = []
    real = producer_module.ProduceReport

    def keep(*args: Any, **kwargs: Any) -> ProduceReport:
        made.append(real(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(producer_module, "ProduceReport", keep)
    return made


def test_producer_config_reports_only_failures():
    config = producer_config(Settings(kafka={"bootstrap_servers": "127.0.0.1:9"}))
    assert config["delivery.report.only.error"] is True
    assert config["enable.idempotence"] is True
    assert config["acks"] == "all"
    assert config["compression.type"] == "lz4"


def test_librdkafka_reports_failures_to_the_callback(clean_env, reports):
    """A real librdkafka client with produce()'s settings, against a port nobody listens on:
    with only failures reported, every undelivered message must still be counted."""
    with socket.socket() as sock:  # a free port, closed again: connections are refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = Settings(kafka={"bootstrap_servers": f"127.0.0.1:{port}"})
    real_config = producer_module.producer_config

    def quick_timeout(s: Settings) -> dict[str, Any]:
        return {**real_config(s), "message.timeout.ms": 300, "log_level": 0}

    clean_env.setattr(producer_module, "producer_config", quick_timeout)
    with pytest.raises(DxpulseError, match=r"^50 of 50 events not delivered"):
        produce(settings, EventGenerator(seed=1), count=50)
    (report,) = reports
    assert (report.sent, report.failed, report.delivered) == (50, 50, 0)


def test_a_shared_producer_counts_each_runs_failures_into_that_runs_report(clean_env, reports):
    """The bench's warm-up and measured run share one client: neither run's failures may
    land in the other's report (the first run's final flush waits its failures out)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = Settings(kafka={"bootstrap_servers": f"127.0.0.1:{port}"})
    real_config = producer_module.producer_config

    def quick_timeout(s: Settings) -> dict[str, Any]:
        return {**real_config(s), "message.timeout.ms": 300, "log_level": 0}

    clean_env.setattr(producer_module, "producer_config", quick_timeout)
    shared = SharedProducer(settings)
    for count in (30, 20):
        with pytest.raises(DxpulseError, match=rf"^{count} of {count} events not delivered"):
            produce(settings, EventGenerator(seed=1), count=count, shared=shared)
    first, second = reports
    assert (first.sent, first.failed) == (30, 30)
    assert (second.sent, second.failed) == (20, 20)


def test_undelivered_backfill_events_are_counted_too(clean_env, reports):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = Settings(kafka={"bootstrap_servers": f"127.0.0.1:{port}"})
    real_config = producer_module.producer_config

    def quick_timeout(s: Settings) -> dict[str, Any]:
        return {**real_config(s), "message.timeout.ms": 300, "log_level": 0}

    clean_env.setattr(producer_module, "producer_config", quick_timeout)
    plan = plan_backfill(86_400, 40, end=datetime(2026, 11, 22, tzinfo=UTC), seed=1)
    progressed: list[int] = []
    with pytest.raises(DxpulseError, match=r"^40 of 40 events not delivered"):
        produce_backfill(settings, EventGenerator(seed=1), plan, progress=progressed.append)
    (report,) = reports
    assert (report.sent, report.failed, report.delivered) == (40, 40, 0)
    assert sum(progressed) == 40 and sum(report.by_type.values()) == 40


# --- Live event times: at the rate, not at the producer's speed ----------------------------


def test_event_clock_spaces_events_at_the_rate():
    clock = EventClock(rate=100, start_ms=1_000_000)
    first = clock.times(600, now_ms=2_000_000)
    second = clock.times(400, now_ms=2_000_000)
    times = np.concatenate([first, second])
    # 1,000 events at 100/s: one every 10 ms, covering 9.99 s of event time
    assert times[0] == 1_000_000 and times[-1] == 1_000_000 + 999 * 10
    assert set(np.diff(times).tolist()) == {10}


def test_event_clock_never_stamps_the_future():
    clock = EventClock(rate=10, start_ms=5_000)
    times = clock.times(100, now_ms=5_500)  # asked for 10 s of events 0.5 s in
    assert times.max() == 5_500 and (np.diff(times) >= 0).all()


def test_event_clock_without_a_rate_spreads_over_the_time_taken():
    clock = EventClock(rate=0, start_ms=10_000)
    first = clock.times(4, now_ms=10_400)
    assert first.tolist() == [10_100, 10_200, 10_300, 10_400]
    assert clock.times(2, now_ms=10_600).tolist() == [10_500, 10_600]


def test_event_clock_follows_the_diurnal_factor(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(producer_module, "total_intensity", lambda _at: 2.0)
    clock = EventClock(rate=100, start_ms=0, diurnal=True)
    assert np.diff(clock.times(3, now_ms=10**9)).tolist() == [5, 5]  # twice the rate


class _Recording(EventGenerator):
    """A generator that keeps the times produce() asks it for."""

    def __init__(self) -> None:
        super().__init__(seed=1)
        self.asked: list[np.ndarray] = []

    def batch_at(self, times_ms: np.ndarray) -> list[EncodedEvents]:
        self.asked.append(times_ms)
        return super().batch_at(times_ms)


def test_produce_stamps_live_events_at_the_configured_rate(clean_env, reports):
    """N events at rate R cover (N − 1) / R seconds of event time, as one per 1 / R."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = Settings(kafka={"bootstrap_servers": f"127.0.0.1:{port}"})
    real_config = producer_module.producer_config
    clean_env.setattr(
        producer_module,
        "producer_config",
        lambda s: {**real_config(s), "message.timeout.ms": 300, "log_level": 0},
    )
    generator = _Recording()
    with pytest.raises(DxpulseError, match="not delivered"):
        produce(settings, generator, count=1_000, rate=4_000)
    times = np.concatenate(generator.asked)
    assert len(times) == 1_000 and (np.diff(times) >= 0).all()
    assert times[-1] - times[0] == pytest.approx(999 * 0.25, abs=1)  # ms, from integer stamps
