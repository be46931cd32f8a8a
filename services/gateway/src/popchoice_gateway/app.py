"""``popchoice-gateway``: the browser's HTTP API (FastAPI under uvicorn)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import re
import secrets
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import redis.asyncio as redis
import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from popchoice_common import tracing
from popchoice_common.bootstrap import open_resources
from popchoice_common.db import create_pool, resolve_database_url
from popchoice_common.errors import is_outage
from popchoice_common.logs import configure_logging, get_logger
from popchoice_common.recommendation.calibration import calibration_for
from popchoice_common.recommendation.pipeline import RecommendationPipeline
from popchoice_common.streams.outage import OutageLog
from popchoice_gateway import repository
from popchoice_gateway.accounts.mail import Mailer, OutboxMailer, SmtpMailer
from popchoice_gateway.accounts.passwords import Passwords
from popchoice_gateway.accounts.service import AccountService
from popchoice_gateway.accounts.sessions import Sessions
from popchoice_gateway.accounts.throttle import AuthThrottle
from popchoice_gateway.auth import ApiKeys, RateLimiter, key_digest
from popchoice_gateway.config import GatewaySettings
from popchoice_gateway.docs import install_docs
from popchoice_gateway.handlers import pages, router
from popchoice_gateway.progress import ProgressListener
from popchoice_gateway.service import RecommendationService
from popchoice_gateway.state import GatewayState

log = get_logger(__name__)

DESCRIPTION = """The PopChoice API: a quiz in, movie picks out.

Authenticate with an API key (`Authorization: Bearer <key>` or `X-API-Key`), with a session (the
`__session` cookie set by `POST /api/auth/login` or `/api/auth/register`), or as an anonymous
same-origin browser with the `__csrf` cookie echoed in `X-CSRF-Token` (see `GET /api/csrf`). A
browser's writes (any method but GET, HEAD, OPTIONS) need that CSRF pair (the token may also come as
a `csrf_token` form field) and, when it sends an Origin, this site's; API keys are exempt. The job
streams' AsyncAPI document is at `/asyncapi.json`."""


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


class OutageAnswers:
    """A request that fails because PostgreSQL or Redis is not answering gets 503 JSON with Retry-After
    (not a 500 text/plain), and each outage is logged once when it starts and once when it ends."""

    def __init__(self, app: ASGIApp, *, retry_after_seconds: int = 5) -> None:
        self.app = app
        self.retry_after = str(retry_after_seconds)
        self.outages = {name: OutageLog(name, service="gateway") for name in ("postgres", "redis")}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if message["status"] < 500:
                    for outage in self.outages.values():
                        if outage.down:
                            outage.succeeded()
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            if started or not is_outage(exc):
                raise
            self.outages["redis" if isinstance(exc, RedisError) else "postgres"].failed(exc, path=scope["path"])
            body = json.dumps({"detail": "The service is briefly unavailable; try again shortly."}).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 503,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"retry-after", self.retry_after.encode()),
                        (b"cache-control", b"no-store"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422 without the rejected values: an error names the field and the reason, and never
    echoes what was sent (a password, a token)."""
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"type": error.get("type", "value_error"), "loc": loc, "msg": error.get("msg", "")}
        for error in exc.errors()
        if (loc := _body_loc(list(error.get("loc", ())), exc.body)) is not None
    ]
    return JSONResponse({"detail": errors}, status_code=422)


def _body_loc(loc: list[Any], body: Any) -> list[Any] | None:
    """The loc as documented (``["body", 1, "moodPreference", 2]``): a body that is one object or a list
    of them (the quiz) makes pydantic name the union branch after "body" and report both branches. The
    branch the body took keeps its errors, without the branch's name; the other's are dropped (None)."""
    if len(loc) < 2 or loc[0] != "body" or not isinstance(loc[1], str) or not _UNION_BRANCH.match(loc[1]):
        return loc
    if loc[1].startswith("list[") != isinstance(body, list):
        return None
    return [loc[0], *loc[2:]]


#: pydantic's names of union branches (a model, or list[Model]); the product's field names are camelCase.
_UNION_BRANCH = re.compile(r"^(list\[)?[A-Z][A-Za-z0-9]*\]?$")


async def _sweep_hourly(accounts: AccountService) -> None:
    """Ended sessions and expired reset tokens are deleted at start-up and every hour."""
    while True:
        try:
            await accounts.sweep()
        except Exception as exc:  # noqa: BLE001 - housekeeping: log and try again next hour
            log.warning("stale_credentials_sweep_failed", error=type(exc).__name__)
        await asyncio.sleep(3600)


def build_accounts(settings: GatewaySettings, pool: asyncpg.Pool, redis_client: redis.Redis | None) -> AccountService:
    """The accounts service with its passwords, sessions, abuse limits and mail, from the settings."""
    mailer: Mailer = (
        SmtpMailer(settings.smtp_url.get_secret_value(), timeout_seconds=settings.smtp_timeout_seconds)
        if settings.smtp_url is not None
        else OutboxMailer(settings.data_dir / "outbox")
    )
    return AccountService(
        pool,
        passwords=Passwords(
            time_cost=settings.password_hash_time_cost,
            memory_kib=settings.password_hash_memory_kib,
            parallelism=settings.password_hash_parallelism,
        ),
        sessions=Sessions(
            pool,
            idle=dt.timedelta(minutes=settings.session_idle_minutes),
            absolute=dt.timedelta(hours=settings.session_absolute_hours),
        ),
        throttle=AuthThrottle(
            redis_client,
            prefix=settings.stream_key_prefix,
            window_seconds=settings.auth_rate_limit_window_seconds,
            per_address=settings.auth_rate_limit_per_address,
            per_account=settings.auth_rate_limit_per_account,
            backoff_base_seconds=settings.login_backoff_base_seconds,
            backoff_max_seconds=settings.login_backoff_max_seconds,
        ),
        mailer=mailer,
        public_base_url=settings.public_base_url,
        mail_from=settings.mail_from,
        reset_token_ttl=dt.timedelta(minutes=settings.password_reset_token_minutes),
    )


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
                accounts=build_accounts(settings, res.pool, res.redis),
            )
            sweeper = asyncio.create_task(_sweep_hourly(app.state.gateway.accounts))
            log.info("gateway_started", inline=inline)
            try:
                yield
            finally:
                sweeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sweeper
                await service.aclose()
                await progress.stop()

    app = FastAPI(
        title="PopChoice", version="0.1.0", description=DESCRIPTION, lifespan=lifespan, docs_url=None, redoc_url=None
    )
    app.router.routes.extend(router.routes)  # the routes themselves (handlers/__init__.py says why)
    app.mount(pages.ASSET_PREFIX, pages.assets(), name="assets")
    install_docs(app)
    app.add_exception_handler(RequestValidationError, validation_error)

    app.add_middleware(BodyLimit, max_bytes=settings.max_request_bytes)
    app.add_middleware(OutageAnswers)
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
    tracing.configure_tracing("gateway")
    uvicorn.run(create_app(settings), host=settings.gateway_host, port=settings.gateway_port, log_config=None)
    return 0
