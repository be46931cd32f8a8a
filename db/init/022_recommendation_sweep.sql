-- The recommender's sweeper looks for recommendations (and more-picks batches) left unfinished past a
-- deadline: their job may have been lost (a Redis crash loses up to a second of writes) or never queued.
-- A partial index keeps that look-up to the few unfinished rows.
CREATE INDEX IF NOT EXISTS recommendations_unfinished_idx ON recommendations (updated_at)
    WHERE status IN ('pending', 'processing') OR more_picks_status IN ('pending', 'processing');
