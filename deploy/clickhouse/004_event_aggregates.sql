-- Event-time tumbling-window aggregates. Many flushes and workers write partial rows for the
-- same key; AggregatingMergeTree with SimpleAggregateFunction columns merges them (sum, min,
-- max). Query with sum()/min()/max() and GROUP BY: unmerged parts may still hold partials.
CREATE TABLE IF NOT EXISTS {db}.event_aggregates
(
    window_start       DateTime('Asia/Ho_Chi_Minh'),
    window_seconds     UInt32,
    event_type         LowCardinality(String),
    region             LowCardinality(String),
    province_code      LowCardinality(String),
    area               LowCardinality(String),
    channel            LowCardinality(String),
    events             SimpleAggregateFunction(sum, UInt64),
    successes          SimpleAggregateFunction(sum, UInt64),
    failures           SimpleAggregateFunction(sum, UInt64),
    amount_vnd         SimpleAggregateFunction(sum, UInt64),
    success_amount_vnd SimpleAggregateFunction(sum, UInt64),
    min_amount_vnd     SimpleAggregateFunction(min, UInt64),
    max_amount_vnd     SimpleAggregateFunction(max, UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(window_start)
-- The hour prefix lets time-range filters skip granules; it is a function of window_start,
-- so it does not change which rows merge.
ORDER BY (window_seconds, toStartOfHour(window_start), event_type, region, province_code, area, channel, window_start)
SETTINGS non_replicated_deduplication_window = 10000;
