-- Typo-tolerant title search without pg_trgm (the embedded PostgreSQL ships no contrib extension):
-- each film's title is kept as the trigrams of its normalised words, pg_trgm style (each word padded
-- with two spaces before and one after), in an indexed table. A search counts the trigrams a query
-- shares with each title through the index and ranks by their Jaccard similarity. Used to resolve a
-- quiz's favourite film to a catalog row and by the movie-memory search.
-- The trigrams are data (the table holds them), so the function lives here, in a versioned migration.
CREATE OR REPLACE FUNCTION title_trigrams(p_title text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(DISTINCT substr(padded.text, position, 3) ORDER BY substr(padded.text, position, 3)),
                    '{}')
    FROM unnest(string_to_array(normalize_title(p_title), ' ')) AS word
    CROSS JOIN LATERAL (SELECT '  ' || word || ' ' AS text) AS padded
    CROSS JOIN LATERAL generate_series(1, length(padded.text) - 2) AS position
    WHERE word <> ''
$$;

CREATE TABLE IF NOT EXISTS movie_title_trigrams (
    trigram   text   NOT NULL,
    movie_id  bigint NOT NULL REFERENCES movies (id) ON DELETE CASCADE,
    PRIMARY KEY (trigram, movie_id)
);
CREATE INDEX IF NOT EXISTS movie_title_trigrams_movie_idx ON movie_title_trigrams (movie_id);

-- Statement-level triggers: a bulk seed of thousands of films writes their trigrams in one statement.
CREATE OR REPLACE FUNCTION index_inserted_titles() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO movie_title_trigrams (trigram, movie_id)
    SELECT DISTINCT trigram, inserted.id FROM inserted, unnest(title_trigrams(inserted.name)) AS trigram
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION index_renamed_titles() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM movie_title_trigrams t USING old_rows, new_rows
    WHERE t.movie_id = old_rows.id AND new_rows.id = old_rows.id AND new_rows.name IS DISTINCT FROM old_rows.name;
    INSERT INTO movie_title_trigrams (trigram, movie_id)
    SELECT DISTINCT trigram, new_rows.id
    FROM new_rows JOIN old_rows ON old_rows.id = new_rows.id, unnest(title_trigrams(new_rows.name)) AS trigram
    WHERE new_rows.name IS DISTINCT FROM old_rows.name
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS movies_index_inserted_titles ON movies;
CREATE TRIGGER movies_index_inserted_titles AFTER INSERT ON movies
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION index_inserted_titles();
DROP TRIGGER IF EXISTS movies_index_renamed_titles ON movies;
CREATE TRIGGER movies_index_renamed_titles AFTER UPDATE ON movies
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION index_renamed_titles();

INSERT INTO movie_title_trigrams (trigram, movie_id)
SELECT DISTINCT trigram, m.id FROM movies m, unnest(title_trigrams(m.name)) AS trigram
ON CONFLICT DO NOTHING;
