"""What every system of the streams benchmark shares: its command line and the latency harness.

Each system is a script of its own (ours in the product's virtualenv, the Python peers in the
bench's own, see peers/requirements.txt) that imports this module and calls `main(system)`. The
script runs in one of three roles and prints exactly one JSON line on stdout:

- `throughput`: enqueue `--jobs` no-op jobs in bulk (the library's batch call, else chunks of
  concurrent single enqueues), then start one worker at `--concurrency` and stop the clock when the
  library reports every job completed; the count of completions is checked against `--jobs`.
- `latency`: start a consumer (`latency-worker`, a process of its own), publish `--rate` jobs/s for
  `--seconds`, one job at a time, each carrying its index; the consumer's handler records the wall
  clock when it starts; publish → start p50/p99/max in ms.
- `latency-worker`: the consumer side of `latency`.

Standard library only: it is imported from both virtualenvs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

READY_MARKER = "LATENCY-WORKER-READY"
RESULT_MARKER = "LATENCY-WORKER-RESULT "


@dataclass
class Throughput:
    """What a system's throughput run measured."""

    enqueue_seconds: float
    process_seconds: float
    completed: int
    extra: dict[str, Any] = field(default_factory=dict)
    duplicates: int = 0


@dataclass
class LatencyWorker:
    """A started latency consumer: wait() returns {index: handler start in ns} once all arrived."""

    wait: Callable[[], Awaitable[dict[int, int]]]
    close: Callable[[], Awaitable[None]]


@dataclass
class LatencyProducer:
    """publish(index) enqueues one job carrying its index; close() releases the connections."""

    publish: Callable[[int], Awaitable[None]]
    close: Callable[[], Awaitable[None]]


@dataclass
class System:
    """One system under test: how it enqueues, processes and reports."""

    name: str
    version: str
    throughput: Callable[[str, str, int, int], Awaitable[Throughput]]
    # (redis_url, queue, jobs, concurrency) -> a started worker
    latency_worker: Callable[[str, str, int, int], Awaitable[LatencyWorker]] | None
    # (redis_url, queue) -> a producer
    latency_producer: Callable[[str, str], Awaitable[LatencyProducer]] | None
    # (redis_url, queue) -> delete what the run left
    cleanup: Callable[[str, str], Awaitable[None]]
    notes: dict[str, str] = field(default_factory=dict)


class Completions:
    """Counts completions by job index and wakes a waiter once every index completed.

    A job that ran twice counts once in `count` and once in `duplicates` (a library's delivery
    guarantee shows here).
    """

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.seen: set[int] = set()
        self.calls = 0
        self.done = asyncio.Event()

    def add(self, index: int) -> None:
        self.calls += 1
        self.seen.add(index)
        if len(self.seen) >= self.expected:
            self.done.set()

    @property
    def count(self) -> int:
        return len(self.seen)

    @property
    def duplicates(self) -> int:
        return self.calls - len(self.seen)


class StartTimes:
    """The latency consumer's record: index → wall clock (ns) when its handler started."""

    def __init__(self, expected: int) -> None:
        self.starts: dict[int, int] = {}
        self.expected = expected
        self.done = asyncio.Event()

    def record(self, index: int) -> None:
        self.starts[index] = time.time_ns()
        if len(self.starts) >= self.expected:
            self.done.set()

    async def wait(self) -> dict[int, int]:
        await self.done.wait()
        return self.starts


async def gather_in_chunks(calls: list[Callable[[], Awaitable[Any]]], chunk: int = 100) -> None:
    """Runs the calls `chunk` at a time: a bulk enqueue for libraries without a batch call."""
    for start in range(0, len(calls), chunk):
        await asyncio.gather(*(call() for call in calls[start : start + chunk]))


def _emit(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()


async def _throughput(system: System, args: argparse.Namespace) -> dict[str, Any]:
    queue = f"bench-{system.name}-{uuid.uuid4().hex[:8]}"
    cpu_started = time.process_time()
    try:
        result = await system.throughput(args.redis, queue, args.jobs, args.concurrency)
        cpu_seconds = time.process_time() - cpu_started
    finally:
        await system.cleanup(args.redis, queue)
    if result.completed != args.jobs:
        raise RuntimeError(f"{system.name}: {result.completed} of {args.jobs} jobs completed")
    return {
        "jobs": args.jobs,
        "completed": result.completed,
        "ran_twice": result.duplicates,
        "concurrency": args.concurrency,
        "enqueue_jobs_per_second": round(args.jobs / result.enqueue_seconds, 1),
        "process_jobs_per_second": round(args.jobs / result.process_seconds, 1),
        "enqueue_seconds": round(result.enqueue_seconds, 4),
        "process_seconds": round(result.process_seconds, 4),
        "cpu_seconds": round(cpu_seconds, 3),
        **result.extra,
    }


async def _latency_worker(system: System, args: argparse.Namespace) -> None:
    assert system.latency_worker is not None
    worker = await system.latency_worker(args.redis, args.queue, args.jobs, args.concurrency)
    print(READY_MARKER, flush=True)
    try:
        starts = await worker.wait()
        print(RESULT_MARKER + json.dumps(starts), flush=True)
    finally:
        # The result is out: a library slow to shut down must not hold the run up.
        try:
            await asyncio.wait_for(worker.close(), 10)
        except (Exception, asyncio.CancelledError) as error:  # noqa: BLE001
            print(f"{system.name}: closing the latency worker failed: {error!r}", file=sys.stderr)


async def _latency(system: System, args: argparse.Namespace, script: str) -> dict[str, Any]:
    assert system.latency_producer is not None
    queue = f"bench-{system.name}-latency-{uuid.uuid4().hex[:8]}"
    jobs = int(args.rate * args.seconds)
    consumer = await asyncio.create_subprocess_exec(
        sys.executable,
        script,
        "latency-worker",
        "--redis",
        args.redis,
        "--queue",
        queue,
        "--jobs",
        str(jobs),
        "--concurrency",
        str(args.concurrency),
        stdout=asyncio.subprocess.PIPE,
        limit=64 * 1024 * 1024,
    )
    assert consumer.stdout is not None
    producer: LatencyProducer | None = None
    try:
        ready = asyncio.create_task(_read_until(consumer.stdout, READY_MARKER))
        await asyncio.wait_for(ready, 60)
        producer = await system.latency_producer(args.redis, queue)
        published: dict[int, int] = {}
        publish_ms: list[float] = []
        interval = 1.0 / args.rate
        start = time.perf_counter()
        for index in range(jobs):
            delay = start + index * interval - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            published[index] = time.time_ns()
            await producer.publish(index)
            publish_ms.append((time.time_ns() - published[index]) / 1e6)
        offered = jobs / (time.perf_counter() - start)
        line = await asyncio.wait_for(_read_until(consumer.stdout, RESULT_MARKER), 120)
        starts = {int(index): ns for index, ns in json.loads(line[len(RESULT_MARKER) :]).items()}
        if len(starts) != jobs or set(starts) != set(published):
            raise RuntimeError(f"{system.name}: {len(starts)} of {jobs} latency jobs started")
        latencies = sorted((starts[index] - sent) / 1e6 for index, sent in published.items())
        return {
            "jobs": jobs,
            "concurrency": args.concurrency,
            "offered_jobs_per_second": round(offered, 1),
            "p50_ms": round(statistics.median(latencies), 3),
            "p99_ms": round(latencies[max(int(len(latencies) * 0.99) - 1, 0)], 3),
            "max_ms": round(latencies[-1], 3),
            # How long the publish call itself took (the producer's share of the latency).
            "publish_p50_ms": round(statistics.median(publish_ms), 3),
            "publish_p99_ms": round(sorted(publish_ms)[max(int(len(publish_ms) * 0.99) - 1, 0)], 3),
        }
    finally:
        if producer is not None:
            await producer.close()
        if consumer.returncode is None:
            try:
                await asyncio.wait_for(consumer.wait(), 15)
            except TimeoutError:
                consumer.kill()
                await consumer.wait()
        await system.cleanup(args.redis, queue)


async def _read_until(stream: asyncio.StreamReader, marker: str) -> str:
    """The first line the latency worker prints that starts with marker (results can be long lines)."""
    while True:
        try:
            line = (await stream.readuntil(b"\n")).decode()
        except asyncio.IncompleteReadError as error:
            raise RuntimeError(f"the latency worker exited before it printed {marker.strip()}") from error
        if line.startswith(marker):
            return line.strip()


def main(system: System, script: str) -> None:
    parser = argparse.ArgumentParser(description=f"streams benchmark: {system.name}")
    parser.add_argument("role", choices=["throughput", "latency", "latency-worker", "describe"])
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--queue", help=argparse.SUPPRESS)
    args = parser.parse_args()
    header = {"system": system.name, "version": system.version}
    if args.role == "describe":
        _emit({**header, "latency": system.latency_producer is not None, **system.notes})
    elif args.role == "throughput":
        _emit({**header, **asyncio.run(_throughput(system, args))})
    elif args.role == "latency":
        if system.latency_producer is None:
            _emit({**header, "skipped": system.notes.get("latency", "not supported")})
        else:
            _emit({**header, **asyncio.run(_latency(system, args, script))})
    else:
        asyncio.run(_latency_worker(system, args))
        # Some libraries leave threads or connections behind; the result is out, so leave at once.
        sys.stdout.flush()
        os._exit(0)
