"""Generator -> producer -> Tansu -> ingest loop -> chDB, checked for exact numbers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from clickhouse_connect.driver.client import Client
from confluent_kafka import Consumer, TopicPartition

from dxpulse.core.config import Settings
from dxpulse.producers.generator import EventGenerator
from dxpulse.producers.producer import ProduceReport, produce
from dxpulse.summary import exactness_checks
from tests.integration_tests.conftest import RunningIngest


def _pipe(
    settings: Settings, ingest_factory: Callable[[], RunningIngest], seed: int, count: int
) -> tuple[ProduceReport, dict[str, object]]:
    """Produce ``count`` events through a running ingest loop until all are committed."""
    ingest = ingest_factory()
    report = produce(settings, EventGenerator(seed=seed), count=count)
    assert report.delivered == count
    snap = ingest.wait_committed(report.delivered)
    ingest.stop()
    return report, snap


def test_every_event_lands_once_and_aggregates_match_raw(
    settings: Settings,
    ch: Client,
    topics: list[str],
    ingest_factory: Callable[[], RunningIngest],
) -> None:
    report, snap = _pipe(settings, ingest_factory, seed=7, count=30_000)

    assert snap["accepted"] == 30_000 and snap["dead_lettered"] == 0
    db = settings.clickhouse.database
    checks = exactness_checks(ch, db, produced=report.delivered)
    assert [(c.name, c.expected, c.actual) for c in checks if not c.ok] == []
    by_type = dict(ch.query(f"SELECT event_type, count() FROM {db}.events GROUP BY 1").result_rows)
    assert by_type == dict(report.by_type)
    # Windows are whole minutes and every row carries the province's region.
    bad = ch.query(
        f"""SELECT countIf(toSecond(window_start) != 0 OR window_seconds != 60),
                   countIf(a.region != p.region)
            FROM {db}.event_aggregates AS a JOIN {db}.provinces AS p ON a.province_code = p.code"""
    ).result_rows[0]
    assert bad == (0, 0)


def test_offsets_committed_cover_exactly_what_was_written(
    settings: Settings,
    ch: Client,
    topics: list[str],
    ingest_factory: Callable[[], RunningIngest],
) -> None:
    _pipe(settings, ingest_factory, seed=3, count=5_000)

    db = settings.clickhouse.database
    rows = ch.query(
        f"SELECT event_type, kafka_partition, max(kafka_offset) + 1, count() "
        f"FROM {db}.events GROUP BY 1, 2"
    ).result_rows
    consumer = Consumer({**settings.kafka.client_config(), "group.id": settings.kafka.group_id})
    try:
        wanted = [TopicPartition(settings.kafka.topic(t), p) for t, p, _, _ in rows]
        committed = {(tp.topic, tp.partition): tp.offset for tp in consumer.committed(wanted, 10)}
    finally:
        consumer.close()
    for event_type, partition, next_offset, count in rows:
        assert committed[(settings.kafka.topic(event_type), partition)] == next_offset == count


def test_one_province_stays_on_one_partition_in_order(
    settings: Settings,
    ch: Client,
    topics: list[str],
    ingest_factory: Callable[[], RunningIngest],
) -> None:
    _pipe(settings, ingest_factory, seed=5, count=4_000)
    db = settings.clickhouse.database
    spread = ch.query(
        f"SELECT event_type, province_code, uniqExact(kafka_partition) FROM {db}.events "
        f"GROUP BY 1, 2 HAVING uniqExact(kafka_partition) > 1"
    ).result_rows
    assert spread == []
    per_partition = Counter(
        p for (p,) in ch.query(f"SELECT kafka_partition FROM {db}.events").result_rows
    )
    assert len(per_partition) == settings.kafka.partitions
