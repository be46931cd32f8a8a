import pytest

from popchoice_backfill.config import BackfillSettings
from popchoice_backfill.service import Backfiller, candidate_ids, run_once
from popchoice_common.testing.factories import insert_movie
from popchoice_common.testing.fake_tmdb import make_movie


@pytest.fixture
def settings():
    return BackfillSettings(tmdb_image_base_url="https://images.test/t/p")


@pytest.fixture
def backfiller(db_pool, tmdb_client, hash_embedder, settings):
    def make(**overrides):
        return Backfiller(db_pool, tmdb_client, hash_embedder, settings.model_copy(update=overrides))

    return make


async def curated(pool, embedder, name, year, *, duration=100, description="Our words about it."):
    """A curated row without a TMDB id, as the seed writes it."""
    return await insert_movie(
        pool,
        name,
        year,
        embedding=await embedder.embed_one(name),
        model=embedder.model_id,
        age_rating="PG",
        description=description,
        duration=duration,
        embedding_text_hash="seeded",
    )


async def test_exact_match_is_applied_with_confidence(db_pool, fake_tmdb, hash_embedder, backfiller):
    """A unique exact title+year match gets the TMDB id, metadata, credits and a new embedding."""
    movie_id = await curated(db_pool, hash_embedder, "Heat", 1995, duration=0)
    fake_tmdb.state.add(make_movie(949, "Heat", release_date="1995-12-15", runtime=170, poster_path="/heat.jpg"))
    summary = await run_once(backfiller())
    assert summary.counts() == {"applied": 1}
    row = await db_pool.fetchrow("SELECT * FROM movies WHERE id = $1", movie_id)
    assert (row["tmdb_id"], row["tmdb_match_source"], float(row["tmdb_match_confidence"])) == (
        949,
        "backfill_auto",
        1.0,
    )
    assert (row["duration"], row["description"]) == (170, "Our words about it.")
    assert row["poster_url"] == "https://images.test/t/p/w500/heat.jpg"
    assert row["embedding_text_hash"] != "seeded"
    assert await db_pool.fetchval("SELECT count(*) FROM movie_people WHERE movie_id = $1", movie_id) > 0


async def test_ambiguous_pair_creates_a_review_and_changes_nothing(db_pool, fake_tmdb, hash_embedder, backfiller):
    """Two same-titled films a year apart make an ambiguous_match review with both candidates; the row is untouched."""
    movie_id = await curated(db_pool, hash_embedder, "Crash", 2005)
    fake_tmdb.state.add(
        make_movie(1, "Crash", release_date="2004-09-10"), make_movie(2, "Crash", release_date="2005-05-06")
    )
    summary = await run_once(backfiller())
    assert summary.counts() == {"ambiguous_match": 1}
    review = await db_pool.fetchrow("SELECT * FROM tmdb_match_reviews WHERE movie_id = $1", movie_id)
    assert (review["reason"], review["status"], review["movie_name"]) == ("ambiguous_match", "open", "Crash")
    import json

    assert {candidate["tmdb_id"] for candidate in json.loads(review["candidates"])} == {1, 2}
    assert await db_pool.fetchval("SELECT tmdb_id FROM movies WHERE id = $1", movie_id) is None
    assert await db_pool.fetchval("SELECT count(*) FROM tmdb_match_review_audit") == 1


async def test_film_without_tmdb_runtime_stays_unchanged(db_pool, fake_tmdb, hash_embedder, backfiller):
    """When TMDB has no runtime for the film, nothing is written to it but the check itself."""
    movie_id = await curated(db_pool, hash_embedder, "Obscure", 1980, duration=0)
    fake_tmdb.state.add(make_movie(5, "Obscure", release_date="1980-01-01", runtime=None))
    summary = await run_once(backfiller())
    assert summary.counts() == {"skipped": 1}
    row = await db_pool.fetchrow("SELECT tmdb_id, duration, backfill_note FROM movies WHERE id = $1", movie_id)
    assert (row["tmdb_id"], row["duration"]) == (None, 0) and "no runtime" in row["backfill_note"]


async def test_runtime_mismatch_creates_a_review(db_pool, fake_tmdb, hash_embedder, backfiller):
    """A matched film whose runtime differs by more than 10 minutes is reviewed, not applied."""
    movie_id = await curated(db_pool, hash_embedder, "Long Cut", 1990, duration=100)
    fake_tmdb.state.add(make_movie(7, "Long Cut", release_date="1990-01-01", runtime=140))
    summary = await run_once(backfiller())
    assert summary.counts() == {"runtime_mismatch": 1}
    assert await db_pool.fetchval("SELECT reason FROM tmdb_match_reviews WHERE movie_id = $1", movie_id) == (
        "runtime_mismatch"
    )
    assert await db_pool.fetchval("SELECT tmdb_id FROM movies WHERE id = $1", movie_id) is None


async def test_dry_run_writes_nothing(db_pool, fake_tmdb, hash_embedder, backfiller):
    """DRY_RUN reports what it would do and writes no row, review or check mark."""
    await curated(db_pool, hash_embedder, "Heat", 1995)
    await curated(db_pool, hash_embedder, "Crash", 2005)
    fake_tmdb.state.add(
        make_movie(949, "Heat", release_date="1995-12-15", runtime=100),
        make_movie(1, "Crash", release_date="2004-09-10"),
        make_movie(2, "Crash", release_date="2005-05-06"),
    )
    before = await db_pool.fetch("SELECT * FROM movies ORDER BY id")
    summary = await run_once(backfiller(dry_run=True))
    assert summary.counts() == {"would_apply": 1, "ambiguous_match": 1}
    assert await db_pool.fetch("SELECT * FROM movies ORDER BY id") == before
    assert await db_pool.fetchval("SELECT count(*) FROM tmdb_match_reviews") == 0


async def test_second_run_has_nothing_to_do(db_pool, fake_tmdb, hash_embedder, backfiller):
    """After a run, applied, reviewed and skipped rows are not candidates again."""
    await curated(db_pool, hash_embedder, "Heat", 1995)
    await curated(db_pool, hash_embedder, "Crash", 2005)
    await curated(db_pool, hash_embedder, "Nothing Like It", 1950)
    fake_tmdb.state.add(
        make_movie(949, "Heat", release_date="1995-12-15", runtime=100),
        make_movie(1, "Crash", release_date="2004-09-10"),
        make_movie(2, "Crash", release_date="2005-05-06"),
    )
    first = await run_once(backfiller())
    assert first.counts() == {"applied": 1, "ambiguous_match": 1, "no_match": 1}
    requests = len(fake_tmdb.requests)
    second = await run_once(backfiller())
    assert second.outcomes == [] and len(fake_tmdb.requests) == requests
    assert await candidate_ids(db_pool, BackfillSettings()) == []


async def test_max_movies_and_refresh_of_matched_rows(db_pool, fake_tmdb, hash_embedder, backfiller):
    """MAX_MOVIES bounds a run; a matched row with stale metadata is refreshed without a search."""
    movie_id = await curated(db_pool, hash_embedder, "Heat", 1995)
    await db_pool.execute("UPDATE movies SET tmdb_id = 949 WHERE id = $1", movie_id)
    await curated(db_pool, hash_embedder, "Other", 1996)
    fake_tmdb.state.add(make_movie(949, "Heat", release_date="1995-12-15", runtime=170))
    summary = await run_once(backfiller(max_movies=1))
    assert summary.counts() == {"refreshed": 1}
    assert not any("search" in request.path for request in fake_tmdb.requests)
    assert await db_pool.fetchval("SELECT tmdb_metadata_refreshed_at IS NOT NULL FROM movies WHERE id = $1", movie_id)
