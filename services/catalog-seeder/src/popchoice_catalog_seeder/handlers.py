"""The catalog-seeder's stream handlers: TMDB films from discovery and from recommendations (JIT)."""

from __future__ import annotations

from popchoice_common.bootstrap import Resources
from popchoice_common.catalog.seeding import seed_tmdb_movie
from popchoice_common.catalog.sources import MovieSource
from popchoice_common.events import CATALOG_SEED_MOVIE, MOVIE_SEED_REQUESTED, MovieSeedRequested, SeedMovieRequested
from popchoice_common.streams import JobContext, Worker


def register(worker: Worker, resources: Resources) -> None:
    """catalog.seed-movie (discovery) and movie-seed.requested (films just recommended from TMDB)."""
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

    concurrency = settings.catalog_maintenance_concurrency
    worker.subscribe(CATALOG_SEED_MOVIE, seed_discovered_movie, concurrency=concurrency)
    worker.subscribe(MOVIE_SEED_REQUESTED, seed_recommended_movie, concurrency=concurrency)
