"""Columns of the raw ``events`` table, built from flat events."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from uuid import UUID

import pytest
from clickhouse_connect.datatypes.registry import get_from_name
from clickhouse_connect.driver.insert import InsertContext
from hypothesis import given
from hypothesis import strategies as st

from dxpulse.schemas.flat import FlatEvent
from dxpulse.streams.batch import PartitionBatch
from dxpulse.streams.rows import (
    EVENT_COLUMNS,
    TYPE_COLUMNS,
    event_columns,
    flush_event_columns,
    uuid_ints,
)
from dxpulse.streams.windows import epoch_ms

INGESTED_MS = epoch_ms(datetime(2024, 3, 4, 10, 5, tzinfo=UTC))


def _row(event: FlatEvent) -> dict[str, object]:
    columns = event_columns([event], partition=4, offsets=[99], ingested_ms=[INGESTED_MS])
    assert len(columns) == len(EVENT_COLUMNS)
    assert all(len(column) == 1 for column in columns)
    return {name: column[0] for name, column in zip(EVENT_COLUMNS, columns, strict=True)}


def test_envelope_columns(flat: Callable[..., FlatEvent]) -> None:
    row = _row(flat("online_payment"))
    assert row["event_id"] == UUID("0b7e7d8e-3c1f-4b7a-9a52-2f1d6c0e4a11").int
    assert row["event_time"] == epoch_ms(datetime(2024, 3, 4, 10, 0, tzinfo=UTC))
    assert (row["province_code"], row["region"]) == ("79", "south_east")
    assert row["schema_version"] == 1
    assert (row["kafka_partition"], row["kafka_offset"]) == (4, 99)
    assert (row["ingested_at"], row["is_late"]) == (INGESTED_MS, 0)


def test_columns_of_many_events_keep_their_order(flat: Callable[..., FlatEvent]) -> None:
    events = [
        flat(amount_vnd=1_000 * i, province_code=code) for i, code in enumerate(["01", "79", "48"])
    ]
    columns = dict(
        zip(
            EVENT_COLUMNS,
            event_columns(events, 2, [5, 6, 9], [INGESTED_MS] * 3, late_rows=[1]),
            strict=True,
        )
    )
    assert list(columns["amount_vnd"]) == [0, 1_000, 2_000]
    assert list(columns["region"]) == [
        "red_river_delta",
        "south_east",
        "north_central_central_coast",
    ]
    assert list(columns["kafka_offset"]) == [5, 6, 9]
    assert list(columns["is_late"]) == [0, 1, 0]


@pytest.mark.parametrize(
    ("event_type", "filled"),
    [
        (
            "online_payment",
            {"method": "vietqr", "provider": "vietcombank", "merchant_category": "food_beverage"},
        ),
        (
            "ecommerce_order",
            {
                "platform": "shopee",
                "product_category": "fashion",
                "payment_method": "cod",
                "order_status": "delivered",
            },
        ),
        (
            "mobile_money",
            {"provider": "viettel_money", "kind": "cash_out", "agent_id": "AG1400042"},
        ),
    ],
)
def test_type_specific_columns_and_empty_strings_elsewhere(
    flat: Callable[..., FlatEvent], event_type: str, filled: dict[str, str]
) -> None:
    row = _row(flat(event_type))
    assert row["event_type"] == event_type
    for column in TYPE_COLUMNS:
        assert row[column] == filled.get(column, ""), column


def test_missing_agent_is_an_empty_string(flat: Callable[..., FlatEvent]) -> None:
    row = _row(flat("mobile_money", kind="airtime", agent_id=None, channel="ussd"))
    assert row["agent_id"] == ""
    assert row["kind"] == "airtime"
    assert row["channel"] == "ussd"


_UUID_TEXTS = st.lists(st.uuids().map(str), max_size=40)


@given(ids=_UUID_TEXTS)
def test_event_ids_go_as_the_ints_of_their_uuids(ids: list[str]) -> None:
    assert uuid_ints(ids) == [UUID(text).int for text in ids]


@given(ids=_UUID_TEXTS, position=st.integers(0, 40), odd=st.sampled_from(["", "0b7e7d8e"]))
def test_a_column_with_an_empty_or_short_id_is_not_read_across_ids(
    ids: list[str], position: int, odd: str
) -> None:
    """One C pass over all digits would shift every later id: such a column goes one id at
    a time (an empty id is the nil UUID, a short one fails as the driver's parse would)."""
    ids.insert(min(position, len(ids)), odd)
    if odd:
        with pytest.raises(ValueError):
            uuid_ints(ids)
    else:
        assert uuid_ints(ids) == [UUID(text).int if text else 0 for text in ids]


@given(ids=_UUID_TEXTS.filter(bool))
def test_the_driver_writes_the_same_bytes_for_the_ints_as_for_the_texts(ids: list[str]) -> None:
    """The rows stay identical: clickhouse-connect's UUID column from ints is byte for byte
    the one it writes from the texts."""
    uuid_type = get_from_name("UUID")
    context = InsertContext("events", ["event_id"], [uuid_type])
    from_text, from_ints = bytearray(), bytearray()
    uuid_type.write_column(ids, from_text, context)
    uuid_type.write_column(uuid_ints(ids), from_ints, context)
    assert from_ints == from_text



def _batch(
    partition: int, topic_id: str, events: list[FlatEvent], late: list[int]
) -> PartitionBatch:
    batch = PartitionBatch("t.x", partition, 60, topic_id=topic_id)
    batch.events = events
    batch.offsets = [1_000 * partition + i for i in range(len(events))]
    batch.ingested_ms = [INGESTED_MS + i for i in range(len(events))]
    batch.late_rows = late
    return batch


@pytest.mark.parametrize("shape", [[3], [2, 0, 4, 1], [0, 5, 0]])
def test_a_flush_s_block_is_its_batches_columns_one_after_another(
    flat: Callable[..., FlatEvent], shape: list[int]
) -> None:
    """flush_event_columns builds the events block of a whole flush in one pass per column:
    exactly the per-batch columns, chained, with each batch's partition, topic id, offsets
    and late rows (row numbers are the batch's own)."""
    kinds = ["online_payment", "ecommerce_order", "mobile_money"]
    batches = []
    for p, n in enumerate(shape):
        events = [flat(kinds[(p + i) % 3]) for i in range(n)]
        batches.append(_batch(p, f"id-{p}", events, [i for i in range(n) if (p + i) % 2]))
    want: list[list[object]] = [[] for _ in EVENT_COLUMNS]
    for b in batches:
        columns = event_columns(
            b.events, b.partition, b.offsets, b.ingested_ms, b.late_rows, b.topic_id, True
        )
        for into, column in zip(want, columns, strict=True):
            into.extend(column)
    got = flush_event_columns(batches, text_ids=True)
    assert [list(c) for c in got] == want
    late = EVENT_COLUMNS.index("is_late")
    assert sum(got[late]) == sum(len(b.late_rows) for b in batches) > 0
