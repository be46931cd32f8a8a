"""arq (a sorted set of job ids plus a key per job) as a peer of the streams benchmark.

Concurrency: `Worker(max_jobs=C)` (its default is 10); it reads up to max(5×C, 100) job ids per poll
(queue_read_limit's default).
Delivery: arq's default, at-least-once ("pessimistic execution"): a job stays in the queue while it
runs, under an in-progress key that expires after the job timeout (300 s); if the worker dies another
runs it again, up to max_tries (5). Results are kept 3,600 s.
Polling: when it finds no job arq sleeps poll_delay (0.5 s by default) before looking again; the
latency figures are with that default, which sets them.
Enqueue: arq has no batch enqueue; `ArqRedis.enqueue_job()` 100 at a time with asyncio.gather. Done:
the worker's own count of completed jobs (`Worker.jobs_complete`) reached the job count and the queue
is empty (jobs are removed from it when finished), polled every 2 ms; every job index ran.
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

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from arq.worker import Worker, func
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


async def _pool(redis_url: str, queue: str) -> ArqRedis:
    return await create_pool(RedisSettings.from_dsn(redis_url), default_queue_name=queue)


def _worker(pool: ArqRedis, queue: str, concurrency: int, noop: Any) -> Worker:
    return Worker(
        functions=[func(noop, name="noop")],
        redis_pool=pool,
        queue_name=queue,
        max_jobs=concurrency,
        handle_signals=False,
    )


async def _stop(worker: Worker, task: asyncio.Task[Any]) -> None:
    # Let the job tasks finish (arq counts a job complete just before it records the result), then stop.
    for _ in range(5000):
        if all(job.done() for job in worker.tasks.values()):
            break
        await asyncio.sleep(0.002)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    with contextlib.suppress(asyncio.CancelledError):
        await worker.close()


async def throughput(redis_url: str, queue: str, jobs: int, concurrency: int) -> Throughput:
    pool = await _pool(redis_url, queue)

    ran = Completions(jobs)

    async def noop(ctx: Any, i: int) -> None:
        ran.add(i)

    try:
        started = time.perf_counter()
        await gather_in_chunks([lambda i=i: pool.enqueue_job("noop", i, _job_id=f"{queue}-{i}") for i in range(jobs)])
        enqueue_seconds = time.perf_counter() - started
        if await pool.zcard(queue) != jobs:
            raise RuntimeError("arq: not every job was enqueued")

        worker = _worker(await _pool(redis_url, queue), queue, concurrency, noop)
        started = time.perf_counter()
        running = asyncio.create_task(worker.async_run())
        while worker.jobs_complete < jobs or await pool.zcard(queue):
            if running.done() or worker.jobs_failed:
                raise RuntimeError(f"arq: worker stopped or failed ({worker!r})")
            await asyncio.sleep(0.002)
        process_seconds = time.perf_counter() - started
        await _stop(worker, running)
        if worker.jobs_complete != ran.calls:
            raise RuntimeError(f"arq: {worker.jobs_complete} complete, {ran.calls} handler runs")
        return Throughput(enqueue_seconds, process_seconds, ran.count, duplicates=ran.duplicates)
    finally:
        await pool.aclose()


async def latency_worker(redis_url: str, queue: str, jobs: int, concurrency: int) -> LatencyWorker:
    starts = StartTimes(jobs)

    async def noop(ctx: Any, i: int) -> None:
        starts.record(i)

    worker = _worker(await _pool(redis_url, queue), queue, concurrency, noop)
    running = asyncio.create_task(worker.async_run())
    await asyncio.sleep(0.5)

    async def close() -> None:
        await _stop(worker, running)

    return LatencyWorker(starts.wait, close)


async def latency_producer(redis_url: str, queue: str) -> LatencyProducer:
    pool = await _pool(redis_url, queue)

    async def publish(index: int) -> None:
        await pool.enqueue_job("noop", index, _job_id=f"{queue}-{index}")

    return LatencyProducer(publish, pool.aclose)


async def cleanup(redis_url: str, queue: str) -> None:
    pool = await _pool(redis_url, queue)
    try:
        await pool.delete(queue, f"{queue}:health-check")
        # Job, result and in-progress keys are named by job id (arq:job:<id>, ...), and the job ids
        # begin with the queue's name.
        keys = [key async for key in pool.scan_iter(match=f"arq:*:{queue}-*", count=10_000)]
        for start in range(0, len(keys), 1000):
            await pool.delete(*keys[start : start + 1000])
    finally:
        await pool.aclose()


SYSTEM = System(
    name="arq",
    version=version("arq"),
    throughput=throughput,
    latency_worker=latency_worker,
    latency_producer=latency_producer,
    cleanup=cleanup,
    notes={
        "concurrency_setting": "Worker(max_jobs=C)",
        "delivery": "at-least-once: the job stays queued under an expiring in-progress key (300 s) and "
        "is rerun if its worker dies, up to max_tries 5; results kept 1 h",
        "enqueue": "ArqRedis.enqueue_job() ×100 concurrently (no batch call)",
    },
)

if __name__ == "__main__":
    main(SYSTEM, __file__)
