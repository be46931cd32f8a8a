"""The backoffice at the HTTP level: catalog health, the movie page, match review decisions and repairs,
each action's effect in PostgreSQL and Redis."""

import json

import pytest

from popchoice_common.events import (
    CATALOG_BACKFILL_MOVIE,
    CATALOG_DISCOVER_PAGE,
    CATALOG_RESEED_CURATED,
    BackfillMovieRequested,
)
from popchoice_common.streams import Publisher, StreamKeys, get_job
from popchoice_common.testing.factories import insert_movie
from popchoice_common.testing.fake_tmdb import API_KEY as FAKE_TMDB_KEY
from popchoice_common.testing.fake_tmdb import make_movie
from popchoice_common.testing.plugin import TEST_EMBEDDING_DIMENSIONS

from .console_helpers import ALICE, BOB, console_settings, csrf_token_of, running_console

CANDIDATES = [
    {
        "tmdb_id": 9001,
        "title": "Solaris",
        "original_title": "Solyaris",
        "year": 1972,
        "similarity": 1.0,
        "confidence": 0.6,
    },
    {
        "tmdb_id": 9002,
        "title": "Solaris",
        "original_title": "Solaris",
        "year": 2002,
        "similarity": 1.0,
        "confidence": 0.55,
    },
]


@pytest.fixture
def settings(database_url, redis_url, key_prefix, db_pool, fake_tmdb):
    return console_settings(
        database_url,
        redis_url,
        key_prefix,
        tmdb_api_key=FAKE_TMDB_KEY,
        tmdb_base_url=fake_tmdb.base_url,
        tmdb_max_retries=0,
    )


@pytest.fixture
def keys(key_prefix):
    return StreamKeys(key_prefix)


async def open_review(db_pool, *, name="Solaris", year=1972) -> tuple[int, int]:
    """A curated movie without a TMDB id and an open ambiguous-match review of it; (movie id, review id)."""
    async with db_pool.acquire() as connection:
        movie_id = await insert_movie(connection, name, year=year, duration=167, description="A planet that thinks.")
        review_id = await connection.fetchval(
            "INSERT INTO tmdb_match_reviews (movie_id, movie_name, movie_year, reason, candidates, notes)"
            " VALUES ($1, $2, $3, 'ambiguous_match', $4::jsonb, 'two close titles') RETURNING id",
            movie_id,
            name,
            year,
            json.dumps(CANDIDATES),
        )
    return movie_id, review_id


async def test_catalog_health_shows_the_report_with_samples_linked_to_movie_pages(settings, db_pool):
    """The catalog page lists every finding of the CLI report and links each sample to its movie page."""
    async with db_pool.acquire() as connection:
        movie_id = await insert_movie(connection, "Stalker", year=1979)
    async with running_console(settings) as (client, _):
        page = await client.get("/catalog", headers=ALICE)
        movie = await client.get(f"/movies/{movie_id}", headers=ALICE)
    assert page.status_code == 200
    assert "missing_tmdb_id" in page.text and "duplicate_title_year" in page.text
    assert f'href="/movies/{movie_id}"' in page.text
    assert movie.status_code == 200 and "Stalker (1979)" in movie.text and "not linked" in movie.text


async def test_the_movie_page_shows_metadata_embedding_and_recommendations(settings, db_pool, tmdb_movie_factory):
    """The movie page shows genres, people, keywords, the embedding model and how often it was recommended."""
    async with db_pool.acquire() as connection:
        movie_id = await tmdb_movie_factory(connection, "Alien", tmdb_id=348)
    async with running_console(settings) as (client, _):
        page = await client.get(f"/movies/{movie_id}", headers=ALICE)
    assert "Horror" in page.text and "Ridley Scott" in page.text and "space" in page.text
    assert f"hash-{TEST_EMBEDDING_DIMENSIONS}" in page.text or "hash" in page.text
    assert "0 times" in page.text


async def test_the_review_page_shows_each_candidate_beside_the_local_row(settings, db_pool, fake_tmdb):
    """Each candidate shows TMDB's poster, title, year, runtime and overview beside the local row."""
    fake_tmdb.state.add(make_movie(9001, "Solaris", release_date="1972-03-20", runtime=167, overview="Kelvin goes up."))
    _, review_id = await open_review(db_pool)
    async with running_console(settings) as (client, _):
        page = await client.get(f"/reviews/{review_id}", headers=ALICE)
    assert page.status_code == 200
    assert "Kelvin goes up." in page.text and "167 min" in page.text and "/w185/poster9001.jpg" in page.text
    assert "TMDB 9002: Solaris" in page.text


async def test_accepting_a_candidate_links_the_movie_and_queues_its_own_backfill_job(
    settings, db_pool, redis_client, keys
):
    """Accept links the tmdb_id, resolves the review with the operator in its audit, and queues a backfill
    job op:<audit id> even though backfill:<movie> completed a moment ago."""
    movie_id, review_id = await open_review(db_pool)
    publisher = Publisher(redis_client, keys)
    automatic = await publisher.publish(BackfillMovieRequested.for_movie(movie_id))
    await redis_client.hset(keys.job(CATALOG_BACKFILL_MOVIE, automatic.job_id), "state", "completed")
    async with running_console(settings) as (client, _):
        token = csrf_token_of((await client.get(f"/reviews/{review_id}", headers=BOB)).text)
        response = await client.post(
            f"/reviews/{review_id}/decision",
            headers=BOB,
            data={"csrf_token": token, "decision": "accept", "tmdb_id": "9001"},
        )
        after = await client.get(response.headers["location"], headers=BOB)
    assert response.status_code == 303 and "resolved" in after.text
    async with db_pool.acquire() as connection:
        movie = await connection.fetchrow("SELECT tmdb_id, tmdb_match_source FROM movies WHERE id = $1", movie_id)
        status = await connection.fetchval("SELECT status FROM tmdb_match_reviews WHERE id = $1", review_id)
        review_audit = await connection.fetchrow(
            "SELECT actor, from_status, to_status FROM tmdb_match_review_audit WHERE action = 'accept'"
        )
        audit_id = await connection.fetchval("SELECT id FROM operator_audit WHERE action = 'review.accept'")
    assert dict(movie) == {"tmdb_id": 9001, "tmdb_match_source": "manual"}
    assert status == "resolved"
    assert dict(review_audit) == {"actor": "bob", "from_status": "open", "to_status": "resolved"}
    job = await get_job(redis_client, keys, f"op:{audit_id}")
    assert job is not None and job.state == "queued" and job.stream == CATALOG_BACKFILL_MOVIE


async def test_accept_refuses_a_tmdb_id_that_is_not_a_candidate(settings, db_pool):
    """Accepting an id the review did not offer answers 422 and changes nothing."""
    movie_id, review_id = await open_review(db_pool)
    async with running_console(settings) as (client, _):
        token = csrf_token_of((await client.get(f"/reviews/{review_id}", headers=ALICE)).text)
        response = await client.post(
            f"/reviews/{review_id}/decision",
            headers=ALICE,
            data={"csrf_token": token, "decision": "accept", "tmdb_id": "1"},
        )
    assert response.status_code == 422 and "candidates" in response.text
    async with db_pool.acquire() as connection:
        assert await connection.fetchval("SELECT tmdb_id FROM movies WHERE id = $1", movie_id) is None
        assert await connection.fetchval("SELECT status FROM tmdb_match_reviews WHERE id = $1", review_id) == "open"


async def test_the_bulk_view_rejects_or_defers_every_selected_review(settings, db_pool):
    """Selected reviews are rejected (ignored) together, each with an audit line naming the operator."""
    _, first = await open_review(db_pool, name="Solaris")
    _, second = await open_review(db_pool, name="Stalker", year=1979)
    _, untouched = await open_review(db_pool, name="Mirror", year=1975)
    async with running_console(settings) as (client, _):
        queue = await client.get("/reviews", headers=ALICE)
        response = await client.post(
            "/reviews/bulk",
            headers=ALICE,
            data={
                "csrf_token": csrf_token_of(queue.text),
                "decision": "reject",
                "review_id": [str(first), str(second)],
            },
        )
    assert response.status_code == 200
    async with db_pool.acquire() as connection:
        statuses = dict(await connection.fetch("SELECT id, status FROM tmdb_match_reviews"))
        actors = await connection.fetch("SELECT DISTINCT actor FROM tmdb_match_review_audit WHERE action = 'reject'")
    assert statuses == {first: "ignored", second: "ignored", untouched: "open"}
    assert [row["actor"] for row in actors] == ["alice"]


async def test_defer_keeps_the_review_for_later(settings, db_pool):
    """Defer moves an open review to deferred."""
    _, review_id = await open_review(db_pool)
    async with running_console(settings) as (client, _):
        token = csrf_token_of((await client.get(f"/reviews/{review_id}", headers=ALICE)).text)
        await client.post(
            f"/reviews/{review_id}/decision", headers=ALICE, data={"csrf_token": token, "decision": "defer"}
        )
    async with db_pool.acquire() as connection:
        assert await connection.fetchval("SELECT status FROM tmdb_match_reviews WHERE id = $1", review_id) == "deferred"


async def test_a_manual_tmdb_id_is_checked_against_tmdb_then_backfilled(
    settings, db_pool, redis_client, keys, fake_tmdb
):
    """An id TMDB does not know is refused (422); a known one is linked and a backfill job queued."""
    fake_tmdb.state.add(make_movie(4242, "Stalker", release_date="1979-05-25"))
    async with db_pool.acquire() as connection:
        movie_id = await insert_movie(connection, "Stalker", year=1979)
    async with running_console(settings) as (client, _):
        token = csrf_token_of((await client.get("/repairs", headers=ALICE)).text)
        unknown = await client.post(
            "/repairs/tmdb-id", headers=ALICE, data={"csrf_token": token, "movie_id": str(movie_id), "tmdb_id": "777"}
        )
        known = await client.post(
            "/repairs/tmdb-id", headers=ALICE, data={"csrf_token": token, "movie_id": str(movie_id), "tmdb_id": "4242"}
        )
    assert unknown.status_code == 422 and "TMDB has no movie 777" in unknown.text
    assert known.status_code == 303
    async with db_pool.acquire() as connection:
        assert await connection.fetchval("SELECT tmdb_id FROM movies WHERE id = $1", movie_id) == 4242
        audit_id = await connection.fetchval("SELECT id FROM operator_audit WHERE action = 'movie.set_tmdb_id'")
    job = await get_job(redis_client, keys, f"op:{audit_id}")
    assert job is not None and job.stream == CATALOG_BACKFILL_MOVIE


async def test_discovery_backfill_and_reseed_runs_queue_jobs_of_their_own(settings, db_pool, redis_client, keys):
    """Each run from the repairs page queues jobs named op:<audit id>[:n] on its stream."""
    async with db_pool.acquire() as connection:
        untracked = await insert_movie(connection, "Mirror", year=1975)
    async with running_console(settings) as (client, _):
        token = csrf_token_of((await client.get("/repairs", headers=ALICE)).text)
        discovery = await client.post(
            "/repairs/discovery",
            headers=ALICE,
            data={"csrf_token": token, "source": ["popular", "top_rated"], "pages": "2", "language": "en-US"},
        )
        backfill = await client.post(
            "/repairs/backfill", headers=ALICE, data={"csrf_token": token, "movie_ids": "", "limit": "10"}
        )
        reseed = await client.post("/repairs/reseed", headers=ALICE, data={"csrf_token": token})
    assert {discovery.status_code, backfill.status_code, reseed.status_code} == {303}
    assert await redis_client.xlen(keys.stream(CATALOG_DISCOVER_PAGE)) == 4
    entries = await redis_client.xrange(keys.stream(CATALOG_BACKFILL_MOVIE))
    assert [json.loads(fields[b"data"])["movie_id"] for _, fields in entries] == [untracked]
    assert entries[0][1][b"job_id"] == b"op:2:1"
    reseeds = await redis_client.xrange(keys.stream(CATALOG_RESEED_CURATED))
    assert [fields[b"job_id"] for _, fields in reseeds] == [b"op:3"]
