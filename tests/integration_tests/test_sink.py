"""The sink on chDB: a re-sent offset range is deduplicated, partial rows merge."""

from __future__ import annotations

from datetime import UTC, datetime

from clickhouse_connect.driver.client import Client

from dxpulse.config import Settings
from producers.generator import EventGenerator
from schemas.validation import EventValidator, Rejection
from streams.batch import PartitionBatch
from streams.sink import ClickHouseSink


def _batch(first_offset: int, n: int, seed: int) -> PartitionBatch:
    gen = EventGenerator(seed=seed, event_types=("ecommerce_order",))
    validator = EventValidator()
    now = datetime.now(UTC)
    batch = PartitionBatch("t.ecommerce_order", 0, 60)
    for offset in range(first_offset, first_offset + n):
        value = gen.encode(gen.event(now))
        event = validator.validate_flat(value)
        assert not isinstance(event, Rejection)
        batch.add_event(offset, event, now, value)
    return batch


def _totals(ch: Client, db: str) -> tuple[int, int]:
    raw = ch.query(f"SELECT count() FROM {db}.events").result_rows[0][0]
    agg = ch.query(f"SELECT sum(events) FROM {db}.event_aggregates").result_rows[0][0]
    return int(raw), int(agg)


def test_resending_the_same_offset_range_counts_once(settings: Settings, ch: Client) -> None:
    sink = ClickHouseSink(ch, settings.clickhouse.database)
    batch = _batch(0, 500, seed=1)
    sink.write(batch)
    sink.write(batch)
    assert _totals(ch, settings.clickhouse.database) == (500, 500)


def test_same_offsets_with_other_content_are_not_dropped(settings: Settings, ch: Client) -> None:
    # A fresh broker or a recreated topic starts again at offset 0.
    sink = ClickHouseSink(ch, settings.clickhouse.database)
    before, after = _batch(0, 100, seed=1), _batch(0, 100, seed=99)
    assert before.token != after.token
    sink.write(before)
    sink.write(after)
    assert _totals(ch, settings.clickhouse.database) == (200, 200)


def test_next_offset_range_adds_and_partials_merge(settings: Settings, ch: Client) -> None:
    db = settings.clickhouse.database
    sink = ClickHouseSink(ch, db)
    first, second = _batch(0, 300, seed=1), _batch(300, 200, seed=2)
    sink.write(first)
    sink.write(second)
    assert first.token != second.token
    assert _totals(ch, db) == (500, 500)
    ch.command(f"OPTIMIZE TABLE {db}.event_aggregates FINAL")
    merged = ch.query(
        f"SELECT count(), uniqExact(window_start, event_type, province_code, area, channel) "
        f"FROM {db}.event_aggregates"
    ).result_rows[0]
    assert merged[0] == merged[1], "after a merge each key has exactly one row"
    assert _totals(ch, db) == (500, 500)
