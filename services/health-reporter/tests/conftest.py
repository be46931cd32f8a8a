"""Factories for catalog rows and a catalog with one planted defect per finding."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import asyncpg
import numpy as np
import pytest

from popchoice_common.testing.factories import insert_movie, link_genres, link_keywords, link_people
from popchoice_common.testing.plugin import TEST_EMBEDDING_DIMENSIONS

NOW = datetime.now(UTC)
# The untracked movie was embedded by an older model: the summary counts embeddings per model.
LEGACY_EMBEDDING_MODEL = "legacy-8"

# Complete movies that no finding lists, and per finding the planted movies it must list (and no others).
CLEAN = ("complete_remake", "recently_refreshed")
EXPECTED: dict[str, set[str]] = {
    "missing_poster_url": {"null_poster", "blank_poster"},
    "missing_localized_name": {"no_localized_name"},
    "missing_tmdb_id": {"untracked", "untracked_duplicate"},
    "missing_runtime": {"no_runtime"},
    "missing_age_rating": {"null_age_rating", "blank_age_rating"},
    "missing_match_timestamp": {"never_matched"},
    "stale_tmdb_metadata": {"never_refreshed", "refreshed_long_ago"},
    "missing_cast": {"no_cast"},
    "missing_director": {"no_director"},
    "missing_genres": {"no_genres", "untracked", "untracked_duplicate"},
    "missing_keywords": {"no_keywords"},
    "duplicate_tmdb_id": set(),
    "duplicate_title_year": {"tracked_duplicate", "untracked_duplicate"},
}


def embedding_for(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random(TEST_EMBEDDING_DIMENSIONS, dtype=np.float32)


async def add_metadata(
    connection: asyncpg.Connection,
    movie_id: int,
    *,
    cast: bool = True,
    director: bool = True,
    genres: bool = True,
    keywords: bool = True,
) -> None:
    """Links the movie to a cast member, a director, a genre and a keyword (each unless told otherwise)."""
    people = [(1, "Sigourney Weaver", "cast")] if cast else []
    people += [(2, "Ridley Scott", "director")] if director else []
    await link_people(connection, movie_id, *people)
    if genres:
        await link_genres(connection, movie_id, (27, "Horror"))
    if keywords:
        await link_keywords(connection, movie_id, (9882, "space"))


async def insert_tmdb_movie(
    connection: asyncpg.Connection,
    name: str,
    *,
    tmdb_id: int,
    year: int = 1979,
    metadata: dict[str, bool] | None = None,
    **columns: Any,
) -> int:
    """Inserts a TMDB-linked movie with every field filled and full metadata; columns override fields."""
    values: dict[str, Any] = {
        "age_rating": "R",
        "description": f"{name}, a film.",
        "duration": 117,
        "tmdb_id": tmdb_id,
        "tmdb_match_source": "tmdb_discovery",
        "tmdb_matched_at": NOW - timedelta(days=3),
        "tmdb_metadata_refreshed_at": NOW - timedelta(days=3),
        "poster_url": f"https://image.tmdb.org/t/p/w500/{tmdb_id}.jpg",
        "localized_name": name,
        "embedding": embedding_for(tmdb_id),
        **columns,
    }
    movie_id = await insert_movie(connection, name, year=year, **values)
    await add_metadata(connection, movie_id, **(metadata or {}))
    return movie_id


async def insert_untracked_movie(connection: asyncpg.Connection, name: str, *, year: int, **columns: Any) -> int:
    """Inserts a curated movie (no TMDB link) whose other fields are filled."""
    values: dict[str, Any] = {
        "age_rating": "PG",
        "duration": 95,
        "poster_url": "https://example.org/poster.jpg",
        "localized_name": name,
        **columns,
    }
    return await insert_movie(connection, name, year=year, **values)


async def plant_catalog(connection: asyncpg.Connection) -> dict[str, int]:
    """Inserts complete movies and one movie per planted defect; returns movie ids by label.

    Every TMDB movie is embedded by the test model; "untracked" by LEGACY_EMBEDDING_MODEL;
    "untracked_duplicate" by none.
    """
    ids = {
        "tracked_duplicate": await insert_tmdb_movie(connection, "The Thing", tmdb_id=1091, year=1982),
        "complete_remake": await insert_tmdb_movie(connection, "The Thing", tmdb_id=60935, year=2011),
        "recently_refreshed": await insert_tmdb_movie(
            connection, "Alien", tmdb_id=348, tmdb_metadata_refreshed_at=NOW - timedelta(days=100)
        ),
        "null_poster": await insert_tmdb_movie(connection, "Aliens", year=1986, tmdb_id=679, poster_url=None),
        "blank_poster": await insert_tmdb_movie(connection, "Alien 3", year=1992, tmdb_id=8077, poster_url="  "),
        "no_localized_name": await insert_tmdb_movie(
            connection, "Solaris", year=1972, tmdb_id=593, localized_name=None
        ),
        "untracked": await insert_untracked_movie(
            connection, "Stalker", year=1979, embedding=embedding_for(1)[:8], embedding_model=LEGACY_EMBEDDING_MODEL
        ),
        "untracked_duplicate": await insert_untracked_movie(connection, "Thing", year=1982),
        "no_runtime": await insert_tmdb_movie(connection, "Heat", year=1995, tmdb_id=949, duration=0),
        "null_age_rating": await insert_tmdb_movie(connection, "Ran", year=1985, tmdb_id=11645, age_rating=None),
        "blank_age_rating": await insert_tmdb_movie(connection, "Ikiru", year=1952, tmdb_id=3782, age_rating=""),
        "never_matched": await insert_tmdb_movie(connection, "Vertigo", year=1958, tmdb_id=426, tmdb_matched_at=None),
        "never_refreshed": await insert_tmdb_movie(
            connection, "Psycho", year=1960, tmdb_id=539, tmdb_metadata_refreshed_at=None
        ),
        "refreshed_long_ago": await insert_tmdb_movie(
            connection, "Rope", year=1948, tmdb_id=1580, tmdb_metadata_refreshed_at=NOW - timedelta(days=400)
        ),
        "no_cast": await insert_tmdb_movie(
            connection, "Koyaanisqatsi", year=1982, tmdb_id=11314, metadata={"cast": False}
        ),
        "no_director": await insert_tmdb_movie(
            connection, "Nanook of the North", year=1922, tmdb_id=669, metadata={"director": False}
        ),
        "no_genres": await insert_tmdb_movie(
            connection, "Playtime", year=1967, tmdb_id=10227, metadata={"genres": False}
        ),
        "no_keywords": await insert_tmdb_movie(
            connection, "Mon Oncle", year=1958, tmdb_id=427, metadata={"keywords": False}
        ),
    }
    return ids


@dataclass(frozen=True)
class PlantedCatalog:
    """The planted movies' ids by label, and what the report must say about them."""

    ids: dict[str, int]
    legacy_embedding_model: ClassVar[str] = LEGACY_EMBEDDING_MODEL

    def expected_ids(self, finding: str) -> set[int]:
        """Ids of the movies this finding must list, and no others."""
        return {self.ids[label] for label in EXPECTED[finding]}

    @property
    def clean_ids(self) -> set[int]:
        return {self.ids[label] for label in CLEAN}

    @property
    def total_movies(self) -> int:
        return len(self.ids)


@pytest.fixture
async def planted_catalog(db_conn: asyncpg.Connection) -> PlantedCatalog:
    """The planted catalog inside db_conn's transaction (rolled back after the test)."""
    return PlantedCatalog(await plant_catalog(db_conn))


@pytest.fixture
async def committed_catalog(db_pool: asyncpg.Pool) -> PlantedCatalog:
    """The planted catalog, committed (other processes see it); db_pool empties it after the test."""
    async with db_pool.acquire() as connection, connection.transaction():
        return PlantedCatalog(await plant_catalog(connection))


@pytest.fixture
def movie_factory():
    """insert_movie, for tests that plant a row of their own."""
    return insert_movie


@pytest.fixture
def tmdb_movie_factory():
    """insert_tmdb_movie, for tests that plant a complete TMDB movie of their own."""
    return insert_tmdb_movie
