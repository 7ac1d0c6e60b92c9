"""The headline numbers at the top of the report: what an analyst would quote first.

Each figure comes from one query in ``sql/`` over the report's range (growth: over whole
days up to the range's end). A figure that cannot be measured honestly (no data, not
enough history) says why instead of showing a number.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from clickhouse_connect.driver.client import Client

from dxpulse.report.queries import range_params, report_sql, run
from dxpulse.report.timerange import VN_TZ, TimeRange
from dxpulse.schemas.labels import label
from dxpulse.schemas.provinces import TWO_CITIES

# Growth compares this many whole days with as many before them.
GROWTH_DAYS = 30


@dataclass(frozen=True)
class Growth:
    """One period of whole days against an earlier one: the latest whole month against the
    same month a year before when the data reaches back that far, else the last
    GROWTH_DAYS whole days against the GROWTH_DAYS before them."""

    basis: str  # "last 30 days vs the 30 before", "November 2026 vs November 2025"
    compared: str  # what was compared, said in full for the caption
    events_now: int
    events_before: int
    value_now_vnd: int
    value_before_vnd: int

    @property
    def events_change(self) -> float | None:
        return _change(self.events_now, self.events_before)

    @property
    def value_change(self) -> float | None:
        return _change(self.value_now_vnd, self.value_before_vnd)


@dataclass(frozen=True)
class Headline:
    events: int
    value_vnd: int
    mobile_money_customers: int
    rural_customers: int
    ecommerce_gmv_vnd: int
    cities_gmv_vnd: int
    growth: Growth | None
    growth_note: str  # why there is no growth figure, or "" when there is one

    @property
    def rural_share(self) -> float | None:
        return _ratio(self.rural_customers, self.mobile_money_customers)

    @property
    def cities_share(self) -> float | None:
        return _ratio(self.cities_gmv_vnd, self.ecommerce_gmv_vnd)

    @staticmethod
    def cities() -> str:
        """ "Hà Nội and TP. Hồ Chí Minh", from the label table."""
        return " and ".join(label("province_code", code) for code in TWO_CITIES)


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _change(now: int, before: int) -> float | None:
    return now / before - 1 if before else None


def measure(client: Client, time_range: TimeRange, window_seconds: int) -> Headline:
    params = range_params(time_range, window_seconds)
    events, value = _one(client, report_sql("totals", **params))
    rural, customers = _one(client, report_sql("mobile_money_rural", **params))
    cities = ", ".join(f"'{code}'" for code in TWO_CITIES)
    city_gmv, gmv = _one(client, report_sql("two_cities", cities=cities, **params))
    growth, note = measure_growth(client, last_whole_day(time_range.end))
    return Headline(events, value, customers, rural, gmv, city_gmv, growth, note)


def last_whole_day(end: datetime) -> date:
    """The last Vietnam calendar day over by ``end`` (a range ending at midnight: the day
    before it; ending at 20:04: yesterday)."""
    local = end.astimezone(VN_TZ)
    return local.date() - timedelta(days=1)


def measure_growth(client: Client, last_day: date) -> tuple[Growth | None, str]:
    """Year on year when the data spans it, else the last 30 days; or why neither."""
    sql = report_sql("growth", last_day=last_day.isoformat(), days=GROWTH_DAYS)
    row = run(client, sql).rows[0]
    events_now, events_before, value_now, value_before, first_day = row
    first = first_day.astimezone(VN_TZ).date() if isinstance(first_day, datetime) else None
    month = last_whole_month(last_day)
    # The first day of data is usually partial (history starts mid-day): it must lie
    # before the earlier period, so that period is whole.
    if first is not None and first < month.replace(year=month.year - 1):
        return year_on_year(client, month), ""
    first_needed = last_day - timedelta(days=2 * GROWTH_DAYS - 1)
    if first is None or first >= first_needed or not events_before:
        has_data = first is not None and (events_now or events_before)
        since = f"; the data starts on {first:%d %b %Y}" if has_data else ""
        return None, f"needs {2 * GROWTH_DAYS} whole days of history{since}"
    start = last_day - timedelta(days=GROWTH_DAYS - 1)
    basis = f"last {GROWTH_DAYS} days vs the {GROWTH_DAYS} before"
    compared = (
        f"Whole Vietnam days {start:%d %b %Y} – {last_day:%d %b %Y}, "
        f"against the {GROWTH_DAYS} days before."
    )
    return Growth(basis, compared, int(events_now), int(events_before), int(value_now),
                  int(value_before)), ""  # fmt: skip


def last_whole_month(last_day: date) -> date:
    """The first day of the latest month that ``last_day`` completes or follows."""
    if (last_day + timedelta(days=1)).month != last_day.month:
        return last_day.replace(day=1)
    return (last_day.replace(day=1) - timedelta(days=1)).replace(day=1)


def year_on_year(client: Client, month: date) -> Growth:
    sql = report_sql("growth_year", month=month.isoformat())
    events_now, events_before, value_now, value_before = run(client, sql).rows[0]
    year_before = month.replace(year=month.year - 1)
    basis = f"{month:%B %Y} vs {year_before:%B %Y}"
    compared = f"Vietnam months: {month:%B %Y} against {year_before:%B %Y}."
    return Growth(basis, compared, int(events_now), int(events_before), int(value_now),
                  int(value_before))  # fmt: skip


def _one(client: Client, sql: str) -> tuple[int, int]:
    first, second = run(client, sql).rows[0][:2]
    return int(first or 0), int(second or 0)
