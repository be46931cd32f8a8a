"""Shared TMDB budget: four worker processes against a fake TMDB that enforces its own limit.

Two discovery workers and two catalog-seeder workers (real processes, the real services) share one
Redis-backed rate limiter. The fake TMDB (a real HTTP server in this process) answers 429 to any
request beyond N per window and counts them. The bench enqueues plenty of discovery pages, lets the
workers run for the given duration, and reports the requests TMDB accepted in that time against the
budget (N × duration / window) and how many went over the limit (must be zero).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import sys
import time
import uuid
from pathlib import Path

import aiohttp
import asyncpg
import redis.asyncio as redis

from popchoice_common.events import DiscoverPageRequested
from popchoice_common.settings import PopChoiceSettings
from popchoice_common.streams import Publisher, StreamKeys
from popchoice_common.testing.fake_tmdb import API_KEY, FakeTMDBServer, make_movie

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from support import ROOT, fresh_database  # bench/support.py

SOURCES = ("now_playing", "upcoming", "top_rated", "popular")
OVERVIEW = "A film made up for the budget benchmark, with an overview long enough to pass the quality bar."


def _films(count: int) -> list[object]:
    return [
        make_movie(
            index,
            f"Budget Film {index}",
            overview=OVERVIEW,
            vote_count=1000,
            vote_average=7.5,
            lists={SOURCES[index % len(SOURCES)]},
            release_date=f"{1950 + index % 70}-01-01",
        )
        for index in range(1, count + 1)
    ]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _workers_up(ports: list[int], processes: list[asyncio.subprocess.Process]) -> None:
    """Waits until every worker process serves its /metrics (it is past its imports and inside the
    service's start-up, where a SIGTERM ends it cleanly), so the run measures workers that are up."""
    deadline = time.monotonic() + 120
    waiting = set(ports)
    async with aiohttp.ClientSession() as session:
        while waiting and time.monotonic() < deadline:
            if any(process.returncode is not None for process in processes):
                raise RuntimeError("a worker process exited before the run started")
            for port in list(waiting):
                try:
                    async with session.get(f"http://127.0.0.1:{port}/metrics") as response:
                        if response.status == 200:
                            waiting.discard(port)
                except aiohttp.ClientError:
                    pass
            await asyncio.sleep(0.1)
    if waiting:
        raise RuntimeError("the worker processes did not start within two minutes")


async def run(requests_per_window: int, window_ms: int, duration: float, films: int) -> dict[str, object]:
    settings = PopChoiceSettings()
    async with fresh_database(f"popchoice_bench_tmdb_{os.getpid()}", model_id="hash-384", dimensions=384) as url:
        return await _measure(settings, url, requests_per_window, window_ms, duration, films)


async def _measure(
    settings: PopChoiceSettings,
    database_url: str,
    requests_per_window: int,
    window_ms: int,
    duration: float,
    films: int,
) -> dict[str, object]:
    redis_url = settings.redis_dsn() or "redis://127.0.0.1:6379/0"
    prefix = f"bench-tmdb-{uuid.uuid4().hex[:8]}:"
    fake = FakeTMDBServer(requests_per_window=requests_per_window, window_ms=window_ms).start()
    fake.state.add(*_films(films))  # type: ignore[arg-type]
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "STREAM_KEY_PREFIX": prefix,
        "TMDB_API_KEY": API_KEY,
        "TMDB_BASE_URL": fake.base_url,
        "EMBEDDING_PROVIDER": "hash",
        "CATALOG_TMDB_REQUESTS_PER_WINDOW": str(requests_per_window),
        "CATALOG_TMDB_RATE_LIMIT_WINDOW_MS": str(window_ms),
        "CATALOG_MAINTENANCE_CONCURRENCY": "4",
        "SYNC_SCHEDULE": "0 0 1 1 *",
        "MIN_VOTE_COUNT": "0",
        "MAX_MOVIES_PER_RUN": "1000000",
        "LOG_LEVEL": "WARNING",
        "LOG_FORMAT": "json",
    }
    commands = [
        ["popchoice-discovery"],
        ["popchoice-discovery"],
        ["popchoice-catalog-seeder"],
        ["popchoice-catalog-seeder"],
    ]
    bin_dir = Path(sys.executable).parent
    ports = [_free_port() for _ in commands]
    processes = [
        await asyncio.create_subprocess_exec(
            str(bin_dir / command[0]),
            *command[1:],
            env={**env, "METRICS_PORT": str(port)},
            stdout=asyncio.subprocess.DEVNULL,
        )
        for command, port in zip(commands, ports, strict=True)
    ]
    client = redis.Redis.from_url(redis_url)
    try:
        pages = max(films // 20 // len(SOURCES) + 1, 1)
        events = [
            DiscoverPageRequested.for_page(source, page, run_id="bench")
            for source in SOURCES
            for page in range(1, pages + 1)
        ]
        await _workers_up(ports, processes)
        started = time.monotonic()
        await Publisher(client, StreamKeys(prefix)).publish_many(events)
        await asyncio.sleep(duration)
        ended = time.monotonic()
        accepted = [moment for moment in list(fake.state.accepted_times) if started <= moment <= ended]
        over_limit = fake.state.over_limit_count
        seeded = 0
        connection = await asyncpg.connect(database_url)
        try:
            seeded = await connection.fetchval("SELECT count(*) FROM movies")
        finally:
            await connection.close()
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        exit_codes = [await asyncio.wait_for(process.wait(), 60) for process in processes]
        for pattern in StreamKeys(prefix).patterns():
            keys = [key async for key in client.scan_iter(match=pattern, count=10_000)]
            if keys:
                await client.delete(*keys)
        await client.aclose()
        fake.stop()
    budget = requests_per_window * duration / (window_ms / 1000)
    return {
        "processes": len(processes),
        "requests_per_window": requests_per_window,
        "window_ms": window_ms,
        "seconds": duration,
        "budget": round(budget, 1),
        "accepted": len(accepted),
        "utilisation": round(len(accepted) / budget, 4),
        "over_limit": over_limit,
        "films_seeded": seeded,
        "exit_codes": exit_codes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests-per-window", type=int, default=10)
    parser.add_argument("--window-ms", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--films", type=int, default=2000)
    args = parser.parse_args()
    result = asyncio.run(run(args.requests_per_window, args.window_ms, args.seconds, args.films))
    print(json.dumps(result))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / f"tmdb_budget_{args.requests_per_window}_{args.window_ms}.json").write_text(
        json.dumps(result, indent=2) + "\n"
    )


if __name__ == "__main__":
    main()
