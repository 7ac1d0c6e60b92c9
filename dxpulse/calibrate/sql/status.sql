-- All events, and how many failed.
SELECT count() AS events, countIf(status = 'failed') AS failed
FROM {db}.events
