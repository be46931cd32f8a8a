"""Settings of the catalog seeder."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from popchoice_common.settings import PopChoiceSettings


class SeederSettings(PopChoiceSettings):
    """The curated seed: where the file is, how large a batch is, and whether to write."""

    movies_file_path: Path = Field(default=Path("movies.txt"))
    dry_run: bool = Field(default=False, description="Parse and report only: nothing embedded, nothing written.")
    seed_batch_size: int = Field(default=500, ge=1, le=10_000, description="Movies embedded and inserted per batch.")
    seed_bulk_threshold: int = Field(
        default=2000,
        ge=1,
        description="From this many new films on, insert them in one transaction that rebuilds the HNSW index once.",
    )
