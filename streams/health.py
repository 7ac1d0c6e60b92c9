"""Pipeline-health rows: what each flush wrote, per topic-partition batch, for dashboards.

The workers write them to ``pipeline_flushes`` themselves (deploy/clickhouse/006), one insert
per flush, so watching the pipeline needs no metrics server. Pure functions: the ingest loop
gathers the inputs (high watermarks, timings) and the sink does the insert.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

from dxpulse.streams.batch import PartitionBatch

TP = tuple[str, int]
HEALTH_COLUMNS = (
    "flushed_at",
    "worker",
    "group_id",
    "topic",
    "event_type",
    "partition",
    "first_offset",
    "last_offset",
    "messages",
    "events",
    "dead_lettered",
    "duplicates",
    "late",
    "max_event_time",
    "consumer_lag",
    "flush_ms",
    "token",
)


def consumer_lag(high_watermark: int | None, next_offset: int) -> int:
    """Messages in the log past ``next_offset``; 0 when the high watermark is unknown.

    Clamped at 0: Tansu reports end offsets slightly short, so the raw difference can be
    negative for a partition that is caught up.
    """
    if high_watermark is None or high_watermark < 0:
        return 0
    return max(0, high_watermark - next_offset)


def next_offsets(batches: Sequence[PartitionBatch]) -> dict[TP, int]:
    """Per topic-partition, the offset after the last one in these batches (what is committed)."""
    found: dict[TP, int] = {}
    for b in batches:
        tp = (b.topic, b.partition)
        found[tp] = max(found.get(tp, 0), b.last_offset + 1)
    return found


def health_token(batches: Sequence[PartitionBatch]) -> str:
    """The flush's insert token: a function of its batches' tokens, so a retried flush of the
    same batches is deduplicated by ClickHouse instead of reported twice."""
    digest = hashlib.sha256("\n".join(sorted(b.token for b in batches)).encode()).hexdigest()
    return f"health:{digest[:32]}"


def health_rows(
    batches: Sequence[PartitionBatch],
    high_watermarks: Mapping[TP, int | None],
    *,
    worker: str,
    group_id: str,
    topic_types: Mapping[str, str],
    flush_ms: float,
    flushed_ms: int,
) -> list[list[object]]:
    """One row per batch, in HEALTH_COLUMNS order; times as epoch milliseconds (UTC).

    A flush normally holds one batch per partition. After a replay or a ClickHouse outage it
    can hold two consecutive batches of one partition: each gets its own row, and both carry
    the partition's lag after the flush.
    """
    lags = {
        tp: consumer_lag(high_watermarks.get(tp), nxt) for tp, nxt in next_offsets(batches).items()
    }
    return [
        [
            flushed_ms,
            worker,
            group_id,
            b.topic,
            topic_types.get(b.topic, ""),
            b.partition,
            b.first_offset,
            b.last_offset,
            b.messages,
            len(b.events),
            len(b.dead_letters),
            b.duplicates,
            b.late_count,
            b.max_event_ms,
            lags[(b.topic, b.partition)],
            flush_ms,
            b.token,
        ]
        for b in batches
    ]
