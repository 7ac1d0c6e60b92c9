"""produce() against the real broker: every event lands once, keyed by province, on its
type's topic; a full local queue, a stop request, a paced count and a broker that dies are
all accounted for exactly."""

from __future__ import annotations

from collections import Counter
from typing import Any

import orjson
import pytest

from dxpulse.core.config import EVENT_TYPES, Settings
from dxpulse.core.errors import DxpulseError
from dxpulse.embedded import EmbeddedBroker
from dxpulse.producers import producer as producer_module
from dxpulse.producers.generator import EventGenerator
from dxpulse.producers.producer import ProduceReport, produce
from dxpulse.topics import ensure_topics
from tests.integration_tests.conftest import consume_all


def _landed(settings: Settings, by_type: Counter[str]) -> list[tuple[str, bytes, dict[str, Any]]]:
    out = []
    for event_type, n in by_type.items():
        topic = settings.kafka.topic(event_type)
        messages = consume_all(settings, topic, n)
        out += [(topic, m.key(), orjson.loads(m.value())) for m in messages]
    return out


def test_every_event_lands_once_keyed_by_province_on_its_topic(settings, topics):
    progressed: list[int] = []
    report = produce(settings, EventGenerator(seed=3), count=4_321, progress=progressed.append)
    assert report.sent == report.delivered == 4_321 and report.failed == 0
    assert sum(progressed) == 4_321
    assert set(report.by_type) == set(EVENT_TYPES)
    landed = _landed(settings, report.by_type)
    assert len(landed) == 4_321
    assert len({event["event_id"] for _, _, event in landed}) == 4_321
    for topic, key, event in landed:
        assert topic == settings.kafka.topic(event["event_type"])
        assert key == event["province_code"].encode()
    assert Counter(event["event_type"] for _, _, event in landed) == report.by_type


def test_a_full_local_queue_is_waited_out(settings, topics, monkeypatch):
    real = producer_module.producer_config

    def tiny_queue(s: Settings) -> dict[str, Any]:  # librdkafka raises BufferError often
        return {**real(s), "queue.buffering.max.messages": 50}

    monkeypatch.setattr(producer_module, "producer_config", tiny_queue)
    report = produce(settings, EventGenerator(seed=4), count=3_000)
    assert report.delivered == 3_000
    landed = _landed(settings, report.by_type)
    ids = [event["event_id"] for _, _, event in landed]
    assert len(ids) == len(set(ids)) == 3_000


def test_should_stop_and_a_paced_count_end_exactly(settings, topics):
    sent: list[int] = []
    report = produce(
        settings,
        EventGenerator(seed=5),
        progress=sent.append,
        should_stop=lambda: sum(sent) >= 5_000,
    )
    assert 5_000 <= report.delivered < 5_000 + 2_000
    paced = produce(settings, EventGenerator(seed=6), count=1_003, rate=100_000)
    assert paced.delivered == 1_003
    landed = _landed(settings, report.by_type + paced.by_type)
    assert len(landed) == report.delivered + 1_003


def test_a_broker_that_dies_mid_run_leaves_every_event_accounted_for(monkeypatch, tmp_path):
    made: list[ProduceReport] = []
    real_report, real_config = producer_module.ProduceReport, producer_module.producer_config

    def keep(*args: Any, **kwargs: Any) -> ProduceReport:
        made.append(real_report(*args, **kwargs))
        return made[-1]

    def short_timeout(s: Settings) -> dict[str, Any]:
        return {**real_config(s), "message.timeout.ms": 2_000, "log_level": 0}

    monkeypatch.setattr(producer_module, "ProduceReport", keep)
    monkeypatch.setattr(producer_module, "producer_config", short_timeout)
    broker = EmbeddedBroker().start()
    try:
        settings = Settings(data_dir=tmp_path)
        settings = settings.model_copy(
            update={
                "kafka": settings.kafka.model_copy(
                    update={"bootstrap_servers": broker.bootstrap_servers}
                )
            }
        )
        ensure_topics(settings.kafka)
        sent: list[int] = []

        def progress(n: int) -> None:
            sent.append(n)
            if sum(sent) >= 20_000 and broker.pid is not None:
                broker.stop()  # the broker is gone while events are still being sent

        with pytest.raises(DxpulseError, match=r"events not delivered"):
            produce(settings, EventGenerator(seed=7), count=40_000, rate=20_000, progress=progress)
    finally:
        broker.stop()
    (report,) = made
    assert report.sent == 40_000
    assert report.failed > 0
    assert report.delivered + report.failed <= report.sent
    assert report.delivered >= 10_000  # what was sent before the broker died got through
