"""Catalog SQL shared by the services that write TMDB films (seeder, discovery, backfill, recommender).

Functions take a connection and never open or commit transactions; the caller owns the boundary.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import TypeAlias

import asyncpg
import numpy as np

from popchoice_common.catalog.genres import GENRE_IDS
from popchoice_common.catalog.records import CuratedMovie, EmbeddingInputs, TitleMatch, TMDBMovieRecord
from popchoice_common.catalog.sources import MATCH_SOURCE_OF, MovieSource

#: A connection, or a pool for one-statement reads.
Executor: TypeAlias = asyncpg.Connection | asyncpg.Pool


async def movie_id_by_tmdb_id(connection: asyncpg.Connection, tmdb_id: int) -> int | None:
    movie_id: int | None = await connection.fetchval("SELECT id FROM movies WHERE tmdb_id = $1", tmdb_id)
    return movie_id


async def present_tmdb_ids(connection: asyncpg.Connection, tmdb_ids: Iterable[int]) -> set[int]:
    """Which of these TMDB ids already have a catalog row."""
    rows = await connection.fetch("SELECT tmdb_id FROM movies WHERE tmdb_id = ANY($1::int[])", list(tmdb_ids))
    return {row["tmdb_id"] for row in rows}


async def present_title_years(
    connection: asyncpg.Connection, keys: Sequence[tuple[str, int | None]]
) -> set[tuple[str, int | None]]:
    """Which (normalised title, year) pairs already have a row (with or without a TMDB id)."""
    if not keys:
        return set()
    rows = await connection.fetch(
        """
        SELECT DISTINCT m.normalized_name, m.year
        FROM movies m
        JOIN unnest($1::text[], $2::int[]) AS wanted (normalized_name, year)
          ON m.normalized_name = wanted.normalized_name AND m.year IS NOT DISTINCT FROM wanted.year
        """,
        [name for name, _ in keys],
        [year for _, year in keys],
    )
    return {(row["normalized_name"], row["year"]) for row in rows}


async def untracked_movie_ids(connection: asyncpg.Connection, title: str, year: int | None) -> list[int]:
    """Rows without a TMDB id that are this title and year (normalised by the database, as normalized_name is)."""
    rows = await connection.fetch(
        "SELECT id FROM movies WHERE tmdb_id IS NULL AND normalized_name = normalize_title($1)"
        " AND year IS NOT DISTINCT FROM $2 ORDER BY id",
        title,
        year,
    )
    return [row["id"] for row in rows]


async def insert_tmdb_movie(
    connection: asyncpg.Connection,
    record: TMDBMovieRecord,
    *,
    embedding: np.ndarray,
    embedding_model: str,
    embedding_text_hash: str,
    source: MovieSource,
    confidence: Decimal,
) -> int | None:
    """Inserts a TMDB film from source; returns its id, or None when a row with that TMDB id already exists.

    normalized_name is the database's own (a trigger computes it from the name)."""
    movie_id: int | None = await connection.fetchval(
        """
        INSERT INTO movies (
            name, normalized_name, year, age_rating, description, duration, score_rating, original_title,
            original_language, release_date, vote_count, popularity, tmdb_id, tmdb_match_confidence,
            tmdb_match_source, tmdb_matched_at, tmdb_metadata, tmdb_metadata_refreshed_at, poster_url,
            localized_name, embedding, embedding_model, embedding_text_hash, source
        ) VALUES (
            $1, $2, $3, $4, $5, coalesce($6, 0), $7, $8, $9, $10, $11, $12, $13, $14, $15, now(), $16::jsonb, now(),
            $17, $1, $18, $19, $20, $21
        )
        ON CONFLICT (tmdb_id) WHERE tmdb_id IS NOT NULL DO NOTHING
        RETURNING id
        """,
        record.name,
        record.normalized_name,
        record.year,
        record.age_rating,
        record.description,
        record.duration,
        record.score_rating,
        record.original_title,
        record.original_language,
        record.release_date,
        record.vote_count,
        record.popularity,
        record.tmdb_id,
        confidence,
        MATCH_SOURCE_OF[source],
        record.metadata.decode(),
        record.poster_url,
        embedding,
        embedding_model,
        embedding_text_hash,
        source,
    )
    return movie_id


async def attach_tmdb_data(
    connection: asyncpg.Connection,
    movie_id: int,
    record: TMDBMovieRecord,
    *,
    source: str | None,
    confidence: Decimal | None,
) -> None:
    """Gives an existing row its TMDB identity and metadata (then re-embed it if its text changed).

    source and confidence None keep the row's own (a metadata refresh of an already matched row).

    Never replaces a value with 0 or empty: a missing runtime, rating, poster or description on
    TMDB's side keeps the row's own.
    """
    await connection.execute(
        """
        UPDATE movies SET
            tmdb_id = $2,
            tmdb_match_confidence = coalesce($3::numeric, tmdb_match_confidence),
            tmdb_match_source = coalesce($4::text, tmdb_match_source),
            tmdb_matched_at = coalesce(tmdb_matched_at, now()),
            tmdb_metadata = $5::jsonb,
            tmdb_metadata_refreshed_at = now(),
            duration = CASE WHEN coalesce($6::int, 0) > 0 THEN $6::int ELSE duration END,
            age_rating = CASE WHEN nullif(btrim(age_rating), '') IS NULL OR age_rating = 'NR'
                              THEN coalesce(nullif($7::text, ''), age_rating) ELSE age_rating END,
            score_rating = coalesce(score_rating, $8::numeric),
            description = CASE WHEN btrim(description) = '' THEN coalesce($9::text, description) ELSE description END,
            original_title = coalesce(nullif($10, ''), original_title),
            original_language = coalesce(nullif($11, ''), original_language),
            release_date = coalesce($12, release_date),
            vote_count = CASE WHEN $13::int > 0 THEN $13::int ELSE vote_count END,
            popularity = CASE WHEN $14::float8 > 0 THEN $14::float8 ELSE popularity END,
            poster_url = coalesce(nullif($15, ''), poster_url),
            localized_name = coalesce(nullif($16, ''), localized_name)
        WHERE id = $1
        """,
        movie_id,
        record.tmdb_id,
        confidence,
        source,
        record.metadata.decode(),
        record.duration,
        record.age_rating if record.age_rating != "NR" else None,
        record.score_rating,
        record.description or None,
        record.original_title,
        record.original_language,
        record.release_date,
        record.vote_count,
        record.popularity,
        record.poster_url,
        record.name,
    )


async def replace_movie_credits(connection: asyncpg.Connection, movie_id: int, record: TMDBMovieRecord) -> None:
    """Upserts the film's people, genres and keywords and makes its joins exactly the record's."""
    people = [*record.cast, *record.directors]
    if people:
        await connection.executemany(
            """
            INSERT INTO catalog_people (tmdb_id, name, profile_path) VALUES ($1, $2, $3)
            ON CONFLICT (tmdb_id) DO UPDATE SET name = excluded.name, profile_path = excluded.profile_path,
                updated_at = now()
            WHERE (catalog_people.name, catalog_people.profile_path)
                  IS DISTINCT FROM (excluded.name, excluded.profile_path)
            """,
            sorted({(p.tmdb_id, p.name, p.profile_path) for p in people}),
        )
    for table, rows in (("catalog_genres", record.genres), ("catalog_keywords", record.keywords)):
        if rows:
            await connection.executemany(
                f"""
                INSERT INTO {table} (tmdb_id, name) VALUES ($1, $2)
                ON CONFLICT (tmdb_id) DO UPDATE SET name = excluded.name, updated_at = now()
                WHERE {table}.name IS DISTINCT FROM excluded.name
                """,
                sorted(set(rows)),
            )
    await connection.execute("DELETE FROM movie_people WHERE movie_id = $1", movie_id)
    await connection.execute("DELETE FROM movie_genres WHERE movie_id = $1", movie_id)
    await connection.execute("DELETE FROM movie_keywords WHERE movie_id = $1", movie_id)
    credits = [(movie_id, p.tmdb_id, "cast", p.order, p.character) for p in record.cast]
    credits += [(movie_id, p.tmdb_id, "director", 0, None) for p in record.directors]
    if credits:
        await connection.executemany(
            'INSERT INTO movie_people (movie_id, person_id, role, "order", character) VALUES ($1, $2, $3, $4, $5)'
            " ON CONFLICT DO NOTHING",
            credits,
        )
    await connection.execute(
        "INSERT INTO movie_genres (movie_id, genre_id) SELECT $1, unnest($2::int[]) ON CONFLICT DO NOTHING",
        movie_id,
        [genre_id for genre_id, _ in record.genres],
    )
    await connection.execute(
        "INSERT INTO movie_keywords (movie_id, keyword_id) SELECT $1, unnest($2::int[]) ON CONFLICT DO NOTHING",
        movie_id,
        [keyword_id for keyword_id, _ in record.keywords],
    )


async def embedding_inputs(connection: asyncpg.Connection, movie_id: int) -> EmbeddingInputs | None:
    """What a row's embedding text is built from, with its genre names and current embedding facts."""
    row = await connection.fetchrow(
        """
        SELECT m.name, m.year, m.age_rating, m.duration, m.score_rating, m.description, m.embedding_model,
               m.embedding_text_hash,
               coalesce(array_agg(g.name ORDER BY g.name) FILTER (WHERE g.name IS NOT NULL), '{}') AS genres
        FROM movies m
        LEFT JOIN movie_genres mg ON mg.movie_id = m.id
        LEFT JOIN catalog_genres g ON g.tmdb_id = mg.genre_id
        WHERE m.id = $1
        GROUP BY m.id
        """,
        movie_id,
    )
    if row is None:
        return None
    return EmbeddingInputs(
        name=row["name"],
        year=row["year"],
        age_rating=row["age_rating"],
        duration=row["duration"],
        score_rating=row["score_rating"],
        description=row["description"],
        genres=tuple(row["genres"]),
        embedding_model=row["embedding_model"],
        embedding_text_hash=row["embedding_text_hash"],
    )


async def set_embedding(
    connection: asyncpg.Connection, movie_id: int, embedding: np.ndarray, model: str, text_hash: str
) -> None:
    await connection.execute(
        "UPDATE movies SET embedding = $2, embedding_model = $3, embedding_text_hash = $4 WHERE id = $1",
        movie_id,
        embedding,
        model,
        text_hash,
    )


async def find_present_title_years(
    connection: asyncpg.Connection, keys: Sequence[tuple[str, int]]
) -> set[tuple[str, int]]:
    """Which (normalised title, year) pairs already have a movie row, whatever its TMDB state."""
    if not keys:
        return set()
    rows = await connection.fetch(
        """
        SELECT DISTINCT m.normalized_name, m.year
        FROM movies m
        JOIN unnest($1::text[], $2::int[]) AS wanted (normalized_name, year)
          ON m.normalized_name = wanted.normalized_name AND m.year = wanted.year
        """,
        [name for name, _ in keys],
        [year for _, year in keys],
    )
    return {(row["normalized_name"], row["year"]) for row in rows}


async def count_embedded_movies(connection: asyncpg.Connection, embedding_model: str) -> int:
    """How many rows this model has embedded (what an index rebuild would cover)."""
    count: int = await connection.fetchval("SELECT count(*) FROM movies WHERE embedding_model = $1", embedding_model)
    return count


_INCOMING_COLUMNS = (
    "name",
    "normalized_name",
    "year",
    "age_rating",
    "description",
    "duration",
    "score_rating",
    "embedding",
    "embedding_text_hash",
)


# Serialises bulk loads, whose index drop and rebuild would otherwise deadlock with each other.
BULK_LOAD_LOCK_KEY = 0x706F705365656442


async def insert_curated_movies(
    connection: asyncpg.Connection,
    movies: Sequence[CuratedMovie],
    embeddings: np.ndarray,
    embedding_model: str,
    text_hashes: Sequence[str],
    *,
    rebuild_index: bool = False,
) -> int:
    """Inserts movies without a TMDB id; a title+year that is already there is skipped. Returns rows inserted.


    Rows travel by binary COPY into a temporary table, then one INSERT … ON CONFLICT DO NOTHING
    against the (normalized_name, year) unique index, so concurrent seeders never duplicate a film.
    With rebuild_index the model's HNSW index is dropped before the insert and rebuilt after it, in
    the same transaction (searches wait for the commit instead of seeing a missing index).
    Must run inside the caller's transaction (the temporary table is dropped at commit).
    """
    if not connection.is_in_transaction():
        raise RuntimeError("insert_curated_movies must run inside a transaction")
    if rebuild_index:
        await connection.execute("SELECT pg_advisory_xact_lock($1)", BULK_LOAD_LOCK_KEY)
        await connection.execute("SELECT drop_embedding_index($1)", embedding_model)
    await connection.execute(
        """
        CREATE TEMPORARY TABLE incoming_curated_movies (
            ord bigserial, name text, normalized_name text, year int, age_rating text,
            description text, duration int, score_rating numeric(3, 1), embedding vector, embedding_text_hash text
        ) ON COMMIT DROP
        """
    )
    records = [
        (
            m.name,
            m.normalized_name,
            m.year,
            m.age_rating,
            m.description,
            m.duration,
            m.score_rating,
            vector,
            digest,
        )
        for m, vector, digest in zip(movies, embeddings, text_hashes, strict=True)
    ]
    await connection.copy_records_to_table("incoming_curated_movies", records=records, columns=_INCOMING_COLUMNS)
    # A stable order (by identity) means concurrent seeders take row locks in the same order.
    inserted: int = await connection.fetchval(
        """
        WITH inserted AS (
            INSERT INTO movies (name, normalized_name, year, age_rating, description, duration,
                                score_rating, embedding, embedding_model, embedding_text_hash, source)
            SELECT name, normalized_name, year, age_rating, description, duration, score_rating, embedding, $1,
                   embedding_text_hash, 'curated_seed'
            FROM incoming_curated_movies
            ORDER BY normalized_name, year
            ON CONFLICT (normalized_name, year) WHERE tmdb_id IS NULL DO NOTHING
            RETURNING 1
        )
        SELECT count(*) FROM inserted
        """,
        embedding_model,
    )
    if rebuild_index:
        await connection.execute("SELECT ensure_embedding_index($1, $2)", embedding_model, embeddings.shape[1])
        # Fresh statistics, so the planner uses the new index instead of guessing from an empty table.
        await connection.execute("ANALYZE movies")
    return inserted


async def store_curated_genres(connection: asyncpg.Connection, movies: Sequence[CuratedMovie]) -> int:
    """Stores the curated films' genres (TMDB genre names) in movie_genres, on their rows without TMDB id
    found by title and year, and on rows that were linked to TMDB since (those keep what TMDB says).
    Safe to repeat: a second seed adds only what is missing. Returns the links added."""
    await connection.execute(
        "INSERT INTO catalog_genres (tmdb_id, name) SELECT * FROM unnest($1::int[], $2::text[]) ON CONFLICT DO NOTHING",
        list(GENRE_IDS.values()),
        list(GENRE_IDS),
    )
    pairs = [(movie.normalized_name, movie.year, GENRE_IDS[genre]) for movie in movies for genre in movie.genres]
    added: int = await connection.fetchval(
        """
        WITH wanted (normalized_name, year, genre_id) AS (SELECT * FROM unnest($1::text[], $2::int[], $3::int[])),
        inserted AS (
            INSERT INTO movie_genres (movie_id, genre_id)
            SELECT m.id, wanted.genre_id
            FROM wanted
            JOIN movies m ON m.normalized_name = wanted.normalized_name AND m.year = wanted.year
                         AND m.tmdb_id IS NULL
            ORDER BY m.id, wanted.genre_id
            ON CONFLICT DO NOTHING
            RETURNING 1
        )
        SELECT count(*) FROM inserted
        """,
        [name for name, _, _ in pairs],
        [year for _, year, _ in pairs],
        [genre for _, _, genre in pairs],
    )
    return added


async def search_titles(
    executor: Executor, query: str, *, limit: int = 10, offset: int = 0, min_similarity: float = 0.2
) -> list[TitleMatch]:
    """Catalog films by title, typo- and accent-tolerant, best match first (index-backed, db/init/016).

    The query is normalised and cut into trigrams as titles are; films sharing the most trigrams are
    ranked by Jaccard similarity (at least min_similarity), then by how many people voted for them.
    Parameterised: the query is data, never SQL.
    """
    rows = await executor.fetch(
        """
        WITH q AS (SELECT title_trigrams($1) AS trigrams),
        hits AS (
            SELECT t.movie_id, count(*) AS shared
            FROM movie_title_trigrams t, q
            WHERE t.trigram = ANY(q.trigrams)
            GROUP BY t.movie_id
            ORDER BY shared DESC, t.movie_id
            LIMIT 50
        )
        SELECT * FROM (
            SELECT m.id, m.name, m.year,
                   hits.shared::float8 / (
                       cardinality(q.trigrams)
                       + (SELECT count(*) FROM movie_title_trigrams own WHERE own.movie_id = m.id)
                       - hits.shared
                   ) AS similarity,
                   ARRAY(SELECT g.name FROM movie_genres mg JOIN catalog_genres g ON g.tmdb_id = mg.genre_id
                         WHERE mg.movie_id = m.id ORDER BY g.name) AS genres,
                   m.vote_count
            FROM hits JOIN movies m ON m.id = hits.movie_id, q
        ) AS found
        WHERE found.similarity >= $4
        ORDER BY found.similarity DESC, found.vote_count DESC NULLS LAST, found.id
        LIMIT $2 OFFSET $3
        """,
        query,
        limit,
        offset,
        min_similarity,
    )
    return [TitleMatch(row[0], row[1], row[2], row[3], tuple(row[4])) for row in rows]


async def resolve_title(
    executor: Executor,
    title: str,
    year: int | None,
    *,
    min_similarity: float = 0.5,
    min_similarity_with_year: float = 0.3,
) -> TitleMatch | None:
    """The catalog film a typed title means: the same normalised title (and year, when given) first,
    else the most similar title above min_similarity; a year given must match then too, and as the
    year is strong evidence, a looser min_similarity_with_year is enough ("Seven (1995)" is Se7en)."""
    exact = await executor.fetch(
        """
        SELECT m.id, m.name, m.year,
               ARRAY(SELECT g.name FROM movie_genres mg JOIN catalog_genres g ON g.tmdb_id = mg.genre_id
                     WHERE mg.movie_id = m.id ORDER BY g.name) AS genres
        FROM movies m
        WHERE m.normalized_name = normalize_title($1) AND ($2::int IS NULL OR m.year = $2)
        ORDER BY m.vote_count DESC NULLS LAST, m.tmdb_id IS NULL, m.id
        LIMIT 1
        """,
        title,
        year,
    )
    if exact:
        row = exact[0]
        return TitleMatch(row[0], row[1], row[2], 1.0, tuple(row[3]))
    threshold = min_similarity if year is None else min_similarity_with_year
    for match in await search_titles(executor, title, limit=10, min_similarity=threshold):
        if year is None or match.year == year:
            return match
    return None


async def active_embedding_model(executor: Executor) -> str | None:
    """The embedding model searches compare (None before popchoice-migrate activated one)."""
    model: str | None = await executor.fetchval("SELECT model FROM embedding_models WHERE active")
    return model
