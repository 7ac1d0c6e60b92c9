"""The comparison as a rich table for people and as JSON for scripts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.table import Table
from rich.text import Text

from dxpulse.calibrate.compare import FAIL, PASS, Result, format_allowed, format_value

_STYLE = {PASS: "bold green", FAIL: "bold red"}


def verdict_ok(results: Sequence[Result]) -> bool:
    """No figure fails. A figure whose sample is too small is its own verdict, not a
    failure: a short run (or a figure only a long backfill can show, like yearly growth)
    says so in the table without making the command fail; only FAIL does."""
    return not any(r.failed for r in results)


def summary_line(results: Sequence[Result]) -> str:
    """The verdict in one line: what failed, else what passed, and what was not judged."""
    n = len(results)
    failed = [r.target.spec.id for r in results if r.failed]
    small = [r.target.spec.id for r in results if not r.judged]
    if failed:
        line = f"{len(failed)} of {n} calibration figures fail: {', '.join(failed)}"
    elif len(small) == n:
        return f"no calibration figure could be judged: the sample is too small for all {n}"
    elif not small:
        return f"all {n} calibration figures pass"
    else:
        line = f"{n - len(small)} of {n} calibration figures pass"
    if small:
        line += f"; {len(small)} not judged, sample too small: {', '.join(small)}"
    return line


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
            _verdict_cell(r),
        )
    return table


def _verdict_cell(r: Result) -> Text:
    return Text(r.verdict + (f": {r.reason}" if r.reason else ""), style=_STYLE.get(r.verdict, ""))


def results_json(results: Sequence[Result], database: str) -> dict[str, Any]:
    return {
        "table": f"{database}.events",
        "passed": verdict_ok(results),
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
        "result": r.verdict,
        "reason": r.reason,
    }
