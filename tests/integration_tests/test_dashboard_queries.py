"""Every dashboard query, expanded as Grafana and the plugin would, runs on real pipeline data.

Data: the real generator, broker and ingest loop put ~20,000 events (plus dead letters and
late events) through Tansu into chDB. Then each panel's SQL is expanded with the time range,
its interval and the template variables — once with every variable on "All", once with one
value each — and run on chDB, as the datasource would with its default database. The
template variables' own queries run the same way to produce their options.

Time: the clock is read once, in the fixture; every time range ends at a reference instant
taken from the data, never at the moment a test happens to run. So a query sees the same
rows at any time of day (a Vietnam midnight between producing and querying would empty
"Today vs yesterday") and however long the tests before it took (the alert lookbacks are
two to ten minutes).
"""

from __future__ import annotations

import io
import math
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import clickhouse_connect
import pytest
from clickhouse_connect.driver.client import Client
from rich.console import Console

from dxpulse.clickhouse import connect, migrate
from dxpulse.core.config import Settings
from dxpulse.dashboards import alerts, build
from dxpulse.dashboards.panels import BuildContext
from dxpulse.producers.generator import EventGenerator
from dxpulse.producers.intensity import VN_TZ
from dxpulse.report.macros import QueryContext, Selection, expand
from dxpulse.report.timerange import as_utc
from dxpulse.schemas.labels import LABELS
from dxpulse.summary import region_table
from dxpulse.topics import ensure_topics
from tests.integration_tests.conftest import RunningIngest, TrackingProducer, isolated_settings

JSON = dict[str, Any]
EVENTS = 20_000
BAD = 40
LATE = 20
STEPS = 20  # the events are made over 20 seconds of event time, ending at `made_at`
# Panels on these tables plot processing time (when the worker flushed or dead-lettered),
# the others event time.
PIPELINE_TABLES = re.compile(r"\b(pipeline_flushes|dead_letters)\b")


@dataclass
class PipelineData:
    settings: Settings
    client: Client  # default database = the test database, as the Grafana datasource has
    made_at: datetime  # the fixture's one reading of the clock: the newest event time
    events_to: datetime  # "now" for panels on events: the newest window's last second
    flushes_to: datetime  # "now" for panels on the pipeline: just after the last flush
    alerts: dict[str, float]  # each alert's value at flushes_to, right after the run

    def end_for(self, sql: str) -> datetime:
        return self.flushes_to if PIPELINE_TABLES.search(sql) else self.events_to


# The module-scoped fixture below is set up once per xdist worker that runs a test of this
# module: the module runs on one worker (bin/test: --dist loadgroup).
pytestmark = pytest.mark.xdist_group("test_dashboard_queries")


@pytest.fixture(scope="module")
def data(
    bootstrap_servers: str, clickhouse_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PipelineData]:
    # Small flushes: the workers start behind and catch up over several flushes.
    settings = isolated_settings(
        bootstrap_servers, clickhouse_dsn, tmp_path_factory.mktemp("dash"), flush_max_events=2_000
    )
    admin = connect(settings)
    migrate(admin, settings.clickhouse.database)
    ensure_topics(settings.kafka)
    # Event times are explicit, relative to one reading of the clock, and on one Vietnam day:
    # a day only seconds old gets all the events after its midnight. The rest of the
    # module's "now"s are read from the data.
    made_at = datetime.now(UTC)
    midnight = datetime.combine(made_at.astimezone(VN_TZ).date(), time(), VN_TZ)
    producer = TrackingProducer(settings)
    gen = EventGenerator(seed=21)
    for step in range(STEPS):
        at = max(made_at - timedelta(seconds=STEPS - 1 - step), midnight)
        for batch in gen.batch(at, EVENTS // STEPS):
            topic = settings.kafka.topic(batch.event_type)
            for key, value in zip(batch.keys, batch.values, strict=True):
                producer.send(topic, key, value)
    late_gen = EventGenerator(seed=22, event_types=("mobile_money",))
    topic = settings.kafka.topic("mobile_money")
    # One partition, in order: the watermark is made_at, then 25-minutes-old events are late.
    producer.send(topic, b"late-key", late_gen.encode(late_gen.event(made_at)))
    for _ in range(LATE):
        old = late_gen.event(made_at - timedelta(minutes=25))
        producer.send(topic, b"late-key", late_gen.encode(old))
    for i in range(BAD):
        producer.send(settings.kafka.topic("online_payment"), None, b"{not json %d" % i)
    producer.flush()
    # Started after production, the workers begin behind: the lag panel has something to show.
    ingest = RunningIngest(settings, admin, threading.Lock()).start()
    snap = ingest.wait_committed(EVENTS + 1 + LATE + BAD)
    ingest.stop()
    assert (snap["dead_lettered"], snap["late"]) == (BAD, LATE)
    client = clickhouse_connect.get_client(
        dsn=settings.clickhouse_dsn(), database=settings.clickhouse.database
    )
    window = settings.stream.window_seconds
    newest_window, last_flush, last_letter = client.query(
        f"SELECT (SELECT max(window_start) FROM event_aggregates WHERE window_seconds = {window}),"
        " (SELECT max(flushed_at) FROM pipeline_flushes),"
        " (SELECT max(ingested_at) FROM dead_letters)"
    ).result_rows[0]
    # Time macros are whole seconds: the last second of the newest window holds it all and
    # is on made_at's Vietnam day; the whole second after the last write holds every flush.
    events_to = as_utc(newest_window) + timedelta(seconds=window - 1)
    last_write = max(as_utc(last_flush), as_utc(last_letter))
    flushes_to = last_write.replace(microsecond=0) + timedelta(seconds=1)
    data = PipelineData(settings, client, made_at, events_to, flushes_to, {})
    # Evaluated here, as Grafana would during the run: freshness is measured against
    # ClickHouse's own now(), so it is fresh only this close to the run.
    for rule in alerts.rules(BuildContext()):
        data.alerts[rule.uid] = _alert_value(client, rule, data.end_for(rule.query))
    yield data
    admin.command(f"DROP DATABASE IF EXISTS {settings.clickhouse.database}")


# -- how Grafana would fill in the variables --------------------------------------------------
def _custom_options(variable: JSON) -> list[str]:
    return [part.split(" : ")[-1].strip() for part in variable["query"].split(",")]


def _context(variables: dict[str, Selection], end: datetime, interval_s: int = 60) -> QueryContext:
    """The last hour up to ``end``, as a dashboard opened at ``end`` queries it."""
    return QueryContext(end - timedelta(hours=1), end, interval_s, variables)


# Variable queries read the provinces table only; they get a fixed, explicit range.
_VARIABLES_AT = datetime(2025, 7, 1, 12, tzinfo=UTC)


def _options(client: Client, variable: JSON, chosen: dict[str, Selection]) -> list[str]:
    if variable["type"] == "custom":
        return _custom_options(variable)
    if variable["type"] == "constant":
        return [variable["query"]]
    sql = expand(variable["query"], _context(chosen, _VARIABLES_AT))
    return [str(row[0]) for row in client.query(sql).result_rows]


def _busiest(client: Client) -> dict[str, str]:
    """One value per variable that certainly has data: the busiest province and its area."""
    region, province, area = client.query(
        "SELECT region, province_code, area FROM events "
        "GROUP BY region, province_code, area ORDER BY count() DESC LIMIT 1"
    ).result_rows[0]
    return {"region": region, "province": province, "area": area, "event_type": "mobile_money"}


def resolve(client: Client, model: JSON, mode: str) -> dict[str, Selection]:
    """Every variable of the dashboard, in order (a variable's query may use earlier ones)."""
    chosen: dict[str, Selection] = {}
    busiest = _busiest(client) if mode == "single" else {}
    for variable in build.variables(model):
        options = _options(client, variable, chosen)
        assert options, f"variable {variable['name']} has no options"
        name = variable["name"]
        if variable["type"] == "constant":
            chosen[name] = Selection((options[0],), multi=False)
        elif mode == "all":
            chosen[name] = Selection(tuple(options), is_all=True)
        else:
            assert busiest[name] in options, f"{busiest[name]} not an option of ${name}"
            chosen[name] = Selection((busiest[name],))
    return chosen


# -- what each panel needs from its result ----------------------------------------------------
def expected_columns(panel: JSON) -> set[str]:
    wanted: set[str] = set()
    if panel["type"] == "timeseries":
        wanted.add("time")
    if panel["type"] == "geomap":
        layer = panel["options"]["layers"][0]
        wanted |= {layer["location"]["latitude"], layer["location"]["longitude"]}
        wanted.add(layer["config"]["style"]["size"]["field"])
    if panel["type"] == "barchart":
        wanted.add(panel["options"]["xField"])
    for override in panel.get("fieldConfig", {}).get("overrides", []):
        if override["matcher"]["id"] == "byName":
            wanted.add(override["matcher"]["options"])
    return wanted


def _numeric(value: object) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _finite(value: object) -> bool:
    return _numeric(value) and math.isfinite(float(value))  # type: ignore[arg-type]


PANELS = [
    (model["uid"], panel["title"])
    for model in build.dashboards(BuildContext())
    for panel in model["panels"]
]


@pytest.mark.parametrize("mode", ["all", "single"])
@pytest.mark.parametrize(("uid", "title"), PANELS)
def test_panel_query_returns_what_the_panel_draws(
    data: PipelineData, uid: str, title: str, mode: str
) -> None:
    model = next(m for m in build.dashboards(BuildContext()) if m["uid"] == uid)
    panel = next(p for p in model["panels"] if p["title"] == title)
    variables = resolve(data.client, model, mode)
    interval_s = 60 if panel.get("interval") == "1m" else 5
    for target in panel["targets"]:
        end = data.end_for(target["rawSql"])
        sql = expand(target["rawSql"], _context(variables, end, interval_s))
        result = data.client.query(sql)
        columns = list(result.column_names)
        assert expected_columns(panel) <= set(columns), (columns, sql)
        rows = result.result_rows
        assert rows, f"no rows:\n{sql}"
        values = [v for row in rows for v in row]
        assert any(_finite(v) for v in values), f"no numbers in {rows[:3]}:\n{sql}"
        if panel["type"] == "timeseries":
            times = [row[columns.index("time")] for row in rows]
            assert all(isinstance(t, datetime) for t in times) and times == sorted(times)
        if mode == "all":
            assert any(_finite(v) and float(v) > 0 for v in values), f"all zero:\n{sql}"


def test_all_and_single_differ_where_a_filter_applies(data: PipelineData) -> None:
    """The filters are live: the busiest province is a fraction of the whole country."""
    model = next(m for m in build.dashboards(BuildContext()) if m["uid"] == "dxpulse-ecommerce")
    panel = next(p for p in model["panels"] if p["title"].startswith("GMV, orders"))
    totals = {}
    for mode in ("all", "single"):
        sql = panel["targets"][0]["rawSql"]
        sql = expand(sql, _context(resolve(data.client, model, mode), data.end_for(sql)))
        totals[mode] = data.client.query(sql).result_rows[0][1]  # orders
    raw_orders = data.client.query(
        "SELECT count() FROM events WHERE event_type = 'ecommerce_order'"
    ).result_rows[0][0]
    assert totals["all"] == raw_orders
    assert 0 < totals["single"] < totals["all"]


def test_mobile_money_rural_share_is_near_the_72_percent_reference(data: PipelineData) -> None:
    model = next(m for m in build.dashboards(BuildContext()) if m["uid"] == "dxpulse-regions")
    panel = next(p for p in model["panels"] if p["title"].startswith("Mobile Money customers"))
    sql = panel["targets"][0]["rawSql"]
    sql = expand(sql, _context(resolve(data.client, model, "all"), data.end_for(sql)))
    (share,) = data.client.query(sql).result_rows[0]
    assert 0.65 < share < 0.79


# -- alert rules ------------------------------------------------------------------------------
def _alert_value(client: Client, rule: alerts.AlertRule, end: datetime) -> float:
    ctx = QueryContext(end - timedelta(seconds=rule.lookback_s), end, 1, {})
    result = client.query(expand(rule.query, ctx))
    assert len(result.column_names) == 1 and len(result.result_rows) == 1, rule.uid
    (value,) = result.result_rows[0]
    assert _finite(value), (rule.uid, value)
    return float(value)


def _fires(rule: alerts.AlertRule, value: float) -> bool:
    return value > rule.threshold if rule.comparison == "gt" else value < rule.threshold


def test_alert_queries_return_one_number_and_stay_quiet_on_a_healthy_run(
    data: PipelineData,
) -> None:
    rules = {r.uid: r for r in alerts.rules(BuildContext())}
    values = data.alerts
    assert set(values) == set(rules)
    assert values["dxpulse-no-events"] == EVENTS + 1 + LATE
    assert values["dxpulse-dead-letter-rate"] == pytest.approx(BAD / (EVENTS + 1 + LATE + BAD))
    assert 0 <= values["dxpulse-freshness"] < 60
    assert values["dxpulse-failure-spike"] >= 0
    assert [uid for uid, rule in rules.items() if _fires(rule, values[uid])] == []


def test_no_events_and_freshness_alerts_fire_when_nothing_arrives(data: PipelineData) -> None:
    rules = {r.uid: r for r in alerts.rules(BuildContext())}
    before_any_data = data.made_at - timedelta(minutes=30)
    for uid in ("dxpulse-no-events", "dxpulse-freshness"):
        value = _alert_value(data.client, rules[uid], before_any_data)
        assert _fires(rules[uid], value), (uid, value)


# -- what people read: names, and the new panels' figures --------------------------------------
# Every code of the label table that differs from its name: none may reach a panel as is.
CODES = {
    code
    for dimension, names in LABELS.items()
    for code, name in names.items()
    if code != name
}


def _run_panel(data: PipelineData, uid: str, title: str, mode: str = "all") -> Any:
    model = next(m for m in build.dashboards(BuildContext()) if m["uid"] == uid)
    panel = next(p for p in model["panels"] if p["title"] == title)
    (target,) = panel["targets"]
    interval_s = 60 if panel.get("interval") == "1m" else 5
    end = data.end_for(target["rawSql"])
    context = _context(resolve(data.client, model, mode), end, interval_s)
    return data.client.query(expand(target["rawSql"], context))


@pytest.mark.parametrize(("uid", "title"), PANELS)
def test_panels_show_names_not_codes(data: PipelineData, uid: str, title: str) -> None:
    result = _run_panel(data, uid, title)
    strings = {v for row in result.result_rows for v in row if isinstance(v, str)}
    assert not strings & CODES, f"codes shown: {sorted(strings & CODES)[:5]}"


def test_the_label_columns_hold_the_label_tables_names(data: PipelineData) -> None:
    # Names, and all of them: every event type and every region of the data is named.
    by_region = _run_panel(data, "dxpulse-regions", "Value by region")
    assert {r[0] for r in by_region.result_rows} == set(LABELS["region"].values())
    rates = _run_panel(data, "dxpulse-overview", "Events per second")
    names = {r[list(rates.column_names).index("event_type_name")] for r in rates.result_rows}
    assert names == set(LABELS["event_type"].values())


def _column_sums(result: Any, skip: str) -> dict[str, float]:
    columns = list(result.column_names)
    return {
        c: sum(float(row[i] or 0) for row in result.result_rows)
        for i, c in enumerate(columns)
        if c != skip
    }


@pytest.mark.parametrize(
    ("uid", "title", "label", "shares"),
    [
        ("dxpulse-ecommerce", "Platform shares", "platform_name", ["order_share", "gmv_share"]),
        ("dxpulse-regions", "Channel mix: rural vs urban", "channel_name", ["urban", "rural"]),
        (
            "dxpulse-regions", "Hà Nội and TP. Hồ Chí Minh vs the other provinces", "provinces",
            ["ecommerce_value_share", "ecommerce_order_share", "all_value_share"],
        ),
    ],
)  # fmt: skip
def test_shares_of_a_whole_add_up_to_one(
    data: PipelineData, uid: str, title: str, label: str, shares: list[str]
) -> None:
    result = _run_panel(data, uid, title)
    sums = _column_sums(result, label)
    assert set(sums) == set(shares)
    for column, total in sums.items():
        assert total == pytest.approx(1.0), column


def test_metropolises_against_the_rest_from_the_raw_events(data: PipelineData) -> None:
    title = "Hà Nội and TP. Hồ Chí Minh vs the other provinces"
    rows = {r[0]: r for r in _run_panel(data, "dxpulse-regions", title).result_rows}
    assert set(rows) == {"Hà Nội and TP. Hồ Chí Minh", "The other 61 provinces"}
    (raw_share,) = data.client.query(
        "SELECT sumIf(amount_vnd, province_code IN ('01', '79')) / sum(amount_vnd) FROM events "
        "WHERE is_late = 0"
    ).result_rows[0]
    assert rows["Hà Nội and TP. Hồ Chí Minh"][3] == pytest.approx(raw_share)


def test_ticket_and_cod_by_area_match_the_raw_events(data: PipelineData) -> None:
    tickets = _run_panel(data, "dxpulse-regions", "Average ticket: rural vs urban")
    columns = list(tickets.column_names)
    row = next(r for r in tickets.result_rows if r[0] == LABELS["event_type"]["mobile_money"])
    (rural_ticket,) = data.client.query(
        "SELECT avg(amount_vnd) FROM events WHERE is_late = 0 AND event_type = 'mobile_money' "
        "AND area = 'rural'"
    ).result_rows[0]
    assert row[columns.index("rural")] == pytest.approx(rural_ticket)
    cod = _run_panel(data, "dxpulse-ecommerce", "Cash on delivery: rural vs urban")
    by_area = {r[0]: r[1] for r in cod.result_rows}
    (rural_cod,) = data.client.query(
        "SELECT countIf(payment_method = 'cod') / count() FROM events "
        "WHERE event_type = 'ecommerce_order' AND area = 'rural'"
    ).result_rows[0]
    assert set(by_area) == set(LABELS["area"].values())
    assert by_area["Rural"] == pytest.approx(rural_cod)


def test_monthly_growth_is_an_index_of_each_types_first_month(data: PipelineData) -> None:
    result = _run_panel(data, "dxpulse-trends", "Monthly growth: count and value")
    columns = list(result.column_names)
    assert columns == ["time", "event_type_name", "count_index", "value_index"]
    (types,) = data.client.query("SELECT uniqExact(event_type) FROM events").result_rows[0]
    # The events are all on one Vietnam day: one month, each type's own first = 100.
    assert len(result.result_rows) == types
    assert {r[1] for r in result.result_rows} <= set(LABELS["event_type"].values())
    assert all(r[2:] == (pytest.approx(100), pytest.approx(100)) for r in result.result_rows)
    ticket = _run_panel(data, "dxpulse-trends", "Average online-payment ticket by month")
    (raw_ticket,) = data.client.query(
        "SELECT avg(amount_vnd) FROM events WHERE is_late = 0 AND event_type = 'online_payment'"
    ).result_rows[0]
    assert ticket.result_rows[-1][1] == pytest.approx(raw_ticket)


def test_freshness_stat_has_no_row_when_the_range_has_no_events(data: PipelineData) -> None:
    uid = "dxpulse-pipeline-health"
    model = next(m for m in build.dashboards(BuildContext()) if m["uid"] == uid)
    panel = next(p for p in model["panels"] if p["title"].startswith("Freshness"))
    sql = panel["targets"][0]["rawSql"]
    variables = resolve(data.client, model, "all")
    before_any_data = data.made_at - timedelta(hours=2)
    empty = data.client.query(expand(sql, _context(variables, before_any_data)))
    assert empty.result_rows == []  # Grafana: "No data", not 1970's ~56 years
    live = data.client.query(expand(sql, _context(variables, data.flushes_to)))
    (freshness_s, *_rest) = live.result_rows[0]
    assert 0 <= freshness_s < 3600


def test_run_summary_names_regions_and_areas(data: PipelineData) -> None:
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(region_table(data.client, data.settings.clickhouse.database))
    text = console.export_text()
    regions = {r[0] for r in data.client.query("SELECT DISTINCT region FROM events").result_rows}
    for code in regions:
        assert LABELS["region"][code] in text
    assert "Rural" in text and "Urban" in text
    assert not {code for code in regions | {"rural", "urban"} if re.search(rf"\b{code}\b", text)}
