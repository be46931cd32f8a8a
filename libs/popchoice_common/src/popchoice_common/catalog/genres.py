"""TMDB's movie genres: the catalog's one genre vocabulary (curated films are labelled in it too)."""

from __future__ import annotations

#: TMDB's movie genres, by name and id (GET /genre/movie/list).
GENRE_IDS: dict[str, int] = {
    "Action": 28,
    "Adventure": 12,
    "Animation": 16,
    "Comedy": 35,
    "Crime": 80,
    "Documentary": 99,
    "Drama": 18,
    "Family": 10751,
    "Fantasy": 14,
    "History": 36,
    "Horror": 27,
    "Music": 10402,
    "Mystery": 9648,
    "Romance": 10749,
    "Science Fiction": 878,
    "TV Movie": 10770,
    "Thriller": 53,
    "War": 10752,
    "Western": 37,
}
GENRE_NAMES: dict[int, str] = {genre_id: name for name, genre_id in GENRE_IDS.items()}
_BY_FOLDED_NAME = {name.casefold(): name for name in GENRE_IDS}


def genre_name(text: str) -> str | None:
    """The vocabulary's spelling of a genre name given in any case ("science fiction"), or None."""
    return _BY_FOLDED_NAME.get(" ".join(text.split()).casefold())
