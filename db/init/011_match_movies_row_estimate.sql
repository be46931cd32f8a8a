-- match_movies returns at most match_count rows (6 on the request path), but a set-returning
-- function is planned as 1,000 rows unless told otherwise. Joined to movies (for tmdb_id, poster and
-- localized name), that estimate made the planner hash-join the whole movies table on every
-- search: 6–8 ms of database CPU per search at 10,000 films instead of about 1 ms through the
-- primary key. configure_embedding_model (007) now marks each generated match_movies ROWS 10.
-- CREATE OR REPLACE resets ROWS, so the mark is set after every (re)definition.
-- 007's configure_embedding_model becomes define_match_movies, and a wrapper takes its name. Safe to
-- run again: when 007 ran again first, its fresh definition replaces the renamed one; when the
-- wrapper is already in place, nothing is renamed.
DO $$
BEGIN
    IF position('define_match_movies' IN (
        SELECT prosrc FROM pg_proc WHERE oid = 'configure_embedding_model(text, integer, integer)'::regprocedure
    )) = 0 THEN
        DROP FUNCTION IF EXISTS define_match_movies(text, integer, integer);
        ALTER FUNCTION configure_embedding_model(text, integer, integer) RENAME TO define_match_movies;
    END IF;
END;
$$;

CREATE OR REPLACE FUNCTION configure_embedding_model(
    p_model text, p_dimensions integer, p_ef_search integer DEFAULT 100
) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM define_match_movies(p_model, p_dimensions, p_ef_search);
    ALTER FUNCTION match_movies(vector, double precision, integer) ROWS 10;
END;
$$;

ALTER FUNCTION match_movies(vector, double precision, integer) ROWS 10;
