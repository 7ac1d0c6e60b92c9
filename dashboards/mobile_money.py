"""4. Mobile Money: the transaction mix, rural reach and the agent network."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard

from dxpulse.dashboards.labels import label_sql
from dxpulse.dashboards.panels import (
    MINUTE_ROLLUP_WHERE,
    BuildContext,
    bar_chart,
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

UID = "dxpulse-mobile-money"
WHERE = MINUTE_ROLLUP_WHERE


def rural_share_by_region(reference: float | None = None) -> str:
    """Each region's rural share of Mobile Money customers, with a ``reference`` column when
    given (the Regions dashboard's 72%). Penetration is about people: distinct customers,
    not transactions. Area is the breakdown, so the area variable does not filter it."""
    extra = "" if reference is None else f",\n{reference} AS reference_72pct"
    return sql(
        """
        SELECT {region},
               uniqMergeIf(customers, area = 'rural') / uniqMerge(customers) AS rural_share{extra}
        FROM mobile_money_minute
        WHERE $__timeFilter(minute)
        AND {filters}
        GROUP BY region_name
        ORDER BY rural_share DESC""",
        region=label_sql("region"),
        extra=extra,
        filters=filters("region", "province"),
    )


def build(ctx: BuildContext) -> dashboard.Dashboard:
    mix = sql(
        """
        SELECT {kind}, sum(transactions) AS transactions
        FROM mobile_money_minute
        WHERE {where}
        GROUP BY kind_name
        ORDER BY transactions DESC""",
        kind=label_sql("kind"),
        where=WHERE,
    )
    value_by_kind = series_sql(
        "mobile_money_minute", "minute", label_sql("kind"), "sum(amount_vnd) AS amount_vnd",
        WHERE,
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
    rural_by_region = rural_share_by_region()
    agents = sql(
        """
        SELECT $__timeInterval(minute) AS time, {provider}, uniqMerge(agents) AS active_agents
        FROM mobile_money_minute
        WHERE {where}
        AND kind IN ('cash_in', 'cash_out')
        GROUP BY time, provider_name
        ORDER BY time""",
        provider=label_sql("provider"),
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
            fields(
                stat_panel(
                    ctx, "Agents, customers, transactions, success",
                    "How large and healthy is the Mobile Money network in this range?",
                    headline, "short", width=24,
                ),
                {
                    "active_agents": "Active agents",
                    "customers": "Customers",
                    "transactions_total": "Transactions",
                    "success_rate": "Success rate",
                },
                units={"success_rate": "percentunit"},
            )
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
                "What share of each region's Mobile Money customers are rural? (Area is the "
                "breakdown: the area variable does not apply.)",
                rural_by_region, "percentunit", "region_name", horizontal=True,
            ).min(0).max(1)
        )
        .with_panel(
            time_series(
                ctx, "Active agents", "How many cash-in/cash-out agents are serving customers?",
                agents, "short",
            )
        )
    )

