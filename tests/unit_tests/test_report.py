"""`dxpulse report`'s pure parts: range and bucket choice, panel lookup, charts, the page."""

from __future__ import annotations

import base64
import html
import io
import itertools
import math
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from clickhouse_connect.driver.exceptions import DatabaseError
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image
from rich.console import Console

from dxpulse.cli import main as cli_main
from dxpulse.core.config import Settings
from dxpulse.core.errors import DxpulseError
from dxpulse.dashboards import build
from dxpulse.report import charts, names
from dxpulse.report.compose import Report, Sample, Section, selected_panels, share_range
from dxpulse.report.headline import (
    Growth,
    Headline,
    last_whole_day,
    last_whole_month,
    measure_growth,
)
from dxpulse.report.html import headline_html as html_headline
from dxpulse.report.html import page
from dxpulse.report.queries import ReportQueryError, Result, custom_options, run, target_sql
from dxpulse.report.selection import (
    CHAPTERS,
    CORE_PANELS,
    REALISM_PANELS,
    SELECTION,
    PanelRef,
    SelectedPanel,
    SelectionError,
    in_story_order,
    resolve,
    slugify,
)
from dxpulse.report.summary import summary_table
from dxpulse.report.timerange import (
    MAX_POINTS,
    STEPS_S,
    VN_TZ,
    TimeRange,
    choose_range,
    grafana_interval_s,
    interval_for_span,
    make_range,
    share_interval_s,
)
from dxpulse.report.units import format_value

T0 = datetime(2024, 3, 4, 3, 0, tzinfo=UTC)  # 10:00 in Vietnam
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def models() -> list[dict[str, Any]]:
    return build.dashboards(build.context(Settings()))


def panel(panel_type: str, title: str = "A panel", **extra: Any) -> SelectedPanel:
    body = {"type": panel_type, "title": title, "description": "What it answers?", **extra}
    return SelectedPanel("dash-uid", "A dashboard", body, ())


# -- time range and bucket --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("span", "step"),
    [
        (timedelta(seconds=60), 60),
        (timedelta(hours=5), 60),  # 300 one-minute points: still fine
        (timedelta(hours=5, minutes=1), 300),
        (timedelta(days=1), 300),  # 288 points
        (timedelta(days=7), 3_600),  # 168 points
        (timedelta(days=30), 3 * 3_600),  # 240 points
        (timedelta(days=400), 86_400),  # more than MAX_POINTS days: daily is the coarsest
    ],
)
def test_interval_is_the_smallest_step_keeping_a_series_readable(
    span: timedelta, step: int
) -> None:
    assert interval_for_span(span.total_seconds()) == step


@given(st.floats(min_value=1, max_value=MAX_POINTS * 86_400))
def test_interval_never_gives_more_than_max_points_and_is_never_too_coarse(
    seconds: float,
) -> None:
    step = interval_for_span(seconds)
    assert step in STEPS_S
    assert seconds / step <= MAX_POINTS
    finer = [s for s in STEPS_S if s < step]
    assert not finer or seconds / finer[-1] > MAX_POINTS


@pytest.mark.parametrize(("text", "seconds"), [("1m", 60), ("30s", 30), ("1h", 3_600), (None, 0)])
def test_panel_minimum_interval_is_read_in_seconds(text: str | None, seconds: int) -> None:
    assert grafana_interval_s(text) == seconds


def test_a_malformed_panel_interval_is_refused() -> None:
    with pytest.raises(DxpulseError, match="not like 30s"):
        grafana_interval_s("one minute")


def test_default_range_is_the_data_span_capped_at_its_last_30_days() -> None:
    short = choose_range((T0, T0 + timedelta(hours=2)))
    assert (short.start, short.end, short.interval_s) == (T0, T0 + timedelta(hours=2), 60)
    long = choose_range((T0, T0 + timedelta(days=90)))
    assert (long.start, long.end) == (T0 + timedelta(days=60), T0 + timedelta(days=90))


def test_default_range_starts_at_the_hour_so_hourly_rollups_are_in_it() -> None:
    mid_hour = T0 + timedelta(minutes=42, seconds=7)
    r = choose_range((mid_hour, mid_hour + timedelta(minutes=3)))
    assert (r.start, r.end) == (T0, mid_hour + timedelta(minutes=3))


def test_last_ends_at_the_newest_data_and_from_to_are_taken_as_given() -> None:
    last = choose_range((T0, T0 + timedelta(days=90)), last=timedelta(days=7))
    assert (last.start, last.end, last.interval_s) == (
        T0 + timedelta(days=83), T0 + timedelta(days=90), 3_600,
    )  # fmt: skip
    given_range = choose_range(None, start=T0, end=T0 + timedelta(days=1))
    assert (given_range.start, given_range.end, given_range.interval_s) == (
        T0, T0 + timedelta(days=1), 300,
    )  # fmt: skip
    open_ended = choose_range(None, start=T0, now=T0 + timedelta(hours=1))
    assert open_ended.end == T0 + timedelta(hours=1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"span": None}, "no data in event_aggregates"),
        ({"span": None, "end": T0}, "--to needs --from"),
        ({"span": None, "start": T0, "end": T0}, "before it starts"),
    ],
)
def test_impossible_ranges_are_one_clear_error(kwargs: dict[str, Any], message: str) -> None:
    span = kwargs.pop("span")
    with pytest.raises(DxpulseError, match=message):
        choose_range(span, **kwargs)


def test_range_label_is_in_vietnam_time() -> None:
    label = make_range(T0, T0 + timedelta(hours=1)).label()
    assert label == "2024-03-04 10:00 – 2024-03-04 11:00 Vietnam time (UTC+7)"


# -- selection --------------------------------------------------------------------------------
def test_every_selected_panel_exists_and_can_be_drawn() -> None:
    panels = selected_panels(Settings())
    assert [(p.dashboard_uid, p.title) for p in panels] == [
        (r.dashboard_uid, r.title) for r in SELECTION
    ]
    assert 6 <= len(panels) <= 20  # a report, not every panel of every dashboard
    assert len({p.slug for p in panels}) == len(panels)
    assert all(p.variables for p in panels)  # the dashboards' own variables come along


def test_an_unknown_dashboard_is_named_with_the_known_ones() -> None:
    with pytest.raises(SelectionError, match=r"no dashboard 'dxpulse-nope'.*dxpulse-overview"):
        resolve(models(), [PanelRef("dxpulse-nope", "Events per second")])


def test_an_unknown_panel_title_lists_the_dashboards_panels() -> None:
    with pytest.raises(SelectionError, match=r"no such panel in dxpulse-overview.*Success rate"):
        resolve(models(), [PanelRef("dxpulse-overview", "Events per minute")])


def test_the_same_panel_twice_is_refused() -> None:
    ref = PanelRef("dxpulse-overview", "Events per second")
    with pytest.raises(SelectionError, match="distinct titles"):
        resolve(models(), [ref, ref])


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("Value per second (VND/s)", "value-per-second-vnd-s"),
        ("Mobile Money rural share vs 72% reference", "mobile-money-rural-share-vs-72-reference"),
        ("Đồng Tháp: giá trị", "dong-thap-gia-tri"),
        ("!!!", "panel"),
    ],
)
def test_slugs_are_file_names(title: str, slug: str) -> None:
    assert slugify(title) == slug


def test_a_panel_must_have_exactly_one_sql_target() -> None:
    assert target_sql({"targets": [{"rawSql": "SELECT 1"}, {"rawSql": "x", "hide": True}]}) == (
        "SELECT 1"
    )
    with pytest.raises(ReportQueryError, match="one SQL target, it has 2"):
        target_sql({"title": "two", "targets": [{"rawSql": "SELECT 1"}, {"rawSql": "SELECT 2"}]})


def test_custom_variable_options_are_their_values() -> None:
    variable = {"query": "Urban : urban,Rural : rural"}
    assert custom_options(variable) == ["urban", "rural"]


# -- chart kinds and styles -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("panel_type", "kind"),
    [
        ("timeseries", "lines"),
        ("barchart", "bars"),
        ("bargauge", "bars"),
        ("piechart", "donut"),
        ("geomap", "map"),
        ("stat", "tile"),
        ("table", "table"),
    ],
)
def test_each_panel_type_has_a_chart_kind(panel_type: str, kind: str) -> None:
    assert charts.kind_for(panel_type) == kind


def test_an_unknown_panel_type_is_refused() -> None:
    with pytest.raises(charts.ChartError, match="cannot draw a 'heatmap' panel"):
        charts.kind_for("heatmap")


def _selected(uid: str, title: str) -> dict[str, Any]:
    return resolve(models(), [PanelRef(uid, title)])[0].panel


def test_styles_follow_the_panel_json() -> None:
    by_region = charts.style_of(_selected("dxpulse-regions", "Value by region"))
    assert (by_region.unit, by_region.horizontal, by_region.x_field) == (
        "currencyVND", True, "region_name",
    )  # fmt: skip
    rural = charts.style_of(_selected("dxpulse-regions", "Rural vs urban by channel"))
    assert (rural.stacking, rural.horizontal) == ("percent", False)
    orders = charts.style_of(_selected("dxpulse-ecommerce", "Orders by platform"))
    assert orders.stacking == "normal"
    reference = charts.style_of(
        _selected("dxpulse-regions", "Mobile Money rural share vs 72% reference")
    ).fields["reference_72pct"]
    assert reference == charts.FieldStyle("Pilot reference: 72% rural", "orange", dashed=True)
    geo = charts.style_of(_selected("dxpulse-regions", "Value by province"))
    assert geo.map_fields == ("latitude", "longitude", "value_vnd")


def test_long_rows_become_one_series_per_label_with_gaps() -> None:
    result = Result(
        ("time", "platform", "orders"),
        ((T0, "tiki", 1), (T0, "shopee", 5), (T0 + timedelta(minutes=1), "shopee", 7)),
    )
    series = charts.to_series(result)
    assert series.times == (T0, T0 + timedelta(minutes=1))
    assert list(series.values) == ["shopee", "tiki"]
    assert series.values["shopee"] == [5.0, 7.0]
    assert series.values["tiki"][0] == 1.0 and math.isnan(series.values["tiki"][1])


def test_wide_rows_become_one_series_per_value_column() -> None:
    result = Result(
        ("time", "share", "ref"), ((T0, 0.7, 0.72), (T0 + timedelta(hours=1), 0.71, 0.72))
    )
    assert charts.to_series(result).values == {"share": [0.7, 0.71], "ref": [0.72, 0.72]}


def test_a_series_needs_a_time_column() -> None:
    with pytest.raises(charts.ChartError, match="'time' column"):
        charts.to_series(Result(("x", "y"), (("a", 1),)))


# -- figures ------------------------------------------------------------------------------------
def _times(n: int) -> list[datetime]:
    return [T0 + timedelta(hours=i) for i in range(n)]


SAMPLES: dict[str, tuple[Result, charts.Style]] = {
    "stacked lines": (
        Result(
            ("time", "platform", "orders"),
            tuple((t, p, 10 + i * k) for i, t in enumerate(_times(48)) for k, p in enumerate("ab")),
        ),
        charts.Style(unit="short", stacking="normal"),
    ),
    "lines with reference": (
        Result(("time", "share", "ref"), tuple((t, 0.7, 0.72) for t in _times(3))),
        charts.Style(
            unit="percentunit", fields={"ref": charts.FieldStyle("72%", "orange", dashed=True)}
        ),
    ),
    "horizontal bars": (
        Result(("region", "value_vnd"), (("south_east", 3e9), ("mekong_delta", 1e9))),
        charts.Style(unit="currencyVND", horizontal=True, x_field="region"),
    ),
    "percent-stacked bars": (
        Result(("channel", "urban", "rural"), (("web", 3, 1), ("agent", 1, 3))),
        charts.Style(unit="short", stacking="percent", x_field="channel"),
    ),
    "donut": (
        Result(("kind", "transactions"), (("cash_in", 5), ("p2p", 3), ("none", 0))),
        charts.Style(unit="short"),
    ),
    "map": (
        Result(
            ("province", "latitude", "longitude", "value_vnd"),
            (("Hà Nội", 21.0, 105.8, 5e9), ("TP. Hồ Chí Minh", 10.8, 106.7, 7e9)),
        ),
        charts.Style(unit="currencyVND", map_fields=("latitude", "longitude", "value_vnd")),
    ),
}
KIND_OF_SAMPLE: dict[str, charts.Kind] = {
    "stacked lines": "lines",
    "lines with reference": "lines",
    "horizontal bars": "bars",
    "percent-stacked bars": "bars",
    "donut": "donut",
    "map": "map",
}


@pytest.mark.parametrize("sample", sorted(SAMPLES))
def test_each_chart_kind_renders_a_real_png_without_a_display(sample: str) -> None:
    result, style = SAMPLES[sample]
    span = (T0, T0 + timedelta(days=2))
    kind = KIND_OF_SAMPLE[sample]
    data = charts.png(charts.figure(kind, result, style, span))
    assert data.startswith(PNG_SIGNATURE) and len(data) > 5_000
    width, height = charts.figsize(kind)
    with Image.open(io.BytesIO(data)) as image:
        assert image.size == (round(width * charts.DPI), round(height * charts.DPI))
        colours = image.convert("RGB").getcolors(maxcolors=1_000_000)
        assert colours is not None and len(colours) > 10  # something was drawn


def test_stat_and_table_are_not_charts() -> None:
    with pytest.raises(charts.ChartError, match="rendered as HTML"):
        charts.figure("tile", Result(("a",), ((1,),)), charts.Style())


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (0.7234, "percentunit", "72.3%"),
        (2_780_000_000, "currencyVND", "2.78B ₫"),
        (291.5, "ops", "292/s"),
        (1_340, "short", "1.34K"),
        (12, None, "12"),
        (0.5, None, "0.5"),
        (None, "short", "–"),
        ("shopee", "short", "shopee"),
        (T0, None, "2024-03-04 10:00"),
    ],
)
def test_values_are_formatted_like_the_panel_units(value: Any, unit: str | None, text: str) -> None:
    assert format_value(value, unit) == text


# -- the page ---------------------------------------------------------------------------------
HOSTILE = "<script>alert(\"x\")</script> & 'quotes'"


def _report(*sections: Section) -> Report:
    return Report(TimeRange(T0, T0 + timedelta(hours=1), 60), "chdb:///tmp/<db>", T0, sections)


def _section(p: SelectedPanel, result: Result, image: bytes | None = None) -> Section:
    return Section(p, charts.kind_for(p.panel["type"]), "SELECT 1 < 2 AND 'a' <> \"b\"", 60,
                   result, image)  # fmt: skip


def test_every_text_in_the_page_is_escaped() -> None:
    hostile_panel = SelectedPanel(
        "uid", HOSTILE, {"type": "table", "title": HOSTILE, "description": HOSTILE}, ()
    )
    result = Result((HOSTILE,), ((HOSTILE,),))
    text = page(_report(_section(hostile_panel, result)))
    assert "<script>" not in text
    assert text.count(html.escape(HOSTILE, quote=True)) >= 4  # title, description, cell, header
    sql = re.search(r"<pre><code>(.*?)</code></pre>", text, re.S)
    assert sql and html.unescape(sql.group(1)) == "SELECT 1 < 2 AND 'a' <> \"b\""
    assert "chdb:///tmp/&lt;db&gt;" in text


def test_a_chart_is_embedded_and_an_empty_panel_says_no_data() -> None:
    image = PNG_SIGNATURE + b"rest of a png"
    drawn = _section(panel("timeseries", "Drawn"), Result(("time", "v"), ((T0, 1),)), image)
    empty = _section(panel("barchart", "Empty"), Result(("region", "v"), ()))
    text = page(_report(drawn, empty))
    embedded = re.findall(r'<img src="data:image/png;base64,([^"]+)"', text)
    assert [base64.b64decode(e) for e in embedded] == [image]
    assert text.count("No data in this time range.") == 1
    assert 'data-rows="0"' in text and 'data-rows="1"' in text
    assert "<dd>2; 1 with a chart, 1 without data</dd>" in text
    assert not _report(drawn, empty).empty and _report(empty).empty


def test_a_stat_panel_is_big_numbers_of_its_last_row_with_unit_overrides() -> None:
    overrides = {
        "overrides": [
            {
                "matcher": {"id": "byName", "options": "success_rate"},
                "properties": [{"id": "unit", "value": "percentunit"}],
            }
        ],
        "defaults": {"unit": "short"},
    }
    stat = panel("stat", "Headline", fieldConfig=overrides)
    result = Result(("customers", "success_rate"), ((1, 0.5), (12_345, 0.987)))
    text = page(_report(_section(stat, result)))
    values = re.findall(r'<div class="value">([^<]*)</div>', text)
    assert values == ["12.3K", "98.7%"]


def test_the_page_header_names_range_source_and_vietnam_time() -> None:
    text = page(_report())
    assert "2024-03-04 10:00 – 2024-03-04 11:00 Vietnam time (UTC+7)" in text
    assert f'data-from="{T0.isoformat()}"' in text
    assert T0.astimezone(VN_TZ).strftime("%Y-%m-%d %H:%M:%S") in text  # generated at


# -- query results and the command line --------------------------------------------------------
class _Client:
    """Stands in for clickhouse-connect's Client: only ``query``, as the report uses it."""

    def __init__(self, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
        self.columns, self.rows = columns, rows

    def query(self, sql: str) -> Any:
        if "broken" in sql:
            raise DatabaseError("Code: 60. DB::Exception: Unknown table broken.\nStack trace: ...")
        return type("R", (), {"column_names": self.columns, "result_rows": self.rows})()


def test_results_carry_every_time_as_aware_utc() -> None:
    naive_utc = datetime(2024, 3, 4, 3, 0)
    aware_vn = T0.astimezone(VN_TZ)
    client = _Client(("t", "n"), [(naive_utc, 1), (aware_vn, 2), (date(2024, 3, 4), 3)])
    result = run(client, "SELECT …")  # type: ignore[arg-type]
    assert result.column("t") == [T0, T0, datetime(2024, 3, 3, 17, 0, tzinfo=UTC)]
    assert all(t.tzinfo is not None for t in result.column("t"))


def test_a_failed_query_is_one_line() -> None:
    with pytest.raises(ReportQueryError) as failed:
        run(_Client((), []), "SELECT * FROM broken")  # type: ignore[arg-type]
    assert str(failed.value) == "query failed: Code: 60. DB::Exception: Unknown table broken."


def test_the_summary_has_a_row_per_panel_with_its_chart_file(tmp_path: Path) -> None:
    drawn = _section(panel("timeseries", "Drawn"), Result(("time", "v"), ((T0, 1),)), b"png")
    empty = _section(panel("barchart", "Empty"), Result(("region", "v"), ()))
    files = {"drawn": tmp_path / "drawn.png"}
    console = Console(width=200, record=True)
    console.print(summary_table(_report(drawn, empty), files))
    text = console.export_text()
    assert "Panels with data: 1 of 2" in text
    assert re.search(rf"Drawn +│ +1 │ {re.escape(str(files['drawn']))}", text)
    assert re.search(r"Empty +│ +0 │ no data", text)


def test_last_and_from_exclude_each_other(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli_main(["report", "--last", "1d", "--from", "2024-03-01"])
    assert exited.value.code == 2
    assert capsys.readouterr().err == (
        "dxpulse: error: --last and --from/--to exclude each other\n"
    )


def test_percent_stacking_draws_shares() -> None:
    assert charts.shares([[3.0, 1.0], [1.0, 0.0]]) == [[0.75, 1.0], [0.25, 0.0]]
    assert charts.shares([[0.0], [0.0]]) == [[0.0], [0.0]]  # nothing there: no division by 0


def test_a_result_without_numbers_is_refused_not_drawn_blank() -> None:
    with pytest.raises(charts.ChartError, match="no numbers"):
        charts.figure("bars", Result(("region", "note"), (("south_east", "n/a"),)), charts.Style())


# -- names, axes, titles, share buckets, headline (issue 17) -----------------------------------
def test_codes_in_label_columns_become_names_and_names_pass_unchanged() -> None:
    result = Result(
        ("region", "kind", "province_code", "payment", "value_vnd"),
        (
            ("red_river_delta", "p2p_transfer", "79", "cash on delivery", 5),
            ("Red River Delta", "Cash in", "Hà Nội", "Paid online", 3),
        ),
    )
    assert names.relabel(result).rows == (
        ("Red River Delta", "Person-to-person transfer", "TP. Hồ Chí Minh", "Cash on delivery", 5),
        ("Red River Delta", "Cash in", "Hà Nội", "Paid online", 3),
    )


@pytest.mark.parametrize(
    ("column", "title"),
    [
        ("value_vnd", "Value (VND)"),
        ("rural", "Rural"),
        ("rural_share", "Rural share"),
        ("events_per_1000_people", "Events per 1000 people"),
        ("mobile_money", "Mobile Money"),
    ],
)
def test_column_names_read_as_words(column: str, title: str) -> None:
    assert names.column_title(column) == title


def _axes(kind: charts.Kind, result: Result, style: charts.Style, title: str = "T") -> Any:
    fig = charts.figure(kind, result, style, (T0, T0 + timedelta(days=2)), title)
    charts.png(fig)  # lays it out, as the report does
    return fig, fig.axes[0]


def test_a_share_axis_is_0_to_100_percent_however_flat_the_line() -> None:
    result = Result(
        ("time", "share"), tuple((t, 0.70 + 0.01 * (i % 3)) for i, t in enumerate(_times(30)))
    )
    _, ax = _axes("lines", result, charts.Style(unit="percentunit"))
    assert ax.get_ylim() == (0.0, 1.0)


def test_a_ticket_axis_starts_at_0_not_at_the_lowest_ticket() -> None:
    result = Result(
        ("time", "avg_ticket_vnd"), tuple((t, 600_000 + 500 * i) for i, t in enumerate(_times(30)))
    )
    _, ax = _axes("lines", result, charts.Style(unit="currencyVND"))
    low, high = ax.get_ylim()
    assert low == 0.0 and high >= 614_500


def test_the_panels_own_min_and_max_win() -> None:
    body = {
        "type": "timeseries",
        "fieldConfig": {"defaults": {"unit": "percentunit", "min": 0.5, "max": 0.9}},
    }
    style = charts.style_of(body)
    assert (style.minimum, style.maximum) == (0.5, 0.9)
    result = Result(("time", "share"), tuple((t, 0.7) for t in _times(5)))
    _, ax = _axes("lines", result, style)
    assert ax.get_ylim() == (0.5, 0.9)


def test_every_png_carries_its_title_and_unit() -> None:
    result = Result(("region", "value_vnd"), (("south_east", 3e9),))
    fig, _ = _axes(
        "bars", result, charts.Style(unit="currencyVND", x_field="region"), "Value by region"
    )
    assert fig.get_suptitle() == "Value by region"  # the title as given: the caller adds units
    assert charts.titled("Value by region", charts.Style(unit="currencyVND")) == (
        "Value by region (VND)"
    )
    assert charts.titled("Orders", charts.Style(unit="short"), 10_800) == "Orders (per 3 h)"
    assert charts.titled("Value per second (VND/s)", charts.Style(unit="currencyVND")) == (
        "Value per second (VND/s)"
    )  # the title names its unit already
    assert charts.titled("Mix", charts.Style(unit="short", stacking="percent")) == "Mix (%)"


@pytest.mark.parametrize("horizontal", [True, False], ids=["horizontal", "vertical"])
@pytest.mark.parametrize("count", [34, 63])
def test_many_bars_get_room_and_their_labels_do_not_overlap(count: int, horizontal: bool) -> None:
    result = Result(
        ("unit", "vnd"), tuple((f"Tỉnh số {i} Đắk Lắk", 100.0 + i) for i in range(count))
    )
    style = charts.Style(unit="currencyVND", horizontal=horizontal, x_field="unit")
    fig, ax = _axes("bars", result, style)  # a vertical chart of that many turns horizontal
    assert fig.get_size_inches()[1] >= charts.BAR_INCHES * count
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    boxes = sorted(
        (t.get_window_extent(renderer) for t in ax.get_yticklabels()), key=lambda b: b.y0
    )
    assert len(boxes) == count
    assert all(lower.y1 <= upper.y0 for lower, upper in itertools.pairwise(boxes))


@pytest.mark.parametrize(
    ("names", "turned"),
    [
        (["Northern Midlands and Mountains", "Mekong River Delta", "Central Highlands",
          "North Central and Central Coast", "Red River Delta", "South East"], True),
        (["Urban", "Rural"], False),
    ],
)  # fmt: skip
def test_few_bars_with_long_names_turn_horizontal_so_names_do_not_overlap(
    names: list[str], turned: bool
) -> None:
    result = Result(("region_name", "share"), tuple((n, 0.5) for n in names))
    style = charts.Style(unit="percentunit", x_field="region_name")
    fig, ax = _axes("bars", result, style)
    labels = ax.get_yticklabels() if turned else ax.get_xticklabels()
    assert [t.get_text() for t in labels] == (names[::-1] if turned else names) or (
        sorted(t.get_text() for t in labels) == sorted(names)
    )
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    boxes = sorted((t.get_window_extent(renderer) for t in labels), key=lambda b: (b.x0, b.y0))
    if turned:
        boxes.sort(key=lambda b: b.y0)
        assert all(a.y1 <= b.y0 for a, b in itertools.pairwise(boxes))
    else:
        assert all(a.x1 <= b.x0 for a, b in itertools.pairwise(boxes))


@pytest.mark.parametrize(
    ("days", "sample", "at_least", "step"),
    [
        (30, 1_000_000, 10_800, 10_800),  # plenty: the range's own 3-hour bucket
        (30, 24_000, 10_800, 3 * 3_600),  # 240 buckets of 100
        (30, 12_000, 10_800, 6 * 3_600),  # 100 a 6-hour bucket
        (30, 1_000, 10_800, 7 * 86_400),  # even daily is thin: weekly
        (30, 100, 10_800, 7 * 86_400),  # the coarsest; the caption says it is rough
        (30, 10_000_000, 86_400, 86_400),  # never finer than the panel's own minimum
    ],
)
def test_share_buckets_hold_a_minimum_sample(
    days: int, sample: int, at_least: int, step: int
) -> None:
    assert share_interval_s(days * 86_400, sample, at_least) == step


def test_share_panels_are_captioned_with_their_bucket_and_sample() -> None:
    series = panel("timeseries", "Rural share", interval="1m",
                   targets=[{"rawSql": "SELECT $__timeInterval(minute) AS time"}])  # fmt: skip
    daily = panel("timeseries", "Daily share", interval="1d",
                  targets=[{"rawSql": "SELECT toDateTime(day) AS time"}])  # fmt: skip
    month = make_range(T0, T0 + timedelta(days=30))
    ranged, note = share_range(series, month, Sample("mobile_money", 1_000))
    assert ranged.interval_s == 7 * 86_400
    assert note.startswith(
        "Shares per 7 d, sized for the rarest event type (Mobile Money): on average 233 of its"
    )
    ranged, note = share_range(daily, month, Sample("mobile_money", 1_000))
    assert ranged.interval_s == 86_400  # its SQL has its own (daily) bucket
    assert note.startswith("Shares per 1 d,") and "on average 33 of its" in note
    assert "rough" in note


def test_the_issue_17_panels_are_selected_in_story_order() -> None:
    titles = {r.title for r in REALISM_PANELS}
    assert titles == {
        "Hà Nội and TP. Hồ Chí Minh vs the other provinces", "Average ticket: rural vs urban",
        "Channel mix: rural vs urban", "Mobile Money rural share by region", "Platform shares",
        "Cash on delivery: rural vs urban", "Monthly growth: count and value",
        "Average online-payment ticket by month",
    }  # fmt: skip
    assert titles <= {r.title for r in SELECTION}
    chapters = [r.chapter for r in SELECTION]
    assert chapters == sorted(chapters, key=list(CHAPTERS).index)
    core = [r for r in SELECTION if r in CORE_PANELS]
    assert core == [r for r in in_story_order(CORE_PANELS)]  # order kept within a chapter
    with pytest.raises(ValueError, match="unknown report chapter"):
        PanelRef("dxpulse-overview", "Events per second", "epilogue")


def test_chapters_head_their_sections_in_the_page() -> None:
    a = SelectedPanel("d", "D", {"type": "table", "title": "A"}, (), "regions")
    b = SelectedPanel("d", "D", {"type": "table", "title": "B"}, (), "trends")
    text = page(_report(_section(a, Result(("x",), ((1,),))), _section(b, Result(("x",), ((2,),)))))
    order = [m.group(0) for m in re.finditer(r'id="chapter-[\w-]+"|<h3>\w</h3>', text)]
    assert order == ['id="chapter-regions"', "<h3>A</h3>", 'id="chapter-trends"', "<h3>B</h3>"]


def _headline(growth: Growth | None) -> Headline:
    return Headline(12_345, 6_700_000_000, 1_000, 720, 400_000_000, 70_000_000, growth,
                    "" if growth else "needs 60 whole days of history")  # fmt: skip


def test_the_headline_shows_totals_shares_and_growth() -> None:
    growth = Growth("last 30 days vs the 30 before", "Whole days.", 1_100, 1_000, 950, 1_000)
    text = html_headline(_headline(growth))
    values = re.findall(r'<div class="value">([^<]*)</div>', text)
    assert values == ["12,345", "6.7B ₫", "72.0%", "17.5%", "+10.0%", "−5.0%"]
    assert "Hà Nội and TP. Hồ Chí Minh: share of e-commerce value" in text
    assert "Growth in value: last 30 days vs the 30 before" in text
    missing = html_headline(_headline(None))
    assert missing.count("Not measured: needs 60 whole days of history.") == 2


def test_growth_needs_the_whole_earlier_period() -> None:
    last = date(2024, 3, 31)

    def client(first: date, before: int) -> Any:
        return _Client(("a", "b", "c", "d", "first"), [(10, before, 30, 40, first)])

    growth, note = measure_growth(client(date(2024, 1, 31), 20), last)  # day before: whole
    assert growth is not None and note == "" and growth.events_change == -0.5
    growth, note = measure_growth(client(date(2024, 2, 1), 20), last)  # partial first day
    assert (
        growth is None and note == "needs 60 whole days of history; the data starts on 01 Feb 2024"
    )
    growth, _ = measure_growth(client(date(2024, 1, 31), 20), last)
    assert growth is not None and growth.basis == "last 30 days vs the 30 before"
    assert growth.compared.startswith("Whole Vietnam days 02 Mar 2024 – 31 Mar 2024")  # 30 days
    assert last_whole_day(datetime(2024, 4, 1, 13, 0, tzinfo=UTC)) == date(2024, 3, 31)  # 20:00 VN
    assert last_whole_day(datetime(2024, 3, 31, 17, 0, tzinfo=UTC)) == date(2024, 3, 31)  # midnight


class _Replies:
    """A client answering each query with the next of ``replies`` (columns, rows)."""

    def __init__(self, *replies: list[tuple[Any, ...]]) -> None:
        self.replies, self.sql = list(replies), []

    def query(self, sql: str) -> Any:
        self.sql.append(sql)
        rows = self.replies.pop(0)
        return type(
            "R", (), {"column_names": tuple("abcde"[: len(rows[0])]), "result_rows": rows}
        )()


@pytest.mark.parametrize(
    ("last", "month"),
    [(date(2024, 3, 31), date(2024, 3, 1)), (date(2024, 3, 30), date(2024, 2, 1))],
)
def test_the_latest_whole_month_is_the_one_last_day_completes(last: date, month: date) -> None:
    assert last_whole_month(last) == month


def test_growth_is_year_on_year_when_the_data_spans_the_same_month_a_year_before() -> None:
    last = date(2024, 3, 31)
    thirty_days = [(10, 20, 30, 40, date(2023, 2, 28))]  # data from before March 2023
    client = _Replies(thirty_days, [(1_200, 1_000, 660, 600)])
    growth, note = measure_growth(client, last)  # type: ignore[arg-type]
    assert note == "" and growth is not None
    assert growth.basis == "March 2024 vs March 2023"
    assert (growth.events_change, growth.value_change) == pytest.approx((0.2, 0.1))
    assert "toDate('2024-03-01')" in client.sql[1]
    one_day_short = _Replies([(10, 20, 30, 40, date(2023, 3, 1))])  # March 2023 partial
    growth, _ = measure_growth(one_day_short, last)  # type: ignore[arg-type]
    assert growth is not None and growth.basis == "last 30 days vs the 30 before"
