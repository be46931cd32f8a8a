"""Settings of discovery."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from popchoice_common.settings import PopChoiceSettings
from popchoice_common.tmdb import MOVIE_LISTS


class DiscoverySettings(PopChoiceSettings):
    """Which TMDB lists to read, how deep, and what counts as a film worth adding."""

    sync_schedule: str = Field(default="0 0 * * 0", description="Cron (UTC) for scheduled runs; empty: one-shot.")
    tmdb_sources: Annotated[list[str], NoDecode] = Field(default_factory=lambda: list(MOVIE_LISTS))
    max_pages_per_source: int = Field(default=3, ge=1, le=500)
    min_vote_count: int = Field(default=500, ge=0, description="A film needs more votes than this.")
    min_vote_average: float = Field(default=6.5, ge=0, le=10)
    min_overview_length: int = Field(default=50, ge=0, description="A film's overview must be longer than this.")
    max_movies_per_run: int = Field(default=50, ge=0)
    max_movies_per_page: int = Field(default=20, ge=0)
    dry_run: bool = Field(default=False)

    @field_validator("tmdb_sources", mode="before")
    @classmethod
    def _split_sources(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list):
            unknown = [source for source in value if source not in MOVIE_LISTS]
            if unknown:
                raise ValueError(f"unknown TMDB_SOURCES {unknown}; choose from {', '.join(MOVIE_LISTS)}")
        return value
