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
    tmdb_id: int | None = None
    poster_url: str | None = None
    localized_name: str | None = None


async def match_movies(executor: Executor, embedding: np.ndarray, *, threshold: float, count: int) -> list[MovieMatch]:
    """The catalog's nearest films to an embedding (active model only), best first, with what a pick shows."""
    rows = await executor.fetch(
        "SELECT found.id, found.name, found.year, found.age_rating, found.description, found.duration,"
        " found.score_rating, found.similarity, found.content, m.tmdb_id, m.poster_url, m.localized_name"
        " FROM match_movies($1, $2, $3) AS found JOIN movies m ON m.id = found.id"
        " ORDER BY found.similarity DESC, found.id",
        embedding,
        threshold,
        count,
    )
    return [MovieMatch(**dict(row)) for row in rows]
