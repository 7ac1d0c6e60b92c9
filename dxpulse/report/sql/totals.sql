-- Headline: every event and its value in the report's range, from the windowed aggregates
-- (the table the report's range itself comes from, so the totals cover exactly that range).
-- {window_seconds}: the worker's window; {start}/{end}: Unix seconds, end excluded.
SELECT sum(events) AS events,
       sum(amount_vnd) AS value_vnd
FROM event_aggregates
WHERE window_seconds = {window_seconds}
  AND window_start >= toDateTime({start})
  AND window_start < toDateTime({end})
