"""A lock so that one migrator at a time changes a database's schema.

ClickHouse has no advisory locks, but ``CREATE TABLE`` without ``IF NOT EXISTS`` is atomic:
of several sessions creating the same name at once, exactly one succeeds and the others get
TABLE_ALREADY_EXISTS (the server serialises DDL on a table name; chDB is the same engine).
So the lock is the table ``{db}.migration_lock``: its creator holds it, and dropping it
releases it. The table stores nothing (engine Null); who holds it is its COMMENT, written
by the same atomic statement, so no reader ever sees a lock without an owner, and its
creation time is the server's ``metadata_modification_time``, one clock for every migrator.

A migrator that dies keeps the lock. A waiter takes it over only when the holder provably
cannot be running (:func:`_why_stale`): on chDB, which lets one process open a data
directory, a holder in another process is dead; on a server, a holder on this host whose
process is gone is dead. Otherwise a long backfill looks exactly like a dead holder, and
breaking a live lock is the race the lock prevents: waiters report the holder and give up
after a bounded wait with an error that says how to clear it (:func:`break_lock`,
``dxpulse migrate --force-unlock``). Taking over is safe because migrations resume where
the dead one stopped (completed statements are recorded).

On a cluster, a plain CREATE TABLE is atomic on one server only; ``ON CLUSTER`` DDL is
queued per host, so it is no lock. There the same statement in a Replicated database (whose
DDL goes through Keeper) or a KeeperMap table with strict inserts would be.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from dxpulse.core.errors import DxpulseError, one_line
from dxpulse.core.waits import Pending, WaitTimedOut, poll

LOCK_TABLE = "migration_lock"
TABLE_ALREADY_EXISTS = 57
_POLL_S = 0.5
logger = logging.getLogger(__name__)
_REPORT_EVERY_S = 60.0
# Taking over a dead holder's lock is a read, then a drop: migrators of one process (the
# only ones a chDB data directory can have) do it one at a time, so none drops a lock that
# another has just taken over.
_TAKEOVER = threading.Lock()


@dataclass(frozen=True)
class LockHolder:
    """Who holds a database's migration lock, and since when (server time)."""

    owner: str  # host:pid of the migrator
    lock_id: str  # unique per acquisition, so a migrator releases only its own lock
    since: datetime
    age_s: int

    def describe(self) -> str:
        return f"{self.owner} since {self.since:%Y-%m-%d %H:%M:%S} ({_age(self.age_s)} ago)"


def _age(seconds: int) -> str:
    if seconds < 120:
        return f"{max(seconds, 0)} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"


def lock_holder(client: Client, database: str) -> LockHolder | None:
    """The current holder of ``database``'s migration lock, or None if it is free."""
    try:
        rows = client.query(
            "SELECT comment, metadata_modification_time, "
            "dateDiff('second', metadata_modification_time, now()) "
            "FROM system.tables WHERE database = {db:String} AND name = {name:String}",
            parameters={"db": database, "name": LOCK_TABLE},
        ).result_rows
    except ClickHouseError as exc:
        raise DxpulseError(
            f"cannot read the migration lock of {database}: {one_line(exc)}"
        ) from exc
    if not rows:
        return None
    comment, since, age = rows[0]
    try:
        about = json.loads(comment)
        owner, lock_id = str(about["owner"]), str(about["id"])
    except (ValueError, KeyError, TypeError):  # made by hand: still a lock
        owner, lock_id = "unknown (not written by dxpulse)", ""
    return LockHolder(owner, lock_id, since, int(age))


def _already_exists(exc: ClickHouseError) -> bool:
    code = getattr(exc, "code", None)  # set by the driver when the server sent one
    return code == TABLE_ALREADY_EXISTS or "(TABLE_ALREADY_EXISTS)" in str(exc)


def break_lock(client: Client, database: str) -> LockHolder | None:
    """Remove the migration lock whoever holds it; returns whom it was taken from. Only for
    a lock left by a migrator that is no longer running: migrations resume where it
    stopped (completed statements are recorded), so nothing is applied twice."""
    holder = lock_holder(client, database)
    if holder is not None:
        _drop(client, database)
    return holder


def _why_stale(client: Client, holder: LockHolder) -> str | None:
    """Why ``holder`` cannot be running any more, or None when it may be."""
    host, _, pid = holder.owner.rpartition(":")
    if not pid.isdigit():
        return None
    here = socket.gethostname()
    if host == here and int(pid) == os.getpid():
        return None  # another migrator in this process: alive
    if _is_chdb(client):
        return "chDB lets one process open a data directory, and this process has it"
    if host == here and not _running(int(pid)):
        return f"process {pid} is not running on this host"
    return None


def _is_chdb(client: Client) -> bool:
    """Whether ``client`` is clickhouse-connect's chDB client, without importing it: its
    module imports chdb, which a server deployment need not have (dxpulse/core/extras.py), and a
    ChdbClient exists only once that module is loaded."""
    module = sys.modules.get("clickhouse_connect.driver._chdbclient")
    return module is not None and isinstance(client, module.ChdbClient)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


def _take_over(client: Client, database: str, holder: LockHolder) -> bool:
    """Drop a dead holder's lock, if it is still that holder's; True if dropped."""
    with _TAKEOVER:
        now = lock_holder(client, database)
        if now is None or now.lock_id != holder.lock_id or not holder.lock_id:
            return False
        _drop(client, database)
        return True


def _drop(client: Client, database: str) -> None:
    try:
        client.command(f"DROP TABLE IF EXISTS {database}.{LOCK_TABLE} SYNC")
    except ClickHouseError as exc:
        raise DxpulseError(
            f"cannot remove the migration lock on {database}: {one_line(exc)}"
        ) from exc


class MigrationLock:
    """``with MigrationLock(client, db, wait_s=…):`` holds ``db``'s migration lock inside.

    A holder that is busy makes it wait up to ``wait_s`` seconds, calling ``on_wait`` with
    the holder when it starts waiting and every minute after."""

    def __init__(
        self,
        client: Client,
        database: str,
        *,
        wait_s: float,
        on_wait: Callable[[LockHolder], None],
    ) -> None:
        self.client = client
        self.database = database
        self.wait_s = wait_s
        self.on_wait = on_wait
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        self.lock_id = uuid.uuid4().hex

    def __enter__(self) -> MigrationLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.release()
        except DxpulseError as release_error:
            if exc is None:
                raise
            # The first error is the one to report; the stuck lock is the second.
            logger.warning("%s; clear it with `dxpulse migrate --force-unlock`", release_error)

    def acquire(self) -> None:
        """Take the lock, waiting up to ``wait_s`` while a live migrator holds it; the
        holder is told to ``on_wait`` at once, then every ``_REPORT_EVERY_S``."""
        next_report = [0.0]

        def waiting(pending: Pending[LockHolder | None]) -> None:
            if pending.result is not None and pending.elapsed_s >= next_report[0]:
                self.on_wait(pending.result)
                next_report[0] = pending.elapsed_s + _REPORT_EVERY_S

        try:
            poll(
                self._try_take,
                timeout_s=self.wait_s,
                interval_s=_POLL_S,
                done=lambda holder: holder is None,
                on_retry=waiting,
            )
        except WaitTimedOut as exc:
            holder = exc.last.result
            assert isinstance(holder, LockHolder)
            raise DxpulseError(
                f"the migration lock on {self.database} is held by {holder.describe()}; "
                f"gave up after {self.wait_s:g} s. If that migrator is no longer running, "
                "clear the lock with `dxpulse migrate --force-unlock`"
            ) from None

    def _try_take(self) -> LockHolder | None:
        """None once the lock is ours, else its live holder. A lock released between our
        attempt and the look-up, or taken over from a holder that provably is not running,
        is tried again at once: there is nothing to wait for."""
        while not self._try_create():
            holder = lock_holder(self.client, self.database)
            if holder is None:
                continue
            stale = _why_stale(self.client, holder)
            if stale is not None and _take_over(self.client, self.database, holder):
                logger.warning(
                    "took over the migration lock on %s from %s: %s",
                    self.database, holder.describe(), stale,
                )  # fmt: skip
                continue
            return holder
        return None

    def _try_create(self) -> bool:
        about = json.dumps({"owner": self.owner, "id": self.lock_id})
        literal = "'" + about.replace("\\", "\\\\").replace("'", "\\'") + "'"
        try:
            self.client.command(
                f"CREATE TABLE {self.database}.{LOCK_TABLE} (owner String) ENGINE = Null "
                f"COMMENT {literal}"
            )
        except ClickHouseError as exc:
            if _already_exists(exc):
                return False
            raise DxpulseError(
                f"cannot take the migration lock on {self.database}: {one_line(exc)}"
            ) from exc
        return True

    def release(self) -> None:
        """Drop the lock if it is still ours (a --force-unlock may have passed it on)."""
        holder = lock_holder(self.client, self.database)
        if holder is not None and holder.lock_id == self.lock_id:
            _drop(self.client, self.database)
