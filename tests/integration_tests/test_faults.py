"""Worker processes killed with SIGKILL, at chosen and at random points: numbers stay exact.

Ground truth is computed here from the produced events, independently of the pipeline.
"""

from __future__ import annotations

import csv
import io
import os
import random
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from dxpulse.config import Settings
from dxpulse.embedded import free_port
from dxpulse.runner import settings_env
from producers.generator import EventGenerator
from streams.ingest import CRASH_POINTS
from tests.integration_tests.conftest import TrackingProducer, wait_caught_up

GroupKey = tuple[str, str, str, str]


class WorkerProcess:
    """`dxpulse worker` as a real process with its own chDB data directory."""

    def __init__(self, settings: Settings, data_dir: Path, extra_env: dict[str, str]) -> None:
        clickhouse = settings.clickhouse.model_copy(update={"dsn": None})
        self.settings = settings.model_copy(update={"data_dir": data_dir, "clickhouse": clickhouse})
        self.env = {**os.environ, **settings_env(self.settings), **extra_env}
        self.log = data_dir / "worker.log"
        data_dir.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, **extra_env: str) -> WorkerProcess:
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

    def query(self, sql: str) -> list[list[str]]:
        done = subprocess.run(
            [sys.executable, "-m", "dxpulse", "query", sql, "--format", "csv"],
            env=self.env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return list(csv.reader(io.StringIO(done.stdout)))[1:]


class Workload:
    """Valid events plus duplicates and malformed messages, and what ClickHouse must show."""

    def __init__(self, settings: Settings, count: int, seed: int, dup_every: int, bad_every: int):
        gen = EventGenerator(seed=seed)
        self.messages: list[tuple[str, bytes, bytes]] = []
        self.truth: dict[GroupKey, list[int]] = {}
        self.valid = self.duplicates = self.malformed = 0
        now = datetime.now(UTC)
        for i in range(count):
            event = gen.event(now)
            topic = settings.kafka.topic(event["event_type"])
            key, value = event["province_code"].encode(), gen.encode(event)
            self.messages.append((topic, key, value))
            self.valid += 1
            group = (event["event_type"], event["province_code"], event["area"], event["channel"])
            totals = self.truth.setdefault(group, [0, 0])
            totals[0] += 1
            totals[1] += event["amount_vnd"]
            if dup_every and i % dup_every == dup_every - 1:  # a producer retry, same bytes
                self.messages.append((topic, key, value))
                self.duplicates += 1
            if bad_every and i % bad_every == bad_every - 1:
                broken = orjson.dumps({**event, "amount_vnd": -1, "event_id": f"bad-{i}"})
                self.messages.append((topic, key, broken))
                self.malformed += 1

    def produce(self, producer: TrackingProducer, rate: float) -> None:
        started = time.monotonic()
        for n, (topic, key, value) in enumerate(self.messages):
            producer.send(topic, key, value)
            if rate and n % 500 == 0:
                ahead = n / rate - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)
        producer.flush()


def assert_exact(worker: WorkerProcess, db: str, work: Workload) -> dict[str, int]:
    ((raw, ids, late),) = worker.query(
        f"SELECT count(), uniqExact(event_id), countIf(is_late = 1) FROM {db}.events"
    )
    assert (int(raw), int(ids), int(late)) == (work.valid, work.valid, 0)
    got = {
        (t, p, a, c): [int(n), int(v)]
        for t, p, a, c, n, v in worker.query(
            f"SELECT event_type, province_code, area, channel, sum(events), sum(amount_vnd) "
            f"FROM {db}.event_aggregates GROUP BY 1, 2, 3, 4"
        )
    }
    assert got == work.truth, "aggregates differ from the ground truth"
    # The dashboards' rollups are materialized views on events: a replayed (deduplicated)
    # events insert must not reach them twice either.
    ((orders, gmv, transactions, mm_vnd),) = worker.query(
        f"SELECT (SELECT sum(orders) FROM {db}.ecommerce_minute), "
        f"(SELECT sum(gmv_vnd) FROM {db}.ecommerce_minute), "
        f"(SELECT sum(transactions) FROM {db}.mobile_money_minute), "
        f"(SELECT sum(amount_vnd) FROM {db}.mobile_money_minute)"
    )
    for event_type, count, vnd in (
        ("ecommerce_order", orders, gmv),
        ("mobile_money", transactions, mm_vnd),
    ):
        truth = [nv for key, nv in work.truth.items() if key[0] == event_type]
        expected = [sum(n for n, _ in truth), sum(v for _, v in truth)]
        assert [int(count or 0), int(vnd or 0)] == expected, f"{event_type} rollup"
    ((letters, distinct_letters),) = worker.query(
        f"SELECT count(), uniqExact(source_topic, source_partition, source_offset) "
        f"FROM {db}.dead_letters"
    )
    assert int(letters) == int(distinct_letters) == work.malformed
    return {"events": work.valid, "duplicates": work.duplicates, "malformed": work.malformed}


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_crash_at_each_point_then_restart_is_exact(
    settings: Settings, topics: list[str], tmp_path: Path, point: str
) -> None:
    work = Workload(settings, count=12_000, seed=21, dup_every=50, bad_every=400)
    worker = WorkerProcess(settings, tmp_path / "w", {"DXPULSE_STREAM__FLUSH_MAX_EVENTS": "2500"})
    producer = TrackingProducer(settings)
    work.produce(producer, rate=0)
    crashing = worker.start(DXPULSE_TEST_CRASH_AT=f"{point}:2")
    assert crashing.proc is not None
    assert crashing.proc.wait(timeout=120) == -signal.SIGKILL, worker.log_tail()
    # Restart with other batch sizes: only an exact replay of the recorded range can make
    # the re-sent inserts match (and be deduplicated by) what landed before the crash.
    worker.start(DXPULSE_STREAM__FLUSH_MAX_EVENTS="700", DXPULSE_STREAM__POLL_BATCH="300")
    wait_caught_up(settings, producer, alive=worker.check_alive)
    assert worker.terminate() == 0, worker.log_tail()
    assert_exact(worker, settings.clickhouse.database, work)


def test_random_sigkills_during_a_long_stream_lose_nothing_and_count_nothing_twice(
    settings: Settings, topics: list[str], tmp_path: Path
) -> None:
    work = Workload(settings, count=200_000, seed=33, dup_every=97, bad_every=1_000)
    worker = WorkerProcess(settings, tmp_path / "w", {})
    producer = TrackingProducer(settings)
    feeder = threading.Thread(target=work.produce, args=(producer, 4_000), daemon=True)
    feeder.start()
    rng = random.Random(7)
    kills = 0
    while feeder.is_alive() or kills < 10:
        worker.start()
        time.sleep(rng.uniform(2.0, 5.0))
        worker.check_alive()
        worker.kill()
        kills += 1
    feeder.join()
    worker.start()
    wait_caught_up(settings, producer, timeout_s=300, alive=worker.check_alive)
    assert worker.terminate() == 0, worker.log_tail()
    measured = assert_exact(worker, settings.clickhouse.database, work)
    assert kills >= 10
    report: dict[str, Any] = {**measured, "kills": kills}
    (tmp_path / "soak.json").write_bytes(orjson.dumps(report))
    print("soak:", report)
