-- Events and their value per province code and event type: the geography figures (regions,
-- the two cities' shares, value per head against the e-business index) are arithmetic on it.
SELECT
    province_code,
    event_type,
    count() AS events,
    sum(amount_vnd) AS total_vnd
FROM {db}.events
GROUP BY province_code, event_type
