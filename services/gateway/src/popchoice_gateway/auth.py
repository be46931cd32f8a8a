"""Who is calling: an API key (Authorization: Bearer or X-API-Key, stored as a digest), a signed-in
browser (the session cookie), or an anonymous same-origin browser (the __csrf cookie echoed in
X-CSRF-Token). Browsers changing state need the CSRF pair and, when they send one, a matching Origin.
Also the per-client rate limit."""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

import asyncpg
import redis.asyncio as redis
from fastapi import HTTPException, Request, Response
from redis.exceptions import RedisError

from popchoice_common.keyspace import Keyspace
from popchoice_common.logs import get_logger
from popchoice_common.streams.outage import OutageLog
from popchoice_gateway import repository
from popchoice_gateway.accounts.sessions import SESSION_COOKIE, Sessions

log = get_logger(__name__)

CSRF_COOKIE = "__csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FORM_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated caller: rate limits key on client_id; user_id is the signed-in person, if any."""

    client_id: str
    user_id: uuid.UUID | None
    #: The digest of the signed-in session the request came with (None: an API key or no session).
    session: str | None = None


def key_digest(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def set_csrf_cookie(response: Response, token: str, *, secure: bool) -> None:
    """The __csrf cookie: HttpOnly (pages read the token from GET /api/csrf, a sign-in's answer or a
    rendered field, never from the cookie), SameSite=Strict."""
    response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="strict", secure=secure, path="/")


def csrf_token_for(request: Request, response: Response, *, secure: bool) -> str:
    """The token a rendered page puts in its forms' hidden csrf_token field: the browser's current one,
    or a new one set on this response."""
    current = request.cookies.get(CSRF_COOKIE, "")
    if 20 <= len(current) <= 100 and current.isascii():
        return current
    token = new_csrf_token()
    set_csrf_cookie(response, token, secure=secure)
    return token


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


async def _csrf_token_sent(request: Request) -> str:
    """The CSRF token the request echoes: the X-CSRF-Token header, or a plain HTML form's csrf_token field."""
    header = request.headers.get(CSRF_HEADER, "")
    if header:
        return header
    if request.headers.get("content-type", "").startswith(_FORM_TYPES):
        value = (await request.form()).get(CSRF_FORM_FIELD)
        return value if isinstance(value, str) else ""
    return ""


def _origin_allowed(request: Request, public_origin: str | None) -> bool:
    """No Origin header (not a browser, or a same-origin GET), or the site's own origin."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    own = f"{request.url.scheme}://{request.headers.get('host', '')}"
    return origin in {own, public_origin}


async def csrf_failure(request: Request, public_origin: str | None) -> str | None:
    """Why a browser's state-changing request fails the CSRF check, or None when it passes."""
    if not _origin_allowed(request, public_origin):
        return "The request's Origin is not this site."
    cookie = request.cookies.get(CSRF_COOKIE, "")
    sent = await _csrf_token_sent(request)
    if not cookie or not sent:
        return "The CSRF token is missing: echo the __csrf cookie in X-CSRF-Token (or a csrf_token form field)."
    if not hmac.compare_digest(cookie.encode(), sent.encode()):
        return "The CSRF token does not match the __csrf cookie."
    return None


@functools.cache
def origin_of(base_url: str) -> str:
    """scheme://host[:port] of a URL: what a browser sends as Origin."""
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}"


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def authenticate(
    request: Request, api_keys: ApiKeys, sessions: Sessions | None = None, public_origin: str | None = None
) -> Caller:
    """The caller of a request, or 401 (403 for a signed-in browser whose write fails the CSRF check).

    An API key needs no CSRF pair. A session cookie signs the browser in; its writes (any method but
    GET, HEAD and OPTIONS) need the CSRF pair and a matching Origin. Without either, a browser is an
    anonymous caller when it sends the CSRF pair."""
    authorization = request.headers.get("Authorization", "")
    api_key = request.headers.get("X-API-Key") or (
        authorization[7:].strip() if authorization.lower().startswith("bearer ") else ""
    )
    if api_key:
        caller = await api_keys.caller(api_key)
        if caller is None:
            raise HTTPException(status_code=401, detail="The API key is not valid.")
        return caller
    session_id = request.cookies.get(SESSION_COOKIE, "")
    if session_id and sessions is not None:
        session = await sessions.find(session_id)
        if session is not None:
            if request.method not in SAFE_METHODS and (reason := await csrf_failure(request, public_origin)):
                raise HTTPException(status_code=403, detail=reason)
            return Caller(f"user:{session.user_id}", session.user_id, session.digest)
    cookie = request.cookies.get(CSRF_COOKIE, "")
    sent = await _csrf_token_sent(request)
    if cookie and sent and hmac.compare_digest(cookie.encode(), sent.encode()):
        if not _origin_allowed(request, public_origin):
            raise HTTPException(status_code=403, detail="The request's Origin is not this site.")
        return Caller(f"browser:{client_address(request)}", None)
    raise HTTPException(
        status_code=401,
        detail="Authentication required: an API key, a session, or the __csrf cookie echoed in the X-CSRF-Token"
        " header.",
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
        self._keys = Keyspace(prefix)
        self._limit = per_minute
        self._chunk = max(1, per_minute // 100)
        self._window = 0
        self._counts: dict[str, int] = {}  # per client: requests this window (without Redis)
        self._allowance: dict[str, int] = {}  # per client: requests this process may still let through
        self._outage = OutageLog("redis", service="gateway", task="rate_limit")

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
            key = self._keys.rate_limit(client_id, window)
            try:
                async with self._client.pipeline(transaction=True) as pipe:
                    pipe.incrby(key, self._chunk)
                    pipe.expire(key, 120)
                    count, _ = await pipe.execute()
            except (RedisError, OSError) as exc:
                # Fail open: with Redis down the request fails at the queue with a clear 503 anyway.
                self._outage.failed(exc)
                return
            if self._outage.down:
                self._outage.succeeded()
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
