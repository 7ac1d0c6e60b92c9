"""Worker processes killed with SIGKILL, at chosen and at random points: numbers stay exact.

Ground truth is computed from what was produced (tests/integration_tests/truth.py),
independently of the pipeline, and compared with every table the pipeline writes.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from dxpulse.core.config import Settings
from dxpulse.producers.generator import EventGenerator
from dxpulse.streams.faults import CRASH_POINTS
from tests.integration_tests.conftest import TrackingProducer, wait_caught_up
from tests.integration_tests.truth import Truth, differences
from tests.integration_tests.workers import WorkerProcess


class Workload:
    """Valid events plus duplicates and malformed messages, in production order."""

    def __init__(self, settings: Settings, count: int, seed: int, dup_every: int, bad_every: int):
        gen = EventGenerator(seed=seed)
        self.messages: list[tuple[str, bytes, bytes, bool]] = []
        now = datetime.now(UTC)
        for i in range(count):
            event = gen.event(now)
            topic = settings.kafka.topic(event["event_type"])
            key, value = event["province_code"].encode(), gen.encode(event)
            self.messages.append((topic, key, value, True))
            if dup_every and i % dup_every == dup_every - 1:  # a producer retry, same bytes
                self.messages.append((topic, key, value, True))
            if bad_every and i % bad_every == bad_every - 1:
                broken = orjson.dumps({**event, "amount_vnd": -1, "event_id": f"bad-{i}"})
                self.messages.append((topic, key, broken, False))

    def produce(self, producer: TrackingProducer, rate: float) -> None:
        started = time.monotonic()
        for n, (topic, key, value, valid) in enumerate(self.messages):
            producer.send(topic, key, value, valid)
            if rate and n % 500 == 0:
                ahead = n / rate - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)
        producer.flush()


Factory = Callable[..., WorkerProcess]


@pytest.fixture
def make_worker(settings: Settings, tmp_path: Path) -> Iterator[Factory]:
    """Makes the test's worker (extra environment for every start); kills it at the end."""
    made: list[WorkerProcess] = []

    def make(**env: str) -> WorkerProcess:
        made.append(WorkerProcess(settings, tmp_path / f"w{len(made)}", env))
        return made[-1]

    yield make
    for worker in made:
        worker.cleanup()


def assert_exact(settings: Settings, worker: WorkerProcess, producer: TrackingProducer) -> Truth:
    """Every table equals the ground truth of the produced log."""
    truth = Truth.of(settings, producer.log)
    assert differences(truth.tables(), worker.tables()) == []
    return truth


# The first flush at every other point (a batch starting at offset 0), the second at the
# rest; test_crash_sequences.py covers every pair of points in-process.
@pytest.mark.parametrize(
    ("point", "flush"), [(point, 1 + i % 2) for i, point in enumerate(CRASH_POINTS)]
)
def test_crash_at_each_point_then_restart_is_exact(
    settings: Settings, topics: list[str], make_worker: Factory, point: str, flush: int
) -> None:
    work = Workload(settings, count=6_000, seed=21, dup_every=50, bad_every=400)
    worker = make_worker(DXPULSE_STREAM__FLUSH_MAX_EVENTS="1500", DXPULSE_STREAM__POLL_BATCH="1000")
    producer = TrackingProducer(settings)
    work.produce(producer, rate=0)
    worker.start(DXPULSE_TEST_CRASH_AT=f"{point}:{flush}").wait_crashed()
    # Restart with other batch sizes: only an exact replay of the recorded range can make
    # the re-sent inserts match (and be deduplicated by) what landed before the crash.
    worker.start(DXPULSE_STREAM__FLUSH_MAX_EVENTS="700", DXPULSE_STREAM__POLL_BATCH="300")
    wait_caught_up(settings, producer, alive=worker.check_alive)
    assert worker.terminate() == 0, worker.log_tail()
    assert_exact(settings, worker, producer)


def _one_partition(
    settings: Settings, producer: TrackingProducer, times: list[datetime]
) -> list[bytes]:
    """Mobile Money events at ``times``, all with one key: one partition, in this order."""
    gen = EventGenerator(seed=7, event_types=("mobile_money",))
    topic = settings.kafka.topic("mobile_money")
    values = [gen.encode(gen.event(at)) for at in times]
    for value in values:
        producer.send(topic, b"one-key", value)
    producer.flush()
    return values


def test_crash_in_the_first_flush_after_a_replay_loses_nothing(
    settings: Settings, topics: list[str], make_worker: Factory
) -> None:
    """Issue 13, defect 1: a replayed range and the next batch of its partition were once
    in one flush, their two intents collapsed into one row, and the next run treated the
    replayed range as written. Now a replay is a flush of its own: run 2 dies in it (its
    flush 1), with messages left after the recorded range, and run 3 must write both."""
    producer = TrackingProducer(settings)
    start = datetime.now(UTC) - timedelta(minutes=30)
    _one_partition(settings, producer, [start + timedelta(seconds=i) for i in range(400)])
    worker = make_worker()
    small = {"DXPULSE_STREAM__POLL_BATCH": "100", "DXPULSE_STREAM__FLUSH_MAX_EVENTS": "100"}
    worker.start(**small, DXPULSE_TEST_CRASH_AT="after_intent:2").wait_crashed()
    db = worker.settings.clickhouse.database
    ((last,),) = worker.query(f"SELECT max(last_offset) FROM {db}.sink_intents")[0]
    assert last < 399, "run 1 must leave messages after the recorded range"
    worker.start(DXPULSE_TEST_CRASH_AT="after_intent:1").wait_crashed()
    worker.start()
    wait_caught_up(settings, producer, alive=worker.check_alive)
    assert worker.terminate() == 0, worker.log_tail()
    assert len(assert_exact(settings, worker, producer).events) == 400


def test_a_duplicate_of_a_late_event_is_dropped_after_a_restart(
    settings: Settings, topics: list[str], make_worker: Factory
) -> None:
    """Issue 13, defect 2: the restarted worker must remember the late event it held."""
    producer = TrackingProducer(settings)
    w = datetime.now(UTC) - timedelta(minutes=30)
    first, late, _ = _one_partition(
        settings, producer, [w, w - timedelta(minutes=15), w + timedelta(seconds=1)]
    )
    worker = make_worker().start()
    wait_caught_up(settings, producer, alive=worker.check_alive)
    assert worker.terminate() == 0, worker.log_tail()
    worker.start()
    topic = settings.kafka.topic("mobile_money")
    producer.send(topic, b"one-key", late)  # exact copies: producer retries
    producer.send(topic, b"one-key", first)
    producer.flush()
    wait_caught_up(settings, producer, alive=worker.check_alive)
    assert worker.terminate() == 0, worker.log_tail()
    truth = assert_exact(settings, worker, producer)
    assert (len(truth.events), truth.duplicates, len(truth.late)) == (3, 2, 1)


def test_random_sigkills_during_a_long_stream_lose_nothing_and_count_nothing_twice(
    settings: Settings, topics: list[str], make_worker: Factory, tmp_path: Path
) -> None:
    work = Workload(settings, count=200_000, seed=33, dup_every=97, bad_every=1_000)
    worker = make_worker()
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
    truth = assert_exact(settings, worker, producer)
    assert kills >= 10
    report: dict[str, Any] = {
        "events": len(truth.events), "duplicates": truth.duplicates,
        "malformed": len(truth.dead_letters), "kills": kills,
    }  # fmt: skip
    (tmp_path / "soak.json").write_bytes(orjson.dumps(report))
    print("soak:", report)
