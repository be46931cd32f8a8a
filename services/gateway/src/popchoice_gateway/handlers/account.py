"""The account's own routes: read it (with history and memory counts), change it, export it, delete it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from popchoice_gateway.accounts.schemas import (
    AccountDeleteIn,
    AccountOut,
    AccountPatchIn,
    ExportOut,
    HistoryItemOut,
    HistoryPageOut,
    UserOut,
)
from popchoice_gateway.accounts.sessions import SESSION_COOKIE
from popchoice_gateway.handlers.auth import CSRF_ERRORS, account_errors, clear_session_cookie
from popchoice_gateway.handlers.common import ERRORS, SignedIn, State
from popchoice_gateway.schemas import ErrorOut

router = APIRouter(tags=["account"])
WRONG_PASSWORD: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorOut, "description": "The password is not right, or the CSRF check failed"}
}


@router.get("/api/account", response_model=AccountOut, responses=ERRORS)
async def account(
    gateway: State,
    who: SignedIn,
    response: Response,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    pageSize: Annotated[int, Query(ge=1, le=100)] = 20,  # noqa: N803 - the wire format
) -> AccountOut:
    """The signed-in account: e-mail, display name, when it was created, its recommendations (newest
    first, paged) and how many films its movie memory holds per kind."""
    assert who.user_id is not None
    response.headers["Cache-Control"] = "no-store"
    with account_errors():
        view = await gateway.accounts.view(who.user_id, page=page, page_size=pageSize)
    return AccountOut(
        email=view.user.email,
        displayName=view.user.display_name,
        createdAt=view.user.created_at,
        history=HistoryPageOut(
            items=[
                HistoryItemOut(
                    id=row.id,
                    slug=row.slug,
                    status=row.status,
                    createdAt=row.created_at,
                    title=row.title,
                    pickCount=row.pick_count,
                )
                for row in view.history
            ],
            page=page,
            pageSize=pageSize,
            total=view.history_total,
        ),
        memoryCounts=view.memory,
    )


@router.patch("/api/account", response_model=UserOut, responses={**CSRF_ERRORS, **WRONG_PASSWORD})
async def update_account(body: AccountPatchIn, request: Request, gateway: State, who: SignedIn) -> UserOut:
    """Changes the display name (null removes it) and/or the password: `newPassword` with
    `currentPassword`. A new password ends every other session of the account."""
    assert who.user_id is not None
    if body.newPassword is not None and body.currentPassword is None:
        raise RequestValidationError(
            [{"type": "missing", "loc": ("body", "currentPassword"), "msg": "Needed to set a new password."}]
        )
    with account_errors("newPassword"):
        user = await gateway.accounts.update(
            who.user_id,
            display_name=body.displayName,
            set_display_name="displayName" in body.model_fields_set,
            current_password=body.currentPassword,
            new_password=body.newPassword,
            keep_session=request.cookies.get(SESSION_COOKIE) if who.session else None,
        )
    return UserOut(id=user.id, email=user.email, displayName=user.display_name, createdAt=user.created_at)


@router.delete("/api/account", status_code=204, response_class=Response, responses={**CSRF_ERRORS, **WRONG_PASSWORD})
async def delete_account(body: AccountDeleteIn, request: Request, gateway: State, who: SignedIn) -> Response:
    """Deletes the account, confirmed by its password: its sessions, API keys, movie memory and feedback
    go with it; its recommendations stay, no longer linked to anyone, so shared links keep working."""
    assert who.user_id is not None
    with account_errors():
        await gateway.accounts.delete(who.user_id, body.password)
    response = Response(status_code=204)
    clear_session_cookie(response, request, gateway)
    return response


@router.get("/api/account/export", response_model=ExportOut, responses=ERRORS)
async def export_account(gateway: State, who: SignedIn) -> JSONResponse:
    """Everything stored about the account as one JSON document: the account, sessions (times only),
    API keys (names and times), reset requests (times), recommendations with their quizzes and picks,
    feedback and the movie memory."""
    assert who.user_id is not None
    with account_errors():
        document = await gateway.accounts.export(who.user_id)
    return JSONResponse(
        document,
        headers={"Content-Disposition": 'attachment; filename="popchoice-account.json"', "Cache-Control": "no-store"},
    )
