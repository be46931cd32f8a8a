import asyncio

from popchoice_catalog_seeder import handlers as seeder_handlers
from popchoice_common.events import CATALOG_DISCOVER_PAGE, CATALOG_SEED_MOVIE
from popchoice_common.streams import StreamKeys, Worker
from popchoice_common.testing.factories import insert_movie
from popchoice_discovery import handlers
from popchoice_discovery.service import enqueue_run, run_once

from .conftest import good_film


async def _drain(resources, key_prefix, *, seconds=8.0):
    """Runs the discovery and catalog-seeder workers until both streams are idle."""
    keys = StreamKeys(key_prefix)
    discovery = Worker(resources.redis, service="discovery", keys=keys, consumer="d", block_ms=50)
    seeder = Worker(resources.redis, service="catalog-seeder", keys=keys, consumer="s", block_ms=50)
    handlers.register(discovery, resources)
    seeder_handlers.register(seeder, resources)
    tasks = [asyncio.create_task(w.run(install_signal_handlers=False)) for w in (discovery, seeder)]
    deadline = asyncio.get_running_loop().time() + seconds
    try:
        while asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.2)
            busy = 0
            for stream, group in ((CATALOG_DISCOVER_PAGE, "discovery"), (CATALOG_SEED_MOVIE, "catalog-seeder")):
                for info in await resources.redis.xinfo_groups(keys.stream(stream)):
                    if info["name"].decode() == group:
                        busy += info["pending"] + (info["lag"] or 0)
            if busy == 0:
                break
    finally:
        for worker in (discovery, seeder):
            worker.stop()
        await asyncio.gather(*tasks)


async def test_enqueue_three_times_creates_each_job_and_film_once(resources, key_prefix, add_films, settings):
    """Running discovery-enqueue three times makes each page job once and each film once."""
    add_films(
        good_film(1, ["now_playing", "popular"]),
        good_film(2, ["popular", "top_rated"]),
        good_film(3, ["upcoming"]),
        good_film(4, ["top_rated"], vote_count=100),
    )
    runs = [await enqueue_run(resources.publisher, settings, run_id=f"run-{i}") for i in range(3)]
    assert sum(result.enqueued for result in runs[0]) == len(settings.tmdb_sources) * 2
    assert not any(result.enqueued for result in runs[1] + runs[2])
    await _drain(resources, key_prefix)
    rows = await resources.pool.fetch("SELECT tmdb_id, count(*) AS n FROM movies GROUP BY tmdb_id ORDER BY tmdb_id")
    assert [(row["tmdb_id"], row["n"]) for row in rows] == [(1, 1), (2, 1), (3, 1)]


async def test_run_cap_holds_across_pages(resources, key_prefix, add_films, settings):
    """No more than MAX_MOVIES_PER_RUN new films are queued by one run, however many pages have them."""
    add_films(*(good_film(i, ["popular"]) for i in range(1, 31)))
    resources.settings = settings.model_copy(update={"max_movies_per_run": 7, "tmdb_sources": ["popular"]})
    await enqueue_run(resources.publisher, resources.settings, run_id="capped")
    await _drain(resources, key_prefix)
    assert await resources.pool.fetchval("SELECT count(*) FROM movies") == 7


async def test_films_already_in_the_catalog_are_skipped(resources, key_prefix, add_films, settings):
    """A film present by TMDB id or by title and year is not queued again."""
    add_films(good_film(1, ["popular"]), good_film(2, ["popular"], release_date="2001-01-01"))
    await insert_movie(resources.pool, "x", 2000, tmdb_id=1)
    await insert_movie(resources.pool, "Discovered 2", 2001)
    resources.settings = settings.model_copy(update={"tmdb_sources": ["popular"]})
    await enqueue_run(resources.publisher, resources.settings, run_id="present")
    await _drain(resources, key_prefix)
    assert await resources.redis.xlen(StreamKeys(key_prefix).stream(CATALOG_SEED_MOVIE)) == 0
    assert await resources.pool.fetchval("SELECT count(*) FROM movies") == 2


async def test_dry_run_queues_and_writes_nothing(resources, key_prefix, add_films, settings):
    """DRY_RUN pages report what they would queue and leave no seed job and no row."""
    add_films(good_film(1, ["popular"]))
    resources.settings = settings.model_copy(update={"dry_run": True, "tmdb_sources": ["popular"]})
    await enqueue_run(resources.publisher, resources.settings, run_id="dry")
    await _drain(resources, key_prefix)
    assert await resources.redis.xlen(StreamKeys(key_prefix).stream(CATALOG_SEED_MOVIE)) == 0
    assert await resources.pool.fetchval("SELECT count(*) FROM movies") == 0


async def test_one_shot_run_seeds_new_films_then_nothing(resources, add_films, settings):
    """make discovery seeds the good new films in-process; a second run finds nothing new."""
    add_films(
        good_film(1, ["popular", "now_playing"]),
        good_film(2, ["upcoming"]),
        good_film(3, ["popular"], vote_average=5.0),
    )
    first = await run_once(pool=resources.pool, tmdb=resources.tmdb, embedder=resources.embedder, settings=settings)
    second = await run_once(pool=resources.pool, tmdb=resources.tmdb, embedder=resources.embedder, settings=settings)
    assert sorted(first.inserted) == [1, 2] and second.inserted == []
    assert {skip.reason for skip in second.skipped if skip.tmdb_id in (1, 2)} == {"already in the catalog"}
    assert [skip.reason for skip in first.skipped if skip.tmdb_id == 1] == ["already selected from another list"]
    assert await resources.pool.fetchval("SELECT count(*) FROM movies") == 2
