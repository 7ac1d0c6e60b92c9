-- E-commerce orders per platform: how many, how many paid cash on delivery, their value.
SELECT
    platform,
    count() AS orders,
    countIf(payment_method = 'cod') AS cod_orders,
    sum(amount_vnd) AS total_vnd
FROM {db}.events
WHERE event_type = 'ecommerce_order'
GROUP BY platform
