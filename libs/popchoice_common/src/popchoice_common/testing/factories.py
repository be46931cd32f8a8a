"""Factory functions for test rows: one INSERT each, sensible defaults, every column overridable.

Each takes a connection (``db_conn``, inside the test's rolled-back transaction) or a pool
(``db_pool``, committed, for tests whose code under test opens its own connections) and returns the
new row's id. A movie gets only the columns a test names (plus its title and year): the database
computes ``normalized_name`` and defaults the rest, so a test sees exactly the row it described.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import uuid
from typing import Any, TypeAlias

import asyncpg

from popchoice_common.testing.plugin import TEST_EMBEDDING_MODEL

Executor: TypeAlias = asyncpg.Connection | asyncpg.Pool
_film_numbers = itertools.count(1)


async def _insert(executor: Executor, table: str, values: dict[str, Any], returning: str | None = "id") -> Any:
    names = ", ".join(f'"{name}"' for name in values)
    placeholders = ", ".join(f"${position}" for position in range(1, len(values) + 1))
    sql = f"INSERT INTO {table} ({names}) VALUES ({placeholders})"
    if returning is None:
        await executor.execute(sql, *values.values())
        return None
    return await executor.fetchval(f"{sql} RETURNING {returning}", *values.values())


async def insert_movie(
    executor: Executor,
    name: str | None = None,
    year: int | None = 2000,
    *,
    embedding: Any = None,
    model: str = TEST_EMBEDDING_MODEL,
    **columns: Any,
) -> int:
    """A movie with only the columns given (a title of its own unless named); an embedding (a vector,
    list or numpy array) is stored under ``model`` unless ``embedding_model`` is given too."""
    values: dict[str, Any] = {"name": name or f"Film {next(_film_numbers)}", "year": year, **columns}
    if embedding is not None:
        values["embedding"] = embedding
        values.setdefault("embedding_model", model)
    movie_id: int = await _insert(executor, "movies", values)
    return movie_id


async def link_genres(executor: Executor, movie_id: int, *genres: tuple[int, str]) -> None:
    """Files the movie under these (TMDB id, name) genres, adding any the catalog lacks."""
    for genre_id, name in genres:
        await executor.execute(
            "INSERT INTO catalog_genres (tmdb_id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING", genre_id, name
        )
        await _insert(executor, "movie_genres", {"movie_id": movie_id, "genre_id": genre_id}, returning=None)


async def link_keywords(executor: Executor, movie_id: int, *keywords: tuple[int, str]) -> None:
    """Tags the movie with these (TMDB id, name) keywords, adding any the catalog lacks."""
    for keyword_id, name in keywords:
        await executor.execute(
            "INSERT INTO catalog_keywords (tmdb_id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING", keyword_id, name
        )
        await _insert(executor, "movie_keywords", {"movie_id": movie_id, "keyword_id": keyword_id}, returning=None)


async def link_people(executor: Executor, movie_id: int, *people: tuple[int, str, str]) -> None:
    """Credits these (TMDB id, name, role) people on the movie (role "cast" or "director"), in the order given."""
    for order, (person_id, name, role) in enumerate(people):
        await executor.execute(
            "INSERT INTO catalog_people (tmdb_id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING", person_id, name
        )
        await _insert(
            executor,
            "movie_people",
            {"movie_id": movie_id, "person_id": person_id, "role": role, "order": order},
            returning=None,
        )


async def insert_user(
    executor: Executor, email: str | None = None, *, user_id: uuid.UUID | None = None, **columns: Any
) -> uuid.UUID:
    """A person (an e-mail of their own unless given); ``user_id`` fixes the id."""
    values: dict[str, Any] = {"email": email or f"viewer-{uuid.uuid4().hex[:8]}@example.test", **columns}
    if user_id is not None:
        values["id"] = user_id
    new_id: uuid.UUID = await _insert(executor, "users", values)
    return new_id


async def insert_api_key(
    executor: Executor, api_key: str, *, user_id: uuid.UUID | None = None, name: str = "tests", **columns: Any
) -> int:
    """An API key (stored, as the gateway stores it, as its SHA-256 digest), a person's when user_id is given."""
    digest = hashlib.sha256(api_key.encode()).hexdigest()
    values: dict[str, Any] = {"name": name, "key_digest": digest, "user_id": user_id, **columns}
    key_id: int = await _insert(executor, "api_keys", values)
    return key_id


async def insert_recommendation(
    executor: Executor,
    *,
    user_id: uuid.UUID | None = None,
    quiz_data: Any = (),
    slug: str | None = None,
    **columns: Any,
) -> uuid.UUID:
    """A recommendation (pending, queued unless columns say otherwise) with a slug of its own."""
    values: dict[str, Any] = {
        "slug": slug or uuid.uuid4().hex[:12],
        "quiz_data": json.dumps(list(quiz_data)),
        "user_id": user_id,
        **columns,
    }
    recommendation_id: uuid.UUID = await _insert(executor, "recommendations", values)
    return recommendation_id


async def insert_pick(
    executor: Executor,
    recommendation_id: uuid.UUID,
    movie_key: str,
    *,
    position: int = 0,
    name: str = "A Film",
    **columns: Any,
) -> int:
    """One film shown by a recommendation (a row of recommendation_movies)."""
    values: dict[str, Any] = {
        "recommendation_id": recommendation_id,
        "position": position,
        "movie_key": movie_key,
        "name": name,
        **columns,
    }
    pick_id: int = await _insert(executor, "recommendation_movies", values)
    return pick_id


async def insert_feedback(
    executor: Executor,
    recommendation_id: uuid.UUID,
    movie_key: str,
    kind: str = "useful",
    *,
    user_id: uuid.UUID | None = None,
    **columns: Any,
) -> int:
    """A person's feedback on one film of a recommendation."""
    values: dict[str, Any] = {
        "recommendation_id": recommendation_id,
        "movie_key": movie_key,
        "kind": kind,
        "user_id": user_id,
        **columns,
    }
    feedback_id: int = await _insert(executor, "recommendation_feedback", values)
    return feedback_id


async def insert_interaction(
    executor: Executor,
    user_id: uuid.UUID,
    movie_key: str,
    kind: str = "watched",
    *,
    movie_name: str = "A Film",
    **columns: Any,
) -> int:
    """What a person told us about a film (a row of user_movie_interactions)."""
    values: dict[str, Any] = {
        "user_id": user_id,
        "movie_key": movie_key,
        "movie_name": movie_name,
        "kind": kind,
        **columns,
    }
    interaction_id: int = await _insert(executor, "user_movie_interactions", values)
    return interaction_id
