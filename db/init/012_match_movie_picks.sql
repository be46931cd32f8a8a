-- match_movie_picks: the request path's search. The same nearest-first search as match_movies (same
-- model filter, index, ef_search and planner settings), returning the columns a pick shows
-- (tmdb_id, poster, localized name) instead of the content line. The recommender called match_movies
-- and joined movies again for those columns; the join, the content line and the second function
-- layer cost about 0.15 ms of database CPU per search at 10,000 films. match_movies keeps its
-- signature for everyone else (SQL clients, calibration by hand).
-- configure_embedding_model (011's wrapper) now defines both for the model it activates. Safe to run
-- again: it only (re)defines functions, and redefines match_movie_picks for the active model with
-- the ef_search match_movies already has.
CREATE OR REPLACE FUNCTION define_match_movie_picks(
    p_model text, p_dimensions integer, p_ef_search integer DEFAULT 100
) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF p_ef_search NOT BETWEEN 1 AND 1000 THEN
        RAISE EXCEPTION 'hnsw.ef_search must be between 1 and 1000, not %', p_ef_search;
    END IF;
    EXECUTE format($definition$
        CREATE OR REPLACE FUNCTION match_movie_picks(
            query_embedding  vector,
            match_threshold  double precision DEFAULT 0.1,
            match_count      integer DEFAULT 5
        ) RETURNS TABLE (
            id bigint, name text, year integer, age_rating text, description text, duration integer,
            score_rating numeric, similarity double precision, tmdb_id integer, poster_url text,
            localized_name text
        )
        LANGUAGE sql STABLE ROWS 10
        SET hnsw.ef_search = %3$s SET enable_seqscan = off SET enable_sort = off
        AS $body$
            SELECT * FROM (
                SELECT m.id, m.name, m.year, m.age_rating, m.description, m.duration, m.score_rating,
                       1 - (m.embedding::%1$s <=> query_embedding::%1$s) AS similarity,
                       m.tmdb_id, m.poster_url, m.localized_name
                FROM movies m
                WHERE m.embedding_model = %2$L
                ORDER BY m.embedding::%1$s <=> query_embedding::%1$s
                LIMIT greatest(match_count, 0)
            ) AS nearest
            WHERE nearest.similarity > match_threshold
            ORDER BY nearest.similarity DESC, nearest.id
        $body$
    $definition$, embedding_search_type(p_dimensions), p_model, p_ef_search);
END;
$$;

CREATE OR REPLACE FUNCTION configure_embedding_model(
    p_model text, p_dimensions integer, p_ef_search integer DEFAULT 100
) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM define_match_movies(p_model, p_dimensions, p_ef_search);
    ALTER FUNCTION match_movies(vector, double precision, integer) ROWS 10;
    PERFORM define_match_movie_picks(p_model, p_dimensions, p_ef_search);
END;
$$;

DO $$
DECLARE
    active_model text;
    active_dimensions integer;
    ef_search integer;
BEGIN
    SELECT model, dimensions INTO active_model, active_dimensions FROM embedding_models WHERE active;
    IF active_model IS NULL THEN
        -- Until a model is configured it only explains what to do, like match_movies (007).
        CREATE OR REPLACE FUNCTION match_movie_picks(
            query_embedding  vector,
            match_threshold  double precision DEFAULT 0.1,
            match_count      integer DEFAULT 5
        ) RETURNS TABLE (
            id bigint, name text, year integer, age_rating text, description text, duration integer,
            score_rating numeric, similarity double precision, tmdb_id integer, poster_url text,
            localized_name text
        )
        LANGUAGE plpgsql STABLE AS $body$
        BEGIN
            RAISE EXCEPTION 'no active embedding model: run popchoice-migrate with the embedding settings';
        END;
        $body$;
        RETURN;
    END IF;
    SELECT split_part(setting, '=', 2)::integer INTO ef_search
    FROM pg_proc, unnest(proconfig) AS setting
    WHERE oid = 'match_movies(vector, double precision, integer)'::regprocedure AND setting LIKE 'hnsw.ef_search=%';
    PERFORM define_match_movie_picks(active_model, active_dimensions, coalesce(ef_search, 100));
END;
$$;
