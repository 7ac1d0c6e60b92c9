-- Headline: Hà Nội's and TP. Hồ Chí Minh's share of e-commerce order value. {cities} is the
-- two GSO province codes (report/headline.py: TWO_CITIES), quoted; all orders count, as in
-- the e-commerce dashboard's GMV.
-- (No alias equals a column: sumIf(gmv_vnd) would read the alias.)
SELECT sumIf(gmv_vnd, province_code IN ({cities})) AS cities_gmv_vnd,
       sum(gmv_vnd) AS total_gmv_vnd
FROM ecommerce_minute
WHERE minute >= toDateTime({start})
  AND minute < toDateTime({end})
