-- The movie catalog. Identity: tmdb_id when known; otherwise normalised title + year
-- (normalized_name is written by the application's one normalisation function).
CREATE TABLE IF NOT EXISTS movies (
    id                          bigserial PRIMARY KEY,
    name                        text        NOT NULL CHECK (btrim(name) <> ''),
    normalized_name             text        NOT NULL CHECK (normalized_name <> ''),
    year                        integer     CHECK (year BETWEEN 1870 AND 2100),
    age_rating                  text,
    description                 text        NOT NULL DEFAULT '',
    duration                    integer     NOT NULL DEFAULT 0 CHECK (duration >= 0),
    score_rating                numeric(3, 1) CHECK (score_rating BETWEEN 0 AND 10),
    original_title              text,
    original_language           text,
    release_date                date,
    vote_count                  integer     CHECK (vote_count >= 0),
    popularity                  double precision,
    tmdb_id                     integer     CHECK (tmdb_id > 0),
    tmdb_match_confidence       numeric(4, 3) CHECK (tmdb_match_confidence BETWEEN 0 AND 1),
    tmdb_match_source           text        CHECK (tmdb_match_source IN ('tmdb_discovery', 'backfill_auto', 'manual', 'seed')),
    tmdb_matched_at             timestamptz,
    tmdb_metadata               jsonb,
    tmdb_metadata_refreshed_at  timestamptz,
    poster_url                  text,
    localized_name              text,
    embedding                   vector,
    embedding_model             text,
    created_at                  timestamptz NOT NULL DEFAULT now(),
    updated_at                  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT movies_embedding_has_model CHECK ((embedding IS NULL) = (embedding_model IS NULL))
);

CREATE UNIQUE INDEX IF NOT EXISTS movies_tmdb_id_key
    ON movies (tmdb_id) WHERE tmdb_id IS NOT NULL;

-- Concurrent seeding of the same untracked film yields one row.
CREATE UNIQUE INDEX IF NOT EXISTS movies_title_year_key
    ON movies (normalized_name, year) NULLS NOT DISTINCT WHERE tmdb_id IS NULL;

CREATE INDEX IF NOT EXISTS movies_normalized_name_year_idx ON movies (normalized_name, year);
CREATE INDEX IF NOT EXISTS movies_embedding_model_idx ON movies (embedding_model);

DROP TRIGGER IF EXISTS movies_set_updated_at ON movies;
CREATE TRIGGER movies_set_updated_at BEFORE UPDATE ON movies
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
