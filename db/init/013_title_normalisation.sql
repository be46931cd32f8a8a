-- Title normalisation moves into the database (issue #10, item 1).
--
-- movies.normalized_name is computed here, by normalize_title(text), whatever the writer sends: a
-- plain INSERT by an operator is valid and meets the title+year unique index like any other. The
-- function folds punctuation and spelling variants that do not change a title's identity
-- ("WALL-E" and "WALL·E", "Schindler's" and "Schindler’s", "E.T." and "ET", "&" and "and").
-- popchoice_common.identity.normalize_title is its Python twin; a test holds them equal.
--
-- Normalisation is part of identity, so it is defined here, once. Changing it means a new
-- migration that replaces these functions and recomputes normalized_name and the stored movie keys
-- (as the end of this file does), never an edit of this file.
--
-- Only ASCII in this file: other characters are written as U&'' literals or regex escapes, so
-- the file reads the same whatever client encoding runs it. lower() uses the pg_c_utf8 collation
-- (PostgreSQL >= 17): Unicode simple case mapping, the same on every operating system and locale.
--
-- Safe to run again: functions and triggers are (re)defined, the recomputation finds nothing left
-- to change and the merge finds nothing left to merge.

-- NFKD, lowercase, a few letters folded, accents, apostrophes and single periods (not between
-- digits) removed, dashes, interpuncts, colons and other separating punctuation made spaces, "&"
-- made "and", whitespace collapsed, leading the/a/an dropped (unless that is all there is). A
-- title that is only punctuation keeps its own lowercase form. Normalising twice changes nothing.
-- Only built-in functions inside: PostgreSQL >= 17 evaluates index expressions with search_path
-- pg_catalog, so an index on normalize_title(...) must not depend on another function's schema.
CREATE OR REPLACE FUNCTION normalize_title(p_title text) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    decomposed text := lower(normalize(p_title, NFKD) COLLATE pg_c_utf8);
    folded text;
    unarticled text;
BEGIN
    -- final sigma, o with stroke, l with stroke, d with stroke, dotless i; sharp s, ae, oe
    folded := replace(replace(replace(
        translate(decomposed, U&'\03C2\00F8\0142\0111\0131', U&'\03C3oldi'),
        U&'\00DF', 'ss'), U&'\00E6', 'ae'), U&'\0153', 'oe');
    -- combining diacritical marks (the generic blocks), apostrophes, soft hyphen, zero-width characters
    folded := regexp_replace(folded,
        '[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f'
        '''\u2018\u2019\u201b\u02bc\u2032`\u00ad\u200b\u200c\u200d\u2060\ufeff]', '', 'g');
    folded := regexp_replace(folded, '\.{2,}', ' ', 'g');
    folded := regexp_replace(folded, '(?<![0-9])\.|\.(?![0-9])', '', 'g');
    -- dashes, interpuncts, colons and the like
    folded := regexp_replace(folded,
        '[-\u2010\u2012\u2013\u2014\u2015\u2212\u00b7\u2022\u2027\u2219\u22c5\u30fb'
        ':;,!?\u00a1\u00bf"\u201c\u201d\u201e\u201f\u00ab\u00bb\u2039\u203a(){}/_\[\]]', ' ', 'g');
    folded := btrim(regexp_replace(replace(folded, '&', ' and '),
        '[ \t\n\r\f\v\u0085\u1680\u2028\u2029]+', ' ', 'g'), ' ');
    IF folded = '' THEN
        RETURN coalesce(
            nullif(btrim(regexp_replace(decomposed, '[ \t\n\r\f\v\u0085\u1680\u2028\u2029]+', ' ', 'g'), ' '), ''),
            p_title);
    END IF;
    unarticled := regexp_replace(folded, '^((the|a|an) )+', '');
    RETURN CASE WHEN unarticled = '' THEN folded ELSE unarticled END;
END;
$$;

-- popchoice_common.identity.movie_key in SQL: tmdb:<id>, else title:<normalised title>:<year or na>.
CREATE OR REPLACE FUNCTION movie_key_of(p_tmdb_id integer, p_normalized_name text, p_year integer) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN p_tmdb_id IS NOT NULL THEN 'tmdb:' || p_tmdb_id
                ELSE 'title:' || p_normalized_name || ':' || coalesce(p_year::text, 'na') END
$$;

CREATE OR REPLACE FUNCTION movies_set_normalized_name() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.normalized_name := normalize_title(NEW.name);
    RETURN NEW;
END;
$$;

-- BEFORE triggers run before NOT NULL and unique checks, so a row that arrives without
-- normalized_name (or with a wrong one) is checked with the computed value.
DROP TRIGGER IF EXISTS movies_set_normalized_name ON movies;
CREATE TRIGGER movies_set_normalized_name BEFORE INSERT OR UPDATE OF name, normalized_name ON movies
    FOR EACH ROW EXECUTE FUNCTION movies_set_normalized_name();

-- Where the recommendation memory looks a film up by key alone (rewrites below).
CREATE INDEX IF NOT EXISTS recommendation_feedback_movie_key_idx ON recommendation_feedback (movie_key);
CREATE INDEX IF NOT EXISTS user_movie_interactions_movie_key_idx ON user_movie_interactions (movie_key);

-- Rewrites stored movie keys (p_old_keys[i] becomes p_new_keys[i]) in every table that keeps
-- them: recommendation_movies, recommendation_feedback and user_movie_interactions. Where a
-- rewritten row meets another row of the same key in its unique scope (one person, one
-- recommendation), the most recent row stays and the others are deleted. A tmdb:<id> key also
-- fills the row's empty tmdb_id. Returns how many rows were rewritten.
CREATE OR REPLACE FUNCTION rewrite_movie_keys(p_old_keys text[], p_new_keys text[]) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    mapping constant text := $sql$
        SELECT DISTINCT ON (old_key) old_key, new_key
        FROM unnest($1::text[], $2::text[]) AS m (old_key, new_key)
        WHERE old_key IS NOT NULL AND new_key IS NOT NULL AND old_key <> new_key
        ORDER BY old_key
    $sql$;
    target record;
    moved jsonb[];
    total integer := 0;
BEGIN
    IF cardinality(p_old_keys) IS DISTINCT FROM cardinality(p_new_keys) THEN
        RAISE EXCEPTION 'rewrite_movie_keys needs as many new keys (%) as old keys (%)',
            cardinality(p_new_keys), cardinality(p_old_keys);
    END IF;
    FOR target IN
        SELECT * FROM (VALUES
            ('recommendation_movies', 'recommendation_id', 'created_at', true),
            ('recommendation_feedback', 'recommendation_id', 'updated_at', false),
            ('user_movie_interactions', 'user_id', 'updated_at', true)
        ) AS t (name, scope, recency, has_tmdb_id)
    LOOP
        -- Collisions first: per scope and new key, of the moving rows and the row already there
        -- (unless that one moves too), the most recent stays.
        EXECUTE format($sql$
            WITH mapping AS (%4$s), moving AS (
                SELECT t.id, t.%2$I AS scope, m.new_key AS final_key, t.%3$I AS recency
                FROM %1$I t JOIN mapping m ON t.movie_key = m.old_key
            ), contenders AS (
                SELECT id, scope, final_key, recency FROM moving
                UNION ALL
                SELECT t.id, t.%2$I, t.movie_key, t.%3$I
                FROM %1$I t JOIN (SELECT DISTINCT scope, final_key FROM moving) AS k
                  ON t.%2$I = k.scope AND t.movie_key = k.final_key
                WHERE NOT EXISTS (SELECT 1 FROM mapping m WHERE m.old_key = t.movie_key)
            ), ranked AS (
                SELECT id, row_number() OVER (PARTITION BY scope, final_key ORDER BY recency DESC, id DESC) AS rank
                FROM contenders
            )
            DELETE FROM %1$I WHERE id IN (SELECT id FROM ranked WHERE rank > 1)
        $sql$, target.name, target.scope, target.recency, mapping) USING p_old_keys, p_new_keys;
        -- The moving rows are taken out and put back under their new key, whole: an UPDATE would
        -- stamp updated_at with the rewrite's time, and when a person marked a film is theirs. All
        -- leave before any returns, so no row meets a key another row is still leaving.
        EXECUTE format($sql$
            WITH mapping AS (%2$s), taken AS (
                DELETE FROM %1$I t USING mapping m WHERE t.movie_key = m.old_key
                RETURNING to_jsonb(t) || jsonb_build_object('movie_key', m.new_key) %3$s AS moved_row
            )
            SELECT array_agg(moved_row) FROM taken
        $sql$, target.name, mapping,
            CASE WHEN target.has_tmdb_id
                 THEN $expr$|| jsonb_build_object('tmdb_id',
                              coalesce(t.tmdb_id, substring(m.new_key FROM '^tmdb:([0-9]+)$')::integer))$expr$
                 ELSE '' END) INTO moved USING p_old_keys, p_new_keys;
        CONTINUE WHEN moved IS NULL;
        EXECUTE format('INSERT INTO %1$I SELECT (jsonb_populate_record(NULL::%1$I, moved_row)).*'
                       ' FROM unnest($1::jsonb[]) AS moved_row', target.name) USING moved;
        total := total + cardinality(moved);
    END LOOP;
    RETURN total;
END;
$$;

-- What merge_movies did, for operators (it also says so with RAISE INFO, which popchoice-migrate logs).
CREATE TABLE IF NOT EXISTS movie_merges (
    id               bigserial PRIMARY KEY,
    merged_movie_id  bigint  NOT NULL,
    merged_name      text    NOT NULL,
    merged_year      integer,
    kept_movie_id    bigint  REFERENCES movies (id) ON DELETE SET NULL,
    kept_name        text    NOT NULL,
    kept_tmdb_id     integer,
    reason           text    NOT NULL,
    rewritten_keys   integer NOT NULL DEFAULT 0,
    merged_at        timestamptz NOT NULL DEFAULT now()
);

-- Folds the row p_merged into p_kept and deletes it: picks, genre/people/keyword joins (when the
-- kept row has none of that kind) and match reviews move over, and the merged row's keys (by its
-- stored and its current normalised title) become the kept row's key everywhere they are stored.
-- The kept row must be the one with the TMDB id, if either has one; two TMDB films are never merged.
CREATE OR REPLACE FUNCTION merge_movies(p_merged bigint, p_kept bigint, p_reason text DEFAULT 'manual')
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    merged movies%ROWTYPE;
    kept movies%ROWTYPE;
    kept_key text;
    review record;
    existing_review bigint;
    rewritten integer;
BEGIN
    SELECT * INTO merged FROM movies WHERE id = p_merged FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'movie % does not exist', p_merged;
    END IF;
    SELECT * INTO kept FROM movies WHERE id = p_kept FOR UPDATE;
    IF NOT FOUND OR p_kept = p_merged THEN
        RAISE EXCEPTION 'movie % does not exist or is the merged one', p_kept;
    END IF;
    IF merged.tmdb_id IS NOT NULL THEN
        RAISE EXCEPTION 'movie % has TMDB id %: the row with a TMDB id is the one kept', p_merged, merged.tmdb_id;
    END IF;
    kept_key := movie_key_of(kept.tmdb_id, normalize_title(kept.name), kept.year);

    UPDATE recommendation_movies SET movie_id = p_kept WHERE movie_id = p_merged;
    IF NOT EXISTS (SELECT 1 FROM movie_genres WHERE movie_id = p_kept) THEN
        UPDATE movie_genres SET movie_id = p_kept WHERE movie_id = p_merged;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM movie_keywords WHERE movie_id = p_kept) THEN
        UPDATE movie_keywords SET movie_id = p_kept WHERE movie_id = p_merged;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM movie_people WHERE movie_id = p_kept) THEN
        UPDATE movie_people SET movie_id = p_kept WHERE movie_id = p_merged;
    END IF;
    FOR review IN SELECT id, reason FROM tmdb_match_reviews WHERE movie_id = p_merged ORDER BY id LOOP
        SELECT id INTO existing_review FROM tmdb_match_reviews WHERE movie_id = p_kept AND reason = review.reason;
        IF existing_review IS NULL THEN
            UPDATE tmdb_match_reviews SET movie_id = p_kept WHERE id = review.id;
            existing_review := review.id;
        ELSE
            UPDATE tmdb_match_review_audit SET review_id = existing_review WHERE review_id = review.id;
            DELETE FROM tmdb_match_reviews WHERE id = review.id;
        END IF;
        INSERT INTO tmdb_match_review_audit (review_id, action, actor, notes, details)
        VALUES (existing_review, 'movie_merged', 'merge_movies',
                format('movie %s (%s) merged into movie %s: %s', p_merged, merged.name, p_kept, p_reason),
                jsonb_build_object('merged_movie_id', p_merged, 'kept_movie_id', p_kept));
    END LOOP;

    rewritten := rewrite_movie_keys(
        ARRAY[movie_key_of(NULL, merged.normalized_name, merged.year),
              movie_key_of(NULL, normalize_title(merged.name), merged.year)],
        ARRAY[kept_key, kept_key]);
    INSERT INTO movie_merges (merged_movie_id, merged_name, merged_year, kept_movie_id, kept_name, kept_tmdb_id,
                              reason, rewritten_keys)
    VALUES (p_merged, merged.name, merged.year, p_kept, kept.name, kept.tmdb_id, p_reason, rewritten);
    RAISE INFO 'merged movie % (% %) into movie % (% %, TMDB %): %; % stored keys now %',
        p_merged, merged.name, coalesce(merged.year::text, 'n/a'), p_kept, kept.name,
        coalesce(kept.year::text, 'n/a'), coalesce(kept.tmdb_id::text, 'none'), p_reason, rewritten, kept_key;
    DELETE FROM movies WHERE id = p_merged;
END;
$$;

-- Recompute normalized_name with the new normalisation, merge the duplicates that appear, and
-- rewrite every stored movie key that changes, in one statement (one transaction, also when psql
-- runs this file statement by statement).
DO $$
DECLARE
    duplicate record;
    kept_id bigint;
    merged_id bigint;
    old_keys text[];
    new_keys text[];
    rewritten integer;
BEGIN
    -- Rows sharing a normalised title and year where at least one has no TMDB id. The row with a
    -- TMDB id wins; with none, the oldest row; with several TMDB films (two films of one title and
    -- year exist), the rows without one are merged among themselves only.
    FOR duplicate IN
        SELECT normalize_title(name) AS title, year,
               coalesce(array_agg(id ORDER BY id) FILTER (WHERE tmdb_id IS NOT NULL), '{}') AS tracked,
               array_agg(id ORDER BY id) FILTER (WHERE tmdb_id IS NULL) AS untracked
        FROM movies
        GROUP BY 1, 2
        HAVING count(*) > 1 AND count(*) FILTER (WHERE tmdb_id IS NULL) > 0
        ORDER BY 1, 2
    LOOP
        kept_id := CASE WHEN cardinality(duplicate.tracked) = 1 THEN duplicate.tracked[1]
                        ELSE duplicate.untracked[1] END;
        IF cardinality(duplicate.tracked) > 1 THEN
            RAISE INFO 'title % (%) has % TMDB films; rows without TMDB id % are left beside them',
                duplicate.title, coalesce(duplicate.year::text, 'n/a'), cardinality(duplicate.tracked), kept_id;
        END IF;
        FOREACH merged_id IN ARRAY duplicate.untracked LOOP
            CONTINUE WHEN merged_id = kept_id;
            PERFORM merge_movies(merged_id, kept_id, 'same title after normalisation (013)');
        END LOOP;
    END LOOP;

    -- Keys that change: a row's old title key becomes its new one (no TMDB id) or its TMDB key (a
    -- TMDB film alone with its title and year: memory saved before the film was linked follows it).
    WITH renormalised AS (
        SELECT id, tmdb_id, year, normalized_name AS old_title, normalize_title(name) AS new_title,
               count(tmdb_id) OVER (PARTITION BY normalize_title(name), year) AS tracked_films
        FROM movies
    ), row_keys AS (
        SELECT movie_key_of(NULL, old_title, year) AS old_key, movie_key_of(tmdb_id, new_title, year) AS new_key
        FROM renormalised WHERE tmdb_id IS NULL OR tracked_films = 1
        UNION
        SELECT movie_key_of(NULL, new_title, year), movie_key_of(tmdb_id, new_title, year)
        FROM renormalised WHERE tmdb_id IS NOT NULL AND tracked_films = 1
    ), row_mapping AS (
        SELECT DISTINCT ON (old_key) old_key, new_key FROM row_keys WHERE old_key <> new_key ORDER BY old_key, new_key
    ), stored_title_keys AS (
        SELECT movie_key FROM recommendation_movies WHERE movie_key LIKE 'title:%'
        UNION SELECT movie_key FROM recommendation_feedback WHERE movie_key LIKE 'title:%'
        UNION SELECT movie_key FROM user_movie_interactions WHERE movie_key LIKE 'title:%'
    ), refolded AS (
        -- Keys of no catalog row (the row went, or the title was typed): the title part is
        -- normalised anew, then follows the row mapping.
        SELECT s.movie_key AS old_key,
               'title:' || normalize_title(parts[1]) || ':' || parts[2] AS new_key
        FROM stored_title_keys s, regexp_match(s.movie_key, '^title:(.*):([0-9]+|na)$') AS parts
        WHERE parts IS NOT NULL AND NOT EXISTS (SELECT 1 FROM row_mapping r WHERE r.old_key = s.movie_key)
    ), mapping AS (
        SELECT old_key, new_key FROM row_mapping
        UNION ALL
        SELECT f.old_key, coalesce(r.new_key, f.new_key)
        FROM refolded f LEFT JOIN row_mapping r ON r.old_key = f.new_key
    )
    SELECT coalesce(array_agg(old_key), '{}'), coalesce(array_agg(new_key), '{}') INTO old_keys, new_keys
    FROM mapping WHERE old_key <> new_key;

    UPDATE movies SET normalized_name = normalize_title(name) WHERE normalized_name <> normalize_title(name);
    rewritten := rewrite_movie_keys(old_keys, new_keys);
    IF rewritten > 0 THEN
        RAISE INFO 'rewrote % stored movie keys (% distinct keys changed)', rewritten, cardinality(old_keys);
    END IF;
END;
$$;

-- From now on a film's keys follow it whenever its identity changes: linking a row without TMDB
-- id to its TMDB film (seeding, backfill, an operator's UPDATE) makes title:<...> keys tmdb:<id>,
-- and renaming such a row moves them to the new title key.
CREATE OR REPLACE FUNCTION movies_rewrite_movie_keys() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM rewrite_movie_keys(
        ARRAY[movie_key_of(NULL, OLD.normalized_name, OLD.year)],
        ARRAY[movie_key_of(NEW.tmdb_id, NEW.normalized_name, NEW.year)]);
    RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS movies_rewrite_movie_keys ON movies;
CREATE TRIGGER movies_rewrite_movie_keys AFTER UPDATE OF tmdb_id, name, normalized_name, year ON movies
    FOR EACH ROW
    WHEN (OLD.tmdb_id IS NULL AND (NEW.tmdb_id IS NOT NULL OR OLD.normalized_name <> NEW.normalized_name
                                   OR OLD.year IS DISTINCT FROM NEW.year))
    EXECUTE FUNCTION movies_rewrite_movie_keys();
