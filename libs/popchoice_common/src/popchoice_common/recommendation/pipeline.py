"""The recommendation pipeline: the I/O around the pure ranking functions.

Embed the quiz → search the catalog → TMDB fallback when too few strong matches → memory filter
→ merge → descriptions → persist, with each stage written as it starts. The recommender runs it
for queued jobs; the gateway runs it in-process for the synchronous route and without Redis.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

import asyncpg
import numpy as np

from popchoice_common.catalog.movie_text import movie_embedding_text
from popchoice_common.embedders import Embedder
from popchoice_common.errors import PermanentError
from popchoice_common.events import Event, MovieSeedRequested, RecommendationCompleted
from popchoice_common.llm import FilmForPitch, LLMClient
from popchoice_common.logs import get_logger
from popchoice_common.quiz import QuizPerson
from popchoice_common.recommendation import repository
from popchoice_common.recommendation import repository as movies_repository
from popchoice_common.recommendation.calibration import calibration_for
from popchoice_common.recommendation.progress import StageWriter
from popchoice_common.recommendation.quiz_text import quiz_embedding_text
from popchoice_common.recommendation.ranking import (
    Candidate,
    apply_memory,
    catalog_pitch,
    discover_params,
    merge_picks,
    quiz_title_keys,
)
from popchoice_common.recommendation.records import StoredPick, UserMemory
from popchoice_common.settings import PopChoiceSettings
from popchoice_common.streams import Publisher
from popchoice_common.tmdb import MovieSummary, TMDBClient, poster_url
from popchoice_common.tmdb.errors import TMDBRateLimited, TMDBRequestRefused, TMDBUnavailable, TMDBWaitTooLong

log = get_logger(__name__)
#: Takes an announcement to send later (JobContext.announce_on_ack).
Announce = Callable[[Event], None]
#: The fallback gives up on these and the picks come from the catalog alone. TMDBWaitTooLong: the
#: shared budget or a 429 pause would keep the person waiting past TMDB_INTERACTIVE_MAX_WAIT_MS.
TMDB_FAILURES = (TMDBRateLimited, TMDBUnavailable, TMDBRequestRefused, TMDBWaitTooLong)


@dataclass(frozen=True, slots=True)
class RecommendationInput:
    """What a run needs of its recommendation: the answers, who asked and in which locale. The job
    carries it (recommendation.requested); without it the run reads the stored recommendation."""

    people: list[QuizPerson]
    user_id: uuid.UUID | None
    locale: str

    @classmethod
    def of(cls, quiz: Sequence[QuizPerson], user_id: uuid.UUID | None, locale: str) -> RecommendationInput:
        return cls(list(quiz), user_id, locale)


class RecommendationNotFound(PermanentError):
    def __init__(self, recommendation_id: uuid.UUID) -> None:
        self.recommendation_id = recommendation_id
        super().__init__(f"recommendation {recommendation_id} does not exist")


class RecommendationPipeline:
    """One per process; run() and more_picks() are safe to repeat for the same job."""

    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        embedder: Embedder,
        settings: PopChoiceSettings,
        tmdb: TMDBClient | None = None,
        llm: LLMClient | None = None,
        publisher: Publisher | None = None,
    ) -> None:
        self.pool = pool
        self.embedder = embedder
        self.settings = settings
        self.tmdb = tmdb
        self.llm = llm
        self.publisher = publisher
        calibration = calibration_for(embedder.model_id)
        self.threshold = settings.similarity_threshold or calibration.similarity_threshold
        self.ceiling = calibration.similarity_ceiling

    async def _memory(self, user_id: uuid.UUID | None) -> UserMemory:
        if user_id is None:
            return UserMemory.empty()
        async with self.pool.acquire() as connection:
            return await repository.user_memory(
                connection, user_id, recent_days=self.settings.recent_recommendation_days
            )

    async def _local(self, query: np.ndarray, count: int) -> list[Candidate]:
        async with self.pool.acquire() as connection:
            matches = await movies_repository.match_movies(
                connection, query, threshold=self.settings.local_match_threshold, count=count
            )
        return [
            Candidate(
                name=match.name,
                year=match.year,
                similarity=float(match.similarity),
                from_tmdb=False,
                description=match.description,
                movie_id=match.id,
                tmdb_id=match.tmdb_id,
                age_rating=match.age_rating,
                duration=match.duration or None,
                score_rating=match.score_rating,
                poster_url=match.poster_url,
                localized_name=match.localized_name,
            )
            for match in matches
        ]

    async def _tmdb(self, people: Sequence[QuizPerson], query: np.ndarray, page: int, locale: str) -> list[Candidate]:
        """TMDB discover results for the quiz, scored against the quiz embedding like catalog films."""
        if self.tmdb is None:
            return []
        try:
            found = await self.tmdb.discover(
                discover_params(people, dt.date.today()), page, language=locale, priority="interactive"
            )
        except TMDB_FAILURES as exc:
            log.warning("tmdb_fallback_unavailable", error=str(exc))
            return []
        films = [movie for movie in found.results if movie.title.strip() and movie.overview.strip()]
        if not films:
            return []
        vectors = await self.embedder.embed([_summary_text(movie) for movie in films])
        return [
            Candidate(
                name=movie.title,
                year=movie.year,
                similarity=float(vector @ query),
                from_tmdb=True,
                description=movie.overview,
                tmdb_id=movie.id,
                score_rating=Decimal(str(round(movie.vote_average, 1))) if movie.vote_count else None,
                poster_url=poster_url(self.settings.tmdb_image_base_url, movie.poster_path),
                localized_name=movie.title,
            )
            for movie, vector in zip(films, vectors, strict=True)
        ]

    async def _describe(self, quiz_text: str, picks: Sequence[Candidate], locale: str) -> list[str]:
        generated: list[str | None] = [None] * len(picks)
        if self.llm is not None:
            generated = await self.llm.pitches(
                quiz_text, [FilmForPitch(pick.name, pick.year, pick.description) for pick in picks], locale
            )
        return [text or catalog_pitch(pick) for text, pick in zip(generated, picks, strict=True)]

    def _stored(self, picks: Sequence[Candidate], descriptions: Sequence[str], batch: int) -> list[StoredPick]:
        return [
            StoredPick(
                batch=batch,
                position=position,
                is_main_recommendation=batch == 0 and position == 0,
                movie_key=pick.key,
                movie_id=pick.movie_id,
                tmdb_id=pick.tmdb_id,
                name=pick.name,
                year=pick.year,
                similarity=round(pick.similarity, 6),
                from_tmdb=pick.from_tmdb,
                ai_description=description,
                poster_url=pick.poster_url,
                localized_name=pick.localized_name,
                score_rating=pick.score_rating,
                duration=pick.duration,
                age_rating=pick.age_rating,
            )
            for position, (pick, description) in enumerate(zip(picks, descriptions, strict=True))
        ]

    async def _unfinished(self, recommendation_id: uuid.UUID) -> RecommendationInput | None:
        """The stored input of a recommendation still to build (None: already completed or failed)."""
        async with self.pool.acquire() as connection:
            row = await repository.unfinished_recommendation(connection, recommendation_id)
            if row is None:
                if await repository.get_recommendation(connection, str(recommendation_id)) is None:
                    raise RecommendationNotFound(recommendation_id)
                return None
        return RecommendationInput(row.quiz(), row.user_id, row.locale)

    async def run(
        self,
        recommendation_id: uuid.UUID,
        given: RecommendationInput | None = None,
        *,
        announce: Announce | None = None,
    ) -> None:
        """Builds and stores the first batch of picks, then marks the recommendation completed.

        given is the recommendation's input as its job carries it; without it the stored
        recommendation is read first. Either way a recommendation that is already completed or
        failed is left as it is (with given, that shows only when the result is stored).
        announce, when given, takes the recommendation.completed announcement (a worker sends it
        with the job's acknowledgement); else the publisher sends it at once.

        Stages are entered as work that can take time begins (preparing, embedding, local search,
        TMDB search, descriptions) and written once they last STAGE_WRITE_DELAY_MS (progress.StageWriter);
        ranking and posters happen in memory, in no measurable time, and are not stages of their own.
        """
        if given is None:
            given = await self._unfinished(recommendation_id)
            if given is None:
                return  # already completed or failed: a redelivery has nothing to do
        people = given.people
        progress = StageWriter(self.pool, recommendation_id, delay_seconds=self.settings.stage_write_delay_ms / 1000)
        try:
            await progress.enter("preparing")
            memory = await self._memory(given.user_id)
            quiz_text = quiz_embedding_text(people)
            await progress.enter("embedding")
            query = await self.embedder.embed_one(quiz_text)
            await progress.enter("local-search")
            # Ask for as many more as the filters may remove, so the picks are still full afterwards.
            wanted = (
                self.settings.local_match_count + len(people) + len(memory.excluded_keys) + len(memory.wrong_mood_keys)
            )
            local = self._filter(await self._local(query, min(wanted, 100)), people, memory, set())[
                : self.settings.local_match_count
            ]
            strong = [pick for pick in local if pick.similarity >= self.threshold]
            weak = [pick for pick in local if pick.similarity < self.threshold]
            tmdb: list[Candidate] = []
            if len(strong) < self.settings.min_high_quality_local and self.tmdb is not None:
                await progress.enter("tmdb-search")
                tmdb = self._filter(await self._tmdb(people, query, 1, given.locale), people, memory, set())
            picks = merge_picks([strong, tmdb, weak], self.settings.max_total_movies)
            # True only when the broader search gave films that were picked: a fallback that gave up
            # (429, the wait bound, TMDB down) or whose films were all dropped leaves it false.
            used_broader_search = any(pick.from_tmdb for pick in picks)
            await progress.enter("descriptions")
            descriptions = await self._describe(quiz_text, picks, given.locale)
            await progress.close()
            async with self.pool.acquire() as connection:
                stored = await repository.store_batch(
                    connection,
                    recommendation_id,
                    self._stored(picks, descriptions, batch=0),
                    complete=(used_broader_search, sum(1 for pick in picks if not pick.from_tmdb)),
                )
                if not stored and await repository.get_recommendation(connection, str(recommendation_id)) is None:
                    raise RecommendationNotFound(recommendation_id)
        finally:
            await progress.close()
        if not stored:
            return  # completed or failed before this run finished: its result stands
        await self._announce(recommendation_id, picks, batch=0, announce=announce)
        log.info(
            "recommendation_completed",
            recommendation_id=str(recommendation_id),
            picks=len(picks),
            used_broader_search=used_broader_search,
        )

    def _filter(
        self, candidates: Sequence[Candidate], people: Sequence[QuizPerson], memory: UserMemory, shown: set[str]
    ) -> list[Candidate]:
        return apply_memory(
            candidates,
            excluded_keys=memory.excluded_keys | shown,
            wrong_mood_keys=memory.wrong_mood_keys,
            excluded_titles=quiz_title_keys(people),
        )

    async def _announce(
        self, recommendation_id: uuid.UUID, picks: Sequence[Candidate], *, batch: int, announce: Announce | None = None
    ) -> None:
        """recommendation.completed for listeners (capped, no job state); TMDB picks queued for JIT seeding."""
        if self.publisher is None:
            return
        completed = RecommendationCompleted.for_batch(recommendation_id, "completed", batch)
        if announce is not None:
            announce(completed)
        else:
            await self.publisher.announce(completed)
        seeds = [pick.tmdb_id for pick in picks if pick.from_tmdb and pick.tmdb_id is not None]
        if seeds:
            await self.publisher.publish_many(
                [
                    MovieSeedRequested.for_movie(tmdb_id, self.settings.tmdb_language)
                    for tmdb_id in seeds[: self.settings.max_jit_seed_movies]
                ]
            )

    async def more_picks(self, recommendation_id: uuid.UUID, batch: int, *, announce: Announce | None = None) -> None:
        """Stores batch n: six more films, none already shown for this recommendation."""
        async with self.pool.acquire() as connection:
            row = await repository.get_recommendation(connection, str(recommendation_id))
            if row is None:
                raise RecommendationNotFound(recommendation_id)
            shown = await repository.shown_movie_keys(connection, recommendation_id)
            if row.more_picks_status == "completed" and await repository.batch_stored(
                connection, recommendation_id, batch
            ):
                return
            await repository.set_more_picks_status(connection, recommendation_id, "processing")
        people = row.quiz()
        memory = await self._memory(row.user_id)
        quiz_text = quiz_embedding_text(people)
        query = await self.embedder.embed_one(quiz_text)
        wanted = self.settings.max_total_movies
        local = self._filter(await self._local(query, len(shown) + 3 * wanted), people, memory, shown)
        tmdb = self._filter(await self._tmdb(people, query, batch + 1, row.locale), people, memory, shown)
        picks = merge_picks([tmdb, local], wanted)
        descriptions = await self._describe(quiz_text, picks, row.locale)
        async with self.pool.acquire() as connection:
            await repository.store_batch(
                connection, recommendation_id, self._stored(picks, descriptions, batch), complete=None
            )
        await self._announce(recommendation_id, picks, batch=batch, announce=announce)

    async def fail(self, recommendation_id: uuid.UUID, *, more_picks: bool = False) -> None:
        """Marks the recommendation (or its more-picks batch) failed with a message fit for a person."""
        async with self.pool.acquire() as connection:
            if more_picks:
                await repository.set_more_picks_status(connection, recommendation_id, "failed")
            else:
                await repository.fail_recommendation(
                    connection, recommendation_id, "We could not finish these picks. Please try again."
                )


def _summary_text(movie: MovieSummary) -> str:
    return movie_embedding_text(
        name=movie.title,
        year=movie.year,
        age_rating=None,
        duration=None,
        score_rating=Decimal(str(round(movie.vote_average, 1))) if movie.vote_count else None,
        description=movie.overview,
    )
