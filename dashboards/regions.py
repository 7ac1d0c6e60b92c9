"""2. Regions, rural and urban: where the digital economy happens, and who is left behind."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as dm

from dxpulse.dashboards.panels import (
    BuildContext,
    bar_chart,
    filters,
    new_dashboard,
    province_map,
    sql,
    stat_panel,
    time_series,
    with_variables,
)

UID = "dxpulse-regions"
# FACTS.md / docs/calibration.md: 6.3 of 8.8 million Mobile Money customers are rural (MIC).
MOBILE_MONEY_RURAL_REFERENCE = 0.72
REFERENCE_STYLE = [
    dm.DynamicConfigValue(id_val="displayName", value="Pilot reference: 72% rural"),
    dm.DynamicConfigValue(id_val="custom.lineStyle", value={"fill": "dash", "dash": [10, 10]}),
    dm.DynamicConfigValue(id_val="color", value={"mode": "fixed", "fixedColor": "orange"}),
]
AGGREGATES = """
    window_seconds = $window_seconds
  AND $__timeFilter(window_start)"""


def build(ctx: BuildContext) -> dashboard.Dashboard:
    all_filters = filters("region", "province", "area", "event_type")
    # From provinces, so all 63 centroids show, the quiet ones small.
    province_values = sql(
        """
        SELECT p.name_vi AS province, p.region AS region, p.lat AS latitude,
               p.lon AS longitude, v.value_vnd AS value_vnd, v.events AS events
        FROM provinces AS p
        LEFT JOIN (
            SELECT province_code, sum(amount_vnd) AS value_vnd, sum(events) AS events
            FROM event_aggregates
            WHERE {aggregates}
            AND {filters}
            GROUP BY province_code
        ) AS v ON v.province_code = p.code
        WHERE {province_filters}
        ORDER BY value_vnd DESC""",
        aggregates=AGGREGATES,
        filters=filters("area", "event_type"),
        province_filters=filters("region", "province", prefix="p.", columns={"province": "code"}),
    )
    by_region = sql(
        """
        SELECT region, sum(amount_vnd) AS value_vnd
        FROM event_aggregates
        WHERE {aggregates}
        AND {filters}
        GROUP BY region
        ORDER BY value_vnd DESC""",
        aggregates=AGGREGATES,
        filters=all_filters,
    )
    per_capita = sql(
        """
        SELECT a.region AS region, a.events * 1000 / p.population AS events_per_1000_people
        FROM (
            SELECT region, sum(events) AS events
            FROM event_aggregates
            WHERE {aggregates}
            AND {filters}
            GROUP BY region
        ) AS a
        INNER JOIN (
            SELECT region, sum(population) AS population
            FROM provinces
            WHERE {province_filter}
            GROUP BY region
        ) AS p ON p.region = a.region
        ORDER BY events_per_1000_people DESC""",
        aggregates=AGGREGATES,
        filters=all_filters,
        province_filter=filters("province", columns={"province": "code"}),
    )
    rural_urban = sql(
        """
        SELECT channel, sumIf(events, area = 'urban') AS urban,
               sumIf(events, area = 'rural') AS rural
        FROM event_aggregates
        WHERE {aggregates}
        AND {filters}
        GROUP BY channel
        ORDER BY channel""",
        aggregates=AGGREGATES,
        filters=all_filters,
    )
    rural_share = sql(
        """
        SELECT $__timeInterval(minute) AS time,
               uniqMergeIf(customers, area = 'rural') / uniqMerge(customers) AS rural_share,
               {reference} AS reference_72pct
        FROM mobile_money_minute
        WHERE $__timeFilter(minute)
        AND {filters}
        GROUP BY time
        ORDER BY time""",
        reference=str(MOBILE_MONEY_RURAL_REFERENCE),
        filters=filters("region", "province"),
    )
    rural_share_now = sql(
        """
        SELECT uniqMergeIf(customers, area = 'rural') / uniqMerge(customers) AS rural_share
        FROM mobile_money_minute
        WHERE $__timeFilter(minute)
        AND {filters}""",
        filters=filters("region", "province"),
    )
    board = new_dashboard(
        UID,
        "dxpulse · Regions, rural and urban",
        "The 63 provinces and 6 socio-economic regions; the rural/urban gap by channel.",
    )
    return (
        with_variables(board, ctx, "region", "province", "event_type", "area", "window_seconds")
        .with_panel(
            province_map(
                ctx,
                "Value by province",
                "Where does the money flow? (province centroids, sized by VND)",
                province_values,
                "value_vnd",
                "currencyVND",
            )
        )
        .with_panel(
            bar_chart(
                ctx, "Value by region", "Which socio-economic regions carry the most value?",
                by_region, "currencyVND", "region", horizontal=True,
            )
        )
        .with_panel(
            bar_chart(
                ctx, "Events per 1,000 people", "Where is digital adoption deepest per head?",
                per_capita, "short", "region", horizontal=True,
            )
        )
        .with_panel(
            bar_chart(
                ctx, "Rural vs urban by channel", "How do rural and urban users pay, by channel?",
                rural_urban, "short", "channel", stacking=common.StackingMode.PERCENT,
            )
        )
        .with_panel(
            stat_panel(
                ctx, "Mobile Money customers who are rural",
                "Does Mobile Money reach rural Vietnam as the pilot does (~72%)?",
                rural_share_now, "percentunit",
            )
        )
        .with_panel(
            time_series(
                ctx, "Mobile Money rural share vs 72% reference",
                "Is the rural share of Mobile Money customers holding at the pilot's 72%?",
                rural_share, "percentunit", width=6,
            ).override_by_name("reference_72pct", REFERENCE_STYLE)
        )
    )
