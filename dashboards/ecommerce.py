"""3. E-commerce: orders and GMV by platform, status, payment and category."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard

from dxpulse.dashboards.panels import (
    MINUTE_ROLLUP_WHERE,
    BuildContext,
    bar_gauge,
    new_dashboard,
    pie_chart,
    series_sql,
    sql,
    stat_panel,
    time_series,
    with_variables,
)

UID = "dxpulse-ecommerce"
WHERE = MINUTE_ROLLUP_WHERE


def build(ctx: BuildContext) -> dashboard.Dashboard:
    gmv_by_platform = series_sql(
        "ecommerce_minute", "minute", "platform", "sum(gmv_vnd) AS gmv_vnd", WHERE
    )
    orders_by_platform = series_sql(
        "ecommerce_minute", "minute", "platform", "sum(orders) AS orders", WHERE
    )
    totals = sql(
        """
        SELECT sum(gmv_vnd) AS gmv_total_vnd, sum(orders) AS orders_total,
               gmv_total_vnd / nullIf(orders_total, 0) AS average_order_vnd
        FROM ecommerce_minute
        WHERE {where}""",
        where=WHERE,
    )
    status = sql(
        """
        SELECT order_status, sum(orders) AS orders
        FROM ecommerce_minute
        WHERE {where}
        GROUP BY order_status
        ORDER BY orders DESC""",
        where=WHERE,
    )
    cod = sql(
        """
        SELECT if(payment_method = 'cod', 'cash on delivery', 'paid online') AS payment,
               sum(orders) AS orders
        FROM ecommerce_minute
        WHERE {where}
        GROUP BY payment
        ORDER BY payment""",
        where=WHERE,
    )
    categories = sql(
        """
        SELECT product_category, sum(gmv_vnd) AS gmv_vnd
        FROM ecommerce_minute
        WHERE {where}
        GROUP BY product_category
        ORDER BY gmv_vnd DESC
        LIMIT 10""",
        where=WHERE,
    )
    board = new_dashboard(
        UID,
        "dxpulse · E-commerce",
        "Orders on the top retail platforms (Shopee, TikTok Shop, Lazada, Tiki, Sendo).",
    )
    return (
        with_variables(board, ctx, "region", "province", "area")
        .with_panel(
            stat_panel(
                ctx, "GMV, orders and average order", "How big is e-commerce in this range?",
                totals, "short", width=24,
            )
        )
        .with_panel(
            time_series(
                ctx, "GMV by platform", "Which platforms carry the gross merchandise value?",
                gmv_by_platform, "currencyVND", stacked=True,
            )
        )
        .with_panel(
            time_series(
                ctx, "Orders by platform", "How many orders does each platform take?",
                orders_by_platform, "short", stacked=True,
            )
        )
        .with_panel(
            pie_chart(
                ctx, "Order status", "How many orders are delivered, cancelled or returned?",
                status, "short",
            )
        )
        .with_panel(
            pie_chart(
                ctx, "Cash on delivery vs online payment",
                "How much of e-commerce is still paid in cash at the door?", cod, "short",
            )
        )
        .with_panel(
            bar_gauge(
                ctx, "Top categories by GMV", "What do Vietnamese shoppers buy?",
                categories, "currencyVND", width=8,
            )
        )
    )
