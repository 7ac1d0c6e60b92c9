"""Sequences of crashes covering every ordered pair of crash points, on Tansu and chDB.

One worker after another runs on the same log and the same database and dies at a named
point of one of its first flushes (streams/faults.py), each with other batch and poll sizes,
so each restart re-forms a different mix of replayed and new batches. The points follow a
de Bruijn sequence: every ordered pair (a, b) — a crash at a, then the next worker's crash
at b — occurs once. A last worker drains the log; then every table must equal the ground
truth computed from what was produced (tests/integration_tests/truth.py).

The workers run in this process and "die" by a SimulatedCrash raised at the point: from
there nothing more is written or committed, as with SIGKILL (test_faults.py kills real
processes at each point too). The consumer leaves its group on the way out, which only
makes the next worker's start faster.
"""

from __future__ import annotations

import random
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import orjson
import pytest
from clickhouse_connect.driver.client import Client

from dxpulse.core.config import Settings
from dxpulse.producers.generator import EventGenerator
from dxpulse.streams.faults import CRASH_POINTS, FaultHook, SimulatedCrash, raise_at
from dxpulse.streams.ingest import IngestLoop
from dxpulse.streams.sink import ClickHouseSink
from dxpulse.streams.status import WorkerStatus
from tests.integration_tests.conftest import TrackingProducer, committed_offsets, wait_caught_up
from tests.integration_tests.truth import Truth, differences, query_tables

SIZES = [  # (poll batch, flush max events): small and large, so batch bounds move
    (40, 50), (100, 120), (500, 300), (60, 200), (300, 80), (1000, 250),
]  # fmt: skip


def de_bruijn(symbols: tuple[str, ...]) -> list[str]:
    """A sequence of ``symbols`` in which every ordered pair occurs exactly once, as
    neighbours (the de Bruijn sequence B(k, 2), opened up: k² + 1 long)."""
    k = len(symbols)
    out: list[int] = []
    a = [0] * (k * 2)

    def db(t: int, p: int) -> None:  # the standard recursive construction
        if t > 2:
            if 2 % p == 0:
                out.extend(a[1 : p + 1])
        else:
            a[t] = a[t - p]
            db(t + 1, p)
            for j in range(a[t - p] + 1, k):
                a[t] = j
                db(t + 1, t)

    db(1, 1)
    return [symbols[i] for i in [*out, out[0]]]


def test_de_bruijn_covers_every_ordered_pair_once() -> None:
    seq = de_bruijn(CRASH_POINTS)
    pairs = list(pairwise(seq))
    assert len(pairs) == len(CRASH_POINTS) ** 2 == len(set(pairs))


class Feed:
    """An endless, realistic log: events in time order per key, some late (within and past
    the allowed lateness), exact copies of recent messages (producer retries, also of late
    events) and malformed messages. Produced on demand."""

    def __init__(self, settings: Settings, producer: TrackingProducer, seed: int) -> None:
        self.settings, self.producer = settings, producer
        self.gen = EventGenerator(seed=seed)
        self.rng = random.Random(seed)
        self.at = datetime.now(UTC) - timedelta(hours=6)
        self.recent: dict[tuple[str, bytes], deque[tuple[datetime, bytes]]] = defaultdict(deque)
        self.sent = 0

    def produce(self, n: int) -> None:
        for _ in range(n):
            self._one()
        self.producer.flush()

    def _one(self) -> None:
        self.sent += 1
        self.at += timedelta(milliseconds=150)
        roll = self.rng.random()
        at = self.at
        if roll < 0.01:
            at -= timedelta(minutes=15)  # late: past the allowed 10 minutes
        elif roll < 0.02:
            at -= timedelta(minutes=5)  # late but within the allowed lateness
        event = self.gen.event(at)
        topic = self.settings.kafka.topic(event["event_type"])
        key, value = event["province_code"].encode(), self.gen.encode(event)
        recent = self.recent[(topic, key)]
        while recent and recent[0][0] < self.at - timedelta(minutes=1):
            recent.popleft()  # retries come soon: keep well inside the dedup horizon
        if roll > 0.95 and recent:  # a retry of a recent message of this key
            value = self.rng.choice(recent)[1]
        elif roll > 0.94:
            bad = {**event, "amount_vnd": -1} if roll > 0.945 else None
            self.producer.send(topic, key, orjson.dumps(bad) if bad else b'{"broken', False)
            return
        recent.append((self.at, value))
        self.producer.send(topic, key, value)


def _backlog(settings: Settings, producer: TrackingProducer) -> int:
    have = committed_offsets(settings, list(producer.next_offset))
    return sum(n - max(have.get(tp, 0), 0) for tp, n in producer.next_offset.items())


def _crash(settings: Settings, ch: Client, lock: threading.Lock, spec: str) -> BaseException:
    """One worker, from its start to its crash at ``spec`` (``<point>:<flush>``)."""
    sink = ClickHouseSink(ch, settings.clickhouse.database, lock)
    loop = IngestLoop(settings, sink, WorkerStatus(), faults=raise_at(spec))
    error: list[BaseException] = []

    def target() -> None:
        try:
            loop.run()
        except BaseException as exc:  # the crash, or a real failure to report
            error.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout=120)
    if thread.is_alive():
        loop.stop()
        pytest.fail(f"the worker never reached {spec}")
    assert error, f"the worker stopped without reaching {spec}"
    return error[0]


@pytest.mark.parametrize("seed", [13])
def test_every_ordered_pair_of_crash_points_then_a_clean_run_is_exact(
    settings: Settings, ch: Client, topics: list[str], seed: int
) -> None:
    rng = random.Random(seed)
    producer = TrackingProducer(settings)
    feed = Feed(settings, producer, seed)
    feed.produce(5_000)
    lock = threading.Lock()
    crashed_at: list[str] = []
    sequence_started = time.monotonic()
    for point in de_bruijn(CRASH_POINTS):
        poll, flush_max = rng.choice(SIZES)
        nth = rng.choice([1, 1, 2])
        while _backlog(settings, producer) < 2 * (nth * flush_max + poll):
            feed.produce(500)
        stream = settings.stream.model_copy(
            update={"poll_batch": poll, "flush_max_events": flush_max, "flush_interval_s": 0.2}
        )
        run_settings = settings.model_copy(update={"stream": stream})
        error = _crash(run_settings, ch, lock, f"{point}:{nth}")
        assert isinstance(error, SimulatedCrash), f"{point}:{nth} {poll}/{flush_max}: {error!r}"
        assert str(error).startswith(point)
        crashed_at.append(point)
    assert set(pairwise(crashed_at)) == {(a, b) for a in CRASH_POINTS for b in CRASH_POINTS}

    sequence_s = time.monotonic() - sequence_started
    # Enough of every kind for the checks below (late events are ~1% of the messages),
    # however much the crashed workers happened to take.
    feed.produce(max(0, 12_000 - feed.sent))
    status = WorkerStatus()
    loop = IngestLoop(settings, ClickHouseSink(ch, settings.clickhouse.database, lock), status)
    thread = threading.Thread(target=loop.run, daemon=True)
    thread.start()
    started = time.monotonic()
    wait_caught_up(settings, producer, alive=lambda: None if thread.is_alive() else pytest.fail(
        f"final worker stopped: {status.snapshot()['error']}"))  # fmt: skip
    loop.stop()
    thread.join(60)
    truth = Truth.of(settings, producer.log)
    tables = query_tables(lambda sql: ch.query(sql).result_rows, settings.clickhouse.database)
    assert differences(truth.tables(), tables) == []
    assert truth.duplicates > 100 and len(truth.late) > 100 and len(truth.dead_letters) > 100
    print(
        f"crash sequence: {len(crashed_at)} crashes, {feed.sent:,} messages, "
        f"{len(truth.events):,} events, {truth.duplicates:,} duplicates, "
        f"{len(truth.late):,} late, {len(truth.dead_letters):,} dead letters; "
        f"{sequence_s / len(crashed_at):.2f} s a crashed worker, "
        f"final drain {time.monotonic() - started:.1f} s"
    )


class _Worker:
    """An in-process worker in a thread; what ended it is kept."""

    def __init__(
        self,
        settings: Settings,
        ch: Client,
        lock: threading.Lock,
        faults: FaultHook | None = None,
    ) -> None:
        self.status = WorkerStatus()
        sink = ClickHouseSink(ch, settings.clickhouse.database, lock)
        extra = {"faults": faults} if faults else {}
        self.loop = IngestLoop(settings, sink, self.status, **extra)
        self.error: list[BaseException] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.loop.run()
        except BaseException as exc:
            self.error.append(exc)

    def alive(self) -> None:
        if not self.thread.is_alive():
            pytest.fail(f"worker stopped: {self.error or self.status.snapshot()['error']}")

    def stop(self) -> None:
        self.loop.stop()
        self.thread.join(60)
        assert not self.thread.is_alive() and not self.error, self.error


def _until(condition: Callable[[], object], timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_a_flush_of_every_partition_is_completed_by_owners_of_some(
    settings: Settings, ch: Client, topics: list[str], point: str
) -> None:
    """One worker's first flush holds every partition, and it dies at ``point`` in it. Two
    workers then start together and split the partitions: each finds the flush incomplete
    for its own and re-forms all of it, the other's partitions included, at the same time;
    one of them dies at the same point of that replay (its flush 1), mid-rebalance, and the
    other takes over its partitions and replays again. Exact at the end."""
    producer = TrackingProducer(settings)
    feed = Feed(settings, producer, seed=17)
    lock = threading.Lock()
    feed.produce(1_500)
    # The first flush starts once everything is consumed: it holds every partition.
    hold = settings.stream.model_copy(
        update={"flush_interval_s": 300.0, "flush_max_events": feed.sent, "poll_batch": 200}
    )
    first = _Worker(settings.model_copy(update={"stream": hold}), ch, lock, raise_at(f"{point}:1"))
    first.thread.join(120)
    assert first.error and str(first.error[0]).startswith(f"{point} of flush 1"), first.error
    ((batches,),) = ch.query(
        f"SELECT uniqExact(partition, topic) FROM {settings.clickhouse.database}.sink_intents"
    ).result_rows
    assert batches == len(topics[:-1]) * settings.kafka.partitions
    feed.produce(1_000)  # so that after a complete flush (after_commit) there is a next
    second = _Worker(settings, ch, lock, raise_at(f"{point}:1"))
    third = _Worker(settings, ch, lock)
    second.thread.join(120)
    assert second.error and str(second.error[0]).startswith(point), second.error
    wait_caught_up(settings, producer, alive=third.alive)
    third.stop()
    truth = Truth.of(settings, producer.log)
    tables = query_tables(lambda sql: ch.query(sql).result_rows, settings.clickhouse.database)
    assert differences(truth.tables(), tables) == []
    assert truth.duplicates > 10 and truth.dead_letters and truth.late


def test_a_replayed_flush_is_committed_even_with_no_message_after_it(
    settings: Settings, ch: Client, topics: list[str]
) -> None:
    """CI once found a partition never committed: its last messages were all in the crashed
    flush, so its new owner skipped them and waited for a later flush to commit the offset.
    One flush holds every partition and dies before its commit; nothing is produced after:
    the next worker must commit every partition by itself."""
    producer = TrackingProducer(settings)
    feed = Feed(settings, producer, seed=19)
    lock = threading.Lock()
    feed.produce(1_500)
    hold = settings.stream.model_copy(
        update={"flush_interval_s": 300.0, "flush_max_events": feed.sent, "poll_batch": 200}
    )
    first = _Worker(
        settings.model_copy(update={"stream": hold}), ch, lock, raise_at("before_commit:1")
    )
    first.thread.join(120)
    assert first.error and str(first.error[0]).startswith("before_commit of flush 1")
    second = _Worker(settings, ch, lock)
    wait_caught_up(settings, producer, timeout_s=60, alive=second.alive)
    second.stop()
    truth = Truth.of(settings, producer.log)
    tables = query_tables(lambda sql: ch.query(sql).result_rows, settings.clickhouse.database)
    assert differences(truth.tables(), tables) == []
