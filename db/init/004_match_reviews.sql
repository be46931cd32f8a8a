-- Backfill matches that need a person's decision.
CREATE TABLE IF NOT EXISTS tmdb_match_reviews (
    id           bigserial PRIMARY KEY,
    movie_id     bigint NOT NULL REFERENCES movies (id) ON DELETE CASCADE,
    movie_name   text   NOT NULL,
    movie_year   integer,
    reason       text   NOT NULL CHECK (reason IN ('ambiguous_match', 'runtime_mismatch')),
    status       text   NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved', 'ignored', 'deferred')),
    candidates   jsonb  NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(candidates) = 'array'),
    notes        text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    resolved_at  timestamptz,
    CONSTRAINT tmdb_match_reviews_movie_reason_key UNIQUE (movie_id, reason)
);
CREATE INDEX IF NOT EXISTS tmdb_match_reviews_status_idx ON tmdb_match_reviews (status, created_at);

DROP TRIGGER IF EXISTS tmdb_match_reviews_set_updated_at ON tmdb_match_reviews;
CREATE TRIGGER tmdb_match_reviews_set_updated_at BEFORE UPDATE ON tmdb_match_reviews
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE IF NOT EXISTS tmdb_match_review_audit (
    id           bigserial PRIMARY KEY,
    review_id    bigint NOT NULL REFERENCES tmdb_match_reviews (id) ON DELETE CASCADE,
    action       text   NOT NULL,
    from_status  text,
    to_status    text,
    actor        text,
    notes        text,
    details      jsonb,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS tmdb_match_review_audit_review_idx ON tmdb_match_review_audit (review_id, created_at);
