"""Recommendation routes: submit a quiz, read or follow a recommendation, more picks, the synchronous routes."""

from __future__ import annotations

import re
import uuid
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from popchoice_common.recommendation import repository
from popchoice_gateway.auth import CSRF_COOKIE, Caller, new_csrf_token
from popchoice_gateway.handlers.common import ERRORS, INVALID_INPUT, AuthenticatedCaller, MaybeCaller, State
from popchoice_gateway.i18n import LANGUAGE_COOKIE, request_locale
from popchoice_gateway.progress import ProgressWatch
from popchoice_gateway.schemas import (
    CsrfOut,
    ErrorOut,
    MorePicksAccepted,
    QuizIn,
    QuizPersonIn,
    RecommendationCreated,
    RecommendationOut,
)
from popchoice_gateway.screening import QuizText, ScreeningRefused, ScreeningUnavailable, quiz_texts, screen
from popchoice_gateway.service import (
    MorePicksConflict,
    NotFound,
    QueueUnavailable,
    load_response,
    load_response_with_owner,
    recommendation_events_of,
    visible_to,
)
from popchoice_gateway.sse import EventStream
from popchoice_gateway.state import GatewayState

router = APIRouter()
LOCALE = re.compile(r"^[a-z]{2,3}(-[A-Z]{2})?$")


def resolve_locale(query: str | None, header: str | None, request: Request) -> str:
    """The locale a request names (?locale=, else X-Locale), else the page language's (the language
    cookie, then Accept-Language): en-US, ru-RU or fi-FI."""
    locale = (
        query or header or request_locale(request.cookies.get(LANGUAGE_COOKIE), request.headers.get("Accept-Language"))
    ).strip()
    if not LOCALE.match(locale):
        raise HTTPException(status_code=422, detail=f"locale {locale[:20]!r} is not like en-US")
    return locale


def people_of(quiz: QuizIn) -> list[QuizPersonIn]:
    return quiz if isinstance(quiz, list) else [quiz]


async def _screen(gateway: GatewayState, texts: list[QuizText]) -> None:
    """A refused answer is a 422 shaped like a validation error, whose loc names the field; a
    moderation server that does not answer is a 503 (nothing is stored or queued)."""
    try:
        await screen(texts, gateway.llm)
    except ScreeningUnavailable:
        raise HTTPException(
            status_code=503,
            detail="We could not check the answers just now; try again shortly.",
            headers={"Retry-After": "5"},
        ) from None
    except ScreeningRefused as exc:
        raise RequestValidationError(
            [{"type": "refused", "loc": path, "msg": str(exc)} for path in exc.paths]
        ) from None


@router.get("/api/csrf", response_model=CsrfOut, tags=["auth"])
async def csrf(request: Request, response: Response) -> CsrfOut:
    """Issues the browser's CSRF pair: the same token in the __csrf cookie and in this body, to echo in X-CSRF-Token."""
    token = new_csrf_token()
    response.set_cookie(
        CSRF_COOKIE, token, httponly=True, samesite="strict", secure=request.url.scheme == "https", path="/"
    )
    return CsrfOut(csrfToken=token)


@router.post(
    "/api/recommendations",
    status_code=201,
    response_model=RecommendationCreated,
    responses={**ERRORS, 422: INVALID_INPUT, 503: {"model": ErrorOut}},
    tags=["recommendations"],
)
async def create_recommendation(
    quiz: QuizIn,
    request: Request,
    response: Response,
    gateway: State,
    who: AuthenticatedCaller,
    locale: Annotated[str | None, Query(max_length=20)] = None,
    x_locale: Annotated[str | None, Header(max_length=20)] = None,
) -> RecommendationCreated:
    """Submits a quiz (one person or up to ten) and queues the recommendation; poll it or follow its events."""
    await gateway.rate_limiter.check(who.client_id)
    people = people_of(quiz)
    await _screen(gateway, quiz_texts(quiz))
    try:
        recommendation_id, slug = await gateway.service.create(
            people, locale=resolve_locale(locale, x_locale, request), user_id=who.user_id
        )
    except QueueUnavailable:
        raise HTTPException(
            status_code=503, detail="The queue is unavailable; try again shortly.", headers={"Retry-After": "5"}
        ) from None
    response.headers["Location"] = f"/api/recommendations/{recommendation_id}"
    return RecommendationCreated(id=recommendation_id, slug=slug)


@router.get(
    "/api/recommendations/{id_or_slug}",
    response_model=RecommendationOut,
    responses={404: {"model": ErrorOut}},
    tags=["recommendations"],
)
async def get_recommendation(
    id_or_slug: Annotated[str, Path(max_length=64)], gateway: State, who: MaybeCaller
) -> RecommendationOut:
    """A recommendation's status, stage and picks, by id or by its shareable slug."""
    try:
        result, owner = await load_response_with_owner(gateway.pool, id_or_slug, gateway.ceiling)
    except NotFound:
        raise HTTPException(status_code=404, detail="No such recommendation.") from None
    if not visible_to(owner, id_or_slug, result.slug, who):
        raise HTTPException(status_code=404, detail="No such recommendation.")
    return result


@router.get(
    "/api/recommendations/{id_or_slug}/events",
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "stage events, then the result"},
        404: {"model": ErrorOut},
    },
    tags=["recommendations"],
)
async def recommendation_events(
    id_or_slug: Annotated[str, Path(max_length=64)], gateway: State, who: MaybeCaller
) -> EventStream:
    """Server-Sent Events: a `stage` event per stage change, then one `result` event with the whole recommendation."""
    try:
        # By id, changes are watched before the first read, so that read is also the stream's start.
        watched: str | None = str(uuid.UUID(id_or_slug))
    except ValueError:
        watched = None  # by slug the id is known only after the read, which is then repeated
    if watched is not None and (new := gateway.progress.take_new(watched)) is not None:
        # Created by this process and watched since: no read needed to start.
        if not visible_to(new.user_id, id_or_slug, new.slug, who):
            gateway.progress.unwatch(watched, new.watch)
            raise HTTPException(status_code=404, detail="No such recommendation.")
        return _event_stream(gateway, watched, new.watch, new.state())
    watch = gateway.progress.open_watch(watched) if watched is not None else None
    async with gateway.pool.acquire() as connection:
        first = await repository.get_recommendation(connection, id_or_slug)
    if first is None or not visible_to(first.user_id, id_or_slug, first.slug, who):
        if watch is not None and watched is not None:
            gateway.progress.unwatch(watched, watch)
        raise HTTPException(status_code=404, detail="No such recommendation.")
    recommendation_id = str(first.id)
    current: tuple[str, str] | None = (first.status, first.stage)
    if watch is None:
        watch, current = gateway.progress.open_watch(recommendation_id), None
    return _event_stream(gateway, recommendation_id, watch, current)


def _event_stream(
    gateway: GatewayState, recommendation_id: str, watch: ProgressWatch, current: tuple[str, str] | None
) -> EventStream:
    return EventStream(
        recommendation_events_of(gateway, recommendation_id, watch, current),
        on_disconnect=watch.abandon,
        headers={"Cache-Control": "no-store"},
    )


@router.post(
    "/api/recommendations/{id_or_slug}/more-picks",
    status_code=202,
    response_model=MorePicksAccepted,
    responses={**ERRORS, 404: {"model": ErrorOut}, 409: {"model": ErrorOut}, 503: {"model": ErrorOut}},
    tags=["recommendations"],
)
async def more_picks(
    id_or_slug: Annotated[str, Path(max_length=64)], gateway: State, who: AuthenticatedCaller
) -> MorePicksAccepted:
    """Claims the next batch of six picks; 409 while one is being prepared or before the first is complete."""
    await gateway.rate_limiter.check(who.client_id)
    try:
        recommendation_id, batch = await gateway.service.request_more_picks(id_or_slug)
    except NotFound:
        raise HTTPException(status_code=404, detail="No such recommendation.") from None
    except MorePicksConflict as exc:
        raise HTTPException(status_code=409, detail=exc.reason) from None
    except QueueUnavailable:
        raise HTTPException(
            status_code=503, detail="The queue is unavailable; try again shortly.", headers={"Retry-After": "5"}
        ) from None
    return MorePicksAccepted(id=recommendation_id, batch=batch, morePicksStatus="pending")


async def _sync(
    gateway: GatewayState, who: Caller, people: list[QuizPersonIn], texts: list[QuizText], locale: str
) -> RecommendationOut:
    await gateway.rate_limiter.check(who.client_id)
    await _screen(gateway, texts)
    recommendation_id = await gateway.service.run_sync(people, locale=locale, user_id=who.user_id)
    return await load_response(gateway.pool, str(recommendation_id), gateway.ceiling)


@router.post(
    "/api/movie-recommendation",
    response_model=RecommendationOut,
    responses={**ERRORS, 422: INVALID_INPUT, 503: {"model": ErrorOut}},
    tags=["compatibility"],
)
async def movie_recommendation(
    quiz: QuizIn,
    request: Request,
    gateway: State,
    who: AuthenticatedCaller,
    locale: Annotated[str | None, Query(max_length=20)] = None,
    x_locale: Annotated[str | None, Header(max_length=20)] = None,
) -> RecommendationOut:
    """The synchronous route: the same pipeline run within the request; answers with the finished recommendation."""
    return await _sync(gateway, who, people_of(quiz), quiz_texts(quiz), resolve_locale(locale, x_locale, request))


@router.get(
    "/api/movie-recommendation",
    response_model=RecommendationOut,
    responses={**ERRORS, 422: INVALID_INPUT, 503: {"model": ErrorOut}},
    tags=["compatibility"],
)
async def movie_recommendation_get(
    request: Request,
    gateway: State,
    who: AuthenticatedCaller,
    favoriteMovie: Annotated[str, Query(min_length=1, max_length=200)],  # noqa: N803 - the wire format
    newVsClassic: Annotated[str, Query(min_length=1, max_length=100)],  # noqa: N803
    tonePreference: Annotated[str, Query(min_length=1, max_length=100)],  # noqa: N803
    moodPreference: Annotated[list[str], Query(min_length=1, max_length=10)],  # noqa: N803
    favoriteMovieWhy: Annotated[str | None, Query(max_length=300)] = None,  # noqa: N803
    locale: Annotated[str | None, Query(max_length=20)] = None,
) -> RecommendationOut:
    """The synchronous route for one person, with the answers as query parameters."""
    try:
        person = QuizPersonIn(
            favoriteMovie=favoriteMovie,
            newVsClassic=newVsClassic,
            tonePreference=tonePreference,
            moodPreference=moodPreference,
            favoriteMovieWhy=favoriteMovieWhy,
        )
    except ValidationError as exc:
        raise RequestValidationError(
            [{**error, "loc": ("query", *error["loc"])} for error in exc.errors(include_url=False)]
        ) from None
    return await _sync(gateway, who, [person], quiz_texts(person, "query"), resolve_locale(locale, None, request))
