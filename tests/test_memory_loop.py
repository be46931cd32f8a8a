"""The loop that makes recommendations personal, end to end: real gateway and recommender processes
against the real PostgreSQL and Redis. A person's feedback on picks changes their next picks."""

import asyncio
import os
import time
from pathlib import Path

import httpx
import pytest

from popchoice_catalog_seeder.service import seed_movies_file

from .service_processes import Processes, start_gateway

ROOT = Path(__file__).resolve().parents[1]
QUIZ = {
    "favoriteMovie": "Heat",
    "newVsClassic": "classic",
    "moodPreference": ["Crime", "Thriller"],
    "tonePreference": "tense heist detective crime",
}


async def signed_in_client(gateway: httpx.AsyncClient, pool, email: str) -> httpx.AsyncClient:
    """A new person, signed in as a browser is: registers (a session cookie), then echoes the CSRF
    token the registration answered with on every write."""
    client = httpx.AsyncClient(base_url=gateway.base_url, timeout=30)
    token = (await client.get("/api/csrf")).json()["csrfToken"]
    registered = await client.post(
        "/api/auth/register",
        json={"email": email, "password": "a long and unusual passphrase 42"},
        headers={"X-CSRF-Token": token},
    )
    assert registered.status_code == 201, registered.text
    client.headers["X-CSRF-Token"] = registered.json()["csrfToken"]
    assert (await client.get("/api/auth/session")).json()["signedIn"] is True
    return client


async def recommend(client: httpx.AsyncClient) -> tuple[list[str], str]:
    """Submits the quiz and waits for the picks; their movie keys, main pick first."""
    created = await client.post("/api/recommendations", json=QUIZ)
    assert created.status_code == 201, created.text
    path = f"/api/recommendations/{created.json()['id']}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        body = (await client.get(path)).json()
        if body["status"] == "completed":
            return [body["movieKey"], *(movie["movieKey"] for movie in body["similarMovies"])], body["id"]
        assert body["status"] != "failed", body
        await asyncio.sleep(0.2)
    raise AssertionError(f"{path} never completed")


async def give(client, recommendation_id, movie_key, kind):
    answer = await client.post(
        f"/api/recommendations/{recommendation_id}/feedback", json={"movieKey": movie_key, "kind": kind}
    )
    assert answer.status_code == 200, answer.text


async def mean_similarity(pool, keys, liked_key):
    """The mean cosine similarity of the films with these keys to the liked film (itself left out)."""
    return await pool.fetchval(
        """
        WITH film AS (
            SELECT CASE WHEN tmdb_id IS NOT NULL THEN 'tmdb:' || tmdb_id
                        ELSE 'title:' || normalized_name || ':' || coalesce(year::text, 'na') END AS movie_key,
                   embedding
            FROM movies
        )
        SELECT avg(1 - (film.embedding <=> liked.embedding))
        FROM film, film AS liked
        WHERE liked.movie_key = $2 AND film.movie_key = ANY($1::text[]) AND film.movie_key <> $2
        """,
        keys,
        liked_key,
    )


@pytest.fixture
async def loop(db_pool, database_url, redis_url, key_prefix, hash_embedder, tmp_path):
    """The seeded catalog, a recommender and a gateway; recent picks are not held back
    (RECENT_RECOMMENDATION_DAYS=0), so that only the memory changes the second picks."""
    await seed_movies_file(db_pool, hash_embedder, ROOT / "movies.txt")
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "STREAM_KEY_PREFIX": key_prefix,
        "EMBEDDING_PROVIDER": "hash",
        "RECENT_RECOMMENDATION_DAYS": "0",
        "PASSWORD_HASH_TIME_COST": "1",
        "PASSWORD_HASH_MEMORY_KIB": "8",
        "PASSWORD_HASH_PARALLELISM": "1",
        "LOG_FORMAT": "json",
    }
    env.pop("TMDB_API_KEY", None)
    env.pop("OPENAI_API_KEY", None)
    processes = Processes(env, tmp_path)
    processes.start("popchoice_recommender")
    gateway = await start_gateway(processes)
    yield gateway
    await gateway.aclose()
    processes.stop_all()


async def test_feedback_changes_the_next_picks(loop, db_pool):
    """Watched and not-for-me picks are gone from the next picks of the same quiz, and a liked pick pulls
    the next picks towards itself: closer to it than for a person who sent the same feedback without
    the like."""
    liker = await signed_in_client(loop, db_pool, "liker@example.test")
    other = await signed_in_client(loop, db_pool, "other@example.test")
    first, first_id = await recommend(liker)
    assert len(first) == 6
    watched, not_for_me, liked = first[1], first[2], first[3]
    await give(liker, first_id, watched, "already_watched")
    await give(liker, first_id, not_for_me, "not_for_me")
    await give(liker, first_id, liked, "useful")
    again, _ = await recommend(liker)
    assert watched not in again and not_for_me not in again

    others_first, others_id = await recommend(other)
    assert others_first == first  # the same quiz, no memory yet: the same picks
    await give(other, others_id, watched, "already_watched")
    await give(other, others_id, not_for_me, "not_for_me")
    others_again, _ = await recommend(other)
    assert watched not in others_again and not_for_me not in others_again

    with_like = await mean_similarity(db_pool, again, liked)
    without_like = await mean_similarity(db_pool, others_again, liked)
    assert with_like > without_like, (with_like, without_like, again, others_again)
    await liker.aclose()
    await other.aclose()
