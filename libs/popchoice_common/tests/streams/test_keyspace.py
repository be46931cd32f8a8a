"""One keyspace: every key of a stream in one cluster slot, and every Lua script declaring each key it touches."""

import asyncio
import time

import pytest
from redis.crc import key_slot
from redis.exceptions import ResponseError

from popchoice_common.errors import PermanentError, RetryableError
from popchoice_common.events import (
    CATALOG_SEED_MOVIE,
    STREAM_EVENTS,
    BackfillMovieRequested,
    MovieSeedRequested,
    SeedMovieRequested,
)
from popchoice_common.keyspace import Keyspace
from popchoice_common.streams import Publisher, RetentionSettings, StreamPolicy, Worker, get_job, scripts
from popchoice_common.streams.admin import StreamsAdmin
from popchoice_common.tmdb import rate_limit
from popchoice_common.tmdb.rate_limit import RedisRateLimiter


def test_every_key_of_a_stream_hashes_to_one_slot():
    """The stream, its dead letters, indexes, counters, pause flag and each job's keys share one slot."""
    keys = Keyspace("popchoice:")
    for stream in STREAM_EVENTS:
        names = [*keys.stream_keys(stream), keys.job(stream, "job-1"), keys.job_errors(stream, "job-2")]
        assert {key_slot(name.encode()) for name in names} == {key_slot(keys.stream(stream).encode())}


def test_streams_spread_over_slots_and_the_tmdb_budget_is_one_slot():
    """Different streams hash to different slots (so they spread over shards); the TMDB budget is one slot."""
    keys = Keyspace("popchoice:")
    assert len({key_slot(keys.stream(stream).encode()) for stream in STREAM_EVENTS}) > len(STREAM_EVENTS) // 2
    budget = [keys.tmdb_requests(), keys.tmdb_paused_until(), keys.tmdb_waiters()]
    assert len({key_slot(name.encode()) for name in budget}) == 1


def test_the_scripts_are_package_resources_that_declare_their_keys():
    """Each script is loaded from a .lua resource and reads its key names from KEYS[], never from ARGV."""
    for name, source in scripts.ALL.items():
        assert source.strip(), name
        assert "KEYS[" in source, name
    assert "KEYS[" in rate_limit._ACQUIRE and "KEYS[" in rate_limit._PAUSE


async def test_the_key_check_catches_a_key_built_inside_a_script(redis_client, key_prefix, key_check):
    """The check itself can fail: a script that builds a key name from ARGV is refused."""
    built_inside = key_check + "return redis.call('GET', ARGV[1] .. 'built')"
    with pytest.raises(ResponseError, match="undeclared key"):
        await redis_client.eval(built_inside, 1, f"{key_prefix}declared", key_prefix)
    declared = key_check + "return redis.call('GET', KEYS[1])"
    assert await redis_client.eval(declared, 1, f"{key_prefix}declared") is None


async def test_every_script_touches_only_the_keys_it_declares(
    checked_scripts, redis_client, key_prefix, wait_for, capsys
):
    """Publishing, running, failing, retrying, dead-lettering, retention, release at shutdown, the operator
    actions and the TMDB limiter all run their scripts with the key check, and none is refused."""
    keys = Keyspace(key_prefix)
    publisher = Publisher(redis_client, keys)
    admin = StreamsAdmin(redis_client, keys)
    policy = StreamPolicy(max_attempts=2, backoff_ms=30, visibility_timeout_ms=2000, max_reclaims=2)
    gate = asyncio.Event()

    async def handle(event, context):
        if event.tmdb_id == 1:
            raise RetryableError("TMDB answered 503")
        if event.tmdb_id == 2:
            raise PermanentError("no such film")
        if event.tmdb_id == 3:
            await gate.wait()

    worker = Worker(
        redis_client,
        service="tests",
        keys=keys,
        consumer="c1",
        block_ms=100,
        mover_interval_seconds=0.02,
        retention=RetentionSettings(completed_count=2, dead_count=1),
        shutdown_grace_seconds=0.1,
    )
    worker.subscribe(CATALOG_SEED_MOVIE, handle, policy=policy, concurrency=1, prefetch=4)
    await publisher.publish_many([SeedMovieRequested.for_movie(i) for i in (1, 2, 4, 5, 6)])
    task = asyncio.create_task(worker.run(install_signal_handlers=False))
    await wait_for(lambda: _counter(redis_client, keys, "dead", 2))
    await wait_for(lambda: _counter(redis_client, keys, "processed", 3))
    # Held while the one handler waits: 8 and 9 are fetched but never started, and go back at shutdown.
    await publisher.publish_many([SeedMovieRequested.for_movie(i) for i in (3, 8, 9)])
    await wait_for(lambda: _active(redis_client, keys, SeedMovieRequested.for_movie(3).job_id))
    worker.stop()
    gate.set()
    await task
    assert (await redis_client.zcard(keys.completed_index(CATALOG_SEED_MOVIE))) == 2
    assert (await redis_client.zcard(keys.dead_index(CATALOG_SEED_MOVIE))) == 1
    released = await get_job(redis_client, keys, SeedMovieRequested.for_movie(8).job_id, CATALOG_SEED_MOVIE)
    assert released is not None and released.state == "queued"

    (first, second) = await admin.dead_letters(CATALOG_SEED_MOVIE)
    assert await admin.retry_dead(CATALOG_SEED_MOVIE, first.id)
    assert await admin.retry_dead_as(CATALOG_SEED_MOVIE, second.id, "op:1", second.data.encode())
    await redis_client.hset(keys.job(CATALOG_SEED_MOVIE, "op:1"), mapping={"state": "retrying"})
    assert await admin.run_now(CATALOG_SEED_MOVIE, "op:1")
    (stats,) = await admin.stats([CATALOG_SEED_MOVIE])
    assert stats.counters["enqueued"] == 9

    limiter = RedisRateLimiter(redis_client, prefix=key_prefix, requests_per_window=5, window_ms=1000)
    await limiter.acquire("interactive", deadline=time.monotonic() + 1)
    await limiter.pause(50)
    assert "undeclared key" not in capsys.readouterr().out


async def _counter(client, keys, name, value):
    return int(await client.hget(keys.counters(CATALOG_SEED_MOVIE), name) or 0) >= value


async def _active(client, keys, job_id):
    job = await get_job(client, keys, job_id, CATALOG_SEED_MOVIE)
    return job is not None and job.state == "active"


async def test_on_the_cluster_each_stream_lives_on_the_master_of_its_slot(redis_url, redis_client, keys, publisher):
    """On the cluster (id cluster) the client is a RedisCluster and each stream with its job states is
    stored on the one master serving its slot, none elsewhere; on one node (id single) a plain client."""
    import redis.asyncio as redis_asyncio
    from redis.asyncio.cluster import RedisCluster

    from popchoice_common.redis_connection import HiredisPackingConnection, is_cluster_url

    events = [SeedMovieRequested.for_movie(1), MovieSeedRequested.for_movie(2), BackfillMovieRequested.for_movie(3)]
    await publisher.publish_many(events)
    if not is_cluster_url(redis_url):
        assert not isinstance(redis_client, RedisCluster)
        return
    assert isinstance(redis_client, RedisCluster)
    masters = redis_client.get_primaries()
    assert len(masters) == 3
    assert all(master.connection_class is HiredisPackingConnection for master in masters)
    for event in events:
        tag = keys.stream(event.stream).encode()
        owner = redis_client.get_node_from_key(keys.stream(event.stream))
        assert owner is not None
        for master in masters:
            direct = redis_asyncio.Redis(host=master.host, port=int(master.port))
            try:
                stored = await direct.execute_command("CLUSTER", "COUNTKEYSINSLOT", key_slot(tag))
            finally:
                await direct.aclose()
            if master.name == owner.name:
                assert stored >= 3  # the stream, its counters, the job (another test's key may share the slot)
            else:
                assert stored == 0


async def test_a_script_call_whose_keys_span_slots_is_refused(redis_url, redis_client, key_prefix):
    """The cluster client routes a script call by its first key alone; the server still refuses keys of
    two slots (CROSSSLOT), so a call can never run with keys that are not all on its shard."""
    from popchoice_common.redis_connection import is_cluster_url

    if not is_cluster_url(redis_url):
        pytest.skip("one node has no slots")
    first, second = f"{{{key_prefix}a}}:x", f"{{{key_prefix}b}}:y"
    assert key_slot(first.encode()) != key_slot(second.encode())
    with pytest.raises(ResponseError, match="don't hash to the same slot"):
        await redis_client.eval("return redis.call('GET', KEYS[1])", 2, first, second)
    assert await redis_client.eval("return redis.call('SET', KEYS[1], ARGV[1])", 1, first, "1") == b"OK"
