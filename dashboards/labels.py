"""Human-readable names in panel SQL, generated from the one label table (schemas/labels.py).

Why in the SQL: Grafana shows what the query returns, and `dxpulse report` draws the same
rows, so a name computed by ClickHouse reaches both with no per-panel mapping to keep in
step. ``transform(x, codes, names, x)`` is a plain ClickHouse function (the server and chDB
both have it); a code the table lacks passes through unchanged, so nothing is dropped.
"""

from __future__ import annotations

from dxpulse.schemas.labels import LABELS


def quote(text: str) -> str:
    """``text`` as a ClickHouse string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _array(items: list[str]) -> str:
    return "[" + ", ".join(quote(item) for item in items) + "]"


def label_expr(dimension: str, column: str | None = None) -> str:
    """The name of ``column``'s code (``column`` defaults to the dimension's own column)."""
    column = column or dimension
    names = LABELS[dimension]  # KeyError: no such dimension, a build-time mistake
    return f"transform({column}, {_array(list(names))}, {_array(list(names.values()))}, {column})"


def label_sql(dimension: str, alias: str | None = None, column: str | None = None) -> str:
    """``transform(...) AS alias``: the name, under a column name other than the code's.

    The alias must differ from the column: ClickHouse substitutes aliases into WHERE, so
    ``... AS region ... WHERE region IN ('red_river_delta')`` would compare the *name* with
    the code and silently match nothing (tried on chDB 26.9 when this was written).
    """
    column = column or dimension
    alias = alias or f"{dimension}_name"
    if alias == column.split(".")[-1]:
        raise ValueError(f"label alias {alias!r} would shadow the column it names")
    return f"{label_expr(dimension, column)} AS {alias}"
