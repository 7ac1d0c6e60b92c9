"""Hourly and daily rollups and the headline views, on three whole Vietnam days of history
(and today's part up to now) that went through the real broker and worker into chDB.

The rollups must equal the windowed aggregates summed by hour and by Vietnam day, exactly —
sums, min, max and the merged distinct-customer states — and stay exact when a block is
re-sent. The headline views must equal the same figures computed from raw events.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client

from dxpulse.clickhouse import connect, migrate
from dxpulse.core.config import ClickHouseSettings, Settings
from dxpulse.producers.generator import EventGenerator
from dxpulse.producers.intensity import VN_TZ
from dxpulse.streams.aggregate import AGGREGATE_COLUMNS, AGGREGATE_TABLE
from dxpulse.summary import rollup_checks, rollup_mismatches
from dxpulse.topics import ensure_topics
from tests.integration_tests.conftest import RunningIngest, TrackingProducer, isolated_settings

DAYS = 3
STEP = timedelta(minutes=10)
PER_STEP = 40
BAD = 5
DATA_MODEL = Path(__file__).resolve().parents[2] / "docs" / "data-model.md"


@dataclass
class History:
    settings: Settings
    client: Client
    db: str
    events: int
    whole_days: list[date]  # the Vietnam days the history covers from midnight to midnight


# The module-scoped fixture below is set up once per xdist worker that runs a test of this
# module: the module runs on one worker (bin/test: --dist loadgroup).
pytestmark = pytest.mark.xdist_group("test_rollups")


@pytest.fixture(scope="module")
def history(
    bootstrap_servers: str, clickhouse_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[History]:
    settings = isolated_settings(
        bootstrap_servers, clickhouse_dsn, tmp_path_factory.mktemp("rollups")
    )
    client = connect(settings)
    db = settings.clickhouse.database
    migrate(client, db)
    ensure_topics(settings.kafka)
    # Oldest first, as a backfill sends them: the worker's watermark only moves forward, so
    # no event is late. The history starts at a Vietnam midnight, so its first DAYS days are
    # whole whatever the time of day; today's part is 0 to 24 hours long and ends at `now`,
    # the one reading of the clock (the examples in the docs look at the last hour).
    now = datetime.now(UTC)
    today = now.astimezone(VN_TZ).date()
    whole_days = [today - timedelta(days=DAYS - i) for i in range(DAYS)]
    gen = EventGenerator(seed=31)
    producer = TrackingProducer(settings)
    at = datetime.combine(whole_days[0], time(), VN_TZ).astimezone(UTC)
    sent = 0
    while at < now:
        for batch in gen.batch(at, PER_STEP):
            topic = settings.kafka.topic(batch.event_type)
            for key, value in zip(batch.keys, batch.values, strict=True):
                producer.send(topic, key, value)
            sent += len(batch.values)
        at += STEP
    for i in range(BAD):  # so the dead-letter example has something to show
        producer.send(settings.kafka.topic("online_payment"), None, b'{"bad": %d}' % i)
    producer.flush()
    ingest = RunningIngest(settings, client, threading.Lock()).start()
    snap = ingest.wait_committed(sent + BAD)
    ingest.stop()
    assert (snap["late"], snap["dead_lettered"]) == (0, BAD)
    yield History(settings, client, db, sent, whole_days)
    client.command(f"DROP DATABASE IF EXISTS {db}")


def test_history_spans_several_vietnam_days(history: History) -> None:
    days, hours = history.client.query(
        f"SELECT uniqExact(day), (SELECT uniqExact(hour) FROM {history.db}.event_aggregates_hourly)"
        f" FROM {history.db}.event_aggregates_daily"
    ).result_rows[0]
    assert days >= DAYS
    assert hours >= DAYS * 24


@pytest.mark.parametrize(("table", "period"), [("event_aggregates_hourly", "hour"),
                                               ("event_aggregates_daily", "day")])  # fmt: skip
def test_rollup_equals_windowed_aggregates_summed_by_period(
    history: History, table: str, period: str
) -> None:
    rows, events = history.client.query(
        f"SELECT count(), sum(events) FROM {history.db}.{table}"
    ).result_rows[0]
    assert rows > 0 and events == history.events
    assert rollup_mismatches(history.client, history.db, table, period) == 0


def test_every_rollup_check_passes(history: History) -> None:
    checks = rollup_checks(history.client, history.db)
    assert [c for c in checks if not c.ok] == []
    assert any("daily" in c.name for c in checks)


def test_daily_rollup_uses_vietnam_calendar_days(history: History) -> None:
    # Raw events grouped by their Vietnam date (the column's time zone), not the UTC date.
    rows = history.client.query(
        f"""
        SELECT r.day, r.n, d.n FROM (
            SELECT toDate(event_time) AS day, count() AS n FROM {history.db}.events GROUP BY day
        ) AS r
        FULL OUTER JOIN (
            SELECT day, sum(events) AS n FROM {history.db}.event_aggregates_daily GROUP BY day
        ) AS d USING (day)
        ORDER BY day
        """
    ).result_rows
    assert len(rows) >= DAYS
    assert all(raw == rolled for _, raw, rolled in rows), rows
    utc_days = history.client.query(
        f"SELECT uniqExact(toDate(event_time, 'UTC')) FROM {history.db}.events"
    ).result_rows[0][0]
    midnight = history.client.query(
        f"SELECT countIf(toHour(event_time) < 7) FROM {history.db}.events"
    ).result_rows[0][0]
    assert midnight > 0 and utc_days >= DAYS  # hours 0-6 VN are the previous UTC day


def test_active_customers_merge_across_hours_into_days(history: History) -> None:
    rows = history.client.query(
        f"""
        SELECT e.day, e.event_type, e.exact, d.merged, h.merged FROM (
            SELECT toDate(event_time) AS day, event_type, uniqExact(customer_id) AS exact
            FROM {history.db}.events GROUP BY day, event_type
        ) AS e
        JOIN (
            SELECT day, event_type, uniqMerge(customers) AS merged
            FROM {history.db}.event_aggregates_daily GROUP BY day, event_type
        ) AS d USING (day, event_type)
        JOIN (
            SELECT toDate(hour) AS day, event_type, uniqMerge(customers) AS merged
            FROM {history.db}.event_aggregates_hourly GROUP BY day, event_type
        ) AS h USING (day, event_type)
        """
    ).result_rows
    assert len(rows) >= 3 * DAYS
    for day, etype, exact, daily, from_hours in rows:
        # A customer active in several hours is one customer of the day: merged, not summed.
        assert daily == from_hours, (day, etype)
        assert daily == pytest.approx(exact, rel=0.02), (day, etype)


def test_resent_block_reaches_no_rollup_twice(history: History) -> None:
    db, client = history.db, history.client
    before = _totals(client, db)
    row = [datetime(2024, 5, 1, 9, 30, tzinfo=UTC), 60, "online_payment", "south_east", "79",
           "urban", "web", 3, 3, 0, 9_000, 9_000, 1_000, 5_000, ["Pa", "Pb"]]  # fmt: skip
    for _ in range(2):
        client.insert(
            f"{db}.{AGGREGATE_TABLE}",
            [row],
            column_names=list(AGGREGATE_COLUMNS),
            settings={"insert_deduplication_token": "test-resend:event_aggregates"},
        )
    after = _totals(client, db)
    assert [a - b for a, b in zip(after, before, strict=True)] == [3, 9_000] * 3
    assert rollup_mismatches(client, db, "event_aggregates_hourly", "hour") == 0
    assert rollup_mismatches(client, db, "event_aggregates_daily", "day") == 0
    client.command(f"ALTER TABLE {db}.event_aggregates DELETE WHERE window_start < '2025-01-01'")
    client.command(f"ALTER TABLE {db}.event_aggregates_hourly DELETE WHERE hour < '2025-01-01'")
    client.command(f"ALTER TABLE {db}.event_aggregates_daily DELETE WHERE day < '2025-01-01'")


def _totals(client: Client, db: str) -> list[int]:
    out: list[int] = []
    for table in ("event_aggregates", "event_aggregates_hourly", "event_aggregates_daily"):
        sql = f"SELECT sum(events), sum(amount_vnd) FROM {db}.{table}"
        out += [int(v) for v in client.query(sql).result_rows[0]]
    return out


# --- headline views against raw events ---------------------------------------------------


def test_mobile_money_rural_daily_matches_raw_events(history: History) -> None:
    rows = history.client.query(
        f"""
        SELECT v.day, v.transactions, r.n, v.rural_value_vnd, r.rural_vnd, v.value_vnd, r.vnd,
               v.rural_customers, r.rural_customers, v.rural_customer_share,
               r.rural_customers / r.customers
        FROM {history.db}.mobile_money_rural_daily AS v
        JOIN (
            SELECT toDate(event_time) AS day, count() AS n, sum(amount_vnd) AS vnd,
                   sumIf(amount_vnd, area = 'rural') AS rural_vnd,
                   uniqExactIf(customer_id, area = 'rural') AS rural_customers,
                   uniqExact(customer_id) AS customers
            FROM {history.db}.events WHERE event_type = 'mobile_money' GROUP BY day
        ) AS r USING (day)
        """
    ).result_rows
    assert {row[0] for row in rows} >= set(history.whole_days)
    for day, n, raw_n, rural, raw_rural, vnd, raw_vnd, cust, raw_cust, share, raw_share in rows:
        assert (n, rural, vnd) == (raw_n, raw_rural, raw_vnd), day
        assert cust == pytest.approx(raw_cust, rel=0.02), day
        assert share == pytest.approx(raw_share, rel=0.02), day
        if day in history.whole_days:
            # ~72% rural (S001), on a few hundred customers a whole day; today's part may
            # be minutes long, a handful of customers, and is held to the raw share only.
            assert 0.5 < share < 0.9, day


def test_ecommerce_payments_daily_matches_raw_events(history: History) -> None:
    rows = history.client.query(
        f"""
        SELECT v.day, v.total_orders, r.n, v.cod_orders, r.cod, v.cashless_gmv, r.cashless_gmv,
               v.cashless_share
        FROM {history.db}.ecommerce_payments_daily AS v
        JOIN (
            SELECT toDate(event_time) AS day, count() AS n, countIf(payment_method = 'cod') AS cod,
                   sumIf(amount_vnd, payment_method != 'cod') AS cashless_gmv
            FROM {history.db}.events WHERE event_type = 'ecommerce_order' GROUP BY day
        ) AS r USING (day)
        """
    ).result_rows
    assert len(rows) >= DAYS
    for day, n, raw_n, cod, raw_cod, gmv, raw_gmv, share in rows:
        assert (n, cod, gmv) == (raw_n, raw_cod, raw_gmv), day
        assert share == pytest.approx((n - cod) / n), day


def test_online_payment_ticket_daily_matches_raw_events(history: History) -> None:
    rows = history.client.query(
        f"""
        SELECT v.day, v.payments, v.value_vnd, v.avg_ticket_vnd, r.n, r.vnd
        FROM {history.db}.online_payment_ticket_daily AS v
        JOIN (
            SELECT toDate(event_time) AS day, count() AS n, sum(amount_vnd) AS vnd
            FROM {history.db}.events WHERE event_type = 'online_payment' GROUP BY day
        ) AS r USING (day)
        """
    ).result_rows
    assert len(rows) >= DAYS
    for day, n, vnd, avg, raw_n, raw_vnd in rows:
        assert (n, vnd) == (raw_n, raw_vnd), day
        assert avg == pytest.approx(vnd / n), day


def test_province_views_roll_up_to_regions_and_2025_units(history: History) -> None:
    db, client = history.db, history.client
    by_province = dict(
        client.query(
            f"SELECT province_code, sum(amount_vnd) FROM {db}.events GROUP BY province_code"
        ).result_rows
    )
    ranking = client.query(
        f"SELECT province_code, value_vnd, population, vnd_per_capita, rank_top, rank_bottom "
        f"FROM {db}.province_ranking_30d ORDER BY rank_top"
    ).result_rows
    assert len(ranking) == len(by_province) == 63
    for code, vnd, population, per_capita, top, bottom in ranking:
        assert vnd == by_province[code], code
        assert per_capita == pytest.approx(vnd / population), code
        assert top + bottom == 64, code  # no ties among 63 different per-capita values
    assert [r[4] for r in ranking] == list(range(1, 64))
    per_capita = [r[3] for r in ranking]
    assert per_capita == sorted(per_capita, reverse=True)
    # 34 units after the 2025 merger: every province in exactly one, totals preserved.
    units = client.query(
        f"""SELECT d.unit_2025_code, sum(d.value_vnd), any(u.population)
            FROM {db}.province_daily AS d
            JOIN {db}.provinces_2025 AS u USING (unit_2025_code)
            GROUP BY d.unit_2025_code"""
    ).result_rows
    assert len(units) == 34
    assert sum(int(r[1]) for r in units) == sum(by_province.values())
    assert sum(int(r[2]) for r in units) == 100_309_200


def test_provinces_table_maps_each_code_to_exactly_one_unit(history: History) -> None:
    db, client = history.db, history.client
    codes, units, multi = client.query(
        f"""SELECT count(), uniqExact(unit_2025_code),
                   (SELECT count() FROM (SELECT code FROM {db}.provinces GROUP BY code
                                         HAVING uniqExact(unit_2025_code) != 1))
            FROM {db}.provinces WHERE unit_2025_code != ''"""
    ).result_rows[0]
    assert (codes, units, multi) == (63, 34, 0)
    merged = client.query(
        f"SELECT provinces, arraySort(merged_from) FROM {db}.provinces_2025 "
        "WHERE unit_2025_code = '79'"
    ).result_rows
    assert merged == [(3, sorted(["TP. Hồ Chí Minh", "Bình Dương", "Bà Rịa - Vũng Tàu"]))]


def _doc_queries() -> list[str]:
    return re.findall(r"```sql\n(.*?)```", DATA_MODEL.read_text("utf-8"), flags=re.S)


def test_the_data_model_doc_has_at_least_ten_example_queries() -> None:
    assert len(_doc_queries()) >= 10


@pytest.mark.parametrize("number", range(1, len(_doc_queries()) + 1))
def test_data_model_example_query_runs_and_returns_rows(history: History, number: int) -> None:
    query = _doc_queries()[number - 1]
    default_db = ClickHouseSettings().database
    assert f"{default_db}." in query  # written for the default database, as users run it
    rows = history.client.query(query.replace(f"{default_db}.", f"{history.db}.")).result_rows
    assert rows, f"example {number} returned no rows"
