"""Fixtures the browser tests share."""

import pytest


@pytest.fixture
async def page(browser):
    """A desktop-sized English page that fails the test on any script error or CSP refusal."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    opened = await context.new_page()
    failures: list[str] = []
    opened.on("console", lambda message: failures.append(message.text) if message.type == "error" else None)
    opened.on("pageerror", lambda error: failures.append(str(error)))
    yield opened
    await context.close()
    # No script error and nothing refused by the CSP on any page the test saw (an API answer of 4xx that a
    # test provokes, such as the quiz's 422, is logged by Chromium as a failed load: that one is expected).
    expected = "Failed to load resource: the server responded with a status of 4"
    assert [failure for failure in failures if not failure.startswith(expected)] == []
