"""Conservative TMDB matching of a catalog row (pure: no I/O).

A candidate's confidence is the normalised-title similarity (the better of TMDB's title and
original title) plus a year term: +0.25 within a year of ours, −0.5 otherwise, +0.1 when we do not
know our year. A match is applied only at ≥ 0.90 (≥ 0.82 without a year) and only when no
runner-up comes close (≥ 0.82 and within 0.08 of the best), since a wrong match is worse than none.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Literal

from popchoice_common.catalog.identity import normalize_title
from popchoice_common.tmdb import MovieSummary

APPLY_THRESHOLD = 0.90
APPLY_THRESHOLD_WITHOUT_YEAR = 0.82
RUNNER_UP_FLOOR = 0.82
AMBIGUITY_MARGIN = 0.08
RUNTIME_TOLERANCE_MINUTES = 10


@dataclass(frozen=True, slots=True)
class Candidate:
    tmdb_id: int
    title: str
    original_title: str | None
    year: int | None
    similarity: float
    confidence: float

    def as_json(self) -> dict[str, object]:
        return {
            "tmdb_id": self.tmdb_id,
            "title": self.title,
            "original_title": self.original_title,
            "year": self.year,
            "similarity": round(self.similarity, 3),
            "confidence": round(self.confidence, 3),
        }


@dataclass(frozen=True, slots=True)
class MatchDecision:
    kind: Literal["apply", "ambiguous", "no_match"]
    best: Candidate | None
    candidates: list[Candidate]
    reason: str


def title_similarity(ours: str, theirs: str | None) -> float:
    if not theirs:
        return 0.0
    return SequenceMatcher(None, normalize_title(ours), normalize_title(theirs)).ratio()


def score_candidate(name: str, year: int | None, movie: MovieSummary) -> Candidate:
    similarity = max(title_similarity(name, movie.title), title_similarity(name, movie.original_title))
    if year is None:
        year_term = 0.10
    elif movie.year is not None and abs(movie.year - year) <= 1:
        year_term = 0.25
    else:
        year_term = -0.50
    confidence = min(max(similarity + year_term, 0.0), 1.0)
    return Candidate(movie.id, movie.title, movie.original_title, movie.year, similarity, confidence)


def decide(name: str, year: int | None, results: Iterable[MovieSummary]) -> MatchDecision:
    """Scores every distinct candidate and decides: apply the best, record an ambiguity, or leave it."""
    unique = {movie.id: movie for movie in results}
    ranked = sorted(
        (score_candidate(name, year, movie) for movie in unique.values()),
        key=lambda candidate: (-candidate.confidence, candidate.tmdb_id),
    )
    if not ranked:
        return MatchDecision("no_match", None, [], "TMDB found no candidate")
    best = ranked[0]
    threshold = APPLY_THRESHOLD if year is not None else APPLY_THRESHOLD_WITHOUT_YEAR
    if best.confidence < threshold:
        return MatchDecision("no_match", best, ranked, f"best confidence {best.confidence:.3f} < {threshold}")
    if len(ranked) > 1:
        runner_up = ranked[1]
        if runner_up.confidence >= RUNNER_UP_FLOOR and best.confidence - runner_up.confidence <= AMBIGUITY_MARGIN:
            return MatchDecision(
                "ambiguous",
                best,
                ranked,
                f"runner-up {runner_up.tmdb_id} at {runner_up.confidence:.3f} is within {AMBIGUITY_MARGIN} of the best",
            )
    return MatchDecision("apply", best, ranked, f"confidence {best.confidence:.3f}")


def runtime_mismatch(local_minutes: int, tmdb_minutes: int) -> bool:
    """Whether TMDB's runtime disagrees with a known local runtime by more than the tolerance."""
    return local_minutes > 0 and abs(local_minutes - tmdb_minutes) > RUNTIME_TOLERANCE_MINUTES
