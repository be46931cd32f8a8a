"""``popchoice-gateway``: the browser's HTTP API (FastAPI under uvicorn)."""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from popchoice_common.bootstrap import open_resources
from popchoice_common.db import create_pool, resolve_database_url
from popchoice_common.logs import configure_logging, get_logger
from popchoice_common.recommendation.calibration import calibration_for
from popchoice_common.recommendation.pipeline import RecommendationPipeline
from popchoice_gateway import repository
from popchoice_gateway.auth import ApiKeys, RateLimiter, key_digest
from popchoice_gateway.config import GatewaySettings
from popchoice_gateway.docs import install_docs
from popchoice_gateway.handlers import pages, router
from popchoice_gateway.progress import ProgressListener
from popchoice_gateway.service import RecommendationService
from popchoice_gateway.state import GatewayState

log = get_logger(__name__)

DESCRIPTION = """The PopChoice API: a quiz in, movie picks out.

Authenticate with an API key (`Authorization: Bearer <key>` or `X-API-Key`), or from a same-origin
browser with the `__csrf` cookie echoed in `X-CSRF-Token` (see `GET /api/csrf`). The job streams'
AsyncAPI document is at `/asyncapi.json`."""


class BodyLimit:
    """Refuses bodies over max_bytes with 413, by Content-Length or while streaming (pure ASGI: no per-request task)."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def _refuse(self, send: Send) -> None:
        body = json.dumps({"detail": f"Request body over {self.max_bytes} bytes."}).encode()
        await send({"type": "http.response.start", "status": 413, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await self._refuse(send)
            return
        if length is not None:
            await self.app(scope, receive, send)
            return
        # No Content-Length (chunked): read the body here, refusing it as soon as it grows too large.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                await self._refuse(send)
                return
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        inline = settings.redis_url is None
        # The gateway runs the pipeline for the synchronous route, and for everything without Redis.
        async with open_resources(settings, embedder=True, tmdb="optional", llm=True) as res:
            pipeline = RecommendationPipeline(
                pool=res.pool,
                embedder=res.require_embedder(),
                settings=settings,
                tmdb=res.tmdb,
                llm=res.llm,
                publisher=res.publisher,
            )
            progress = ProgressListener()
            await progress.start(resolve_database_url(settings))
            service = RecommendationService(res.pool, res.publisher, pipeline, progress)
            app.state.gateway = GatewayState(
                settings=settings,
                pool=res.pool,
                redis=res.redis,
                service=service,
                rate_limiter=RateLimiter(
                    res.redis, prefix=settings.stream_key_prefix, per_minute=settings.rate_limit_per_minute
                ),
                title_rate_limiter=RateLimiter(
                    res.redis,
                    prefix=settings.stream_key_prefix,
                    per_minute=settings.title_search_per_minute,
                    detail="Too many title searches; try again shortly.",
                ),
                llm=res.llm,
                ceiling=calibration_for(settings.embedding.model_id).similarity_ceiling,
                progress=progress,
                api_keys=ApiKeys(res.pool),
            )
            log.info("gateway_started", inline=inline)
            try:
                yield
            finally:
                await service.aclose()
                await progress.stop()

    app = FastAPI(
        title="PopChoice", version="0.1.0", description=DESCRIPTION, lifespan=lifespan, docs_url=None, redoc_url=None
    )
    app.include_router(router)
    app.mount(pages.ASSET_PREFIX, pages.assets(), name="assets")
    install_docs(app)

    app.add_middleware(BodyLimit, max_bytes=settings.max_request_bytes)
    return app


async def _create_api_key(settings: GatewaySettings, name: str, email: str | None) -> str:
    """A new API key (printed once; only its digest is stored), acting for the user with that e-mail."""
    key = f"pc_{secrets.token_urlsafe(32)}"
    pool = await create_pool(resolve_database_url(settings), min_size=1, max_size=1)
    try:
        async with pool.acquire() as connection, connection.transaction():
            user_id = await repository.user_by_email(connection, email) if email else None
            await repository.insert_api_key(connection, name, key_digest(key), user_id)
    finally:
        await pool.close()
    return key


def main(argv: list[str] | None = None) -> int:
    """Serves the API on GATEWAY_HOST:GATEWAY_PORT; `create-api-key NAME [--user-email E]` makes a key."""
    parser = argparse.ArgumentParser(prog="popchoice-gateway", description="The PopChoice HTTP API.")
    commands = parser.add_subparsers(dest="command")
    create = commands.add_parser("create-api-key", help="create an API key and print it (shown only once)")
    create.add_argument("name")
    create.add_argument("--user-email", help="the key acts for this user (created when new)")
    args = parser.parse_args(argv)
    settings = GatewaySettings()
    if args.command == "create-api-key":
        configure_logging(settings.log_level, settings.log_format, stream=sys.stderr)
        print(asyncio.run(_create_api_key(settings, args.name, args.user_email)))
        return 0
    configure_logging(settings.log_level, settings.log_format)
    uvicorn.run(create_app(settings), host=settings.gateway_host, port=settings.gateway_port, log_config=None)
    return 0
