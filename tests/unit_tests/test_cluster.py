"""Cluster mode's rules without an engine: the shard routing, the deduplication window, the
settings, and the DDL rules on every migration statement (the engine run is
integration_tests/test_cluster_migrations.py)."""

from __future__ import annotations

import zlib
from collections import Counter

import pytest
from pydantic import ValidationError

from dxpulse.clickhouse import cluster_layout, load_migrations
from dxpulse.cluster_ddl import ClusterLayout, fresh_schema, render, render_all
from dxpulse.core.cluster import UNSHARDED_TABLES, deduplication_window, local_name, shard_for
from dxpulse.core.config import ClickHouseSettings, Settings
from dxpulse.core.errors import DxpulseError
from dxpulse.streams.batch import PartitionBatch
from dxpulse.streams.sink import by_shard

TOPICS = ("dxpulse.online_payment", "dxpulse.ecommerce_order", "dxpulse.mobile_money")


def _all_statements() -> list[str]:
    return [s for m in load_migrations() for s in m.statements("{db}")]


@pytest.mark.parametrize("shards", [1, 2, 3, 4, 8])
def test_routing_spreads_every_topic_exactly_evenly_when_partitions_divide(shards: int) -> None:
    for topic in TOPICS:
        counts = Counter(shard_for(topic, p, shards) for p in range(shards * 6))
        assert sorted(counts) == list(range(shards)) and set(counts.values()) == {6}


def test_routing_is_a_function_of_topic_and_partition_only() -> None:
    # The same in every process (CRC-32, not the per-process salted hash), whoever owns the
    # partition: the value is fixed here, so a change of the function fails this test.
    expected = (zlib.crc32(b"dxpulse.mobile_money") + 5) % 4
    assert shard_for("dxpulse.mobile_money", 5, 4) == expected
    assert [shard_for(t, p, 3) for t in TOPICS for p in range(24)] == [
        shard_for(t, p, 3) for t in TOPICS for p in range(24)
    ]
    with pytest.raises(ValueError):
        shard_for("t", 0, 0)
    with pytest.raises(ValueError):
        shard_for("t", -1, 2)


def test_the_window_covers_every_writers_flushes_until_the_replay() -> None:
    # 72 partitions, a flush every 0.25 s, a replay up to 110 s later: 440 flushes each,
    # and the one left incomplete.
    assert deduplication_window(72, 0.25, 110) == 72 * 441
    assert deduplication_window(1, 1.0, 0) == 1
    assert deduplication_window(24, 1.0, 10.5) == 24 * 12
    with pytest.raises(ValueError):
        deduplication_window(0, 1.0, 1)


def test_the_layout_follows_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    assert cluster_layout(Settings()) is None
    settings = Settings(
        clickhouse=ClickHouseSettings(dsn="http://ch:8123", cluster="dxpulse"),
        kafka={"partitions": 24, "session_timeout_ms": 10_000},  # type: ignore[arg-type]
        stream={"flush_interval_s": 0.25},  # type: ignore[arg-type]
    )
    layout = cluster_layout(settings)
    assert layout is not None and layout.cluster == "dxpulse"
    assert layout.window == deduplication_window(72, 0.25, 5 * 10 + 60)


def test_cluster_settings_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DXPULSE_CLICKHOUSE__CLUSTER", "dxpulse")
    monkeypatch.setenv("DXPULSE_CLICKHOUSE__DSN", "http://ch-s1-r1:8123")
    monkeypatch.setenv(
        "DXPULSE_CLICKHOUSE__SHARDS", '[["http://a:8123","http://b:8123"],["http://c:8123"]]'
    )
    assert Settings().clickhouse.shards == [["http://a:8123", "http://b:8123"], ["http://c:8123"]]
    for shards in ("[[]]", '[["chdb:///x"]]', "not json", '["http://a:8123"]'):
        monkeypatch.setenv("DXPULSE_CLICKHOUSE__SHARDS", shards)
        with pytest.raises(ValidationError):
            Settings()
    monkeypatch.delenv("DXPULSE_CLICKHOUSE__SHARDS")
    monkeypatch.setenv("DXPULSE_CLICKHOUSE__DSN", "chdb:///tmp/x")
    with pytest.raises(ValidationError, match="chDB has no cluster"):
        Settings()
    monkeypatch.delenv("DXPULSE_CLICKHOUSE__CLUSTER")
    monkeypatch.setenv("DXPULSE_CLICKHOUSE__SHARDS", '[["http://a:8123"]]')
    with pytest.raises(ValidationError, match="no cluster"):
        Settings()


def test_every_migration_statement_has_a_cluster_form() -> None:
    layout = ClusterLayout("dx")
    for sql in _all_statements():
        rendered = render(sql, layout)
        assert rendered
        for statement in rendered:
            if statement.sql.startswith("INSERT"):
                continue
            assert " ON CLUSTER dx" in statement.sql, statement.sql[:80]
            assert "non_replicated_deduplication_window" not in statement.sql


def test_backfills_run_on_each_shard_between_local_tables() -> None:
    inserts = [
        s for s in render_all(_all_statements(), ClusterLayout("dx")) if s.sql.startswith("INSERT")
    ]
    assert inserts
    for statement in inserts:
        target = statement.sql.split()[2].removeprefix("{db}.")
        sharded = target not in UNSHARDED_TABLES
        assert statement.where == ("each_shard" if sharded else "once")
        if sharded:
            assert target.endswith("_local")
            assert all(n.endswith("_local") for n in _named(statement.sql))


def _named(sql: str) -> list[str]:
    return [w.removeprefix("{db}.").rstrip(",;)") for w in sql.split() if w.startswith("{db}.")]


def test_the_fresh_schema_has_every_column_the_alters_add_and_nothing_dropped() -> None:
    fresh = fresh_schema(_all_statements())
    assert not any(s.startswith(("ALTER", "INSERT", "DROP")) for s in fresh)
    text = "\n".join(fresh)
    assert "{db}.sink_batches" not in text  # 010 drops it
    events = next(s for s in fresh if s.startswith("CREATE TABLE IF NOT EXISTS {db}.events\n"))
    lines = [line.strip().rstrip(",") for line in events.splitlines()]
    at = {line.split()[0]: i for i, line in enumerate(lines) if line}
    assert at["kafka_offset"] < at["is_late"] < at["ingested_at"] < at["kafka_topic_id"]
    assert "INDEX kafka_offset_range kafka_offset TYPE minmax GRANULARITY 1" in lines
    intents = next(s for s in fresh if "{db}.sink_intents\n" in s)
    assert "flush_token String DEFAULT ''" in intents and "flush_batches UInt16" in intents


def test_unknown_statements_and_engines_are_refused() -> None:
    layout = ClusterLayout("dx")
    with pytest.raises(DxpulseError, match="no rule"):
        render("OPTIMIZE TABLE {db}.events FINAL", layout)
    with pytest.raises(DxpulseError, match="no replicated form"):
        render("CREATE TABLE IF NOT EXISTS {db}.t\n(\n    a UInt8\n)\nENGINE = Log", layout)
    with pytest.raises(DxpulseError):
        ClusterLayout("bad name")


def test_local_names() -> None:
    assert local_name("events") == "events_local"
    assert local_name("sink_intents") == "sink_intents"


def test_a_flush_is_split_by_shard_in_shard_order_keeping_its_order() -> None:
    batches = [PartitionBatch(t, p, 60) for p in (5, 0, 3, 1, 4, 2) for t in TOPICS]
    groups = by_shard(batches, 3)
    assert list(groups) == sorted(groups)
    assert sum(len(g) for g in groups.values()) == len(batches)
    for shard, group in groups.items():
        assert all(shard_for(b.topic, b.partition, 3) == shard for b in group)
        assert group == [b for b in batches if b in group]  # the flush's order within a shard
    assert list(by_shard(batches[:1], 1)) == [0]
