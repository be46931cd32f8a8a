import asyncio
import os
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from popchoice_catalog_seeder.service import seed_movies_file

REPO_ROOT = Path(__file__).resolve().parents[3]
CURATED = REPO_ROOT / "movies.txt"
embedding_index_name_prefix = "movies_embedding_hnsw_"


def generated_entries(count: int, start: int = 0) -> list[str]:
    return [
        f"Generated Film {i}: {1950 + i % 70} | PG-13 | 1h {i % 60}m | {i % 10}.5 rating\n"
        f"Generated description number {i} about a detective, a storm and a long train journey."
        for i in range(start, start + count)
    ]


async def movie_count(pool) -> int:
    return await pool.fetchval("SELECT count(*) FROM movies")


async def test_seed_twice_inserts_then_nothing(db_pool, hash_embedder):
    """The first run inserts every curated film; the second finds them all present."""
    first = await seed_movies_file(db_pool, hash_embedder, CURATED, batch_size=100)
    second = await seed_movies_file(db_pool, hash_embedder, CURATED, batch_size=100)
    assert first.inserted == first.parsed >= 300
    assert (second.inserted, second.already_present) == (0, first.parsed)
    assert await movie_count(db_pool) == first.inserted
    model = await db_pool.fetchval("SELECT DISTINCT embedding_model FROM movies")
    assert model == hash_embedder.model_id


async def test_seeded_rows_are_searchable(db_pool, hash_embedder):
    """A seeded film is found by match_movies with its own embedding text."""
    await seed_movies_file(db_pool, hash_embedder, CURATED)
    row = await db_pool.fetchrow(
        "SELECT name, year, age_rating, duration, score_rating FROM movies WHERE name = 'Jaws'"
    )
    assert (row["year"], row["age_rating"], row["duration"]) == (1975, "PG", 124)
    query = await hash_embedder.embed_one("Jaws (1975) shark beach town")
    best = await db_pool.fetchrow("SELECT name FROM match_movies($1, 0.1, 1)", query)
    assert best["name"] == "Jaws"


async def test_bulk_load_rebuilds_the_index(db_pool, hash_embedder, movies_file):
    """A bulk load leaves every film inserted, the HNSW index in place and search working."""
    summary = await seed_movies_file(db_pool, hash_embedder, movies_file(*generated_entries(300)), bulk_threshold=100)
    assert summary.inserted == 300
    definition = await db_pool.fetchval(
        "SELECT indexdef FROM pg_indexes WHERE indexname = embedding_index_name($1)", hash_embedder.model_id
    )
    assert definition is not None and "hnsw" in definition
    query = await hash_embedder.embed_one("Generated Film 123")
    async with db_pool.acquire() as connection, connection.transaction():
        await connection.execute("SET LOCAL enable_seqscan = off")
        await connection.execute("SET LOCAL enable_sort = off")
        plan = "\n".join(
            row[0]
            for row in await connection.fetch(
                "EXPLAIN SELECT id FROM movies WHERE embedding_model = 'hash-384'"
                " ORDER BY embedding::vector(384) <=> $1::vector(384) LIMIT 6",
                query,
            )
        )
    assert embedding_index_name_prefix in plan


async def test_dry_run_embeds_and_writes_nothing(db_pool, fake_openai, movies_file):
    """DRY_RUN reports what would be inserted without an embedding call or a row written."""
    from popchoice_common.embedders.openai_embedder import OpenAIEmbedder
    from popchoice_common.testing.fake_openai import API_KEY

    embedder = OpenAIEmbedder(
        api_key=API_KEY, model="text-embedding-3-small", dimensions=1536, model_id="x", base_url=fake_openai.base_url
    )
    summary = await seed_movies_file(db_pool, embedder, movies_file(*generated_entries(5)), dry_run=True)
    assert (summary.would_insert, summary.inserted) == (5, 0)
    assert fake_openai.requests == []
    assert await movie_count(db_pool) == 0
    await embedder.aclose()


async def test_malformed_entries_do_not_stop_the_seed(db_pool, hash_embedder, movies_file):
    """Bad entries are counted and reported; the good ones are inserted."""
    path = movies_file(generated_entries(1)[0], "Broken: 19x9 | PG | 1h | 5 rating\nText.", generated_entries(1, 1)[0])
    summary = await seed_movies_file(db_pool, hash_embedder, path)
    assert (summary.inserted, summary.malformed) == (2, 1)
    assert summary.malformed_entries[0].line == 4


@pytest.mark.parametrize("bulk_threshold", [10_000, 50], ids=["batches", "bulk"])
async def test_concurrent_seeders_in_one_process_do_not_duplicate(
    db_pool, database_url, hash_embedder, movies_file, bulk_threshold
):
    """Two seeders racing on the same file insert each film once between them, batch by batch or in bulk."""
    from popchoice_common.db.pool import create_pool

    path = movies_file(*generated_entries(400))
    other_pool = await create_pool(database_url)
    try:
        results = await asyncio.gather(
            seed_movies_file(db_pool, hash_embedder, path, batch_size=25, bulk_threshold=bulk_threshold),
            seed_movies_file(other_pool, hash_embedder, path, batch_size=25, bulk_threshold=bulk_threshold),
        )
    finally:
        await other_pool.close()
    assert sum(result.inserted for result in results) == 400
    assert await movie_count(db_pool) == 400


def test_two_seed_processes_at_once_produce_no_duplicates(db_pool, database_url, movies_file):
    """Two popchoice-seed processes started together leave exactly one row per film."""
    path = movies_file(*generated_entries(1500))
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "EMBEDDING_PROVIDER": "hash",
        "MOVIES_FILE_PATH": str(path),
        "SEED_BATCH_SIZE": "100",
        "LOG_FORMAT": "json",
    }
    processes = [
        subprocess.Popen([sys.executable, "-m", "popchoice_catalog_seeder"], env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    summaries = []
    for process in processes:
        out, _ = process.communicate(timeout=120)
        assert process.returncode == 0
        lines = [msgspec.json.decode(line) for line in out.splitlines() if line.startswith("{")]
        summaries.append(next(line for line in lines if line["event"] == "seed_finished"))
    assert sum(summary["inserted"] for summary in summaries) == 1500
    counts = asyncio.run(_counts(database_url))
    assert counts == (1500, 1500)


async def _counts(url):
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        row = await connection.fetchrow(
            "SELECT count(*) AS total, count(DISTINCT (normalized_name, year)) AS distinct_films FROM movies"
        )
        return row["total"], row["distinct_films"]
    finally:
        await connection.close()


@pytest.mark.slow
async def test_local_embedder_ranks_the_favourite_first(database_factory):
    """With MiniLM, a quiz naming a favourite film finds that film first (the calibration check)."""
    from popchoice_common.db.pool import create_pool
    from popchoice_common.embedders.local import LocalEmbedder

    url = database_factory.create(embedding=(LocalEmbedder.model_id, LocalEmbedder.dimensions))
    pool = await create_pool(url)
    embedder = LocalEmbedder()
    try:
        await seed_movies_file(pool, embedder, CURATED)
        for query, expected in [
            ("Favorite movie: The Matrix. Era: new. Tone: exciting. Mood: Action", "The Matrix"),
            ("Favorite movie: Casablanca. Era: classic. Tone: romantic. Mood: Drama", "Casablanca"),
            ("Favorite movie: Spirited Away. Era: new. Tone: whimsical. Mood: Animation", "Spirited Away"),
        ]:
            rows = await pool.fetch("SELECT name FROM match_movies($1, 0.1, 6)", await embedder.embed_one(query))
            assert rows[0]["name"] == expected, (query, [row["name"] for row in rows])
    finally:
        await pool.close()


async def test_every_curated_film_gets_its_genres_and_a_second_seed_adds_only_missing_ones(db_pool, hash_embedder):
    """The Genres lines land in movie_genres; rows seeded before they had genres get them on the next seed."""
    first = await seed_movies_file(db_pool, hash_embedder, CURATED, batch_size=100)
    assert first.genres_added > first.inserted
    without = await db_pool.fetchval(
        "SELECT count(*) FROM movies m WHERE NOT EXISTS (SELECT 1 FROM movie_genres g WHERE g.movie_id = m.id)"
    )
    assert without == 0
    genres = await db_pool.fetch(
        """
        SELECT g.name FROM movie_genres mg JOIN catalog_genres g ON g.tmdb_id = mg.genre_id
        JOIN movies m ON m.id = mg.movie_id WHERE m.name = 'Alien' AND m.year = 1979 ORDER BY g.name
        """
    )
    assert [row["name"] for row in genres] == ["Horror", "Science Fiction"]
    await db_pool.execute("DELETE FROM movie_genres WHERE movie_id = (SELECT id FROM movies WHERE name = 'Alien')")
    second = await seed_movies_file(db_pool, hash_embedder, CURATED, batch_size=100)
    assert (second.inserted, second.genres_added) == (0, 2)
