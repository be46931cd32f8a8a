"""bullmq for Python (the official port; the same Lua as BullMQ on Node) as a peer of the streams benchmark.

Concurrency: `Worker(..., {"concurrency": C})`, C jobs at a time in one asyncio worker.
Delivery: BullMQ's own, at-least-once: a job is locked while active (lockDuration 30 s, renewed) and
a stalled one (lock lost, worker dead) goes back to wait once (maxStalledCount 1), then fails.
Completed jobs are kept (removeOnComplete false, the default), as on Node.
Enqueue: `Queue.addBulk` in chunks of 1,000 (as the Node peer). Done: the worker's "completed" event
(emitted after moveToCompleted), counted; the queue's completed count is checked afterwards.
"""

from __future__ import annotations

import asyncio
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bullmq import Queue, Worker
from harness import (
    Completions,
    LatencyProducer,
    LatencyWorker,
    StartTimes,
    System,
    Throughput,
    main,
)

PREFIX = "bench-bullmq-py"
CHUNK = 1000


def _queue(redis_url: str, queue: str) -> Queue:
    return Queue(queue, {"connection": redis_url, "prefix": PREFIX})


def _worker(redis_url: str, queue: str, concurrency: int, processor: Any) -> Worker:
    return Worker(queue, processor, {"connection": redis_url, "prefix": PREFIX, "concurrency": concurrency})


async def throughput(redis_url: str, queue_name: str, jobs: int, concurrency: int) -> Throughput:
    queue = _queue(redis_url, queue_name)
    try:
        started = time.perf_counter()
        for start in range(0, jobs, CHUNK):
            await queue.addBulk([{"name": "noop", "data": {"i": i}} for i in range(start, min(start + CHUNK, jobs))])
        enqueue_seconds = time.perf_counter() - started

        completions = Completions(jobs)
        failures: list[str] = []

        async def process(job: Any, token: str) -> None:
            return None

        started = time.perf_counter()
        worker = _worker(redis_url, queue_name, concurrency, process)
        worker.on("completed", lambda job, result: completions.add(int(job.data["i"])))
        worker.on("failed", lambda job, err: failures.append(str(err)))
        await asyncio.wait_for(completions.done.wait(), 300)
        process_seconds = time.perf_counter() - started
        await worker.close()
        counts = await queue.getJobCounts("completed", "failed", "wait", "active")
        if failures or counts["completed"] != jobs:
            raise RuntimeError(f"bullmq: counts {counts}, failures {failures[:3]}")
        return Throughput(enqueue_seconds, process_seconds, completions.count, duplicates=completions.duplicates)
    finally:
        await queue.close()


async def latency_worker(redis_url: str, queue: str, jobs: int, concurrency: int) -> LatencyWorker:
    starts = StartTimes(jobs)

    async def process(job: Any, token: str) -> None:
        starts.record(int(job.data["i"]))

    worker = _worker(redis_url, queue, concurrency, process)
    # The worker connects and starts blocking on its queue in the background: wait until it is waiting.
    await asyncio.sleep(1.0)
    return LatencyWorker(starts.wait, worker.close)


async def latency_producer(redis_url: str, queue_name: str) -> LatencyProducer:
    queue = _queue(redis_url, queue_name)

    async def publish(index: int) -> None:
        await queue.add("noop", {"i": index})

    return LatencyProducer(publish, queue.close)


async def cleanup(redis_url: str, queue_name: str) -> None:
    queue = _queue(redis_url, queue_name)
    try:
        await queue.obliterate(force=True)
    finally:
        await queue.close()


SYSTEM = System(
    name="bullmq-py",
    version=version("bullmq"),
    throughput=throughput,
    latency_worker=latency_worker,
    latency_producer=latency_producer,
    cleanup=cleanup,
    notes={
        "concurrency_setting": 'Worker opts {"concurrency": C}',
        "delivery": "at-least-once: job lock (30 s, renewed); a stalled job is moved back to wait once, "
        "then failed; completed jobs kept",
        "enqueue": "Queue.addBulk, chunks of 1,000",
    },
)

if __name__ == "__main__":
    main(SYSTEM, __file__)
