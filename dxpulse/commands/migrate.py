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
from dxpulse.core.config import Settings
from dxpulse.core.errors import DxpulseError

if TYPE_CHECKING:
    from pydantic import SecretStr

    from dxpulse.access import UserOutcome


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
    from dxpulse.clickhouse import MigrationEvent, connect, log_event, migrate_for
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

    applied = migrate_for(settings, client, lock_wait_s=lock_wait_s, report=report)
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
    settings = require_kafka(
        load_settings(
            kafka__bootstrap_servers=bootstrap_servers,
            kafka__partitions=partitions,
            clickhouse__dsn=clickhouse_dsn,
            data_dir=data_dir,
        )
    )
    passwords = _user_passwords(settings) if users else None  # before anything changes
    created, applied, outcomes = _set_up(settings, wait_s, passwords)
    console.print(_topics_table(settings, created))
    console.print(_schema_table(settings, applied))
    if outcomes:
        console.print(_users_table(outcomes))
    console.print(_init_summary(settings, created, applied, outcomes if users else None))


def _user_passwords(settings: Settings) -> dict[str, SecretStr]:
    """The passwords of the users `--users` creates, checked before anything changes."""
    from dxpulse.access import user_passwords

    if settings.clickhouse_dsn().startswith("chdb://"):
        raise DxpulseError(
            "--users needs a ClickHouse server (DXPULSE_CLICKHOUSE__DSN=http://...): "
            "embedded chDB has no user directory to create users in"
        )
    passwords = user_passwords(settings)
    if settings.grafana.clickhouse_username != "dxpulse_grafana":
        err_console.print(
            f"note: Grafana is set to connect as {settings.grafana.clickhouse_username}, "
            "but the user created for it is dxpulse_grafana"
        )
    return passwords


def _set_up(
    settings: Settings, wait_s: float, passwords: dict[str, SecretStr] | None
) -> tuple[list[str], list[str], list[UserOutcome]]:
    """Wait for Kafka, create its topics, wait for ClickHouse, migrate, apply the users;
    both waits share the one --wait. The topics created, migrations applied, user outcomes."""
    import time

    from dxpulse.access import apply_access
    from dxpulse.clickhouse import migrate_for, wait_for_clickhouse
    from dxpulse.core.config import redact_dsn
    from dxpulse.topics import ensure_topics, wait_for_kafka

    deadline = time.monotonic() + wait_s
    servers, where = settings.kafka.bootstrap_servers, redact_dsn(settings.clickhouse_dsn())
    wait_for_kafka(
        settings.kafka, deadline, wait_s, hint="--wait",
        on_wait=lambda: err_console.print(f"waiting for Kafka at {servers} ..."),
    )  # fmt: skip
    created = ensure_topics(settings.kafka)
    client = wait_for_clickhouse(
        settings, deadline, wait_s, hint="--wait",
        on_wait=lambda: err_console.print(f"waiting for ClickHouse at {where} ..."),
    )  # fmt: skip
    db = settings.clickhouse.database
    applied = migrate_for(settings, client)
    outcomes = apply_access(client, db, passwords) if passwords is not None else []
    return created, applied, outcomes


def _topics_table(settings: Settings, created: list[str]) -> Table:
    from dxpulse.topics import describe_topics

    table = Table(title=f"Kafka topics at {settings.kafka.bootstrap_servers}")
    for column in ("topic", "partitions", "retention", "action"):
        table.add_column(column, justify="right" if column == "partitions" else "left")
    for topic in describe_topics(settings.kafka):
        retention = "broker default" if topic.retention_ms is None else _ms_text(topic.retention_ms)
        action = "created" if topic.name in created else "existing"
        table.add_row(topic.name, str(topic.partitions), retention, action)
    return table


def _schema_table(settings: Settings, applied: list[str]) -> Table:
    from dxpulse.clickhouse import load_migrations
    from dxpulse.core.config import redact_dsn

    db = settings.clickhouse.database
    title, where = f"ClickHouse migrations, database {db}", redact_dsn(settings.clickhouse_dsn())
    table = Table(title=title, caption=where, min_width=max(len(title), len(where)) + 4)
    table.add_column("migration")
    table.add_column("action")
    for migration in load_migrations():
        table.add_row(migration.name, "applied" if migration.name in applied else "present")
    return table


def _users_table(outcomes: list[UserOutcome]) -> Table:
    table = Table(title="ClickHouse users")
    for column in ("user", "may", "limits", "action"):
        table.add_column(column)
    for o in outcomes:
        limits = ", ".join(str(s) for s in o.user.settings)
        table.add_row(o.user.name, o.user.rights(), limits, o.action)
    return table


def _init_summary(
    settings: Settings,
    created: list[str],
    applied: list[str],
    outcomes: list[UserOutcome] | None,
) -> str:
    """The closing line; ``outcomes`` is None without --users."""
    total = len(settings.kafka.event_topics) + 1
    if outcomes is None:
        users = "users: not changed (no --users)."
    else:
        actions = sorted({o.action for o in outcomes})
        users = (
            "users: "
            + ", ".join(f"{sum(o.action == a for o in outcomes)} {a}" for a in actions)
            + "."
        )
    return (
        f"Topics: {len(created)} created, {total - len(created)} existing; "
        f"migrations: {len(applied)} applied; {users}"
    )


def _ms_text(ms: int) -> str:
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms >= size and ms % size == 0:
            return f"{ms // size}{unit} ({ms:,} ms)"
    return f"{ms:,} ms"
