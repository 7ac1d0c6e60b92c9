"""Hour-of-day and weekday rhythm of each event type, in Vietnam local time."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from dxpulse.producers.calibration import COUNT_GROWTH_PER_YEAR, EVENT_TYPE_WEIGHTS, HOURLY, WEEKDAY
from dxpulse.producers.peaks import peak_factor

VN_TZ = timezone(timedelta(hours=7), "Asia/Ho_Chi_Minh")  # no DST in Vietnam
SECONDS_PER_YEAR = 365.25 * 86_400


def _mean_daily(event_type: str) -> float:
    return sum(HOURLY[event_type]) / 24 * sum(WEEKDAY[event_type]) / 7


_MEAN = {t: _mean_daily(t) for t in HOURLY}


def relative_intensity(event_type: str, at: datetime) -> float:
    """Intensity of one event type at ``at``, 1.0 being its weekly average."""
    local = at.astimezone(VN_TZ)
    raw = HOURLY[event_type][local.hour] * WEEKDAY[event_type][local.weekday()]
    return raw / _MEAN[event_type]


def type_weights(at: datetime, peaks: bool = False) -> dict[str, float]:
    """The mix of event types at ``at``: base share times each type's own rhythm.

    With ``peaks``, also times the named peaks of that local day (producers/peaks.py). The
    history backfill uses them; live generation does not, so its weekly averages stay 1.
    """
    weights = {t: w * relative_intensity(t, at) for t, w in EVENT_TYPE_WEIGHTS.items()}
    if peaks:
        day = at.astimezone(VN_TZ).date()
        weights = {t: w * peak_factor(t, day) for t, w in weights.items()}
    return weights


def total_intensity(at: datetime, peaks: bool = False) -> float:
    """All-types intensity at ``at``, 1.0 being the weekly average (scales the live rate)."""
    base = sum(EVENT_TYPE_WEIGHTS.values())
    return sum(type_weights(at, peaks=peaks).values()) / base


def count_growth(event_type: str, at: datetime, anchor: datetime) -> float:
    """How many times the type's events at ``at`` outnumber those at ``anchor``, by the
    yearly growth (``COUNT_GROWTH_PER_YEAR``). Relative to an anchor, not to a calendar
    date: a backfill anchored at its end has today's mix at its end whatever today is."""
    years = (at - anchor).total_seconds() / SECONDS_PER_YEAR
    return float(COUNT_GROWTH_PER_YEAR[event_type] ** years)
