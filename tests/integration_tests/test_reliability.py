"""Rebalances, duplicate deliveries, late events, ClickHouse outages and hostile input,
each on the real broker and chDB with exact expected numbers."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from clickhouse_connect.driver.client import Client

from dxpulse.core.config import Settings
from dxpulse.producers.generator import EventGenerator
from dxpulse.summary import exactness_checks
from tests.integration_tests.conftest import RunningIngest, TrackingProducer, wait_caught_up

Factory = Callable[[], RunningIngest]


def _events(
    settings: Settings, n: int, seed: int, at: datetime | None = None
) -> list[tuple[str, bytes, bytes, dict]]:  # type: ignore[type-arg]
    gen = EventGenerator(seed=seed)
    at = at or datetime.now(UTC)
    out = []
    for _ in range(n):
        event = gen.event(at)
        out.append((settings.kafka.topic(event["event_type"]), event["province_code"].encode(),
                    gen.encode(event), event))  # fmt: skip
    return out


def _until(condition: Callable[[], object], timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.1)


def _exact(ch: Client, settings: Settings, produced: int) -> None:
    checks = exactness_checks(ch, settings.clickhouse.database, produced)
    assert [(c.name, c.expected, c.actual) for c in checks if not c.ok] == []


def test_rebalance_two_workers_one_restarted_mid_stream(
    settings: Settings, ch: Client, topics: list[str], ingest_factory: Factory
) -> None:
    events = _events(settings, 40_000, seed=41)
    producer = TrackingProducer(settings)

    def feed() -> None:
        for i, (topic, key, value, _) in enumerate(events):
            producer.send(topic, key, value)
            if i % 1_000 == 0:
                time.sleep(0.2)
        producer.flush()

    first, second = ingest_factory(), ingest_factory()
    feeder = threading.Thread(target=feed)
    feeder.start()
    _until(lambda: first.status.snapshot()["committed"] and second.status.snapshot()["committed"])
    second.stop()  # leaves the group: its partitions move to `first`
    third = ingest_factory()  # joins: partitions are split again
    _until(lambda: third.status.snapshot()["committed"])
    feeder.join()
    wait_caught_up(settings, producer)
    first.stop()
    third.stop()
    assert third.status.snapshot()["committed"] > 0
    _exact(ch, settings, produced=len(events))


def test_duplicate_deliveries_count_once_even_across_a_restart(
    settings: Settings, ch: Client, topics: list[str], ingest_factory: Factory
) -> None:
    events = _events(settings, 3_000, seed=42)
    producer = TrackingProducer(settings)
    for topic, key, value, _ in events:
        producer.send(topic, key, value)
    for topic, key, value, _ in events[:300]:  # a producer retry: the same bytes again
        producer.send(topic, key, value)
    producer.flush()
    ingest = ingest_factory()
    wait_caught_up(settings, producer)
    ingest.stop()
    assert ingest.status.snapshot()["duplicates"] == 300

    # Replayed input after a restart: the new worker re-learns what was written.
    for topic, key, _, event in events[300:500]:
        producer.send(topic, key, orjson.dumps({**event, "channel": event["channel"]}))
    producer.flush()
    again = ingest_factory()
    wait_caught_up(settings, producer)
    again.stop()
    snap = again.status.snapshot()
    assert snap["duplicates"] == 200
    assert snap["consumed"] == snap["accepted"] + snap["dead_lettered"] + snap["duplicates"]
    _exact(ch, settings, produced=len(events))


def test_late_events_land_in_their_window_or_in_late_events(
    settings: Settings, ch: Client, topics: list[str], ingest_factory: Factory
) -> None:
    gen = EventGenerator(seed=43, event_types=("mobile_money",))
    t0 = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=1)
    topic = settings.kafka.topic("mobile_money")
    producer = TrackingProducer(settings)

    def send(at: datetime) -> dict:  # type: ignore[type-arg]
        event = gen.event(at)
        producer.send(topic, b"same-key", gen.encode(event))  # one partition, in order
        return event

    for minute in range(30):
        send(t0 + timedelta(minutes=minute, seconds=5))
    within = send(t0 + timedelta(minutes=22))  # 7 min behind the watermark: allowed
    too_late = send(t0 + timedelta(minutes=3))  # 26 min behind: late
    producer.flush()
    ingest = ingest_factory()
    wait_caught_up(settings, producer)
    ingest.stop()

    db = settings.clickhouse.database
    assert ingest.status.snapshot()["late"] == 1
    late = ch.query(
        f"SELECT toUnixTimestamp(window_start), event_type, sum(events), sum(amount_vnd) "
        f"FROM {db}.late_events GROUP BY 1, 2"
    ).result_rows
    window = int((t0 + timedelta(minutes=3)).timestamp())
    assert late == [(window, "mobile_money", 1, too_late["amount_vnd"])]
    (in_window,) = ch.query(
        f"SELECT sum(events) FROM {db}.event_aggregates "
        f"WHERE window_start = toDateTime({int((t0 + timedelta(minutes=22)).timestamp())})"
    ).result_rows[0]
    assert in_window == 2  # the minute-22 event on time plus the 7-minutes-late one
    assert within["amount_vnd"] > 0
    _exact(ch, settings, produced=32)


def test_clickhouse_outage_pauses_reports_and_resumes_without_loss(
    settings: Settings, ch: Client, topics: list[str], ingest_factory: Factory,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    events = _events(settings, 6_000, seed=44)
    producer = TrackingProducer(settings)
    for topic, key, value, _ in events[:2_000]:
        producer.send(topic, key, value)
    producer.flush()
    ingest = ingest_factory()
    wait_caught_up(settings, producer)
    committed_before = ingest.status.snapshot()["committed"]

    def outage(table: str) -> None:
        raise ConnectionError(f"ClickHouse unreachable (injected) while writing {table}")

    caplog.set_level(logging.WARNING, logger="dxpulse.streams.ingest")
    ingest.sink.fault = outage
    for topic, key, value, _ in events[2_000:]:
        producer.send(topic, key, value)
    producer.flush()
    time.sleep(4)
    during = ingest.status.snapshot()
    assert during["state"] == "degraded" and "injected" in during["error"]
    assert during["committed"] == committed_before, "nothing is committed while writes fail"
    assert during["write_failures"] >= 2, "it keeps retrying"
    time.sleep(2)
    assert ingest.status.snapshot()["consumed"] == during["consumed"], "consumption is paused"

    ingest.sink.fault = None
    wait_caught_up(settings, producer)
    after = ingest.status.snapshot()
    ingest.stop()
    assert after["state"] == "running" and after["outage_seconds"] > 3
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "injected" in errors[0].getMessage(), "the outage is logged once"
    _exact(ch, settings, produced=len(events))


def test_hostile_messages_are_dead_lettered_and_accounting_holds(
    settings: Settings, ch: Client, topics: list[str], ingest_factory: Factory
) -> None:
    good = _events(settings, 1_000, seed=45)
    sample = good[0][3]
    nested = b"[" * 5_000 + b"]" * 5_000
    hostile = [
        b"\xff\xfe\x00 not utf-8",
        b"x" * 200_000,  # larger than max_event_bytes
        nested,
        json.dumps({**sample, "province_code": "01", "amount_vnd": 10**30}).encode(),
        orjson.dumps({**sample, "event_time": "yesterday"}),
        orjson.dumps({**sample, "extra": {"deep": [1, 2, {"x": None}]}}),
        orjson.dumps({**sample, "status": None}),
        '{"event_id": "é"}'.encode("utf-16"),
        b"",
    ]
    producer = TrackingProducer(settings)
    topic = settings.kafka.topic(sample["event_type"])
    for t, key, value, _ in good:
        producer.send(t, key, value)
    for value in hostile:
        producer.send(topic, b"01", value)
    producer.flush()
    ingest = ingest_factory()
    wait_caught_up(settings, producer)
    ingest.stop()
    snap = ingest.status.snapshot()
    assert snap["dead_lettered"] == len(hostile)
    assert snap["consumed"] == snap["accepted"] + snap["dead_lettered"] + snap["duplicates"]
    db = settings.clickhouse.database
    rows = ch.query(f"SELECT code, reason FROM {db}.dead_letters").result_rows
    assert len(rows) == len(hostile) and all(code and reason for code, reason in rows)
    _exact(ch, settings, produced=len(good))
