"""TMDB API v3 response shapes (only the fields the product reads), decoded with msgspec.

Optional fields default, so a response missing them still decodes; a response missing a required
field (a film's id) or with a wrong type fails to decode, which the client reports as bad data.
"""

from __future__ import annotations

import msgspec


class ListDates(msgspec.Struct, frozen=True):
    maximum: str | None = None
    minimum: str | None = None


class MovieSummary(msgspec.Struct, frozen=True):
    """A film in a list, discover or search result."""

    id: int
    title: str = ""
    original_title: str | None = None
    original_language: str | None = None
    overview: str = ""
    release_date: str | None = None
    vote_average: float = 0.0
    vote_count: int = 0
    popularity: float = 0.0
    poster_path: str | None = None
    genre_ids: list[int] = []
    adult: bool = False

    @property
    def year(self) -> int | None:
        return release_year(self.release_date)


class MoviePage(msgspec.Struct, frozen=True):
    page: int
    results: list[MovieSummary]
    total_pages: int = 1
    total_results: int = 0
    dates: ListDates | None = None


class Genre(msgspec.Struct, frozen=True):
    id: int
    name: str


class GenreList(msgspec.Struct, frozen=True):
    genres: list[Genre]


class CastMember(msgspec.Struct, frozen=True):
    id: int
    name: str
    character: str | None = None
    order: int = 0
    profile_path: str | None = None


class CrewMember(msgspec.Struct, frozen=True):
    id: int
    name: str
    job: str | None = None
    department: str | None = None
    profile_path: str | None = None


class Credits(msgspec.Struct, frozen=True):
    cast: list[CastMember] = []
    crew: list[CrewMember] = []


class Keyword(msgspec.Struct, frozen=True):
    id: int
    name: str


class Keywords(msgspec.Struct, frozen=True):
    keywords: list[Keyword] = []


class ReleaseDate(msgspec.Struct, frozen=True):
    certification: str = ""
    type: int = 0
    release_date: str | None = None


class CountryReleaseDates(msgspec.Struct, frozen=True):
    iso_3166_1: str
    release_dates: list[ReleaseDate] = []


class ReleaseDates(msgspec.Struct, frozen=True):
    results: list[CountryReleaseDates] = []


class MovieDetails(msgspec.Struct, frozen=True):
    """movie/{id} with append_to_response=release_dates,credits,keywords."""

    id: int
    title: str = ""
    original_title: str | None = None
    original_language: str | None = None
    overview: str = ""
    release_date: str | None = None
    runtime: int | None = None
    vote_average: float = 0.0
    vote_count: int = 0
    popularity: float = 0.0
    poster_path: str | None = None
    imdb_id: str | None = None
    genres: list[Genre] = []
    credits: Credits | None = None
    keywords: Keywords | None = None
    release_dates: ReleaseDates | None = None

    @property
    def year(self) -> int | None:
        return release_year(self.release_date)


def release_year(release_date: str | None) -> int | None:
    """The year of a TMDB date ("YYYY-MM-DD"), or None when it is empty or malformed."""
    if release_date and len(release_date) >= 4 and release_date[:4].isdigit():
        return int(release_date[:4])
    return None


THEATRICAL_RELEASE = 3


def us_certification(details: MovieDetails) -> str:
    """The US certification: a theatrical (type 3) one first, then any non-empty one, else ``NR``."""
    if details.release_dates is None:
        return "NR"
    for country in details.release_dates.results:
        if country.iso_3166_1 != "US":
            continue
        certified = [entry for entry in country.release_dates if entry.certification.strip()]
        for entry in certified:
            if entry.type == THEATRICAL_RELEASE:
                return entry.certification.strip()
        if certified:
            return certified[0].certification.strip()
    return "NR"
