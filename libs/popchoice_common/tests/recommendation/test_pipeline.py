"""The pipeline against the real database: a job's own input is enough to run, and a late or
repeated run never changes a recommendation that already finished."""

import json
import uuid

import pytest

from popchoice_common.catalog.movie_text import movie_embedding_text
from popchoice_common.quiz import QuizPerson
from popchoice_common.recommendation import repository
from popchoice_common.recommendation.pipeline import RecommendationInput, RecommendationNotFound, RecommendationPipeline
from popchoice_common.settings import PopChoiceSettings
from popchoice_common.testing.factories import insert_movie, insert_recommendation

FILMS = [
    ("Heat", 1995, "A master thief and a relentless detective circle each other across Los Angeles."),
    ("Ronin", 1998, "Mercenaries chase a mysterious case through the streets of Paris and Nice."),
    ("Thief", 1981, "A safecracker plans one last score before leaving the life."),
    ("Collateral", 2004, "A cab driver is forced to drive a hitman through a night of killings."),
    ("The Town", 2010, "A bank robber falls for the manager he took hostage."),
    ("Sicario", 2015, "An idealistic agent joins a task force fighting cartels on the border."),
    ("Paddington", 2014, "A polite bear from Peru looks for a home in London."),
    ("Amelie", 2001, "A shy waitress in Montmartre secretly improves the lives of those around her."),
]
HEIST = [QuizPerson("Heat", "classic", ["Thriller"], "tense")]
WHIMSY = [QuizPerson("Amelie", "new", ["Comedy"], "whimsical")]


@pytest.fixture
async def catalog(db_pool, hash_embedder):
    texts = [
        movie_embedding_text(name=name, year=year, age_rating="R", duration=120, score_rating=None, description=text)
        for name, year, text in FILMS
    ]
    vectors = await hash_embedder.embed(texts)
    for (name, year, description), vector in zip(FILMS, vectors, strict=True):
        await insert_movie(db_pool, name, year, embedding=vector, age_rating="R", description=description, duration=120)


@pytest.fixture
def pipeline(db_pool, hash_embedder, catalog):
    # Every catalog film may be picked (threshold -1): the tests are about which run stored what.
    return RecommendationPipeline(
        pool=db_pool,
        embedder=hash_embedder,
        settings=PopChoiceSettings(stage_write_delay_ms=0, local_match_threshold=-1.0),
    )


@pytest.fixture
def pitching_pipeline(db_pool, hash_embedder, catalog, llm_client):
    """The pipeline with the chat client on the fake OpenAI server."""
    return RecommendationPipeline(
        pool=db_pool,
        embedder=hash_embedder,
        settings=PopChoiceSettings(stage_write_delay_ms=0, local_match_threshold=-1.0),
        llm=llm_client,
    )


async def stored_recommendation(pool, quiz_data):
    async with pool.acquire() as connection:
        return await repository.create_recommendation(
            connection, slug=uuid.uuid4().hex[:12], quiz_data=quiz_data, locale="en-US", user_id=None
        )


async def picks_of(pool, recommendation_id):
    rows = await pool.fetch(
        "SELECT name FROM recommendation_movies WHERE recommendation_id = $1 ORDER BY batch, position",
        recommendation_id,
    )
    return [row["name"] for row in rows]


async def test_the_jobs_input_is_used_without_reading_the_stored_quiz(db_pool, pipeline):
    # The stored quiz is unusable (no people): only the job's input can have built these picks.
    recommendation_id = await stored_recommendation(db_pool, [])
    await pipeline.run(recommendation_id, RecommendationInput.of(HEIST, None, "en-US"))
    row = await db_pool.fetchrow("SELECT status, stage FROM recommendations WHERE id = $1", recommendation_id)
    assert (row["status"], row["stage"]) == ("completed", "complete")
    picks = await picks_of(db_pool, recommendation_id)
    assert len(picks) == 6 and "Heat" not in picks  # the film named in the quiz is left out


async def test_without_input_the_stored_quiz_is_read(db_pool, pipeline):
    recommendation_id = await stored_recommendation(
        db_pool,
        [
            {
                "favoriteMovie": "Heat",
                "newVsClassic": "classic",
                "moodPreference": ["Thriller"],
                "tonePreference": "tense",
            }
        ],
    )
    await pipeline.run(recommendation_id)
    assert len(await picks_of(db_pool, recommendation_id)) == 6


async def test_a_repeated_run_keeps_the_first_result(db_pool, pipeline):
    recommendation_id = await stored_recommendation(db_pool, [])
    await pipeline.run(recommendation_id, RecommendationInput.of(HEIST, None, "en-US"))
    first = await picks_of(db_pool, recommendation_id)
    completed_at = await db_pool.fetchval("SELECT completed_at FROM recommendations WHERE id = $1", recommendation_id)
    # A redelivery with other answers (as if the quiz had changed) stores nothing.
    await pipeline.run(recommendation_id, RecommendationInput.of(WHIMSY, None, "en-US"))
    assert await picks_of(db_pool, recommendation_id) == first
    assert await db_pool.fetchval("SELECT completed_at FROM recommendations WHERE id = $1", recommendation_id) == (
        completed_at
    )


async def test_a_failed_recommendation_is_not_completed_by_a_late_run(db_pool, pipeline):
    recommendation_id = await stored_recommendation(db_pool, [])
    async with db_pool.acquire() as connection:
        await repository.fail_recommendation(connection, recommendation_id, "gave up")
    await pipeline.run(recommendation_id, RecommendationInput.of(HEIST, None, "en-US"))
    assert await db_pool.fetchval("SELECT status FROM recommendations WHERE id = $1", recommendation_id) == "failed"
    assert await picks_of(db_pool, recommendation_id) == []


async def test_an_unknown_recommendation_is_a_permanent_error(pipeline):
    with pytest.raises(RecommendationNotFound):
        await pipeline.run(uuid.uuid4(), RecommendationInput.of(HEIST, None, "en-US"))
    with pytest.raises(RecommendationNotFound):
        await pipeline.run(uuid.uuid4())


async def test_stored_picks_keep_every_value_exactly(db_conn):
    """Picks travel to the database as one JSON document: text, numbers and nulls arrive unchanged."""
    from decimal import Decimal

    recommendation_id = await insert_recommendation(db_conn)
    pick = repository.StoredPick(
        batch=0,
        position=0,
        is_main_recommendation=True,
        movie_key="title:amelie:2001",
        movie_id=None,
        tmdb_id=194,
        name='Le Fabuleux Destin d\'Amélie Poulain "Amélie" \\ 🎬',
        year=2001,
        similarity=0.123456789012345,
        from_tmdb=True,
        ai_description="Line one.\nLine two\ttabbed.",
        poster_url=None,
        localized_name="Amélie",
        score_rating=Decimal("7.9"),
        duration=None,
        age_rating="R",
    )
    assert await repository.store_batch(db_conn, recommendation_id, [pick], complete=(True, 0))
    row = await db_conn.fetchrow("SELECT * FROM recommendation_movies WHERE recommendation_id = $1", recommendation_id)
    for name in (
        "name",
        "similarity",
        "ai_description",
        "score_rating",
        "tmdb_id",
        "movie_id",
        "poster_url",
        "duration",
    ):
        assert row[name] == getattr(pick, name), name


async def descriptions_of(pool, recommendation_id):
    rows = await pool.fetch(
        "SELECT name, ai_description FROM recommendation_movies WHERE recommendation_id = $1 ORDER BY position",
        recommendation_id,
    )
    return {row["name"]: row["ai_description"] for row in rows}


async def test_picks_carry_the_chat_models_pitches(db_pool, pitching_pipeline, fake_openai):
    """Against a server that answers as the real API does (prose unless a JSON schema is asked for),
    every stored pick carries the model's pitch, not the catalog text."""
    recommendation_id = await stored_recommendation(db_pool, [])
    await pitching_pipeline.run(recommendation_id, RecommendationInput.of(HEIST, None, "en-US"))
    descriptions = await descriptions_of(db_pool, recommendation_id)
    assert len(descriptions) == 6
    assert descriptions == {name: f"{name}: a fitting pick for this quiz." for name in descriptions}
    (chat,) = [request for request in fake_openai.requests if request.path == "/v1/chat/completions"]
    assert chat.body["response_format"]["type"] == "json_schema"


async def test_a_fenced_answer_still_gives_pitches_and_garbage_gives_catalog_text(
    db_pool, pitching_pipeline, fake_openai
):
    """A server that ignores response_format and fences its JSON still supplies the pitches;
    one that answers without JSON leaves the catalog text."""
    fake_openai.state.ignores_response_format = True
    fenced_json = json.dumps({"pitches": ["Pitched."] * 6})
    fake_openai.state.chat_reply = lambda messages: f"Of course!\n```json\n{fenced_json}\n```"
    fenced = await stored_recommendation(db_pool, [])
    await pitching_pipeline.run(fenced, RecommendationInput.of(HEIST, None, "en-US"))
    assert set((await descriptions_of(db_pool, fenced)).values()) == {"Pitched."}
    fake_openai.state.chat_reply = lambda messages: "Sorry, I can only chat about the weather."
    garbage = await stored_recommendation(db_pool, [])
    await pitching_pipeline.run(garbage, RecommendationInput.of(HEIST, None, "en-US"))
    descriptions = await descriptions_of(db_pool, garbage)
    catalog_text = {name: text for name, _, text in FILMS}
    # The catalog fallback: the film's own text, then why it was picked.
    assert all(description.startswith(catalog_text[name]) for name, description in descriptions.items())
