"""RatePacer (how many events may be sent by now for a target rate) and produce()'s exact
delivery accounting, against a stand-in producer and an unreachable broker (no Kafka)."""

from __future__ import annotations

import socket
import time
from collections import Counter
from typing import Any

import orjson
import pytest
from confluent_kafka import KafkaError

from dxpulse.config import EVENT_TYPES, Settings
from dxpulse.errors import DxpulseError
from producers import producer as producer_module
from producers.generator import EventGenerator
from producers.producer import ProduceReport, RatePacer, produce, producer_config


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


# --- produce(): accounting with only failures reported ------------------------------------


class FakeProducer:
    """Stands in for confluent_kafka.Producer as configured by produce(): like librdkafka
    with ``delivery.report.only.error``, it calls ``on_delivery`` only for failures.

    ``fail_every``: every n-th message fails; ``stranded``: the newest messages, still in
    flight when flush gives up; ``full_every``: every n-th produce() call finds the queue full.
    """

    def __init__(self, fail_every: int = 0, stranded: int = 0, full_every: int = 0) -> None:
        self.fail_every, self.stranded, self.full_every = fail_every, stranded, full_every
        self.config: dict[str, Any] = {}
        self.messages: list[tuple[str, bytes, bytes]] = []
        self._calls = 0
        self._unreported: list[int] = []

    def __call__(self, config: dict[str, Any]) -> FakeProducer:
        self.config = config
        return self

    def produce(self, topic: str, value: bytes, key: bytes) -> None:
        self._calls += 1
        if self.full_every and self._calls % self.full_every == 0:
            raise BufferError("Local: Queue full")
        self.messages.append((topic, key, value))
        self._unreported.append(len(self.messages))

    def poll(self, timeout: float = 0) -> int:
        # The newest ``stranded`` messages stay in flight, never reported.
        keep = min(self.stranded, len(self._unreported))
        cut = len(self._unreported) - keep
        reported, self._unreported = self._unreported[:cut], self._unreported[cut:]
        for n in reported:
            if self.fail_every and n % self.fail_every == 0:
                self.config["on_delivery"](KafkaError(KafkaError._MSG_TIMED_OUT), None)
        return len(reported)

    def flush(self, timeout: float = 0) -> int:
        self.poll()
        return len(self._unreported)


@pytest.fixture
def settings(clean_env: pytest.MonkeyPatch) -> Settings:
    return Settings(kafka={"bootstrap_servers": "127.0.0.1:9"})


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


def _run(
    monkeypatch: pytest.MonkeyPatch, fake: FakeProducer, settings: Settings, **kwargs: Any
) -> ProduceReport:
    monkeypatch.setattr(producer_module, "Producer", fake)
    return produce(settings, EventGenerator(seed=3), **kwargs)


def test_producer_config_reports_only_failures(settings):
    config = producer_config(settings)
    assert config["delivery.report.only.error"] is True
    assert config["enable.idempotence"] is True
    assert config["acks"] == "all"
    assert config["compression.type"] == "lz4"


def test_every_event_sent_once_keyed_by_province_on_its_topic(monkeypatch, settings):
    fake = FakeProducer()
    progressed: list[int] = []
    report = _run(monkeypatch, fake, settings, count=4_321, progress=progressed.append)
    assert report.sent == report.delivered == len(fake.messages) == 4_321
    assert report.failed == 0
    assert sum(progressed) == 4_321
    assert sum(report.by_type.values()) == 4_321
    assert set(report.by_type) == set(EVENT_TYPES)
    events = [(topic, key, orjson.loads(value)) for topic, key, value in fake.messages]
    assert len({e["event_id"] for _, _, e in events}) == 4_321
    for topic, key, event in events:
        assert topic == settings.kafka.topic(event["event_type"])
        assert key == event["province_code"].encode()
    assert Counter(e["event_type"] for _, _, e in events) == report.by_type


def test_a_full_queue_is_waited_out_without_losing_or_repeating_events(monkeypatch, settings):
    fake = FakeProducer(full_every=97)
    report = _run(monkeypatch, fake, settings, count=3_000)
    assert report.delivered == 3_000
    ids = [orjson.loads(value)["event_id"] for _, _, value in fake.messages]
    assert len(ids) == len(set(ids)) == 3_000


def test_failures_and_stranded_messages_are_counted_exactly(monkeypatch, settings):
    fake = FakeProducer(fail_every=1_000, stranded=7)
    # failed: messages 1000, 2000, 3000, 4000; still in flight: 4994..5000
    with pytest.raises(DxpulseError, match=r"^11 of 5000 events not delivered: .*[Tt]imed out"):
        _run(monkeypatch, fake, settings, count=5_000)


def test_delivered_excludes_failures(monkeypatch, settings, reports):
    with pytest.raises(DxpulseError):
        _run(monkeypatch, FakeProducer(fail_every=10, stranded=3), settings, count=2_000)
    (report,) = reports
    # every 10th message fails except 2000, which is among the 3 still in flight
    assert (report.sent, report.failed) == (2_000, 199)
    assert report.delivered == 2_000 - 199 - 3
    assert len(report.errors) == 5  # a sample, not one line per failure


def test_should_stop_ends_production(monkeypatch, settings):
    fake = FakeProducer()
    report = _run(monkeypatch, fake, settings, should_stop=lambda: len(fake.messages) >= 5_000)
    assert 5_000 <= report.delivered == len(fake.messages) < 5_000 + 2_000


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


def test_paced_production_follows_the_rate_in_batches_of_a_few_ms(monkeypatch, settings):
    gen = EventGenerator(seed=3)
    steps: list[int] = []
    real_batch = gen.batch

    def batch(at: Any, n: int, event_type: str | None = None) -> Any:
        steps.append(n)
        return real_batch(at, n, event_type)

    monkeypatch.setattr(gen, "batch", batch)
    monkeypatch.setattr(producer_module, "Producer", FakeProducer())
    report = produce(settings, gen, duration_s=0.5, rate=4_000)
    assert 1_800 <= report.delivered == sum(steps) <= 2_001  # 4,000/s for 0.5 s
    assert min(steps) >= 4_000 * 0.005  # not one costly batch() call per event


def test_a_paced_count_ends_exactly(monkeypatch, settings):
    fake = FakeProducer()
    report = _run(monkeypatch, fake, settings, count=1_003, rate=100_000)
    assert report.delivered == len(fake.messages) == 1_003
