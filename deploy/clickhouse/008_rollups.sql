-- Active customers per window, and hourly and daily rollups of the windowed aggregates.
--
-- Customers: workers now insert their window rows into event_aggregates_input (engine Null:
-- it stores nothing) with the window key's distinct customer ids; its materialized view
-- folds them into a uniq state and writes event_aggregates. States merge, so
-- uniqMerge(customers) over any set of rows is the distinct customers of their union.
--
-- Exactness: every target keeps a deduplication window. A re-sent insert (same
-- insert_deduplication_token) is dropped from event_aggregates and, through ClickHouse's
-- deduplication of blocks in dependent views, from the hourly and daily tables too.
--
-- Apply with workers stopped: existing rows are copied into the rollups before their views
-- start, and an insert between the two would be missed or counted twice.

ALTER TABLE {db}.event_aggregates
    ADD COLUMN IF NOT EXISTS customers AggregateFunction(uniq, String)
    COMMENT 'distinct customer_id: read with uniqMerge';

-- Rows written before this migration have no customer state; derive it from the raw
-- on-time events of the same windows. The other columns are neutral for their merge
-- functions (0 for sums and max, the largest UInt64 for min).
INSERT INTO {db}.event_aggregates
    (window_start, window_seconds, event_type, region, province_code, area, channel, events,
     successes, failures, amount_vnd, success_amount_vnd, min_amount_vnd, max_amount_vnd,
     customers)
SELECT toDateTime(intDiv(toUnixTimestamp(event_time), greatest(w.seconds, 1)) * w.seconds) AS window_start,
       w.seconds, event_type, region, province_code, area, channel, 0, 0, 0, 0, 0,
       18446744073709551615, 0, uniqState(customer_id)
FROM {db}.events
CROSS JOIN (SELECT toUInt32(max(window_seconds)) AS seconds FROM {db}.event_aggregates) AS w
WHERE is_late = 0 AND w.seconds > 0
GROUP BY window_start, w.seconds, event_type, region, province_code, area, channel;

CREATE TABLE IF NOT EXISTS {db}.event_aggregates_input
(
    window_start       DateTime('Asia/Ho_Chi_Minh'),
    window_seconds     UInt32,
    event_type         LowCardinality(String),
    region             LowCardinality(String),
    province_code      LowCardinality(String),
    area               LowCardinality(String),
    channel            LowCardinality(String),
    events             UInt64,
    successes          UInt64,
    failures           UInt64,
    amount_vnd         UInt64,
    success_amount_vnd UInt64,
    min_amount_vnd     UInt64,
    max_amount_vnd     UInt64,
    customer_ids       Array(String)
)
ENGINE = Null;

CREATE TABLE IF NOT EXISTS {db}.event_aggregates_hourly
(
    hour               DateTime('Asia/Ho_Chi_Minh'),
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
    max_amount_vnd     SimpleAggregateFunction(max, UInt64),
    customers          AggregateFunction(uniq, String)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (event_type, region, province_code, area, channel, hour)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS {db}.event_aggregates_daily
(
    day                Date COMMENT 'Vietnam calendar day (Asia/Ho_Chi_Minh)',
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
    max_amount_vnd     SimpleAggregateFunction(max, UInt64),
    customers          AggregateFunction(uniq, String)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (event_type, region, province_code, area, channel, day)
SETTINGS non_replicated_deduplication_window = 10000;

INSERT INTO {db}.event_aggregates_hourly
SELECT toStartOfHour(window_start) AS hour, event_type, region, province_code, area, channel,
       sum(events), sum(successes), sum(failures), sum(amount_vnd), sum(success_amount_vnd),
       min(min_amount_vnd), max(max_amount_vnd), uniqMergeState(customers)
FROM {db}.event_aggregates
GROUP BY hour, event_type, region, province_code, area, channel;

INSERT INTO {db}.event_aggregates_daily
SELECT toDate(window_start) AS day, event_type, region, province_code, area, channel,
       sum(events), sum(successes), sum(failures), sum(amount_vnd), sum(success_amount_vnd),
       min(min_amount_vnd), max(max_amount_vnd), uniqMergeState(customers)
FROM {db}.event_aggregates
GROUP BY day, event_type, region, province_code, area, channel;

-- Windows divide an hour (DXPULSE_STREAM__WINDOW_SECONDS must), so each window lies in one
-- hour and one day.
CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.event_aggregates_hourly_mv
TO {db}.event_aggregates_hourly AS
SELECT toStartOfHour(window_start) AS hour, event_type, region, province_code, area, channel,
       sum(events) AS events, sum(successes) AS successes, sum(failures) AS failures,
       sum(amount_vnd) AS amount_vnd, sum(success_amount_vnd) AS success_amount_vnd,
       min(min_amount_vnd) AS min_amount_vnd, max(max_amount_vnd) AS max_amount_vnd,
       uniqMergeState(customers) AS customers
FROM {db}.event_aggregates
GROUP BY hour, event_type, region, province_code, area, channel;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.event_aggregates_daily_mv
TO {db}.event_aggregates_daily AS
SELECT toDate(window_start) AS day, event_type, region, province_code, area, channel,
       sum(events) AS events, sum(successes) AS successes, sum(failures) AS failures,
       sum(amount_vnd) AS amount_vnd, sum(success_amount_vnd) AS success_amount_vnd,
       min(min_amount_vnd) AS min_amount_vnd, max(max_amount_vnd) AS max_amount_vnd,
       uniqMergeState(customers) AS customers
FROM {db}.event_aggregates
GROUP BY day, event_type, region, province_code, area, channel;

-- Created last: from here on the workers' inserts reach event_aggregates and the rollups.
CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.event_aggregates_input_mv
TO {db}.event_aggregates AS
SELECT window_start, window_seconds, event_type, region, province_code, area, channel, events,
       successes, failures, amount_vnd, success_amount_vnd, min_amount_vnd, max_amount_vnd,
       arrayReduce('uniqState', customer_ids) AS customers
FROM {db}.event_aggregates_input;
