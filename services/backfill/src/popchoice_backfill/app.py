"""``popchoice-backfill``: fill missing TMDB identity and metadata — once, ``enqueue``, or ``worker``.

- ``popchoice-backfill`` (make backfill): one run in this process, with a progress bar and a summary.
- ``popchoice-backfill enqueue`` (make backfill-enqueue): a catalog.backfill-movie job per candidate row.
- ``popchoice-backfill worker``: consumes catalog.backfill-movie until SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from tqdm import tqdm

from popchoice_backfill import handlers
from popchoice_backfill.config import BackfillSettings
from popchoice_backfill.service import Backfiller, BackfillSummary, candidate_ids, run_once
from popchoice_common.bootstrap import open_resources, run_worker
from popchoice_common.errors import ConfigurationError
from popchoice_common.events import BackfillMovieRequested
from popchoice_common.logs import configure_logging, get_logger

log = get_logger(__name__)


async def _once(settings: BackfillSettings) -> BackfillSummary:
    async with open_resources(settings, embedder=not settings.dry_run, tmdb="required") as resources:
        backfiller = Backfiller(resources.pool, resources.require_tmdb(), resources.embedder, settings)
        with tqdm(unit="movie", desc="backfill", disable=not sys.stderr.isatty()) as bar:

            def advance(done: int, total: int) -> None:
                bar.total = total
                bar.update(done)

            return await run_once(backfiller, on_progress=advance)


async def _enqueue(settings: BackfillSettings) -> int:
    async with open_resources(settings, require_redis=True) as resources:
        ids = await candidate_ids(resources.pool, settings)
        results = await resources.require_publisher().publish_many(
            [BackfillMovieRequested.for_movie(movie_id, dry_run=settings.dry_run) for movie_id in ids]
        )
    log.info("backfill_enqueued", candidates=len(ids), enqueued=sum(result.enqueued for result in results))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="popchoice-backfill", description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs="?", choices=["enqueue", "worker"])
    parser.add_argument("--dry-run", action="store_true", help="report only (same as DRY_RUN=true)")
    args = parser.parse_args(argv)
    settings = BackfillSettings()
    if args.dry_run:
        settings = settings.model_copy(update={"dry_run": True})
    if args.command == "worker":
        return run_worker("backfill", settings, handlers.register, embedder=True, tmdb="required")
    configure_logging(settings.log_level, settings.log_format)
    try:
        if args.command == "enqueue":
            return asyncio.run(_enqueue(settings))
        summary = asyncio.run(_once(settings))
    except ConfigurationError as exc:
        log.error("backfill_not_started", error=str(exc))
        return 2
    log.info("backfill_finished", **summary.as_log_fields())
    return 0
