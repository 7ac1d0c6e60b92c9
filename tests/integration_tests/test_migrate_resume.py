"""A migration that fails part-way resumes without repeating what it completed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client

from dxpulse.clickhouse import connect, load_migrations, migrate
from dxpulse.core.config import Settings
from dxpulse.core.errors import DxpulseError
from dxpulse.migration_lock import lock_holder
from tests.integration_tests.migration_files import (
    ROLLUP,
    SOURCE,
    SOURCE_ROWS,
    applied_versions,
    backfilled,
    scalar,
    write,
)

BROKEN = ROLLUP.replace("FROM {db}.src GROUP BY day;\n", "FROM {db}.src_typo GROUP BY day;\n")


@pytest.fixture
def client(settings: Settings) -> Iterator[Client]:
    client = connect(settings)
    yield client
    client.command(f"DROP DATABASE IF EXISTS {settings.clickhouse.database}")


def _fails(client: Client, db: str, directory: Path) -> str:
    with pytest.raises(DxpulseError) as failure:
        migrate(client, db, directory=directory)
    message = str(failure.value)
    assert "\n" not in message
    return message


def test_a_migration_failing_after_its_backfill_resumes_and_backfills_once(
    settings: Settings, client: Client, tmp_path: Path
) -> None:
    db = settings.clickhouse.database
    directory = write(tmp_path, {"001_source.sql": SOURCE, "002_rollup.sql": BROKEN})
    message = _fails(client, db, directory)
    assert message.startswith("migration 002_rollup failed at statement 3 of 3 (CREATE MATER")
    assert "Code: 60." in message and "(UNKNOWN_TABLE)" in message
    assert message.endswith("statements 1-2 are done and will be skipped when it runs again")
    assert applied_versions(client, db) == [1]  # 002 is not applied until all of it is
    assert backfilled(client, db) == SOURCE_ROWS
    assert lock_holder(client, db) is None  # a failure releases the lock

    write(directory, {"002_rollup.sql": ROLLUP})  # the fix
    assert migrate(client, db, directory=directory) == ["002_rollup"]
    assert applied_versions(client, db) == [1, 2]
    assert backfilled(client, db) == SOURCE_ROWS
    client.command(f"INSERT INTO {db}.src VALUES ('2024-03-01', 5)")  # the view now works
    assert backfilled(client, db) == SOURCE_ROWS + 5


def test_a_completed_statement_must_not_change_before_the_rerun(
    settings: Settings, client: Client, tmp_path: Path
) -> None:
    db = settings.clickhouse.database
    directory = write(tmp_path, {"001_source.sql": SOURCE, "002_rollup.sql": BROKEN})
    _fails(client, db, directory)
    edited = ROLLUP.replace("SELECT day, sum(n) FROM", "SELECT day, 2 * sum(n) FROM")
    write(directory, {"002_rollup.sql": edited})
    message = _fails(client, db, directory)
    assert message.startswith(
        "migration 002_rollup: statement 2 ran in an earlier attempt and has changed since"
    )
    assert backfilled(client, db) == SOURCE_ROWS


def test_a_backfill_that_ran_but_was_not_recorded_is_dropped_by_its_token(
    settings: Settings, client: Client, tmp_path: Path
) -> None:
    """The connection drops after the server finished the backfill, before its step was
    recorded: played here by a constraint that rejects the step's record. The rerun sends
    the same INSERT with the same insert_deduplication_token, and the target's
    deduplication window drops it."""
    db = settings.clickhouse.database
    windowed = ROLLUP.replace(
        "ORDER BY day;", "ORDER BY day SETTINGS non_replicated_deduplication_window = 100;"
    )
    directory = write(tmp_path, {"001_source.sql": SOURCE, "002_rollup.sql": windowed})
    client.command(f"CREATE DATABASE {db}")
    client.command(
        f"CREATE TABLE {db}.schema_migration_steps (version UInt32, step UInt32, "
        "checksum String, done_at DateTime DEFAULT now(), "
        "CONSTRAINT lost CHECK NOT (version = 2 AND step = 2)) "
        "ENGINE = MergeTree ORDER BY (version, step)"
    )
    message = _fails(client, db, directory)
    assert message.startswith(
        "migration 002_rollup: statement 2 of 3 ran, but could not be recorded: Code: 469."
    )
    assert backfilled(client, db) == SOURCE_ROWS

    client.command(f"ALTER TABLE {db}.schema_migration_steps DROP CONSTRAINT lost")
    assert migrate(client, db, directory=directory) == ["002_rollup"]
    assert backfilled(client, db) == SOURCE_ROWS


def test_a_migration_whose_record_was_lost_is_recorded_without_running_again(
    settings: Settings, client: Client, tmp_path: Path
) -> None:
    """All statements ran, then the migration's own record failed (played by a constraint):
    the rerun runs nothing and records it."""
    db = settings.clickhouse.database
    directory = write(tmp_path, {"001_source.sql": SOURCE, "002_rollup.sql": ROLLUP})
    client.command(f"CREATE DATABASE {db}")
    client.command(
        f"CREATE TABLE {db}.schema_migrations (version UInt32, name String, checksum String, "
        "applied_at DateTime DEFAULT now(), CONSTRAINT lost CHECK version != 2) "
        "ENGINE = MergeTree ORDER BY version"
    )
    message = _fails(client, db, directory)
    assert message.startswith("migration 002_rollup ran, but could not be recorded: Code: 469.")
    client.command(f"ALTER TABLE {db}.schema_migrations DROP CONSTRAINT lost")
    assert migrate(client, db, directory=directory) == ["002_rollup"]
    assert applied_versions(client, db) == [1, 2]
    assert backfilled(client, db) == SOURCE_ROWS


def test_a_database_migrated_before_steps_were_recorded_keeps_working(
    settings: Settings, client: Client, tmp_path: Path
) -> None:
    """Databases applied by the earlier migrate have schema_migrations rows and no steps
    table: nothing is re-run, and the checksum guard still holds."""
    db = settings.clickhouse.database
    migrate(client, db)
    client.command(f"DROP TABLE {db}.schema_migration_steps")
    assert migrate(client, db) == []
    assert scalar(client, f"SELECT count() FROM {db}.schema_migrations") == len(load_migrations())
    assert scalar(client, f"SELECT count() FROM {db}.schema_migration_steps") == 0

    directory = write(tmp_path, {m.name + ".sql": m.sql for m in load_migrations()})
    first = sorted(directory.glob("*.sql"))[0]
    first.write_text(first.read_text() + "\n-- edited afterwards\n")
    message = _fails(client, db, directory)
    assert message.startswith(f"migration {first.stem} changed after it was applied")


def test_target_stops_before_the_provinces_exist(settings: Settings, client: Client) -> None:
    db = settings.clickhouse.database
    assert migrate(client, db, target=1) == [load_migrations()[0].name]
    assert applied_versions(client, db) == [1]
