"""The account pages and feedback buttons in headless Chromium against the real processes (a gateway
and a recommender on the seeded curated catalog, hash embedder), driven like a person would."""

import os
import re
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from playwright.async_api import expect

from popchoice_catalog_seeder.service import seed_movies_file

from .pages_in_browser import (
    AccountPage,
    Header,
    PasswordResetPages,
    QuizPage,
    ResultPage,
    SignInPage,
    SignUpPage,
    screenshot,
)
from .service_processes import Processes, free_port, start_gateway

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "a long and unusual passphrase 42"


class Site:
    """The running site: its base URL and the folder the gateway writes mail to (DATA_DIR/outbox)."""

    def __init__(self, base_url: str, outbox: Path, logs: Path) -> None:
        self.base_url = base_url
        self.outbox = outbox
        self.logs = logs

    def gateway_log(self) -> str:
        return "".join(path.read_text() for path in self.logs.glob("popchoice_gateway-*.log"))

    def reset_link(self) -> str:
        """The link of the one reset mail in the outbox."""
        mails = list(self.outbox.glob("*.eml"))
        assert len(mails) == 1, mails
        mail = message_from_bytes(mails[0].read_bytes(), policy=policy.default)
        assert isinstance(mail, EmailMessage)
        found = re.search(r"http://\S+/reset-password\?token=\S+", mail.get_content())
        assert found is not None
        return found.group(0)


@pytest.fixture
async def site(db_pool, database_url, redis_url, key_prefix, hash_embedder, tmp_path):
    """The seeded catalog, a recommender and the gateway (reset links pointing at it, mail in the outbox);
    recent picks are not held back (RECENT_RECOMMENDATION_DAYS=0), so only feedback changes the next picks."""
    await seed_movies_file(db_pool, hash_embedder, ROOT / "movies.txt")
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "STREAM_KEY_PREFIX": key_prefix,
        "EMBEDDING_PROVIDER": "hash",
        "RECENT_RECOMMENDATION_DAYS": "0",
        "PASSWORD_HASH_TIME_COST": "1",
        "PASSWORD_HASH_MEMORY_KIB": "8",
        "PASSWORD_HASH_PARALLELISM": "1",
        "DATA_DIR": str(tmp_path),
        "LOG_FORMAT": "json",
        "TMDB_API_KEY": "",
        "OPENAI_API_KEY": "",
        "SMTP_URL": "",
    }
    processes = Processes(env, tmp_path)
    processes.start("popchoice_recommender")
    port = free_port()
    client = await start_gateway(processes, port=port, PUBLIC_BASE_URL=f"http://127.0.0.1:{port}")
    yield Site(str(client.base_url).rstrip("/"), tmp_path / "outbox", tmp_path)
    await client.aclose()
    processes.stop_all()


async def sign_up(page, site: Site, email: str, name: str = "") -> None:
    await SignUpPage(page, site.base_url).open()
    await SignUpPage(page, site.base_url).sign_up(email, PASSWORD, name)
    await page.wait_for_url(f"{site.base_url}/")


async def recommend(page, site: Site) -> ResultPage:
    quiz = await QuizPage(page, site.base_url).open()
    await quiz.answer(0, favourite="Heat", why="the heist", era="Anything goes", moods=["Exciting"], tone="Serious")
    await quiz.submit()
    await page.wait_for_url(re.compile(r"/r/[0-9a-f-]{36}$"))
    result = ResultPage(page)
    await result.wait_for_picks(6)
    return result


async def test_feedback_on_picks_is_respected_by_the_next_recommendation(site, page):
    """A person signs up (the header then names them), fills the quiz, marks one pick watched and one not
    interested (pressed, thanked), likes a third and takes it back; the same quiz again never brings the
    watched or rejected film back."""
    await SignUpPage(page, site.base_url).open()
    await screenshot(page, "signup")
    await sign_up(page, site, "ada@example.test", "Ada")
    assert await Header(page).who() == "Ada"
    result = await recommend(page, site)
    first = await result.movie_keys()
    await result.give_feedback(1, "Watched it")
    await result.give_feedback(2, "Not interested")
    await expect(result.pick(2).locator(".feedback-status")).to_have_text("Thanks, noted.")
    await result.give_feedback(3, "Liked it")
    await result.give_feedback(3, "Liked it")
    await expect(result.pick(3).locator(".feedback-status")).to_have_text("Feedback taken back.")
    # Another kind replaces the one given: only one button of a pick is ever pressed.
    await result.give_feedback(1, "Wrong mood")
    await result.give_feedback(1, "Watched it")
    await expect(result.pick(1).locator("[aria-pressed=true]")).to_have_count(1)
    await screenshot(page, "result-feedback")
    # Reloaded, the page shows the feedback given (server-rendered pressed state).
    await page.reload()
    await expect(result.pick(1).get_by_role("button", name="Watched it")).to_have_attribute("aria-pressed", "true")
    await expect(result.pick(3).locator("[aria-pressed=true]")).to_have_count(0)
    again = await (await recommend(page, site)).movie_keys()
    assert first[1] not in again and first[2] not in again, (first, again)
    assert len(again) == 6


async def test_a_password_reset_through_the_outbox(site, page):
    """Signed out, a person asks for a reset mail, opens its link, chooses a new password, and signs in
    with it (the old one no longer works)."""
    await sign_up(page, site, "bo@example.test")
    await Header(page).sign_out()
    signin = SignInPage(page, site.base_url)
    assert await signin.notice() == "You are signed out."
    await screenshot(page, "signin")
    reset = PasswordResetPages(page)
    assert (await reset.ask_for_mail("bo@example.test")).startswith("If an account exists for that address")
    await screenshot(page, "forgot-password")
    link = site.reset_link()
    assert link.startswith(f"{site.base_url}/reset-password?token=")
    await page.goto(link)
    await screenshot(page, "reset-password")
    await reset.choose(link, "my brand new passphrase")
    await page.wait_for_url("**/signin?notice=password_changed")
    assert await signin.notice() == "Your password was changed. Sign in with the new one."
    await signin.sign_in("bo@example.test", PASSWORD)
    assert await signin.form_error() == "The e-mail or password is not right."
    await signin.sign_in("bo@example.test", "my brand new passphrase")
    await page.wait_for_url("**/account")
    assert await Header(page).who() == "bo@example.test"
    # The link's token was in two requested paths; the access log masks it, and no password is logged.
    token = link.split("token=", 1)[1]
    log = site.gateway_log()
    assert "/reset-password?token=***" in log
    for secret in (token, PASSWORD, "my brand new passphrase"):
        assert secret not in log


async def test_the_movie_memory_trainer_marks_a_film_and_undoes_it(site, page):
    """On the account page a person finds a film by title (keyboard only), marks it watched and sees it
    in the list, marks a deck film not interested, then undoes the first from the list."""
    await sign_up(page, site, "cy@example.test", "Cy")
    await Header(page).go_to_account()
    account = AccountPage(page, site.base_url)
    await account.search("godfater")
    results = "#memory-search + ul"
    await expect(account.film(results, "The Godfather (1972)")).to_be_visible()
    await account.mark(results, "The Godfather (1972)", "Watched")
    await expect(account.film(results, "The Godfather (1972)").get_by_role("button", name="Watched")).to_have_attribute(
        "aria-pressed", "true"
    )
    deck = await account.deck_titles()
    assert deck and "The Godfather (1972)" not in deck
    await account.mark("ul.deck", deck[0], "Not interested")
    assert deck[0] not in await account.deck_titles()
    remembered = await account.remembered()
    assert any(deck[0] in entry and "Not interested" in entry for entry in remembered), remembered
    assert any("The Godfather" in entry and "Watched" in entry for entry in remembered), remembered
    await screenshot(page, "account")
    await account.undo("The Godfather")
    await expect(page.locator("ul.stored li.film")).to_have_count(1)
    assert all("The Godfather" not in entry for entry in await account.remembered())


async def test_signing_out_and_deleting_the_account(site, page):
    """A person signs out and in again; deleting the account with a wrong password says so beside the
    field (focused), with the right one the account is gone and its password no longer signs in."""
    await sign_up(page, site, "dot@example.test", "Dot")
    await Header(page).sign_out()
    signin = SignInPage(page, site.base_url)
    await signin.sign_in("dot@example.test", PASSWORD)
    await page.wait_for_url("**/account")
    account = AccountPage(page, site.base_url)
    await account.delete_account("not my password")
    error = page.locator("#delete-password-error")
    await expect(error).to_have_text("The password is not right.")
    await expect(page.locator("#delete-password")).to_be_focused()
    await screenshot(page, "account-delete-error")
    await account.delete_account(PASSWORD)
    await page.wait_for_url("**/account/deleted")
    await expect(page.locator("h1")).to_have_text("Your account is deleted")
    await expect(page.get_by_role("link", name="Sign in")).to_be_visible()
    await screenshot(page, "account-deleted")
    await signin.open()
    await signin.sign_in("dot@example.test", PASSWORD)
    assert await signin.form_error() == "The e-mail or password is not right."
