"""The accounts' SQL: users, sessions, reset tokens, the account page and the export. Functions take a
connection and never open or commit a transaction: the service owns the boundary."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg


@dataclass(frozen=True, slots=True)
class UserRow:
    id: uuid.UUID
    email: str
    display_name: str | None
    password_hash: str | None
    created_at: dt.datetime


@dataclass(frozen=True, slots=True)
class SessionRow:
    user_id: uuid.UUID
    created_at: dt.datetime
    last_seen_at: dt.datetime
    expires_at: dt.datetime


@dataclass(frozen=True, slots=True)
class HistoryRow:
    id: uuid.UUID
    slug: str
    status: str
    created_at: dt.datetime
    title: str | None
    pick_count: int


_USER_COLUMNS = "id, email, display_name, password_hash, created_at"


def _user(row: asyncpg.Record | None) -> UserRow | None:
    return UserRow(*row.values()) if row is not None else None


async def user_by_email(connection: asyncpg.Connection, email: str) -> UserRow | None:
    """The user with this (normalised) e-mail, whatever case it was stored in."""
    return _user(await connection.fetchrow(f"SELECT {_USER_COLUMNS} FROM users WHERE lower(email) = $1", email))


async def user_by_id(connection: asyncpg.Connection, user_id: uuid.UUID, *, lock: bool = False) -> UserRow | None:
    suffix = " FOR UPDATE" if lock else ""
    return _user(await connection.fetchrow(f"SELECT {_USER_COLUMNS} FROM users WHERE id = $1{suffix}", user_id))


async def insert_user(
    connection: asyncpg.Connection, email: str, password_hash: str, display_name: str | None
) -> UserRow | None:
    """A new user; None when the e-mail is taken (by anyone, in any case)."""
    return _user(
        await connection.fetchrow(
            f"INSERT INTO users (email, password_hash, display_name) VALUES ($1, $2, $3)"
            f" ON CONFLICT (lower(email)) DO NOTHING RETURNING {_USER_COLUMNS}",
            email,
            password_hash,
            display_name,
        )
    )


async def set_password_hash(connection: asyncpg.Connection, user_id: uuid.UUID, password_hash: str) -> None:
    await connection.execute("UPDATE users SET password_hash = $2 WHERE id = $1", user_id, password_hash)


async def set_display_name(connection: asyncpg.Connection, user_id: uuid.UUID, display_name: str | None) -> None:
    await connection.execute("UPDATE users SET display_name = $2 WHERE id = $1", user_id, display_name)


async def delete_user(connection: asyncpg.Connection, user_id: uuid.UUID) -> None:
    """Deletes the user: sessions, API keys, reset tokens, memory and feedback go with it (ON DELETE
    CASCADE); recommendations stay, detached (ON DELETE SET NULL), so shared links keep working."""
    await connection.execute("DELETE FROM users WHERE id = $1", user_id)


async def insert_session(
    connection: asyncpg.Connection, digest: str, user_id: uuid.UUID, expires_at: dt.datetime
) -> None:
    await connection.execute(
        "INSERT INTO user_sessions (id_digest, user_id, expires_at) VALUES ($1, $2, $3)", digest, user_id, expires_at
    )


async def live_session(
    connection: asyncpg.Connection | asyncpg.Pool, digest: str, idle: dt.timedelta
) -> SessionRow | None:
    """The session with this digest, unless past its absolute or idle expiry."""
    row = await connection.fetchrow(
        "SELECT user_id, created_at, last_seen_at, expires_at FROM user_sessions"
        " WHERE id_digest = $1 AND expires_at > now() AND last_seen_at > now() - $2::interval",
        digest,
        idle,
    )
    return SessionRow(*row.values()) if row is not None else None


async def touch_session(connection: asyncpg.Connection | asyncpg.Pool, digest: str) -> None:
    await connection.execute("UPDATE user_sessions SET last_seen_at = now() WHERE id_digest = $1", digest)


async def delete_session(connection: asyncpg.Connection, digest: str) -> None:
    await connection.execute("DELETE FROM user_sessions WHERE id_digest = $1", digest)


async def delete_sessions_of(connection: asyncpg.Connection, user_id: uuid.UUID, *, keep: str | None = None) -> int:
    """Ends every session of the user but `keep` (a digest); the number ended."""
    status: str = await connection.execute(
        "DELETE FROM user_sessions WHERE user_id = $1 AND id_digest IS DISTINCT FROM $2", user_id, keep
    )
    return int(status.split()[-1])


async def delete_expired_sessions(connection: asyncpg.Connection, user_id: uuid.UUID, idle: dt.timedelta) -> None:
    await connection.execute(
        "DELETE FROM user_sessions"
        " WHERE user_id = $1 AND (expires_at <= now() OR last_seen_at <= now() - $2::interval)",
        user_id,
        idle,
    )


async def insert_reset_token(
    connection: asyncpg.Connection, user_id: uuid.UUID, digest: str, expires_at: dt.datetime
) -> None:
    await connection.execute(
        "INSERT INTO password_reset_tokens (user_id, token_hash, expires_at) VALUES ($1, $2, $3)",
        user_id,
        digest,
        expires_at,
    )


async def consume_reset_token(connection: asyncpg.Connection, digest: str) -> uuid.UUID | None:
    """Marks the unused, unexpired token with this digest used; its user, or None."""
    user_id: uuid.UUID | None = await connection.fetchval(
        "UPDATE password_reset_tokens SET used_at = now()"
        " WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now() RETURNING user_id",
        digest,
    )
    return user_id


async def retire_reset_tokens(connection: asyncpg.Connection, user_id: uuid.UUID) -> None:
    """Every outstanding reset link of the user stops working (after a password change or reset)."""
    await connection.execute(
        "UPDATE password_reset_tokens SET used_at = now() WHERE user_id = $1 AND used_at IS NULL", user_id
    )


async def history(
    connection: asyncpg.Connection, user_id: uuid.UUID, *, limit: int, offset: int
) -> tuple[int, list[HistoryRow]]:
    """The user's recommendations, newest first, one page, and how many there are in all."""
    total: int = await connection.fetchval("SELECT count(*) FROM recommendations WHERE user_id = $1", user_id)
    rows = await connection.fetch(
        """
        SELECT r.id, r.slug, r.status, r.created_at,
               (SELECT m.name FROM recommendation_movies m
                WHERE m.recommendation_id = r.id AND m.is_main_recommendation ORDER BY m.batch LIMIT 1),
               (SELECT count(*)::int FROM recommendation_movies m WHERE m.recommendation_id = r.id)
        FROM recommendations r WHERE r.user_id = $1
        ORDER BY r.created_at DESC, r.id LIMIT $2 OFFSET $3
        """,
        user_id,
        limit,
        offset,
    )
    return total, [HistoryRow(*row.values()) for row in rows]


async def memory_counts(connection: asyncpg.Connection, user_id: uuid.UUID) -> dict[str, int]:
    """How many films the user's memory holds, per kind."""
    rows = await connection.fetch(
        "SELECT kind, count(*)::int AS n FROM user_movie_interactions WHERE user_id = $1 GROUP BY kind", user_id
    )
    return {row["kind"]: row["n"] for row in rows}


async def export(connection: asyncpg.Connection, user_id: uuid.UUID) -> dict[str, Any] | None:
    """Everything stored about the user, as one JSON-ready document (never a password hash, a session id
    digest, an API key digest or a reset token digest: those are credentials, not the person's data)."""
    text: str | None = await connection.fetchval(
        """
        SELECT json_build_object(
            'account', json_build_object('id', u.id, 'email', u.email, 'displayName', u.display_name,
                                         'hasPassword', u.password_hash IS NOT NULL,
                                         'createdAt', u.created_at, 'updatedAt', u.updated_at),
            'sessions', coalesce((SELECT json_agg(json_build_object(
                    'createdAt', s.created_at, 'lastSeenAt', s.last_seen_at, 'expiresAt', s.expires_at)
                    ORDER BY s.created_at) FROM user_sessions s WHERE s.user_id = u.id), '[]'),
            'apiKeys', coalesce((SELECT json_agg(json_build_object(
                    'name', k.name, 'createdAt', k.created_at, 'revokedAt', k.revoked_at) ORDER BY k.id)
                    FROM api_keys k WHERE k.user_id = u.id), '[]'),
            'passwordResets', coalesce((SELECT json_agg(json_build_object(
                    'createdAt', t.created_at, 'expiresAt', t.expires_at, 'usedAt', t.used_at) ORDER BY t.id)
                    FROM password_reset_tokens t WHERE t.user_id = u.id), '[]'),
            'recommendations', coalesce((SELECT json_agg(json_build_object(
                    'id', r.id, 'slug', r.slug, 'status', r.status, 'locale', r.locale, 'quiz', r.quiz_data,
                    'createdAt', r.created_at, 'completedAt', r.completed_at,
                    'picks', coalesce((SELECT json_agg(json_build_object(
                            'movieKey', m.movie_key, 'name', m.name, 'year', m.year, 'batch', m.batch,
                            'position', m.position, 'isMainRecommendation', m.is_main_recommendation)
                            ORDER BY m.batch, m.position)
                        FROM recommendation_movies m WHERE m.recommendation_id = r.id), '[]'))
                    ORDER BY r.created_at) FROM recommendations r WHERE r.user_id = u.id), '[]'),
            'feedback', coalesce((SELECT json_agg(json_build_object(
                    'recommendationId', f.recommendation_id, 'movieKey', f.movie_key, 'kind', f.kind,
                    'createdAt', f.created_at, 'updatedAt', f.updated_at) ORDER BY f.id)
                    FROM recommendation_feedback f WHERE f.user_id = u.id), '[]'),
            'movieMemory', coalesce((SELECT json_agg(json_build_object(
                    'movieKey', i.movie_key, 'tmdbId', i.tmdb_id, 'name', i.movie_name, 'year', i.movie_year,
                    'kind', i.kind, 'sourceRecommendationId', i.source_recommendation_id,
                    'createdAt', i.created_at, 'updatedAt', i.updated_at) ORDER BY i.id)
                    FROM user_movie_interactions i WHERE i.user_id = u.id), '[]')
        )::text
        FROM users u WHERE u.id = $1
        """,
        user_id,
    )
    if text is None:
        return None
    document: dict[str, Any] = json.loads(text)
    return document


async def delete_stale_credentials(connection: asyncpg.Connection, idle: dt.timedelta) -> tuple[int, int]:
    """Deletes ended sessions (past absolute or idle expiry) and reset tokens a day past their expiry;
    how many of each."""
    sessions: str = await connection.execute(
        "DELETE FROM user_sessions WHERE expires_at <= now() OR last_seen_at <= now() - $1::interval", idle
    )
    tokens: str = await connection.execute(
        "DELETE FROM password_reset_tokens WHERE expires_at <= now() - interval '1 day'"
    )
    return int(sessions.split()[-1]), int(tokens.split()[-1])
