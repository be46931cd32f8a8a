-- API keys for programmatic clients. Only a SHA-256 digest of each key is stored; a key may act
-- for a user (its recommendations are that user's, and that user's memory filters the picks).
CREATE TABLE IF NOT EXISTS api_keys (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL,
    key_digest  text NOT NULL UNIQUE CHECK (length(key_digest) = 64),
    user_id     uuid REFERENCES users (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
