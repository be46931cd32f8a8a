"""Parser of the curated movies file (pure: no I/O beyond the text it is given).

Entries are separated by blank lines::

    Casablanca: 1942 | PG | 1h 42m | 8.5 rating
    Genres: Drama, Romance
    Two or three sentences on premise, genre and tone.

The ``Genres:`` line is optional: comma-separated names from TMDB's movie genre list (see
:mod:`popchoice_common.catalog.genres`), any case. An entry without it has no genres.

A malformed entry is reported with its line number and reason; parsing goes on with the next one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from popchoice_common.catalog.genres import genre_name
from popchoice_common.catalog.identity import normalize_title
from popchoice_common.catalog.records import CuratedMovie

_TITLE_YEAR = re.compile(r"^(?P<title>.+?)\s*:\s*(?P<year>\d{4})$")
_RUNTIME = re.compile(r"^(?:(?P<hours>\d+)\s*h)?\s*(?:(?P<minutes>\d+)\s*m(?:in)?)?$")
_GENRES_LINE = re.compile(r"^genres\s*:(?P<names>.*)$", re.IGNORECASE)
_SCORE = re.compile(r"^(?P<score>\d+(?:\.\d+)?)\s*(?:/\s*10)?\s*(?:rating)?$", re.IGNORECASE)
HEADER_FORMAT = "'Title: YEAR | RATING | 1h 42m | 8.5 rating'"
MIN_YEAR, MAX_YEAR = 1870, 2100


@dataclass(frozen=True, slots=True)
class MalformedEntry:
    line: int
    reason: str


@dataclass(frozen=True, slots=True)
class ParsedMoviesFile:
    movies: list[CuratedMovie]
    malformed: list[MalformedEntry]


class _EntryError(ValueError):
    pass


def parse_runtime(text: str) -> int:
    """``1h 42m`` / ``102m`` / ``2h`` → minutes."""
    match = _RUNTIME.match(text.strip().lower())
    if not match or not (match["hours"] or match["minutes"]):
        raise _EntryError(f"runtime {text.strip()!r} is not like '1h 42m'")
    hours, minutes = int(match["hours"] or 0), int(match["minutes"] or 0)
    if match["hours"] and minutes >= 60:
        raise _EntryError(f"runtime {text.strip()!r} has {minutes} minutes past the hour")
    total = hours * 60 + minutes
    if not 1 <= total <= 1000:
        raise _EntryError(f"runtime {text.strip()!r} is outside 1–1000 minutes")
    return total


def parse_genres(text: str) -> tuple[str, ...]:
    """``Drama, science fiction`` → ``("Drama", "Science Fiction")``; an unknown name is an error."""
    names: list[str] = []
    for raw in text.split(","):
        if not raw.strip():
            continue
        name = genre_name(raw)
        if name is None:
            raise _EntryError(f"genre {raw.strip()!r} is not one of TMDB's movie genres")
        if name not in names:
            names.append(name)
    if not names:
        raise _EntryError("the Genres line names no genre")
    return tuple(names)


def _parse_header(header: str) -> tuple[str, int, str, int, Decimal]:
    parts = [part.strip() for part in header.split("|")]
    if len(parts) != 4:
        raise _EntryError(f"first line has {len(parts)} '|'-separated fields, expected 4 as in {HEADER_FORMAT}")
    title_year, age_rating, runtime, score_text = parts
    match = _TITLE_YEAR.match(title_year)
    if not match:
        raise _EntryError(f"{title_year!r} is not 'Title: YEAR'")
    title, year = match["title"].strip(), int(match["year"])
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise _EntryError(f"year {year} is outside {MIN_YEAR}–{MAX_YEAR}")
    if not age_rating:
        raise _EntryError("age rating is empty")
    score_match = _SCORE.match(score_text)
    if not score_match:
        raise _EntryError(f"score {score_text!r} is not like '8.5 rating'")
    try:
        score = Decimal(score_match["score"]).quantize(Decimal("0.1"))
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only decimals
        raise _EntryError(f"score {score_text!r} is not a number") from exc
    if not Decimal(0) <= score <= Decimal(10):
        raise _EntryError(f"score {score} is outside 0–10")
    return title, year, age_rating, parse_runtime(runtime), score


def parse_movies_file(text: str) -> ParsedMoviesFile:
    """Parses every entry; duplicates (same normalised title and year) are reported, the first kept."""
    movies: list[CuratedMovie] = []
    malformed: list[MalformedEntry] = []
    seen: dict[tuple[str, int], int] = {}
    block: list[tuple[int, str]] = []

    def finish_block() -> None:
        if not block:
            return
        first_line, header = block[0]
        try:
            title, year, age_rating, duration, score = _parse_header(header)
            body = [line for _, line in block[1:]]
            genres: tuple[str, ...] = ()
            if body and (genres_line := _GENRES_LINE.match(body[0])):
                genres = parse_genres(genres_line["names"])
                body = body[1:]
            description = " ".join(body).strip()
            if not description:
                raise _EntryError("description is missing (expected on the lines after the first)")
            key = (normalize_title(title), year)
            if key in seen:
                raise _EntryError(f"duplicate of the entry on line {seen[key]}")
            seen[key] = first_line
            movies.append(CuratedMovie(title, year, age_rating, duration, score, description, first_line, genres))
        except _EntryError as exc:
            malformed.append(MalformedEntry(first_line, str(exc)))
        block.clear()

    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if line:
            block.append((number, line))
        else:
            finish_block()
    finish_block()
    return ParsedMoviesFile(movies, malformed)
