"""taskiq with taskiq-redis's RedisStreamBroker (Redis Streams) as a peer of the streams benchmark.

Concurrency: the receiver's `max_async_tasks=C` (taskiq's `--max-async-tasks`), one receiver run in
the process with `taskiq.api.run_receiver_task`; the broker reads 100 entries per XREADGROUP (its default).
Delivery: taskiq's default, at-least-once: the entry is XACKed after the task ran and its result was
saved (AcknowledgeType.WHEN_SAVED; no result backend, the default); entries left unacknowledged are
reclaimed with XAUTOCLAIM after idle_timeout (10 min).
Enqueue: taskiq has no batch call; `task.kiq()` 100 at a time with asyncio.gather. Done: every job
index ran (counted in the task) and no entry is pending in the consumer group (polled every 2 ms).
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
    gather_in_chunks,
    main,
)
from taskiq.api import run_receiver_task
from taskiq_redis import RedisStreamBroker

GROUP = "bench"


def _broker(redis_url: str, queue: str) -> RedisStreamBroker:
    return RedisStreamBroker(redis_url, queue_name=queue, consumer_group_name=GROUP)


async def _pending(client: redis.Redis, queue: str) -> int:
    info = await client.xpending(queue, GROUP)
    return int(info["pending"])


async def _stop(task: asyncio.Task[Any]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def throughput(redis_url: str, queue: str, jobs: int, concurrency: int) -> Throughput:
    broker = _broker(redis_url, queue)
    ran = Completions(jobs)

    @broker.task(task_name="noop")
    async def noop(i: int) -> None:
        ran.add(i)

    client = redis.Redis.from_url(redis_url)
    await broker.startup()  # declares the consumer group (at "$") before anything is published
    try:
        started = time.perf_counter()
        await gather_in_chunks([lambda i=i: noop.kiq(i) for i in range(jobs)])
        enqueue_seconds = time.perf_counter() - started

        started = time.perf_counter()
        receiver = asyncio.create_task(run_receiver_task(broker, max_async_tasks=concurrency))
        await asyncio.wait_for(ran.done.wait(), 300)
        while await _pending(client, queue):  # noqa: ASYNC110
            await asyncio.sleep(0.002)
        process_seconds = time.perf_counter() - started
        await _stop(receiver)
        if await client.xlen(queue) != jobs:
            raise RuntimeError("taskiq: the stream does not hold every job")
        return Throughput(enqueue_seconds, process_seconds, ran.count, duplicates=ran.duplicates)
    finally:
        await broker.shutdown()
        await client.aclose()


async def latency_worker(redis_url: str, queue: str, jobs: int, concurrency: int) -> LatencyWorker:
    broker = _broker(redis_url, queue)
    starts = StartTimes(jobs)

    @broker.task(task_name="noop")
    async def noop(i: int) -> None:
        starts.record(i)

    await broker.startup()
    receiver = asyncio.create_task(run_receiver_task(broker, max_async_tasks=concurrency))
    await asyncio.sleep(0.5)  # the receiver's first XREADGROUP

    async def close() -> None:
        await _stop(receiver)
        await broker.shutdown()

    return LatencyWorker(starts.wait, close)


async def latency_producer(redis_url: str, queue: str) -> LatencyProducer:
    broker = _broker(redis_url, queue)

    @broker.task(task_name="noop")
    async def noop(i: int) -> None:
        return None

    await broker.startup()

    async def publish(index: int) -> None:
        await noop.kiq(index)

    return LatencyProducer(publish, broker.shutdown)


async def cleanup(redis_url: str, queue: str) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        await client.delete(queue)
    finally:
        await client.aclose()


SYSTEM = System(
    name="taskiq",
    version=f"taskiq {version('taskiq')}, taskiq-redis {version('taskiq-redis')}",
    throughput=throughput,
    latency_worker=latency_worker,
    latency_producer=latency_producer,
    cleanup=cleanup,
    notes={
        "concurrency_setting": "run_receiver_task(max_async_tasks=C) (= taskiq worker --max-async-tasks)",
        "delivery": "at-least-once: XACK after the result is saved (WHEN_SAVED); unacked entries "
        "reclaimed by XAUTOCLAIM after 10 min",
        "enqueue": "task.kiq() ×100 concurrently (no batch call)",
    },
)

if __name__ == "__main__":
    main(SYSTEM, __file__)
