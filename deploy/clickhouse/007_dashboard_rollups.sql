-- Per-minute rollups the e-commerce and Mobile Money dashboards read, kept by materialized
-- views on `events`, so a panel over the last hour reads minutes, not raw events, however
-- many days the database holds.
--
-- Exactness: a re-sent events block (same insert_deduplication_token) must not reach the
-- rollups twice. The target tables keep a deduplication window, so the view's derived
-- block is dropped too (ClickHouse deduplicates blocks in dependent views; older servers skip
-- the view when the source block is dropped). Late events are included: these tables
-- count every order and transaction by the minute it happened.
--
-- Apply with workers stopped: existing events are copied in before the views start, and
-- an insert between the two would be missed or counted twice.

CREATE TABLE IF NOT EXISTS {db}.ecommerce_minute
(
    minute           DateTime('Asia/Ho_Chi_Minh'),
    region           LowCardinality(String),
    province_code    LowCardinality(String),
    area             LowCardinality(String),
    platform         LowCardinality(String),
    product_category LowCardinality(String),
    payment_method   LowCardinality(String),
    order_status     LowCardinality(String),
    orders           SimpleAggregateFunction(sum, UInt64),
    gmv_vnd          SimpleAggregateFunction(sum, UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (toStartOfHour(minute), region, province_code, area, platform, product_category,
          payment_method, order_status, minute)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS {db}.mobile_money_minute
(
    minute        DateTime('Asia/Ho_Chi_Minh'),
    region        LowCardinality(String),
    province_code LowCardinality(String),
    area          LowCardinality(String),
    provider      LowCardinality(String),
    kind          LowCardinality(String),
    transactions  SimpleAggregateFunction(sum, UInt64),
    successes     SimpleAggregateFunction(sum, UInt64),
    amount_vnd    SimpleAggregateFunction(sum, UInt64),
    customers     AggregateFunction(uniq, String),
    agents        AggregateFunction(uniq, String) COMMENT 'cash-in/cash-out agents'
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (toStartOfHour(minute), region, province_code, area, provider, kind, minute)
SETTINGS non_replicated_deduplication_window = 10000;

INSERT INTO {db}.ecommerce_minute
SELECT toStartOfMinute(event_time) AS minute, region, province_code, area, platform,
       product_category, payment_method, order_status, count() AS orders,
       sum(amount_vnd) AS gmv_vnd
FROM {db}.events
WHERE event_type = 'ecommerce_order'
GROUP BY minute, region, province_code, area, platform, product_category, payment_method,
         order_status;

INSERT INTO {db}.mobile_money_minute
SELECT toStartOfMinute(event_time) AS minute, region, province_code, area, provider, kind,
       count() AS transactions, countIf(status = 'success') AS successes,
       sum(amount_vnd) AS amount_vnd, uniqState(customer_id) AS customers,
       uniqStateIf(agent_id, agent_id != '') AS agents
FROM {db}.events
WHERE event_type = 'mobile_money'
GROUP BY minute, region, province_code, area, provider, kind;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.ecommerce_minute_mv TO {db}.ecommerce_minute AS
SELECT toStartOfMinute(event_time) AS minute, region, province_code, area, platform,
       product_category, payment_method, order_status, count() AS orders,
       sum(amount_vnd) AS gmv_vnd
FROM {db}.events
WHERE event_type = 'ecommerce_order'
GROUP BY minute, region, province_code, area, platform, product_category, payment_method,
         order_status;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.mobile_money_minute_mv TO {db}.mobile_money_minute AS
SELECT toStartOfMinute(event_time) AS minute, region, province_code, area, provider, kind,
       count() AS transactions, countIf(status = 'success') AS successes,
       sum(amount_vnd) AS amount_vnd, uniqState(customer_id) AS customers,
       uniqStateIf(agent_id, agent_id != '') AS agents
FROM {db}.events
WHERE event_type = 'mobile_money'
GROUP BY minute, region, province_code, area, provider, kind;
