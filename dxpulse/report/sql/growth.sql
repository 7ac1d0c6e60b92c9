-- Headline: growth of the last {days} complete Vietnam days up to {last_day} against the
-- {days} before them, in count and in value. Whole days only: a partial day at either end
-- would make the change a measure of the clock, not of the economy. first_day says whether
-- the data reaches back over the whole earlier period (report/headline.py checks it).
SELECT sumIf(events, day > toDate('{last_day}') - {days}) AS events_now,
       sumIf(events, day <= toDate('{last_day}') - {days}) AS events_before,
       sumIf(amount_vnd, day > toDate('{last_day}') - {days}) AS value_now_vnd,
       sumIf(amount_vnd, day <= toDate('{last_day}') - {days}) AS value_before_vnd,
       (SELECT min(day) FROM event_aggregates_daily) AS first_day
FROM event_aggregates_daily
WHERE day > toDate('{last_day}') - 2 * {days}
  AND day <= toDate('{last_day}')
