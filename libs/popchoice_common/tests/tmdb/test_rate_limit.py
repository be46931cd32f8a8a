import asyncio
import time

import pytest

from popchoice_common.tmdb import LocalRateLimiter, RateLimitWaitTooLong, RedisRateLimiter


def limiter(client, prefix, limit=5, window_ms=500):
    return RedisRateLimiter(client, prefix=prefix, requests_per_window=limit, window_ms=window_ms, margin_ms=20)


async def test_budget_is_never_exceeded_in_any_window(redis_client, key_prefix):
    """No window holds more starts than the budget, even with many callers at once."""
    shared = [limiter(redis_client, key_prefix) for _ in range(4)]
    starts = []

    async def call(rate_limiter):
        await rate_limiter.acquire("background")
        starts.append(time.monotonic())

    began = time.monotonic()
    await asyncio.gather(*(call(shared[i % 4]) for i in range(15)))
    starts.sort()
    for index in range(len(starts) - 5):
        assert starts[index + 5] - starts[index] >= 0.5
    assert time.monotonic() - began < 2.0  # and the budget is used, not wasted


async def test_interactive_requests_go_first(redis_client, key_prefix):
    """When both wait for a slot, an interactive request is served before background ones."""
    rate_limiter = limiter(redis_client, key_prefix, limit=1, window_ms=300)
    await rate_limiter.acquire("background")
    order = []

    async def call(priority, tag):
        await rate_limiter.acquire(priority)
        order.append(tag)

    background = [asyncio.create_task(call("background", f"b{i}")) for i in range(3)]
    await asyncio.sleep(0.05)
    interactive = asyncio.create_task(call("interactive", "person"))
    await asyncio.gather(interactive, *background)
    assert order[0] == "person"


async def test_pause_stops_every_limiter_on_the_same_redis(redis_client, key_prefix):
    """A pause recorded by one process holds every limiter sharing the prefix."""
    one, other = limiter(redis_client, key_prefix), limiter(redis_client, key_prefix)
    await one.pause(400)
    began = time.monotonic()
    await other.acquire("interactive")
    assert time.monotonic() - began >= 0.35


async def test_local_limiter_keeps_the_same_rules():
    """Without Redis, the in-process limiter enforces the budget and pauses."""
    rate_limiter = LocalRateLimiter(requests_per_window=2, window_ms=300, margin_ms=0)
    began = time.monotonic()
    for _ in range(4):
        await rate_limiter.acquire("background")
    assert time.monotonic() - began >= 0.3
    await rate_limiter.pause(200)
    paused_at = time.monotonic()
    await rate_limiter.acquire("interactive")
    assert time.monotonic() - paused_at >= 0.19


async def test_a_wait_past_the_deadline_is_refused_at_once(redis_client, key_prefix):
    """An interactive request whose wait would end after its deadline is refused without waiting or
    holding background requests back."""
    rate_limiter = limiter(redis_client, key_prefix)
    await rate_limiter.pause(5000)
    with pytest.raises(RateLimitWaitTooLong) as caught:
        await rate_limiter.acquire("interactive", deadline=time.monotonic() + 0.3)
    assert 4.0 < caught.value.wait_seconds <= 5.0
    assert await redis_client.zcard(f"{key_prefix}tmdb:waiters") == 0


async def test_a_wait_within_the_deadline_is_waited(redis_client, key_prefix):
    """A pause shorter than the time left before the deadline is waited out."""
    rate_limiter = limiter(redis_client, key_prefix)
    await rate_limiter.pause(200)
    await rate_limiter.acquire("interactive", deadline=time.monotonic() + 3.0)


async def test_local_limiter_refuses_a_wait_past_the_deadline():
    """Without Redis the deadline holds the same way."""
    rate_limiter = LocalRateLimiter(requests_per_window=2, window_ms=300, margin_ms=0)
    await rate_limiter.pause(5000)
    with pytest.raises(RateLimitWaitTooLong):
        await rate_limiter.acquire("interactive", deadline=time.monotonic() + 0.3)
