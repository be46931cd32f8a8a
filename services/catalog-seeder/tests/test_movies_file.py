from decimal import Decimal
from pathlib import Path

import pytest

from popchoice_catalog_seeder.movies_file import parse_movies_file, parse_runtime

REPO_ROOT = Path(__file__).resolve().parents[3]


def entry(header="Casablanca: 1942 | PG | 1h 42m | 8.5 rating", description="A café owner shelters old love."):
    return f"{header}\n{description}"


def test_parses_a_well_formed_entry():
    """Every field of a good entry is read, with the line it starts on."""
    parsed = parse_movies_file(entry())
    assert parsed.malformed == []
    (movie,) = parsed.movies
    assert (movie.name, movie.year, movie.age_rating, movie.duration, movie.score_rating, movie.line) == (
        "Casablanca",
        1942,
        "PG",
        102,
        Decimal("8.5"),
        1,
    )
    assert movie.description == "A café owner shelters old love."


def test_titles_may_contain_colons():
    """Only the colon before the year separates title and year."""
    parsed = parse_movies_file(entry("2001: A Space Odyssey: 1968 | G | 2h 29m | 8.3 rating"))
    assert parsed.movies[0].name == "2001: A Space Odyssey"


def test_multi_line_descriptions_are_joined():
    """Description lines after the first line are joined with spaces."""
    parsed = parse_movies_file("Jaws: 1975 | PG | 2h 4m | 8.1 rating\nA shark.\nA town.")
    assert parsed.movies[0].description == "A shark. A town."


def test_malformed_entries_are_reported_and_the_rest_parsed():
    """Each bad entry gives its line number and reason; good entries around it still parse."""
    text = "\n\n".join(
        [
            entry(),
            entry("No year here | PG | 1h 42m | 8.5 rating"),
            entry("Heat: 1995 | R | long | 8.3 rating"),
            "Alien: 1979 | R | 1h 57m | 8.5 rating",
            entry("Ran: 1985 | R | 2h 42m | 11.5 rating"),
            entry("Up: 2009 | PG | 1h 36m"),
            entry("Casablanca: 1942 | PG | 1h 42m | 8.5 rating"),
            entry("Heat: 1995 | R | 2h 50m | 8.3 rating"),
        ]
    )
    parsed = parse_movies_file(text)
    assert [movie.name for movie in parsed.movies] == ["Casablanca", "Heat"]
    reasons = {item.line: item.reason for item in parsed.malformed}
    assert sorted(reasons) == [4, 7, 10, 12, 15, 18]
    assert "Title: YEAR" in reasons[4]
    assert "runtime" in reasons[7]
    assert "description is missing" in reasons[10]
    assert "outside 0–10" in reasons[12]
    assert "expected 4" in reasons[15]
    assert "duplicate of the entry on line 1" in reasons[18]


@pytest.mark.parametrize(
    ("text", "minutes"), [("1h 42m", 102), ("2h", 120), ("95m", 95), ("0h 58m", 58), ("1h 5min", 65)]
)
def test_runtime_forms(text, minutes):
    """Runtimes are read in hours and minutes."""
    assert parse_runtime(text) == minutes


def test_the_curated_file_is_clean_and_large_enough():
    """movies.txt holds at least 300 well-formed, distinct, real entries."""
    parsed = parse_movies_file((REPO_ROOT / "movies.txt").read_text(encoding="utf-8"))
    assert parsed.malformed == []
    assert len(parsed.movies) >= 300
    decades = {movie.year // 10 * 10 for movie in parsed.movies}
    assert decades >= set(range(1920, 2030, 10))
    assert all(len(movie.description.split()) >= 20 for movie in parsed.movies)
    assert all(movie.genres for movie in parsed.movies), "every curated film has its genres"


def test_an_optional_genres_line_gives_tmdb_genres():
    """A Genres line after the header names TMDB genres in any case; entries without one have none."""
    parsed = parse_movies_file(
        "\n\n".join(
            [
                "Alien: 1979 | R | 1h 57m | 8.5 rating\nGenres: horror, science fiction\nA crew meets a creature.",
                entry(),
            ]
        )
    )
    assert parsed.malformed == []
    assert [movie.genres for movie in parsed.movies] == [("Horror", "Science Fiction"), ()]
    assert parsed.movies[0].description == "A crew meets a creature."


def test_an_unknown_genre_is_reported_with_its_line():
    """A name outside TMDB's genre list makes the entry malformed, naming the genre."""
    parsed = parse_movies_file(
        "Alien: 1979 | R | 1h 57m | 8.5 rating\nGenres: Horror, Spooky\nA crew meets a creature."
    )
    assert parsed.movies == []
    (malformed,) = parsed.malformed
    assert malformed.line == 1
    assert "'Spooky'" in malformed.reason
