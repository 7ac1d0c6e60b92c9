"""Mapping of validated events to rows of the raw ``events`` table."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import pytest

from streams.rows import EVENT_COLUMNS, TYPE_COLUMNS, event_row

INGESTED = datetime(2024, 3, 4, 10, 5, tzinfo=UTC)


def _row(event) -> dict[str, object]:
    row = event_row(event, partition=4, offset=99, ingested_at=INGESTED)
    assert len(row) == len(EVENT_COLUMNS)
    return dict(zip(EVENT_COLUMNS, row, strict=True))


def test_envelope_columns(model):
    row = _row(model("online_payment"))
    assert row["event_id"] == UUID("0b7e7d8e-3c1f-4b7a-9a52-2f1d6c0e4a11")
    assert row["event_time"] == datetime(2024, 3, 4, 10, 0, tzinfo=UTC)
    assert (row["province_code"], row["region"]) == ("79", "south_east")
    assert row["schema_version"] == 1
    assert (row["kafka_partition"], row["kafka_offset"], row["ingested_at"]) == (4, 99, INGESTED)


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
def test_type_specific_columns_and_empty_strings_elsewhere(model, event_type, filled):
    row = _row(model(event_type))
    assert row["event_type"] == event_type
    for column in TYPE_COLUMNS:
        assert row[column] == filled.get(column, ""), column


def test_missing_agent_is_an_empty_string(model):
    row = _row(model("mobile_money", kind="airtime", agent_id=None, channel="ussd"))
    assert row["agent_id"] == ""
    assert row["kind"] == "airtime"
    assert row["channel"] == "ussd"
