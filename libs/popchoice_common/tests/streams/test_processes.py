"""Crash recovery and shutdown with real consumer processes against the real Redis."""

import signal

from popchoice_common.events import CATALOG_SEED_MOVIE, SeedMovieRequested
from popchoice_common.streams import get_job


async def test_sigkill_mid_handler_another_consumer_finishes(redis_client, keys, publisher, start_consumer, wait_for):
    """A consumer killed mid-handler loses nothing: another finishes the job after the visibility timeout, once."""
    await redis_client.set(f"{keys.prefix}behaviour", "hang")
    first = start_consumer(VISIBILITY_MS=800)
    event = SeedMovieRequested.for_movie(603)
    await publisher.publish(event)
    await wait_for(lambda: redis_client.llen(f"{keys.prefix}started"))
    first.send_signal(signal.SIGKILL)
    first.wait()
    await redis_client.delete(f"{keys.prefix}behaviour")
    start_consumer(VISIBILITY_MS=800)
    job = await wait_for(lambda: _job_in_state(redis_client, keys, event.job_id, "completed"), limit=20)
    assert job.reclaims == 1 and job.attempts == 2
    assert int(await redis_client.get(f"{keys.prefix}effects")) == 1
    assert int(await redis_client.get(f"{keys.prefix}runs:{event.job_id}")) == 2


async def test_poison_message_is_dead_lettered_then_retried(
    redis_client, keys, publisher, admin, start_consumer, wait_for
):
    """A message that kills its consumer every time ends in :dead after N deliveries; retried later, it succeeds."""
    await redis_client.set(f"{keys.prefix}behaviour", "crash")
    event = SeedMovieRequested.for_movie(7)
    await publisher.publish(event)
    for _ in range(6):
        process = start_consumer(VISIBILITY_MS=300, MAX_RECLAIMS=2)
        while process.poll() is None:
            if await redis_client.xlen(keys.dead(CATALOG_SEED_MOVIE)):
                break
            await _sleep(0.05)
        if await redis_client.xlen(keys.dead(CATALOG_SEED_MOVIE)):
            break
    assert process.poll() is None or process.returncode == 17
    (letter,) = await admin.dead_letters(CATALOG_SEED_MOVIE)
    assert letter.job_id == event.job_id and "consumer died" in letter.error
    assert int(await redis_client.get(f"{keys.prefix}runs:{event.job_id}")) == 3  # first delivery + 2 reclaims
    assert (await get_job(redis_client, keys, event.job_id)).state == "dead"

    await redis_client.delete(f"{keys.prefix}behaviour")  # the cause is fixed
    if process.poll() is not None:
        start_consumer(VISIBILITY_MS=300, MAX_RECLAIMS=2)
    assert await admin.retry_dead(CATALOG_SEED_MOVIE, letter.id)
    job = await wait_for(lambda: _job_in_state(redis_client, keys, event.job_id, "completed"))
    assert job.attempts == 1
    assert await admin.dead_letters(CATALOG_SEED_MOVIE) == []
    assert int(await redis_client.get(f"{keys.prefix}effects")) == 1


async def test_sigterm_finishes_in_flight_and_hands_back_the_rest(
    redis_client, keys, publisher, start_consumer, wait_for
):
    """SIGTERM mid-batch: running handlers finish and are acked, exit code 0; the rest are done by another consumer."""
    await redis_client.set(f"{keys.prefix}behaviour", "sleep:1.0")
    events = [SeedMovieRequested.for_movie(i) for i in range(10)]
    first = start_consumer(CONCURRENCY=2, PREFETCH=10, VISIBILITY_MS=5000)
    await publisher.publish_many(events)
    await wait_for(lambda: _at_least(redis_client.llen(f"{keys.prefix}started"), 2))
    first.send_signal(signal.SIGTERM)
    assert first.wait(timeout=15) == 0
    started_by_first = [job.decode() for job in await redis_client.lrange(f"{keys.prefix}started", 0, -1)]
    assert len(started_by_first) == 2
    for job_id in started_by_first:
        assert (await get_job(redis_client, keys, job_id)).state == "completed"
    pending = await redis_client.xpending(keys.stream(CATALOG_SEED_MOVIE), "crash-test")
    assert pending["pending"] == 0  # nothing left hanging: the unstarted went back to the stream

    await redis_client.set(f"{keys.prefix}behaviour", "")
    start_consumer(CONCURRENCY=2, PREFETCH=10, VISIBILITY_MS=5000)
    await wait_for(lambda: _effects_at_least(redis_client, keys, 10))
    for event in events:
        assert int(await redis_client.get(f"{keys.prefix}runs:{event.job_id}")) == 1


async def _job_in_state(client, keys, job_id, state):
    job = await get_job(client, keys, job_id)
    return job if job is not None and job.state == state else None


async def _at_least(awaitable, minimum):
    return (await awaitable) >= minimum


async def _effects_at_least(client, keys, minimum):
    return int(await client.get(f"{keys.prefix}effects") or 0) >= minimum


async def _sleep(seconds):
    import asyncio

    await asyncio.sleep(seconds)
