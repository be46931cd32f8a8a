"""Discovery's stream handler: catalog.discover-page."""

from __future__ import annotations

from popchoice_common.bootstrap import Resources
from popchoice_common.events import CATALOG_DISCOVER_PAGE, DiscoverPageRequested
from popchoice_common.streams import JobContext, Worker
from popchoice_discovery.config import DiscoverySettings
from popchoice_discovery.service import process_page


def register(worker: Worker, resources: Resources) -> None:
    settings = resources.settings
    assert isinstance(settings, DiscoverySettings)
    tmdb = resources.require_tmdb()
    publisher = resources.require_publisher()
    assert resources.redis is not None
    client = resources.redis

    async def discover_page(event: DiscoverPageRequested, context: JobContext) -> None:
        """Fetches one TMDB list page and enqueues catalog.seed-movie jobs for the good new films."""
        await process_page(event, pool=resources.pool, tmdb=tmdb, publisher=publisher, client=client, settings=settings)

    worker.subscribe(CATALOG_DISCOVER_PAGE, discover_page, concurrency=settings.catalog_maintenance_concurrency)
