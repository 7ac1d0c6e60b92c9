"""`query`, `report` and `calibrate` on the data dir of a worker that is ingesting.

chDB lets one process own a data dir, so these commands once failed with "Cannot lock
file" while a worker ran. Now the worker answers them (streams/live_query.py): each command
is a process of its own, as a user runs it, against a real worker process, broker and chDB.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from clickhouse_connect.driver.client import Client

from dxpulse.core.config import Settings
from dxpulse.producers.generator import EventGenerator
from dxpulse.streams.live_query import ReadOnlyEngine
from dxpulse.streams.live_sql import LiveRequest, Refusal
from dxpulse.streams.worker_endpoint import FILE_NAME, chdb_path
from tests.integration_tests.conftest import TrackingProducer, wait_caught_up
from tests.integration_tests.workers import WorkerProcess

GUARD_S = 180  # a guard for a loaded machine, not a timed assertion


class Feed:
    """Valid events sent in the background until stopped: the worker keeps ingesting
    while the commands run."""

    def __init__(self, settings: Settings, producer: TrackingProducer) -> None:
        self.settings, self.producer = settings, producer
        self.gen = EventGenerator(seed=5)
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def send(self, n: int) -> None:
        now = datetime.now(UTC)
        for _ in range(n):
            event = self.gen.event(now)
            topic = self.settings.kafka.topic(event["event_type"])
            self.producer.send(topic, event["province_code"].encode(), self.gen.encode(event))
        self.producer.flush()
        self.sent += n

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self.send(50)

    def start(self) -> Feed:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=60)


@pytest.fixture
def live(settings: Settings, topics: list[str], tmp_path: Path) -> Iterator[WorkerProcess]:
    """A worker that has ingested a first batch and answers queries, with events still
    arriving."""
    worker = WorkerProcess(settings, tmp_path / "data", {})
    producer = TrackingProducer(settings)
    feed = Feed(settings, producer)
    feed.send(2_000)
    worker.start()
    try:
        wait_caught_up(settings, producer, timeout_s=GUARD_S, alive=worker.check_alive)
        _wait_for(lambda: (worker.settings.data_dir / FILE_NAME).exists(), worker)
        feed.start()
        yield worker
    finally:
        feed.stop()
        worker.cleanup()


def _wait_for(ready: Callable[[], bool], worker: WorkerProcess) -> None:
    deadline = time.monotonic() + GUARD_S
    while not ready():
        worker.check_alive()
        assert time.monotonic() < deadline, f"not within {GUARD_S} s:\n{worker.log_tail()}"
        time.sleep(0.2)


def dxpulse(worker: WorkerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dxpulse", *args, "--data-dir", str(worker.settings.data_dir)],
        capture_output=True,
        text=True,
        timeout=GUARD_S,
        env={**worker.env, "COLUMNS": "200", "NO_COLOR": "1"},
        stdin=subprocess.DEVNULL,
    )


def count(worker: WorkerProcess) -> int:
    db = worker.settings.clickhouse.database
    done = dxpulse(worker, "query", f"SELECT count() AS n FROM {db}.events", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert f"querying the running worker (pid {worker.proc.pid if worker.proc else 0})" in (
        done.stderr
    )
    n: int = orjson.loads(done.stdout)[0]["n"]
    return n


def test_query_report_and_calibrate_read_a_running_worker(
    live: WorkerProcess, tmp_path: Path
) -> None:
    db = live.settings.clickhouse.database
    first = count(live)
    assert first >= 2_000

    rows = dxpulse(
        live,
        "query",
        f"SELECT region, sum(events) AS events, uniqMerge(customers) AS customers "
        f"FROM {db}.event_aggregates GROUP BY region ORDER BY region",
    )
    assert rows.returncode == 0, rows.stderr
    assert "Cannot lock" not in rows.stderr
    assert "region" in rows.stdout and rows.stdout.rstrip().endswith("rows")

    # A state column read without a merge: finalized by the worker's engine too.
    states = dxpulse(live, "query", f"SELECT customers FROM {db}.event_aggregates LIMIT 3")
    assert states.returncode == 0, states.stderr
    assert "finalizeAggregation" in states.stderr

    out = tmp_path / "report.html"
    report = dxpulse(live, "report", "--out", str(out))
    assert report.returncode == 0, report.stderr
    assert out.stat().st_size > 0 and "querying the running worker" in report.stderr

    calibrate = dxpulse(live, "calibrate", "--format", "json")
    # 2,000-odd events are too few for most national figures: those are not judged (sample
    # too small); what is judged (no event outside the 63 provinces) passes, on live data.
    assert calibrate.returncode == 0, calibrate.stderr
    verdict = orjson.loads(calibrate.stdout)
    assert verdict["passed"] is True
    results = {f["id"]: f["result"] for f in verdict["figures"]}
    assert results["unknown_province_events"] == "PASS"
    assert "SAMPLE TOO SMALL" in results.values() and "FAIL" not in results.values()
    assert "Cannot lock" not in calibrate.stderr and "Traceback" not in calibrate.stderr

    # Ingest went on meanwhile (a guard until it shows, not a timing).
    _wait_for(lambda: count(live) > first, live)
    live.check_alive()


# What a write looks like, and the line that must refuse it.
WRITES = [
    ("INSERT INTO {db}.provinces (code) VALUES ('xx')", "read-only statements"),
    ("DROP TABLE {db}.events", "read-only statements"),
    ("TRUNCATE TABLE {db}.events", "read-only statements"),
    ("ALTER TABLE {db}.events DELETE WHERE 1", "read-only statements"),
    ("SET readonly = 0", "read-only statements"),
    ("SYSTEM STOP MERGES", "read-only statements"),
    ("SELECT 1 INTO OUTFILE '{tmp}/outfile.csv'", "INTO OUTFILE"),
    # These pass the statement check: the engine's own readonly = 1 refuses them.
    ("SELECT 1 SETTINGS readonly = 0", "readonly"),
    ("SELECT 1 SETTINGS max_threads = 8", "readonly"),
]


def test_a_write_through_the_worker_is_refused(live: WorkerProcess, tmp_path: Path) -> None:
    db = live.settings.clickhouse.database
    before = count(live)
    for sql, why in WRITES:
        done = dxpulse(live, "query", sql.format(db=db, tmp=tmp_path))
        assert done.returncode == 1, (sql, done.stdout)
        assert "Traceback" not in done.stderr
        errors = [line for line in done.stderr.splitlines() if line.startswith("dxpulse: error:")]
        assert len(errors) == 1 and why in errors[0], (sql, done.stderr)
    assert not (tmp_path / "outfile.csv").exists()
    assert count(live) >= before  # nothing was dropped, truncated or deleted
    provinces = dxpulse(live, "query", f"SELECT countIf(code = 'xx') AS xx, count() AS n "
                        f"FROM {db}.provinces", "--format", "json")  # fmt: skip
    assert orjson.loads(provinces.stdout)[0]["xx"] == 0


def test_the_engine_itself_refuses_writes_on_the_query_session(
    settings: Settings, ch: Client
) -> None:
    """Past the statement check (a request built directly, as a bug in it would let one
    through), the session's ``readonly = 1`` still refuses: the guard is ClickHouse's own."""
    db = settings.clickhouse.database
    path = chdb_path(settings)
    assert path is not None
    engine = ReadOnlyEngine(path)
    engine.open()
    try:
        for sql in (
            f"INSERT INTO {db}.provinces (code) VALUES ('xx')",
            f"TRUNCATE TABLE {db}.provinces",
            "SELECT * FROM file('/etc/hostname', 'LineAsString')",
            "SELECT 1 SETTINGS readonly = 0",
        ):
            request = LiveRequest(sql=sql, params={}, database=None, fmt="JSON", query_id="")
            with pytest.raises(Refusal) as refused:
                engine.execute(request)
            assert (refused.value.code, refused.value.name) == (164, "READONLY"), sql
        ok = engine.execute(
            LiveRequest(f"SELECT count() FROM {db}.provinces", {}, None, "TabSeparated", "")
        )
        assert int(ok.body) == 63  # the provinces are all still there
    finally:
        engine.close()
    assert ch.command(f"SELECT countIf(code = 'xx') FROM {db}.provinces") == 0


def test_a_worker_that_serves_no_queries_is_named_in_one_line(
    settings: Settings, topics: list[str], tmp_path: Path
) -> None:
    """Off loopback the worker serves no queries (its token would cross the network): the
    commands then say who holds the data dir, in one line, instead of chDB's lock error.
    Once that worker is killed outright, its data dir opens again."""
    worker = WorkerProcess(settings, tmp_path / "data", {"DXPULSE_WEB__HOST": "0.0.0.0"})
    worker.start()
    try:
        log = worker.log
        _wait_for(lambda: "not answering queries on 0.0.0.0" in log.read_text(), worker)
        engine = Path(chdb_path(worker.settings) or "")
        _wait_for(lambda: (engine / "status").exists(), worker)  # chDB's own, with its pid
        done = dxpulse(worker, "query", "SELECT 1")
        assert done.returncode == 1 and "Traceback" not in done.stderr
        assert done.stderr.splitlines() == [
            f"dxpulse: error: {worker.settings.data_dir} is open in another process (pid "
            f"{worker.proc.pid if worker.proc else 0}) that does not answer queries for it "
            f"(no running worker's {FILE_NAME} there): wait until it ends"
        ]
        assert not (worker.settings.data_dir / FILE_NAME).exists()
        worker.kill()
        after = dxpulse(worker, "query", "SELECT 1 AS one", "--format", "csv")
        assert (after.returncode, after.stdout) == (0, "one\n1\n"), after.stderr
    finally:
        worker.cleanup()


def test_query_reads_the_data_dir_of_a_running_dxpulse_run(tmp_path: Path) -> None:
    """`dxpulse run` starts its own worker on the data dir: the same endpoint answers."""
    data = tmp_path / "data"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DXPULSE_")}
    env = {**clean, "COLUMNS": "200", "NO_COLOR": "1"}
    log = (tmp_path / "run.log").open("wb")
    run = subprocess.Popen(
        [sys.executable, "-m", "dxpulse", "run", "--duration", "60s", "--rate", "200",
         "--data-dir", str(data)],
        env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + GUARD_S
        while not (data / FILE_NAME).exists():
            assert run.poll() is None, (tmp_path / "run.log").read_text()
            assert time.monotonic() < deadline, (tmp_path / "run.log").read_text()
            time.sleep(0.2)
        done = subprocess.run(
            [sys.executable, "-m", "dxpulse", "query", "SELECT count() AS n FROM dxpulse.events",
             "--format", "json", "--data-dir", str(data)],
            env=env, capture_output=True, text=True, timeout=GUARD_S,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "querying the running worker" in done.stderr
        assert orjson.loads(done.stdout)[0]["n"] >= 0
        assert run.wait(timeout=GUARD_S + 60) == 0, (tmp_path / "run.log").read_text()
    finally:
        if run.poll() is None:
            run.kill()
            run.wait(timeout=30)
        log.close()
