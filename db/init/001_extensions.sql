-- Extensions every other file relies on.
CREATE EXTENSION IF NOT EXISTS vector;

-- Keeps updated_at honest on every table that has one.
CREATE OR REPLACE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;
