-- Where each catalog row came from (issue #10, item 4): movies.source is the row's origin,
--   curated_seed    the curated movies file (popchoice-seed)
--   discovery       TMDB discovery, past its quality filter (catalog.seed-movie)
--   recommendation  a TMDB pick seeded just in time after a recommendation showed it
--                   (movie-seed.requested; these legitimately skip discovery's filter)
--   backfill        written by the backfill (it links existing rows today, so none yet)
--   manual          anything else: an operator's INSERT, a repair (the default)
-- tmdb_match_source keeps saying how a row got its TMDB id; it gains 'recommendation' for JIT
-- seeding, which was labelled 'tmdb_discovery'.
--
-- Safe to run again: the column is added once, only unlabelled rows are labelled, and the
-- constraints are replaced by the same ones.
ALTER TABLE movies ADD COLUMN IF NOT EXISTS source text;

ALTER TABLE movies DROP CONSTRAINT IF EXISTS movies_tmdb_match_source_check;
ALTER TABLE movies ADD CONSTRAINT movies_tmdb_match_source_check
    CHECK (tmdb_match_source IN ('tmdb_discovery', 'recommendation', 'backfill_auto', 'manual', 'seed'));

-- Rows from before this migration, as well as what they carry tells:
--   no TMDB id, or matched by the backfill or the old seed                  curated_seed
--   a TMDB id without a match time (set by hand)                            manual
--   matched after the row was created (a curated row linked later)          curated_seed
--   inserted with its TMDB identity by an operator                          manual
--   inserted with its TMDB identity after a recommendation showed it from
--   TMDB (a JIT seed; seeding stamps created_at and tmdb_matched_at alike)  recommendation
--   inserted with its TMDB identity otherwise                               discovery
UPDATE movies m SET source = CASE
    WHEN m.tmdb_id IS NULL OR m.tmdb_match_source IN ('backfill_auto', 'seed') THEN 'curated_seed'
    WHEN m.tmdb_matched_at IS NULL THEN 'manual'
    WHEN m.tmdb_matched_at > m.created_at THEN 'curated_seed'
    WHEN m.tmdb_match_source = 'manual' THEN 'manual'
    WHEN EXISTS (
        SELECT 1 FROM recommendation_movies rm
        WHERE rm.from_tmdb AND rm.tmdb_id = m.tmdb_id AND rm.created_at <= m.created_at
    ) THEN 'recommendation'
    ELSE 'discovery'
END
WHERE m.source IS NULL;

UPDATE movies SET tmdb_match_source = 'recommendation'
WHERE source = 'recommendation' AND tmdb_match_source = 'tmdb_discovery' AND tmdb_matched_at = created_at;

ALTER TABLE movies ALTER COLUMN source SET DEFAULT 'manual';
ALTER TABLE movies ALTER COLUMN source SET NOT NULL;
ALTER TABLE movies DROP CONSTRAINT IF EXISTS movies_source_check;
ALTER TABLE movies ADD CONSTRAINT movies_source_check
    CHECK (source IN ('curated_seed', 'discovery', 'recommendation', 'backfill', 'manual'));
