"""A curated film that gets its TMDB id takes what people told us about it along, whoever links it;
seeded rows say where they came from."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from popchoice_common.catalog.identity import movie_key
from popchoice_common.catalog.seeding import seed_tmdb_movie
from popchoice_common.testing.factories import (
    insert_feedback,
    insert_interaction,
    insert_movie,
    insert_pick,
    insert_recommendation,
    insert_user,
)
from popchoice_common.testing.fake_tmdb import make_movie

USER = uuid.UUID(int=7)
LONG_AGO = datetime(2025, 3, 1, tzinfo=UTC)


async def curated_film(executor, name, year):
    """A row of the curated seed: no TMDB id, normalized_name left to the database."""
    return await insert_movie(executor, name, year, description="Our own words.", duration=98, source="curated_seed")


async def remembered(executor, key, kind="not_interested", updated_at=LONG_AGO):
    """A person's memory of a film, its recommendation and feedback, all under one key."""
    await insert_user(executor, "someone@example.test", user_id=USER)
    recommendation = await insert_recommendation(executor, user_id=USER)
    await insert_pick(executor, recommendation, key)
    await insert_feedback(executor, recommendation, key, "too_obvious", user_id=USER)
    return await insert_interaction(executor, USER, key, kind, updated_at=updated_at)


async def stored_keys(executor):
    rows = await executor.fetch(
        "SELECT movie_key FROM recommendation_movies UNION ALL SELECT movie_key FROM recommendation_feedback"
        " UNION ALL SELECT movie_key FROM user_movie_interactions"
    )
    return sorted(row["movie_key"] for row in rows)


async def test_seeding_links_a_punctuation_variant_and_its_memory_follows(
    db_pool, fake_tmdb, tmdb_client, hash_embedder, seed_options
):
    """TMDB's "WALL·E" is the curated "WALL-E": the row is linked, not duplicated, and its memory,
    feedback and history move from the title key to tmdb:10681, with the times people gave them."""
    movie_id = await curated_film(db_pool, "WALL-E", 2008)
    memory_id = await remembered(db_pool, movie_key(title="WALL-E", year=2008))
    fake_tmdb.state.add(make_movie(10681, "WALL·E", release_date="2008-06-22", runtime=98))
    outcome = await seed_tmdb_movie(db_pool, tmdb_client, hash_embedder, 10681, source="recommendation", **seed_options)
    assert (outcome.action, outcome.movie_id) == ("linked", movie_id)
    assert await db_pool.fetchval("SELECT count(*) FROM movies") == 1
    assert await stored_keys(db_pool) == ["tmdb:10681"] * 3
    memory = await db_pool.fetchrow("SELECT tmdb_id, updated_at FROM user_movie_interactions WHERE id = $1", memory_id)
    assert (memory["tmdb_id"], memory["updated_at"]) == (10681, LONG_AGO)
    row = await db_pool.fetchrow("SELECT source, tmdb_match_source FROM movies WHERE id = $1", movie_id)
    assert (row["source"], row["tmdb_match_source"]) == ("curated_seed", "recommendation")


async def test_an_operators_link_moves_memory_and_keeps_the_most_recent_of_two(db_conn):
    """Setting tmdb_id by hand rewrites the title key too; where the person already had a row under the
    TMDB key, the more recent of the two stays."""
    movie_id = await curated_film(db_conn, "Leon", 1994)
    older = await remembered(db_conn, movie_key(title="Leon", year=1994), "watched", LONG_AGO)
    newer = await insert_interaction(
        db_conn, USER, "tmdb:101", "liked", movie_name="Léon: The Professional", updated_at=LONG_AGO + timedelta(days=1)
    )
    await db_conn.execute("UPDATE movies SET tmdb_id = 101, tmdb_match_source = 'manual' WHERE id = $1", movie_id)
    rows = await db_conn.fetch("SELECT id, movie_key, kind FROM user_movie_interactions")
    assert [(row["id"], row["movie_key"], row["kind"]) for row in rows] == [(newer, "tmdb:101", "liked")]
    assert older != newer
    assert await stored_keys(db_conn) == ["tmdb:101"] * 3


async def test_renaming_a_curated_film_moves_its_title_key(db_conn):
    """A curated row renamed by an operator keeps its memory under its new title key."""
    movie_id = await curated_film(db_conn, "Seven", 1995)
    await remembered(db_conn, movie_key(title="Seven", year=1995))
    await db_conn.execute("UPDATE movies SET name = 'Se7en' WHERE id = $1", movie_id)
    assert await stored_keys(db_conn) == [movie_key(title="Se7en", year=1995)] * 3


async def test_a_refreshed_film_keeps_its_keys(db_conn):
    """Updating a film that already has its TMDB id (a metadata refresh) rewrites nothing."""
    movie_id = await insert_movie(db_conn, "Heat", 1995, tmdb_id=949)
    await remembered(db_conn, movie_key(title="Heat", year=1995))
    await db_conn.execute("UPDATE movies SET tmdb_id = 949, name = 'Heat (1995)' WHERE id = $1", movie_id)
    assert await stored_keys(db_conn) == ["title:heat:1995"] * 3


@pytest.mark.parametrize(
    ("source", "match_source"),
    [("discovery", "tmdb_discovery"), ("recommendation", "recommendation"), ("manual", "manual")],
)
async def test_a_seeded_row_says_where_it_came_from(
    db_pool, fake_tmdb, tmdb_client, hash_embedder, seed_options, source, match_source
):
    """An inserted TMDB film records its source and a match source to go with it."""
    fake_tmdb.state.add(make_movie(603, "The Matrix"))
    await seed_tmdb_movie(db_pool, tmdb_client, hash_embedder, 603, source=source, **seed_options)
    row = await db_pool.fetchrow("SELECT source, tmdb_match_source FROM movies WHERE tmdb_id = 603")
    assert (row["source"], row["tmdb_match_source"]) == (source, match_source)
