-- Exactly-once bookkeeping and the tables that make nothing silently dropped.

-- One row per flushed batch: the offset range a worker is about to write for a topic
-- partition, written BEFORE the batch's inserts. A restarted worker re-forms exactly the
-- latest range (same content, same insert tokens) and skips what precedes it. The topic
-- id tells a recreated topic (or a fresh broker) from the one the row was written for.
CREATE TABLE IF NOT EXISTS {db}.sink_batches
(
    group_id        LowCardinality(String),
    topic           LowCardinality(String),
    topic_id        String,
    partition       UInt16,
    first_offset    UInt64,
    last_offset     UInt64,
    watermark_start Int64 COMMENT 'max event time (epoch ms) seen before the batch',
    watermark_end   Int64 COMMENT 'max event time (epoch ms) after the batch',
    token           String,
    written_at      DateTime64(6, 'UTC') DEFAULT now64(6)
)
ENGINE = ReplacingMergeTree(written_at)
ORDER BY (group_id, topic, topic_id, partition);

-- Events later than the allowed lateness: kept out of the (closed) windows' aggregates,
-- counted here per window and event type so ops can see them.
CREATE TABLE IF NOT EXISTS {db}.late_events
(
    window_start   DateTime('Asia/Ho_Chi_Minh'),
    window_seconds UInt32,
    event_type     LowCardinality(String),
    events         SimpleAggregateFunction(sum, UInt64),
    amount_vnd     SimpleAggregateFunction(sum, UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(window_start)
ORDER BY (window_seconds, event_type, window_start)
SETTINGS non_replicated_deduplication_window = 10000;

-- Every rejected message, exactly once, with its reason (the dead-letter topic has the bytes).
CREATE TABLE IF NOT EXISTS {db}.dead_letters
(
    source_topic     LowCardinality(String),
    source_partition UInt16,
    source_offset    UInt64,
    code             LowCardinality(String),
    reason           String,
    value_prefix     String COMMENT 'first 1 KiB of the message, for a quick look',
    ingested_at      DateTime64(3, 'Asia/Ho_Chi_Minh')
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(ingested_at)
ORDER BY (source_topic, source_partition, source_offset)
SETTINGS non_replicated_deduplication_window = 10000;

-- Late events stay in the raw table for drill-down, flagged.
ALTER TABLE {db}.events ADD COLUMN IF NOT EXISTS is_late UInt8 DEFAULT 0 AFTER kafka_offset;
