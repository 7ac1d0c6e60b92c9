"""When a migration lock's holder provably cannot be running (dxpulse/migration_lock.py)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import datetime

from dxpulse.migration_lock import LockHolder, _why_stale

SERVER = object()  # any client but chDB's: a ClickHouse server others may share


def _holder(owner: str) -> LockHolder:
    return LockHolder(owner, "id", datetime(2026, 1, 1), 5)


def test_a_holder_in_this_process_may_be_another_live_migrator() -> None:
    assert _why_stale(SERVER, _holder(f"{socket.gethostname()}:{os.getpid()}")) is None  # type: ignore[arg-type]


def test_a_holder_on_this_host_whose_process_is_gone_is_stale() -> None:
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    reason = _why_stale(SERVER, _holder(f"{socket.gethostname()}:{gone.stdout.strip()}"))  # type: ignore[arg-type]
    assert reason is not None and "is not running on this host" in reason


def test_a_live_process_or_another_host_on_a_server_is_waited_for() -> None:
    parent = f"{socket.gethostname()}:{os.getppid()}"
    assert _why_stale(SERVER, _holder(parent)) is None  # type: ignore[arg-type]
    assert _why_stale(SERVER, _holder("another-host:1")) is None  # type: ignore[arg-type]
    assert _why_stale(SERVER, _holder("unknown (not written by dxpulse)")) is None  # type: ignore[arg-type]
