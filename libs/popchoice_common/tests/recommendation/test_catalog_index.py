"""The in-memory candidate search (recommendation/catalog_index.py): the same films as the database's
exact search, never a film that no longer meets the filters, and the database whenever it cannot answer."""

import asyncio
import itertools
from typing import Any

import numpy as np
import pytest

from popchoice_common.recommendation import catalog_index, repository
from popchoice_common.recommendation.catalog_index import CatalogIndex
from popchoice_common.recommendation.records import CandidateFilters
from popchoice_common.testing import factories

GENRES = [(28, "Action"), (35, "Comedy"), (18, "Drama"), (27, "Horror"), (10749, "Romance"), (99, "Documentary")]
RATINGS = ["G", "PG", " pg-13 ", "R", None]


def unit(vector):
    vector = np.asarray(vector, dtype=np.float32)
    return vector / np.linalg.norm(vector)


async def plant_catalog(executor, count, seed=5):
    """count films with random embeddings and every kind of value the filters read: years from 1870 to
    2100 (the schema's bounds) and none, one to three genres or none, ratings with stray case and spaces
    or none, runtimes of 0 (unknown) to 200 minutes; returns their ids."""
    rng = np.random.default_rng(seed)
    ids = []
    for index in range(count):
        year = None if index % 17 == 0 else int(rng.integers(1870, 2101))
        movie_id = await factories.insert_movie(
            executor,
            f"Planted {index}",
            year,
            embedding=unit(rng.normal(size=384)),
            duration=int(rng.choice([0, 85, 100, 130, 200])),
            age_rating=RATINGS[index % len(RATINGS)],
            description=f"About planted film {index}.",
        )
        picked = rng.choice(len(GENRES), size=int(rng.integers(0, 4)), replace=False)
        await factories.link_genres(executor, movie_id, *(GENRES[int(genre)] for genre in picked))
        ids.append(movie_id)
    return ids


def filter_cases(ids):
    """Era, moods and exclusions in combination (each quiz constraint the search applies)."""
    eras = [(None, None), (2000, None), (None, 1979), (1990, 1999), (1985, 2003)]
    moods = [(), (28,), (35, 10749), (99, 27, 18)]
    exclusions: list[dict[str, Any]] = [
        {},
        {"forbidden_genre_ids": (27,)},
        {"allowed_age_ratings": ("G", "PG", "PG-13")},
        {"max_runtime": 120},
        {"excluded_ids": (ids[3], ids[8], ids[21])},
    ]
    for (low, high), wanted, extra in itertools.product(eras, moods, exclusions):
        yield CandidateFilters(min_year=low, max_year=high, wanted_genre_ids=wanted, **extra)


async def test_it_chooses_the_films_the_database_exact_search_chooses(db_pool):
    """For every combination of era, moods and exclusions, with no anchor, one and two, the copy's films
    are exactly those of match_movie_candidates' exact search, and where the database would use its index
    (no era and no moods, more films than the exact limit) the copy declines."""
    ids = await plant_catalog(db_pool, 160)
    index = CatalogIndex(db_pool, max_bytes=10_000_000, refresh_seconds=60)
    await index.refresh()
    snapshot = index.snapshot()
    assert snapshot is not None and len(snapshot.ids) == 160
    rng = np.random.default_rng(11)
    compared = 0
    for filters in filter_cases(ids):
        for anchors in ([], [ids[5]], [ids[5], ids[40]]):
            query = unit(rng.normal(size=384))
            chosen = snapshot.nearest(query, anchors, filters, count=7, exact_limit=2000)
            if filters.min_year is None and filters.max_year is None and not filters.wanted_genre_ids:
                assert chosen is None
                continue
            rows = await repository.match_candidates(
                db_pool, query, anchor_ids=anchors, count=7, filters=filters, exact_limit=2000
            )
            assert chosen is not None
            assert sorted(chosen) == sorted(row.id for row in rows), (filters, anchors)
            compared += 1
    # Every case but the 5 x 3 without an era and moods.
    assert compared == 5 * 4 * 5 * 3 - 5 * 3
    # More films than the exact limit: the database's index search, not the copy.
    assert (
        snapshot.nearest(unit(rng.normal(size=384)), [], CandidateFilters(min_year=1870), count=7, exact_limit=50)
        is None
    )


async def test_a_film_changed_since_the_copy_never_comes_back_and_a_refresh_sees_new_films(db_pool):
    """The copy only chooses: a film whose genres changed after the copy was taken is chosen, then
    dropped by the database's check of the filters. A refresh reads the change and a new film."""
    rng = np.random.default_rng(2)
    query = unit(rng.normal(size=384))
    near = await factories.insert_movie(db_pool, "Near", 2010, embedding=query, duration=100, description="Near.")
    await factories.link_genres(db_pool, near, (28, "Action"))
    await plant_catalog(db_pool, 30)
    index = CatalogIndex(db_pool, max_bytes=10_000_000, refresh_seconds=60)
    await index.refresh()
    filters = CandidateFilters(min_year=2000, wanted_genre_ids=(28,))
    stale = index.snapshot()
    assert stale is not None
    assert near in stale.nearest(query, [], filters, count=3, exact_limit=2000)

    await db_pool.execute("DELETE FROM movie_genres WHERE movie_id = $1", near)
    await factories.link_genres(db_pool, near, (35, "Comedy"))
    chosen = stale.nearest(query, [], filters, count=3, exact_limit=2000)
    assert near in chosen
    rows = await repository.candidates_by_id(db_pool, query, anchor_ids=[], ids=chosen, filters=filters)
    assert near not in {row.id for row in rows} and rows

    added = await factories.insert_movie(db_pool, "Added", 2012, embedding=query, duration=90, description="New.")
    await factories.link_genres(db_pool, added, (28, "Action"))
    await index.refresh()
    fresh = index.snapshot()
    assert fresh is not stale and fresh is not None
    chosen = fresh.nearest(query, [], filters, count=3, exact_limit=2000)
    assert added in chosen and near not in chosen


async def test_the_copy_declines_an_unknown_anchor_and_a_catalog_above_its_memory(db_pool):
    ids = await plant_catalog(db_pool, 20)
    query = unit(np.random.default_rng(4).normal(size=384))
    filters = CandidateFilters(min_year=1900)
    index = CatalogIndex(db_pool, max_bytes=10_000_000, refresh_seconds=60)
    await index.refresh()
    snapshot = index.snapshot()
    assert snapshot is not None
    assert snapshot.nearest(query, [max(ids) + 1], filters, count=5, exact_limit=2000) is None

    too_small = CatalogIndex(db_pool, max_bytes=20 * 384 * 4 - 1, refresh_seconds=60)
    await too_small.refresh()
    assert too_small.snapshot() is None
    off = CatalogIndex(db_pool, max_bytes=0, refresh_seconds=60)
    assert off.snapshot() is None


@pytest.mark.parametrize("films", [0, 3])
async def test_a_search_starts_the_first_load_and_goes_to_the_database_until_it_is_in(db_pool, films):
    await plant_catalog(db_pool, films)
    index = CatalogIndex(db_pool, max_bytes=10_000_000, refresh_seconds=60)
    assert index.snapshot() is None  # nothing loaded yet: this search goes to the database
    for _ in range(100):
        if index.snapshot() is not None:
            break
        await asyncio.sleep(0.02)
    snapshot = index.snapshot()
    assert snapshot is not None and len(snapshot.ids) == films


async def test_a_catalog_the_copy_cannot_hold_is_left_to_the_database_and_not_read_again(db_pool, monkeypatch):
    """More distinct genres than the copy's 63 bits: no copy (the database searches), and the next check
    finds the same catalog and does not read it again; a change makes it read again."""
    rng = np.random.default_rng(8)
    for index in range(64):
        movie_id = await factories.insert_movie(
            db_pool, f"Genre film {index}", 2000, embedding=unit(rng.normal(size=384)), duration=90
        )
        await factories.link_genres(db_pool, movie_id, (20_000 + index, f"Genre {index}"))
    reads = []
    original = catalog_index.CatalogSnapshot.of.__func__

    def counted(cls, *args, **kwargs):
        reads.append(1)
        return original(cls, *args, **kwargs)

    monkeypatch.setattr(catalog_index.CatalogSnapshot, "of", classmethod(counted))
    index = CatalogIndex(db_pool, max_bytes=10_000_000, refresh_seconds=60)
    await index.refresh()
    assert index.snapshot() is None and len(reads) == 1
    await index.refresh()
    assert len(reads) == 1
    await factories.insert_movie(db_pool, "One more", 2001, embedding=unit(rng.normal(size=384)), duration=90)
    await index.refresh()
    assert len(reads) == 2
