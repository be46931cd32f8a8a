"""The memory in the pipeline: a person's watched and not-interested films stay out of the first batch
and of more picks alike; their popularity preference reorders the picks."""

import uuid

import msgspec
import pytest

from popchoice_common.catalog.movie_text import movie_embedding_text
from popchoice_common.quiz import QuizPerson
from popchoice_common.recommendation import repository
from popchoice_common.recommendation.pipeline import RecommendationInput, RecommendationPipeline
from popchoice_common.settings import PopChoiceSettings
from popchoice_common.testing.factories import (
    insert_feedback,
    insert_interaction,
    insert_movie,
    insert_pick,
    insert_recommendation,
    insert_user,
)

QUIZ = [QuizPerson("Nothing In The Catalog", "a mix of both", [], "tense")]
# The quiz text is lexical (hash embedder): "tense heist" films are the nearest.
FILMS = [
    ("Tense Heist One", 1995, 901, "A tense heist in a tense city: a crew plans one last tense heist."),
    ("Tense Heist Two", 1996, 902, "Another tense heist, tense and slow, a tense night in a bank vault."),
    *[
        (f"Quiet Film {index}", 2000 + index, 910 + index, f"A quiet story number {index} about a garden.")
        for index in range(8)
    ],
]


@pytest.fixture
async def catalog(db_pool, hash_embedder):
    for name, year, tmdb_id, text in FILMS:
        vector = await hash_embedder.embed_one(
            movie_embedding_text(
                name=name, year=year, age_rating="R", duration=110, score_rating=None, description=text
            )
        )
        await insert_movie(
            db_pool, name, year, embedding=vector, tmdb_id=tmdb_id, description=text, duration=110, age_rating="R"
        )


async def all_picks(pool, recommendation_id):
    rows = await pool.fetch(
        "SELECT batch, name FROM recommendation_movies WHERE recommendation_id = $1 ORDER BY batch, position",
        recommendation_id,
    )
    return [(row["batch"], row["name"]) for row in rows]


async def run_with_more_picks(pool, pipeline, user):
    async with pool.acquire() as connection:
        recommendation_id = await repository.create_recommendation(
            connection, slug=uuid.uuid4().hex[:12], quiz_data=msgspec.to_builtins(QUIZ), locale="en-US", user_id=user
        )
    await pipeline.run(recommendation_id, RecommendationInput.of(QUIZ, user, "en-US"))
    async with pool.acquire() as connection:
        batch = await repository.claim_more_picks(connection, recommendation_id)
    await pipeline.more_picks(recommendation_id, batch)
    return await all_picks(pool, recommendation_id)


async def test_more_picks_respect_the_same_memory(db_pool, hash_embedder, catalog):
    """The two films nearest the quiz lead an anonymous first batch; for a person who watched one and
    is not interested in the other, neither is in the first batch or in more picks."""
    pipeline = RecommendationPipeline(
        pool=db_pool,
        embedder=hash_embedder,
        settings=PopChoiceSettings(stage_write_delay_ms=0, local_match_threshold=-1.0, recent_recommendation_days=0),
    )
    anonymous = await run_with_more_picks(db_pool, pipeline, None)
    assert {(0, "Tense Heist One"), (0, "Tense Heist Two")} <= set(anonymous)
    user = await insert_user(db_pool)
    await insert_interaction(db_pool, user, "tmdb:901", "watched", movie_name="Tense Heist One")
    await insert_interaction(db_pool, user, "tmdb:902", "not_interested", movie_name="Tense Heist Two")
    remembered = await run_with_more_picks(db_pool, pipeline, user)
    assert {batch for batch, _ in remembered} == {0, 1}
    assert len(remembered) == 8
    assert not {name for _, name in remembered} & {"Tense Heist One", "Tense Heist Two"}


LOOKALIKES = [
    ("Harbor Lights", 1990, 801, 50_000),
    ("Harbor Sirens", 1991, 802, 20),
    ("Harbor Ropes", 1992, 803, 30_000),
    ("Harbor Gulls", 1993, 804, 15),
]
HARBOR_QUIZ = [QuizPerson("Nothing In The Catalog", "a mix of both", [], "calm harbor")]


@pytest.fixture
async def lookalikes(db_pool, hash_embedder):
    """Four films told alike (one sentence, different names), two well voted and two hardly."""
    text = "A calm harbor story: boats, fog and a lighthouse keeper."
    for name, year, tmdb_id, votes in LOOKALIKES:
        vector = await hash_embedder.embed_one(
            movie_embedding_text(
                name=name, year=year, age_rating="PG", duration=100, score_rating=None, description=text
            )
        )
        await insert_movie(
            db_pool,
            name,
            year,
            embedding=vector,
            tmdb_id=tmdb_id,
            description=text,
            duration=100,
            age_rating="PG",
            vote_count=votes,
        )


async def said_three_times(pool, kind):
    """A person who gave this feedback on three picks of an earlier recommendation."""
    user = await insert_user(pool)
    earlier = await insert_recommendation(pool, user_id=user)
    for position in range(3):
        await insert_pick(pool, earlier, f"tmdb:{position + 1}", position=position)
        await insert_feedback(pool, earlier, f"tmdb:{position + 1}", kind, user_id=user)
    return user


async def first_batch(pool, pipeline, user):
    async with pool.acquire() as connection:
        recommendation_id = await repository.create_recommendation(
            connection,
            slug=uuid.uuid4().hex[:12],
            quiz_data=msgspec.to_builtins(HARBOR_QUIZ),
            locale="en-US",
            user_id=user,
        )
    await pipeline.run(recommendation_id, RecommendationInput.of(HARBOR_QUIZ, user, "en-US"))
    return [name for _, name in await all_picks(pool, recommendation_id)]


@pytest.mark.parametrize(
    ("kind", "first_two"),
    [("too_obvious", {"Harbor Sirens", "Harbor Gulls"}), ("too_obscure", {"Harbor Lights", "Harbor Ropes"})],
)
async def test_the_popularity_preference_reorders_the_picks(db_pool, hash_embedder, lookalikes, kind, first_two):
    """Told picks were too obvious, a person gets the hardly voted films first; too obscure, the well voted."""
    pipeline = RecommendationPipeline(
        pool=db_pool,
        embedder=hash_embedder,
        settings=PopChoiceSettings(stage_write_delay_ms=0, local_match_threshold=-1.0),
    )
    picks = await first_batch(db_pool, pipeline, await said_three_times(db_pool, kind))
    assert set(picks[:2]) == first_two, picks
