-- The workers' resume record, second version (docs/reliability.md, "Invariants").
--
-- sink_batches kept one row per partition by the time it was written: two intents of one
-- partition in one insert collapsed into one, and a clock step could make an older intent
-- look newer. sink_intents keeps the one with the highest first offset (offsets only grow
-- within a topic id), and records the dedup index's front before and after each batch, so
-- a restarted worker rebuilds the index exactly from the rows already written.
CREATE TABLE IF NOT EXISTS {db}.sink_intents
(
    group_id           LowCardinality(String),
    topic              LowCardinality(String),
    topic_id           String,
    partition          UInt16,
    first_offset       UInt64,
    last_offset        UInt64,
    watermark_start    Int64 COMMENT 'max event time (epoch ms) accepted before the batch',
    watermark_end      Int64 COMMENT 'max event time (epoch ms) after the batch',
    dedup_known        UInt8 COMMENT '0: copied from sink_batches, the dedup fronts are unknown',
    dedup_start_offset Int64 COMMENT 'offset of the oldest remembered event id before the batch, -1 if none',
    dedup_start_key    Int64 COMMENT 'its key: the watermark when it was accepted (epoch ms)',
    dedup_end_offset   Int64 COMMENT 'the same after the batch',
    dedup_end_key      Int64,
    token              String,
    written_at         DateTime64(6, 'UTC') DEFAULT now64(6)
)
ENGINE = ReplacingMergeTree(first_offset)
ORDER BY (group_id, topic, topic_id, partition);

-- The latest record of each partition carries over; a re-run inserts the same rows again,
-- which the engine collapses.
INSERT INTO {db}.sink_intents
    (group_id, topic, topic_id, partition, first_offset, last_offset, watermark_start,
     watermark_end, dedup_known, dedup_start_offset, dedup_start_key, dedup_end_offset,
     dedup_end_key, token, written_at)
SELECT group_id, topic, topic_id, partition, argMax(first_offset, written_at),
       argMax(last_offset, written_at), argMax(watermark_start, written_at),
       argMax(watermark_end, written_at), 0, -1, 0, -1, 0, argMax(token, written_at),
       max(written_at)
FROM {db}.sink_batches
GROUP BY group_id, topic, topic_id, partition;

DROP TABLE IF EXISTS {db}.sink_batches;

-- Each raw row names the topic it came from by id, so the rows a restarted worker reads
-- back are its own topic's, not those of an earlier topic of the same name whose offsets
-- started again at 0. Rows from before this migration have ''.
ALTER TABLE {db}.events
    ADD COLUMN IF NOT EXISTS kafka_topic_id LowCardinality(String) DEFAULT '' AFTER ingested_at;

-- Reading back an offset range of one partition skips the granules outside it.
ALTER TABLE {db}.events ADD INDEX IF NOT EXISTS kafka_offset_range kafka_offset TYPE minmax GRANULARITY 1;
