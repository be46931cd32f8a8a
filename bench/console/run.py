"""Operator console benchmark (make bench-console).

1. The jobs overview with 50 streams and 100,000 completed job states (2,000 per stream, each with its
   job hash, completed index entry and an hour of per-minute counts; a consumer group with two
   consumers and some pending entries per stream): GET / through the real app (auth, template,
   headers), timed over repeated requests. Target: ≤ 200 ms.
2. One stream of 1,000,000 entries: its queued-jobs page (GET /streams/<s>?state=queued, 50 per page)
   at the newest end, then following the "Older" cursor, and at the oldest end. Target: a page costs
   the same wherever it is (XREVRANGE from the cursor, COUNT 50: nothing else is loaded).

Runs against REDIS_URL (else 127.0.0.1:6379) under a key prefix of its own, deleted afterwards, and a
fresh PostgreSQL database (the app's pool). Prints JSON lines.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import statistics
import sys
import time
import uuid
from pathlib import Path

import httpx
import redis.asyncio as redis

from popchoice_common.streams import StreamKeys
from popchoice_common.testing.provision import redis_server_url
from popchoice_health_reporter.config import HealthSettings
from popchoice_health_reporter.web import create_app

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from support import fresh_database  # bench/support.py

PASSWORD = "bench-operator-password"


async def _delete_prefix(client: redis.Redis, prefix: str) -> None:
    batch: list[bytes] = []
    async for key in client.scan_iter(match=f"{prefix}*", count=10_000):
        batch.append(key)
        if len(batch) >= 5000:
            await client.unlink(*batch)
            batch = []
    if batch:
        await client.unlink(*batch)


async def plant_streams(client: redis.Redis, keys: StreamKeys, streams: list[str], completed: int) -> None:
    """Each stream: a group with two consumers and 5 pending entries, 10 queued, its share of completed jobs."""
    per_stream = completed // len(streams)
    now = int(time.time() * 1000)
    minute = now // 60_000
    for index, stream in enumerate(streams):
        key = keys.stream(stream)
        async with client.pipeline(transaction=False) as pipe:
            for n in range(15):
                pipe.xadd(key, {"job_id": f"{stream}:live:{n}", "data": "{}"})
            await pipe.execute()
        await client.xgroup_create(key, "bench-service", id="0")
        await client.xreadgroup("bench-service", f"host-{index}-a", {key: ">"}, count=3)
        await client.xreadgroup("bench-service", f"host-{index}-b", {key: ">"}, count=2)
        for start in range(0, per_stream, 1000):
            async with client.pipeline(transaction=False) as pipe:
                members = {}
                for n in range(start, min(start + 1000, per_stream)):
                    job_id = f"{stream}:done:{n}"
                    finished = now - (per_stream - n) * 30
                    pipe.hset(
                        keys.job(stream, job_id),
                        mapping={
                            "state": "completed",
                            "stream": stream,
                            "entry_id": f"{finished}-0",
                            "attempts": 1,
                            "enqueued_at": finished - 5,
                            "finished_at": finished,
                        },
                    )
                    members[job_id] = finished
                pipe.zadd(keys.completed_index(stream), members)
                await pipe.execute()
        await client.hset(
            keys.throughput(stream), mapping={f"c:{minute - m}": 30 + (m * 7 + index) % 40 for m in range(60)}
        )


async def plant_long_stream(client: redis.Redis, keys: StreamKeys, stream: str, entries: int) -> None:
    key = keys.stream(stream)
    for start in range(0, entries, 10_000):
        async with client.pipeline(transaction=False) as pipe:
            for n in range(start, min(start + 10_000, entries)):
                pipe.xadd(key, {"job_id": f"long:{n}", "data": "{}"})
            await pipe.execute()


def _stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1], 2),
        "max_ms": round(ordered[-1], 2),
    }


async def timed_get(client: httpx.AsyncClient, path: str) -> tuple[float, httpx.Response]:
    started = time.perf_counter()
    response = await client.get(path)
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code == 200, (path, response.status_code, response.text[:300])
    return elapsed, response


async def main(args: argparse.Namespace) -> None:
    redis_url = redis_server_url()
    client = redis.Redis.from_url(redis_url)
    prefix = f"bench-console-{uuid.uuid4().hex[:8]}:"
    keys = StreamKeys(prefix)
    streams = [f"bench.stream-{n:02d}" for n in range(args.streams)]
    long_stream = "bench.long"
    try:
        started = time.perf_counter()
        await plant_streams(client, keys, streams, args.completed)
        if args.entries:
            await plant_long_stream(client, keys, long_stream, args.entries)
        planted = time.perf_counter() - started
        async with fresh_database("popchoice_bench_console", model_id="hash-384", dimensions=384) as database_url:
            settings = HealthSettings(
                database_url=database_url,
                redis_url=redis_url,
                stream_key_prefix=prefix,
                operator_auth_username="bench",
                operator_auth_password=PASSWORD,
                log_level="WARNING",
            )
            app = create_app(settings, streams=[*streams, long_stream])
            token = base64.b64encode(f"bench:{PASSWORD}".encode()).decode()
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(
                    transport=transport, base_url="http://bench", headers={"Authorization": f"Basic {token}"}
                ) as http:
                    await timed_get(http, "/")  # warm-up: templates compiled, scripts loaded
                    samples = [(await timed_get(http, "/"))[0] for _ in range(args.repeats)]
                    print(
                        json.dumps(
                            {
                                "benchmark": "console-overview",
                                "streams": len(streams) + 1,
                                "completed_jobs": args.completed,
                                "requests": args.repeats,
                                **_stats(samples),
                                "target_ms": 200,
                            }
                        ),
                        flush=True,
                    )
                    if not args.entries:
                        return
                    base = f"/streams/{long_stream}?state=queued"
                    first = [(await timed_get(http, base))[0] for _ in range(args.repeats)]
                    _, page = await timed_get(http, base)
                    pages = []
                    cursor_path = base
                    for _ in range(args.pages):
                        marker = 'href="/streams/bench.long?state=queued&amp;cursor='
                        position = page.text.find(marker)
                        assert position >= 0, "no Older link"
                        cursor = page.text[position + len(marker) :].split('"', 1)[0]
                        cursor_path = f"{base}&cursor={cursor}"
                        elapsed, page = await timed_get(http, cursor_path)
                        pages.append(elapsed)
                    oldest = await client.xrange(keys.stream(long_stream), count=60)
                    deep_cursor = oldest[55][0].decode()
                    deep = [(await timed_get(http, f"{base}&cursor={deep_cursor}"))[0] for _ in range(args.repeats)]
                    print(
                        json.dumps(
                            {
                                "benchmark": "console-stream-paging",
                                "entries": args.entries,
                                "page_size": 50,
                                "newest_page": _stats(first),
                                "following_older": {"pages": args.pages, **_stats(pages)},
                                "oldest_page": _stats(deep),
                            }
                        ),
                        flush=True,
                    )
        print(json.dumps({"benchmark": "console-setup", "planting_seconds": round(planted, 1)}), flush=True)
    finally:
        await _delete_prefix(client, prefix)
        await client.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--streams", type=int, default=49, help="streams besides the long one (default 49: 50 in all)")
    parser.add_argument("--completed", type=int, default=100_000)
    parser.add_argument("--entries", type=int, default=1_000_000, help="0: skip the paging benchmark")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--pages", type=int, default=50, help="Older pages followed from the newest")
    asyncio.run(main(parser.parse_args()))
