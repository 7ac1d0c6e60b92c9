"""What `dxpulse report` prints when it is done: one row per panel."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from dxpulse.report.compose import Report


def summary_table(report: Report, files: dict[str, Path]) -> Table:
    total, empty = len(report.sections), sum(s.empty for s in report.sections)
    title = f"Panels with data: {total - empty} of {total}"
    table = Table(title=title, caption=report.time_range.label())
    table.add_column("panel")
    table.add_column("rows", justify="right")
    table.add_column("chart file")
    for section in report.sections:
        if section.empty:
            chart = "no data"
        elif section.png is None:
            chart = f"({section.kind}, in the page)"
        else:
            chart = str(files.get(section.panel.slug, "(in the page)"))
        table.add_row(section.panel.title, f"{section.rows:,}", chart)
    return table
