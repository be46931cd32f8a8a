"""The recommendation pipeline: the I/O around the pure constraint and ranking functions.

Read the quiz as constraints → embed it → resolve each favourite film to a catalog row (an anchor)
→ search the catalog with the hard constraints inside the search, near the quiz text and near each
anchor → memory filter → TMDB discover under the same constraints when too few films qualify or
too few are strong → relax moods, then era, only if still too few → score, diversify, spread over
the group → a "why" per pick → descriptions → persist, with each stage written as it lasts. The
recommender runs it for queued jobs; the gateway runs it in-process for the synchronous route and
without Redis. More picks use the same search and ranking.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

import asyncpg
import numpy as np

from popchoice_common.catalog import repository as catalog_repository
from popchoice_common.catalog.genres import GENRE_NAMES
from popchoice_common.catalog.identity import normalize_title
from popchoice_common.catalog.movie_text import movie_embedding_text
from popchoice_common.embedders import Embedder
from popchoice_common.errors import PermanentError
from popchoice_common.events import Event, MovieSeedRequested, RecommendationCompleted
from popchoice_common.llm import FilmForPitch, LLMClient
from popchoice_common.logs import get_logger
from popchoice_common.quiz import QuizPerson
from popchoice_common.recommendation import repository
from popchoice_common.recommendation.calibration import calibration_for
from popchoice_common.recommendation.catalog_index import CatalogIndex
from popchoice_common.recommendation.constraints import (
    FavoriteFilm,
    PersonConstraints,
    QuizConstraints,
    person_constraints,
    quiz_constraints,
)
from popchoice_common.recommendation.progress import StageWriter
from popchoice_common.recommendation.quiz_text import quiz_embedding_text
from popchoice_common.recommendation.ranking import (
    Candidate,
    apply_memory,
    candidate_filters,
    candidate_of,
    catalog_pitch,
    discover_params,
    explain,
    quiz_scores,
    quiz_title_keys,
    select_picks,
)
from popchoice_common.recommendation.records import Favorite, StoredPick, UserMemory
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
#: Favourite titles resolved to catalog rows are kept this long per process (the catalog changes slowly).
_FAVORITE_CACHE_SECONDS = 300.0
_FAVORITE_CACHE_SIZE = 4096
#: Liked films used as anchors, at most; and films found close (weak anchors), at most.
_MAX_LIKED_ANCHORS = 5
_MAX_CLOSE_ANCHORS = 3


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
        self._favorite_cache: dict[tuple[str, str, int | None], tuple[float, Favorite | None]] = {}
        self.catalog_index = CatalogIndex(
            pool,
            max_bytes=settings.catalog_index_max_mb * 1024 * 1024,
            refresh_seconds=settings.catalog_index_refresh_seconds,
        )
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

    async def _favorites(
        self, quiz: QuizConstraints, locale: str, progress: StageWriter | None = None
    ) -> list[Favorite | None]:
        """Each person's favourite film: the catalog row (typo- and accent-tolerant), else TMDB's film
        when TMDB is on (the tmdb-search stage); cached per title for a few minutes."""
        found: list[Favorite | None] = []
        missing: list[int] = []
        for index, person in enumerate(quiz.people):
            cached = self._favorite_cache.get(self._favorite_key(person.favorite))
            if cached is not None and cached[0] > time.monotonic():
                found.append(cached[1])
                continue
            found.append(await self._catalog_favorite(person.favorite))
            if found[-1] is None and self.tmdb is not None:
                missing.append(index)
            else:
                self._remember_favorite(person.favorite, found[-1])
        if missing and progress is not None:
            await progress.enter("tmdb-search")
        for index in missing:
            favorite = quiz.people[index].favorite
            found[index] = await self._tmdb_favorite(favorite, locale)
            self._remember_favorite(favorite, found[index])
        return found

    @staticmethod
    def _favorite_key(favorite: FavoriteFilm) -> tuple[str, str, int | None]:
        return (favorite.text.casefold(), favorite.title.casefold(), favorite.year)

    def _remember_favorite(self, favorite: FavoriteFilm, result: Favorite | None) -> None:
        if len(self._favorite_cache) >= _FAVORITE_CACHE_SIZE:
            self._favorite_cache.clear()
        self._favorite_cache[self._favorite_key(favorite)] = (time.monotonic() + _FAVORITE_CACHE_SECONDS, result)

    async def _catalog_favorite(self, favorite: FavoriteFilm) -> Favorite | None:
        async with self.pool.acquire() as connection:
            # A year given picks between films of one title ("Beauty and the Beast (1991)"); the whole
            # text comes next, in case the number belongs to the title.
            match = None
            if favorite.year is not None:
                match = await catalog_repository.resolve_title(connection, favorite.title, favorite.year)
            if match is None:
                match = await catalog_repository.resolve_title(connection, favorite.text, None)
        if match is None:
            return None
        return Favorite(match.name, frozenset(match.genres), movie_id=match.id, exact=match.similarity >= 1.0)

    async def _tmdb_favorite(self, favorite: FavoriteFilm, locale: str) -> Favorite | None:
        """TMDB's best match for a favourite the catalog lacks (a person waiting: the interactive bound holds)."""
        if self.tmdb is None:
            return None
        try:
            page = await self.tmdb.search(favorite.title, year=favorite.year, language=locale, priority="interactive")
        except TMDB_FAILURES as exc:
            log.warning("favorite_search_unavailable", error=str(exc))
            return None
        if not page.results:
            return None
        movie = page.results[0]
        genres = frozenset(GENRE_NAMES[genre] for genre in movie.genre_ids if genre in GENRE_NAMES)
        return Favorite(movie.title, genres, tmdb_id=movie.id)

    async def _search(
        self,
        query: np.ndarray,
        quiz: QuizConstraints,
        anchors: Mapping[int, str],
        *,
        keep_moods: bool,
        keep_era: bool,
        count: int,
        weak_anchors: frozenset[int] = frozenset(),
    ) -> list[Candidate]:
        """Catalog films meeting the constraints (one search per distinct person's constraints)."""
        excluded_ids = tuple(anchors)
        people: Sequence[PersonConstraints | None] = quiz.people or [None]
        specs = list(
            dict.fromkeys(
                candidate_filters(
                    person, quiz.exclusions, keep_moods=keep_moods, keep_era=keep_era, excluded_ids=excluded_ids
                )
                for person in people
            )
        )
        found: dict[int, Candidate] = {}
        exact_limit = self.settings.exact_search_max_films
        # The in-memory copy of the catalog chooses the films when it can; PostgreSQL reads them, checking
        # every filter again. Else PostgreSQL searches (catalog_index's docstring says when).
        snapshot = self.catalog_index.snapshot()
        async with self.pool.acquire() as connection:
            for spec in specs:
                chosen = (
                    snapshot.nearest(query, list(anchors), spec, count=count, exact_limit=exact_limit)
                    if snapshot is not None
                    else None
                )
                if chosen is None:
                    rows = await repository.match_candidates(
                        connection, query, anchor_ids=list(anchors), count=count, filters=spec, exact_limit=exact_limit
                    )
                elif chosen:
                    rows = await repository.candidates_by_id(
                        connection, query, anchor_ids=list(anchors), ids=chosen, filters=spec
                    )
                else:
                    rows = []
                for row in rows:
                    found.setdefault(row.id, candidate_of(row, anchors, weak_anchors))
        candidates = list(found.values())
        if not keep_moods or not keep_era:
            # A film that meets every constraint is a candidate however far it is; one found after
            # something gave way must at least resemble what was asked.
            candidates = [c for c in candidates if c.similarity > self.settings.local_match_threshold]
        return candidates

    def _enough(self, candidates: Sequence[Candidate], quiz: QuizConstraints, limit: int) -> bool:
        """Whether the candidates can fill the picks: limit films, and in a group each person's share."""
        if len(candidates) < limit:
            return False
        people = len(quiz.people)
        if people <= 1:
            return True
        share = min(2 if people <= 3 else 1, max(1, limit // people))
        fitting = [0] * people
        for candidate in candidates:
            for index in quiz.fitting_people(candidate.year, candidate.genres):
                fitting[index] += 1
        return all(count >= share for count in fitting)

    async def _candidates(
        self,
        query: np.ndarray,
        quiz: QuizConstraints,
        people: Sequence[QuizPerson],
        memory: UserMemory,
        anchors: Mapping[int, str],
        favorites: Sequence[Favorite | None],
        *,
        shown: frozenset[str],
        limit: int,
        page: int,
        locale: str,
        progress: StageWriter | None = None,
    ) -> tuple[list[Candidate], list[Candidate], dict[str, str]]:
        """The films to rank (first the trusted, then the weak ones) and, per film key, which
        constraint gave way for it.

        What gives way when fewer than limit films qualify, in order: the films recommended to the
        person recently, then (after TMDB discover under every constraint) the moods, then the era.
        Stated exclusions never give way. Watched and not-interested films never come back.
        """
        weak_anchors = self._weak_anchors(favorites, memory)
        count = self.settings.local_match_count + len(shown)
        titles = quiz_title_keys(people)
        # A favourite is left out by id when resolved (the anchors); one the catalog does not hold
        # under its typed title ("E.T.", "Terminator 2": unresolved, or resolved only by likeness) is
        # left out by title prefix too.
        prefixes = tuple(
            f"{normalize_title(person.favorite.title)} "
            for person, match in zip(quiz.people, favorites, strict=True)
            if (match is None or not match.exact) and normalize_title(person.favorite.title)
        )
        # A favourite found on TMDB only is never picked from TMDB's results either.
        favorite_keys = frozenset(f"tmdb:{match.tmdb_id}" for match in favorites if match and match.tmdb_id)
        relaxed: dict[str, str] = {}

        def kept(candidates: Sequence[Candidate], *, allow_recent: bool) -> list[Candidate]:
            excluded = memory.excluded_keys | shown | favorite_keys
            if not allow_recent:
                excluded = excluded | memory.recent_keys
            return [
                candidate
                for candidate in apply_memory(
                    candidates, excluded_keys=excluded, wrong_mood_keys=memory.wrong_mood_keys, excluded_titles=titles
                )
                if not (prefixes and candidate.title_key[0].startswith(prefixes))
            ]

        searched = await self._search(
            query, quiz, anchors, keep_moods=True, keep_era=True, count=count, weak_anchors=weak_anchors
        )
        local = kept(searched, allow_recent=False)
        if not self._enough(local, quiz, limit) and memory.recent_keys:
            local = kept(searched, allow_recent=True)
        strong = [candidate for candidate in local if candidate.similarity >= self.threshold]
        weak = [candidate for candidate in local if candidate.similarity < self.threshold]
        tmdb: list[Candidate] = []
        if self.tmdb is not None and (
            len(strong) < self.settings.min_high_quality_local or not self._enough(local, quiz, limit)
        ):
            if progress is not None:
                await progress.enter("tmdb-search")
            tmdb = kept(await self._tmdb(quiz, query, page, locale), allow_recent=True)
        trusted = [*strong, *tmdb] if tmdb else [*strong, *weak]
        rest = weak if tmdb else []
        for label, keep_moods, keep_era in (("moods", False, True), ("era and moods", False, False)):
            if self._enough([*trusted, *rest], quiz, limit):
                break
            seen = {candidate.key for candidate in [*trusted, *rest]}
            wider = [
                candidate
                for candidate in kept(
                    await self._search(
                        query,
                        quiz,
                        anchors,
                        keep_moods=keep_moods,
                        keep_era=keep_era,
                        count=count,
                        weak_anchors=weak_anchors,
                    ),
                    allow_recent=True,
                )
                if candidate.key not in seen
            ]
            for candidate in wider:
                relaxed[candidate.key] = label
            rest = [*rest, *wider]
        return trusted, rest, relaxed

    async def _picks(
        self,
        query: np.ndarray,
        people: Sequence[QuizPerson],
        memory: UserMemory,
        *,
        shown: frozenset[str],
        page: int,
        locale: str,
        progress: StageWriter | None = None,
    ) -> list[Candidate]:
        """One batch of picks: the quiz read as constraints, the favourites found, the candidates
        searched (with what gave way), then ranked. The first batch and more picks share it."""
        quiz = self._constraints(people)
        favorites = await self._favorites(quiz, locale, progress)
        anchors = self._anchors(favorites, memory)
        limit = self.settings.max_total_movies
        trusted, rest, relaxed = await self._candidates(
            query,
            quiz,
            people,
            memory,
            anchors,
            favorites,
            shown=shown,
            limit=limit,
            page=page,
            locale=locale,
            progress=progress,
        )
        return self._rank(trusted, rest, quiz, favorites, relaxed, limit, popularity_lean=memory.popularity_lean)

    def _rank(
        self,
        trusted: Sequence[Candidate],
        rest: Sequence[Candidate],
        quiz: QuizConstraints,
        favorites: Sequence[Favorite | None],
        relaxed: Mapping[str, str],
        limit: int,
        *,
        popularity_lean: float = 0.0,
    ) -> list[Candidate]:
        """Scores, diversifies and spreads the picks over the group (leaning to the person's popularity
        preference); each pick gets its "why"."""
        today_year = dt.date.today().year
        favorite_genres = [match.genres if match is not None else frozenset() for match in favorites]

        def scored(candidates: Sequence[Candidate]) -> list[tuple[Candidate, float]]:
            scores = quiz_scores(
                candidates,
                quiz,
                favorite_genres=favorite_genres,
                ceiling=self.ceiling,
                today_year=today_year,
                popularity_lean=popularity_lean,
            )
            return list(zip(candidates, scores, strict=True))

        picks = select_picks(scored(trusted), quiz, limit)
        if len(picks) < limit:
            chosen = {pick.key for pick in picks}
            picks += select_picks(
                scored([candidate for candidate in rest if candidate.key not in chosen]), quiz, limit - len(picks)
            )
        return [
            replace(pick, why=explain(pick, quiz, relaxed=relaxed.get(pick.key), ceiling=self.ceiling))
            for pick in picks
        ]

    async def _tmdb(self, quiz: QuizConstraints, query: np.ndarray, page: int, locale: str) -> list[Candidate]:
        """TMDB discover results under the quiz's constraints, scored against the quiz embedding like
        catalog films."""
        if self.tmdb is None:
            return []
        try:
            found = await self.tmdb.discover(
                discover_params(quiz, dt.date.today()), page, language=locale, priority="interactive"
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
                genres=frozenset(GENRE_NAMES[genre] for genre in movie.genre_ids if genre in GENRE_NAMES),
                vote_count=movie.vote_count,
            )
            for movie, vector in zip(films, vectors, strict=True)
            if quiz.exclusions.forbidden_genres.isdisjoint(GENRE_NAMES.get(genre, "") for genre in movie.genre_ids)
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
                why=pick.why,
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
            picks = await self._picks(
                query, people, memory, shown=frozenset(), page=1, locale=given.locale, progress=progress
            )
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

    @staticmethod
    def _constraints(people: Sequence[QuizPerson]) -> QuizConstraints:
        return quiz_constraints(
            [
                person_constraints(
                    favorite_movie=person.favorite_movie,
                    new_vs_classic=person.new_vs_classic,
                    mood_preference=person.mood_preference,
                    tone_preference=person.tone_preference,
                    favorite_movie_why=person.favorite_movie_why,
                )
                for person in people
            ]
        )

    @staticmethod
    def _anchors(favorites: Sequence[Favorite | None], memory: UserMemory) -> dict[int, str]:
        """The anchor films by id and name: the favourites in the catalog, then the liked films, then
        the films found close (weak anchors, see _weak_anchors)."""
        anchors = {match.movie_id: match.name for match in favorites if match is not None and match.movie_id}
        for movie_id in memory.liked_movie_ids[:_MAX_LIKED_ANCHORS]:
            anchors.setdefault(movie_id, "a film you liked")
        for movie_id in memory.close_movie_ids[:_MAX_CLOSE_ANCHORS]:
            anchors.setdefault(movie_id, "a film you found close")
        return anchors

    @staticmethod
    def _weak_anchors(favorites: Sequence[Favorite | None], memory: UserMemory) -> frozenset[int]:
        """The anchors that are only films found close: not a favourite and not liked."""
        strong = {match.movie_id for match in favorites if match is not None and match.movie_id}
        strong.update(memory.liked_movie_ids[:_MAX_LIKED_ANCHORS])
        return frozenset(movie_id for movie_id in memory.close_movie_ids[:_MAX_CLOSE_ANCHORS] if movie_id not in strong)

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
        picks = await self._picks(query, people, memory, shown=frozenset(shown), page=batch + 1, locale=row.locale)
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
