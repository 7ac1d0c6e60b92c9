"""The one way dxpulse talks to ClickHouse: a clickhouse-connect ``Client``.

The same API serves chDB (``chdb:///path``, in-process) and ClickHouse servers over HTTP,
so the sink, migrations and queries have a single implementation.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Literal

import clickhouse_connect
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError, OperationalError

from dxpulse.cluster_ddl import ClusterLayout, ClusterStatement, fresh_schema, render, render_all
from dxpulse.core import extras
from dxpulse.core.cluster import SESSION_SETTINGS, deduplication_window
from dxpulse.core.config import EVENT_TYPES, Settings, redact_dsn
from dxpulse.core.errors import DxpulseError, one_line
from dxpulse.core.sqlsplit import split_statements
from dxpulse.core.waits import Pending, WaitTimedOut, poll
from dxpulse.deploy import CLICKHOUSE, sql_files
from dxpulse.migration_lock import LockHolder, MigrationLock
from dxpulse.schemas.provinces import provinces
from dxpulse.streams.native import NativeInserter

logger = logging.getLogger(__name__)
MIGRATIONS_DIR: Traversable = CLICKHOUSE
_MIGRATION_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")
PROVINCE_COLUMNS = (
    "code",
    "name_vi",
    "name_ascii",
    "region",
    "population",
    "urban_share",
    "lat",
    "lon",
    "unit_2025_code",
    "unit_2025_name",
)


def connect(settings: Settings) -> Client:
    dsn = settings.clickhouse_dsn()
    extras.chdb_for(dsn)
    if dsn.startswith("chdb://"):
        Path(dsn.removeprefix("chdb://")).mkdir(parents=True, exist_ok=True)
    kwargs = client_options(dsn)
    if settings.clickhouse.username:
        kwargs["username"] = settings.clickhouse.username
    if settings.clickhouse.password:
        kwargs["password"] = settings.clickhouse.password.get_secret_value()
    try:
        return clickhouse_connect.get_client(dsn=dsn, **kwargs)
    except Exception as exc:  # driver raises many types; all mean "cannot connect"
        raise DxpulseError(f"cannot connect to ClickHouse at {redact_dsn(dsn)}: {exc}") from exc


def connect_shards(settings: Settings) -> list[Client]:
    """A client per shard of ``DXPULSE_CLICKHOUSE__SHARDS``, in order: its first replica that
    answers (any replica of a shard holds the same tables and deduplication log)."""
    clients = []
    for number, replicas in enumerate(settings.clickhouse.shards, start=1):
        errors = []
        for dsn in replicas:
            replica = settings.model_copy(
                update={"clickhouse": settings.clickhouse.model_copy(update={"dsn": dsn})}
            )
            try:
                clients.append(cluster_session(connect(replica)))
                break
            except DxpulseError as exc:
                errors.append(str(exc))
        else:
            raise DxpulseError(f"no replica of shard {number} answers: {'; '.join(errors)}")
    return clients


def cluster_session(client: Client) -> Client:
    """``client`` as a cluster writer's session: quorum inserts, sequentially consistent
    reads (dxpulse.core.cluster.SESSION_SETTINGS). Only writers: readers (analysts,
    Grafana) keep their sessions as they are, and a ``readonly=1`` user may not set them."""
    for key, value in SESSION_SETTINGS.items():
        client.set_client_setting(key, value)
    return client


def check_shards(settings: Settings, client: Client) -> None:
    """Refuse a shard list that does not match the cluster: the routing's shard numbers are
    positions in ``remote_servers``, so a list of another length would send a partition's
    rows where its earlier blocks' deduplication log is not."""
    cluster = settings.clickhouse.cluster
    try:
        found = client.query(
            "SELECT uniqExact(shard_num) FROM system.clusters WHERE cluster = {c:String}",
            parameters={"c": cluster},
        ).result_rows[0][0]
    except ClickHouseError as exc:
        raise DxpulseError(f"cannot read cluster {cluster}: {one_line(exc)}") from exc
    given = len(settings.clickhouse.shards)
    if found == 0:
        raise DxpulseError(f"ClickHouse has no cluster {cluster} in its remote_servers")
    if given != found:
        raise DxpulseError(
            f"DXPULSE_CLICKHOUSE__SHARDS lists {given} shards, cluster {cluster} has {found}"
        )


def migrate_for(settings: Settings, client: Client, **options: Any) -> list[str]:
    """:func:`migrate` as the settings say: on one server, or on their cluster."""
    layout = cluster_layout(settings)
    shards = connect_shards(settings) if layout is not None else []
    if layout is not None:
        cluster_session(client)
    return migrate(
        client, settings.clickhouse.database, cluster=layout, shard_clients=shards, **options
    )


def _unreachable(exc: BaseException) -> bool:
    """A failure to reach the server (worth waiting out), not a refused login or bad DSN."""
    return isinstance(exc.__cause__, OperationalError)


def wait_for_clickhouse(
    settings: Settings,
    deadline: float,
    wait_s: float,
    *,
    hint: str = "",
    on_wait: Callable[[], None] | None = None,
) -> Client:
    """A connected client once ClickHouse answers, or the ``deadline`` (monotonic), which
    ``wait_s`` after the start of the whole wait is; ``hint`` names what set it in the
    error. Only network failures are waited out: a refused login or a bad DSN fails at
    once. ``on_wait`` is called once, at the first failed connection."""

    def waiting(pending: Pending[Client]) -> None:
        if pending.number == 1 and on_wait is not None:
            on_wait()

    try:
        return poll(
            lambda: connect(settings),
            timeout_s=max(0.0, deadline - time.monotonic()),
            interval_s=1.0,
            retry_on=(DxpulseError,),
            retry_if=_unreachable,
            on_retry=waiting,
        )
    except WaitTimedOut as exc:
        error = exc.last.error
        raise DxpulseError(f"{error} (waited {wait_s:g} s{f', {hint}' if hint else ''})") from error


def client_options(dsn: str) -> dict[str, Any]:
    """clickhouse-connect arguments a DSN implies beyond itself: it takes the interface from
    the port alone, so ``https://host`` would otherwise be plain HTTP on port 8123."""
    scheme = dsn.split("://", 1)[0].lower()
    return {"interface": scheme} if scheme in ("http", "https") else {}


def cluster_layout(settings: Settings) -> ClusterLayout | None:
    """Cluster mode's layout from the settings, or None on one server. The deduplication
    window follows dxpulse.core.cluster.deduplication_window: every event topic's
    partitions may each have a writer, and a replay may come as late as five session
    timeouts and a minute (a worker's restart) after its original insert."""
    if settings.clickhouse.cluster is None:
        return None
    partitions = settings.kafka.partitions * len(EVENT_TYPES)
    replay_within_s = 5 * settings.kafka.session_timeout_ms / 1000 + 60
    window = deduplication_window(partitions, settings.stream.flush_interval_s, replay_within_s)
    return ClusterLayout(settings.clickhouse.cluster, window=window)


@dataclass(frozen=True)
class Step:
    """One statement of a migration, numbered from 1, with ``{db}`` still unfilled (so its
    checksum is the same in every database)."""

    number: int
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()[:16]

    @property
    def is_insert(self) -> bool:
        return self.sql.split(None, 1)[0].upper() == "INSERT"

    def summary(self) -> str:
        text = " ".join(self.sql.split())
        return text if len(text) <= 60 else text[:59] + "…"


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()[:16]

    def steps(self) -> list[Step]:
        try:
            statements = split_statements(self.sql)
        except DxpulseError as exc:
            raise DxpulseError(f"migration {self.name}: {exc}") from exc
        return [Step(n, sql) for n, sql in enumerate(statements, start=1)]

    def statements(self, database: str) -> list[str]:
        return [step.sql.replace("{db}", database) for step in self.steps()]

    def dedup_token(self, step: Step) -> str:
        """The ``insert_deduplication_token`` of an INSERT step: the same on every run of
        the same statement, so that a target table with a deduplication window drops a
        repeat of blocks it already has (see ``migrate``)."""
        return f"dxpulse-migration:{self.name}:{step.number}:{step.checksum}"


def load_migrations(directory: Traversable = MIGRATIONS_DIR) -> list[Migration]:
    """The migrations in ``directory``, in version order. None at all is an error: a schema
    from no migrations is an installation that lost its package data, not a fresh one."""
    files = sql_files(directory)
    if not files:
        raise DxpulseError(f"no migrations (*.sql) in {directory}: the installation is incomplete")
    found = []
    for path in files:
        match = _MIGRATION_NAME.match(path.name)
        if not match:
            raise DxpulseError(f"migration file name not NNN_name.sql: {path.name}")
        name = path.name.removesuffix(".sql")
        found.append(Migration(int(match.group(1)), name, path.read_text("utf-8")))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise DxpulseError("two migration files share a version number")
    return found


@dataclass(frozen=True)
class MigrationEvent:
    """What ``migrate`` is doing, for a log line (or a test to wait on)."""

    kind: Literal["waiting", "locked", "statement", "applied"]
    message: str
    migration: str = ""
    statement: int = 0


def log_event(event: MigrationEvent) -> None:
    """The default report of ``migrate``: lock waits as warnings, progress as info."""
    level = logging.WARNING if event.kind == "waiting" else logging.INFO
    logger.log(level, "%s", event.message)


def migrate(
    client: Client,
    database: str,
    target: int | None = None,
    *,
    directory: Traversable = MIGRATIONS_DIR,
    lock_wait_s: float = 600.0,
    report: Callable[[MigrationEvent], None] = log_event,
    cluster: ClusterLayout | None = None,
    shard_clients: Sequence[Client] = (),
) -> list[str]:
    """Apply pending migrations in order, up to version ``target`` if given; returns the
    names applied. Safe to re-run, and to run from several processes at once:

    - One migrator at a time (:class:`MigrationLock`): others wait up to ``lock_wait_s``
      and read what is applied only once they hold the lock, so they find it done.
    - Resumable: each completed statement is recorded in ``schema_migration_steps``; a
      migration that failed part-way resumes after its completed statements (which must
      not have changed) and is recorded in ``schema_migrations`` only when all are done.
    - A statement that ran but whose completion was not recorded (the connection dropped
      after the server finished) runs again. DDL here is idempotent (IF NOT EXISTS); an
      INSERT carries a token fixed per statement, so a target with a deduplication window
      drops the repeat as long as the rerun yields the same blocks (same source rows and
      settings). A statement that died half-way is not covered: its partial rows stay.

    With a ``cluster`` layout (dxpulse.cluster_ddl) the same files give the cluster's
    schema: a database with no migration recorded gets their end state in one go
    (:func:`fresh_schema`: CREATE statements only), a migrated one the pending statements
    one by one; a backfill runs on one replica of each shard (``shard_clients``, in
    ``remote_servers`` order). Migrators of a cluster must use the same node: the lock is a
    table on the node they talk to.
    """
    migrations = [m for m in load_migrations(directory) if target is None or m.version <= target]
    steps = {m.version: m.steps() for m in migrations}  # a broken file fails before any change
    on = f" ON CLUSTER {cluster.cluster}" if cluster and cluster.on_cluster else ""
    _run(
        client,
        f"CREATE DATABASE IF NOT EXISTS {database}{on}",
        f"cannot create database {database}",
    )

    def waiting(holder: LockHolder) -> None:
        text = f"waiting for the migration lock on {database}, held by {holder.describe()}"
        report(MigrationEvent("waiting", text))

    with MigrationLock(client, database, wait_s=lock_wait_s, on_wait=waiting):
        report(MigrationEvent("locked", f"holding the migration lock on {database}"))
        done = _prepare(client, database, cluster)
        if cluster is not None and not done:
            return _create_cluster_schema(client, database, migrations, cluster, report)
        applied = []
        runner = _Runner(client, database, cluster, shard_clients)
        for migration in migrations:
            if migration.version in done:
                _check_unchanged(migration, done[migration.version])
                continue
            _apply(runner, migration, steps[migration.version], report)
            applied.append(migration.name)
            report(MigrationEvent("applied", f"applied {migration.name}", migration.name))
        _reload_provinces(client, database)  # under the lock: TRUNCATE + INSERT twice is 126
    return applied


def _reload_provinces(client: Client, database: str) -> None:
    """Reload the province dimension if this set of migrations (or ``target``) has one."""
    try:
        found = client.query(
            "SELECT count() FROM system.tables WHERE database = {db:String} AND name = 'provinces'",
            parameters={"db": database},
        ).result_rows[0][0]
        if found:
            load_provinces(client, database)
    except ClickHouseError as exc:
        raise DxpulseError(f"cannot load the provinces into {database}: {one_line(exc)}") from exc


def _run(client: Client, sql: str, what: str) -> None:
    try:
        client.command(sql)
    except ClickHouseError as exc:
        raise DxpulseError(f"{what}: {one_line(exc)}") from exc


_BOOKKEEPING = (
    "CREATE TABLE IF NOT EXISTS {db}.schema_migrations "
    "(version UInt32, name String, checksum String, applied_at DateTime DEFAULT now())\n"
    "ENGINE = MergeTree ORDER BY version",
    "CREATE TABLE IF NOT EXISTS {db}.schema_migration_steps "
    "(version UInt32, step UInt32, checksum String, done_at DateTime DEFAULT now())\n"
    "ENGINE = MergeTree ORDER BY (version, step)",
)


def _prepare(client: Client, database: str, cluster: ClusterLayout | None) -> dict[int, str]:
    """Create the bookkeeping tables if missing; the applied versions and their checksums.
    Databases migrated before steps were recorded simply get an empty steps table. On a
    cluster they are one replica set over every node (dxpulse.core.cluster)."""
    for sql in _BOOKKEEPING:
        for statement in render(sql, cluster) if cluster else [ClusterStatement(sql)]:
            what = f"cannot create the migration tables in {database}"
            _run(client, statement.sql.replace("{db}", database), what)
    return _versions(
        client, f"SELECT version, any(checksum) FROM {database}.schema_migrations GROUP BY version"
    )


def _versions(client: Client, sql: str) -> dict[int, str]:
    try:
        return {int(k): str(c) for k, c in client.query(sql).result_rows}
    except ClickHouseError as exc:
        raise DxpulseError(f"cannot read the migration records: {one_line(exc)}") from exc


def _check_unchanged(migration: Migration, checksum: str) -> None:
    if checksum != migration.checksum:
        raise DxpulseError(
            f"migration {migration.name} changed after it was applied; "
            "add a new migration instead of editing an applied one"
        )


@dataclass(frozen=True)
class _Runner:
    """Where a step's statements run: the one client on a server, and on a cluster the
    statement's cluster form (``ON CLUSTER`` through the client, a backfill on each shard)."""

    client: Client
    database: str
    cluster: ClusterLayout | None
    shard_clients: Sequence[Client]

    def run(self, sql: str, settings: dict[str, str] | None) -> None:
        if self.cluster is None:
            self.client.command(sql.replace("{db}", self.database), settings=settings)
            return
        for statement in render(sql, self.cluster):
            if statement.where == "each_shard" and not self.shard_clients:
                raise DxpulseError(
                    "this migration backfills every shard: set DXPULSE_CLICKHOUSE__SHARDS"
                )
            clients = self.shard_clients if statement.where == "each_shard" else [self.client]
            for client in clients:
                client.command(statement.sql.replace("{db}", self.database), settings=settings)


def _create_cluster_schema(
    client: Client,
    database: str,
    migrations: list[Migration],
    cluster: ClusterLayout,
    report: Callable[[MigrationEvent], None],
) -> list[str]:
    """A new cluster database: the migrations' end state, then every migration recorded."""
    statements = render_all(
        fresh_schema(s for m in migrations for s in m.statements("{db}")), cluster
    )
    for number, statement in enumerate(statements, start=1):
        where = f"cluster schema: statement {number} of {len(statements)}"
        report(MigrationEvent("statement", where, statement=number))
        _run(client, statement.sql.replace("{db}", database), f"{where} failed")
    for migration in migrations:
        row = {"version": migration.version, "name": migration.name, "checksum": migration.checksum}
        _record(client, f"{database}.schema_migrations", row, f"migration {migration.name}")
        report(MigrationEvent("applied", f"applied {migration.name}", migration.name))
    _reload_provinces(client, database)
    return [m.name for m in migrations]


def _apply(
    runner: _Runner,
    migration: Migration,
    steps: list[Step],
    report: Callable[[MigrationEvent], None],
) -> None:
    """Run the statements not yet completed, recording each, then record the migration."""
    client, database = runner.client, runner.database
    completed = _versions(
        client,
        f"SELECT step, any(checksum) FROM {database}.schema_migration_steps "
        f"WHERE version = {migration.version} GROUP BY step",
    )
    for step in steps:
        if step.number in completed:
            _check_completed_step(database, migration, step, completed[step.number])
            continue
        where = f"statement {step.number} of {len(steps)}"
        report(
            MigrationEvent("statement", f"{migration.name}: {where}", migration.name, step.number)
        )
        settings = (
            {"insert_deduplication_token": migration.dedup_token(step)} if step.is_insert else None
        )
        try:
            runner.run(step.sql, settings)
        except ClickHouseError as exc:
            raise DxpulseError(
                f"migration {migration.name} failed at {where} ({step.summary()}): "
                f"{one_line(exc)}; {_done_before(step)}"
            ) from exc
        step_row = {"version": migration.version, "step": step.number, "checksum": step.checksum}
        what = f"migration {migration.name}: {where}"
        _record(client, f"{database}.schema_migration_steps", step_row, what)
    row = {"version": migration.version, "name": migration.name, "checksum": migration.checksum}
    _record(client, f"{database}.schema_migrations", row, f"migration {migration.name}")


def _done_before(step: Step) -> str:
    if step.number == 1:
        return "none of it is done"
    done = "statement 1 is" if step.number == 2 else f"statements 1-{step.number - 1} are"
    return f"{done} done and will be skipped when it runs again"


def _check_completed_step(database: str, migration: Migration, step: Step, checksum: str) -> None:
    if checksum != step.checksum:
        raise DxpulseError(
            f"migration {migration.name}: statement {step.number} ran in an earlier attempt "
            "and has changed since; change only the statements that have not run (or undo "
            f"its effect and delete its row from {database}.schema_migration_steps)"
        )


def _record(client: Client, table: str, row: dict[str, Any], what: str) -> None:
    try:
        NativeInserter(client).insert_rows(table, list(row), [list(row.values())])
    except ClickHouseError as exc:
        raise DxpulseError(f"{what} ran, but could not be recorded: {one_line(exc)}") from exc


def load_provinces(client: Client, database: str) -> None:
    rows = [[getattr(p, c) for c in PROVINCE_COLUMNS] for p in provinces().values()]
    client.command(f"TRUNCATE TABLE {database}.provinces")
    # insert_deduplicate=0: a replicated table remembers the hash of the last load's block,
    # and would drop the same provinces loaded again after the TRUNCATE.
    NativeInserter(client).insert_rows(
        f"{database}.provinces", PROVINCE_COLUMNS, rows, {"insert_deduplicate": "0"}
    )
