"""Settings of the backfill."""

from __future__ import annotations

from pydantic import Field

from popchoice_common.settings import PopChoiceSettings


class BackfillSettings(PopChoiceSettings):
    """How many rows at a time, how many in all, how old metadata may get, and whether to write."""

    batch_size: int = Field(default=5, ge=1, le=100, description="Rows matched concurrently per batch.")
    max_movies: int = Field(default=0, ge=0, description="Rows to look at in one run; 0 = all.")
    backfill_stale_days: int = Field(default=180, ge=1, description="TMDB metadata older than this is refreshed.")
    dry_run: bool = Field(default=False)
