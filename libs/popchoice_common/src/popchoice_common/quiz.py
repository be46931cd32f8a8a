"""The quiz a person fills in, and the one text it is embedded as (pure functions)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import msgspec


@dataclass(frozen=True, slots=True)
class QuizAnswers:
    """One person's answers."""

    favorite_movie: str
    new_vs_classic: str
    tone_preference: str
    mood_preference: tuple[str, ...]
    favorite_movie_why: str | None = None


class QuizPerson(msgspec.Struct, frozen=True, rename="camel", omit_defaults=True):
    """One person's answers in their stored and wire form (recommendations.quiz_data holds a list of
    these; recommendation.requested carries the same list): the API's camelCase field names."""

    favorite_movie: str
    new_vs_classic: str
    mood_preference: list[str]
    tone_preference: str
    favorite_movie_why: str | None = None

    def answers(self) -> QuizAnswers:
        return QuizAnswers(
            favorite_movie=self.favorite_movie,
            new_vs_classic=self.new_vs_classic,
            tone_preference=self.tone_preference,
            mood_preference=tuple(self.mood_preference),
            favorite_movie_why=self.favorite_movie_why,
        )


def _person_text(answers: QuizAnswers) -> str:
    favorite = f"Favorite movie: {answers.favorite_movie.strip()}."
    if answers.favorite_movie_why and answers.favorite_movie_why.strip():
        favorite += f" Why: {answers.favorite_movie_why.strip()}."
    moods = ", ".join(mood.strip() for mood in answers.mood_preference if mood.strip())
    return f"{favorite} Era: {answers.new_vs_classic.strip()}. Tone: {answers.tone_preference.strip()}. Mood: {moods}"


def quiz_embedding_text(people: Sequence[QuizAnswers]) -> str:
    """One text for the whole request: each person's answers on a line, every favourite film kept."""
    if not people:
        raise ValueError("a quiz needs at least one person's answers")
    return "\n".join(_person_text(person) for person in people)
