-- Events per province code: all of them, and those of the types whose customers are drawn
-- by population (Mobile Money's are drawn by rural or urban population instead).
SELECT
    province_code,
    count() AS events,
    countIf(event_type IN ('online_payment', 'ecommerce_order')) AS population_weighted
FROM {db}.events
GROUP BY province_code
