import asyncio

import pytest

from popchoice_common.catalog.embeddings import text_hash
from popchoice_common.catalog.seeding import seed_tmdb_movie
from popchoice_common.testing.factories import insert_movie
from popchoice_common.testing.fake_tmdb import make_movie
from popchoice_common.tmdb.errors import TMDBBadData, TMDBNotFound

MATRIX = {
    "runtime": 136,
    "release_date": "1999-03-31",
    "genres": [(28, "Action"), (878, "Science Fiction")],
    "cast": [(6384, "Keanu Reeves", "Neo"), (2975, "Laurence Fishburne", "Morpheus")],
    "directors": [(9340, "Lana Wachowski"), (9339, "Lilly Wachowski")],
    "keywords": [(310, "artificial intelligence"), (4565, "dystopia")],
    "us_release_dates": [(3, "R")],
    "poster_path": "/matrix.jpg",
    "vote_average": 8.2,
}


async def test_a_tmdb_film_is_inserted_with_metadata_and_credits(
    db_pool, fake_tmdb, tmdb_client, hash_embedder, seed_options
):
    """Seeding writes the film, its embedding, certification, poster, cast, directors, genres and keywords."""
    fake_tmdb.state.add(make_movie(603, "The Matrix", **MATRIX))
    outcome = await seed_tmdb_movie(db_pool, tmdb_client, hash_embedder, 603, **seed_options)
    assert outcome.action == "inserted"
    movie = await db_pool.fetchrow("SELECT * FROM movies WHERE tmdb_id = 603")
    assert (movie["name"], movie["year"], movie["duration"], movie["age_rating"]) == ("The Matrix", 1999, 136, "R")
    assert movie["tmdb_match_source"] == "tmdb_discovery" and movie["tmdb_matched_at"] is not None
    assert movie["poster_url"] == "https://images.test/t/p/w500/matrix.jpg"
    assert movie["embedding_model"] == hash_embedder.model_id and movie["embedding_text_hash"]
    assert movie["tmdb_metadata"] and movie["tmdb_metadata_refreshed_at"] is not None
    people = await db_pool.fetch(
        'SELECT p.name, mp.role, mp."order" FROM movie_people mp JOIN catalog_people p ON p.tmdb_id = mp.person_id'
        ' WHERE mp.movie_id = $1 ORDER BY mp.role, mp."order", p.name',
        movie["id"],
    )
    assert [(p["name"], p["role"]) for p in people] == [
        ("Keanu Reeves", "cast"),
        ("Laurence Fishburne", "cast"),
        ("Lana Wachowski", "director"),
        ("Lilly Wachowski", "director"),
    ]
    assert await db_pool.fetchval("SELECT count(*) FROM movie_genres WHERE movie_id = $1", movie["id"]) == 2
    assert await db_pool.fetchval("SELECT count(*) FROM movie_keywords WHERE movie_id = $1", movie["id"]) == 2


async def test_seeding_twice_or_at_once_keeps_one_row(db_pool, fake_tmdb, tmdb_client, hash_embedder, seed_options):
    """A redelivered or concurrent seed of the same TMDB id leaves exactly one row."""
    fake_tmdb.state.add(make_movie(603, "The Matrix", **MATRIX))
    outcomes = await asyncio.gather(
        *(seed_tmdb_movie(db_pool, tmdb_client, hash_embedder, 603, **seed_options) for _ in range(3))
    )
    again = await seed_tmdb_movie(db_pool, tmdb_client, hash_embedder, 603, **seed_options)
    assert sorted(outcome.action for outcome in outcomes).count("inserted") == 1
    assert again.action == "already_present"
    assert await db_pool.fetchval("SELECT count(*) FROM movies") == 1
    assert await db_pool.fetchval("SELECT count(*) FROM movie_people") == 4


async def test_a_curated_film_is_linked_not_duplicated(db_pool, fake_tmdb, tmdb_client, hash_embedder, seed_options):
    """A curated row with the same title and year gets the TMDB identity; its own text is kept, gaps filled."""
    movie_id = await insert_movie(
        db_pool,
        "The Matrix",
        1999,
        embedding=await hash_embedder.embed_one("The Matrix"),
        age_rating="R",
        description="Our own words.",
        duration=0,
        embedding_text_hash="old",
    )
    fake_tmdb.state.add(make_movie(603, "The Matrix", **MATRIX))
    outcome = await seed_tmdb_movie(db_pool, tmdb_client, hash_embedder, 603, **seed_options)
    assert (outcome.action, outcome.movie_id) == ("linked", movie_id)
    row = await db_pool.fetchrow("SELECT * FROM movies WHERE id = $1", movie_id)
    assert (row["tmdb_id"], row["description"], row["duration"]) == (603, "Our own words.", 136)
    assert row["embedding_text_hash"] not in ("old", None)
    assert await db_pool.fetchval("SELECT count(*) FROM movies") == 1


@pytest.mark.parametrize(
    ("setup", "error"),
    [
        (lambda state: state.add(make_movie(1, "")), TMDBBadData),
        (lambda state: None, TMDBNotFound),
        (lambda state: (state.add(make_movie(1, "One")), state.malformed_next()), TMDBBadData),
    ],
    ids=["no-title", "unknown-id", "malformed-json"],
)
async def test_bad_tmdb_data_writes_nothing(db_pool, fake_tmdb, tmdb_client, hash_embedder, seed_options, setup, error):
    """Missing fields, an unknown id or malformed JSON raise a clear permanent error and leave no row."""
    setup(fake_tmdb.state)
    with pytest.raises(error) as caught:
        await seed_tmdb_movie(db_pool, tmdb_client, hash_embedder, 1, **seed_options)
    assert not caught.value.retryable
    assert await db_pool.fetchval("SELECT count(*) FROM movies") == 0


async def test_embedding_text_hash_matches_what_was_embedded(
    db_pool, fake_tmdb, tmdb_client, hash_embedder, seed_options
):
    """The stored hash is of the film's embedding text, so later text changes are noticed."""
    from popchoice_common.catalog.embeddings import refresh_movie_embedding

    fake_tmdb.state.add(make_movie(603, "The Matrix", **MATRIX))
    outcome = await seed_tmdb_movie(db_pool, tmdb_client, hash_embedder, 603, **seed_options)
    assert not await refresh_movie_embedding(db_pool, hash_embedder, outcome.movie_id)
    await db_pool.execute("UPDATE movies SET duration = 150 WHERE id = $1", outcome.movie_id)
    assert await refresh_movie_embedding(db_pool, hash_embedder, outcome.movie_id)
    assert text_hash("x") != await db_pool.fetchval("SELECT embedding_text_hash FROM movies")
