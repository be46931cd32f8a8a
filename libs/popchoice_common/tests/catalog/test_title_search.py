"""Typo- and accent-tolerant title search over the catalog (index-backed trigrams, db/init/016)."""

import pytest

from popchoice_common.catalog.repository import resolve_title, search_titles
from popchoice_common.testing.factories import insert_movie, link_genres


@pytest.fixture
async def catalog(db_conn):
    ids = {}
    for name, year in [
        ("Spirited Away", 2001),
        ("Amélie", 2001),
        ("The Godfather", 1972),
        ("The Godfather Part II", 1974),
        ("Dune", 1984),
        ("Dune", 2021),
        ("WALL-E", 2008),
    ]:
        ids[(name, year)] = await insert_movie(db_conn, name, year)
    await link_genres(db_conn, ids[("Spirited Away", 2001)], (16, "Animation"), (14, "Fantasy"))
    return ids


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("Spirted Away", "Spirited Away"),
        ("amelie", "Amélie"),
        ("AMÉLIE", "Amélie"),
        ("the godfather", "The Godfather"),
        ("godfather part 2", "The Godfather Part II"),
        ("Wall E", "WALL-E"),
    ],
)
async def test_typos_accents_and_case_find_the_film(db_conn, catalog, typed, expected):
    """The best match of a misspelt, unaccented or lowercase title is the film meant."""
    (best, *_) = await search_titles(db_conn, typed, limit=3)
    assert best.name == expected


async def test_search_is_paged_and_ranked(db_conn, catalog):
    """Results come best first; offset pages through them."""
    first = await search_titles(db_conn, "godfather", limit=1)
    second = await search_titles(db_conn, "godfather", limit=1, offset=1)
    assert [match.name for match in first + second] == ["The Godfather", "The Godfather Part II"]
    assert first[0].similarity > second[0].similarity


@pytest.mark.parametrize("query", ["'; DROP TABLE movies; --", "%", "_", "\\", "Robert'); DELETE FROM movies;--", ""])
async def test_sql_significant_characters_are_only_text(db_conn, catalog, query):
    """Quotes, wildcards and backslashes in a query are searched for, never run or matched as patterns."""
    assert await search_titles(db_conn, query) == []
    assert await db_conn.fetchval("SELECT count(*) FROM movies") == len(catalog)


async def test_resolve_prefers_the_exact_title_and_the_given_year(db_conn, catalog):
    """An exact normalised title wins; a year picks between films of one title; genres come along."""
    dune_1984 = await resolve_title(db_conn, "Dune", 1984)
    dune_2021 = await resolve_title(db_conn, "dune", 2021)
    assert (dune_1984.id, dune_2021.id) == (catalog[("Dune", 1984)], catalog[("Dune", 2021)])
    spirited = await resolve_title(db_conn, "Spirted Away", None)
    assert spirited is not None and spirited.genres == ("Animation", "Fantasy")


async def test_resolve_refuses_a_film_that_is_not_there(db_conn, catalog):
    """A title unlike any in the catalog, or with a year that does not match, resolves to nothing."""
    assert await resolve_title(db_conn, "Paddington", None) is None
    assert await resolve_title(db_conn, "Spirited Away", 1999) is None
