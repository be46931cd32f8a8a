"""The catalog-seeder's stream handlers: TMDB films from discovery and from recommendations (JIT), and
the operator's re-seed of the curated file."""

from __future__ import annotations

from popchoice_catalog_seeder.config import SeederSettings
from popchoice_catalog_seeder.service import seed_movies_file
from popchoice_common.bootstrap import Resources
from popchoice_common.catalog.seeding import seed_tmdb_movie
from popchoice_common.catalog.sources import MovieSource
from popchoice_common.errors import PermanentError
from popchoice_common.events import (
    CATALOG_RESEED_CURATED,
    CATALOG_SEED_MOVIE,
    MOVIE_SEED_REQUESTED,
    CuratedReseedRequested,
    MovieSeedRequested,
    SeedMovieRequested,
)
from popchoice_common.logs import get_logger
from popchoice_common.streams import JobContext, Worker

log = get_logger(__name__)


class MoviesFileMissing(PermanentError):
    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(f"MOVIES_FILE_PATH {path} is not a file")


def register(worker: Worker, resources: Resources) -> None:
    """catalog.seed-movie (discovery), movie-seed.requested (films just recommended from TMDB) and
    catalog.reseed-curated (the curated file again)."""
    settings = resources.settings
    tmdb = resources.require_tmdb()
    embedder = resources.require_embedder()

    async def seed(event: SeedMovieRequested | MovieSeedRequested, source: MovieSource) -> None:
        await seed_tmdb_movie(
            resources.pool,
            tmdb,
            embedder,
            event.tmdb_id,
            language=event.language,
            image_base_url=settings.tmdb_image_base_url,
            source=source,
        )

    async def seed_discovered_movie(event: SeedMovieRequested, context: JobContext) -> None:
        """Adds one TMDB film that discovery selected to the catalog, idempotently by TMDB id."""
        await seed(event, "discovery")

    async def seed_recommended_movie(event: MovieSeedRequested, context: JobContext) -> None:
        """Adds one TMDB film a recommendation just showed to the catalog (labelled as such: it skipped
        discovery's quality filter), idempotently by TMDB id."""
        await seed(event, "recommendation")

    async def reseed_curated(event: CuratedReseedRequested, context: JobContext) -> None:
        """Seeds the curated movies file again (idempotent: present films are refreshed, not duplicated)."""
        assert isinstance(settings, SeederSettings)
        if not settings.movies_file_path.is_file():
            raise MoviesFileMissing(str(settings.movies_file_path))
        summary = await seed_movies_file(
            resources.pool,
            embedder,
            settings.movies_file_path,
            batch_size=settings.seed_batch_size,
            bulk_threshold=settings.seed_bulk_threshold,
            dry_run=settings.dry_run,
        )
        log.info("curated_reseed_done", job_id=event.job_id, **summary.as_log_fields())

    concurrency = settings.catalog_maintenance_concurrency
    worker.subscribe(CATALOG_SEED_MOVIE, seed_discovered_movie, concurrency=concurrency)
    worker.subscribe(MOVIE_SEED_REQUESTED, seed_recommended_movie, concurrency=concurrency)
    worker.subscribe(CATALOG_RESEED_CURATED, reseed_curated, concurrency=1)
