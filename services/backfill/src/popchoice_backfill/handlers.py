"""The backfill's stream handler: catalog.backfill-movie."""

from __future__ import annotations

from popchoice_backfill.config import BackfillSettings
from popchoice_backfill.service import Backfiller
from popchoice_common.bootstrap import Resources
from popchoice_common.events import CATALOG_BACKFILL_MOVIE, BackfillMovieRequested
from popchoice_common.streams import JobContext, Worker


def register(worker: Worker, resources: Resources) -> None:
    settings = resources.settings
    assert isinstance(settings, BackfillSettings)
    tmdb = resources.require_tmdb()

    async def backfill_movie(event: BackfillMovieRequested, context: JobContext) -> None:
        """Matches one catalog row to TMDB and fills what it lacks (or records why it cannot)."""
        job_settings = settings.model_copy(update={"dry_run": event.dry_run}) if event.dry_run else settings
        await Backfiller(resources.pool, tmdb, resources.embedder, job_settings).backfill_movie(event.movie_id)

    worker.subscribe(CATALOG_BACKFILL_MOVIE, backfill_movie, concurrency=settings.catalog_maintenance_concurrency)
