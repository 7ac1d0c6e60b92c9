"""Migrations on chDB: idempotent, recorded, and the province dimension loaded."""

from __future__ import annotations

from clickhouse_connect.driver.client import Client

from dxpulse.clickhouse import load_migrations, migrate
from dxpulse.config import Settings


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
    n, regions, units = ch.query(
        f"SELECT count(), uniqExact(region), uniqExact(unit_2025_code) FROM {db}.provinces"
    ).result_rows[0]
    assert (n, regions, units) == (63, 6, 34)
    # Re-running reloads the dimension instead of duplicating it.
    migrate(ch, db)
    assert ch.query(f"SELECT count() FROM {db}.provinces").result_rows[0][0] == 63
