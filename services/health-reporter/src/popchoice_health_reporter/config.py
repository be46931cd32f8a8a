"""Settings of the catalog health report."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from popchoice_common.settings import PopChoiceSettings

ReportFormat = Literal["text", "json"]


class HealthSettings(PopChoiceSettings):
    """The health report: how it is printed, how many samples per finding, when TMDB metadata is stale."""

    catalog_health_format: ReportFormat = Field(default="text", description="text (readable) or json (one object).")
    catalog_health_sample_limit: int = Field(
        default=5, ge=0, le=1000, description="Sample rows (or duplicate groups) listed per finding; 0 lists none."
    )
    catalog_health_stale_days: int = Field(
        default=180, ge=0, description="TMDB metadata refreshed longer ago than this many days is stale."
    )
