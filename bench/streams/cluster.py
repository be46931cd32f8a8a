"""Streams benchmark on a Redis Cluster: ours on three masters with 1, 2 and 3 busy streams, beside one node.

Starts a redis-server of its own (one node) and a 3-master Redis Cluster of its own (cluster-enabled
redis-servers joined with redis-cli --cluster create; no persistence on either), all on this machine.
One run: `--jobs` no-op jobs on each of N busy streams (catalog.seed-movie, movie-seed.requested and
catalog.backfill-movie, in that order) enqueued with publish_many, then one worker process subscribed
to the N streams at `--concurrency` each; the clock stops when every stream's `processed` counter
reaches `--jobs`. The key prefix is chosen so that the three streams live on three different masters
(each stream's keys are one slot: see popchoice_common.keyspace). Configurations alternate within a
round (round r starts at configuration r), three rounds by default; the table gives the median and the
range of the total processing rate and its ratio to one stream on one node.

The workers, the clients and the three servers share this machine's cores: with two cores the total
is not expected to grow with the streams; the figures record what it does.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis.asyncio as redis
from redis.crc import key_slot

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import cpu_seconds, start_redis

from popchoice_common.events import (
    CATALOG_BACKFILL_MOVIE,
    CATALOG_SEED_MOVIE,
    MOVIE_SEED_REQUESTED,
    BackfillMovieRequested,
    Event,
    MovieSeedRequested,
    SeedMovieRequested,
)
from popchoice_common.keyspace import Keyspace
from popchoice_common.redis_connection import connect_redis
from popchoice_common.streams import Publisher, Worker
from popchoice_common.streams.policy import StreamPolicy
from popchoice_common.testing.provision import start_redis_cluster, stop_processes

ROOT = Path(__file__).resolve().parents[2]
POLICY = StreamPolicy(max_attempts=2, backoff_ms=1000, visibility_timeout_ms=30_000)
# The busy streams, in the order they are added, with a job factory each (no-op handlers).
STREAMS: list[tuple[str, Callable[[int], Event]]] = [
    (CATALOG_SEED_MOVIE, SeedMovieRequested.for_movie),
    (MOVIE_SEED_REQUESTED, MovieSeedRequested.for_movie),
    (CATALOG_BACKFILL_MOVIE, BackfillMovieRequested.for_movie),
]


def log(message: str) -> None:
    print(f"[bench-streams-cluster {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def spread_prefix(slot_owner: Callable[[int], int]) -> str:
    """The first prefix ``bench-cluster-<n>:`` under which the three streams' slots have three owners."""
    for n in range(10_000):
        prefix = f"bench-cluster-{n}:"
        owners = {slot_owner(key_slot(Keyspace(prefix).stream(name).encode())) for name, _ in STREAMS}
        if len(owners) == len(STREAMS):
            return prefix
    raise RuntimeError("no prefix spreads the streams over the masters")


async def slot_ranges(url: str) -> list[tuple[int, int, int]]:
    """(first slot, last slot, master port) of the cluster."""
    client = redis.Redis.from_url(url)
    try:
        reply: Any = await client.execute_command("CLUSTER", "SLOTS")
    finally:
        await client.aclose()
    ranges = []
    for item in reply:
        first, last, master = item[0], item[1], item[2]
        ranges.append((int(first), int(last), int(master[1])))
    return ranges


def servers_cpu(pids: list[int]) -> float:
    """User + system CPU seconds the Redis servers have used so far."""
    return sum(cpu_seconds(pid) or 0.0 for pid in pids)


async def one_run(
    url: str, prefix: str, streams: int, jobs: int, concurrency: int, server_pids: list[int]
) -> dict[str, float]:
    client = connect_redis(url)
    keys = Keyspace(prefix)
    busy = STREAMS[:streams]
    try:
        publisher = Publisher(client, keys)
        events = [factory(index) for _, factory in busy for index in range(jobs)]
        started = time.perf_counter()
        results = await publisher.publish_many(events)
        enqueue_seconds = time.perf_counter() - started
        if sum(result.enqueued for result in results) != len(events):
            raise RuntimeError("not every job was enqueued")

        async def handle(event: Event, context: object) -> None:
            return None

        worker = Worker(client, service="bench", keys=keys, consumer="bench-1")
        for name, _ in busy:
            worker.subscribe(name, handle, concurrency=concurrency, policy=POLICY)
        counters = [keys.counters(name) for name, _ in busy]
        cpu_before, servers_before = time.process_time(), servers_cpu(server_pids)
        started = time.perf_counter()
        task = asyncio.create_task(worker.run(install_signal_handlers=False))
        while not task.done():
            done = [int(await client.hget(counter, "processed") or 0) for counter in counters]
            if min(done) >= jobs:
                break
            await asyncio.sleep(0.002)
        process_seconds = time.perf_counter() - started
        cpu, servers = time.process_time() - cpu_before, servers_cpu(server_pids) - servers_before
        worker.stop()
        await task
        total = len(events)
        return {
            "enqueue_jobs_per_second": total / enqueue_seconds,
            "process_jobs_per_second": total / process_seconds,
            "jobs": total,
            # CPU per job while processing (the worker's process, and the Redis servers together): far
            # less sensitive to a busy machine than the rates.
            "worker_cpu_us_per_job": 1e6 * cpu / total,
            "redis_cpu_us_per_job": 1e6 * servers / total,
        }
    finally:
        for pattern in keys.patterns():
            found = [key async for key in client.scan_iter(match=pattern, count=10_000)]
            for start in range(0, len(found), 1000):
                await client.delete(*found[start : start + 1000])
        await client.aclose()


def summary(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    started, load_before = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), os.getloadavg()
    single, single_url = start_redis()
    folder = Path(tempfile.mkdtemp(prefix="bench-redis-cluster-"))
    cluster = start_redis_cluster(folder)
    try:
        first_port = cluster["ports"][0]
        ranges = await slot_ranges(f"redis://127.0.0.1:{first_port}/0")

        def owner(slot: int) -> int:
            return next(port for first, last, port in ranges if first <= slot <= last)

        prefix = spread_prefix(owner)
        cluster_url = "redis+cluster://" + ",".join(f"127.0.0.1:{port}" for port in cluster["ports"])
        configurations = [("single", 1), ("cluster", 1), ("cluster", 2), ("cluster", 3), ("single", 2), ("single", 3)]
        runs: dict[str, list[dict[str, float]]] = {f"{kind}/{n}": [] for kind, n in configurations}
        log(f"prefix {prefix}, cluster {cluster_url}, one node {single_url}, load {os.getloadavg()[0]:.2f}")
        for round_index in range(args.rounds):
            shift = round_index % len(configurations)
            for kind, streams in configurations[shift:] + configurations[:shift]:
                url = single_url if kind == "single" else cluster_url
                pids = [single.pid] if kind == "single" else cluster["pids"]
                result = await one_run(url, prefix, streams, args.jobs, args.concurrency, pids)
                runs[f"{kind}/{streams}"].append(result)
                rate = result["process_jobs_per_second"]
                log(f"round {round_index + 1} {kind} {streams} stream(s): {rate:,.0f} jobs/s")
    finally:
        stop_processes(cluster["pids"])
        single.terminate()
        single.wait(10)
        shutil.rmtree(folder, ignore_errors=True)
    table = {
        name: {
            "process": summary([run["process_jobs_per_second"] for run in results]),
            "enqueue": summary([run["enqueue_jobs_per_second"] for run in results]),
            "worker_cpu": summary([run["worker_cpu_us_per_job"] for run in results]),
            "redis_cpu": summary([run["redis_cpu_us_per_job"] for run in results]),
        }
        for name, results in runs.items()
    }
    base = table["single/1"]["process"]
    print(
        f"{'configuration':<14} {'processing jobs/s (all streams)':>34} {'÷ one node, 1 stream':>22}"
        f" {'worker CPU µs/job':>20} {'Redis CPU µs/job':>20}"
    )
    for name in ("single/1", "cluster/1", "cluster/2", "cluster/3", "single/2", "single/3"):
        row, worker_cpu, redis_cpu = table[name]["process"], table[name]["worker_cpu"], table[name]["redis_cpu"]
        assert row is not None and base is not None and worker_cpu is not None and redis_cpu is not None
        shown = f"{row['median']:,.0f} ({row['min']:,.0f}–{row['max']:,.0f})"
        print(
            f"{name:<14} {shown:>34} {row['median'] / base['median']:>22.2f}"
            f" {worker_cpu['median']:>20.1f} {redis_cpu['median']:>20.1f}"
        )
    cluster_one = table["cluster/1"]["process"]
    assert cluster_one is not None and base is not None
    within = cluster_one["median"] >= 0.8 * base["median"]
    print(f"target one stream on the cluster within 20% of one node: {'MET' if within else 'MISSED'}")
    totals = [table[f"cluster/{n}"]["process"]["median"] for n in (1, 2, 3)]  # type: ignore[index]
    print(f"total on the cluster by busy streams 1/2/3: {', '.join(f'{total:,.0f}' for total in totals)} jobs/s")
    return {
        "conditions": {
            "started": started,
            "load_average_before": load_before,
            "cpus": os.cpu_count(),
            "jobs_per_stream": args.jobs,
            "concurrency_per_stream": args.concurrency,
            "rounds": args.rounds,
            "prefix": prefix,
            "load_average_after": os.getloadavg(),
        },
        "runs": runs,
        "table": table,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=20_000, help="jobs per busy stream")
    parser.add_argument("--concurrency", type=int, default=50, help="handlers per stream")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    document = asyncio.run(bench(args))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "streams-cluster.json").write_text(json.dumps(document, indent=2) + "\n")


if __name__ == "__main__":
    main()
