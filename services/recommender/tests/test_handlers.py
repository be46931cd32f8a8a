"""The recommender's handlers over real Redis and PostgreSQL: a job that will not run again marks its
recommendation failed through the runtime's on-dead hook, whatever ended it."""

import asyncio
import time

from popchoice_common.bootstrap import Resources
from popchoice_common.embedders.hashing import HashEmbedder
from popchoice_common.events import RecommendationRequested
from popchoice_common.quiz import QuizPerson
from popchoice_common.streams import Publisher, StreamKeys, Worker
from popchoice_common.testing.factories import insert_recommendation
from popchoice_recommender import handlers
from popchoice_recommender.config import RecommenderSettings


class HangingEmbedder(HashEmbedder):
    """An embedder whose service never answers."""

    async def _embed_batch(self, texts):
        await asyncio.Event().wait()


async def test_a_recommendation_whose_job_times_out_is_marked_failed(db_pool, redis_client, key_prefix):
    """Every attempt hangs past the handler timeout: the job is dead-lettered and the person sees 'failed'."""
    settings = RecommenderSettings(
        stream_key_prefix=key_prefix,
        stage_write_delay_ms=0,
        stream_policy_overrides={"recommendation.requested": {"handler_timeout_ms": 200, "backoff_ms": 50}},
    )
    keys = StreamKeys(key_prefix)
    publisher = Publisher(redis_client, keys)
    resources = Resources(
        settings=settings,
        pool=db_pool,
        redis=redis_client,
        publisher=publisher,
        embedder=HangingEmbedder(384),
        tmdb=None,
    )
    worker = Worker(
        redis_client,
        service="recommender",
        keys=keys,
        consumer="c1",
        block_ms=100,
        mover_interval_seconds=0.02,
        policy_overrides=settings.stream_policy_overrides,
    )
    handlers.register(worker, resources)
    recommendation_id = await insert_recommendation(db_pool)
    quiz = [QuizPerson("Heat", "90s", ["Crime"], "tense")]
    await publisher.publish(RecommendationRequested.for_recommendation(recommendation_id, quiz=quiz))
    running = asyncio.create_task(worker.run(install_signal_handlers=False))
    try:
        deadline = time.monotonic() + 20
        while await db_pool.fetchval("SELECT status FROM recommendations WHERE id = $1", recommendation_id) != "failed":
            assert time.monotonic() < deadline, "the recommendation was never marked failed"
            await asyncio.sleep(0.05)
    finally:
        worker.stop()
        await running
