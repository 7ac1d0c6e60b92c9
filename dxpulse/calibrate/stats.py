"""Two statistics the calibration needs and the standard library lacks in this form."""

from __future__ import annotations

import math
from collections.abc import Sequence

DAYS_PER_YEAR = 365.25


def ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks, ties sharing their mean rank (as Spearman's coefficient needs)."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    out = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            out[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return out


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rank correlation: Pearson's on the ranks (NaN if either is constant)."""
    rx, ry = ranks(x), ranks(y)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    sx = math.sqrt(sum((a - mx) ** 2 for a in rx))
    sy = math.sqrt(sum((b - my) ** 2 for b in ry))
    return cov / (sx * sy) if sx and sy else math.nan


def yearly_growth(days: Sequence[int], totals: Sequence[float]) -> float:
    """Year-on-year growth in percent of a daily series: exp(365.25 × slope) − 1 of the
    least-squares line through log(total) by day number.

    Why a fitted line and not this year over last: a 400-day span holds no two full years,
    and a line through every day lets the named peaks (Tết, 11.11) and the weekly rhythm
    mostly cancel; a peak moves the fitted growth by well under a point.
    """
    logs = [math.log(t) for t in totals]
    mean_day, mean_log = sum(days) / len(days), sum(logs) / len(logs)
    spread = sum((d - mean_day) ** 2 for d in days)
    if not spread:
        return math.nan
    slope = sum((d - mean_day) * (v - mean_log) for d, v in zip(days, logs, strict=True)) / spread
    return 100 * (math.exp(DAYS_PER_YEAR * slope) - 1)
