"""`dxpulse migrate` and `dxpulse init`: the ClickHouse schema, and a whole deployment's
setup (topics, schema, users)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.table import Table

from dxpulse.commands.common import (
    Duration,
    bootstrap_option,
    console,
    data_dir_option,
    dsn_option,
    err_console,
    load_settings,
    require_kafka,
)
from dxpulse.config import Settings
from dxpulse.errors import DxpulseError

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client


@click.command(short_help="Create or upgrade the ClickHouse schema.")
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

    settings = load_settings(clickhouse__dsn=clickhouse_dsn, data_dir=data_dir)
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


@click.command(short_help="Set up a deployment: topics, schema and (--users) ClickHouse users.")
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
    from dxpulse.clickhouse import _redact, load_migrations
    from dxpulse.clickhouse import migrate as apply_migrations
    from dxpulse.topics import ensure_topics

    settings = require_kafka(
        load_settings(
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

    from dxpulse.clickhouse import _redact, connect

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
