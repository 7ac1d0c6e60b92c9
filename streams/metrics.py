"""A worker's Prometheus metrics: what GET /metrics serves, read from WorkerStatus when scraped.

Why a custom collector rather than instruments the loop updates: the ingest loop handles
~10^5 events/s and already counts everything in :class:`~streams.status.WorkerStatus`, once
per consume batch and once per flush (streams/ingest.py). Counters incremented by the loop
would count the same things twice, and each ``inc()`` takes a lock; :class:`WorkerCollector`
instead copies WorkerStatus under its lock when Prometheus scrapes (every 15 s), so /metrics
costs the loop nothing beyond the per-topic tallies that WorkerStatus keeps anyway. The two
per-flush histograms are prometheus-client's own ``Histogram``, observed once per flush; the
freshness histogram, one observation per event, stays the vectorised numpy one of
streams/freshness.py and is summed up to Prometheus bucket edges at scrape time.

Each worker has its own :class:`~prometheus_client.CollectorRegistry` (never the library's
global default), so several loops in one process, as the tests run them, report separately.
The text is the library's (``generate_latest``, served by streams/app.py), never formatted
by hand.

:data:`METRICS` is the one list of what is exported: the collector emits exactly these
families (tests/unit_tests/test_metrics.py), and docs/operations.md documents each of them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from prometheus_client import CollectorRegistry, Histogram, ProcessCollector
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from dxpulse.schemas.validation import REJECTION_CODES

if TYPE_CHECKING:
    from dxpulse.streams.status import TopicCounts, WorkerStatus

# generate_latest writes the classic text format, version 0.0.4 (what Prometheus asks for
# first, and what the library's own HTTP handler answers it with).
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
Kind = Literal["counter", "gauge", "histogram"]


@dataclass(frozen=True)
class MetricDef:
    name: str  # as exposed: counters end in _total, units are base units (seconds)
    kind: Kind
    help: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] = ()  # histograms: upper bounds, +Inf implied


MESSAGES_CONSUMED = MetricDef(
    "dxpulse_messages_consumed_total", "counter",
    "Messages taken from the topic and handled (accepted, duplicate or dead-lettered).",
    ("topic",),
)  # fmt: skip
EVENTS_ACCEPTED = MetricDef(
    "dxpulse_events_accepted_total", "counter",
    "Valid, new events kept for ClickHouse (late ones included).", ("topic",),
)  # fmt: skip
DEAD_LETTERED = MetricDef(
    "dxpulse_messages_dead_lettered_total", "counter",
    "Messages rejected to the dead-letter topic, by rejection code.", ("topic", "reason"),
)  # fmt: skip
DUPLICATES = MetricDef(
    "dxpulse_duplicates_total", "counter",
    "Valid events dropped because their event_id was seen before.", ("topic",),
)  # fmt: skip
LATE_EVENTS = MetricDef(
    "dxpulse_late_events_total", "counter",
    "Accepted events behind the watermark by more than the allowed lateness.", ("topic",),
)  # fmt: skip
COMMITTED = MetricDef(
    "dxpulse_messages_committed_total", "counter",
    "Messages whose rows are written to ClickHouse and whose offsets are committed.",
    ("topic",),
)  # fmt: skip
REPLAY_SKIPPED = MetricDef(
    "dxpulse_messages_replay_skipped_total", "counter",
    "Messages read again after a restart or rebalance that were already written.",
)  # fmt: skip
CONSUMER_LAG = MetricDef(
    "dxpulse_consumer_lag_messages", "gauge",
    "Messages in the partition past the committed offset, as of the partition's last flush.",
    ("topic", "partition"),
)  # fmt: skip
FLUSH_DURATION = MetricDef(
    "dxpulse_flush_duration_seconds", "histogram",
    "Time of a successful flush: intents, dead letters, row inserts, health rows, commit.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)  # fmt: skip
FLUSH_ROWS = MetricDef(
    "dxpulse_flush_rows", "histogram",
    "Event rows a successful flush inserted into the events table.",
    buckets=(0, 10, 100, 1_000, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000),
)  # fmt: skip
FRESHNESS = MetricDef(
    "dxpulse_freshness_seconds", "histogram",
    "Per accepted event, from its Kafka CreateTime to its insert returning (10 ms resolution).",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300),
)  # fmt: skip
INSERT_FAILURES = MetricDef(
    "dxpulse_insert_failures_total", "counter",
    "Flush attempts that failed on ClickHouse (each retry that fails counts).",
)  # fmt: skip
OUTAGE = MetricDef(
    "dxpulse_clickhouse_outage", "gauge",
    "1 while writes to ClickHouse fail and consumption is paused, else 0.",
)  # fmt: skip
OUTAGE_SECONDS = MetricDef(
    "dxpulse_clickhouse_outage_seconds_total", "counter",
    "Time spent in ClickHouse outages, the ongoing one included.",
)  # fmt: skip

METRICS: tuple[MetricDef, ...] = (
    MESSAGES_CONSUMED, EVENTS_ACCEPTED, DEAD_LETTERED, DUPLICATES, LATE_EVENTS, COMMITTED,
    REPLAY_SKIPPED, CONSUMER_LAG, FLUSH_DURATION, FLUSH_ROWS, FRESHNESS, INSERT_FAILURES,
    OUTAGE, OUTAGE_SECONDS,
)  # fmt: skip
# prometheus-client's ProcessCollector (from /proc) adds process_cpu_seconds_total,
# process_resident_memory_bytes, process_virtual_memory_bytes, process_open_fds,
# process_max_fds and process_start_time_seconds.
PROCESS_PREFIX = "process_"


def new_histogram(metric: MetricDef) -> Histogram:
    """An unregistered library Histogram for ``metric``; WorkerCollector exports it."""
    assert metric.kind == "histogram" and not metric.labels
    return Histogram(metric.name, metric.help, buckets=metric.buckets, registry=None)


def _without_created(metrics: list[Metric]) -> list[Metric]:
    """Drop the library's ``_created`` samples: every other family here lacks them (they are
    collector-made), and the exported names stay exactly those of METRICS."""
    for metric in metrics:
        metric.samples = [s for s in metric.samples if not s.name.endswith("_created")]
    return metrics


def _counter(metric: MetricDef) -> CounterMetricFamily:
    return CounterMetricFamily(metric.name, metric.help, labels=metric.labels)


def _gauge(metric: MetricDef) -> GaugeMetricFamily:
    return GaugeMetricFamily(metric.name, metric.help, labels=metric.labels)


@dataclass(frozen=True)
class _Scrape:
    """What one scrape reads from WorkerStatus, copied under its lock."""

    topics: dict[str, TopicCounts]
    skipped: int
    lag: dict[tuple[str, int], int]
    insert_failures: int
    outage_since: float | None
    outage_seconds: float
    freshness_below: list[int]
    freshness_count: int
    freshness_sum_s: float
    flush_histograms: list[Metric]

    @classmethod
    def of(cls, status: WorkerStatus) -> _Scrape:
        edges_ms = [round(edge * 1000) for edge in FRESHNESS.buckets]
        with status.lock:
            return cls(
                topics={topic: counts.copy() for topic, counts in status.topics.items()},
                skipped=status.skipped_replayed,
                lag=dict(status.lag),
                insert_failures=status.write_failures,
                outage_since=status.outage_since,
                outage_seconds=status.outage_seconds,
                freshness_below=status.freshness.count_below(edges_ms),
                freshness_count=status.freshness.count,
                freshness_sum_s=status.freshness.sum_ms / 1000,
                # Under the same lock as the counters, which the flush updates with them.
                flush_histograms=_without_created(
                    [*status.flush_duration.collect(), *status.flush_rows.collect()]
                ),
            )


class WorkerCollector:
    """Reads a WorkerStatus when scraped (see the module's docstring for why)."""

    def __init__(self, status: WorkerStatus) -> None:
        self.status = status

    def collect(self) -> Iterator[Metric]:
        scrape = _Scrape.of(self.status)
        yield from self._topic_counters(scrape)
        yield from self._lag(scrape)
        yield from scrape.flush_histograms
        yield self._freshness(scrape)
        yield from self._clickhouse(scrape)

    def _topic_counters(self, scrape: _Scrape) -> Iterator[Metric]:
        per_topic: dict[MetricDef, Callable[[TopicCounts], int]] = {
            MESSAGES_CONSUMED: lambda c: c.consumed,
            EVENTS_ACCEPTED: lambda c: c.accepted,
            DUPLICATES: lambda c: c.duplicates,
            LATE_EVENTS: lambda c: c.late,
            COMMITTED: lambda c: c.committed,
        }
        for metric, value in per_topic.items():
            family = _counter(metric)
            for topic, counts in sorted(scrape.topics.items()):
                family.add_metric([topic], value(counts))
            yield family
        dead = _counter(DEAD_LETTERED)
        for topic, counts in sorted(scrape.topics.items()):
            # Every known code from zero, so a first rejection shows as an increase.
            for reason in sorted({*REJECTION_CODES, *counts.dead_lettered}):
                dead.add_metric([topic, reason], counts.dead_lettered[reason])
        yield dead
        skipped = _counter(REPLAY_SKIPPED)
        skipped.add_metric([], scrape.skipped)
        yield skipped

    def _lag(self, scrape: _Scrape) -> Iterator[Metric]:
        family = _gauge(CONSUMER_LAG)
        for (topic, partition), lag in sorted(scrape.lag.items()):
            family.add_metric([topic, str(partition)], lag)
        yield family

    def _freshness(self, scrape: _Scrape) -> Metric:
        buckets = [
            (str(float(edge)), float(count))
            for edge, count in zip(FRESHNESS.buckets, scrape.freshness_below, strict=True)
        ]
        buckets.append(("+Inf", float(scrape.freshness_count)))
        return HistogramMetricFamily(
            FRESHNESS.name, FRESHNESS.help, buckets=buckets, sum_value=scrape.freshness_sum_s
        )

    def _clickhouse(self, scrape: _Scrape) -> Iterator[Metric]:
        failures = _counter(INSERT_FAILURES)
        failures.add_metric([], scrape.insert_failures)
        outage = _gauge(OUTAGE)
        outage.add_metric([], 0 if scrape.outage_since is None else 1)
        since = scrape.outage_since
        ongoing = 0.0 if since is None else time.monotonic() - since  # the clock of `lasted`
        seconds = _counter(OUTAGE_SECONDS)
        seconds.add_metric([], scrape.outage_seconds + max(0.0, ongoing))
        yield from (failures, outage, seconds)


def worker_registry(status: WorkerStatus) -> CollectorRegistry:
    """A worker's own registry: its WorkerStatus and its process (RSS, CPU, fds)."""
    registry = CollectorRegistry()
    registry.register(WorkerCollector(status))
    ProcessCollector(registry=registry)
    return registry
