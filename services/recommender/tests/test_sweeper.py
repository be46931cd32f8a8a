"""The sweeper over real Redis and PostgreSQL: a recommendation whose job is gone is queued again, one
whose job is dead is marked failed, and one whose job lives (or that was touched recently) is left alone."""

import asyncio
import time

import msgspec

from popchoice_common.embedders.hashing import HashEmbedder
from popchoice_common.events import (
    MORE_PICKS_REQUESTED,
    RECOMMENDATION_REQUESTED,
    MorePicksRequested,
    RecommendationRequested,
)
from popchoice_common.quiz import QuizPerson
from popchoice_common.recommendation.pipeline import RecommendationPipeline
from popchoice_common.streams import Publisher, StreamKeys, Worker, get_job
from popchoice_common.testing.factories import insert_pick, insert_recommendation
from popchoice_recommender.config import RecommenderSettings
from popchoice_recommender.sweeper import Sweeper

QUIZ = [{"favoriteMovie": "Heat", "newVsClassic": "90s", "moodPreference": ["Crime"], "tonePreference": "tense"}]


async def old(db_pool, **columns):
    """A recommendation last touched a minute ago."""
    recommendation_id = await insert_recommendation(db_pool, quiz_data=QUIZ, **columns)
    async with db_pool.acquire() as connection, connection.transaction():
        await connection.execute("ALTER TABLE recommendations DISABLE TRIGGER recommendations_set_updated_at")
        await connection.execute(
            "UPDATE recommendations SET updated_at = now() - interval '1 minute' WHERE id = $1", recommendation_id
        )
        await connection.execute("ALTER TABLE recommendations ENABLE TRIGGER recommendations_set_updated_at")
    return recommendation_id


def sweeper_for(db_pool, redis_client, key_prefix):
    settings = RecommenderSettings(stream_key_prefix=key_prefix)
    keys = StreamKeys(key_prefix)
    publisher = Publisher(redis_client, keys)
    pipeline = RecommendationPipeline(pool=db_pool, embedder=HashEmbedder(384), settings=settings)
    return Sweeper(db_pool, redis_client, publisher, pipeline, idle_seconds=30), publisher, keys


async def test_a_recommendation_whose_job_is_gone_is_queued_again_once(db_pool, redis_client, key_prefix):
    sweeper, publisher, keys = sweeper_for(db_pool, redis_client, key_prefix)
    lost = await old(db_pool)
    result = await sweeper.sweep()
    assert result.requeued == 1
    job = await get_job(redis_client, keys, f"recommendation:{lost}")
    assert job is not None and job.state == "queued"
    ((_, entries),) = await redis_client.xread({keys.stream(RECOMMENDATION_REQUESTED): "0"})
    (event,) = [msgspec.json.decode(fields[b"data"], type=RecommendationRequested) for _, fields in entries]
    assert event.recommendation_id == lost and event.quiz == [QuizPerson("Heat", "90s", ["Crime"], "tense")]
    # A second sweep (or another recommender's) finds the job alive: nothing more is queued.
    assert (await sweeper.sweep()).requeued == 0
    assert await redis_client.xlen(keys.stream(RECOMMENDATION_REQUESTED)) == 1


async def test_live_dead_and_recent_jobs(db_pool, redis_client, key_prefix):
    sweeper, publisher, keys = sweeper_for(db_pool, redis_client, key_prefix)
    live = await old(db_pool)
    await publisher.publish(RecommendationRequested.for_recommendation(live))
    dead = await old(db_pool, status="processing")
    job = keys.job(RECOMMENDATION_REQUESTED, f"recommendation:{dead}")
    await redis_client.hset(job, mapping={"state": "dead", "stream": RECOMMENDATION_REQUESTED})
    recent = await insert_recommendation(db_pool, quiz_data=QUIZ)  # just created: its job may still be on its way
    finished = await old(db_pool, status="completed")
    result = await sweeper.sweep()
    assert (result.requeued, result.failed, result.live) == (0, 1, 1)
    statuses = dict(await db_pool.fetch("SELECT id, status FROM recommendations"))
    assert statuses == {live: "pending", dead: "failed", recent: "pending", finished: "completed"}
    assert await get_job(redis_client, keys, f"recommendation:{recent}") is None


async def test_an_unfinished_more_picks_batch_is_queued_with_its_batch_number(db_pool, redis_client, key_prefix):
    sweeper, publisher, keys = sweeper_for(db_pool, redis_client, key_prefix)
    recommendation_id = await old(db_pool, status="completed", more_picks_status="pending")
    await insert_pick(db_pool, recommendation_id, "title:heat:1995", batch=0, position=0)
    assert (await sweeper.sweep()).requeued == 1
    ((_, entries),) = await redis_client.xread({keys.stream(MORE_PICKS_REQUESTED): "0"})
    (event,) = [msgspec.json.decode(fields[b"data"], type=MorePicksRequested) for _, fields in entries]
    assert (event.recommendation_id, event.batch) == (recommendation_id, 1)


async def test_the_worker_runs_the_sweeper_periodically(db_pool, redis_client, key_prefix):
    sweeper, publisher, keys = sweeper_for(db_pool, redis_client, key_prefix)
    lost = await old(db_pool)
    worker = Worker(redis_client, service="recommender", keys=keys, consumer="c1", block_ms=100)
    worker.subscribe("catalog.seed-movie", lambda event, context: asyncio.sleep(0))
    worker.every(0.1, sweeper.run, name="sweeper")
    running = asyncio.create_task(worker.run(install_signal_handlers=False))
    try:
        deadline = time.monotonic() + 10
        while await get_job(redis_client, keys, f"recommendation:{lost}") is None:
            assert time.monotonic() < deadline, "the sweeper never ran"
            await asyncio.sleep(0.05)
    finally:
        worker.stop()
        await running
