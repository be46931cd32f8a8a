-- Signed-in browser sessions (issue #13). The session id exists only in the person's cookie: the row
-- is keyed by its SHA-256 digest, so a copy of this table signs nobody in. A session ends at
-- expires_at (absolute expiry, set at login) or when unused for the gateway's idle expiry
-- (last_seen_at, refreshed at most once a minute); logout deletes the row, logout-all, a password
-- change or reset and the account's deletion delete the user's rows.
CREATE TABLE IF NOT EXISTS user_sessions (
    id_digest     text PRIMARY KEY CHECK (length(id_digest) = 64),
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS user_sessions_user_idx ON user_sessions (user_id);
CREATE INDEX IF NOT EXISTS user_sessions_expires_idx ON user_sessions (expires_at);
