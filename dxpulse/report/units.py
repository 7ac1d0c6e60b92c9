"""Numbers as the panels' Grafana units show them (the subset the dashboards use)."""

from __future__ import annotations

import math
from datetime import datetime
from decimal import Decimal
from typing import Any

from dxpulse.report.timerange import VN_TZ

_SCALES = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K"))


def is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def short(value: float) -> str:
    """12345678 -> "12.3M"; three significant digits, like Grafana's "short" unit."""
    if not math.isfinite(value):
        return str(value)
    for scale, suffix in _SCALES:
        if abs(value) >= scale:
            return f"{value / scale:.3g}{suffix}"
    if value == int(value):
        return f"{int(value)}"
    return f"{value:.3g}"


def format_value(value: Any, unit: str | None) -> str:
    if value is None:
        return "–"
    if isinstance(value, datetime):
        return f"{value.astimezone(VN_TZ):%Y-%m-%d %H:%M}"
    if not is_number(value):
        return str(value)
    number = float(value)
    if unit == "percentunit":
        return f"{number * 100:.1f}%"
    if unit == "percent":
        return f"{number:.1f}%"
    if unit == "currencyVND":
        return f"{short(number)} ₫"
    if unit == "ops":
        return f"{short(number)}/s"
    if unit in ("s", "ms"):
        return f"{short(number)} {unit}"
    return short(number)
