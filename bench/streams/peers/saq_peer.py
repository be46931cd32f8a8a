"""SAQ (Simple Async Queue, Redis lists plus Lua) as a peer of the streams benchmark.

Concurrency: `Worker(queue, ..., concurrency=C)`, C process loops each dequeuing one job at a time
(BLMOVE from the queued list to the active list).
Delivery: SAQ's default is at-most-once on a lost worker: a job runs once (Job.retries = 1); one left
active by a dead worker is swept (timeout 10 s by default, heartbeat off) and, with no attempt left,
finished as aborted rather than rerun. With retries > 1 it would be retried (at-least-once).
Enqueue: SAQ has no batch enqueue (`Queue.map` also waits for the results); `queue.enqueue()` 100 at
a time with asyncio.gather (the queue itself caps concurrent operations at 20). Done: the worker's
after_process hook (it runs after the job is finished and recorded) saw every job index complete;
nothing is left incomplete (`queue.count("incomplete")`); a job completed twice is reported.
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
from saq import Queue, Status, Worker


def _queue(redis_url: str, queue: str) -> Queue:
    return Queue.from_url(redis_url, name=queue)


async def _stop(worker: Worker, task: asyncio.Task[Any]) -> None:
    await worker.stop()
    with contextlib.suppress(asyncio.CancelledError, TimeoutError):
        await asyncio.wait_for(task, 10)


async def throughput(redis_url: str, queue_name: str, jobs: int, concurrency: int) -> Throughput:
    queue = _queue(redis_url, queue_name)
    await queue.connect()
    done = Completions(jobs)

    async def noop(ctx: Any, *, i: int) -> None:
        return None

    async def after(ctx: Any) -> None:
        job = ctx["job"]
        if job.status == Status.COMPLETE:
            done.add(int(job.kwargs["i"]))

    try:
        started = time.perf_counter()
        await gather_in_chunks([lambda i=i: queue.enqueue("noop", i=i) for i in range(jobs)])
        enqueue_seconds = time.perf_counter() - started
        if await queue.count("queued") != jobs:
            raise RuntimeError("saq: not every job was enqueued")

        worker = Worker(queue, functions=[("noop", noop)], concurrency=concurrency, after_process=after)
        started = time.perf_counter()
        running = asyncio.create_task(worker.start())
        await asyncio.wait_for(done.done.wait(), 300)
        process_seconds = time.perf_counter() - started
        await _stop(worker, running)
        left = await queue.count("incomplete")
        if left:
            raise RuntimeError(f"saq: {left} jobs incomplete")
        return Throughput(enqueue_seconds, process_seconds, done.count, duplicates=done.duplicates)
    finally:
        await queue.disconnect()


async def latency_worker(redis_url: str, queue_name: str, jobs: int, concurrency: int) -> LatencyWorker:
    queue = _queue(redis_url, queue_name)
    await queue.connect()
    starts = StartTimes(jobs)

    async def noop(ctx: Any, *, i: int) -> None:
        starts.record(i)

    worker = Worker(queue, functions=[("noop", noop)], concurrency=concurrency)
    running = asyncio.create_task(worker.start())
    await asyncio.sleep(0.5)  # the process loops block on the queue

    async def close() -> None:
        await _stop(worker, running)
        await queue.disconnect()

    return LatencyWorker(starts.wait, close)


async def latency_producer(redis_url: str, queue_name: str) -> LatencyProducer:
    queue = _queue(redis_url, queue_name)
    await queue.connect()

    async def publish(index: int) -> None:
        await queue.enqueue("noop", i=index)

    return LatencyProducer(publish, queue.disconnect)


async def cleanup(redis_url: str, queue: str) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        keys = [key async for key in client.scan_iter(match=f"saq:*{queue}*", count=10_000)]
        for start in range(0, len(keys), 1000):
            await client.delete(*keys[start : start + 1000])
    finally:
        await client.aclose()


SYSTEM = System(
    name="saq",
    version=version("saq"),
    throughput=throughput,
    latency_worker=latency_worker,
    latency_producer=latency_producer,
    cleanup=cleanup,
    notes={
        "concurrency_setting": "Worker(concurrency=C)",
        "delivery": "at-most-once on a lost worker by default: retries=1, a job left active is swept "
        "and aborted, not rerun",
        "enqueue": "queue.enqueue() ×100 concurrently (no batch call)",
    },
)

if __name__ == "__main__":
    main(SYSTEM, __file__)
