import asyncio
import time

import pytest

from popchoice_common.keyspace import Keyspace
from popchoice_common.tmdb import LocalRateLimiter, RateLimitWaitTooLong, RedisRateLimiter


@pytest.fixture
def redis_url(single_or_cluster_redis_url):
    """Every test here runs on one Redis node (id single) and on the Redis Cluster (cluster): the budget
    is one global budget either way (its keys share one slot)."""
    return single_or_cluster_redis_url


def limiter(client, prefix, limit=5, window_ms=500):
    return RedisRateLimiter(client, prefix=prefix, requests_per_window=limit, window_ms=window_ms, margin_ms=20)


async def redis_now_ms(redis_client):
    """Redis's clock in milliseconds, the clock the shared limiter records starts and pauses by."""
    seconds, microseconds = await redis_client.time()
    return seconds * 1000 + microseconds // 1000


async def recorded_starts(redis_client, key_prefix):
    """The starts the limiter's sliding window still holds: token -> Redis ms."""
    return dict(await redis_client.zrange(Keyspace(key_prefix).tmdb_requests(), 0, -1, withscores=True))


async def test_budget_is_never_exceeded_in_any_window(redis_client, key_prefix):
    """No window holds more starts than the budget, even with many callers at once, and the first
    window is filled to the budget."""
    shared = [limiter(redis_client, key_prefix) for _ in range(4)]
    starts = {}

    async def call(rate_limiter):
        await rate_limiter.acquire("background")
        # Read at once: a start stays in the log for a window, until a later start prunes it.
        starts.update(await recorded_starts(redis_client, key_prefix))

    await asyncio.gather(*(call(shared[i % 4]) for i in range(15)))
    times = sorted(starts.values())
    window = 500 + 20  # window_ms + margin_ms
    assert len(times) == 15
    for index in range(len(times) - 5):
        assert times[index + 5] - times[index] >= window
    assert sum(1 for moment in times if moment < times[0] + window) == 5


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
    """A pause recorded by one process holds every limiter sharing the prefix, and no other."""
    one, other = limiter(redis_client, key_prefix), limiter(redis_client, key_prefix)
    await one.pause(60_000)
    with pytest.raises(RateLimitWaitTooLong):
        await other.acquire("background", deadline=time.monotonic())
    await limiter(redis_client, f"{key_prefix}elsewhere:").acquire("background", deadline=time.monotonic())


async def test_local_limiter_keeps_the_budget():
    """Without Redis, the budget's starts go at once and the next one waits for the window: with no
    time to wait, it is refused."""
    rate_limiter = LocalRateLimiter(requests_per_window=2, window_ms=60_000, margin_ms=0)
    for _ in range(2):
        await rate_limiter.acquire("background", deadline=time.monotonic())
    with pytest.raises(RateLimitWaitTooLong) as caught:
        await rate_limiter.acquire("background", deadline=time.monotonic())
    assert 0 < caught.value.wait_seconds <= 60


async def test_local_limiter_goes_on_after_the_window_and_the_pause():
    """Without Redis, a start held back by the budget or by a pause goes ahead once it has passed."""
    rate_limiter = LocalRateLimiter(requests_per_window=1, window_ms=100, margin_ms=0)
    await rate_limiter.acquire("background")
    await rate_limiter.acquire("background", deadline=time.monotonic() + 30)
    await rate_limiter.pause(100)
    await rate_limiter.acquire("interactive", deadline=time.monotonic() + 30)


async def test_a_wait_past_the_deadline_is_refused_at_once(redis_client, key_prefix):
    """An interactive request whose wait would end after its deadline is refused without waiting or
    holding background requests back; the wait it reports is what is left of the recorded pause."""
    rate_limiter = limiter(redis_client, key_prefix)
    await rate_limiter.pause(60_000)
    pause_end = int(await redis_client.get(Keyspace(key_prefix).tmdb_paused_until()))
    before = await redis_now_ms(redis_client)
    with pytest.raises(RateLimitWaitTooLong) as caught:
        await rate_limiter.acquire("interactive", deadline=time.monotonic() + 0.3)
    after = await redis_now_ms(redis_client)
    assert pause_end - after <= round(caught.value.wait_seconds * 1000) <= pause_end - before
    assert await redis_client.zcard(Keyspace(key_prefix).tmdb_waiters()) == 0


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
