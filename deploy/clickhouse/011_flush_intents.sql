-- Flushes written together (docs/reliability.md, "Mechanism"): a flush inserts all its
-- batches at once, one block per table under the flush's token, so every intent names its
-- flush and how many batches it held. Whoever finds a flush incomplete re-forms all of its
-- batches from these rows, including partitions it does not own, so the blocks match.
-- Rows from before this migration are flushes of one batch under the batch's own token.
ALTER TABLE {db}.sink_intents
    ADD COLUMN IF NOT EXISTS flush_token String DEFAULT '' AFTER token;
ALTER TABLE {db}.sink_intents
    ADD COLUMN IF NOT EXISTS flush_batches UInt16 DEFAULT 1 AFTER flush_token;
