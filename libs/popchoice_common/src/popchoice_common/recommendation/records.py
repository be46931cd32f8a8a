"""A recommendation, its picks and the person's memory as the repository returns them (pure: no I/O)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

import msgspec

from popchoice_common.quiz import QuizPerson

_QUIZ = msgspec.json.Decoder(list[QuizPerson])

#: A recommendation's status, and the stage of its work (the CHECK constraints of db/init/006).
Status = Literal["pending", "processing", "completed", "failed"]
Stage = Literal[
    "queued",
    "preparing",
    "embedding",
    "local-search",
    "tmdb-search",
    "ai-ranking",
    "posters",
    "descriptions",
    "complete",
    "failed",
]


class RecommendationRow(msgspec.Struct, frozen=True):
    """A recommendation (without its picks). quiz_data is the stored JSON text, decoded by quiz()."""

    id: uuid.UUID
    user_id: uuid.UUID | None
    slug: str
    status: Status
    stage: Stage
    locale: str
    error: str | None
    used_broader_search: bool
    db_movie_count: int
    more_picks_status: Status | None
    created_at: dt.datetime
    completed_at: dt.datetime | None
    quiz_data: str

    def quiz(self) -> list[QuizPerson]:
        """The people's answers."""
        return _QUIZ.decode(self.quiz_data)


#: The columns of RecommendationRow, in its field order (a row converts positionally).
RECOMMENDATION_COLUMNS = ", ".join(RecommendationRow.__struct_fields__)


class StoredPick(msgspec.Struct, frozen=True):
    """One pick of a recommendation, as stored in recommendation_movies and read back."""

    batch: int
    position: int
    is_main_recommendation: bool
    movie_key: str
    movie_id: int | None
    tmdb_id: int | None
    name: str
    year: int | None
    similarity: float | None
    from_tmdb: bool
    ai_description: str | None
    poster_url: str | None
    localized_name: str | None
    score_rating: Decimal | float | None
    duration: int | None
    age_rating: str | None
    #: Why it was picked: the constraints it meets, the film it is close to, what gave way.
    why: str | None = None


@dataclass(frozen=True, slots=True)
class UserMemory:
    """What a signed-in person told us: films to leave out (watched, not interested), films recommended
    to them recently (left out while enough other films qualify), films that missed the mood, and
    liked films (anchors: films like them rank higher), films they found close (weak anchors) and
    their popularity preference (memory.popularity_lean: below 0 less-voted films, above 0 well-known)."""

    excluded_keys: frozenset[str]
    wrong_mood_keys: frozenset[str]
    recent_keys: frozenset[str] = frozenset()
    liked_movie_ids: tuple[int, ...] = ()
    close_movie_ids: tuple[int, ...] = ()
    popularity_lean: float = 0.0

    @classmethod
    def empty(cls) -> UserMemory:
        return cls(frozenset(), frozenset())


@dataclass(frozen=True, slots=True)
class CandidateFilters:
    """The hard constraints applied inside the vector search (None or empty: no filter)."""

    min_year: int | None = None
    max_year: int | None = None
    wanted_genre_ids: tuple[int, ...] = ()
    forbidden_genre_ids: tuple[int, ...] = ()
    #: Upper-case certifications allowed (None: any, unknown included).
    allowed_age_ratings: tuple[str, ...] | None = None
    max_runtime: int | None = None
    excluded_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class CandidateRow:
    """A catalog film the candidate search found: its similarity to the quiz text, its best similarity
    to an anchor film (and which), and its TMDB genre ids."""

    id: int
    name: str
    year: int | None
    age_rating: str | None
    description: str
    duration: int
    score_rating: Decimal | None
    vote_count: int | None
    similarity: float
    anchor_similarity: float | None
    anchor_id: int | None
    tmdb_id: int | None
    poster_url: str | None
    localized_name: str | None
    genre_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class MovieMatch:
    """A catalog film found by the vector search, with what a pick shows."""

    id: int
    name: str
    year: int | None
    age_rating: str | None
    description: str
    duration: int
    score_rating: Decimal | None
    similarity: float
    tmdb_id: int | None = None
    poster_url: str | None = None
    localized_name: str | None = None


@dataclass(frozen=True, slots=True)
class Favorite:
    """A person's favourite film as found: in the catalog (movie_id: an anchor of the search), or on
    TMDB when the catalog lacks it (tmdb_id: its genres steer the ranking and it is never picked).
    exact: found under the very title typed (not only by likeness)."""

    name: str
    genres: frozenset[str]
    movie_id: int | None = None
    tmdb_id: int | None = None
    exact: bool = False


@dataclass(frozen=True, slots=True)
class MemoryFilm:
    """A film as the memory stores it: its key (canonical: ``tmdb:<id>`` when known) and what is shown."""

    movie_key: str
    name: str
    year: int | None
    tmdb_id: int | None = None
    poster_url: str | None = None


@dataclass(frozen=True, slots=True)
class MemoryEntry:
    """One film of a person's durable memory. source_recommendation_id: the recommendation whose
    feedback wrote it (None: the trainer did)."""

    movie_key: str
    name: str
    year: int | None
    poster_url: str | None
    kind: str
    updated_at: dt.datetime
    source_recommendation_id: uuid.UUID | None
