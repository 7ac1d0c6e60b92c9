"""Migrators of one database take turns: the migration lock.

Two migrators here are two threads with a client each: chDB hosts one engine per process
(one data path), but any number of clients on it, each its own session, so the threads
race inside the engine as two processes race on a server. Separate processes cannot share
a chDB database at all, hence threads. The threads are ordered with events, never sleeps.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client

from dxpulse.clickhouse import MigrationEvent, connect, migrate
from dxpulse.core.config import Settings
from dxpulse.core.errors import DxpulseError
from dxpulse.migration_lock import MigrationLock, break_lock, lock_holder
from tests.integration_tests.migration_files import (
    ROLLUP,
    SOURCE,
    SOURCE_ROWS,
    applied_versions,
    backfilled,
    scalar,
    write,
)

NAMES = ["001_source", "002_rollup"]
GUARD_S = 120  # only so that a broken lock fails the test instead of hanging it


@pytest.fixture
def clients(settings: Settings) -> Iterator[list[Client]]:
    made = [connect(settings) for _ in range(3)]
    yield made
    made[0].command(f"DROP DATABASE IF EXISTS {settings.clickhouse.database}")


@pytest.fixture
def directory(tmp_path: Path) -> Path:
    return write(tmp_path / "migrations", {"001_source.sql": SOURCE, "002_rollup.sql": ROLLUP})


class Migrator(threading.Thread):
    """``migrate`` in a thread, keeping its result or error for the test."""

    def __init__(
        self, run: Callable[[], list[str]], finished: threading.Event | None = None
    ) -> None:
        super().__init__(daemon=True)
        self.run_migrate = run
        self.result: list[str] | None = None
        self.error: BaseException | None = None
        self.finished = finished or threading.Event()

    def run(self) -> None:
        try:
            self.result = self.run_migrate()
        except BaseException as exc:
            self.error = exc
        finally:
            self.finished.set()

    def outcome(self) -> list[str]:
        self.join(GUARD_S)
        assert not self.is_alive(), "migrator did not finish"
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


def test_a_second_migrator_waits_for_the_first_then_finds_everything_applied(
    settings: Settings, clients: list[Client], directory: Path
) -> None:
    """The first migrator stops inside its first migration until the second reports that
    it waits for the lock (or, were there no lock, has finished on its own)."""
    db = settings.clickhouse.database
    first_inside, second_waits = threading.Event(), threading.Event()  # or second ended
    waits: list[MigrationEvent] = []

    def first_report(event: MigrationEvent) -> None:
        if event.kind == "statement" and not first_inside.is_set():
            first_inside.set()
            assert second_waits.wait(GUARD_S)

    def second_report(event: MigrationEvent) -> None:
        if event.kind == "waiting":
            waits.append(event)
            second_waits.set()

    first = Migrator(lambda: migrate(clients[0], db, directory=directory, report=first_report))
    second = Migrator(
        lambda: migrate(clients[1], db, directory=directory, report=second_report), second_waits
    )
    first.start()
    assert first_inside.wait(GUARD_S)
    second.start()

    outcomes = first.outcome(), second.outcome()
    assert scalar(clients[2], f"SELECT count() FROM {db}.src") == SOURCE_ROWS
    assert backfilled(clients[2], db) == SOURCE_ROWS
    assert applied_versions(clients[2], db) == [1, 2]
    assert outcomes == (NAMES, [])
    owner = f"{socket.gethostname()}:{os.getpid()}"
    assert waits[0].message.startswith(f"waiting for the migration lock on {db}, held by {owner}")
    assert lock_holder(clients[2], db) is None


def test_migrators_started_together_apply_each_migration_once(
    settings: Settings, clients: list[Client], directory: Path
) -> None:
    db = settings.clickhouse.database
    start = threading.Barrier(len(clients))

    def run(client: Client) -> list[str]:
        start.wait(GUARD_S)
        return migrate(client, db, directory=directory)

    migrators = [Migrator(lambda c=c: run(c)) for c in clients]  # type: ignore[misc]
    for migrator in migrators:
        migrator.start()
    results = sorted((m.outcome() for m in migrators), key=len)
    assert scalar(clients[0], f"SELECT count() FROM {db}.src") == SOURCE_ROWS
    assert backfilled(clients[0], db) == SOURCE_ROWS
    assert applied_versions(clients[0], db) == [1, 2]
    assert results == [[], [], NAMES]
    steps = f"SELECT count(), uniqExact(version, step) FROM {db}.schema_migration_steps"
    assert clients[0].query(steps).result_rows[0] == (6, 6)


def test_a_stale_lock_is_reported_with_its_holder_and_can_be_cleared(
    settings: Settings, clients: list[Client], directory: Path
) -> None:
    """A migrator that crashed while holding the lock leaves it behind (here: taken and
    never released). Waiting ends in a one-line error naming the holder and the remedy;
    break_lock (``dxpulse migrate --force-unlock``) clears it, and the migration resumes."""
    db = settings.clickhouse.database
    client = clients[0]
    client.command(f"CREATE DATABASE {db}")
    MigrationLock(client, db, wait_s=0, on_wait=lambda holder: None).acquire()
    owner = f"{socket.gethostname()}:{os.getpid()}"

    with pytest.raises(DxpulseError) as failure:
        migrate(client, db, directory=directory, lock_wait_s=0)
    message = str(failure.value)
    assert "\n" not in message
    assert message.startswith(f"the migration lock on {db} is held by {owner} since ")
    assert message.endswith(
        "gave up after 0 s. If that migrator is no longer running, clear the lock with "
        "`dxpulse migrate --force-unlock`"
    )
    assert scalar(client, f"SELECT count() FROM system.tables WHERE database = '{db}'") == 1

    holder = break_lock(client, db)
    assert holder is not None and holder.owner == owner
    assert break_lock(client, db) is None
    assert migrate(client, db, directory=directory) == NAMES
    assert backfilled(client, db) == SOURCE_ROWS


def test_a_lock_taken_by_hand_is_still_a_lock(
    settings: Settings, clients: list[Client], directory: Path
) -> None:
    db = settings.clickhouse.database
    client = clients[0]
    client.command(f"CREATE DATABASE {db}")
    client.command(f"CREATE TABLE {db}.migration_lock (x UInt8) ENGINE = Memory")
    with pytest.raises(DxpulseError, match=r"held by unknown \(not written by dxpulse\) since"):
        migrate(client, db, directory=directory, lock_wait_s=0)


def test_a_lock_whose_process_is_gone_is_taken_over(
    settings: Settings, clients: list[Client], directory: Path
) -> None:
    """A holder that provably cannot run (another process, on chDB; or a pid that is gone
    on this host) does not block migrations: they resume where it stopped."""
    db = settings.clickhouse.database
    client = clients[0]
    client.command(f"CREATE DATABASE {db}")
    dead = f"{socket.gethostname()}:{2**22 + 12345}"  # above Linux's pid_max: never running
    comment = json.dumps({"owner": dead, "id": "x1"})
    client.command(f"CREATE TABLE {db}.migration_lock (owner String) ENGINE = Null "
                   f"COMMENT '{comment}'")  # fmt: skip
    assert migrate(client, db, directory=directory, lock_wait_s=0.1) == NAMES
    assert backfilled(client, db) == SOURCE_ROWS
    assert lock_holder(client, db) is None
