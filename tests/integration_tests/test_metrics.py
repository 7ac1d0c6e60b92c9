"""GET /metrics of real workers, parsed with prometheus-client's own parser: its counters
equal what the test produced, per topic and per rejection reason.

The workload is built so that every count is known in advance: per topic, so many valid
events, so many re-sent ones (duplicates), so many 30 minutes old behind newer ones of their
partition (late), and so many malformed messages of each rejection code, different numbers
for each topic so that a count under the wrong label shows.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from clickhouse_connect.driver.client import Client
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from dxpulse.core.config import EVENT_TYPES, Settings
from dxpulse.dashboards import build, pipeline_health_prometheus
from dxpulse.embedded import free_port
from dxpulse.producers.generator import EventGenerator
from dxpulse.schemas.validation import REJECTION_CODES
from dxpulse.streams.metrics import CONTENT_TYPE, worker_registry
from tests.integration_tests.conftest import RunningIngest, TrackingProducer, wait_caught_up
from tests.integration_tests.workers import WorkerProcess

Factory = Callable[[], RunningIngest]
Labels = frozenset[tuple[str, str]]


@dataclass
class Expected:
    """What one topic received, by outcome."""

    valid: int = 0
    duplicates: int = 0
    late: int = 0
    rejected: Counter[str] = field(default_factory=Counter)

    @property
    def consumed(self) -> int:
        return self.valid + self.duplicates + self.late + self.rejected.total()


def produce_mix(settings: Settings, producer: TrackingProducer, seed: int) -> dict[str, Expected]:
    """Per topic t (0, 1, 2): 150 + 50t valid events, then 10 + 10t of them again, 4 + 3t
    events 30 minutes old keyed like earlier ones (so their partition's watermark is ahead:
    late), and malformed messages, t + 1 to t + 3 of each rejection code."""
    now = datetime.now(UTC)
    expected: dict[str, Expected] = {}
    for t, event_type in enumerate(EVENT_TYPES):
        topic = settings.kafka.topic(event_type)
        gen = EventGenerator(seed=seed + t, event_types=(event_type,))
        sent = []
        for _ in range(150 + 50 * t):
            event = gen.event(now)
            sent.append((event["province_code"].encode(), gen.encode(event)))
            producer.send(topic, *sent[-1])
        for key, value in sent[: 10 + 10 * t]:
            producer.send(topic, key, value)  # a producer retry: the same bytes again
        for key, _ in sent[: 4 + 3 * t]:
            producer.send(topic, key, gen.encode(gen.event(now - timedelta(minutes=30))))
        rejected = _send_malformed(settings, producer, topic, event_type, t)
        expected[topic] = Expected(len(sent), 10 + 10 * t, 4 + 3 * t, rejected)
    producer.flush()
    return expected


def _send_malformed(
    settings: Settings, producer: TrackingProducer, topic: str, event_type: str, t: int
) -> Counter[str]:
    other = next(e for e in EVENT_TYPES if e != event_type)
    stranger = EventGenerator(seed=99, event_types=(other,))
    bad = {
        "empty": b"",
        "invalid_json": b"{broken",
        "too_large": b"x" * (settings.stream.max_event_bytes + 1),
        "invalid_event": orjson.dumps({"event_id": "x"}),
        "wrong_topic": stranger.encode(stranger.event(datetime.now(UTC))),
    }
    assert set(bad) == set(REJECTION_CODES)
    rejected: Counter[str] = Counter()
    for n, (code, value) in enumerate(bad.items()):
        for _ in range(t + 1 + n % 3):
            producer.send(topic, b"01", value, valid=False)
            rejected[code] += 1
    return rejected


# -- reading /metrics ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Scrape:
    samples: dict[str, dict[Labels, float]]  # sample name -> labels -> value
    types: dict[str, str]  # family name -> type

    @classmethod
    def parse(cls, text: str) -> Scrape:
        samples: dict[str, dict[Labels, float]] = {}
        types = {}
        for family in text_string_to_metric_families(text):
            types[family.name] = family.type
            for s in family.samples:
                samples.setdefault(s.name, {})[frozenset(s.labels.items())] = s.value
        return cls(samples, types)

    def value(self, name: str, **labels: str) -> float:
        return self.samples[name][frozenset(labels.items())]

    def by(self, name: str, *keys: str) -> dict[tuple[str, ...], float]:
        """A sample's values keyed by the given labels' values."""
        return {tuple(dict(labels)[k] for k in keys): v for labels, v in self.samples[name].items()}

    def total(self, name: str) -> float:
        return sum(self.samples.get(name, {}).values())


def http_scrape(port: int) -> tuple[Scrape, str]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        return Scrape.parse(resp.read().decode()), resp.headers["Content-Type"]


def assert_counts(scrape: Scrape, expected: dict[str, Expected]) -> None:
    """Every per-topic counter equals what was produced to that topic."""
    assert scrape.by("dxpulse_messages_consumed_total", "topic") == {
        (t,): e.consumed for t, e in expected.items()
    }
    assert scrape.by("dxpulse_events_accepted_total", "topic") == {
        (t,): e.valid + e.late for t, e in expected.items()
    }
    assert scrape.by("dxpulse_duplicates_total", "topic") == {
        (t,): e.duplicates for t, e in expected.items()
    }
    assert scrape.by("dxpulse_late_events_total", "topic") == {
        (t,): e.late for t, e in expected.items()
    }
    assert scrape.by("dxpulse_messages_committed_total", "topic") == {
        (t,): e.consumed for t, e in expected.items()
    }
    assert scrape.by("dxpulse_messages_dead_lettered_total", "topic", "reason") == {
        (t, code): e.rejected[code] for t, e in expected.items() for code in REJECTION_CODES
    }


def assert_flushes_and_freshness(scrape: Scrape, accepted: int) -> None:
    flushes = scrape.value("dxpulse_flush_duration_seconds_count")
    assert flushes > 1 and scrape.value("dxpulse_flush_rows_count") == flushes
    assert scrape.value("dxpulse_flush_duration_seconds_bucket", le="+Inf") == flushes
    assert scrape.value("dxpulse_flush_duration_seconds_sum") > 0
    assert scrape.value("dxpulse_flush_rows_sum") == accepted
    # Every accepted event carries its CreateTime: one freshness observation each.
    assert scrape.value("dxpulse_freshness_seconds_count") == accepted
    assert scrape.value("dxpulse_freshness_seconds_bucket", le="+Inf") == accepted
    assert scrape.value("dxpulse_freshness_seconds_sum") > 0


def _committed(scrape: Scrape) -> float:
    return scrape.total("dxpulse_messages_committed_total")


# -- a real `dxpulse worker` process ------------------------------------------------------------
@pytest.fixture
def worker(settings: Settings, tmp_path: Path) -> Iterator[WorkerProcess]:
    # Small flushes: several of them, some while the partitions still have a backlog.
    settings.stream.flush_max_events = 300
    settings.stream.poll_batch = 200
    made = WorkerProcess(settings, tmp_path / "worker", {})
    yield made
    made.cleanup()


def test_a_worker_process_serves_metrics_equal_to_what_was_produced(
    settings: Settings, topics: list[str], worker: WorkerProcess
) -> None:
    producer = TrackingProducer(settings)
    expected = produce_mix(settings, producer, seed=71)
    produced = sum(e.consumed for e in expected.values())
    assert len(producer.log) == produced
    port = free_port()
    worker.start(DXPULSE_WEB__PORT=str(port))

    deadline = time.monotonic() + 180  # a guard, not a timed assertion
    scrape: Scrape | None = None
    while scrape is None or _committed(scrape) < produced:
        assert time.monotonic() < deadline, "the worker never committed everything"
        worker.check_alive()
        time.sleep(0.3)
        try:
            scrape, content_type = http_scrape(port)
        except OSError:
            continue  # not listening yet

    assert content_type == CONTENT_TYPE == "text/plain; version=0.0.4; charset=utf-8"
    assert_counts(scrape, expected)
    assert_flushes_and_freshness(scrape, sum(e.valid + e.late for e in expected.values()))
    assert scrape.types["dxpulse_messages_consumed"] == "counter"
    assert scrape.types["dxpulse_flush_duration_seconds"] == "histogram"
    # Caught up: every partition that received messages reports a lag of 0.
    assert scrape.by("dxpulse_consumer_lag_messages", "topic", "partition") == {
        (t, str(p)): 0 for t, p in producer.next_offset
    }
    assert scrape.value("dxpulse_clickhouse_outage") == 0
    assert scrape.value("dxpulse_insert_failures_total") == 0
    assert scrape.value("dxpulse_messages_replay_skipped_total") == 0
    assert scrape.value("process_resident_memory_bytes") > 50e6  # a Python with chDB
    assert scrape.value("process_cpu_seconds_total") > 0
    # Its writes (migrations, events, aggregates, late events, dead letters, intents,
    # health) all went as Native blocks: clickhouse-connect's row insert would have loaded
    # pandas, ~42 MB of private memory (streams/native.py).
    assert worker.proc is not None
    assert not loaded_libraries(worker.proc.pid, "pandas")

    assert worker.terminate() == 0  # nothing left to flush: the counts above are final
    db = worker.settings.clickhouse.database
    ((flushes, rows),), ((events,),) = worker.query(
        f"SELECT uniqExact(worker, flushed_at), sum(events) FROM {db}.pipeline_flushes",
        f"SELECT count() FROM {db}.events",
    )
    # A flush is one (worker, flushed_at) in pipeline_flushes (tests/.../test_pipeline_health).
    assert scrape.value("dxpulse_flush_duration_seconds_count") == flushes
    assert scrape.value("dxpulse_flush_rows_sum") == rows == events


def loaded_libraries(pid: int, package: str) -> set[str]:
    """The files of ``package`` mapped into process ``pid`` (its compiled modules)."""
    maps = Path(f"/proc/{pid}/maps").read_text().splitlines()
    return {line.split()[-1] for line in maps if f"/site-packages/{package}/" in line}


# -- in-process loops ---------------------------------------------------------------------------
def registry_scrape(running: RunningIngest) -> Scrape:
    return Scrape.parse(generate_latest(worker_registry(running.status)).decode())


def test_an_outage_shows_as_state_and_failures_and_the_counts_stay_exact(
    settings: Settings, ch: Client, topics: list[str], ingest_factory: Factory
) -> None:
    producer = TrackingProducer(settings)
    expected = produce_mix(settings, producer, seed=72)
    ingest = ingest_factory()
    wait_caught_up(settings, producer)
    before = registry_scrape(ingest)
    assert before.value("dxpulse_clickhouse_outage") == 0
    assert before.value("dxpulse_insert_failures_total") == 0

    def outage(table: str) -> None:
        raise ConnectionError(f"ClickHouse unreachable (injected) while writing {table}")

    ingest.sink.fault = outage
    again = produce_mix(settings, producer, seed=73)
    deadline = time.monotonic() + 60  # a guard
    while ingest.status.snapshot()["write_failures"] < 2:
        assert time.monotonic() < deadline, "the flush never failed"
        time.sleep(0.1)
    during = registry_scrape(ingest)
    assert during.value("dxpulse_clickhouse_outage") == 1
    assert during.value("dxpulse_insert_failures_total") >= 2
    assert during.value("dxpulse_clickhouse_outage_seconds_total") > 0
    assert _committed(during) == _committed(before), "nothing commits while writes fail"

    ingest.sink.fault = None
    wait_caught_up(settings, producer)
    ingest.stop()
    after = registry_scrape(ingest)
    assert after.value("dxpulse_clickhouse_outage") == 0
    assert after.value("dxpulse_insert_failures_total") == ingest.status.write_failures >= 2
    assert after.value("dxpulse_clickhouse_outage_seconds_total") == pytest.approx(
        ingest.status.outage_seconds
    )
    expected = _merged(expected, again)
    assert_counts(after, expected)
    assert_flushes_and_freshness(after, sum(e.valid + e.late for e in expected.values()))
    ((rows,),) = ch.query(f"SELECT count() FROM {settings.clickhouse.database}.events").result_rows
    assert after.value("dxpulse_flush_rows_sum") == rows


def _merged(first: dict[str, Expected], then: dict[str, Expected]) -> dict[str, Expected]:
    return {
        topic: Expected(
            e.valid + then[topic].valid,
            e.duplicates + then[topic].duplicates,
            e.late + then[topic].late,
            e.rejected + then[topic].rejected,
        )
        for topic, e in first.items()
    }


def _wait_committed(loops: list[RunningIngest], total: int, guard_s: float) -> list[Scrape]:
    """Scrape these loops until together they committed ``total`` messages."""
    deadline = time.monotonic() + guard_s  # a guard, not a timed assertion
    scrapes = [registry_scrape(loop) for loop in loops]
    while sum(_committed(s) for s in scrapes) < total:
        assert time.monotonic() < deadline, "not everything was committed"
        time.sleep(0.2)
        scrapes = [registry_scrape(loop) for loop in loops]
    return scrapes


def test_two_loops_in_one_process_report_separately_and_add_up(
    settings: Settings, ch: Client, topics: list[str], ingest_factory: Factory
) -> None:
    """The first loop owns every partition and flushes them all (so reports the lag of all),
    then a second joins: after the rebalance each reports only the partitions it owns."""
    first = ingest_factory()
    producer = TrackingProducer(settings)
    before = produce_mix(settings, producer, seed=74)
    (alone,) = _wait_committed([first], sum(e.consumed for e in before.values()), 180)
    every = {(t, str(p)) for t, p in producer.next_offset}
    assert set(alone.by("dxpulse_consumer_lag_messages", "topic", "partition")) == every

    second = ingest_factory()  # takes over half of the partitions in a rebalance
    deadline = time.monotonic() + 120  # a guard
    while not (first.status.snapshot()["assigned"] and second.status.snapshot()["assigned"]):
        assert time.monotonic() < deadline, "the rebalance never completed"
        time.sleep(0.1)
    expected = _merged(before, produce_mix(settings, producer, seed=75))
    total = sum(e.consumed for e in expected.values())
    # Scraped while both run (a stopped loop owns no partition, so reports no lag); the
    # commit counter is updated with everything else a flush reports.
    scrapes = _wait_committed([first, second], total, 240)
    first.stop()
    second.stop()

    consumed = [s.total("dxpulse_messages_consumed_total") for s in scrapes]
    assert 0 < consumed[1] < total and sum(consumed) == total, consumed
    produced = {
        "dxpulse_events_accepted_total": sum(e.valid + e.late for e in expected.values()),
        "dxpulse_messages_dead_lettered_total": sum(e.rejected.total() for e in expected.values()),
        "dxpulse_duplicates_total": sum(e.duplicates for e in expected.values()),
        "dxpulse_late_events_total": sum(e.late for e in expected.values()),
    }
    assert {name: sum(s.total(name) for s in scrapes) for name in produced} == produced
    # Each reports the lag of the partitions it owns, none twice: the first let go of the
    # ones it handed over.
    owned = [set(s.by("dxpulse_consumer_lag_messages", "topic", "partition")) for s in scrapes]
    assert owned[0] and owned[1] and not owned[0] & owned[1], owned
    assert owned[0] | owned[1] == every == {(t, str(p)) for t, p in producer.next_offset}


# -- a real Prometheus scraping a real worker ---------------------------------------------------
def promql(port: int, expr: str) -> list[dict[str, Any]]:
    query = urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/query?{query}", timeout=5) as r:
        body = json.loads(r.read())
    assert body["status"] == "success", (expr, body)
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def scalar(port: int, expr: str) -> float | None:
    result = promql(port, expr)
    return float(result[0]["value"][1]) if result else None


@pytest.fixture
def prometheus_for(tmp_path: Path) -> Iterator[Callable[[int], int]]:
    """Start Debian's Prometheus scraping 127.0.0.1:<worker port> as deploy/'s job does."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip("no prometheus binary (apt-get install prometheus)")
    procs: list[subprocess.Popen[bytes]] = []

    def start(worker_port: int) -> int:
        deployed = yaml.safe_load((build.ROOT / "deploy/prometheus/prometheus.yml").read_text())
        (job,) = deployed["scrape_configs"]
        job = {k: v for k, v in job.items() if k != "dns_sd_configs"}  # no compose DNS here
        job["static_configs"] = [{"targets": [f"127.0.0.1:{worker_port}"]}]
        config = {"global": {"scrape_interval": "1s"}, "scrape_configs": [job]}
        (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
        port = free_port()
        with (tmp_path / "prometheus.log").open("ab") as log:
            procs.append(subprocess.Popen(
                [binary, f"--config.file={tmp_path / 'prometheus.yml'}",
                 f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                 f"--web.listen-address=127.0.0.1:{port}"],
                stdout=log, stderr=subprocess.STDOUT,
            ))  # fmt: skip
        return port

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(timeout=30)


def test_prometheus_scrapes_a_worker_and_the_dashboard_queries_run(
    settings: Settings,
    topics: list[str],
    worker: WorkerProcess,
    prometheus_for: Callable[[int], int],
) -> None:
    producer = TrackingProducer(settings)
    expected = produce_mix(settings, producer, seed=76)
    produced = sum(e.consumed for e in expected.values())
    worker_port = free_port()
    worker.start(DXPULSE_WEB__PORT=str(worker_port))
    port = prometheus_for(worker_port)

    deadline = time.monotonic() + 180  # a guard, not a timed assertion
    committed: float | None = None
    while committed != produced:
        assert time.monotonic() < deadline, f"Prometheus saw {committed} of {produced} committed"
        worker.check_alive()
        time.sleep(1)
        try:
            committed = scalar(port, "sum(dxpulse_messages_committed_total)")
        except OSError:
            continue  # Prometheus not listening yet
    job = 'job="dxpulse-worker"'
    assert scalar(port, f"up{{{job}}}") == 1
    # rate() needs two samples in its window: wait for a few more scrapes.
    while (scalar(port, f"count_over_time(up{{{job}}}[1m])") or 0) < 3:
        assert time.monotonic() < deadline, "Prometheus stopped scraping"
        time.sleep(1)
    by_reason = {
        (r["metric"]["topic"], r["metric"]["reason"]): float(r["value"][1])
        for r in promql(port, "dxpulse_messages_dead_lettered_total")
    }
    assert by_reason == {
        (t, code): e.rejected[code] for t, e in expected.items() for code in REJECTION_CODES
    }
    # Every query of the Prometheus dashboard is valid PromQL on these series and finds data.
    (model,) = build.dashboards(build.BuildContext(), build.PROMETHEUS_MODULES)
    assert model["uid"] == pipeline_health_prometheus.UID
    for panel, target in build.targets(model):
        expr = target["expr"].replace("$__rate_interval", "1m")
        assert promql(port, expr), f"{panel['title']}: no data for {expr}"
    assert worker.terminate() == 0
