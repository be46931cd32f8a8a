"""TMDB answering 429: the backfill waits out the shared pause and goes on; a film refused past
TMDB_MAX_RETRIES is given up alone, reported, and left for the next run."""

import asyncio
import json
import os
import sys

import pytest

from popchoice_backfill.config import BackfillSettings
from popchoice_backfill.service import Backfiller, run_once
from popchoice_common.testing.fake_tmdb import API_KEY, make_movie

from .test_backfill import curated


@pytest.fixture
async def two_films(db_pool, fake_tmdb, hash_embedder):
    """Two curated rows without a TMDB id, each with one exact match on TMDB (ids in row order)."""
    ids = [
        await curated(db_pool, hash_embedder, "Heat", 1995, duration=170),
        await curated(db_pool, hash_embedder, "Ronin", 1998, duration=122),
    ]
    fake_tmdb.state.add(
        make_movie(949, "Heat", release_date="1995-12-15", runtime=170),
        make_movie(8195, "Ronin", release_date="1998-09-25", runtime=122),
    )
    return ids


async def test_one_shot_run_waits_out_a_429_and_matches_every_row(
    db_pool, fake_tmdb, tmdb_client, hash_embedder, two_films
):
    """A 429 with Retry-After pauses the run; the refused request is sent again and every row is matched."""
    fake_tmdb.state.force_429(retry_after=1)
    settings = BackfillSettings(tmdb_image_base_url="https://images.test/t/p")
    summary = await run_once(Backfiller(db_pool, tmdb_client, hash_embedder, settings))
    assert summary.counts() == {"applied": 2} and summary.gave_up() == []
    assert fake_tmdb.requests[0].status == 429
    rows = await db_pool.fetch("SELECT tmdb_id FROM movies ORDER BY id")
    assert [row["tmdb_id"] for row in rows] == [949, 8195]


async def test_one_shot_process_gives_up_a_film_refused_past_the_retry_limit_and_exits_0(
    db_pool, database_url, redis_url, key_prefix, redis_client, fake_tmdb, two_films
):
    """`popchoice-backfill`: a film whose request is answered 429 past TMDB_MAX_RETRIES is reported as
    rate_limited and left unchecked; the other film is matched and the run exits 0."""
    first, second = two_films
    fake_tmdb.state.force_429(count=2, retry_after=1)  # TMDB_MAX_RETRIES=1: both attempts of the first search
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "STREAM_KEY_PREFIX": key_prefix,
        "EMBEDDING_PROVIDER": "hash",
        "TMDB_API_KEY": API_KEY,
        "TMDB_BASE_URL": fake_tmdb.base_url,
        "TMDB_MAX_RETRIES": "1",
        "BATCH_SIZE": "1",
        "CATALOG_TMDB_REQUESTS_PER_WINDOW": "1000",
        "CATALOG_TMDB_RATE_LIMIT_WINDOW_MS": "1000",
        "LOG_FORMAT": "json",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "popchoice_backfill",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, output.decode()
    lines = [json.loads(line) for line in output.decode().splitlines() if line.startswith("{")]
    summary = next(line for line in lines if line["event"] == "backfill_finished")
    assert (summary["looked_at"], summary["applied"], summary["rate_limited"]) == (2, 1, 1)
    assert summary["gave_up"] == [first]
    rows = await db_pool.fetch("SELECT id, tmdb_id, backfill_checked_at FROM movies ORDER BY id")
    assert [(row["id"], row["tmdb_id"]) for row in rows] == [(first, None), (second, 8195)]
    assert rows[0]["backfill_checked_at"] is None  # not marked checked: the next run looks at it again
