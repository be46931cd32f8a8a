"""SQL of the curated seed. Functions take a connection; the caller owns the transaction."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg
import numpy as np

from popchoice_catalog_seeder.movies_file import CuratedMovie


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
        (m.name, m.normalized_name, m.year, m.age_rating, m.description, m.duration, m.score_rating, vector, digest)
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
