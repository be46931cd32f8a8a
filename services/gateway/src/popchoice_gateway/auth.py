"""Who is calling: an API key (Authorization: Bearer or X-API-Key, stored as a digest) or a same-origin
browser (the __csrf cookie echoed in X-CSRF-Token). Also the per-client rate limit."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass

import asyncpg
import redis.asyncio as redis
from fastapi import HTTPException, Request
from redis.exceptions import RedisError

from popchoice_common.logs import get_logger
from popchoice_gateway import repository

log = get_logger(__name__)

CSRF_COOKIE = "__csrf"
CSRF_HEADER = "X-CSRF-Token"


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated caller: rate limits key on client_id; user_id is the signed-in person, if any."""

    client_id: str
    user_id: uuid.UUID | None


def key_digest(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


class ApiKeys:
    """API key look-ups, remembered for a short while (a revoked key stops working within ttl seconds)."""

    def __init__(self, pool: asyncpg.Pool, *, ttl_seconds: float = 30.0, max_entries: int = 10_000) -> None:
        self._pool = pool
        self._ttl = ttl_seconds
        self._max_entries = max_entries
        self._known: dict[str, tuple[float, Caller | None]] = {}

    async def caller(self, api_key: str) -> Caller | None:
        digest = key_digest(api_key)
        now = time.monotonic()
        cached = self._known.get(digest)
        if cached is not None and cached[0] > now:
            return cached[1]
        row = await repository.live_api_key(self._pool, digest)
        found = Caller(f"key:{row.id}", row.user_id) if row is not None else None
        if len(self._known) >= self._max_entries:
            self._known.clear()
        self._known[digest] = (now + self._ttl, found)
        return found


async def authenticate(request: Request, api_keys: ApiKeys) -> Caller:
    """The caller of a request, or 401."""
    authorization = request.headers.get("Authorization", "")
    api_key = request.headers.get("X-API-Key") or (
        authorization[7:].strip() if authorization.lower().startswith("bearer ") else ""
    )
    if api_key:
        caller = await api_keys.caller(api_key)
        if caller is None:
            raise HTTPException(status_code=401, detail="The API key is not valid.")
        return caller
    cookie = request.cookies.get(CSRF_COOKIE, "")
    header = request.headers.get(CSRF_HEADER, "")
    if cookie and header and hmac.compare_digest(cookie, header):
        host = request.client.host if request.client else "unknown"
        return Caller(f"browser:{host}", None)
    raise HTTPException(
        status_code=401,
        detail="Authentication required: an API key, or the __csrf cookie echoed in the X-CSRF-Token header.",
    )


class RateLimiter:
    """A fixed one-minute window per client: counted in Redis when there is one (shared by every
    gateway process), else in this process.

    With Redis, a process takes its share of a client's window in chunks of 1% of the limit (at
    least 1) and spends it locally, so a busy client costs one Redis round trip per chunk instead of
    one per request; a chunk is never more than the window has left. At the default limits the chunk
    is 1 and every request is counted in Redis. Allowance a process took but did not spend is lost
    when the window ends, so a client may get up to one chunk less per process, never more.
    """

    def __init__(
        self,
        client: redis.Redis | None,
        *,
        prefix: str,
        per_minute: int,
        detail: str = "Too many recommendation requests; try again shortly.",
    ) -> None:
        self._client = client
        self._detail = detail
        self._prefix = prefix
        self._limit = per_minute
        self._chunk = max(1, per_minute // 100)
        self._window = 0
        self._counts: dict[str, int] = {}  # per client: requests this window (without Redis)
        self._allowance: dict[str, int] = {}  # per client: requests this process may still let through

    async def check(self, client_id: str) -> None:
        """Counts a request; raises 429 with Retry-After when the client is over its limit."""
        now = time.time()
        window = int(now // 60)
        if window != self._window:
            self._window, self._counts, self._allowance = window, {}, {}
        if self._client is None:
            self._counts[client_id] = count = self._counts.get(client_id, 0) + 1
            if count <= self._limit:
                return
        else:
            if self._allowance.get(client_id, 0) > 0:
                self._allowance[client_id] -= 1
                return
            key = f"{self._prefix}ratelimit:{client_id}:{window}"
            try:
                async with self._client.pipeline(transaction=True) as pipe:
                    pipe.incrby(key, self._chunk)
                    pipe.expire(key, 120)
                    count, _ = await pipe.execute()
            except (RedisError, OSError):
                # Fail open: with Redis down the request fails at the queue with a clear 503 anyway.
                log.warning("rate_limit_unavailable", client_id=client_id)
                return
            granted = min(self._chunk, self._limit - (count - self._chunk))
            if granted > 0:
                self._allowance[client_id] = granted - 1
                return
        retry_after = max(int((window + 1) * 60 - now), 1)
        raise HTTPException(
            status_code=429,
            detail=self._detail,
            headers={"Retry-After": str(retry_after)},
        )
