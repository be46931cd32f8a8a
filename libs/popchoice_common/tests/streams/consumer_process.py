"""A real consumer process for the crash-recovery tests, driven by Redis flags under its key prefix.

Behaviour (key <prefix>behaviour): unset → finish at once; "hang" → never finish; "crash" → the
process dies mid-handler (os._exit); "sleep:<s>" → finish after s seconds. Every run is counted
(<prefix>runs:<job>) and the handler's effect is idempotent (SET NX <prefix>result:<job>, and
<prefix>effects counts effects that took).
"""

import asyncio
import os
import sys
from typing import Any

from popchoice_common.events import CATALOG_SEED_MOVIE
from popchoice_common.logs import configure_logging
from popchoice_common.redis_connection import connect_redis
from popchoice_common.streams import StreamKeys, StreamPolicy, Worker


async def main() -> None:
    prefix = os.environ["TEST_PREFIX"]
    client = connect_redis(os.environ["REDIS_URL"])
    worker = Worker(
        client,
        service="crash-test",
        keys=StreamKeys(prefix),
        consumer=f"consumer-{os.getpid()}",
        shutdown_grace_seconds=float(os.environ.get("GRACE_SECONDS", "10")),
        block_ms=200,
    )

    async def handle(event, context):
        await client.incr(f"{prefix}runs:{context.job_id}")
        await client.rpush(f"{prefix}started", context.job_id)
        flag: Any = await client.get(f"{prefix}behaviour")
        behaviour = (flag or b"").decode()
        if behaviour == "crash":
            os._exit(17)
        if behaviour == "hang":
            await asyncio.sleep(3600)
        if behaviour.startswith("sleep:"):
            await asyncio.sleep(float(behaviour.split(":", 1)[1]))
        if await client.set(f"{prefix}result:{context.job_id}", worker.consumer, nx=True):
            await client.incr(f"{prefix}effects")

    worker.subscribe(
        CATALOG_SEED_MOVIE,
        handle,
        concurrency=int(os.environ.get("CONCURRENCY", "1")),
        prefetch=int(os.environ.get("PREFETCH", "4")),
        policy=StreamPolicy(
            max_attempts=3,
            backoff_ms=100,
            visibility_timeout_ms=int(os.environ.get("VISIBILITY_MS", "1000")),
            max_reclaims=int(os.environ.get("MAX_RECLAIMS", "3")),
        ),
    )
    await worker.run()
    await client.aclose()


if __name__ == "__main__":
    configure_logging("INFO", "json")
    asyncio.run(main())
    sys.exit(0)
