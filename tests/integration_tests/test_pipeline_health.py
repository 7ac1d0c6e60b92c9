"""pipeline_flushes, written by the real ingest loop: its numbers add up to what landed."""

from __future__ import annotations

import os
import random
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import orjson
from clickhouse_connect.driver.client import Client

from dxpulse.core.config import EVENT_TYPES, Settings
from dxpulse.producers.generator import EventGenerator
from dxpulse.schemas.validation import EventValidator, Rejection
from dxpulse.streams.batch import PartitionBatch
from dxpulse.streams.health import HEALTH_COLUMNS, health_rows, health_token
from dxpulse.streams.sink import ClickHouseSink
from tests.integration_tests.conftest import RunningIngest, TrackingProducer, wait_caught_up

Factory = Callable[[], RunningIngest]
TP = tuple[str, int]


def _produce_events(
    settings: Settings, producer: TrackingProducer, n: int, seed: int, spread_s: float = 0,
    ago_s: float = 0,
) -> list[tuple[str, bytes, bytes]]:  # fmt: skip
    """``n`` events at random times from ``ago_s + spread_s`` to ``ago_s`` seconds ago."""
    gen = EventGenerator(seed=seed)
    rng = random.Random(seed)
    now = datetime.now(UTC)
    sent = []
    for _ in range(n):
        event = gen.event(now - timedelta(seconds=ago_s + rng.uniform(0, spread_s)))
        msg = (settings.kafka.topic(event["event_type"]), event["province_code"].encode(),
               gen.encode(event))  # fmt: skip
        producer.send(*msg)
        sent.append(msg)
    return sent


def _health(ch: Client, db: str) -> list[dict[str, Any]]:
    cols = ", ".join(
        f"toUnixTimestamp64Milli({c}) AS {c}" if c in ("flushed_at", "max_event_time") else c
        for c in HEALTH_COLUMNS
    )
    result = ch.query(f"SELECT {cols} FROM {db}.pipeline_flushes")
    return [dict(zip(HEALTH_COLUMNS, row, strict=True)) for row in result.result_rows]


def _by_partition(rows: list[dict[str, Any]]) -> dict[TP, list[dict[str, Any]]]:
    parts: dict[TP, list[dict[str, Any]]] = {}
    for row in sorted(rows, key=lambda r: r["first_offset"]):
        parts.setdefault((row["topic"], row["partition"]), []).append(row)
    return parts


def _assert_offsets_tile_the_log(rows: list[dict[str, Any]], log_end: dict[TP, int]) -> None:
    """One row per written batch: per partition the ranges follow each other from 0 to the
    end of the log, with no gap and no overlap (a row reported twice would overlap)."""
    parts = _by_partition(rows)
    assert set(parts) == set(log_end)
    for tp, part in parts.items():
        assert part[0]["first_offset"] == 0, tp
        for prev, row in pairwise(part):
            assert row["first_offset"] == prev["last_offset"] + 1, (tp, prev, row)
        assert part[-1]["last_offset"] + 1 == log_end[tp], tp
        assert sum(r["messages"] for r in part) == log_end[tp], tp


def test_health_rows_add_up_to_what_landed(
    settings: Settings, ch: Client, topics: list[str], ingest_factory: Factory
) -> None:
    # Small flushes: many of them, most while the partitions still have a backlog.
    settings.stream.flush_max_events = 300
    settings.stream.poll_batch = 200
    producer = TrackingProducer(settings)
    # Out of order within 4 minutes: a batch's newest event is often older than the
    # partition's watermark. Then 30 events 30 minutes old: late for every partition.
    sent = _produce_events(settings, producer, 4_000, seed=61, spread_s=240)
    duplicates = sent[:150]  # a producer retry: the same bytes again
    for msg in duplicates:
        producer.send(*msg)
    late = _produce_events(settings, producer, 30, seed=60, spread_s=60, ago_s=1_800)
    invalid = [b"\x00not json", b"{}", orjson.dumps({"event_id": "x"}), b""]
    bad = [
        (settings.kafka.topic(t), key, value)
        for t in EVENT_TYPES
        for key in (b"01", b"79", b"48")
        for value in invalid
    ]
    for msg in bad:
        producer.send(*msg)
    producer.flush()
    produced = len(sent) + len(duplicates) + len(late) + len(bad)

    started_ms = int(time.time() * 1000)
    ingest = ingest_factory()
    wait_caught_up(settings, producer)
    ingest.stop()
    stopped_ms = int(time.time() * 1000)
    snap = ingest.status.snapshot()
    db = settings.clickhouse.database

    rows = _health(ch, db)
    assert len(rows) >= 12, "every partition flushed, most more than once"
    (events, dead, is_late) = ch.query(
        f"SELECT (SELECT count() FROM {db}.events), (SELECT count() FROM {db}.dead_letters), "
        f"(SELECT countIf(is_late = 1) FROM {db}.events)"
    ).result_rows[0]
    assert sum(r["events"] for r in rows) == events == len(sent) + len(late)
    assert sum(r["dead_lettered"] for r in rows) == dead == len(bad)
    assert sum(r["duplicates"] for r in rows) == len(duplicates)
    assert sum(r["messages"] for r in rows) == produced
    assert all(r["messages"] == r["events"] + r["dead_lettered"] + r["duplicates"] for r in rows)
    assert sum(r["late"] for r in rows) == is_late == len(late)
    assert len({r["token"] for r in rows}) == len(rows), "one row per batch, none twice"
    _assert_offsets_tile_the_log(rows, producer.next_offset)

    # Each row's newest event time is that of the batch's own rows in `events`.
    event_ms: dict[TP, dict[int, int]] = {}
    for t, p, offset, ms in ch.query(
        f"SELECT event_type, kafka_partition, kafka_offset, toUnixTimestamp64Milli(event_time) "
        f"FROM {db}.events"
    ).result_rows:
        event_ms.setdefault((settings.kafka.topic(t), p), {})[offset] = ms
    for r in rows:
        times = event_ms[(r["topic"], r["partition"])]
        own = [times[o] for o in range(r["first_offset"], r["last_offset"] + 1) if o in times]
        assert r["max_event_time"] == max(own, default=0), r
    parts = _by_partition(rows)
    newest = {tp: max(times.values()) for tp, times in event_ms.items()}
    assert {tp: max(r["max_event_time"] for r in part) for tp, part in parts.items()} == newest

    for tp, part in parts.items():
        assert {r["event_type"] for r in part} == {tp[0].rsplit(".", 1)[1]}
        # Lag never exceeds what was really left in the log, and the last flush caught up.
        for r in part:
            assert 0 <= r["consumer_lag"] <= producer.next_offset[tp] - r["last_offset"] - 1
        assert part[-1]["consumer_lag"] == 0, tp
    assert max(r["consumer_lag"] for r in rows) > 0, "early flushes saw a backlog"

    assert all(r["flush_ms"] > 0 for r in rows)
    assert all(started_ms <= r["flushed_at"] <= stopped_ms for r in rows)
    # The rows of one flush share flushed_at and flush_ms: (worker, flushed_at) is a flush.
    flushes = {(r["worker"], r["flushed_at"]) for r in rows}
    assert len(flushes) == snap["flushes"]
    assert len({(r["worker"], r["flushed_at"], r["flush_ms"]) for r in rows}) == len(flushes)
    assert {(r["worker"], r["group_id"]) for r in rows} == {
        (f"{socket.gethostname()}:{os.getpid()}", settings.kafka.group_id)
    }


def test_a_failing_health_insert_fails_the_flush_and_is_retried_once(
    settings: Settings, ch: Client, topics: list[str], ingest_factory: Factory
) -> None:
    producer = TrackingProducer(settings)
    _produce_events(settings, producer, 1_000, seed=62)
    producer.flush()
    ingest = ingest_factory()
    wait_caught_up(settings, producer)
    committed_before = ingest.status.snapshot()["committed"]

    def outage(table: str) -> None:
        if table == "pipeline_flushes":
            raise ConnectionError("pipeline_flushes unreachable (injected)")

    ingest.sink.fault = outage
    _produce_events(settings, producer, 1_000, seed=63)
    producer.flush()
    deadline = time.monotonic() + 60
    while ingest.status.snapshot()["write_failures"] < 3:
        assert time.monotonic() < deadline, "the flush never failed"
        time.sleep(0.1)
    during = ingest.status.snapshot()
    assert during["state"] == "degraded" and "injected" in during["error"]
    assert during["committed"] == committed_before, "no commit without the health rows"

    ingest.sink.fault = None
    wait_caught_up(settings, producer)
    ingest.stop()
    db = settings.clickhouse.database
    rows = _health(ch, db)
    events = ch.query(f"SELECT count() FROM {db}.events").result_rows[0][0]
    assert sum(r["events"] for r in rows) == events == 2_000
    assert len({r["token"] for r in rows}) == len(rows)
    _assert_offsets_tile_the_log(rows, producer.next_offset)


def test_a_resent_health_insert_is_deduplicated(settings: Settings, ch: Client) -> None:
    gen = EventGenerator(seed=64, event_types=("mobile_money",))
    validator = EventValidator()
    topic = settings.kafka.topic("mobile_money")
    now = datetime.now(UTC)
    batches = []
    for partition in range(3):
        batch = PartitionBatch(topic, partition, 60)
        for offset in range(10):
            value = gen.encode(gen.event(now))
            event = validator.validate_flat(value)
            assert not isinstance(event, Rejection)
            batch.add_event(offset, event, now, value)
        batches.append(batch)
    sink = ClickHouseSink(ch, settings.clickhouse.database)

    def write(flushed: list[PartitionBatch], flush_ms: float) -> None:
        rows = health_rows(
            flushed,
            {},
            worker="w:1",
            group_id="g",
            topic_types={topic: "mobile_money"},
            flush_ms=flush_ms,
            flushed_ms=int(time.time() * 1000),
        )
        sink.write_health(rows, health_token(flushed))

    write(batches, 5.0)
    write(batches, 9.0)  # a retry of the same flush: other timings, same batches
    rows = _health(ch, settings.clickhouse.database)
    assert sorted((r["partition"], r["events"], r["flush_ms"]) for r in rows) == [
        (0, 10, 5.0),
        (1, 10, 5.0),
        (2, 10, 5.0),
    ]
    write(batches[:1], 1.0)  # another flush: other batches, another token
    assert len(_health(ch, settings.clickhouse.database)) == 4
