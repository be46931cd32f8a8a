"""streaq (Redis Streams plus Lua, on coredis and anyio) as a peer of the streams benchmark.

Concurrency: `Worker(concurrency=C)` (task slots; prefetch is streaq's default, equal to C).
Delivery: streaq's default, at-least-once: a task is XACKed and XDELed when it finishes; one whose
worker died is reclaimed once its idle timeout (60 s, renewed while running) passes, and retried up
to max_tries (3). Results are stored (default TTL).
Enqueue: `Worker.enqueue_many` (one pipeline). Done: every job index ran (counted in the task) and
the queue is empty (`Worker.queue_size()`, XLEN of the stream, which finishing XDELs), polled every 2 ms.
"""

from __future__ import annotations

import asyncio
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import contextlib

import redis.asyncio as redis
from harness import (
    Completions,
    LatencyProducer,
    LatencyWorker,
    StartTimes,
    System,
    Throughput,
    main,
)
from streaq import Worker


def _worker(redis_url: str, queue: str, concurrency: int) -> Worker[Any]:
    return Worker(redis_url=redis_url, queue_name=queue, concurrency=concurrency, handle_signals=False)


async def _stop(task: asyncio.Task[Any]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def throughput(redis_url: str, queue: str, jobs: int, concurrency: int) -> Throughput:
    # A Worker object cannot be entered twice: one enqueues and watches the queue, one runs.
    producer = _worker(redis_url, queue, concurrency)
    worker = _worker(redis_url, queue, concurrency)
    ran = Completions(jobs)

    @producer.task(name="noop")
    async def noop(i: int) -> None:
        return None

    @worker.task(name="noop")
    async def noop_run(i: int) -> None:
        ran.add(i)

    tasks = [noop.enqueue(i) for i in range(jobs)]
    async with producer:
        started = time.perf_counter()
        await producer.enqueue_many(tasks)
        enqueue_seconds = time.perf_counter() - started
        if await producer.queue_size() != jobs:
            raise RuntimeError("streaq: not every task was enqueued")

        started = time.perf_counter()
        running = asyncio.create_task(worker.run_async())
        await asyncio.wait_for(ran.done.wait(), 300)
        while await producer.queue_size():  # noqa: ASYNC110
            await asyncio.sleep(0.002)
        process_seconds = time.perf_counter() - started
    await _stop(running)
    return Throughput(enqueue_seconds, process_seconds, ran.count, duplicates=ran.duplicates)


async def latency_worker(redis_url: str, queue: str, jobs: int, concurrency: int) -> LatencyWorker:
    worker = _worker(redis_url, queue, concurrency)
    starts = StartTimes(jobs)

    @worker.task(name="noop")
    async def noop(i: int) -> None:
        starts.record(i)

    running = asyncio.create_task(worker.run_async())
    await asyncio.sleep(0.5)  # the consumer group and the first XREADGROUP

    async def close() -> None:
        await _stop(running)

    return LatencyWorker(starts.wait, close)


async def latency_producer(redis_url: str, queue: str) -> LatencyProducer:
    worker = _worker(redis_url, queue, 1)

    @worker.task(name="noop")
    async def noop(i: int) -> None:
        return None

    await worker.__aenter__()

    async def publish(index: int) -> None:
        await noop.enqueue(index)

    async def close() -> None:
        await worker.__aexit__(None, None, None)

    return LatencyProducer(publish, close)


async def cleanup(redis_url: str, queue: str) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        keys = [key async for key in client.scan_iter(match=f"*{queue}*", count=10_000)]
        for start in range(0, len(keys), 1000):
            await client.delete(*keys[start : start + 1000])
    finally:
        await client.aclose()


SYSTEM = System(
    name="streaq",
    version=version("streaq"),
    throughput=throughput,
    latency_worker=latency_worker,
    latency_producer=latency_producer,
    cleanup=cleanup,
    notes={
        "concurrency_setting": "Worker(concurrency=C), prefetch default (= C)",
        "delivery": "at-least-once: XACK+XDEL on finish; idle tasks (60 s, renewed) reclaimed and "
        "retried up to max_tries 3; results stored",
        "enqueue": "Worker.enqueue_many (one pipeline)",
    },
)

if __name__ == "__main__":
    main(SYSTEM, __file__)
