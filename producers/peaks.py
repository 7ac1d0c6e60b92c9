"""Named peaks of Vietnam's digital economy: days when a type runs well above (or below) its
usual hour-of-day and weekday rhythm. Pure data and date arithmetic, no I/O.

Each peak has a name, a rule for its dates (Vietnam local dates, Asia/Ho_Chi_Minh) and a
multiplier per event type. A peak may ramp: its strength on a day is in (0, 1], and the
factor that day is ``1 + (multiplier - 1) * strength``. Peaks that fall on the same day
multiply. The multipliers are assumptions shaped on public reporting (platform and bank
press releases), not published figures; docs/calibration.md lists them with their basis.

They are used by the history backfill (producers/backfill.py) through
``intensity.type_weights(at, peaks=True)``; live generation leaves them out so that its
``--rate`` stays the mean rate and the rhythm's weekly averages stay exactly 1.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from types import MappingProxyType
from typing import Final

# First day of the lunar year (mùng 1 Tết) in Vietnam. Lunar dates need an almanac, so
# they are a table; outside these years a backfill simply has no Tết peak.
TET_DATES: Final = (
    date(2022, 2, 1),
    date(2023, 1, 22),
    date(2024, 2, 10),
    date(2025, 1, 29),
    date(2026, 2, 17),
    date(2027, 2, 6),
    date(2028, 1, 26),
    date(2029, 2, 13),
    date(2030, 2, 3),
)

# Days of a year on which a peak falls, each with its strength in (0, 1].
DayRule = Callable[[int], Mapping[date, float]]


@dataclass(frozen=True)
class Peak:
    name: str
    rule: str  # how the dates are found, in words (for docs and summaries)
    multipliers: Mapping[str, float]  # by event type; a type left out is unchanged
    basis: str  # what the multipliers are based on
    days: DayRule


def _tet_days(first: int, last: int, ramp: bool = False) -> DayRule:
    """Days ``first..last`` relative to mùng 1 Tết; with ``ramp``, strength rises to 1."""

    def rule(year: int) -> Mapping[date, float]:
        out: dict[date, float] = {}
        for tet in TET_DATES:
            if tet.year != year:
                continue
            span = last - first + 1
            for i, offset in enumerate(range(first, last + 1)):
                out[tet + timedelta(days=offset)] = (i + 1) / span if ramp else 1.0
        return out

    return rule


def _fixed_day(month: int, day: int) -> DayRule:
    return lambda year: {date(year, month, day): 1.0}


def _paydays(year: int) -> Mapping[date, float]:
    # The last day of each month and the first three days of the next.
    out: dict[date, float] = {}
    for month in range(1, 13):
        last = calendar.monthrange(year, month)[1]
        out[date(year, month, last)] = 1.0
        for day in (1, 2, 3):
            out[date(year, month, day)] = 1.0
    return out


PEAKS: Final = (
    Peak(
        name="Tết shopping",
        rule="the 10 days before the eve of Tết (mùng 1 − 11 .. − 2), rising",
        multipliers=MappingProxyType(
            {"online_payment": 1.3, "ecommerce_order": 1.8, "mobile_money": 1.4}
        ),
        basis="assumption: platforms report their biggest pre-Tết weeks for gifts, food and "
        "clothes; workers send money home before the holiday",
        days=_tet_days(-11, -2, ramp=True),
    ),
    Peak(
        name="Tết eve",
        rule="the last day of the lunar year (mùng 1 − 1)",
        multipliers=MappingProxyType(
            {"online_payment": 1.2, "ecommerce_order": 0.6, "mobile_money": 1.6}
        ),
        basis="assumption: last-minute market payments; deliveries have stopped, so few "
        "orders; transfers and cash-out for the holiday",
        days=_tet_days(-1, -1),
    ),
    Peak(
        name="Tết holiday",
        rule="mùng 1 .. mùng 5 (the days off after New Year's Day)",
        multipliers=MappingProxyType(
            {"online_payment": 0.6, "ecommerce_order": 0.35, "mobile_money": 1.5}
        ),
        basis="assumption: shops and delivery closed, e-commerce well down; digital lì xì "
        "(lucky money) and family transfers raise Mobile Money",
        days=_tet_days(0, 4),
    ),
    Peak(
        name="11.11 mega sale",
        rule="11 November",
        multipliers=MappingProxyType({"online_payment": 1.15, "ecommerce_order": 5.0}),
        basis="assumption: Shopee, Lazada and TikTok Shop's biggest sale; platforms report "
        "several times a normal day's orders",
        days=_fixed_day(11, 11),
    ),
    Peak(
        name="12.12 sale",
        rule="12 December",
        multipliers=MappingProxyType({"online_payment": 1.1, "ecommerce_order": 4.0}),
        basis="assumption: the year-end double-day sale, a little below 11.11",
        days=_fixed_day(12, 12),
    ),
    Peak(
        name="9.9 sale",
        rule="9 September",
        multipliers=MappingProxyType({"online_payment": 1.05, "ecommerce_order": 2.5}),
        basis="assumption: a smaller double-day sale",
        days=_fixed_day(9, 9),
    ),
    Peak(
        name="10.10 sale",
        rule="10 October",
        multipliers=MappingProxyType({"online_payment": 1.05, "ecommerce_order": 2.5}),
        basis="assumption: a smaller double-day sale",
        days=_fixed_day(10, 10),
    ),
    Peak(
        name="payday",
        rule="the last day of each month and the 1st to 3rd of the next",
        multipliers=MappingProxyType(
            {"online_payment": 1.15, "ecommerce_order": 1.15, "mobile_money": 1.3}
        ),
        basis="assumption: salaries are mostly paid at month end or in the first days of a "
        "month; bills get paid and agents see more cash-out",
        days=_paydays,
    ),
)


@cache
def _peaks_of_year(year: int) -> Mapping[date, tuple[tuple[Peak, float], ...]]:
    found: dict[date, list[tuple[Peak, float]]] = {}
    for peak in PEAKS:
        # A neighbouring year's rule may reach into this one (a Tết ramp across 1 January).
        for rule_year in (year - 1, year, year + 1):
            for day, strength in peak.days(rule_year).items():
                if day.year == year:
                    found.setdefault(day, []).append((peak, strength))
    return {day: tuple(hits) for day, hits in found.items()}


def _on(local_date: date) -> tuple[tuple[Peak, float], ...]:
    return _peaks_of_year(local_date.year).get(local_date, ())


def peaks_on(local_date: date) -> list[str]:
    """Names of the peaks on a Vietnam local date, in the order of ``PEAKS``."""
    return [peak.name for peak, _ in _on(local_date)]


@cache
def peak_factor(event_type: str, local_date: date) -> float:
    """How many times its usual rhythm ``event_type`` runs on a Vietnam local date."""
    factor = 1.0
    for peak, strength in _on(local_date):
        multiplier = peak.multipliers.get(event_type, 1.0)
        factor *= 1.0 + (multiplier - 1.0) * strength
    return factor
