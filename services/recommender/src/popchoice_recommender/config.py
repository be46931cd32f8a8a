"""Settings of the recommender."""

from __future__ import annotations

from pydantic import Field

from popchoice_common.settings import PopChoiceSettings


class RecommenderSettings(PopChoiceSettings):
    recommender_concurrency: int = Field(default=4, ge=1, description="Recommendations built at once per process.")
    sweep_interval_seconds: float = Field(
        default=15.0, gt=0, description="How often each recommender looks for recommendations whose job is gone."
    )
    sweep_after_seconds: float = Field(
        default=30.0,
        gt=0,
        description="A recommendation (or more-picks batch) pending or processing and untouched this long is"
        " checked: re-queued when its job is gone, marked failed when its job is dead.",
    )
