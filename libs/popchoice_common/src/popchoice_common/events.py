"""Every message on the job streams: one frozen, tagged msgspec Struct per event, stream names beside them.

Encoding is msgspec JSON. The ``type`` tag names the event; ``job_id`` is deterministic so repeated
triggers dedupe (see :mod:`popchoice_common.streams`); ``schema_version`` lets a consumer refuse a
message shape it does not know.
"""

from __future__ import annotations

import uuid
from typing import ClassVar

import msgspec

from popchoice_common.quiz import QuizPerson

# Stream names (under the configurable key prefix, default "popchoice:").
RECOMMENDATION_REQUESTED = "recommendation.requested"
MORE_PICKS_REQUESTED = "more-picks.requested"
MOVIE_SEED_REQUESTED = "movie-seed.requested"
CATALOG_DISCOVER_PAGE = "catalog.discover-page"
CATALOG_SEED_MOVIE = "catalog.seed-movie"
CATALOG_BACKFILL_MOVIE = "catalog.backfill-movie"
RECOMMENDATION_COMPLETED = "recommendation.completed"
CATALOG_RESEED_CURATED = "catalog.reseed-curated"


class Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    """Base of every event: its job id (deterministic, for dedupe), schema version, and the W3C
    traceparent of the span that published it (set by the publisher when tracing is on)."""

    stream: ClassVar[str]
    job_id: str
    schema_version: int = 1
    traceparent: str | None = None


class RecommendationRequested(Event, frozen=True, kw_only=True, tag=RECOMMENDATION_REQUESTED):
    """A person submitted a quiz; the recommender builds the picks.

    quiz and user_id repeat what the gateway stored with the recommendation, so the recommender
    starts without reading it back. A message without them (published before they existed) still
    works: the recommender then reads the stored quiz.
    """

    stream: ClassVar[str] = RECOMMENDATION_REQUESTED
    recommendation_id: uuid.UUID
    locale: str = "en-US"
    quiz: list[QuizPerson] | None = None
    user_id: uuid.UUID | None = None

    @classmethod
    def for_recommendation(
        cls,
        recommendation_id: uuid.UUID,
        locale: str = "en-US",
        *,
        quiz: list[QuizPerson] | None = None,
        user_id: uuid.UUID | None = None,
    ) -> RecommendationRequested:
        return cls(
            job_id=f"recommendation:{recommendation_id}",
            recommendation_id=recommendation_id,
            locale=locale,
            quiz=quiz,
            user_id=user_id,
        )


class MorePicksRequested(Event, frozen=True, kw_only=True, tag=MORE_PICKS_REQUESTED):
    """A person asked for the next batch of picks of a completed recommendation."""

    stream: ClassVar[str] = MORE_PICKS_REQUESTED
    recommendation_id: uuid.UUID
    batch: int

    @classmethod
    def for_batch(cls, recommendation_id: uuid.UUID, batch: int) -> MorePicksRequested:
        return cls(job_id=f"more-picks:{recommendation_id}:{batch}", recommendation_id=recommendation_id, batch=batch)


class MovieSeedRequested(Event, frozen=True, kw_only=True, tag=MOVIE_SEED_REQUESTED):
    """A TMDB film was recommended and should join the catalog (just-in-time seeding).

    It differs from catalog.seed-movie in what it stands for, not in its fields: the row it adds is
    labelled ``recommendation`` (it skipped discovery's quality filter), and it has a stream of its
    own so a person's picks never wait behind a discovery backlog. Its job id ``jit-seed:<id>:<lang>``
    dedupes JIT seeds of one film; it does not dedupe against catalog.seed-movie (job state lives
    with each stream), and the seeding itself is idempotent, so a film asked for by both gets one row.
    """

    stream: ClassVar[str] = MOVIE_SEED_REQUESTED
    tmdb_id: int
    language: str = "en-US"

    @classmethod
    def for_movie(cls, tmdb_id: int, language: str = "en-US") -> MovieSeedRequested:
        return cls(job_id=f"jit-seed:{tmdb_id}:{language}", tmdb_id=tmdb_id, language=language)


class DiscoverPageRequested(Event, frozen=True, kw_only=True, tag=CATALOG_DISCOVER_PAGE):
    """Fetch one page of a TMDB list and enqueue the good new films on it."""

    stream: ClassVar[str] = CATALOG_DISCOVER_PAGE
    source: str
    page: int
    language: str = "en-US"
    dry_run: bool = False
    #: The discovery run this page belongs to: the per-run cap on new films is counted per run.
    run_id: str = ""

    @classmethod
    def for_page(
        cls, source: str, page: int, language: str = "en-US", *, dry_run: bool = False, run_id: str = ""
    ) -> DiscoverPageRequested:
        return cls(
            job_id=f"tmdb-discover:{source}:{page}:{language}",
            source=source,
            page=page,
            language=language,
            dry_run=dry_run,
            run_id=run_id,
        )


class SeedMovieRequested(Event, frozen=True, kw_only=True, tag=CATALOG_SEED_MOVIE):
    """Insert one TMDB film that discovery chose into the catalog with its metadata and embedding
    (the row is labelled ``discovery``). Job id ``tmdb-seed:<id>:<lang>``."""

    stream: ClassVar[str] = CATALOG_SEED_MOVIE
    tmdb_id: int
    language: str = "en-US"

    @classmethod
    def for_movie(cls, tmdb_id: int, language: str = "en-US") -> SeedMovieRequested:
        return cls(job_id=f"tmdb-seed:{tmdb_id}:{language}", tmdb_id=tmdb_id, language=language)


class BackfillMovieRequested(Event, frozen=True, kw_only=True, tag=CATALOG_BACKFILL_MOVIE):
    """Match one catalog row to TMDB and fill its missing identity and metadata."""

    stream: ClassVar[str] = CATALOG_BACKFILL_MOVIE
    movie_id: int
    dry_run: bool = False

    @classmethod
    def for_movie(cls, movie_id: int, dry_run: bool = False) -> BackfillMovieRequested:
        return cls(job_id=f"backfill:{movie_id}", movie_id=movie_id, dry_run=dry_run)


class CuratedReseedRequested(Event, frozen=True, kw_only=True, tag=CATALOG_RESEED_CURATED):
    """Seed the curated movies file (MOVIES_FILE_PATH) again, as ``make seed`` does, in the catalog-seeder.

    An operator asks for it from the console; its job id is the console's ``op:<audit id>``, so every
    request runs (the seeding itself is idempotent: films already present are only refreshed).
    """

    stream: ClassVar[str] = CATALOG_RESEED_CURATED


class RecommendationCompleted(Event, frozen=True, kw_only=True, tag=RECOMMENDATION_COMPLETED):
    """A recommendation (or one of its more-picks batches) finished, for listeners."""

    stream: ClassVar[str] = RECOMMENDATION_COMPLETED
    recommendation_id: uuid.UUID
    status: str
    batch: int = 0

    @classmethod
    def for_batch(cls, recommendation_id: uuid.UUID, status: str, batch: int = 0) -> RecommendationCompleted:
        return cls(
            job_id=f"recommendation-completed:{recommendation_id}:{batch}",
            recommendation_id=recommendation_id,
            status=status,
            batch=batch,
        )


#: Every stream and the one event type it carries.
STREAM_EVENTS: dict[str, type[Event]] = {
    event.stream: event
    for event in (
        RecommendationRequested,
        MorePicksRequested,
        MovieSeedRequested,
        DiscoverPageRequested,
        SeedMovieRequested,
        BackfillMovieRequested,
        CuratedReseedRequested,
        RecommendationCompleted,
    )
}


def encode_event(event: Event) -> bytes:
    """The wire form of an event (msgspec JSON, tag included)."""
    return msgspec.json.encode(event)
