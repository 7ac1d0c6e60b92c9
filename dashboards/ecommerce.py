"""3. E-commerce: orders and GMV by platform, status, payment and category."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard

from dxpulse.dashboards.labels import label_sql, quote
from dxpulse.dashboards.panels import (
    MINUTE_ROLLUP_WHERE,
    BuildContext,
    bar_chart,
    bar_gauge,
    fields,
    filters,
    new_dashboard,
    pie_chart,
    series_sql,
    sql,
    stat_panel,
    time_series,
    with_variables,
)
from dxpulse.schemas.labels import LABELS

UID = "dxpulse-ecommerce"
WHERE = MINUTE_ROLLUP_WHERE
COD = LABELS["payment_method"]["cod"]
PAID_ONLINE = "Paid online"


def _totals() -> str:
    return sql(
        """
        SELECT sum(gmv_vnd) AS gmv_total_vnd, sum(orders) AS orders_total,
               gmv_total_vnd / nullIf(orders_total, 0) AS average_order_vnd
        FROM ecommerce_minute
        WHERE {where}""",
        where=WHERE,
    )


def _by(dimension: str, value: str, order: str, limit: str = "") -> str:
    """``value`` per named ``dimension``, ordered by ``order``: the shape of the slices."""
    return sql(
        """
        SELECT {label}, {value}
        FROM ecommerce_minute
        WHERE {where}
        GROUP BY {dimension}_name
        ORDER BY {order}""",
        label=label_sql(dimension),
        value=value,
        where=WHERE,
        dimension=dimension,
        order=f"{order} LIMIT {limit}" if limit else order,
    )


def _cod() -> str:
    return sql(
        """
        SELECT if(payment_method = 'cod', {cod}, {online}) AS payment,
               sum(orders) AS orders
        FROM ecommerce_minute
        WHERE {where}
        GROUP BY payment
        ORDER BY payment""",
        cod=quote(COD),
        online=quote(PAID_ONLINE),
        where=WHERE,
    )


def _platform_shares() -> str:
    return sql(
        """
        SELECT {platform},
               sum(orders) / sum(sum(orders)) OVER () AS order_share,
               sum(gmv_vnd) / sum(sum(gmv_vnd)) OVER () AS gmv_share
        FROM ecommerce_minute
        WHERE {where}
        GROUP BY platform_name
        ORDER BY gmv_share DESC""",
        platform=label_sql("platform"),
        where=WHERE,
    )


def _cod_by_area() -> str:
    # Area is the breakdown: the area variable does not filter it.
    return sql(
        """
        SELECT {area},
               sumIf(orders, payment_method = 'cod') / sum(orders) AS cod_order_share,
               sumIf(gmv_vnd, payment_method = 'cod') / sum(gmv_vnd) AS cod_value_share
        FROM ecommerce_minute
        WHERE $__timeFilter(minute)
        AND {filters}
        GROUP BY area_name
        ORDER BY area_name""",
        area=label_sql("area"),
        filters=filters("region", "province"),
    )


def build(ctx: BuildContext) -> dashboard.Dashboard:
    board = new_dashboard(
        UID,
        "dxpulse · E-commerce",
        "Orders on the top retail platforms (Shopee, TikTok Shop, Lazada, Tiki, Sendo).",
    )
    series = {
        "gmv": series_sql(
            "ecommerce_minute", "minute", label_sql("platform"), "sum(gmv_vnd) AS gmv_vnd", WHERE
        ),
        "orders": series_sql(
            "ecommerce_minute", "minute", label_sql("platform"), "sum(orders) AS orders", WHERE
        ),
    }
    return (
        with_variables(board, ctx, "region", "province", "area")
        .with_panel(
            fields(
                stat_panel(
                    ctx, "GMV, orders and average order", "How big is e-commerce in this range?",
                    _totals(), "currencyVND", width=24,
                ),
                {
                    "gmv_total_vnd": "GMV",
                    "orders_total": "Orders",
                    "average_order_vnd": "Average order",
                },
                units={"orders_total": "short"},  # a count among the VND figures
            )
        )
        .with_panel(
            time_series(
                ctx, "GMV by platform", "Which platforms carry the gross merchandise value?",
                series["gmv"], "currencyVND", stacked=True,
            )
        )
        .with_panel(
            time_series(
                ctx, "Orders by platform", "How many orders does each platform take?",
                series["orders"], "short", stacked=True,
            )
        )
        .with_panel(
            pie_chart(
                ctx, "Order status", "How many orders are delivered, cancelled or returned?",
                _by("order_status", "sum(orders) AS orders", "orders DESC"), "short",
            )
        )
        .with_panel(
            pie_chart(
                ctx, "Cash on delivery vs online payment",
                "How much of e-commerce is still paid in cash at the door?", _cod(), "short",
            )
        )
        .with_panel(
            bar_gauge(
                ctx, "Top categories by GMV", "What do Vietnamese shoppers buy?",
                _by("product_category", "sum(gmv_vnd) AS gmv_vnd", "gmv_vnd DESC", "10"),
                "currencyVND", width=8,
            )
        )
        .with_panel(
            fields(
                bar_chart(
                    ctx, "Platform shares",
                    "What share of orders and of GMV does each platform hold?",
                    _platform_shares(), "percentunit", "platform_name", legend=True,
                ).min(0).max(1),
                {"order_share": "Share of orders", "gmv_share": "Share of GMV"},
            )
        )
        .with_panel(
            fields(
                bar_chart(
                    ctx, "Cash on delivery: rural vs urban",
                    "Do rural shoppers pay cash at the door more often? (Area is the "
                    "breakdown: the area variable does not apply.)",
                    _cod_by_area(), "percentunit", "area_name", legend=True,
                ).min(0).max(1),
                {"cod_order_share": "Share of orders", "cod_value_share": "Share of GMV"},
            )
        )
    )
