"""The HTTP API's request and response shapes (camelCase on the wire, as the product's web client expects)."""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from popchoice_common.recommendation.records import Stage, Status

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _printable(value: str) -> str:
    """Refuses control characters and unpaired surrogates, which no quiz answer needs and storage rejects."""
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return value


Trimmed = Annotated[str, StringConstraints(strip_whitespace=True), AfterValidator(_printable)]


class QuizPersonIn(BaseModel):
    """One person's quiz answers."""

    model_config = ConfigDict(extra="forbid")

    favoriteMovie: Annotated[Trimmed, StringConstraints(min_length=1, max_length=200)]
    favoriteMovieWhy: Annotated[Trimmed, StringConstraints(max_length=300)] | None = None
    newVsClassic: Annotated[Trimmed, StringConstraints(min_length=1, max_length=100)]
    moodPreference: Annotated[
        list[Annotated[Trimmed, StringConstraints(min_length=1, max_length=100)]], Field(min_length=1, max_length=10)
    ]
    tonePreference: Annotated[Trimmed, StringConstraints(min_length=1, max_length=100)]


QuizIn = QuizPersonIn | Annotated[list[QuizPersonIn], Field(min_length=1, max_length=10)]


class RecommendationCreated(BaseModel):
    id: uuid.UUID
    slug: str


class MovieDetails(BaseModel):
    year: int | None
    age_rating: str | None
    duration: int | None
    score_rating: float | None
    similarity: float | None


class SimilarMovie(BaseModel):
    id: int | None
    name: str
    year: int | None
    similarity: float | None
    match: int
    age_rating: str | None
    duration: int | None
    score_rating: float | None
    posterURL: str | None
    aiDescription: str | None
    localizedName: str | None
    isMainRecommendation: bool
    fromTMDB: bool
    movieKey: str
    why: str | None = Field(
        default=None,
        description="Why it was picked: what it meets of the quiz, the film it is close to, and what gave way"
        " when too few films met every constraint.",
    )


class RecommendationOut(BaseModel):
    id: uuid.UUID
    slug: str
    status: Status
    stage: Stage
    title: str | None
    description: str | None
    posterURL: str | None
    movieDetails: MovieDetails | None
    why: str | None = Field(default=None, description="Why the main pick was picked (as similarMovies[].why).")
    similarMovies: list[SimilarMovie]
    usedBroaderSearch: bool = Field(
        description="True when a pick came from the broader search (TMDB): the catalog alone had too few films"
        " that met the quiz."
    )
    dbMovieCount: int
    morePicksStatus: Status | None
    error: str | None


class MorePicksAccepted(BaseModel):
    id: uuid.UUID
    batch: int
    morePicksStatus: Literal["pending"]


class ErrorOut(BaseModel):
    detail: str


class FieldErrorOut(BaseModel):
    """One invalid or refused value: ``loc`` is its place in the request, e.g. ["body", 1, "moodPreference", 2]."""

    loc: list[str | int]
    msg: str
    type: str = Field(description="The validation error's type, or `refused` for an answer screening refused.")


class InvalidInputOut(BaseModel):
    """Per-field errors (FastAPI's validation shape, also used for refused answers), or one message."""

    detail: list[FieldErrorOut] | str


class HealthOut(BaseModel):
    status: Literal["ok", "degraded"]
    checks: dict[str, str]


class CsrfOut(BaseModel):
    csrfToken: str


class TitleOut(BaseModel):
    """A catalog film found by title."""

    id: int
    name: str
    year: int | None
