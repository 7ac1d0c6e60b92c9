"""History backfill on real engines: produced to Tansu and read back exactly, in event-time
order per partition; then through the ingest loop into chDB followed by live events, with
nothing late; and `dxpulse produce --backfill` / `dxpulse run --backfill` as processes."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from datetime import time as time_of_day
from pathlib import Path

import orjson
from clickhouse_connect.driver.client import Client
from confluent_kafka import Consumer, Message

from dxpulse.core.config import EVENT_TYPES, Settings
from dxpulse.producers.backfill import plan_backfill
from dxpulse.producers.generator import EventGenerator
from dxpulse.producers.intensity import VN_TZ
from dxpulse.producers.producer import produce, produce_backfill
from dxpulse.runner import settings_env
from dxpulse.summary import exactness_checks
from tests.integration_tests.conftest import RunningIngest

DAY = 86_400


def _event_time(event: dict[str, object]) -> datetime:
    return datetime.fromisoformat(str(event["event_time"]))


def test_a_backfill_lands_exactly_in_event_time_order(settings: Settings, topics: list[str]):
    end = datetime.now(UTC)
    plan = plan_backfill(3 * DAY, 6_000, end=end, seed=21)
    progressed: list[int] = []
    report = produce_backfill(settings, EventGenerator(seed=21), plan, progress=progressed.append)
    assert report.sent == report.delivered == 6_000 and report.failed == 0
    assert sum(progressed) == 6_000
    assert dict(report.by_type) == plan.by_type()

    by_partition: dict[tuple[str, int], list[tuple[int, datetime]]] = defaultdict(list)
    events = []
    for m in _consume_topics(settings, [settings.kafka.topic(t) for t in EVENT_TYPES]):
        event = orjson.loads(m.value())
        assert m.topic() == settings.kafka.topic(event["event_type"])
        assert m.key() == event["province_code"].encode()
        events.append(event)
        by_partition[(m.topic(), m.partition())].append((m.offset(), _event_time(event)))
    assert len(events) == len({e["event_id"] for e in events}) == 6_000
    assert Counter(e["event_type"] for e in events) == report.by_type
    times = [_event_time(e) for e in events]
    assert end - timedelta(days=3) <= min(times) and max(times) < end
    local_days = {t.astimezone(VN_TZ).date() for t in times}
    assert len(local_days) in (3, 4)  # three days, over four dates unless it ends at midnight
    # The worker's watermark is per partition: there, event times must never go back.
    for tp, rows in by_partition.items():
        in_log_order = [t for _, t in sorted(rows)]
        assert in_log_order == sorted(in_log_order), tp


def test_backfill_then_live_events_land_with_none_late(
    settings: Settings,
    ch: Client,
    topics: list[str],
    ingest_factory: Callable[[], RunningIngest],
):
    ingest = ingest_factory()
    generator = EventGenerator(seed=22)
    # Two whole Vietnam days up to the last midnight, then live events today: three dates
    # at any time of day (a history ending now would start on a date it may barely touch).
    now = datetime.now(UTC)
    midnight = datetime.combine(now.astimezone(VN_TZ).date(), time_of_day(), VN_TZ)
    plan = plan_backfill(2 * DAY, 8_000, end=midnight, seed=22)
    assert [d.partial for d in plan.days()] == [False, False]
    past = produce_backfill(settings, generator, plan)
    live = produce(settings, generator, count=2_000)
    total = past.delivered + live.delivered
    snap = ingest.wait_committed(total)
    ingest.stop()
    assert total == 10_000 and snap["late"] == 0 and snap["dead_lettered"] == 0
    db = settings.clickhouse.database
    checks = exactness_checks(ch, db, produced=total)
    assert [(c.name, c.expected, c.actual) for c in checks if not c.ok] == []
    ((days, late, oldest),) = ch.query(
        f"SELECT uniqExact(toDate(event_time, 'Asia/Ho_Chi_Minh')), countIf(is_late = 1), "
        f"min(event_time) FROM {db}.events"
    ).result_rows
    assert days >= 3 and late == 0
    oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC)  # the column is UTC
    assert plan.start <= oldest < plan.start + timedelta(hours=1)  # from the history's start


def _dxpulse(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("DXPULSE_")}
    return subprocess.run(
        [sys.executable, "-m", "dxpulse", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**base, "COLUMNS": "200", **env},
    )


def test_produce_backfill_command(settings: Settings, topics: list[str]):
    done = _dxpulse("produce", "--backfill", "1d", "--count", "3000", "--seed", "5",
                    env=settings_env(settings))  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Backfilled 3,000 events" in done.stdout and "partial day" in done.stdout
    landed = _consume_topics(settings, [settings.kafka.topic(t) for t in EVENT_TYPES])
    assert len(landed) == len({orjson.loads(m.value())["event_id"] for m in landed}) == 3_000


def _consume_topics(settings: Settings, topics: list[str]) -> list[Message]:
    """Everything in these topics: reads until 3 s pass without a message (30 s at first)."""
    consumer = Consumer({**settings.kafka.client_config(), "group.id": f"r{uuid.uuid4().hex}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})  # fmt: skip
    consumer.subscribe(topics)
    got: list[Message] = []
    last = time.monotonic()
    try:
        while time.monotonic() - last < (3.0 if got else 30.0):
            batch = [m for m in consumer.consume(1000, 0.2) if m.error() is None]
            if batch:
                got += batch
                last = time.monotonic()
    finally:
        consumer.close()
    return got


def _query(sql: str, data: Path) -> list[list[str]]:
    done = _dxpulse("query", sql, "--format", "csv", "--data-dir", str(data), env={})
    assert done.returncode == 0, done.stderr
    return list(csv.reader(io.StringIO(done.stdout)))[1:]


def test_run_with_a_backfill_checks_out(tmp_path: Path):
    data = tmp_path / "run"
    done = _dxpulse(
        "run", "--backfill", "2d", "--backfill-count", "5000", "--count", "2000",
        "--seed", "23", "--data-dir", str(data),
        env={"DXPULSE_KAFKA__SESSION_TIMEOUT_MS": "2000"},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "MISMATCH" not in done.stdout
    assert "Produced 7,000 events" in done.stdout and "5,000 of them history" in done.stdout
    assert "Backfilled 5,000 events" in done.stdout
    ((count, days, late),) = _query(
        "SELECT count(), uniqExact(toDate(event_time, 'Asia/Ho_Chi_Minh')), "
        "countIf(is_late = 1) FROM dxpulse.events",
        data,
    )
    assert int(count) == 7_000 and int(days) >= 2 and int(late) == 0
