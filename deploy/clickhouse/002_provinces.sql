-- Province dimension: the 63 GSO provinces, loaded from schemas/reference/provinces.csv by
-- `dxpulse migrate` (truncated and reloaded each time, so edits to the CSV land).
CREATE TABLE IF NOT EXISTS {db}.provinces
(
    code            LowCardinality(String) COMMENT 'GSO two-digit code',
    name_vi         String COMMENT 'Vietnamese name with diacritics',
    name_ascii      String,
    region          LowCardinality(String) COMMENT 'one of the 6 GSO socio-economic regions',
    population      UInt32 COMMENT 'persons, 2023 average',
    urban_share     Float32 COMMENT '0..1, 2023',
    lat             Float64 COMMENT 'approximate centroid',
    lon             Float64,
    unit_2025_code  LowCardinality(String) COMMENT 'provincial unit after the 1 July 2025 merger',
    unit_2025_name  String
)
ENGINE = MergeTree
ORDER BY code;
