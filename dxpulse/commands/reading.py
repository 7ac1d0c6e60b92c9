"""The commands that read ClickHouse: `query`, `report` and `calibrate`."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import click
import orjson

from dxpulse.commands.common import (
    Duration,
    console,
    data_dir_option,
    dsn_option,
    err_console,
    load_settings,
    note,
)
from dxpulse.core.errors import DxpulseError


@click.command()
@click.argument("sql")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
    help="A table for people, or CSV or JSON (an array of objects) for scripts.",
)
@dsn_option
@data_dir_option
def query(sql: str, fmt: str, clickhouse_dsn: str | None, data_dir: Path | None) -> None:
    """Run one SQL statement against the configured ClickHouse and print the result.

    Example: dxpulse query "SELECT region, sum(events) FROM dxpulse.event_aggregates
    GROUP BY region"

    While a worker runs on the data dir, the statement goes to that worker (read-only
    statements only). Aggregation-state columns (e.g. customers) are shown finalized.
    """
    from clickhouse_connect.driver.exceptions import ClickHouseError

    from dxpulse.query_output import fetch, print_table, single_statement, write_csv, write_json
    from dxpulse.readers import explain_failure, open_reader

    statement = single_statement(sql)  # before any connection: nothing runs on a refusal
    settings = load_settings(clickhouse__dsn=clickhouse_dsn, data_dir=data_dir)
    client = open_reader(settings, note=note)
    try:
        rows, plan = fetch(client, statement)
    except ClickHouseError as exc:
        raise explain_failure(client, settings, exc) from exc
    if hint := plan.note():
        note(hint)
    if fmt == "csv":
        write_csv(rows, sys.stdout)
    elif fmt == "json":
        write_json(rows, sys.stdout.buffer)
    else:
        print_table(rows, console)


_REPORT_TIME = click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"])


@click.command(short_help="Key dashboard panels as one static HTML page (no Grafana needed).")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("report.html"),
    show_default=True,
    help="The HTML file to write (self-contained: charts are embedded).",
)
@click.option(
    "--png-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also write each chart as DIR/<panel-slug>.png.",
)
@click.option(
    "--last",
    type=Duration(),
    help="Report this span (e.g. 7d) ending at the newest data [default: all data, up to 30d].",
)
@click.option(
    "--from", "start", type=_REPORT_TIME, metavar="YYYY-MM-DD[ HH:MM]",
    help="Range start, Vietnam time.",
)  # fmt: skip
@click.option(
    "--to", "end", type=_REPORT_TIME, metavar="YYYY-MM-DD[ HH:MM]",
    help="Range end, Vietnam time [default: now].",
)  # fmt: skip
@dsn_option
@data_dir_option
def report(
    out: Path,
    png_dir: Path | None,
    last: float | None,
    start: datetime | None,
    end: datetime | None,
    clickhouse_dsn: str | None,
    data_dir: Path | None,
) -> None:
    """Run the key Grafana panels' own SQL and render them into one static HTML page.

    The page opens with headline numbers (events and value, Mobile Money's rural share of
    customers, Hà Nội and TP. Hồ Chí Minh's share of e-commerce value, growth over the last
    30 whole days against the 30 before), then a chart per panel in chapters, what it
    shows, and the exact SQL that ran, with every dashboard variable on All. Without --last
    or --from, the range is the data's own span in event_aggregates, at most its last 30
    days. Fails if no panel has data. See docs/report.md.
    """
    from datetime import timedelta

    from rich.progress import Progress

    from dxpulse.core.config import redact_dsn
    from dxpulse.readers import open_reader, require_schema
    from dxpulse.report.compose import build_report, selected_panels, write_pngs
    from dxpulse.report.html import page
    from dxpulse.report.queries import data_span
    from dxpulse.report.summary import summary_table
    from dxpulse.report.timerange import VN_TZ, choose_range

    if last is not None and (start or end):
        raise click.UsageError("--last and --from/--to exclude each other")
    settings = load_settings(clickhouse__dsn=clickhouse_dsn, data_dir=data_dir)
    panels = selected_panels(settings)
    client = open_reader(settings, note=note)
    require_schema(client, settings)
    # The panels name tables unqualified, as the Grafana datasource's default database allows.
    client.database = db = settings.clickhouse.database
    time_range = choose_range(
        data_span(client, settings.stream.window_seconds),
        last=timedelta(seconds=last) if last else None,
        start=start.replace(tzinfo=VN_TZ) if start else None,
        end=end.replace(tzinfo=VN_TZ) if end else None,
    )
    source = f"{redact_dsn(settings.clickhouse_dsn())}, database {db}"
    # Only on a terminal: piped or captured stderr keeps just a failure's one line.
    live = err_console.is_terminal
    with Progress(console=err_console, transient=True, disable=not live) as progress:
        task = progress.add_task("rendering", total=len(panels))
        result = build_report(
            client, panels, time_range, source, lambda s: progress.advance(task),
            settings.stream.window_seconds,
        )  # fmt: skip
    if result.empty:
        raise DxpulseError(f"no panel has data for {time_range.label()}: nothing to report")
    files = write_pngs(result, png_dir) if png_dir else {}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page(result), "utf-8")
    console.print(summary_table(result, files))
    console.print(f"Report: {out}")


@click.command(short_help="Check the events in ClickHouse against the national figures.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="A table for people or JSON for scripts (on stdout; the verdict goes to stderr).",
)
@dsn_option
@data_dir_option
def calibrate(fmt: str, clickhouse_dsn: str | None, data_dir: Path | None) -> None:
    """Compare what is in ClickHouse with the national figures the generator is calibrated
    to, and print each figure's measured value, target, tolerance, sample and source.

    Reads the configured database's `events` table (DXPULSE_CLICKHOUSE__DATABASE). The
    figures and their sources are in schemas/reference/calibration_targets.yaml (see
    docs/calibration.md): Mobile Money's rural share and mean ticket, the e-commerce platform
    mix, cash on delivery, the mean order, the online-payment ticket and QR/e-wallet share,
    Hà Nội's and TP. Hồ Chí Minh's shares, the rank correlation of value per head with the
    provincial E-Business Index, the regions' and provinces' shares, the rural/urban ticket
    ratio, yearly growth over a long backfill, and the failure rate. A figure passes when
    its value is within the tolerance; a figure whose sample is below its minimum (no data
    included) is not judged (SAMPLE TOO SMALL), and does not fail the command. Exits 1 when
    a judged figure fails, 0 otherwise.
    """
    from clickhouse_connect.driver.exceptions import ClickHouseError

    from dxpulse.calibrate.compare import compare_all
    from dxpulse.calibrate.measure import measure
    from dxpulse.calibrate.render import results_json, results_table, summary_line, verdict_ok
    from dxpulse.calibrate.targets import load_targets
    from dxpulse.readers import open_reader, require_schema

    targets = load_targets()  # a broken targets file fails before any connection
    settings = load_settings(clickhouse__dsn=clickhouse_dsn, data_dir=data_dir)
    db = settings.clickhouse.database
    client = open_reader(settings, note=note)
    require_schema(client, settings)
    try:
        if str(client.command(f"EXISTS TABLE {db}.events")).strip() != "1":
            raise DxpulseError(f"no table {db}.events: run `dxpulse migrate` or `dxpulse run`")
        metrics = measure(client, db)
    except ClickHouseError as exc:
        raise DxpulseError(str(exc).strip().splitlines()[0]) from exc
    results = compare_all(targets, metrics)
    if fmt == "json":
        sys.stdout.buffer.write(
            orjson.dumps(results_json(results, db), option=orjson.OPT_INDENT_2) + b"\n"
        )
        sys.stdout.flush()
    else:
        console.print(results_table(results, db))
    # The verdict once: a failure is the error line (stderr, exit 1), a pass a line here.
    if not verdict_ok(results):
        raise DxpulseError(summary_line(results))
    if fmt == "table":
        console.print(summary_line(results))
