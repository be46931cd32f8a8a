"""Account routes of sign-up and sign-in: register, login, logout, logout-all, the session, password reset."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import APIRouter, BackgroundTasks, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError

from popchoice_gateway.accounts.rules import WeakPassword
from popchoice_gateway.accounts.schemas import (
    LoginIn,
    MessageOut,
    PasswordResetConfirmIn,
    PasswordResetIn,
    RegisterIn,
    SessionOut,
    UserOut,
)
from popchoice_gateway.accounts.service import (
    EmailTaken,
    InvalidCredentials,
    InvalidResetToken,
    NoSuchAccount,
    SignedIn,
    WrongPassword,
)
from popchoice_gateway.accounts.sessions import SESSION_COOKIE
from popchoice_gateway.accounts.throttle import TooManyAttempts
from popchoice_gateway.auth import client_address, new_csrf_token, set_csrf_cookie
from popchoice_gateway.handlers.common import (
    ERRORS,
    INVALID_INPUT,
    AuthenticatedCaller,
    MaybeCaller,
    State,
)
from popchoice_gateway.handlers.common import (
    SignedIn as SignedInCaller,
)
from popchoice_gateway.schemas import ErrorOut
from popchoice_gateway.state import GatewayState

router = APIRouter(tags=["auth"])

# Every browser write needs the CSRF pair: a signed-in browser without it gets 403.
CSRF_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    403: {"model": ErrorOut, "description": "The CSRF token is missing or does not match, or the Origin is foreign"},
    422: INVALID_INPUT,
}
SAME_ANSWER = "If an account exists for that address, we sent it a link to choose a new password."


@contextmanager
def account_errors(password_field: str = "password") -> Iterator[None]:
    """The service's typed errors as HTTP answers (none of them echoes a password or a token)."""
    try:
        yield
    except TooManyAttempts as exc:
        raise HTTPException(status_code=429, detail=exc.reason, headers={"Retry-After": str(exc.retry_after)}) from None
    except WeakPassword as exc:
        raise RequestValidationError(
            [{"type": "weak_password", "loc": ("body", password_field), "msg": f"The password {exc}."}]
        ) from None
    except EmailTaken:
        raise HTTPException(status_code=409, detail="An account with this e-mail already exists.") from None
    except InvalidCredentials:
        raise HTTPException(status_code=401, detail="The e-mail or password is not right.") from None
    except WrongPassword:
        raise HTTPException(status_code=403, detail="The current password is not right.") from None
    except InvalidResetToken:
        raise HTTPException(status_code=400, detail="This reset link is not valid, was used, or has expired.") from None
    except NoSuchAccount:
        raise HTTPException(status_code=401, detail="Sign in first: this account no longer exists.") from None


def secure(request: Request, gateway: GatewayState) -> bool:
    return gateway.settings.secure_cookies or request.url.scheme == "https"


def clear_session_cookie(response: Response, request: Request, gateway: GatewayState) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=secure(request, gateway))


def start_session(request: Request, response: Response, gateway: GatewayState, signed: SignedIn) -> str:
    """Sets the new session's cookie and a fresh CSRF pair; returns the CSRF token."""
    response.set_cookie(
        SESSION_COOKIE,
        signed.session_id,
        max_age=gateway.accounts.sessions.cookie_max_age(),
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure(request, gateway),
    )
    csrf = new_csrf_token()
    set_csrf_cookie(response, csrf, secure=secure(request, gateway))
    response.headers["Cache-Control"] = "no-store"
    return csrf


def _signed_in(request: Request, response: Response, gateway: GatewayState, signed: SignedIn) -> SessionOut:
    """Sets the new session's cookie and a fresh CSRF pair (the token is also in the body)."""
    csrf = start_session(request, response, gateway, signed)
    user = signed.user
    return SessionOut(
        signedIn=True,
        user=UserOut(id=user.id, email=user.email, displayName=user.display_name, createdAt=user.created_at),
        expiresAt=signed.expires_at,
        csrfToken=csrf,
    )


@router.post(
    "/api/auth/register",
    status_code=201,
    response_model=SessionOut,
    responses={**CSRF_ERRORS, 409: {"model": ErrorOut, "description": "The e-mail has an account"}},
)
async def register(
    body: RegisterIn, request: Request, response: Response, gateway: State, who: AuthenticatedCaller
) -> SessionOut:
    """Creates an account and signs it in (the session cookie; a session the browser had ends). From a
    browser, send the CSRF pair."""
    with account_errors():
        signed = await gateway.accounts.register(
            body.email,
            body.password,
            body.displayName,
            address=client_address(request),
            previous_session=request.cookies.get(SESSION_COOKIE) or None,
        )
    return _signed_in(request, response, gateway, signed)


@router.post(
    "/api/auth/login",
    response_model=SessionOut,
    responses={**CSRF_ERRORS, 401: {"model": ErrorOut, "description": "Wrong e-mail or password, or no credentials"}},
)
async def login(
    body: LoginIn, request: Request, response: Response, gateway: State, who: AuthenticatedCaller
) -> SessionOut:
    """Signs in: a new session id in the session cookie (any session the browser had ends). Unknown
    e-mails and wrong passwords get the same answer. Repeated failures lock the account for a while
    (429 with Retry-After)."""
    with account_errors():
        signed = await gateway.accounts.login(
            body.email,
            body.password,
            address=client_address(request),
            previous_session=request.cookies.get(SESSION_COOKIE) or None,
        )
    return _signed_in(request, response, gateway, signed)


@router.post("/api/auth/logout", status_code=204, response_class=Response, responses=CSRF_ERRORS)
async def logout(request: Request, gateway: State, who: AuthenticatedCaller) -> Response:
    """Ends this browser's session and clears its cookie."""
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id and who.session is not None:
        await gateway.accounts.logout(session_id)
    response = Response(status_code=204)
    clear_session_cookie(response, request, gateway)
    return response


@router.post("/api/auth/logout-all", status_code=204, response_class=Response, responses=CSRF_ERRORS)
async def logout_all(request: Request, gateway: State, who: SignedInCaller) -> Response:
    """Ends every session of the signed-in account, this one included."""
    assert who.user_id is not None  # SignedIn guarantees it
    await gateway.accounts.logout_all(who.user_id)
    response = Response(status_code=204)
    clear_session_cookie(response, request, gateway)
    return response


@router.get("/api/auth/session", response_model=SessionOut)
async def session(response: Response, gateway: State, who: MaybeCaller) -> SessionOut:
    """Who the browser is signed in as (signedIn false when nobody)."""
    response.headers["Cache-Control"] = "no-store"
    if who is None or who.user_id is None:
        return SessionOut(signedIn=False)
    try:
        user = await gateway.accounts.user(who.user_id)
    except NoSuchAccount:
        return SessionOut(signedIn=False)
    return SessionOut(
        signedIn=True,
        user=UserOut(id=user.id, email=user.email, displayName=user.display_name, createdAt=user.created_at),
    )


@router.post("/api/auth/password-reset", status_code=202, response_model=MessageOut, responses=CSRF_ERRORS)
async def password_reset(
    body: PasswordResetIn, request: Request, background: BackgroundTasks, gateway: State, who: AuthenticatedCaller
) -> MessageOut:
    """Mails a single-use link to choose a new password, if the address has an account. The answer is
    the same whether it has one or not."""
    with account_errors():
        mail = await gateway.accounts.request_reset(body.email, address=client_address(request))
    if mail is not None:
        background.add_task(gateway.accounts.send_reset, mail)
    return MessageOut(detail=SAME_ANSWER)


@router.post(
    "/api/auth/password-reset/confirm",
    response_model=MessageOut,
    responses={**CSRF_ERRORS, 400: {"model": ErrorOut, "description": "The token is unknown, used or expired"}},
)
async def password_reset_confirm(
    body: PasswordResetConfirmIn, request: Request, gateway: State, who: AuthenticatedCaller
) -> MessageOut:
    """Sets a new password with a reset link's token (once). Every session of the account ends."""
    with account_errors():
        await gateway.accounts.confirm_reset(body.token, body.password, address=client_address(request))
    return MessageOut(detail="Your password was changed. Sign in with the new one.")
