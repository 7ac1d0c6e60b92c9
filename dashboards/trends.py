"""6. Trends and headline figures: a month of history from the hourly and daily rollups and the
headline views (deploy/clickhouse/008_rollups.sql, 009_headline_views.sql)."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard

from dxpulse.dashboards.labels import label_sql
from dxpulse.dashboards.panels import (
    BuildContext,
    bar_chart,
    fields,
    filters,
    new_dashboard,
    series_sql,
    sql,
    time_series,
    with_variables,
)
from dxpulse.dashboards.regions import MOBILE_MONEY_RURAL_REFERENCE, REFERENCE_STYLE

UID = "dxpulse-trends"
HOURLY_WHERE = sql(
    """
    $__timeFilter(hour)
    AND {filters}""",
    filters=filters("region", "province", "event_type", "area"),
)
# Daily tables and views hold Vietnam calendar days (Date); a day is in range when the
# picker's range touches it. Not $__dateFilter: the plugin formats its dates in UTC, which
# would drop today's Vietnam day from 17:00 UTC on.
DAILY_WHERE = sql(
    """
    day >= toDate($__fromTime, 'Asia/Ho_Chi_Minh')
    AND day <= toDate($__toTime, 'Asia/Ho_Chi_Minh')"""
)
# Value per capita over the picked days, per province: the base of the per-capita panels.
# Columns are qualified: the aggregates' aliases reuse their names, and an unqualified
# name in WHERE would resolve to the aggregate.
PROVINCE_VALUES = sql(
    """
    SELECT d.province_code AS province_code, any(d.name_vi) AS name_vi,
           any(d.region) AS region, any(d.unit_2025_code) AS unit_2025_code,
           any(d.unit_2025_name) AS unit_2025_name, any(d.population) AS population,
           sum(d.value_vnd) AS province_vnd
    FROM province_daily AS d
    WHERE {where}
    AND {filters}
    GROUP BY d.province_code""",
    where=DAILY_WHERE.replace("day", "d.day"),
    filters=filters("region", "province", "event_type", prefix="d."),
)
# Where a panel cannot take a variable, its description says so.
HEADLINE = (
    " (A national headline figure from the {view} view, which has no place columns: the"
    " region, province, area and event type variables do not apply.)"
)
NO_AREA = " (Province populations have no rural/urban split: the area variable does not apply.)"
ONLINE_PAYMENTS_ONLY = " (Online payments only: the event type variable does not apply.)"
# Months of Vietnam calendar days, from the daily rollup: the range's first and last months
# may be partial.
MONTHLY_WHERE = sql(
    """
    {daily}
    AND {filters}""",
    daily=DAILY_WHERE,
    filters=filters("region", "province", "event_type", "area"),
)
MONTH = "toDateTime(toStartOfMonth(day), 'Asia/Ho_Chi_Minh') AS time"


def _per_capita(group: str, label: str, order: str = "DESC", limit: str = "") -> str:
    return sql(
        """
        SELECT {label}, sum(province_vnd) / sum(population) AS vnd_per_capita
        FROM (
            {provinces}
        )
        GROUP BY {group}
        ORDER BY vnd_per_capita {order}""",
        label=label,
        provinces=PROVINCE_VALUES,
        group=group,
        order=f"{order} LIMIT {limit}" if limit else order,
    )


def _daily(view: str, columns: str) -> str:
    return sql(
        """
        SELECT toDateTime(day, 'Asia/Ho_Chi_Minh') AS time, {columns}
        FROM {view}
        WHERE {where}
        ORDER BY time""",
        columns=columns,
        view=view,
        where=DAILY_WHERE,
    )


def _monthly_growth() -> str:
    """Each type's count and value a day, month by month, as an index: its first month in the
    range = 100. Why an index: counts (thousands) and values (billions of VND) on one axis
    hide the counts, and the types differ by orders of magnitude; why a day's average: the
    range's first and last months are partial, and a partial month's total would look like
    a collapse."""
    return sql(
        """
        SELECT time, event_type_name,
               100 * events_a_day / first_value(events_a_day) OVER by_type AS count_index,
               100 * value_a_day / first_value(value_a_day) OVER by_type AS value_index
        FROM (
            SELECT {month}, {event_type},
                   sum(events) / uniqExact(day) AS events_a_day,
                   sum(amount_vnd) / uniqExact(day) AS value_a_day
            FROM event_aggregates_daily
            WHERE {where}
            GROUP BY time, event_type_name
        )
        WINDOW by_type AS (PARTITION BY event_type_name ORDER BY time
                           ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
        ORDER BY time, event_type_name""",
        month=MONTH,
        event_type=label_sql("event_type"),
        where=MONTHLY_WHERE,
    )


def _monthly_ticket() -> str:
    return sql(
        """
        SELECT {month}, sum(amount_vnd) / nullIf(sum(events), 0) AS avg_ticket_vnd
        FROM event_aggregates_daily
        WHERE {where}
        AND event_type = 'online_payment'
        AND {filters}
        GROUP BY time
        ORDER BY time""",
        month=MONTH,
        where=DAILY_WHERE,
        filters=filters("region", "province", "area"),
    )


def build(ctx: BuildContext) -> dashboard.Dashboard:
    value_hourly = series_sql(
        "event_aggregates_hourly", "hour", label_sql("event_type"),
        "sum(amount_vnd) AS value_vnd", HOURLY_WHERE,
    )  # fmt: skip
    customers_daily = sql(
        """
        SELECT toDateTime(day, 'Asia/Ho_Chi_Minh') AS time, {event_type},
               uniqMerge(customers) AS active_customers
        FROM event_aggregates_daily
        WHERE {where}
        AND {filters}
        GROUP BY time, event_type_name
        ORDER BY time""",
        event_type=label_sql("event_type"),
        where=DAILY_WHERE,
        filters=filters("region", "province", "event_type", "area"),
    )
    reference = f"{MOBILE_MONEY_RURAL_REFERENCE} AS reference_72pct"
    rural = _daily(
        "mobile_money_rural_daily", f"rural_customer_share, rural_value_share, {reference}"
    )
    cashless = _daily("ecommerce_payments_daily", "cashless_share, cashless_value_share")
    ticket = _daily("online_payment_ticket_daily", "avg_ticket_vnd")
    board = new_dashboard(
        UID,
        "dxpulse · Trends and headline figures",
        "A month of history from the hourly and daily rollups: the questions the national "
        "reports ask, day by day.",
    )
    board = board.time("now-30d", "now").refresh("1m")
    return (
        with_variables(board, ctx, "region", "province", "event_type", "area")
        .with_panel(
            time_series(
                ctx, "Value by event type, hourly", "How does the value flow over the month?",
                value_hourly, "currencyVND", stacked=True, min_interval="1h",
            )
        )
        .with_panel(
            time_series(
                ctx, "Active customers per day", "How many distinct customers a day, by type?",
                customers_daily, "short", min_interval="1d",
            )
        )
        .with_panel(
            fields(
                time_series(
                    ctx, "Mobile Money: rural share of customers and value",
                    "Does Mobile Money keep reaching rural Vietnam (pilot: 72% of customers)?"
                    + HEADLINE.format(view="mobile_money_rural_daily"),
                    rural, "percentunit", min_interval="1d",
                ).min(0).max(1),
                {
                    "rural_customer_share": "Rural share of customers",
                    "rural_value_share": "Rural share of value",
                },
                extra={"reference_72pct": REFERENCE_STYLE},
            )
        )
        .with_panel(
            fields(
                time_series(
                    ctx, "E-commerce: cashless share vs cash on delivery",
                    "What share of orders (and of their value) is paid online rather than in "
                    "cash?" + HEADLINE.format(view="ecommerce_payments_daily"),
                    cashless, "percentunit", min_interval="1d",
                ).min(0).max(1),
                {
                    "cashless_share": "Cashless share of orders",
                    "cashless_value_share": "Cashless share of value",
                },
            )
        )
        .with_panel(
            fields(
                time_series(
                    ctx, "Average online-payment ticket",
                    "Is the average payment shrinking as small QR and e-wallet payments grow?"
                    + HEADLINE.format(view="online_payment_ticket_daily"),
                    ticket, "currencyVND", min_interval="1d",
                ).min(0),
                {"avg_ticket_vnd": "Average ticket"},
            )
        )
        .with_panel(
            fields(
                time_series(
                    ctx, "Average online-payment ticket by month",
                    "Month by month, is the average online payment getting smaller?"
                    + ONLINE_PAYMENTS_ONLY,
                    _monthly_ticket(), "currencyVND", min_interval="1d",
                ).min(0),
                {"avg_ticket_vnd": "Average ticket"},
            )
        )
        .with_panel(
            fields(
                time_series(
                    ctx, "Monthly growth: count and value",
                    "How fast does each event type grow, in count and in value? Its events "
                    "and value a day, month by month, as an index: its first month in the "
                    "range = 100 (a day's average, so partial first and last months compare).",
                    _monthly_growth(), "none", min_interval="1d",
                )
                .min(0),
                {"count_index": "Count (first month = 100)",
                 "value_index": "Value (first month = 100)"},
            )
        )
        .with_panel(
            bar_chart(
                ctx, "Value per capita by region",
                "Which regions spend most digitally per head?" + NO_AREA,
                _per_capita("region", label_sql("region")),
                "currencyVND", "region_name", horizontal=True,
            ).min(0)
        )
        .with_panel(
            bar_chart(
                ctx, "Top 10 provinces by value per capita",
                "Which provinces lead in digital value per head?" + NO_AREA,
                _per_capita("province_code", "any(name_vi) AS province", limit="10"),
                "currencyVND", "province", horizontal=True,
            ).min(0)
        )
        .with_panel(
            bar_chart(
                ctx, "Bottom 10 provinces by value per capita",
                "Which provinces are being left behind?" + NO_AREA,
                _per_capita("province_code", "any(name_vi) AS province", "ASC", "10"),
                "currencyVND", "province", horizontal=True,
            ).min(0)
        )
        .with_panel(
            bar_chart(
                ctx, "Value per capita by 2025 provincial unit",
                "How do the figures look on the 34-unit map in force since 1 July 2025?"
                + NO_AREA,
                _per_capita("unit_2025_code", "any(unit_2025_name) AS unit"),
                "currencyVND", "unit", horizontal=True, width=24,
            ).min(0)
        )
    )
