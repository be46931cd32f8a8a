"""The ``popchoice`` pytest plugin: real PostgreSQL + pgvector and Redis; fake OpenAI and TMDB servers.

Isolation: each test process (xdist worker) gets its own migrated database; ``db_pool`` empties
the data tables after each test and ``db_conn`` rolls its transaction back. Redis tests get a key
prefix of their own, whose keys are deleted afterwards.

Which database fixture: ``db_conn`` by default, a connection inside a transaction that is rolled
back after the test (the code under test takes a connection; its own ``connection.transaction()``
becomes a savepoint). ``db_pool`` only where the rows must be committed: the code under test takes
a pool and opens its own connections or transactions (the pipeline, seeding, the backfill, the
stream handlers), several connections must see each other's writes (concurrency, snapshots,
LISTEN/NOTIFY), or another process or app reads the database (services started as processes, the
gateway's TestClient). Rows come from :mod:`popchoice_common.testing.factories`, which takes either.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest
import redis.asyncio as redis_asyncio
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from playwright.async_api import Browser

from popchoice_common import tracing
from popchoice_common.db.migrations import configure_embedding_model, migrate
from popchoice_common.db.pool import create_pool
from popchoice_common.embedders.hashing import HashEmbedder
from popchoice_common.keyspace import Keyspace
from popchoice_common.llm import LLMClient
from popchoice_common.redis_connection import connect_redis
from popchoice_common.testing.browser import chromium
from popchoice_common.testing.fake_openai import API_KEY as FAKE_OPENAI_KEY
from popchoice_common.testing.fake_openai import FakeOpenAIServer
from popchoice_common.testing.fake_tmdb import API_KEY as FAKE_TMDB_KEY
from popchoice_common.testing.fake_tmdb import FakeTMDBServer
from popchoice_common.testing.provision import postgres_server_url, redis_server_url, with_database
from popchoice_common.testing.provision import redis_cluster_url as redis_cluster_server_url
from popchoice_common.tmdb import LocalRateLimiter, TMDBClient

TEST_EMBEDDING_DIMENSIONS = 384
TEST_EMBEDDING_MODEL = HashEmbedder(TEST_EMBEDDING_DIMENSIONS).model_id
_KEPT_TABLES = {"schema_migrations", "embedding_models"}
T = TypeVar("T")


def _run_blocking(coroutine: Coroutine[Any, Any, T]) -> T:
    """Runs a coroutine to completion from sync code, even inside a running event loop (async tests)."""
    with ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(asyncio.run, coroutine).result()


class DatabaseFactory:
    """Creates throw-away databases on the test server; drops them at the end of the session."""

    def __init__(self, server_url: str, migrations_dir: Path) -> None:
        self.server_url = server_url
        self.migrations_dir = migrations_dir
        self._created: list[str] = []
        self._prefix = f"popchoice_test_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{os.getpid()}"

    async def _admin(self, sql: str) -> None:
        connection = await asyncpg.connect(self.server_url)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    def create(self, *, migrated: bool = True, embedding: tuple[str, int] | None = (TEST_EMBEDDING_MODEL, 384)) -> str:
        """A new empty database (migrated and with the embedding model active unless told otherwise)."""
        name = f"{self._prefix}_{len(self._created)}"
        _run_blocking(self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        _run_blocking(self._admin(f'CREATE DATABASE "{name}"'))
        self._created.append(name)
        url = with_database(self.server_url, name)
        if migrated:
            model, dimensions = embedding if embedding else (None, None)
            _run_blocking(migrate(url, self.migrations_dir, model_id=model, dimensions=dimensions))
        return url

    def drop_all(self) -> None:
        for name in self._created:
            _run_blocking(self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self._created.clear()


def _find_migrations_dir(start: Path) -> Path:
    if configured := os.environ.get("MIGRATIONS_DIR"):
        return Path(configured)
    for folder in (start, *start.parents):
        if (folder / "db" / "init").is_dir():
            return folder / "db" / "init"
    raise RuntimeError(f"no db/init folder above {start}; set MIGRATIONS_DIR")


@pytest.fixture(scope="session")
def migrations_dir(pytestconfig: pytest.Config) -> Path:
    """The repository's db/init folder."""
    return _find_migrations_dir(Path(pytestconfig.rootpath))


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """DSN of the test PostgreSQL server (pgvector available)."""
    return postgres_server_url()


@pytest.fixture(scope="session")
def database_factory(postgres_url: str, migrations_dir: Path) -> Iterator[DatabaseFactory]:
    """Makes extra databases (for migration tests or another embedding model)."""
    factory = DatabaseFactory(postgres_url, migrations_dir)
    yield factory
    factory.drop_all()


@pytest.fixture(scope="session")
def database_url(database_factory: DatabaseFactory) -> str:
    """This test process's migrated database; the hash embedder's model is active."""
    return database_factory.create()


async def _reset_database(url: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        tables = [
            row["tablename"]
            for row in await connection.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            if row["tablename"] not in _KEPT_TABLES
        ]
        if tables:
            quoted = ", ".join(f'"{table}"' for table in tables)
            await connection.execute(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE")
        await configure_embedding_model(connection, TEST_EMBEDDING_MODEL, TEST_EMBEDDING_DIMENSIONS)
    finally:
        await connection.close()


@pytest.fixture
async def db_pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on the worker's database, its writes committed; every data table is emptied after the test.
    For code that needs committed rows only: prefer ``db_conn`` (see the module's docstring)."""
    pool = await create_pool(database_url, min_size=1, max_size=8)
    try:
        yield pool
    finally:
        await pool.close()
        await _reset_database(database_url)


@pytest.fixture
async def db_conn(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection inside a transaction that is rolled back after the test: the default database fixture."""
    pool = await create_pool(database_url, min_size=1, max_size=1)
    try:
        async with pool.acquire() as connection:
            transaction = connection.transaction()
            await transaction.start()
            try:
                yield connection
            finally:
                await transaction.rollback()
    finally:
        await pool.close()


@pytest.fixture(scope="session")
def redis_single_url() -> str:
    """DSN of the test Redis (one node)."""
    return redis_server_url()


@pytest.fixture(scope="session")
def redis_url(redis_single_url: str) -> str:
    """DSN of the test Redis: one node (a suite that overrides it with single_or_cluster_redis_url runs
    on both)."""
    return redis_single_url


@pytest.fixture(scope="session")
def redis_cluster_url() -> str:
    """DSN (``redis+cluster://``) of the test Redis Cluster: three masters started once per run."""
    return redis_cluster_server_url()


@pytest.fixture(params=[pytest.param("single", id="single"), pytest.param("cluster", id="cluster")])
def single_or_cluster_redis_url(request: pytest.FixtureRequest) -> str:
    """Runs a test twice: on one Redis node (id ``single``) and on the 3-master Redis Cluster (``cluster``)."""
    return str(request.getfixturevalue("redis_single_url" if request.param == "single" else "redis_cluster_url"))


@pytest.fixture
def key_prefix() -> str:
    """A Redis key prefix no other test uses."""
    return f"popchoice-test:{uuid.uuid4().hex[:12]}:"


@pytest.fixture
async def redis_client(redis_url: str, key_prefix: str) -> AsyncIterator[redis_asyncio.Redis]:
    """A Redis client (a RedisCluster for a cluster URL); keys under this test's key_prefix, tagged or
    not, are deleted afterwards."""
    client = connect_redis(redis_url)
    try:
        yield client
    finally:
        await delete_keys(client, key_prefix)
        await client.aclose()


async def delete_keys(client: redis_asyncio.Redis, prefix: str) -> None:
    """Deletes every key under the prefix (on every node of a cluster), one key at a time per slot."""
    for pattern in Keyspace(prefix).patterns():
        keys = [key async for key in client.scan_iter(match=pattern, count=1000)]
        for start in range(0, len(keys), 500):
            await client.delete(*keys[start : start + 500])


_SPANS = InMemorySpanExporter()


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Tracing on in this test process for the test, into an in-memory exporter (OpenTelemetry allows one
    tracer provider per process: it is set the first time, then tracing is switched on and off)."""
    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        tracing.configure_tracing("tests", processor=SimpleSpanProcessor(_SPANS))
    tracing._state["enabled"] = True
    _SPANS.clear()
    yield _SPANS
    tracing._state["enabled"] = False
    _SPANS.clear()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """A headless Chromium (Debian's, through Playwright); see testing/browser.py."""
    async with chromium() as launched:
        yield launched


@pytest.fixture(scope="session")
def fake_openai_server() -> Iterator[FakeOpenAIServer]:
    """One fake OpenAI-compatible server for the session."""
    server = FakeOpenAIServer().start()
    yield server
    server.stop()


@pytest.fixture
def fake_openai(fake_openai_server: FakeOpenAIServer) -> Iterator[FakeOpenAIServer]:
    """The fake OpenAI server with its recorded requests and injected faults cleared."""
    fake_openai_server.state.reset()
    yield fake_openai_server
    fake_openai_server.state.reset()


@pytest.fixture(scope="session")
def fake_tmdb_server() -> Iterator[FakeTMDBServer]:
    """One fake TMDB API v3 server for the session (base_url ends in /3; no rate limit unless a test sets one)."""
    server = FakeTMDBServer().start()
    yield server
    server.stop()


@pytest.fixture
def fake_tmdb(fake_tmdb_server: FakeTMDBServer) -> Iterator[FakeTMDBServer]:
    """The fake TMDB server with its films, recorded requests, counters, faults and rate limit reset."""
    fake_tmdb_server.state.reset()
    yield fake_tmdb_server
    fake_tmdb_server.state.reset()


@pytest.fixture
async def tmdb_client(fake_tmdb: FakeTMDBServer) -> AsyncIterator[TMDBClient]:
    """The real TMDB client on the fake server, with an in-process limiter that never holds back."""
    client = TMDBClient(
        api_key=FAKE_TMDB_KEY,
        limiter=LocalRateLimiter(requests_per_window=10_000, window_ms=1000),
        base_url=fake_tmdb.base_url,
        retry_backoff_seconds=0.01,
    )
    yield client
    await client.aclose()


@pytest.fixture
async def llm_client(fake_openai: FakeOpenAIServer) -> AsyncIterator[LLMClient]:
    """The real OpenAI-compatible client (chat and moderation) on the fake server."""
    client = LLMClient(
        api_key=FAKE_OPENAI_KEY,
        base_url=fake_openai.base_url,
        chat_model="gpt-4o-mini",
        moderation_model="omni-moderation-latest",
        timeout_seconds=5,
        max_tokens=600,
    )
    yield client
    await client.aclose()


@pytest.fixture
def hash_embedder() -> HashEmbedder:
    """The deterministic embedder whose model is active in the test database."""
    return HashEmbedder(TEST_EMBEDDING_DIMENSIONS)
