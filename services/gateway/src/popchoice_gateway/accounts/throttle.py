"""Abuse limits of the auth routes: fixed-window counts per client address and per account, and an
exponential lock after repeated failed logins of one account. Counted in Redis when there is one
(shared by every gateway process); in this process without Redis (inline mode) or while Redis does
not answer."""

from __future__ import annotations

import hashlib
import math
import time

import redis.asyncio as redis
from redis.exceptions import RedisError

from popchoice_common.keyspace import Keyspace
from popchoice_common.logs import get_logger

log = get_logger(__name__)

#: Failed logins of one account allowed before it is locked; each further failure doubles the lock.
FREE_FAILURES = 3
_FAILURES_TTL_SECONDS = 86_400
# After Redis fails, the process counts alone this long before asking Redis again, so requests do not
# each wait out the client's retries while Redis is down.
_REDIS_PAUSE_SECONDS = 10.0


class TooManyAttempts(Exception):
    """Over a limit, or the account is locked: try again after retry_after seconds."""

    def __init__(self, retry_after: int, reason: str) -> None:
        self.retry_after = retry_after
        self.reason = reason
        super().__init__(reason)


def account_tag(email: str) -> str:
    """What keys name an account by: a digest of its normalised e-mail (no address in Redis)."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]


class _LocalCounters:
    """The same operations as Redis's, in this process (values expire like keys)."""

    def __init__(self) -> None:
        self._values: dict[str, tuple[float, float]] = {}  # key: (value, expires at, time.time())

    def _get(self, key: str) -> float | None:
        entry = self._values.get(key)
        if entry is None:
            return None
        if entry[1] <= time.time():
            del self._values[key]
            return None
        return entry[0]

    def incr(self, key: str, ttl: float) -> int:
        if len(self._values) > 100_000:
            now = time.time()
            self._values = {k: v for k, v in self._values.items() if v[1] > now}
        current = self._get(key)
        if current is None:
            self._values[key] = (1, time.time() + ttl)
            return 1
        self._values[key] = (current + 1, self._values[key][1])
        return int(current + 1)

    def set(self, key: str, ttl: float) -> None:
        self._values[key] = (1, time.time() + ttl)

    def remaining(self, key: str) -> float:
        return max(0.0, self._values[key][1] - time.time()) if self._get(key) is not None else 0.0

    def delete(self, *keys: str) -> None:
        for key in keys:
            self._values.pop(key, None)


class AuthThrottle:
    """Rate limits (429 with Retry-After) of login, register and password reset, and the failed-login
    backoff."""

    def __init__(
        self,
        client: redis.Redis | None,
        *,
        prefix: str,
        window_seconds: int,
        per_address: int,
        per_account: int,
        backoff_base_seconds: float,
        backoff_max_seconds: float,
    ) -> None:
        self._client = client
        self._keys = Keyspace(prefix)
        self._window = window_seconds
        self._per_address = per_address
        self._per_account = per_account
        self._base = backoff_base_seconds
        self._max = backoff_max_seconds
        self._local = _LocalCounters()
        self._redis_paused_until = 0.0

    def _redis(self) -> redis.Redis | None:
        if self._client is None or time.monotonic() < self._redis_paused_until:
            return None
        return self._client

    def _redis_failed(self, exc: BaseException) -> None:
        self._redis_paused_until = time.monotonic() + _REDIS_PAUSE_SECONDS
        log.warning("auth_limits_redis_unavailable", error=type(exc).__name__, counting="in-process")

    async def _incr(self, key: str, ttl: float) -> int:
        if (client := self._redis()) is not None:
            try:
                async with client.pipeline(transaction=True) as pipe:
                    pipe.incr(key)
                    pipe.expire(key, math.ceil(ttl), nx=True)
                    count, _ = await pipe.execute()
                return int(count)
            except (RedisError, OSError) as exc:
                self._redis_failed(exc)
        return self._local.incr(key, ttl)

    async def _remaining(self, key: str) -> float:
        if (client := self._redis()) is not None:
            try:
                milliseconds = int(await client.pttl(key))
                return max(0.0, milliseconds / 1000)
            except (RedisError, OSError) as exc:
                self._redis_failed(exc)
        return self._local.remaining(key)

    async def _set(self, key: str, seconds: float) -> None:
        if (client := self._redis()) is not None:
            try:
                await client.set(key, 1, px=max(1, int(seconds * 1000)))
                return
            except (RedisError, OSError) as exc:
                self._redis_failed(exc)
        self._local.set(key, seconds)

    async def _delete(self, *keys: str) -> None:
        self._local.delete(*keys)
        if (client := self._redis()) is not None:
            try:
                await client.delete(*keys)
            except (RedisError, OSError) as exc:
                self._redis_failed(exc)

    async def check(self, action: str, address: str, email: str | None) -> None:
        """Counts one `action` request of this client address (and of this account when an e-mail is
        given); raises TooManyAttempts past either limit."""
        now = time.time()
        window = int(now // self._window)
        retry_after = max(1, math.ceil((window + 1) * self._window - now))
        by_address = await self._incr(self._keys.auth_attempts(action, "address", address, window), self._window * 2)
        if by_address > self._per_address:
            log.info("auth_rate_limited", action=action, scope="address", address=address)
            raise TooManyAttempts(retry_after, "Too many attempts from this address; try again later.")
        if email is not None:
            tag = account_tag(email)
            by_account = await self._incr(self._keys.auth_attempts(action, "account", tag, window), self._window * 2)
            if by_account > self._per_account:
                log.info("auth_rate_limited", action=action, scope="account", account=tag)
                raise TooManyAttempts(retry_after, "Too many attempts for this account; try again later.")

    async def check_lock(self, email: str) -> None:
        """Raises TooManyAttempts while the account is locked after failed logins."""
        remaining = await self._remaining(self._keys.auth_lock(account_tag(email)))
        if remaining > 0:
            raise TooManyAttempts(max(1, math.ceil(remaining)), "Too many failed sign-ins; try again later.")

    async def failed(self, email: str) -> None:
        """Records a failed login (or a wrong current password) of the account; past FREE_FAILURES it is
        locked for base × 2^(failures − FREE_FAILURES − 1) seconds, at most the maximum."""
        tag = account_tag(email)
        failures = await self._incr(self._keys.auth_failures(tag), _FAILURES_TTL_SECONDS)
        if failures > FREE_FAILURES:
            seconds = min(self._base * 2 ** min(failures - FREE_FAILURES - 1, 30), self._max)
            if seconds > 0:
                await self._set(self._keys.auth_lock(tag), seconds)
                log.info("login_backoff", account=tag, failures=failures, locked_seconds=seconds)

    async def succeeded(self, email: str) -> None:
        """A successful login forgets the account's failures."""
        tag = account_tag(email)
        await self._delete(self._keys.auth_failures(tag), self._keys.auth_lock(tag))
