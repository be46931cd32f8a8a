"""The browser's pages: the quiz (/), a recommendation (/r/<id>), its public read-only share page
(/s/<slug>), the picks fragment both pages swap in when the picks arrive, and the language switch.
Also what every page shares: who is signed in (the header names them) and the CSRF token of its forms.

The pages call the JSON API from the browser (static JS, no inline script); these routes only render."""

from __future__ import annotations

import json
import uuid
from importlib.resources import files
from pathlib import Path as FilePath
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from markupsafe import Markup

from popchoice_common.recommendation import repository
from popchoice_gateway.accounts.service import NoSuchAccount
from popchoice_gateway.accounts.sessions import SESSION_COOKIE
from popchoice_gateway.auth import Caller, csrf_token_for
from popchoice_gateway.handlers.common import MaybeCaller, State
from popchoice_gateway.i18n import LANGUAGE_COOKIE, LANGUAGES, Translator, request_language
from popchoice_gateway.pages import ResultView, Viewer, environment, page_context, result_view, security_headers
from popchoice_gateway.service import visible_to
from popchoice_gateway.state import GatewayState

router = APIRouter(include_in_schema=False)
ASSETS = FilePath(str(files("popchoice_gateway") / "static" / "pages"))
ASSET_PREFIX = "/assets"
TEMPLATES = environment()
#: A year: the language switch is a preference, not a session.
LANGUAGE_COOKIE_SECONDS = 365 * 24 * 3600


def assets() -> StaticFiles:
    """The pages' own CSS and JS, served from the package (mounted at ASSET_PREFIX by the app)."""
    return StaticFiles(directory=ASSETS)


async def translator(request: Request) -> Translator:
    return Translator(request_language(request.cookies.get(LANGUAGE_COOKIE), request.headers.get("Accept-Language")))


PageTranslator = Annotated[Translator, Depends(translator)]


async def viewer(request: Request, gateway: State) -> Viewer | None:
    """The person signed in with this browser's session cookie (API keys do not sign a page in)."""
    session_id = request.cookies.get(SESSION_COOKIE, "")
    session = await gateway.accounts.sessions.find(session_id) if session_id else None
    if session is None:
        return None
    try:
        user = await gateway.accounts.user(session.user_id)
    except NoSuchAccount:
        return None
    return Viewer(user.id, user.email, user.display_name)


PageViewer = Annotated[Viewer | None, Depends(viewer)]


def _client_strings(t: Translator) -> Markup:
    """The strings the pages' JS shows, as a JSON data block (not script: the CSP allows it)."""
    text = json.dumps(t.section("client"), ensure_ascii=False).replace("<", "\\u003c")
    # JSON with "<" escaped cannot close the element it sits in.
    return Markup(text)


def render(
    gateway: GatewayState,
    template: str,
    t: Translator,
    request: Request,
    *,
    personal: bool,
    viewer: Viewer | None = None,
    forms: bool = False,
    status_code: int = 200,
    **values: Any,
) -> HTMLResponse:
    """A page. With a viewer (the header's sign-out form) or forms, it carries the browser's CSRF token
    (set in the __csrf cookie if the browser has none) and is never stored by a cache."""
    cookies = Response()
    token = ""
    if viewer is not None or forms:
        token = csrf_token_for(
            request, cookies, secure=gateway.settings.secure_cookies or request.url.scheme == "https"
        )
        personal = True
    html = TEMPLATES.get_template(template).render(
        page_context(
            t,
            request.url.path,
            client_strings=_client_strings(t),
            asset_prefix=ASSET_PREFIX,
            viewer=viewer,
            csrf_token=token,
            **values,
        )
    )
    headers = security_headers(gateway.settings.tmdb_image_base_url, personal=personal)
    headers["Content-Language"] = t.language
    headers["Vary"] = "Accept-Language, Cookie"
    response = HTMLResponse(html, status_code=status_code, headers=headers)
    for cookie in cookies.headers.getlist("set-cookie"):
        response.headers.append("set-cookie", cookie)
    return response


@router.get("/")
async def quiz_page(request: Request, gateway: State, t: PageTranslator, person: PageViewer) -> HTMLResponse:
    return render(gateway, "quiz.html", t, request, personal=False, viewer=person)


async def _view(gateway: GatewayState, id_or_slug: str, who: Caller | None) -> ResultView | None:
    async with gateway.pool.acquire() as connection:
        found = await repository.get_recommendation_with_movies(connection, id_or_slug)
    if found is None:
        return None
    row, picks = found
    if not visible_to(row.user_id, id_or_slug, row.slug, who):
        return None
    return result_view(row, picks, ceiling=gateway.ceiling, image_base_url=gateway.settings.tmdb_image_base_url)


def _not_found(gateway: GatewayState, t: Translator, request: Request, person: Viewer | None = None) -> HTMLResponse:
    return render(gateway, "not_found.html", t, request, personal=False, viewer=person, status_code=404)


async def _feedback(gateway: GatewayState, view: ResultView, person: Viewer | None, readonly: bool) -> dict[str, Any]:
    """The feedback buttons' state: shown to the person the recommendation was made for (not on the
    read-only share page), with the feedback they gave on each pick."""
    if readonly or person is None or view.user_id != person.user_id:
        return {"feedback_enabled": False, "feedback": {}}
    async with gateway.pool.acquire() as connection:
        given = await repository.feedback_kinds(connection, uuid.UUID(view.id))
    return {"feedback_enabled": True, "feedback": given}


def _share_url(request: Request, slug: str) -> str:
    return str(request.base_url).rstrip("/") + f"/s/{slug}"


@router.get("/r/{recommendation_id}")
async def result_page(
    recommendation_id: Annotated[str, Path(max_length=64)],
    request: Request,
    gateway: State,
    who: MaybeCaller,
    t: PageTranslator,
    person: PageViewer,
) -> HTMLResponse:
    try:
        # By id only: a slug here would show a shared recommendation as one's own.
        by_id = str(uuid.UUID(recommendation_id))
    except ValueError:
        return _not_found(gateway, t, request, person)
    view = await _view(gateway, by_id, who)
    if view is None:
        return _not_found(gateway, t, request, person)
    return render(
        gateway,
        "result.html",
        t,
        request,
        personal=True,
        viewer=person,
        view=view,
        key=view.id,
        readonly=False,
        share_url=_share_url(request, view.slug),
        **await _feedback(gateway, view, person, readonly=False),
    )


@router.get("/s/{slug}")
async def share_page(
    slug: Annotated[str, Path(max_length=64)], request: Request, gateway: State, t: PageTranslator, person: PageViewer
) -> HTMLResponse:
    view = await _view(gateway, slug, None)
    if view is None or view.slug != slug:
        return _not_found(gateway, t, request, person)
    return render(
        gateway,
        "result.html",
        t,
        request,
        personal=True,
        viewer=person,
        view=view,
        key=slug,
        readonly=True,
        share_url="",
        feedback_enabled=False,
        feedback={},
    )


@router.get("/picks/{id_or_slug}")
async def picks_fragment(
    id_or_slug: Annotated[str, Path(max_length=64)],
    request: Request,
    gateway: State,
    who: MaybeCaller,
    t: PageTranslator,
    person: PageViewer,
    readonly: bool = False,
) -> HTMLResponse:
    """The picks as HTML, for the result page's JS to swap in when the SSE stream says they are ready."""
    view = await _view(gateway, id_or_slug, who)
    if view is None:
        return _not_found(gateway, t, request)
    # The feedback forms need the CSRF token (viewer given); the fragment has no header of its own.
    return render(
        gateway,
        "_picks.html",
        t,
        request,
        personal=True,
        viewer=person,
        view=view,
        readonly=readonly,
        **await _feedback(gateway, view, person, readonly=readonly or view.id != id_or_slug),
    )


def local_path(value: str | None) -> str:
    """Only a path on this site (never //host or a scheme): the switch cannot redirect elsewhere."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    return value


@router.get("/language/{language}")
async def switch_language(
    language: str, request: Request, next: Annotated[str | None, Query(max_length=500)] = None
) -> RedirectResponse:
    """Keeps the chosen language in a cookie (overriding Accept-Language) and goes back to the page."""
    response = RedirectResponse(local_path(next), status_code=303)
    if language in LANGUAGES:
        response.set_cookie(
            LANGUAGE_COOKIE,
            language,
            max_age=LANGUAGE_COOKIE_SECONDS,
            samesite="lax",
            secure=request.url.scheme == "https",
            path="/",
        )
    return response
