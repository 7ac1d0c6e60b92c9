"""The comparison as a rich table for people and as JSON for scripts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.table import Table
from rich.text import Text

from dxpulse.calibrate.compare import Result, format_allowed, format_value


def summary_line(results: Sequence[Result]) -> str:
    failed = [r.target.spec.id for r in results if not r.passed]
    if not failed:
        return f"all {len(results)} calibration figures pass"
    return f"{len(failed)} of {len(results)} calibration figures fail: {', '.join(failed)}"


def results_table(results: Sequence[Result], database: str) -> Table:
    # No verdict here: the command prints it once, after the table or as its error line.
    table = Table(title=f"Calibration of {database}.events against the national figures")
    table.add_column("figure")
    for numeric in ("measured", "target", "tolerance", "sample / min"):
        table.add_column(numeric, justify="right")
    table.add_column("source")
    table.add_column("result")
    for r in results:
        spec = r.target.spec
        table.add_row(
            spec.figure,
            "—" if r.measured is None else format_value(r.measured, spec.unit),
            format_value(r.target.value, spec.unit),
            format_allowed(r.target),
            f"{r.sample:,} / {spec.min_sample:,}",
            spec.source + (" (assumption)" if spec.basis == "assumption" else ""),
            Text("PASS", style="bold green")
            if r.passed
            else Text(f"FAIL: {r.reason}", style="bold red"),
        )
    return table


def results_json(results: Sequence[Result], database: str) -> dict[str, Any]:
    return {
        "table": f"{database}.events",
        "passed": all(r.passed for r in results),
        "summary": summary_line(results),
        "figures": [_figure(r) for r in results],
    }


def _figure(r: Result) -> dict[str, Any]:
    spec = r.target.spec
    return {
        "id": spec.id,
        "figure": spec.figure,
        "metric": spec.metric,
        "measured": r.measured,
        "target": r.target.value,
        "unit": spec.unit,
        "tolerance": spec.tolerance.model_dump(exclude_none=True),
        "allowed_deviation": r.target.allowed,
        "sample": r.sample,
        "min_sample": spec.min_sample,
        "sample_unit": spec.sample_unit,
        "measured_as": spec.measured_as,
        "source": spec.source,
        "source_title": r.target.source.title,
        "reference": spec.reference,
        "basis": spec.basis,
        "result": "PASS" if r.passed else "FAIL",
        "reason": r.reason,
    }
