"""Text built from a movie: the embedding input and the search result's content line."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal


def _score(score: float | Decimal | None) -> str:
    return f"{float(score):.1f}" if score is not None else "n/a"


def movie_embedding_text(
    *,
    name: str,
    year: int | None,
    age_rating: str | None,
    duration: int | None,
    score_rating: float | Decimal | None,
    description: str,
    genres: Sequence[str] = (),
) -> str:
    """The one text every service embeds for a movie. Unknown fields are left out, not invented.

    Genres are sorted so the same film always gives the same text, whatever order they came in.
    """
    lines = [f"{name} ({year})" if year else name]
    facts = []
    if age_rating:
        facts.append(f"Rated {age_rating}")
    if duration:
        facts.append(f"Runtime: {duration} min")
    if score_rating is not None:
        facts.append(f"Rating: {_score(score_rating)}/10")
    if facts:
        lines.append(". ".join(facts) + ".")
    if genres:
        lines.append("Genres: " + ", ".join(sorted(genres)) + ".")
    if description.strip():
        lines.append(description.strip())
    return "\n".join(lines)


def movie_content(
    *,
    name: str,
    year: int | None,
    age_rating: str | None,
    duration: int | None,
    score_rating: float | Decimal | None,
    description: str,
) -> str:
    """The content line match_movies returns, built the same way in Python (for TMDB results)."""
    return (
        f"{name} ({year if year else 'n/a'}) | {age_rating or 'NR'} | Duration: {duration or 0} min"
        f" | Rating: {_score(score_rating)}/10\n{description}"
    )
