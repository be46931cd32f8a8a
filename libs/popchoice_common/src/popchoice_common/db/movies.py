"""Movie SQL that more than one service runs. Functions take a connection (or pool) and never commit."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TypeAlias

import asyncpg
import numpy as np

Executor: TypeAlias = asyncpg.Connection | asyncpg.Pool


@dataclass(frozen=True, slots=True)
class MovieMatch:
    id: int
    name: str
    year: int | None
    age_rating: str | None
    description: str
    duration: int
    score_rating: Decimal | None
    similarity: float
    content: str


async def match_movies(executor: Executor, embedding: np.ndarray, *, threshold: float, count: int) -> list[MovieMatch]:
    """The catalog's nearest films to an embedding (active model only), best first."""
    rows = await executor.fetch(
        "SELECT id, name, year, age_rating, description, duration, score_rating, similarity, content"
        " FROM match_movies($1, $2, $3)",
        embedding,
        threshold,
        count,
    )
    return [MovieMatch(**dict(row)) for row in rows]


async def movie_cards(executor: Executor, movie_ids: list[int]) -> dict[int, asyncpg.Record]:
    """What a pick shows of catalog films: TMDB id, poster and localized name, by movie id."""
    rows = await executor.fetch(
        "SELECT id, tmdb_id, poster_url, localized_name FROM movies WHERE id = ANY($1::bigint[])", movie_ids
    )
    return {row["id"]: row for row in rows}
