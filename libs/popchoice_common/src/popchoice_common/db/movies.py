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
    tmdb_id: int | None = None
    poster_url: str | None = None
    localized_name: str | None = None


async def match_movies(executor: Executor, embedding: np.ndarray, *, threshold: float, count: int) -> list[MovieMatch]:
    """The catalog's nearest films to an embedding (active model only), best first, with what a pick
    shows: match_movie_picks, the request path's form of match_movies (db/init/012)."""
    rows = await executor.fetch("SELECT * FROM match_movie_picks($1, $2, $3)", embedding, threshold, count)
    return [MovieMatch(*row) for row in rows]
