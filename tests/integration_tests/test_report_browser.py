"""`dxpulse report`'s page in headless Chromium, on the report test's pipeline data.

What a reader gets: the page lays out (a full-size, non-blank screenshot that the page fits
in), every chart section of the report's own data structures has rows and a chart, the
page has no "no data" placeholder, and the headline block shows a number for every figure.
Set DXPULSE_REPORT_SHOTS=DIR to keep the full-page screenshot as DIR/report.png.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from PIL import Image

from dxpulse.report.charts import IMAGE_KINDS
from dxpulse.report.compose import build_report, selected_panels
from dxpulse.report.queries import data_span
from dxpulse.report.selection import SELECTION
from dxpulse.report.timerange import choose_range
from dxpulse.schemas.labels import LABELS
from tests.browser import chromium, content_height, screenshot
from tests.integration_tests.test_report import PipelineData, data, run_report, sections

__all__ = ["data"]  # the module-scoped pipeline fixture, used here by name

pytestmark = pytest.mark.xdist_group("test_report")

WIDTH, HEIGHT = 1100, 16_000  # taller than the page: the whole report in one image
# A rendered report has text, charts and their anti-aliasing: thousands of colours. A
# blank or broken page (white, or one error line) has a handful.
MIN_COLOURS = 1_000
HEADLINE_TILES = 6


def test_every_chart_section_has_data_and_a_chart(data: PipelineData) -> None:
    panels = selected_panels(data.settings)
    window = data.settings.stream.window_seconds
    time_range = choose_range(data_span(data.client, window))
    report = build_report(data.client, panels, time_range, "test", window_seconds=window)
    assert [s.panel.title for s in report.sections] == [r.title for r in SELECTION]
    empty = [
        s.panel.title for s in report.sections
        if s.empty or (s.png is None and s.kind in IMAGE_KINDS)
    ]  # fmt: skip
    assert empty == []
    # The charts are drawn from these rows: their text cells are names, never data codes.
    codes = {c for dim in LABELS.values() for c in dim if "_" in c}
    drawn_codes = {
        (s.panel.title, v) for s in report.sections for row in s.result.rows for v in row
        if isinstance(v, str) and v in codes
    }  # fmt: skip
    assert drawn_codes == set()
    headline = report.headline
    assert headline is not None and headline.events > 0 and headline.value_vnd > 0
    assert headline.rural_share is not None and 0 < headline.rural_share < 1
    assert headline.cities_share is not None and 0 < headline.cities_share < 1
    assert headline.growth is not None, headline.growth_note  # 62 days of history: measured


def test_the_page_renders_in_chromium(
    data: PipelineData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    browser = chromium()
    out = tmp_path / "report.html"
    code, _ = run_report(data.settings, monkeypatch, "--out", str(out))
    assert code == 0
    page = out.read_text("utf-8")
    assert "No data in this time range." not in page
    found = sections(page)
    assert len(found) == len(SELECTION)
    assert [t for t, (a, _) in found.items() if int(a["data-rows"]) == 0] == []
    for slug, (attrs, body) in found.items():  # a chart, or the numbers of a table/stat
        shown = (
            '<img src="data:image/png;base64,'
            if attrs["data-kind"] in IMAGE_KINDS
            else ("<table>" if attrs["data-kind"] == "table" else '<div class="tiles">')
        )
        assert shown in body, slug
    headline = re.search(r'<div class="headline" id="headline">(.*?)</header>', page, re.S)
    assert headline is not None
    values = re.findall(r'<div class="value">([^<]*)</div>', headline.group(1))
    assert len(values) == HEADLINE_TILES and "–" not in values, values

    shot = screenshot(browser, out, tmp_path / "report.png", WIDTH, HEIGHT)
    with Image.open(shot) as image:
        assert image.format == "PNG" and image.size == (WIDTH, HEIGHT)
        colours = image.convert("RGB").getcolors(maxcolors=WIDTH * HEIGHT)
        assert colours is not None and len(colours) > MIN_COLOURS
        used = content_height(image)
        assert 2_000 < used < HEIGHT  # the page is long (every chart) and fits the window
        keep = os.environ.get("DXPULSE_REPORT_SHOTS")
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            image.crop((0, 0, WIDTH, min(HEIGHT, used + 40))).save(Path(keep) / "report.png")
