"""streams/metrics.py without a broker: what a WorkerStatus exports, as prometheus-client's own
parser reads it back. The end-to-end counts (a real worker, real broker and chDB) are in
tests/integration_tests/test_metrics.py."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from dxpulse.schemas.validation import REJECTION_CODES
from dxpulse.streams.metrics import FRESHNESS, METRICS, PROCESS_PREFIX, worker_registry
from dxpulse.streams.status import TopicCounts, WorkerStatus

TOPICS = ("dx.payments", "dx.ecommerce")


def scrape(status: WorkerStatus) -> dict[str, list[Sample]]:
    text = generate_latest(worker_registry(status)).decode()
    return {f.name: f.samples for f in text_string_to_metric_families(text)}


def family_name(exposed: str) -> str:
    """The parser names a counter's family without its _total suffix."""
    return exposed.removesuffix("_total")


def busy_status() -> WorkerStatus:
    status = WorkerStatus()
    status.watch(TOPICS)
    tally = TopicCounts(consumed=10, accepted=6, duplicates=2, late=1,
                        dead_lettered=Counter({"invalid_json": 2}))  # fmt: skip
    status.absorbed({TOPICS[0]: tally}, skipped=3)
    with status.lock:
        status.committed_to({TOPICS[0]: 10}, {(TOPICS[0], 4): 7})
        status.flush_duration.observe(0.2)
        status.flush_rows.observe(6)
        status.freshness.record([1_000, 1_000, 1_000], 1_000 + 750)  # three 0.75 s ages
    return status


def test_exactly_the_declared_families_are_exported_with_conventional_names() -> None:
    families = scrape(WorkerStatus())
    ours = {name for name in families if not name.startswith(PROCESS_PREFIX)}
    assert ours == {family_name(m.name) for m in METRICS}
    for metric in METRICS:
        assert metric.name.startswith("dxpulse_")
        assert metric.name.endswith("_total") == (metric.kind == "counter"), metric.name
        assert not any(unit in metric.name for unit in ("_ms", "millis", "_kb", "_mb")), metric
    # RSS and CPU from the library's ProcessCollector (Linux /proc).
    assert {"process_resident_memory_bytes", "process_cpu_seconds"} <= set(families)
    assert not any(s.name.endswith("_created") for ss in families.values() for s in ss)


def test_counts_land_under_their_topic_and_reason() -> None:
    families = scrape(busy_status())

    def by_topic(family: str) -> dict[str, float]:
        return {s.labels["topic"]: s.value for s in families[family]}

    assert by_topic("dxpulse_messages_consumed") == {TOPICS[0]: 10, TOPICS[1]: 0}
    assert by_topic("dxpulse_events_accepted") == {TOPICS[0]: 6, TOPICS[1]: 0}
    assert by_topic("dxpulse_duplicates") == {TOPICS[0]: 2, TOPICS[1]: 0}
    assert by_topic("dxpulse_late_events") == {TOPICS[0]: 1, TOPICS[1]: 0}
    assert by_topic("dxpulse_messages_committed") == {TOPICS[0]: 10, TOPICS[1]: 0}
    dead = {(s.labels["topic"], s.labels["reason"]): s.value
            for s in families["dxpulse_messages_dead_lettered"]}  # fmt: skip
    # Every code from zero on every watched topic: a first rejection shows as an increase.
    assert set(dead) == {(t, code) for t in TOPICS for code in REJECTION_CODES}
    assert sum(dead.values()) == dead[(TOPICS[0], "invalid_json")] == 2
    (skipped,) = families["dxpulse_messages_replay_skipped"]
    assert skipped.value == 3
    (lag,) = families["dxpulse_consumer_lag_messages"]
    assert (lag.labels, lag.value) == ({"topic": TOPICS[0], "partition": "4"}, 7)


def test_histograms_are_cumulative_in_base_units() -> None:
    families = scrape(busy_status())
    fresh = {s.labels.get("le"): s.value for s in families[FRESHNESS.name]
             if s.name.endswith("_bucket")}  # fmt: skip
    assert fresh["0.5"] == 0 and fresh["1.0"] == 3 and fresh["+Inf"] == 3
    values = list(fresh.values())
    assert values == sorted(values)  # cumulative
    sums = {s.name: s.value for s in families[FRESHNESS.name] if not s.name.endswith("_bucket")}
    assert sums == {"dxpulse_freshness_seconds_count": 3, "dxpulse_freshness_seconds_sum": 2.25}
    flush = {s.name: s.value for s in families["dxpulse_flush_duration_seconds"]
             if not s.name.endswith("_bucket")}  # fmt: skip
    assert flush == {"dxpulse_flush_duration_seconds_count": 1,
                     "dxpulse_flush_duration_seconds_sum": 0.2}  # fmt: skip


def test_the_outage_gauge_follows_the_status() -> None:
    status = WorkerStatus()
    assert scrape(status)["dxpulse_clickhouse_outage"][0].value == 0
    status.outage_since, status.write_failures = time.monotonic() - 5, 4  # 5 s ago
    families = scrape(status)
    assert families["dxpulse_clickhouse_outage"][0].value == 1
    assert families["dxpulse_insert_failures"][0].value == 4
    during = families["dxpulse_clickhouse_outage_seconds"][0].value
    assert during >= 5  # the ongoing outage counts
    # As the ingest loop ends it: the total moves from the ongoing part to the sum, on one
    # clock, so the counter does not step back (Prometheus would read a reset).
    assert status.outage_since is not None
    status.outage_seconds, status.outage_since = time.monotonic() - status.outage_since, None
    after = scrape(status)
    assert after["dxpulse_clickhouse_outage"][0].value == 0
    assert after["dxpulse_clickhouse_outage_seconds"][0].value >= during


def test_each_worker_has_its_own_registry_and_the_global_one_stays_clean() -> None:
    first, second = busy_status(), WorkerStatus()
    assert scrape(first)["dxpulse_messages_consumed"] != scrape(second)["dxpulse_messages_consumed"]
    assert not [m for m in REGISTRY.collect() if m.name.startswith("dxpulse_")]


def test_operations_doc_lists_every_exported_metric_with_its_type() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text("utf-8")
    for metric in METRICS:
        assert f"| `{metric.name}` | {metric.kind} |" in doc, metric.name


@pytest.mark.skipif(shutil.which("promtool") is None, reason="Prometheus' promtool absent")
def test_promtool_finds_nothing_to_lint() -> None:
    # Prometheus' own checker of the naming conventions (_total, base units, no abbreviations).
    text = generate_latest(worker_registry(busy_status()))
    done = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True)
    assert (done.returncode, done.stdout + done.stderr) == (0, b"")
