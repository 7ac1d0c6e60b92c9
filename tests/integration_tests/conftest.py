"""Fixtures on real engines: a Tansu broker and chDB, no mocks.

Set DXPULSE_TEST_BOOTSTRAP_SERVERS to run against another Kafka instead of the embedded
Tansu, and DXPULSE_TEST_CLICKHOUSE_DSN to use a ClickHouse server instead of chDB.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client
from confluent_kafka import Consumer, Message, Producer, TopicPartition

from dxpulse.clickhouse import connect, migrate
from dxpulse.core.config import ClickHouseSettings, KafkaSettings, Settings, StreamSettings
from dxpulse.embedded import EmbeddedBroker
from dxpulse.streams.ingest import IngestLoop
from dxpulse.streams.sink import ClickHouseSink
from dxpulse.streams.status import WorkerStatus
from dxpulse.topics import ensure_topics
from tests.integration_tests.truth import Logged

HERE = Path(__file__).resolve().parent


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under this directory is ``integration``, so ``-m integration`` and
    ``-m "not integration"`` split the suite: a ``pytestmark`` in a conftest marks nothing.
    First, so the ``-m`` deselection that follows sees the marker."""
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def bootstrap_servers() -> Iterator[str]:
    external = os.environ.get("DXPULSE_TEST_BOOTSTRAP_SERVERS")
    if external:
        yield external
        return
    with EmbeddedBroker() as broker:
        yield broker.bootstrap_servers


@pytest.fixture(scope="session")
def clickhouse_dsn(tmp_path_factory: pytest.TempPathFactory) -> str:
    # chDB allows one data path per process, so the whole session shares one; tests
    # isolate themselves by database name.
    return os.environ.get("DXPULSE_TEST_CLICKHOUSE_DSN") or (
        f"chdb://{tmp_path_factory.mktemp('chdb')}"
    )


def isolated_settings(
    bootstrap_servers: str, clickhouse_dsn: str, data_dir: Path, **stream: Any
) -> Settings:
    """Settings with their own topics, consumer group and database."""
    tag = uuid.uuid4().hex[:10]
    return Settings(
        data_dir=data_dir,
        kafka=KafkaSettings(
            bootstrap_servers=bootstrap_servers,
            topic_prefix=f"t{tag}",
            partitions=4,
            group_id=f"g{tag}",
            # Tansu hands a new group its partitions after half the session timeout.
            session_timeout_ms=2_000,
        ),
        clickhouse=ClickHouseSettings(dsn=clickhouse_dsn, database=f"t{tag}"),
        stream=StreamSettings(**{"flush_interval_s": 0.5, **stream}),
    )


@pytest.fixture
def settings(bootstrap_servers: str, clickhouse_dsn: str, tmp_path: Path) -> Settings:
    """Settings isolated per test: own topics, consumer group and database."""
    return isolated_settings(bootstrap_servers, clickhouse_dsn, tmp_path)


@pytest.fixture
def ch(settings: Settings) -> Iterator[Client]:
    client = connect(settings)
    migrate(client, settings.clickhouse.database)
    yield client
    client.command(f"DROP DATABASE IF EXISTS {settings.clickhouse.database}")


@pytest.fixture
def topics(settings: Settings) -> list[str]:
    return ensure_topics(settings.kafka)


class RunningIngest:
    """An IngestLoop in a background thread, as the Faust service runs it."""

    def __init__(self, settings: Settings, client: Client, lock: threading.Lock) -> None:
        self.status = WorkerStatus()
        self.sink = ClickHouseSink(client, settings.clickhouse.database, lock)
        self.loop = IngestLoop(settings, self.sink, self.status)
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.loop.run()
        except BaseException as exc:
            self.error = exc

    def start(self) -> RunningIngest:
        self._thread.start()
        return self

    def wait_committed(self, expected: int, timeout_s: float = 120.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.error:
                raise self.error
            snap = self.status.snapshot()
            if snap["committed"] >= expected:
                return snap
            time.sleep(0.05)
        raise AssertionError(f"only {self.status.snapshot()} of {expected} committed")

    def stop(self) -> None:
        self.loop.stop()
        self._thread.join(timeout=60)
        assert not self._thread.is_alive(), "ingest loop did not stop"
        if self.error:
            raise self.error


@pytest.fixture
def ingest_factory(settings: Settings, ch: Client) -> Iterator[Callable[[], RunningIngest]]:
    started: list[RunningIngest] = []
    lock = threading.Lock()  # loops in one process share the chDB client

    def make() -> RunningIngest:
        running = RunningIngest(settings, ch, lock).start()
        started.append(running)
        return running

    yield make
    for running in started:
        if running._thread.is_alive():
            running.loop.stop()
            running._thread.join(timeout=60)


@pytest.fixture
def send(settings: Settings) -> Callable[[str, list[tuple[bytes | None, bytes | None]]], int]:
    """Send (key, value) pairs to a topic and wait for delivery; returns how many."""

    def _send(topic: str, messages: list[tuple[bytes | None, bytes | None]]) -> int:
        producer = Producer({**settings.kafka.client_config(), "linger.ms": 5})
        for key, value in messages:
            producer.produce(topic, key=key, value=value)
        assert producer.flush(30) == 0
        return len(messages)

    return _send


def consume_all(
    settings: Settings, topic: str, expected: int, timeout_s: float = 60
) -> list[Message]:
    consumer = Consumer(
        {
            **settings.kafka.client_config(),
            "group.id": f"reader-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "session.timeout.ms": 2_000,
        }
    )
    consumer.subscribe([topic])
    got: list[Message] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(got) < expected and time.monotonic() < deadline:
            got += [m for m in consumer.consume(1000, 0.2) if m.error() is None]
    finally:
        consumer.close()
    return got


def committed_offsets(settings: Settings, tps: list[tuple[str, int]]) -> dict[tuple[str, int], int]:
    consumer = Consumer({**settings.kafka.client_config(), "group.id": settings.kafka.group_id})
    try:
        found = consumer.committed([TopicPartition(t, p) for t, p in tps], 10)
    finally:
        consumer.close()
    return {(tp.topic, tp.partition): tp.offset for tp in found}


class TrackingProducer:
    """Sends raw messages and records each delivered one: the ground truth of what is in
    the log, per partition (the broker's reported end offsets are not trusted). ``log``
    holds every delivered message with its partition, offset and whether the test built
    it as a valid event (see tests/integration_tests/truth.py)."""

    def __init__(self, settings: Settings) -> None:
        self.producer = Producer({**settings.kafka.client_config(), "linger.ms": 5,
                                  "enable.idempotence": True, "acks": "all"})  # fmt: skip
        self.next_offset: dict[tuple[str, int], int] = {}
        self.log: list[Logged] = []
        self.failed = 0

    def _delivered(self, valid: bool) -> Callable[[Any, Message], None]:
        def on_delivery(err: Any, msg: Message) -> None:
            if err is not None:
                self.failed += 1
                return
            tp = (msg.topic(), msg.partition())
            self.next_offset[tp] = max(self.next_offset.get(tp, 0), msg.offset() + 1)
            self.log.append(
                Logged(tp[0], tp[1], msg.offset(), msg.value() or b"", valid, msg.key())
            )

        return on_delivery

    def send(self, topic: str, key: bytes | None, value: bytes | None, valid: bool = True) -> None:
        on_delivery = self._delivered(valid)
        while True:
            try:
                self.producer.produce(topic, key=key, value=value, on_delivery=on_delivery)
                return
            except BufferError:
                self.producer.poll(0.05)

    def flush(self) -> None:
        assert self.producer.flush(60) == 0
        assert self.failed == 0


def wait_caught_up(
    settings: Settings, produced: TrackingProducer, timeout_s: float = 180,
    alive: Callable[[], None] = lambda: None,
) -> None:  # fmt: skip
    """Until the group's committed offsets reach every produced message."""
    deadline = time.monotonic() + timeout_s
    want = produced.next_offset
    while time.monotonic() < deadline:
        alive()
        have = committed_offsets(settings, list(want))
        if all(have.get(tp, -1) >= n for tp, n in want.items()):
            return
        time.sleep(0.3)
    raise AssertionError(f"not caught up: want {want}, committed {have}")
