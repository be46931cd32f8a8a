"""The database's title normalisation (db/init/013): it agrees with identity.normalize_title, and it
is what movies.normalized_name holds whoever writes the row."""

import re
import unicodedata

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from popchoice_common.catalog.identity import movie_key, normalize_title

# Blocks whose case mappings and decompositions Python (Unicode 14) and PostgreSQL 17/18 (Unicode
# 15.1/16.0, lower() under pg_c_utf8) agree on: PostgreSQL's lower() and normalize() follow its own
# Unicode tables (and, without an explicit collation, the database locale), so characters assigned
# after Python's Unicode version are left out.
_BLOCKS = [
    (0x09, 0x0D),  # tab, line feed and the other ASCII whitespace
    (0x20, 0x7E),  # ASCII
    (0xA0, 0x24F),  # Latin-1 Supplement, Latin Extended-A and -B
    (0x250, 0x36F),  # IPA, spacing modifiers, combining diacritical marks
    (0x370, 0x52F),  # Greek, Cyrillic
    (0x5D0, 0x5EA),  # Hebrew letters
    (0x1E00, 0x1FFF),  # Latin Extended Additional, Greek Extended
    (0x2000, 0x206F),  # General Punctuation
    (0x2100, 0x218F),  # Letterlike symbols, number forms
    (0x2460, 0x24FF),  # enclosed alphanumerics
    (0x3000, 0x30FF),  # CJK punctuation, hiragana, katakana
    (0x4E00, 0x4E3F),  # a few CJK ideographs
    (0xFB00, 0xFB06),  # Latin ligatures
    (0xFE10, 0xFE6F),  # vertical, small and half forms
    (0xFF01, 0xFFEE),  # full-width and half-width forms
]
ALPHABET = [
    chr(code)
    for start, end in _BLOCKS
    for code in range(start, end + 1)
    if unicodedata.category(chr(code)) not in ("Cn", "Cs", "Co")
]
# What the normalisation acts on, drawn often so that examples exercise every rule.
PUNCTUATION = list("-‐‑‒–—―−·•‧∙⋅・:;,!?¡¿\"“”„«»‹›()[]{}/_'‘’ʼ′`.…&  \u00ad\u200b") + ["...", "the ", "a ", "an "]
titles = st.lists(st.sampled_from(ALPHABET) | st.sampled_from(PUNCTUATION), min_size=1, max_size=24).map("".join)
_HEADER = re.compile(r"^(?P<title>.+?)\s*:\s*(?P<year>\d{4})\s*\|")


def curated_titles(migrations_dir):
    """Every title and year in the repository's movies.txt."""
    text = (migrations_dir.parents[1] / "movies.txt").read_text(encoding="utf-8")
    return [(match["title"], int(match["year"])) for line in text.splitlines() if (match := _HEADER.match(line))]


async def sql_normalised(connection, texts):
    rows = await connection.fetch(
        "SELECT normalize_title(t) AS title FROM unnest($1::text[]) WITH ORDINALITY AS u (t, n) ORDER BY n", texts
    )
    return [row["title"] for row in rows]


async def test_sql_and_python_agree_on_every_curated_title(db_conn, migrations_dir):
    """normalize_title and movie_key_of give what identity's Python functions give for every film in movies.txt."""
    films = curated_titles(migrations_dir)
    assert len(films) > 100
    rows = await db_conn.fetch(
        "SELECT normalize_title(t) AS title, movie_key_of(NULL, normalize_title(t), y) AS key"
        " FROM unnest($1::text[], $2::int[]) WITH ORDINALITY AS u (t, y, n) ORDER BY n",
        [title for title, _ in films],
        [year for _, year in films],
    )
    assert [row["title"] for row in rows] == [normalize_title(title) for title, _ in films]
    assert [row["key"] for row in rows] == [movie_key(title=title, year=year) for title, year in films]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(titles, min_size=1, max_size=25))
async def test_sql_and_python_agree_on_generated_unicode_titles(db_conn, batch):
    """On Latin, Greek, Cyrillic, kana, full-width and punctuation titles the two normalisations agree."""
    assert await sql_normalised(db_conn, batch) == [normalize_title(title) for title in batch]


async def test_the_normalisation_functions_are_immutable(db_conn):
    """normalize_title can index a column (PostgreSQL accepts only IMMUTABLE functions there)."""
    await db_conn.execute(
        "CREATE INDEX movies_probe_idx ON movies (normalize_title(name), movie_key_of(tmdb_id, name, year))"
    )
    volatility = await db_conn.fetch(
        "SELECT proname, provolatile FROM pg_proc WHERE proname IN ('normalize_title', 'movie_key_of')"
    )
    assert {row["proname"]: row["provolatile"] for row in volatility} == {"normalize_title": b"i", "movie_key_of": b"i"}


async def test_a_plain_sql_insert_gets_its_normalised_name(db_conn):
    """An operator's INSERT without normalized_name is valid: the database computes it."""
    row = await db_conn.fetchrow("INSERT INTO movies (name, year) VALUES ('WALL·E', 2008) RETURNING normalized_name")
    assert row["normalized_name"] == normalize_title("WALL·E") == "wall e"


async def test_a_plain_sql_insert_of_a_punctuation_variant_is_the_same_film(db_conn):
    """A curated "WALL-E" and an operator's "WALL·E" of the same year are one film to the unique index."""
    await db_conn.execute("INSERT INTO movies (name, year) VALUES ('WALL-E', 2008)")
    with pytest.raises(asyncpg.UniqueViolationError):
        async with db_conn.transaction():
            await db_conn.execute("INSERT INTO movies (name, year) VALUES ('WALL·E', 2008)")
    inserted = await db_conn.fetch(
        "INSERT INTO movies (name, year) VALUES ('WALL·E', 2008), ('WALL·E', 2009)"
        " ON CONFLICT (normalized_name, year) WHERE tmdb_id IS NULL DO NOTHING RETURNING year"
    )
    assert [row["year"] for row in inserted] == [2009]


async def test_the_database_value_wins_over_the_writers(db_conn):
    """A wrong normalized_name sent on INSERT or UPDATE is replaced; renaming a film recomputes it."""
    movie_id = await db_conn.fetchval(
        "INSERT INTO movies (name, normalized_name, year) VALUES ('Amélie', 'wrong', 2001) RETURNING id"
    )
    assert await db_conn.fetchval("SELECT normalized_name FROM movies WHERE id = $1", movie_id) == "amelie"
    await db_conn.execute("UPDATE movies SET normalized_name = 'still wrong' WHERE id = $1", movie_id)
    assert await db_conn.fetchval("SELECT normalized_name FROM movies WHERE id = $1", movie_id) == "amelie"
    await db_conn.execute("UPDATE movies SET name = 'Le Fabuleux Destin d''Amélie Poulain' WHERE id = $1", movie_id)
    assert await db_conn.fetchval("SELECT normalized_name FROM movies WHERE id = $1", movie_id) == (
        "le fabuleux destin damelie poulain"
    )
