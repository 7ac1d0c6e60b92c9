"""`dxpulse query`: one statement, its aggregation states made readable, and its rows printed.

Three outputs: a table for people (numbers right-aligned with thousands separators, a row
count under it, the header even for no rows), CSV and JSON for scripts (values as they are).

``AggregateFunction`` columns (``customers`` in the rollups: a ``uniq`` state) hold partial
aggregation states that clickhouse-connect cannot decode. Rather than fail, the query is
wrapped so that ClickHouse finalizes them (``finalizeAggregation``): each row then shows its
own state's value, and a note on stderr says how to merge states across rows instead.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import IO, Any
from zoneinfo import ZoneInfo

import orjson
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from dxpulse.core.errors import DxpulseError
from dxpulse.core.sqlsplit import split_statements, tokens

# What `dxpulse run` suggests afterwards: short enough for a terminal, and it shows how the
# customers state column is read.
SUGGESTED_QUERY = (
    "SELECT event_type, sum(events) AS events, sum(amount_vnd) AS vnd, "
    "uniqMerge(customers) AS customers FROM {db}.event_aggregates GROUP BY event_type"
)
_NUMERIC = re.compile(r"^(U?Int\d+|Float\d+|BFloat16|Decimal(\d+)?\(.*\))$")
_WRAPPERS = re.compile(r"^(?:Nullable\(|LowCardinality\(|SimpleAggregateFunction\(\w+,)\s*(.*)\)$")
_ZONE = re.compile(r"^DateTime(?:64)?\((?:\d+,\s*)?'([^']+)'\)$")
_STATE = re.compile(r"^AggregateFunction\((\w+)")
_SELECTS = ("SELECT", "WITH", "(")  # statements whose result columns DESCRIBE can tell


@dataclass(frozen=True)
class Rows:
    names: tuple[str, ...]
    types: tuple[str, ...]  # ClickHouse type names, one per column
    rows: Sequence[Sequence[Any]]


@dataclass(frozen=True)
class Plan:
    """The SQL that runs; the statement's columns as DESCRIBE tells them (name, type; empty
    when not described) and those of them it finalizes."""

    sql: str
    columns: tuple[tuple[str, str], ...] = ()
    states: tuple[tuple[str, str], ...] = ()

    def note(self) -> str | None:
        if not self.states:
            return None
        names = ", ".join(name for name, _ in self.states)
        merges = ", ".join(_merge_hint(name, kind) for name, kind in self.states)
        held = "holds an aggregation state" if len(self.states) == 1 else "hold aggregation states"
        return (
            f"note: {names} {held}, shown per row via finalizeAggregation(); "
            f"across rows use {merges}"
        )


def single_statement(sql: str) -> str:
    """The one statement of ``sql`` (a trailing ``;`` and comments around it are fine).

    chDB runs every statement of a multi-statement string, so ``SELECT 1; DROP TABLE t``
    would drop the table: refuse it before anything is sent."""
    statements = split_statements(sql)
    if not statements:
        raise DxpulseError("no SQL statement given")
    if len(statements) > 1:
        raise DxpulseError(
            f"{len(statements)} statements given: `dxpulse query` runs one statement at a time"
        )
    return statements[0]


def plan(client: Client, statement: str) -> Plan:
    """Wrap ``statement`` so that its aggregation-state columns come back finalized.

    Only SELECTs are described (``DESCRIBE (query)`` analyses, it does not run); any other
    statement, or one the describe does not take, runs as it is."""
    words = tokens(statement)
    if not words or words[0].upper() not in _SELECTS:
        return Plan(statement)
    try:
        described = client.query(f"DESCRIBE TABLE ({statement})").result_rows
    except ClickHouseError:
        return Plan(statement)  # running it gives the real error
    columns = tuple((str(row[0]), str(row[1])) for row in described)
    states = tuple((n, t) for n, t in columns if _STATE.match(t))
    if not states or len({n for n, _ in columns}) != len(columns):
        return Plan(statement, columns)
    select = ", ".join(
        f"finalizeAggregation({quote(n)}) AS {quote(n)}" if (n, t) in states else quote(n)
        for n, t in columns
    )
    return Plan(f"SELECT {select} FROM ({statement})", columns, states)


def fetch(client: Client, statement: str) -> tuple[Rows, Plan]:
    """The statement's rows, with the header DESCRIBE gave when the result has none (chDB
    sends no block at all for zero rows) and times in their columns' own zones."""
    chosen = plan(client, statement)
    result = client.query(chosen.sql)
    names = tuple(result.column_names) or tuple(n for n, _ in chosen.columns)
    types = tuple(t.name for t in result.column_types) or tuple(t for _, t in chosen.columns)
    rows: Sequence[Sequence[Any]] = result.result_rows
    zones = [_zone(t) for _, t in chosen.columns]
    if len(zones) == len(names) and any(zones):
        rows = [tuple(_in_zone(v, z) for v, z in zip(row, zones, strict=True)) for row in rows]
    return Rows(names, types, rows), chosen


def _zone(type_name: str) -> ZoneInfo | None:
    while match := _WRAPPERS.match(type_name):
        type_name = match.group(1)
    found = _ZONE.match(type_name)
    return ZoneInfo(found.group(1)) if found else None


def _in_zone(value: Any, zone: ZoneInfo | None) -> Any:
    """A time of a ``DateTime('zone')`` column in that zone. chDB's Native output drops
    the zone, so clickhouse-connect hands such a time over as naive UTC."""
    if zone is None or not isinstance(value, datetime):
        return value
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(zone)


def quote(name: str) -> str:
    escaped = name.replace("\\", "\\\\").replace("`", "\\`")
    return f"`{escaped}`"


def _merge_hint(name: str, kind: str) -> str:
    match = _STATE.match(kind)
    function = match.group(1) if match else "any"
    return f"{function}Merge({name})"


def is_numeric(type_name: str) -> bool:
    while match := _WRAPPERS.match(type_name):
        type_name = match.group(1)
    return bool(_NUMERIC.match(type_name))


def cell(value: Any) -> str:
    """A value as a person reads it in a table."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return _float_cell(value)
    if isinstance(value, Decimal):
        return f"{value:,}"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _float_cell(value: float) -> str:
    if not math.isfinite(value):
        return str(value)
    if value.is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    if abs(value) < 1e-3 or abs(value) >= 1e15:
        return f"{value:.6g}"
    return f"{value:,.4f}".rstrip("0").rstrip(".")


def count_line(n: int) -> str:
    return f"{n:,} row" if n == 1 else f"{n:,} rows"


def table(rows: Rows) -> Table:
    out = Table()
    numeric = [is_numeric(t) for t in rows.types]
    for name, right in zip(rows.names, numeric, strict=True):
        out.add_column(Text(name), justify="right" if right else "left")
    for row in rows.rows:
        out.add_row(*(Text(cell(v)) for v in row))
    return out


def print_table(rows: Rows, console: Console) -> None:
    """The table and its row count. Piped or redirected, the table keeps its natural width:
    there is no terminal to fit, and wrapped cells would break lines apart."""
    rendered = table(rows)
    if not console.is_terminal:
        wide = console.options.update_width(1_000_000)
        width = Measurement.get(console, wide, rendered).maximum
        console = Console(file=console.file, width=max(width, 20), no_color=True)
    console.print(rendered)
    console.print(count_line(len(rows.rows)), highlight=False)


def write_csv(rows: Rows, out: IO[str]) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(rows.names)
    writer.writerows(rows.rows)


def write_json(rows: Rows, out: IO[bytes]) -> None:
    """A JSON array of one object per row. Integers beyond 64 bits and decimals become
    strings (exact; a JSON number would be rounded by most readers)."""
    objects = [
        dict(zip(rows.names, (_json_value(v) for v in row), strict=True)) for row in rows.rows
    ]
    out.write(orjson.dumps(objects, default=_json_default, option=orjson.OPT_INDENT_2) + b"\n")


def _json_value(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**64:
        return str(value)
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)  # Decimal, IP addresses and whatever else ClickHouse returns
