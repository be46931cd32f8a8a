"""The gateway's logic: creating recommendations, claiming more picks, shaping responses."""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

import asyncpg
import msgspec
from redis.exceptions import RedisError

from popchoice_common.events import MorePicksRequested, RecommendationRequested
from popchoice_common.logs import get_logger
from popchoice_common.quiz import QuizPerson
from popchoice_common.recommendation import repository
from popchoice_common.recommendation.pipeline import RecommendationInput, RecommendationPipeline
from popchoice_common.recommendation.ranking import match_percent
from popchoice_common.recommendation.records import RecommendationRow, StoredPick
from popchoice_common.streams import Publisher
from popchoice_common.streams.outage import OutageLog
from popchoice_gateway.progress import ProgressListener, ProgressWatch
from popchoice_gateway.schemas import MovieDetails, QuizPersonIn, RecommendationOut, SimilarMovie
from popchoice_gateway.sse import LastEvent

if TYPE_CHECKING:
    from popchoice_gateway.auth import Caller
    from popchoice_gateway.state import GatewayState

log = get_logger(__name__)


class QueueUnavailable(Exception):
    """Redis did not take the job; nothing was left half-written."""


class NotFound(Exception):
    pass


class MorePicksConflict(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def visible_to(row_user: uuid.UUID | None, id_or_slug: str, slug: str, who: Caller | None) -> bool:
    """A person's recommendation is theirs by id; anyone holding its slug may see it (sharing)."""
    return row_user is None or id_or_slug == slug or (who is not None and who.user_id == row_user)


def new_slug() -> str:
    """12 URL-safe characters."""
    return secrets.token_urlsafe(9)


def quiz_of(people: Sequence[QuizPersonIn]) -> list[QuizPerson]:
    """The answers as stored with the recommendation and carried by its job."""
    return [
        QuizPerson(
            favorite_movie=person.favoriteMovie,
            new_vs_classic=person.newVsClassic,
            mood_preference=list(person.moodPreference),
            tone_preference=person.tonePreference,
            favorite_movie_why=person.favoriteMovieWhy,
        )
        for person in people
    ]


def _float(value: Any) -> float | None:
    return float(value) if value is not None else None


def build_response(row: RecommendationRow, movies: Sequence[StoredPick], ceiling: float) -> RecommendationOut:
    """The API object of a recommendation: the main pick on top, every other pick in similarMovies."""
    main = next((movie for movie in movies if movie.is_main_recommendation), None)
    similar = [
        SimilarMovie(
            id=movie.movie_id,
            name=movie.name,
            year=movie.year,
            similarity=movie.similarity,
            match=match_percent(movie.similarity, ceiling),
            age_rating=movie.age_rating,
            duration=movie.duration,
            score_rating=_float(movie.score_rating),
            posterURL=movie.poster_url,
            aiDescription=movie.ai_description,
            localizedName=movie.localized_name,
            isMainRecommendation=movie.is_main_recommendation,
            fromTMDB=movie.from_tmdb,
            movieKey=movie.movie_key,
            why=movie.why,
        )
        for movie in movies
        if movie is not main
    ]
    return RecommendationOut(
        id=row.id,
        slug=row.slug,
        status=row.status,
        stage=row.stage,
        title=main.name if main else None,
        description=main.ai_description if main else None,
        posterURL=main.poster_url if main else None,
        movieDetails=MovieDetails(
            year=main.year,
            age_rating=main.age_rating,
            duration=main.duration,
            score_rating=_float(main.score_rating),
            similarity=main.similarity,
        )
        if main
        else None,
        why=main.why if main else None,
        movieKey=main.movie_key if main else None,
        similarMovies=similar,
        usedBroaderSearch=row.used_broader_search,
        dbMovieCount=row.db_movie_count,
        morePicksStatus=row.more_picks_status,
        error=row.error,
    )


async def load_response_with_owner(
    pool: asyncpg.Pool, id_or_slug: str, ceiling: float
) -> tuple[RecommendationOut, uuid.UUID | None]:
    """The API object of a recommendation and the user it belongs to (None: nobody's)."""
    async with pool.acquire() as connection:
        found = await repository.get_recommendation_with_movies(connection, id_or_slug)
    if found is None:
        raise NotFound(id_or_slug)
    row, movies = found
    return build_response(row, movies, ceiling), row.user_id


async def load_response(pool: asyncpg.Pool, id_or_slug: str, ceiling: float) -> RecommendationOut:
    return (await load_response_with_owner(pool, id_or_slug, ceiling))[0]


class RecommendationService:
    """Creates recommendations and more-picks batches: queued when Redis is there, inline otherwise."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        publisher: Publisher | None,
        pipeline: RecommendationPipeline | None,
        progress: ProgressListener | None = None,
    ) -> None:
        self.pool = pool
        self.publisher = publisher
        self.pipeline = pipeline
        self.progress = progress
        self._inline: set[asyncio.Future[None]] = set()
        self._queue_outage = OutageLog("redis", service="gateway", task="queue")

    def _run_inline(self, work: asyncio.Future[None] | Any) -> None:
        task = asyncio.ensure_future(work)
        self._inline.add(task)
        task.add_done_callback(self._inline.discard)

    async def create(
        self, people: Sequence[QuizPersonIn], *, locale: str, user_id: uuid.UUID | None
    ) -> tuple[uuid.UUID, str]:
        slug = new_slug()
        quiz = quiz_of(people)
        async with self.pool.acquire() as connection:
            recommendation_id = await repository.create_recommendation(
                connection, slug=slug, quiz_data=msgspec.to_builtins(quiz), locale=locale, user_id=user_id
            )
        if self.progress is not None:
            self.progress.watch_new(str(recommendation_id), slug=slug, user_id=user_id)
        if self.publisher is None:
            assert self.pipeline is not None
            self._run_inline(
                self._inline_recommendation(recommendation_id, RecommendationInput.of(quiz, user_id, locale))
            )
            return recommendation_id, slug
        try:
            await self.publisher.publish(
                RecommendationRequested.for_recommendation(recommendation_id, locale, quiz=quiz, user_id=user_id)
            )
        except (RedisError, OSError) as exc:
            if self.progress is not None:
                self.progress.forget_new(str(recommendation_id))
            async with self.pool.acquire() as connection:
                await repository.delete_recommendation(connection, recommendation_id)
            self._queue_outage.failed(exc)  # one warning per outage, not one per refused request
            raise QueueUnavailable() from exc
        if self._queue_outage.down:
            self._queue_outage.succeeded()
        return recommendation_id, slug

    async def _inline_recommendation(self, recommendation_id: uuid.UUID, given: RecommendationInput) -> None:
        assert self.pipeline is not None
        try:
            await self.pipeline.run(recommendation_id, given)
        except Exception:  # an inline run has no retry: record the failure for the person
            log.exception("inline_recommendation_failed", recommendation_id=str(recommendation_id))
            await self.pipeline.fail(recommendation_id)

    async def _inline_more_picks(self, recommendation_id: uuid.UUID, batch: int) -> None:
        assert self.pipeline is not None
        try:
            await self.pipeline.more_picks(recommendation_id, batch)
        except Exception:  # as above
            log.exception("inline_more_picks_failed", recommendation_id=str(recommendation_id))
            await self.pipeline.fail(recommendation_id, more_picks=True)

    async def request_more_picks(self, id_or_slug: str) -> tuple[uuid.UUID, int]:
        """Claims the next batch (of two racing requests exactly one wins) and queues or runs it."""
        async with self.pool.acquire() as connection:
            row = await repository.get_recommendation(connection, id_or_slug)
            if row is None:
                raise NotFound(id_or_slug)
            batch = await repository.claim_more_picks(connection, row.id)
        if batch is None:
            reason = (
                "More picks are already being prepared."
                if row.status == "completed"
                else "The recommendation is not completed yet."
            )
            raise MorePicksConflict(reason)
        recommendation_id = row.id
        if self.publisher is None:
            self._run_inline(self._inline_more_picks(recommendation_id, batch))
            return recommendation_id, batch
        try:
            await self.publisher.publish(MorePicksRequested.for_batch(recommendation_id, batch))
        except (RedisError, OSError) as exc:
            async with self.pool.acquire() as connection:
                await repository.set_more_picks_status(connection, recommendation_id, "failed")
            self._queue_outage.failed(exc)
            raise QueueUnavailable() from exc
        return recommendation_id, batch

    async def run_sync(self, people: Sequence[QuizPersonIn], *, locale: str, user_id: uuid.UUID | None) -> uuid.UUID:
        """The compatibility route: the same pipeline, run within the request."""
        assert self.pipeline is not None
        quiz = quiz_of(people)
        async with self.pool.acquire() as connection:
            recommendation_id = await repository.create_recommendation(
                connection, slug=new_slug(), quiz_data=msgspec.to_builtins(quiz), locale=locale, user_id=user_id
            )
        try:
            await self.pipeline.run(recommendation_id, RecommendationInput.of(quiz, user_id, locale))
        except Exception:
            await self.pipeline.fail(recommendation_id)
            raise
        return recommendation_id

    async def aclose(self) -> None:
        for task in list(self._inline):
            task.cancel()
        await asyncio.gather(*self._inline, return_exceptions=True)


async def recommendation_events_of(
    gateway: GatewayState, recommendation_id: str, watch: ProgressWatch, current: tuple[str, str] | None
) -> AsyncIterator[str]:
    """The Server-Sent Events of one recommendation: a stage event per change, then the result.
    current is its status and stage as known since the watch began (None: read it now)."""
    try:
        if current is None:
            # Read again now that changes are watched: one made since the first read is not missed.
            async with gateway.pool.acquire() as connection:
                row = await repository.get_recommendation(connection, recommendation_id)
            assert row is not None
            current = (row.status, row.stage)
        status, stage = current
        last: tuple[str, str] | None = None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + gateway.settings.sse_timeout_seconds
        while loop.time() < deadline and not watch.abandoned:
            event = ""
            if (status, stage) != last:
                last = (status, stage)
                event = f"event: stage\ndata: {json.dumps({'status': status, 'stage': stage})}\n\n"
            if status in ("completed", "failed"):
                result = await load_response(gateway.pool, recommendation_id, gateway.ceiling)
                # The last stage, the result and the end of the response leave in one write.
                yield LastEvent(f"{event}event: result\ndata: {result.model_dump_json()}\n\n")
                return
            if event:
                yield event
            try:
                async with asyncio.timeout(gateway.settings.sse_poll_interval_seconds):
                    await watch.changed.wait()
            except TimeoutError:
                # Nothing announced (or the listening connection dropped): ask the database.
                async with gateway.pool.acquire() as connection:
                    row = await repository.get_recommendation(connection, recommendation_id)
                assert row is not None
                status, stage = row.status, row.stage
                continue
            watch.changed.clear()
            if watch.status is not None and watch.stage is not None:
                status, stage = watch.status, watch.stage
        if not watch.abandoned:
            yield "event: timeout\ndata: {}\n\n"
    finally:
        gateway.progress.unwatch(recommendation_id, watch)
