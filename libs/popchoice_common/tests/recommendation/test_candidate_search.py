"""match_movie_candidates' two strategies (db/functions/30_vector_search.sql): the exact read of the
films meeting the era and moods through movies.search_keys (db/init/023), and the HNSW index."""

import shutil

import asyncpg
import numpy as np
import pytest
from pgvector.asyncpg import register_vector

from popchoice_common.db.migrations import definitions_dir_for, migrate
from popchoice_common.testing import factories

ACTION, COMEDY, DRAMA, HORROR = (28, "Action"), (35, "Comedy"), (18, "Drama"), (27, "Horror")
SEARCH = "SELECT * FROM match_movie_candidates($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"


def unit(vector):
    vector = np.asarray(vector, dtype=np.float32)
    return vector / np.linalg.norm(vector)


async def plant(connection, rng, count, *, year_of, genres_of, spread=1.0):
    """count films with random embeddings (near axis 0, so the query is near all of them), each with the
    year and genres the callbacks give; returns {id: (embedding, year, genre ids)}."""
    films = {}
    for index in range(count):
        embedding = unit(np.eye(384, dtype=np.float32)[0] + spread * rng.normal(size=384))
        year, genres = year_of(index), genres_of(index)
        movie_id = await factories.insert_movie(
            connection, f"Film {index}", year, embedding=embedding, duration=100, description=f"About film {index}."
        )
        await factories.link_genres(connection, movie_id, *genres)
        films[movie_id] = (embedding, year, {genre for genre, _ in genres})
    return films


def nearest(films, target, count, keep):
    """The ids of the count films nearest target (cosine) among those keep accepts: the brute-force answer."""
    distances = sorted(
        (1 - float(np.dot(embedding, target) / np.linalg.norm(target)), movie_id)
        for movie_id, (embedding, year, genres) in films.items()
        if keep(year, genres)
    )
    return {movie_id for _, movie_id in distances[:count]}


async def index_scans(connection):
    """How often this transaction has scanned the search-keys GIN index and the HNSW index so far."""
    return await connection.fetchrow(
        """
        SELECT sum(pg_stat_get_xact_numscans(i.indexrelid))
                   FILTER (WHERE c.relname = 'movies_search_keys_idx') AS exact,
               sum(pg_stat_get_xact_numscans(i.indexrelid))
                   FILTER (WHERE c.relname LIKE 'movies_embedding_hnsw_%') AS hnsw
        FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = 'movies'::regclass
        """
    )


async def test_a_selective_filter_is_searched_exactly_and_returns_the_true_nearest_films(db_conn):
    """With an era and moods that few films meet, the search reads those films through the search keys (not
    the HNSW index) and returns exactly the nearest of them to the quiz text and to the anchor."""
    rng = np.random.default_rng(3)
    genre_sets = [(ACTION,), (COMEDY,), (DRAMA,), (HORROR,), (ACTION, DRAMA), (COMEDY, HORROR)]
    films = await plant(
        db_conn, rng, 240, year_of=lambda index: 1950 + index % 70, genres_of=lambda index: genre_sets[index % 6]
    )
    anchor = next(iter(films))
    query = unit(np.eye(384, dtype=np.float32)[0] + rng.normal(size=384))
    before = await index_scans(db_conn)
    rows = await db_conn.fetch(SEARCH, query, [anchor], 5, 2000, None, [28, 35], None, None, None, [anchor], 2000)
    after = await index_scans(db_conn)
    assert after["exact"] == before["exact"] + 1 and after["hnsw"] == before["hnsw"]

    def keep(year, genres):
        return year >= 2000 and bool(genres & {28, 35})

    others = {movie_id: film for movie_id, film in films.items() if movie_id != anchor}
    expected = nearest(others, query, 5, keep) | nearest(others, films[anchor][0], 5, keep)
    assert {row["id"] for row in rows} == expected
    assert all(row["year"] >= 2000 and {28, 35} & set(row["genre_ids"]) for row in rows)
    for row in rows:
        embedding = films[row["id"]][0]
        assert row["similarity"] == pytest.approx(float(np.dot(embedding, query) / np.linalg.norm(query)), abs=1e-5)
        assert row["anchor_id"] == anchor
        assert row["anchor_similarity"] == pytest.approx(float(np.dot(embedding, films[anchor][0])), abs=1e-5)


async def test_a_strict_filter_still_returns_every_film_that_meets_it(db_conn):
    """Eight comedies from the 1970s among two hundred films, all far from the quiz text: the exact
    search returns all eight (an index walk from the query would meet horror films first)."""
    rng = np.random.default_rng(5)
    films = await plant(
        db_conn,
        rng,
        200,
        year_of=lambda index: 1975 if index < 8 else 2010,
        genres_of=lambda index: (COMEDY,) if index < 8 else (HORROR,),
    )
    comedies = {movie_id for movie_id, (_, year, _) in films.items() if year == 1975}
    query = np.eye(384, dtype=np.float32)[0]
    rows = await db_conn.fetch(SEARCH, query, [], 30, 1970, 1979, [35], [27], None, None, None, 2000)
    assert {row["id"] for row in rows} == comedies


async def test_more_films_than_the_exact_limit_go_through_the_index(db_conn):
    """When more films meet the era and moods than exact_limit, the HNSW index serves the search, with
    the filters still inside it."""
    rng = np.random.default_rng(7)
    await plant(db_conn, rng, 60, year_of=lambda index: 1990 + index % 20, genres_of=lambda index: (ACTION,))
    query = np.eye(384, dtype=np.float32)[0]
    before = await index_scans(db_conn)
    rows = await db_conn.fetch(SEARCH, query, [], 10, 2000, None, [28], None, None, None, None, 20)
    after = await index_scans(db_conn)
    assert after["hnsw"] > before["hnsw"]
    assert len(rows) == 10 and all(row["year"] >= 2000 for row in rows)


async def test_without_an_era_or_moods_the_index_is_used_and_0_turns_the_exact_search_off(db_conn):
    """No era and no moods (exclusions only) leave most films in: the index serves it; exact_limit 0
    sends a selective search to the index too."""
    rng = np.random.default_rng(9)
    await plant(db_conn, rng, 30, year_of=lambda index: 2000 + index, genres_of=lambda index: (DRAMA,))
    query = np.eye(384, dtype=np.float32)[0]
    before = await index_scans(db_conn)
    unfiltered = await db_conn.fetch(SEARCH, query, [], 5, None, None, None, [27], None, None, None, 2000)
    forced = await db_conn.fetch(SEARCH, query, [], 5, 2010, None, [18], None, None, None, None, 0)
    after = await index_scans(db_conn)
    assert after["exact"] == before["exact"] and after["hnsw"] >= before["hnsw"] + 2
    assert len(unfiltered) == 5 and len(forced) == 5 and all(row["year"] >= 2010 for row in forced)


async def test_with_several_anchors_each_film_gets_its_nearest_anchor(db_conn):
    """Two anchors (a favourite and a liked film): the film nearest the quiz and the film nearest each
    anchor come back, each with the anchor it is closest to and that similarity, as the index search gives them."""
    axes = np.eye(384, dtype=np.float32)
    first = await factories.insert_movie(db_conn, "First anchor", 1999, embedding=axes[5])
    second = await factories.insert_movie(db_conn, "Second anchor", 1999, embedding=axes[9])
    near_first = await factories.insert_movie(db_conn, "Near first", 2005, embedding=unit(axes[5] + 0.2 * axes[6]))
    near_second = await factories.insert_movie(db_conn, "Near second", 2006, embedding=unit(axes[9] + 0.2 * axes[7]))
    fillers = []
    for index in range(12):
        filler_embedding = unit(axes[0] + (0.5 + 0.1 * index) * axes[20 + index])
        filler = await factories.insert_movie(db_conn, f"Filler {index}", 2001, embedding=filler_embedding)
        await factories.link_genres(db_conn, filler, COMEDY)
        fillers.append(filler)
    for movie_id in (first, second, near_first, near_second):
        await factories.link_genres(db_conn, movie_id, COMEDY)
    query, anchors = axes[0], [first, second]
    exact = await db_conn.fetch(SEARCH, query, anchors, 1, 2000, None, [35], None, None, None, anchors, 2000)
    indexed = await db_conn.fetch(SEARCH, query, anchors, 1, 2000, None, [35], None, None, None, anchors, 0)
    by_id = {row["id"]: row for row in exact}
    assert set(by_id) == {fillers[0], near_first, near_second}
    assert (by_id[near_first]["anchor_id"], by_id[near_second]["anchor_id"]) == (first, second)
    assert by_id[near_first]["anchor_similarity"] == pytest.approx(float(unit(axes[5] + 0.2 * axes[6])[5]), abs=1e-5)
    assert {(row["id"], row["anchor_id"]) for row in exact} == {(row["id"], row["anchor_id"]) for row in indexed}


async def test_search_keys_hold_the_decade_and_each_genre_of_it(db_conn):
    """movies.search_keys follows genres and year (a generated column): the bare decade, then genre ×
    1000 + decade; an unknown year is decade 999, found by moods alone but never by an era."""
    dated = await factories.insert_movie(db_conn, "Dated", 2005, embedding=np.eye(384, dtype=np.float32)[1])
    undated = await factories.insert_movie(db_conn, "Undated", None, embedding=np.eye(384, dtype=np.float32)[2])
    await factories.link_genres(db_conn, dated, ACTION, COMEDY)
    await factories.link_genres(db_conn, undated, COMEDY)
    keys = await db_conn.fetchval("SELECT search_keys FROM movies WHERE id = $1", dated)
    assert sorted(keys) == [200, 28200, 35200]
    assert await db_conn.fetchval("SELECT search_keys FROM movies WHERE id = $1", undated) == [999, 35999]
    query = np.eye(384, dtype=np.float32)[0]
    moods_only = await db_conn.fetch(SEARCH, query, [], 5, None, None, [35], None, None, None, None, 2000)
    with_era = await db_conn.fetch(SEARCH, query, [], 5, 1990, None, [35], None, None, None, None, 2000)
    era_only = await db_conn.fetch(SEARCH, query, [], 5, 2000, 2009, None, None, None, None, None, 2000)
    assert {row["id"] for row in moods_only} == {dated, undated}
    assert {row["id"] for row in with_era} == {dated} == {row["id"] for row in era_only}


@pytest.fixture
def database_before(database_factory, migrations_dir, tmp_path):
    """Makes a database migrated up to (and including) a given file, as a deployment of that time was."""

    async def make(last: str) -> str:
        init = tmp_path / "init"
        init.mkdir()
        for path in sorted(migrations_dir.glob("*.sql")):
            if path.name <= last:
                shutil.copy(path, init / path.name)
        shutil.copytree(definitions_dir_for(migrations_dir), definitions_dir_for(init))
        url = database_factory.create(migrated=False)
        await migrate(url, init, model_id="hash-384", dimensions=384)
        return url

    return make


async def test_023_moves_stored_embeddings_into_their_rows_and_keys_them(database_before, migrations_dir):
    """A film stored before 023 (its 384-dimension embedding out of line, in the TOAST table) has its
    embedding in the row afterwards, its search keys set, and is found by the exact search."""
    url = await database_before("022_recommendation_sweep.sql")
    connection = await asyncpg.connect(url)
    try:
        await register_vector(connection)
        embedding = np.eye(384, dtype=np.float32)[3]
        # Words that do not compress: with the vector the row is over 2 kB, as a real film's is.
        words = np.random.default_rng(11).choice(list("abcdefghijklmnopqrstuvwxyz"), size=(100, 6))
        description = " ".join("".join(word) for word in words)
        movie_id = await factories.insert_movie(
            connection, "Stored Before", 1984, embedding=embedding, description=description
        )
        await factories.link_genres(connection, movie_id, DRAMA)
        out_of_line = "SELECT pg_column_toast_chunk_id(embedding) IS NOT NULL FROM movies WHERE id = $1"
        assert await connection.fetchval(out_of_line, movie_id)
        await migrate(url, migrations_dir, model_id="hash-384", dimensions=384)
        assert not await connection.fetchval(out_of_line, movie_id)
        assert await connection.fetchval("SELECT search_keys FROM movies WHERE id = $1", movie_id) == [198, 18198]
        rows = await connection.fetch(SEARCH, embedding, [], 5, 1980, 1989, [18], None, None, None, None, 2000)
        assert [row["id"] for row in rows] == [movie_id]
    finally:
        await connection.close()
