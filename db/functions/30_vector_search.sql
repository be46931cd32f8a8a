-- Vector search over the active embedding model: the index helpers, match_movies (the general
-- search) and match_movie_picks (the request path's form), each defined once, here.
-- The embedding_models table itself is data and lives in db/init/007.

-- The vector type an index and a query use for a dimension: HNSW indexes vector up to 2,000
-- dimensions and halfvec up to 4,000, so larger models (text-embedding-3-large: 3,072) go through halfvec.
CREATE OR REPLACE FUNCTION embedding_search_type(p_dimensions integer) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN p_dimensions > 2000 THEN format('halfvec(%s)', p_dimensions)
                ELSE format('vector(%s)', p_dimensions) END
$$;

CREATE OR REPLACE FUNCTION embedding_index_name(p_model text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT 'movies_embedding_hnsw_' || substr(md5(p_model), 1, 12)
$$;

-- Builds p_model's HNSW cosine index: a partial expression index over that model's rows only.
CREATE OR REPLACE FUNCTION ensure_embedding_index(p_model text, p_dimensions integer) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF p_dimensions > 4000 THEN
        RAISE EXCEPTION 'embedding dimension % is above the 4,000 that an HNSW halfvec index supports', p_dimensions;
    END IF;
    EXECUTE format(
        'CREATE INDEX IF NOT EXISTS %I ON movies USING hnsw ((embedding::%s) %s) WHERE embedding_model = %L',
        embedding_index_name(p_model), embedding_search_type(p_dimensions),
        CASE WHEN p_dimensions > 2000 THEN 'halfvec_cosine_ops' ELSE 'vector_cosine_ops' END, p_model);
END;
$$;

-- Bulk loads drop the index first and rebuild it afterwards: building HNSW once over all rows is
-- several times faster than inserting row by row into it.
CREATE OR REPLACE FUNCTION drop_embedding_index(p_model text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('DROP INDEX IF EXISTS %I', embedding_index_name(p_model));
END;
$$;

-- The movies.search_keys (db/init/023) that hold the films of any of these genres (none: any genre)
-- released between these years (none: any year, an unknown one included): each wanted genre id ×
-- 1000 + each decade of the range, or the bare decades (genre 0) when no genre is wanted; 999 is the
-- decade of an unknown year. Years run from 1870 to 2100 (movies_year_check). The keys are whole
-- decades: the exact years are checked on the row.
CREATE OR REPLACE FUNCTION movie_search_query_keys(p_wanted_genres integer[], p_min_year integer, p_max_year integer)
RETURNS integer[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ARRAY(
        SELECT genre * 1000 + decades.decade
        FROM unnest(CASE WHEN cardinality(p_wanted_genres) > 0 THEN p_wanted_genres ELSE '{0}' END) AS genre,
             (SELECT generate_series(coalesce(p_min_year, 1870) / 10, coalesce(p_max_year, 2100) / 10) AS decade
              UNION ALL
              SELECT 999 WHERE p_min_year IS NULL AND p_max_year IS NULL) AS decades
    )
$$;

-- Defines match_movies and match_movie_picks for p_model (NULL: no model is active, and both only
-- say how to configure one).
--
-- Each is a plain SQL function with the model and vector type written in: no dynamic SQL to plan on
-- every call, and the ORDER BY … LIMIT shape the HNSW index serves. A query of another dimension
-- fails the cast with pgvector's own "expected N dimensions" error. ef_search (the HNSW candidate
-- list) trades a little latency for recall; 40, pgvector's default, misses too many true neighbours
-- of clustered embeddings. Sequential scans and sorts are discouraged inside: the planner does not
-- count the cost of detoasting large vectors, and on a big catalog of 3,072-dimension rows it chose
-- to sort every row (0.8 s) over the index (ms). ROWS 10: a set-returning function is otherwise
-- planned as 1,000 rows, and joined to movies that estimate made the planner hash-join the whole
-- table on every search (6–8 ms of database CPU at 10,000 films instead of about 1 ms).
--
-- match_movie_picks is the request path's search: the same nearest-first search, returning the
-- columns a pick shows (tmdb_id, poster, localized name) instead of match_movies' content line, so
-- the recommender needs no join back to movies.
CREATE OR REPLACE FUNCTION define_vector_search(p_model text, p_dimensions integer, p_ef_search integer)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    search_type text;
    -- The hard constraints as a WHERE clause over movies m (the functions' parameters; NULL: no filter).
    candidate_filter text;
    -- Each function's name, arguments and result, written once for both its forms below.
    match_movies_head constant text := $head$
        CREATE OR REPLACE FUNCTION match_movies(
            query_embedding vector, match_threshold double precision DEFAULT 0.1, match_count integer DEFAULT 5
        ) RETURNS TABLE (
            id bigint, name text, age_rating text, description text, duration integer,
            score_rating numeric, year integer, similarity double precision, content text
        )
    $head$;
    match_movie_picks_head constant text := $head$
        CREATE OR REPLACE FUNCTION match_movie_picks(
            query_embedding vector, match_threshold double precision DEFAULT 0.1, match_count integer DEFAULT 5
        ) RETURNS TABLE (
            id bigint, name text, year integer, age_rating text, description text, duration integer,
            score_rating numeric, similarity double precision, tmdb_id integer, poster_url text,
            localized_name text
        )
    $head$;
    -- A candidate as both candidate searches return it.
    candidate_columns constant text := $columns$ RETURNS TABLE (
            id bigint, name text, year integer, age_rating text, description text, duration integer,
            score_rating numeric, vote_count integer, similarity double precision,
            anchor_similarity double precision, anchor_id bigint, tmdb_id integer, poster_url text,
            localized_name text, genre_ids integer[]
        )
    $columns$;
    match_movie_candidates_head constant text := $head$
        CREATE OR REPLACE FUNCTION match_movie_candidates(
            query_embedding vector, anchor_ids bigint[], match_count integer,
            min_year integer DEFAULT NULL, max_year integer DEFAULT NULL, wanted_genres integer[] DEFAULT NULL,
            forbidden_genres integer[] DEFAULT NULL, allowed_age_ratings text[] DEFAULT NULL,
            max_runtime integer DEFAULT NULL, excluded_ids bigint[] DEFAULT NULL, exact_limit integer DEFAULT 2000
        )
    $head$ || candidate_columns;
    match_movie_candidates_by_id_head constant text := $head$
        CREATE OR REPLACE FUNCTION match_movie_candidates_by_id(
            query_embedding vector, anchor_ids bigint[], ids bigint[],
            min_year integer DEFAULT NULL, max_year integer DEFAULT NULL, wanted_genres integer[] DEFAULT NULL,
            forbidden_genres integer[] DEFAULT NULL, allowed_age_ratings text[] DEFAULT NULL,
            max_runtime integer DEFAULT NULL, excluded_ids bigint[] DEFAULT NULL
        )
    $head$ || candidate_columns;
    not_configured constant text := $body$
        BEGIN
            RAISE EXCEPTION 'no active embedding model: run popchoice-migrate with the embedding settings';
        END;
    $body$;
BEGIN
    IF p_ef_search NOT BETWEEN 1 AND 1000 THEN
        RAISE EXCEPTION 'hnsw.ef_search must be between 1 and 1000, not %', p_ef_search;
    END IF;
    IF p_model IS NULL THEN
        EXECUTE match_movies_head || ' LANGUAGE plpgsql STABLE AS ' || quote_literal(not_configured);
        EXECUTE match_movie_picks_head || ' LANGUAGE plpgsql STABLE AS ' || quote_literal(not_configured);
        EXECUTE match_movie_candidates_head || ' LANGUAGE plpgsql STABLE AS ' || quote_literal(not_configured);
        EXECUTE match_movie_candidates_by_id_head || ' LANGUAGE plpgsql STABLE AS ' || quote_literal(not_configured);
        RETURN;
    END IF;
    search_type := embedding_search_type(p_dimensions);
    candidate_filter := format($filter$
                m.embedding_model = %1$L
                AND (min_year IS NULL OR m.year >= min_year)
                AND (max_year IS NULL OR m.year <= max_year)
                AND (max_runtime IS NULL OR (m.duration > 0 AND m.duration <= max_runtime))
                AND (allowed_age_ratings IS NULL OR upper(btrim(m.age_rating)) = ANY(allowed_age_ratings))
                AND (excluded_ids IS NULL OR NOT m.id = ANY(excluded_ids))
                AND (wanted_genres IS NULL OR m.genre_ids && wanted_genres)
                AND (forbidden_genres IS NULL OR NOT m.genre_ids && forbidden_genres)
    $filter$, p_model);
    EXECUTE format($definition$
        %4$s
        LANGUAGE sql STABLE ROWS 10
        SET hnsw.ef_search = %3$s SET enable_seqscan = off SET enable_sort = off
        AS $body$
            SELECT nearest.id, nearest.name, nearest.age_rating, nearest.description, nearest.duration,
                   nearest.score_rating, nearest.year, nearest.similarity,
                   nearest.name || ' (' || coalesce(nearest.year::text, 'n/a') || ') | '
                       || coalesce(nearest.age_rating, 'NR') || ' | Duration: ' || nearest.duration
                       || ' min | Rating: ' || coalesce(nearest.score_rating::text, 'n/a') || '/10'
                       || E'\n' || nearest.description
            FROM (
                SELECT m.id, m.name, m.age_rating, m.description, m.duration, m.score_rating, m.year,
                       1 - (m.embedding::%1$s <=> query_embedding::%1$s) AS similarity
                FROM movies m
                WHERE m.embedding_model = %2$L
                ORDER BY m.embedding::%1$s <=> query_embedding::%1$s
                LIMIT greatest(match_count, 0)
            ) AS nearest
            WHERE nearest.similarity > match_threshold
            ORDER BY nearest.similarity DESC, nearest.id
        $body$
    $definition$, search_type, p_model, p_ef_search, match_movies_head);
    EXECUTE format($definition$
        %4$s
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
    $definition$, search_type, p_model, p_ef_search, match_movie_picks_head);
    -- match_movie_candidates: the recommender's search with the quiz's hard constraints inside it.
    -- The nearest films to the quiz text and, for each anchor film (the favourite resolved to a
    -- catalog row, liked films), the nearest films to that film's own embedding: all of them
    -- meeting the filters (a NULL filter is no filter), with their similarity to the quiz text, their
    -- best similarity to an anchor (and which), and their TMDB genre ids (movies.genre_ids, db/init/017).
    --
    -- Two ways to find them, chosen per call:
    -- * exact: when an era or moods are asked for, the films meeting them are read through
    --   movies.search_keys (db/init/023) and every one is measured against the quiz text and the
    --   anchors in one pass. This is the search of choice while few films qualify (a quiz's era and
    --   two moods leave 5-10% of a catalog): it reads only those films, where the HNSW graph must be
    --   walked past every film the filters remove. It stops after exact_limit + 1 films: more than
    --   exact_limit qualify, and
    -- * index: pgvector's iterative HNSW scan (relaxed order, re-sorted here) with the filters inside,
    --   reading on until match_count rows pass, near the quiz text and near each anchor. For a loose
    --   filter (no era and no moods, or more than exact_limit films) this reads less.
    -- exact_limit 0 always uses the index. Measured on 10,000 films in docs/benchmarks.md
    -- ("Exact candidate search").
    -- Each statement keeps one generic plan (plan_cache_mode): both plans are the same whatever the
    -- filters (the GIN index; the HNSW index), and planning them again on every call cost about a
    -- third of the exact search. Sorts are discouraged as in match_movies, so that the index search
    -- never becomes a sort of the whole catalog (the exact search's top-N sorts have no alternative).
    EXECUTE format($definition$
        %5$s
        LANGUAGE plpgsql STABLE ROWS 30
        SET hnsw.ef_search = %3$s SET hnsw.iterative_scan = relaxed_order SET enable_seqscan = off
        SET enable_sort = off SET plan_cache_mode = force_generic_plan
        AS $body$
        DECLARE
            query_vector %1$s := query_embedding::%1$s;
            anchor_found bigint[];
            anchor_vectors %1$s[];
            anchor %1$s;
            found_count integer;
            found_ids bigint[];
            anchor_count integer;
        BEGIN
            SELECT array_agg(a.id ORDER BY a.id), array_agg(a.embedding::%1$s ORDER BY a.id)
            INTO anchor_found, anchor_vectors
            FROM movies a WHERE a.id = ANY(anchor_ids) AND a.embedding_model = %2$L;
            anchor_count := coalesce(cardinality(anchor_vectors), 0);
            IF exact_limit > 0 AND match_count > 0
               AND (min_year IS NOT NULL OR max_year IS NOT NULL OR cardinality(wanted_genres) > 0) THEN
                -- One pass over the qualifying films (at most exact_limit + 1) measures each against the
                -- quiz text and the anchors, counts them and keeps the ids of the match_count nearest
                -- the quiz text and of the match_count nearest each anchor (top-N sorts of an id and a
                -- distance or two per film); the films themselves are read once more by id below, only
                -- for those. One anchor or none (the usual case) is a parameter: one distance per film.
                -- More anchors give each film an array of distances from a per-film subquery.
                IF anchor_count <= 1 THEN
                    anchor := anchor_vectors[1];
                    WITH qualifying AS MATERIALIZED (
                        SELECT m.id, m.embedding::%1$s <=> query_vector AS query_distance,
                               m.embedding::%1$s <=> anchor AS anchor_distance
                        FROM movies m
                        WHERE m.search_keys && movie_search_query_keys(wanted_genres, min_year, max_year) AND %4$s
                        LIMIT exact_limit + 1
                    )
                    SELECT (SELECT count(*) FROM qualifying)::integer,
                           ARRAY(SELECT q.id FROM qualifying AS q
                                 ORDER BY q.query_distance, q.id LIMIT match_count)
                           || ARRAY(SELECT q.id FROM qualifying AS q WHERE q.anchor_distance IS NOT NULL
                                    ORDER BY q.anchor_distance, q.id LIMIT match_count)
                    INTO found_count, found_ids;
                ELSE
                    WITH qualifying AS MATERIALIZED (
                        SELECT m.id, m.embedding::%1$s <=> query_vector AS query_distance,
                               ARRAY(SELECT m.embedding::%1$s <=> vectors.vector
                                     FROM unnest(anchor_vectors) WITH ORDINALITY AS vectors(vector, position)
                                     ORDER BY vectors.position) AS anchor_distances
                        FROM movies m
                        WHERE m.search_keys && movie_search_query_keys(wanted_genres, min_year, max_year) AND %4$s
                        LIMIT exact_limit + 1
                    )
                    SELECT (SELECT count(*) FROM qualifying)::integer,
                           ARRAY(SELECT q.id FROM qualifying AS q
                                 ORDER BY q.query_distance, q.id LIMIT match_count)
                           || ARRAY(SELECT near.id
                                    FROM generate_series(1, anchor_count) AS anchor_index
                                    CROSS JOIN LATERAL (
                                        SELECT q.id FROM qualifying AS q
                                        ORDER BY q.anchor_distances[anchor_index], q.id LIMIT match_count
                                    ) AS near)
                    INTO found_count, found_ids;
                END IF;
                IF found_count <= exact_limit THEN
                    RETURN QUERY SELECT * FROM match_movie_candidates_by_id(
                        query_embedding, anchor_ids, found_ids, min_year, max_year, wanted_genres,
                        forbidden_genres, allowed_age_ratings, max_runtime, excluded_ids);
                    RETURN;
                END IF;
            END IF;
            RETURN QUERY
            WITH anchors AS (
                SELECT given.id, given.vector AS embedding FROM unnest(anchor_found, anchor_vectors) AS given(id, vector)
            ),
            near_query AS (
                SELECT m.id FROM movies m
                WHERE %4$s
                ORDER BY m.embedding::%1$s <=> query_vector
                LIMIT greatest(match_count, 0)
            ),
            near_anchors AS (
                SELECT near.id FROM anchors
                CROSS JOIN LATERAL (
                    SELECT m.id FROM movies m
                    WHERE %4$s
                    ORDER BY m.embedding::%1$s <=> anchors.embedding
                    LIMIT greatest(match_count, 0)
                ) AS near
            ),
            chosen AS (SELECT near_query.id FROM near_query UNION SELECT near_anchors.id FROM near_anchors)
            SELECT m.id, m.name, m.year, m.age_rating, m.description, m.duration, m.score_rating, m.vote_count,
                   1 - (m.embedding::%1$s <=> query_vector) AS similarity,
                   best.similarity AS anchor_similarity, best.id AS anchor_id,
                   m.tmdb_id, m.poster_url, m.localized_name, m.genre_ids
            FROM chosen
            JOIN movies m ON m.id = chosen.id
            LEFT JOIN LATERAL (
                SELECT anchors.id, 1 - (m.embedding::%1$s <=> anchors.embedding) AS similarity
                FROM anchors ORDER BY 2 DESC LIMIT 1
            ) AS best ON true;
        END;
        $body$
    $definition$, search_type, p_model, p_ef_search, candidate_filter, match_movie_candidates_head);
    -- match_movie_candidates_by_id: the films of ids that meet the filters, with what a candidate
    -- carries (as match_movie_candidates returns them). The exact search reads its chosen films with it,
    -- and the recommender's in-memory search (recommendation/catalog_index.py) the films it chose: the
    -- filters are checked here again, so a film changed since that copy was taken never passes.
    EXECUTE format($definition$
        %4$s
        LANGUAGE plpgsql STABLE ROWS 30
        SET enable_seqscan = off SET plan_cache_mode = force_generic_plan
        AS $body$
        BEGIN
            RETURN QUERY
            WITH anchors AS MATERIALIZED (
                SELECT a.id, a.embedding::%1$s AS embedding
                FROM movies a WHERE a.id = ANY(anchor_ids) AND a.embedding_model = %2$L
            )
            SELECT m.id, m.name, m.year, m.age_rating, m.description, m.duration, m.score_rating, m.vote_count,
                   1 - (m.embedding::%1$s <=> query_embedding::%1$s) AS similarity,
                   best.similarity AS anchor_similarity, best.id AS anchor_id,
                   m.tmdb_id, m.poster_url, m.localized_name, m.genre_ids
            FROM movies m
            LEFT JOIN LATERAL (
                SELECT anchors.id, 1 - (m.embedding::%1$s <=> anchors.embedding) AS similarity
                FROM anchors ORDER BY 2 DESC, anchors.id LIMIT 1
            ) AS best ON true
            WHERE m.id = ANY(ids) AND %3$s;
        END;
        $body$
    $definition$, search_type, p_model, candidate_filter, match_movie_candidates_by_id_head);
END;
$$;

-- Makes p_model the searched model: builds its index and defines the searches for it. Idempotent;
-- safe on every start-up.
CREATE OR REPLACE FUNCTION configure_embedding_model(
    p_model text, p_dimensions integer, p_ef_search integer DEFAULT 100
) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    known_dimensions integer;
BEGIN
    IF p_model IS NULL OR btrim(p_model) = '' THEN
        RAISE EXCEPTION 'embedding model name must not be empty';
    END IF;
    IF p_ef_search NOT BETWEEN 1 AND 1000 THEN
        RAISE EXCEPTION 'hnsw.ef_search must be between 1 and 1000, not %', p_ef_search;
    END IF;
    SELECT dimensions INTO known_dimensions FROM embedding_models WHERE model = p_model;
    IF known_dimensions IS NOT NULL AND known_dimensions <> p_dimensions THEN
        RAISE EXCEPTION 'embedding model % is recorded with % dimensions, not %', p_model, known_dimensions, p_dimensions;
    END IF;
    PERFORM ensure_embedding_index(p_model, p_dimensions);
    UPDATE embedding_models SET active = false WHERE active AND model <> p_model;
    INSERT INTO embedding_models (model, dimensions, active) VALUES (p_model, p_dimensions, true)
    ON CONFLICT (model) DO UPDATE SET active = true;
    PERFORM define_vector_search(p_model, p_dimensions, p_ef_search);
END;
$$;

-- The chain that defined these before (007, then 011 and 012 wrapping it) is gone.
DROP FUNCTION IF EXISTS define_match_movies(text, integer, integer);
DROP FUNCTION IF EXISTS define_match_movie_picks(text, integer, integer);
-- match_movie_candidates before exact_limit (a second overload would make every call ambiguous).
DROP FUNCTION IF EXISTS match_movie_candidates(vector, bigint[], integer, integer, integer, integer[], integer[], text[], integer, bigint[]);

-- (Re)define the searches for the model that is active now, keeping its ef_search, so that a change
-- to this file reaches a running database at the next popchoice-migrate.
DO $$
DECLARE
    active_model text;
    active_dimensions integer;
    ef_search integer;
BEGIN
    SELECT model, dimensions INTO active_model, active_dimensions FROM embedding_models WHERE active;
    SELECT split_part(setting, '=', 2)::integer INTO ef_search
    FROM pg_proc, unnest(proconfig) AS setting
    WHERE proname = 'match_movies' AND pronamespace = current_schema()::regnamespace
      AND setting LIKE 'hnsw.ef_search=%';
    PERFORM define_vector_search(active_model, active_dimensions, coalesce(ef_search, 100));
END;
$$;
