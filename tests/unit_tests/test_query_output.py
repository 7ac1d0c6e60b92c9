"""How `dxpulse query` writes values and which SQL it accepts, without an engine."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from decimal import Decimal

import orjson
import pytest

from dxpulse.core.errors import DxpulseError
from dxpulse.query_output import (
    Rows,
    cell,
    count_line,
    is_numeric,
    single_statement,
    write_json,
)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1234567, "1,234,567"),
        (-5, "-5"),
        (2.0, "2"),
        (176366.714285, "176,366.7143"),
        (0.0001234, "0.0001234"),
        (Decimal("1234.50"), "1,234.50"),
        (None, "NULL"),
        (True, "true"),
        (datetime(2026, 11, 20, 10, tzinfo=UTC), "2026-11-20 10:00:00+00:00"),
        ("mekong_delta", "mekong_delta"),
    ],
)
def test_cells_read_as_people_write_numbers(value: object, text: str) -> None:
    assert cell(value) == text


@pytest.mark.parametrize(
    ("type_name", "numeric"),
    [
        ("UInt64", True),
        ("Nullable(Float64)", True),
        ("Decimal(18, 2)", True),
        ("SimpleAggregateFunction(sum, UInt64)", True),
        ("LowCardinality(String)", False),
        ("DateTime('Asia/Ho_Chi_Minh')", False),
        ("AggregateFunction(uniq, String)", False),
    ],
)
def test_numeric_columns_are_the_right_aligned_ones(type_name: str, numeric: bool) -> None:
    assert is_numeric(type_name) is numeric


def test_one_statement_at_a_time() -> None:
    assert single_statement("SELECT 1; -- done") == "SELECT 1"
    assert single_statement("SELECT ';' AS s") == "SELECT ';' AS s"
    with pytest.raises(DxpulseError, match=r"2 statements given.*one statement at a time"):
        single_statement("SELECT 1; DROP TABLE t")
    with pytest.raises(DxpulseError, match="no SQL statement"):
        single_statement("  -- nothing\n")


def test_row_counts_and_json() -> None:
    assert (count_line(0), count_line(1), count_line(12_345)) == ("0 rows", "1 row", "12,345 rows")
    out = io.BytesIO()
    write_json(Rows(("n", "big"), ("UInt64", "UInt128"), [(1, 2**100)]), out)
    assert orjson.loads(out.getvalue()) == [{"n": 1, "big": str(2**100)}]  # exact, as a string
