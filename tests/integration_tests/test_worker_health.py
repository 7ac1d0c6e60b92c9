"""/health tells the truth about Kafka and ClickHouse, on real engines (Tansu, chDB).

- A real Tansu process is killed under a running `dxpulse worker` process: /health turns
  503 with a reason, and 200 again once a broker is back. Tansu keeps everything in memory,
  so the restarted broker is empty: its topics are created again as the product does
  (``ensure_topics``, what `dxpulse init` and a worker's start run). "The events stay
  exact" then means: everything produced before the kill is in ClickHouse exactly once,
  and what is produced to the new broker lands too, exactly, with nothing of the old
  topics' record mistaken for the new ones'.
- ClickHouse refusing inserts (the events table renamed away, a real server error) turns
  /health 503 at once, and 200 when inserts succeed again, with every event exact.

The waits are guards with generous timeouts, not timed assertions; the bound itself
(``stream.health_timeout_s``) is proven on a hand-moved clock in
tests/unit_tests/test_liveness.py. The measured times are printed (pytest -s).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client

from dxpulse.core.config import Settings, WebSettings
from dxpulse.embedded import EmbeddedBroker, free_port
from dxpulse.producers.generator import EventGenerator
from dxpulse.streams.app import health_body
from dxpulse.streams.startup import startup_line
from dxpulse.topics import ensure_topics
from tests.integration_tests.conftest import (
    RunningIngest,
    TrackingProducer,
    isolated_settings,
    wait_caught_up,
)
from tests.integration_tests.truth import Logged, Truth, differences, query_tables
from tests.integration_tests.workers import WorkerProcess

GUARD_S = 180  # a guard against a hung test, far above the 30 s bound


def _produce(settings: Settings, producer: TrackingProducer, n: int, seed: int) -> None:
    gen = EventGenerator(seed=seed)
    now = datetime.now(UTC)
    for _ in range(n):
        event = gen.event(now)
        topic = settings.kafka.topic(event["event_type"])
        producer.send(topic, event["province_code"].encode(), gen.encode(event))
    producer.flush()


def _health(port: int) -> tuple[int | None, dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=3) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())
    except (OSError, ValueError) as exc:
        return None, {"error": str(exc)}


def _until_health(
    port: int, code: int, alive: Callable[[], None]
) -> tuple[float, dict[str, Any]]:
    """Seconds until /health answers ``code``, and its body then."""
    started = time.monotonic()
    while time.monotonic() - started < GUARD_S:
        alive()
        status, body = _health(port)
        if status == code:
            return time.monotonic() - started, body
        time.sleep(0.25)
    raise AssertionError(f"/health not {code} within {GUARD_S} s: {status} {body}")


def _one_log(before: list[Logged], after: list[Logged]) -> list[Logged]:
    """The two brokers' logs as one: the new broker's offsets start again at 0, so each
    partition's second part is placed after its first (the truth is per partition, in
    offset order)."""
    ends: dict[tuple[str, int], int] = {}
    for m in before:
        ends[(m.topic, m.partition)] = max(ends.get((m.topic, m.partition), 0), m.offset + 1)
    return [*before, *(replace(m, offset=m.offset + ends.get((m.topic, m.partition), 0))
                       for m in after)]  # fmt: skip


@pytest.fixture
def own_broker() -> Iterator[EmbeddedBroker]:
    """A broker of the test's own, on a port it keeps across a kill and a restart."""
    broker = EmbeddedBroker(free_port()).start()
    yield broker
    broker.stop()


def test_broker_killed_under_a_running_worker(
    own_broker: EmbeddedBroker, clickhouse_dsn: str, tmp_path: Path
) -> None:
    settings = isolated_settings(own_broker.bootstrap_servers, clickhouse_dsn, tmp_path)
    ensure_topics(settings.kafka)
    web_port = free_port()
    worker = WorkerProcess(settings, tmp_path / "w", {"DXPULSE_WEB__PORT": str(web_port)})
    worker.start(DXPULSE_WEB__PORT=str(web_port))
    try:
        before = TrackingProducer(settings)
        _produce(settings, before, 3_000, seed=61)
        wait_caught_up(settings, before, alive=worker.check_alive)
        _until_health(web_port, 200, worker.check_alive)

        own_broker.stop()  # SIGTERM to Tansu: it keeps nothing
        to_503, down = _until_health(web_port, 503, worker.check_alive)
        assert down["healthy"] is False
        assert down["reason"].startswith("kafka: "), down
        assert [d["dependency"] for d in down["down"]] == ["kafka"]

        returned = time.monotonic()
        own_broker.start()  # the same address, empty
        ensure_topics(settings.kafka)
        _, up = _until_health(web_port, 200, worker.check_alive)
        to_200 = time.monotonic() - returned
        assert up == {"healthy": True, "state": "running", "reason": None, "down": []}

        after = TrackingProducer(settings)
        _produce(settings, after, 2_000, seed=62)
        wait_caught_up(settings, after, alive=worker.check_alive)
        assert worker.terminate() == 0, worker.log_tail()
    finally:
        worker.cleanup()
    print(f"\n/health 503 {to_503:.1f} s after the kill, 200 {to_200:.1f} s after the return")
    truth = Truth.of(settings, _one_log(before.log, after.log))
    assert len(truth.accepted) == 5_000
    assert differences(truth.tables(), worker.tables()) == []
    log = worker.log.read_text("utf-8", "replace")
    print(f"worker log: {len(log.splitlines())} lines")
    assert log.count("Kafka down") == 1 and log.count("Kafka answers again") == 1, log
    # Before: ~15 "Unable connect to node" lines a second. Now one line per change, and the
    # client libraries' repeats held back (streams/lograte.py). No cursor escapes either.
    assert len(log.splitlines()) < 40 and "\x1b[" not in log, log


def test_clickhouse_refusing_inserts_turns_health_503_until_they_succeed(
    bootstrap_servers: str, clickhouse_dsn: str, tmp_path: Path, ch: Client,
    settings: Settings, topics: list[str],
    ingest_factory: Callable[[], RunningIngest],
) -> None:  # fmt: skip
    db = settings.clickhouse.database
    producer = TrackingProducer(settings)
    _produce(settings, producer, 1_000, seed=63)
    ingest = ingest_factory()
    wait_caught_up(settings, producer)
    assert health_body(ingest.status.snapshot())["healthy"]

    ch.command(f"RENAME TABLE {db}.events TO {db}.events_away")
    _produce(settings, producer, 1_000, seed=64)
    started = time.monotonic()
    while (body := health_body(ingest.status.snapshot()))["healthy"]:
        assert time.monotonic() - started < GUARD_S, "still healthy while inserts fail"
        time.sleep(0.1)
    assert body["reason"].startswith("clickhouse: writes failing"), body
    assert [d["dependency"] for d in body["down"]] == ["clickhouse"]

    ch.command(f"RENAME TABLE {db}.events_away TO {db}.events")
    wait_caught_up(settings, producer, timeout_s=GUARD_S)
    assert health_body(ingest.status.snapshot())["healthy"]
    ingest.stop()
    truth = Truth.of(settings, producer.log)
    rows = query_tables(lambda sql: ch.query(sql).result_rows, db)
    assert differences(truth.tables(), rows) == []


def test_a_worker_stopped_while_the_broker_is_gone_exits_in_its_budget(
    own_broker: EmbeddedBroker, clickhouse_dsn: str, tmp_path: Path
) -> None:
    """Issue: SIGTERM with the broker gone took 65 s and ended in "Task was destroyed but
    it is pending!". Now the process exits when stream.stop_timeout_s (8 s) is spent, with
    one line, and 0: everything it had consumed was written and committed before."""
    settings = isolated_settings(own_broker.bootstrap_servers, clickhouse_dsn, tmp_path)
    ensure_topics(settings.kafka)
    web_port = free_port()
    worker = WorkerProcess(settings, tmp_path / "w", {})
    worker.start(DXPULSE_WEB__PORT=str(web_port))
    try:
        producer = TrackingProducer(settings)
        _produce(settings, producer, 500, seed=65)
        wait_caught_up(settings, producer, alive=worker.check_alive)
        own_broker.stop()
        time.sleep(2)  # the clients notice: the stop below is one with the broker gone
        asked = time.monotonic()
        code = worker.terminate()  # waits at most 90 s: a guard
        took = time.monotonic() - asked
    finally:
        worker.cleanup()
    print(f"\nstopped {took:.1f} s after SIGTERM, exit {code}")
    assert code == 0, worker.log_tail()
    log = worker.log.read_text("utf-8", "replace")
    assert "Task was destroyed" not in log and "Traceback" not in log, log


def _read_all(fd: int) -> str:
    """What a pseudo-terminal holds once its writer exited (Linux reports EIO at the end)."""
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", "replace")


def test_in_a_terminal_the_worker_prints_one_line_and_no_spinner(
    bootstrap_servers: str, clickhouse_dsn: str, tmp_path: Path
) -> None:
    """Issue: a worker in a terminal drew Faust's spinner (cursor escapes) and banner."""
    settings = isolated_settings(bootstrap_servers, clickhouse_dsn, tmp_path)
    web_port = free_port()
    worker = WorkerProcess(settings, tmp_path / "w", {})
    terminal, child = os.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "dxpulse", "worker"],
        env={**worker.env, "DXPULSE_WEB__PORT": str(web_port)},
        stdin=child, stdout=child, stderr=child,
    )  # fmt: skip
    os.close(child)
    try:
        alive = lambda: None if proc.poll() is None else pytest.fail(f"exit {proc.returncode}")  # noqa: E731
        _until_health(web_port, 200, alive)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=90) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    shown = _read_all(terminal)
    os.close(terminal)
    assert "\x1b" not in shown, repr(shown)
    expected = worker.settings.model_copy(update={"web": WebSettings(port=web_port)})
    assert shown.splitlines() == [startup_line(expected)], shown


def test_a_taken_web_port_is_one_line_with_a_real_broker(
    bootstrap_servers: str, clickhouse_dsn: str, tmp_path: Path
) -> None:
    """Issue: with a broker to join, a taken --web-port was a 47-line traceback."""
    settings = isolated_settings(bootstrap_servers, clickhouse_dsn, tmp_path)
    worker = WorkerProcess(settings, tmp_path / "w", {})
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "dxpulse", "worker", "--web-port", str(port)],
            env=worker.env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines() == [
        f"dxpulse: error: web port 127.0.0.1:{port} is already in use; pass --web-port or "
        "set DXPULSE_WEB__PORT"
    ], done.stderr
