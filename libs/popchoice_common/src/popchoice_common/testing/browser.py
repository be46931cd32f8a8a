"""Headless Chromium for browser tests: Debian's chromium driven by Playwright for Python.

`playwright install` cannot download browsers here, so Playwright launches the system binary
(CHROMIUM_PATH, default /usr/bin/chromium; `apt-get install -y chromium`, which .ci/run does).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from playwright.async_api import Browser, async_playwright

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    """The Chromium binary; an error saying how to install it when there is none (never a silent skip)."""
    path = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    if not shutil.which(path):
        raise RuntimeError(f"no Chromium at {path}: apt-get install -y chromium (or set CHROMIUM_PATH)")
    return path


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """A headless Chromium, closed afterwards."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()
