"""What the report writes for a code or a column name: the name a reader knows.

Why here: panel SQL may return the data's codes (``red_river_delta``, ``p2p_transfer``) or,
once the dashboards return names, the names themselves. The report maps every text cell
of a label column through :data:`schemas.labels.LABELS` (column name = dimension), so its
category axes, legends and table cells are readable either way; a name passes unchanged.
"""

from __future__ import annotations

import re
from typing import Any

from dxpulse.report.queries import Result
from dxpulse.schemas.labels import LABELS, label

# Column names use these abbreviations; a reader sees the words.
_WORDS = {"vnd": "VND", "pct": "%", "gmv": "GMV", "p2p": "P2P", "cod": "COD", "qr": "QR"}
# A column named after a code (``urban``, ``rural``): its name in that dimension.
_CODE_COLUMNS = {code: name for dim in ("area", "event_type") for code, name in LABELS[dim].items()}


def cell(column: str, value: Any) -> Any:
    """``value`` of ``column`` as a reader should see it: a code becomes its name."""
    if isinstance(value, str) and column in LABELS:
        return label(column, value)
    if isinstance(value, str) and value.islower():  # "cash on delivery" from a panel's SQL
        return value[:1].upper() + value[1:]
    return value


def column_title(column: str) -> str:
    """A column's heading or legend name: ``value_vnd`` -> "Value (VND)", ``rural`` ->
    "Rural", ``events_per_1000_people`` -> "Events per 1000 people"."""
    if column in _CODE_COLUMNS:
        return _CODE_COLUMNS[column]
    words = [w for w in re.split(r"[_\s]+", column) if w]
    if not words:
        return column
    unit = words.pop() if len(words) > 1 and words[-1] == "vnd" else None
    text = " ".join(_WORDS.get(w, w) for w in words)
    text = text[:1].upper() + text[1:]
    return f"{text} (VND)" if unit else text


def relabel(result: Result) -> Result:
    """``result`` with every code in a label column replaced by its name (same rows, same
    order, numbers untouched): what the charts, tables and tiles are drawn from."""
    rows = tuple(
        tuple(cell(c, v) for c, v in zip(result.columns, row, strict=True)) for row in result.rows
    )
    return Result(result.columns, rows)
