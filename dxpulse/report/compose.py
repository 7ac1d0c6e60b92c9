"""The report as data: each selected panel's expanded SQL, its result and its chart."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from clickhouse_connect.driver.client import Client

from dxpulse.core import extras
from dxpulse.core.config import Settings
from dxpulse.report.headline import Headline, measure
from dxpulse.report.macros import Selection
from dxpulse.report.names import relabel
from dxpulse.report.queries import (
    Result,
    all_variables,
    panel_query,
    rarest_type,
    run,
    target_sql,
    uses_interval,
)
from dxpulse.report.timerange import (
    MIN_SHARE_SAMPLE,
    TimeRange,
    duration_text,
    grafana_interval_s,
    share_interval_s,
)
from dxpulse.schemas.labels import label

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
    result: Result  # codes already replaced by names (names.relabel)
    png: bytes | None  # None for HTML-rendered kinds and for empty results
    note: str = ""  # how the chart was made where a reader needs to know (share buckets)

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
    headline: Headline | None = None

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


@dataclass(frozen=True)
class Sample:
    """The rarest event type in the range and its events: what a share bucket rests on."""

    event_type: str
    events: int


def build_report(
    client: Client,
    panels: list[SelectedPanel],
    time_range: TimeRange,
    source: str,
    on_section: Callable[[Section], None] = lambda _: None,
    window_seconds: int = 60,
) -> Report:
    """Run and draw every panel, after the headline numbers. ``client``'s default database
    must be dxpulse's, as the Grafana datasource's is: the panels name tables unqualified."""
    headline = measure(client, time_range, window_seconds)
    sample = Sample(*rarest_type(client, time_range, window_seconds))
    variables: dict[str, dict[str, Selection]] = {}
    sections = []
    for panel in panels:
        if panel.dashboard_uid not in variables:
            variables[panel.dashboard_uid] = all_variables(client, panel.variables, time_range)
        section = render_section(client, panel, time_range, variables[panel.dashboard_uid], sample)
        on_section(section)
        sections.append(section)
    return Report(time_range, source, datetime.now(UTC), tuple(sections), headline)


def render_section(
    client: Client,
    panel: SelectedPanel,
    time_range: TimeRange,
    variables: dict[str, Selection],
    sample: Sample = Sample("", 0),
) -> Section:
    kind = charts.kind_for(str(panel.panel["type"]))
    style = charts.style_of(panel.panel)
    note = ""
    if kind == "lines" and style.is_share:
        time_range, note = share_range(panel, time_range, sample)
    query = panel_query(panel, time_range, variables)
    result = relabel(run(client, query.sql))
    image = None
    if result.rows and kind in charts.IMAGE_KINDS:
        span = (time_range.start, time_range.end)
        title = charts.titled(panel.title, style, query.interval_s if kind == "lines" else None)
        image = charts.png(charts.figure(kind, result, style, span, title))
    return Section(panel, kind, query.sql, query.interval_s, result, image, note)


def share_range(
    panel: SelectedPanel, time_range: TimeRange, sample: Sample
) -> tuple[TimeRange, str]:
    """The range with a share panel's coarser bucket, and the caption that says so."""
    at_least = max(time_range.interval_s, grafana_interval_s(panel.panel.get("interval")))
    # A panel whose SQL has its own bucket (a daily view) ignores the interval: its bucket
    # is its minimum interval, and the caption says what that bucket holds.
    if uses_interval(target_sql(panel.panel)):
        step = share_interval_s(time_range.seconds, sample.events, at_least)
    else:
        step = at_least
    per_bucket = sample.events / max(1.0, time_range.seconds / step)
    name = label("event_type", sample.event_type) if sample.event_type else "events"
    note = (
        f"Shares per {duration_text(step)}, sized for the rarest event type ({name}): "
        f"on average {per_bucket:,.0f} of its events a bucket"
    )
    if per_bucket < MIN_SHARE_SAMPLE:
        note += f", under {MIN_SHARE_SAMPLE}: read the line as rough, not as a trend."
    else:
        note += ", so a thin night cannot swing the line from 0 to 100%."
    return replace(time_range, interval_s=step), note


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
