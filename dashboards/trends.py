"""6. Trends and headline figures: a month of history from the hourly and daily rollups and the
headline views (deploy/clickhouse/008_rollups.sql, 009_headline_views.sql)."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard

from dxpulse.dashboards.panels import (
    BuildContext,
    bar_chart,
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
    filters=filters("region", "event_type", prefix="d."),
)


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


def build(ctx: BuildContext) -> dashboard.Dashboard:
    value_hourly = series_sql(
        "event_aggregates_hourly", "hour", "event_type", "sum(amount_vnd) AS value_vnd",
        HOURLY_WHERE,
    )  # fmt: skip
    customers_daily = sql(
        """
        SELECT toDateTime(day, 'Asia/Ho_Chi_Minh') AS time, event_type,
               uniqMerge(customers) AS active_customers
        FROM event_aggregates_daily
        WHERE {where}
        AND {filters}
        GROUP BY time, event_type
        ORDER BY time""",
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
            time_series(
                ctx, "Mobile Money: rural share of customers and value",
                "Does Mobile Money keep reaching rural Vietnam (pilot: 72% of customers)?",
                rural, "percentunit", min_interval="1d",
            ).override_by_name("reference_72pct", REFERENCE_STYLE)
        )
        .with_panel(
            time_series(
                ctx, "E-commerce: cashless share vs cash on delivery",
                "What share of orders (and of their value) is paid online rather than in cash?",
                cashless, "percentunit", min_interval="1d",
            )
        )
        .with_panel(
            time_series(
                ctx, "Average online-payment ticket",
                "Is the average payment shrinking as small QR and e-wallet payments grow?",
                ticket, "currencyVND", min_interval="1d",
            )
        )
        .with_panel(
            bar_chart(
                ctx, "Value per capita by region", "Which regions spend most digitally per head?",
                _per_capita("region", "region"), "currencyVND", "region", horizontal=True,
            )
        )
        .with_panel(
            bar_chart(
                ctx, "Top 10 provinces by value per capita",
                "Which provinces lead in digital value per head?",
                _per_capita("province_code", "any(name_vi) AS province", limit="10"),
                "currencyVND", "province", horizontal=True,
            )
        )
        .with_panel(
            bar_chart(
                ctx, "Bottom 10 provinces by value per capita",
                "Which provinces are being left behind?",
                _per_capita("province_code", "any(name_vi) AS province", "ASC", "10"),
                "currencyVND", "province", horizontal=True,
            )
        )
        .with_panel(
            bar_chart(
                ctx, "Value per capita by 2025 provincial unit",
                "How do the figures look on the 34-unit map in force since 1 July 2025?",
                _per_capita("unit_2025_code", "any(unit_2025_name) AS unit"),
                "currencyVND", "unit", horizontal=True, width=24,
            )
        )
    )
