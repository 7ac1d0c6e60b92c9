-- Online payments: how many, their median and mean ticket, how many by QR or e-wallet.
-- quantileExactWeighted is exact, and keeps one counter per distinct amount rather than
-- every value (quantileExact would): tickets are whole thousands of VND.
SELECT
    count() AS payments,
    quantileExactWeighted(0.5)(amount_vnd, 1) AS median_vnd,
    sum(amount_vnd) AS total_vnd,
    countIf(method IN ('vietqr', 'ewallet')) AS qr_ewallet
FROM {db}.events
WHERE event_type = 'online_payment'
