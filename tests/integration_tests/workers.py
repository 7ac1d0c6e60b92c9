"""`dxpulse worker` as a real process with its own chDB data directory, for fault tests.

chDB lets one process own a data path, so the test process never opens a worker's data:
it asks a short-lived ``python -m tests.integration_tests.workers`` process for the tables.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson

from dxpulse.core.config import Settings
from dxpulse.embedded import free_port
from dxpulse.runner import settings_env
from tests.integration_tests.truth import Table, measured, table_statements


class WorkerProcess:
    """One worker's data directory and environment; each ``start`` is a new process."""

    def __init__(self, settings: Settings, data_dir: Path, extra_env: dict[str, str]) -> None:
        clickhouse = settings.clickhouse.model_copy(update={"dsn": None})
        self.settings = settings.model_copy(update={"data_dir": data_dir, "clickhouse": clickhouse})
        self.env = {**os.environ, **settings_env(self.settings), **extra_env}
        self.log = data_dir / "worker.log"
        data_dir.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, **extra_env: str) -> WorkerProcess:
        with self.log.open("ab") as log:
            log.write(f"--- start {extra_env}\n".encode())
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "dxpulse", "worker"],
                env={**self.env, "DXPULSE_WEB__PORT": str(free_port()), **extra_env},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def cleanup(self) -> None:
        """Kill the process if a failed test left it running."""
        if self.proc is not None and self.proc.poll() is None:
            self.kill()

    def wait_crashed(self, timeout_s: float = 120) -> None:
        """Until the worker killed itself at its DXPULSE_TEST_CRASH_AT point."""
        assert self.proc is not None
        code = self.proc.wait(timeout=timeout_s)
        assert code == -signal.SIGKILL, f"exit {code}, not the crash hook:\n{self.log_tail()}"

    def terminate(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=90)

    def check_alive(self) -> None:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"worker died ({self.proc.returncode}):\n{self.log_tail()}")

    def log_tail(self) -> str:
        return "\n".join(self.log.read_text("utf-8", "replace").splitlines()[-30:])

    def query(self, *sql: str) -> list[list[list[Any]]]:
        """Rows of each statement, read by a separate process while no worker runs."""
        done = subprocess.run(
            [sys.executable, "-m", "tests.integration_tests.workers", *sql],
            env=self.env, capture_output=True, timeout=180,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr.decode()
        result: list[list[list[Any]]] = orjson.loads(done.stdout)
        return result

    def tables(self) -> dict[str, Table]:
        """Every table as tests/integration_tests/truth.py keys it, read in one process."""
        statements = table_statements(self.settings.clickhouse.database)
        rows = self.query(*statements.values())
        return measured(dict(zip(statements, rows, strict=True)))


def _main(statements: list[str]) -> None:
    from dxpulse.clickhouse import connect

    client = connect(Settings())
    out = [[list(row) for row in client.query(sql).result_rows] for sql in statements]
    sys.stdout.buffer.write(orjson.dumps(out, default=str))


if __name__ == "__main__":
    _main(sys.argv[1:])
