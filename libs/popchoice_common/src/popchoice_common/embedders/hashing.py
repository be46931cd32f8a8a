"""A deterministic lexical embedder for fast tests and benchmarks. Never a silent production default."""

from __future__ import annotations

import re
import unicodedata
import zlib
from collections.abc import Sequence

import numpy as np

from popchoice_common.embedders.base import Embedder, Vectors, normalize_rows

_TOKEN = re.compile(r"[a-z0-9]+")
_APOSTROPHES = str.maketrans("", "", "'’ʼ‘`´")


def _fold(text: str) -> str:
    """Lowercase, accents dropped, apostrophes removed ("Amélie's" → "amelies"): the words compared."""
    if not text.isascii():
        decomposed = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return text.lower().translate(_APOSTROPHES)


# Words too common to say anything about a film.
_STOPWORDS = frozenset(
    "a an and are as at be but by for from has he her his in into is it its of on or she that the their "  # noqa: SIM905 - a word list reads best as one string
    "they this to was with who whom when where while".split()
)


class HashEmbedder(Embedder):
    """Feature hashing of words (stopwords dropped): texts sharing words get similar vectors.

    CRC32 (not Python's salted hash) keeps vectors identical across processes and runs.
    """

    max_batch_size = 4096

    def __init__(self, dimensions: int = 384) -> None:
        self.dimensions = dimensions
        self.model_id = f"hash-{dimensions}"

    def _vector_into(self, text: str, row: np.ndarray) -> None:
        for feature in _TOKEN.findall(_fold(text)):
            if feature in _STOPWORDS:
                continue
            digest = zlib.crc32(feature.encode())
            sign = 1.0 if digest & 0x80000000 else -1.0
            row[digest % self.dimensions] += sign

    async def _embed_batch(self, texts: Sequence[str]) -> Vectors:
        vectors = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        for index, text in enumerate(texts):
            self._vector_into(text, vectors[index])
        return normalize_rows(vectors)
