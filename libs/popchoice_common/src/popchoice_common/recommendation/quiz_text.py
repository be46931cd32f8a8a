"""The one text a quiz is embedded as (pure functions)."""

from __future__ import annotations

from collections.abc import Sequence

from popchoice_common.quiz import QuizPerson


def _person_text(answers: QuizPerson) -> str:
    favorite = f"Favorite movie: {answers.favorite_movie.strip()}."
    if answers.favorite_movie_why and answers.favorite_movie_why.strip():
        favorite += f" Why: {answers.favorite_movie_why.strip()}."
    moods = ", ".join(mood.strip() for mood in answers.mood_preference if mood.strip())
    return f"{favorite} Era: {answers.new_vs_classic.strip()}. Tone: {answers.tone_preference.strip()}. Mood: {moods}"


def quiz_embedding_text(people: Sequence[QuizPerson]) -> str:
    """One text for the whole request: each person's answers on a line, every favourite film kept."""
    if not people:
        raise ValueError("a quiz needs at least one person's answers")
    return "\n".join(_person_text(person) for person in people)
