"""`popchoice-jobs migrate-keys`: jobs under the old key names move to the keyspace's, once, and then run."""

import asyncio
import json

import pytest

from popchoice_common.errors import ConfigurationError
from popchoice_common.events import CATALOG_SEED_MOVIE, SeedMovieRequested, encode_event
from popchoice_common.keyspace import LegacyKeyspace
from popchoice_common.redis_connection import is_cluster_url
from popchoice_common.streams import StreamPolicy, Worker, get_job
from popchoice_common.streams.admin import StreamsAdmin
from popchoice_common.streams.cli import main as jobs_cli
from popchoice_common.streams.upgrade import KeyMigration

STREAM = CATALOG_SEED_MOVIE


def event(tmdb_id):
    return SeedMovieRequested.for_movie(tmdb_id)


async def write_old_layout(client, prefix, now_ms):
    """The keys the version before the keyspace wrote, by hand: on catalog.seed-movie (group "tests")
    film 1 completed and acked, film 2 delivered to a consumer that stopped, film 3 not yet delivered,
    film 4 retrying (due), film 5 dead; plus counters and the pause flag."""
    old = LegacyKeyspace(prefix)
    stream = old.stream(STREAM)
    ids = {}
    for tmdb_id in (1, 2, 3):
        ids[tmdb_id] = (
            await client.xadd(stream, {"job_id": event(tmdb_id).job_id, "data": encode_event(event(tmdb_id))})
        ).decode()
    await client.xgroup_create(stream, "tests", id="0")
    await client.xreadgroup("tests", "old-consumer", {stream: ">"}, count=2)
    await client.xack(stream, "tests", ids[1])

    def job(tmdb_id, state, **fields):
        mapping = {"state": state, "stream": STREAM, "attempts": 1, "reclaims": 0, "enqueued_at": now_ms - 60_000}
        return client.hset(old.job(event(tmdb_id).job_id), mapping={**mapping, **fields})

    await job(1, "completed", entry_id=ids[1], finished_at=now_ms - 50_000)
    await client.zadd(old.completed_index(STREAM), {event(1).job_id: now_ms - 50_000})
    await job(2, "active", entry_id=ids[2], consumer="old-consumer", data=encode_event(event(2)))
    await job(3, "queued", entry_id=ids[3], attempts=0, data=encode_event(event(3)))
    await job(4, "retrying", entry_id="1-1", data=encode_event(event(4)), error="TMDB answered 503")
    await client.zadd(old.delayed(STREAM), {event(4).job_id: now_ms - 1000})
    await client.rpush(old.job_errors(event(4).job_id), json.dumps({"attempt": 1, "error": "TMDB answered 503"}))
    await job(5, "dead", entry_id="1-2", data=encode_event(event(5)), error="no such film")
    await client.xadd(
        old.dead(STREAM),
        {
            "job_id": event(5).job_id,
            "data": encode_event(event(5)),
            "error": "no such film",
            "attempts": 1,
            "stream": STREAM,
        },
    )
    await client.zadd(old.dead_index(STREAM), {event(5).job_id: now_ms - 40_000})
    await client.hset(old.counters(STREAM), mapping={"enqueued": 5, "processed": 1, "dead": 1})


async def test_migrate_keys_moves_queued_retrying_and_dead_jobs_once_and_a_worker_runs_them(
    checked_scripts, redis_url, redis_client, key_prefix, keys, monkeypatch, capsys, wait_for
):
    """Queued, held, retrying and dead jobs and the completed job's state move to the new keys; a second
    run moves nothing; a worker then runs each waiting job exactly once, and the dead one once retried.
    The migration's scripts run with the key check too. On a cluster (where the old layout never ran)
    the command refuses."""
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("STREAM_KEY_PREFIX", key_prefix)
    if is_cluster_url(redis_url):
        with pytest.raises(ConfigurationError):
            KeyMigration(redis_client, key_prefix)
        assert await asyncio.to_thread(jobs_cli, ["migrate-keys"]) == 2
        return
    now_ms = int((await redis_client.time())[0]) * 1000
    await write_old_layout(redis_client, key_prefix, now_ms)

    assert await asyncio.to_thread(jobs_cli, ["migrate-keys"]) == 0
    assert f"{STREAM}: queued 2, retrying 1, dead 1, completed 1" in capsys.readouterr().out
    assert await asyncio.to_thread(jobs_cli, ["migrate-keys"]) == 0
    assert "moved 0 jobs" in capsys.readouterr().out

    old = LegacyKeyspace(key_prefix)
    assert [key async for key in redis_client.scan_iter(match=f"{key_prefix}*")] == []
    assert await redis_client.xlen(keys.stream(STREAM)) == 2
    held = await get_job(redis_client, keys, event(2).job_id, STREAM)
    assert (held.state, held.attempts) == ("queued", 0)  # the stopped consumer's attempt is uncounted
    assert (await get_job(redis_client, keys, event(1).job_id, STREAM)).state == "completed"
    assert await redis_client.llen(keys.job_errors(STREAM, event(4).job_id)) == 1
    assert int(await redis_client.hget(keys.counters(STREAM), "enqueued")) == 5
    assert not await redis_client.exists(old.stream(STREAM))

    runs = []

    async def handle(seed, context):
        runs.append(seed.tmdb_id)

    worker = Worker(redis_client, service="tests", keys=keys, consumer="c1", block_ms=100, mover_interval_seconds=0.02)
    worker.subscribe(STREAM, handle, policy=StreamPolicy(max_attempts=3, backoff_ms=50, visibility_timeout_ms=2000))
    task = asyncio.create_task(worker.run(install_signal_handlers=False))
    try:
        await wait_for(lambda: _true(sorted(runs) == [2, 3, 4]))
        (dead,) = await StreamsAdmin(redis_client, keys).dead_letters(STREAM)
        assert dead.job_id == event(5).job_id and dead.error == "no such film"
        assert await StreamsAdmin(redis_client, keys).retry_dead(STREAM, dead.id)
        await wait_for(lambda: _true(sorted(runs) == [2, 3, 4, 5]))
    finally:
        worker.stop()
        await task
    assert sorted(runs) == [2, 3, 4, 5]  # film 1 had completed: it does not run again


async def _true(value):
    return value
