-- Pipeline health, written by the workers themselves (no metrics server): one row per
-- flushed batch, i.e. per flush and topic-partition. At-least-once: a batch replayed
-- after a crash may be reported twice (docs/reliability.md). The exact numbers are in
-- events / event_aggregates; this table is for watching the pipeline.
CREATE TABLE IF NOT EXISTS {db}.pipeline_flushes
(
    flushed_at      DateTime64(3, 'Asia/Ho_Chi_Minh') COMMENT 'when the batch became queryable',
    worker          LowCardinality(String) COMMENT 'host:pid',
    group_id        LowCardinality(String),
    topic           LowCardinality(String),
    event_type      LowCardinality(String),
    partition       UInt16,
    first_offset    UInt64,
    last_offset     UInt64,
    messages        UInt32 COMMENT 'consumed in the batch: accepted + dead-lettered + duplicates',
    events          UInt32 COMMENT 'accepted and written',
    dead_lettered   UInt32,
    duplicates      UInt32,
    late            UInt32,
    max_event_time  DateTime64(3, 'Asia/Ho_Chi_Minh') COMMENT 'newest event time in the batch (0 if none)',
    consumer_lag    UInt64 COMMENT 'high watermark minus next offset, at flush time',
    flush_ms        Float32 COMMENT 'duration of the whole flush this batch was part of',
    token           String COMMENT 'the batch insert token'
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(flushed_at)
ORDER BY (topic, partition, flushed_at)
TTL toDateTime(flushed_at) + INTERVAL 30 DAY
SETTINGS non_replicated_deduplication_window = 1000;
