"""The console in a real browser: headless Debian chromium driven by Playwright, against the real console
process (uvicorn) on real PostgreSQL and Redis, with a real worker consuming the streams.

Each test reads as an operator's steps through page objects, and leaves a screenshot in its tmp_path.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from popchoice_common.events import CATALOG_SEED_MOVIE, SeedMovieRequested
from popchoice_common.streams import Publisher, StreamKeys, StreamPolicy, Worker
from popchoice_common.testing.factories import insert_movie
from popchoice_common.testing.fake_tmdb import API_KEY as FAKE_TMDB_KEY
from popchoice_common.testing.fake_tmdb import make_movie

from .console_helpers import ALICE_PASSWORD, OPERATOR_USERS

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("chromium") is None, reason="Debian's chromium is not installed (.ci/run installs it)"
    ),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def console_url(database_url, redis_url, key_prefix, db_pool, fake_tmdb, tmp_path) -> Iterator[str]:
    """The console as its own process (popchoice-health serve), as compose runs it."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "STREAM_KEY_PREFIX": key_prefix,
        "OPERATOR_CONSOLE_PORT": str(port),
        "OPERATOR_AUTH_USERS": OPERATOR_USERS,
        "TMDB_API_KEY": FAKE_TMDB_KEY,
        "TMDB_BASE_URL": fake_tmdb.base_url,
        "TMDB_IMAGE_BASE_URL": "http://127.0.0.1:9/t/p",
        "LOG_FORMAT": "json",
    }
    with open(tmp_path / "console.log", "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "popchoice_health_reporter", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, (tmp_path / "console.log").read_text()
            time.sleep(0.2)
        try:
            yield url
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


@pytest.fixture
async def page(browser: Browser, console_url: str, tmp_path: Path) -> AsyncIterator[Page]:
    """A tab signed in as alice (the browser answers the Basic Auth challenge)."""
    context = await browser.new_context(
        base_url=console_url,
        http_credentials={"username": "alice", "password": ALICE_PASSWORD},
        viewport={"width": 1280, "height": 900},
    )
    tab = await context.new_page()
    yield tab
    await tab.screenshot(path=str(tmp_path / "last-page.png"), full_page=True)
    await context.close()


class JobsOverview:
    def __init__(self, page: Page) -> None:
        self.page = page

    async def open(self) -> JobsOverview:
        await self.page.goto("/")
        await expect(self.page.get_by_role("heading", name="Jobs")).to_be_visible()
        return self

    def row(self, stream: str):
        return self.page.get_by_role("row").filter(has=self.page.get_by_role("link", name=stream, exact=True))

    async def pause(self, stream: str) -> None:
        await self.row(stream).get_by_role("button", name="Pause").click()

    async def resume(self, stream: str) -> None:
        await self.row(stream).get_by_role("button", name="Resume").click()


class StreamPage:
    def __init__(self, page: Page, stream: str) -> None:
        self.page = page
        self.stream = stream

    async def open(self, state: str) -> StreamPage:
        await self.page.goto(f"/streams/{self.stream}?state={state}")
        return self

    async def retry(self, job_id: str) -> None:
        row = self.page.get_by_role("row").filter(has=self.page.get_by_role("link", name=job_id))
        await row.get_by_role("button", name="Retry").click()


class JobPage:
    def __init__(self, page: Page) -> None:
        self.page = page

    async def state(self) -> str:
        return (await self.page.locator("h1 .tag").inner_text()).strip()


class ReviewQueue:
    def __init__(self, page: Page) -> None:
        self.page = page

    async def open(self) -> ReviewQueue:
        await self.page.goto("/reviews")
        return self

    async def review(self, movie: str) -> None:
        row = self.page.get_by_role("row").filter(has_text=movie)
        await row.get_by_role("link", name="Review").click()


class ReviewPage:
    def __init__(self, page: Page) -> None:
        self.page = page

    async def accept(self, tmdb_id: int) -> None:
        await self.page.get_by_role("button", name=f"Accept TMDB {tmdb_id}").click()


async def test_an_operator_sees_a_dead_job_retries_it_and_sees_it_complete(page, redis_client, key_prefix):
    """Sign in, open the stream's dead jobs, retry one, and watch its new job complete."""
    keys = StreamKeys(key_prefix)
    await Publisher(redis_client, keys).publish(SeedMovieRequested.for_movie(603))
    seen: list[str] = []

    async def fails_first_time(event: SeedMovieRequested, context: object) -> None:
        seen.append(event.job_id)
        if len(seen) == 1:
            raise ValueError("TMDB answered 404 for 603")

    worker = Worker(redis_client, service="catalog-seeder", keys=keys, consumer="browser-test", block_ms=50)
    worker.subscribe(CATALOG_SEED_MOVIE, fails_first_time, policy=StreamPolicy(max_attempts=1, backoff_ms=10))
    running = asyncio.create_task(worker.run(install_signal_handlers=False))
    try:
        stream = await StreamPage(page, CATALOG_SEED_MOVIE).open("dead")
        for _ in range(100):
            if await page.get_by_role("link", name="tmdb-seed:603:en-US").count():
                break
            await asyncio.sleep(0.1)
            await stream.open("dead")
        await expect(page.get_by_text("TMDB answered 404 for 603").first).to_be_visible()
        await stream.retry("tmdb-seed:603:en-US")
        await expect(page.locator("h1")).to_contain_text("op:")
        job = JobPage(page)
        for _ in range(100):
            if await job.state() == "completed":
                break
            await asyncio.sleep(0.1)
            await page.reload()
        assert await job.state() == "completed"
        assert len(seen) == 2 and seen[1].startswith("op:")
    finally:
        worker.stop()
        await running


async def test_an_operator_accepts_a_match_review_and_sees_the_movie_linked(page, db_pool, fake_tmdb):
    """Open the review queue, compare the candidates, accept one, and find the movie linked to it."""
    fake_tmdb.state.add(make_movie(9001, "Solaris", release_date="1972-03-20", runtime=167, overview="Kelvin goes up."))
    async with db_pool.acquire() as connection:
        movie_id = await insert_movie(connection, "Solaris", year=1972, duration=167)
        await connection.execute(
            "INSERT INTO tmdb_match_reviews (movie_id, movie_name, movie_year, reason, candidates)"
            " VALUES ($1, 'Solaris', 1972, 'ambiguous_match', $2::jsonb)",
            movie_id,
            json.dumps(
                [
                    {"tmdb_id": 9001, "title": "Solaris", "year": 1972, "confidence": 0.6},
                    {"tmdb_id": 9002, "title": "Solaris", "year": 2002, "confidence": 0.55},
                ]
            ),
        )
    await (await ReviewQueue(page).open()).review("Solaris")
    await expect(page.get_by_text("Kelvin goes up.")).to_be_visible()
    await ReviewPage(page).accept(9001)
    await expect(page.locator("h1 .tag")).to_have_text("resolved")
    await page.get_by_role("link", name="Solaris").first.click()
    await expect(page.get_by_text("9001 (manual")).to_be_visible()


async def test_an_operator_pauses_a_stream_and_resumes_it(page, redis_client, key_prefix):
    """Pause a stream from the overview (it shows paused, Redis has the flag), then resume it."""
    keys = StreamKeys(key_prefix)
    overview = await JobsOverview(page).open()
    await overview.pause(CATALOG_SEED_MOVIE)
    await expect(overview.row(CATALOG_SEED_MOVIE).get_by_text("paused")).to_be_visible()
    assert await redis_client.exists(keys.paused(CATALOG_SEED_MOVIE))
    await overview.resume(CATALOG_SEED_MOVIE)
    await expect(overview.row(CATALOG_SEED_MOVIE).get_by_text("running")).to_be_visible()
    assert not await redis_client.exists(keys.paused(CATALOG_SEED_MOVIE))
