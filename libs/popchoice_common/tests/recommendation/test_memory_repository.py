"""The memory's write side: feedback folded into the durable memory and taken back, the trainer's
entries, and what user_memory reads back for the pipeline."""

import pytest

from popchoice_common.recommendation import repository
from popchoice_common.recommendation.records import MemoryFilm
from popchoice_common.testing.factories import (
    insert_interaction,
    insert_movie,
    insert_pick,
    insert_recommendation,
    insert_user,
    link_genres,
)

HEAT = MemoryFilm("tmdb:949", "Heat", 1995, 949, None)


@pytest.fixture
async def owner(db_conn):
    return await insert_user(db_conn)


@pytest.fixture
async def shown(db_conn, owner):
    """A recommendation of the owner's that picked Heat."""
    recommendation = await insert_recommendation(db_conn, user_id=owner)
    await insert_pick(db_conn, recommendation, HEAT.movie_key, name="Heat", year=1995, tmdb_id=949)
    return recommendation


async def memory_rows(connection, user):
    rows = await connection.fetch(
        "SELECT movie_key, kind, source_recommendation_id FROM user_movie_interactions WHERE user_id = $1", user
    )
    return [tuple(row.values()) for row in rows]


@pytest.mark.parametrize(
    ("kind", "memory"),
    [
        ("useful", "liked"),
        ("already_watched", "watched"),
        ("not_for_me", "not_interested"),
        ("wrong_mood", "wrong_mood"),
        ("too_obvious", None),
        ("too_obscure", None),
        ("close", None),
    ],
)
async def test_feedback_is_stored_and_folded_into_the_memory(db_conn, owner, shown, kind, memory):
    """Each kind is stored once per pick; four of them write the memory, marked as coming from the recommendation."""
    assert await repository.record_feedback(db_conn, shown, owner, HEAT, kind) == memory
    assert (
        await db_conn.fetchval("SELECT kind FROM recommendation_feedback WHERE recommendation_id = $1", shown) == kind
    )
    expected = [(HEAT.movie_key, memory, shown)] if memory else []
    assert await memory_rows(db_conn, owner) == expected


async def test_new_feedback_replaces_the_old_and_takes_back_what_it_wrote(db_conn, owner, shown):
    """useful, then too_obvious: one feedback row (too_obvious) and no liked entry left behind."""
    await repository.record_feedback(db_conn, shown, owner, HEAT, "useful")
    await repository.record_feedback(db_conn, shown, owner, HEAT, "too_obvious")
    assert await db_conn.fetchval("SELECT count(*) FROM recommendation_feedback") == 1
    assert await memory_rows(db_conn, owner) == []
    await repository.record_feedback(db_conn, shown, owner, HEAT, "already_watched")
    assert await memory_rows(db_conn, owner) == [(HEAT.movie_key, "watched", shown)]


async def test_undoing_feedback_removes_the_memory_it_wrote(db_conn, owner, shown):
    await repository.record_feedback(db_conn, shown, owner, HEAT, "not_for_me")
    assert await repository.delete_feedback(db_conn, shown, owner, HEAT.movie_key)
    assert await memory_rows(db_conn, owner) == []
    assert await db_conn.fetchval("SELECT count(*) FROM recommendation_feedback") == 0
    assert not await repository.delete_feedback(db_conn, shown, owner, HEAT.movie_key)


async def test_undoing_feedback_keeps_a_memory_entry_changed_since(db_conn, owner, shown):
    """The person said useful, then marked the film watched in the trainer: undoing the feedback leaves
    the trainer's entry."""
    await repository.record_feedback(db_conn, shown, owner, HEAT, "useful")
    await repository.upsert_interaction(db_conn, owner, HEAT, "watched")
    await repository.delete_feedback(db_conn, shown, owner, HEAT.movie_key)
    assert await memory_rows(db_conn, owner) == [(HEAT.movie_key, "watched", None)]


async def test_the_trainers_upsert_is_idempotent_and_the_latest_statement_wins(db_conn, owner):
    first = await repository.upsert_interaction(db_conn, owner, HEAT, "liked")
    again = await repository.upsert_interaction(db_conn, owner, HEAT, "liked")
    assert (first.kind, again.kind) == ("liked", "liked")
    await repository.upsert_interaction(db_conn, owner, HEAT, "not_interested")
    assert await memory_rows(db_conn, owner) == [(HEAT.movie_key, "not_interested", None)]
    assert await repository.delete_interaction(db_conn, owner, HEAT.movie_key)
    assert not await repository.delete_interaction(db_conn, owner, HEAT.movie_key)


async def test_user_memory_reads_the_preference_and_close_anchors_from_feedback(db_conn, owner):
    """too_obvious no longer leaves the film out: it moves the popularity preference; close gives a weak
    anchor (the pick's catalog film); feedback already folded is read from the memory only."""
    close_film = await insert_movie(db_conn, "Thief", 1981, tmdb_id=11524)
    recommendation = await insert_recommendation(db_conn, user_id=owner)
    await insert_pick(db_conn, recommendation, "tmdb:11524", name="Thief", movie_id=close_film, tmdb_id=11524)
    await insert_pick(db_conn, recommendation, "tmdb:1", name="Obvious", position=1)
    await insert_pick(db_conn, recommendation, "tmdb:2", name="Seen", position=2)
    await repository.record_feedback(
        db_conn, recommendation, owner, MemoryFilm("tmdb:11524", "Thief", 1981, 11524), "close"
    )
    await repository.record_feedback(
        db_conn, recommendation, owner, MemoryFilm("tmdb:1", "Obvious", None), "too_obvious"
    )
    await repository.record_feedback(
        db_conn, recommendation, owner, MemoryFilm("tmdb:2", "Seen", None), "already_watched"
    )
    memory = await repository.user_memory(db_conn, owner, recent_days=0)
    assert memory.excluded_keys == {"tmdb:2"}
    assert memory.close_movie_ids == (close_film,)
    assert memory.popularity_lean == pytest.approx(-1 / 3)
    await repository.upsert_interaction(db_conn, owner, MemoryFilm("tmdb:2", "Seen", None), "liked")
    assert (await repository.user_memory(db_conn, owner, recent_days=0)).excluded_keys == set()


async def test_the_memory_list_is_paged_newest_first_and_filtered_by_kind(db_conn, owner):
    for number in range(5):
        await insert_interaction(
            db_conn, owner, f"tmdb:{number}", "liked" if number % 2 else "watched", movie_name=f"Film {number}"
        )
        await db_conn.execute(
            "UPDATE user_movie_interactions SET updated_at = now() + make_interval(secs => $1) WHERE movie_key = $2",
            number,
            f"tmdb:{number}",
        )
    page = await repository.memory_page(db_conn, owner, kind=None, limit=2, offset=2)
    assert [entry.movie_key for entry in page] == ["tmdb:2", "tmdb:1"]
    liked = await repository.memory_page(db_conn, owner, kind="liked", limit=10, offset=0)
    assert [entry.movie_key for entry in liked] == ["tmdb:3", "tmdb:1"]
    assert await repository.memory_counts(db_conn, owner) == {"liked": 2, "watched": 3}


async def test_the_deck_leaves_out_films_the_person_rated_under_either_key(db_conn, owner):
    """Rated by TMDB key or by title key, a film leaves the deck; unvoted films are never in it."""
    by_tmdb = await insert_movie(db_conn, "Alien", 1979, tmdb_id=348, vote_count=15_000)
    await insert_movie(db_conn, "Blade Runner", 1982, vote_count=14_000)
    await insert_movie(db_conn, "Arrival", 2016, tmdb_id=329865, vote_count=17_000)
    await insert_movie(db_conn, "Unvoted", 2016)
    await link_genres(db_conn, by_tmdb, (27, "Horror"), (878, "Science Fiction"))
    assert [film.name for film in await repository.unrated_well_known_films(db_conn, owner, limit=10)] == [
        "Arrival",
        "Alien",
        "Blade Runner",
    ]
    await insert_interaction(db_conn, owner, "tmdb:348", "watched")
    await insert_interaction(db_conn, owner, "title:blade runner:1982", "not_seen")
    deck = await repository.unrated_well_known_films(db_conn, owner, limit=10)
    assert [(film.movie_key, film.name) for film in deck] == [("tmdb:329865", "Arrival")]


async def test_curated_films_without_votes_follow_the_voted_ones_best_rated_first(db_conn, owner):
    """The curated seed's films are in the deck without a TMDB vote count (after voted films, best rated
    first); other unvoted films are not."""
    await insert_movie(db_conn, "Heat", 1995, source="curated_seed", score_rating=8.3)
    await insert_movie(db_conn, "Casablanca", 1942, source="curated_seed", score_rating=8.5)
    await insert_movie(db_conn, "Alien", 1979, tmdb_id=348, vote_count=15_000)
    await insert_movie(db_conn, "Found somewhere", 2016, source="discovery", score_rating=9.0)
    deck = await repository.unrated_well_known_films(db_conn, owner, limit=10)
    assert [film.name for film in deck] == ["Alien", "Casablanca", "Heat"]


async def test_a_movie_key_finds_its_catalog_film_under_the_canonical_key(db_conn):
    await insert_movie(db_conn, "Léon", 1994, tmdb_id=101)
    await insert_movie(db_conn, "Amélie", 2001)
    assert (await repository.catalog_film_by_key(db_conn, "tmdb:101")).name == "Léon"
    linked = await repository.catalog_film_by_key(db_conn, "title:leon:1994")
    assert linked is not None and linked.movie_key == "tmdb:101"
    assert (await repository.catalog_film_by_key(db_conn, "title:amelie:2001")).movie_key == "title:amelie:2001"
    for unknown in ("tmdb:999", "tmdb:x", "title:amelie:1999", "title:amelie:year", "imdb:1", "tmdb:99999999999"):
        assert await repository.catalog_film_by_key(db_conn, unknown) is None
