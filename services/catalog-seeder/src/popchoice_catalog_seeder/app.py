"""``popchoice-seed``: the one-shot curated seed (make seed); ``popchoice-catalog-seeder``: the stream worker."""

from __future__ import annotations

import argparse
import asyncio
import sys

from tqdm import tqdm

from popchoice_catalog_seeder.config import SeederSettings
from popchoice_catalog_seeder.service import SeedSummary, seed_movies_file
from popchoice_common.catalog import repository as catalog_repository
from popchoice_common.db import create_pool, resolve_database_url
from popchoice_common.embedders import create_embedder
from popchoice_common.logs import configure_logging, get_logger

log = get_logger(__name__)


async def run(settings: SeederSettings) -> SeedSummary:
    if not settings.movies_file_path.is_file():
        raise SystemExit(f"MOVIES_FILE_PATH {settings.movies_file_path} is not a file")
    pool = await create_pool(resolve_database_url(settings), min_size=1, max_size=2)
    embedder = create_embedder(settings)
    try:
        active = await catalog_repository.active_embedding_model(pool)
        if active != embedder.model_id:
            log.warning(
                "embedding_model_not_active",
                embedder=embedder.model_id,
                active=active,
                hint="run `make migrate` with the same embedding settings so search uses these vectors",
            )
        with tqdm(unit="movie", disable=not sys.stderr.isatty(), desc="seed") as bar:

            def advance(done: int, total: int) -> None:
                bar.total = total
                bar.update(done)

            return await seed_movies_file(
                pool,
                embedder,
                settings.movies_file_path,
                batch_size=settings.seed_batch_size,
                bulk_threshold=settings.seed_bulk_threshold,
                dry_run=settings.dry_run,
                on_progress=advance,
            )
    finally:
        await embedder.aclose()
        await pool.close()


def main(argv: list[str] | None = None) -> int:
    """Seeds the catalog from MOVIES_FILE_PATH; prints a summary."""
    parser = argparse.ArgumentParser(prog="popchoice-seed", description="Seed the catalog from the movies file.")
    parser.add_argument("--dry-run", action="store_true", help="report only (same as DRY_RUN=true)")
    args = parser.parse_args(argv)
    settings = SeederSettings()
    if args.dry_run:
        settings = settings.model_copy(update={"dry_run": True})
    configure_logging(settings.log_level, settings.log_format)
    summary = asyncio.run(run(settings))
    log.info("seed_finished", file=str(settings.movies_file_path), **summary.as_log_fields())
    return 0


def worker_main() -> int:
    """Consumes catalog.seed-movie and movie-seed.requested until SIGTERM (needs REDIS_URL and TMDB_API_KEY)."""
    from popchoice_catalog_seeder import handlers
    from popchoice_common.bootstrap import run_worker

    return run_worker("catalog-seeder", SeederSettings(), handlers.register, embedder=True, tmdb="required")
