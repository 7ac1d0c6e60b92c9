"""2. Regions, rural and urban: where the digital economy happens, and who is left behind."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as dm

from dxpulse.dashboards.labels import label_sql, quote
from dxpulse.dashboards.mobile_money import rural_share_by_region
from dxpulse.dashboards.panels import (
    BuildContext,
    bar_chart,
    fields,
    filters,
    new_dashboard,
    province_map,
    sql,
    stat_panel,
    time_series,
    with_variables,
)
from dxpulse.schemas.labels import LABELS
from dxpulse.schemas.provinces import TWO_CITIES

UID = "dxpulse-regions"
# S001 in docs/calibration.md: "Sơ kết 6 tháng đầu năm 2024 về chuyển đổi số quốc gia và Đề
# án 06 của Chính phủ" (10 Jul 2024): 6.3 of 8.8 million Mobile Money customers are rural.
MOBILE_MONEY_RURAL_REFERENCE = 0.72
REFERENCE_NAME = "Pilot reference: 72% rural"
REFERENCE_STYLE = [
    dm.DynamicConfigValue(id_val="displayName", value=REFERENCE_NAME),
    dm.DynamicConfigValue(id_val="custom.lineStyle", value={"fill": "dash", "dash": [10, 10]}),
    dm.DynamicConfigValue(id_val="color", value={"mode": "fixed", "fixedColor": "orange"}),
]
# On bars, the reference is a bar of its own, in the reference line's colour.
BAR_REFERENCE_STYLE = [REFERENCE_STYLE[0], REFERENCE_STYLE[2]]
AGGREGATES = """
    window_seconds = $window_seconds
  AND $__timeFilter(window_start)"""
# The two metropolises (GSO codes): Hà Nội and TP. Hồ Chí Minh, named from the label table.
METROPOLISES = TWO_CITIES
AREA_NAMES = dict(LABELS["area"])


ALL_FILTERS = filters("region", "province", "area", "event_type")
# Area is the breakdown of the rural/urban panels: the area variable does not filter them.
PLACE_FILTERS = filters("region", "province", "event_type")


def _province_values() -> str:
    # From provinces, so all 63 centroids show, the quiet ones small.
    return sql(
        """
        SELECT p.name_vi AS province, {region}, p.lat AS latitude,
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
        region=label_sql("region", column="p.region"),
        aggregates=AGGREGATES,
        filters=filters("area", "event_type"),
        province_filters=filters("region", "province", prefix="p.", columns={"province": "code"}),
    )


def _by_region() -> str:
    return sql(
        """
        SELECT {region}, sum(amount_vnd) AS value_vnd
        FROM event_aggregates
        WHERE {aggregates}
        AND {filters}
        GROUP BY region_name
        ORDER BY value_vnd DESC""",
        region=label_sql("region"),
        aggregates=AGGREGATES,
        filters=ALL_FILTERS,
    )


def _per_capita() -> str:
    return sql(
        """
        SELECT {region}, a.events * 1000 / p.population AS events_per_1000_people
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
        region=label_sql("region", column="a.region"),
        aggregates=AGGREGATES,
        filters=ALL_FILTERS,
        province_filter=filters("province", columns={"province": "code"}),
    )


def _rural_urban_by_channel() -> str:
    return sql(
        """
        SELECT {channel}, sumIf(events, area = 'urban') AS urban,
               sumIf(events, area = 'rural') AS rural
        FROM event_aggregates
        WHERE {aggregates}
        AND {filters}
        GROUP BY channel_name
        ORDER BY channel_name""",
        channel=label_sql("channel"),
        aggregates=AGGREGATES,
        filters=PLACE_FILTERS,
    )


def _channel_mix() -> str:
    # Each channel's events over all of the area's events: each area's bars sum to 100%.
    return sql(
        """
        SELECT {channel},
               sumIf(events, area = 'urban') / sum(sumIf(events, area = 'urban')) OVER ()
                   AS urban,
               sumIf(events, area = 'rural') / sum(sumIf(events, area = 'rural')) OVER ()
                   AS rural
        FROM event_aggregates
        WHERE {aggregates}
        AND {filters}
        GROUP BY channel_name
        ORDER BY channel_name""",
        channel=label_sql("channel"),
        aggregates=AGGREGATES,
        filters=PLACE_FILTERS,
    )


def _ticket_by_area() -> str:
    return sql(
        """
        SELECT {event_type},
               sumIf(amount_vnd, area = 'urban') / nullIf(sumIf(events, area = 'urban'), 0)
                   AS urban,
               sumIf(amount_vnd, area = 'rural') / nullIf(sumIf(events, area = 'rural'), 0)
                   AS rural
        FROM event_aggregates
        WHERE {aggregates}
        AND {filters}
        GROUP BY event_type_name
        ORDER BY event_type_name""",
        event_type=label_sql("event_type"),
        aggregates=AGGREGATES,
        filters=PLACE_FILTERS,
    )


def _metropolises() -> str:
    """Shares held by Hà Nội and TP. Hồ Chí Minh against the other 61 provinces. The region
    and province variables do not filter it: the comparison is always the whole country."""
    codes = ", ".join(quote(code) for code in METROPOLISES)
    names = " and ".join(LABELS["province_code"][code] for code in METROPOLISES)
    others = f"The other {len(LABELS['province_code']) - len(METROPOLISES)} provinces"
    return sql(
        """
        SELECT if(province_code IN ({codes}), {names}, {others}) AS provinces,
               sumIf(amount_vnd, event_type = 'ecommerce_order')
                   / sum(sumIf(amount_vnd, event_type = 'ecommerce_order')) OVER ()
                   AS ecommerce_value_share,
               sumIf(events, event_type = 'ecommerce_order')
                   / sum(sumIf(events, event_type = 'ecommerce_order')) OVER ()
                   AS ecommerce_order_share,
               sum(amount_vnd) / sum(sum(amount_vnd)) OVER () AS all_value_share
        FROM event_aggregates
        WHERE {aggregates}
        AND {filters}
        GROUP BY provinces
        ORDER BY provinces""",
        codes=codes,
        names=quote(names),
        others=quote(others),
        aggregates=AGGREGATES,
        filters=filters("area"),
    )


def _mobile_money_rural_by_region() -> str:
    return rural_share_by_region(MOBILE_MONEY_RURAL_REFERENCE)


def _rural_share() -> str:
    return sql(
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


def _rural_share_now() -> str:
    return sql(
        """
        SELECT uniqMergeIf(customers, area = 'rural') / uniqMerge(customers) AS rural_share
        FROM mobile_money_minute
        WHERE $__timeFilter(minute)
        AND {filters}""",
        filters=filters("region", "province"),
    )


RURAL_SHARE = {"rural_share": "Rural share of customers"}
NO_AREA = " (The area variable does not apply: area is the breakdown.)"
NO_AREA_OR_TYPE = (
    " (Mobile Money only, and area is the breakdown: the event type and area variables do"
    " not apply.)"
)


def build(ctx: BuildContext) -> dashboard.Dashboard:
    board = new_dashboard(
        UID,
        "dxpulse · Regions, rural and urban",
        "The 63 provinces and 6 socio-economic regions; the rural/urban gap by channel.",
    )
    board = with_variables(board, ctx, "region", "province", "event_type", "area", "window_seconds")
    # Rows of 24 columns, each row's panels the same height: no holes in the grid.
    return (
        board.with_panel(
            province_map(
                ctx,
                "Value by province",
                "Where does the money flow? (province centroids, sized by VND)",
                _province_values(),
                "value_vnd",
                "currencyVND",
            )
        )
        .with_panel(
            bar_chart(
                ctx,
                "Value by region",
                "Which socio-economic regions carry the most value?",
                _by_region(),
                "currencyVND",
                "region_name",
                horizontal=True,
                height=16,
            ).min(0)
        )
        .with_panel(
            bar_chart(
                ctx,
                "Events per 1,000 people",
                "Where is digital adoption deepest per head?",
                _per_capita(),
                "short",
                "region_name",
                horizontal=True,
            ).min(0)
        )
        .with_panel(
            fields(
                bar_chart(
                    ctx,
                    "Rural vs urban by channel",
                    "How do rural and urban users pay, by channel?" + NO_AREA,
                    _rural_urban_by_channel(),
                    "short",
                    "channel_name",
                    stacking=common.StackingMode.PERCENT,
                    legend=True,
                ),
                AREA_NAMES,
            )
        )
        .with_panel(
            fields(
                bar_chart(
                    ctx,
                    "Channel mix: rural vs urban",
                    "Which channels do rural and urban users choose? Each area's bars sum to "
                    "100%." + NO_AREA,
                    _channel_mix(),
                    "percentunit",
                    "channel_name",
                    legend=True,
                )
                .min(0)
                .max(1),
                AREA_NAMES,
            )
        )
        .with_panel(
            fields(
                bar_chart(
                    ctx,
                    "Average ticket: rural vs urban",
                    "Do rural customers pay smaller amounts, per event type?" + NO_AREA,
                    _ticket_by_area(),
                    "currencyVND",
                    "event_type_name",
                    legend=True,
                ).min(0),
                AREA_NAMES,
            )
        )
        .with_panel(
            fields(
                bar_chart(
                    ctx,
                    "Hà Nội and TP. Hồ Chí Minh vs the other provinces",
                    "How concentrated is the digital economy in the two metropolises? Shares "
                    "of the whole country: the region, province and event type variables do "
                    "not apply.",
                    _metropolises(),
                    "percentunit",
                    "provinces",
                    legend=True,
                )
                .min(0)
                .max(1),
                {
                    "ecommerce_value_share": "E-commerce value",
                    "ecommerce_order_share": "E-commerce orders",
                    "all_value_share": "All value",
                },
            )
        )
        .with_panel(
            fields(
                bar_chart(
                    ctx,
                    "Mobile Money rural share by region",
                    "What share of each region's Mobile Money customers are rural, against "
                    "the national 72% (6.3 of 8.8 million customers; S001, 10 Jul 2024, "
                    "docs/calibration.md)?" + NO_AREA_OR_TYPE,
                    _mobile_money_rural_by_region(),
                    "percentunit",
                    "region_name",
                    legend=True,
                )
                .min(0)
                .max(1),
                RURAL_SHARE,
                extra={"reference_72pct": BAR_REFERENCE_STYLE},
            )
        )
        .with_panel(
            fields(
                stat_panel(
                    ctx,
                    "Mobile Money customers who are rural",
                    "Does Mobile Money reach rural Vietnam as the pilot does (~72%)?"
                    + NO_AREA_OR_TYPE,
                    _rural_share_now(),
                    "percentunit",
                    width=6,
                    height=8,
                )
                .min(0)
                .max(1),
                RURAL_SHARE,
            )
        )
        .with_panel(
            fields(
                time_series(
                    ctx,
                    "Mobile Money rural share vs 72% reference",
                    "Is the rural share of Mobile Money customers holding at the pilot's 72%?"
                    + NO_AREA_OR_TYPE,
                    _rural_share(),
                    "percentunit",
                    width=18,
                )
                .min(0)
                .max(1),
                RURAL_SHARE,
                extra={"reference_72pct": REFERENCE_STYLE},
            )
        )
    )
