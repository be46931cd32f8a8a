"""What every route module shares: the gateway state, who is calling, and the documented error answers."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request

from popchoice_gateway.auth import Caller, authenticate, origin_of
from popchoice_gateway.schemas import ErrorOut, InvalidInputOut
from popchoice_gateway.state import GatewayState

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "The body is not valid JSON"},
    401: {"model": ErrorOut, "description": "Authentication required"},
    413: {"model": ErrorOut, "description": "Request body too large"},
    429: {"model": ErrorOut, "description": "Rate limited (see Retry-After)"},
}
INVALID_INPUT: dict[str, Any] = {
    "model": InvalidInputOut,
    "description": "Invalid input, or an answer refused by screening (prompt injection, or flagged by moderation): "
    'one error per field, whose `loc` names it (e.g. `["body", 1, "moodPreference", 2]`) and whose `type` is '
    "`refused` for a refused answer.",
}


async def state(request: Request) -> GatewayState:
    # async: FastAPI runs a plain def dependency in its thread pool, a thread hand-off per request.
    gateway: GatewayState = request.app.state.gateway
    return gateway


State = Annotated[GatewayState, Depends(state)]


async def _authenticate(request: Request, gateway: GatewayState) -> Caller:
    return await authenticate(
        request, gateway.api_keys, gateway.accounts.sessions, origin_of(gateway.settings.public_base_url)
    )


async def caller(request: Request, gateway: State) -> Caller:
    return await _authenticate(request, gateway)


async def optional_caller(request: Request, gateway: State) -> Caller | None:
    try:
        return await _authenticate(request, gateway)
    except HTTPException:
        return None


AuthenticatedCaller = Annotated[Caller, Depends(caller)]
MaybeCaller = Annotated[Caller | None, Depends(optional_caller)]


async def signed_in(who: AuthenticatedCaller) -> Caller:
    """The caller, who must act for a user (a signed-in session, or an API key bound to a user)."""
    if who.user_id is None:
        raise HTTPException(status_code=401, detail="Sign in first: this route acts on an account.")
    return who


SignedIn = Annotated[Caller, Depends(signed_in)]


async def signed_in_user(who: SignedIn) -> uuid.UUID:
    """The id of the person the caller acts for (401 as SignedIn when none)."""
    assert who.user_id is not None  # SignedIn refused a caller without one
    return who.user_id


SignedInUser = Annotated[uuid.UUID, Depends(signed_in_user)]
