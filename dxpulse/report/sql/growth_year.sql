-- Headline: year-on-year growth, used when the data reaches back over a year: the month
-- starting {month} (the latest whole Vietnam month) against the same month a year before,
-- in count and in value. Whole months of whole days: seasons (Tết, 11.11) then cancel out,
-- which a comparison with the previous 30 days cannot do.
SELECT sumIf(events, toStartOfMonth(day) = toDate('{month}')) AS events_now,
       sumIf(events, toStartOfMonth(day) = toDate('{month}') - INTERVAL 1 YEAR) AS events_before,
       sumIf(amount_vnd, toStartOfMonth(day) = toDate('{month}')) AS value_now_vnd,
       sumIf(amount_vnd, toStartOfMonth(day) = toDate('{month}') - INTERVAL 1 YEAR)
           AS value_before_vnd
FROM event_aggregates_daily
WHERE day >= toDate('{month}') - INTERVAL 1 YEAR
  AND day < toDate('{month}') + INTERVAL 1 MONTH
