"""Columns of the raw ``events`` table, built from flat events."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dxpulse.streams.rows import EVENT_COLUMNS, TYPE_COLUMNS, event_columns
from dxpulse.streams.windows import epoch_ms

INGESTED_MS = epoch_ms(datetime(2024, 3, 4, 10, 5, tzinfo=UTC))


def _row(event) -> dict[str, object]:
    columns = event_columns([event], partition=4, offsets=[99], ingested_ms=[INGESTED_MS])
    assert len(columns) == len(EVENT_COLUMNS)
    assert all(len(column) == 1 for column in columns)
    return {name: column[0] for name, column in zip(EVENT_COLUMNS, columns, strict=True)}


def test_envelope_columns(flat):
    row = _row(flat("online_payment"))
    assert row["event_id"] == "0b7e7d8e-3c1f-4b7a-9a52-2f1d6c0e4a11"
    assert row["event_time"] == epoch_ms(datetime(2024, 3, 4, 10, 0, tzinfo=UTC))
    assert (row["province_code"], row["region"]) == ("79", "south_east")
    assert row["schema_version"] == 1
    assert (row["kafka_partition"], row["kafka_offset"]) == (4, 99)
    assert (row["ingested_at"], row["is_late"]) == (INGESTED_MS, 0)


def test_columns_of_many_events_keep_their_order(flat):
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
def test_type_specific_columns_and_empty_strings_elsewhere(flat, event_type, filled):
    row = _row(flat(event_type))
    assert row["event_type"] == event_type
    for column in TYPE_COLUMNS:
        assert row[column] == filled.get(column, ""), column


def test_missing_agent_is_an_empty_string(flat):
    row = _row(flat("mobile_money", kind="airtime", agent_id=None, channel="ussd"))
    assert row["agent_id"] == ""
    assert row["kind"] == "airtime"
    assert row["channel"] == "ussd"
