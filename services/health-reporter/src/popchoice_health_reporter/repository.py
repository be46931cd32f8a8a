"""SQL of the catalog health report. Functions take a connection; the caller owns the transaction.

Every query only reads. Predicates and column names below are constants of this module, never input;
every value (limits, days, roles) travels as a query parameter.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

from popchoice_common.catalog.sources import MOVIE_SOURCES
from popchoice_health_reporter.report import CatalogSummary, Defects, DuplicateGroup, MovieRef, MovieSample


async def snapshot_time(connection: asyncpg.Connection) -> datetime:
    """The current transaction's start time: the moment the report describes."""
    moment: datetime = await connection.fetchval("SELECT now()")
    return moment


async def catalog_summary(connection: asyncpg.Connection) -> CatalogSummary:
    """How many movies there are, how many carry an embedding and by which model, and where they came from."""
    total: int = await connection.fetchval("SELECT count(*) FROM movies")
    # Counts stay dicts: their keys (sources, model names) are data, not columns.
    by_source: dict[str, int] = dict.fromkeys(MOVIE_SOURCES, 0)
    for row in await connection.fetch("SELECT source, count(*) AS movies FROM movies GROUP BY source ORDER BY source"):
        by_source[row["source"]] = row["movies"]
    rows = await connection.fetch(
        """
        SELECT embedding_model, count(*) AS movies
        FROM movies
        WHERE embedding IS NOT NULL
        GROUP BY embedding_model
        ORDER BY count(*) DESC, embedding_model
        """
    )
    by_model = {row["embedding_model"]: row["movies"] for row in rows}
    return CatalogSummary(
        total_movies=total,
        embedded_movies=sum(by_model.values()),
        movies_by_embedding_model=by_model,
        movies_by_source=by_source,
    )


async def _movies_where(
    connection: asyncpg.Connection, predicate: str, field: str, *params: object, limit: int
) -> Defects:
    """Counts the movies (alias ``m``) matching predicate and lists the first ``limit`` by id with ``m.<field>``."""
    count: int = await connection.fetchval(f"SELECT count(*) FROM movies m WHERE {predicate}", *params)
    rows = await connection.fetch(
        f"SELECT m.id, m.name, m.year, m.{field} AS value FROM movies m WHERE {predicate}"
        f" ORDER BY m.id LIMIT ${len(params) + 1}",
        *params,
        limit,
    )
    samples = tuple(
        MovieSample(id=row["id"], name=row["name"], year=row["year"], field=field, value=row["value"]) for row in rows
    )
    return Defects(count=count, samples=samples)


async def movies_missing_poster_url(connection: asyncpg.Connection, *, limit: int) -> Defects:
    """Movies whose poster URL is null or blank."""
    return await _movies_where(
        connection, "m.poster_url IS NULL OR btrim(m.poster_url) = ''", "poster_url", limit=limit
    )


async def movies_missing_localized_name(connection: asyncpg.Connection, *, limit: int) -> Defects:
    """Movies whose localized name is null or blank."""
    return await _movies_where(
        connection, "m.localized_name IS NULL OR btrim(m.localized_name) = ''", "localized_name", limit=limit
    )


async def movies_missing_tmdb_id(connection: asyncpg.Connection, *, limit: int) -> Defects:
    """Movies not linked to TMDB."""
    return await _movies_where(connection, "m.tmdb_id IS NULL", "tmdb_id", limit=limit)


async def movies_missing_runtime(connection: asyncpg.Connection, *, limit: int) -> Defects:
    """Movies whose duration is 0 (unknown runtime)."""
    return await _movies_where(connection, "m.duration = 0", "duration", limit=limit)


async def movies_missing_age_rating(connection: asyncpg.Connection, *, limit: int) -> Defects:
    """Movies whose age rating is null or blank."""
    return await _movies_where(
        connection, "m.age_rating IS NULL OR btrim(m.age_rating) = ''", "age_rating", limit=limit
    )


async def movies_missing_match_timestamp(connection: asyncpg.Connection, *, limit: int) -> Defects:
    """TMDB-linked movies that do not record when they were matched."""
    return await _movies_where(
        connection, "m.tmdb_id IS NOT NULL AND m.tmdb_matched_at IS NULL", "tmdb_id", limit=limit
    )


async def movies_with_stale_tmdb_metadata(connection: asyncpg.Connection, *, stale_days: int, limit: int) -> Defects:
    """TMDB-linked movies whose metadata was never refreshed, or last refreshed more than stale_days ago."""
    return await _movies_where(
        connection,
        "m.tmdb_id IS NOT NULL AND (m.tmdb_metadata_refreshed_at IS NULL"
        " OR m.tmdb_metadata_refreshed_at < now() - make_interval(days => $1))",
        "tmdb_metadata_refreshed_at",
        stale_days,
        limit=limit,
    )


async def tmdb_movies_without_credit(connection: asyncpg.Connection, role: str, *, limit: int) -> Defects:
    """TMDB-linked movies with no movie_people row of this role ('cast' or 'director')."""
    return await _movies_where(
        connection,
        "m.tmdb_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM movie_people p WHERE p.movie_id = m.id AND p.role = $1)",
        "tmdb_id",
        role,
        limit=limit,
    )


async def movies_without_genres(connection: asyncpg.Connection, *, limit: int) -> Defects:
    """Movies with no genre, curated or from TMDB (the recommender's mood and exclusion filters need them)."""
    return await _movies_where(
        connection,
        "NOT EXISTS (SELECT 1 FROM movie_genres g WHERE g.movie_id = m.id)",
        "tmdb_id",
        limit=limit,
    )


async def tmdb_movies_without_keywords(connection: asyncpg.Connection, *, limit: int) -> Defects:
    """TMDB-linked movies with no keyword."""
    return await _movies_where(
        connection,
        "m.tmdb_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM movie_keywords k WHERE k.movie_id = m.id)",
        "tmdb_id",
        limit=limit,
    )


def _movie_refs(row: asyncpg.Record) -> tuple[MovieRef, ...]:
    return tuple(
        MovieRef(id=movie_id, name=name, year=year)
        for movie_id, name, year in zip(row["ids"], row["names"], row["years"], strict=True)
    )


async def duplicate_tmdb_ids(connection: asyncpg.Connection, *, limit: int) -> Defects:
    """TMDB ids carried by more than one movie; the count is of ids, each sample one id with its movies.

    The unique index movies_tmdb_id_key forbids this, but a database restored without it may not.
    """
    groups = """
        SELECT tmdb_id, array_agg(id ORDER BY id) AS ids, array_agg(name ORDER BY id) AS names,
               array_agg(year ORDER BY id) AS years
        FROM movies
        WHERE tmdb_id IS NOT NULL
        GROUP BY tmdb_id
        HAVING count(*) > 1
    """
    count: int = await connection.fetchval(f"SELECT count(*) FROM ({groups}) AS duplicate_groups")
    rows = await connection.fetch(f"{groups} ORDER BY tmdb_id LIMIT $1", limit)
    samples = tuple(DuplicateGroup(key={"tmdb_id": row["tmdb_id"]}, movies=_movie_refs(row)) for row in rows)
    return Defects(count=count, samples=samples)


async def duplicate_title_years(connection: asyncpg.Connection, *, limit: int) -> Defects:
    """(normalised title, year) pairs carried by more than one movie; the count is of pairs.

    Movies without a year count as sharing the same (unknown) year, as in the movies_title_year_key index.
    """
    groups = """
        SELECT normalized_name, year, array_agg(id ORDER BY id) AS ids, array_agg(name ORDER BY id) AS names,
               array_agg(year ORDER BY id) AS years
        FROM movies
        GROUP BY normalized_name, year
        HAVING count(*) > 1
    """
    count: int = await connection.fetchval(f"SELECT count(*) FROM ({groups}) AS duplicate_groups")
    rows = await connection.fetch(f"{groups} ORDER BY normalized_name, year NULLS LAST LIMIT $1", limit)
    samples = tuple(
        DuplicateGroup(key={"normalized_name": row["normalized_name"], "year": row["year"]}, movies=_movie_refs(row))
        for row in rows
    )
    return Defects(count=count, samples=samples)
