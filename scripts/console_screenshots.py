"""Screenshots of the operator console's main pages (make console-screenshots).

Plants a small catalog, a match review and jobs in every state in a database and Redis prefix of its
own, starts the real console process, and photographs each page with Debian's chromium through
Playwright at desktop (1280 px) and phone (390 px) width into docs/screenshots/. Cleans up after.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import asyncpg
import numpy as np
import httpx
import redis.asyncio as redis
from playwright.async_api import async_playwright

from popchoice_common.db.migrations import migrate
from popchoice_common.db.pool import register_codecs, resolve_database_url
from popchoice_common.events import (
    CATALOG_BACKFILL_MOVIE,
    CATALOG_SEED_MOVIE,
    BackfillMovieRequested,
    SeedMovieRequested,
)
from popchoice_common.settings import PopChoiceSettings
from popchoice_common.streams import Publisher, StreamKeys, StreamPolicy, Worker, get_job
from popchoice_common.testing.factories import insert_movie, link_genres, link_keywords, link_people
from popchoice_common.testing.fake_tmdb import API_KEY as FAKE_TMDB_KEY
from popchoice_common.testing.fake_tmdb import FakeTMDBServer, make_movie
from popchoice_common.testing.provision import redis_server_url, with_database

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
DATABASE = "popchoice_console_screenshots"
USER, PASSWORD = "ops", "screenshots-only-password"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SIZES = {"desktop": (1280, 860), "phone": (390, 844)}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def admin_sql(server_url: str, sql: str) -> None:
    connection = await asyncpg.connect(server_url)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def plant_catalog(database_url: str) -> dict[str, int]:
    connection = await asyncpg.connect(database_url)
    await register_codecs(connection)
    try:
        alien = await insert_movie(
            connection,
            "Alien",
            year=1979,
            duration=117,
            age_rating="R",
            description="The crew of a commercial spacecraft meets a deadly lifeform.",
            tmdb_id=348,
            tmdb_match_source="tmdb_discovery",
            tmdb_matched_at=None,
            score_rating=8.2,
            localized_name="Alien",
            embedding=np.random.default_rng(348).random(384, dtype=np.float32),
            model="hash-384",
        )
        await link_people(connection, alien, (1, "Sigourney Weaver", "cast"), (2, "Ridley Scott", "director"))
        await link_genres(connection, alien, (27, "Horror"), (878, "Science Fiction"))
        await link_keywords(connection, alien, (9882, "space"), (1852, "alien life-form"))
        solaris = await insert_movie(
            connection, "Solaris", year=1972, duration=167, description="A planet that thinks."
        )
        await insert_movie(connection, "Stalker", year=1979, duration=0)
        await insert_movie(connection, "Mirror", year=1975)
        review = await connection.fetchval(
            "INSERT INTO tmdb_match_reviews (movie_id, movie_name, movie_year, reason, candidates, notes)"
            " VALUES ($1, 'Solaris', 1972, 'ambiguous_match', $2::jsonb, 'two films share the title') RETURNING id",
            solaris,
            json.dumps(
                [
                    {"tmdb_id": 593, "title": "Solaris", "original_title": "Солярис", "year": 1972, "confidence": 0.62},
                    {
                        "tmdb_id": 2103,
                        "title": "Solaris",
                        "original_title": "Solaris",
                        "year": 2002,
                        "confidence": 0.58,
                    },
                ]
            ),
        )
        await connection.execute(
            "INSERT INTO tmdb_match_review_audit (review_id, action, to_status, actor, notes)"
            " VALUES ($1, 'recorded', 'open', 'backfill', 'two films share the title')",
            review,
        )
        return {"alien": alien, "solaris": solaris, "review": review}
    finally:
        await connection.close()


async def plant_jobs(client: redis.Redis, keys: StreamKeys) -> str:
    """Completed, retrying, dead and queued jobs on two streams, and an hour of per-minute counts."""
    publisher = Publisher(client, keys)
    await publisher.publish_many([SeedMovieRequested.for_movie(n) for n in range(1, 41)])

    async def seed(event: SeedMovieRequested, context: object) -> None:
        if event.tmdb_id % 13 == 0:
            raise ValueError(f"TMDB answered 404 for movie {event.tmdb_id}")
        if event.tmdb_id % 17 == 0:
            raise ConnectionError("TMDB did not answer within 10 s")

    worker = Worker(client, service="catalog-seeder", keys=keys, consumer="seeder-host-4121", block_ms=50)
    worker.subscribe(CATALOG_SEED_MOVIE, seed, policy=StreamPolicy(max_attempts=3, backoff_ms=3_600_000))
    task = asyncio.create_task(worker.run(install_signal_handlers=False))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        states = [await get_job(client, keys, f"tmdb-seed:{n}:en-US") for n in (13, 34, 40)]
        if all(state is not None and state.state in ("dead", "retrying", "completed") for state in states):
            break
        await asyncio.sleep(0.1)
    worker.stop()
    await task
    await publisher.publish_many([SeedMovieRequested.for_movie(n) for n in range(41, 47)])
    await publisher.publish_many([BackfillMovieRequested.for_movie(n) for n in range(1, 4)])
    await client.xgroup_create(keys.stream(CATALOG_BACKFILL_MOVIE), "backfill", id="0", mkstream=True)
    minute = int(time.time()) // 60
    await client.hset(
        keys.throughput(CATALOG_SEED_MOVIE),
        mapping={
            **{f"c:{minute - m}": (m * 37) % 90 + 20 for m in range(60)},
            **{f"f:{minute - m}": 3 for m in range(0, 60, 9)},
        },
    )
    return "tmdb-seed:13:en-US"


async def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    server_url = resolve_database_url(PopChoiceSettings())
    await admin_sql(server_url, f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
    await admin_sql(server_url, f'CREATE DATABASE "{DATABASE}"')
    database_url = with_database(server_url, DATABASE)
    redis_url = redis_server_url()
    client = redis.Redis.from_url(redis_url)
    prefix = f"console-screens-{uuid.uuid4().hex[:8]}:"
    keys = StreamKeys(prefix)
    process = None
    # The review page asks TMDB for each candidate's runtime and overview: the library's fake TMDB answers
    # (without posters: no image server here).
    tmdb = FakeTMDBServer().start()
    tmdb.state.add(
        make_movie(
            593,
            "Solaris",
            original_title="Солярис",
            release_date="1972-03-20",
            runtime=167,
            poster_path=None,
            overview="A psychologist is sent to a station orbiting a distant planet to find out what is wrong.",
        ),
        make_movie(
            2103,
            "Solaris",
            release_date="2002-11-27",
            runtime=99,
            poster_path=None,
            overview="A troubled psychologist is sent to investigate the crew of a space station.",
        ),
    )
    try:
        await migrate(database_url, ROOT / "db" / "init", model_id="hash-384", dimensions=384)
        ids = await plant_catalog(database_url)
        dead_job = await plant_jobs(client, keys)
        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "STREAM_KEY_PREFIX": prefix,
            "OPERATOR_CONSOLE_PORT": str(port),
            "OPERATOR_AUTH_USERNAME": USER,
            "OPERATOR_AUTH_PASSWORD": PASSWORD,
            "LOG_LEVEL": "WARNING",
        }
        env.update(TMDB_API_KEY=FAKE_TMDB_KEY, TMDB_BASE_URL=tmdb.base_url)
        process = subprocess.Popen([sys.executable, "-m", "popchoice_health_reporter", "serve"], env=env)  # noqa: ASYNC220 - started once, before any page
        url = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient() as http:
            for _ in range(150):
                try:
                    if (await http.get(f"{url}/healthz", timeout=1)).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
        pages = {
            "overview": "/",
            "dead-jobs": f"/streams/{CATALOG_SEED_MOVIE}?state=dead",
            "job": f"/jobs/{dead_job}",
            "workers": "/workers",
            "catalog": "/catalog",
            "movie": f"/movies/{ids['alien']}",
            "reviews": "/reviews",
            "review": f"/reviews/{ids['review']}",
            "repairs": "/repairs",
        }
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            for size, (width, height) in SIZES.items():
                context = await browser.new_context(
                    base_url=url,
                    http_credentials={"username": USER, "password": PASSWORD},
                    viewport={"width": width, "height": height},
                    device_scale_factor=1,
                )
                page = await context.new_page()
                for name, path in pages.items():
                    await page.goto(path)
                    await page.wait_for_load_state("networkidle")
                    target = OUT / f"console-{name}-{size}.png"
                    await page.screenshot(path=str(target), full_page=size == "desktop")
                    print(target.relative_to(ROOT), flush=True)
                await context.close()
            await browser.close()
    finally:
        if process is not None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=15)
        keys_left = [key async for key in client.scan_iter(match=f"{prefix}*", count=1000)]
        if keys_left:
            await client.delete(*keys_left)
        await client.aclose()
        await admin_sql(server_url, f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        tmdb.stop()


if __name__ == "__main__":
    asyncio.run(main())
