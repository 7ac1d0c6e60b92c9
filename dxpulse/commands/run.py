"""`dxpulse run`: the whole pipeline on this machine, then a verified summary."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import TYPE_CHECKING

import click

from dxpulse.commands.common import (
    BACKFILL_SPAN,
    Duration,
    announce_seed,
    bootstrap_option,
    console,
    data_dir_option,
    dsn_option,
    load_settings,
    seed_option,
)
from dxpulse.core.config import Settings
from dxpulse.core.errors import DxpulseError

if TYPE_CHECKING:
    from dxpulse.runner import Backfill, RunResult


_DEFAULT_RUN_COUNT = 100_000


@click.command()
@click.option(
    "--count",
    type=click.IntRange(min=1),
    help="Stop after this many events [default: 100,000, or no limit with --duration]. "
    "With --duration too, whichever comes first.",
)
@click.option(
    "--duration",
    type=Duration(),
    help="Stop after this long (e.g. 5m). With --count too, whichever comes first.",
)
@click.option(
    "--rate",
    type=click.FloatRange(min=0),
    default=0,
    show_default=True,
    help="Events per second; 0 sends as fast as possible. Live events are stamped one every "
    "1/RATE s from the start, so N events cover N/RATE s of event time; at 0 each is stamped "
    "when it is made, so a large run covers only the few seconds it takes.",
)
@click.option(
    "--backfill",
    type=BACKFILL_SPAN,
    metavar="SPAN",
    help="First produce history: events over the past SPAN (with a unit: 12h, 2d, 30d; at "
    "most 400d) with the daily rhythm and named peaks, at full speed; then the live events.",
)
@click.option(
    "--backfill-count",
    type=click.IntRange(min=1),
    help="Events in the --backfill [default: 50,000 a day of SPAN].",
)
@seed_option
@data_dir_option
@click.option(
    "--partitions", type=click.IntRange(1, 1024), help="Partitions per topic [default: 8]."
)
@bootstrap_option
@dsn_option
def run(
    count: int | None,
    duration: float | None,
    rate: float,
    backfill: float | None,
    backfill_count: int | None,
    seed: int | None,
    data_dir: Path | None,
    partitions: int | None,
    bootstrap_servers: str | None,
    clickhouse_dsn: str | None,
) -> None:
    """Run the whole pipeline here and print a verified summary.

    With no broker configured, starts an embedded Tansu broker on a free loopback port;
    with no ClickHouse configured, writes to chDB under --data-dir. Produces --count events
    or for --duration, whichever comes first, waits until every one is in ClickHouse, stops
    the worker and the broker, then prints totals by region and area and the exactness
    checks. With --backfill, history comes first, so that none of it is late behind the
    live events.

    Ctrl-C, SIGTERM or SIGHUP stops production: what was delivered lands in ClickHouse
    (waiting at most a minute), the worker and the broker stop, and the checks cover what
    was delivered; the exit status is then 128 + the signal's number (130 for Ctrl-C, 143
    for SIGTERM, 129 for SIGHUP). A second signal aborts within a second: the worker and
    the broker are killed, and one line says how many events may not have landed.
    """
    from dxpulse.data_dir import prepare_data_dir
    from dxpulse.run_control import RunControl
    from dxpulse.runner import run_pipeline

    history = _run_backfill(backfill, backfill_count)
    settings = load_settings(
        data_dir=data_dir,
        kafka__partitions=partitions,
        kafka__bootstrap_servers=bootstrap_servers,
        clickhouse__dsn=clickhouse_dsn,
    )
    prepare_data_dir(settings.data_dir)  # before anything is started or printed
    if count is None and duration is None:
        count = _DEFAULT_RUN_COUNT
    seed = announce_seed(seed)
    with RunControl(console) as control:
        rows_before = _raw_rows(settings)
        settings, result = run_pipeline(
            settings, console, control, count, duration, rate, seed, history
        )
    code = _run_summary(settings, result, control.stopped_by, rows_before, count, rate)
    if code:
        raise click.exceptions.Exit(code)


def _run_backfill(span: float | None, count: int | None) -> Backfill | None:
    """`run`'s --backfill and --backfill-count, checked, as the history to produce."""
    from dxpulse.producers.backfill import MAX_SPAN_S, default_count
    from dxpulse.runner import Backfill

    if count is not None and span is None:
        raise click.UsageError("--backfill-count needs --backfill SPAN")
    if span is None:
        return None
    if span > MAX_SPAN_S:
        days = MAX_SPAN_S // 86_400
        raise click.BadParameter(f"at most {days} days of history", param_hint="'--backfill'")
    return Backfill(span, count or default_count(span))


def _run_summary(
    settings: Settings,
    result: RunResult,
    stopped_by: signal.Signals | None,
    rows_before: int,
    asked: int | None,
    rate: float = 0,
) -> int:
    """Print what the run produced and the exactness checks over what was delivered; the
    exit status: 1 if a check failed or (without a signal) an event was not delivered,
    128 + the signal after a stop signal, else 0."""
    from dxpulse.signals import exit_code

    if not result.started:
        assert stopped_by is not None
        console.print(
            f"Stopped by {stopped_by.name} before producing any event; "
            "the worker and the broker were stopped."
        )
        return exit_code(stopped_by)
    _print_produced(result, stopped_by, asked)
    if (line := live_times_line(result, rate)) is not None:
        console.print(line)
    if not _print_checks(settings, result, rows_before):
        raise DxpulseError("exactness checks failed")
    if result.undelivered and stopped_by is None:
        raise DxpulseError(
            f"{result.undelivered} of {result.produced.sent} events not delivered"
            + (f": {result.delivery_error}" if result.delivery_error else "")
        )
    return exit_code(stopped_by) if stopped_by is not None else 0


def _print_produced(
    result: RunResult, stopped_by: signal.Signals | None, asked: int | None
) -> None:
    """The history's days, the stop, the counts, and what was sent but did not land."""
    from dxpulse.runner import LAND_AFTER_STOP_S, backfill_table

    report, status = result.produced, result.worker_status
    past, plan = result.backfill, result.backfill_plan
    if past is not None and plan is not None and past.delivered == plan.count:
        console.print(backfill_table(plan, past))
    if stopped_by is not None:
        events = f"of the {asked:,} events asked for" if asked else "events"
        console.print(f"Stopped by {stopped_by.name} after {report.delivered:,} {events}.")
    console.print(
        f"Produced {report.delivered:,} events in {report.seconds:.1f} s "
        f"({report.rate:,.0f}/s)"
        + (f", {past.delivered:,} of them history" if past is not None else "")
        + f"; worker committed {status['committed']:,}, "
        f"dead-lettered {status['dead_lettered']:,}, in {status['flushes']:,} flushes."
    )
    if result.undelivered:
        console.print(
            f"{result.undelivered:,} more events were sent but not delivered to Kafka"
            + (f" ({result.delivery_error})" if result.delivery_error else "")
            + ": they are not in ClickHouse, nor in the checks below.",
            markup=False,
        )
    if result.unlanded:
        console.print(
            f"{result.unlanded:,} delivered events were not committed to ClickHouse "
            f"{LAND_AFTER_STOP_S:.0f} s after the stop signal; the worker's final flush may "
            "have landed some: the checks below count what is there."
        )


def live_times_line(result: RunResult, rate: float) -> str | None:
    """How the live events' times were spread, when it matters for the charts: at --rate 0
    they are stamped as they are made, so a large run is one spike of event time."""
    past = result.backfill
    live = result.produced.delivered - (past.delivered if past else 0)
    if live <= 0:
        return None
    if rate > 0:
        return f"Live event times: {live:,} events at {rate:,g}/s cover {live / rate:,.1f} s."
    seconds = result.produced.seconds - (past.seconds if past else 0.0)
    return (
        f"Live event times: {live:,} events stamped as they were made (--rate 0), so they span "
        f"only the ~{max(seconds, 0.0):,.1f} s that took; --rate R spreads N events over N/R s, "
        "--backfill SPAN gives them a history."
    )


def _print_checks(settings: Settings, result: RunResult, rows_before: int) -> bool:
    """The regions, the exactness checks and where to look next; whether all checks hold."""
    from dxpulse.clickhouse import connect
    from dxpulse.core.source_tree import command_name
    from dxpulse.query_output import SUGGESTED_QUERY
    from dxpulse.summary import checks_table, exactness_checks, region_table

    client = connect(settings)
    db = settings.clickhouse.database
    console.print(region_table(client, db))
    valid = result.produced.delivered - result.worker_status["dead_lettered"]
    checks = exactness_checks(client, db, valid, rows_before)
    console.print(checks_table(checks))
    suggestion = SUGGESTED_QUERY.format(db=db)
    me = command_name()
    console.print(
        f"Data: {settings.clickhouse_dsn()}  —  try: {me} query "
        f'"{suggestion}" --data-dir {settings.data_dir}',
        soft_wrap=True,  # a command to copy: not broken across lines
    )
    console.print(f"Charts without Grafana: {me} report --data-dir {settings.data_dir}")
    return all(c.ok for c in checks)


def _raw_rows(settings: Settings) -> int:
    """Raw rows before a run adds its own. The client is closed again: chDB lets one
    process at a time open a data dir, and the run's worker is another process."""
    from dxpulse.clickhouse import connect
    from dxpulse.summary import raw_rows

    client = connect(settings)
    try:
        return raw_rows(client, settings.clickhouse.database)
    finally:
        client.close()
