"""ClickHouse errors become one line that keeps the server's code, message and name."""

from __future__ import annotations

from clickhouse_connect.driver._backend.httpcommon import build_http_error
from clickhouse_connect.driver.exceptions import DatabaseError

from dxpulse.core.errors import one_line

MESSAGE = (
    "Code: 60. DB::Exception: Unknown table expression identifier 'dxpulse.nope' in scope "
    "SELECT * FROM dxpulse.nope. (UNKNOWN_TABLE)"
)


def test_an_http_error_keeps_code_message_and_name_only() -> None:
    body = f"{MESSAGE} (version 25.8.26.11 (official build))\n"
    error = build_http_error(404, "60", body, True, "http://clickhouse:8123", False)
    assert str(error).startswith("Received ClickHouse exception, code: 60, server response:")
    assert str(error).endswith("(official build)) (for url http://clickhouse:8123)")
    assert one_line(error) == MESSAGE


def test_a_stack_trace_and_line_breaks_are_dropped() -> None:
    error = DatabaseError(f"{MESSAGE}\nStack trace:\n0. DB::Exception::Exception() @ 0x1\n")
    assert one_line(error) == MESSAGE
    assert one_line(DatabaseError("Network Error:\n  connection reset")) == (
        "Network Error: connection reset"
    )


def test_an_error_without_text_is_named_by_its_type() -> None:
    assert one_line(TimeoutError()) == "TimeoutError"
