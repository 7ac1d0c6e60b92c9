-- Online payments: how many, their median and mean ticket, how many by QR or e-wallet, and
-- the rural and urban tickets.
-- The ticket shrinks by {ticket_trend} a year (producers/calibration.py, anchored at the run's
-- start), so over a long backfill the raw median is the history's, not today's: each ticket is
-- brought to the table's newest event time ("now") by the trend before the median and mean.
-- Rural and urban payments share one spread over time, so their ratio needs no correction.
WITH (SELECT max(event_time) FROM {db}.events WHERE event_type = 'online_payment') AS newest
SELECT
    count() AS payments,
    quantileExact(0.5)(today_vnd) AS median_vnd,
    sum(today_vnd) AS total_vnd,
    countIf(method IN ('vietqr', 'ewallet')) AS qr_ewallet,
    countIf(area = 'rural') AS rural_payments,
    sumIf(amount_vnd, area = 'rural') AS rural_vnd,
    countIf(area = 'urban') AS urban_payments,
    sumIf(amount_vnd, area = 'urban') AS urban_vnd
FROM
(
    SELECT
        method,
        area,
        amount_vnd,
        amount_vnd * pow({ticket_trend}, (toUnixTimestamp64Milli(newest) - toUnixTimestamp64Milli(event_time)) / {year_ms})
            AS today_vnd
    FROM {db}.events
    WHERE event_type = 'online_payment'
)
