"""The consuming side of the job streams: every service declares handlers, the Worker runs them.

Per subscribed stream the worker runs a reader (batched XREADGROUP inside a Lua script that also
marks the jobs active), ``concurrency`` handler tasks and a flusher that acks finished entries in
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
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import msgspec
import redis.asyncio as redis
import structlog
from redis.exceptions import RedisError, ResponseError

from popchoice_common.errors import is_retryable
from popchoice_common.events import STREAM_EVENTS, Event
from popchoice_common.logs import get_logger, redact_text
from popchoice_common.streams import metrics, scripts
from popchoice_common.streams.jobs import announce_command, now_ms
from popchoice_common.streams.keys import StreamKeys
from popchoice_common.streams.policy import StreamPolicy, policy_for

log = get_logger(__name__)

E = TypeVar("E", bound=Event)


@dataclass(frozen=True, slots=True)
class JobContext:
    """What a handler knows about the delivery it is running."""

    job_id: str
    stream: str
    entry_id: str
    attempt: int
    consumer: str
    max_attempts: int
    announcements: list[Event] = field(default_factory=list)

    @property
    def is_last_attempt(self) -> bool:
        """Whether a failure now is final (no retry follows)."""
        return self.attempt >= self.max_attempts

    def announce_on_ack(self, event: Event) -> None:
        """Sends an announcement (see jobs.announce) if the handler succeeds, in the same round trip
        as the job's acknowledgement: nothing is announced for a failed attempt."""
        self.announcements.append(event)


Handler = Callable[[E, JobContext], Awaitable[None]]
#: Called once a job is dead-lettered (attempts spent, a permanent error, a timeout on the last attempt,
#: or a consumer that kept dying), with the event and the error: where a service marks its own record
#: failed, so no handler needs to know whether its attempt was the last.
OnDead = Callable[[E, str], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class RetentionSettings:
    completed_seconds: int = 86_400
    completed_count: int = 10_000
    dead_seconds: int = 7 * 86_400
    dead_count: int = 10_000


@dataclass(slots=True)
class _Delivery:
    entry_id: str
    job_id: str
    data: bytes
    attempt: int


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _entry_fields(fields: dict[bytes, bytes]) -> tuple[str, bytes]:
    return _text(fields.get(b"job_id", b"")), fields.get(b"data", b"")


def _describe(exc: BaseException) -> str:
    return redact_text(f"{type(exc).__name__}: {exc}")[:2000]


@dataclass
class Subscription(Generic[E]):
    """One stream a service consumes: its handler and how it is run."""

    stream: str
    event_type: type[E]
    handler: Handler[E]
    concurrency: int
    prefetch: int
    read_count: int
    policy: StreamPolicy
    group: str
    on_dead: OnDead[E] | None = None
    queue: asyncio.Queue[_Delivery | None] = field(default_factory=asyncio.Queue)
    held: dict[str, str] = field(default_factory=dict)
    started: set[str] = field(default_factory=set)
    #: When each running handler's time is up (monotonic seconds): the heartbeat stops keeping an
    #: entry past it fresh.
    deadlines: dict[str, float] = field(default_factory=dict)
    done: list[tuple[str, str]] = field(default_factory=list)
    ack_only: list[str] = field(default_factory=list)
    announcements: list[Event] = field(default_factory=list)
    done_signal: asyncio.Event = field(default_factory=asyncio.Event)
    space_signal: asyncio.Event = field(default_factory=asyncio.Event)
    paused: bool = False
    handlers_done: bool = False
    #: Whether entries may be waiting: the non-blocking read runs first only then (at start, and
    #: after a read that came back full), so a quiet stream costs one blocking read per wake-up.
    maybe_waiting: bool = True

    def __post_init__(self) -> None:
        self.decoder = msgspec.json.Decoder(self.event_type)


class Worker:
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
        self._stopping = asyncio.Event()
        self._start = client.register_script(scripts.START)
        self._claimed = client.register_script(scripts.CLAIMED)
        self._finish = client.register_script(scripts.FINISH)
        self._fail = client.register_script(scripts.FAIL)
        self._move_due = client.register_script(scripts.MOVE_DUE)
        self._release = client.register_script(scripts.RELEASE)

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
        )

    def handler(self, stream: str, **options: Any) -> Callable[[Handler[E]], Handler[E]]:
        """Decorator form of :meth:`subscribe`."""

        def register(function: Handler[E]) -> Handler[E]:
            self.subscribe(stream, function, **options)
            return function

        return register

    # -- lifecycle -------------------------------------------------------------------------------

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
            asyncio.create_task(self._reclaim_loop()),
            asyncio.create_task(self._mover_loop()),
            asyncio.create_task(self._trim_loop()),
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

    # -- reading ---------------------------------------------------------------------------------

    async def _read_loop(self, sub: Subscription[Any]) -> None:
        while not self.stopping:
            try:
                if sub.paused:
                    await self._sleep(0.5)
                    continue
                free = sub.prefetch - len(sub.held)
                if free <= 0:
                    sub.space_signal.clear()
                    await self._wait_or_stop(sub.space_signal.wait(), 1.0)
                    continue
                count = min(free, sub.read_count)
                if sub.maybe_waiting:
                    sub.maybe_waiting = await self._read_ready(sub, count) == count
                else:
                    sub.maybe_waiting = await self._read_blocking(sub, count) == count
            except (RedisError, OSError) as exc:
                log.warning("stream_read_failed", stream=sub.stream, error=_describe(exc))
                await self._sleep(1.0)
            except Exception:  # the reader must outlive any one bad reply
                log.exception("stream_read_crashed", stream=sub.stream)
                await self._sleep(1.0)

    async def _read_ready(self, sub: Subscription[Any], count: int) -> int:
        """Takes up to count waiting entries and marks them active in one script call."""
        reply = await self._start(
            args=[
                self.keys.prefix,
                sub.stream,
                sub.group,
                self.consumer,
                now_ms(),
                count,
                sub.policy.max_reclaims,
                self.retention.dead_seconds,
            ]
        )
        for index in range(0, len(reply), 5):
            entry_id, job_id, data, action, attempts = reply[index : index + 5]
            self._dispatch(sub, _text(entry_id), _text(job_id), data, _text(action), int(attempts))
        return len(reply) // 5

    async def _read_blocking(self, sub: Subscription[Any], count: int) -> int:
        """Waits up to block_ms for new entries (scripts cannot block), then marks them active;
        returns how many entries came."""
        reply: Any = await self.client.xreadgroup(
            sub.group, self.consumer, {self.keys.stream(sub.stream): ">"}, count=count, block=self._block_ms
        )
        if not reply:
            return 0
        await self._take_claimed(sub, reply[0][1], reclaimed=False)
        return len(reply[0][1])

    async def _take_claimed(self, sub: Subscription[Any], entries: list[Any], *, reclaimed: bool) -> None:
        args: list[Any] = [
            self.keys.prefix,
            sub.stream,
            sub.group,
            self.consumer,
            now_ms(),
            1 if reclaimed else 0,
            sub.policy.max_reclaims,
            self.retention.dead_seconds,
        ]
        payloads: dict[str, tuple[str, bytes]] = {}
        for entry_id, fields in entries:
            if fields is None:
                continue
            job_id, data = _entry_fields(fields)
            payloads[_text(entry_id)] = (job_id, data)
            args += [entry_id, job_id, data]
        if not payloads:
            return
        reply = await self._claimed(args=args)
        for index in range(0, len(reply), 3):
            entry_id, action, attempts = _text(reply[index]), _text(reply[index + 1]), int(reply[index + 2])
            job_id, data = payloads[entry_id]
            if reclaimed and action == "run":
                metrics.JOBS_RECLAIMED.labels(self.service, sub.stream).inc()
                log.warning("job_reclaimed", stream=sub.stream, job_id=job_id, entry_id=entry_id, attempt=attempts)
            if reclaimed and action == "dead":
                metrics.JOBS_DEAD.labels(self.service, sub.stream).inc()
                log.error("job_dead_lettered", stream=sub.stream, job_id=job_id, reason="consumer died repeatedly")
                await self._call_on_dead(sub, job_id, data, "the consumer died repeatedly while running it")
            self._dispatch(sub, entry_id, job_id, data, action, attempts)

    def _dispatch(
        self, sub: Subscription[Any], entry_id: str, job_id: str, data: bytes, action: str, attempts: int
    ) -> None:
        if action == "run":
            if entry_id in sub.held:
                return
            sub.held[entry_id] = job_id
            sub.queue.put_nowait(_Delivery(entry_id, job_id, data, attempts))
        elif action == "skip":
            # Already completed (a redelivery after a lost ack) or already dead: ack only.
            sub.ack_only.append(entry_id)
            sub.done_signal.set()

    # -- handling --------------------------------------------------------------------------------

    async def _handle_loop(self, sub: Subscription[Any]) -> None:
        labels = (self.service, sub.stream)
        processed = metrics.JOBS_PROCESSED.labels(*labels)
        duration = metrics.HANDLER_SECONDS.labels(*labels)
        while True:
            delivery = await sub.queue.get()
            if delivery is None or self.stopping:
                # Not started: stays held and goes back to the stream at shutdown.
                if delivery is None:
                    return
                continue
            sub.started.add(delivery.entry_id)
            started = time.perf_counter()
            try:
                event = sub.decoder.decode(delivery.data)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                await self._record_failure(sub, delivery, f"undecodable message: {exc}", retryable=False)
                continue
            context = JobContext(
                delivery.job_id,
                sub.stream,
                delivery.entry_id,
                delivery.attempt,
                self.consumer,
                sub.policy.max_attempts,
            )
            timeout_seconds = sub.policy.handler_timeout_ms / 1000
            sub.deadlines[delivery.entry_id] = time.monotonic() + timeout_seconds
            try:
                async with asyncio.timeout(timeout_seconds) as limit:
                    with structlog.contextvars.bound_contextvars(job_id=delivery.job_id, stream=sub.stream):
                        await sub.handler(event, context)
            except TimeoutError as exc:
                duration.observe(time.perf_counter() - started)
                sub.deadlines.pop(delivery.entry_id, None)
                if limit.expired():
                    log.warning("handler_timed_out", stream=sub.stream, job_id=delivery.job_id, seconds=timeout_seconds)
                    error = f"timed out after {timeout_seconds:g} s"
                    await self._record_failure(sub, delivery, error, retryable=True)
                else:
                    await self._record_failure(sub, delivery, _describe(exc), retryable=is_retryable(exc))
                continue
            except Exception as exc:  # noqa: BLE001 - every handler failure is recorded, typed by retryability
                duration.observe(time.perf_counter() - started)
                sub.deadlines.pop(delivery.entry_id, None)
                await self._record_failure(sub, delivery, _describe(exc), retryable=is_retryable(exc))
                continue
            sub.deadlines.pop(delivery.entry_id, None)
            duration.observe(time.perf_counter() - started)
            processed.inc()
            sub.started.discard(delivery.entry_id)
            sub.done.append((delivery.entry_id, delivery.job_id))
            sub.announcements += context.announcements
            sub.done_signal.set()

    async def _record_failure(
        self, sub: Subscription[Any], delivery: _Delivery, error: str, *, retryable: bool
    ) -> None:
        delay = sub.policy.retry_delay_ms(delivery.attempt)
        while True:
            try:
                outcome = _text(
                    await self._fail(
                        args=[
                            self.keys.prefix,
                            sub.stream,
                            sub.group,
                            self.consumer,
                            now_ms(),
                            delivery.entry_id,
                            delivery.job_id,
                            delivery.data,
                            error,
                            1 if retryable else 0,
                            sub.policy.max_attempts,
                            delay,
                            self.retention.dead_seconds,
                            self.retention.dead_count,
                        ]
                    )
                )
                break
            except (RedisError, OSError) as exc:
                if self.stopping:
                    # Left pending: the reclaimer elsewhere runs it again.
                    sub.started.discard(delivery.entry_id)
                    return
                log.warning("job_failure_not_recorded", stream=sub.stream, error=_describe(exc))
                await self._sleep(1.0)
        sub.started.discard(delivery.entry_id)
        sub.held.pop(delivery.entry_id, None)
        sub.space_signal.set()
        labels = (self.service, sub.stream)
        metrics.JOBS_FAILED.labels(*labels).inc()
        if outcome == "retrying":
            metrics.JOBS_RETRIED.labels(*labels).inc()
            log.warning(
                "job_failed_will_retry",
                stream=sub.stream,
                job_id=delivery.job_id,
                attempt=delivery.attempt,
                retry_in_ms=delay,
                error=error,
            )
        else:
            metrics.JOBS_DEAD.labels(*labels).inc()
            log.error(
                "job_dead_lettered",
                stream=sub.stream,
                job_id=delivery.job_id,
                attempt=delivery.attempt,
                retryable=retryable,
                error=error,
            )
            await self._call_on_dead(sub, delivery.job_id, delivery.data, error)

    async def _call_on_dead(self, sub: Subscription[Any], job_id: str, data: bytes, error: str) -> None:
        """Runs the stream's on-dead hook; a hook that fails is logged, never fatal to the worker."""
        if sub.on_dead is None:
            return
        try:
            event = sub.decoder.decode(data)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return  # an undecodable message has no event to report
        try:
            with structlog.contextvars.bound_contextvars(job_id=job_id, stream=sub.stream):
                await sub.on_dead(event, error)
        except Exception:
            log.exception("on_dead_hook_failed", stream=sub.stream, job_id=job_id)

    async def _flush_loop(self, sub: Subscription[Any]) -> None:
        """Acks finished entries in batches: one script call per wake-up, however many finished."""
        while True:
            await sub.done_signal.wait()
            sub.done_signal.clear()
            done, sub.done = sub.done, []
            ack_only, sub.ack_only = sub.ack_only, []
            announcements, sub.announcements = sub.announcements, []
            if done or ack_only:
                try:
                    await self._flush(sub, done, ack_only, announcements)
                except (RedisError, OSError) as exc:
                    log.warning("job_ack_failed", stream=sub.stream, error=_describe(exc), count=len(done))
                    if sub.handlers_done:
                        # Shutting down: they stay pending (and are not released) for the reclaimer.
                        sub.started.update(entry_id for entry_id, _ in done)
                        return
                    sub.done = done + sub.done
                    sub.ack_only = ack_only + sub.ack_only
                    sub.announcements = announcements + sub.announcements
                    await asyncio.sleep(0.5)
                    sub.done_signal.set()
                    continue
                for entry_id, _ in done:
                    sub.held.pop(entry_id, None)
                sub.space_signal.set()
            if sub.handlers_done and not sub.done and not sub.ack_only:
                return

    async def _flush(
        self, sub: Subscription[Any], done: list[tuple[str, str]], ack_only: list[str], announcements: list[Event]
    ) -> None:
        pipeline = scripts.ScriptPipeline(self.client)
        if done:
            args: list[Any] = [
                self.keys.prefix,
                sub.stream,
                sub.group,
                now_ms(),
                self.retention.completed_seconds,
                self.retention.completed_count,
            ]
            for entry_id, job_id in done:
                args += [entry_id, job_id]
            pipeline.call(self._finish, args)
        if ack_only:
            pipeline.command("XACK", self.keys.stream(sub.stream), sub.group, *ack_only)
        for event in announcements:
            pipeline.command(*announce_command(self.keys, event))
        await pipeline.execute()

    async def _release_unstarted(self, sub: Subscription[Any]) -> None:
        """Returns entries fetched but never started to the stream, so another consumer takes them now."""
        unstarted = [(entry_id, job_id) for entry_id, job_id in sub.held.items() if entry_id not in sub.started]
        if not unstarted:
            return
        args: list[Any] = [self.keys.prefix, sub.stream, sub.group]
        for entry_id, job_id in unstarted:
            args += [entry_id, job_id]
        try:
            await self._release(args=args)
        except (RedisError, OSError) as exc:
            log.warning("job_release_failed", stream=sub.stream, error=_describe(exc), count=len(unstarted))
            return
        for entry_id, _ in unstarted:
            sub.held.pop(entry_id, None)

    # -- maintenance -----------------------------------------------------------------------------

    async def _sleep(self, seconds: float) -> None:
        await self._wait_or_stop(asyncio.sleep(seconds), seconds)

    async def _wait_or_stop(self, awaitable: Awaitable[Any], limit_seconds: float) -> None:
        waiter = asyncio.ensure_future(awaitable)
        stopper = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({waiter, stopper}, timeout=limit_seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            stopper.cancel()

    async def _every(self, seconds: float, action: Callable[[], Awaitable[None]], name: str) -> None:
        while not self.stopping:
            try:
                await action()
            except (RedisError, OSError) as exc:
                log.warning("stream_maintenance_failed", task=name, error=_describe(exc))
            except Exception:  # a maintenance loop must outlive any one failure
                log.exception("stream_maintenance_crashed", task=name)
            await self._sleep(seconds)

    def _min_visibility_seconds(self) -> float:
        return min(sub.policy.visibility_timeout_ms for sub in self._subscriptions.values()) / 1000

    async def _heartbeat_loop(self) -> None:
        await self._every(self._min_visibility_seconds() / 3, self.heartbeat, "heartbeat")

    async def heartbeat(self) -> None:
        """Resets the idle time of every entry this process holds (XCLAIM … JUSTID, no delivery counted),
        except entries whose handler ran past its timeout: if this process is wedged, they go idle and
        another consumer reclaims them."""
        now = time.monotonic()
        for sub in self._subscriptions.values():
            held = [entry for entry in sub.held if sub.deadlines.get(entry, now) >= now]
            for start in range(0, len(held), 1000):
                await self.client.xclaim(
                    self.keys.stream(sub.stream),
                    sub.group,
                    self.consumer,
                    min_idle_time=0,
                    message_ids=list[Any](held[start : start + 1000]),
                    justid=True,
                )

    async def _reclaim_loop(self) -> None:
        await self._every(self._min_visibility_seconds() / 2, self.reclaim, "reclaim")

    async def reclaim(self) -> None:
        """Takes over entries idle past the visibility timeout (XAUTOCLAIM, cursor followed)."""
        for sub in self._subscriptions.values():
            if sub.paused:
                continue
            key = self.keys.stream(sub.stream)
            cursor = "0-0"
            while not self.stopping:
                free = sub.prefetch - len(sub.held)
                if free <= 0:
                    break
                reply = await self.client.xautoclaim(
                    key, sub.group, self.consumer, sub.policy.visibility_timeout_ms, cursor, count=min(free, 100)
                )
                # Entries deleted while pending come back in reply[2]; Redis already dropped them.
                cursor, entries = _text(reply[0]), reply[1]
                claimed = [(entry_id, fields) for entry_id, fields in entries if fields]
                if claimed:
                    await self._take_claimed(sub, claimed, reclaimed=True)
                if cursor == "0-0":
                    break

    async def _mover_loop(self) -> None:
        await self._every(self._mover_interval, self.move_due_retries, "mover")

    async def move_due_retries(self) -> None:
        """Re-adds retries whose delay has passed, and refreshes the paused flags."""
        pipeline = scripts.ScriptPipeline(self.client)
        for sub in self._subscriptions.values():
            pipeline.call(self._move_due, [self.keys.prefix, sub.stream, now_ms(), 100])
            pipeline.command("EXISTS", self.keys.paused(sub.stream))
        replies = await pipeline.execute()
        for sub, paused in zip(self._subscriptions.values(), replies[1::2], strict=True):
            sub.paused = bool(paused)

    async def _trim_loop(self) -> None:
        await self._every(self._trim_interval, self.trim_and_clean, "trim")

    async def trim_and_clean(self) -> None:
        """Trims every stream below what all its groups acknowledged; removes dead idle consumers."""
        for sub in self._subscriptions.values():
            await trim_stream(self.client, self.keys.stream(sub.stream))
            await self._remove_dead_consumers(sub)
            await self._update_lag_metrics(sub)

    async def _remove_dead_consumers(self, sub: Subscription[Any]) -> None:
        key = self.keys.stream(sub.stream)
        # Never below the visibility timeout: a consumer that idle with work would be reclaimed first.
        idle_limit = max(self._dead_consumer_idle_ms, sub.policy.visibility_timeout_ms)
        for consumer in await self.client.xinfo_consumers(key, sub.group):
            name = _text(consumer["name"])
            if name != self.consumer and consumer["pending"] == 0 and consumer["idle"] > idle_limit:
                await self.client.xgroup_delconsumer(key, sub.group, name)
                log.info("consumer_removed", stream=sub.stream, consumer=name, idle_ms=consumer["idle"])

    async def _update_lag_metrics(self, sub: Subscription[Any]) -> None:
        for group in await self.client.xinfo_groups(self.keys.stream(sub.stream)):
            if _text(group["name"]) == sub.group:
                metrics.QUEUE_LAG.labels(self.service, sub.stream).set(group.get("lag") or 0)
                metrics.PENDING.labels(self.service, sub.stream).set(group["pending"])


def _next_id(entry_id: str) -> str:
    milliseconds, sequence = entry_id.split("-")
    return f"{milliseconds}-{int(sequence) + 1}"


async def safe_trim_id(client: redis.Redis, key: str) -> str | None:
    """The lowest entry id some group still needs (pending or undelivered); None when no group exists."""
    try:
        groups = await client.xinfo_groups(key)
    except ResponseError:
        return None
    if not groups:
        return None
    needed = []
    for group in groups:
        last = _text(group["last-delivered-id"])
        needed.append(_next_id(last))
        if group["pending"]:
            summary = await client.xpending(key, _text(group["name"]))
            needed.append(_text(summary["min"]))
    return min(needed, key=lambda entry_id: tuple(int(part) for part in entry_id.split("-")))


async def trim_stream(client: redis.Redis, key: str) -> int:
    """Removes entries every group has acknowledged (XTRIM MINID); never a pending or undelivered one."""
    cut = await safe_trim_id(client, key)
    if cut is None:
        return 0
    removed: int = await client.xtrim(key, minid=cut, approximate=False)
    return removed
