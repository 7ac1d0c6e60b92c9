-- Online payments and e-commerce orders per Vietnam local day (event_time is stored in
-- Asia/Ho_Chi_Minh): the year-on-year growth of their count and value is fitted on these.
SELECT
    toDate(event_time) AS day,
    event_type,
    count() AS events,
    sum(amount_vnd) AS total_vnd
FROM {db}.events
WHERE event_type IN ('online_payment', 'ecommerce_order')
GROUP BY day, event_type
ORDER BY day
