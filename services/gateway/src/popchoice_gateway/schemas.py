"""The HTTP API's request and response shapes (camelCase on the wire, as the product's web client expects)."""

from __future__ import annotations

import datetime as dt
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
    movieKey: str | None = Field(
        default=None, description="The main pick's movie key (for feedback on it, as similarMovies[].movieKey)."
    )
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


# ---------------------------------------------------------------------------------------------
# Movie memory and feedback on picks

MovieKey = Annotated[
    str,
    StringConstraints(
        min_length=6, max_length=300, pattern=r"^(tmdb:[0-9]{1,9}|title:[^\x00-\x1f\x7f]+:([0-9]{1,4}|na))$"
    ),
    Field(
        description="A film's key as picks carry it (`similarMovies[].movieKey`): `tmdb:<TMDB id>`, else"
        " `title:<normalised title>:<year or na>`."
    ),
]
MemoryKindIn = Literal["watched", "not_seen", "liked", "not_interested"]
InteractionKindOut = Literal["watched", "not_seen", "liked", "not_interested", "wrong_mood"]
FeedbackKindIn = Literal["useful", "already_watched", "not_for_me", "wrong_mood", "too_obvious", "too_obscure", "close"]


class MemoryIn(BaseModel):
    """What the person says about a film: seen it, not seen it, liked it, or not interested."""

    model_config = ConfigDict(extra="forbid")

    movieKey: MovieKey
    kind: MemoryKindIn


class MemoryMovieOut(BaseModel):
    """A film, with what the person's memory holds about it (kind None: nothing yet)."""

    movieKey: str
    name: str
    year: int | None
    posterURL: str | None
    genres: list[str] = Field(default_factory=list)
    kind: InteractionKindOut | None = None
    updatedAt: dt.datetime | None = None
    fromRecommendation: uuid.UUID | None = Field(
        default=None, description="The recommendation whose feedback stored it (None: stored in the trainer)."
    )


class MemoryPageOut(BaseModel):
    mode: Literal["search", "candidates", "list"]
    items: list[MemoryMovieOut]
    page: int
    pageSize: int
    hasMore: bool


class FeedbackIn(BaseModel):
    """Feedback on one pick of a recommendation."""

    model_config = ConfigDict(extra="forbid")

    movieKey: MovieKey
    kind: FeedbackKindIn


class FeedbackOut(BaseModel):
    recommendationId: uuid.UUID
    movieKey: str
    kind: FeedbackKindIn
    memory: InteractionKindOut | None = Field(
        description="What the feedback stored in the movie memory (None: it moves the popularity preference, or"
        " makes the film a weak anchor, instead)."
    )


class TitleOut(BaseModel):
    """A catalog film found by title."""

    id: int
    name: str
    year: int | None
