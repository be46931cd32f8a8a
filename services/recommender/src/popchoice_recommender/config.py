"""Settings of the recommender."""

from __future__ import annotations

from pydantic import Field

from popchoice_common.settings import PopChoiceSettings


class RecommenderSettings(PopChoiceSettings):
    recommender_concurrency: int = Field(default=4, ge=1, description="Recommendations built at once per process.")
