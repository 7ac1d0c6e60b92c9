"""What a run left in ClickHouse: a summary by region and area, and exactness checks."""

from __future__ import annotations

from dataclasses import dataclass

from clickhouse_connect.driver.client import Client
from rich.table import Table

from dxpulse.schemas.labels import label

GROUP_KEYS = "event_type, province_code, area, channel"


@dataclass(frozen=True)
class Check:
    name: str
    expected: int
    actual: int

    @property
    def ok(self) -> bool:
        return self.expected == self.actual


def region_table(client: Client, database: str) -> Table:
    result = client.query(
        f"""
        SELECT region, area, sum(events) AS events, sum(successes) AS ok,
               sum(amount_vnd) AS amount
        FROM {database}.event_aggregates
        GROUP BY region, area ORDER BY region, area
        """
    )
    table = Table(title="Events by region and area", show_footer=True)
    table.add_column("Region", footer="Total")
    table.add_column("Area")
    totals = [0, 0, 0]
    rows = result.result_rows
    for row in rows:
        for i in range(3):
            totals[i] += int(row[2 + i])
    table.add_column("Events", justify="right", footer=f"{totals[0]:,}")
    table.add_column("Success %", justify="right", footer=_pct(totals[1], totals[0]))
    table.add_column("Value (billion VND)", justify="right", footer=_bn(totals[2]))
    for region, area, events, ok, amount in rows:
        # Names from the one label table (schemas/labels.py), as the dashboards show them.
        table.add_row(
            label("region", region), label("area", area), f"{events:,}", _pct(ok, events),
            _bn(amount),
        )
    return table


def raw_rows(client: Client, database: str) -> int:
    """Rows in the raw events table; 0 before the first migration created it."""
    (exists,) = client.query(f"EXISTS TABLE {database}.events").result_rows[0]
    if not exists:
        return 0
    return int(client.query(f"SELECT count() FROM {database}.events").result_rows[0][0])


def exactness_checks(
    client: Client, database: str, produced: int | None, rows_before: int = 0
) -> list[Check]:
    """Raw table vs what was produced, and aggregates vs ClickHouse's own GROUP BY of raw.

    ``produced`` is compared with the rows added since the table held ``rows_before`` (an
    earlier run may have left data). Counting rows before and after is exact whatever the
    clocks do, where rows ingested since a start time miscount after a clock step. Every
    other check covers the whole tables, all runs: an event id that collides with an earlier
    run's shows as fewer distinct ids than rows. Late events (past the allowed lateness) are
    compared with the late_events table instead of the aggregates.
    """
    raw_count, distinct_ids, on_time, on_time_amount, late, late_amount = client.query(
        f"""SELECT count(), uniqExact(event_id), countIf(is_late = 0),
                   sumIf(amount_vnd, is_late = 0), countIf(is_late = 1),
                   sumIf(amount_vnd, is_late = 1)
            FROM {database}.events"""
    ).result_rows[0]
    agg_events, agg_amount = client.query(
        f"SELECT sum(events), sum(amount_vnd) FROM {database}.event_aggregates"
    ).result_rows[0]
    late_events, late_events_amount = client.query(
        f"SELECT sum(events), sum(amount_vnd) FROM {database}.late_events"
    ).result_rows[0]
    mismatched = client.query(
        f"""
        SELECT count() FROM (
            SELECT {GROUP_KEYS}, count() AS events, sum(amount_vnd) AS amount,
                   countIf(status = 'success') AS successes, countIf(status = 'failed') AS failures,
                   min(amount_vnd) AS lo, max(amount_vnd) AS hi
            FROM {database}.events WHERE is_late = 0 GROUP BY {GROUP_KEYS}
        ) AS r
        FULL OUTER JOIN (
            SELECT {GROUP_KEYS}, sum(events) AS events, sum(amount_vnd) AS amount,
                   sum(successes) AS successes, sum(failures) AS failures,
                   min(min_amount_vnd) AS lo, max(max_amount_vnd) AS hi
            FROM {database}.event_aggregates GROUP BY {GROUP_KEYS}
        ) AS a USING ({GROUP_KEYS})
        WHERE r.events != a.events OR r.amount != a.amount OR r.successes != a.successes
           OR r.failures != a.failures OR r.lo != a.lo OR r.hi != a.hi
        """,
        settings={"join_use_nulls": 0},
    ).result_rows[0][0]
    checks = []
    checks += rollup_checks(client, database)
    if produced is not None:
        added = int(raw_count) - rows_before
        checks.append(Check("raw rows this run added = valid events it produced", produced, added))
    checks += [
        Check("distinct event_ids = raw rows", int(raw_count), int(distinct_ids)),
        Check("aggregate events = on-time raw rows", int(on_time), int(agg_events or 0)),
        Check("aggregate VND = on-time raw VND", int(on_time_amount or 0), int(agg_amount or 0)),
        Check("late_events = late raw rows", int(late), int(late_events or 0)),
        Check("late VND = late raw VND", int(late_amount or 0), int(late_events_amount or 0)),
        Check("groups differing from GROUP BY over raw", 0, int(mismatched)),
    ]
    return checks


def rollup_checks(client: Client, database: str) -> list[Check]:
    """The dashboards' per-minute rollups (kept by materialized views) against raw events."""
    raw = client.query(
        f"""SELECT countIf(event_type = 'ecommerce_order'),
                   sumIf(amount_vnd, event_type = 'ecommerce_order'),
                   countIf(event_type = 'mobile_money'),
                   sumIf(amount_vnd, event_type = 'mobile_money')
            FROM {database}.events"""
    ).result_rows[0]
    orders, gmv = client.query(
        f"SELECT sum(orders), sum(gmv_vnd) FROM {database}.ecommerce_minute"
    ).result_rows[0]
    transactions, mm_amount = client.query(
        f"SELECT sum(transactions), sum(amount_vnd) FROM {database}.mobile_money_minute"
    ).result_rows[0]
    return [
        Check("e-commerce rollup orders = raw orders", int(raw[0]), int(orders or 0)),
        Check("e-commerce rollup GMV = raw GMV", int(raw[1] or 0), int(gmv or 0)),
        Check("Mobile Money rollup transactions = raw", int(raw[2]), int(transactions or 0)),
        Check("Mobile Money rollup VND = raw VND", int(raw[3] or 0), int(mm_amount or 0)),
        Check(
            "hourly rollup groups differing from aggregates by hour",
            0,
            rollup_mismatches(client, database, "event_aggregates_hourly", "hour"),
        ),
        Check(
            "daily rollup groups differing from aggregates by day",
            0,
            rollup_mismatches(client, database, "event_aggregates_daily", "day"),
        ),
    ]


ROLLUP_PERIODS = {"hour": "toStartOfHour(window_start)", "day": "toDate(window_start)"}
_ROLLUP_KEYS = "event_type, region, province_code, area, channel"


def rollup_mismatches(client: Client, database: str, table: str, period: str) -> int:
    """Groups where an hourly or daily rollup differs from the windowed aggregates summed by
    the same period: every sum, min, max and the merged customer state, compared exactly."""
    values = (
        "sum(events) AS n, sum(successes) AS ok, sum(failures) AS failed, sum(amount_vnd) AS vnd,"
        " sum(success_amount_vnd) AS ok_vnd, min(min_amount_vnd) AS lo,"
        " max(max_amount_vnd) AS hi, uniqMerge(customers) AS customers"
    )
    keys = f"{period}, {_ROLLUP_KEYS}"
    return int(
        client.query(
            f"""
            SELECT count() FROM (
                SELECT {ROLLUP_PERIODS[period]} AS {period}, {_ROLLUP_KEYS}, {values}
                FROM {database}.event_aggregates GROUP BY {keys}
            ) AS w
            FULL OUTER JOIN (
                SELECT {keys}, {values} FROM {database}.{table} GROUP BY {keys}
            ) AS r USING ({keys})
            WHERE (w.n, w.ok, w.failed, w.vnd, w.ok_vnd, w.lo, w.hi, w.customers)
               != (r.n, r.ok, r.failed, r.vnd, r.ok_vnd, r.lo, r.hi, r.customers)
            """,
            settings={"join_use_nulls": 0},
        ).result_rows[0][0]
    )


def checks_table(checks: list[Check]) -> Table:
    table = Table(
        title="Exactness checks",
        caption="each over the whole tables, every run in them, unless it names this run",
    )
    table.add_column("check")
    table.add_column("expected", justify="right")
    table.add_column("actual", justify="right")
    table.add_column("")
    for c in checks:
        mark = "[green]ok[/green]" if c.ok else "[red]MISMATCH[/red]"
        table.add_row(c.name, f"{c.expected:,}", f"{c.actual:,}", mark)
    return table


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}" if whole else "-"


def _bn(vnd: int) -> str:
    return f"{vnd / 1e9:,.2f}"
