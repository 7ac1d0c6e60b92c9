"""The bench's reference consumers, run as the bench runs them: one subprocess each, on Tansu.

The expected aggregate is computed here from the very events sent, independently of the
baselines' code, so a baseline that drops, double-counts or mis-windows events fails.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from confluent_kafka import KafkaError, Message, Producer

from dxpulse.core.config import Settings
from dxpulse.embedded import free_port
from dxpulse.producers.generator import EventGenerator
from dxpulse.streams.windows import epoch_ms, window_start_ms

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

BASELINES = ["confluent", "faust"]
COUNT = 20_000
WINDOW_S = 60
# Odd milliseconds from an odd start: events straddle many window boundaries.
START = datetime(2026, 11, 22, 3, 4, 5, 123_000, tzinfo=UTC)
STEP = timedelta(milliseconds=37)


def make_events(seed: int, count: int) -> list[dict[str, Any]]:
    gen = EventGenerator(seed=seed)
    return [gen.event(START + i * STEP) for i in range(count)]


def send_events(settings: Settings, events: list[dict[str, Any]]) -> None:
    """As the real producer does: keyed by province, one topic per event type."""
    failed: list[KafkaError] = []

    def on_delivery(err: KafkaError | None, _msg: Message) -> None:
        if err is not None:
            failed.append(err)

    producer = Producer({**settings.kafka.client_config(), "linger.ms": 5,
                         "enable.idempotence": True, "on_delivery": on_delivery})  # fmt: skip
    for event in events:
        topic = settings.kafka.topic(event["event_type"])
        value, key = orjson.dumps(event), event["province_code"].encode()
        while True:
            try:
                producer.produce(topic, value=value, key=key)
                break
            except BufferError:
                producer.poll(0.05)
    assert producer.flush(60) == 0
    assert failed == []


def expected_aggregate(events: list[dict[str, Any]]) -> tuple[int, int, int]:
    """(number of groups, total amount_vnd, events aggregated)."""
    counts: Counter[tuple[int, str, str, str, str]] = Counter()
    total = 0
    for e in events:
        at = datetime.fromisoformat(e["event_time"])
        start_s = window_start_ms(epoch_ms(at), WINDOW_S * 1000) // 1000
        counts[start_s, e["event_type"], e["province_code"], e["area"], e["channel"]] += 1
        total += e["amount_vnd"]
    return len(counts), total, sum(counts.values())


def run_baseline(
    name: str, settings: Settings, expected: int, bootstrap: str | None = None
) -> subprocess.CompletedProcess[str]:
    kafka = settings.kafka
    return subprocess.run(
        [
            sys.executable, "-m", "dxpulse.bench.baselines", name,
            "--bootstrap", bootstrap or str(kafka.bootstrap_servers),
            "--topics", ",".join(kafka.event_topics),
            "--group", f"{kafka.group_id}-{name}",
            "--expected", str(expected),
            "--window-seconds", str(WINDOW_S),
            "--session-timeout-ms", "2000",
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )  # fmt: skip


@pytest.mark.parametrize("name", BASELINES)
def test_baseline_aggregates_every_event_exactly(
    name: str, settings: Settings, topics: list[str]
) -> None:
    events = make_events(seed=11, count=COUNT)
    send_events(settings, events)
    groups, amount, aggregated = expected_aggregate(events)
    assert groups > 100  # the data really spreads over windows and dimensions

    done = run_baseline(name, settings, expected=COUNT)

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1, done.stdout  # nothing but the result on stdout
    result = orjson.loads(lines[0])
    assert result["name"] == name
    assert result["events"] == COUNT
    assert result["events_aggregated"] == aggregated == COUNT
    assert result["amount_vnd"] == amount
    assert result["groups"] == groups
    assert result["seconds"] >= 0 and result["cpu_seconds"] >= 0 and result["peak_rss_mb"] > 0


@pytest.mark.parametrize("name", BASELINES)
def test_baseline_fails_loudly_without_a_broker(name: str, settings: Settings) -> None:
    done = run_baseline(name, settings, expected=10, bootstrap=f"127.0.0.1:{free_port()}")

    assert done.returncode != 0
    assert done.stdout == ""
    assert f"{name} baseline failed" in done.stderr
