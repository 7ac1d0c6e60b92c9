"""ClickHouse's Native format for the ``events`` and aggregates blocks, a column at a time.

Why not clickhouse-connect's own insert: its Python codec spends ~7 µs per event on the
events table's fifteen LowCardinality columns (building a dictionary per column, value by
value) and ~1.6 µs on UUIDs, all while holding the GIL the ingest thread needs; its
compiled codec (clickhouse-connect-core) is not used by the chDB client. Here categorical
values are encoded once per distinct value and joined, numbers and times go through numpy
in one pass, and UUIDs are decoded from hex in one call. LowCardinality columns are sent
as String, which the engine converts (``input_format_native_allow_types_conversion``,
on by default). The block goes to ``Client.raw_insert(fmt="Native")``, the same on chDB
and on a server.

Every insert of the worker goes this way (:class:`NativeInserter`), not only the events
block: clickhouse-connect's ``Client.insert`` imports pandas at its first row (to ask
whether the data is a DataFrame), ~42 MB of private memory a worker never needs, and runs
its Python codec under the GIL (issue 16, docs/benchmarks.md "Round 5").

Only the types these tables use are known; anything else is an error, so a new
column type cannot be sent wrongly (tests/integration_tests/test_native.py reads every
column back).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

import numpy as np

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client

_NUMBERS = {
    "UInt8": "<u1", "UInt16": "<u2", "UInt32": "<u4", "UInt64": "<u8", "Int64": "<i8",
    "Float32": "<f4", "Float64": "<f8",
}  # fmt: skip
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def _leb128(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _string(value: str) -> bytes:
    data = value.encode()
    return _leb128(len(data)) + data


def _strings(column: Sequence[Any]) -> bytes:
    """String or LowCardinality(String): length-prefixed UTF-8.

    Two ways, both exact for any text, chosen by the column: a categorical one (few distinct
    values) encodes each distinct value once and joins them; a column of mostly distinct
    values (customer and agent ids) is encoded in C-level passes, the lengths and bytes laid
    out by numpy (measured on 20,000 ids: 1.4 ms against 7.2 ms one by one). A value of
    128 bytes or more needs a longer length prefix: that column goes one by one.
    """
    distinct = set(column)
    if 4 * len(distinct) <= len(column):
        encoded = {value: _string(value) for value in distinct}
        return b"".join(map(encoded.__getitem__, column))
    data = list(map(str.encode, column))
    lengths = np.fromiter(map(len, data), dtype=np.int64, count=len(data))
    if not len(data) or int(lengths.max()) >= 0x80:
        return b"".join(_leb128(len(b)) + b for b in data)
    out = np.empty(len(data) + int(lengths.sum()), dtype=np.uint8)
    heads = np.arange(len(data), dtype=np.int64)  # where each value's length byte goes
    heads[1:] += np.cumsum(lengths[:-1])
    out[heads] = lengths
    body = np.ones(len(out), dtype=bool)
    body[heads] = False
    out[body] = np.frombuffer(b"".join(data), dtype=np.uint8)
    return out.tobytes()


def _string_arrays(column: Sequence[Sequence[str]]) -> bytes:
    """Array(String): each row's end offset (UInt64), then all the rows' strings."""
    ends = np.cumsum(np.fromiter(map(len, column), dtype=np.uint64, count=len(column)))
    return ends.astype("<u8").tobytes() + _strings([v for row in column for v in row])


def _aware(value: datetime) -> datetime:
    """The rows' datetimes carry their zone. A naive one is refused, not guessed:
    clickhouse-connect would read it in the column's zone, ``timestamp()`` in the machine's."""
    if value.utcoffset() is None:
        raise ValueError(f"a naive datetime cannot be sent to ClickHouse: {value.isoformat()}")
    return value


def _datetimes(column: Sequence[Any]) -> bytes:
    """DateTime: epoch seconds (UInt32), from datetimes or ints."""
    return np.asarray(
        [v if isinstance(v, int) else int(_aware(v).timestamp()) for v in column], dtype="<u4"
    ).tobytes()


def _datetimes_ms(column: Sequence[Any]) -> bytes:
    """DateTime64(3): epoch milliseconds (Int64), as the rows hold them; datetimes (dead
    letters' ingestion time) are converted exactly, in integer arithmetic."""
    try:
        return np.asarray(column, dtype="<i8").tobytes()
    except TypeError:
        return np.asarray(
            [v if isinstance(v, int) else (_aware(v) - _EPOCH) // _MS for v in column],
            dtype="<i8",
        ).tobytes()


def _uuids(column: Sequence[Any]) -> bytes:
    """UUID: two little-endian 64-bit halves, high first; '' is the nil UUID."""
    digits = "".join(column).replace("-", "")
    if len(digits) != 32 * len(column):  # an empty or odd id: one at a time, never misread
        digits = "".join(f"{UUID(v).int:032x}" if v else "0" * 32 for v in column)
    words = np.frombuffer(bytes.fromhex(digits), dtype=">u8")
    return words.astype("<u8").tobytes()


def _encoder(type_name: str) -> tuple[str, Callable[[Sequence[Any]], bytes]]:
    """The type to declare in the block and how to encode a column of it."""
    if type_name.startswith("SimpleAggregateFunction("):
        # Stored as its argument type, and sent as it: the block declares the argument.
        return _encoder(type_name[len("SimpleAggregateFunction(") : -1].split(", ", 1)[1])
    if type_name in ("String", "LowCardinality(String)"):
        return "String", _strings
    if type_name == "UUID":
        return type_name, _uuids
    if type_name in _NUMBERS:
        dtype = _NUMBERS[type_name]
        return type_name, lambda column: np.asarray(column, dtype=dtype).tobytes()
    if type_name.startswith("DateTime64(3"):
        return type_name, _datetimes_ms
    if type_name == "DateTime" or type_name.startswith("DateTime("):
        return type_name, _datetimes
    if type_name in ("Array(String)", "Array(LowCardinality(String))"):
        return "Array(String)", _string_arrays
    raise ValueError(f"no Native encoder for ClickHouse type {type_name}")


class NativeBlock:
    """Encodes blocks of one table's columns, given their ClickHouse types."""

    def __init__(self, names: Sequence[str], types: Sequence[str]) -> None:
        self._columns = []
        for name, type_name in zip(names, types, strict=True):
            declared, encode = _encoder(type_name)
            self._columns.append((_string(name) + _string(declared), encode))

    def encode(self, columns: Sequence[Sequence[Any]], rows: int) -> bytes:
        parts = [_leb128(len(self._columns)), _leb128(rows)]
        for (header, encode), column in zip(self._columns, columns, strict=True):
            parts.append(header)
            parts.append(encode(column))
        return b"".join(parts)


class NativeInserter:
    """Inserts through one client, each table's block encoder built once.

    The columns' types are asked of ClickHouse at a table's first insert (a query), then
    kept. ``table`` is the qualified name; ``settings`` go with the insert (the
    deduplication tokens).
    """

    def __init__(self, client: Client) -> None:
        self.client = client
        self._blocks: dict[tuple[str, tuple[str, ...]], NativeBlock] = {}

    def insert_columns(
        self,
        table: str,
        names: Sequence[str],
        columns: Sequence[Sequence[Any]],
        settings: Mapping[str, Any] | None = None,
    ) -> None:
        key = (table, tuple(names))
        block = self._blocks.get(key)
        if block is None:
            types = self.client.create_insert_context(table, list(names)).column_types
            block = self._blocks[key] = NativeBlock(names, [t.name for t in types])
        self.client.raw_insert(
            table, list(names), block.encode(columns, len(columns[0])),
            settings=dict(settings or {}), fmt="Native",
        )  # fmt: skip

    def insert_rows(
        self,
        table: str,
        names: Sequence[str],
        rows: Sequence[Sequence[Any]],
        settings: Mapping[str, Any] | None = None,
    ) -> None:
        if rows:
            self.insert_columns(table, names, [list(c) for c in zip(*rows, strict=True)], settings)
