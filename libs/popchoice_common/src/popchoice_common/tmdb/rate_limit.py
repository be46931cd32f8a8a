"""One TMDB request budget shared by every process: a sliding window in Redis.

At most ``requests_per_window`` requests start in any window of ``window_ms`` (plus a small margin
for network jitter, so TMDB never counts more than the budget in its own window), wherever they run.
Interactive requests (a person waiting for picks) go first: while one waits, background requests
hold back. A 429 from TMDB pauses every process until its Retry-After has passed. A request may
bring a deadline: when the wait would end after it, :class:`RateLimitWaitTooLong` is raised at once
instead of waiting (a person waiting for picks is answered without TMDB rather than kept waiting).
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import deque
from typing import Literal, Protocol

import redis.asyncio as redis

Priority = Literal["interactive", "background"]

# ARGV: prefix, window_ms, limit, priority, token, waiter_ttl_ms. Returns ms to wait (0 = go).
_ACQUIRE = """
local prefix, window, limit = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local priority, token, ttl = ARGV[4], ARGV[5], tonumber(ARGV[6])
local log, pause, waiters = prefix .. 'tmdb:requests', prefix .. 'tmdb:paused-until', prefix .. 'tmdb:waiters'
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', waiters, '-inf', now)
local paused = tonumber(redis.call('GET', pause) or '0')
if paused > now then
  if priority == 'interactive' then redis.call('ZADD', waiters, paused + ttl, token) end
  return paused - now
end
redis.call('ZREMRANGEBYSCORE', log, '-inf', now - window)
local count = redis.call('ZCARD', log)
if priority == 'background' and redis.call('ZCARD', waiters) > 0 then
  if count < limit then return 20 end
end
if count < limit then
  redis.call('ZADD', log, now, token)
  redis.call('PEXPIRE', log, window * 2)
  redis.call('ZREM', waiters, token)
  return 0
end
local oldest = tonumber(redis.call('ZRANGE', log, 0, 0, 'WITHSCORES')[2])
local wait = math.max(oldest + window - now, 1)
if priority == 'interactive' then redis.call('ZADD', waiters, now + wait + ttl, token) end
return wait
"""

# ARGV: prefix, pause_ms. Extends (never shortens) the shared pause.
_PAUSE = """
local key = ARGV[1] .. 'tmdb:paused-until'
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local until_ms = now + tonumber(ARGV[2])
if until_ms > tonumber(redis.call('GET', key) or '0') then
  redis.call('SET', key, until_ms, 'PX', tonumber(ARGV[2]) + 1000)
end
return until_ms - now
"""


class RateLimitWaitTooLong(Exception):
    """The request could start only after its deadline (time.monotonic()); it was not started."""

    def __init__(self, wait_seconds: float) -> None:
        self.wait_seconds = wait_seconds
        super().__init__(f"the TMDB budget or a 429 pause holds requests for {wait_seconds:.3f} s")


class RateLimiter(Protocol):
    async def acquire(self, priority: Priority, *, deadline: float | None = None) -> None:
        """Returns when a request may start; raises RateLimitWaitTooLong if that is after deadline (monotonic)."""

    async def pause(self, milliseconds: int) -> None:
        """Stops every request for this long (after a 429)."""


class RedisRateLimiter:
    """The shared limiter: every process and machine using the same Redis and prefix shares the budget."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        prefix: str,
        requests_per_window: int,
        window_ms: int,
        margin_ms: int = 250,
        waiter_ttl_ms: int = 1000,
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._limit = requests_per_window
        self._window = window_ms + margin_ms
        self._waiter_ttl = waiter_ttl_ms
        self._waiters = f"{prefix}tmdb:waiters"
        self._acquire = client.register_script(_ACQUIRE)
        self._pause = client.register_script(_PAUSE)

    async def acquire(self, priority: Priority, *, deadline: float | None = None) -> None:
        token = uuid.uuid4().hex
        while True:
            wait_ms = int(
                await self._acquire(args=[self._prefix, self._window, self._limit, priority, token, self._waiter_ttl])
            )
            if wait_ms <= 0:
                return
            if deadline is not None and time.monotonic() + wait_ms / 1000 > deadline:
                # Given up: it must not hold background requests back as a waiter any longer.
                await self._client.zrem(self._waiters, token)
                raise RateLimitWaitTooLong(wait_ms / 1000)
            # A little jitter so processes released together do not stampede.
            await asyncio.sleep(min(wait_ms, 5000) / 1000 + random.uniform(0, 0.01))

    async def pause(self, milliseconds: int) -> None:
        await self._pause(args=[self._prefix, milliseconds])


class LocalRateLimiter:
    """The same rules inside one process, for runs without Redis (the gateway's inline mode)."""

    def __init__(self, *, requests_per_window: int, window_ms: int, margin_ms: int = 250) -> None:
        self._limit = requests_per_window
        self._window = (window_ms + margin_ms) / 1000
        self._starts: deque[float] = deque()
        self._paused_until = 0.0
        self._interactive_waiting = 0
        self._lock = asyncio.Lock()

    async def acquire(self, priority: Priority, *, deadline: float | None = None) -> None:
        if priority == "interactive":
            self._interactive_waiting += 1
        try:
            while True:
                async with self._lock:
                    now = time.monotonic()
                    while self._starts and self._starts[0] <= now - self._window:
                        self._starts.popleft()
                    blocked = priority == "background" and self._interactive_waiting > 0
                    if now >= self._paused_until and len(self._starts) < self._limit and not blocked:
                        self._starts.append(now)
                        return
                    wait = max(self._paused_until - now, 0.0)
                    if len(self._starts) >= self._limit:
                        wait = max(wait, self._starts[0] + self._window - now)
                    if deadline is not None and now + wait > deadline:
                        raise RateLimitWaitTooLong(wait)
                await asyncio.sleep(max(wait, 0.02))
        finally:
            if priority == "interactive":
                self._interactive_waiting -= 1

    async def pause(self, milliseconds: int) -> None:
        self._paused_until = max(self._paused_until, time.monotonic() + milliseconds / 1000)
