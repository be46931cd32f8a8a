"""The browser front door in headless Chromium against the real processes: the gateway and a
recommender (hash embedder, the seeded curated catalog), driven like a person would, without an API key."""

import os
import re
import uuid
from pathlib import Path

import pytest
from playwright.async_api import expect

from popchoice_catalog_seeder.service import seed_movies_file
from popchoice_common.recommendation import repository

from .pages_in_browser import QuizPage, ResultPage, screenshot
from .service_processes import Processes, start_gateway

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
async def site(db_pool, database_url, redis_url, key_prefix, hash_embedder, tmp_path):
    """The seeded catalog, a recommender and the gateway; the gateway's base URL."""
    await seed_movies_file(db_pool, hash_embedder, ROOT / "movies.txt")
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "STREAM_KEY_PREFIX": key_prefix,
        "EMBEDDING_PROVIDER": "hash",
        "LOG_FORMAT": "json",
        "TMDB_API_KEY": "",
        "OPENAI_API_KEY": "",
    }
    processes = Processes(env, tmp_path)
    processes.start("popchoice_recommender")
    client = await start_gateway(processes)
    yield str(client.base_url).rstrip("/")
    await client.aclose()
    processes.stop_all()


async def test_fill_the_quiz_and_see_six_picks(site, page):
    """One person types a favourite (suggested from the catalog), answers, submits and sees the main pick
    large and five others, with match, runtime and why; the share page shows the same picks read-only."""
    quiz = await QuizPage(page, site).open()
    await screenshot(page, "quiz")
    await quiz.type_favourite(0, "godfater")
    assert "The Godfather (1972)" in await quiz.suggestions(0)
    await quiz.answer(
        0,
        favourite="The Godfather (1972)",
        why="family and crime",
        era="A classic (before 1980)",
        moods=["Dark and gritty", "Emotional"],
        tone="Serious",
    )
    await quiz.submit()
    await page.wait_for_url(re.compile(r"/r/[0-9a-f-]{36}$"))
    result = ResultPage(page)
    await result.wait_for_picks(6)
    assert await page.locator(".pick-main").count() == 1
    assert await result.main_pick()
    main = page.locator(".pick-main")
    await expect(main.locator(".match")).to_have_text(re.compile(r"\d+% match"))
    await expect(main.locator(".why")).to_contain_text("Why this film")
    await expect(page.locator(".placeholder").first).to_be_visible()
    await screenshot(page, "result")
    share_url = await result.share_url()
    assert re.search(r"/s/[\w-]{12}$", share_url)
    titles = await page.locator("#picks .pick-title").all_inner_texts()
    await page.goto(share_url)
    await ResultPage(page).wait_for_picks(6)
    assert await page.locator("#picks .pick-title").all_inner_texts() == titles
    await expect(page.get_by_role("button", name="More picks")).to_have_count(0)
    await screenshot(page, "share")


async def test_a_group_quiz(site, page, db_pool):
    """Three people are added, one removed; the two left answer and get six picks for both."""
    quiz = await QuizPage(page, site).open()
    await quiz.add_person()
    await quiz.add_person()
    await expect(page.locator("fieldset.person")).to_have_count(3)
    await quiz.remove_person(2)
    await expect(page.locator("fieldset.person")).to_have_count(2)
    await expect(page.locator("fieldset.person > legend").nth(1)).to_have_text("Person 2")
    await quiz.answer(0, favourite="Heat", why="the heist", era="Anything goes", moods=["Exciting"], tone="Serious")
    await quiz.answer(
        1, favourite="Toy Story", why="it is funny", era="Anything goes", moods=["Funny"], tone="Light and easy"
    )
    await screenshot(page, "quiz-group")
    await quiz.submit()
    await page.wait_for_url(re.compile(r"/r/[0-9a-f-]{36}$"))
    await ResultPage(page).wait_for_picks(6)
    recommendation_id = page.url.rsplit("/", 1)[1]
    async with db_pool.acquire() as connection:
        stored = await repository.get_recommendation(connection, recommendation_id)
    assert stored is not None
    assert [person.favorite_movie for person in stored.quiz()] == ["Heat", "Toy Story"]


async def test_more_picks_appear_live(site, page, db_pool):
    """After the first six, "More picks" adds a batch of six below without leaving the page; when the next
    batch is already claimed (another tab asked first), the API's 409 becomes a friendly line."""
    quiz = await QuizPage(page, site).open()
    await quiz.answer(0, favourite="Alien", why="", era="Anything goes", moods=["Scary", "Sci-fi"], tone="Dark")
    await quiz.submit()
    result = ResultPage(page)
    await result.wait_for_picks(6)
    first_url = page.url
    await result.more_picks()
    await expect(page.locator("#picks .batch article.pick")).to_have_count(6, timeout=45_000)
    await expect(page.locator("#more-status")).to_have_text("Six more picks are below.")
    assert page.url == first_url
    titles = await page.locator("#picks .pick-title").all_inner_texts()
    assert len(set(titles)) == 12
    await screenshot(page, "result-more")
    # Claimed as the API claims it, but never queued: the batch stays "being prepared".
    async with db_pool.acquire() as connection:
        assert await repository.claim_more_picks(connection, uuid.UUID(page.url.rsplit("/", 1)[1])) == 2
    await result.more_picks()
    await expect(page.locator("#more-status")).to_have_text(
        "More picks are already on their way — they will appear here in a moment."
    )


async def test_the_russian_page_from_accept_language(site, browser, db_pool):
    """A browser asking for Russian gets the quiz, the progress and the picks in Russian, and its
    recommendation the ru-RU locale."""
    context = await browser.new_context(locale="ru-RU", viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    quiz = QuizPage(page, site)
    await quiz.open()
    await expect(page.locator("h1")).to_have_text("Что посмотрим сегодня?")
    assert await page.locator("html").get_attribute("lang") == "ru"
    person = quiz.person(0)
    await person.get_by_label("Любимый фильм").fill("Heat")
    await person.get_by_label("Неважно", exact=True).check()
    await person.get_by_label("Захватывающее", exact=True).check()
    await person.get_by_label("Серьёзный", exact=True).check()
    await screenshot(page, "quiz-ru")
    await quiz.submit()
    await ResultPage(page).wait_for_picks(6)
    await expect(page.locator("h1")).to_have_text("Ваша подборка")
    await expect(page.locator(".pick-main .match")).to_have_text(re.compile(r"Совпадение \d+%"))
    await screenshot(page, "result-ru")
    async with db_pool.acquire() as connection:
        stored = await repository.get_recommendation(connection, page.url.rsplit("/", 1)[1])
    assert stored is not None and stored.locale == "ru-RU"
    await page.get_by_role("link", name="Suomi").click()
    await expect(page.locator("h1")).to_have_text("Teidän ehdotuksenne")
    await context.close()


async def test_validation_messages_appear_next_to_their_field(site, page):
    """Submitting with answers missing shows the API's errors next to each field, says so above the
    form, and moves focus to the first; fixing them and submitting with the keyboard only goes through."""
    quiz = await QuizPage(page, site).open()
    await quiz.person(0).get_by_label("Favourite film").fill("   ")
    await quiz.submit()
    assert await quiz.error_of(0, "favoriteMovie") == "Please fill this in."
    assert await quiz.error_of(0, "newVsClassic") == "Please fill this in."
    assert await quiz.error_of(0, "moodPreference") == "Please fill this in."
    assert await quiz.error_of(0, "tonePreference") == "Please fill this in."
    await expect(page.locator("#form-error")).to_have_text("Please check the answers marked below.")
    await expect(page.locator("#p0-favorite")).to_be_focused()
    assert await page.locator("#p0-favorite").get_attribute("aria-invalid") == "true"
    await screenshot(page, "quiz-errors")
    # Keyboard only: type, then Tab to each group and pick with Space.
    await page.keyboard.type("Heat")
    await page.keyboard.press("Tab")  # the why
    await page.keyboard.press("Tab")  # era: the first radio
    await page.keyboard.press("Space")
    await page.keyboard.press("Tab")  # moods: the first checkbox
    await page.keyboard.press("Space")
    for _ in range(12):  # past the other eleven moods to the tone group
        await page.keyboard.press("Tab")
    await page.keyboard.press("Space")
    await expect(page.locator("input[name=p0-tone]:checked")).to_have_count(1)
    await page.locator("#submit").focus()
    await page.keyboard.press("Enter")
    await page.wait_for_url(re.compile(r"/r/[0-9a-f-]{36}$"))
    await ResultPage(page).wait_for_picks(6)
