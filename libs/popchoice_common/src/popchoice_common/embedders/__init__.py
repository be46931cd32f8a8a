"""Embedders behind one interface: ``openai``, ``local`` (all-MiniLM-L6-v2) and ``hash``."""

from __future__ import annotations

from popchoice_common.embedders.base import Embedder, Vectors, normalize_rows
from popchoice_common.embedders.hashing import HashEmbedder
from popchoice_common.settings import PopChoiceSettings

__all__ = ["Embedder", "HashEmbedder", "Vectors", "create_embedder", "normalize_rows"]


def create_embedder(settings: PopChoiceSettings) -> Embedder:
    """The embedder the settings choose (openai when OPENAI_API_KEY is set, else local, unless EMBEDDING_PROVIDER)."""
    choice = settings.embedding
    if choice.provider == "openai":
        from popchoice_common.embedders.openai_embedder import OpenAIEmbedder

        assert settings.openai_api_key is not None
        return OpenAIEmbedder(
            api_key=settings.openai_api_key.get_secret_value(),
            model=choice.model,
            dimensions=choice.dimensions,
            model_id=choice.model_id,
            requested_dimensions=choice.requested_dimensions,
            base_url=settings.openai_base_url,
            timeout=settings.openai_timeout_seconds,
            batch_size=settings.embedding_batch_size,
        )
    if choice.provider == "local":
        from popchoice_common.embedders.local import LocalEmbedder

        return LocalEmbedder(batch_size=settings.embedding_batch_size)
    return HashEmbedder(choice.dimensions)
