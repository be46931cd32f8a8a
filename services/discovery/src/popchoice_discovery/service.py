"""Discovery: read TMDB's lists, keep the good films the catalog lacks, and have them seeded."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

import asyncpg
import redis.asyncio as redis

from popchoice_common.catalog import repository as catalog_repository
from popchoice_common.catalog.identity import normalize_title
from popchoice_common.catalog.seeding import seed_tmdb_movie
from popchoice_common.embedders import Embedder
from popchoice_common.events import DiscoverPageRequested, SeedMovieRequested
from popchoice_common.logs import get_logger
from popchoice_common.streams import Publisher, PublishResult
from popchoice_common.tmdb import MovieSummary, TMDBClient
from popchoice_common.tmdb.errors import TMDBRateLimited, TMDBUnavailable
from popchoice_discovery.config import DiscoverySettings
from popchoice_discovery.selection import QualityBar, Skipped, select_new_films

log = get_logger(__name__)
RUN_COUNTER_TTL_SECONDS = 7 * 86_400


def quality_bar(settings: DiscoverySettings) -> QualityBar:
    return QualityBar(settings.min_vote_count, settings.min_vote_average, settings.min_overview_length)


def page_events(settings: DiscoverySettings, *, run_id: str) -> list[DiscoverPageRequested]:
    """One catalog.discover-page job per source and page, in TMDB_LANGUAGE."""
    return [
        DiscoverPageRequested.for_page(source, page, settings.tmdb_language, dry_run=settings.dry_run, run_id=run_id)
        for source in settings.tmdb_sources
        for page in range(1, settings.max_pages_per_source + 1)
    ]


async def enqueue_run(publisher: Publisher, settings: DiscoverySettings, *, run_id: str) -> list[PublishResult]:
    """Enqueues a run's pages; a page job already queued or recently done is not enqueued again."""
    results = await publisher.publish_many(page_events(settings, run_id=run_id))
    log.info(
        "discovery_enqueued",
        run_id=run_id,
        pages=len(results),
        enqueued=sum(result.enqueued for result in results),
    )
    return results


async def _present(pool: asyncpg.Pool, movies: list[MovieSummary]) -> tuple[set[int], set[tuple[str, int | None]]]:
    async with pool.acquire() as connection:
        ids = await catalog_repository.present_tmdb_ids(connection, [movie.id for movie in movies])
        title_years = await catalog_repository.present_title_years(
            connection, [(normalize_title(movie.title), movie.year) for movie in movies]
        )
    return ids, title_years


@dataclass
class PageReport:
    source: str
    page: int
    fetched: int = 0
    enqueued: list[int] = field(default_factory=list)
    would_enqueue: list[int] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


async def process_page(
    event: DiscoverPageRequested,
    *,
    pool: asyncpg.Pool,
    tmdb: TMDBClient,
    publisher: Publisher,
    client: redis.Redis,
    settings: DiscoverySettings,
) -> PageReport:
    """The catalog.discover-page handler: one page in, catalog.seed-movie jobs out (capped per run)."""
    page = await tmdb.movie_list(event.source, event.page, language=event.language)
    report = PageReport(event.source, event.page, fetched=len(page.results))
    present_ids, present_title_years = await _present(pool, page.results)
    candidates, report.skipped = select_new_films(
        page.results,
        quality_bar(settings),
        present_tmdb_ids=present_ids,
        present_title_years=present_title_years,
        already_selected=set(),
        limit=settings.max_movies_per_page,
    )
    if event.dry_run:
        report.would_enqueue = [movie.id for movie in candidates]
        log.info("discovery_page_dry_run", source=event.source, page=event.page, would_enqueue=report.would_enqueue)
        return report
    counter = publisher.keys.discovery_run_selected(event.run_id)
    for movie in candidates:
        # The per-run cap holds across every process handling this run's pages.
        taken = await client.incr(counter)
        await client.expire(counter, RUN_COUNTER_TTL_SECONDS)
        if taken > settings.max_movies_per_run:
            await client.decr(counter)
            report.skipped.append(Skipped(movie.id, movie.title, "over the per-run cap"))
            continue
        result = await publisher.publish(SeedMovieRequested.for_movie(movie.id, event.language))
        if result.enqueued:
            report.enqueued.append(movie.id)
        else:
            # Another list already queued it (or it was seeded recently): it does not use a slot.
            await client.decr(counter)
            report.skipped.append(Skipped(movie.id, movie.title, f"seed job already {result.state}"))
    log.info(
        "discovery_page_done",
        source=event.source,
        page=event.page,
        fetched=report.fetched,
        enqueued=len(report.enqueued),
        skipped=len(report.skipped),
    )
    return report


#: A page request that outlasted the client's retries (TMDB_MAX_RETRIES) is given up for this run.
PAGE_GAVE_UP = (TMDBRateLimited, TMDBUnavailable)


@dataclass(frozen=True, slots=True)
class GaveUpPage:
    source: str
    page: int
    error: str
    rate_limited: bool


@dataclass
class RunSummary:
    pages: int = 0
    fetched: int = 0
    inserted: list[int] = field(default_factory=list)
    would_insert: list[int] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    gave_up_pages: list[GaveUpPage] = field(default_factory=list)
    #: Films of `failed` whose TMDB requests got 429 past TMDB_MAX_RETRIES.
    rate_limited_films: list[int] = field(default_factory=list)
    dry_run: bool = False

    def as_log_fields(self) -> dict[str, object]:
        return {
            "pages": self.pages,
            "fetched": self.fetched,
            "inserted": len(self.inserted),
            "would_insert": len(self.would_insert),
            "skipped": len(self.skipped),
            "failed": len(self.failed),
            "gave_up_pages": [f"{page.source}:{page.page}" for page in self.gave_up_pages],
            "rate_limited": sum(page.rate_limited for page in self.gave_up_pages) + len(self.rate_limited_films),
            "dry_run": self.dry_run,
        }


async def run_once(
    *,
    pool: asyncpg.Pool,
    tmdb: TMDBClient,
    embedder: Embedder | None,
    settings: DiscoverySettings,
    on_page: Callable[[], None] | None = None,
) -> RunSummary:
    """One discovery run in this process: every source and page, new films seeded directly.

    A page or film whose TMDB request outlasts the client's retries (a 429 each time, or TMDB
    unavailable) is given up and reported in the summary; the run goes on with the next one.
    """
    summary = RunSummary(dry_run=settings.dry_run)
    selected: set[int] = set()
    for source in settings.tmdb_sources:
        for number in range(1, settings.max_pages_per_source + 1):
            try:
                page = await tmdb.movie_list(source, number, language=settings.tmdb_language)
            except PAGE_GAVE_UP as exc:
                gave_up = GaveUpPage(source, number, f"{type(exc).__name__}: {exc}", isinstance(exc, TMDBRateLimited))
                summary.gave_up_pages.append(gave_up)
                log.warning("discovery_page_given_up", source=source, page=number, error=gave_up.error)
                if on_page is not None:
                    on_page()
                continue
            summary.pages += 1
            summary.fetched += len(page.results)
            present_ids, present_title_years = await _present(pool, page.results)
            room = settings.max_movies_per_run - len(selected)
            candidates, skipped = select_new_films(
                page.results,
                quality_bar(settings),
                present_tmdb_ids=present_ids,
                present_title_years=present_title_years,
                already_selected=selected,
                limit=max(min(settings.max_movies_per_page, room), 0),
            )
            summary.skipped += skipped
            selected.update(movie.id for movie in candidates)
            for movie in candidates:
                if settings.dry_run:
                    summary.would_insert.append(movie.id)
                    continue
                assert embedder is not None
                try:
                    outcome = await seed_tmdb_movie(
                        pool,
                        tmdb,
                        embedder,
                        movie.id,
                        language=settings.tmdb_language,
                        image_base_url=settings.tmdb_image_base_url,
                    )
                except Exception as exc:  # noqa: BLE001 - one bad film must not end the run; it is reported
                    summary.failed[movie.id] = f"{type(exc).__name__}: {exc}"
                    if isinstance(exc, TMDBRateLimited):
                        summary.rate_limited_films.append(movie.id)
                    log.warning("discovery_seed_failed", tmdb_id=movie.id, error=summary.failed[movie.id])
                    continue
                if outcome.action == "already_present":
                    summary.skipped.append(Skipped(movie.id, movie.title, "already in the catalog"))
                else:
                    summary.inserted.append(movie.id)
            if on_page is not None:
                on_page()
    return summary


def run_id_for(moment: dt.datetime) -> str:
    """A run's id: the UTC minute it was started or scheduled for."""
    return moment.astimezone(dt.UTC).strftime("%Y%m%dT%H%MZ")
