"""The sink on chDB: a re-sent offset range is deduplicated, partial rows merge."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client

from dxpulse.clickhouse import cluster_session, connect
from dxpulse.core.cluster import SESSION_SETTINGS
from dxpulse.core.config import Settings
from dxpulse.core.errors import DxpulseError
from dxpulse.producers.generator import EventGenerator
from dxpulse.schemas.validation import EventValidator, Rejection
from dxpulse.streams.batch import PartitionBatch
from dxpulse.streams.dedup import EMPTY, DedupIndex
from dxpulse.streams.sink import ClickHouseSink
from dxpulse.streams.state import BatchIntent, SinkStateStore
from tests.integration_tests.truth import query_tables


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


# --- The protocol's invariants (docs/reliability.md, "Invariants") ------------------------


_NOW = datetime.now(UTC)


def _mixed_batch(topic_id: str = "tid", ingested: datetime = _NOW) -> PartitionBatch:
    """On-time and late events, a duplicate and a dead letter: every table gets rows."""
    gen = EventGenerator(seed=4, event_types=("mobile_money",), run_start=_NOW)
    validator, now = EventValidator(), _NOW
    batch = PartitionBatch("t.mobile_money", 2, 60, dedup=DedupIndex(600_000), topic_id=topic_id)
    values = [gen.encode(gen.event(now - timedelta(minutes=m))) for m in (30, 29, 5, 28)]
    for offset, value in enumerate([*values, values[3]]):  # the last is late, then a copy
        event = validator.validate_flat(value)
        assert not isinstance(event, Rejection)
        batch.add_event(offset, event, ingested, value)
    bad = b'{"event_type": "mobile_money"}'
    rejection = validator.validate_flat(bad)
    assert isinstance(rejection, Rejection)
    batch.add_rejection(5, b"k", bad, rejection, ingested)
    batch.seal()
    assert (len(batch.events), batch.duplicates, batch.late_count) == (4, 1, 1)
    return batch


def test_resending_a_batch_leaves_every_table_as_it_was(settings: Settings, ch: Client) -> None:
    """Invariant 3: each insert of a batch carries its token and every table it reaches,
    directly or through materialized views, drops a block it has seen."""
    db = settings.clickhouse.database
    sink = ClickHouseSink(ch, db)
    sink.write(_mixed_batch())
    once = query_tables(lambda sql: ch.query(sql).result_rows, db)
    assert all(once[t] for t in ("events", "event_aggregates", "late_events", "dead_letters"))
    # A replay re-forms the batch later: the same messages, another ingestion time, so
    # blocks equal in everything but ingested_at; the token, not the content, drops them.
    sink.write(_mixed_batch(ingested=_NOW + timedelta(minutes=3)))
    assert query_tables(lambda sql: ch.query(sql).result_rows, db) == once
    raw = ch.query(f"SELECT count(), uniqExact(ingested_at) FROM {db}.events").result_rows
    assert raw == [(4, 1)]


def test_every_table_the_sink_reaches_keeps_a_deduplication_window(
    settings: Settings, ch: Client
) -> None:
    """Invariant 3, structurally: the MergeTree tables the sink inserts into and every
    materialized view target downstream of them keep non_replicated_deduplication_window."""
    db = settings.clickhouse.database
    tables = {
        name: (engine, list(deps), query)
        for name, engine, deps, query in ch.query(
            "SELECT name, engine, dependencies_table, create_table_query FROM system.tables "
            "WHERE database = {db:String}",
            parameters={"db": db},
        ).result_rows
    }
    targets = {name: _mv_target(query) for name, (engine, _, query) in tables.items()
               if engine == "MaterializedView"}  # fmt: skip
    reached, todo = set(), ["events", "event_aggregates_input", "late_events", "dead_letters"]
    while todo:
        table = todo.pop()
        reached.add(table)
        todo += [targets[v] for v in tables[table][1] if targets[v] not in reached]
    assert {"ecommerce_minute", "event_aggregates_hourly", "event_aggregates_daily"} <= reached
    for table in reached:
        engine, _, query = tables[table]
        if engine == "Null":
            continue
        assert "MergeTree" in engine, table
        window = re.search(r"non_replicated_deduplication_window = (\d+)", query)
        assert window and int(window.group(1)) >= 1000, f"{table}: no deduplication window"


def _mv_target(create_query: str) -> str:
    match = re.search(r" TO [\w.]*?\.?(\w+) ", create_query)
    assert match, create_query
    return match.group(1)


def _intent(first: int, last: int) -> BatchIntent:
    return BatchIntent("t.x", "tid", 0, first, last, 0, 0, f"tok{first}", EMPTY, EMPTY)


def test_the_latest_intent_has_the_highest_first_offset_whatever_the_clock_and_the_merges(
    settings: Settings, ch: Client
) -> None:
    """Invariant 2: read before or after a merge, with the clock stepped back between two
    intents, "latest" is the later batch."""
    db = settings.clickhouse.database
    state = SinkStateStore(ch, db, "g", threading.Lock())
    old, new = _intent(0, 99), _intent(100, 199)
    for intent, written_at in ((old, "2030-01-01 00:00:00"), (new, "2020-01-01 00:00:00")):
        state.record([intent])
        ch.command(  # the clock stepped back: the later intent looks older
            f"ALTER TABLE {db}.sink_intents UPDATE written_at = toDateTime64('{written_at}', 6) "
            f"WHERE first_offset = {intent.first_offset} SETTINGS mutations_sync = 1"
        )
    state.record([old])  # a retried insert of the older intent, as a new part
    assert state.latest("t.x", "tid", 0) == new
    ch.command(f"OPTIMIZE TABLE {db}.sink_intents FINAL")
    assert state.latest("t.x", "tid", 0) == new
    assert ch.query(f"SELECT count() FROM {db}.sink_intents").result_rows[0][0] == 1


def test_a_flush_records_at_most_one_intent_per_partition(
    settings: Settings, ch: Client
) -> None:
    """Invariant 1: two intents of one partition in one insert would collapse into one."""
    state = SinkStateStore(ch, settings.clickhouse.database, "g", threading.Lock())
    with pytest.raises(DxpulseError, match="at most one batch per partition"):
        state.record([_intent(0, 99), _intent(100, 199)])
    assert state.latest("t.x", "tid", 0) is None


def test_rows_read_back_are_the_topics_own(settings: Settings, ch: Client) -> None:
    """Invariant 4: a recreated topic (same name, offsets from 0 again, another id) does
    not lend its rows to the other's dedup index."""
    db = settings.clickhouse.database
    sink = ClickHouseSink(ch, db)
    sink.write(_mixed_batch("old-topic"))
    fresh = _mixed_batch("new-topic")
    sink.write(fresh)
    state = SinkStateStore(ch, db, "g", threading.Lock())
    rows = state.written_rows("mobile_money", "new-topic", 2, 0, 5)
    assert [offset for offset, _, _ in rows] == fresh.offsets
    assert {event_id for _, _, event_id in rows} == {e[0] for e in fresh.events}


def test_recording_intents_describes_the_table_once(
    settings: Settings, ch: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every flush records its intents: an insert without column types would cost a DESCRIBE
    query each time. The real client writes; the spy notes each time types were asked."""
    asked: list[bool] = []
    real = ch.create_insert_context

    def spy(*args: Any, **kwargs: Any) -> Any:
        # create_insert_context(table, column_names, database, column_types, ...)
        types = args[3] if len(args) > 3 else kwargs.get("column_types")
        asked.append(types is None)
        return real(*args, **kwargs)

    monkeypatch.setattr(ch, "create_insert_context", spy)
    state = SinkStateStore(ch, settings.clickhouse.database, "g", threading.Lock())
    for first in (0, 100, 200):
        state.record([_intent(first, first + 99)])
    assert asked == [True]  # the first look; the three Native inserts ask nothing more
    assert state.latest("t.x", "tid", 0) == _intent(200, 299)


def test_in_cluster_mode_rows_go_to_the_shards_local_tables_once(
    settings: Settings, ch: Client
) -> None:
    """Cluster mode's sink (one shard here: chDB cannot write replicated tables, so the
    local tables are plain copies of the single-server ones, deduplication window and all):
    every row lands in a ``*_local`` table, none in the tables analysts read, and a replay
    of the flush adds nothing."""
    db = settings.clickhouse.database
    for table in ("events", "late_events", "dead_letters", "event_aggregates_input"):
        ch.command(f"CREATE TABLE {db}.{table}_local AS {db}.{table}")
    sink = ClickHouseSink(ch, db, shards=[ch])
    for minutes in (0, 3):  # the replay re-forms the batch later, under the same token
        sink.write(_mixed_batch(ingested=_NOW + timedelta(minutes=minutes)))
        counts = {
            t: ch.query(f"SELECT count() FROM {db}.{t}").result_rows[0][0]
            for t in ("events_local", "late_events_local", "dead_letters_local", "events",
                      "late_events", "dead_letters")
        }  # fmt: skip
        assert counts == {"events_local": 4, "late_events_local": 1, "dead_letters_local": 1,
                          "events": 0, "late_events": 0, "dead_letters": 0}  # fmt: skip


def test_a_cluster_writers_session_has_quorum_inserts_and_consistent_reads(
    settings: Settings,
) -> None:
    """The settings reach the engine as the session's (a reader's session is left alone:
    ``connect`` sets none of them)."""
    client = connect(settings)
    names = ", ".join(f"toString(getSetting('{k}'))" for k in SESSION_SETTINGS)
    before = client.query(f"SELECT {names}").result_rows[0]
    assert before[2] == "0"  # select_sequential_consistency is off by default
    cluster_session(client)
    after = client.query(f"SELECT {names}").result_rows[0]
    as_set = [{"true": "1", "false": "0"}.get(v, v) for v in after]  # Bool settings read back
    assert dict(zip(SESSION_SETTINGS, as_set, strict=True)) == SESSION_SETTINGS
