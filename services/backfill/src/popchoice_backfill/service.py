"""The backfill: give catalog rows their missing TMDB identity and metadata, conservatively."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

import asyncpg

from popchoice_backfill import repository
from popchoice_backfill.config import BackfillSettings
from popchoice_backfill.matching import MatchDecision, decide, runtime_mismatch
from popchoice_common.catalog import repository as catalog_repository
from popchoice_common.catalog.embeddings import refresh_movie_embedding
from popchoice_common.catalog.records import record_from_details
from popchoice_common.embedders import Embedder
from popchoice_common.logs import get_logger
from popchoice_common.tmdb import MovieSummary, TMDBClient
from popchoice_common.tmdb.errors import TMDBRateLimited

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class BackfillOutcome:
    movie_id: int
    result: str
    detail: str = ""


#: Outcomes of rows given up in this run (left unchecked, so the next run looks at them again).
GAVE_UP_RESULTS = ("error", "rate_limited")


@dataclass
class BackfillSummary:
    outcomes: list[BackfillOutcome] = field(default_factory=list)
    dry_run: bool = False

    def counts(self) -> dict[str, int]:
        return dict(Counter(outcome.result for outcome in self.outcomes))

    def gave_up(self) -> list[int]:
        return [outcome.movie_id for outcome in self.outcomes if outcome.result in GAVE_UP_RESULTS]

    def as_log_fields(self) -> dict[str, object]:
        return {"looked_at": len(self.outcomes), "dry_run": self.dry_run, **self.counts(), "gave_up": self.gave_up()}


class Backfiller:
    """Matches one row at a time; safe to run for the same row twice (everything it writes is an upsert)."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        tmdb: TMDBClient,
        embedder: Embedder | None,
        settings: BackfillSettings,
    ) -> None:
        self.pool = pool
        self.tmdb = tmdb
        self.embedder = embedder
        self.settings = settings

    async def _search(self, name: str, year: int | None) -> list[MovieSummary]:
        """Search with the year, then without: a same-titled film a year off must be seen to be ruled out."""
        results: list[MovieSummary] = []
        if year is not None:
            results += (await self.tmdb.search(name, year=year)).results
        results += (await self.tmdb.search(name)).results
        return results

    async def _finish(self, movie_id: int, result: str, detail: str = "") -> BackfillOutcome:
        if not self.settings.dry_run:
            async with self.pool.acquire() as connection:
                await repository.mark_checked(connection, movie_id, f"{result}: {detail}" if detail else result)
        log.info("backfill_movie", movie_id=movie_id, result=result, detail=detail, dry_run=self.settings.dry_run)
        return BackfillOutcome(movie_id, result, detail)

    async def backfill_movie(self, movie_id: int) -> BackfillOutcome:
        """Looks at one row: refreshes a matched one, matches an unmatched one, or records why not."""
        async with self.pool.acquire() as connection:
            row = await repository.movie_for_backfill(connection, movie_id)
        if row is None:
            return BackfillOutcome(movie_id, "missing", "the movie no longer exists")
        name, year, duration = row.name, row.year, row.duration
        if row.tmdb_id is not None:
            return await self._apply(movie_id, row.tmdb_id, duration, None, "refreshed")
        decision = decide(name, year, await self._search(name, year))
        if decision.kind == "no_match":
            return await self._finish(movie_id, "no_match", decision.reason)
        if decision.kind == "ambiguous":
            await self._review(movie_id, name, year, "ambiguous_match", decision, decision.reason)
            return await self._finish(movie_id, "ambiguous_match", decision.reason)
        assert decision.best is not None
        return await self._apply(movie_id, decision.best.tmdb_id, duration, decision, "applied")

    async def _apply(
        self, movie_id: int, tmdb_id: int, duration: int, decision: MatchDecision | None, result: str
    ) -> BackfillOutcome:
        details = await self.tmdb.movie_details(tmdb_id)
        if not details.runtime:
            return await self._finish(movie_id, "skipped", f"TMDB {tmdb_id} has no runtime")
        record = record_from_details(details, image_base_url=self.settings.tmdb_image_base_url)
        if decision is not None and runtime_mismatch(duration, details.runtime):
            async with self.pool.acquire() as connection:
                name_row = await repository.movie_for_backfill(connection, movie_id)
            assert name_row is not None
            reason = f"runtime {duration} min here, {details.runtime} min on TMDB {tmdb_id}"
            await self._review(movie_id, name_row.name, name_row.year, "runtime_mismatch", decision, reason)
            return await self._finish(movie_id, "runtime_mismatch", reason)
        if self.settings.dry_run:
            return await self._finish(movie_id, f"would_{'apply' if result == 'applied' else 'refresh'}", str(tmdb_id))
        confidence = Decimal(f"{decision.best.confidence:.3f}") if decision and decision.best else None
        try:
            async with self.pool.acquire() as connection, connection.transaction():
                await catalog_repository.attach_tmdb_data(
                    connection,
                    movie_id,
                    record,
                    source="backfill_auto" if decision is not None else None,
                    confidence=confidence,
                )
                await catalog_repository.replace_movie_credits(connection, movie_id, record)
        except asyncpg.UniqueViolationError:
            async with self.pool.acquire() as connection:
                owner = await catalog_repository.movie_id_by_tmdb_id(connection, tmdb_id)
            return await self._finish(movie_id, "skipped", f"TMDB {tmdb_id} already belongs to movie {owner}")
        reembedded = False
        if self.embedder is not None:
            reembedded = await refresh_movie_embedding(self.pool, self.embedder, movie_id)
        return await self._finish(movie_id, result, f"TMDB {tmdb_id}" + (", re-embedded" if reembedded else ""))

    async def _review(
        self, movie_id: int, name: str, year: int | None, reason: str, decision: MatchDecision, notes: str
    ) -> None:
        if self.settings.dry_run:
            return
        async with self.pool.acquire() as connection, connection.transaction():
            await repository.record_review(
                connection,
                movie_id=movie_id,
                movie_name=name,
                movie_year=year,
                reason=reason,
                candidates=[candidate.as_json() for candidate in decision.candidates[:10]],
                notes=notes,
            )


async def candidate_ids(pool: asyncpg.Pool, settings: BackfillSettings) -> list[int]:
    """Every row the backfill would look at now (up to MAX_MOVIES), in id order."""
    ids: list[int] = []
    last = 0
    while settings.max_movies == 0 or len(ids) < settings.max_movies:
        async with pool.acquire() as connection:
            rows = await repository.select_candidates(
                connection, stale_days=settings.backfill_stale_days, after_id=last, limit=500
            )
        if not rows:
            break
        ids += [row.id for row in rows]
        last = rows[-1].id
    return ids[: settings.max_movies] if settings.max_movies else ids


async def run_once(backfiller: Backfiller, *, on_progress: Callable[[int, int], None] | None = None) -> BackfillSummary:
    """Looks at every candidate, BATCH_SIZE at a time; one row's failure is reported, not fatal.

    A row whose TMDB request got 429 past TMDB_MAX_RETRIES is reported as ``rate_limited``; the
    client has already waited out each pause, so the run simply goes on with the next rows.
    """
    settings = backfiller.settings
    summary = BackfillSummary(dry_run=settings.dry_run)
    ids = await candidate_ids(backfiller.pool, settings)
    for start in range(0, len(ids), settings.batch_size):
        batch = ids[start : start + settings.batch_size]
        results = await asyncio.gather(
            *(backfiller.backfill_movie(movie_id) for movie_id in batch), return_exceptions=True
        )
        for movie_id, result in zip(batch, results, strict=True):
            if isinstance(result, BaseException):
                if not isinstance(result, Exception):
                    raise result
                error = f"{type(result).__name__}: {result}"
                log.warning("backfill_movie_failed", movie_id=movie_id, error=error)
                kind = "rate_limited" if isinstance(result, TMDBRateLimited) else "error"
                summary.outcomes.append(BackfillOutcome(movie_id, kind, error))
            else:
                summary.outcomes.append(result)
        if on_progress is not None:
            on_progress(len(batch), len(ids))
    return summary
