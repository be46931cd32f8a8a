"""The TMDB fallback for a person waiting: a short 429 pause is waited out, a long one is not
(TMDB_INTERACTIVE_MAX_WAIT_MS), and usedBroaderSearch says whether any pick came from TMDB."""

import uuid

import pytest

from popchoice_common.catalog.movie_text import movie_embedding_text
from popchoice_common.quiz import QuizPerson
from popchoice_common.recommendation import repository
from popchoice_common.recommendation.pipeline import RecommendationInput, RecommendationPipeline
from popchoice_common.settings import PopChoiceSettings
from popchoice_common.testing.factories import insert_movie
from popchoice_common.testing.fake_tmdb import API_KEY, make_movie
from popchoice_common.tmdb import create_rate_limiter, create_tmdb_client

CATALOG = [
    ("Heat", 1995, "A master thief and a relentless detective circle each other across Los Angeles."),
    ("Ronin", 1998, "Mercenaries chase a mysterious case through the streets of Paris and Nice."),
    ("Thief", 1981, "A safecracker plans one last score before leaving the life."),
    ("Collateral", 2004, "A cab driver is forced to drive a hitman through a night of killings."),
    ("The Town", 2010, "A bank robber falls for the manager he took hostage."),
    ("Sicario", 2015, "An idealistic agent joins a task force fighting cartels on the border."),
    ("Paddington", 2014, "A polite bear from Peru looks for a home in London."),
]
QUIZ = [QuizPerson("Heat", "classic", ["Thriller"], "tense")]


def tmdb_thrillers():
    """Classic thrillers TMDB's discover finds for QUIZ (none of them in the catalog)."""
    return [
        make_movie(
            700 + index,
            f"Night Pursuit {index}",
            genres=[(53, "Thriller")],
            release_date=f"{1965 + index}-05-01",
            overview=f"A tense chase through a city at night, with a detective and a thief, part {index}.",
        )
        for index in range(4)
    ]


@pytest.fixture
async def catalog(db_pool, hash_embedder):
    texts = [
        movie_embedding_text(name=name, year=year, age_rating="R", duration=120, score_rating=None, description=text)
        for name, year, text in CATALOG
    ]
    vectors = await hash_embedder.embed(texts)
    for (name, year, description), vector in zip(CATALOG, vectors, strict=True):
        await insert_movie(db_pool, name, year, embedding=vector, age_rating="R", description=description, duration=120)


@pytest.fixture
async def make_pipeline(db_pool, hash_embedder, redis_client, key_prefix, fake_tmdb, catalog):
    """A pipeline whose TMDB client and Redis-shared limiter are built from the settings, as a process builds them.

    By default no catalog match is strong (threshold 0.99), so the TMDB fallback runs."""
    fake_tmdb.state.add(*tmdb_thrillers())
    clients = []

    def make(**overrides):
        options = {
            "stage_write_delay_ms": 0,
            "local_match_threshold": -1.0,
            "similarity_threshold": 0.99,
            "stream_key_prefix": key_prefix,
            "tmdb_api_key": API_KEY,
            "tmdb_base_url": fake_tmdb.base_url,
            **overrides,
        }
        settings = PopChoiceSettings(**options)
        limiter = create_rate_limiter(settings, redis_client)
        tmdb = create_tmdb_client(settings, limiter)
        clients.append(tmdb)
        pipeline = RecommendationPipeline(pool=db_pool, embedder=hash_embedder, settings=settings, tmdb=tmdb)
        return pipeline, limiter

    yield make
    for tmdb in clients:
        await tmdb.aclose()


async def recommend(pool, pipeline, quiz=QUIZ):
    """Runs the pipeline for a quiz; returns usedBroaderSearch, db_movie_count and each pick's from_tmdb."""
    async with pool.acquire() as connection:
        recommendation_id = await repository.create_recommendation(
            connection, slug=uuid.uuid4().hex[:12], quiz_data=[], locale="en-US", user_id=None
        )
    await pipeline.run(recommendation_id, RecommendationInput.of(quiz, None, "en-US"))
    row = await pool.fetchrow(
        "SELECT status, used_broader_search, db_movie_count FROM recommendations WHERE id = $1", recommendation_id
    )
    assert row["status"] == "completed"
    picks = await pool.fetch(
        "SELECT from_tmdb FROM recommendation_movies WHERE recommendation_id = $1 ORDER BY position",
        recommendation_id,
    )
    return row["used_broader_search"], row["db_movie_count"], [pick["from_tmdb"] for pick in picks]


async def test_a_short_429_is_waited_out_for_a_person(db_pool, fake_tmdb, make_pipeline):
    """A 429 whose Retry-After (1 s) fits in TMDB_INTERACTIVE_MAX_WAIT_MS is waited out and TMDB's films are picked."""
    pipeline, _ = make_pipeline(tmdb_interactive_max_wait_ms=3000)
    fake_tmdb.state.force_429(retry_after=1)
    used_broader_search, db_movie_count, from_tmdb = await recommend(db_pool, pipeline)
    assert [request.status for request in fake_tmdb.requests] == [429, 200]
    assert used_broader_search is True and any(from_tmdb)
    assert db_movie_count == from_tmdb.count(False)


async def test_a_pause_past_the_bound_answers_from_the_catalog_alone(db_pool, fake_tmdb, make_pipeline):
    """When every process is paused longer than TMDB_INTERACTIVE_MAX_WAIT_MS (another process's 429), the
    person is not kept waiting: no TMDB request, catalog picks only, usedBroaderSearch false."""
    pipeline, limiter = make_pipeline(tmdb_interactive_max_wait_ms=300)
    await limiter.pause(5000)
    used_broader_search, db_movie_count, from_tmdb = await recommend(db_pool, pipeline)
    assert fake_tmdb.requests == []
    assert used_broader_search is False and from_tmdb == [False] * 6 and db_movie_count == 6


async def test_used_broader_search_is_false_when_no_tmdb_film_is_picked(db_pool, fake_tmdb, make_pipeline):
    """The fallback ran and TMDB answered, but none of its films could be picked (the person ruled out
    thrillers) and catalog films filled the picks: usedBroaderSearch is false, as nothing shown came
    from the broader search."""
    pipeline, _ = make_pipeline(similarity_threshold=-1.0, min_high_quality_local=100)
    no_thrillers = [QuizPerson("Heat", "no preference", ["anything"], "tense", "no thrillers please")]
    used_broader_search, _, from_tmdb = await recommend(db_pool, pipeline, no_thrillers)
    assert [request.path for request in fake_tmdb.requests] == ["/3/discover/movie"]
    assert used_broader_search is False and from_tmdb == [False] * 6


async def test_a_favourite_missing_from_the_catalog_is_found_on_tmdb_and_never_picked(
    db_pool, fake_tmdb, make_pipeline
):
    """A favourite the catalog lacks is looked up on TMDB (its genres steer the ranking); though TMDB's
    discover offers it, it is not recommended back."""
    fake_tmdb.state.add(
        make_movie(
            990,
            "Night Pursuit Origins",
            genres=[(53, "Thriller")],
            release_date="1970-05-01",
            overview="A tense chase through a city at night, the first one.",
        )
    )
    pipeline, _ = make_pipeline()
    quiz = [QuizPerson("Night Pursuit Origins", "classic", ["Thriller"], "tense")]
    async with db_pool.acquire() as connection:
        recommendation_id = await repository.create_recommendation(
            connection, slug=uuid.uuid4().hex[:12], quiz_data=[], locale="en-US", user_id=None
        )
    await pipeline.run(recommendation_id, RecommendationInput.of(quiz, None, "en-US"))
    assert "/3/search/movie" in [request.path for request in fake_tmdb.requests]
    picked = {row["tmdb_id"] for row in await db_pool.fetch("SELECT tmdb_id FROM recommendation_movies")}
    assert picked and 990 not in picked
    assert any(tmdb_id and 700 <= tmdb_id < 704 for tmdb_id in picked)
