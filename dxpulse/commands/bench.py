"""`dxpulse bench`: the worker against the alternatives, one data set."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click
import orjson
from rich.table import Table

from dxpulse.commands.common import (
    announce_seed,
    bench_dsn_option,
    bootstrap_option,
    console,
    load_settings,
    seed_option,
)

if TYPE_CHECKING:
    from dxpulse.bench.report import BenchReport


@click.command(short_help="Benchmark the worker against the alternatives, same data, same run.")
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
@click.option(
    "--freshness-half-max/--no-freshness-half-max",
    default=True,
    show_default=True,
    help="Also measure freshness at half the single worker's throughput from this run.",
)
@click.option(
    "--quix/--no-quix",
    default=True,
    show_default=True,
    help="Run the Quix Streams contenders (the 'bench' extra) over the whole data set.",
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
    freshness_half_max: bool,
    quix: bool,
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
    dxpulse worker (validation, dead letters and exactly-once sink on), vanilla Faust and
    two Quix Streams contenders, each in its own process; then 2 workers, freshness at a
    fixed rate and at half the worker's throughput, and optionally a memory soak. Writes
    report.md and report.json under --output and prints the targets.

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
        freshness_half_max=freshness_half_max,
        quix=quix,
        scaling=scaling,
        soak_seconds=soak_seconds,
        soak_rate=soak_rate,
        seed=announce_seed(seed),
    )
    if quick:
        options = quick_size(options)
    settings = load_settings(
        kafka__bootstrap_servers=bootstrap_servers, clickhouse__dsn=clickhouse_dsn
    )
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
