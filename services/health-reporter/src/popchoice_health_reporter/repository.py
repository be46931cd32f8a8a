"""SQL of the catalog health report. Functions take a connection; the caller owns the transaction.

Every query only reads. Predicates and column names below are constants of this module, never input;
every value (limits, days, roles) travels as a query parameter.
"""

from __future__ import annotations

import json
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


# The operator console's SQL: the movie page, match reviews, repairs and the audit.


async def movie_page(connection: asyncpg.Connection, movie_id: int) -> dict[str, object] | None:
    """The movie's row (without its vector), genres, people, keywords and how often it was recommended."""
    row = await connection.fetchrow(
        """
        SELECT id, name, year, age_rating, description, duration, score_rating, original_title,
               original_language, release_date, vote_count, popularity, tmdb_id, tmdb_match_confidence,
               tmdb_match_source, tmdb_matched_at, tmdb_metadata, tmdb_metadata_refreshed_at, poster_url,
               localized_name, embedding_model, embedded_at, source, backfill_checked_at, backfill_note,
               created_at, updated_at
        FROM movies WHERE id = $1
        """,
        movie_id,
    )
    if row is None:
        return None
    genres = await connection.fetch(
        "SELECT g.name FROM movie_genres mg JOIN catalog_genres g ON g.tmdb_id = mg.genre_id"
        " WHERE mg.movie_id = $1 ORDER BY g.name",
        movie_id,
    )
    people = await connection.fetch(
        "SELECT p.name, mp.role, mp.character FROM movie_people mp JOIN catalog_people p ON p.tmdb_id = mp.person_id"
        ' WHERE mp.movie_id = $1 ORDER BY mp.role DESC, mp."order", p.name',
        movie_id,
    )
    keywords = await connection.fetch(
        "SELECT k.name FROM movie_keywords mk JOIN catalog_keywords k ON k.tmdb_id = mk.keyword_id"
        " WHERE mk.movie_id = $1 ORDER BY k.name",
        movie_id,
    )
    recommended = await connection.fetchrow(
        "SELECT count(*) AS times, max(created_at) AS last FROM recommendation_movies WHERE movie_id = $1", movie_id
    )
    reviews = await connection.fetch(
        "SELECT id, reason, status, created_at FROM tmdb_match_reviews WHERE movie_id = $1 ORDER BY id", movie_id
    )
    return {
        "movie": dict(row),
        "genres": [record["name"] for record in genres],
        "people": [dict(record) for record in people],
        "keywords": [record["name"] for record in keywords],
        "recommended_times": recommended["times"] if recommended else 0,
        "recommended_last": recommended["last"] if recommended else None,
        "reviews": [dict(record) for record in reviews],
    }


async def movie_brief(connection: asyncpg.Connection, movie_id: int) -> asyncpg.Record | None:
    return await connection.fetchrow(
        "SELECT id, name, year, duration, description, poster_url, tmdb_id, tmdb_match_source FROM movies"
        " WHERE id = $1",
        movie_id,
    )


async def movie_id_with_tmdb_id(connection: asyncpg.Connection, tmdb_id: int) -> int | None:
    movie_id: int | None = await connection.fetchval("SELECT id FROM movies WHERE tmdb_id = $1", tmdb_id)
    return movie_id


async def link_tmdb_id(connection: asyncpg.Connection, movie_id: int, tmdb_id: int) -> None:
    """An operator's link: the movie carries this TMDB id, matched by hand now (metadata follows by backfill)."""
    await connection.execute(
        "UPDATE movies SET tmdb_id = $2, tmdb_match_source = 'manual', tmdb_match_confidence = NULL,"
        " tmdb_matched_at = now() WHERE id = $1",
        movie_id,
        tmdb_id,
    )


async def review_counts(connection: asyncpg.Connection) -> dict[str, int]:
    rows = await connection.fetch("SELECT status, count(*) AS reviews FROM tmdb_match_reviews GROUP BY status")
    counts = dict.fromkeys(("open", "deferred", "resolved", "ignored"), 0)
    counts.update({row["status"]: row["reviews"] for row in rows})
    return counts


async def reviews_by_status(
    connection: asyncpg.Connection, status: str, *, limit: int, offset: int
) -> list[asyncpg.Record]:
    """Reviews of a status, oldest first, each with its movie's current row."""
    return await connection.fetch(
        """
        SELECT r.id, r.movie_id, r.movie_name, r.movie_year, r.reason, r.status, r.candidates, r.notes,
               r.created_at, m.duration, m.description, m.poster_url, m.tmdb_id
        FROM tmdb_match_reviews r JOIN movies m ON m.id = r.movie_id
        WHERE r.status = $1
        ORDER BY r.created_at, r.id
        LIMIT $2 OFFSET $3
        """,
        status,
        limit,
        offset,
    )


async def review_for_update(connection: asyncpg.Connection, review_id: int) -> asyncpg.Record | None:
    """The review, locked until the transaction ends (two operators deciding at once: the second waits)."""
    return await connection.fetchrow(
        "SELECT id, movie_id, movie_name, movie_year, reason, status, candidates FROM tmdb_match_reviews"
        " WHERE id = $1 FOR UPDATE",
        review_id,
    )


async def set_review_status(
    connection: asyncpg.Connection,
    review_id: int,
    *,
    action: str,
    from_status: str,
    to_status: str,
    actor: str,
    notes: str | None,
    details: dict[str, object],
) -> None:
    await connection.execute(
        "UPDATE tmdb_match_reviews SET status = $2,"
        " resolved_at = CASE WHEN $2 IN ('resolved', 'ignored') THEN now() ELSE NULL END WHERE id = $1",
        review_id,
        to_status,
    )
    await connection.execute(
        "INSERT INTO tmdb_match_review_audit (review_id, action, from_status, to_status, actor, notes, details)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)",
        review_id,
        action,
        from_status,
        to_status,
        actor,
        notes,
        json.dumps(details),
    )


async def insert_audit(connection: asyncpg.Connection, *, actor: str, action: str, target: str, before: object) -> int:
    audit_id: int = await connection.fetchval(
        "INSERT INTO operator_audit (actor, action, target, before) VALUES ($1, $2, $3, $4::jsonb) RETURNING id",
        actor,
        action,
        target,
        json.dumps(before, default=str),
    )
    return audit_id


async def complete_audit(connection: asyncpg.Connection, audit_id: int, after: object) -> None:
    await connection.execute(
        "UPDATE operator_audit SET after = $2::jsonb WHERE id = $1", audit_id, json.dumps(after, default=str)
    )


async def recent_audit(connection: asyncpg.Connection, *, limit: int) -> list[asyncpg.Record]:
    return await connection.fetch(
        "SELECT id, actor, action, target, before, after, created_at FROM operator_audit ORDER BY id DESC LIMIT $1",
        limit,
    )


async def movie_ids_of_finding_missing_tmdb(connection: asyncpg.Connection, *, limit: int) -> list[int]:
    """Movies without a TMDB id (the missing_tmdb_id finding), not under an open or deferred review."""
    rows = await connection.fetch(
        """
        SELECT m.id FROM movies m
        WHERE m.tmdb_id IS NULL
          AND NOT EXISTS (
              SELECT 1 FROM tmdb_match_reviews r WHERE r.movie_id = m.id AND r.status IN ('open', 'deferred'))
        ORDER BY m.id LIMIT $1
        """,
        limit,
    )
    return [row["id"] for row in rows]


async def audit_row(connection: asyncpg.Connection, audit_id: int) -> asyncpg.Record | None:
    return await connection.fetchrow(
        "SELECT id, actor, action, target, after, created_at FROM operator_audit WHERE id = $1", audit_id
    )


async def review_detail(connection: asyncpg.Connection, review_id: int) -> asyncpg.Record | None:
    """A review with its movie's current row beside it."""
    return await connection.fetchrow(
        """
        SELECT r.id, r.movie_id, r.movie_name, r.movie_year, r.reason, r.status, r.candidates, r.notes,
               r.created_at, r.resolved_at, m.name, m.year, m.duration, m.description, m.poster_url, m.tmdb_id
        FROM tmdb_match_reviews r JOIN movies m ON m.id = r.movie_id
        WHERE r.id = $1
        """,
        review_id,
    )


async def review_audit(connection: asyncpg.Connection, review_id: int) -> list[asyncpg.Record]:
    return await connection.fetch(
        "SELECT action, from_status, to_status, actor, notes, created_at FROM tmdb_match_review_audit"
        " WHERE review_id = $1 ORDER BY id",
        review_id,
    )
