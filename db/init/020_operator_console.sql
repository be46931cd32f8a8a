-- The operator console's audit: every action an operator took, who, when, on what, and what changed.
-- Its id also names the jobs the action started (op:<id>...), so a recent automatic job of the same
-- film never swallows them (docs/decisions.md, "The operator console").
CREATE TABLE IF NOT EXISTS operator_audit (
    id          bigserial   PRIMARY KEY,
    actor       text        NOT NULL CHECK (btrim(actor) <> ''),
    action      text        NOT NULL,
    target      text        NOT NULL,
    before      jsonb,
    after       jsonb,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS operator_audit_created_idx ON operator_audit (created_at DESC);
CREATE INDEX IF NOT EXISTS operator_audit_target_idx ON operator_audit (target, created_at DESC);

-- When a row's embedding was last written (the console's movie page shows it beside the model).
ALTER TABLE movies ADD COLUMN IF NOT EXISTS embedded_at timestamptz;
UPDATE movies SET embedded_at = updated_at WHERE embedding IS NOT NULL AND embedded_at IS NULL;

CREATE OR REPLACE FUNCTION movies_set_embedded_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.embedding IS NULL THEN
        NEW.embedded_at := NULL;
    ELSIF TG_OP = 'INSERT' OR NEW.embedding_model IS DISTINCT FROM OLD.embedding_model
          OR NEW.embedding IS DISTINCT FROM OLD.embedding THEN
        NEW.embedded_at := now();
    END IF;
    RETURN NEW;
END;
$$;

DROP TRIGGER IF EXISTS movies_set_embedded_at ON movies;
CREATE TRIGGER movies_set_embedded_at BEFORE INSERT OR UPDATE OF embedding, embedding_model ON movies
    FOR EACH ROW EXECUTE FUNCTION movies_set_embedded_at();

-- The movie page counts how often a film was recommended.
CREATE INDEX IF NOT EXISTS recommendation_movies_movie_idx ON recommendation_movies (movie_id);
