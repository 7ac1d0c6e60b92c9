"""The sink's own Native encoding (streams/native.py), of the events block and of the small
tables' rows, writes exactly the rows clickhouse-connect's codec writes, on the real engine."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from clickhouse_connect.driver.client import Client

from dxpulse.core.config import Settings
from dxpulse.producers.generator import EventGenerator
from dxpulse.schemas.validation import EventValidator, Rejection
from dxpulse.streams.batch import PartitionBatch
from dxpulse.streams.native import NativeBlock, NativeInserter
from dxpulse.streams.rows import EVENT_COLUMNS, event_columns
from dxpulse.streams.sink import ClickHouseSink

pytestmark = pytest.mark.integration


def _batches() -> list[PartitionBatch]:
    """Every event type, on-time and late rows, two partitions, two topic ids."""
    gen = EventGenerator(seed=23)
    validator = EventValidator()
    now = datetime.now(UTC)
    batches = [PartitionBatch("t.x", p, 60, topic_id=f"id-{p}") for p in (0, 7)]
    for offset in range(600):
        at = now - timedelta(minutes=30 if offset % 50 == 0 else 0, milliseconds=offset)
        value = gen.encode(gen.event(at))
        event = validator.validate_flat(value)
        assert not isinstance(event, Rejection)
        batches[offset % 2].add_event(offset, event, now, value)
    return batches


def test_the_native_block_writes_the_rows_the_library_writes(
    settings: Settings, ch: Client
) -> None:
    db = settings.clickhouse.database
    ch.command(f"CREATE TABLE {db}.events_library AS {db}.events")
    batches = _batches()
    ClickHouseSink(ch, db).write_flush(batches, "native-test")
    for b in batches:
        columns = event_columns(b.events, b.partition, b.offsets, b.ingested_ms, b.late_rows,
                                b.topic_id)  # fmt: skip
        ch.insert(f"{db}.events_library", columns, column_names=list(EVENT_COLUMNS),
                  column_oriented=True)  # fmt: skip
    order = "ORDER BY kafka_partition, kafka_offset"
    ours = ch.query(f"SELECT * FROM {db}.events {order}").result_rows
    library = ch.query(f"SELECT * FROM {db}.events_library {order}").result_rows
    assert len(ours) == 600 and any(r[EVENT_COLUMNS.index("is_late")] for r in ours)
    assert ours == library


@pytest.mark.parametrize("type_name", ["Nullable(String)", "Decimal(18, 2)", "Map(String, UInt8)"])
def test_an_unknown_column_type_is_refused(type_name: str) -> None:
    with pytest.raises(
        ValueError, match=re.escape(f"no Native encoder for ClickHouse type {type_name}")
    ):
        NativeBlock(["x"], [type_name])


def test_the_small_tables_types_read_back_as_the_library_writes_them(
    settings: Settings, ch: Client
) -> None:
    """Floats (provinces, flush durations), a SimpleAggregateFunction (late events) and
    times given as aware datetimes or, for milliseconds, as ints too (dead letters, health),
    through NativeInserter's rows path: exactly what clickhouse-connect's insert stores."""
    db = settings.clickhouse.database
    for table in ("small_native", "small_library"):
        ch.command(
            f"CREATE TABLE {db}.{table} (n UInt32, f4 Float32, f8 Float64, "
            "total SimpleAggregateFunction(sum, UInt64), lo SimpleAggregateFunction(min, UInt64), "
            "at_ms DateTime64(3, 'Asia/Ho_Chi_Minh'), at DateTime('Asia/Ho_Chi_Minh'), "
            "i Int64) ENGINE = MergeTree ORDER BY n"
        )
    rng = random.Random(5)
    base = datetime(2026, 3, 1, 23, 59, 59, 999_000, tzinfo=UTC)
    ours_rows, library_rows = [], []
    for n in range(500):
        at = base + timedelta(milliseconds=rng.randrange(-(10**11), 10**11))
        if n % 2:
            at = at.astimezone(timezone(timedelta(hours=7)))
        ms = (at - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)
        row = [
            n, rng.uniform(-1e6, 1e6), rng.choice([0.1, 1 / 3, 21.0285, -105.8542, 1e300]),
            rng.randrange(2**64), rng.randrange(2**32), at, at.replace(microsecond=0),
            rng.randrange(-(2**63), 2**63),
        ]  # fmt: skip
        library_rows.append(row)
        ours_rows.append([*row[:5], ms if n % 3 else at, *row[6:]])
    names = ["n", "f4", "f8", "total", "lo", "at_ms", "at", "i"]
    NativeInserter(ch).insert_rows(f"{db}.small_native", names, ours_rows)
    ch.insert(f"{db}.small_library", library_rows, column_names=names)
    ours = ch.query(f"SELECT * FROM {db}.small_native ORDER BY n").result_rows
    library = ch.query(f"SELECT * FROM {db}.small_library ORDER BY n").result_rows
    assert len(ours) == 500 and ours == library


@pytest.mark.parametrize("type_name", ["DateTime64(3, 'UTC')", "DateTime('UTC')"])
def test_a_naive_datetime_is_refused_not_guessed(type_name: str) -> None:
    block = NativeBlock(["at"], [type_name])
    with pytest.raises(ValueError, match="a naive datetime cannot be sent to ClickHouse"):
        block.encode([[datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1)]], 2)


def test_an_empty_or_odd_event_id_is_encoded_one_at_a_time() -> None:
    block = NativeBlock(["id"], ["UUID"])
    good = "0b9f2c4e-1d2a-4c3b-9e8f-7a6b5c4d3e2f"
    x = int(good.replace("-", ""), 16)  # clickhouse-connect's layout: high half first
    want = (x >> 64).to_bytes(8, "little") + (x & (2**64 - 1)).to_bytes(8, "little")
    assert block.encode([[good, ""]], 2).endswith(want + bytes(16))
    assert block.encode([[good]], 1).endswith(want)


def _text_rows(distinct: bool) -> list[list[object]]:
    """Rows of every text shape: ASCII, Vietnamese, empty, 127 bytes (the longest with a
    one-byte length), 128 and 300 bytes; mostly distinct values or a handful; arrays empty
    and long. Column ``short`` has no text of 128 bytes or more, ``edge`` has 128 bytes."""
    rng = random.Random(distinct)
    short = ["", "Hà Nội", "TP. Hồ Chí Minh", "x" * 127, "C0001"]
    edge = [*short, "đ" * 64]  # 128 bytes
    rows: list[list[object]] = []
    for i in range(2_000):
        unique = f"C{i:07d}" if distinct and i % 5 else None
        at = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randrange(10**8))
        ids = [f"K{rng.randrange(10**6)}" for _ in range(rng.choice((0, 1, 3, 40)))]
        long = rng.choice([*edge, "y" * 300])
        rows.append([
            unique or rng.choice(short), unique or rng.choice(edge), long, at,
            ids + ([long] if i % 7 else []),
        ])  # fmt: skip
    return rows


@pytest.mark.parametrize("distinct", [True, False], ids=["mostly-distinct", "categorical"])
def test_strings_times_and_string_arrays_read_back_as_the_library_writes_them(
    settings: Settings, ch: Client, distinct: bool
) -> None:
    db = settings.clickhouse.database
    names = ["short", "edge", "lc", "at", "ids"]
    for table in ("text_native", "text_library"):
        ch.command(
            f"CREATE TABLE {db}.{table} (short String, edge String, lc LowCardinality(String), "
            "at DateTime('Asia/Ho_Chi_Minh'), ids Array(String), n UInt32) "
            "ENGINE = MergeTree ORDER BY n"
        )
    rows = [[*row, n] for n, row in enumerate(_text_rows(distinct))]
    types = ["String", "String", "LowCardinality(String)", "DateTime('Asia/Ho_Chi_Minh')",
             "Array(String)"]  # fmt: skip
    block = NativeBlock([*names, "n"], [*types, "UInt32"])
    columns = [list(c) for c in zip(*rows, strict=True)]
    ch.raw_insert(f"{db}.text_native", [*names, "n"], block.encode(columns, len(rows)),
                  fmt="Native")  # fmt: skip
    ch.insert(f"{db}.text_library", rows, column_names=[*names, "n"])
    ours = ch.query(f"SELECT * FROM {db}.text_native ORDER BY n").result_rows
    library = ch.query(f"SELECT * FROM {db}.text_library ORDER BY n").result_rows
    assert len(ours) == 2_000 and ours == library
