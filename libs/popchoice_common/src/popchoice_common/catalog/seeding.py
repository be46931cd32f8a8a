"""Seeding one TMDB film into the catalog: fetch, embed, insert or link, credits. Idempotent by TMDB id."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

import asyncpg

from popchoice_common.catalog import repository as catalog_repository
from popchoice_common.catalog.embeddings import refresh_movie_embedding, text_hash
from popchoice_common.catalog.records import record_from_details
from popchoice_common.catalog.sources import MATCH_SOURCE_OF, MovieSource
from popchoice_common.embedders import Embedder
from popchoice_common.logs import get_logger
from popchoice_common.tmdb import Priority, TMDBClient

log = get_logger(__name__)

SeedAction = Literal["inserted", "linked", "already_present"]


@dataclass(frozen=True, slots=True)
class SeedOutcome:
    tmdb_id: int
    movie_id: int | None
    action: SeedAction


async def seed_tmdb_movie(
    pool: asyncpg.Pool,
    tmdb: TMDBClient,
    embedder: Embedder,
    tmdb_id: int,
    *,
    language: str,
    image_base_url: str,
    source: MovieSource = "discovery",
    priority: Priority = "background",
) -> SeedOutcome:
    """Adds a TMDB film to the catalog with metadata, credits and an embedding.

    A film already present by TMDB id is left alone. A catalog row without a TMDB id that has the
    same normalised title and year (a curated film) is the same film: it gets the TMDB identity
    instead of a duplicate row, and the database moves what people told us about it (memory,
    feedback, history, kept under its title key) to its TMDB key. Everything is written in one
    transaction, so a failure anywhere (bad TMDB data, embedding, database) leaves no half-written
    film. source labels an inserted row (movies.source) and the match of a linked one
    (tmdb_match_source); a linked row keeps its own source.
    """
    async with pool.acquire() as connection:
        existing = await catalog_repository.movie_id_by_tmdb_id(connection, tmdb_id)
    if existing is not None:
        return SeedOutcome(tmdb_id, existing, "already_present")
    details = await tmdb.movie_details(tmdb_id, language=language, priority=priority)
    record = record_from_details(details, image_base_url=image_base_url)
    async with pool.acquire() as connection:
        untracked = await catalog_repository.untracked_movie_ids(connection, record.name, record.year)
    # Embedding happens outside the transaction; a curated row being linked is re-embedded afterwards.
    embedding = await embedder.embed_one(record.embedding_text) if len(untracked) != 1 else None
    async with pool.acquire() as connection, connection.transaction():
        if len(untracked) == 1:
            movie_id: int | None = untracked[0]
            assert movie_id is not None
            await catalog_repository.attach_tmdb_data(
                connection, movie_id, record, source=MATCH_SOURCE_OF[source], confidence=Decimal("1.000")
            )
            action: SeedAction = "linked"
        else:
            assert embedding is not None
            movie_id = await catalog_repository.insert_tmdb_movie(
                connection,
                record,
                embedding=embedding,
                embedding_model=embedder.model_id,
                embedding_text_hash=text_hash(record.embedding_text),
                source=source,
                confidence=Decimal("1.000"),
            )
            if movie_id is None:
                # Another seeder inserted it between our check and our insert.
                winner = await catalog_repository.movie_id_by_tmdb_id(connection, tmdb_id)
                return SeedOutcome(tmdb_id, winner, "already_present")
            action = "inserted"
        await catalog_repository.replace_movie_credits(connection, movie_id, record)
    if action == "linked":
        # The row keeps its own text where it had one; its embedding follows what the row now says.
        await refresh_movie_embedding(pool, embedder, movie_id)
    log.info("tmdb_movie_seeded", tmdb_id=tmdb_id, movie_id=movie_id, action=action, name=record.name)
    return SeedOutcome(tmdb_id, movie_id, action)
