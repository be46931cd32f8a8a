"""TMDB answering 429: discovery waits out the shared pause and goes on; a page that is refused past
TMDB_MAX_RETRIES is given up alone and reported, in a one-shot run and in the worker."""

import asyncio
import json
import os
import sys

from popchoice_common.events import CATALOG_DISCOVER_PAGE, DiscoverPageRequested
from popchoice_common.streams import StreamKeys, Worker
from popchoice_common.streams.jobs import JobState, get_job
from popchoice_common.testing.fake_tmdb import API_KEY
from popchoice_common.tmdb import RedisRateLimiter, TMDBClient
from popchoice_discovery import handlers
from popchoice_discovery.service import run_once

from .conftest import good_film


def popular_films(count):
    """Films on the popular list, most popular first: page 1 holds ids 1-20, page 2 the rest."""
    return [good_film(index, ["popular"], popularity=1000.0 - index) for index in range(1, count + 1)]


async def run_discovery_process(env):
    """`popchoice-discovery --once` as a real process: its exit code and its JSON log lines."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "popchoice_discovery",
        "--once",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    lines = []
    for line in output.decode().splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:
            lines.append({"event": "text", "line": line})
    return process.returncode, lines


async def test_one_shot_run_waits_out_a_429_and_reads_every_page(resources, add_films, settings, fake_tmdb):
    """A 429 with Retry-After on a list page pauses the run, the page is asked again, and the run finishes."""
    add_films(*popular_films(25))
    fake_tmdb.state.force_429(retry_after=1)
    summary = await run_once(
        pool=resources.pool,
        tmdb=resources.tmdb,
        embedder=resources.embedder,
        settings=settings.model_copy(update={"tmdb_sources": ["popular"]}),
    )
    assert summary.pages == 2 and summary.gave_up_pages == [] and summary.failed == {}
    assert sorted(summary.inserted) == list(range(1, 26))
    first, again = fake_tmdb.requests[:2]
    assert (first.status, again.status) == (429, 200) and first.query == again.query


async def test_one_shot_process_gives_up_a_page_refused_past_the_retry_limit_and_exits_0(
    db_pool, redis_client, database_url, redis_url, key_prefix, fake_tmdb
):
    """`popchoice-discovery --once`: a list page answered 429 past TMDB_MAX_RETRIES is reported in the
    summary and the run seeds the other page's films and exits 0."""
    fake_tmdb.state.add(*popular_films(25))
    fake_tmdb.state.force_429(count=2, retry_after=1)  # TMDB_MAX_RETRIES=1: both attempts at popular page 1
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "STREAM_KEY_PREFIX": key_prefix,
        "EMBEDDING_PROVIDER": "hash",
        "TMDB_API_KEY": API_KEY,
        "TMDB_BASE_URL": fake_tmdb.base_url,
        "TMDB_SOURCES": "popular",
        "MAX_PAGES_PER_SOURCE": "2",
        "TMDB_MAX_RETRIES": "1",
        "CATALOG_TMDB_REQUESTS_PER_WINDOW": "1000",
        "CATALOG_TMDB_RATE_LIMIT_WINDOW_MS": "1000",
        "LOG_FORMAT": "json",
    }
    code, lines = await run_discovery_process(env)
    assert code == 0, lines
    summary = next(line for line in lines if line["event"] == "discovery_finished")
    assert summary["gave_up_pages"] == ["popular:1"] and summary["rate_limited"] == 1
    assert (summary["pages"], summary["inserted"], summary["failed"]) == (1, 5, 0)
    reported = [line for line in lines if line["event"] == "discovery_page_failed"]
    assert [(line["source"], line["page"]) for line in reported] == [("popular", 1)]
    assert "TMDBRateLimited" in reported[0]["error"]
    assert sorted(row["tmdb_id"] for row in await db_pool.fetch("SELECT tmdb_id FROM movies")) == list(range(21, 26))


async def run_page_job(resources, key_prefix, tmdb, event, *, until):
    """Runs a discovery worker (retries after 0.2 s) until the page job's state satisfies until."""
    keys = StreamKeys(key_prefix)
    resources.tmdb = tmdb
    worker = Worker(
        resources.redis,
        service="discovery",
        keys=keys,
        consumer="d",
        block_ms=50,
        policy_overrides={CATALOG_DISCOVER_PAGE: {"backoff_ms": 200}},
    )
    handlers.register(worker, resources)
    task = asyncio.create_task(worker.run(install_signal_handlers=False))
    await resources.publisher.publish(event)
    states: list[JobState] = []
    try:
        for _ in range(300):
            job = await get_job(resources.redis, keys, event.job_id)
            if job is not None and (not states or states[-1].state != job.state):
                states.append(job)
            if job is not None and until(job):
                break
            await asyncio.sleep(0.05)
    finally:
        worker.stop()
        await task
    return states


async def test_worker_waits_out_a_429_within_the_jobs_first_attempt(resources, key_prefix, add_films, fake_tmdb):
    """A discover-page job meeting a 429 waits for the pause and completes on its first attempt."""
    add_films(*popular_films(3))
    fake_tmdb.state.force_429(retry_after=1)
    event = DiscoverPageRequested.for_page("popular", 1, run_id="rate-limited")
    states = await run_page_job(
        resources, key_prefix, resources.tmdb, event, until=lambda job: job.state in ("completed", "dead", "retrying")
    )
    assert states[-1].state == "completed" and states[-1].attempts == 1
    assert [request.status for request in fake_tmdb.requests] == [429, 200]


async def test_worker_job_refused_past_the_retry_limit_is_retried_not_dead_lettered(
    resources, key_prefix, add_films, fake_tmdb, redis_client
):
    """Past TMDB_MAX_RETRIES the 429 fails the attempt as retryable: the runtime retries the job later
    (it is not dead-lettered) and the retry completes it."""
    add_films(*popular_films(3))
    limiter = RedisRateLimiter(redis_client, prefix=key_prefix, requests_per_window=10_000, window_ms=1000)
    tmdb = TMDBClient(api_key=API_KEY, limiter=limiter, base_url=fake_tmdb.base_url, max_retries=1)
    fake_tmdb.state.force_429(count=2, retry_after=1)
    event = DiscoverPageRequested.for_page("popular", 1, run_id="rate-limited")
    try:
        states = await run_page_job(
            resources, key_prefix, tmdb, event, until=lambda job: job.state in ("completed", "dead")
        )
    finally:
        await tmdb.aclose()
    retrying = next(job for job in states if job.state == "retrying")
    assert retrying.attempts == 1 and "TMDBRateLimited" in (retrying.error or "")
    assert states[-1].state == "completed" and states[-1].attempts == 2
    assert await redis_client.xlen(StreamKeys(key_prefix).dead(CATALOG_DISCOVER_PAGE)) == 0
