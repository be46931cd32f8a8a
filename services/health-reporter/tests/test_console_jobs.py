"""The console's jobs pages and actions over real Redis streams: each action's effect in Redis and its
audit row in PostgreSQL."""

import html
import json

import pytest

from popchoice_common.events import (
    CATALOG_BACKFILL_MOVIE,
    CATALOG_SEED_MOVIE,
    BackfillMovieRequested,
    SeedMovieRequested,
)
from popchoice_common.streams import Publisher, StreamKeys, StreamPolicy, Worker, get_job
from popchoice_common.streams.admin import StreamsAdmin

from .console_helpers import ALICE, console_settings, csrf_token_of, job_state_is, run_worker_until, running_console

FAST = StreamPolicy(max_attempts=1, backoff_ms=10, visibility_timeout_ms=5000)


def make_worker(client, keys, *, service="tester", consumer="tester-1"):
    return Worker(client, service=service, keys=keys, consumer=consumer, block_ms=50, mover_interval_seconds=0.02)


@pytest.fixture
def settings(database_url, redis_url, key_prefix, db_pool):
    return console_settings(database_url, redis_url, key_prefix)


@pytest.fixture
def keys(key_prefix):
    return StreamKeys(key_prefix)


@pytest.fixture
def publisher(redis_client, keys):
    return Publisher(redis_client, keys)


async def kill_job(redis_client, keys, publisher, event, error="ValueError: TMDB said no") -> None:
    """Publishes the event and lets a real worker fail it permanently (one attempt): it ends dead."""
    await publisher.publish(event)
    worker = make_worker(redis_client, keys)

    async def fail(_event, _context):
        raise ValueError(error.split(": ", 1)[1])

    worker.subscribe(event.stream, fail, policy=FAST)
    await run_worker_until(worker, job_state_is(redis_client, keys, event.job_id, "dead"))


async def page_token(client, path="/") -> str:
    return csrf_token_of((await client.get(path, headers=ALICE)).text)


async def test_the_overview_lists_every_stream_with_counts_and_a_no_consumer_warning(settings, publisher):
    """The overview shows each stream, its queued count, and warns when nobody consumes it."""
    await publisher.publish(SeedMovieRequested.for_movie(603))
    async with running_console(settings) as (client, _):
        response = await client.get("/", headers=ALICE)
    assert response.status_code == 200
    assert f'href="/streams/{CATALOG_SEED_MOVIE}?state=queued">1</a>' in response.text
    assert "no consumer" in response.text and "<svg" in response.text


async def test_a_dead_job_shows_its_payload_and_traceback_and_retries_under_an_operator_id(
    settings, redis_client, keys, publisher, db_pool
):
    """The dead job's page shows the payload and the failure's traceback; retry enqueues it as op:<audit id>
    (payload re-keyed) and removes the dead letter."""
    await kill_job(redis_client, keys, publisher, SeedMovieRequested.for_movie(603))
    admin = StreamsAdmin(redis_client, keys)
    (letter,) = await admin.dead_letters(CATALOG_SEED_MOVIE)
    async with running_console(settings) as (client, _):
        listing = await client.get(f"/streams/{CATALOG_SEED_MOVIE}?state=dead", headers=ALICE)
        detail = await client.get("/jobs/tmdb-seed:603:en-US", headers=ALICE)
        token = csrf_token_of(detail.text)
        retried = await client.post(
            f"/streams/{CATALOG_SEED_MOVIE}/dead/{letter.id}/retry", headers=ALICE, data={"csrf_token": token}
        )
    assert "tmdb-seed:603:en-US" in listing.text
    assert (
        '"tmdb_id": 603' in html.unescape(detail.text) and "Traceback" in detail.text and "TMDB said no" in detail.text
    )
    async with db_pool.acquire() as connection:
        audit_id = await connection.fetchval("SELECT id FROM operator_audit WHERE action = 'job.retry'")
    assert retried.status_code == 303 and retried.headers["location"] == f"/jobs/op:{audit_id}?done={audit_id}"
    job = await get_job(redis_client, keys, f"op:{audit_id}")
    assert job is not None and job.state == "queued"
    entries = await redis_client.xrange(keys.stream(CATALOG_SEED_MOVIE))
    assert json.loads(entries[-1][1][b"data"])["job_id"] == f"op:{audit_id}"
    assert await admin.dead_letters(CATALOG_SEED_MOVIE) == []


async def test_retry_all_and_purge_act_on_every_dead_letter(settings, redis_client, keys, publisher):
    """Retry all re-enqueues each dead letter under op:<audit>:<n>; purge deletes every one."""
    for tmdb_id in (1, 2):
        await kill_job(redis_client, keys, publisher, SeedMovieRequested.for_movie(tmdb_id))
    admin = StreamsAdmin(redis_client, keys)
    async with running_console(settings) as (client, _):
        token = await page_token(client)
        await client.post(f"/streams/{CATALOG_SEED_MOVIE}/retry-all", headers=ALICE, data={"csrf_token": token})
        assert await admin.dead_letters(CATALOG_SEED_MOVIE) == []
        queued = await admin.list_jobs(CATALOG_SEED_MOVIE, "queued")
        assert sorted(job.job_id for job in queued.jobs)[-2:] == ["op:1:1", "op:1:2"]
        await kill_job(redis_client, keys, publisher, SeedMovieRequested.for_movie(3))
        await client.post(f"/streams/{CATALOG_SEED_MOVIE}/purge-dead", headers=ALICE, data={"csrf_token": token})
    assert await redis_client.xlen(keys.dead(CATALOG_SEED_MOVIE)) == 0


async def test_delete_removes_one_dead_letter(settings, redis_client, keys, publisher):
    """Deleting a dead letter removes it and leaves the others."""
    for tmdb_id in (1, 2):
        await kill_job(redis_client, keys, publisher, SeedMovieRequested.for_movie(tmdb_id))
    admin = StreamsAdmin(redis_client, keys)
    first, second = await admin.dead_letters(CATALOG_SEED_MOVIE)
    async with running_console(settings) as (client, _):
        token = await page_token(client)
        response = await client.post(
            f"/streams/{CATALOG_SEED_MOVIE}/dead/{first.id}/delete", headers=ALICE, data={"csrf_token": token}
        )
    assert response.status_code == 303
    assert [letter.id for letter in await admin.dead_letters(CATALOG_SEED_MOVIE)] == [second.id]


async def test_pause_then_resume_toggles_the_stream(settings, redis_client, keys):
    """Pause sets the stream's paused flag in Redis and the overview shows it; resume clears it."""
    async with running_console(settings) as (client, _):
        token = await page_token(client)
        await client.post(f"/streams/{CATALOG_SEED_MOVIE}/pause", headers=ALICE, data={"csrf_token": token})
        assert await redis_client.exists(keys.paused(CATALOG_SEED_MOVIE))
        assert "Resume" in (await client.get(f"/streams/{CATALOG_SEED_MOVIE}", headers=ALICE)).text
        await client.post(f"/streams/{CATALOG_SEED_MOVIE}/resume", headers=ALICE, data={"csrf_token": token})
    assert not await redis_client.exists(keys.paused(CATALOG_SEED_MOVIE))


async def test_run_now_moves_a_retrying_job_to_the_stream(settings, redis_client, keys, publisher):
    """A job waiting for its retry is queued at once by "run now"."""
    await publisher.publish(SeedMovieRequested.for_movie(7))
    worker = make_worker(redis_client, keys)

    async def flaky(_event, _context):
        raise ConnectionError("TMDB unreachable")

    worker.subscribe(CATALOG_SEED_MOVIE, flaky, policy=StreamPolicy(max_attempts=3, backoff_ms=3_600_000))
    await run_worker_until(worker, job_state_is(redis_client, keys, "tmdb-seed:7:en-US", "retrying"))
    async with running_console(settings) as (client, _):
        listing = await client.get(f"/streams/{CATALOG_SEED_MOVIE}?state=retrying", headers=ALICE)
        response = await client.post(
            f"/streams/{CATALOG_SEED_MOVIE}/jobs/tmdb-seed:7:en-US/run-now",
            headers=ALICE,
            data={"csrf_token": csrf_token_of(listing.text)},
        )
    assert response.status_code == 303
    job = await get_job(redis_client, keys, "tmdb-seed:7:en-US")
    assert job.state == "queued" and await redis_client.zcard(keys.delayed(CATALOG_SEED_MOVIE)) == 0


async def test_enqueue_validates_the_payload_against_the_event_schema(settings, redis_client, keys, db_pool):
    """A payload missing a required field is refused with the reason (422, nothing queued, no audit); a
    valid one is queued as op:<audit id>, even when the automatic job of that movie completed recently."""
    path = f"/streams/{CATALOG_BACKFILL_MOVIE}/enqueue"
    await Publisher(redis_client, keys).publish(BackfillMovieRequested.for_movie(42))
    async with running_console(settings) as (client, _):
        token = await page_token(client, path)
        bad = await client.post(path, headers=ALICE, data={"csrf_token": token, "payload": '{"movie_id": "x"}'})
        assert bad.status_code == 422 and "movie_id" in bad.text
        assert await redis_client.xlen(keys.stream(CATALOG_BACKFILL_MOVIE)) == 1
        good = await client.post(path, headers=ALICE, data={"csrf_token": token, "payload": '{"movie_id": 42}'})
    assert good.status_code == 303
    async with db_pool.acquire() as connection:
        audit_id = await connection.fetchval("SELECT id FROM operator_audit WHERE action = 'job.enqueue'")
    job = await get_job(redis_client, keys, f"op:{audit_id}")
    assert job is not None and job.state == "queued"
    assert await redis_client.xlen(keys.stream(CATALOG_BACKFILL_MOVIE)) == 2


async def test_jobs_by_state_page_newest_first_and_search_by_job_id(settings, redis_client, keys, publisher):
    """Queued jobs list newest first, page with a cursor, and a search keeps only matching job ids."""
    await publisher.publish_many([SeedMovieRequested.for_movie(tmdb_id) for tmdb_id in range(1, 61)])
    async with running_console(settings) as (client, _):
        first = await client.get(f"/streams/{CATALOG_SEED_MOVIE}?state=queued", headers=ALICE)
        found = await client.get(f"/streams/{CATALOG_SEED_MOVIE}?state=queued&q=seed:42:", headers=ALICE)
    assert first.text.index("tmdb-seed:60:en-US") < first.text.index("tmdb-seed:59:en-US")
    assert "tmdb-seed:10:en-US" not in first.text and "cursor=" in first.text
    assert "tmdb-seed:42:en-US" in found.text and "tmdb-seed:41:en-US" not in found.text


async def test_workers_lists_consumers_per_service_and_stream(settings, redis_client, keys, publisher):
    """A consumer that read from a stream appears under its service with the stream."""
    await publisher.publish(SeedMovieRequested.for_movie(1))
    worker = make_worker(redis_client, keys, service="catalog-seeder", consumer="host-123")

    async def ok(_event, _context):
        return None

    worker.subscribe(CATALOG_SEED_MOVIE, ok, policy=FAST)
    await run_worker_until(worker, job_state_is(redis_client, keys, "tmdb-seed:1:en-US", "completed"))
    async with running_console(settings) as (client, _):
        response = await client.get("/workers", headers=ALICE)
    assert "catalog-seeder" in response.text and "host-123" in response.text


async def test_the_viewer_chooses_the_auto_refresh_interval(settings):
    """?refresh=15 makes the streams table poll its partial every 15 s; off (the default) does not poll;
    the partial is the table alone."""
    async with running_console(settings) as (client, _):
        polling = await client.get("/?refresh=15", headers=ALICE)
        still = await client.get("/", headers=ALICE)
        partial = await client.get("/partials/overview", headers=ALICE)
    assert 'hx-get="/partials/overview" hx-trigger="every 15s"' in polling.text
    assert 'hx-trigger="every' not in still.text
    assert partial.status_code == 200 and "<table" in partial.text and "<html" not in partial.text


async def test_unknown_streams_and_states_are_refused_with_a_reason(settings):
    """A stream no event has answers 404, an unknown job state 422, each saying why."""
    async with running_console(settings) as (client, _):
        unknown = await client.get("/streams/no.such-stream", headers=ALICE)
        bad_state = await client.get(f"/streams/{CATALOG_SEED_MOVIE}?state=sleeping", headers=ALICE)
        missing_job = await client.get("/jobs/never:was", headers=ALICE)
    assert unknown.status_code == 404 and "no.such-stream" in unknown.text
    assert bad_state.status_code == 422 and "state" in bad_state.text
    assert missing_job.status_code == 404
