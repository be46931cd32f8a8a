"""Recommendation SQL: the recommendations, their picks, the person's memory and the catalog searches the
recommender runs. Shared by the gateway and the recommender; functions take a connection (or pool)
and never commit: callers own the transactions."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any, TypeAlias

import asyncpg
import msgspec
import numpy as np

from popchoice_common.recommendation.records import (
    RECOMMENDATION_COLUMNS,
    CandidateFilters,
    CandidateRow,
    MovieMatch,
    RecommendationRow,
    StoredPick,
    UserMemory,
)

Executor: TypeAlias = asyncpg.Connection | asyncpg.Pool
_PICKS = msgspec.json.Decoder(list[StoredPick])


async def create_recommendation(
    connection: asyncpg.Connection,
    *,
    slug: str,
    quiz_data: Any,
    locale: str,
    user_id: uuid.UUID | None,
) -> uuid.UUID:
    recommendation_id: uuid.UUID = await connection.fetchval(
        "INSERT INTO recommendations (slug, quiz_data, locale, user_id) VALUES ($1, $2::jsonb, $3, $4) RETURNING id",
        slug,
        json.dumps(quiz_data),
        locale,
        user_id,
    )
    return recommendation_id


async def delete_recommendation(connection: asyncpg.Connection, recommendation_id: uuid.UUID) -> None:
    await connection.execute("DELETE FROM recommendations WHERE id = $1", recommendation_id)


def _lookup(id_or_slug: str) -> tuple[str, uuid.UUID | str]:
    """The column and value that find a recommendation by UUID or by slug."""
    try:
        return "id", uuid.UUID(id_or_slug)
    except ValueError:
        return "slug", id_or_slug


def _recommendation(row: asyncpg.Record | None) -> RecommendationRow | None:
    return RecommendationRow(*row.values()) if row is not None else None


async def get_recommendation(connection: asyncpg.Connection, id_or_slug: str) -> RecommendationRow | None:
    """By UUID or by slug."""
    column, value = _lookup(id_or_slug)
    return _recommendation(
        await connection.fetchrow(f"SELECT {RECOMMENDATION_COLUMNS} FROM recommendations WHERE {column} = $1", value)
    )


async def get_recommendation_with_movies(
    connection: asyncpg.Connection, id_or_slug: str
) -> tuple[RecommendationRow, list[StoredPick]] | None:
    """By UUID or by slug, with its picks (batch by batch, in order) in the same round trip."""
    column, value = _lookup(id_or_slug)
    row: asyncpg.Record | None = await connection.fetchrow(
        f"""
        SELECT {RECOMMENDATION_COLUMNS}, coalesce(
            (SELECT json_agg(json_build_object({_PICK_JSON_FIELDS}) ORDER BY m.batch, m.position)
             FROM recommendation_movies m WHERE m.recommendation_id = r.id),
            '[]') AS movies
        FROM recommendations r WHERE r.{column} = $1
        """,
        value,
    )
    if row is None:
        return None
    values = list(row.values())
    return RecommendationRow(*values[:-1]), _PICKS.decode(values[-1])


async def unfinished_recommendation(
    connection: asyncpg.Connection, recommendation_id: uuid.UUID
) -> RecommendationRow | None:
    """The recommendation if it is still pending or processing (None: unknown, completed or failed).

    A read, not a claim: the run's stages (preparing first) are written as they last, and a
    redelivered job of a finished recommendation finds nothing to do.
    """
    return _recommendation(
        await connection.fetchrow(
            f"SELECT {RECOMMENDATION_COLUMNS} FROM recommendations"
            " WHERE id = $1 AND status IN ('pending', 'processing')",
            recommendation_id,
        )
    )


async def set_stage(
    connection: asyncpg.Connection, recommendation_id: uuid.UUID, stage: str, *, status: str = "processing"
) -> None:
    """Moves a pending or processing recommendation to a stage (a finished one is never reopened)."""
    await connection.execute(
        "UPDATE recommendations SET stage = $2, status = $3 WHERE id = $1 AND status IN ('pending', 'processing')",
        recommendation_id,
        stage,
        status,
    )


_PICK_COLUMNS = ", ".join(StoredPick.__struct_fields__)
# Each pick read back as one JSON object with StoredPick's fields.
_PICK_JSON_FIELDS = ", ".join(f"'{name}', m.{name}" for name in StoredPick.__struct_fields__)
# The picks travel as one JSON array of StoredPick objects (one parameter to encode, not sixteen arrays).
_PICK_RECORDS = (
    "jsonb_to_recordset($2::jsonb) AS p(batch int, position int, is_main_recommendation bool, movie_key text,"
    " movie_id bigint, tmdb_id int, name text, year int, similarity float8, from_tmdb bool, ai_description text,"
    " poster_url text, localized_name text, score_rating numeric, duration int, age_rating text, why text)"
)
_PICK_ENCODER = msgspec.json.Encoder(decimal_format="number")


def _picks_json(picks: Sequence[StoredPick]) -> str:
    return _PICK_ENCODER.encode(list(picks)).decode()


async def store_batch(
    connection: asyncpg.Connection,
    recommendation_id: uuid.UUID,
    picks: Sequence[StoredPick],
    *,
    complete: tuple[bool, int] | None,
) -> bool:
    """One statement (one round trip, atomic): stores a batch's picks and marks the recommendation
    completed (complete = (used_broader_search, db_movie_count)) or, for complete None, the more-picks batch done.

    The first batch is stored only while the recommendation is pending or processing: a redelivered
    job of a recommendation that completed (or failed) meanwhile stores nothing. Picks already stored
    for a batch are kept (ON CONFLICT DO NOTHING), so a more-picks job repeated after it got this far
    stores nothing twice. Returns whether the recommendation was changed (False: unknown, or its
    first batch already finished).
    """
    if complete is not None:
        stored: bool = await connection.fetchval(
            f"""
            WITH finished AS (
                UPDATE recommendations SET status = 'completed', stage = 'complete', completed_at = now(),
                    error = NULL, used_broader_search = $3, db_movie_count = $4
                WHERE id = $1 AND status IN ('pending', 'processing')
                RETURNING id
            ), added AS (
                INSERT INTO recommendation_movies (recommendation_id, {_PICK_COLUMNS})
                SELECT finished.id, p.* FROM finished, {_PICK_RECORDS}
                ON CONFLICT DO NOTHING
            )
            SELECT EXISTS (SELECT 1 FROM finished)
            """,
            recommendation_id,
            _picks_json(picks),
            complete[0],
            complete[1],
        )
        return stored
    changed = await connection.fetchval(
        f"""
        WITH added AS (
            INSERT INTO recommendation_movies (recommendation_id, {_PICK_COLUMNS})
            SELECT $1, p.* FROM {_PICK_RECORDS}
            ON CONFLICT DO NOTHING
        )
        UPDATE recommendations SET more_picks_status = 'completed' WHERE id = $1 RETURNING true
        """,
        recommendation_id,
        _picks_json(picks),
    )
    return bool(changed)


async def unfinished_recommendations(
    executor: Executor, *, idle_seconds: float, limit: int = 200
) -> list[tuple[RecommendationRow, int | None]]:
    """Recommendations left pending or processing, and more-picks batches left pending or processing,
    untouched for idle_seconds (and less than a day old): each with None for the first picks or the
    batch number of the unfinished batch. The sweeper re-queues those whose job is gone."""
    rows = await executor.fetch(
        f"""
        SELECT {RECOMMENDATION_COLUMNS},
               CASE WHEN status = 'completed' THEN
                   (SELECT coalesce(max(m.batch), 0) + 1 FROM recommendation_movies m WHERE m.recommendation_id = r.id)
               END AS batch
        FROM recommendations r
        WHERE (status IN ('pending', 'processing')
               OR (status = 'completed' AND more_picks_status IN ('pending', 'processing')))
          AND updated_at < now() - make_interval(secs => $1)
          AND created_at > now() - interval '1 day'
        ORDER BY updated_at
        LIMIT $2
        """,
        idle_seconds,
        limit,
    )
    return [(RecommendationRow(*tuple(row.values())[:-1]), row["batch"]) for row in rows]


async def fail_recommendation(connection: asyncpg.Connection, recommendation_id: uuid.UUID, error: str) -> None:
    await connection.execute(
        "UPDATE recommendations SET status = 'failed', stage = 'failed', error = $2, completed_at = now()"
        " WHERE id = $1 AND status <> 'completed'",
        recommendation_id,
        error,
    )


async def claim_more_picks(connection: asyncpg.Connection, recommendation_id: uuid.UUID) -> int | None:
    """Atomically claims the next batch of a completed recommendation; None when one runs or it is not done."""
    batch: int | None = await connection.fetchval(
        """
        UPDATE recommendations r SET more_picks_status = 'pending'
        WHERE r.id = $1 AND r.status = 'completed'
          AND (r.more_picks_status IS NULL OR r.more_picks_status IN ('completed', 'failed'))
        RETURNING (SELECT coalesce(max(batch), 0) + 1 FROM recommendation_movies m WHERE m.recommendation_id = r.id)
        """,
        recommendation_id,
    )
    return batch


async def set_more_picks_status(connection: asyncpg.Connection, recommendation_id: uuid.UUID, status: str) -> None:
    await connection.execute(
        "UPDATE recommendations SET more_picks_status = $2 WHERE id = $1", recommendation_id, status
    )


async def batch_stored(connection: asyncpg.Connection, recommendation_id: uuid.UUID, batch: int) -> bool:
    """Whether batch n of the recommendation's picks is stored."""
    return bool(
        await connection.fetchval(
            "SELECT EXISTS (SELECT 1 FROM recommendation_movies WHERE recommendation_id = $1 AND batch = $2)",
            recommendation_id,
            batch,
        )
    )


async def shown_movie_keys(connection: asyncpg.Connection, recommendation_id: uuid.UUID) -> set[str]:
    rows = await connection.fetch(
        "SELECT movie_key FROM recommendation_movies WHERE recommendation_id = $1", recommendation_id
    )
    return {row["movie_key"] for row in rows}


async def user_memory(connection: asyncpg.Connection, user_id: uuid.UUID, *, recent_days: int) -> UserMemory:
    """Watched, not interested, feedback that rules a film out, films recommended recently, wrong-mood
    films and liked films (those in the catalog, as anchors)."""
    rows = await connection.fetch(
        """
        SELECT movie_key, 'exclude' AS effect, NULL::bigint AS movie_id FROM user_movie_interactions
            WHERE user_id = $1 AND kind IN ('watched', 'not_interested')
        UNION ALL
        SELECT movie_key, 'wrong_mood', NULL FROM user_movie_interactions WHERE user_id = $1 AND kind = 'wrong_mood'
        UNION ALL
        SELECT i.movie_key, 'liked', film.id FROM user_movie_interactions i
            CROSS JOIN LATERAL (
                SELECT m.id FROM movies m
                WHERE m.tmdb_id = coalesce(
                    i.tmdb_id, CASE WHEN i.movie_key LIKE 'tmdb:%' THEN split_part(i.movie_key, ':', 2)::int END)
                UNION ALL
                SELECT m.id FROM movies m
                WHERE i.movie_key LIKE 'title:%' AND m.normalized_name = normalize_title(i.movie_name)
                  AND m.year IS NOT DISTINCT FROM i.movie_year
                LIMIT 1
            ) AS film
            WHERE i.user_id = $1 AND i.kind = 'liked'
        UNION ALL
        SELECT f.movie_key, CASE WHEN f.kind = 'wrong_mood' THEN 'wrong_mood' ELSE 'exclude' END, NULL
            FROM recommendation_feedback f
            WHERE f.user_id = $1 AND f.kind IN ('already_watched', 'too_obvious', 'too_obscure', 'wrong_mood')
        UNION ALL
        SELECT m.movie_key, 'recent', NULL FROM recommendation_movies m
            JOIN recommendations r ON r.id = m.recommendation_id
            WHERE r.user_id = $1 AND r.created_at > now() - make_interval(days => $2)
        """,
        user_id,
        recent_days,
    )
    excluded = frozenset(row[0] for row in rows if row[1] == "exclude")
    wrong_mood = frozenset(row[0] for row in rows if row[1] == "wrong_mood")
    recent = frozenset(row[0] for row in rows if row[1] == "recent")
    liked = tuple(dict.fromkeys(row[2] for row in rows if row[1] == "liked"))
    return UserMemory(excluded, wrong_mood - excluded, recent - excluded, liked)


async def match_movies(executor: Executor, embedding: np.ndarray, *, threshold: float, count: int) -> list[MovieMatch]:
    """The catalog's nearest films to an embedding (active model only), best first, with what a pick
    shows: match_movie_picks, the request path's form of match_movies (db/functions/30_vector_search.sql)."""
    rows = await executor.fetch("SELECT * FROM match_movie_picks($1, $2, $3)", embedding, threshold, count)
    return [MovieMatch(*row) for row in rows]


async def match_candidates(
    executor: Executor, embedding: np.ndarray, *, anchor_ids: Sequence[int], count: int, filters: CandidateFilters
) -> list[CandidateRow]:
    """The films nearest the quiz text and nearest each anchor film that meet every filter, inside the
    vector search (match_movie_candidates, db/functions/30_vector_search.sql)."""
    rows = await executor.fetch(
        "SELECT * FROM match_movie_candidates($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        embedding,
        list(anchor_ids),
        count,
        filters.min_year,
        filters.max_year,
        list(filters.wanted_genre_ids) or None,
        list(filters.forbidden_genre_ids) or None,
        list(filters.allowed_age_ratings) if filters.allowed_age_ratings is not None else None,
        filters.max_runtime,
        list(filters.excluded_ids) or None,
    )
    found = []
    for row in rows:
        values = list(row.values())
        values[-1] = tuple(values[-1])
        found.append(CandidateRow(*values))
    return found
