"""Migrations on chDB: idempotent, recorded, and the province dimension loaded."""

from __future__ import annotations

import threading

import pytest
from clickhouse_connect.driver.client import Client

from dxpulse.clickhouse import load_migrations, migrate
from dxpulse.core.config import Settings
from dxpulse.streams.health import HEALTH_COLUMNS


def test_migrate_twice_applies_nothing_the_second_time(settings: Settings, ch: Client) -> None:
    db = settings.clickhouse.database
    assert migrate(ch, db) == []
    recorded = ch.query(f"SELECT count() FROM {db}.schema_migrations").result_rows[0][0]
    assert recorded == len(load_migrations())


def test_tables_and_provinces(settings: Settings, ch: Client) -> None:
    db = settings.clickhouse.database
    engines = dict(
        ch.query(f"SELECT name, engine FROM system.tables WHERE database = '{db}'").result_rows
    )
    assert engines["events"] == "MergeTree"
    assert engines["event_aggregates"] == "AggregatingMergeTree"
    assert engines["pipeline_flushes"] == "MergeTree"
    # The health dashboard is written against these columns: the workers fill exactly them.
    columns = ch.query(
        f"SELECT name FROM system.columns WHERE database = '{db}' AND table = 'pipeline_flushes' "
        "ORDER BY position"
    ).result_rows
    assert tuple(c for (c,) in columns) == HEALTH_COLUMNS
    n, regions, units = ch.query(
        f"SELECT count(), uniqExact(region), uniqExact(unit_2025_code) FROM {db}.provinces"
    ).result_rows[0]
    assert (n, regions, units) == (63, 6, 34)
    # Re-running reloads the dimension instead of duplicating it.
    migrate(ch, db)
    assert ch.query(f"SELECT count() FROM {db}.provinces").result_rows[0][0] == 63


def test_upgrade_to_rollups_keeps_existing_data_exact(settings: Settings, tmp_path) -> None:
    """A database written before migration 008: its aggregates reach the hourly and daily
    rollups, and their customer states are derived from the raw events, once."""
    from datetime import UTC, datetime, timedelta

    import orjson

    from dxpulse.clickhouse import connect
    from dxpulse.producers.generator import EventGenerator
    from dxpulse.schemas.fast import decode_flat
    from dxpulse.streams.aggregate import AGGREGATE_COLUMNS, WindowAggregator
    from dxpulse.streams.rows import EVENT_COLUMNS, event_columns
    from dxpulse.summary import rollup_checks

    client = connect(settings)
    db = settings.clickhouse.database
    migrate(client, db, target=7)
    gen = EventGenerator(seed=5)
    start = datetime.now(UTC) - timedelta(hours=30)
    far = 2**62  # no future limit
    events = [gen.event(start + timedelta(seconds=97 * i)) for i in range(1_500)]
    flat = [decode_flat(orjson.dumps(event), None, far) for event in events]
    assert all(f is not None for f in flat)
    agg = WindowAggregator(60)
    for event in flat:
        agg.add(event)
    old_columns = AGGREGATE_COLUMNS[:-1]  # before 008: no customers, written directly
    client.insert(f"{db}.event_aggregates", [r[:-1] for r in agg.rows()],
                  column_names=list(old_columns))  # fmt: skip
    columns = event_columns(flat, 0, list(range(len(flat))), [0] * len(flat))[:-1]
    before_010 = list(EVENT_COLUMNS[:-1])  # no kafka_topic_id yet
    client.insert(f"{db}.events", columns, column_names=before_010, column_oriented=True)

    assert migrate(client, db)[:2] == ["008_rollups", "009_headline_views"]
    assert [c for c in rollup_checks(client, db) if not c.ok] == []
    rows = client.query(
        f"""SELECT e.event_type, e.exact, a.merged, a.n FROM (
                SELECT event_type, uniqExact(customer_id) AS exact, count() AS n
                FROM {db}.events GROUP BY event_type) AS e
            JOIN (SELECT event_type, uniqMerge(customers) AS merged, sum(events) AS n
                  FROM {db}.event_aggregates_daily GROUP BY event_type) AS a USING (event_type)"""
    ).result_rows
    assert len(rows) == 3
    for etype, exact, merged, _n in rows:
        assert merged == pytest.approx(exact, rel=0.02), etype
    assert sum(r[3] for r in rows) == len(flat)
    client.command(f"DROP DATABASE {db}")


def test_upgrade_to_sink_intents_carries_each_partitions_latest_record(
    settings: Settings, tmp_path
) -> None:
    """Migration 010: the latest sink_batches row of each partition (by its time, as the old
    reader chose it) becomes its intent, marked as not recording the dedup index, so the
    worker seeds that index the old way once."""
    from dxpulse.clickhouse import connect
    from dxpulse.streams.state import SinkStateStore

    client = connect(settings)
    db = settings.clickhouse.database
    migrate(client, db, target=9)
    columns = ["group_id", "topic", "topic_id", "partition", "first_offset", "last_offset",
               "watermark_start", "watermark_end", "token"]  # fmt: skip
    rows = [
        ["g", "t.mobile_money", "id", 0, 0, 99, 0, 10, "a"],
        ["g", "t.mobile_money", "id", 0, 100, 199, 10, 20, "b"],
        ["g", "t.mobile_money", "id", 1, 0, 49, 0, 5, "c"],
    ]
    for row in rows:  # one insert each: the old table collapsed rows of one insert
        client.insert(f"{db}.sink_batches", [row], column_names=columns)
    assert "010_sink_intents" in migrate(client, db)
    state = SinkStateStore(client, db, "g", threading.Lock())
    latest = state.latest("t.mobile_money", "id", 0)
    assert latest is not None and (latest.first_offset, latest.token) == (100, "b")
    assert latest.dedup_known is False
    other = state.latest("t.mobile_money", "id", 1)
    assert other is not None and (other.last_offset, other.watermark_end) == (49, 5)
    tables = {r[0] for r in client.query(f"SHOW TABLES FROM {db}").result_rows}
    assert "sink_batches" not in tables
    client.command(f"DROP DATABASE {db}")
