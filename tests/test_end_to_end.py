"""The recommendation flow end to end: real gateway (uvicorn), recommender and catalog-seeder processes
against the real PostgreSQL and Redis, with the fake TMDB and OpenAI servers."""

import asyncio
import json
import os
import signal
import time
import uuid
from pathlib import Path

import pytest

from popchoice_catalog_seeder.service import seed_movies_file
from popchoice_common.keyspace import Keyspace
from popchoice_common.testing.factories import insert_api_key, insert_interaction, insert_user
from popchoice_common.testing.fake_openai import API_KEY as OPENAI_KEY
from popchoice_common.testing.fake_tmdb import API_KEY as TMDB_KEY
from popchoice_common.testing.fake_tmdb import make_movie

from .service_processes import API_KEY, Processes, start_gateway

ROOT = Path(__file__).resolve().parents[1]
SERVED_QUIZ = {
    "favoriteMovie": "Heat",
    "newVsClassic": "classic",
    "moodPreference": ["Crime", "Thriller"],
    "tonePreference": "tense heist detective crime",
}
# The hash embedder is lexical: a threshold no catalog film reaches makes the catalog "unable to serve".
NO_STRONG_MATCH = "0.9"
UNSERVED_QUIZ = {
    "favoriteMovie": "Qwxyz Vrrbl",
    "newVsClassic": "new",
    "moodPreference": ["Documentary"],
    "tonePreference": "plinth",
}


def documentaries(count):
    return [
        make_movie(
            9000 + index,
            f"Glacier Chronicle {index}",
            genres=[(99, "Documentary")],
            release_date="2024-03-01",
            vote_count=800,
            overview=f"A documentary about glaciers, number {index}, following scientists across a frozen year.",
        )
        for index in range(count)
    ]


def pitches_reply(messages):
    """The model's structured answer (the fake answers prose unless the client asks for JSON, as the real API)."""
    films = [line for line in messages[-1]["content"].split("Films:\n", 1)[1].splitlines() if line.strip()]
    return {"pitches": [f"Because you will love it ({index + 1})." for index in range(len(films))]}


@pytest.fixture
def redis_url(request, redis_single_url):
    """One Redis node, or both one node and the Redis Cluster for a test that asks for
    single_or_cluster_redis_url."""
    if "single_or_cluster_redis_url" in request.fixturenames:
        return request.getfixturevalue("single_or_cluster_redis_url")
    return redis_single_url


@pytest.fixture
async def stack(db_pool, database_url, redis_url, key_prefix, fake_tmdb, fake_openai, hash_embedder, tmp_path):
    """A seeded catalog, an API key for a user, and the env every service process gets."""
    await seed_movies_file(db_pool, hash_embedder, ROOT / "movies.txt")
    user_id = await insert_user(db_pool, "viewer@example.com")
    await insert_api_key(db_pool, API_KEY, user_id=user_id)
    fake_tmdb.state.add(*documentaries(12))
    fake_openai.state.structured_reply = pitches_reply
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "STREAM_KEY_PREFIX": key_prefix,
        "EMBEDDING_PROVIDER": "hash",
        "TMDB_API_KEY": TMDB_KEY,
        "TMDB_BASE_URL": fake_tmdb.base_url,
        "OPENAI_API_KEY": OPENAI_KEY,
        "OPENAI_BASE_URL": fake_openai.base_url,
        "CATALOG_TMDB_REQUESTS_PER_WINDOW": "1000",
        "CATALOG_TMDB_RATE_LIMIT_WINDOW_MS": "1000",
        "STREAM_POLICY_OVERRIDES": json.dumps({"recommendation.requested": {"visibility_timeout_ms": 1500}}),
        "LOG_FORMAT": "json",
    }
    processes = Processes(env, tmp_path)
    yield processes, user_id
    processes.stop_all()


async def poll_until(client, path, predicate, limit=40.0):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        body = (await client.get(path)).json()
        if predicate(body):
            return body
        await asyncio.sleep(0.2)
    raise AssertionError(f"{path} never satisfied the condition; last: {body}")


def keys_of(body):
    keys = [movie["movieKey"] for movie in body["similarMovies"]]
    return keys


async def test_quiz_to_picks_over_sse_and_polling(single_or_cluster_redis_url, stack, redis_client, key_prefix):
    """POST → 201 with Location → SSE stage events and polling both reach completed with six films;
    recommendation.completed is announced for it."""
    processes, _ = stack
    processes.start("popchoice_recommender")
    processes.start("popchoice_catalog_seeder", "worker")
    client = await start_gateway(processes)
    created = await client.post("/api/recommendations", json=SERVED_QUIZ)
    assert created.status_code == 201
    body = created.json()
    assert created.headers["Location"] == f"/api/recommendations/{body['id']}" and len(body["slug"]) == 12
    stages, result = [], None
    async with client.stream("GET", f"/api/recommendations/{body['id']}/events") as events:
        event = None
        async for line in events.aiter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "stage":
                stages.append(json.loads(line[6:])["stage"])
            elif line.startswith("data: ") and event == "result":
                result = json.loads(line[6:])
                break
    assert result is not None and result["status"] == "completed" and stages[-1] == "complete"
    assert result["title"] and result["movieDetails"] and len(result["similarMovies"]) == 5
    polled = await poll_until(client, f"/api/recommendations/{body['slug']}", lambda b: b["status"] == "completed")
    assert polled["title"] == result["title"]
    assert all(movie["aiDescription"].startswith("Because you will love it") for movie in polled["similarMovies"])
    assert all(0 <= movie["match"] <= 100 for movie in polled["similarMovies"])
    assert (await client.get("/api/recommendations/not-a-real-slug")).status_code == 404
    await client.aclose()
    # Announced with the job's acknowledgement, just after the result was stored.
    deadline = time.monotonic() + 5
    while not (announced := await redis_client.xrange(Keyspace(key_prefix).stream("recommendation.completed"))):
        assert time.monotonic() < deadline, "recommendation.completed was never announced"
        await asyncio.sleep(0.05)
    assert [fields[b"job_id"] for _, fields in announced] == [f"recommendation-completed:{body['id']}:0".encode()]


async def test_tmdb_fallback_and_just_in_time_seeding(stack, db_pool):
    """A quiz the catalog cannot serve uses TMDB (usedBroaderSearch) and those films then join the catalog."""
    processes, _ = stack
    processes.start("popchoice_recommender", SIMILARITY_THRESHOLD=NO_STRONG_MATCH)
    processes.start("popchoice_catalog_seeder", "worker")
    client = await start_gateway(processes)
    created = (await client.post("/api/recommendations", json=UNSERVED_QUIZ)).json()
    body = await poll_until(client, f"/api/recommendations/{created['id']}", lambda b: b["status"] == "completed")
    assert body["usedBroaderSearch"] is True
    assert any(movie["fromTMDB"] for movie in body["similarMovies"])
    tmdb_ids = [
        row["tmdb_id"]
        for row in await db_pool.fetch(
            "SELECT tmdb_id FROM recommendation_movies WHERE recommendation_id = $1 AND from_tmdb",
            uuid.UUID(created["id"]),
        )
    ]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        seeded = await db_pool.fetchval("SELECT count(*) FROM movies WHERE tmdb_id = ANY($1::int[])", tmdb_ids)
        if seeded >= min(len(tmdb_ids), 5):
            break
        await asyncio.sleep(0.3)
    assert seeded >= min(len(tmdb_ids), 5)
    await client.aclose()


async def test_more_picks_one_claim_wins_and_nothing_repeats(stack):
    """Two concurrent more-picks requests: one 202, one 409; the new batch repeats no film."""
    processes, _ = stack
    processes.start("popchoice_recommender")
    client = await start_gateway(processes)
    created = (await client.post("/api/recommendations", json=SERVED_QUIZ)).json()
    path = f"/api/recommendations/{created['id']}"
    first = await poll_until(client, path, lambda b: b["status"] == "completed")
    answers = await asyncio.gather(client.post(f"{path}/more-picks"), client.post(f"{path}/more-picks"))
    assert sorted(answer.status_code for answer in answers) == [202, 409]
    done = await poll_until(client, path, lambda b: b["morePicksStatus"] == "completed")
    keys = keys_of(done)
    assert len(keys) == 11 and len(set(keys)) == 11
    assert set(keys_of(first)) < set(keys)
    await client.aclose()


async def test_memory_keeps_watched_and_rejected_films_out(stack, db_pool):
    """A signed-in person's watched and not-interested films never appear in their picks."""
    processes, user_id = stack
    processes.start("popchoice_recommender")
    client = await start_gateway(processes)
    other_user = await insert_user(db_pool, "other@example.com")
    other_key = f"other-{uuid.uuid4().hex}"
    await insert_api_key(db_pool, other_key, user_id=other_user, name="other")
    baseline = (await client.post("/api/recommendations", json=SERVED_QUIZ, headers={"X-API-Key": other_key})).json()
    base = await poll_until(client, f"/api/recommendations/{baseline['slug']}", lambda b: b["status"] == "completed")
    main_key = await db_pool.fetchval(
        "SELECT movie_key FROM recommendation_movies WHERE recommendation_id = $1 AND is_main_recommendation",
        uuid.UUID(base["id"]),
    )
    watched, rejected = main_key, keys_of(base)[0]
    await insert_interaction(db_pool, user_id, watched, "watched")
    await insert_interaction(db_pool, user_id, rejected, "not_interested")
    mine = (await client.post("/api/recommendations", json=SERVED_QUIZ)).json()
    picked = await poll_until(client, f"/api/recommendations/{mine['id']}", lambda b: b["status"] == "completed")
    all_keys = set(keys_of(picked)) | {
        await db_pool.fetchval(
            "SELECT movie_key FROM recommendation_movies WHERE recommendation_id = $1 AND is_main_recommendation",
            uuid.UUID(picked["id"]),
        )
    }
    assert watched not in all_keys and rejected not in all_keys and len(all_keys) == 6
    await client.aclose()


async def test_recommender_killed_mid_job_still_completes_once(stack, db_pool, fake_tmdb):
    """A recommender killed mid-job: another one finishes it after the visibility timeout; one result set."""
    processes, _ = stack
    fake_tmdb.state.slow_next(6.0)
    doomed = processes.start("popchoice_recommender", SIMILARITY_THRESHOLD=NO_STRONG_MATCH)
    client = await start_gateway(processes)
    created = (await client.post("/api/recommendations", json=UNSERVED_QUIZ)).json()
    path = f"/api/recommendations/{created['id']}"
    await poll_until(client, path, lambda b: b["stage"] == "tmdb-search")
    doomed.send_signal(signal.SIGKILL)
    doomed.wait()
    processes.start("popchoice_recommender", SIMILARITY_THRESHOLD=NO_STRONG_MATCH)
    body = await poll_until(client, path, lambda b: b["status"] == "completed", limit=60)
    assert len(body["similarMovies"]) == 5
    rows = await db_pool.fetchval(
        "SELECT count(*) FROM recommendation_movies WHERE recommendation_id = $1", uuid.UUID(created["id"])
    )
    assert rows == 6
    await client.aclose()


async def test_inline_processing_without_redis(stack):
    """With REDIS_URL unset the gateway runs the pipeline itself; the browser polls the same way."""
    processes, _ = stack
    client = await start_gateway(processes, REDIS_URL="")
    created = await client.post("/api/recommendations", json=SERVED_QUIZ)
    assert created.status_code == 201
    path = f"/api/recommendations/{created.json()['id']}"
    body = await poll_until(client, path, lambda b: b["status"] == "completed")
    assert len(body["similarMovies"]) == 5
    more = await client.post(f"{path}/more-picks")
    assert more.status_code == 202
    done = await poll_until(client, path, lambda b: b["morePicksStatus"] == "completed")
    assert len(set(keys_of(done))) == 11
    await client.aclose()
