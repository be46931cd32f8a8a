import gzip
import re
import uuid
from importlib.resources import files

import pytest
from fastapi.testclient import TestClient

from popchoice_common.recommendation import repository
from popchoice_common.testing.factories import insert_movie, insert_pick, insert_recommendation, insert_user
from popchoice_gateway.app import create_app
from popchoice_gateway.config import GatewaySettings
from popchoice_gateway.i18n import LANGUAGE_COOKIE

from .conftest import QUIZ

INLINE_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)
SCRIPT_TAG = re.compile(r"<script\b([^>]*)>", re.IGNORECASE)


@pytest.fixture
def browser_client(gateway_env):
    """The gateway in-process, called as a browser would: no API key."""
    with TestClient(create_app(GatewaySettings())) as test_client:
        yield test_client


def assert_page_is_locked_down(answer):
    """No inline script or handler, no asset from another origin, and the security headers."""
    csp = answer.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "unsafe" not in csp
    assert answer.headers["x-frame-options"] == "DENY"
    for attributes in SCRIPT_TAG.findall(answer.text):
        assert "src=" in attributes or 'type="application/json"' in attributes, attributes
    assert not INLINE_HANDLER.search(answer.text)
    assert not re.search(r'(src|href)="(https?:)?//', answer.text)
    assert "style=" not in answer.text


def test_the_quiz_page_renders_in_english_by_default_and_is_locked_down(browser_client):
    """/ is the quiz, with labelled fields for one person, and every page's security headers."""
    answer = browser_client.get("/")
    assert answer.status_code == 200 and answer.headers["content-language"] == "en"
    assert '<html lang="en">' in answer.text and "What should we watch tonight?" in answer.text
    assert '<label for="p0-favorite">' in answer.text
    assert_page_is_locked_down(answer)
    for asset in ("pages.css", "common.js", "quiz.js", "result.js", "icon.svg"):
        assert browser_client.get(f"/assets/{asset}").status_code == 200


@pytest.mark.parametrize(
    ("accept", "cookie", "heading"),
    [
        ("ru-RU,ru;q=0.9,en;q=0.8", None, "Что посмотрим сегодня?"),
        ("fi", None, "Mitä katsottaisiin tänään?"),
        ("ru", "fi", "Mitä katsottaisiin tänään?"),
        ("de", None, "What should we watch tonight?"),
    ],
)
def test_the_page_language_follows_the_cookie_then_accept_language(browser_client, accept, cookie, heading):
    """Accept-Language chooses ru or fi; the switch's cookie overrides it; anything else is English."""
    if cookie:
        browser_client.cookies.set(LANGUAGE_COOKIE, cookie)
    answer = browser_client.get("/", headers={"Accept-Language": accept})
    assert heading in answer.text


def test_the_language_switch_sets_the_cookie_and_returns_only_to_this_site(browser_client):
    """/language/fi keeps fi in a cookie and goes back to the page; a next outside this site goes to /."""
    answer = browser_client.get("/language/fi", params={"next": "/s/abc"}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/s/abc"
    assert f"{LANGUAGE_COOKIE}=fi" in answer.headers["set-cookie"]
    for elsewhere in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        answer = browser_client.get("/language/ru", params={"next": elsewhere}, follow_redirects=False)
        assert answer.headers["location"] == "/"
    answer = browser_client.get("/language/xx", follow_redirects=False)
    assert "set-cookie" not in answer.headers


async def _locale_of(db_pool, recommendation_id):
    async with db_pool.acquire() as connection:
        found = await repository.get_recommendation(connection, recommendation_id)
    assert found is not None
    return found.locale


async def test_the_api_takes_the_page_language_when_a_request_names_no_locale(client, db_pool):
    """Without ?locale= or X-Locale the recommendation gets the cookie's, else Accept-Language's locale."""
    by_header = client.post("/api/recommendations", json=QUIZ, headers={"Accept-Language": "ru,en;q=0.5"})
    client.cookies.set(LANGUAGE_COOKIE, "fi")
    by_cookie = client.post("/api/recommendations", json=QUIZ, headers={"Accept-Language": "ru"})
    named = client.post("/api/recommendations", json=QUIZ, params={"locale": "de-DE"})
    client.cookies.clear()
    neither = client.post("/api/recommendations", json=QUIZ)
    locales = [await _locale_of(db_pool, answer.json()["id"]) for answer in (by_header, by_cookie, named, neither)]
    assert locales == ["ru-RU", "fi-FI", "de-DE", "en-US"]


async def test_title_search_is_public_and_finds_catalog_titles(browser_client, db_pool):
    """GET /api/titles needs no sign-in and answers catalog films like q, typos and all, best first."""
    await insert_movie(db_pool, "The Godfather", 1972)
    await insert_movie(db_pool, "Heat", 1995)
    answer = browser_client.get("/api/titles", params={"q": "godfater"})
    assert answer.status_code == 200
    assert answer.json()[0] == {"id": answer.json()[0]["id"], "name": "The Godfather", "year": 1972}
    assert browser_client.get("/api/titles", params={"q": "g"}).status_code == 422
    assert browser_client.get("/api/titles", params={"q": "ab\x00c"}).status_code == 422
    assert browser_client.get("/api/titles", params={"q": "x" * 101}).status_code == 422
    assert browser_client.get("/api/titles", params={"q": "heat", "limit": 11}).status_code == 422


def test_title_search_is_rate_limited_per_client(gateway_env, monkeypatch):
    """Past TITLE_SEARCH_PER_MINUTE searches a minute a client gets 429 with Retry-After."""
    monkeypatch.setenv("TITLE_SEARCH_PER_MINUTE", "3")
    with TestClient(create_app(GatewaySettings())) as test_client:
        codes = [test_client.get("/api/titles", params={"q": "heat"}).status_code for _ in range(5)]
        refused = test_client.get("/api/titles", params={"q": "heat"})
    assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429]
    assert refused.json()["detail"] == "Too many title searches; try again shortly." and refused.headers["retry-after"]


def test_title_search_is_documented_in_openapi(browser_client):
    """The endpoint is in the OpenAPI document with its limits; the pages are not."""
    paths = browser_client.get("/openapi.json").json()["paths"]
    parameters = {parameter["name"]: parameter for parameter in paths["/api/titles"]["get"]["parameters"]}
    assert parameters["q"]["schema"]["minLength"] == 2 and parameters["q"]["schema"]["maxLength"] == 100
    assert "/" not in paths and "/r/{recommendation_id}" not in paths


async def _completed(db_pool, *, user_id=None, why="Crime; from 1995 (broadened: moods)."):
    recommendation_id = await insert_recommendation(
        db_pool, user_id=user_id, status="completed", stage="complete", slug=uuid.uuid4().hex[:12]
    )
    for position in range(6):
        await insert_pick(
            db_pool,
            recommendation_id,
            f"film:{position}",
            position=position,
            name=f"Film <{position}>",
            is_main_recommendation=position == 0,
            similarity=0.4,
            why=why,
            year=1995,
            duration=110,
        )
    async with db_pool.acquire() as connection:
        found = await repository.get_recommendation(connection, str(recommendation_id))
    assert found is not None
    return recommendation_id, found.slug


async def test_a_completed_recommendation_renders_its_picks_escaped_and_no_store(browser_client, db_pool):
    """/r/<id> shows the main pick and five others (titles escaped), what gave way, the share link, and is
    no-store; made without an account, it has no feedback buttons (nobody owns it)."""
    recommendation_id, slug = await _completed(db_pool)
    answer = browser_client.get(f"/r/{recommendation_id}")
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
    assert_page_is_locked_down(answer)
    assert answer.text.count('<article class="pick') == 6 and answer.text.count('<article class="pick pick-main"') == 1
    assert "Film &lt;0&gt;" in answer.text and "<0>" not in answer.text
    assert "What gave way: the moods." in answer.text and "(broadened" not in answer.text
    assert f"/s/{slug}" in answer.text and 'id="more-picks"' in answer.text
    assert 'class="feedback"' not in answer.text


async def test_the_share_page_is_public_and_read_only(browser_client, db_pool):
    """/s/<slug> shows someone's picks to anyone, without more picks, sharing or feedback slots."""
    owner = await insert_user(db_pool)
    recommendation_id, slug = await _completed(db_pool, user_id=owner)
    shared = browser_client.get(f"/s/{slug}", headers={"Accept-Language": "ru"})
    assert shared.status_code == 200 and "Подборка, которой с вами поделились" in shared.text
    assert shared.text.count('<article class="pick') == 6
    assert 'id="more-picks"' not in shared.text and 'class="feedback"' not in shared.text
    fragment = browser_client.get(f"/picks/{slug}", params={"readonly": "true"})
    assert fragment.status_code == 200 and fragment.text.count('<article class="pick') == 6


async def test_someones_recommendation_is_not_found_by_id_or_through_the_share_route(browser_client, db_pool):
    """A signed-in person's recommendation is theirs by id: a stranger gets the not-found page, also via /s/<id>."""
    owner = await insert_user(db_pool)
    recommendation_id, _ = await _completed(db_pool, user_id=owner)
    paths = (f"/r/{recommendation_id}", f"/s/{recommendation_id}", f"/picks/{recommendation_id}", f"/r/{uuid.uuid4()}")
    for path in paths:
        answer = browser_client.get(path)
        assert answer.status_code == 404, path
        assert "Film" not in answer.text
    assert browser_client.get("/r/not-a-uuid").status_code == 404


async def test_a_pending_recommendation_shows_live_progress(browser_client, db_pool):
    """Before its picks, /r/<id> shows the stage in an aria-live status and no picks yet."""
    recommendation_id = await insert_recommendation(db_pool, status="processing", stage="local-search")
    answer = browser_client.get(f"/r/{recommendation_id}")
    assert answer.status_code == 200
    assert re.search(r'role="status" aria-live="polite">Searching our catalog…<', answer.text)
    assert '<article class="pick' not in answer.text


def test_the_pages_own_js_and_css_stay_under_50_kb_gzipped():
    """The pages' own JS and CSS, gzipped, total at most 50 KB (the target of issue #15)."""
    folder = files("popchoice_gateway") / "static" / "pages"
    own = [entry for entry in folder.iterdir() if entry.name.endswith((".js", ".css"))]
    assert {entry.name for entry in own} >= {"pages.css", "common.js", "quiz.js", "result.js"}
    total = sum(len(gzip.compress(entry.read_bytes(), compresslevel=9)) for entry in own)
    assert total <= 50 * 1024, total
