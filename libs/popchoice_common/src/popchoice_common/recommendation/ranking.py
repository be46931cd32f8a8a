"""Ranking, filtering and merging of picks (pure functions: no database, Redis or HTTP here)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from functools import lru_cache

import numpy as np

from popchoice_common.catalog.genres import GENRE_IDS, GENRE_NAMES
from popchoice_common.catalog.identity import movie_key, normalize_title
from popchoice_common.quiz import QuizPerson
from popchoice_common.recommendation.constraints import (
    AGE_RATING_RANK,
    Exclusions,
    PersonConstraints,
    QuizConstraints,
    favorite_film,
    film_lightness,
)
from popchoice_common.recommendation.memory import popularity
from popchoice_common.recommendation.records import CandidateFilters, CandidateRow
from popchoice_common.recommendation.weights import DEFAULT_WEIGHTS, RankingWeights

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
    #: TMDB genre names (empty when unknown).
    genres: frozenset[str] = frozenset()
    #: The best cosine between the film and an anchor film (the favourite, liked films); None: no anchor.
    anchor_similarity: float | None = None
    #: The anchor film it is closest to, for the pick's "why".
    anchor_name: str | None = None
    #: That anchor is a weak one (a film the person found close): it counts for less (weights.close_anchor).
    anchor_weak: bool = False
    vote_count: int | None = None
    #: Why it was picked (which constraints it meets, which film it is close to); set by explain().
    why: str | None = None
    #: movie_key of the film (computed once: filtering, merging and storing all ask for it).
    key: str = field(init=False, repr=False, compare=False)
    #: The film's key by title and year alone (what the memory of a film without TMDB id holds).
    title_movie_key: str = field(init=False, repr=False, compare=False)
    #: Normalised title and year, for telling the same film from two sources apart.
    title_key: tuple[str, int | None] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        title_movie_key = movie_key(title=self.name, year=self.year)
        key = (
            title_movie_key
            if self.tmdb_id is None
            else movie_key(title=self.name, year=self.year, tmdb_id=self.tmdb_id)
        )
        object.__setattr__(self, "key", key)
        object.__setattr__(self, "title_movie_key", title_movie_key)
        object.__setattr__(self, "title_key", (normalize_title(self.name), self.year))


def discover_params(quiz: QuizConstraints, today: dt.date) -> dict[str, str | int | bool]:
    """TMDB discover/movie filters under the quiz's constraints: the moods' genres (any of them), no
    forbidden genre, the era when everyone shares one, the age cap (US certification) and the
    runtime cap; a dark or serious tone orders by rating, others by popularity."""
    params: dict[str, str | int | bool] = {"include_adult": False, "vote_count.gte": 100}
    lightness = [person.lightness for person in quiz.people if person.lightness is not None]
    params["sort_by"] = "vote_average.desc" if lightness and min(lightness) < 0 else "popularity.desc"
    wanted = sorted({GENRE_IDS[genre] for person in quiz.people for genre in person.genres})
    if wanted and all(person.genres for person in quiz.people):
        params["with_genres"] = "|".join(str(genre) for genre in wanted)
    forbidden = sorted(GENRE_IDS[genre] for genre in quiz.exclusions.forbidden_genres)
    if forbidden:
        params["without_genres"] = ",".join(str(genre) for genre in forbidden)
    eras = {person.years for person in quiz.people}
    if len(eras) == 1 and (years := next(iter(eras))) is not None:
        if years.start is not None:
            params["primary_release_date.gte"] = f"{years.start}-01-01"
        if years.end is not None:
            params["primary_release_date.lte"] = f"{min(years.end, today.year)}-12-31"
    if quiz.exclusions.max_age_rating is not None:
        params["certification_country"] = "US"
        params["certification.lte"] = quiz.exclusions.max_age_rating
    if quiz.exclusions.max_runtime is not None:
        params["with_runtime.lte"] = quiz.exclusions.max_runtime
    return params


def candidate_filters(
    person: PersonConstraints | None,
    exclusions: Exclusions,
    *,
    keep_moods: bool,
    keep_era: bool,
    excluded_ids: Sequence[int],
) -> CandidateFilters:
    """The search filters for one person: the group's exclusions always, the person's moods and era
    unless they have given way."""
    years = person.years if person is not None and keep_era else None
    wanted = person.genres if person is not None and keep_moods else frozenset()
    allowed = (
        tuple(rating for rating, rank in AGE_RATING_RANK.items() if rank <= AGE_RATING_RANK[exclusions.max_age_rating])
        if exclusions.max_age_rating is not None
        else None
    )
    return CandidateFilters(
        min_year=years.start if years is not None else None,
        max_year=years.end if years is not None else None,
        wanted_genre_ids=tuple(sorted(GENRE_IDS[genre] for genre in wanted)),
        forbidden_genre_ids=tuple(sorted(GENRE_IDS[genre] for genre in exclusions.forbidden_genres)),
        allowed_age_ratings=allowed,
        max_runtime=exclusions.max_runtime,
        excluded_ids=tuple(excluded_ids),
    )


@lru_cache(maxsize=4096)
def genre_names(genre_ids: tuple[int, ...]) -> frozenset[str]:
    """TMDB genre names of genre ids (unknown ids left out); cached, as a catalog has few combinations."""
    return frozenset(GENRE_NAMES[genre] for genre in genre_ids if genre in GENRE_NAMES)


def candidate_of(
    row: CandidateRow, anchor_names: Mapping[int, str], weak_anchor_ids: frozenset[int] = frozenset()
) -> Candidate:
    """A catalog film the search found, as a candidate pick (weak_anchor_ids: anchors that count for less)."""
    return Candidate(
        name=row.name,
        year=row.year,
        similarity=float(row.similarity),
        from_tmdb=False,
        description=row.description,
        movie_id=row.id,
        tmdb_id=row.tmdb_id,
        age_rating=row.age_rating,
        duration=row.duration or None,
        score_rating=row.score_rating,
        poster_url=row.poster_url,
        localized_name=row.localized_name,
        genres=genre_names(row.genre_ids),
        anchor_similarity=float(row.anchor_similarity) if row.anchor_similarity is not None else None,
        anchor_name=anchor_names.get(row.anchor_id) if row.anchor_id is not None else None,
        anchor_weak=row.anchor_id in weak_anchor_ids,
        vote_count=row.vote_count,
    )


def quiz_title_keys(people: Sequence[QuizPerson]) -> set[str]:
    """Normalised titles of the films named in the quiz, as typed and without a year typed after them
    ("Heat (1995)"): never recommended back."""
    keys = set()
    for person in people:
        if person.favorite_movie.strip():
            keys.add(normalize_title(person.favorite_movie))
            keys.add(normalize_title(favorite_film(person.favorite_movie).title))
    return keys


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
    """A short pitch built from the catalog text and the pick's "why", for when no chat model writes one."""
    why = f" {candidate.why}" if candidate.why else ""
    room = max(60, max_length - len(why))
    text = " ".join(candidate.description.split())
    if not text:
        year = f" ({candidate.year})" if candidate.year else ""
        return f"{candidate.name}{year} fits what you are in the mood for.{why}"[: max_length + len(why)]
    sentences = re.split(r"(?<=[.!?])\s+", text)
    pitch = ""
    for sentence in sentences:
        if len(pitch) + len(sentence) + 1 > room and pitch:
            break
        pitch = f"{pitch} {sentence}".strip()
    if len(pitch) > room:
        pitch = pitch[: room - 1].rstrip() + "…"
    return pitch + why


# ---------------------------------------------------------------------------------------------
# Scoring, diversity and the group's share of the picks

#: Votes below which a film's rating is pulled towards RATING_PRIOR (a Bayesian average).
RATING_PRIOR, RATING_PRIOR_VOTES = 6.5, 50
_SEQUEL_TAIL = re.compile(r"(?:\s+(?:part|chapter|episode|vol|volume))?\s+(?:\d+|[ivx]+)$")


@lru_cache(maxsize=16_384)
def franchise_key(title: str) -> str:
    """The title without its subtitle and sequel number: "Toy Story 3" and "Toy Story" share "toy story".
    Cached: the same catalog films are candidates for request after request."""
    head = re.split(r"\s*(?::| - |–|—)\s*", title.strip(), maxsplit=1)[0] or title
    base = normalize_title(head)
    return _SEQUEL_TAIL.sub("", base).strip() or base


def _unit(value: float) -> float:
    return max(0.0, min(1.0, value))


def rating_term(score_rating: Decimal | float | None, vote_count: int | None) -> float:
    """The film's rating out of 10 on [0, 1], shrunk towards the prior when few people voted."""
    if score_rating is None:
        return RATING_PRIOR / 10
    score = float(score_rating)
    if vote_count is not None:
        score = (score * vote_count + RATING_PRIOR * RATING_PRIOR_VOTES) / (vote_count + RATING_PRIOR_VOTES)
    return _unit(score / 10)


@lru_cache(maxsize=16_384)
def genre_overlap(
    genres: frozenset[str], wanted: frozenset[str], favorite: frozenset[str], favorite_share: float
) -> float:
    """The share of the wanted genres the film has, blended with its genre Jaccard to the favourite.
    Cached: a catalog has few genre combinations, and every request scores dozens of films with them."""
    terms: list[tuple[float, float]] = []
    if wanted:
        terms.append((1 - favorite_share, len(genres & wanted) / len(wanted)))
    if favorite:
        terms.append((favorite_share, len(genres & favorite) / len(genres | favorite)))
    if not terms:
        return 0.5
    total = sum(weight for weight, _ in terms)
    return sum(weight * value for weight, value in terms) / total


def film_score(
    candidate: Candidate,
    person: PersonConstraints | None,
    *,
    favorite_genres: frozenset[str],
    ceiling: float,
    today_year: int,
    popularity_lean: float = 0.0,
    weights: RankingWeights = DEFAULT_WEIGHTS,
) -> float:
    """One score for a film and one person (see :mod:`.weights` for the terms): in [0, 1], give or
    take the popularity preference's term (popularity_lean, memory.popularity_lean)."""
    return film_scores(
        [candidate],
        person,
        favorite_genres=favorite_genres,
        ceiling=ceiling,
        today_year=today_year,
        popularity_lean=popularity_lean,
        weights=weights,
    )[0]


def film_scores(
    candidates: Sequence[Candidate],
    person: PersonConstraints | None,
    *,
    favorite_genres: frozenset[str],
    ceiling: float,
    today_year: int,
    popularity_lean: float = 0.0,
    weights: RankingWeights = DEFAULT_WEIGHTS,
) -> list[float]:
    """film_score of each candidate for one person, in one pass: what depends on the person alone is
    worked out once (a run scores dozens of candidates), each film's terms as film_score states them."""
    wanted = person.genres if person is not None else frozenset()
    person_lightness = person.lightness if person is not None else None
    years = person.years if person is not None else None
    recent_from = years.start if years is not None and years.prefer_recent else None
    recent_span = max(1, today_year - recent_from) if recent_from is not None else 1
    share, close = weights.favorite_genre_share, weights.close_anchor
    lean = weights.popularity * popularity_lean
    scores = []
    for candidate in candidates:
        quiz = max(0.0, min(1.0, candidate.similarity / ceiling)) if ceiling > 0 else 0.0
        anchor = quiz
        if candidate.anchor_similarity is not None:
            anchor = max(0.0, min(1.0, candidate.anchor_similarity / ceiling)) if ceiling > 0 else 0.0
            if candidate.anchor_weak:
                anchor = close * anchor + (1 - close) * quiz
        genre = genre_overlap(candidate.genres, wanted, favorite_genres, share)
        tone = (
            1.0
            if person_lightness is None
            else 1.0 - abs(person_lightness - film_lightness(candidate.genres, candidate.description)) / 2.0
        )
        recency = 0.0
        if recent_from is not None and candidate.year is not None:
            recency = max(0.0, min(1.0, (candidate.year - recent_from) / recent_span))
        scores.append(
            weights.quiz_similarity * quiz
            + weights.anchor_similarity * anchor
            + weights.genre_overlap * genre
            + weights.tone_fit * tone
            + weights.rating * rating_term(candidate.score_rating, candidate.vote_count)
            + weights.recency * recency
            + lean * (2 * popularity(candidate.vote_count) - 1)
        )
    return scores


def quiz_score(
    candidate: Candidate,
    quiz: QuizConstraints,
    *,
    favorite_genres: Sequence[frozenset[str]],
    ceiling: float,
    today_year: int,
    popularity_lean: float = 0.0,
    weights: RankingWeights = DEFAULT_WEIGHTS,
) -> float:
    """A film's score for the group: its best score for any one person."""
    return quiz_scores(
        [candidate],
        quiz,
        favorite_genres=favorite_genres,
        ceiling=ceiling,
        today_year=today_year,
        popularity_lean=popularity_lean,
        weights=weights,
    )[0]


def quiz_scores(
    candidates: Sequence[Candidate],
    quiz: QuizConstraints,
    *,
    favorite_genres: Sequence[frozenset[str]],
    ceiling: float,
    today_year: int,
    popularity_lean: float = 0.0,
    weights: RankingWeights = DEFAULT_WEIGHTS,
) -> list[float]:
    """quiz_score of each candidate (person by person, then each film's best)."""
    people: Sequence[PersonConstraints | None] = quiz.people or [None]
    if not quiz.people:
        favorite_genres = []
    per_person = [
        film_scores(
            candidates,
            person,
            favorite_genres=favorite_genres[index] if index < len(favorite_genres) else frozenset(),
            ceiling=ceiling,
            today_year=today_year,
            popularity_lean=popularity_lean,
            weights=weights,
        )
        for index, person in enumerate(people)
    ]
    if len(per_person) == 1:
        return per_person[0]
    return [max(scores) for scores in zip(*per_person, strict=True)]


def _codes(values: Iterable[object]) -> np.ndarray:
    """Each value as a small integer, equal values equal."""
    codes: dict[object, int] = {}
    return np.array([codes.setdefault(value, len(codes)) for value in values], dtype=np.int64)


#: A bit per genre name, in the order names are first seen (TMDB has 19).
_GENRE_BITS: dict[str, int] = {}


@lru_cache(maxsize=4096)
def _genre_mask(genres: frozenset[str]) -> int | None:
    """The genres as bits of one 64-bit mask; None once more than 64 names have been seen."""
    mask = 0
    for genre in genres:
        bit = _GENRE_BITS.setdefault(genre, len(_GENRE_BITS))
        if bit >= 64:
            return None
        mask |= 1 << bit
    return mask


def _likeness(franchise: np.ndarray, genres: Sequence[frozenset[str]]) -> np.ndarray:
    """How alike each two candidates are for the diversity step: 1 within a franchise, else half their
    genre Jaccard (0 when neither has a genre)."""
    masks = [_genre_mask(names) for names in genres]
    if all(mask is not None for mask in masks):
        array = np.array(masks, dtype=np.uint64)
        inter = np.bitwise_count(array[:, None] & array[None, :]).astype(np.float64)
        union = np.bitwise_count(array[:, None] | array[None, :]).astype(np.float64)
    else:  # more genre names than bits: the same counts from the sets
        inter = np.array([[len(first & second) for second in genres] for first in genres], dtype=np.float64)
        union = np.array([[len(first | second) for second in genres] for first in genres], dtype=np.float64)
    jaccard = np.divide(0.5 * inter, union, out=np.zeros_like(inter), where=union > 0)
    return np.where(franchise[:, None] == franchise[None, :], 1.0, jaccard)


def select_picks(
    scored: Sequence[tuple[Candidate, float]],
    quiz: QuizConstraints,
    limit: int,
    *,
    weights: RankingWeights = DEFAULT_WEIGHTS,
) -> list[Candidate]:
    """Up to limit distinct films by maximal marginal relevance, each person getting their share first.

    In a group of up to three, each person gets at least two picks that fit their era and moods (one
    each in a larger group), as far as the candidates allow; the rest go to the best remaining
    films. Films of one franchise count as alike (likeness 1; else half their genre Jaccard), so six
    picks are not one series. The picks come back best score first.
    """
    pool = list(scored)
    candidates = [candidate for candidate, _ in pool]
    count = len(candidates)
    if not count:
        return []
    # Per candidate, as arrays: its weighted relevance, its franchise, the copies of its film (the same
    # key, or the same title and year from another source) and its likeness to the closest pick so far.
    franchise = _codes(franchise_key(candidate.name) for candidate in candidates)
    film_key = _codes(candidate.key for candidate in candidates)
    film_title = _codes(candidate.title_key for candidate in candidates)
    relevance = weights.diversity * np.fromiter((score for _, score in pool), dtype=np.float64, count=count)
    novelty = 1 - weights.diversity
    likeness = _likeness(franchise, [candidate.genres for candidate in candidates])
    closest = np.zeros(count)
    is_open = np.ones(count, dtype=bool)
    per_franchise = np.zeros(int(franchise.max()) + 1, dtype=np.int64)
    chosen: list[int] = []

    def take(allowed: np.ndarray | None = None) -> bool:
        options = is_open if allowed is None else is_open & allowed
        if not options.any():
            return False
        # A franchise that has its share of the picks gives way while other films remain.
        varied = options & (per_franchise[franchise] < weights.per_franchise)
        mmr = np.where(varied if varied.any() else options, relevance - novelty * closest, -np.inf)
        best = int(np.argmax(mmr))  # the first of equal scores, in candidate order
        per_franchise[franchise[best]] += 1
        chosen.append(best)
        is_open[(film_key == film_key[best]) | (film_title == film_title[best])] = False
        np.maximum(closest, likeness[best], out=closest)
        return True

    people = len(quiz.people)
    if people > 1:
        fits = [frozenset(quiz.fitting_people(candidate.year, candidate.genres)) for candidate in candidates]
        fitting = np.array([[person in fit for fit in fits] for person in range(people)], dtype=bool)
        quota = min(2 if people <= 3 else 1, max(1, limit // people))
        for _ in range(quota):
            for person in range(people):
                if len(chosen) < limit:
                    take(fitting[person])
    while len(chosen) < limit and take():
        pass
    return [candidates[index] for index in sorted(chosen, key=lambda index: -pool[index][1])]


def explain(
    candidate: Candidate,
    quiz: QuizConstraints,
    *,
    relaxed: str | None,
    ceiling: float,
    weights: RankingWeights = DEFAULT_WEIGHTS,
) -> str:
    """A short "why" for a pick: what it meets, which film it is close to, and what gave way."""
    parts: list[str] = []
    fitting = quiz.fitting_people(candidate.year, candidate.genres)
    wanted = frozenset().union(*(person.genres for person in quiz.people)) if quiz.people else frozenset()
    matched = sorted(candidate.genres & wanted)
    if matched:
        parts.append(", ".join(matched))
    years = [person.years for person in quiz.people if person.years is not None]
    if years and candidate.year is not None and any(span.contains(candidate.year) for span in years):
        parts.append(f"from {candidate.year}")
    if len(quiz.people) > 1 and fitting:
        parts.append("fits " + ", ".join(f"person {index + 1}" for index in fitting))
    if (
        candidate.anchor_name
        and candidate.anchor_similarity is not None
        and candidate.anchor_similarity >= weights.anchor_named_from * ceiling
    ):
        parts.append(f"close to {candidate.anchor_name}")
    if quiz.exclusions.reasons:
        parts.append("respects " + ", ".join(quiz.exclusions.reasons))
    text = "; ".join(part for part in parts if part) or "close to what you described"
    if relaxed:
        text += f" (broadened: {relaxed})"
    return text[:1].upper() + text[1:] + "."
