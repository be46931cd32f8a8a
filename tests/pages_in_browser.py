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
