"""``popchoice-discovery``: TMDB discovery, once (``--once``), as a scheduled worker, or ``enqueue``.

- ``popchoice-discovery --once`` (make discovery): one run in this process; new films are seeded
  directly. Also what runs when SYNC_SCHEDULE is empty.
- ``popchoice-discovery`` with SYNC_SCHEDULE: stays up, consumes catalog.discover-page and enqueues
  a run's pages at every scheduled time (cron, UTC).
- ``popchoice-discovery enqueue`` (make discovery-enqueue): enqueues one run's pages and exits.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys

from croniter import croniter
from tqdm import tqdm

from popchoice_common.bootstrap import open_resources, run_service
from popchoice_common.errors import ConfigurationError
from popchoice_common.logs import configure_logging, get_logger
from popchoice_common.streams.runtime import create_worker, serve_metrics
from popchoice_discovery import handlers
from popchoice_discovery.config import DiscoverySettings
from popchoice_discovery.service import enqueue_run, run_id_for, run_once

log = get_logger(__name__)


async def _once(settings: DiscoverySettings) -> int:
    async with open_resources(settings, embedder=not settings.dry_run, tmdb="required") as resources:
        total = len(settings.tmdb_sources) * settings.max_pages_per_source
        with tqdm(total=total, unit="page", desc="discovery", disable=not sys.stderr.isatty()) as bar:
            summary = await run_once(
                pool=resources.pool,
                tmdb=resources.require_tmdb(),
                embedder=resources.embedder,
                settings=settings,
                on_page=bar.update,
            )
    log.info("discovery_finished", **summary.as_log_fields())
    for tmdb_id, error in summary.failed.items():
        log.warning("discovery_film_failed", tmdb_id=tmdb_id, error=error)
    for page in summary.gave_up_pages:
        log.warning("discovery_page_failed", source=page.source, page=page.page, error=page.error)
    return 0


async def _enqueue(settings: DiscoverySettings) -> int:
    async with open_resources(settings, require_redis=True) as resources:
        await enqueue_run(resources.require_publisher(), settings, run_id=run_id_for(dt.datetime.now(dt.UTC)))
    return 0


async def _scheduled(settings: DiscoverySettings) -> int:
    async with open_resources(settings, tmdb="required", require_redis=True) as resources:
        assert resources.redis is not None
        worker = create_worker(resources.redis, settings, service="discovery")
        handlers.register(worker, resources)
        publisher = resources.require_publisher()

        async def schedule() -> None:
            times = croniter(settings.sync_schedule, dt.datetime.now(dt.UTC))
            while not worker.stopping:
                due = times.get_next(dt.datetime)
                delay = (due - dt.datetime.now(dt.UTC)).total_seconds()
                log.info("discovery_next_run", at=due.isoformat())
                await asyncio.sleep(max(delay, 0))
                await enqueue_run(publisher, settings, run_id=run_id_for(due))

        scheduler = asyncio.create_task(schedule())
        try:
            await worker.run()
        finally:
            scheduler.cancel()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="popchoice-discovery", description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs="?", choices=["enqueue"], help="enqueue one run's pages and exit")
    parser.add_argument("--once", action="store_true", help="one run in this process, whatever SYNC_SCHEDULE says")
    parser.add_argument("--dry-run", action="store_true", help="report only (same as DRY_RUN=true)")
    args = parser.parse_args(argv)
    settings = DiscoverySettings()
    if args.dry_run:
        settings = settings.model_copy(update={"dry_run": True})
    configure_logging(settings.log_level, settings.log_format)
    if settings.sync_schedule.strip() and not croniter.is_valid(settings.sync_schedule):
        log.error("invalid_setting", setting="SYNC_SCHEDULE", value=settings.sync_schedule)
        return 2
    try:
        if args.command == "enqueue":
            return asyncio.run(_enqueue(settings))
        if args.once or not settings.sync_schedule.strip():
            return asyncio.run(_once(settings))
        serve_metrics(settings)
        run_service("discovery", _scheduled(settings))
        return 0
    except ConfigurationError as exc:
        log.error("discovery_not_started", error=str(exc))
        return 2
