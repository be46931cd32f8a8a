"""The account's pages and their forms: sign up, sign in, sign out (here or everywhere), a forgotten
password (ask for the mail, then choose a new one from its link), the account page (history, the
movie-memory trainer, deletion), and the form behind a pick's feedback buttons.

Plain HTML forms that work without JS: each POST checks the CSRF pair (the form's csrf_token field and
the Origin), calls the same service as the JSON API, then redirects (303), or shows the form again with
each error next to its field."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, cast
from urllib.parse import quote

from fastapi import APIRouter, BackgroundTasks, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from popchoice_common.logs import get_logger
from popchoice_common.recommendation import repository
from popchoice_common.recommendation.memory import FeedbackKind, MemoryKind
from popchoice_gateway import movie_memory
from popchoice_gateway.account_forms import FormErrors, parse, retry_in, weak_password
from popchoice_gateway.accounts.rules import WeakPassword
from popchoice_gateway.accounts.schemas import (
    AccountDeleteIn,
    LoginIn,
    PasswordResetConfirmIn,
    PasswordResetIn,
    RegisterIn,
)
from popchoice_gateway.accounts.service import (
    EmailTaken,
    InvalidCredentials,
    InvalidResetToken,
    NoSuchAccount,
    WrongPassword,
)
from popchoice_gateway.accounts.sessions import SESSION_COOKIE
from popchoice_gateway.accounts.throttle import TooManyAttempts
from popchoice_gateway.auth import client_address, csrf_failure, origin_of
from popchoice_gateway.handlers.auth import clear_session_cookie, start_session
from popchoice_gateway.handlers.common import State
from popchoice_gateway.handlers.pages import PageTranslator, PageViewer, local_path, render
from popchoice_gateway.i18n import Translator
from popchoice_gateway.pages import FEEDBACK_KINDS, MEMORY_KINDS, Viewer
from popchoice_gateway.schemas import MemoryPageOut
from popchoice_gateway.state import GatewayState

log = get_logger(__name__)

router = APIRouter(include_in_schema=False)
#: Recommendations per page of the account's history, films per page of the stored memory, films in the deck.
HISTORY_PAGE = 10
MEMORY_PAGE = 10
DECK_SIZE = 6
#: The one-line notices the sign-in page shows after an action sends the person there.
NOTICES = ("signed_out", "signed_out_everywhere", "password_changed")
FormText = Annotated[str, Form()]
Next = Annotated[str | None, Query(max_length=500)]


def _form_page(
    gateway: GatewayState,
    template: str,
    t: Translator,
    request: Request,
    *,
    errors: FormErrors | None = None,
    status_code: int = 200,
    **values: Any,
) -> HTMLResponse:
    return render(
        gateway,
        template,
        t,
        request,
        personal=True,
        forms=True,
        errors=errors or FormErrors(),
        status_code=status_code,
        **values,
    )


async def _csrf_refused(request: Request, gateway: GatewayState) -> bool:
    reason = await csrf_failure(request, origin_of(gateway.settings.public_base_url))
    if reason is not None:
        log.info("page_form_refused", path=request.url.path, reason=reason)
    return reason is not None


def _expired(t: Translator) -> FormErrors:
    return FormErrors(form=t("forms.expired"))


def _invalid(form: str, errors: FormErrors) -> None:
    log.info("page_form_invalid", form=form, fields=sorted(errors.fields))


def _problem(
    gateway: GatewayState, t: Translator, request: Request, person: Viewer | None, message: str, status_code: int
) -> HTMLResponse:
    """An action that could not be done (a stale form, a film or pick that is not there): said politely."""
    return render(
        gateway, "problem.html", t, request, personal=True, viewer=person, message=message, status_code=status_code
    )


def _to_sign_in(request: Request) -> RedirectResponse:
    target = request.url.path if request.method == "GET" else "/account"
    return RedirectResponse(f"/signin?next={target}", status_code=303)


# Sign in and sign up


@router.get("/signin")
async def signin_page(
    request: Request,
    gateway: State,
    t: PageTranslator,
    person: PageViewer,
    next: Next = None,
    notice: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    if person is not None:
        return RedirectResponse(local_path(next) if next else "/account", status_code=303)
    return _form_page(
        gateway,
        "signin.html",
        t,
        request,
        values={"email": ""},
        next=local_path(next) if next else "",
        notice=notice if notice in NOTICES else None,
    )


@router.post("/signin")
async def signin(
    request: Request,
    gateway: State,
    t: PageTranslator,
    email: FormText = "",
    password: FormText = "",
    next: FormText = "",
) -> Response:
    def again(errors: FormErrors, status_code: int) -> HTMLResponse:
        return _form_page(
            gateway,
            "signin.html",
            t,
            request,
            errors=errors,
            status_code=status_code,
            values={"email": email},
            next=local_path(next) if next else "",
            notice=None,
        )

    if await _csrf_refused(request, gateway):
        return again(_expired(t), 403)
    login, errors = parse(LoginIn, {"email": email, "password": password}, t)
    if login is None:
        _invalid("signin", errors)
        return again(errors, 422)
    try:
        signed = await gateway.accounts.login(
            login.email,
            login.password,
            address=client_address(request),
            previous_session=request.cookies.get(SESSION_COOKIE) or None,
        )
    except TooManyAttempts as exc:
        return again(FormErrors(form=retry_in(exc.retry_after, t)), 429)
    except InvalidCredentials:
        return again(FormErrors(form=t("forms.wrong_credentials")), 401)
    response = RedirectResponse(local_path(next) if next else "/account", status_code=303)
    start_session(request, response, gateway, signed)
    return response


@router.get("/signup")
async def signup_page(request: Request, gateway: State, t: PageTranslator, person: PageViewer) -> Response:
    if person is not None:
        return RedirectResponse("/account", status_code=303)
    return _form_page(gateway, "signup.html", t, request, values={"email": "", "displayName": ""})


@router.post("/signup")
async def signup(
    request: Request,
    gateway: State,
    t: PageTranslator,
    email: FormText = "",
    password: FormText = "",
    displayName: FormText = "",  # noqa: N803 - named as the API's field, so its errors find their place
) -> Response:
    def again(errors: FormErrors, status_code: int) -> HTMLResponse:
        values = {"email": email, "displayName": displayName}
        return _form_page(gateway, "signup.html", t, request, errors=errors, status_code=status_code, values=values)

    if await _csrf_refused(request, gateway):
        return again(_expired(t), 403)
    registration, errors = parse(RegisterIn, {"email": email, "password": password, "displayName": displayName}, t)
    if registration is None:
        _invalid("signup", errors)
        return again(errors, 422)
    try:
        signed = await gateway.accounts.register(
            registration.email,
            registration.password,
            registration.displayName,
            address=client_address(request),
            previous_session=request.cookies.get(SESSION_COOKIE) or None,
        )
    except TooManyAttempts as exc:
        return again(FormErrors(form=retry_in(exc.retry_after, t)), 429)
    except WeakPassword as exc:
        _invalid("signup", FormErrors(fields={"password": exc.rule}))
        return again(FormErrors(fields={"password": weak_password(exc, t)}), 422)
    except EmailTaken:
        return again(FormErrors(fields={"email": t("forms.email_taken")}), 409)
    response = RedirectResponse("/", status_code=303)
    start_session(request, response, gateway, signed)
    return response


# Sign out


@router.post("/signout")
async def signout(request: Request, gateway: State, t: PageTranslator, person: PageViewer) -> Response:
    """Ends this browser's session."""
    if await _csrf_refused(request, gateway):
        return _problem(gateway, t, request, person, t("forms.expired"), 403)
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id and person is not None:
        await gateway.accounts.logout(session_id)
    response = RedirectResponse("/signin?notice=signed_out", status_code=303)
    clear_session_cookie(response, request, gateway)
    return response


@router.post("/signout-everywhere")
async def signout_everywhere(request: Request, gateway: State, t: PageTranslator, person: PageViewer) -> Response:
    """Ends every session of the account, on every device."""
    if person is None:
        return _to_sign_in(request)
    if await _csrf_refused(request, gateway):
        return _problem(gateway, t, request, person, t("forms.expired"), 403)
    await gateway.accounts.logout_all(person.user_id)
    response = RedirectResponse("/signin?notice=signed_out_everywhere", status_code=303)
    clear_session_cookie(response, request, gateway)
    return response


# A forgotten password


@router.get("/forgot-password")
async def forgot_password_page(request: Request, gateway: State, t: PageTranslator) -> HTMLResponse:
    return _form_page(gateway, "forgot_password.html", t, request, values={"email": ""}, sent=False)


@router.post("/forgot-password")
async def forgot_password(
    request: Request, background: BackgroundTasks, gateway: State, t: PageTranslator, email: FormText = ""
) -> HTMLResponse:
    """Mails a reset link if the address has an account; the answer is the same either way."""

    def page(errors: FormErrors | None = None, status_code: int = 200, *, sent: bool = False) -> HTMLResponse:
        return _form_page(
            gateway,
            "forgot_password.html",
            t,
            request,
            errors=errors,
            status_code=status_code,
            values={"email": email},
            sent=sent,
        )

    if await _csrf_refused(request, gateway):
        return page(_expired(t), 403)
    asked, errors = parse(PasswordResetIn, {"email": email}, t)
    if asked is None:
        _invalid("forgot-password", errors)
        return page(errors, 422)
    try:
        mail = await gateway.accounts.request_reset(asked.email, address=client_address(request))
    except TooManyAttempts as exc:
        return page(FormErrors(form=retry_in(exc.retry_after, t)), 429)
    if mail is not None:
        background.add_task(gateway.accounts.send_reset, mail)
    return page(sent=True, status_code=202)


@router.get("/reset-password")
async def reset_password_page(
    request: Request,
    gateway: State,
    t: PageTranslator,
    token: Annotated[str, Query(max_length=200)] = "",
) -> HTMLResponse:
    """Where the reset mail's link leads: choose a new password (the token rides along in a hidden field)."""
    errors = FormErrors() if token else FormErrors(form=t("forms.reset_link_invalid"))
    return _form_page(gateway, "reset_password.html", t, request, errors=errors, token=token)


@router.post("/reset-password")
async def reset_password(
    request: Request, gateway: State, t: PageTranslator, token: FormText = "", password: FormText = ""
) -> Response:
    def again(errors: FormErrors, status_code: int) -> HTMLResponse:
        return _form_page(
            gateway, "reset_password.html", t, request, errors=errors, status_code=status_code, token=token
        )

    if await _csrf_refused(request, gateway):
        return again(_expired(t), 403)
    confirmed, errors = parse(PasswordResetConfirmIn, {"token": token, "password": password}, t)
    if confirmed is None:
        _invalid("reset-password", errors)
        if "token" in errors.fields:
            errors = FormErrors(fields=errors.fields, form=t("forms.reset_link_invalid"))
        return again(errors, 422)
    try:
        await gateway.accounts.confirm_reset(confirmed.token, confirmed.password, address=client_address(request))
    except TooManyAttempts as exc:
        return again(FormErrors(form=retry_in(exc.retry_after, t)), 429)
    except WeakPassword as exc:
        return again(FormErrors(fields={"password": weak_password(exc, t)}), 422)
    except InvalidResetToken:
        return again(FormErrors(form=t("forms.reset_link_invalid")), 400)
    response = RedirectResponse("/signin?notice=password_changed", status_code=303)
    # Every session of the account has ended; this browser's cookie goes too.
    clear_session_cookie(response, request, gateway)
    return response


# The account page


def _here(request: Request) -> str:
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


async def _account_page(
    request: Request,
    gateway: GatewayState,
    t: Translator,
    person: Viewer,
    *,
    q: str,
    history: int,
    memory: int,
    delete_errors: FormErrors | None = None,
    status_code: int = 200,
) -> Response:
    try:
        view = await gateway.accounts.view(person.user_id, page=history, page_size=HISTORY_PAGE)
    except NoSuchAccount:
        return _to_sign_in(request)
    deck = await movie_memory.candidates(gateway.pool, person.user_id, size=DECK_SIZE)
    stored = await movie_memory.stored(gateway.pool, person.user_id, kind=None, page=memory, size=MEMORY_PAGE)
    found: MemoryPageOut | None = None
    search_error = None
    if q.strip():
        try:
            found = await movie_memory.search(gateway.pool, person.user_id, q, page=1, size=MEMORY_PAGE)
        except movie_memory.InvalidQuery:
            search_error = t("forms.invalid")
    return render(
        gateway,
        "account.html",
        t,
        request,
        personal=True,
        viewer=person,
        status_code=status_code,
        account=view,
        history_page=history,
        history_pages=max(1, -(-view.history_total // HISTORY_PAGE)),
        memory_page=memory,
        deck=deck,
        stored=stored,
        query=q,
        found=found,
        search_error=search_error,
        here=_here(request) if request.method == "GET" else "/account",
        delete_errors=delete_errors or FormErrors(),
    )


@router.get("/account")
async def account_page(
    request: Request,
    gateway: State,
    t: PageTranslator,
    person: PageViewer,
    q: Annotated[str, Query(max_length=200)] = "",
    history: Annotated[int, Query(ge=1, le=10_000)] = 1,
    memory: Annotated[int, Query(ge=1, le=1000)] = 1,
) -> Response:
    """The account: its recommendations, the movie-memory trainer, sign-out everywhere and deletion."""
    if person is None:
        return _to_sign_in(request)
    return await _account_page(request, gateway, t, person, q=q, history=history, memory=memory)


@router.get("/account/deleted")
async def account_deleted_page(request: Request, gateway: State, t: PageTranslator) -> HTMLResponse:
    return render(gateway, "account_deleted.html", t, request, personal=False)


@router.post("/account/delete")
async def delete_account(
    request: Request, gateway: State, t: PageTranslator, person: PageViewer, password: FormText = ""
) -> Response:
    """Deletes the account, confirmed by its password (as the API requires)."""
    if person is None:
        return _to_sign_in(request)

    async def again(errors: FormErrors, status_code: int) -> Response:
        return await _account_page(
            request, gateway, t, person, q="", history=1, memory=1, delete_errors=errors, status_code=status_code
        )

    if await _csrf_refused(request, gateway):
        return await again(_expired(t), 403)
    confirmed, errors = parse(AccountDeleteIn, {"password": password}, t)
    if confirmed is None:
        _invalid("delete-account", errors)
        return await again(errors, 422)
    try:
        await gateway.accounts.delete(person.user_id, confirmed.password)
    except TooManyAttempts as exc:
        return await again(FormErrors(fields={"password": retry_in(exc.retry_after, t)}), 429)
    except WrongPassword:
        return await again(FormErrors(fields={"password": t("forms.wrong_password")}), 403)
    except NoSuchAccount:
        return _to_sign_in(request)
    response = RedirectResponse("/account/deleted", status_code=303)
    clear_session_cookie(response, request, gateway)
    return response


def _back(back: str, anchor: str) -> RedirectResponse:
    target = local_path(back)
    if not target.startswith("/account"):
        target = "/account"
    return RedirectResponse(target.split("#", 1)[0] + f"#{anchor}", status_code=303)


@router.post("/account/memory")
async def remember_film(
    request: Request,
    gateway: State,
    t: PageTranslator,
    person: PageViewer,
    movie_key: FormText = "",
    kind: FormText = "",
    back: FormText = "/account",
) -> Response:
    """The trainer's buttons: store what the person says about a film; the pressed kind again forgets it."""
    if person is None:
        return _to_sign_in(request)
    if await _csrf_refused(request, gateway):
        return _problem(gateway, t, request, person, t("forms.expired"), 403)
    if kind not in MEMORY_KINDS or not movie_key or len(movie_key) > 300:
        log.info("page_form_invalid", form="movie-memory", fields=["kind" if kind not in MEMORY_KINDS else "movie_key"])
        return _problem(gateway, t, request, person, t("forms.invalid"), 422)
    async with gateway.pool.acquire() as connection:
        current = (await repository.memory_kinds(connection, person.user_id, [movie_key])).get(movie_key)
    if current == kind:
        await movie_memory.forget(gateway.pool, person.user_id, movie_key)
    else:
        try:
            await movie_memory.remember(gateway.pool, person.user_id, movie_key, cast(MemoryKind, kind))
        except movie_memory.UnknownFilm:
            return _problem(gateway, t, request, person, t("memory.unknown_film"), 404)
    return _back(back, "memory-status")


@router.post("/account/memory/forget")
async def forget_film(
    request: Request,
    gateway: State,
    t: PageTranslator,
    person: PageViewer,
    movie_key: FormText = "",
    back: FormText = "/account",
) -> Response:
    """The list's undo: what the memory held about the film goes."""
    if person is None:
        return _to_sign_in(request)
    if await _csrf_refused(request, gateway):
        return _problem(gateway, t, request, person, t("forms.expired"), 403)
    await movie_memory.forget(gateway.pool, person.user_id, movie_key)
    return _back(back, "memory-list")


# Feedback on a pick, as a form


@router.post("/r/{recommendation_id}/feedback")
async def pick_feedback(
    recommendation_id: Annotated[uuid.UUID, Path()],
    request: Request,
    gateway: State,
    t: PageTranslator,
    person: PageViewer,
    movie_key: FormText = "",
    kind: FormText = "",
) -> Response:
    """A feedback button without JS: gives that feedback on the pick, or takes it back when it was the
    one given; then back to the pick."""
    if person is None:
        return _to_sign_in(request)
    if await _csrf_refused(request, gateway):
        return _problem(gateway, t, request, person, t("forms.expired"), 403)
    if kind not in FEEDBACK_KINDS or not movie_key or len(movie_key) > 300:
        log.info("page_form_invalid", form="feedback", fields=["kind" if kind not in FEEDBACK_KINDS else "movie_key"])
        return _problem(gateway, t, request, person, t("forms.invalid"), 422)
    async with gateway.pool.acquire() as connection:
        given = (await repository.feedback_kinds(connection, recommendation_id)).get(movie_key)
    try:
        if given == kind:
            await movie_memory.take_back_feedback(gateway.pool, person.user_id, str(recommendation_id), movie_key)
        else:
            await movie_memory.give_feedback(
                gateway.pool, person.user_id, str(recommendation_id), movie_key, cast(FeedbackKind, kind)
            )
    except movie_memory.NotTheOwner:
        return _problem(gateway, t, request, person, t("client.feedback_not_yours"), 403)
    except (movie_memory.RecommendationNotFound, movie_memory.NotAPick):
        return _problem(gateway, t, request, person, t("common.not_found"), 404)
    anchor = quote("pick-" + movie_key.replace(":", "-"), safe="")
    return RedirectResponse(f"/r/{recommendation_id}#{anchor}", status_code=303)
