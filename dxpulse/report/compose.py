"""The report as data: each selected panel's expanded SQL, its result and its chart."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from clickhouse_connect.driver.client import Client

from dxpulse.core import extras
from dxpulse.core.config import Settings
from dxpulse.report.macros import Selection
from dxpulse.report.queries import Result, all_variables, panel_query, run
from dxpulse.report.timerange import TimeRange

# The report draws the dashboards' panels, built from dashboards/*.py (the Grafana SDK).
with extras.needed("report", extras.REPORT):
    from dxpulse.dashboards import build
    from dxpulse.report import charts
    from dxpulse.report.selection import SELECTION, PanelRef, SelectedPanel, resolve


@dataclass(frozen=True)
class Section:
    """One panel of the page."""

    panel: SelectedPanel
    kind: charts.Kind
    sql: str  # exactly what ran
    interval_s: int
    result: Result
    png: bytes | None  # None for HTML-rendered kinds and for empty results

    @property
    def rows(self) -> int:
        return len(self.result.rows)

    @property
    def empty(self) -> bool:
        return not self.result.rows


@dataclass(frozen=True)
class Report:
    time_range: TimeRange
    source: str
    generated_at: datetime
    sections: tuple[Section, ...]

    @property
    def empty(self) -> bool:
        return all(s.empty for s in self.sections)


def selected_panels(
    settings: Settings, refs: tuple[PanelRef, ...] = SELECTION
) -> list[SelectedPanel]:
    """The referenced panels as `dxpulse dashboards push` would build them for ``settings``."""
    panels = resolve(build.dashboards(build.context(settings)), refs)
    for panel in panels:
        charts.kind_for(str(panel.panel["type"]))  # an undrawable panel fails before any query
    return panels


def build_report(
    client: Client,
    panels: list[SelectedPanel],
    time_range: TimeRange,
    source: str,
    on_section: Callable[[Section], None] = lambda _: None,
) -> Report:
    """Run and draw every panel. ``client``'s default database must be dxpulse's, as the
    Grafana datasource's is: the panels name their tables unqualified."""
    variables: dict[str, dict[str, Selection]] = {}
    sections = []
    for panel in panels:
        if panel.dashboard_uid not in variables:
            variables[panel.dashboard_uid] = all_variables(client, panel.variables, time_range)
        section = render_section(client, panel, time_range, variables[panel.dashboard_uid])
        on_section(section)
        sections.append(section)
    return Report(time_range, source, datetime.now(UTC), tuple(sections))


def render_section(
    client: Client, panel: SelectedPanel, time_range: TimeRange, variables: dict[str, Selection]
) -> Section:
    query = panel_query(panel, time_range, variables)
    result = run(client, query.sql)
    kind = charts.kind_for(str(panel.panel["type"]))
    image = None
    if result.rows and kind in charts.IMAGE_KINDS:
        span = (time_range.start, time_range.end)
        image = charts.png(charts.figure(kind, result, charts.style_of(panel.panel), span))
    return Section(panel, kind, query.sql, query.interval_s, result, image)


def write_pngs(report: Report, directory: Path) -> dict[str, Path]:
    """Each chart as DIRECTORY/<panel slug>.png (stable names, for the README)."""
    directory.mkdir(parents=True, exist_ok=True)
    written = {}
    for section in report.sections:
        if section.png is not None:
            path = directory / f"{section.panel.slug}.png"
            path.write_bytes(section.png)
            written[section.panel.slug] = path
    return written
