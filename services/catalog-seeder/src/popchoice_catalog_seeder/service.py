"""The curated seed: parse the movies file, skip what is present, embed and insert the rest in batches."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import numpy as np

from popchoice_catalog_seeder.movies_file import MalformedEntry, parse_movies_file
from popchoice_common.catalog import repository
from popchoice_common.catalog.embeddings import text_hash
from popchoice_common.catalog.movie_text import movie_embedding_text
from popchoice_common.catalog.records import CuratedMovie
from popchoice_common.embedders import Embedder
from popchoice_common.logs import get_logger

log = get_logger(__name__)


@dataclass
class SeedSummary:
    parsed: int = 0
    malformed: int = 0
    already_present: int = 0
    inserted: int = 0
    #: Genre links added to curated rows (the first seed, or rows seeded before the file had genres).
    genres_added: int = 0
    would_insert: int = 0
    dry_run: bool = False
    seconds: float = 0.0
    embed_seconds: float = 0.0
    malformed_entries: list[MalformedEntry] = field(default_factory=list)

    def as_log_fields(self) -> dict[str, object]:
        return {
            "parsed": self.parsed,
            "malformed": self.malformed,
            "already_present": self.already_present,
            "inserted": self.inserted,
            "genres_added": self.genres_added,
            "would_insert": self.would_insert,
            "dry_run": self.dry_run,
            "seconds": round(self.seconds, 3),
            "embed_seconds": round(self.embed_seconds, 3),
        }


def curated_embedding_text(movie: CuratedMovie) -> str:
    return movie_embedding_text(
        name=movie.name,
        year=movie.year,
        age_rating=movie.age_rating,
        duration=movie.duration,
        score_rating=movie.score_rating,
        description=movie.description,
    )


async def seed_movies_file(
    pool: asyncpg.Pool,
    embedder: Embedder,
    path: Path,
    *,
    batch_size: int = 500,
    bulk_threshold: int = 2000,
    dry_run: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> SeedSummary:
    """Seeds the catalog from the file at path and returns what happened.

    Fewer new films than bulk_threshold are embedded and inserted batch by batch. More (when they
    also outnumber the rows already embedded, so a rebuild is cheaper than incremental inserts) are
    all embedded first and then inserted in one transaction that rebuilds the HNSW index once.
    """
    started = time.perf_counter()
    parsed = parse_movies_file(await asyncio.to_thread(path.read_text, encoding="utf-8"))
    total = len(parsed.movies)
    summary = SeedSummary(parsed=total, malformed=len(parsed.malformed), dry_run=dry_run)
    summary.malformed_entries = parsed.malformed
    for entry in parsed.malformed:
        log.warning("malformed_movie_entry", file=str(path), line=entry.line, reason=entry.reason)

    def progress(count: int) -> None:
        if on_progress is not None and count:
            on_progress(count, total)

    async with pool.acquire() as connection:
        present = await repository.find_present_title_years(
            connection, [(movie.normalized_name, movie.year) for movie in parsed.movies]
        )
        already_embedded = await repository.count_embedded_movies(connection, embedder.model_id)
    new = [movie for movie in parsed.movies if (movie.normalized_name, movie.year) not in present]
    summary.already_present = total - len(new)
    progress(summary.already_present)
    if dry_run:
        summary.would_insert = len(new)
        progress(len(new))
        summary.seconds = time.perf_counter() - started
        return summary

    async def embed(batch: list[CuratedMovie]) -> tuple[np.ndarray, list[str]]:
        texts = [curated_embedding_text(movie) for movie in batch]
        embed_started = time.perf_counter()
        vectors = await embedder.embed(texts)
        summary.embed_seconds += time.perf_counter() - embed_started
        return vectors, [text_hash(text) for text in texts]

    batches = [new[start : start + batch_size] for start in range(0, len(new), batch_size)]
    if len(new) >= max(bulk_threshold, already_embedded):
        parts, hashes = [], []
        for batch in batches:
            vectors, batch_hashes = await embed(batch)
            parts.append(vectors)
            hashes += batch_hashes
            progress(len(batch))
        async with pool.acquire() as connection, connection.transaction():
            summary.inserted = await repository.insert_curated_movies(
                connection, new, np.concatenate(parts), embedder.model_id, hashes, rebuild_index=True
            )
    else:
        for batch in batches:
            vectors, batch_hashes = await embed(batch)
            async with pool.acquire() as connection, connection.transaction():
                summary.inserted += await repository.insert_curated_movies(
                    connection, batch, vectors, embedder.model_id, batch_hashes
                )
            progress(len(batch))
    # The rest were inserted by a concurrent seeder between our check and our insert.
    summary.already_present += len(new) - summary.inserted
    async with pool.acquire() as connection, connection.transaction():
        summary.genres_added = await repository.store_curated_genres(connection, parsed.movies)
    summary.seconds = time.perf_counter() - started
    return summary
