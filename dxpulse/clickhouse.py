"""The one way dxpulse talks to ClickHouse: a clickhouse-connect ``Client``.

The same API serves chDB (``chdb:///path``, in-process) and ClickHouse servers over HTTP,
so the sink, migrations and queries have a single implementation.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import clickhouse_connect
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from dxpulse.config import Settings
from dxpulse.errors import DxpulseError
from dxpulse.sqlsplit import split_statements
from schemas.provinces import provinces

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "deploy" / "clickhouse"
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
    if dsn.startswith("chdb://"):
        Path(dsn.removeprefix("chdb://")).mkdir(parents=True, exist_ok=True)
    kwargs: dict[str, Any] = {}
    if settings.clickhouse.username:
        kwargs["username"] = settings.clickhouse.username
    if settings.clickhouse.password:
        kwargs["password"] = settings.clickhouse.password.get_secret_value()
    try:
        return clickhouse_connect.get_client(dsn=dsn, **kwargs)
    except Exception as exc:  # driver raises many types; all mean "cannot connect"
        raise DxpulseError(f"cannot connect to ClickHouse at {_redact(dsn)}: {exc}") from exc


def _redact(dsn: str) -> str:
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", dsn)


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()[:16]

    def statements(self, database: str) -> list[str]:
        """The statements, split where ClickHouse ends them; ``{db}`` filled in after."""
        try:
            statements = split_statements(self.sql)
        except DxpulseError as exc:
            raise DxpulseError(f"migration {self.name}: {exc}") from exc
        return [statement.replace("{db}", database) for statement in statements]


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    found = []
    for path in sorted(directory.glob("*.sql")):
        match = _MIGRATION_NAME.match(path.name)
        if not match:
            raise DxpulseError(f"migration file name not NNN_name.sql: {path.name}")
        found.append(Migration(int(match.group(1)), path.stem, path.read_text("utf-8")))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise DxpulseError("two migration files share a version number")
    return found


def migrate(client: Client, database: str, target: int | None = None) -> list[str]:
    """Apply pending migrations in order, up to version ``target`` if given; returns the
    names applied. Safe to re-run."""
    migrations = [m for m in load_migrations() if target is None or m.version <= target]
    client.command(f"CREATE DATABASE IF NOT EXISTS {database}")
    client.command(
        f"CREATE TABLE IF NOT EXISTS {database}.schema_migrations "
        "(version UInt32, name String, checksum String, applied_at DateTime DEFAULT now()) "
        "ENGINE = MergeTree ORDER BY version"
    )
    done = {
        int(v): c
        for v, c in client.query(
            f"SELECT version, any(checksum) FROM {database}.schema_migrations GROUP BY version"
        ).result_rows
    }
    applied = []
    for migration in migrations:
        if migration.version in done:
            if done[migration.version] != migration.checksum:
                raise DxpulseError(
                    f"migration {migration.name} changed after it was applied; "
                    "add a new migration instead of editing an applied one"
                )
            continue
        try:
            for statement in migration.statements(database):
                client.command(statement)
        except ClickHouseError as exc:
            raise DxpulseError(f"migration {migration.name} failed: {exc}") from exc
        client.insert(
            f"{database}.schema_migrations",
            [[migration.version, migration.name, migration.checksum]],
            column_names=["version", "name", "checksum"],
        )
        applied.append(migration.name)
    load_provinces(client, database)
    return applied


def load_provinces(client: Client, database: str) -> None:
    rows = [[getattr(p, c) for c in PROVINCE_COLUMNS] for p in provinces().values()]
    client.command(f"TRUNCATE TABLE {database}.provinces")
    client.insert(f"{database}.provinces", rows, column_names=list(PROVINCE_COLUMNS))
