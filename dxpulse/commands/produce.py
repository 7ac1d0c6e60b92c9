"""`dxpulse produce`: calibrated events to Kafka, live or as history."""

from __future__ import annotations

import os
import signal
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click
from rich.table import Table

from dxpulse.commands.common import (
    BACKFILL_SPAN,
    Duration,
    announce_seed,
    bootstrap_option,
    console,
    err_console,
    load_settings,
    require_kafka,
    seed_option,
)
from dxpulse.core.config import EVENT_TYPES, Settings
from dxpulse.core.errors import DxpulseError

if TYPE_CHECKING:
    from dxpulse.producers.generator import EventGenerator
    from dxpulse.producers.producer import ProduceReport
    from dxpulse.signals import StopSignals


# `produce`'s epilog; `run`'s docstring says what a signal does to it, which is more.
_SIGNALS_HELP = (
    "Ctrl-C, SIGTERM or SIGHUP stops production in order: what was sent is flushed and "
    "counted, and the exit status is 128 + the signal's number (130 for Ctrl-C, 143 for "
    "SIGTERM). A second one aborts at once."
)


@click.command(epilog=_SIGNALS_HELP)
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
    help="Mean events per second; 0 sends as fast as possible. Events are stamped one every "
    "1/RATE s from the start (N events cover N/RATE s of event time); at 0, when each is made.",
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
    type=BACKFILL_SPAN,
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
    settings = require_kafka(load_settings(kafka__bootstrap_servers=bootstrap_servers))
    ensure_topics(settings.kafka)
    seed = announce_seed(seed)
    started = datetime.now(UTC)  # also the ticket trend's anchor: history had larger tickets
    generator = EventGenerator(
        seed=seed, event_types=types or EVENT_TYPES, run_start=started, trend_origin=started
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
