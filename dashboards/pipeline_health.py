"""5. Pipeline health: is data arriving, clean, on time and written promptly?

Reads `pipeline_flushes`, the row per flush and partition that the workers write (see
docs/data-model.md), and `dead_letters`: no metrics server is needed.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard

from dxpulse.dashboards.labels import label_expr, label_sql
from dxpulse.dashboards.panels import (
    BuildContext,
    event_type_variable,
    fields,
    filters,
    new_dashboard,
    series_sql,
    sql,
    stat_panel,
    table_panel,
    time_series,
)

UID = "dxpulse-pipeline-health"
WHERE = sql(
    """
    $__timeFilter(flushed_at)
  AND {filters}""",
    filters=filters("event_type"),
)


def _series(value: str, label: str = label_sql("event_type")) -> str:
    """A time series of ``value`` per ``label``, from pipeline_flushes."""
    return series_sql("pipeline_flushes", "flushed_at", label, value, WHERE)


def build(ctx: BuildContext) -> dashboard.Dashboard:
    # Freshness = now minus the newest event time written: what a dashboard can be behind by.
    # No flush with events in the range: no row, so the stat says "No data" (max() of no
    # rows is 1970-01-01, which would read as a freshness of ~56 years).
    freshness = sql(
        """
        SELECT dateDiff('millisecond', max(max_event_time), now64(3)) / 1000 AS freshness_s,
               sum(messages) / nullIf(dateDiff('second', min(flushed_at), max(flushed_at)), 0)
                   AS messages_per_s,
               sum(dead_lettered) / nullIf(sum(messages), 0) AS dead_letter_rate,
               max(consumer_lag) AS max_lag
        FROM pipeline_flushes
        WHERE {where}
        AND events > 0
        HAVING count() > 0""",
        where=WHERE,
    )
    # Every row of a flush repeats its flush_ms: one value per flush first, then quantiles.
    flush_latency = sql(
        """
        SELECT time, worker, quantile(0.5)(flush_ms) AS p50_ms, max(flush_ms) AS max_ms
        FROM (
            SELECT $__timeInterval(flushed_at) AS time, worker, flushed_at,
                   any(flush_ms) AS flush_ms
            FROM pipeline_flushes
            WHERE {where}
            GROUP BY time, worker, flushed_at
        )
        GROUP BY time, worker
        ORDER BY time""",
        where=WHERE,
    )
    dead_letters = """
        SELECT code, count() AS messages, any(reason) AS example_reason,
               max(ingested_at) AS last_seen
        FROM dead_letters
        WHERE $__timeFilter(ingested_at)
        GROUP BY code
        ORDER BY messages DESC"""
    workers = sql(
        """
        SELECT worker, max(flushed_at) AS last_flush, sum(messages) AS messages,
               uniqExact(topic, partition) AS partitions, max(flush_ms) AS max_flush_ms
        FROM pipeline_flushes
        WHERE {where}
        GROUP BY worker
        ORDER BY worker""",
        where=WHERE,
    )
    return (
        new_dashboard(
            UID,
            "dxpulse · Pipeline health",
            "Ingest rate, dead letters, late events, freshness, lag and flushes of the workers.",
        )
        .with_variable(event_type_variable())
        .with_panel(
            fields(
                stat_panel(
                    ctx, "Freshness, rate, dead letters, lag",
                    "Is the pipeline keeping up right now?", freshness, "short", width=24,
                ),
                {
                    "freshness_s": "Freshness",
                    "messages_per_s": "Messages per second",
                    "dead_letter_rate": "Dead-letter rate",
                    "max_lag": "Largest consumer lag",
                },
                units={"freshness_s": "s", "dead_letter_rate": "percentunit"},
            )
        )
        .with_panel(
            time_series(
                ctx, "Ingest rate", "How many messages per second do the workers take in?",
                _series("sum(messages) / $__interval_s AS messages_per_s"), "ops",
                min_interval=None,
            )
        )
        .with_panel(
            time_series(
                ctx, "Dead-letter rate", "What share of messages is rejected?",
                _series("sum(dead_lettered) / nullIf(sum(messages), 0) AS dead_letter_rate"),
                "percentunit", min_interval=None,
            ).min(0).max(1)
        )
        .with_panel(
            time_series(
                ctx, "Late events", "How many events arrive after their window closed?",
                _series("sum(late) AS late_events"), "short", min_interval=None,
            )
        )
        .with_panel(
            time_series(
                ctx, "Event time to visible",
                "How old is the newest event of a flush when it becomes queryable?",
                _series(
                    # A batch of only dead letters or duplicates has no event time (0).
                    "maxIf(dateDiff('millisecond', max_event_time, flushed_at), events > 0) / 1000"
                    " AS delay_s"
                ),
                "s", min_interval=None,
            )
        )
        .with_panel(
            time_series(
                ctx, "Consumer lag per partition", "Which partitions are falling behind?",
                _series(
                    "max(consumer_lag) AS lag",
                    f"concat({label_expr('event_type')}, ' [', toString(partition), ']')"
                    " AS partition_label",
                ),
                "short", min_interval=None,
            )
        )
        .with_panel(
            time_series(
                ctx, "Flush latency", "How long does writing a flush to ClickHouse take?",
                flush_latency,
                "ms", min_interval=None,
            )
        )
        .with_panel(
            time_series(
                ctx, "Batch size", "How many messages does a flush carry per partition?",
                _series("avg(messages) AS avg_messages, max(messages) AS max_messages", "worker"),
                "short", min_interval=None,
            )
        )
        .with_panel(
            fields(
                table_panel(
                    ctx, "Dead letters by reason", "Why are messages rejected?", dead_letters,
                ),
                {
                    "code": "Reason code",
                    "messages": "Messages",
                    "example_reason": "Example",
                    "last_seen": "Last seen",
                },
            )
        )
        .with_panel(
            fields(
                table_panel(
                    ctx, "Workers", "Which workers are alive, and what do they own?", workers,
                    width=24,
                ),
                {
                    "worker": "Worker",
                    "last_flush": "Last flush",
                    "messages": "Messages",
                    "partitions": "Partitions",
                    "max_flush_ms": "Longest flush",
                },
                units={"max_flush_ms": "ms"},
            )
        )
    )

