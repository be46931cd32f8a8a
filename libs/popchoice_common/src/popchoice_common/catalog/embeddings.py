"""Keeping a catalog row's embedding in step with its text."""

from __future__ import annotations

import hashlib

import asyncpg

from popchoice_common.catalog import repository as catalog_repository
from popchoice_common.embedders import Embedder


def text_hash(text: str) -> str:
    """The SHA-256 of an embedding text, stored beside the embedding."""
    return hashlib.sha256(text.encode()).hexdigest()


async def refresh_movie_embedding(pool: asyncpg.Pool, embedder: Embedder, movie_id: int) -> bool:
    """Re-embeds the row when its embedding text (or the model) changed; returns whether it did."""
    async with pool.acquire() as connection:
        row = await catalog_repository.embedding_inputs(connection, movie_id)
    if row is None:
        return False
    text = row.embedding_text
    digest = text_hash(text)
    if row.embedding_text_hash == digest and row.embedding_model == embedder.model_id:
        return False
    embedding = await embedder.embed_one(text)
    async with pool.acquire() as connection:
        await catalog_repository.set_embedding(connection, movie_id, embedding, embedder.model_id, digest)
    return True
