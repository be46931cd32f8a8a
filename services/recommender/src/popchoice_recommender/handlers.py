"""The recommender's stream handlers: recommendation.requested and more-picks.requested."""

from __future__ import annotations

from popchoice_common.bootstrap import Resources
from popchoice_common.errors import is_retryable
from popchoice_common.events import (
    MORE_PICKS_REQUESTED,
    RECOMMENDATION_REQUESTED,
    MorePicksRequested,
    RecommendationRequested,
)
from popchoice_common.recommendation.pipeline import RecommendationInput, RecommendationPipeline
from popchoice_common.streams import JobContext, Worker
from popchoice_recommender.config import RecommenderSettings


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
        """Builds the first six picks of a quiz; a final failure marks the recommendation failed."""
        given = RecommendationInput.of(event.quiz, event.user_id, event.locale) if event.quiz else None
        try:
            await pipeline.run(event.recommendation_id, given, announce=context.announce_on_ack)
        except Exception as exc:
            if context.is_last_attempt or not is_retryable(exc):
                await pipeline.fail(event.recommendation_id)
            raise

    async def more_picks(event: MorePicksRequested, context: JobContext) -> None:
        """Builds the next batch of six picks, none already shown."""
        try:
            await pipeline.more_picks(event.recommendation_id, event.batch, announce=context.announce_on_ack)
        except Exception as exc:
            if context.is_last_attempt or not is_retryable(exc):
                await pipeline.fail(event.recommendation_id, more_picks=True)
            raise

    worker.subscribe(RECOMMENDATION_REQUESTED, recommend, concurrency=settings.recommender_concurrency)
    worker.subscribe(MORE_PICKS_REQUESTED, more_picks, concurrency=settings.recommender_concurrency)
