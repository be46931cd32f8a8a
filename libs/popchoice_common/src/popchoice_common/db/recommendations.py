"""Recommendation SQL shared by the gateway and the recommender. Callers own the transactions."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg


@dataclass(frozen=True, slots=True)
class StoredPick:
    batch: int
    position: int
    is_main_recommendation: bool
    movie_key: str
    movie_id: int | None
    tmdb_id: int | None
    name: str
    year: int | None
    similarity: float | None
    from_tmdb: bool
    ai_description: str | None
    poster_url: str | None
    localized_name: str | None
    score_rating: Any
    duration: int | None
    age_rating: str | None


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


async def get_recommendation(connection: asyncpg.Connection, id_or_slug: str) -> asyncpg.Record | None:
    """By UUID or by slug."""
    try:
        recommendation_id = uuid.UUID(id_or_slug)
    except ValueError:
        by_slug: asyncpg.Record | None = await connection.fetchrow(
            "SELECT * FROM recommendations WHERE slug = $1", id_or_slug
        )
        return by_slug
    by_id: asyncpg.Record | None = await connection.fetchrow(
        "SELECT * FROM recommendations WHERE id = $1", recommendation_id
    )
    return by_id


async def recommendation_movies(connection: asyncpg.Connection, recommendation_id: uuid.UUID) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await connection.fetch(
        "SELECT * FROM recommendation_movies WHERE recommendation_id = $1 ORDER BY batch, position",
        recommendation_id,
    )
    return rows


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


async def store_picks(
    connection: asyncpg.Connection, recommendation_id: uuid.UUID, picks: Sequence[StoredPick]
) -> None:
    """Writes a batch of picks; a batch already stored (a redelivered job) is replaced, not duplicated."""
    batches = sorted({pick.batch for pick in picks})
    await connection.execute(
        "DELETE FROM recommendation_movies WHERE recommendation_id = $1 AND batch = ANY($2::int[])",
        recommendation_id,
        batches,
    )
    await connection.executemany(
        """
        INSERT INTO recommendation_movies (
            recommendation_id, batch, position, is_main_recommendation, movie_key, movie_id, tmdb_id, name, year,
            similarity, from_tmdb, ai_description, poster_url, localized_name, score_rating, duration, age_rating
        ) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
        """,
        [
            (
                recommendation_id,
                pick.batch,
                pick.position,
                pick.is_main_recommendation,
                pick.movie_key,
                pick.movie_id,
                pick.tmdb_id,
                pick.name,
                pick.year,
                pick.similarity,
                pick.from_tmdb,
                pick.ai_description,
                pick.poster_url,
                pick.localized_name,
                pick.score_rating,
                pick.duration,
                pick.age_rating,
            )
            for pick in picks
        ],
    )


async def complete_recommendation(
    connection: asyncpg.Connection, recommendation_id: uuid.UUID, *, used_broader_search: bool, db_movie_count: int
) -> None:
    await connection.execute(
        """
        UPDATE recommendations SET status = 'completed', stage = 'complete', completed_at = now(), error = NULL,
            used_broader_search = $2, db_movie_count = $3
        WHERE id = $1
        """,
        recommendation_id,
        used_broader_search,
        db_movie_count,
    )


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


async def shown_movie_keys(connection: asyncpg.Connection, recommendation_id: uuid.UUID) -> set[str]:
    rows = await connection.fetch(
        "SELECT movie_key FROM recommendation_movies WHERE recommendation_id = $1", recommendation_id
    )
    return {row["movie_key"] for row in rows}


@dataclass(frozen=True, slots=True)
class UserMemory:
    """What a signed-in person told us: films to leave out and films that missed the mood."""

    excluded_keys: frozenset[str]
    wrong_mood_keys: frozenset[str]

    @classmethod
    def empty(cls) -> UserMemory:
        return cls(frozenset(), frozenset())


async def user_memory(connection: asyncpg.Connection, user_id: uuid.UUID, *, recent_days: int) -> UserMemory:
    """Watched, not interested, feedback that rules a film out, and films recommended recently."""
    rows = await connection.fetch(
        """
        SELECT movie_key, 'exclude' AS effect FROM user_movie_interactions
            WHERE user_id = $1 AND kind IN ('watched', 'not_interested')
        UNION ALL
        SELECT movie_key, 'wrong_mood' FROM user_movie_interactions WHERE user_id = $1 AND kind = 'wrong_mood'
        UNION ALL
        SELECT f.movie_key, CASE WHEN f.kind = 'wrong_mood' THEN 'wrong_mood' ELSE 'exclude' END
            FROM recommendation_feedback f
            WHERE f.user_id = $1 AND f.kind IN ('already_watched', 'too_obvious', 'too_obscure', 'wrong_mood')
        UNION ALL
        SELECT m.movie_key, 'exclude' FROM recommendation_movies m
            JOIN recommendations r ON r.id = m.recommendation_id
            WHERE r.user_id = $1 AND r.created_at > now() - make_interval(days => $2)
        """,
        user_id,
        recent_days,
    )
    excluded = frozenset(row["movie_key"] for row in rows if row["effect"] == "exclude")
    wrong_mood = frozenset(row["movie_key"] for row in rows if row["effect"] == "wrong_mood")
    return UserMemory(excluded, wrong_mood - excluded)
