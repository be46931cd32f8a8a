"""The movie memory and feedback on picks: the logic behind their routes (the SQL and the feedback →
memory mapping are the library's, popchoice_common.recommendation.repository and .memory, which the
pipeline reads back)."""

from __future__ import annotations

import re
import uuid
from typing import Literal

import asyncpg

from popchoice_common.catalog import repository as catalog_repository
from popchoice_common.logs import get_logger
from popchoice_common.recommendation import repository
from popchoice_common.recommendation.memory import FeedbackKind, InteractionKind, MemoryKind, varied_deck
from popchoice_common.recommendation.records import MemoryEntry, MemoryFilm
from popchoice_gateway.schemas import FeedbackOut, MemoryMovieOut, MemoryPageOut

log = get_logger(__name__)

#: The trainer's deck is chosen among this many of the best-known films the person has not rated.
DECK_POOL = 200
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class UnknownFilm(Exception):
    def __init__(self, movie_key: str) -> None:
        self.movie_key = movie_key
        super().__init__(f"no film with key {movie_key!r} in the catalog or the person's recommendations")


class RecommendationNotFound(Exception):
    def __init__(self, id_or_slug: str) -> None:
        self.id_or_slug = id_or_slug
        super().__init__(f"no recommendation {id_or_slug!r}")


class NotTheOwner(Exception):
    def __init__(self, recommendation_id: uuid.UUID) -> None:
        self.recommendation_id = recommendation_id
        super().__init__(f"recommendation {recommendation_id} belongs to someone else")


class NotAPick(Exception):
    def __init__(self, recommendation_id: uuid.UUID, movie_key: str) -> None:
        self.recommendation_id = recommendation_id
        self.movie_key = movie_key
        super().__init__(f"{movie_key!r} is not a pick of recommendation {recommendation_id}")


class InvalidQuery(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def _entry_out(entry: MemoryEntry) -> MemoryMovieOut:
    return MemoryMovieOut(
        movieKey=entry.movie_key,
        name=entry.name,
        year=entry.year,
        posterURL=entry.poster_url,
        kind=entry.kind,
        updatedAt=entry.updated_at,
        fromRecommendation=entry.source_recommendation_id,
    )


def _page(
    mode: Literal["search", "candidates", "list"], items: list[MemoryMovieOut], page: int, size: int
) -> MemoryPageOut:
    return MemoryPageOut(mode=mode, items=items[:size], page=page, pageSize=size, hasMore=len(items) > size)


async def search(pool: asyncpg.Pool, user_id: uuid.UUID, q: str, *, page: int, size: int) -> MemoryPageOut:
    """Catalog films by title (typo-tolerant), each with what the person's memory holds about it."""
    text = q.strip()
    if not text:
        raise InvalidQuery("q must not be blank: a search needs a title")
    if _CONTROL.search(text):
        raise InvalidQuery("q must not contain control characters")
    async with pool.acquire() as connection:
        matches = await catalog_repository.search_titles(connection, text, limit=size + 1, offset=(page - 1) * size)
        films = await repository.catalog_films(connection, [match.id for match in matches])
        kinds = await repository.memory_kinds(connection, user_id, [film.movie_key for film in films.values()])
    items = [
        MemoryMovieOut(
            movieKey=film.movie_key,
            name=film.name,
            year=film.year,
            posterURL=film.poster_url,
            genres=list(match.genres),
            kind=kinds.get(film.movie_key),
        )
        for match in matches
        if (film := films.get(match.id)) is not None
    ]
    return _page("search", items, page, size)


async def candidates(pool: asyncpg.Pool, user_id: uuid.UUID, *, size: int) -> MemoryPageOut:
    """A deck of well-known catalog films the person has not rated, varied in genre and era."""
    async with pool.acquire() as connection:
        known = await repository.unrated_well_known_films(connection, user_id, limit=DECK_POOL)
    deck = varied_deck(known, size)
    items = [
        MemoryMovieOut(
            movieKey=film.movie_key, name=film.name, year=film.year, posterURL=film.poster_url, genres=list(film.genres)
        )
        for film in deck
    ]
    return MemoryPageOut(mode="candidates", items=items, page=1, pageSize=size, hasMore=len(known) > len(deck))


async def stored(
    pool: asyncpg.Pool, user_id: uuid.UUID, *, kind: InteractionKind | None, page: int, size: int
) -> MemoryPageOut:
    """What the person's memory holds, most recently changed first."""
    async with pool.acquire() as connection:
        entries = await repository.memory_page(connection, user_id, kind=kind, limit=size + 1, offset=(page - 1) * size)
    return _page("list", [_entry_out(entry) for entry in entries], page, size)


async def _film(connection: asyncpg.Connection, user_id: uuid.UUID, movie_key: str) -> MemoryFilm:
    film = await repository.catalog_film_by_key(connection, movie_key)
    if film is None:
        film = await repository.picked_film(connection, user_id, movie_key)
    if film is None:
        raise UnknownFilm(movie_key)
    return film


async def remember(pool: asyncpg.Pool, user_id: uuid.UUID, movie_key: str, kind: MemoryKind) -> MemoryMovieOut:
    """Stores what the person says about a film of the catalog (or of their recommendations)."""
    async with pool.acquire() as connection:
        film = await _film(connection, user_id, movie_key)
        entry = await repository.upsert_interaction(connection, user_id, film, kind)
    log.info("movie_memory_stored", user_id=str(user_id), movie_key=entry.movie_key, kind=kind)
    return _entry_out(entry)


async def forget(pool: asyncpg.Pool, user_id: uuid.UUID, movie_key: str) -> bool:
    async with pool.acquire() as connection:
        forgotten = await repository.delete_interaction(connection, user_id, movie_key)
    if forgotten:
        log.info("movie_memory_forgotten", user_id=str(user_id), movie_key=movie_key)
    return forgotten


async def _owned(connection: asyncpg.Connection, id_or_slug: str, user_id: uuid.UUID) -> uuid.UUID:
    row = await repository.get_recommendation(connection, id_or_slug)
    if row is None:
        raise RecommendationNotFound(id_or_slug)
    if row.user_id != user_id:
        raise NotTheOwner(row.id)
    return row.id


async def give_feedback(
    pool: asyncpg.Pool, user_id: uuid.UUID, id_or_slug: str, movie_key: str, kind: FeedbackKind
) -> FeedbackOut:
    """Stores the owner's feedback on a pick and folds it into their memory, in one transaction."""
    async with pool.acquire() as connection, connection.transaction():
        recommendation_id = await _owned(connection, id_or_slug, user_id)
        film = await repository.pick_of(connection, recommendation_id, movie_key)
        if film is None:
            raise NotAPick(recommendation_id, movie_key)
        written = await repository.record_feedback(connection, recommendation_id, user_id, film, kind)
    log.info(
        "feedback_recorded",
        recommendation_id=str(recommendation_id),
        movie_key=movie_key,
        kind=kind,
        memory=written,
    )
    return FeedbackOut(recommendationId=recommendation_id, movieKey=movie_key, kind=kind, memory=written)


async def take_back_feedback(pool: asyncpg.Pool, user_id: uuid.UUID, id_or_slug: str, movie_key: str) -> None:
    """Undoes the owner's feedback on a pick (and the memory it wrote, if unchanged since)."""
    async with pool.acquire() as connection, connection.transaction():
        recommendation_id = await _owned(connection, id_or_slug, user_id)
        if not await repository.delete_feedback(connection, recommendation_id, user_id, movie_key):
            raise NotAPick(recommendation_id, movie_key)
    log.info("feedback_withdrawn", recommendation_id=str(recommendation_id), movie_key=movie_key)
