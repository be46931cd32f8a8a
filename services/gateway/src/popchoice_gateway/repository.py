"""The gateway's own SQL: API keys and the health probe. Functions take a connection (or pool) and never
commit; the recommendation SQL the gateway shares with the recommender is in the library
(popchoice_common.recommendation.repository)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TypeAlias

import asyncpg

Executor: TypeAlias = asyncpg.Connection | asyncpg.Pool


@dataclass(frozen=True, slots=True)
class ApiKeyRow:
    """A live API key: its id, and the user it acts for (None: no user)."""

    id: int
    user_id: uuid.UUID | None


async def live_api_key(executor: Executor, digest: str) -> ApiKeyRow | None:
    """The unrevoked API key with this digest."""
    row = await executor.fetchrow(
        "SELECT id, user_id FROM api_keys WHERE key_digest = $1 AND revoked_at IS NULL", digest
    )
    return ApiKeyRow(row["id"], row["user_id"]) if row is not None else None


async def user_by_email(connection: asyncpg.Connection, email: str) -> uuid.UUID:
    """The id of the user with this e-mail (any case), created when new."""
    user_id: uuid.UUID = await connection.fetchval(
        "INSERT INTO users (email) VALUES ($1) ON CONFLICT (lower(email)) DO UPDATE SET email = users.email"
        " RETURNING id",
        email,
    )
    return user_id


async def insert_api_key(connection: asyncpg.Connection, name: str, digest: str, user_id: uuid.UUID | None) -> None:
    await connection.execute(
        "INSERT INTO api_keys (name, key_digest, user_id) VALUES ($1, $2, $3)", name, digest, user_id
    )


async def ping(executor: Executor) -> None:
    """One round trip to the database (the health check)."""
    await executor.fetchval("SELECT 1")
