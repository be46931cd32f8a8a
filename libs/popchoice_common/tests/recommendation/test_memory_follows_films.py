"""What a person told us about a curated film still applies after the film is linked to TMDB, also
when TMDB's fallback brings the film back under its own title."""

import uuid

import pytest

from popchoice_common.catalog.identity import movie_key
from popchoice_common.catalog.movie_text import movie_embedding_text
from popchoice_common.catalog.seeding import seed_tmdb_movie
from popchoice_common.quiz import QuizPerson
from popchoice_common.recommendation import repository
from popchoice_common.recommendation.pipeline import RecommendationInput, RecommendationPipeline
from popchoice_common.settings import PopChoiceSettings
from popchoice_common.testing.factories import insert_interaction, insert_movie, insert_user
from popchoice_common.testing.fake_tmdb import make_movie

USER = uuid.UUID(int=42)
QUIZ = [QuizPerson("Paddington", "a mix of both", [], "warm")]
OVERVIEW = "A lonely robot left to clean up an abandoned Earth falls in love and follows a visitor into space."


@pytest.fixture
async def person(db_pool):
    return await insert_user(db_pool, "viewer@example.test", user_id=USER)


async def curated_film(pool, embedder, name, year, description):
    text = movie_embedding_text(
        name=name, year=year, age_rating="G", duration=98, score_rating=None, description=description
    )
    return await insert_movie(
        pool,
        name,
        year,
        embedding=await embedder.embed_one(text),
        model=embedder.model_id,
        age_rating="G",
        description=description,
        duration=98,
        source="curated_seed",
    )


async def not_interested(pool, title, year):
    """The person said no to the film as the catalog showed it (keyed by its title, it had no TMDB id)."""
    await insert_interaction(
        pool, USER, movie_key(title=title, year=year), "not_interested", movie_name=title, movie_year=year
    )


def tmdb_films(*films):
    """TMDB's discover answers with these films and two others, all well voted."""
    others = [
        make_movie(9000 + index, f"Other Film {index}", release_date=f"{2001 + index}-01-01", popularity=10.0)
        for index in range(2)
    ]
    return [*films, *others]


async def recommend(db_pool, hash_embedder, tmdb_client):
    """A recommendation for the person whose catalog matches are all weak, so TMDB's fallback runs."""
    pipeline = RecommendationPipeline(
        pool=db_pool,
        embedder=hash_embedder,
        settings=PopChoiceSettings(stage_write_delay_ms=0, local_match_threshold=-1.0, similarity_threshold=0.99),
        tmdb=tmdb_client,
    )
    async with db_pool.acquire() as connection:
        recommendation_id = await repository.create_recommendation(
            connection, slug=uuid.uuid4().hex[:12], quiz_data=[], locale="en-US", user_id=USER
        )
    await pipeline.run(recommendation_id, RecommendationInput.of(QUIZ, USER, "en-US"))
    rows = await db_pool.fetch(
        "SELECT name, tmdb_id, from_tmdb FROM recommendation_movies WHERE recommendation_id = $1 ORDER BY position",
        recommendation_id,
    )
    assert any(row["from_tmdb"] for row in rows), "the TMDB fallback ran"
    return rows


async def test_a_memory_saved_on_a_curated_film_applies_after_seeding_links_it(
    db_pool, person, fake_tmdb, tmdb_client, hash_embedder
):
    """Not interested in the curated "WALL-E": after a JIT seed links it to TMDB's "WALL·E", neither the
    catalog row nor TMDB's own pick of it is recommended."""
    await curated_film(db_pool, hash_embedder, "WALL-E", 2008, OVERVIEW)
    await not_interested(db_pool, "WALL-E", 2008)
    fake_tmdb.state.add(
        *tmdb_films(make_movie(10681, "WALL·E", release_date="2008-06-22", overview=OVERVIEW, popularity=90.0))
    )
    outcome = await seed_tmdb_movie(
        db_pool, tmdb_client, hash_embedder, 10681, language="en-US", image_base_url="", source="recommendation"
    )
    assert outcome.action == "linked"
    picks = await recommend(db_pool, hash_embedder, tmdb_client)
    assert [row["name"] for row in picks if row["tmdb_id"] == 10681 or "WALL" in row["name"]] == []


async def test_a_memory_applies_after_an_operator_links_the_film_to_a_differently_titled_tmdb_film(
    db_pool, person, fake_tmdb, tmdb_client, hash_embedder
):
    """The curated "Leon", linked by hand to TMDB's "Léon: The Professional", stays out of the picks
    when TMDB's fallback offers it under its TMDB title."""
    movie_id = await curated_film(db_pool, hash_embedder, "Leon", 1994, "A hitman takes in a girl next door.")
    await not_interested(db_pool, "Leon", 1994)
    fake_tmdb.state.add(
        *tmdb_films(
            make_movie(101, "Léon: The Professional", release_date="1994-09-14", overview=OVERVIEW, popularity=90.0)
        )
    )
    await db_pool.execute("UPDATE movies SET tmdb_id = 101, tmdb_match_source = 'manual' WHERE id = $1", movie_id)
    picks = await recommend(db_pool, hash_embedder, tmdb_client)
    assert [row["name"] for row in picks if row["tmdb_id"] == 101 or "Le" in row["name"]] == []
