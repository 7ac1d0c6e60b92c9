"""`dxpulse worker`: one stream worker, Kafka to ClickHouse."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from dxpulse.commands.common import (
    bootstrap_option,
    data_dir_option,
    dsn_option,
    load_settings,
    require_kafka,
)


@click.command(short_help="Run a stream worker (Kafka -> ClickHouse).")
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
    from dxpulse.clickhouse import (
        check_shards,
        cluster_session,
        connect,
        connect_shards,
        migrate_for,
    )
    from dxpulse.data_dir import prepare_data_dir
    from dxpulse.streams.app import create_app
    from dxpulse.streams.faults import hook_from_env
    from dxpulse.streams.ingest import IngestLoop
    from dxpulse.streams.memory import tune_collector
    from dxpulse.streams.shutdown import BoundedStopWorker, quiet_thread_errors
    from dxpulse.streams.sink import ClickHouseSink
    from dxpulse.streams.startup import ensure_port_free, startup_line
    from dxpulse.streams.status import WorkerStatus
    from dxpulse.topics import ensure_topics

    settings = require_kafka(
        load_settings(
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
        migrate_for(settings, client)
    status = WorkerStatus()
    shards = []
    if settings.clickhouse.cluster:
        check_shards(settings, cluster_session(client))
        shards = connect_shards(settings)
    sink = ClickHouseSink(client, settings.clickhouse.database, shards=shards)
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
    tune_collector()
    faust_worker.execute_from_commandline()
