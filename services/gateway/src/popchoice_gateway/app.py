"""``popchoice-gateway``: the browser's HTTP API (FastAPI under uvicorn)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import structlog
import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from popchoice_common.calibration import calibration_for
from popchoice_common.logs import configure_logging, get_logger
from popchoice_common.recommendation.pipeline import RecommendationPipeline
from popchoice_common.service import open_resources
from popchoice_gateway.auth import RateLimiter
from popchoice_gateway.config import GatewaySettings
from popchoice_gateway.handlers import router
from popchoice_gateway.service import RecommendationService
from popchoice_gateway.state import GatewayState

log = get_logger(__name__)

DESCRIPTION = """The PopChoice API: a quiz in, movie picks out.

Authenticate with an API key (`Authorization: Bearer <key>` or `X-API-Key`), or from a same-origin
browser with the `__csrf` cookie echoed in `X-CSRF-Token` (see `GET /api/csrf`). The job streams'
AsyncAPI document is at `/asyncapi.json`."""


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        inline = settings.redis_url is None
        # Without Redis the gateway runs the pipeline itself, so it needs the embedder and TMDB.
        async with open_resources(settings, embedder=inline, tmdb="optional" if inline else "off", llm=True) as res:
            pipeline = (
                RecommendationPipeline(
                    pool=res.pool,
                    embedder=res.require_embedder(),
                    settings=settings,
                    tmdb=res.tmdb,
                    llm=res.llm,
                    publisher=None,
                )
                if inline
                else None
            )
            service = RecommendationService(res.pool, res.publisher, pipeline)
            app.state.gateway = GatewayState(
                settings=settings,
                pool=res.pool,
                redis=res.redis,
                service=service,
                rate_limiter=RateLimiter(
                    res.redis, prefix=settings.stream_key_prefix, per_minute=settings.rate_limit_per_minute
                ),
                llm=res.llm,
                ceiling=calibration_for(settings.embedding.model_id).similarity_ceiling,
            )
            log.info("gateway_started", inline=inline)
            try:
                yield
            finally:
                await service.aclose()

    app = FastAPI(title="PopChoice", version="0.1.0", description=DESCRIPTION, lifespan=lifespan)
    app.include_router(router)

    @app.middleware("http")
    async def limit_body_and_bind(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > settings.max_request_bytes):
            return JSONResponse({"detail": f"Request body over {settings.max_request_bytes} bytes."}, status_code=413)
        if request.method in ("POST", "PUT", "PATCH") and length is None:
            body = await request.body()
            if len(body) > settings.max_request_bytes:
                return JSONResponse(
                    {"detail": f"Request body over {settings.max_request_bytes} bytes."}, status_code=413
                )
        with structlog.contextvars.bound_contextvars(path=request.url.path, method=request.method):
            return await call_next(request)

    return app


def main() -> int:
    """Serves the API on GATEWAY_HOST:GATEWAY_PORT."""
    settings = GatewaySettings()
    configure_logging(settings.log_level, settings.log_format)
    uvicorn.run(create_app(settings), host=settings.gateway_host, port=settings.gateway_port, log_config=None)
    return 0
