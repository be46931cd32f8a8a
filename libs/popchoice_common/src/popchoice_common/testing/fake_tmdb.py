"""A fake TMDB API v3 server for tests: movie lists, discover, search, details, genres.

It is a real aiohttp server on 127.0.0.1 (in a background thread), so a TMDB client talks to it
over HTTP exactly as it would to ``https://api.themoviedb.org/3``: same paths, same JSON shapes,
TMDB's error envelope (``success``, ``status_code``, ``status_message``), the v4 token as a
Bearer header or the v3 ``api_key`` query parameter. Films live in ``state.movies``; requests are
recorded with their monotonic arrival time and the status answered. It can enforce a sliding-window
rate limit of its own, and faults can be injected (5xx, slow answers, malformed JSON, forced 429s,
missing fields).

Every counter is updated on the server's own event loop; the fault queues and the rate-limit
settings are guarded by a lock so a test (another thread, another loop) may change them while
requests are in flight. Other processes can use the server too: it listens on a real port.
"""

from __future__ import annotations

import asyncio
import bisect
import datetime as dt
import math
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from popchoice_common.testing.http_server import ThreadedHTTPServer

API_KEY = "test-tmdb-token"
PAGE_SIZE = 20
MAX_PAGE = 500
MOVIE_LISTS = ("now_playing", "upcoming", "top_rated", "popular")
#: TMDB documents (and answers) HTTP 400 for status_code 22, the invalid page.
INVALID_PAGE_STATUS = 400
#: TMDB's movie genres (genre/movie/list, en-US).
DEFAULT_GENRES: tuple[tuple[int, str], ...] = (
    (28, "Action"),
    (12, "Adventure"),
    (16, "Animation"),
    (35, "Comedy"),
    (80, "Crime"),
    (99, "Documentary"),
    (18, "Drama"),
    (10751, "Family"),
    (14, "Fantasy"),
    (36, "History"),
    (27, "Horror"),
    (10402, "Music"),
    (9648, "Mystery"),
    (10749, "Romance"),
    (878, "Science Fiction"),
    (10770, "TV Movie"),
    (53, "Thriller"),
    (10752, "War"),
    (37, "Western"),
)
#: TMDB status codes and messages (https://developer.themoviedb.org/docs/errors).
STATUS_MESSAGES = {
    2: "Invalid service: this service does not exist.",
    5: "Invalid parameters: Your request parameters are incorrect.",
    7: "Invalid API key: You must be granted a valid key.",
    9: "Service offline: This service is temporarily offline, try again later.",
    11: "Internal error: Something went wrong, contact TMDB.",
    22: "Invalid page: Pages start at 1 and max at 500. They are expected to be an integer.",
    23: "Invalid date: Format needs to be YYYY-MM-DD.",
    24: "Your request to the backend server timed out. Try again.",
    34: "The resource you requested could not be found.",
}
#: The TMDB status_code that goes with an HTTP status, for injected failures.
_STATUS_CODE_FOR_HTTP = {401: 7, 404: 34, 422: 5, 500: 11, 501: 2, 502: 11, 503: 9, 504: 24}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DISCOVER_SORTS: dict[str, Callable[[FakeMovie], Any]] = {
    "popularity": lambda movie: movie.popularity,
    "vote_average": lambda movie: movie.vote_average,
    "vote_count": lambda movie: movie.vote_count,
    "primary_release_date": lambda movie: movie.release_date,
    "title": lambda movie: movie.title.lower(),
    "original_title": lambda movie: movie.original_title.lower(),
}


@dataclass
class FakeMovie:
    """One film as the fake serves it: list summaries, details and the appended objects derive from it."""

    id: int
    title: str
    original_title: str
    overview: str = ""
    original_language: str = "en"
    release_date: str = ""
    vote_average: float = 0.0
    vote_count: int = 0
    popularity: float = 0.0
    poster_path: str | None = None
    backdrop_path: str | None = None
    genres: list[tuple[int, str]] = field(default_factory=list)
    runtime: int | None = None
    adult: bool = False
    imdb_id: str | None = None
    status: str = "Released"
    tagline: str = ""
    #: (person id, name, character); the list order is the billing order.
    cast: list[tuple[int, str, str]] = field(default_factory=list)
    #: (person id, name), answered as crew with job "Director".
    directors: list[tuple[int, str]] = field(default_factory=list)
    #: Other crew: (person id, name, job, department).
    crew: list[tuple[int, str, str, str]] = field(default_factory=list)
    keywords: list[tuple[int, str]] = field(default_factory=list)
    #: US release dates as (type, certification); type 3 is theatrical.
    us_release_dates: list[tuple[int, str]] = field(default_factory=list)
    #: Other countries' release dates: ISO 3166-1 code to (type, certification) pairs.
    release_dates_other: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    #: Which of now_playing, upcoming, top_rated and popular the film is on.
    lists: set[str] = field(default_factory=set)


def make_movie(id: int, title: str, **overrides: Any) -> FakeMovie:
    """A film with sensible defaults (a well-voted 2020 drama with cast, director, keywords and a US rating)."""
    person = 100_000 + id * 10
    defaults: dict[str, Any] = {
        "original_title": title,
        "overview": f"{title} follows a family through one long, eventful summer that changes all of them.",
        "release_date": "2020-06-15",
        "vote_average": 7.5,
        "vote_count": 1000,
        "popularity": 50.0,
        "poster_path": f"/poster{id}.jpg",
        "backdrop_path": f"/backdrop{id}.jpg",
        "genres": [(18, "Drama")],
        "runtime": 120,
        "imdb_id": f"tt{id:07d}",
        "cast": [(person + 1, f"Lead Actor {id}", "Lead"), (person + 2, f"Support Actor {id}", "Friend")],
        "directors": [(person + 3, f"Director {id}")],
        "keywords": [(9840, "family"), (6054, "friendship")],
        "us_release_dates": [(3, "PG-13")],
    }
    defaults.update(overrides)
    return FakeMovie(id=id, title=title, **defaults)


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    #: time.monotonic() on arrival.
    time: float
    headers: dict[str, str] = field(default_factory=dict)
    #: The HTTP status answered (None while the answer is being made).
    status: int | None = None


@dataclass
class _Failure:
    status: int
    remaining: int
    path_contains: str | None


@dataclass
class _Faults:
    """What to do to one request: taken from the queues when it arrives."""

    delay: float = 0.0
    forced_429: bool = False
    retry_after: int | str | None = None
    failure: int | None = None
    malformed: bool = False


@dataclass
class FakeTMDBState:
    """The fake's data, recorded requests, counters, rate limit and injected faults; :meth:`reset` restores it."""

    movies: dict[int, FakeMovie] = field(default_factory=dict)
    genres: list[tuple[int, str]] = field(default_factory=lambda: list(DEFAULT_GENRES))
    requests: list[RecordedRequest] = field(default_factory=list)
    #: Keys dropped from movie detail responses (after appending), e.g. {"runtime", "title"}.
    omit_fields: set[str] = field(default_factory=set)
    #: Keys dropped from every film of list, discover and search results.
    omit_summary_fields: set[str] = field(default_factory=set)
    #: Per film id, keys set on its detail response as given (wrong types, nulls…).
    detail_overrides: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: (minimum, maximum) answered as ``dates`` of now_playing / upcoming; computed from today when absent.
    list_dates: dict[str, tuple[str, str]] = field(default_factory=dict)
    requests_per_window: int | None = None
    window_ms: int = 10_000
    accepted_count: int = 0
    over_limit_count: int = 0
    #: Monotonic arrival times of the requests the rate limit accepted, in order.
    accepted_times: list[float] = field(default_factory=list)
    _failures: list[_Failure] = field(default_factory=list, repr=False)
    _delays: list[float] = field(default_factory=list, repr=False)
    _malformed: int = field(default=0, repr=False)
    _forced_429: list[int | str | None] = field(default_factory=list, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    _initial_limit: tuple[int | None, int] = field(default=(None, 10_000), repr=False)

    def __post_init__(self) -> None:
        self._initial_limit = (self.requests_per_window, self.window_ms)

    def reset(self) -> None:
        """Forget films, requests, counters and faults; the rate limit goes back to the server's own."""
        with self._lock:
            self.movies.clear()
            self.genres[:] = list(DEFAULT_GENRES)
            self.requests.clear()
            self.omit_fields.clear()
            self.omit_summary_fields.clear()
            self.detail_overrides.clear()
            self.list_dates.clear()
            self.requests_per_window, self.window_ms = self._initial_limit
            self.accepted_count = 0
            self.over_limit_count = 0
            self.accepted_times.clear()
            self._failures.clear()
            self._delays.clear()
            self._malformed = 0
            self._forced_429.clear()

    # -- data --------------------------------------------------------------------------------------

    def add(self, *movies: FakeMovie) -> None:
        """Adds (or replaces) films by id."""
        for movie in movies:
            self.movies[movie.id] = movie

    # -- faults ------------------------------------------------------------------------------------

    def fail_next(self, status: int, count: int = 1, path_contains: str | None = None) -> None:
        """The next ``count`` requests whose path contains ``path_contains`` (any, when None) get ``status``."""
        if not 400 <= status <= 599:
            raise ValueError(f"fail_next wants an error status (4xx/5xx); got {status}")
        with self._lock:
            self._failures.append(_Failure(status, count, path_contains))

    def slow_next(self, seconds: float, count: int = 1) -> None:
        """The next ``count`` responses are delayed by ``seconds`` (after arrival, before answering)."""
        with self._lock:
            self._delays.extend([seconds] * count)

    def malformed_next(self, count: int = 1) -> None:
        """The next ``count`` responses are 200 with a truncated, invalid JSON body."""
        with self._lock:
            self._malformed += count

    def force_429(self, count: int = 1, retry_after: int | str | None = 2) -> None:
        """The next ``count`` requests get 429; Retry-After is sent when not None (a str is sent verbatim)."""
        with self._lock:
            self._forced_429.extend([retry_after] * count)

    def set_rate_limit(self, requests_per_window: int | None, window_ms: int | None = None) -> None:
        """At most ``requests_per_window`` accepted requests in any ``window_ms`` span; None disables it."""
        if requests_per_window is not None and requests_per_window < 1:
            raise ValueError("requests_per_window must be at least 1 (or None to disable the limit)")
        with self._lock:
            self.requests_per_window = requests_per_window
            if window_ms is not None:
                self.window_ms = window_ms

    # -- on the server loop ------------------------------------------------------------------------

    def _admit(self, now: float) -> int | None:
        """None when the request is accepted (and counted); else the Retry-After seconds."""
        with self._lock:
            limit = self.requests_per_window
            if limit is not None:
                window = self.window_ms / 1000
                inside = len(self.accepted_times) - bisect.bisect_right(self.accepted_times, now - window)
                if inside >= limit:
                    self.over_limit_count += 1
                    wait = self.accepted_times[-limit] + window - now
                    return max(1, math.ceil(wait))
            self.accepted_count += 1
            self.accepted_times.append(now)
            return None

    def _take_faults(self, path: str) -> _Faults:
        with self._lock:
            faults = _Faults()
            if self._delays:
                faults.delay = self._delays.pop(0)
            if self._forced_429:
                faults.forced_429 = True
                faults.retry_after = self._forced_429.pop(0)
                return faults
            for failure in self._failures:
                if failure.path_contains is None or failure.path_contains in path:
                    faults.failure = failure.status
                    failure.remaining -= 1
                    if failure.remaining <= 0:
                        self._failures.remove(failure)
                    return faults
            if self._malformed > 0:
                self._malformed -= 1
                faults.malformed = True
            return faults


def tmdb_error(status: int, status_code: int, message: str | None = None, **headers: str) -> web.Response:
    """A response in TMDB's error envelope."""
    body = {
        "success": False,
        "status_code": status_code,
        "status_message": message if message is not None else STATUS_MESSAGES.get(status_code, "Failed."),
    }
    return web.json_response(body, status=status, headers=headers or None)


class _BadRequest(Exception):
    def __init__(self, status: int, status_code: int) -> None:
        super().__init__(status_code)
        self.status = status
        self.status_code = status_code


def _page(request: web.Request) -> int:
    raw = request.query.get("page", "1")
    try:
        page = int(raw)
    except ValueError:
        raise _BadRequest(INVALID_PAGE_STATUS, 22) from None
    if not 1 <= page <= MAX_PAGE:
        raise _BadRequest(INVALID_PAGE_STATUS, 22)
    return page


def _date_param(request: web.Request, name: str) -> str | None:
    value = request.query.get(name)
    if value is None or value == "":
        return None
    if not _DATE.match(value):
        raise _BadRequest(400, 23)
    return value


def _number_param(request: web.Request, name: str) -> float | None:
    value = request.query.get(name)
    if value is None or value == "":
        return None
    try:
        return float(value)
    except ValueError:
        raise _BadRequest(422, 5) from None


def _year(release_date: str) -> int | None:
    return int(release_date[:4]) if len(release_date) >= 4 and release_date[:4].isdigit() else None


def _by_popularity(movie: FakeMovie) -> tuple[float, int]:
    return (-movie.popularity, movie.id)


def _by_rating(movie: FakeMovie) -> tuple[float, int, int]:
    return (-movie.vote_average, -movie.vote_count, movie.id)


class FakeTMDBServer(ThreadedHTTPServer):
    """Start with :meth:`start`; ``base_url`` ends in ``/3`` as TMDB_BASE_URL expects."""

    name = "fake-tmdb"

    def __init__(self, api_key: str = API_KEY, requests_per_window: int | None = None, window_ms: int = 10_000) -> None:
        super().__init__()
        self.api_key = api_key
        self.state = FakeTMDBState(requests_per_window=requests_per_window, window_ms=window_ms)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/3"

    @property
    def requests(self) -> list[RecordedRequest]:
        return self.state.requests

    def set_rate_limit(self, requests_per_window: int | None, window_ms: int | None = None) -> None:
        """Changes the sliding-window limit while running; None disables it."""
        self.state.set_rate_limit(requests_per_window, window_ms)

    def build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        for name in MOVIE_LISTS:
            app.router.add_get(f"/3/movie/{name}", self._list_handler(name))
        app.router.add_get("/3/discover/movie", self._discover)
        app.router.add_get("/3/search/movie", self._search)
        app.router.add_get("/3/genre/movie/list", self._genres)
        app.router.add_get(r"/3/movie/{movie_id:\d+}", self._details)
        return app

    # -- gatekeeping -------------------------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Callable[..., Any]) -> web.StreamResponse:
        now = time.monotonic()
        record = RecordedRequest(request.method, request.path, dict(request.query), now, dict(request.headers))
        self.state.requests.append(record)
        response = await self._answer(request, handler, now)
        record.status = response.status
        language = request.query.get("language")
        if language:
            response.headers["Content-Language"] = language
        return response

    async def _answer(self, request: web.Request, handler: Callable[..., Any], now: float) -> web.StreamResponse:
        state = self.state
        retry_after = state._admit(now)
        if retry_after is not None:
            return self._over_limit(str(retry_after))
        faults = state._take_faults(request.path)
        if faults.delay > 0:
            await asyncio.sleep(faults.delay)
        if faults.forced_429:
            return self._over_limit(faults.retry_after)
        if faults.failure is not None:
            return tmdb_error(faults.failure, _STATUS_CODE_FOR_HTTP.get(faults.failure, 11))
        response = await self._authorized(request, handler)
        if faults.malformed:
            body = response.body if isinstance(response, web.Response) and isinstance(response.body, bytes) else b""
            body = body or b'{"page": 1, "results": []}'
            return web.Response(body=body[: max(1, len(body) // 2)], status=200, content_type="application/json")
        return response

    def _over_limit(self, retry_after: int | str | None) -> web.Response:
        limit = self.state.requests_per_window or 40
        message = f"Your request count (#) is over the allowed limit of ({limit})."
        headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
        return tmdb_error(429, 25, message, **headers)

    async def _authorized(self, request: web.Request, handler: Callable[..., Any]) -> web.StreamResponse:
        bearer = request.headers.get("Authorization") == f"Bearer {self.api_key}"
        if not bearer and request.query.get("api_key") != self.api_key:
            return tmdb_error(401, 7)
        try:
            response: web.StreamResponse = await handler(request)
        except web.HTTPNotFound:
            return tmdb_error(404, 34)
        except web.HTTPMethodNotAllowed:
            return tmdb_error(405, 4, "Invalid format: This service doesn't exist in that format.")
        except _BadRequest as exc:
            return tmdb_error(exc.status, exc.status_code)
        return response

    # -- shapes ------------------------------------------------------------------------------------

    def _summary(self, movie: FakeMovie) -> dict[str, Any]:
        summary = {
            "adult": movie.adult,
            "backdrop_path": movie.backdrop_path,
            "genre_ids": [genre_id for genre_id, _ in movie.genres],
            "id": movie.id,
            "original_language": movie.original_language,
            "original_title": movie.original_title,
            "overview": movie.overview,
            "popularity": movie.popularity,
            "poster_path": movie.poster_path,
            "release_date": movie.release_date,
            "title": movie.title,
            "video": False,
            "vote_average": movie.vote_average,
            "vote_count": movie.vote_count,
        }
        for key in self.state.omit_summary_fields:
            summary.pop(key, None)
        return summary

    def _paged(self, movies: list[FakeMovie], page: int, **extra: Any) -> web.Response:
        start = (page - 1) * PAGE_SIZE
        body: dict[str, Any] = dict(extra)
        body["page"] = page
        body["results"] = [self._summary(movie) for movie in movies[start : start + PAGE_SIZE]]
        body["total_pages"] = max(1, math.ceil(len(movies) / PAGE_SIZE))
        body["total_results"] = len(movies)
        return web.json_response(body)

    def _list_dates(self, name: str) -> dict[str, str]:
        if name in self.state.list_dates:
            minimum, maximum = self.state.list_dates[name]
            return {"maximum": maximum, "minimum": minimum}
        today = dt.date.today()
        # Like TMDB: now_playing spans the last weeks up to tomorrow, upcoming the weeks ahead.
        first, last = (-41, 1) if name == "now_playing" else (2, 23)
        return {
            "maximum": (today + dt.timedelta(days=last)).isoformat(),
            "minimum": (today + dt.timedelta(days=first)).isoformat(),
        }

    # -- endpoints ---------------------------------------------------------------------------------

    def _list_handler(self, name: str) -> Callable[[web.Request], Any]:
        async def handler(request: web.Request) -> web.Response:
            page = _page(request)
            movies = [movie for movie in self.state.movies.values() if name in movie.lists]
            movies.sort(key=_by_rating if name == "top_rated" else _by_popularity)
            if name in ("now_playing", "upcoming"):
                return self._paged(movies, page, dates=self._list_dates(name))
            return self._paged(movies, page)

        return handler

    async def _discover(self, request: web.Request) -> web.Response:
        page = _page(request)
        query = request.query
        movies: Iterable[FakeMovie] = self.state.movies.values()
        if query.get("include_adult", "false").lower() != "true":
            movies = [movie for movie in movies if not movie.adult]
        if genres := query.get("with_genres"):
            movies = [movie for movie in movies if _matches_ids(genres, {g for g, _ in movie.genres})]
        if without := query.get("without_genres"):
            excluded = {int(part) for part in re.split(r"[,|]", without) if part.strip().isdigit()}
            movies = [movie for movie in movies if not excluded & {g for g, _ in movie.genres}]
        if language := query.get("with_original_language"):
            movies = [movie for movie in movies if movie.original_language in language.split("|")]
        if year := query.get("primary_release_year"):
            movies = [movie for movie in movies if str(_year(movie.release_date)) == year]
        if (earliest := _date_param(request, "primary_release_date.gte")) is not None:
            movies = [movie for movie in movies if movie.release_date and movie.release_date >= earliest]
        if (latest := _date_param(request, "primary_release_date.lte")) is not None:
            movies = [movie for movie in movies if movie.release_date and movie.release_date <= latest]
        if (least := _number_param(request, "vote_count.gte")) is not None:
            movies = [movie for movie in movies if movie.vote_count >= least]
        if (most := _number_param(request, "vote_count.lte")) is not None:
            movies = [movie for movie in movies if movie.vote_count <= most]
        if (lowest := _number_param(request, "vote_average.gte")) is not None:
            movies = [movie for movie in movies if movie.vote_average >= lowest]
        if (highest := _number_param(request, "vote_average.lte")) is not None:
            movies = [movie for movie in movies if movie.vote_average <= highest]
        field_name, _, direction = query.get("sort_by", "popularity.desc").partition(".")
        if field_name not in _DISCOVER_SORTS or direction not in ("asc", "desc"):
            raise _BadRequest(422, 5)
        ordered = sorted(movies, key=lambda movie: movie.id)
        ordered.sort(key=_DISCOVER_SORTS[field_name], reverse=direction == "desc")
        return self._paged(ordered, page)

    async def _search(self, request: web.Request) -> web.Response:
        page = _page(request)
        text = request.query.get("query", "").strip().lower()
        year = request.query.get("primary_release_year") or request.query.get("year")
        include_adult = request.query.get("include_adult", "false").lower() == "true"
        movies = [
            movie
            for movie in self.state.movies.values()
            if text
            and (text in movie.title.lower() or text in movie.original_title.lower())
            and (include_adult or not movie.adult)
            and (not year or str(_year(movie.release_date)) == year)
        ]
        movies.sort(key=lambda movie: (movie.title.lower() != text, -movie.popularity, movie.id))
        return self._paged(movies, page)

    async def _genres(self, request: web.Request) -> web.Response:
        return web.json_response({"genres": [{"id": genre_id, "name": name} for genre_id, name in self.state.genres]})

    async def _details(self, request: web.Request) -> web.Response:
        movie = self.state.movies.get(int(request.match_info["movie_id"]))
        if movie is None:
            return tmdb_error(404, 34)
        body = _details(movie)
        appended = {part.strip() for part in request.query.get("append_to_response", "").split(",") if part.strip()}
        if "release_dates" in appended:
            body["release_dates"] = {"results": _release_dates(movie)}
        if "credits" in appended:
            body["credits"] = _credits(movie)
        if "keywords" in appended:
            body["keywords"] = {"keywords": [{"id": kid, "name": name} for kid, name in movie.keywords]}
        body.update(self.state.detail_overrides.get(movie.id, {}))
        for key in self.state.omit_fields:
            body.pop(key, None)
        return web.json_response(body)


def _matches_ids(expression: str, present: set[int]) -> bool:
    """TMDB's filter syntax: a comma means AND, a pipe means OR."""
    if "|" in expression:
        wanted = {int(part) for part in expression.split("|") if part.strip().isdigit()}
        return bool(wanted & present)
    wanted = {int(part) for part in expression.split(",") if part.strip().isdigit()}
    return wanted <= present


def _details(movie: FakeMovie) -> dict[str, Any]:
    return {
        "adult": movie.adult,
        "backdrop_path": movie.backdrop_path,
        "belongs_to_collection": None,
        "budget": 0,
        "genres": [{"id": genre_id, "name": name} for genre_id, name in movie.genres],
        "homepage": "",
        "id": movie.id,
        "imdb_id": movie.imdb_id,
        "origin_country": ["US"] if movie.original_language == "en" else [],
        "original_language": movie.original_language,
        "original_title": movie.original_title,
        "overview": movie.overview,
        "popularity": movie.popularity,
        "poster_path": movie.poster_path,
        "production_companies": [],
        "production_countries": [],
        "release_date": movie.release_date,
        "revenue": 0,
        "runtime": movie.runtime,
        "spoken_languages": [],
        "status": movie.status,
        "tagline": movie.tagline,
        "title": movie.title,
        "video": False,
        "vote_average": movie.vote_average,
        "vote_count": movie.vote_count,
    }


def _release_dates(movie: FakeMovie) -> list[dict[str, Any]]:
    countries = dict(movie.release_dates_other)
    if movie.us_release_dates:
        countries["US"] = movie.us_release_dates
    moment = f"{movie.release_date}T00:00:00.000Z" if movie.release_date else None
    return [
        {
            "iso_3166_1": country,
            "release_dates": [
                {
                    "certification": certification,
                    "descriptors": [],
                    "iso_639_1": "",
                    "note": "",
                    "release_date": moment,
                    "type": kind,
                }
                for kind, certification in entries
            ],
        }
        for country, entries in sorted(countries.items())
    ]


def _credits(movie: FakeMovie) -> dict[str, Any]:
    cast = [
        {
            "adult": False,
            "gender": 0,
            "id": person_id,
            "known_for_department": "Acting",
            "name": name,
            "original_name": name,
            "popularity": 1.0,
            "profile_path": f"/profile{person_id}.jpg",
            "cast_id": order + 1,
            "character": character,
            "credit_id": f"{movie.id:012x}{person_id:012x}",
            "order": order,
        }
        for order, (person_id, name, character) in enumerate(movie.cast)
    ]
    crew_rows = [(person_id, name, "Director", "Directing") for person_id, name in movie.directors] + movie.crew
    crew = [
        {
            "adult": False,
            "gender": 0,
            "id": person_id,
            "known_for_department": department,
            "name": name,
            "original_name": name,
            "popularity": 1.0,
            "profile_path": f"/profile{person_id}.jpg",
            "credit_id": f"{movie.id:012x}{person_id:012x}",
            "department": department,
            "job": job,
        }
        for person_id, name, job, department in crew_rows
    ]
    return {"cast": cast, "crew": crew}
