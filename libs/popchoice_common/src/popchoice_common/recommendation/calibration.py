"""Similarity calibration per embedding model: the quality threshold and the observed ceiling.

Cosine similarities are not comparable across models: text-embedding-3-large rarely exceeds 0.62
for a quiz against a film, while MiniLM reaches higher. Each model therefore has its own threshold
(a strong match is above it) and ceiling (shown to people as a 100% match). ``make calibrate``
measures a model against the curated catalog; the figures below were set from its output.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from popchoice_common.embedders.base import Embedder
from popchoice_common.quiz import QuizPerson
from popchoice_common.recommendation.quiz_text import quiz_embedding_text
from popchoice_common.recommendation.repository import match_movies

# The product's calibration of text-embedding-3-large: threshold 0.40, ceiling 0.62.
REFERENCE_THRESHOLD_RATIO = 0.40 / 0.62


@dataclass(frozen=True, slots=True)
class ModelCalibration:
    similarity_threshold: float
    similarity_ceiling: float


MODEL_CALIBRATIONS: dict[str, ModelCalibration] = {
    "text-embedding-3-large": ModelCalibration(0.40, 0.62),
    # Measured with `make calibrate` on the curated catalog (see docs/benchmarks.md).
    "all-MiniLM-L6-v2": ModelCalibration(0.41, 0.64),
}
# The hash embedder is lexical: similarities are low and only relative order means anything.
DEFAULT_HASH_CALIBRATION = ModelCalibration(0.15, 0.5)


def calibration_for(model_id: str) -> ModelCalibration:
    """The threshold and ceiling of a model id (hash-* share one; unknown models use the reference)."""
    if model_id in MODEL_CALIBRATIONS:
        return MODEL_CALIBRATIONS[model_id]
    if model_id.startswith("hash-"):
        return DEFAULT_HASH_CALIBRATION
    base = model_id.split("@", 1)[0]
    return MODEL_CALIBRATIONS.get(base, MODEL_CALIBRATIONS["text-embedding-3-large"])


def _quiz(favorite: str, era: str, tone: str, mood: str) -> QuizPerson:
    return QuizPerson(favorite_movie=favorite, new_vs_classic=era, tone_preference=tone, mood_preference=[mood])


#: Quizzes whose favourite film is in the curated catalog; the film should rank first.
CALIBRATION_QUIZZES: tuple[tuple[QuizPerson, str], ...] = (
    (_quiz("The Matrix", "new", "exciting", "Action"), "The Matrix"),
    (_quiz("Casablanca", "classic", "romantic", "Drama"), "Casablanca"),
    (_quiz("Spirited Away", "new", "whimsical", "Animation"), "Spirited Away"),
    (_quiz("Jaws", "classic", "scary", "Thriller"), "Jaws"),
    (_quiz("Inception", "new", "mind-bending", "Sci-Fi"), "Inception"),
    (_quiz("The Godfather", "classic", "serious", "Drama"), "The Godfather"),
    (_quiz("Toy Story", "new", "funny", "Animation"), "Toy Story"),
    (_quiz("Parasite", "new", "dark", "Thriller"), "Parasite"),
)


@dataclass(frozen=True, slots=True)
class QueryResult:
    query: str
    expected: str
    top: list[tuple[str, int | None, float]]

    @property
    def expected_rank(self) -> int | None:
        names = [name for name, _, _ in self.top]
        return names.index(self.expected) + 1 if self.expected in names else None


@dataclass(frozen=True, slots=True)
class CalibrationReport:
    model_id: str
    results: list[QueryResult]

    @property
    def observed_ceiling(self) -> float:
        """The best similarity any quiz reached."""
        return max((result.top[0][2] for result in self.results if result.top), default=0.0)

    @property
    def suggested_threshold(self) -> float:
        """The ceiling scaled by the reference model's threshold/ceiling ratio."""
        return round(self.observed_ceiling * REFERENCE_THRESHOLD_RATIO, 2)

    @property
    def hits(self) -> int:
        return sum(1 for result in self.results if result.expected_rank == 1)


async def run_calibration(
    pool: asyncpg.Pool,
    embedder: Embedder,
    quizzes: Sequence[tuple[QuizPerson, str]] = CALIBRATION_QUIZZES,
    top_n: int = 5,
) -> CalibrationReport:
    """Embeds each quiz, searches the catalog and records the top results with their similarity."""
    texts = [quiz_embedding_text([quiz]) for quiz, _ in quizzes]
    vectors = await embedder.embed(texts)
    results = []
    for text, (_, expected), vector in zip(texts, quizzes, vectors, strict=True):
        matches = await match_movies(pool, vector, threshold=-1.0, count=top_n)
        results.append(QueryResult(text, expected, [(match.name, match.year, match.similarity) for match in matches]))
    return CalibrationReport(embedder.model_id, results)
