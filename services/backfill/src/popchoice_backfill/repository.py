"""SQL of the backfill. Functions take a connection; the caller owns the transaction."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg


@dataclass(frozen=True, slots=True)
class BackfillMovie:
    """A catalog row as the backfill sees it (duration 0: runtime unknown; tmdb_id None: not matched yet)."""

    id: int
    name: str
    year: int | None
    duration: int
    tmdb_id: int | None


def _backfill_movie(row: asyncpg.Record) -> BackfillMovie:
    return BackfillMovie(
        id=row["id"], name=row["name"], year=row["year"], duration=row["duration"], tmdb_id=row["tmdb_id"]
    )


async def select_candidates(
    connection: asyncpg.Connection, *, stale_days: int, after_id: int, limit: int
) -> list[BackfillMovie]:
    """Rows lacking a TMDB id, runtime or poster, or with stale metadata — not checked recently, not under review."""
    rows = await connection.fetch(
        """
        SELECT m.id, m.name, m.year, m.duration, m.tmdb_id
        FROM movies m
        WHERE m.id > $3
          AND (m.tmdb_id IS NULL OR m.duration = 0 OR m.poster_url IS NULL
               OR m.tmdb_metadata_refreshed_at IS NULL
               OR m.tmdb_metadata_refreshed_at < now() - make_interval(days => $1))
          AND (m.backfill_checked_at IS NULL OR m.backfill_checked_at < now() - make_interval(days => $1))
          AND NOT EXISTS (
              SELECT 1 FROM tmdb_match_reviews r WHERE r.movie_id = m.id AND r.status IN ('open', 'deferred'))
        ORDER BY m.id
        LIMIT $2
        """,
        stale_days,
        limit,
        after_id,
    )
    return [_backfill_movie(row) for row in rows]


async def movie_for_backfill(connection: asyncpg.Connection, movie_id: int) -> BackfillMovie | None:
    row = await connection.fetchrow("SELECT id, name, year, duration, tmdb_id FROM movies WHERE id = $1", movie_id)
    return _backfill_movie(row) if row is not None else None


async def mark_checked(connection: asyncpg.Connection, movie_id: int, note: str) -> None:
    await connection.execute(
        "UPDATE movies SET backfill_checked_at = now(), backfill_note = $2 WHERE id = $1", movie_id, note
    )


async def record_review(
    connection: asyncpg.Connection,
    *,
    movie_id: int,
    movie_name: str,
    movie_year: int | None,
    reason: str,
    candidates: Sequence[dict[str, object]],
    notes: str,
) -> int:
    """Opens (or refreshes) the review of a movie for a reason, with an audit line."""
    review_id: int = await connection.fetchval(
        """
        INSERT INTO tmdb_match_reviews (movie_id, movie_name, movie_year, reason, candidates, notes)
        VALUES ($1, $2, $3, $4, $5::jsonb, $6)
        ON CONFLICT (movie_id, reason) DO UPDATE
            SET candidates = excluded.candidates, notes = excluded.notes,
                movie_name = excluded.movie_name, movie_year = excluded.movie_year
        RETURNING id
        """,
        movie_id,
        movie_name,
        movie_year,
        reason,
        json.dumps(list(candidates)),
        notes,
    )
    await connection.execute(
        "INSERT INTO tmdb_match_review_audit (review_id, action, to_status, actor, notes)"
        " VALUES ($1, 'recorded', 'open', 'backfill', $2)",
        review_id,
        notes,
    )
    return review_id
