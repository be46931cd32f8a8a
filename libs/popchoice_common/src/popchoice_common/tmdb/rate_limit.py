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
from importlib import resources
from typing import Literal, Protocol

import redis.asyncio as redis

from popchoice_common.keyspace import Keyspace

Priority = Literal["interactive", "background"]


def _lua(name: str) -> str:
    return resources.files("popchoice_common.tmdb").joinpath("lua", name).read_text(encoding="utf-8")


_ACQUIRE = _lua("acquire.lua")
_PAUSE = _lua("pause.lua")


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
    """The shared limiter: every process and machine using the same Redis and prefix shares the budget
    (its keys share one hash tag, so in a Redis Cluster the budget is one slot: one global budget)."""

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
        keyspace = Keyspace(prefix)
        self._keys = [keyspace.tmdb_requests(), keyspace.tmdb_paused_until(), keyspace.tmdb_waiters()]
        self._limit = requests_per_window
        self._window = window_ms + margin_ms
        self._waiter_ttl = waiter_ttl_ms
        self._acquire = client.register_script(_ACQUIRE)
        self._pause = client.register_script(_PAUSE)

    async def acquire(self, priority: Priority, *, deadline: float | None = None) -> None:
        token = uuid.uuid4().hex
        while True:
            wait_ms = int(
                await self._acquire(
                    keys=self._keys, args=[self._window, self._limit, priority, token, self._waiter_ttl]
                )
            )
            if wait_ms <= 0:
                return
            if deadline is not None and time.monotonic() + wait_ms / 1000 > deadline:
                # Given up: it must not hold background requests back as a waiter any longer.
                await self._client.zrem(self._keys[2], token)
                raise RateLimitWaitTooLong(wait_ms / 1000)
            # A little jitter so processes released together do not stampede.
            await asyncio.sleep(min(wait_ms, 5000) / 1000 + random.uniform(0, 0.01))

    async def pause(self, milliseconds: int) -> None:
        await self._pause(keys=self._keys[1:2], args=[milliseconds])


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
