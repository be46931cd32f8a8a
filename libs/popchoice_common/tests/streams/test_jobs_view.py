"""What the operator dashboard reads from the runtime: per-minute throughput, jobs by state, each failure
with its traceback, and the operator's retry and run-now."""

import asyncio

from popchoice_common.events import CATALOG_SEED_MOVIE, SeedMovieRequested, encode_event
from popchoice_common.streams import StreamPolicy, Worker, get_job

ONE_ATTEMPT = StreamPolicy(max_attempts=1, backoff_ms=10, visibility_timeout_ms=2000)


def make_worker(client, keys):
    return Worker(client, service="tests", keys=keys, consumer="c1", block_ms=50, mover_interval_seconds=0.02)


async def run_until(worker, predicate, wait_for):
    task = asyncio.create_task(worker.run(install_signal_handlers=False))
    try:
        await wait_for(predicate, limit=10)
    finally:
        worker.stop()
        await task


async def state_is(client, keys, job_id, state):
    job = await get_job(client, keys, job_id)
    return job is not None and job.state == state


async def test_completed_and_failed_jobs_are_counted_per_minute(redis_client, keys, publisher, admin, wait_for):
    """Finishing jobs bumps this minute's completed count; a failure bumps its failed count; older minutes are zero."""
    await publisher.publish_many([SeedMovieRequested.for_movie(i) for i in range(1, 6)])
    worker = make_worker(redis_client, keys)

    async def handle(event, context):
        if event.tmdb_id == 5:
            raise ValueError("bad film")

    worker.subscribe(CATALOG_SEED_MOVIE, handle, policy=ONE_ATTEMPT)
    await run_until(worker, lambda: state_is(redis_client, keys, "tmdb-seed:5:en-US", "dead"), wait_for)
    await wait_for(lambda: state_is(redis_client, keys, "tmdb-seed:4:en-US", "completed"))

    minutes = await admin.throughput(CATALOG_SEED_MOVIE)
    assert len(minutes) == 60
    assert sum(minute.completed for minute in minutes) == 4 and sum(minute.failed for minute in minutes) == 1
    assert all(minute.completed == 0 for minute in minutes[:-2])


async def test_a_failure_keeps_its_traceback_and_the_dead_job_retries_under_a_new_id(
    redis_client, keys, publisher, admin, wait_for
):
    """The job's detail lists each failure with its traceback; retry_dead_as enqueues the payload under the
    new id, deletes the dead letter and points the old job at the new one."""
    event = SeedMovieRequested.for_movie(9)
    await publisher.publish(event)
    worker = make_worker(redis_client, keys)

    async def handle(event, context):
        raise ValueError("TMDB said no")

    worker.subscribe(CATALOG_SEED_MOVIE, handle, policy=ONE_ATTEMPT)
    await run_until(worker, lambda: state_is(redis_client, keys, event.job_id, "dead"), wait_for)

    detail = await admin.job(event.job_id)
    assert detail is not None and detail.state == "dead" and detail.payload is not None
    (failure,) = detail.failures
    assert failure.attempt == 1 and "Traceback" in failure.traceback and "TMDB said no" in failure.traceback
    (letter,) = await admin.dead_letters(CATALOG_SEED_MOVIE)
    renamed = encode_event(SeedMovieRequested(job_id="op:1", tmdb_id=9))
    entry_id = await admin.retry_dead_as(CATALOG_SEED_MOVIE, letter.id, "op:1", renamed)
    assert entry_id is not None
    assert (await get_job(redis_client, keys, "op:1")).state == "queued"
    assert (await admin.job(event.job_id)).fields["retried_as"] == "op:1"
    assert await admin.dead_letters(CATALOG_SEED_MOVIE) == []
    assert await admin.retry_dead_as(CATALOG_SEED_MOVIE, letter.id, "op:2", renamed) is None


async def test_jobs_are_listed_by_state_newest_first(redis_client, keys, publisher, admin, wait_for):
    """Completed jobs page newest first from the completed index; queued ones are the undelivered entries."""
    await publisher.publish_many([SeedMovieRequested.for_movie(i) for i in range(1, 4)])
    worker = make_worker(redis_client, keys)

    async def handle(event, context):
        return None

    worker.subscribe(CATALOG_SEED_MOVIE, handle, policy=ONE_ATTEMPT)
    await run_until(worker, lambda: state_is(redis_client, keys, "tmdb-seed:3:en-US", "completed"), wait_for)
    await publisher.publish_many([SeedMovieRequested.for_movie(i) for i in range(4, 7)])

    completed = await admin.list_jobs(CATALOG_SEED_MOVIE, "completed", limit=2)
    queued = await admin.list_jobs(CATALOG_SEED_MOVIE, "queued", limit=2)
    rest = await admin.list_jobs(CATALOG_SEED_MOVIE, "queued", limit=2, cursor=queued.next_cursor)
    assert completed.total == 3 and len(completed.jobs) == 2 and completed.next_cursor == "2"
    assert queued.total == 3 and [job.job_id for job in queued.jobs] == ["tmdb-seed:6:en-US", "tmdb-seed:5:en-US"]
    assert [job.job_id for job in rest.jobs] == ["tmdb-seed:4:en-US"] and rest.next_cursor is None


async def test_run_now_queues_a_retrying_job_before_its_due_time(redis_client, keys, publisher, admin, wait_for):
    """A job retrying in an hour is moved to the stream at once; a job in any other state is left alone."""
    event = SeedMovieRequested.for_movie(11)
    await publisher.publish(event)
    worker = make_worker(redis_client, keys)

    async def handle(event, context):
        raise ConnectionError("TMDB unreachable")

    worker.subscribe(CATALOG_SEED_MOVIE, handle, policy=StreamPolicy(max_attempts=3, backoff_ms=3_600_000))
    await run_until(worker, lambda: state_is(redis_client, keys, event.job_id, "retrying"), wait_for)

    assert (await admin.list_jobs(CATALOG_SEED_MOVIE, "retrying")).total == 1
    assert await admin.run_now(CATALOG_SEED_MOVIE, event.job_id) is not None
    assert (await get_job(redis_client, keys, event.job_id)).state == "queued"
    assert await admin.run_now(CATALOG_SEED_MOVIE, event.job_id) is None
