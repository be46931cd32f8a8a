"""The catalog-seeder's consumers over real Redis streams: a film from discovery and a film a
recommendation showed are both seeded, each labelled with where it came from; a JIT seed that
finds the curated row of the same film links it, and the person's memory follows."""

import asyncio
import uuid

import pytest

from popchoice_catalog_seeder import handlers
from popchoice_catalog_seeder.config import SeederSettings
from popchoice_catalog_seeder.service import seed_movies_file
from popchoice_common.bootstrap import Resources
from popchoice_common.catalog.identity import movie_key
from popchoice_common.events import (
    CATALOG_SEED_MOVIE,
    MOVIE_SEED_REQUESTED,
    CuratedReseedRequested,
    MovieSeedRequested,
    SeedMovieRequested,
)
from popchoice_common.streams import Publisher, StreamKeys, Worker, get_job
from popchoice_common.testing.factories import insert_interaction, insert_user
from popchoice_common.testing.fake_tmdb import API_KEY, make_movie
from popchoice_common.tmdb import RedisRateLimiter, TMDBClient

USER = uuid.UUID(int=5)


@pytest.fixture
async def resources(db_pool, redis_client, key_prefix, fake_tmdb, hash_embedder):
    settings = SeederSettings(stream_key_prefix=key_prefix, tmdb_image_base_url="https://images.test/t/p")
    limiter = RedisRateLimiter(redis_client, prefix=key_prefix, requests_per_window=10_000, window_ms=1000)
    tmdb = TMDBClient(api_key=API_KEY, limiter=limiter, base_url=fake_tmdb.base_url, retry_backoff_seconds=0.01)
    yield Resources(
        settings=settings,
        pool=db_pool,
        redis=redis_client,
        publisher=Publisher(redis_client, StreamKeys(key_prefix)),
        embedder=hash_embedder,
        tmdb=tmdb,
    )
    await tmdb.aclose()


async def drain(resources, key_prefix, *, seconds=8.0):
    """Runs the catalog-seeder worker until both of its streams are idle."""
    keys = StreamKeys(key_prefix)
    worker = Worker(resources.redis, service="catalog-seeder", keys=keys, consumer="s", block_ms=50)
    handlers.register(worker, resources)
    task = asyncio.create_task(worker.run(install_signal_handlers=False))
    deadline = asyncio.get_running_loop().time() + seconds
    try:
        while asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.2)
            busy = 0
            for stream in (CATALOG_SEED_MOVIE, MOVIE_SEED_REQUESTED):
                for info in await resources.redis.xinfo_groups(keys.stream(stream)):
                    busy += info["pending"] + (info["lag"] or 0)
            if busy == 0:
                break
    finally:
        worker.stop()
        await task


async def test_each_stream_labels_the_rows_it_seeds(resources, key_prefix, fake_tmdb):
    """catalog.seed-movie rows are discovery's; movie-seed.requested rows are the recommendation's (JIT)."""
    fake_tmdb.state.add(make_movie(1, "Discovered"), make_movie(2, "Recommended"))
    await resources.publisher.publish(SeedMovieRequested.for_movie(1))
    await resources.publisher.publish(MovieSeedRequested.for_movie(2))
    await drain(resources, key_prefix)
    rows = await resources.pool.fetch("SELECT tmdb_id, source, tmdb_match_source FROM movies ORDER BY tmdb_id")
    assert [tuple(row) for row in rows] == [
        (1, "discovery", "tmdb_discovery"),
        (2, "recommendation", "recommendation"),
    ]


async def test_a_film_asked_for_by_both_streams_is_two_jobs_and_one_row(resources, key_prefix, fake_tmdb):
    """The two seed events do not swallow each other (their job ids differ); seeding is idempotent, so the
    film is stored once, labelled by whichever job ran first."""
    fake_tmdb.state.add(make_movie(3, "Both"))
    discovery = await resources.publisher.publish(SeedMovieRequested.for_movie(3))
    jit = await resources.publisher.publish(MovieSeedRequested.for_movie(3))
    assert discovery.enqueued and jit.enqueued
    assert SeedMovieRequested.for_movie(3).job_id != MovieSeedRequested.for_movie(3).job_id
    assert not (await resources.publisher.publish(MovieSeedRequested.for_movie(3))).enqueued
    await drain(resources, key_prefix)
    assert await resources.pool.fetchval("SELECT count(*) FROM movies WHERE tmdb_id = 3") == 1


async def test_a_jit_seed_links_the_curated_film_and_its_memory_follows(
    resources, key_prefix, fake_tmdb, hash_embedder, movies_file
):
    """The curated "WALL-E" (from the movies file) and TMDB's "WALL·E" are one row after a JIT seed; the
    person's "watched" saved under the curated title key now sits under the TMDB key."""
    path = movies_file(
        "WALL-E: 2008 | G | 1h 38m | 8.4 rating\nA lonely robot cleans up an abandoned Earth and falls in love."
    )
    assert (await seed_movies_file(resources.pool, hash_embedder, path)).inserted == 1
    await insert_user(resources.pool, "watcher@example.test", user_id=USER)
    await insert_interaction(
        resources.pool, USER, movie_key(title="WALL-E", year=2008), "watched", movie_name="WALL-E", movie_year=2008
    )
    fake_tmdb.state.add(make_movie(10681, "WALL·E", release_date="2008-06-22", runtime=98))
    await resources.publisher.publish(MovieSeedRequested.for_movie(10681))
    await drain(resources, key_prefix)
    rows = await resources.pool.fetch("SELECT name, tmdb_id, source, tmdb_match_source FROM movies")
    assert [tuple(row) for row in rows] == [("WALL-E", 10681, "curated_seed", "recommendation")]
    memory = await resources.pool.fetchrow("SELECT movie_key, tmdb_id FROM user_movie_interactions")
    assert tuple(memory) == ("tmdb:10681", 10681)


async def test_an_operators_reseed_job_seeds_the_curated_file_again(resources, key_prefix, movies_file):
    """A catalog.reseed-curated job runs the curated seed on MOVIES_FILE_PATH; a second one adds nothing."""
    path = movies_file(
        "Heat: 1995 | R | 2h 50m | 8.3 rating\nA detective hunts a crew of professional thieves in Los Angeles."
    )
    resources.settings = resources.settings.model_copy(update={"movies_file_path": path})
    keys = StreamKeys(key_prefix)
    for audit_id in (1, 2):
        await resources.publisher.publish(CuratedReseedRequested(job_id=f"op:{audit_id}"))
        worker = Worker(resources.redis, service="catalog-seeder", keys=keys, consumer="s", block_ms=50)
        handlers.register(worker, resources)
        task = asyncio.create_task(worker.run(install_signal_handlers=False))
        try:
            for _ in range(200):
                job = await get_job(resources.redis, keys, f"op:{audit_id}")
                if job is not None and job.state in ("completed", "dead"):
                    break
                await asyncio.sleep(0.05)
        finally:
            worker.stop()
            await task
        assert job is not None and job.state == "completed"
    rows = await resources.pool.fetch("SELECT name, year, source FROM movies")
    assert [tuple(row) for row in rows] == [("Heat", 1995, "curated_seed")]
