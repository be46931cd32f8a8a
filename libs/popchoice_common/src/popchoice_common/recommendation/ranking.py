"""Ranking, filtering and merging of picks (pure functions: no database, Redis or HTTP here)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal

from popchoice_common.identity import movie_key, normalize_title
from popchoice_common.quiz import QuizAnswers

#: Mood labels the quiz offers, and the TMDB genre each stands for.
MOOD_GENRES: dict[str, int] = {
    "action": 28,
    "adventure": 12,
    "animation": 16,
    "comedy": 35,
    "drama": 18,
    "horror": 27,
    "romance": 10749,
    "sci-fi": 878,
    "thriller": 53,
    "documentary": 99,
}
SERIOUS_TONES = ("serious", "dark")
WRONG_MOOD_PENALTY = 0.08


@dataclass(frozen=True, slots=True)
class Candidate:
    """A film that might be picked, from the catalog or from TMDB."""

    name: str
    year: int | None
    similarity: float
    from_tmdb: bool
    description: str
    movie_id: int | None = None
    tmdb_id: int | None = None
    age_rating: str | None = None
    duration: int | None = None
    score_rating: Decimal | None = None
    poster_url: str | None = None
    localized_name: str | None = None
    #: movie_key of the film (computed once: filtering, merging and storing all ask for it).
    key: str = field(init=False, repr=False, compare=False)
    #: The film's key by title and year alone (what the memory of a film without TMDB id holds).
    title_movie_key: str = field(init=False, repr=False, compare=False)
    #: Normalised title and year, for telling the same film from two sources apart.
    title_key: tuple[str, int | None] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", movie_key(title=self.name, year=self.year, tmdb_id=self.tmdb_id))
        object.__setattr__(self, "title_movie_key", movie_key(title=self.name, year=self.year))
        object.__setattr__(self, "title_key", (normalize_title(self.name), self.year))


def _mood_key(label: str) -> str:
    return re.sub(r"[^a-z-]", "", label.strip().lower().replace("science fiction", "sci-fi").replace(" ", "-"))


def discover_params(people: Sequence[QuizAnswers], today: dt.date) -> dict[str, str | int | bool]:
    """TMDB discover/movie filters for the quiz: moods → genres (OR), era → release dates, tone → order."""
    genres = sorted(
        {
            MOOD_GENRES[_mood_key(mood)]
            for person in people
            for mood in person.mood_preference
            if _mood_key(mood) in MOOD_GENRES
        }
    )
    eras = {person.new_vs_classic.strip().lower() for person in people}
    tones = " ".join(person.tone_preference.lower() for person in people)
    params: dict[str, str | int | bool] = {
        "include_adult": False,
        "vote_count.gte": 100,
        "sort_by": "vote_average.desc" if any(tone in tones for tone in SERIOUS_TONES) else "popularity.desc",
    }
    if genres:
        params["with_genres"] = "|".join(str(genre) for genre in genres)
    if any("new" in era for era in eras) and not any("classic" in era for era in eras):
        params["primary_release_date.gte"] = today.replace(year=today.year - 5).isoformat()
    elif any("classic" in era for era in eras) and not any("new" in era for era in eras):
        params["primary_release_date.lte"] = "2000-12-31"
    return params


def quiz_title_keys(people: Sequence[QuizAnswers]) -> set[str]:
    """Normalised titles of the films named in the quiz (never recommended back)."""
    return {normalize_title(person.favorite_movie) for person in people if person.favorite_movie.strip()}


def apply_memory(
    candidates: Iterable[Candidate],
    *,
    excluded_keys: frozenset[str] | set[str],
    wrong_mood_keys: frozenset[str] | set[str],
    excluded_titles: set[str],
) -> list[Candidate]:
    """Drops excluded films (by key, and by title for films named in the quiz); lowers wrong-mood ones."""
    kept = []
    for candidate in candidates:
        if candidate.key in excluded_keys or candidate.title_movie_key in excluded_keys:
            continue
        if candidate.title_key[0] in excluded_titles:
            continue
        if candidate.key in wrong_mood_keys or candidate.title_movie_key in wrong_mood_keys:
            candidate = replace(candidate, similarity=candidate.similarity - WRONG_MOOD_PENALTY)
        kept.append(candidate)
    return kept


def merge_picks(groups: Sequence[Sequence[Candidate]], limit: int) -> list[Candidate]:
    """Distinct films, group by group (each best first), at most limit.

    Groups are in order of trust: strong catalog matches, then TMDB's, then weak catalog matches, so
    a weak catalog film never pushes out the broader search that was run because it was weak. A
    film in several groups is taken from the earliest.
    """
    seen_keys: set[str] = set()
    seen_titles: set[tuple[str, int | None]] = set()
    merged: list[Candidate] = []
    for group in groups:
        for candidate in sorted(group, key=lambda candidate: -candidate.similarity):
            if candidate.key in seen_keys or candidate.title_key in seen_titles:
                continue
            seen_keys.add(candidate.key)
            seen_titles.add(candidate.title_key)
            merged.append(candidate)
    return merged[:limit]


def match_percent(similarity: float | None, ceiling: float) -> int:
    """Similarity shown to a person: similarity / the model's ceiling × 100, capped at 100."""
    if similarity is None or ceiling <= 0:
        return 0
    return max(0, min(100, round(similarity / ceiling * 100)))


def catalog_pitch(candidate: Candidate, max_length: int = 220) -> str:
    """A short pitch built from the catalog text, for when no chat model writes one."""
    text = " ".join(candidate.description.split())
    if not text:
        year = f" ({candidate.year})" if candidate.year else ""
        return f"{candidate.name}{year} fits what you are in the mood for."
    sentences = re.split(r"(?<=[.!?])\s+", text)
    pitch = ""
    for sentence in sentences:
        if len(pitch) + len(sentence) + 1 > max_length and pitch:
            break
        pitch = f"{pitch} {sentence}".strip()
    return pitch if len(pitch) <= max_length else pitch[: max_length - 1].rstrip() + "…"
