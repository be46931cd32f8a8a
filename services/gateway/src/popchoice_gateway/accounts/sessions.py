"""Server-side sessions: an opaque random id in the browser's cookie, its SHA-256 digest in PostgreSQL."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from dataclasses import dataclass

import asyncpg

from popchoice_gateway.accounts import repository

SESSION_COOKIE = "__session"
# How often a session's last_seen_at is written: idle expiry needs minutes, not every request.
_TOUCH_EVERY = dt.timedelta(minutes=1)


def new_session_id() -> str:
    """256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def session_digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class LiveSession:
    """A signed-in session: whose it is, and its id's digest (never the id itself)."""

    user_id: uuid.UUID
    digest: str
    expires_at: dt.datetime


class Sessions:
    """Looks sessions up (honouring idle and absolute expiry) and starts new ones."""

    def __init__(self, pool: asyncpg.Pool, *, idle: dt.timedelta, absolute: dt.timedelta) -> None:
        self._pool = pool
        self.idle = idle
        self.absolute = absolute

    async def find(self, session_id: str) -> LiveSession | None:
        """The live session with this id; refreshes its last use at most once a minute."""
        if not session_id or len(session_id) > 128:
            return None
        digest = session_digest(session_id)
        row = await repository.live_session(self._pool, digest, self.idle)
        if row is None:
            return None
        if dt.datetime.now(dt.UTC) - row.last_seen_at > _TOUCH_EVERY:
            await repository.touch_session(self._pool, digest)
        return LiveSession(row.user_id, digest, min(row.expires_at, row.last_seen_at + self.idle))

    async def start(self, connection: asyncpg.Connection, user_id: uuid.UUID) -> tuple[str, dt.datetime]:
        """A new session for the user (inside the caller's transaction): the id for the cookie, and when
        it expires at the latest."""
        session_id = new_session_id()
        expires_at = dt.datetime.now(dt.UTC) + self.absolute
        await repository.delete_expired_sessions(connection, user_id, self.idle)
        await repository.insert_session(connection, session_digest(session_id), user_id, expires_at)
        return session_id, expires_at

    def cookie_max_age(self) -> int:
        return int(self.absolute.total_seconds())
