"""The embedder interface and the batching every implementation shares."""

from __future__ import annotations

import abc
from collections.abc import Iterator, Sequence

import numpy as np
import numpy.typing as npt

from popchoice_common.errors import EmbeddingInputError

Vectors = npt.NDArray[np.float32]


class Embedder(abc.ABC):
    """Turns texts into unit-length float32 vectors, in order, one row per text."""

    #: What movies.embedding_model records; vectors with different ids are never compared.
    model_id: str
    dimensions: int
    #: Most texts one underlying call may take.
    max_batch_size: int

    async def embed(self, texts: Sequence[str]) -> Vectors:
        """Embeds every text, split into batches; refuses empty texts before any call."""
        for index, text in enumerate(texts):
            if not isinstance(text, str) or not text.strip():
                raise EmbeddingInputError(index, "is empty; empty strings are never sent to an embedder")
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        parts = [await self._embed_batch(batch) for batch in self.batches(texts)]
        vectors = np.concatenate(parts, axis=0) if len(parts) > 1 else parts[0]
        if vectors.shape != (len(texts), self.dimensions):
            raise ValueError(f"{self.model_id} returned shape {vectors.shape} for {len(texts)} texts")
        return vectors

    async def embed_one(self, text: str) -> Vectors:
        """Embeds a single text; returns a 1-D vector."""
        return (await self.embed([text]))[0]

    def batches(self, texts: Sequence[str]) -> Iterator[Sequence[str]]:
        """Consecutive slices of at most max_batch_size texts."""
        for start in range(0, len(texts), self.max_batch_size):
            yield texts[start : start + self.max_batch_size]

    @abc.abstractmethod
    async def _embed_batch(self, texts: Sequence[str]) -> Vectors:
        """Embeds one batch (never empty, no empty strings)."""

    async def aclose(self) -> None:  # noqa: B027 - an optional hook: most embedders hold no client
        """Releases clients the embedder holds."""


def normalize_rows(vectors: Vectors) -> Vectors:
    """Scales each row to unit length (a zero row stays zero)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (vectors / norms).astype(np.float32, copy=False)
