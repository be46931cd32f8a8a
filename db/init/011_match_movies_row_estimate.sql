-- match_movies returns at most match_count rows (6 on the request path), but a set-returning
-- function is planned as 1,000 rows unless told otherwise. Joined to movies (for tmdb_id, poster and
-- localized name), that estimate made the planner hash-join the whole movies table on every
-- search: 6–8 ms of database CPU per search at 10,000 films instead of about 1 ms through the
-- primary key. configure_embedding_model (007) now marks each generated match_movies ROWS 10.
-- CREATE OR REPLACE resets ROWS, so the mark is set after every (re)definition.
ALTER FUNCTION configure_embedding_model(text, integer, integer) RENAME TO define_match_movies;

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
