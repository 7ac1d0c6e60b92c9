-- The rarest event type's events in the report's range. A share panel's sample is at most
-- one type's events (Mobile Money's rural share rests on Mobile Money alone), so the report
-- sizes share buckets by the rarest type: a bucket thin enough to swing 0-100% is avoided.
SELECT event_type, sum(events) AS events
FROM event_aggregates
WHERE window_seconds = {window_seconds}
  AND window_start >= toDateTime({start})
  AND window_start < toDateTime({end})
GROUP BY event_type
ORDER BY events ASC, event_type
LIMIT 1
