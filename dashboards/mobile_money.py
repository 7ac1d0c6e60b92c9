"""4. Mobile Money: the transaction mix, rural reach and the agent network."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard
from grafana_foundation_sdk.models import dashboard as dashboard_models

from dxpulse.dashboards.panels import (
    MINUTE_ROLLUP_WHERE,
    BuildContext,
    bar_chart,
    filters,
    new_dashboard,
    pie_chart,
    series_sql,
    sql,
    stat_panel,
    time_series,
    with_variables,
)

UID = "dxpulse-mobile-money"
PERCENT = [dashboard_models.DynamicConfigValue(id_val="unit", value="percentunit")]
WHERE = MINUTE_ROLLUP_WHERE


def build(ctx: BuildContext) -> dashboard.Dashboard:
    mix = sql(
        """
        SELECT kind, sum(transactions) AS transactions
        FROM mobile_money_minute
        WHERE {where}
        GROUP BY kind
        ORDER BY transactions DESC""",
        where=WHERE,
    )
    value_by_kind = series_sql(
        "mobile_money_minute", "minute", "kind", "sum(amount_vnd) AS amount_vnd", WHERE
    )
    headline = sql(
        """
        SELECT uniqMerge(agents) AS active_agents, uniqMerge(customers) AS customers,
               sum(transactions) AS transactions_total,
               sum(successes) / nullIf(transactions_total, 0) AS success_rate
        FROM mobile_money_minute
        WHERE {where}""",
        where=WHERE,
    )
    # Penetration is about people: distinct customers, not transactions. Area is the
    # breakdown here, so the area variable does not filter it.
    rural_by_region = sql(
        """
        SELECT region,
               uniqMergeIf(customers, area = 'rural') / uniqMerge(customers) AS rural_share
        FROM mobile_money_minute
        WHERE $__timeFilter(minute)
        AND {filters}
        GROUP BY region
        ORDER BY rural_share DESC""",
        filters=filters("region", "province"),
    )
    agents = sql(
        """
        SELECT $__timeInterval(minute) AS time, provider, uniqMerge(agents) AS active_agents
        FROM mobile_money_minute
        WHERE {where}
        AND kind IN ('cash_in', 'cash_out')
        GROUP BY time, provider
        ORDER BY time""",
        where=WHERE,
    )
    board = new_dashboard(
        UID,
        "dxpulse · Mobile Money",
        "Viettel Money, VNPT Money and MobiFone Money: what people do, and where.",
    )
    return (
        with_variables(board, ctx, "region", "province", "area")
        .with_panel(
            stat_panel(
                ctx, "Agents, customers, transactions, success",
                "How large and healthy is the Mobile Money network in this range?",
                headline, "short", width=24,
            ).override_by_name("success_rate", PERCENT)
        )
        .with_panel(
            pie_chart(
                ctx, "Transaction mix",
                "Cash-in, cash-out, P2P, bills, merchants or airtime: what is it used for?",
                mix, "short",
            )
        )
        .with_panel(
            time_series(
                ctx, "Value by kind", "How much money moves through each kind of transaction?",
                value_by_kind, "currencyVND", stacked=True, width=16,
            )
        )
        .with_panel(
            bar_chart(
                ctx, "Rural penetration by region",
                "What share of each region's Mobile Money customers are rural?",
                rural_by_region, "percentunit", "region", horizontal=True,
            )
        )
        .with_panel(
            time_series(
                ctx, "Active agents", "How many cash-in/cash-out agents are serving customers?",
                agents, "short",
            )
        )
    )

