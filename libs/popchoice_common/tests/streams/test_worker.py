"""The streams runtime in one process against the real Redis: retries, dead letters, dedupe, heartbeat."""

import asyncio
import uuid
from dataclasses import dataclass, field

import pytest
import redis.asyncio as redis

from popchoice_common.errors import PermanentError, RetryableError
from popchoice_common.events import CATALOG_SEED_MOVIE, SeedMovieRequested
from popchoice_common.redis_connection import connect_redis, is_cluster_url
from popchoice_common.streams import Publisher, StreamPolicy, Worker, get_job

FAST = StreamPolicy(max_attempts=3, backoff_ms=150, visibility_timeout_ms=2000, max_reclaims=2)


def make_worker(client, keys, handler, *, consumer="c1", policy=FAST, **options):
    worker = Worker(client, service="tests", keys=keys, consumer=consumer, block_ms=100, mover_interval_seconds=0.02)
    worker.subscribe(CATALOG_SEED_MOVIE, handler, policy=policy, **options)
    return worker


class Running:
    """Runs workers in the background for the duration of a block."""

    def __init__(self, *workers):
        self.workers = workers

    async def __aenter__(self):
        self.tasks = [asyncio.create_task(w.run(install_signal_handlers=False)) for w in self.workers]
        return self

    async def __aexit__(self, *exc):
        for worker in self.workers:
            worker.stop()
        await asyncio.gather(*self.tasks)


async def test_messages_published_before_any_consumer_are_consumed(redis_client, keys, publisher, wait_for):
    """The group is created at 0, so entries published before the first consumer are delivered."""
    await publisher.publish_many([SeedMovieRequested.for_movie(i) for i in range(5)])
    seen = []

    async def handle(event, context):
        seen.append(event.tmdb_id)

    async with Running(make_worker(redis_client, keys, handle)):
        await wait_for(lambda: _true(len(seen) == 5))
    assert sorted(seen) == [0, 1, 2, 3, 4]


@dataclass(frozen=True)
class RecordedBackoff(StreamPolicy):
    """A policy that remembers each retry delay it gave the worker (ms)."""

    delays: list[int] = field(default_factory=list)

    def retry_delay_ms(self, attempt, rng=None):
        delay = super().retry_delay_ms(attempt, rng)
        self.delays.append(delay)
        return delay


async def test_retryable_failures_are_retried_with_growing_delays(redis_client, keys, publisher, admin, wait_for):
    """A retryable error is retried after backoff that grows each time, then dead-lettered when attempts run out."""
    policy = RecordedBackoff(max_attempts=3, backoff_ms=150, visibility_timeout_ms=2000, max_reclaims=2)
    runs = []

    async def handle(event, context):
        job = await get_job(redis_client, keys, context.job_id)
        runs.append((context.attempt, job.started_at))
        raise RetryableError("TMDB answered 503")

    event = SeedMovieRequested.for_movie(1)
    await publisher.publish(event)
    async with Running(make_worker(redis_client, keys, handle, policy=policy)):
        await wait_for(lambda: _job_state(redis_client, keys, event.job_id, "dead"), limit=10)
    assert [attempt for attempt, _ in runs] == [1, 2, 3]
    first_delay, second_delay, _ = policy.delays
    assert first_delay < second_delay
    # Each retry started (as the worker recorded it) no sooner than its delay after the attempt before.
    (_, first), (_, second), (_, third) = runs
    assert second - first >= first_delay and third - second >= second_delay
    (letter,) = await admin.dead_letters(CATALOG_SEED_MOVIE)
    assert letter.attempts == 3 and "503" in letter.error and letter.consumer == "c1"
    assert letter.data and letter.failed_at and letter.enqueued_at


async def test_permanent_failures_go_straight_to_dead_letters(redis_client, keys, publisher, admin, wait_for):
    """A permanent error is not retried."""
    runs = []

    async def handle(event, context):
        runs.append(context.attempt)
        raise PermanentError("TMDB says 404: The resource you requested could not be found.")

    event = SeedMovieRequested.for_movie(2)
    await publisher.publish(event)
    async with Running(make_worker(redis_client, keys, handle)):
        await wait_for(lambda: _job_state(redis_client, keys, event.job_id, "dead"))
    assert runs == [1]
    (letter,) = await admin.dead_letters(CATALOG_SEED_MOVIE)
    assert "404" in letter.error and letter.attempts == 1


async def test_undecodable_payloads_are_dead_lettered_without_a_retry(redis_client, keys, admin, wait_for):
    """A message that does not decode never reaches the handler and is dead-lettered at once with the error."""
    calls = []

    async def handle(event, context):
        calls.append(event)

    stream = keys.stream(CATALOG_SEED_MOVIE)
    await redis_client.xadd(
        stream, {"job_id": "tmdb-seed:x:en-US", "data": b'{"type":"catalog.seed-movie","tmdb_id":"x"}'}
    )
    await redis_client.xadd(stream, {"job_id": "junk", "data": b"not json"})
    async with Running(make_worker(redis_client, keys, handle)):
        await wait_for(lambda: _dead_count(redis_client, keys, 2))
    assert calls == []
    letters = await admin.dead_letters(CATALOG_SEED_MOVIE)
    assert all("undecodable" in letter.error for letter in letters)
    assert letters[0].attempts == 1 and letters[1].data == "not json"


async def test_same_job_id_published_concurrently_runs_once(redis_url, keys, wait_for):
    """Two publishers racing with the same job id enqueue it once; the handler runs once."""
    clients = [connect_redis(redis_url) for _ in range(4)]
    event = SeedMovieRequested.for_movie(42)
    results = await asyncio.gather(*(Publisher(client, keys).publish(event) for client in clients for _ in range(5)))
    assert sum(result.enqueued for result in results) == 1
    assert {result.entry_id for result in results} == {results[0].entry_id}
    runs = []

    async def handle(ev, context):
        runs.append(context.job_id)

    async with Running(make_worker(clients[0], keys, handle)):
        await wait_for(lambda: _job_state(clients[0], keys, event.job_id, "completed"))
        again = await Publisher(clients[1], keys).publish(event)
    assert not again.enqueued and again.state == "completed"
    assert runs == [event.job_id]
    assert await clients[0].xlen(keys.stream(CATALOG_SEED_MOVIE)) <= 1
    for client in clients:
        await client.aclose()


async def test_dead_job_ids_can_be_published_again(redis_client, keys, publisher, wait_for):
    """Dedupe covers queued, active, retrying and completed jobs, not dead ones."""

    async def fail(event, context):
        raise PermanentError("bad")

    event = SeedMovieRequested.for_movie(5)
    await publisher.publish(event)
    async with Running(make_worker(redis_client, keys, fail)):
        await wait_for(lambda: _job_state(redis_client, keys, event.job_id, "dead"))
    again = await publisher.publish(event)
    assert again.enqueued
    assert (await get_job(redis_client, keys, event.job_id)).attempts == 0


async def test_long_handler_is_not_executed_twice(redis_client, keys, publisher, wait_for):
    """A handler running three times the visibility timeout keeps its entry (heartbeat): no other consumer runs it."""
    policy = StreamPolicy(max_attempts=3, backoff_ms=100, visibility_timeout_ms=300, max_reclaims=3)
    runs = []

    async def slow(event, context):
        runs.append(context.consumer)
        await asyncio.sleep(0.9)

    event = SeedMovieRequested.for_movie(9)
    one = make_worker(redis_client, keys, slow, consumer="one", policy=policy)
    two = make_worker(redis_client, keys, slow, consumer="two", policy=policy)
    async with Running(one, two):
        await publisher.publish(event)
        await wait_for(lambda: _job_state(redis_client, keys, event.job_id, "completed"), limit=10)
        await asyncio.sleep(0.5)
    assert len(runs) == 1
    job = await get_job(redis_client, keys, event.job_id)
    assert job.reclaims == 0 and job.attempts == 1


async def test_job_state_records_the_lifecycle(redis_client, keys, publisher, wait_for):
    """Job state moves queued → active → completed with attempts, entry id, consumer and timestamps."""
    gate = asyncio.Event()
    states = []

    async def handle(event, context):
        states.append((await get_job(redis_client, keys, context.job_id)).state)
        await gate.wait()

    event = SeedMovieRequested.for_movie(11)
    result = await publisher.publish(event)
    queued = await get_job(redis_client, keys, event.job_id)
    assert (queued.state, queued.attempts, queued.entry_id, queued.stream) == (
        "queued",
        0,
        result.entry_id,
        CATALOG_SEED_MOVIE,
    )
    async with Running(make_worker(redis_client, keys, handle)):
        await wait_for(lambda: _true(states))
        gate.set()
        job = await wait_for(lambda: _job_state(redis_client, keys, event.job_id, "completed"))
    assert states == ["active"]
    assert job.attempts == 1 and job.consumer == "c1"
    assert job.enqueued_at <= job.started_at <= job.finished_at
    assert await redis_client.ttl(keys.job(CATALOG_SEED_MOVIE, event.job_id)) > 0


async def test_completed_retention_keeps_the_newest(redis_client, keys, publisher, wait_for):
    """Completed jobs beyond the retention count are forgotten, oldest first."""
    from popchoice_common.streams import RetentionSettings

    async def handle(event, context):
        return None

    worker = Worker(
        redis_client,
        service="tests",
        keys=keys,
        consumer="c1",
        block_ms=100,
        retention=RetentionSettings(completed_count=3),
    )
    worker.subscribe(CATALOG_SEED_MOVIE, handle, policy=FAST)
    events = [SeedMovieRequested.for_movie(i) for i in range(8)]
    await publisher.publish_many(events)
    async with Running(worker):
        await wait_for(lambda: _processed(redis_client, keys, 8))
    kept = [await get_job(redis_client, keys, event.job_id) for event in events]
    assert [job is not None for job in kept].count(True) == 3
    assert kept[-1] is not None and kept[0] is None


async def test_a_redelivered_completed_job_is_acked_without_running(redis_client, keys, publisher, wait_for):
    """If a completed job's entry is delivered again (an ack lost), the handler does not run again."""
    runs = []

    async def handle(event, context):
        runs.append(context.job_id)

    event = SeedMovieRequested.for_movie(12)
    await publisher.publish(event)
    async with Running(make_worker(redis_client, keys, handle)):
        await wait_for(lambda: _job_state(redis_client, keys, event.job_id, "completed"))
        # The same entry again, as if the ack of the first delivery had been lost.
        await redis_client.xadd(keys.stream(CATALOG_SEED_MOVIE), {"job_id": event.job_id, "data": b"{}"})
        await wait_for(lambda: _group_pending_is(redis_client, keys, 0, delivered=2))
    assert runs == [event.job_id]


async def test_pause_stops_consumption_until_resumed(redis_client, keys, publisher, admin, wait_for):
    """A paused stream is not read; resuming it lets the jobs run."""
    seen = []

    async def handle(event, context):
        seen.append(event.tmdb_id)

    await admin.pause(CATALOG_SEED_MOVIE)
    async with Running(make_worker(redis_client, keys, handle)):
        await asyncio.sleep(0.3)
        await publisher.publish(SeedMovieRequested.for_movie(1))
        await asyncio.sleep(0.5)
        assert seen == []
        (stats,) = await admin.stats([CATALOG_SEED_MOVIE])
        assert stats.paused and stats.length == 1
        await admin.resume(CATALOG_SEED_MOVIE)
        await wait_for(lambda: _true(seen == [1]))


async def _true(value):
    return value


async def _job_state(client, keys, job_id, state):
    job = await get_job(client, keys, job_id)
    return job if job is not None and job.state == state else None


async def _dead_count(client, keys, count):
    return await client.xlen(keys.dead(CATALOG_SEED_MOVIE)) == count


async def _processed(client, keys, count):
    return int(await client.hget(keys.counters(CATALOG_SEED_MOVIE), "processed") or 0) >= count


async def _group_pending_is(client, keys, pending, delivered):
    (group,) = await client.xinfo_groups(keys.stream(CATALOG_SEED_MOVIE))
    return group["pending"] == pending and group["entries-read"] == delivered


@pytest.fixture(autouse=True)
def _fast_tests():
    """Keeps every test here short: none should need more than the waits it states."""
    yield


async def test_metrics_count_per_service_and_stream(redis_client, keys, publisher, wait_for):
    """Processed, failed, retried and dead-lettered jobs and handler latency are exported per service and stream."""
    from prometheus_client import REGISTRY

    def sample(name, **labels):
        return REGISTRY.get_sample_value(name, {"service": "metrics-test", "stream": CATALOG_SEED_MOVIE, **labels}) or 0

    before = {name: sample(name) for name in ("popchoice_jobs_processed_total", "popchoice_jobs_dead_lettered_total")}

    async def handle(event, context):
        if event.tmdb_id == 0:
            raise PermanentError("no")

    worker = Worker(redis_client, service="metrics-test", keys=keys, consumer="m", block_ms=100)
    worker.subscribe(CATALOG_SEED_MOVIE, handle, policy=FAST)
    await publisher.publish_many([SeedMovieRequested.for_movie(i) for i in range(3)])
    async with Running(worker):
        await wait_for(lambda: _processed(redis_client, keys, 2))
        await wait_for(lambda: _dead_count(redis_client, keys, 1))
    assert sample("popchoice_jobs_processed_total") - before["popchoice_jobs_processed_total"] == 2
    assert sample("popchoice_jobs_dead_lettered_total") - before["popchoice_jobs_dead_lettered_total"] == 1
    assert sample("popchoice_job_handler_seconds_count") >= 3


def test_consumer_names_are_host_and_pid(redis_client):
    """Each process is a consumer named host-pid."""
    import os
    import socket

    assert Worker(redis_client, service="x").consumer == f"{socket.gethostname()}-{os.getpid()}"


def test_metrics_are_served_over_http(monkeypatch):
    """With METRICS_PORT set, a worker process serves Prometheus text on /metrics."""
    import socket
    import urllib.request

    from popchoice_common.settings import PopChoiceSettings
    from popchoice_common.streams.runtime import serve_metrics

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("METRICS_PORT", str(port))
    serve_metrics(PopChoiceSettings())
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    assert "popchoice_jobs_processed_total" in body


async def test_announcements_are_capped_and_keep_no_job_state(redis_client, keys, publisher):
    """Notifications for listeners (recommendation.completed) cap their stream and leave no job state behind."""
    import uuid

    from popchoice_common.events import RECOMMENDATION_COMPLETED, RecommendationCompleted

    for _ in range(300):
        await publisher.announce(RecommendationCompleted.for_batch(uuid.uuid4(), "completed"), maxlen=100)
    assert await redis_client.xlen(keys.stream(RECOMMENDATION_COMPLETED)) < 300
    assert [key async for key in redis_client.scan_iter(match=f"{{{keys.prefix}*}}:job:*")] == []


async def test_publishing_and_acknowledging_survive_a_lost_script_cache(redis_client, keys, publisher, wait_for):
    """Scripts go out by SHA; after SCRIPT FLUSH (as after a Redis restart) publish and the
    acknowledgement batch load them again and lose nothing."""
    seen = []

    async def handle(event, context):
        seen.append(event.tmdb_id)

    await publisher.publish(SeedMovieRequested.for_movie(1))
    await redis_client.script_flush()
    results = await publisher.publish_many([SeedMovieRequested.for_movie(2), SeedMovieRequested.for_movie(1)])
    assert [result.enqueued for result in results] == [True, False]  # the dedupe ran: job 1 is known
    async with Running(make_worker(redis_client, keys, handle)):
        await wait_for(lambda: _true(len(seen) == 2))
        await redis_client.script_flush()
        await publisher.publish(SeedMovieRequested.for_movie(3))
        await wait_for(lambda: _true(len(seen) == 3))
        for tmdb_id in (1, 2, 3):
            job_id = SeedMovieRequested.for_movie(tmdb_id).job_id
            await wait_for(lambda job_id=job_id: _job_state(redis_client, keys, job_id, "completed"))
    assert sorted(seen) == [1, 2, 3]


async def test_announcements_go_out_with_the_acknowledgement_of_a_success_only(redis_client, keys, publisher, wait_for):
    """A handler's announce_on_ack reaches the announcement stream once the job is acked; an attempt
    that fails announces nothing."""
    from popchoice_common.events import RECOMMENDATION_COMPLETED, RecommendationCompleted

    announced_for = {1: uuid.uuid4(), 2: uuid.uuid4()}

    async def handle(event, context):
        context.announce_on_ack(RecommendationCompleted.for_batch(announced_for[event.tmdb_id], "completed"))
        if event.tmdb_id == 2 and context.attempt == 1:
            raise RetryableError("TMDB answered 503")

    await publisher.publish_many([SeedMovieRequested.for_movie(1), SeedMovieRequested.for_movie(2)])
    async with Running(make_worker(redis_client, keys, handle)):
        for tmdb_id in (1, 2):
            job_id = SeedMovieRequested.for_movie(tmdb_id).job_id
            await wait_for(lambda job_id=job_id: _job_state(redis_client, keys, job_id, "completed"), limit=10)
    entries = await redis_client.xrange(keys.stream(RECOMMENDATION_COMPLETED))
    announced = [RecommendationCompleted.for_batch(rid, "completed").job_id for rid in announced_for.values()]
    assert sorted(fields[b"job_id"].decode() for _, fields in entries) == sorted(announced)  # one each


class CountingRedis(redis.Redis):
    """A client that records the commands it sends as plain commands."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.commands = []

    async def execute_command(self, *args, **options):
        self.commands.append(args)
        return await super().execute_command(*args, **options)


async def test_a_quiet_stream_costs_no_empty_non_blocking_reads(redis_url, keys, publisher, wait_for):
    """Once nothing is waiting, the reader waits in the blocking read: the non-blocking read (which takes
    waiting entries without waiting) runs again only after a full read."""
    if is_cluster_url(redis_url):
        pytest.skip("counts the commands of a one-node client (a Redis subclass)")
    client = CountingRedis.from_url(redis_url)
    assert isinstance(client, CountingRedis)
    seen = []

    async def handle(event, context):
        seen.append(event.tmdb_id)

    worker = make_worker(client, keys, handle)  # block_ms=100: a second idle makes about ten wake-ups
    try:
        async with Running(worker):
            await asyncio.sleep(1.0)
            await publisher.publish(SeedMovieRequested.for_movie(7))
            await wait_for(lambda: _true(seen == [7]))
            await asyncio.sleep(0.3)
        reads = [command for command in client.commands if command[0] == "XREADGROUP"]
        assert len(reads) > 5
        assert [command for command in reads if b"BLOCK" not in command] == reads[:1]  # the first read only
    finally:
        await client.aclose()


async def test_a_handler_that_never_returns_times_out_is_retried_and_dead_lettered(
    redis_client, keys, publisher, admin, wait_for
):
    """A hung handler is cancelled at the stream's handler timeout; each attempt counts as failed, and the
    job ends in the dead letters "timed out after N s" instead of holding its slot forever."""
    policy = StreamPolicy(
        max_attempts=2, backoff_ms=50, visibility_timeout_ms=2000, max_reclaims=2, handler_timeout_ms=200
    )
    attempts = []
    cancelled = []

    async def hang(event, context):
        attempts.append(context.attempt)
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(context.attempt)
            raise

    event = SeedMovieRequested.for_movie(7)
    await publisher.publish(event)
    async with Running(make_worker(redis_client, keys, hang, policy=policy)):
        await wait_for(lambda: _job_state(redis_client, keys, event.job_id, "dead"), limit=10)
    assert attempts == [1, 2] and cancelled == [1, 2]
    (letter,) = await admin.dead_letters(CATALOG_SEED_MOVIE)
    assert letter.attempts == 2 and letter.error == "timed out after 0.2 s"


async def test_the_heartbeat_stops_keeping_an_entry_past_its_handler_timeout(redis_client, keys, publisher, wait_for):
    """An entry whose handler ran past its timeout is no longer refreshed by the heartbeat, so another
    consumer can reclaim it if this process cannot cancel the handler."""
    policy = StreamPolicy(
        max_attempts=3, backoff_ms=50, visibility_timeout_ms=60_000, max_reclaims=2, handler_timeout_ms=60_000
    )
    started, release = asyncio.Event(), asyncio.Event()

    async def slow(event, context):
        started.set()
        await release.wait()

    worker = make_worker(redis_client, keys, slow, policy=policy)
    await publisher.publish(SeedMovieRequested.for_movie(8))
    async with Running(worker):
        await asyncio.wait_for(started.wait(), 10)
        stream = keys.stream(CATALOG_SEED_MOVIE)
        (sub,) = worker._subscriptions.values()
        (entry,) = list(sub.deadlines)
        await asyncio.sleep(0.05)
        await worker.heartbeat()
        fresh = (await redis_client.xpending_range(stream, sub.group, "-", "+", 10))[0]["time_since_delivered"]
        assert fresh < 1000  # within its timeout: kept fresh
        sub.deadlines[entry] = 0.0  # as if its time were up
        await asyncio.sleep(0.3)
        await worker.heartbeat()
        idle = (await redis_client.xpending_range(stream, sub.group, "-", "+", 10))[0]["time_since_delivered"]
        assert idle >= 300  # not refreshed any more
        release.set()


async def test_the_on_dead_hook_runs_once_when_a_job_is_dead_lettered(redis_client, keys, publisher, wait_for):
    """on_dead gets the event and the error once a job will not run again (here, a timeout on the last
    attempt), and never for an attempt that will be retried."""
    policy = StreamPolicy(
        max_attempts=2, backoff_ms=50, visibility_timeout_ms=2000, max_reclaims=2, handler_timeout_ms=150
    )
    dead = []

    async def hang(event, context):
        await asyncio.Event().wait()

    async def on_dead(event, error):
        dead.append((event.tmdb_id, error))

    event = SeedMovieRequested.for_movie(9)
    await publisher.publish(event)
    worker = Worker(redis_client, service="tests", keys=keys, consumer="c1", block_ms=100, mover_interval_seconds=0.02)
    worker.subscribe(CATALOG_SEED_MOVIE, hang, policy=policy, on_dead=on_dead)
    async with Running(worker):
        await wait_for(lambda: _job_state(redis_client, keys, event.job_id, "dead"), limit=10)
        await wait_for(lambda: _true(bool(dead)))
    assert dead == [(9, "timed out after 0.15 s")]


async def test_a_failing_on_dead_hook_does_not_stop_the_worker(redis_client, keys, publisher, wait_for):
    """A hook that raises is logged; the worker goes on with the next job."""
    handled = []

    async def handle(event, context):
        if event.tmdb_id == 1:
            raise PermanentError("no such film")
        handled.append(event.tmdb_id)

    async def on_dead(event, error):
        raise RuntimeError("the database is away")

    await publisher.publish_many([SeedMovieRequested.for_movie(1), SeedMovieRequested.for_movie(2)])
    worker = Worker(redis_client, service="tests", keys=keys, consumer="c1", block_ms=100, mover_interval_seconds=0.02)
    worker.subscribe(CATALOG_SEED_MOVIE, handle, policy=FAST, on_dead=on_dead)
    async with Running(worker):
        await wait_for(lambda: _true(handled == [2]))


async def test_reads_overlapping_their_claims_hold_no_more_than_the_prefetch(redis_client, keys, publisher, wait_for):
    """With reads of a quarter of the prefetch going out before the previous read's jobs are marked
    active, the entries delivered to the consumer and unfinished never exceed the prefetch."""
    release = asyncio.Event()
    running = []

    async def handle(event, context):
        running.append(event.tmdb_id)
        await release.wait()

    await publisher.publish_many([SeedMovieRequested.for_movie(i) for i in range(40)])
    worker = make_worker(redis_client, keys, handle, concurrency=2, prefetch=8, read_count=2)
    async with Running(worker):
        await wait_for(lambda: _true(len(running) == 2))
        await asyncio.sleep(0.3)  # a reader not held back would read on meanwhile
        (group,) = await redis_client.xinfo_groups(keys.stream(CATALOG_SEED_MOVIE))
        assert group["pending"] == 8
        assert len(running) == 2
        release.set()
        await wait_for(lambda: _processed(redis_client, keys, 40))
    assert sorted(running) == list(range(40))


async def test_completed_retention_holds_over_many_batches(redis_client, keys, publisher, wait_for):
    """Forgetting the oldest completed jobs runs beside the acks of later batches, and after the
    worker stops the completed index holds exactly the retention count, the newest jobs."""
    from popchoice_common.streams import RetentionSettings

    async def handle(event, context):
        return None

    worker = Worker(
        redis_client,
        service="tests",
        keys=keys,
        consumer="c1",
        block_ms=100,
        retention=RetentionSettings(completed_count=50),
    )
    worker.subscribe(CATALOG_SEED_MOVIE, handle, policy=FAST, concurrency=10)
    events = [SeedMovieRequested.for_movie(i) for i in range(600)]
    await publisher.publish_many(events)
    async with Running(worker):
        await wait_for(lambda: _processed(redis_client, keys, 600))
    assert await redis_client.zcard(keys.completed_index(CATALOG_SEED_MOVIE)) == 50
    kept = [await get_job(redis_client, keys, event.job_id, CATALOG_SEED_MOVIE) for event in events]
    assert all(job is None for job in kept[:500])


async def test_a_delivery_is_not_lost_when_its_waiting_handler_task_is_cancelled():
    """A handler task woken for a delivery but cancelled before it takes it leaves the delivery to the
    next waiting task (as asyncio.Queue does)."""
    from popchoice_common.streams.subscription import Delivery, DeliveryQueue

    queue = DeliveryQueue()
    first = asyncio.create_task(queue.get())
    second = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    delivery = Delivery("1-0", "job", b"{}", 1)
    queue.put_nowait(delivery)
    first.cancel()
    assert await second is delivery
    assert first.cancelled()
    assert queue.qsize() == 0
