-- Mobile Money customers, each counted once with the area of their events (a customer's
-- area is fixed), and how many of them are rural.
SELECT
    countIf(area = 'rural') AS rural_customers,
    count() AS customers
FROM
(
    SELECT customer_id, any(area) AS area
    FROM {db}.events
    WHERE event_type = 'mobile_money'
    GROUP BY customer_id
)
