"""ClickHouse's Native format for the raw ``events`` block, encoded a column at a time.

Why not clickhouse-connect's own insert: its Python codec spends ~7 µs per event on the
events table's fifteen LowCardinality columns (building a dictionary per column, value by
value) and ~1.6 µs on UUIDs, all while holding the GIL the ingest thread needs; its
compiled codec (clickhouse-connect-core) is not used by the chDB client. Here categorical
values are encoded once per distinct value and joined, numbers and times go through numpy
in one pass, and UUIDs are decoded from hex in one call. LowCardinality columns are sent
as String, which the engine converts (``input_format_native_allow_types_conversion``,
on by default). The block goes to ``Client.raw_insert(fmt="Native")``, the same on chDB
and on a server.

Only the types the events table uses are known; anything else is an error, so a new
column type cannot be sent wrongly (tests/unit_tests/test_native.py reads every column
back).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

import numpy as np

_NUMBERS = {"UInt8": "<u1", "UInt16": "<u2", "UInt32": "<u4", "UInt64": "<u8", "Int64": "<i8"}


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
    """String or LowCardinality(String): length-prefixed UTF-8, each distinct value
    encoded once (categorical columns hold a handful; ids are mostly distinct anyway)."""
    cache: dict[str, bytes] = {}
    parts = []
    for value in column:
        encoded = cache.get(value)
        if encoded is None:
            encoded = cache[value] = _string(value)
        parts.append(encoded)
    return b"".join(parts)


def _uuids(column: Sequence[Any]) -> bytes:
    """UUID: two little-endian 64-bit halves, high first; '' is the nil UUID."""
    digits = "".join(column).replace("-", "")
    if len(digits) != 32 * len(column):  # an empty or odd id: one at a time, never misread
        digits = "".join(f"{UUID(v).int:032x}" if v else "0" * 32 for v in column)
    words = np.frombuffer(bytes.fromhex(digits), dtype=">u8")
    return words.astype("<u8").tobytes()


def _encoder(type_name: str) -> tuple[str, Callable[[Sequence[Any]], bytes]]:
    """The type to declare in the block and how to encode a column of it."""
    if type_name in ("String", "LowCardinality(String)"):
        return "String", _strings
    if type_name == "UUID":
        return type_name, _uuids
    if type_name in _NUMBERS:
        dtype = _NUMBERS[type_name]
        return type_name, lambda column: np.asarray(column, dtype=dtype).tobytes()
    if type_name.startswith("DateTime64(3"):  # epoch milliseconds, as the rows hold them
        return type_name, lambda column: np.asarray(column, dtype="<i8").tobytes()
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
