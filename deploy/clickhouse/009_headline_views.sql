-- Headline views: the questions the source articles ask, answered from the rollups.
-- Plain views (computed at query time): they hold no data and cannot drift from the tables.
-- Days are Vietnam calendar days; ratios are 0..1; money is whole VND.

-- Mobile Money: rural share of active customers and of value, per day (S001: 72% of
-- customers are rural). Customers are counted once per day (uniq states merged).
CREATE VIEW IF NOT EXISTS {db}.mobile_money_rural_daily AS
SELECT day,
       sum(events) AS transactions,
       uniqMerge(customers) AS active_customers,
       uniqMergeIf(customers, area = 'rural') AS rural_customers,
       rural_customers / active_customers AS rural_customer_share,
       sum(amount_vnd) AS value_vnd,
       sumIf(amount_vnd, area = 'rural') AS rural_value_vnd,
       rural_value_vnd / value_vnd AS rural_value_share
FROM {db}.event_aggregates_daily
WHERE event_type = 'mobile_money'
GROUP BY day;

-- E-commerce: cashless (paid online) share of orders and of order value, against cash on
-- delivery, per day. All orders count, cancelled and returned ones included.
CREATE VIEW IF NOT EXISTS {db}.ecommerce_payments_daily AS
SELECT toDate(minute) AS day,
       sum(orders) AS total_orders,
       sumIf(orders, payment_method = 'cod') AS cod_orders,
       total_orders - cod_orders AS cashless_orders,
       cashless_orders / total_orders AS cashless_share,
       sum(gmv_vnd) AS gmv,
       sumIf(gmv_vnd, payment_method != 'cod') AS cashless_gmv,
       cashless_gmv / gmv AS cashless_value_share
FROM {db}.ecommerce_minute
GROUP BY day;

-- Online payments: count, value and average ticket per day (S000: +66% in count, +4% in
-- value a year, so the average ticket shrinks).
CREATE VIEW IF NOT EXISTS {db}.online_payment_ticket_daily AS
SELECT day,
       sum(events) AS payments,
       sum(amount_vnd) AS value_vnd,
       value_vnd / payments AS avg_ticket_vnd,
       sum(successes) AS successful_payments,
       uniqMerge(customers) AS active_customers
FROM {db}.event_aggregates_daily
WHERE event_type = 'online_payment'
GROUP BY day;

-- Per province, day and event type, with the province's dimensions: value and events per
-- capita, region, and the 2025 provincial unit, so figures roll up to 63 provinces,
-- 6 regions or 34 units. Sum values across days; population is per province, not per row.
CREATE VIEW IF NOT EXISTS {db}.province_daily AS
SELECT a.day AS day, a.event_type AS event_type, a.province_code AS province_code,
       p.name_vi AS name_vi, p.name_ascii AS name_ascii, p.region AS region,
       p.unit_2025_code AS unit_2025_code, p.unit_2025_name AS unit_2025_name,
       p.population AS population, p.urban_share AS urban_share,
       sum(a.events) AS events, sum(a.amount_vnd) AS value_vnd,
       value_vnd / p.population AS vnd_per_capita,
       1000 * events / p.population AS events_per_1000
FROM {db}.event_aggregates_daily AS a
INNER JOIN {db}.provinces AS p ON p.code = a.province_code
GROUP BY day, event_type, province_code, name_vi, name_ascii, region, unit_2025_code,
         unit_2025_name, population, urban_share;

-- Top and bottom provinces by value per capita over the last 30 Vietnam days (today
-- included), all event types: rank_top 1 is the highest, rank_bottom 1 the lowest.
CREATE VIEW IF NOT EXISTS {db}.province_ranking_30d AS
SELECT province_code, name_vi, region, unit_2025_name, population, total_events AS events,
       total_vnd AS value_vnd, vnd_per_capita,
       rank() OVER (ORDER BY vnd_per_capita DESC) AS rank_top,
       rank() OVER (ORDER BY vnd_per_capita ASC) AS rank_bottom
FROM (
    SELECT province_code, any(name_vi) AS name_vi, any(region) AS region,
           any(unit_2025_name) AS unit_2025_name, any(population) AS population,
           sum(events) AS total_events, sum(value_vnd) AS total_vnd,
           total_vnd / population AS vnd_per_capita
    FROM {db}.province_daily
    WHERE day > toDate(now(), 'Asia/Ho_Chi_Minh') - 30
    GROUP BY province_code
);

-- The 34 provincial units in force since 1 July 2025, with the provinces each absorbed.
CREATE VIEW IF NOT EXISTS {db}.provinces_2025 AS
SELECT unit_2025_code, any(unit_2025_name) AS unit_2025_name, count() AS provinces,
       groupArray(name_vi) AS merged_from, sum(p.population) AS population,
       sum(p.population * p.urban_share) / population AS urban_share
FROM {db}.provinces AS p
GROUP BY unit_2025_code;
