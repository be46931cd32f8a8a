"""The consuming side of the job streams: every service declares handlers, the Worker runs them.

Per subscribed stream the worker runs a reader (batched XREADGROUP of that stream alone, then a Lua
script that marks the jobs active), ``concurrency`` handler tasks and a flusher that acks finished entries in
batches. Beside them, for every stream: a heartbeat that keeps the entries this process holds from
looking idle, a reclaimer that takes over entries idle past the visibility timeout (a crashed
consumer's), a mover that re-adds due retries, a trimmer that cuts the stream below what every group
has acknowledged, and removal of dead consumers. SIGTERM stops reading, lets running handlers finish
within the grace period, acks them, returns unstarted entries to the stream and exits.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as redis
from redis.exceptions import ResponseError

from popchoice_common.events import STREAM_EVENTS
from popchoice_common.logs import get_logger
from popchoice_common.streams import scripts
from popchoice_common.streams.acking import Acking
from popchoice_common.streams.handling import Handling
from popchoice_common.streams.keys import StreamKeys
from popchoice_common.streams.maintenance import Maintenance
from popchoice_common.streams.outage import OutageLog
from popchoice_common.streams.policy import StreamPolicy, policy_for
from popchoice_common.streams.reading import Reading
from popchoice_common.streams.subscription import (
    E,
    Handler,
    JobContext,
    OnDead,
    RetentionSettings,
    Subscription,
)
from popchoice_common.streams.trimming import safe_trim_id, trim_stream

__all__ = [
    "Handler",
    "JobContext",
    "OnDead",
    "RetentionSettings",
    "Subscription",
    "Worker",
    "safe_trim_id",
    "trim_stream",
]

log = get_logger(__name__)


class Worker(Reading, Handling, Acking, Maintenance):
    """Runs the handlers a service declared, with the reliability rules of ARCHITECTURE.md §2."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        service: str,
        keys: StreamKeys | None = None,
        consumer: str | None = None,
        retention: RetentionSettings | None = None,
        policy_overrides: dict[str, dict[str, int]] | None = None,
        block_ms: int = 1000,
        shutdown_grace_seconds: float = 30.0,
        trim_interval_seconds: float = 60.0,
        mover_interval_seconds: float = 0.25,
        dead_consumer_idle_ms: int = 600_000,
        outage_window_seconds: float = 120.0,
        outage_backoff_ms: tuple[int, int] = (1000, 15_000),
    ) -> None:
        self.client = client
        self.service = service
        self.keys = keys or StreamKeys()
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}"
        self.retention = retention or RetentionSettings()
        self._policy_overrides = policy_overrides or {}
        self._block_ms = block_ms
        self._grace = shutdown_grace_seconds
        self._trim_interval = trim_interval_seconds
        self._mover_interval = mover_interval_seconds
        self._dead_consumer_idle_ms = dead_consumer_idle_ms
        self._subscriptions: dict[str, Subscription[Any]] = {}
        self._periodic: list[tuple[str, float, Callable[[], Awaitable[None]]]] = []
        self._stopping = asyncio.Event()
        self._redis_outage = OutageLog("redis", service=service, consumer=self.consumer)
        self._outage_window_ms = int(outage_window_seconds * 1000)
        self._outage_backoff_ms = outage_backoff_ms
        self._claimed = client.register_script(scripts.CLAIMED)
        self._finish = client.register_script(scripts.FINISH)
        self._fail = client.register_script(scripts.FAIL)
        self._move_due = client.register_script(scripts.MOVE_DUE)
        self._release = client.register_script(scripts.RELEASE)
        self._forget_script = client.register_script(scripts.FORGET)

    # -- declaration -----------------------------------------------------------------------------

    def subscribe(
        self,
        stream: str,
        handler: Handler[E],
        *,
        concurrency: int = 1,
        prefetch: int | None = None,
        read_count: int | None = None,
        policy: StreamPolicy | None = None,
        on_dead: OnDead[E] | None = None,
    ) -> None:
        """Runs handler for every event on stream, at most concurrency at a time in this process.

        prefetch bounds the entries this process holds (running or waiting); by default four per
        handler slot, at most 500, so a slow stream does not hoard work other processes could do.
        read_count bounds one read (by default the prefetch). The next read goes out while the previous
        one's jobs are marked active, and entries whose handler finished no longer count against the
        prefetch, so reading overlaps acknowledging.
        on_dead is called once a job of the stream is dead-lettered (see OnDead).
        """
        if stream in self._subscriptions:
            raise ValueError(f"{self.service} already subscribes to {stream}")
        event_type = STREAM_EVENTS[stream]
        prefetch = prefetch or min(500, max(4 * concurrency, 4))
        self._subscriptions[stream] = Subscription(
            stream=stream,
            event_type=event_type,
            handler=handler,
            concurrency=concurrency,
            prefetch=prefetch,
            read_count=min(read_count or prefetch, prefetch),
            policy=policy or policy_for(stream, self._policy_overrides),
            group=self.service,
            on_dead=on_dead,
            job_key_prefix=self.keys.job(stream, ""),
        )

    def handler(self, stream: str, **options: Any) -> Callable[[Handler[E]], Handler[E]]:
        """Decorator form of :meth:`subscribe`."""

        def register(function: Handler[E]) -> Handler[E]:
            self.subscribe(stream, function, **options)
            return function

        return register

    # -- lifecycle -------------------------------------------------------------------------------

    def every(self, seconds: float, action: Callable[[], Awaitable[None]], *, name: str) -> None:
        """Runs action every so many seconds while the worker runs (first run one period after the
        start), stopped with the maintenance loops. A Redis error backs off like them; any other error
        is logged and the next run goes ahead."""
        self._periodic.append((name, seconds, action))

    def stop(self) -> None:
        """Asks the worker to shut down gracefully (what SIGTERM does)."""
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    async def ensure_groups(self) -> None:
        """Creates each consumer group at the start of its stream, so nothing published earlier is missed."""
        for sub in self._subscriptions.values():
            try:
                await self.client.xgroup_create(self.keys.stream(sub.stream), sub.group, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    async def run(self, *, install_signal_handlers: bool = True) -> None:
        """Consumes until :meth:`stop` (or SIGTERM/SIGINT), then shuts down gracefully."""
        if not self._subscriptions:
            raise RuntimeError(f"{self.service} has no handlers to run")
        loop = asyncio.get_running_loop()
        if install_signal_handlers:
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, self.stop)
        await self.ensure_groups()
        log.info(
            "worker_started",
            service=self.service,
            consumer=self.consumer,
            streams=sorted(self._subscriptions),
        )
        readers = [asyncio.create_task(self._read_loop(sub)) for sub in self._subscriptions.values()]
        handlers = [
            asyncio.create_task(self._handle_loop(sub))
            for sub in self._subscriptions.values()
            for _ in range(sub.concurrency)
        ]
        flushers = [asyncio.create_task(self._flush_loop(sub)) for sub in self._subscriptions.values()]
        maintenance = [
            asyncio.create_task(self._heartbeat_loop()),
            asyncio.create_task(self._watchdog_loop()),
            asyncio.create_task(self._reclaim_loop()),
            asyncio.create_task(self._mover_loop()),
            asyncio.create_task(self._trim_loop()),
            *(asyncio.create_task(self._periodically(*task)) for task in self._periodic),
        ]
        try:
            await self._stopping.wait()
        finally:
            self._stopping.set()
            await self._shutdown(readers, handlers, flushers, maintenance)
            if install_signal_handlers:
                for signum in (signal.SIGTERM, signal.SIGINT):
                    loop.remove_signal_handler(signum)

    async def _shutdown(
        self,
        readers: list[asyncio.Task[None]],
        handlers: list[asyncio.Task[None]],
        flushers: list[asyncio.Task[None]],
        maintenance: list[asyncio.Task[None]],
    ) -> None:
        await asyncio.gather(*readers, return_exceptions=True)
        for sub in self._subscriptions.values():
            for _ in range(sub.concurrency):
                sub.queue.put_nowait(None)
        _, unfinished = await asyncio.wait(handlers, timeout=self._grace) if handlers else (set(), set())
        for task in unfinished:
            task.cancel()
        await asyncio.gather(*unfinished, return_exceptions=True)
        for sub in self._subscriptions.values():
            sub.handlers_done = True
            sub.done_signal.set()
        await asyncio.gather(*flushers, return_exceptions=True)
        for sub in self._subscriptions.values():
            await self._release_unstarted(sub)
        for task in maintenance:
            task.cancel()
        await asyncio.gather(*maintenance, return_exceptions=True)
        log.info(
            "worker_stopped",
            service=self.service,
            consumer=self.consumer,
            left_pending=sum(len(sub.started) for sub in self._subscriptions.values()),
        )
