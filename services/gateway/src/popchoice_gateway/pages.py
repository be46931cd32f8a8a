"""The browser's pages: the Jinja environment, the security headers every page carries, and the view
of a recommendation the result and share pages render (pure: built from stored rows, no I/O)."""

from __future__ import annotations

import re
import uuid
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from popchoice_common.recommendation.ranking import match_percent
from popchoice_common.recommendation.records import RecommendationRow, StoredPick
from popchoice_gateway.i18n import LANGUAGE_NAMES, LANGUAGES, Translator

#: The picks' "why" ends with "(broadened: <what gave way>)" when the search had to widen (ranking.explain).
BROADENED = re.compile(r"\(broadened: ([^)]+)\)")
#: What the pipeline lets give way, in the order it does (pipeline._candidates); each has a message.
GAVE_WAY = ("moods", "era and moods")
#: How many placeholder colours the stylesheet draws (pages.css: .hue-0 … .hue-7).
PLACEHOLDER_HUES = 8
#: The answers the quiz offers; the values are what the API gets (English words the constraints read).
ERAS = ("new", "classic", "80s", "90s", "anything")
MOODS = (
    "funny",
    "exciting",
    "romantic",
    "scary",
    "thought-provoking",
    "heartwarming",
    "mysterious",
    "emotional",
    "adventure",
    "sci-fi",
    "dark",
    "inspiring",
)
TONES = ("lighthearted", "balanced", "serious", "dark")
MAX_PEOPLE = 10


def content_security_policy(image_base_url: str) -> str:
    """Scripts and styles from this origin only (no inline script, no inline event handler); posters
    also from TMDB's image host."""
    parts = urlsplit(image_base_url)
    image_origin = f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else ""
    return (
        f"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: {image_origin}".rstrip()
        + "; connect-src 'self'; font-src 'self'; object-src 'none'; frame-ancestors 'none'; "
        "base-uri 'none'; form-action 'self'"
    )


def security_headers(image_base_url: str, *, personal: bool) -> dict[str, str]:
    """The headers of every page; personal pages (a recommendation) are never stored by a cache."""
    return {
        "Content-Security-Policy": content_security_policy(image_base_url),
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Cache-Control": "no-store" if personal else "no-cache",
    }


@dataclass(frozen=True, slots=True)
class PickView:
    """One pick as a page shows it."""

    key: str
    title: str
    original_title: str | None
    year: int | None
    runtime: int | None
    rating: str | None
    age_rating: str | None
    match: int
    pitch: str | None
    why: str | None
    poster_url: str | None
    hue: int
    from_tmdb: bool


@dataclass(frozen=True, slots=True)
class ResultView:
    """A recommendation as the result and share pages show it: the main pick, the five others of the
    first batch, then each batch of more picks."""

    id: str
    slug: str
    status: str
    stage: str
    main: PickView | None
    others: list[PickView]
    batches: list[tuple[int, list[PickView]]]
    broadened: bool
    gave_way: list[str] = field(default_factory=list)
    more_picks_status: str | None = None
    #: The person it was made for (None: made without an account); only they give feedback on it.
    user_id: uuid.UUID | None = None

    @property
    def finished(self) -> bool:
        return self.status in ("completed", "failed")


def _rating(value: object) -> str | None:
    if value is None:
        return None
    return f"{float(str(value)):.1f}"


def _pick_view(pick: StoredPick, ceiling: float, image_base_url: str) -> PickView:
    title = pick.localized_name or pick.name
    poster = pick.poster_url if pick.poster_url and pick.poster_url.startswith(image_base_url) else None
    why = BROADENED.sub("", pick.why).strip().rstrip(".").strip() + "." if pick.why else None
    pitch = pick.ai_description
    if pitch and pick.why and pitch.endswith(pick.why):
        # The catalog pitch (no chat model) ends with the why, which the page shows on its own line.
        pitch = pitch[: -len(pick.why)].rstrip() or None
    return PickView(
        key=pick.movie_key,
        title=title,
        original_title=pick.name if title != pick.name else None,
        year=pick.year,
        runtime=pick.duration,
        rating=_rating(pick.score_rating),
        age_rating=pick.age_rating,
        match=match_percent(pick.similarity, ceiling),
        pitch=pitch,
        why=why if why != "." else None,
        poster_url=poster,
        hue=zlib.crc32(pick.movie_key.encode()) % PLACEHOLDER_HUES,
        from_tmdb=pick.from_tmdb,
    )


def result_view(
    row: RecommendationRow, picks: Sequence[StoredPick], *, ceiling: float, image_base_url: str
) -> ResultView:
    """The page's view of a stored recommendation and its picks (in batch and position order)."""
    first = [pick for pick in picks if pick.batch == 0]
    main_pick = next((pick for pick in first if pick.is_main_recommendation), first[0] if first else None)
    later: dict[int, list[PickView]] = {}
    for pick in picks:
        if pick.batch > 0:
            later.setdefault(pick.batch, []).append(_pick_view(pick, ceiling, image_base_url))
    gave_way: list[str] = []
    for pick in picks:
        found = BROADENED.search(pick.why or "")
        if found and found.group(1) in GAVE_WAY and found.group(1) not in gave_way:
            gave_way.append(found.group(1))
    gave_way.sort(key=GAVE_WAY.index)
    return ResultView(
        id=str(row.id),
        slug=row.slug,
        status=row.status,
        stage=row.stage,
        main=_pick_view(main_pick, ceiling, image_base_url) if main_pick else None,
        others=[_pick_view(pick, ceiling, image_base_url) for pick in first if pick is not main_pick],
        batches=sorted(later.items()),
        broadened=row.used_broader_search or bool(gave_way),
        # "era and moods" says it all when both were relaxed.
        gave_way=gave_way[-1:],
        more_picks_status=row.more_picks_status,
        user_id=row.user_id,
    )


@dataclass(frozen=True, slots=True)
class Viewer:
    """The signed-in person a page is shown to (the header names them)."""

    user_id: uuid.UUID
    email: str
    display_name: str | None

    @property
    def name(self) -> str:
        return self.display_name or self.email


#: The feedback a pick's owner can give, in the order the buttons show them (the API's kinds).
FEEDBACK_KINDS = ("already_watched", "useful", "not_for_me", "wrong_mood", "too_obvious", "too_obscure", "close")
#: What the movie-memory trainer lets a person say about a film (the API's kinds).
MEMORY_KINDS = ("watched", "not_seen", "liked", "not_interested")


def environment() -> Environment:
    """Templates from this package, HTML autoescaped, a missing variable an error."""
    env = Environment(
        loader=PackageLoader("popchoice_gateway", "templates"),
        autoescape=select_autoescape(default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        languages=LANGUAGES,
        language_names=LANGUAGE_NAMES,
        eras=ERAS,
        moods=MOODS,
        tones=TONES,
        max_people=MAX_PEOPLE,
        feedback_kinds=FEEDBACK_KINDS,
        memory_kinds=MEMORY_KINDS,
    )
    return env


def page_context(t: Translator, path: str, **values: Any) -> dict[str, Any]:
    """What every template gets: the translator, the language, the current path (for the switch), who
    is signed in (None: nobody) and the CSRF token the page's forms echo ("" when it has none)."""
    return {"t": t, "lang": t.language, "path": path, "viewer": None, "csrf_token": "", **values}
