"""Streams benchmark: our runtime against BullMQ 5.x on the same machine and Redis.

Throughput: 20,000 no-op jobs enqueued with publish_many, then consumed by one worker with job
state and at-least-once acks on (the clock stops when every job is acknowledged and recorded
completed). The BullMQ peer (bench/streams/bullmq/peer.mjs, worker concurrency 50) runs the same
count right after, and the two print side by side with the ratio.

Latency: a consumer process takes jobs published at a steady 1,000 jobs/s by this process; the
handler records when it starts, giving publish → handler start latency (p50/p99).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import redis.asyncio as redis

from popchoice_common.events import CATALOG_SEED_MOVIE, SeedMovieRequested
from popchoice_common.streams import Publisher, StreamKeys, Worker
from popchoice_common.streams.policy import StreamPolicy

ROOT = Path(__file__).resolve().parents[2]
PEER_DIR = ROOT / "bench" / "streams" / "bullmq"
READY_MARKER = "LATENCY-CONSUMER-READY"
RESULT_MARKER = "LATENCY-CONSUMER-RESULT "
POLICY = StreamPolicy(max_attempts=2, backoff_ms=1000, visibility_timeout_ms=30_000)


async def _delete_prefix(client: redis.Redis, prefix: str) -> None:
    keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=10_000)]
    for start in range(0, len(keys), 1000):
        await client.delete(*keys[start : start + 1000])


async def throughput(redis_url: str, jobs: int, prefetch: int) -> dict[str, float]:
    client = redis.Redis.from_url(redis_url)
    keys = StreamKeys(f"bench-streams-{uuid.uuid4().hex[:8]}:")
    events = [SeedMovieRequested.for_movie(index) for index in range(jobs)]
    try:
        publisher = Publisher(client, keys)
        started = time.perf_counter()
        results = await publisher.publish_many(events)
        enqueue_seconds = time.perf_counter() - started
        assert sum(result.enqueued for result in results) == jobs

        async def handle(event: SeedMovieRequested, context: object) -> None:
            return None

        worker = Worker(client, service="bench", keys=keys, consumer="bench-1")
        worker.subscribe(CATALOG_SEED_MOVIE, handle, prefetch=prefetch, read_count=prefetch // 2, policy=POLICY)
        counters = keys.counters(CATALOG_SEED_MOVIE)
        started = time.perf_counter()
        task = asyncio.create_task(worker.run(install_signal_handlers=False))
        # Redis has the count; polling it every 2 ms adds at most 2 ms to a run of about half a second.
        while int(await client.hget(counters, "processed") or 0) < jobs:  # noqa: ASYNC110
            await asyncio.sleep(0.002)
        process_seconds = time.perf_counter() - started
        worker.stop()
        await task
        group = (await client.xinfo_groups(keys.stream(CATALOG_SEED_MOVIE)))[0]
        assert group["pending"] == 0
        return {
            "jobs": jobs,
            "enqueue_jobs_per_second": round(jobs / enqueue_seconds, 1),
            "process_jobs_per_second": round(jobs / process_seconds, 1),
            "enqueue_seconds": round(enqueue_seconds, 4),
            "process_seconds": round(process_seconds, 4),
        }
    finally:
        await _delete_prefix(client, keys.prefix)
        await client.aclose()


def bullmq_peer(redis_url: str, jobs: int, concurrency: int) -> dict[str, object] | None:
    node = shutil.which("node")
    npm = shutil.which("npm")
    if node is None or npm is None:
        print("node/npm not found: BullMQ peer skipped", file=sys.stderr)
        return None
    if not (PEER_DIR / "node_modules" / "bullmq").is_dir():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=PEER_DIR, check=True, stdout=sys.stderr)
    completed = subprocess.run(
        [node, "peer.mjs", "--jobs", str(jobs), "--concurrency", str(concurrency), "--redis", redis_url],
        cwd=PEER_DIR,
        check=True,
        capture_output=True,
        text=True,
        timeout=180,
    )
    result: dict[str, object] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


async def latency_consumer(redis_url: str, prefix: str, jobs: int) -> None:
    """Runs in its own process: consumes, records each handler start (wall clock, ns), prints them."""
    client = redis.Redis.from_url(redis_url)
    starts: dict[str, int] = {}
    done = asyncio.Event()

    async def handle(event: SeedMovieRequested, context: object) -> None:
        starts[event.job_id] = time.time_ns()
        if len(starts) >= jobs:
            done.set()

    worker = Worker(client, service="bench-latency", keys=StreamKeys(prefix), consumer="latency-1")
    worker.subscribe(CATALOG_SEED_MOVIE, handle, prefetch=100, policy=POLICY)
    await worker.ensure_groups()
    task = asyncio.create_task(worker.run(install_signal_handlers=False))
    print(READY_MARKER, flush=True)
    await done.wait()
    worker.stop()
    await task
    print(RESULT_MARKER + json.dumps(starts), flush=True)
    await client.aclose()


async def latency(redis_url: str, rate: int, seconds: float) -> dict[str, float]:
    client = redis.Redis.from_url(redis_url)
    prefix = f"bench-latency-{uuid.uuid4().hex[:8]}:"
    jobs = int(rate * seconds)
    consumer = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--redis",
        redis_url,
        "--latency-consumer",
        prefix,
        "--jobs",
        str(jobs),
        stdout=asyncio.subprocess.PIPE,
    )
    assert consumer.stdout is not None
    try:
        while (await consumer.stdout.readline()).decode().strip() != READY_MARKER:
            if consumer.returncode is not None:
                raise RuntimeError("the latency consumer exited before it was ready")
        publisher = Publisher(client, StreamKeys(prefix))
        published: dict[str, int] = {}
        interval = 1.0 / rate
        start = time.perf_counter()
        for index in range(jobs):
            delay = start + index * interval - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            event = SeedMovieRequested.for_movie(index)
            published[event.job_id] = time.time_ns()
            await publisher.publish(event)
        offered = jobs / (time.perf_counter() - start)
        output, _ = await asyncio.wait_for(consumer.communicate(), 60)
        (line,) = [line for line in output.decode().splitlines() if line.startswith(RESULT_MARKER)]
        starts = json.loads(line[len(RESULT_MARKER) :])
        latencies = sorted((starts[job_id] - sent) / 1e6 for job_id, sent in published.items())
        return {
            "jobs": jobs,
            "offered_jobs_per_second": round(offered, 1),
            "p50_ms": round(statistics.median(latencies), 3),
            "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 3),
            "max_ms": round(latencies[-1], 3),
        }
    finally:
        if consumer.returncode is None:
            consumer.kill()
            await consumer.wait()
        await _delete_prefix(client, prefix)
        await client.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--prefetch", type=int, default=1000)
    parser.add_argument("--peer-concurrency", type=int, default=50)
    parser.add_argument("--latency-rate", type=int, default=1000)
    parser.add_argument("--latency-seconds", type=float, default=10.0)
    parser.add_argument("--skip-peer", action="store_true")
    parser.add_argument("--latency-consumer", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.latency_consumer:
        asyncio.run(latency_consumer(args.redis, args.latency_consumer, args.jobs))
        return

    ours = asyncio.run(throughput(args.redis, args.jobs, args.prefetch))
    peer = None if args.skip_peer else bullmq_peer(args.redis, args.jobs, args.peer_concurrency)
    lat = asyncio.run(latency(args.redis, args.latency_rate, args.latency_seconds))
    report: dict[str, object] = {"ours": ours, "bullmq": peer, "latency": lat}
    print(f"{'':28}{'ours':>12}{'BullMQ':>12}{'ratio':>8}")
    for metric in ("enqueue_jobs_per_second", "process_jobs_per_second"):
        theirs = float(peer[metric]) if peer else float("nan")  # type: ignore[arg-type]
        print(f"{metric:28}{ours[metric]:>12,.0f}{theirs:>12,.0f}{ours[metric] / theirs:>8.2f}")
    print(
        f"latency at {lat['offered_jobs_per_second']:.0f} jobs/s offered: "
        f"p50 {lat['p50_ms']:.2f} ms, p99 {lat['p99_ms']:.2f} ms, max {lat['max_ms']:.2f} ms"
    )
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "streams.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
