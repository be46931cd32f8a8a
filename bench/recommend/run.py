"""Recommendation benchmark: POST → completed latency and throughput through the real services.

A database of its own gets a catalog of N generated films (hash embedder), then a gateway (uvicorn)
and recommender processes start against it and the local Redis. C concurrent clients each loop:
POST /api/recommendations, then follow /api/recommendations/{id}/events until the result arrives.
Reported: latency from the POST to the result event (p50/p95/p99) and completed recommendations per
second. Catalog-only (no TMDB or OpenAI configured), which is the path a seeded catalog serves.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import socket
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp
import asyncpg
import redis.asyncio as redis
import uvloop

from popchoice_catalog_seeder.service import seed_movies_file
from popchoice_common.db.pool import create_pool
from popchoice_common.embedders import HashEmbedder
from popchoice_common.settings import PopChoiceSettings

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from support import ROOT, fresh_database, generate_movies_file  # bench/support.py

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lean_http import Connection  # bench/recommend/lean_http.py

CPU_PER_RECOMMENDATION: dict[str, float] = {}
CPU_PROBE_MS: list[float] = []  # before and after the measured run
API_KEY = f"bench-{uuid.uuid4().hex}"
AUTH_HEADERS = {"X-API-Key": API_KEY}
JSON_HEADERS = {**AUTH_HEADERS, "Content-Type": "application/json"}
MOODS = ["Action", "Comedy", "Drama", "Horror", "Romance", "Sci-Fi", "Thriller", "Documentary"]
WORDS = "heist storm train love war family secret city space robot ghost island journey revenge".split()  # noqa: SIM905 - a word list reads best as one string


def _cpu_seconds(pid: int) -> float:
    """utime + stime of one process (Linux /proc), 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _busy_seconds() -> float:
    """CPU time the whole machine spent not idle (all cores), from /proc/stat."""
    values = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _pids_named(name: str) -> list[int]:
    """Processes whose command name is name (PostgreSQL backends, redis-server) on this machine."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == name:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _parent_pid(pid: int) -> int:
    """The parent of a process (Linux /proc), 0 when it is gone."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except OSError:
        return 0


def _server_pids(postmaster: int) -> list[int]:
    """The bench's own PostgreSQL server: its postmaster and every process that postmaster started.
    Other PostgreSQL servers on the machine (other people's tests) are not counted."""
    children = [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()]
    return [postmaster, *(pid for pid in children if _parent_pid(pid) == postmaster)]


def cpu_probe_ms() -> float:
    """CPU time of a fixed pure-Python loop: this machine's speed at the moment (a shared 2-core VM
    varies by more than 1.5x over minutes), so runs can be compared."""
    started = time.process_time()
    total = 0
    for value in range(2_000_000):
        total += value * value
    return round((time.process_time() - started) * 1000, 1)


async def _postmaster_pid(url: str) -> int:
    """The PID of the PostgreSQL server behind url: the parent of one of its backends (read while it lives)."""
    connection = await asyncpg.connect(url)
    try:
        return _parent_pid(await connection.fetchval("SELECT pg_backend_pid()"))
    finally:
        await connection.close()


async def _redis_pid(url: str) -> int:
    """The process id of the Redis server at url (not every redis-server on the machine: other
    engineers' tests and benchmarks run their own)."""
    client = redis.Redis.from_url(url)
    try:
        return int((await client.info("server"))["process_id"])
    finally:
        await client.aclose()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def quiz(rng: random.Random) -> dict[str, object]:
    return {
        "favoriteMovie": " ".join(rng.choice(WORDS).title() for _ in range(2)),
        "newVsClassic": rng.choice(["new", "classic"]),
        "moodPreference": rng.sample(MOODS, 2),
        "tonePreference": " ".join(rng.sample(WORDS, 3)),
    }


async def one(connection: Connection, rng: random.Random) -> float:
    """POST a quiz, follow its event stream; the time from the POST to the result event."""
    started = time.perf_counter()
    status, body = await connection.request(
        "POST", "/api/recommendations", JSON_HEADERS, json.dumps(quiz(rng)).encode()
    )
    if status != 201:
        raise RuntimeError(f"POST answered {status}: {body[:200]!r}")
    created = json.loads(body)
    finished: list[float] = []

    def result_arrived(received: bytes) -> bool:
        if not finished and b"event: result\n" in received and received.endswith(b"\n\n"):
            finished.append(time.perf_counter())
        return bool(finished)

    status, stream = await connection.request(
        "GET", f"/api/recommendations/{created['id']}/events", AUTH_HEADERS, on_data=result_arrived
    )
    if status != 200 or not finished:
        raise RuntimeError(f"the event stream answered {status} and ended without a result")
    result = stream.split(b"event: result\ndata: ", 1)[1]
    if json.loads(result)["status"] != "completed":
        raise RuntimeError(f"recommendation {created['id']} failed")
    return finished[0] - started


async def clients(
    base: str, concurrency: int, total: int, seed: int, rate: float | None = None
) -> tuple[list[float], float]:
    """concurrency clients (one keep-alive connection each) share total recommendations: back to
    back (closed loop), or started at a steady rate per second overall (open loop, at most
    concurrency in flight). In the open loop a recommendation's latency counts from when it was
    due, so time spent waiting for a free client is not hidden."""
    latencies: list[float] = []
    remaining = total
    host, port = base.removeprefix("http://").split(":")
    connections = [await Connection.open(host, int(port)) for _ in range(concurrency)]
    began = time.perf_counter()
    issued = 0

    async def worker(index: int) -> None:
        nonlocal remaining, issued
        rng = random.Random(seed + index)
        while remaining > 0:
            remaining -= 1
            late = 0.0
            if rate is not None:
                due = began + issued / rate
                issued += 1
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                else:
                    late = -delay
            latencies.append(late + await one(connections[index], rng))

    try:
        started = time.perf_counter()
        await asyncio.gather(*(worker(index) for index in range(concurrency)))
        elapsed = time.perf_counter() - started
    finally:
        for connection in connections:
            connection.close()
    return latencies, elapsed


async def _drive(
    url: str,
    settings: PopChoiceSettings,
    prefix: str,
    processes: list[asyncio.subprocess.Process],
    concurrency: int,
    total: int,
    recommenders: int,
    warmup: int,
    rate: float | None,
) -> tuple[list[float], float]:
    """Starts the gateway and recommenders on the seeded database, warms up, then measures."""
    port = _free_port()
    env = {
        **{key: value for key, value in os.environ.items() if key not in ("TMDB_API_KEY", "OPENAI_API_KEY")},
        "DATABASE_URL": url,
        "REDIS_URL": settings.redis_dsn() or "redis://127.0.0.1:6379/0",
        "STREAM_KEY_PREFIX": prefix,
        "EMBEDDING_PROVIDER": "hash",
        "RATE_LIMIT_PER_MINUTE": "10000000",
        "GATEWAY_PORT": str(port),
        "RECOMMENDER_CONCURRENCY": os.environ.get("RECOMMENDER_CONCURRENCY", "16"),
        "LOG_LEVEL": "WARNING",
        "LOG_FORMAT": "json",
    }
    for module in ["popchoice_gateway"] + ["popchoice_recommender"] * recommenders:
        processes.append(
            await asyncio.create_subprocess_exec(
                sys.executable, "-m", module, env=env, stdout=asyncio.subprocess.DEVNULL
            )
        )
    base = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as probe:
        for _ in range(150):
            try:
                async with probe.get(f"{base}/api/health") as response:
                    if response.status == 200:
                        break
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    await clients(base, concurrency, warmup, seed=1)
    pids = {
        "gateway": [processes[0].pid],
        "recommenders": [process.pid for process in processes[1:]],
        "postgres": _server_pids(await _postmaster_pid(url)),
        "postgres_machine": _pids_named("postgres"),
        "redis": [await _redis_pid(env["REDIS_URL"])],
    }
    before = {name: sum(map(_cpu_seconds, group)) for name, group in pids.items()}
    CPU_PROBE_MS.append(cpu_probe_ms())
    before["bench_clients"] = time.process_time()
    busy = _busy_seconds()
    latencies, elapsed = await clients(base, concurrency, total, seed=2, rate=rate)
    cpu = {name: sum(map(_cpu_seconds, group)) - before[name] for name, group in pids.items()}
    cpu["bench_clients"] = time.process_time() - before["bench_clients"]
    cpu["other"] = _busy_seconds() - busy - sum(value for name, value in cpu.items() if name != "postgres_machine")
    # CPU milliseconds per completed recommendation, by process group (all cores together).
    CPU_PER_RECOMMENDATION.update({name: round(value * 1000 / len(latencies), 2) for name, value in cpu.items()})
    CPU_PROBE_MS.append(cpu_probe_ms())
    return latencies, elapsed


async def run(
    films: int, concurrency: int, total: int, recommenders: int, warmup: int, rate: float | None
) -> dict[str, object]:
    settings = PopChoiceSettings()
    prefix = f"bench-recommend-{uuid.uuid4().hex[:8]}:"
    processes: list[asyncio.subprocess.Process] = []
    async with fresh_database(f"popchoice_bench_recommend_{os.getpid()}", model_id="hash-384", dimensions=384) as url:
        pool = await create_pool(url, min_size=1, max_size=2)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "movies.txt"
            generate_movies_file(path, films)
            await seed_movies_file(pool, HashEmbedder(384), path)
        await pool.execute(
            "INSERT INTO api_keys (name, key_digest) VALUES ('bench', $1)", hashlib.sha256(API_KEY.encode()).hexdigest()
        )
        await pool.close()
        try:
            latencies, elapsed = await _drive(
                url, settings, prefix, processes, concurrency, total, recommenders, warmup, rate
            )
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                await process.wait()
            client = redis.Redis.from_url(settings.redis_dsn() or "redis://127.0.0.1:6379/0")
            keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=10_000)]
            if keys:
                await client.delete(*keys)
            await client.aclose()
    latencies.sort()
    milliseconds = [value * 1000 for value in latencies]
    return {
        "films": films,
        "clients": concurrency,
        "offered_per_second": rate,
        "recommender_processes": recommenders,
        "recommendations": len(latencies),
        "seconds": round(elapsed, 2),
        "completed_per_second": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(milliseconds), 1),
        "p95_ms": round(milliseconds[int(len(milliseconds) * 0.95) - 1], 1),
        "p99_ms": round(milliseconds[int(len(milliseconds) * 0.99) - 1], 1),
        "cpu_ms_per_recommendation": CPU_PER_RECOMMENDATION,
        "cpu_probe_ms_before_after": CPU_PROBE_MS,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--films", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--recommendations", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--recommenders", type=int, default=1)
    parser.add_argument("--rate", type=float, default=None, help="open loop: recommendations started per second")
    args = parser.parse_args()
    # uvloop, as the services run: the clients share the two cores with what they measure.
    result = uvloop.run(run(args.films, args.clients, args.recommendations, args.recommenders, args.warmup, args.rate))
    print(json.dumps(result))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    name = f"recommend_rate_{int(args.rate)}.json" if args.rate else "recommend.json"
    (out / name).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
