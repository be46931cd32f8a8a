-- The recommender's candidate search reads every film that meets a quiz's era and moods and measures
-- its distance exactly, when few enough qualify (match_movie_candidates, db/functions/30_vector_search.sql).
-- Two things make that read cheap:
--
-- 1. movies.search_keys, one GIN index for era and genre together: a film's keys are its decade
--    (year / 10; 999 for an unknown year) and, for each of its TMDB genres, genre id × 1000 + decade.
--    A search for "Action or Comedy, 2000 or later" asks for the keys 28200…28210 and 35200…35210
--    and gets back exactly the films of those genres and decades (the exact years are checked on the
--    row). An era alone asks for the bare decades, moods alone for every decade of the genres.
--    A film with genres 28 and 35 from 2005: {200, 28200, 35200}. The encoding is read by
--    movie_search_query_keys (db/functions/30_vector_search.sql); change both together.
--
-- 2. The embedding kept in the row (STORAGE MAIN) rather than out of line in the TOAST table when
--    the row allows: pgvector's default (EXTERNAL) moved a 384-dimension vector out of line beside a
--    film's description, and reading it back cost a TOAST index look-up per film, as much again as
--    the rest of the read. A vector too large for the row (above about 450 dimensions with the
--    default 2 kB toast target) still goes out of line; results are the same either way.
--
-- The GIN index takes each film's keys into its tree at once (fastupdate off): with GIN's default
-- pending list, a freshly seeded catalog's keys sat in an unsorted list that every search read
-- through until a vacuum merged it (20 ms a search at 10,000 films, against 0.2 ms from the tree).
--
-- Adding the stored column rewrites the table, which also moves the embeddings already stored into
-- their rows, and rebuilds its indexes (the HNSW index included): seconds for a catalog of 10,000 films.

CREATE OR REPLACE FUNCTION movie_search_keys(p_genre_ids integer[], p_year integer) RETURNS integer[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT array_prepend(decades.decade, ARRAY(SELECT genre * 1000 + decades.decade FROM unnest(p_genre_ids) AS genre))
    FROM (SELECT coalesce(p_year / 10, 999) AS decade) AS decades
$$;

ALTER TABLE movies ALTER COLUMN embedding SET STORAGE MAIN;
ALTER TABLE movies ADD COLUMN IF NOT EXISTS search_keys integer[]
    GENERATED ALWAYS AS (movie_search_keys(genre_ids, year)) STORED;
CREATE INDEX IF NOT EXISTS movies_search_keys_idx ON movies USING gin (search_keys) WITH (fastupdate = off);
