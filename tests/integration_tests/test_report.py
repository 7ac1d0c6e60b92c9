"""`dxpulse report` on real pipeline data: every chart from its panel's own SQL.

Data: the real producer (a history backfill: HISTORY_DAYS days up to now, so the default
30-day range, the growth against the 30 days before and the night-time share buckets are
all exercised) and the ingest loop put EVENTS events through Tansu into chDB (the session's
one chDB path, a database of its own). The command runs in-process, as a user
runs it, and the page it writes is checked against the dashboards: each section's SQL is
the panel's SQL expanded independently (the dashboard query test's variable resolution),
and running it again gives the rows the section reports.
"""

from __future__ import annotations

import base64
import html
import io
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import clickhouse_connect
import pytest
from clickhouse_connect.driver.client import Client
from PIL import Image

from dxpulse import cli
from dxpulse.clickhouse import connect, migrate
from dxpulse.commands import common
from dxpulse.core.config import Settings
from dxpulse.dashboards import build
from dxpulse.producers.backfill import plan_backfill
from dxpulse.producers.generator import EventGenerator
from dxpulse.producers.producer import produce_backfill
from dxpulse.report.macros import QueryContext, expand
from dxpulse.report.selection import SELECTION
from dxpulse.report.timerange import VN_TZ
from dxpulse.schemas.labels import LABELS
from dxpulse.topics import ensure_topics
from tests.integration_tests.conftest import RunningIngest, isolated_settings
from tests.integration_tests.test_dashboard_queries import resolve

EVENTS = 40_000
HISTORY_DAYS = 62  # two 30-day periods for the growth headline, and a partial first day
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_SECTION = re.compile(r"<section (?P<attrs>[^>]*)>(?P<body>.*?)</section>", re.S)
_ATTR = re.compile(r'([\w-]+)="([^"]*)"')


@dataclass
class PipelineData:
    settings: Settings
    client: Client  # default database = the test database, as the report's client has


# The module-scoped fixture below is set up once per xdist worker that runs a test of this
# module: the module runs on one worker (bin/test: --dist loadgroup).
pytestmark = pytest.mark.xdist_group("test_report")


@pytest.fixture(scope="module")
def data(
    bootstrap_servers: str, clickhouse_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PipelineData]:
    settings = isolated_settings(bootstrap_servers, clickhouse_dsn, tmp_path_factory.mktemp("rep"))
    admin = connect(settings)
    migrate(admin, settings.clickhouse.database)
    ensure_topics(settings.kafka)
    plan = plan_backfill(HISTORY_DAYS * 86_400, EVENTS, seed=31)
    assert produce_backfill(settings, EventGenerator(seed=31), plan).delivered == EVENTS
    ingest = RunningIngest(settings, admin, threading.Lock()).start()
    ingest.wait_committed(EVENTS)
    ingest.stop()
    client = clickhouse_connect.get_client(
        dsn=settings.clickhouse_dsn(), database=settings.clickhouse.database
    )
    yield PipelineData(settings, client)
    admin.command(f"DROP DATABASE IF EXISTS {settings.clickhouse.database}")


def run_report(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, *args: str
) -> tuple[int, float]:
    """`dxpulse report ARGS` in this process (chDB allows one data path per process)."""
    monkeypatch.setenv("DXPULSE_CLICKHOUSE__DATABASE", settings.clickhouse.database)
    monkeypatch.setattr(common.console, "width", 300)  # the summary table on one line a row
    started = time.perf_counter()
    with pytest.raises(SystemExit) as exited:
        cli.main(["report", "--clickhouse-dsn", settings.clickhouse_dsn(), *args])
    code = exited.value.code
    return (code if isinstance(code, int) else 1), time.perf_counter() - started


def sections(page: str) -> dict[str, tuple[dict[str, str], str]]:
    """Section id -> (its attributes, its body)."""
    found = {}
    for match in _SECTION.finditer(page):
        attrs = {k: html.unescape(v) for k, v in _ATTR.findall(match.group("attrs"))}
        found[attrs["id"]] = (attrs, match.group("body"))
    return found


def test_report_draws_every_panel_from_its_own_sql(
    data: PipelineData,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out, png_dir = tmp_path / "site" / "report.html", tmp_path / "png"
    code, seconds = run_report(
        data.settings, monkeypatch, "--out", str(out), "--png-dir", str(png_dir)
    )
    captured = capsys.readouterr()
    stdout = captured.out
    assert code == 0, stdout + captured.err
    assert f"Panels with data: {len(SELECTION)} of {len(SELECTION)}" in stdout
    assert f"Report: {out}" in stdout
    print(f"report on {EVENTS:,} events: {seconds:.2f} s")
    page = out.read_text("utf-8")

    # The default range is the data's last 30 days in event_aggregates, from its hour.
    first, last = data.client.query(
        "SELECT min(window_start), max(window_start) FROM event_aggregates"
    ).result_rows[0]
    newest = last + timedelta(seconds=60)
    assert newest - first > timedelta(days=30)  # the history is longer than the range
    main_attrs = dict(_ATTR.findall(re.search(r"<main ([^>]*)>", page).group(1)))  # type: ignore[union-attr]
    start, end = (datetime.fromisoformat(main_attrs[k]) for k in ("data-from", "data-to"))
    expected_start = (newest - timedelta(days=30)).replace(minute=0, second=0, microsecond=0)
    assert start.replace(tzinfo=None) == expected_start
    assert end.replace(tzinfo=None) == newest

    # What a reader sees (all but the SQL) names things: no data code, e.g. red_river_delta.
    visible = re.sub(r"<details>.*?</details>", "", page, flags=re.S)
    visible = re.sub(r"<[^>]+>", " ", visible)
    codes = {c for dim in LABELS.values() for c in dim if "_" in c}
    assert sorted(c for c in codes if re.search(rf"\b{c}\b", visible)) == []

    models = {m["uid"]: m for m in build.dashboards(build.context(data.settings))}
    found = sections(page)
    assert len(found) == len(SELECTION)
    images = re.findall(r'<img src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == len(SELECTION)  # every selected panel is a chart
    for ref in SELECTION:
        model = models[ref.dashboard_uid]
        panel = next(p for p in model["panels"] if p["title"] == ref.title)
        slug = next(k for k, (a, _) in found.items() if a["data-panel"] == ref.title)
        attrs, body = found[slug]
        rows = int(attrs["data-rows"])
        assert rows > 0, ref
        assert attrs["data-dashboard"] == ref.dashboard_uid

        # The SQL shown is the panel's SQL, expanded on its own here, and it is what ran.
        variables = resolve(data.client, model, "all")
        ctx = QueryContext(start, end, int(attrs["data-interval-s"]), variables)
        expected = expand(panel["targets"][0]["rawSql"], ctx)
        shown = re.search(r"<pre><code>(.*?)</code></pre>", body, re.S)
        assert shown and html.unescape(shown.group(1)) == expected, ref
        assert len(data.client.query(expected).result_rows) == rows, ref

        # The chart: a real PNG on disk, the same bytes embedded in the page.
        png = png_dir / f"{slug}.png"
        content = png.read_bytes()
        assert content.startswith(PNG_SIGNATURE) and len(content) > 10_000, png
        with Image.open(io.BytesIO(content)) as image:
            assert image.size[0] >= 600 and image.size[1] >= 400
        embedded = re.search(r'<img src="data:image/png;base64,([^"]+)"', body)
        assert embedded and base64.b64decode(embedded.group(1)) == content, ref
        assert re.search(rf"{re.escape(ref.title)} +│ +{rows:,} │ {re.escape(str(png))}", stdout)


def test_a_range_without_data_is_a_one_line_error(
    data: PipelineData,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "report.html"
    args = ("--out", str(out), "--from", "2001-01-01", "--to", "2001-01-02")
    code, _ = run_report(data.settings, monkeypatch, *args)
    err = capsys.readouterr().err
    assert code == 1
    assert err.splitlines() == [
        "dxpulse: error: no panel has data for 2001-01-01 00:00 – 2001-01-02 00:00 "
        "Vietnam time (UTC+7): nothing to report"
    ]
    assert not out.exists()


def test_an_empty_database_is_a_one_line_error(
    settings: Settings, ch: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    out = tmp_path / "report.html"
    code, _ = run_report(settings, monkeypatch, "--out", str(out))
    err = capsys.readouterr().err
    assert code == 1
    assert err.splitlines() == [
        "dxpulse: error: no data in event_aggregates: nothing to report "
        "(produce some with `dxpulse run`)"
    ]
    assert not out.exists()


def test_monthly_growth_indexes_each_months_daily_average_to_the_first(data: PipelineData) -> None:
    """The panel over the whole 62-day history (three or four Vietnam months, first and last
    partial) against the raw events: per type and month, events and value a day (days with
    events), over the type's first month, × 100."""
    models = build.dashboards(build.context(data.settings))
    model = next(m for m in models if m["uid"] == "dxpulse-trends")
    panel = next(p for p in model["panels"] if p["title"] == "Monthly growth: count and value")
    first, last = data.client.query(
        "SELECT min(window_start), max(window_start) FROM event_aggregates"
    ).result_rows[0]
    variables = resolve(data.client, model, "all")
    ctx = QueryContext(first, last + timedelta(minutes=1), 86_400, variables)
    rows = data.client.query(expand(panel["targets"][0]["rawSql"], ctx)).result_rows
    raw = data.client.query(
        """
        SELECT toStartOfMonth(day) AS month, event_type,
               count() / uniqExact(day) AS n, sum(amount_vnd) / uniqExact(day) AS v
        FROM (SELECT toDate(event_time, 'Asia/Ho_Chi_Minh') AS day, event_type, amount_vnd
              FROM events WHERE is_late = 0)
        GROUP BY month, event_type ORDER BY month"""
    ).result_rows
    base: dict[str, tuple[float, float]] = {}
    expected = {}
    for month, etype, n, v in raw:
        base.setdefault(etype, (n, v))
        name = LABELS["event_type"][etype]
        expected[(month, name)] = (100 * n / base[etype][0], 100 * v / base[etype][1])
    # 62 days span three calendar months, or four when they start on 30/31 January.
    assert len({m for m, _ in expected}) >= 3
    # The panel's time is the month's start in Vietnam time (naive: UTC, as the driver gives).
    vn = {t: (t if t.tzinfo else t.replace(tzinfo=UTC)).astimezone(VN_TZ) for t, *_ in rows}
    got = {(vn[t].date(), name): (c, v) for t, name, c, v in rows}
    assert got.keys() == expected.keys()
    for key, (count_index, value_index) in expected.items():
        assert got[key] == (pytest.approx(count_index), pytest.approx(value_index)), key
