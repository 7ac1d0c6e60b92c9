"""Migrations on chDB: idempotent, recorded, and the province dimension loaded."""

from __future__ import annotations

from clickhouse_connect.driver.client import Client

from dxpulse.clickhouse import load_migrations, migrate
from dxpulse.config import Settings
from streams.health import HEALTH_COLUMNS


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
