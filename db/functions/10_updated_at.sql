-- Keeps updated_at honest on every table that has one (the triggers are attached by the migrations
-- that create those tables).
CREATE OR REPLACE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;
