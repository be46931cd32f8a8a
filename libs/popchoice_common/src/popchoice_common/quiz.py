"""The quiz a person fills in: one model, carried by recommendation.requested and stored with the
recommendation (the gateway's pydantic wire model converts to it at the edge)."""

from __future__ import annotations

import msgspec


class QuizPerson(msgspec.Struct, frozen=True, rename="camel", omit_defaults=True):
    """One person's answers in their stored and wire form (recommendations.quiz_data holds a list of
    these; recommendation.requested carries the same list), with the API's camelCase field names."""

    favorite_movie: str
    new_vs_classic: str
    mood_preference: list[str]
    tone_preference: str
    favorite_movie_why: str | None = None
