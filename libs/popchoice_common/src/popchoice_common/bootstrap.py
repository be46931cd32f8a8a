"""Process start-up shared by every service: resources created once, passed in, closed on the way out."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import asyncpg
import redis.asyncio as redis
import uvloop

from popchoice_common.db import create_pool, resolve_database_url
from popchoice_common.embedders import Embedder, create_embedder
from popchoice_common.errors import ConfigurationError
from popchoice_common.llm import LLMClient
from popchoice_common.logs import configure_logging, get_logger
from popchoice_common.settings import PopChoiceSettings
from popchoice_common.streams.jobs import Publisher
from popchoice_common.streams.runtime import create_publisher, create_redis, create_worker, serve_metrics
from popchoice_common.streams.worker import Worker
from popchoice_common.tmdb import TMDBClient, create_rate_limiter, create_tmdb_client
from popchoice_common.tracing import configure_tracing

log = get_logger(__name__)
TMDBUse = Literal["off", "optional", "required"]
T = TypeVar("T")


def create_llm(settings: PopChoiceSettings) -> LLMClient | None:
    """The chat/moderation client when OPENAI_API_KEY and OPENAI_CHAT_MODEL are set."""
    if settings.openai_api_key is None or not settings.openai_chat_model:
        return None
    return LLMClient(
        api_key=settings.openai_api_key.get_secret_value(),
        base_url=settings.openai_base_url,
        chat_model=settings.openai_chat_model,
        moderation_model=settings.openai_moderation_model,
        timeout_seconds=settings.description_timeout_seconds,
        max_tokens=settings.description_max_tokens,
    )


@dataclass
class Resources:
    """What handlers need, created once per process."""

    settings: PopChoiceSettings
    pool: asyncpg.Pool
    redis: redis.Redis | None
    publisher: Publisher | None
    embedder: Embedder | None
    tmdb: TMDBClient | None
    llm: LLMClient | None = None

    def require_embedder(self) -> Embedder:
        if self.embedder is None:
            raise ConfigurationError("this process was started without an embedder")
        return self.embedder

    def require_tmdb(self) -> TMDBClient:
        if self.tmdb is None:
            raise ConfigurationError("TMDB_API_KEY is not set")
        return self.tmdb

    def require_publisher(self) -> Publisher:
        if self.publisher is None:
            raise ConfigurationError("REDIS_URL is not set")
        return self.publisher


@asynccontextmanager
async def open_resources(
    settings: PopChoiceSettings,
    *,
    embedder: bool = False,
    tmdb: TMDBUse = "off",
    llm: bool = False,
    require_redis: bool = False,
    pool_max_size: int = 10,
) -> AsyncIterator[Resources]:
    """Opens the pool, Redis, the embedder, TMDB and the LLM the process asked for; closes them after.

    tmdb "optional" creates the client when TMDB_API_KEY is set; "required" refuses to start without it.
    """
    if tmdb == "required" and settings.tmdb_api_key is None:
        raise ConfigurationError("TMDB_API_KEY is required here")
    client = create_redis(settings) if (require_redis or settings.redis_url is not None) else None
    pool = await create_pool(resolve_database_url(settings), min_size=1, max_size=pool_max_size)
    the_embedder = create_embedder(settings) if embedder else None
    tmdb_client = create_tmdb_client(settings, create_rate_limiter(settings, client)) if tmdb != "off" else None
    llm_client = create_llm(settings) if llm else None
    try:
        yield Resources(
            settings=settings,
            pool=pool,
            redis=client,
            publisher=create_publisher(client, settings) if client is not None else None,
            embedder=the_embedder,
            tmdb=tmdb_client,
            llm=llm_client,
        )
    finally:
        if llm_client is not None:
            await llm_client.aclose()
        if tmdb_client is not None:
            await tmdb_client.aclose()
        if the_embedder is not None:
            await the_embedder.aclose()
        await pool.close()
        if client is not None:
            await client.aclose()


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """asyncio.run on uvloop (a faster event loop: fewer CPU cycles per socket operation)."""
    return uvloop.run(coroutine)


def run_service(service: str, coroutine: Coroutine[Any, Any, Any]) -> bool:
    """Runs a long-lived service's main coroutine on uvloop. A SIGTERM or SIGINT that arrives while
    it is still starting (opening the pool, loading the embedder), before the worker installs its
    own graceful handlers, cancels the start-up: nothing was consumed, and the process ends cleanly.
    Returns False in that case."""

    async def guarded() -> bool:
        loop = asyncio.get_running_loop()
        main = asyncio.current_task()
        assert main is not None
        stopped = False

        def stop() -> None:
            nonlocal stopped
            stopped = True
            main.cancel()

        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop)
        try:
            await coroutine
        except asyncio.CancelledError:
            if not stopped:
                raise
            log.info("stopped_before_start", service=service)
            return False
        return True

    return run_async(guarded())


def run_worker(
    service: str,
    settings: PopChoiceSettings,
    register: Callable[[Worker, Resources], None],
    *,
    embedder: bool = False,
    tmdb: TMDBUse = "off",
    llm: bool = False,
) -> int:
    """Runs a service's stream handlers until SIGTERM; returns the exit code (0 also for a SIGTERM
    that arrives while it is still starting: see run_service)."""
    configure_logging(settings.log_level, settings.log_format)
    configure_tracing(service)
    serve_metrics(settings)

    async def main() -> None:
        async with open_resources(settings, embedder=embedder, tmdb=tmdb, llm=llm, require_redis=True) as resources:
            assert resources.redis is not None
            worker = create_worker(resources.redis, settings, service=service)
            register(worker, resources)
            await worker.run()

    try:
        run_service(service, main())
    except ConfigurationError as exc:
        log.error("service_not_started", service=service, error=str(exc))
        return 2
    return 0
