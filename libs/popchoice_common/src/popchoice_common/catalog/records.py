"""Films as the catalog stores them: a curated film from the movies file, a TMDB film, and the rows the
catalog repository returns (pure: no I/O)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import msgspec

from popchoice_common.catalog.identity import normalize_title
from popchoice_common.catalog.movie_text import movie_embedding_text
from popchoice_common.tmdb import MovieDetails, poster_url, us_certification
from popchoice_common.tmdb.errors import TMDBBadData

TOP_BILLED_CAST = 10


@dataclass(frozen=True, slots=True)
class CuratedMovie:
    """An entry of the curated movies file, ready to insert (line: where it starts in the file)."""

    name: str
    year: int
    age_rating: str
    duration: int
    score_rating: Decimal
    description: str
    line: int
    #: TMDB genre names, in the file's order.
    genres: tuple[str, ...] = ()

    @property
    def normalized_name(self) -> str:
        return normalize_title(self.name)


@dataclass(frozen=True, slots=True)
class Person:
    tmdb_id: int
    name: str
    profile_path: str | None
    order: int = 0
    character: str | None = None


@dataclass(frozen=True, slots=True)
class TMDBMovieRecord:
    tmdb_id: int
    name: str
    year: int | None
    age_rating: str
    description: str
    duration: int | None
    score_rating: Decimal | None
    original_title: str | None
    original_language: str | None
    release_date: dt.date | None
    vote_count: int
    popularity: float
    poster_url: str | None
    genres: tuple[tuple[int, str], ...]
    keywords: tuple[tuple[int, str], ...]
    cast: tuple[Person, ...]
    directors: tuple[Person, ...]
    metadata: bytes

    @property
    def normalized_name(self) -> str:
        return normalize_title(self.name)

    @property
    def embedding_text(self) -> str:
        return movie_embedding_text(
            name=self.name,
            year=self.year,
            age_rating=self.age_rating,
            duration=self.duration,
            score_rating=self.score_rating,
            description=self.description,
            genres=[name for _, name in self.genres],
        )


@dataclass(frozen=True, slots=True)
class EmbeddingInputs:
    """What a stored row's embedding text is built from, with the facts of its current embedding."""

    name: str
    year: int | None
    age_rating: str | None
    duration: int
    score_rating: Decimal | None
    description: str
    #: Genre names, sorted.
    genres: tuple[str, ...]
    embedding_model: str | None
    embedding_text_hash: str | None

    @property
    def embedding_text(self) -> str:
        return movie_embedding_text(
            name=self.name,
            year=self.year,
            age_rating=self.age_rating,
            duration=self.duration,
            score_rating=self.score_rating,
            description=self.description,
            genres=self.genres,
        )


def _date(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


def record_from_details(
    details: MovieDetails, *, image_base_url: str, top_cast: int = TOP_BILLED_CAST
) -> TMDBMovieRecord:
    """The catalog's view of a film; refuses one without a title (nothing to show or embed)."""
    name = details.title.strip()
    if not name:
        raise TMDBBadData(f"/movie/{details.id}", "the film has no title")
    credits = details.credits
    cast = sorted(credits.cast, key=lambda member: member.order)[:top_cast] if credits else []
    directors = [member for member in credits.crew if member.job == "Director"] if credits else []
    keywords = details.keywords.keywords if details.keywords else []
    score = Decimal(str(round(details.vote_average, 1))) if details.vote_count > 0 else None
    return TMDBMovieRecord(
        tmdb_id=details.id,
        name=name,
        year=details.year,
        age_rating=us_certification(details),
        description=details.overview.strip(),
        duration=details.runtime if details.runtime and details.runtime > 0 else None,
        score_rating=score,
        original_title=details.original_title,
        original_language=details.original_language,
        release_date=_date(details.release_date),
        vote_count=details.vote_count,
        popularity=details.popularity,
        poster_url=poster_url(image_base_url, details.poster_path),
        genres=tuple((genre.id, genre.name) for genre in details.genres),
        keywords=tuple((keyword.id, keyword.name) for keyword in keywords),
        cast=tuple(Person(m.id, m.name, m.profile_path, m.order, m.character) for m in cast),
        directors=tuple({m.id: Person(m.id, m.name, m.profile_path) for m in directors}.values()),
        metadata=msgspec.json.encode(details),
    )


@dataclass(frozen=True, slots=True)
class TitleMatch:
    """A catalog film found by title: similarity is the Jaccard of the title trigrams (1: the same title)."""

    id: int
    name: str
    year: int | None
    similarity: float
    genres: tuple[str, ...] = ()
