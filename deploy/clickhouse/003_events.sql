-- Every validated event, for drill-down. Times are stored as Unix time (UTC) and rendered in
-- Asia/Ho_Chi_Minh. Each insert is one topic-partition offset range with a deterministic
-- insert_deduplication_token, so a re-sent range is dropped instead of counted twice.
CREATE TABLE IF NOT EXISTS {db}.events
(
    event_id          UUID,
    event_type        LowCardinality(String),
    schema_version    UInt8,
    event_time        DateTime64(3, 'Asia/Ho_Chi_Minh'),
    province_code     LowCardinality(String),
    region            LowCardinality(String),
    area              LowCardinality(String),
    channel           LowCardinality(String),
    amount_vnd        UInt64 COMMENT 'whole VND',
    status            LowCardinality(String),
    customer_id       String COMMENT 'pseudonymous',
    method            LowCardinality(String) COMMENT 'online_payment',
    provider          LowCardinality(String) COMMENT 'online_payment, mobile_money',
    merchant_category LowCardinality(String) COMMENT 'online_payment',
    platform          LowCardinality(String) COMMENT 'ecommerce_order',
    product_category  LowCardinality(String) COMMENT 'ecommerce_order',
    payment_method    LowCardinality(String) COMMENT 'ecommerce_order',
    order_status      LowCardinality(String) COMMENT 'ecommerce_order',
    kind              LowCardinality(String) COMMENT 'mobile_money',
    agent_id          String COMMENT 'mobile_money cash-in/cash-out',
    kafka_partition   UInt16,
    kafka_offset      UInt64,
    ingested_at       DateTime64(3, 'Asia/Ho_Chi_Minh')
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (event_type, region, province_code, event_time)
SETTINGS non_replicated_deduplication_window = 10000;
