CREATE TABLE IF NOT EXISTS recommendations (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id              uuid REFERENCES users (id) ON DELETE SET NULL,
    slug                 text NOT NULL UNIQUE CHECK (slug ~ '^[A-Za-z0-9_-]{12}$'),
    status               text NOT NULL DEFAULT 'pending'
                         CHECK (status IN ('pending', 'processing', 'completed', 'failed')),
    stage                text NOT NULL DEFAULT 'queued'
                         CHECK (stage IN ('queued', 'preparing', 'embedding', 'local-search', 'tmdb-search',
                                          'ai-ranking', 'posters', 'descriptions', 'complete', 'failed')),
    quiz_data            jsonb NOT NULL,
    locale               text NOT NULL DEFAULT 'en-US',
    error                text,
    used_broader_search  boolean NOT NULL DEFAULT false,
    db_movie_count       integer NOT NULL DEFAULT 0 CHECK (db_movie_count >= 0),
    more_picks_status    text CHECK (more_picks_status IN ('pending', 'processing', 'completed', 'failed')),
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    completed_at         timestamptz
);
CREATE INDEX IF NOT EXISTS recommendations_user_created_idx ON recommendations (user_id, created_at DESC);

DROP TRIGGER IF EXISTS recommendations_set_updated_at ON recommendations;
CREATE TRIGGER recommendations_set_updated_at BEFORE UPDATE ON recommendations
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE IF NOT EXISTS recommendation_movies (
    id                      bigserial PRIMARY KEY,
    recommendation_id       uuid    NOT NULL REFERENCES recommendations (id) ON DELETE CASCADE,
    batch                   integer NOT NULL DEFAULT 0 CHECK (batch >= 0),
    position                integer NOT NULL CHECK (position >= 0),
    is_main_recommendation  boolean NOT NULL DEFAULT false,
    movie_key               text    NOT NULL,
    movie_id                bigint  REFERENCES movies (id) ON DELETE SET NULL,
    tmdb_id                 integer,
    name                    text    NOT NULL,
    year                    integer,
    similarity              double precision,
    from_tmdb               boolean NOT NULL DEFAULT false,
    ai_description          text,
    poster_url              text,
    localized_name          text,
    score_rating            numeric(3, 1),
    duration                integer,
    age_rating              text,
    created_at              timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT recommendation_movies_position_key UNIQUE (recommendation_id, batch, position),
    CONSTRAINT recommendation_movies_movie_key UNIQUE (recommendation_id, movie_key)
);
CREATE INDEX IF NOT EXISTS recommendation_movies_movie_key_idx ON recommendation_movies (movie_key);

CREATE TABLE IF NOT EXISTS recommendation_feedback (
    id                 bigserial PRIMARY KEY,
    recommendation_id  uuid NOT NULL REFERENCES recommendations (id) ON DELETE CASCADE,
    user_id            uuid REFERENCES users (id) ON DELETE CASCADE,
    movie_key          text NOT NULL,
    kind               text NOT NULL CHECK (kind IN ('useful', 'already_watched', 'not_for_me', 'wrong_mood',
                                                     'too_obvious', 'too_obscure', 'close')),
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT recommendation_feedback_movie_key UNIQUE (recommendation_id, movie_key)
);
CREATE INDEX IF NOT EXISTS recommendation_feedback_user_idx ON recommendation_feedback (user_id, kind);

DROP TRIGGER IF EXISTS recommendation_feedback_set_updated_at ON recommendation_feedback;
CREATE TRIGGER recommendation_feedback_set_updated_at BEFORE UPDATE ON recommendation_feedback
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE IF NOT EXISTS user_movie_interactions (
    id                        bigserial PRIMARY KEY,
    user_id                   uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    movie_key                 text NOT NULL,
    tmdb_id                   integer,
    movie_name                text NOT NULL,
    movie_year                integer,
    poster_url                text,
    kind                      text NOT NULL CHECK (kind IN ('watched', 'liked', 'not_interested', 'wrong_mood', 'not_seen')),
    source_recommendation_id  uuid REFERENCES recommendations (id) ON DELETE SET NULL,
    created_at                timestamptz NOT NULL DEFAULT now(),
    updated_at                timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT user_movie_interactions_user_movie_key UNIQUE (user_id, movie_key)
);
CREATE INDEX IF NOT EXISTS user_movie_interactions_user_kind_idx ON user_movie_interactions (user_id, kind);

DROP TRIGGER IF EXISTS user_movie_interactions_set_updated_at ON user_movie_interactions;
CREATE TRIGGER user_movie_interactions_set_updated_at BEFORE UPDATE ON user_movie_interactions
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
