"""The public title search behind the quiz's autocomplete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from popchoice_common.catalog.repository import search_titles
from popchoice_gateway.handlers.common import State
from popchoice_gateway.schemas import ErrorOut, TitleOut, Trimmed

router = APIRouter()


@router.get(
    "/api/titles",
    response_model=list[TitleOut],
    responses={
        422: {"description": "q shorter than 2 or longer than 100 characters, or with control characters"},
        429: {"model": ErrorOut},
    },
    tags=["catalog"],
)
async def titles(
    request: Request,
    gateway: State,
    q: Annotated[
        Trimmed, Query(min_length=2, max_length=100, description="Part of a title; typos and accents are fine.")
    ],
    limit: Annotated[int, Query(ge=1, le=10)] = 8,
) -> JSONResponse:
    """Catalog films whose title is like q, best match first (public: no sign-in; rate-limited per client
    address to TITLE_SEARCH_PER_MINUTE requests a minute)."""
    host = request.client.host if request.client else "unknown"
    await gateway.title_rate_limiter.check(f"titles:{host}")
    async with gateway.pool.acquire() as connection:
        found = await search_titles(connection, q, limit=limit)
    body = [TitleOut(id=match.id, name=match.name, year=match.year).model_dump() for match in found]
    # Answers change only when the catalog does: a short private cache spares retyped prefixes.
    return JSONResponse(body, headers={"Cache-Control": "private, max-age=60"})
