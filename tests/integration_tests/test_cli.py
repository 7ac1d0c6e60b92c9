"""The CLI as users run it: `dxpulse run`, `worker`, `migrate` and `query` as processes."""

from __future__ import annotations

import csv
import io
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from clickhouse_connect.driver.client import Client

from dxpulse.core.config import Settings
from dxpulse.embedded import free_port
from dxpulse.producers.generator import EventGenerator
from dxpulse.producers.producer import produce
from dxpulse.runner import settings_env
from tests.integration_tests.conftest import RunningIngest

Factory = Callable[[], RunningIngest]


def dxpulse(
    *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dxpulse", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def query_csv(sql: str, data_dir: Path) -> list[list[str]]:
    done = dxpulse("query", sql, "--format", "csv", "--data-dir", str(data_dir))
    assert done.returncode == 0, done.stderr
    return list(csv.reader(io.StringIO(done.stdout)))[1:]


def _run(data: Path, count: int, seed: int) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DXPULSE_")}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "dxpulse",
            "run",
            "--count",
            str(count),
            "--seed",
            str(seed),
            "--data-dir",
            str(data),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**env, "COLUMNS": "200", "DXPULSE_KAFKA__SESSION_TIMEOUT_MS": "2000"},
    )


def test_run_takes_every_event_into_clickhouse(tmp_path: Path) -> None:
    data = tmp_path / "run"
    done = _run(data, 20_000, seed=11)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Events by region and area" in done.stdout
    assert "MISMATCH" not in done.stdout
    ((count, ids, agg),) = query_csv(
        "SELECT count(), uniqExact(event_id), "
        "(SELECT sum(events) FROM dxpulse.event_aggregates) FROM dxpulse.events",
        data,
    )
    assert int(count) == int(ids) == int(agg) == 20_000
    (mm_rural,) = query_csv(
        "SELECT round(countIf(area = 'rural') / count(), 3) FROM dxpulse.events "
        "WHERE event_type = 'mobile_money'",
        data,
    )
    assert 0.66 <= float(mm_rural[0]) <= 0.78

    # A second run into the same data dir: a fresh broker starts again at offset 0, and
    # none of its batches may be mistaken for the first run's.
    again = _run(data, 5_000, seed=12)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    ((count, agg),) = query_csv(
        "SELECT count(), (SELECT sum(events) FROM dxpulse.event_aggregates) FROM dxpulse.events",
        data,
    )
    assert int(count) == int(agg) == 25_000


def _checks(stdout: str) -> dict[str, tuple[str, ...]]:
    """The exactness checks table of `run`'s output: check -> (expected, actual, mark)."""
    table = stdout[stdout.index("Exactness checks") :]
    rows = [line.strip("│ ").split("│") for line in table.splitlines() if line.startswith("│")]
    return {cells[0].strip(): tuple(c.strip() for c in cells[1:]) for cells in rows}


def test_the_quick_start_twice_into_one_data_dir_checks_out(tmp_path: Path) -> None:
    # The README's quick start, smaller, twice with the same --seed into one data dir: the
    # second run's events must not collide with the first run's ids, and its checks compare
    # what it produced with the rows it added.
    data = tmp_path / "run"
    for run in (1, 2):
        done = _run(data, 3_000, seed=11)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert "seed 11 — repeat with --seed 11" in done.stdout
        checks = _checks(done.stdout)
        assert {name: mark for name, (_, _, mark) in checks.items() if mark != "ok"} == {}
        assert len(checks) == 13
        added = checks["raw rows this run added = valid events it produced"]
        assert added == ("3,000", "3,000", "ok")
        ids = checks["distinct event_ids = raw rows"]
        assert ids == (f"{3_000 * run:,}", f"{3_000 * run:,}", "ok")
    ((count, ids, agg),) = query_csv(
        "SELECT count(), uniqExact(event_id), "
        "(SELECT sum(events) FROM dxpulse.event_aggregates) FROM dxpulse.events",
        data,
    )
    assert int(count) == int(ids) == int(agg) == 6_000


def test_produce_twice_against_one_worker_lands_both_runs(
    settings: Settings, ch: Client, topics: list[str], ingest_factory: Factory
) -> None:
    # Without --seed, produce picks a seed and prints it; repeating that seed (the worst
    # case: the same draws again) must land as new events, not as duplicates of the first.
    worker = ingest_factory()
    env = settings_env(settings)
    first = dxpulse("produce", "--count", "3000", "--rate", "0", env=env)
    assert first.returncode == 0, first.stderr[-3000:]
    found = re.search(r"seed (\d+) — repeat with --seed (\d+)", first.stdout)
    assert found and found[1] == found[2], first.stdout
    again = dxpulse("produce", "--count", "3000", "--rate", "0", "--seed", found[1], env=env)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "Produced 3,000 events" in first.stdout and "Produced 3,000 events" in again.stdout
    snap = worker.wait_committed(6_000)
    assert (snap["accepted"], snap["duplicates"]) == (6_000, 0), snap
    ((rows, ids),) = ch.query(
        f"SELECT count(), uniqExact(event_id) FROM {settings.clickhouse.database}.events"
    ).result_rows
    assert rows == ids == 6_000


def test_query_reports_sql_errors_in_one_line(tmp_path: Path) -> None:
    done = dxpulse("query", "SELECT * FROM no_such_table", "--data-dir", str(tmp_path))
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0
    assert done.stderr.startswith("dxpulse: error:") and "Traceback" not in done.stderr


def test_migrate_command_is_idempotent(tmp_path: Path) -> None:
    first = dxpulse("migrate", "--data-dir", str(tmp_path))
    second = dxpulse("migrate", "--data-dir", str(tmp_path))
    assert first.returncode == 0 and "Applied: 001_database" in first.stdout
    assert second.returncode == 0 and "up to date" in second.stdout


CRASH_HOLDING_THE_LOCK = """
import os, sys
from dxpulse.clickhouse import connect
from dxpulse.core.config import Settings
from dxpulse.migration_lock import MigrationLock
settings = Settings(data_dir=sys.argv[1])
MigrationLock(connect(settings), "dxpulse", wait_s=0, on_wait=print).acquire()
print(os.getpid(), flush=True)
os._exit(3)  # a migrator that dies while it holds the lock
"""


LOCK_BY_HAND = """
import sys
from dxpulse.clickhouse import connect
from dxpulse.core.config import Settings
client = connect(Settings(data_dir=sys.argv[1]))
client.command("CREATE TABLE dxpulse.migration_lock (x UInt8) ENGINE = Memory")
"""


def test_a_crashed_migrators_lock_is_taken_over_and_force_unlock_clears_others(
    tmp_path: Path,
) -> None:
    assert dxpulse("migrate", "--data-dir", str(tmp_path)).returncode == 0
    crash = subprocess.run(
        [sys.executable, "-c", CRASH_HOLDING_THE_LOCK, str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert crash.returncode == 3, crash.stderr
    holder = f"{socket.gethostname()}:{crash.stdout.split()[-1]}"

    # chDB lets one process open a data directory: a holder in another process is dead.
    resumed = dxpulse("migrate", "--data-dir", str(tmp_path), "--lock-wait", "0.1s")
    assert resumed.returncode == 0, resumed.stderr
    assert f"took over the migration lock on dxpulse from {holder} since " in resumed.stderr
    assert "Schema is up to date." in resumed.stdout

    made = subprocess.run([sys.executable, "-c", LOCK_BY_HAND, str(tmp_path)], timeout=120)
    assert made.returncode == 0
    blocked = dxpulse("migrate", "--data-dir", str(tmp_path), "--lock-wait", "0.1s")
    assert blocked.returncode == 1 and "Traceback" not in blocked.stderr
    error = blocked.stderr.strip().splitlines()[-1]  # after the progress lines
    assert error.startswith("dxpulse: error: the migration lock on dxpulse is held by unknown")
    assert error.endswith("clear the lock with `dxpulse migrate --force-unlock`")
    cleared = dxpulse("migrate", "--data-dir", str(tmp_path), "--force-unlock")
    assert cleared.returncode == 0, cleared.stderr
    assert "Removed the migration lock held by unknown" in cleared.stdout
    again = dxpulse("migrate", "--data-dir", str(tmp_path))
    assert again.returncode == 0 and "up to date" in again.stdout


def _status(port: int) -> dict[str, object] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=2) as resp:
            data: dict[str, object] = orjson.loads(resp.read())
            return data
    except OSError:
        return None


def test_worker_process_dead_letters_and_stops_cleanly_on_sigterm(
    settings: Settings, topics: list[str], tmp_path: Path
) -> None:
    data_dir = tmp_path / "worker"
    port = free_port()
    clickhouse = settings.clickhouse.model_copy(update={"dsn": None})  # its own chDB
    web = settings.web.model_copy(update={"port": port})
    worker_settings = settings.model_copy(
        update={"data_dir": data_dir, "clickhouse": clickhouse, "web": web}
    )
    env = {**os.environ, **settings_env(worker_settings)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dxpulse", "worker"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        report = produce(settings, EventGenerator(seed=9), count=3_000)
        from confluent_kafka import Producer

        bad = Producer(settings.kafka.client_config())
        bad.produce(settings.kafka.topic("mobile_money"), key=b"x", value=b"{broken")
        assert bad.flush(10) == 0
        total = report.delivered + 1
        deadline = time.monotonic() + 120
        snap = _status(port)
        while time.monotonic() < deadline:
            snap = _status(port)
            monitor_seen = snap and sum(dict(snap["dead_letter_topic_seen"]).values())  # type: ignore[call-overload]
            if snap and snap["committed"] == total and monitor_seen:
                break
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            time.sleep(0.2)
        assert snap and snap["committed"] == total, snap
        assert snap["dead_lettered"] == 1 and snap["rejections"] == {"invalid_json": 1}
        assert snap["dead_letter_topic_seen"] == {"invalid_json": 1}
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        assert time.monotonic() - started < 60
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    ((count,),) = query_csv(f"SELECT count() FROM {settings.clickhouse.database}.events", data_dir)
    assert int(count) == report.delivered


@pytest.mark.parametrize("command", ["run", "produce", "worker", "migrate", "query", "schemas"])
def test_every_command_has_help(command: str) -> None:
    done = dxpulse(command, "--help", timeout=60)
    assert done.returncode == 0 and "Usage: dxpulse" in done.stdout, done.stderr


def test_unreachable_broker_is_one_clear_line() -> None:
    done = dxpulse("produce", "--bootstrap-servers", f"127.0.0.1:{free_port()}", "--count", "5")
    assert done.returncode == 1
    assert done.stderr.startswith("dxpulse: error: cannot reach Kafka")
    assert done.stderr.count("\n") == 1, done.stderr[:500]
