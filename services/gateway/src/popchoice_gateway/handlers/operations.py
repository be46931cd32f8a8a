"""Operations routes: health, metrics and the AsyncAPI document."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from popchoice_common.asyncapi import asyncapi_document
from popchoice_gateway import repository as gateway_repository
from popchoice_gateway.handlers.common import State
from popchoice_gateway.schemas import HealthOut

router = APIRouter()


@router.get("/api/health", response_model=HealthOut, responses={503: {"model": HealthOut}}, tags=["operations"])
async def health(gateway: State) -> JSONResponse:
    """200 when PostgreSQL (and Redis, when configured) answer within a second; 503 naming what failed."""
    checks: dict[str, str] = {}
    try:
        await asyncio.wait_for(gateway_repository.ping(gateway.pool), 1.0)
        checks["postgres"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure is the answer
        checks["postgres"] = f"failed: {type(exc).__name__}"
    if gateway.redis is not None:
        try:
            await asyncio.wait_for(gateway.redis.ping(), 1.0)
            checks["redis"] = "ok"
        except Exception as exc:  # noqa: BLE001
            checks["redis"] = f"failed: {type(exc).__name__}"
    healthy = all(value == "ok" for value in checks.values())
    return JSONResponse(
        HealthOut(status="ok" if healthy else "degraded", checks=checks).model_dump(),
        status_code=200 if healthy else 503,
        headers={"Cache-Control": "no-store"},
    )


@router.get("/metrics", tags=["operations"], response_class=Response)
async def metrics() -> Response:
    """Prometheus metrics of this process."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


@router.get("/asyncapi.json", tags=["operations"])
async def asyncapi(gateway: State) -> JSONResponse:
    """The AsyncAPI 3.0 document of the job streams."""
    return JSONResponse(asyncapi_document(gateway.settings.stream_key_prefix))
