"""A person's movie memory: what each kind of feedback on a pick means for it, the popularity
preference, and the trainer's deck (pure: no I/O; the SQL is in :mod:`.repository`).

The durable memory is ``user_movie_interactions`` (one row per person and film). The movie-memory
trainer writes it directly; feedback on a pick is stored in ``recommendation_feedback`` and folded
into it by :data:`FEEDBACK_MEMORY`. The pipeline reads it back with ``repository.user_memory``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

#: What the trainer may store (the product's movie-memory API).
MemoryKind = Literal["watched", "not_seen", "liked", "not_interested"]
#: What the durable memory holds: the trainer's kinds and wrong_mood, which only feedback writes.
InteractionKind = Literal["watched", "not_seen", "liked", "not_interested", "wrong_mood"]
#: The kinds of feedback on a pick (the CHECK constraint of recommendation_feedback).
FeedbackKind = Literal["useful", "already_watched", "not_for_me", "wrong_mood", "too_obvious", "too_obscure", "close"]

#: Feedback folded into the durable memory. too_obvious and too_obscure move the popularity
#: preference instead (:func:`popularity_lean`); close makes the film a weak anchor. Neither writes
#: a memory row: both are read from the feedback itself, so undoing the feedback undoes them.
FEEDBACK_MEMORY: Mapping[str, InteractionKind | None] = {
    "useful": "liked",
    "already_watched": "watched",
    "not_for_me": "not_interested",
    "wrong_mood": "wrong_mood",
    "too_obvious": None,
    "too_obscure": None,
    "close": None,
}

#: Votes at which a film counts as fully popular on the popularity term's scale (log scale below it).
POPULAR_VOTES = 20_000


def popularity_lean(too_obvious: int, too_obscure: int) -> float:
    """The person's popularity preference in (-1, 1): below 0 leans to less-voted films (they found
    picks too obvious), above 0 to well-known ones (too obscure). Each answer moves it, with
    diminishing steps ((obscure - obvious) / (obscure + obvious + 2)), so one answer is a nudge
    (±1/3) and contradicting answers cancel out."""
    return (too_obscure - too_obvious) / (too_obscure + too_obvious + 2)


def popularity(vote_count: int | None) -> float:
    """How well known a film is, on [0, 1]: log of its votes against POPULAR_VOTES (unknown: 0.5)."""
    if vote_count is None:
        return 0.5
    return max(0.0, min(1.0, math.log1p(vote_count) / math.log1p(POPULAR_VOTES)))


@dataclass(frozen=True, slots=True)
class DeckFilm:
    """A well-known catalog film the person has not rated, as the trainer shows it."""

    movie_key: str
    name: str
    year: int | None
    poster_url: str | None
    genres: tuple[str, ...]
    vote_count: int | None


def varied_deck(films: Sequence[DeckFilm], size: int) -> list[DeckFilm]:
    """Up to size films, varied in genre and era: each next film is the best known of those whose
    first genre and decade have been shown least so far (films come in best-known first)."""
    genre_uses: dict[str, int] = {}
    decade_uses: dict[int | None, int] = {}
    left = list(films)
    deck: list[DeckFilm] = []
    while left and len(deck) < size:

        def repeats(film: DeckFilm) -> int:
            genre = film.genres[0] if film.genres else ""
            decade = film.year // 10 if film.year is not None else None
            return genre_uses.get(genre, 0) + decade_uses.get(decade, 0)

        chosen = min(left, key=repeats)  # min keeps the first (best-known) of equals
        left.remove(chosen)
        deck.append(chosen)
        genre = chosen.genres[0] if chosen.genres else ""
        decade = chosen.year // 10 if chosen.year is not None else None
        genre_uses[genre] = genre_uses.get(genre, 0) + 1
        decade_uses[decade] = decade_uses.get(decade, 0) + 1
    return deck
