"""OpenAI (or any OpenAI-compatible server) embeddings through the official client."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import openai

from popchoice_common.embedders.base import Embedder, Vectors, normalize_rows
from popchoice_common.errors import EmbeddingServiceError, PermanentError

# Limits of one embeddings request (OpenAI API reference).
MAX_INPUTS_PER_REQUEST = 2048
MAX_TOKENS_PER_REQUEST = 300_000


def estimated_tokens(text: str) -> int:
    """An upper bound on a text's tokens without a tokenizer: its UTF-8 byte count."""
    return len(text.encode("utf-8"))


class OpenAIEmbedder(Embedder):
    """Batches by input count and by an upper bound on tokens, so no request is refused for size."""

    def __init__(
        self,
        *,
        api_key: str,
        model: str,
        dimensions: int,
        model_id: str,
        requested_dimensions: int | None = None,
        base_url: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 2,
        batch_size: int = MAX_INPUTS_PER_REQUEST,
        max_tokens_per_request: int = MAX_TOKENS_PER_REQUEST,
    ) -> None:
        self.model = model
        self.model_id = model_id
        self.dimensions = dimensions
        self.max_batch_size = min(batch_size, MAX_INPUTS_PER_REQUEST)
        self._requested_dimensions = requested_dimensions
        self._max_tokens = max_tokens_per_request
        self._client = openai.AsyncOpenAI(api_key=api_key, base_url=base_url, timeout=timeout, max_retries=max_retries)

    def batches(self, texts: Sequence[str]) -> Iterator[Sequence[str]]:
        start, tokens = 0, 0
        for index, text in enumerate(texts):
            cost = estimated_tokens(text)
            if index > start and (index - start >= self.max_batch_size or tokens + cost > self._max_tokens):
                yield texts[start:index]
                start, tokens = index, 0
            tokens += cost
        yield texts[start:]

    async def _embed_batch(self, texts: Sequence[str]) -> Vectors:
        try:
            response = await self._client.embeddings.create(
                model=self.model,
                input=list(texts),
                dimensions=self._requested_dimensions if self._requested_dimensions else openai.omit,
            )
        except (openai.APIConnectionError, openai.RateLimitError, openai.InternalServerError) as exc:
            raise EmbeddingServiceError(f"embedding request failed: {type(exc).__name__}") from exc
        except openai.APIStatusError as exc:
            raise PermanentError(f"embedding request refused with HTTP {exc.status_code}") from exc
        rows = sorted(response.data, key=lambda item: item.index)
        vectors = np.asarray([row.embedding for row in rows], dtype=np.float32)
        return normalize_rows(vectors)

    async def aclose(self) -> None:
        await self._client.close()
