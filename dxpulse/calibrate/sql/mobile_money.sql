-- Mobile Money customers, each counted once with the area of their events (a customer's
-- area is fixed), and how many of them are rural; and their transactions and value.
SELECT
    countIf(area = 'rural') AS rural_customers,
    count() AS customers,
    sum(transactions) AS transactions,
    sum(total_vnd) AS total_vnd
FROM
(
    SELECT customer_id, any(area) AS area, count() AS transactions, sum(amount_vnd) AS total_vnd
    FROM {db}.events
    WHERE event_type = 'mobile_money'
    GROUP BY customer_id
)
