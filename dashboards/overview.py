"""1. Digital economy overview: how much is flowing, how well, compared with yesterday."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard

from dxpulse.dashboards.labels import label_sql
from dxpulse.dashboards.panels import (
    BuildContext,
    fields,
    filters,
    new_dashboard,
    series_sql,
    sql,
    stat_panel,
    table_panel,
    time_series,
    with_variables,
)
from dxpulse.schemas.events import EVENT_TYPES
from dxpulse.schemas.labels import LABELS

UID = "dxpulse-overview"
ALL_FILTERS = filters("region", "province", "area", "event_type")
WHERE = sql(
    """
    window_seconds = $window_seconds
  AND $__timeFilter(window_start)
  AND {filters}""",
    filters=ALL_FILTERS,
)


TODAY = "toStartOfDay($__toTime, 'Asia/Ho_Chi_Minh')"
# {{t}} is filled per event type by _per_type.
RATIO = "sumIf({num}, event_type = '{{t}}') / nullIf(sumIf(events, event_type = '{{t}}'), 0)"


TODAY_VS_YESTERDAY_HEADERS = {
    "event_type_name": "Event type",
    "events_today": "Events today",
    "events_yesterday": "Events yesterday, same time",
    "vnd_today": "Value today",
    "vnd_yesterday": "Value yesterday, same time",
    "vnd_change": "Value change",
}


def _per_type(expression: str) -> str:
    """One column per event type: a stat panel shows each as its own big number."""
    return ",\n".join(expression.format(t=t) + f" AS {t}" for t in EVENT_TYPES)


def build(ctx: BuildContext) -> dashboard.Dashboard:
    success = """
        SELECT {columns}
        FROM event_aggregates
        WHERE {where}"""
    ticket = """
        SELECT {columns}
        FROM event_aggregates
        WHERE {where}"""
    # "Today" is the Vietnamese calendar day of the range's end; yesterday is compared up to
    # the same time of day, so the numbers are like for like.
    today_vs_yesterday = """
        SELECT {event_type},
               sumIf(events, window_start >= {today}) AS events_today,
               sumIf(events, window_start < {today}) AS events_yesterday,
               sumIf(amount_vnd, window_start >= {today}) AS vnd_today,
               sumIf(amount_vnd, window_start < {today}) AS vnd_yesterday,
               if(vnd_yesterday > 0, vnd_today / vnd_yesterday - 1, NULL) AS vnd_change
        FROM event_aggregates
        WHERE window_seconds = $window_seconds
        AND window_start >= {today} - INTERVAL 1 DAY
        AND window_start < $__toTime
        AND (window_start >= {today} OR window_start < $__toTime - INTERVAL 1 DAY)
        AND {filters}
        GROUP BY event_type_name
        ORDER BY event_type_name"""
    events_rate = series_sql(
        "event_aggregates", "window_start", label_sql("event_type"),
        "sum(events) / $__interval_s AS events_per_s", WHERE,
    )
    value_rate = series_sql(
        "event_aggregates", "window_start", label_sql("event_type"),
        "sum(amount_vnd) / $__interval_s AS vnd_per_s", WHERE,
    )
    success = sql(success, columns=_per_type(RATIO.format(num="successes")), where=WHERE)
    ticket = sql(ticket, columns=_per_type(RATIO.format(num="amount_vnd")), where=WHERE)
    today_vs_yesterday = sql(
        today_vs_yesterday, event_type=label_sql("event_type"), today=TODAY, filters=ALL_FILTERS
    )
    # The stats' columns are the event type codes: each big number titled by its name.
    per_type_names = dict(LABELS["event_type"])
    board = new_dashboard(
        UID,
        "dxpulse · Digital economy overview",
        "Online payments, e-commerce orders and Mobile Money across Vietnam, live.",
    )
    return (
        with_variables(board, ctx, "region", "province", "event_type", "area", "window_seconds")
        .with_panel(
            fields(
                stat_panel(
                    ctx,
                    "Success rate",
                    "What share of transactions succeed, per event type?",
                    success,
                    "percentunit",
                    width=12,
                ).min(0).max(1),
                per_type_names,
            )
        )
        .with_panel(
            fields(
                stat_panel(
                    ctx,
                    "Average ticket",
                    "How large is the average transaction, per event type?",
                    ticket,
                    "currencyVND",
                    width=12,
                ).min(0),
                per_type_names,
            )
        )
        .with_panel(
            time_series(
                ctx, "Events per second", "How many events per second, by type?",
                events_rate, "ops",
            )
        )
        .with_panel(
            time_series(
                ctx, "Value per second (VND/s)", "How much money moves per second, by type?",
                value_rate, "currencyVND",
            )
        )
        .with_panel(
            fields(
                table_panel(
                    ctx,
                    "Today vs yesterday",
                    "Are we ahead of yesterday at the same time of day?",
                    today_vs_yesterday,
                    width=24,
                ),
                TODAY_VS_YESTERDAY_HEADERS,
                # A ratio (0.15 for +15%): percentunit shows it as 15%.
                units={
                    "vnd_today": "currencyVND",
                    "vnd_yesterday": "currencyVND",
                    "vnd_change": "percentunit",
                },
            )
        )
    )
