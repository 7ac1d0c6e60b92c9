"""The `dxpulse` command line: one entry point, one subcommand per job."""

from __future__ import annotations

import logging
import os
import re
import secrets
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import orjson
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from dxpulse import __version__
from dxpulse.core.config import EVENT_TYPES, Settings
from dxpulse.core.errors import DxpulseError

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client

    from dxpulse.bench.report import BenchReport
    from dxpulse.producers.generator import EventGenerator
    from dxpulse.producers.producer import ProduceReport
    from dxpulse.runner import Backfill, RunResult
    from dxpulse.signals import StopSignals

console = Console()
err_console = Console(stderr=True)

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


class Duration(click.ParamType):
    """A duration like 90, 90s, 5m, 1.5h or 2d (seconds when no unit is given).

    With ``unit_required``, a bare number is refused: a backfill span of ``7`` would be
    seven seconds to `--duration`'s reading and seven days to many a reader."""

    name = "duration"

    def __init__(self, unit_required: bool = False) -> None:
        self.unit_required = unit_required

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, float | int) and not self.unit_required:
            return float(value)
        match = _DURATION.match(str(value).strip())
        if not match or float(match.group(1)) <= 0:
            self.fail(f"{value!r} is not a duration such as 30s, 5m or 1h", param, ctx)
        if self.unit_required and match.group(2) is None:
            self.fail(f"{value!r} needs a unit: 12h, 7d or 30d", param, ctx)
        return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def _settings(**overrides: Any) -> Settings:
    """Settings from the environment, with the CLI's explicit options on top."""
    settings = Settings()
    top: dict[str, Any] = {}
    sections: dict[str, dict[str, Any]] = {}
    for key, value in overrides.items():
        if value is None:
            continue
        if "__" in key:
            section, field = key.split("__", 1)
            sections.setdefault(section, {})[field] = value
        else:
            top[key] = value
    for section, values in sections.items():
        # Validated below as part of Settings, so errors name the section (grafana.url).
        top[section] = {**getattr(settings, section).model_dump(), **values}
    settings = Settings.model_validate({**settings.model_dump(), **top})
    # librdkafka repeats connection failures many times a second; its errors reach the user
    # as exceptions or consumer errors instead. DEBUG shows them all.
    logging.getLogger("librdkafka").setLevel(
        logging.DEBUG if settings.log_level == "DEBUG" else logging.CRITICAL
    )
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    return settings


data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where embedded chDB data and worker logs live "
    "[env DXPULSE_DATA_DIR; default: ./dxpulse-data].",
)
bootstrap_option = click.option(
    "--bootstrap-servers",
    metavar="HOST:PORT[,..]",
    help="Kafka bootstrap servers [env DXPULSE_KAFKA__BOOTSTRAP_SERVERS].",
)
dsn_option = click.option(
    "--clickhouse-dsn",
    metavar="DSN",
    help="ClickHouse DSN, e.g. http://host:8123 "
    "[env DXPULSE_CLICKHOUSE__DSN; default: chDB in --data-dir].",
)
bench_dsn_option = click.option(
    "--clickhouse-dsn",
    metavar="DSN",
    help="ClickHouse DSN, e.g. http://host:8123 "
    "[env DXPULSE_CLICKHOUSE__DSN; default: a chDB store per worker under --output].",
)
seed_option = click.option(
    "--seed",
    type=int,
    help="Seed of the random draws [default: a random one, printed]. The same seed draws the "
    "same customers, amounts and mix again (the mix follows the hour of the week); event ids "
    "also depend on when the run starts and on each event's time, so a repeat never re-sends "
    "an earlier run's ids.",
)
_RANDOM_SEEDS = 100_000_000  # a default seed has at most 8 digits: easy to type back


def _announce_seed(seed: int | None) -> int:
    """The seed to use (random when not given), printed so that the run can be repeated."""
    if seed is None:
        seed = secrets.randbelow(_RANDOM_SEEDS)
    console.print(f"seed {seed} — repeat with --seed {seed}")
    return seed


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="dxpulse")
def cli() -> None:
    """Vietnam's digital economy as live numbers: events -> Kafka -> Faust -> ClickHouse.

    Start with `dxpulse run`: it needs no Kafka or ClickHouse, runs everything on this
    machine and prints a verified summary. Configuration comes from DXPULSE_* environment
    variables (see the README); options given here override them.
    """


_DEFAULT_RUN_COUNT = 100_000
_BACKFILL_SPAN = Duration(unit_required=True)
# `produce`'s epilog; `run`'s docstring says what a signal does to it, which is more.
_SIGNALS_HELP = (
    "Ctrl-C, SIGTERM or SIGHUP stops production in order: what was sent is flushed and "
    "counted, and the exit status is 128 + the signal's number (130 for Ctrl-C, 143 for "
    "SIGTERM). A second one aborts at once."
)


@cli.command()
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
    help="Events per second; 0 sends as fast as possible.",
)
@click.option(
    "--backfill",
    type=_BACKFILL_SPAN,
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
    settings = _settings(
        data_dir=data_dir,
        kafka__partitions=partitions,
        kafka__bootstrap_servers=bootstrap_servers,
        clickhouse__dsn=clickhouse_dsn,
    )
    prepare_data_dir(settings.data_dir)  # before anything is started or printed
    if count is None and duration is None:
        count = _DEFAULT_RUN_COUNT
    seed = _announce_seed(seed)
    with RunControl(console) as control:
        rows_before = _raw_rows(settings)
        settings, result = run_pipeline(
            settings, console, control, count, duration, rate, seed, history
        )
    code = _run_summary(settings, result, control.stopped_by, rows_before, count)
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
) -> int:
    """Print what the run produced and the exactness checks over what was delivered; the
    exit status: 1 if a check failed or (without a signal) an event was not delivered,
    128 + the signal after a stop signal, else 0."""
    from dxpulse.clickhouse import connect
    from dxpulse.core.source_tree import command_name
    from dxpulse.query_output import SUGGESTED_QUERY
    from dxpulse.runner import LAND_AFTER_STOP_S, backfill_table
    from dxpulse.signals import exit_code
    from dxpulse.summary import checks_table, exactness_checks, region_table

    if not result.started:
        assert stopped_by is not None
        console.print(
            f"Stopped by {stopped_by.name} before producing any event; "
            "the worker and the broker were stopped."
        )
        return exit_code(stopped_by)
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
    client = connect(settings)
    db = settings.clickhouse.database
    console.print(region_table(client, db))
    valid = report.delivered - status["dead_lettered"]
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
    if not all(c.ok for c in checks):
        raise DxpulseError("exactness checks failed")
    if result.undelivered and stopped_by is None:
        raise DxpulseError(
            f"{result.undelivered} of {report.sent} events not delivered"
            + (f": {result.delivery_error}" if result.delivery_error else "")
        )
    return exit_code(stopped_by) if stopped_by is not None else 0


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


@cli.command(epilog=_SIGNALS_HELP)
@click.option(
    "--count",
    type=click.IntRange(min=1),
    help="Stop after this many events (with --backfill: its total). With --duration too, "
    "whichever comes first [default: none; with --backfill 50,000 a day].",
)
@click.option(
    "--duration",
    type=Duration(),
    help="Stop after this long (e.g. 90s, 5m). With --count too, whichever comes first.",
)
@click.option(
    "--rate",
    type=click.FloatRange(min=0),
    default=1000,
    show_default=True,
    help="Mean events per second; 0 sends as fast as possible.",
)
@click.option(
    "--diurnal/--flat",
    default=False,
    show_default=True,
    help="Follow the hour-of-day and weekday rhythm around --rate.",
)
@click.option(
    "--type",
    "types",
    type=click.Choice(EVENT_TYPES),
    multiple=True,
    help="Only these event types (repeatable) [default: all three].",
)
@click.option(
    "--backfill",
    type=_BACKFILL_SPAN,
    metavar="SPAN",
    help="Instead of live events: history with event times over the past SPAN (with a "
    "unit: 12h, 7d, 30d; at most 400d), sent at full speed, following the daily and weekly "
    "rhythm and named peaks (Tết, 11.11, paydays). Run it before live traffic.",
)
@seed_option
@bootstrap_option
def produce(
    count: int | None,
    duration: float | None,
    rate: float,
    diurnal: bool,
    types: tuple[str, ...],
    backfill: float | None,
    seed: int | None,
    bootstrap_servers: str | None,
) -> None:
    """Generate calibrated synthetic events and send them to Kafka.

    Creates the topics if missing. Runs until --count or --duration, whichever comes
    first, or until Ctrl-C; shows the count and rate meanwhile (a line every few seconds
    when the output is not a terminal) and the events per type at the end.

    With --backfill SPAN it produces history instead: --count events (default 50,000 a
    day) timed over the past SPAN up to now, oldest first, then prints them per day. Run it
    before live traffic: the worker counts an event more than 10 minutes older than the
    newest it has seen in its partition as late, and keeps it out of the windowed
    aggregates.
    """
    from dxpulse.producers.generator import EventGenerator
    from dxpulse.signals import StopSignals, exit_code
    from dxpulse.topics import ensure_topics

    if backfill is not None:
        _check_produce_backfill(backfill)
    settings = _require_kafka(_settings(kafka__bootstrap_servers=bootstrap_servers))
    ensure_topics(settings.kafka)
    seed = _announce_seed(seed)
    generator = EventGenerator(
        seed=seed, event_types=types or EVENT_TYPES, run_start=datetime.now(UTC)
    )
    sent = [0]  # for the abort line: the watcher thread cannot ask the producer
    with StopSignals(_say_stopping, lambda signum: _abort_produce(signum, sent[0])) as signals:
        if backfill is not None:
            report = _produce_history(settings, generator, backfill, count, signals, sent)
        else:
            report = _produce_live(
                settings, generator, count, duration, rate, diurnal, signals, sent
            )
    if signals.first is not None:
        console.print(f"Stopped by {signals.first.name} after {report.delivered:,} events.")
    if report.undelivered:
        raise DxpulseError(
            f"{report.undelivered} of {report.sent} events not delivered"
            + (f": {report.errors[0]}" if report.errors else "")
        )
    if signals.first is not None:
        raise click.exceptions.Exit(exit_code(signals.first))


def _check_produce_backfill(span: float) -> None:
    """--backfill excludes the live options given on the command line, and is bounded."""
    from click.core import ParameterSource

    from dxpulse.producers.backfill import MAX_SPAN_S

    ctx = click.get_current_context()
    for name, option, why in (
        ("duration", "--duration", "it ends after its --count events"),
        ("rate", "--rate", "it is sent as fast as possible"),
        ("diurnal", "--diurnal/--flat", "it always follows the rhythm and peaks"),
    ):
        if ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE:
            raise click.UsageError(f"--backfill cannot be combined with {option}: {why}")
    if span > MAX_SPAN_S:
        days = MAX_SPAN_S // 86_400
        raise click.BadParameter(f"at most {days} days of history", param_hint="'--backfill'")


def _produce_live(
    settings: Settings,
    generator: EventGenerator,
    count: int | None,
    duration: float | None,
    rate: float,
    diurnal: bool,
    signals: StopSignals,
    sent: list[int],
) -> ProduceReport:
    """Live events until a limit or a stop signal, shown as they go; then their table.
    Undelivered events are counted in the report, not raised."""
    from dxpulse.producers.producer import UndeliveredError
    from dxpulse.producers.producer import produce as produce_events
    from dxpulse.progress import CountProgress

    with CountProgress(err_console, "produced", count) as shown:

        def advance(n: int) -> None:
            shown.advance(n)
            sent[0] = shown.count

        try:
            report = produce_events(
                settings,
                generator,
                count=count,
                duration_s=duration,
                rate=rate,
                diurnal=diurnal,
                progress=advance,
                should_stop=lambda: signals.stopping,
            )
        except UndeliveredError as exc:
            report = exc.report
    table = Table(title=f"Produced {report.delivered:,} events in {report.seconds:.1f} s")
    table.add_column("event type")
    table.add_column("events", justify="right")
    for etype, n in sorted(report.by_type.items()):
        table.add_row(etype, f"{n:,}")
    console.print(table)
    return report


def _produce_history(
    settings: Settings,
    generator: EventGenerator,
    span: float,
    count: int | None,
    signals: StopSignals,
    sent: list[int],
) -> ProduceReport:
    """A backfill until its end or a stop signal, shown as it goes; then its days."""
    from dxpulse.producers.backfill import default_count, plan_backfill
    from dxpulse.producers.producer import UndeliveredError, produce_backfill
    from dxpulse.progress import CountProgress
    from dxpulse.runner import backfill_table

    plan = plan_backfill(
        span, count or default_count(span), seed=generator.seed, event_types=generator.event_types
    )
    with CountProgress(err_console, "backfilled", plan.count) as shown:

        def advance(n: int) -> None:
            shown.advance(n)
            sent[0] = shown.count

        try:
            past = produce_backfill(
                settings, generator, plan, progress=advance, should_stop=lambda: signals.stopping
            )
        except UndeliveredError as exc:
            past = exc.report
    if past.delivered == plan.count:
        console.print(backfill_table(plan, past))
    else:
        console.print(f"Backfilled {past.delivered:,} of the {plan.count:,} planned events.")
    return past


def _say_stopping(signum: signal.Signals) -> None:
    err_console.print(
        f"Stopping ({signum.name}): flushing what was sent; a second signal aborts.",
        markup=False,
        highlight=False,
    )


def _abort_produce(signum: signal.Signals, sent: int) -> None:
    """A second stop signal: exit at once; what the producer still queued may be lost."""
    from dxpulse.signals import exit_code

    os.write(
        2,
        f"dxpulse: aborted by a second {signum.name}: about {sent:,} events were sent; those "
        "the producer still queued may not have been delivered\n".encode(),
    )
    os._exit(exit_code(signum))


@cli.command(short_help="Run a stream worker (Kafka -> ClickHouse).")
@bootstrap_option
@dsn_option
@data_dir_option
@click.option("--web-port", type=click.IntRange(1, 65535), help="Status page port [default: 6066].")
@click.option(
    "--create-topics/--no-create-topics",
    default=True,
    show_default=True,
    help="Create missing topics at start (needs the right to create topics).",
)
@click.option(
    "--migrate/--no-migrate",
    default=True,
    show_default=True,
    help="Apply pending ClickHouse migrations at start.",
)
def worker(
    bootstrap_servers: str | None,
    clickhouse_dsn: str | None,
    data_dir: Path | None,
    web_port: int | None,
    create_topics: bool,
    migrate: bool,
) -> None:
    """Run a stream worker: consume, validate, dead-letter, aggregate, write to ClickHouse.

    Scale out by starting more workers with the same group id. Serves GET /status and
    GET /health on --web-port. SIGTERM flushes, commits and exits 0. On an embedded engine
    with the status page on loopback, it also answers `dxpulse query`, `report` and
    `calibrate` on its data dir (read-only; see the README).
    """
    from dxpulse.clickhouse import connect
    from dxpulse.clickhouse import migrate as apply_migrations
    from dxpulse.data_dir import prepare_data_dir
    from dxpulse.streams.app import create_app
    from dxpulse.streams.faults import hook_from_env
    from dxpulse.streams.ingest import IngestLoop
    from dxpulse.streams.shutdown import BoundedStopWorker, quiet_thread_errors
    from dxpulse.streams.sink import ClickHouseSink
    from dxpulse.streams.startup import ensure_port_free, startup_line
    from dxpulse.streams.status import WorkerStatus
    from dxpulse.topics import ensure_topics

    settings = _require_kafka(
        _settings(
            kafka__bootstrap_servers=bootstrap_servers,
            clickhouse__dsn=clickhouse_dsn,
            data_dir=data_dir,
            web__port=web_port,
        )
    )
    prepare_data_dir(settings.data_dir)  # Faust's state and chDB's data go there
    ensure_port_free(settings.web.host, settings.web.port)
    if create_topics:
        ensure_topics(settings.kafka)
    client = connect(settings)
    if migrate:
        apply_migrations(client, settings.clickhouse.database)
    status = WorkerStatus()
    sink = ClickHouseSink(client, settings.clickhouse.database)
    ingest = IngestLoop(settings, sink, status, faults=hook_from_env())
    app = create_app(settings, ingest, status)
    quiet_thread_errors()
    faust_worker = BoundedStopWorker(
        app, ingest, status, settings.stream.stop_timeout_s, loglevel=settings.log_level,
        quiet=True,
    )  # fmt: skip
    faust_worker.spinner = None  # its cursor escapes litter terminals and log files alike
    sys.stdout.write(startup_line(settings) + "\n")
    sys.stdout.flush()
    faust_worker.execute_from_commandline()


@cli.command(short_help="Create or upgrade the ClickHouse schema.")
@dsn_option
@data_dir_option
@click.option(
    "--lock-wait",
    "lock_wait_s",
    type=Duration(),
    default="10m",
    show_default=True,
    help="How long to wait while another migrator holds the database's migration lock.",
)
@click.option(
    "--force-unlock",
    is_flag=True,
    help="First remove a migration lock left by a migrator that crashed. Only when no "
    "migration is running: completed statements are recorded, so it resumes.",
)
def migrate(
    clickhouse_dsn: str | None, data_dir: Path | None, lock_wait_s: float, force_unlock: bool
) -> None:
    """Create or upgrade the ClickHouse schema (idempotent) and load the province table.

    One migrator at a time per database: others wait for its lock (--lock-wait), then find
    the work done. A migration that failed part-way resumes after its completed statements
    when run again.
    """
    from dxpulse.clickhouse import MigrationEvent, connect, log_event
    from dxpulse.clickhouse import migrate as apply_migrations
    from dxpulse.migration_lock import break_lock

    settings = _settings(clickhouse__dsn=clickhouse_dsn, data_dir=data_dir)
    client, db = connect(settings), settings.clickhouse.database
    if force_unlock:
        holder = break_lock(client, db)
        console.print(
            f"Removed the migration lock held by {holder.describe()}."
            if holder
            else "No migration lock was held."
        )

    def report(event: MigrationEvent) -> None:
        if event.kind == "waiting":  # shown whatever the log level: it explains the pause
            err_console.print(event.message, soft_wrap=True, markup=False, highlight=False)
        else:
            log_event(event)

    applied = apply_migrations(client, db, lock_wait_s=lock_wait_s, report=report)
    console.print(f"Applied: {', '.join(applied)}" if applied else "Schema is up to date.")


@cli.command(short_help="Set up a deployment: topics, schema and (--users) ClickHouse users.")
@bootstrap_option
@dsn_option
@data_dir_option
@click.option(
    "--partitions",
    type=click.IntRange(1, 1024),
    help="Partitions of each topic it creates [env DXPULSE_KAFKA__PARTITIONS; default: 8].",
)
@click.option(
    "--users",
    is_flag=True,
    help="Also create or update the ClickHouse users dxpulse_writer, dxpulse_analyst and "
    "dxpulse_grafana (needs a server and a user with access management).",
)
@click.option(
    "--wait",
    "wait_s",
    type=Duration(),
    default="60s",
    show_default=True,
    help="How long to wait for Kafka and ClickHouse to become reachable.",
)
def init(
    bootstrap_servers: str | None,
    clickhouse_dsn: str | None,
    data_dir: Path | None,
    partitions: int | None,
    users: bool,
    wait_s: float,
) -> None:
    """Set up a deployment, safe to re-run: create the missing Kafka topics (partitions and
    retention set explicitly), apply pending ClickHouse migrations and, with --users, create
    or update dxpulse's least-privilege ClickHouse users.

    Waits up to --wait for Kafka and ClickHouse to answer, as when it starts next to them.
    Connect to ClickHouse as an admin (DXPULSE_CLICKHOUSE__USERNAME, __PASSWORD). The users'
    passwords come only from the environment: DXPULSE_CLICKHOUSE__WRITER_PASSWORD (the
    workers), DXPULSE_CLICKHOUSE__ANALYST_PASSWORD (read-only SQL) and
    DXPULSE_GRAFANA__CLICKHOUSE_PASSWORD (Grafana); they are hashed before they are sent.
    The workers then connect as dxpulse_writer, with `worker --no-migrate`: it may not run DDL.
    """
    import time

    from dxpulse.access import apply_access, user_passwords
    from dxpulse.clickhouse import load_migrations
    from dxpulse.clickhouse import migrate as apply_migrations
    from dxpulse.core.config import redact_dsn as _redact
    from dxpulse.topics import ensure_topics

    settings = _require_kafka(
        _settings(
            kafka__bootstrap_servers=bootstrap_servers,
            kafka__partitions=partitions,
            clickhouse__dsn=clickhouse_dsn,
            data_dir=data_dir,
        )
    )
    passwords = None
    if users:
        if settings.clickhouse_dsn().startswith("chdb://"):
            raise DxpulseError(
                "--users needs a ClickHouse server (DXPULSE_CLICKHOUSE__DSN=http://...): "
                "embedded chDB has no user directory to create users in"
            )
        passwords = user_passwords(settings)  # before anything changes
    if settings.grafana.clickhouse_username != "dxpulse_grafana" and users:
        err_console.print(
            f"note: Grafana is set to connect as {settings.grafana.clickhouse_username}, "
            "but the user created for it is dxpulse_grafana"
        )
    deadline = time.monotonic() + wait_s
    _wait_for_kafka(settings, deadline, wait_s)
    created = ensure_topics(settings.kafka)
    client = _wait_for_clickhouse(settings, deadline, wait_s)
    db = settings.clickhouse.database
    applied = apply_migrations(client, db)
    outcomes = apply_access(client, db, passwords) if passwords is not None else []

    topics = Table(title=f"Kafka topics at {settings.kafka.bootstrap_servers}")
    for column in ("topic", "partitions", "retention", "action"):
        topics.add_column(column, justify="right" if column == "partitions" else "left")
    for name, n, retention_ms in _describe_topics(settings):
        retention = "broker default" if retention_ms is None else _ms_text(retention_ms)
        topics.add_row(name, str(n), retention, "created" if name in created else "existing")
    console.print(topics)
    title, where = f"ClickHouse migrations, database {db}", _redact(settings.clickhouse_dsn())
    schema = Table(title=title, caption=where, min_width=max(len(title), len(where)) + 4)
    schema.add_column("migration")
    schema.add_column("action")
    for migration in load_migrations():
        schema.add_row(migration.name, "applied" if migration.name in applied else "present")
    console.print(schema)
    if outcomes:
        table = Table(title="ClickHouse users")
        for column in ("user", "may", "limits", "action"):
            table.add_column(column)
        for o in outcomes:
            limits = ", ".join(str(s) for s in o.user.settings)
            table.add_row(o.user.name, o.user.rights(), limits, o.action)
        console.print(table)
    total = len(settings.kafka.event_topics) + 1
    actions = sorted({o.action for o in outcomes})
    done = ", ".join(f"{sum(o.action == a for o in outcomes)} {a}" for a in actions)
    console.print(
        f"Topics: {len(created)} created, {total - len(created)} existing; "
        f"migrations: {len(applied)} applied; "
        + (f"users: {done}." if users else "users: not changed (no --users).")
    )


def _wait_for_kafka(settings: Settings, deadline: float, wait_s: float) -> None:
    """Until the brokers answer a metadata request, or the deadline."""
    import time

    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    admin = AdminClient(settings.kafka.client_config())
    told = False
    while True:
        try:
            admin.list_topics(timeout=max(1.0, min(2.0, deadline - time.monotonic())))
            return
        except KafkaException as exc:
            if time.monotonic() >= deadline:
                raise DxpulseError(
                    f"Kafka at {settings.kafka.bootstrap_servers} did not answer within "
                    f"{wait_s:g} s (--wait): {exc.args[0]}"
                ) from exc
        if not told:
            err_console.print(f"waiting for Kafka at {settings.kafka.bootstrap_servers} ...")
            told = True
        time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))


def _wait_for_clickhouse(settings: Settings, deadline: float, wait_s: float) -> Client:
    """A connected client once ClickHouse answers, or the deadline. Only network failures
    are waited out: a refused login or a bad DSN fails at once."""
    import time

    from clickhouse_connect.driver.exceptions import OperationalError

    from dxpulse.clickhouse import connect
    from dxpulse.core.config import redact_dsn as _redact

    told = False
    while True:
        try:
            return connect(settings)
        except DxpulseError as exc:
            if not isinstance(exc.__cause__, OperationalError):
                raise
            if time.monotonic() >= deadline:
                raise DxpulseError(f"{exc} (waited {wait_s:g} s, --wait)") from exc
        if not told:
            err_console.print(f"waiting for ClickHouse at {_redact(settings.clickhouse_dsn())} ...")
            told = True
        time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))


def _describe_topics(settings: Settings) -> list[tuple[str, int, int | None]]:
    """(topic, partitions, retention.ms or None when the broker reports none) of dxpulse's
    topics."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient
    from confluent_kafka.admin._config import ConfigResource  # not re-exported for mypy

    names = [*settings.kafka.event_topics, settings.kafka.dead_letter_topic]
    admin = AdminClient(settings.kafka.client_config())
    meta = admin.list_topics(timeout=10).topics
    retention: dict[str, int | None] = dict.fromkeys(names)
    futures = admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, n) for n in names])
    for resource, future in futures.items():
        try:
            entry = future.result(timeout=10).get("retention.ms")
        except KafkaException:
            continue
        if entry is not None and entry.value is not None:
            retention[resource.name] = int(entry.value)
    return [(n, len(meta[n].partitions) if n in meta else 0, retention[n]) for n in names]


def _ms_text(ms: int) -> str:
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms >= size and ms % size == 0:
            return f"{ms // size}{unit} ({ms:,} ms)"
    return f"{ms:,} ms"


@cli.command()
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
    settings = _settings(clickhouse__dsn=clickhouse_dsn, data_dir=data_dir)
    client = open_reader(settings, note=_note)
    try:
        rows, plan = fetch(client, statement)
    except ClickHouseError as exc:
        raise explain_failure(client, settings, exc) from exc
    if note := plan.note():
        _note(note)
    if fmt == "csv":
        write_csv(rows, sys.stdout)
    elif fmt == "json":
        write_json(rows, sys.stdout.buffer)
    else:
        print_table(rows, console)


def _note(text: str) -> None:
    """One line on stderr that is not an error: where a read went, how a column reads."""
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


_REPORT_TIME = click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"])


@cli.command(short_help="Key dashboard panels as one static HTML page (no Grafana needed).")
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

    The page holds a chart (or numbers) per panel, what it shows, and the exact SQL that
    ran, with every dashboard variable on All. Without --last or --from, the range is the
    data's own span in event_aggregates, at most its last 30 days. Fails if no panel has data.
    """
    from datetime import timedelta

    from rich.progress import Progress

    from dxpulse.core.config import redact_dsn as _redact
    from dxpulse.readers import open_reader, require_schema
    from dxpulse.report.compose import build_report, selected_panels, write_pngs
    from dxpulse.report.html import page
    from dxpulse.report.queries import data_span
    from dxpulse.report.summary import summary_table
    from dxpulse.report.timerange import VN_TZ, choose_range

    if last is not None and (start or end):
        raise click.UsageError("--last and --from/--to exclude each other")
    settings = _settings(clickhouse__dsn=clickhouse_dsn, data_dir=data_dir)
    panels = selected_panels(settings)
    client = open_reader(settings, note=_note)
    require_schema(client, settings)
    # The panels name tables unqualified, as the Grafana datasource's default database allows.
    client.database = db = settings.clickhouse.database
    time_range = choose_range(
        data_span(client, settings.stream.window_seconds),
        last=timedelta(seconds=last) if last else None,
        start=start.replace(tzinfo=VN_TZ) if start else None,
        end=end.replace(tzinfo=VN_TZ) if end else None,
    )
    source = f"{_redact(settings.clickhouse_dsn())}, database {db}"
    # Only on a terminal: piped or captured stderr keeps just a failure's one line.
    live = err_console.is_terminal
    with Progress(console=err_console, transient=True, disable=not live) as progress:
        task = progress.add_task("rendering", total=len(panels))
        result = build_report(
            client, panels, time_range, source, lambda s: progress.advance(task)
        )
    if result.empty:
        raise DxpulseError(f"no panel has data for {time_range.label()}: nothing to report")
    files = write_pngs(result, png_dir) if png_dir else {}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page(result), "utf-8")
    console.print(summary_table(result, files))
    console.print(f"Report: {out}")


@cli.command(short_help="Check the events in ClickHouse against the national figures.")
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
    docs/calibration.md): Mobile Money's rural share, the e-commerce platform mix, cash on
    delivery, the mean order, the online-payment ticket and QR/e-wallet share, the regions'
    and provinces' shares against population, and the failure rate. A figure passes when
    its value is within the tolerance; a figure whose sample is below its minimum (no data
    included) is not judged (SAMPLE TOO SMALL). Exits 1 when a judged figure fails or none
    could be judged, 0 otherwise.
    """
    from clickhouse_connect.driver.exceptions import ClickHouseError

    from dxpulse.calibrate.compare import compare_all
    from dxpulse.calibrate.measure import measure
    from dxpulse.calibrate.render import results_json, results_table, summary_line, verdict_ok
    from dxpulse.calibrate.targets import load_targets
    from dxpulse.readers import open_reader, require_schema

    targets = load_targets()  # a broken targets file fails before any connection
    settings = _settings(clickhouse__dsn=clickhouse_dsn, data_dir=data_dir)
    db = settings.clickhouse.database
    client = open_reader(settings, note=_note)
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


@cli.command(short_help="Benchmark the worker against the alternatives, same data, same run.")
@click.option(
    "--events",
    type=click.IntRange(min=1_000),
    default=1_000_000,
    show_default=True,
    help="Size of the data set every consumer reads.",
)
@click.option("--quick", is_flag=True, help="CI-sized run: 100,000 events, 10 s of freshness.")
@click.option(
    "--faust-events",
    type=click.IntRange(min=1_000),
    default=200_000,
    show_default=True,
    help="Vanilla Faust reads only this many (it runs ~10k events/s).",
)
@click.option(
    "--freshness-rate",
    type=click.FloatRange(min=1),
    default=10_000,
    show_default=True,
    help="Events/s fed to a fresh worker to measure freshness.",
)
@click.option(
    "--freshness-seconds",
    type=click.FloatRange(min=0),
    default=30,
    show_default=True,
    help="How long to feed it; 0 skips the freshness phase.",
)
@click.option("--scaling/--no-scaling", default=True, show_default=True, help="Also run 2 workers.")
@click.option(
    "--soak-seconds",
    type=click.FloatRange(min=0),
    default=0,
    show_default=True,
    help="Feed a worker at --soak-rate this long, sampling its RSS (600 = the 10-minute soak).",
)
@click.option(
    "--soak-rate", type=click.FloatRange(min=1), default=20_000, show_default=True, help="Events/s."
)
@click.option(
    "--partitions", type=click.IntRange(1, 1024), default=8, show_default=True,
    help="Partitions per topic.",
)  # fmt: skip
@click.option(
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("dxpulse-bench"),
    show_default=True,
    help="Directory for report.md, report.json and the processes' logs.",
)
@seed_option
@bootstrap_option
@bench_dsn_option
def bench(
    events: int,
    quick: bool,
    faust_events: int,
    freshness_rate: float,
    freshness_seconds: float,
    scaling: bool,
    soak_seconds: float,
    soak_rate: float,
    partitions: int,
    output: Path,
    seed: int | None,
    bootstrap_servers: str | None,
    clickhouse_dsn: str | None,
) -> None:
    """Produce one data set, then consume it with the plain confluent-kafka ceiling, the
    dxpulse worker (validation, dead letters and exactly-once sink on) and vanilla Faust,
    each in its own process; then 2 workers, freshness at a fixed rate, and optionally a
    memory soak. Writes report.md and report.json under --output and prints the targets.

    With no broker configured it starts an embedded Tansu broker; with no ClickHouse DSN
    each worker writes to its own chDB store under --output.
    """
    from dxpulse.bench.suite import BenchOptions, run_bench
    from dxpulse.bench.suite import quick as quick_size

    options = BenchOptions(
        events=events,
        faust_events=faust_events,
        partitions=partitions,
        freshness_rate=freshness_rate,
        freshness_seconds=freshness_seconds,
        scaling=scaling,
        soak_seconds=soak_seconds,
        soak_rate=soak_rate,
        seed=_announce_seed(seed),
    )
    if quick:
        options = quick_size(options)
    settings = _settings(kafka__bootstrap_servers=bootstrap_servers, clickhouse__dsn=clickhouse_dsn)
    run_dir = output / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    report = run_bench(settings, options, run_dir, console)
    (run_dir / "report.md").write_text(report.to_markdown(), "utf-8")
    (run_dir / "report.json").write_bytes(
        orjson.dumps(report.to_json(), option=orjson.OPT_INDENT_2)
    )
    console.print(_targets_table(report))
    console.print(f"Report: {run_dir / 'report.md'}")


def _targets_table(report: BenchReport) -> Table:
    table = Table(title="dxpulse bench")
    for column in ("consumer", "events/s", "CPU-s per 1M", "peak RSS MB", "× ceiling", "exact"):
        table.add_column(column, justify="left" if column == "consumer" else "right")
    for m in [report.producer, *report.consumers]:
        ratio = report.ratio_to_ceiling(m) if m is not report.producer else None
        table.add_row(
            m.name,
            f"{m.rate:,.0f}",
            f"{m.cpu_per_million:.1f}",
            f"{m.peak_rss_mb:.0f}",
            "" if ratio is None else f"{ratio:.2f}",
            {True: "yes", False: "NO", None: ""}[m.exact],
        )
    targets = Table(title="targets")
    for column in ("target", "goal", "measured", "met"):
        targets.add_column(column)
    for t in report.targets():
        targets.add_row(t.what, t.goal, t.measured, {True: "yes", False: "no", None: "-"}[t.met])
    grid = Table.grid()
    grid.add_row(table)
    grid.add_row(targets)
    return grid


@cli.group(short_help="Export or check the events' JSON Schemas.")
def schemas() -> None:
    """JSON Schema files of the events, for producers in other languages."""


@schemas.command("export")
@click.option("--check", is_flag=True, help="Only verify the committed files are current.")
def schemas_export(check: bool) -> None:
    """Write schemas/json/<event_type>.schema.json from the pydantic models (a developer
    command: it needs a source checkout)."""
    from dxpulse.core.source_tree import checkout_root
    from dxpulse.schemas.export import JSON_DIR, export, render

    checkout_root("schemas export")
    if check:
        stale = [
            t
            for t in EVENT_TYPES
            if not (JSON_DIR / f"{t}.schema.json").exists()
            or (JSON_DIR / f"{t}.schema.json").read_bytes() != render(t) + b"\n"
        ]
        if stale:
            raise DxpulseError(f"out of date: {', '.join(stale)}; run `dxpulse schemas export`")
        console.print("JSON Schemas are current.")
        return
    for path in export():
        console.print(f"wrote {path}")


@cli.group("dashboards", short_help="Grafana dashboards and alert rules, as code.")
def dashboards_group() -> None:
    """Grafana dashboards and alert rules, as code.

    dxpulse's folder, ClickHouse datasource, dashboards and alert rules are built from one
    bundle in Python (dashboards/). Grafana settings come from DXPULSE_GRAFANA__*
    environment variables (see the README).
    """


@dashboards_group.command("push", short_help="Push them to a running Grafana over its HTTP API.")
@click.option(
    "--url",
    metavar="URL",
    help="Grafana base URL [env DXPULSE_GRAFANA__URL; default: http://localhost:3000].",
)
@click.option("--dry-run", is_flag=True, help="Only read and show what would change.")
def dashboards_push(url: str | None, dry_run: bool) -> None:
    """Create or update dxpulse's folder, datasource, dashboards and alert rules in a
    running Grafana through its HTTP API, in that order.

    Idempotent: each object is read first and written only when it is missing or differs,
    so pushing twice changes nothing the second time. The token is read only from the
    environment, DXPULSE_GRAFANA__TOKEN (a service-account token), never from an option,
    so that it stays out of shell history. The datasource's ClickHouse password, if any,
    comes from DXPULSE_GRAFANA__CLICKHOUSE_PASSWORD.
    """
    from dxpulse.dashboards.build import bundle_for
    from dxpulse.dashboards.push import display_url, push_bundle

    settings = _settings(grafana__url=url)
    outcomes = push_bundle(bundle_for(settings), settings.grafana, dry_run=dry_run)
    where = display_url(settings.grafana.url)
    table = Table(title=f"Grafana at {where}" + (" (dry run)" if dry_run else ""))
    for column in ("object", "uid", "title", "action"):
        table.add_column(column)
    for o in outcomes:
        action = f"would be {o.action}" if dry_run and o.action != "unchanged" else o.action
        table.add_row(o.kind, o.uid, o.title, action)
    console.print(table)
    n = {a: sum(o.action == a for o in outcomes) for a in ("created", "updated", "unchanged")}
    if dry_run:
        console.print(
            f"Dry run, nothing written: {n['created']} to create, {n['updated']} to update, "
            f"{n['unchanged']} unchanged."
        )
    else:
        console.print(
            f"Pushed to {where}: {n['created']} created, {n['updated']} updated, "
            f"{n['unchanged']} unchanged."
        )


@dashboards_group.command("build", short_help="Regenerate the committed JSON and provisioning.")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if a generated file is stale.")
def dashboards_build(check: bool) -> None:
    """Build the dashboards, alert rules and provisioning files from dashboards/*.py.

    Writes deploy/grafana/dashboards/*.json, deploy/grafana/provisioning/**/dxpulse.yaml and
    the dashboard tables in README.md. They are built from default settings, never from the
    environment, so every machine generates the same files; `push` uses your settings.
    A developer command: it needs a source checkout.
    """
    from dxpulse.core.source_tree import checkout_root
    from dxpulse.dashboards.build import ROOT, stale_files, write_files

    checkout_root("dashboards build")
    changed = stale_files() if check else write_files()
    names = [str(p.relative_to(ROOT) if p.is_relative_to(ROOT) else p) for p in changed]
    if check and names:
        raise DxpulseError(
            f"{len(names)} generated file(s) out of date ({', '.join(names)}): "
            "run `dxpulse dashboards build` and commit"
        )
    if not names:
        console.print("Generated dashboard files are up to date.")
        return
    table = Table(title="Regenerated")
    table.add_column("file")
    for name in names:
        table.add_row(name)
    console.print(table)


def _require_kafka(settings: Settings) -> Settings:
    if not settings.kafka.bootstrap_servers:
        raise DxpulseError(
            "no Kafka configured: pass --bootstrap-servers or set "
            "DXPULSE_KAFKA__BOOTSTRAP_SERVERS (or use `dxpulse run`, which embeds a broker)"
        )
    return settings


def _fail(message: str, code: int) -> None:
    # Plain write: a rich console would wrap long messages onto several lines.
    sys.stderr.write(f"dxpulse: {message}\n")
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    """Entry point: usage errors and known failures are one line and a non-zero exit."""
    try:
        code = cli.main(args=argv, prog_name="dxpulse", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as exc:
        # A bare `dxpulse` (or command group) is a request for help, not an error.
        sys.stdout.write(exc.ctx.get_help() + "\n")
        sys.exit(0)
    except click.UsageError as exc:
        _fail(f"error: {exc.format_message()}", 2)
    except click.ClickException as exc:
        _fail(f"error: {exc.format_message()}", exc.exit_code)
    except click.Abort:
        _fail("aborted", 130)
    except KeyboardInterrupt:
        sys.exit(130)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        _fail(f"error: bad setting {where}: {first['msg']}", 2)
    except DxpulseError as exc:
        _fail(f"error: {exc}", 1)
    sys.exit(code if isinstance(code, int) else 0)
