"""What the worker's live-query endpoint accepts: a subset of ClickHouse's HTTP interface.

Pure functions over a request's parameters, body and headers, so that the guard is tested
without a worker. The engine side (streams/live_query.py) runs what passes on a chDB session
with ``readonly = 1``; the checks here come first because that setting alone is not enough
on chDB: it runs every statement of a multi-statement string, and it lets ``SYSTEM``,
``KILL QUERY`` and ``SELECT … INTO OUTFILE`` (which writes a file in the worker's process)
through. A refusal is a ClickHouse exception (code, name, message), so clickhouse-connect
raises it as it would any server error.
"""

from __future__ import annotations

import hmac
import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass

from dxpulse.core.errors import DxpulseError
from dxpulse.core.sqlsplit import split_statements, tokens

# Statements that only read. Anything else is refused before it reaches the engine.
READ_VERBS = ("SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXISTS", "EXPLAIN")
# Request parameters about the exchange, not the query: taken or ignored, never settings.
TRANSPORT = frozenset(
    {
        "query",
        "database",
        "default_format",
        "query_id",
        "session_id",
        "session_timeout",
        "session_check",
        "wait_end_of_query",
        "client_protocol_version",
        "compress",
        "decompress",
        "buffer_size",
        "enable_http_compression",
        "send_progress_in_http_headers",
        "http_headers_progress_interval_ms",
        "cancel_http_readonly_queries_on_client_close",
    }
)
_FORMAT = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")


class Refusal(Exception):
    """A request the endpoint does not run, as ClickHouse reports an exception."""

    def __init__(self, code: int, name: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.name, self.message, self.status = code, name, message, status

    def body(self) -> bytes:
        return f"Code: {self.code}. DB::Exception: {self.message}. ({self.name})\n".encode()


def readonly(message: str) -> Refusal:
    return Refusal(164, "READONLY", message, status=403)


@dataclass(frozen=True)
class LiveRequest:
    sql: str
    params: dict[str, str]  # query parameters, without their ``param_`` prefix
    database: str | None
    fmt: str  # the result format: the statement's FORMAT clause, else default_format
    query_id: str


def parse_request(query: Mapping[str, str], body: bytes) -> LiveRequest:
    """The request as ClickHouse reads one: the ``query`` parameter, then the body."""
    text = "\n".join(part for part in (query.get("query", ""), _text(body)) if part)
    params = {k.removeprefix("param_"): v for k, v in query.items() if k.startswith("param_")}
    settings = sorted(k for k in query if k not in TRANSPORT and not k.startswith("param_"))
    if settings:
        raise readonly(f"Cannot modify '{settings[0]}' setting in readonly mode")
    check_statement(text)
    default = query.get("default_format") or "TabSeparated"
    if not _FORMAT.match(default):
        raise Refusal(73, "UNKNOWN_FORMAT", f"Unknown format {default!r}")
    return LiveRequest(
        sql=text,
        params=params,
        database=query.get("database") or None,
        fmt=statement_format(text) or default,
        query_id=query.get("query_id", ""),
    )


def _text(body: bytes) -> str:
    try:
        return body.decode()
    except UnicodeDecodeError as exc:
        raise Refusal(62, "SYNTAX_ERROR", "the query is not UTF-8") from exc


def check_statement(sql: str) -> None:
    """Refuse all but one read-only statement that writes no file."""
    try:
        statements = split_statements(sql)
    except DxpulseError as exc:
        raise Refusal(62, "SYNTAX_ERROR", str(exc)) from exc
    if not statements:
        raise Refusal(62, "SYNTAX_ERROR", "Empty query")
    if len(statements) > 1:
        raise Refusal(
            62, "SYNTAX_ERROR", f"Multi-statements are not allowed: got {len(statements)}"
        )
    words = [t.upper() for t in tokens(statements[0])]
    verb = next((w for w in words if w != "("), "")
    if verb not in READ_VERBS:
        raise readonly(
            f"the worker answers read-only statements ({', '.join(READ_VERBS)}), not {verb}"
        )
    if any(a == "INTO" and b == "OUTFILE" for a, b in itertools.pairwise(words)):
        raise readonly("INTO OUTFILE is not allowed: it would write a file on the worker")


def statement_format(sql: str) -> str | None:
    """The name in a trailing ``FORMAT name`` clause (clickhouse-connect appends one)."""
    words = tokens(split_statements(sql)[0])
    if len(words) >= 2 and words[-2].upper() == "FORMAT" and _FORMAT.match(words[-1]):
        return words[-1]
    return None


def authorized(header: str | None, token: str) -> bool:
    """``Authorization: Bearer <token>`` (clickhouse-connect's ``access_token``), compared in
    constant time."""
    scheme, _, given = (header or "").partition(" ")
    matches = hmac.compare_digest(given.strip().encode(), token.encode())
    return scheme.lower() == "bearer" and matches


def engine_refusal(message: str) -> Refusal:
    """An engine exception as the endpoint reports it: its code, name and first line."""
    at = message.find("Code: ")
    text = (message[at:] if at >= 0 else message).strip().splitlines()[0] if message else ""
    code = re.match(r"Code: (\d+)\. ", text)
    name = re.search(r"\(([A-Z_]+)\)\s*$", text)
    detail = re.sub(r"^Code: \d+\. (DB::Exception: )?", "", text)
    detail = re.sub(r"\s*\([A-Z_]+\)\s*$", "", detail).rstrip(".") or "query failed"
    number = int(code.group(1)) if code else 1000
    return Refusal(number, name.group(1) if name else "UNKNOWN_EXCEPTION", detail, _status(number))


def _status(code: int) -> int:
    if code in (164, 497, 516):  # READONLY, ACCESS_DENIED, AUTHENTICATION_FAILED
        return 403
    if code in (60, 81):  # UNKNOWN_TABLE, UNKNOWN_DATABASE
        return 404
    return 500
