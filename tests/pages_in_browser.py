"""Page objects for the browser tests: each reads like a person's steps on one page."""

from __future__ import annotations

import os
from pathlib import Path

from playwright.async_api import Page, ViewportSize, expect

PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1280, "height": 900}


async def screenshot(page: Page, name: str) -> None:
    """With SCREENSHOTS_DIR set (make screenshots), the page at desktop and phone width, whole page."""
    folder = os.environ.get("SCREENSHOTS_DIR")
    if not folder:
        return
    Path(folder).mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - once, before any screenshot
    size = page.viewport_size or DESKTOP
    for label, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        await page.set_viewport_size(viewport)
        await page.wait_for_timeout(150)
        await page.screenshot(path=str(Path(folder) / f"{name}-{label}.png"), full_page=True)
    await page.set_viewport_size(size)


class QuizPage:
    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url

    async def open(self) -> QuizPage:
        await self.page.goto(f"{self.base_url}/")
        return self

    def person(self, index: int):
        return self.page.locator("fieldset.person").nth(index)

    async def add_person(self) -> None:
        await self.page.get_by_role("button", name="Add a person").click()

    async def remove_person(self, number: int) -> None:
        await self.page.get_by_role("button", name=f"Remove person {number}").click()

    async def type_favourite(self, index: int, text: str) -> None:
        await self.person(index).get_by_label("Favourite film").fill(text)

    async def suggestions(self, index: int) -> list[str]:
        options = self.person(index).locator("datalist option")
        await expect(options.first).to_be_attached(timeout=5_000)
        return [value or "" for value in await options.evaluate_all("(all) => all.map((o) => o.value)")]

    async def answer(self, index: int, *, favourite: str, why: str, era: str, moods: list[str], tone: str) -> None:
        person = self.person(index)
        await person.get_by_label("Favourite film").fill(favourite)
        await person.get_by_label("Why do you love it?").fill(why)
        await person.get_by_label(era, exact=True).check()
        for mood in moods:
            await person.get_by_label(mood, exact=True).check()
        await person.get_by_label(tone, exact=True).check()

    async def submit(self) -> None:
        await self.page.locator("#submit").click()

    async def error_of(self, index: int, field: str) -> str:
        message = self.page.locator(f"#p{index}-{field}-error")
        await expect(message).to_be_visible(timeout=10_000)
        return await message.inner_text()


class ResultPage:
    def __init__(self, page: Page) -> None:
        self.page = page

    async def wait_for_picks(self, count: int = 6) -> None:
        await expect(self.page.locator("#picks article.pick")).to_have_count(count, timeout=45_000)

    async def main_pick(self) -> str:
        return await self.page.locator(".pick-main .pick-title").inner_text()

    async def more_picks(self) -> None:
        await self.page.get_by_role("button", name="More picks").click()

    async def share_url(self) -> str:
        return await self.page.locator("#share-url").input_value()

    def pick(self, index: int):
        return self.page.locator("#picks article.pick").nth(index)

    async def movie_keys(self) -> list[str]:
        """The picks' movie keys, main pick first."""
        return [
            key or ""
            for key in await self.page.locator("#picks article.pick").evaluate_all(
                "(all) => all.map((pick) => pick.getAttribute('data-movie-key'))"
            )
        ]

    async def give_feedback(self, index: int, label: str) -> None:
        """Presses one of a pick's feedback buttons and waits for the answer to be shown."""
        button = self.pick(index).get_by_role("button", name=label, exact=True)
        was = await button.get_attribute("aria-pressed")
        await button.click()
        await expect(button).to_have_attribute("aria-pressed", "false" if was == "true" else "true")


class Header:
    """The account links every page's header carries."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.nav = page.get_by_role("navigation", name="Your account")

    async def who(self) -> str:
        return await self.nav.locator(".who").inner_text()

    async def sign_out(self) -> None:
        await self.nav.get_by_role("button", name="Sign out").click()
        await self.page.wait_for_url("**/signin?notice=signed_out")

    async def go_to_account(self) -> None:
        await self.nav.get_by_role("link", name="Account").click()
        await self.page.wait_for_url("**/account")


class SignUpPage:
    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url

    async def open(self) -> SignUpPage:
        await self.page.goto(f"{self.base_url}/signup")
        return self

    async def sign_up(self, email: str, password: str, name: str = "") -> None:
        await self.page.get_by_label("E-mail").fill(email)
        await self.page.get_by_label("Your name").fill(name)
        await self.page.get_by_label("Password").fill(password)
        await self.page.get_by_role("button", name="Sign up").click()


class SignInPage:
    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url

    async def open(self) -> SignInPage:
        await self.page.goto(f"{self.base_url}/signin")
        return self

    async def sign_in(self, email: str, password: str) -> None:
        form = self.page.locator("form.account-form")
        await form.get_by_label("E-mail").fill(email)
        await form.get_by_label("Password").fill(password)
        await form.get_by_role("button", name="Sign in").click()

    async def notice(self) -> str:
        return await self.page.locator(".notice").inner_text()

    async def form_error(self) -> str:
        message = self.page.locator("#form-error")
        await expect(message).to_be_visible()
        return await message.inner_text()


class PasswordResetPages:
    """Asking for the mail (the forgotten-password page), then choosing a new password from its link."""

    def __init__(self, page: Page) -> None:
        self.page = page

    async def ask_for_mail(self, email: str) -> str:
        await self.page.get_by_role("link", name="Forgot your password?").click()
        await self.page.get_by_label("E-mail").fill(email)
        await self.page.get_by_role("button", name="Send the link").click()
        sent = self.page.locator("#forgot-sent")
        await expect(sent).to_be_visible()
        return await sent.inner_text()

    async def choose(self, link: str, password: str) -> None:
        await self.page.goto(link)
        await self.page.get_by_label("New password").fill(password)
        await self.page.get_by_role("button", name="Save the new password").click()


class AccountPage:
    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url

    async def open(self) -> AccountPage:
        await self.page.goto(f"{self.base_url}/account")
        return self

    async def search(self, text: str) -> None:
        """Types a title in the trainer's search and presses Enter (keyboard only)."""
        await self.page.get_by_label("Find a film in our catalog").fill(text)
        await self.page.keyboard.press("Enter")
        await expect(self.page.locator("#memory-search")).to_be_visible()

    def film(self, section: str, title: str):
        return self.page.locator(f"{section} li.film").filter(has_text=title)

    async def mark(self, section: str, title: str, kind: str) -> None:
        """Presses a trainer button on a film of the search results ("#memory-search + ul") or the deck."""
        await self.film(section, title).get_by_role("button", name=kind, exact=True).click()
        await self.page.wait_for_load_state()

    async def deck_titles(self) -> list[str]:
        return await self.page.locator("ul.deck .film-title").all_inner_texts()

    async def remembered(self) -> list[str]:
        return await self.page.locator("ul.stored li.film").all_inner_texts()

    async def undo(self, title: str) -> None:
        await self.film("ul.stored", title).get_by_role("button", name=f"Undo: forget {title}").click()

    async def delete_account(self, password: str) -> None:
        await self.page.get_by_label("Your password").fill(password)
        await self.page.get_by_role("button", name="Delete my account").click()
