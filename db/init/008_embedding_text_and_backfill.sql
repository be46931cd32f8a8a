-- What each embedding was computed from (a SHA-256 of the text), so a change of a film's text
-- (a runtime or genres filled in by TMDB) is noticed and the film re-embedded.
ALTER TABLE movies ADD COLUMN IF NOT EXISTS embedding_text_hash text;

-- When the backfill last looked at a row and, if it left it unchanged, why. A row checked within
-- the stale threshold is not selected again, so a second run has nothing to redo.
ALTER TABLE movies ADD COLUMN IF NOT EXISTS backfill_checked_at timestamptz;
ALTER TABLE movies ADD COLUMN IF NOT EXISTS backfill_note text;
