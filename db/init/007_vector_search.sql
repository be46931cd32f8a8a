-- Which embedding model the product searches with. Rows embedded by any other model are ignored
-- by match_movies, so switching models never compares vectors from different spaces.
CREATE TABLE IF NOT EXISTS embedding_models (
    model          text    PRIMARY KEY,
    dimensions     integer NOT NULL CHECK (dimensions BETWEEN 1 AND 16000),
    active         boolean NOT NULL DEFAULT false,
    configured_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS embedding_models_single_active ON embedding_models (active) WHERE active;

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

-- Makes p_model the searched model: builds its index and defines match_movies for it (below).
-- Idempotent; safe on every start-up.
CREATE OR REPLACE FUNCTION configure_embedding_model(
    p_model text, p_dimensions integer, p_ef_search integer DEFAULT 100
) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    known_dimensions integer;
    search_type text := embedding_search_type(p_dimensions);
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
    -- A plain SQL function with the model and vector type written in: no dynamic SQL to plan on
    -- every call, and the ORDER BY … LIMIT shape the HNSW index serves. A query of another
    -- dimension fails the cast with pgvector's own "expected N dimensions" error. ef_search (the
    -- HNSW candidate list) trades a little latency for recall; 40, pgvector's default, misses too
    -- many true neighbours of clustered embeddings. Sequential scans and sorts are discouraged
    -- inside it: the planner does not count the cost of detoasting large vectors, and on a big
    -- catalog of 3,072-dimension rows it chose to sort every row (0.8 s) over the index (ms).
    EXECUTE format($definition$
        CREATE OR REPLACE FUNCTION match_movies(
            query_embedding  vector,
            match_threshold  double precision DEFAULT 0.1,
            match_count      integer DEFAULT 5
        ) RETURNS TABLE (
            id bigint, name text, age_rating text, description text, duration integer,
            score_rating numeric, year integer, similarity double precision, content text
        )
        LANGUAGE sql STABLE
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
    $definition$, search_type, p_model, p_ef_search);
END;
$$;

-- Cosine-similarity search over the active model's rows, best first. Until an embedding model is
-- configured it only explains what to do; configure_embedding_model replaces it with the real search.
CREATE OR REPLACE FUNCTION match_movies(
    query_embedding  vector,
    match_threshold  double precision DEFAULT 0.1,
    match_count      integer DEFAULT 5
) RETURNS TABLE (
    id bigint, name text, age_rating text, description text, duration integer,
    score_rating numeric, year integer, similarity double precision, content text
)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RAISE EXCEPTION 'no active embedding model: run popchoice-migrate with the embedding settings';
END;
$$;
