"""Restarts survived, with real processes under load: Redis killed (SIGKILL) and restarted from its
append-only file, and PostgreSQL stopped and started again. Every accepted recommendation completes
once, the gateway answers 503 with Retry-After while a dependency is down, and each outage is one
warning and one recovery line per process."""

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import asyncpg
import httpx
import pytest
import redis.asyncio as redis_asyncio

from popchoice_catalog_seeder.service import seed_movies_file
from popchoice_common.db.migrations import migrate
from popchoice_common.db.pool import create_pool
from popchoice_common.events import SeedMovieRequested
from popchoice_common.streams import Publisher, StreamKeys
from popchoice_common.testing.factories import insert_api_key
from popchoice_common.testing.fake_tmdb import API_KEY as TMDB_KEY
from popchoice_common.testing.plugin import TEST_EMBEDDING_MODEL

from .service_processes import API_KEY, Processes, free_port, start_gateway
from .test_end_to_end import SERVED_QUIZ, documentaries

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
QUIZZES = [
    SERVED_QUIZ,
    {"favoriteMovie": "Amélie", "newVsClassic": "new", "moodPreference": ["Romance"], "tonePreference": "light"},
    {"favoriteMovie": "Alien", "newVsClassic": "classic", "moodPreference": ["Horror"], "tonePreference": "scary"},
]
FAST_RECOVERY = {
    "SWEEP_INTERVAL_SECONDS": "1",
    "SWEEP_AFTER_SECONDS": "4",
    "STREAM_POLICY_OVERRIDES": json.dumps(
        {stream: {"visibility_timeout_ms": 3000} for stream in ("recommendation.requested", "catalog.seed-movie")}
    ),
    "LOG_FORMAT": "json",
    "RATE_LIMIT_PER_MINUTE": "100000",
}


class Load:
    """Posts a quiz every interval until stopped; remembers what was accepted and what was refused."""

    def __init__(self, client: httpx.AsyncClient, interval: float = 0.15) -> None:
        self.client = client
        self.interval = interval
        self.accepted: list[str] = []
        self.refused: list[httpx.Response] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        n = 0
        while True:
            n += 1
            try:
                response = await self.client.post("/api/recommendations", json=QUIZZES[n % len(QUIZZES)])
            except httpx.TransportError:
                await asyncio.sleep(self.interval)
                continue
            if response.status_code == 201:
                self.accepted.append(response.json()["id"])
            else:
                self.refused.append(response)
            await asyncio.sleep(self.interval)

    def __enter__(self) -> "Load":
        self._task = asyncio.create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


async def all_completed(pool: asyncpg.Pool, ids: list[str], limit: float = 120.0) -> None:
    wanted = [uuid.UUID(value) for value in ids]
    deadline = time.monotonic() + limit
    while True:
        rows = await pool.fetch("SELECT status, count(*) FROM recommendations WHERE id = ANY($1) GROUP BY 1", wanted)
        statuses = {row[0]: row[1] for row in rows}
        if statuses.get("completed", 0) == len(wanted):
            return
        assert time.monotonic() < deadline, f"not all accepted recommendations completed: {statuses}"
        await asyncio.sleep(0.5)


async def picks_written_once(pool: asyncpg.Pool, ids: list[str]) -> None:
    counts = await pool.fetch(
        "SELECT recommendation_id, count(*), count(DISTINCT position) FROM recommendation_movies"
        " WHERE recommendation_id = ANY($1) GROUP BY 1",
        [uuid.UUID(value) for value in ids],
    )
    assert len(counts) == len(ids)
    assert all(total == 6 and distinct == 6 for _, total, distinct in counts), counts


def outage_lines(log: Path, dependency: str) -> tuple[int, int]:
    events = [json.loads(line).get("event") for line in log.read_text().splitlines() if line.startswith("{")]
    return events.count(f"{dependency}_unavailable"), events.count(f"{dependency}_recovered")


class RedisServer:
    """A redis-server of the test's own, persisting as production must (appendonly, fsync every second)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.folder),
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--save",
                "",
            ],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while subprocess.run(["redis-cli", "-p", str(self.port), "ping"], capture_output=True).stdout != b"PONG\n":
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()


@pytest.fixture
async def seeded(db_pool, hash_embedder, fake_tmdb):
    await seed_movies_file(db_pool, hash_embedder, ROOT / "movies.txt")
    await insert_api_key(db_pool, API_KEY, name="restarts")
    fake_tmdb.state.add(*documentaries(30))


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server on PATH")
async def test_redis_killed_and_restarted_under_load(seeded, db_pool, database_url, fake_tmdb, tmp_path):
    redis_server = RedisServer(tmp_path)
    redis_server.start()
    env = {
        **os.environ,
        **FAST_RECOVERY,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_server.url,
        "EMBEDDING_PROVIDER": "hash",
        "TMDB_API_KEY": TMDB_KEY,
        "TMDB_BASE_URL": fake_tmdb.base_url,
        "CATALOG_TMDB_REQUESTS_PER_WINDOW": "1000",
        "CATALOG_TMDB_RATE_LIMIT_WINDOW_MS": "1000",
    }
    env.pop("OPENAI_API_KEY", None)
    processes = Processes(env, tmp_path)
    redis_client = redis_asyncio.Redis.from_url(redis_server.url)
    try:
        processes.start("popchoice_recommender")
        processes.start("popchoice_recommender")
        processes.start("popchoice_catalog_seeder", "worker")
        client = await start_gateway(processes)
    except BaseException:
        processes.stop_all()
        await redis_client.aclose()
        redis_server.kill()
        raise
    publisher = Publisher(redis_client, StreamKeys())
    try:
        with Load(client) as load:
            # Catalog jobs too: the fake TMDB's documentaries, seeded by the catalog-seeder.
            for tmdb_id in range(9000, 9015):
                await publisher.publish(SeedMovieRequested.for_movie(tmdb_id))
            await asyncio.sleep(2.0)
            redis_server.kill()
            await asyncio.sleep(3.0)
            down = await client.post("/api/recommendations", json=SERVED_QUIZ)
            assert down.status_code == 503 and "Retry-After" in down.headers
            assert down.json()["detail"]
            redis_server.start()  # from its append-only file
            await redis_client.aclose()
            redis_client = redis_asyncio.Redis.from_url(redis_server.url)
            publisher = Publisher(redis_client, StreamKeys())
            for tmdb_id in range(9015, 9030):
                await publisher.publish(SeedMovieRequested.for_movie(tmdb_id))
            await asyncio.sleep(3.0)
        assert load.accepted and any(response.status_code == 503 for response in load.refused)
        assert all(response.status_code == 503 for response in load.refused), [r.text for r in load.refused]
        await all_completed(db_pool, load.accepted)
        await picks_written_once(db_pool, load.accepted)
        # Every catalog job ran (those lost with the last second of writes were never acknowledged to
        # anyone: here they were all published before the kill or after the restart), each film seeded once.
        deadline = time.monotonic() + 60
        while (seeded_count := await db_pool.fetchval("SELECT count(*) FROM movies WHERE tmdb_id >= 9000")) < 30:
            assert time.monotonic() < deadline, f"{seeded_count} of 30 catalog films seeded"
            await asyncio.sleep(0.5)
        assert await db_pool.fetchval("SELECT count(DISTINCT tmdb_id) FROM movies WHERE tmdb_id >= 9000") == 30
        assert (await client.get("/api/health")).status_code == 200
    finally:
        await client.aclose()
        await redis_client.aclose()
        processes.stop_all()
        if redis_server.process is not None and redis_server.process.poll() is None:
            redis_server.kill()
    for log in ("popchoice_recommender-0", "popchoice_recommender-1", "popchoice_catalog_seeder-2"):
        assert outage_lines(tmp_path / f"{log}.log", "redis") == (1, 1), log


@pytest.fixture
def own_data_dir():
    """A DATA_DIR for a PostgreSQL of the test's own (the shared embedded server stays up for the other
    tests). The embedded server runs as its own account when the tests run as root: a folder it can enter."""
    data_dir = Path(f"/tmp/popchoice-restart-{uuid.uuid4().hex[:8]}")
    data_dir.mkdir(mode=0o755)
    yield data_dir
    shutil.rmtree(data_dir, ignore_errors=True)


async def test_postgresql_stopped_and_restarted_under_load(
    redis_url, key_prefix, migrations_dir, hash_embedder, tmp_path_factory, own_data_dir
):
    data_dir = own_data_dir
    logs = tmp_path_factory.mktemp("logs")
    db_env = {**os.environ, "DATA_DIR": str(data_dir)}

    def db(action: str) -> str:
        return subprocess.run(
            [str(BIN / "popchoice-db"), action], env=db_env, capture_output=True, text=True, check=True
        ).stdout.strip()

    url = db("start")
    try:
        await migrate(url, migrations_dir, model_id=TEST_EMBEDDING_MODEL, dimensions=384)
        pool = await create_pool(url)
        await seed_movies_file(pool, hash_embedder, ROOT / "movies.txt")
        await insert_api_key(pool, API_KEY, name="restarts")
        await pool.close()
        env = {
            **os.environ,
            **FAST_RECOVERY,
            "DATABASE_URL": url,
            "REDIS_URL": redis_url,
            "STREAM_KEY_PREFIX": key_prefix,
            "EMBEDDING_PROVIDER": "hash",
        }
        env.pop("TMDB_API_KEY", None)
        env.pop("OPENAI_API_KEY", None)
        processes = Processes(env, logs)
        processes.start("popchoice_recommender")
        client = await start_gateway(processes)
        try:
            with Load(client) as load:
                await asyncio.sleep(2.0)
                db("stop")
                await asyncio.sleep(1.0)
                down = await client.post("/api/recommendations", json=SERVED_QUIZ)
                assert down.status_code == 503, down.text
                assert down.headers["content-type"] == "application/json" and "Retry-After" in down.headers
                health = await client.get("/api/health")
                assert health.status_code == 503 and health.json()["status"] == "degraded"
                await asyncio.sleep(4.0)
                assert db("start") == url
                await asyncio.sleep(3.0)
            assert load.accepted and any(response.status_code == 503 for response in load.refused)
            pool = await create_pool(url)
            try:
                await all_completed(pool, load.accepted)
                await picks_written_once(pool, load.accepted)
            finally:
                await pool.close()
            assert (await client.get("/api/health")).json()["status"] == "ok"
            redis_client = redis_asyncio.Redis.from_url(redis_url)
            try:
                assert await redis_client.xlen(StreamKeys(key_prefix).dead("recommendation.requested")) == 0
            finally:
                await redis_client.aclose()
        finally:
            await client.aclose()
            processes.stop_all()
        unavailable, recovered = outage_lines(logs / "popchoice_gateway-1.log", "postgres")
        assert (unavailable, recovered) == (1, 1)
    finally:
        db("stop")
