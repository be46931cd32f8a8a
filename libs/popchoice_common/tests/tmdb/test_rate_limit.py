import asyncio
import time

from popchoice_common.tmdb import LocalRateLimiter, RedisRateLimiter


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
