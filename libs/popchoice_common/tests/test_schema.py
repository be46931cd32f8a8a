import asyncpg
import numpy as np
import pytest

from popchoice_common.db.migrations import configure_embedding_model
from popchoice_common.db.pool import create_pool
from popchoice_common.testing import factories


async def insert_movie(connection, name, year, embedding, model="hash-384", **fields):
    """A filled-in movie (PG, 100 minutes, rated 7.5, a description); fields override those."""
    filled = {"age_rating": "PG", "duration": 100, "score_rating": 7.5, "description": f"About {name}.", **fields}
    return await factories.insert_movie(connection, name, year, embedding=embedding, model=model, **filled)


def unit(values):
    vector = np.asarray(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def basis(index, dimensions=384):
    vector = np.zeros(dimensions, dtype=np.float32)
    vector[index] = 1.0
    return vector


async def test_match_movies_orders_by_similarity_and_formats_content(db_conn):
    """match_movies returns the nearest rows first, with 1 − cosine distance and the content line."""
    await insert_movie(db_conn, "Near", 2001, unit(basis(0) + 0.1 * basis(1)))
    await insert_movie(db_conn, "Nearer", 2002, basis(0))
    await insert_movie(db_conn, "Far", 2003, basis(5))
    rows = await db_conn.fetch("SELECT * FROM match_movies($1, 0.1, 5)", basis(0))
    assert [row["name"] for row in rows] == ["Nearer", "Near"]
    assert rows[0]["similarity"] == pytest.approx(1.0)
    assert rows[0]["content"] == "Nearer (2002) | PG | Duration: 100 min | Rating: 7.5/10\nAbout Nearer."


async def test_match_movies_respects_count_and_threshold(db_conn):
    """At most match_count rows, all above the threshold."""
    for i in range(8):
        await insert_movie(db_conn, f"Film {i}", 2000 + i, unit(basis(0) + i * 0.3 * basis(1)))
    rows = await db_conn.fetch("SELECT name, similarity FROM match_movies($1, 0.1, 3)", basis(0))
    assert len(rows) == 3
    strict = await db_conn.fetch("SELECT similarity FROM match_movies($1, 0.9, 8)", basis(0))
    assert strict and all(row["similarity"] > 0.9 for row in strict)


async def test_match_movies_ignores_other_models(db_conn):
    """Rows embedded by a model other than the active one are never compared."""
    await insert_movie(db_conn, "Other model", 2000, basis(0), model="some-other-model")
    await insert_movie(db_conn, "Active model", 2000, basis(1))
    rows = await db_conn.fetch("SELECT name FROM match_movies($1, -1, 5)", basis(0))
    assert [row["name"] for row in rows] == ["Active model"]


async def test_match_movies_rejects_a_wrong_dimension(db_conn):
    """A query vector of another dimension is refused with a clear message."""
    with pytest.raises(asyncpg.PostgresError, match="384"):
        await db_conn.fetch("SELECT * FROM match_movies($1)", np.ones(10, dtype=np.float32))


async def test_large_models_get_a_halfvec_hnsw_index(database_factory):
    """A 3,072-dimension model is indexed as a halfvec expression and searched through it."""
    url = database_factory.create(embedding=("text-embedding-3-large", 3072))
    pool = await create_pool(url)
    try:
        async with pool.acquire() as connection:
            definition = await connection.fetchval(
                "SELECT indexdef FROM pg_indexes WHERE indexname = embedding_index_name('text-embedding-3-large')"
            )
            assert "hnsw" in definition and "halfvec(3072)" in definition and "halfvec_cosine_ops" in definition
            await insert_movie(connection, "Big", 2020, basis(7, 3072), model="text-embedding-3-large")
            rows = await connection.fetch("SELECT name, similarity FROM match_movies($1, 0.5, 5)", basis(7, 3072))
            assert [row["name"] for row in rows] == ["Big"]
            async with connection.transaction():
                await connection.execute("SET LOCAL enable_seqscan = off")
                await connection.execute("SET LOCAL enable_sort = off")
                plan = await connection.fetch(
                    "EXPLAIN SELECT id FROM movies WHERE embedding_model = 'text-embedding-3-large'"
                    " ORDER BY embedding::halfvec(3072) <=> $1::halfvec(3072) LIMIT 6",
                    basis(7, 3072),
                )
            assert "movies_embedding_hnsw_" in "\n".join(row[0] for row in plan)
    finally:
        await pool.close()


async def test_small_models_get_a_vector_hnsw_index(db_conn):
    """The active 384-dimension model has a vector_cosine_ops HNSW index over its rows only."""
    definition = await db_conn.fetchval(
        "SELECT indexdef FROM pg_indexes WHERE indexname = embedding_index_name('hash-384')"
    )
    assert "hnsw" in definition and "vector(384)" in definition and "embedding_model = 'hash-384'" in definition


async def test_reconfiguring_a_model_with_another_dimension_fails(db_conn):
    """A model id keeps its dimension; a mismatch is an error, not a silent new index."""
    with pytest.raises(asyncpg.RaiseError, match="recorded with 384"):
        async with db_conn.transaction():
            await configure_embedding_model(db_conn, "hash-384", 512)


async def test_tmdb_id_is_unique_when_present(db_conn):
    """Two rows cannot share a TMDB id, while many rows may have none."""
    await insert_movie(db_conn, "A", 2000, None, tmdb_id=10)
    await insert_movie(db_conn, "B", 2000, None)
    await insert_movie(db_conn, "C", 2000, None)
    with pytest.raises(asyncpg.UniqueViolationError):
        async with db_conn.transaction():
            await insert_movie(db_conn, "D", 2001, None, tmdb_id=10)


async def test_untracked_films_are_unique_by_title_and_year(db_conn):
    """Without a TMDB id, normalised title + year identifies a film (a missing year included)."""
    await insert_movie(db_conn, "The Thing", 1982, None)
    await insert_movie(db_conn, "Thing", 2011, None)
    await insert_movie(db_conn, "Nameless", None, None)
    with pytest.raises(asyncpg.UniqueViolationError):
        async with db_conn.transaction():
            await insert_movie(db_conn, "Nameless", None, None)
    with pytest.raises(asyncpg.UniqueViolationError):
        async with db_conn.transaction():
            await insert_movie(db_conn, "Thing", 1982, None)


async def test_schema_constraints_reject_bad_values(db_conn):
    """Enumerated columns refuse values outside their set."""
    with pytest.raises(asyncpg.CheckViolationError):
        async with db_conn.transaction():
            await insert_movie(db_conn, "X", 2000, None, tmdb_match_source="guess")
    movie_id = await insert_movie(db_conn, "Y", 2000, None)
    with pytest.raises(asyncpg.CheckViolationError):
        async with db_conn.transaction():
            await db_conn.execute(
                "INSERT INTO tmdb_match_reviews (movie_id, movie_name, reason) VALUES ($1, 'Y', 'vibes')", movie_id
            )


async def test_search_before_a_model_is_configured_explains_itself(database_factory):
    """Without an active embedding model, match_movies says how to configure one."""
    url = database_factory.create(embedding=None)
    connection = await asyncpg.connect(url)
    try:
        with pytest.raises(asyncpg.RaiseError, match="popchoice-migrate"):
            await connection.fetch("SELECT * FROM match_movies($1::vector)", "[1,0,0]")
    finally:
        await connection.close()


async def test_search_runs_with_the_configured_ef_search(db_conn):
    """match_movies carries hnsw.ef_search (100 by default) for recall beyond pgvector's default 40."""
    config = await db_conn.fetchval("SELECT proconfig FROM pg_proc WHERE proname = 'match_movies'")
    assert config == ["hnsw.ef_search=100", "enable_seqscan=off", "enable_sort=off"]
    await configure_embedding_model(db_conn, "hash-384", 384, ef_search=64)
    config = await db_conn.fetchval("SELECT proconfig FROM pg_proc WHERE proname = 'match_movies'")
    assert config == ["hnsw.ef_search=64", "enable_seqscan=off", "enable_sort=off"]


async def test_joining_search_results_to_movies_goes_through_the_primary_key(db_conn):
    """match_movies is planned as a handful of rows, so the request path's join to movies looks the
    matches up by id instead of hashing the whole table (what the default 1,000-row estimate chose)."""
    for index in range(300):
        vector = np.zeros(384, dtype=np.float32)
        vector[index % 384] = 1.0
        await insert_movie(db_conn, f"Film {index}", 2000, vector)
    await db_conn.execute("ANALYZE movies")
    query = np.zeros(384, dtype=np.float32)
    query[0] = 1.0
    explain = "SELECT found.id, m.tmdb_id FROM match_movies($1, 0.1, 6) AS found JOIN movies m ON m.id = found.id"
    for ef_search in (100, 64):  # reconfiguring keeps the estimate
        await configure_embedding_model(db_conn, "hash-384", 384, ef_search=ef_search)
        assert await db_conn.fetchval("SELECT prorows FROM pg_proc WHERE proname = 'match_movies'") == 10
        plan = "\n".join(row[0] for row in await db_conn.fetch(f"EXPLAIN {explain}", query))
        assert "Seq Scan on movies" not in plan, plan
        assert "movies_pkey" in plan, plan


async def test_match_movie_picks_finds_what_match_movies_finds_with_the_pick_columns(db_conn):
    """The request path's search: the same rows, order and similarity as match_movies, with the
    columns a pick shows in place of the content line."""
    for index in range(12):
        await insert_movie(
            db_conn,
            f"Film {index}",
            2000 + index,
            unit([1.0, index / 4] + [0.0] * 382),
            tmdb_id=100 + index,
            poster_url=f"https://images.test/{index}.jpg",
            localized_name=f"Film {index} (fr)",
        )
    await insert_movie(db_conn, "Other model", 2000, basis(0), model="other-384")
    query = basis(0)
    searched = await db_conn.fetch("SELECT id, similarity FROM match_movies($1, 0.5, 6)", query)
    picks = await db_conn.fetch("SELECT * FROM match_movie_picks($1, 0.5, 6)", query)
    assert [(row["id"], row["similarity"]) for row in picks] == [(row["id"], row["similarity"]) for row in searched]
    assert len(picks) == 6 and picks[0]["name"] == "Film 0"
    assert (picks[0]["tmdb_id"], picks[0]["poster_url"], picks[0]["localized_name"]) == (
        100,
        "https://images.test/0.jpg",
        "Film 0 (fr)",
    )
    assert len(await db_conn.fetch("SELECT * FROM match_movie_picks($1, 0.99, 6)", query)) < 6


async def test_match_movie_picks_follows_the_configured_model(db_conn):
    """configure_embedding_model defines it beside match_movies: same settings, same estimate."""
    await configure_embedding_model(db_conn, "hash-384", 384, ef_search=64)
    row = await db_conn.fetchrow("SELECT proconfig, prorows FROM pg_proc WHERE proname = 'match_movie_picks'")
    assert row["proconfig"] == ["hnsw.ef_search=64", "enable_seqscan=off", "enable_sort=off"]
    assert row["prorows"] == 10
    with pytest.raises(asyncpg.DataError, match="expected 384 dimensions"):
        await db_conn.fetch("SELECT * FROM match_movie_picks($1)", np.ones(10, dtype=np.float32))


async def test_match_movie_picks_before_a_model_is_configured_explains_itself(database_factory):
    url = database_factory.create(embedding=None)
    connection = await asyncpg.connect(url)
    try:
        with pytest.raises(asyncpg.RaiseError, match="popchoice-migrate"):
            await connection.fetch("SELECT * FROM match_movie_picks($1::vector)", "[1,0,0]")
    finally:
        await connection.close()


async def test_applying_012_to_a_configured_database_keeps_its_ef_search(db_conn, migrations_dir):
    """On a database whose model was configured before 012 existed, 012 defines match_movie_picks
    for that model with the ef_search match_movies already has."""
    await configure_embedding_model(db_conn, "hash-384", 384, ef_search=64)
    await db_conn.execute("DROP FUNCTION match_movie_picks(vector, double precision, integer)")
    await db_conn.execute((migrations_dir / "012_match_movie_picks.sql").read_text())
    config = await db_conn.fetchval("SELECT proconfig FROM pg_proc WHERE proname = 'match_movie_picks'")
    assert config == ["hnsw.ef_search=64", "enable_seqscan=off", "enable_sort=off"]


async def test_match_movie_candidates_applies_hard_constraints_inside_the_search(db_conn):
    """A strict filter still returns match_count films: the index is read on past the films it removes."""
    rng = np.random.default_rng(7)
    query = unit(basis(0) + 0.01)
    for index in range(60):
        # The 50 films nearest the query are horror; ten comedies lie further away.
        noise = rng.normal(scale=0.05 if index < 50 else 0.6, size=384)
        movie_id = await insert_movie(db_conn, f"Film {index}", 2000 + index % 20, unit(basis(0) + noise))
        await factories.link_genres(db_conn, movie_id, (27, "Horror") if index < 50 else (35, "Comedy"))
    rows = await db_conn.fetch("SELECT * FROM match_movie_candidates($1, '{}', 8, forbidden_genres => $2)", query, [27])
    assert len(rows) == 8
    assert all(row["genre_ids"] == [35] for row in rows)
    rows = await db_conn.fetch(
        "SELECT name, year FROM match_movie_candidates($1, '{}', 100, min_year => 2010, max_year => 2014)", query
    )
    assert rows and all(2010 <= row["year"] <= 2014 for row in rows)


async def test_match_movie_candidates_filters_by_age_rating_runtime_and_excluded_ids(db_conn):
    """Age ratings outside the allowed list, runtimes over the cap and excluded ids never come back."""
    query = basis(0)
    kept = await insert_movie(db_conn, "Kept", 2000, unit(basis(0) + 0.1), age_rating="PG", duration=90)
    await insert_movie(db_conn, "Rated R", 2000, unit(basis(0) + 0.1), age_rating="R", duration=90)
    await insert_movie(db_conn, "Too long", 2000, unit(basis(0) + 0.1), age_rating="G", duration=200)
    await insert_movie(db_conn, "No runtime", 2000, unit(basis(0) + 0.1), age_rating="G", duration=0)
    excluded = await insert_movie(db_conn, "Excluded", 2000, unit(basis(0) + 0.1), age_rating="G", duration=80)
    rows = await db_conn.fetch(
        "SELECT id FROM match_movie_candidates($1, '{}', 10, allowed_age_ratings => $2, max_runtime => 120,"
        " excluded_ids => $3)",
        query,
        ["G", "PG"],
        [excluded],
    )
    assert [row["id"] for row in rows] == [kept]


async def test_match_movie_candidates_adds_the_films_nearest_an_anchor(db_conn):
    """Films near an anchor's own embedding come back even when far from the quiz text, with that similarity."""
    anchor = await insert_movie(db_conn, "The Matrix", 1999, basis(5))
    near_anchor = await insert_movie(db_conn, "Dark City", 1998, unit(basis(5) + 0.2 * basis(6)))
    near_query = await insert_movie(db_conn, "Amélie", 2001, unit(basis(0) + 0.1 * basis(1)))
    for index in range(20):
        await insert_movie(db_conn, f"Filler {index}", 2000, unit(basis(0) + 0.3 * basis(10 + index)))
    rows = {
        row["id"]: row
        for row in await db_conn.fetch(
            "SELECT * FROM match_movie_candidates($1, $2, 3, excluded_ids => $2)", basis(0), [anchor]
        )
    }
    assert near_query in rows and near_anchor in rows and anchor not in rows
    assert rows[near_anchor]["anchor_id"] == anchor
    assert rows[near_anchor]["anchor_similarity"] > 0.9 > rows[near_query]["anchor_similarity"]
    assert rows[near_query]["similarity"] > rows[near_anchor]["similarity"]


async def test_a_movies_genre_ids_follow_movie_genres(db_conn):
    """movies.genre_ids mirrors movie_genres (sorted) as links are added and removed (db/init/017)."""
    movie_id = await factories.insert_movie(db_conn, "Alien", 1979)
    await factories.link_genres(db_conn, movie_id, (878, "Science Fiction"), (27, "Horror"))
    assert await db_conn.fetchval("SELECT genre_ids FROM movies WHERE id = $1", movie_id) == [27, 878]
    await db_conn.execute("DELETE FROM movie_genres WHERE movie_id = $1 AND genre_id = 27", movie_id)
    assert await db_conn.fetchval("SELECT genre_ids FROM movies WHERE id = $1", movie_id) == [878]
