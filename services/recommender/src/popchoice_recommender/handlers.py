"""The recommender's stream handlers: recommendation.requested and more-picks.requested."""

from __future__ import annotations

from popchoice_common.bootstrap import Resources
from popchoice_common.events import (
    MORE_PICKS_REQUESTED,
    RECOMMENDATION_REQUESTED,
    MorePicksRequested,
    RecommendationRequested,
)
from popchoice_common.recommendation.pipeline import RecommendationInput, RecommendationPipeline
from popchoice_common.streams import JobContext, Worker
from popchoice_recommender.config import RecommenderSettings
from popchoice_recommender.sweeper import Sweeper


def build_pipeline(resources: Resources) -> RecommendationPipeline:
    return RecommendationPipeline(
        pool=resources.pool,
        embedder=resources.require_embedder(),
        settings=resources.settings,
        tmdb=resources.tmdb,
        llm=resources.llm,
        publisher=resources.publisher,
    )


def register(worker: Worker, resources: Resources) -> None:
    settings = resources.settings
    assert isinstance(settings, RecommenderSettings)
    pipeline = build_pipeline(resources)

    async def recommend(event: RecommendationRequested, context: JobContext) -> None:
        """Builds the first six picks of a quiz."""
        given = RecommendationInput.of(event.quiz, event.user_id, event.locale) if event.quiz else None
        await pipeline.run(event.recommendation_id, given, announce=context.announce_on_ack)

    async def recommendation_dead(event: RecommendationRequested, error: str) -> None:
        """A job that will not run again (attempts spent, a permanent error, a timeout) marks the
        recommendation failed, so the person waiting sees it."""
        await pipeline.fail(event.recommendation_id)

    async def more_picks(event: MorePicksRequested, context: JobContext) -> None:
        """Builds the next batch of six picks, none already shown."""
        await pipeline.more_picks(event.recommendation_id, event.batch, announce=context.announce_on_ack)

    async def more_picks_dead(event: MorePicksRequested, error: str) -> None:
        """As recommendation_dead, for a batch of more picks."""
        await pipeline.fail(event.recommendation_id, more_picks=True)

    worker.subscribe(
        RECOMMENDATION_REQUESTED,
        recommend,
        concurrency=settings.recommender_concurrency,
        on_dead=recommendation_dead,
    )
    worker.subscribe(
        MORE_PICKS_REQUESTED, more_picks, concurrency=settings.recommender_concurrency, on_dead=more_picks_dead
    )
    assert resources.redis is not None
    sweeper = Sweeper(
        resources.pool,
        resources.redis,
        resources.require_publisher(),
        pipeline,
        idle_seconds=settings.sweep_after_seconds,
    )
    worker.every(settings.sweep_interval_seconds, sweeper.run, name="sweeper")
