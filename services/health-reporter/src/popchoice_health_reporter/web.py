"""The operator console's FastAPI app: its resources (lifespan), the headers every response carries, and
the dependencies every route uses: who is asking (Basic Auth), and for actions the CSRF token and the
read-only switch."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated
from urllib.parse import parse_qs, urlsplit

import asyncpg
import redis.asyncio as redis
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from popchoice_common.db import create_pool, resolve_database_url
from popchoice_common.errors import ConfigurationError
from popchoice_common.logs import get_logger
from popchoice_common.streams import Publisher, StreamKeys
from popchoice_common.streams.admin import StreamsAdmin
from popchoice_common.streams.runtime import create_redis
from popchoice_common.tmdb import TMDBClient, create_rate_limiter, create_tmdb_client
from popchoice_health_reporter.config import HealthSettings
from popchoice_health_reporter.formatting import datetime_text, duration_text, ms_time_text
from popchoice_health_reporter.operations import ActionRefused, Operations
from popchoice_health_reporter.security import (
    CsrfTokens,
    FailureLimiter,
    Operators,
    basic_credentials,
    security_headers,
)

log = get_logger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parent
TEMPLATES = Jinja2Templates(directory=str(PACKAGE_DIR / "templates"))
TEMPLATES.env.filters.update(duration_ms=duration_text, ms_time=ms_time_text, dt=datetime_text)
MAX_FORM_BYTES = 65_536


@dataclass
class Console:
    """Everything the console's routes use, created once per process by the lifespan."""

    settings: HealthSettings
    pool: asyncpg.Pool
    redis: redis.Redis
    admin: StreamsAdmin
    operations: Operations
    operators: Operators
    limiter: FailureLimiter
    csrf: CsrfTokens
    tmdb: TMDBClient | None


class SecurityHeaders:
    """Adds the security headers to every response, and no-store to every authenticated one (pure ASGI)."""

    def __init__(self, app: ASGIApp, *, image_origin: str) -> None:
        self.app = app
        self.headers = security_headers(image_origin)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                headers += [header for header in self.headers if header[0] not in names]
                if b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def image_origin(settings: HealthSettings) -> str:
    parts = urlsplit(settings.tmdb_image_base_url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def console_of(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


ConsoleDep = Annotated[Console, Depends(console_of)]


def client_id(request: Request) -> str:
    """Who a failure is counted against: the peer address (the console is not meant to sit behind a proxy)."""
    return request.client.host if request.client else "unknown"


async def require_operator(request: Request, console: ConsoleDep) -> str:
    """The signed-in operator's name; 401 with the Basic challenge, or 429 while this client is over the limit."""
    who = client_id(request)
    retry_after = await console.limiter.retry_after(who)
    if retry_after is not None:
        raise HTTPException(
            status_code=429,
            detail="Too many failed sign-ins from this address; try again later.",
            headers={"Retry-After": str(retry_after)},
        )
    credentials = basic_credentials(request.headers.get("authorization"))
    if credentials is not None and console.operators.verify(*credentials):
        request.state.operator = credentials[0]
        return credentials[0]
    if credentials is not None:
        await console.limiter.record_failure(who)
        log.warning("operator_sign_in_failed", client=who)
    realm = console.settings.operator_auth_realm.replace('"', "'")
    raise HTTPException(
        status_code=401,
        detail="Sign in as an operator.",
        headers={"WWW-Authenticate": f'Basic realm="{realm}", charset="UTF-8"'},
    )


OperatorDep = Annotated[str, Depends(require_operator)]


async def read_form(request: Request) -> dict[str, list[str]]:
    """The urlencoded form of a POST (forms only: no files), at most MAX_FORM_BYTES."""
    cached: dict[str, list[str]] | None = getattr(request.state, "form", None)
    if cached is not None:
        return cached
    content_type = request.headers.get("content-type", "").split(";")[0].strip()
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise HTTPException(status_code=413, detail=f"Form over {MAX_FORM_BYTES} bytes.")
    if content_type not in ("application/x-www-form-urlencoded", ""):
        raise HTTPException(status_code=415, detail="Send the form urlencoded.")
    try:
        form = parse_qs(body.decode(), keep_blank_values=True, max_num_fields=2000)
    except (UnicodeDecodeError, ValueError) as exc:
        raise HTTPException(status_code=400, detail="The form could not be read.") from exc
    request.state.form = form
    return form


FormDep = Annotated[dict[str, list[str]], Depends(read_form)]


async def require_action(request: Request, console: ConsoleDep, operator: OperatorDep, form: FormDep) -> str:
    """An operator allowed to change state: not read-only, same origin, with this operator's CSRF token."""
    if console.settings.operator_read_only:
        raise HTTPException(status_code=403, detail="The console is read-only (OPERATOR_READ_ONLY).")
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host", ""):
        raise HTTPException(status_code=403, detail="Cross-origin request refused.")
    token = request.headers.get("x-csrf-token") or next(iter(form.get("csrf_token", [])), None)
    if not console.csrf.check(operator, token):
        raise HTTPException(status_code=403, detail="Missing or wrong CSRF token: reload the page and try again.")
    return operator


ActorDep = Annotated[str, Depends(require_action)]


def render(request: Request, template: str, context: dict[str, object], *, status_code: int = 200) -> HTMLResponse:
    """A page: the template with what every page shows (operator, CSRF token, read-only, the page's path)."""
    console = console_of(request)
    operator: str = getattr(request.state, "operator", "")
    base = {
        "operator": operator,
        "csrf_token": console.csrf.token_for(operator) if operator else "",
        "read_only": console.settings.operator_read_only,
        "path": request.url.path,
    }
    return TEMPLATES.TemplateResponse(request, template, {**base, **context}, status_code=status_code)


def _error_response(request: Request, status_code: int, message: str, headers: Mapping[str, str] | None) -> Response:
    wants_html = "text/html" in request.headers.get("accept", "") and status_code not in (401, 429)
    if wants_html and getattr(request.state, "operator", None):
        response: Response = render(
            request, "error.html", {"status": status_code, "message": message}, status_code=status_code
        )
    else:
        response = JSONResponse({"detail": message}, status_code=status_code)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


@asynccontextmanager
async def lifespan_for(
    settings: HealthSettings, app: FastAPI, streams: Sequence[str] | None = None
) -> AsyncIterator[None]:
    if settings.redis_url is None:
        raise ConfigurationError("the operator console needs REDIS_URL (the job streams)")
    operators, generated = Operators.from_settings(settings)
    client = create_redis(settings)
    pool = await create_pool(resolve_database_url(settings), min_size=1, max_size=5)
    tmdb = create_tmdb_client(settings, create_rate_limiter(settings, client))
    keys = StreamKeys(settings.stream_key_prefix)
    admin = StreamsAdmin(client, keys, streams=streams)
    app.state.console = Console(
        settings=settings,
        pool=pool,
        redis=client,
        admin=admin,
        operations=Operations(pool, admin, Publisher(client, keys), tmdb, image_base_url=settings.tmdb_image_base_url),
        operators=operators,
        limiter=FailureLimiter(
            client,
            settings.stream_key_prefix,
            max_failures=settings.operator_auth_max_failures,
            window_seconds=settings.operator_auth_failure_window_seconds,
        ),
        csrf=await CsrfTokens.shared(client, settings.stream_key_prefix),
        tmdb=tmdb,
    )
    if generated is not None:
        # Printed once, to the terminal only: never logged (logs are collected and kept).
        print(
            f"Operator console: no OPERATOR_AUTH_* set; sign in as 'operator' with password {generated}",
            flush=True,
        )
    log.info(
        "operator_console_started",
        host=settings.operator_console_host,
        port=settings.operator_console_port,
        operators=len(operators.hashes),
        read_only=settings.operator_read_only,
    )
    try:
        yield
    finally:
        if tmdb is not None:
            await tmdb.aclose()
        await pool.close()
        await client.aclose()


def create_app(settings: HealthSettings, *, streams: Sequence[str] | None = None) -> FastAPI:
    """The console app; its routes are in handlers.py. streams: the streams it shows (default: every event's)."""
    from popchoice_health_reporter.handlers import public_router, router

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with lifespan_for(settings, app, streams):
            yield

    app = FastAPI(
        title="PopChoice operator console", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.include_router(public_router)
    app.include_router(router)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        return _error_response(request, exc.status_code, str(exc.detail), exc.headers)

    @app.exception_handler(ActionRefused)
    async def refused(request: Request, exc: ActionRefused) -> Response:
        return _error_response(request, exc.status, str(exc), None)

    app.add_middleware(SecurityHeaders, image_origin=image_origin(settings))
    return app
