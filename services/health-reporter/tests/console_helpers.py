"""The operator console in-process for HTTP tests: its app on real PostgreSQL and Redis, an httpx client."""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI

from popchoice_common.streams import get_job
from popchoice_health_reporter.config import HealthSettings
from popchoice_health_reporter.security import hash_password
from popchoice_health_reporter.web import Console, create_app

ALICE_PASSWORD = "alice-correct-horse"
BOB_PASSWORD = "bob-battery-staple"
#: Argon2 hashing is slow by design: hash once per test session.
OPERATOR_USERS = f"alice:{hash_password(ALICE_PASSWORD)};bob:{hash_password(BOB_PASSWORD)}"


def basic(name: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{name}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


ALICE = basic("alice", ALICE_PASSWORD)
BOB = basic("bob", BOB_PASSWORD)


def csrf_token_of(html: str) -> str:
    """The CSRF token a page embeds in its forms."""
    match = re.search(r'name="csrf_token" value="([0-9a-f]+)"', html)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


def console_settings(database_url: str, redis_url: str, key_prefix: str, **overrides: Any) -> HealthSettings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "redis_url": redis_url,
        "stream_key_prefix": key_prefix,
        "operator_auth_users": OPERATOR_USERS,
        "operator_auth_max_failures": 3,
        "operator_auth_failure_window_seconds": 60,
        "log_format": "json",
        **overrides,
    }
    return HealthSettings(**values)


@asynccontextmanager
async def running_console(settings: HealthSettings) -> AsyncIterator[tuple[httpx.AsyncClient, Console]]:
    """The app with its lifespan run, and a client that talks to it in-process (no port)."""
    app: FastAPI = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://console.test", headers={"Accept": "text/html"}
        ) as client:
            yield client, app.state.console


async def run_worker_until(worker: Any, done: Callable[[], Awaitable[bool]], *, limit: float = 10.0) -> None:
    """Runs a real worker in the background until ``done()`` holds (or fails the test after ``limit`` s)."""
    task = asyncio.create_task(worker.run(install_signal_handlers=False))
    try:
        deadline = asyncio.get_running_loop().time() + limit
        while not await done():
            assert asyncio.get_running_loop().time() < deadline, "the worker did not get there in time"
            await asyncio.sleep(0.02)
    finally:
        worker.stop()
        await task


def job_state_is(client: Any, keys: Any, job_id: str, state: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        job = await get_job(client, keys, job_id)
        return job is not None and job.state == state

    return check
