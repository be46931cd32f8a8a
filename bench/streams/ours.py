"""Our runtime (popchoice_common.streams) as a system of the streams benchmark; runs in the product's .venv.

The client is the product's (`connect_redis`, as `create_redis` makes it). Concurrency:
`Worker.subscribe(..., concurrency=C)` runs at most C handlers at a time; prefetch (the entries held,
running or waiting) is the product's default, four per slot up to 500, unless
BENCH_OURS_PREFETCH sets it (the #3/#11 figures used concurrency 1 with prefetch 1000). Job state and
at-least-once acks are on, as in production; a job counts as done when it is acknowledged and recorded
completed (the stream's `processed` counter, which the ack script increments).
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from importlib.metadata import version
from pathlib import Path

import redis.asyncio as redis

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Completions, LatencyProducer, LatencyWorker, StartTimes, System, Throughput, main

from popchoice_common.events import CATALOG_SEED_MOVIE, SeedMovieRequested
from popchoice_common.redis_connection import connect_redis
from popchoice_common.streams import Publisher, StreamKeys, Worker
from popchoice_common.streams.policy import StreamPolicy

POLICY = StreamPolicy(max_attempts=2, backoff_ms=1000, visibility_timeout_ms=30_000)


def _prefetch() -> int | None:
    value = os.environ.get("BENCH_OURS_PREFETCH")
    return int(value) if value else None


def _keys(queue: str) -> StreamKeys:
    return StreamKeys(f"{queue}:")


def _worker(client: redis.Redis, queue: str, concurrency: int, handler: object) -> Worker:
    worker = Worker(client, service="bench", keys=_keys(queue), consumer="bench-1")
    prefetch = _prefetch()
    worker.subscribe(
        CATALOG_SEED_MOVIE,
        handler,  # type: ignore[arg-type]
        concurrency=concurrency,
        prefetch=prefetch,
        read_count=None if prefetch is None else prefetch // 2,
        policy=POLICY,
    )
    return worker


async def throughput(redis_url: str, queue: str, jobs: int, concurrency: int) -> Throughput:
    client = connect_redis(redis_url)
    keys = _keys(queue)
    events = [SeedMovieRequested.for_movie(index) for index in range(jobs)]
    try:
        publisher = Publisher(client, keys)
        started = time.perf_counter()
        results = await publisher.publish_many(events)
        enqueue_seconds = time.perf_counter() - started
        if sum(result.enqueued for result in results) != jobs:
            raise RuntimeError("not every job was enqueued")

        ran = Completions(jobs)

        async def handle(event: SeedMovieRequested, context: object) -> None:
            ran.add(event.tmdb_id)

        worker = _worker(client, queue, concurrency, handle)
        counters = keys.counters(CATALOG_SEED_MOVIE)
        started = time.perf_counter()
        task = asyncio.create_task(worker.run(install_signal_handlers=False))
        # Redis has the count; polling it every 2 ms adds at most 2 ms to a run of about half a second.
        while int(await client.hget(counters, "processed") or 0) < jobs and not task.done():  # noqa: ASYNC110
            await asyncio.sleep(0.002)
        process_seconds = time.perf_counter() - started
        worker.stop()
        await task
        processed = int(await client.hget(counters, "processed") or 0)
        group = (await client.xinfo_groups(keys.stream(CATALOG_SEED_MOVIE)))[0]
        if group["pending"] != 0 or processed != ran.calls:
            raise RuntimeError(f"{group['pending']} entries still pending, {processed} processed, {ran.calls} runs")
        return Throughput(
            enqueue_seconds, process_seconds, ran.count, {"prefetch": _prefetch() or "default"}, ran.duplicates
        )
    finally:
        await client.aclose()


async def latency_worker(redis_url: str, queue: str, jobs: int, concurrency: int) -> LatencyWorker:
    client = connect_redis(redis_url)
    starts = StartTimes(jobs)

    async def handle(event: SeedMovieRequested, context: object) -> None:
        starts.record(event.tmdb_id)

    worker = _worker(client, queue, concurrency, handle)
    await worker.ensure_groups()
    task = asyncio.create_task(worker.run(install_signal_handlers=False))

    async def close() -> None:
        worker.stop()
        await task
        await client.aclose()

    return LatencyWorker(starts.wait, close)


async def latency_producer(redis_url: str, queue: str) -> LatencyProducer:
    client = connect_redis(redis_url)
    publisher = Publisher(client, _keys(queue))

    async def publish(index: int) -> None:
        await publisher.publish(SeedMovieRequested.for_movie(index))

    return LatencyProducer(publish, client.aclose)


async def cleanup(redis_url: str, queue: str) -> None:
    client = connect_redis(redis_url)
    try:
        for pattern in _keys(queue).patterns():
            keys = [key async for key in client.scan_iter(match=pattern, count=10_000)]
            for start in range(0, len(keys), 1000):
                await client.delete(*keys[start : start + 1000])
    finally:
        await client.aclose()


SYSTEM = System(
    name="ours",
    version=version("popchoice-common"),
    throughput=throughput,
    latency_worker=latency_worker,
    latency_producer=latency_producer,
    cleanup=cleanup,
    notes={
        "concurrency_setting": "Worker.subscribe(concurrency=C); prefetch default 4×C up to 500",
        "delivery": "at-least-once: consumer group, XACK after the handler, job state; reclaimed after "
        "the visibility timeout; dedupe by job id at publish",
        "enqueue": "Publisher.publish_many (pipelined Lua, 500 per call)",
    },
)

if __name__ == "__main__":
    main(SYSTEM, __file__)
