"""The TMDB API client: aiohttp, v4 read-access token, typed responses, one shared rate limiter.

Every request first takes a slot from the rate limiter (interactive or background). A request is
retried up to ``max_retries`` times (TMDB_MAX_RETRIES): after a network failure, timeout or 5xx
with exponential backoff; after a 429 once the pause it sets for every process (Retry-After, else
the configured backoff) has passed, the limiter holding the retry back until then. Past that the
request raises :class:`TMDBUnavailable` or :class:`TMDBRateLimited` (both retryable), for the
caller to give up on that one film or page. An interactive request (a person waiting for picks)
waits at most ``interactive_max_wait_ms`` in all for the limiter, pauses and backoff; when a wait
would run past that it raises :class:`TMDBWaitTooLong` at once. 401/404/422 raise permanent errors
with TMDB's status_message. The token travels only in the Authorization header: it is never part of
a URL, a log line or an error message.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections.abc import Mapping
from typing import Any, TypeVar

import aiohttp
import msgspec

from popchoice_common.logs import get_logger
from popchoice_common.tmdb.errors import (
    TMDBBadData,
    TMDBNotFound,
    TMDBRateLimited,
    TMDBRequestRefused,
    TMDBUnauthorized,
    TMDBUnavailable,
    TMDBWaitTooLong,
)
from popchoice_common.tmdb.models import GenreList, MovieDetails, MoviePage
from popchoice_common.tmdb.rate_limit import Priority, RateLimiter, RateLimitWaitTooLong

log = get_logger(__name__)

T = TypeVar("T")
MAX_PAGE = 500
MOVIE_LISTS = ("now_playing", "upcoming", "top_rated", "popular")
DETAILS_APPEND = "release_dates,credits,keywords"


class _TMDBError(msgspec.Struct):
    status_message: str = ""
    status_code: int = 0


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Retry-After as seconds: either a number of seconds or an HTTP date."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(moment.timestamp() - (now if now is not None else time.time()), 0.0)


class TMDBClient:
    """TMDB API v3 endpoints the product uses. Create once per process; close with :meth:`aclose`."""

    def __init__(
        self,
        *,
        api_key: str,
        limiter: RateLimiter,
        base_url: str = "https://api.themoviedb.org/3",
        language: str = "en-US",
        timeout_seconds: float = 10.0,
        max_retries: int = 3,
        backoff_429_ms: int = 30_000,
        interactive_max_wait_ms: int = 3000,
        retry_backoff_seconds: float = 0.5,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._language = language
        self._limiter = limiter
        self._max_retries = max_retries
        self._backoff_429_ms = backoff_429_ms
        self._interactive_max_wait = interactive_max_wait_ms / 1000
        self._retry_backoff = retry_backoff_seconds
        self._headers = {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._session = session
        self._owns_session = session is None

    @property
    def language(self) -> str:
        return self._language

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
            self._owns_session = True
        return self._session

    async def aclose(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()

    # -- endpoints -------------------------------------------------------------------------------

    async def movie_list(
        self, source: str, page: int = 1, *, language: str | None = None, priority: Priority = "background"
    ) -> MoviePage:
        """movie/now_playing, movie/upcoming, movie/top_rated or movie/popular."""
        if source not in MOVIE_LISTS:
            raise ValueError(f"unknown TMDB list {source!r}; expected one of {', '.join(MOVIE_LISTS)}")
        return await self._get(f"/movie/{source}", {"page": self._page(page)}, MoviePage, language, priority)

    async def discover(
        self,
        params: Mapping[str, str | int | bool],
        page: int = 1,
        *,
        language: str | None = None,
        priority: Priority = "background",
    ) -> MoviePage:
        """discover/movie with the given filters (with_genres, primary_release_date.gte, sort_by…)."""
        query = {key: _query_value(value) for key, value in params.items()}
        query["page"] = str(self._page(page))
        return await self._get("/discover/movie", query, MoviePage, language, priority)

    async def search(
        self,
        query: str,
        *,
        year: int | None = None,
        page: int = 1,
        language: str | None = None,
        priority: Priority = "background",
    ) -> MoviePage:
        """search/movie by title, optionally within a release year."""
        params: dict[str, str] = {"query": query, "page": str(self._page(page)), "include_adult": "false"}
        if year is not None:
            params["year"] = str(year)
        return await self._get("/search/movie", params, MoviePage, language, priority)

    async def movie_details(
        self, tmdb_id: int, *, language: str | None = None, priority: Priority = "background"
    ) -> MovieDetails:
        """movie/{id} with release dates, credits and keywords appended."""
        return await self._get(
            f"/movie/{int(tmdb_id)}", {"append_to_response": DETAILS_APPEND}, MovieDetails, language, priority
        )

    async def genres(self, *, language: str | None = None, priority: Priority = "background") -> GenreList:
        return await self._get("/genre/movie/list", {}, GenreList, language, priority)

    # -- transport -------------------------------------------------------------------------------

    @staticmethod
    def _page(page: int) -> int:
        if not 1 <= page <= MAX_PAGE:
            # TMDB answers 422 above 500: refuse before spending a request of the budget.
            raise ValueError(f"TMDB pages run from 1 to {MAX_PAGE}; got {page}")
        return page

    async def _get(
        self,
        path: str,
        params: Mapping[str, str | int],
        response_type: type[T],
        language: str | None,
        priority: Priority,
    ) -> T:
        query = {key: str(value) for key, value in params.items()}
        query["language"] = language or self._language
        url = f"{self._base_url}{path}"
        deadline = time.monotonic() + self._interactive_max_wait if priority == "interactive" else None
        attempt = 0
        while True:
            attempt += 1
            try:
                await self._limiter.acquire(priority, deadline=deadline)
            except RateLimitWaitTooLong as exc:
                log.warning("tmdb_interactive_wait_too_long", path=path, wait_seconds=round(exc.wait_seconds, 3))
                raise TMDBWaitTooLong(path, exc.wait_seconds, self._interactive_max_wait) from None
            try:
                async with self._get_session().get(url, params=query, headers=self._headers) as response:
                    body = await response.read()
                    status = response.status
                    retry_after = response.headers.get("Retry-After")
            except (TimeoutError, aiohttp.ClientError) as exc:
                reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                if attempt > self._max_retries:
                    raise TMDBUnavailable(path, reason) from None
                log.warning("tmdb_request_retrying", path=path, attempt=attempt, reason=reason)
                await self._backoff(path, attempt, deadline)
                continue
            if status == 200:
                try:
                    return msgspec.json.decode(body, type=response_type)
                except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                    raise TMDBBadData(path, str(exc)) from None
            if status == 429:
                seconds = parse_retry_after(retry_after)
                pause_ms = int(seconds * 1000) if seconds is not None else self._backoff_429_ms
                await self._limiter.pause(pause_ms)
                giving_up = attempt > self._max_retries
                log.warning(
                    "tmdb_rate_limited",
                    path=path,
                    retry_after_seconds=seconds,
                    pause_ms=pause_ms,
                    attempt=attempt,
                    giving_up=giving_up,
                )
                if giving_up:
                    raise TMDBRateLimited(path, seconds, attempts=attempt)
                # The limiter holds the retry (and every other request) until the pause has passed.
                continue
            if status >= 500:
                if attempt > self._max_retries:
                    raise TMDBUnavailable(path, f"HTTP {status}")
                log.warning("tmdb_request_retrying", path=path, attempt=attempt, status=status)
                await self._backoff(path, attempt, deadline)
                continue
            message = _status_message(body) or f"HTTP {status}"
            if status == 401:
                raise TMDBUnauthorized(path, status, message)
            if status == 404:
                raise TMDBNotFound(path, status, message)
            raise TMDBRequestRefused(path, status, message)

    async def _backoff(self, path: str, attempt: int, deadline: float | None) -> None:
        delay = self._retry_backoff * (2 ** (attempt - 1))
        delay += random.uniform(0, delay / 4)
        if deadline is not None and time.monotonic() + delay > deadline:
            raise TMDBWaitTooLong(path, delay, self._interactive_max_wait)
        await asyncio.sleep(delay)


def _status_message(body: bytes) -> str:
    try:
        return msgspec.json.decode(body, type=_TMDBError).status_message
    except (msgspec.DecodeError, msgspec.ValidationError):
        return ""


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
