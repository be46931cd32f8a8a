"""The catalog health report: every check, run in one read-only snapshot of the catalog."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg

from popchoice_common.errors import PermanentError
from popchoice_health_reporter import repository
from popchoice_health_reporter.report import Defects, Finding, HealthReport


@dataclass(frozen=True, slots=True)
class ReportOptions:
    sample_limit: int = 5
    stale_days: int = 180


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    description: str
    query: Callable[[asyncpg.Connection, ReportOptions], Awaitable[Defects]]


# Report order. Names are a stable interface (--fail-on, JSON consumers): add, never rename.
CHECKS: tuple[Check, ...] = (
    Check(
        "missing_poster_url",
        "movies without a poster URL",
        lambda c, o: repository.movies_missing_poster_url(c, limit=o.sample_limit),
    ),
    Check(
        "missing_localized_name",
        "movies without a localized name",
        lambda c, o: repository.movies_missing_localized_name(c, limit=o.sample_limit),
    ),
    Check(
        "missing_tmdb_id",
        "movies not linked to TMDB",
        lambda c, o: repository.movies_missing_tmdb_id(c, limit=o.sample_limit),
    ),
    Check(
        "missing_runtime",
        "movies whose runtime is unknown: duration 0",
        lambda c, o: repository.movies_missing_runtime(c, limit=o.sample_limit),
    ),
    Check(
        "missing_age_rating",
        "movies without an age rating",
        lambda c, o: repository.movies_missing_age_rating(c, limit=o.sample_limit),
    ),
    Check(
        "missing_match_timestamp",
        "TMDB-linked movies that do not record when they were matched",
        lambda c, o: repository.movies_missing_match_timestamp(c, limit=o.sample_limit),
    ),
    Check(
        "stale_tmdb_metadata",
        "TMDB-linked movies whose metadata was never refreshed or not in the last {stale_days} days",
        lambda c, o: repository.movies_with_stale_tmdb_metadata(c, stale_days=o.stale_days, limit=o.sample_limit),
    ),
    Check(
        "missing_cast",
        "TMDB-linked movies without cast",
        lambda c, o: repository.tmdb_movies_without_credit(c, "cast", limit=o.sample_limit),
    ),
    Check(
        "missing_director",
        "TMDB-linked movies without a director",
        lambda c, o: repository.tmdb_movies_without_credit(c, "director", limit=o.sample_limit),
    ),
    Check(
        "missing_genres",
        "movies without genres (moods and stated exclusions cannot judge them)",
        lambda c, o: repository.movies_without_genres(c, limit=o.sample_limit),
    ),
    Check(
        "missing_keywords",
        "TMDB-linked movies without keywords",
        lambda c, o: repository.tmdb_movies_without_keywords(c, limit=o.sample_limit),
    ),
    Check(
        "duplicate_tmdb_id",
        "TMDB ids carried by more than one movie, counted per id",
        lambda c, o: repository.duplicate_tmdb_ids(c, limit=o.sample_limit),
    ),
    Check(
        "duplicate_title_year",
        "normalised title and year pairs carried by more than one movie, counted per pair",
        lambda c, o: repository.duplicate_title_years(c, limit=o.sample_limit),
    ),
)

FINDING_NAMES: tuple[str, ...] = tuple(check.name for check in CHECKS)


class UnknownFindingError(PermanentError):
    """Finding names that no check carries (for example a typo in --fail-on)."""

    def __init__(self, unknown: Iterable[str]) -> None:
        self.unknown = tuple(unknown)
        super().__init__(f"unknown finding {', '.join(self.unknown)}; valid names: {', '.join(FINDING_NAMES)}")


def parse_finding_names(values: Iterable[str]) -> tuple[str, ...]:
    """Finding names from comma-separated values, deduplicated in order; raises UnknownFindingError."""
    names = tuple(dict.fromkeys(name.strip() for value in values for name in value.split(",") if name.strip()))
    unknown = [name for name in names if name not in FINDING_NAMES]
    if unknown:
        raise UnknownFindingError(unknown)
    return names


@asynccontextmanager
async def read_only_transaction(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """A connection inside a READ ONLY, REPEATABLE READ transaction: every query sees one snapshot, none writes."""
    async with pool.acquire() as connection, connection.transaction(isolation="repeatable_read", readonly=True):
        yield connection


async def collect_report(connection: asyncpg.Connection, options: ReportOptions) -> HealthReport:
    """Runs every check on this connection, inside whatever transaction the caller holds."""
    generated_at = await repository.snapshot_time(connection)
    summary = await repository.catalog_summary(connection)
    findings = []
    for check in CHECKS:
        defects = await check.query(connection, options)
        description = check.description.format(stale_days=options.stale_days)
        findings.append(Finding(check.name, description, defects.count, defects.samples))
    return HealthReport(generated_at=generated_at, summary=summary, findings=tuple(findings))


async def build_report(pool: asyncpg.Pool, options: ReportOptions) -> HealthReport:
    """The health report, read in one read-only transaction."""
    async with read_only_transaction(pool) as connection:
        return await collect_report(connection, options)
