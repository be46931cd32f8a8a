"""A worker's shared state: the subscriptions, the job context handed to handlers, and the records the
parts of the worker pass each other."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import msgspec
import redis.asyncio as redis

from popchoice_common.events import Event
from popchoice_common.logs import get_logger, redact_text
from popchoice_common.streams.keys import StreamKeys
from popchoice_common.streams.policy import StreamPolicy

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
class Delivery:
    entry_id: str
    job_id: str
    data: bytes
    attempt: int


def as_text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def entry_fields(fields: dict[bytes, bytes]) -> tuple[str, bytes]:
    return as_text(fields.get(b"job_id", b"")), fields.get(b"data", b"")


def describe_error(exc: BaseException) -> str:
    return redact_text(f"{type(exc).__name__}: {exc}")[:2000]


class DeliveryQueue:
    """The deliveries waiting for a handler task: asyncio.Queue's put_nowait and get without what the
    worker never uses (a size bound, task_done/join), which cost a tenth of a no-op job.

    A batch of deliveries wakes the waiting handler tasks one at a time, each once the previous one
    has run (took a delivery and awaits its handler's I/O, or took them all): asyncio.Queue wakes one
    task per item at once, so a batch of fast jobs woke every idle task for nothing.
    """

    def __init__(self) -> None:
        #: The deliveries waiting, oldest first (a handler loop takes one directly when one waits).
        self.items: deque[Delivery | None] = deque()
        self._getters: deque[asyncio.Future[None]] = deque()
        self._waking = False

    def qsize(self) -> int:
        return len(self.items)

    def put_nowait(self, item: Delivery | None) -> None:
        self.items.append(item)
        if self._getters and not self._waking:
            self._waking = True
            asyncio.get_running_loop().call_soon(self._wake_next)

    def _wake_next(self) -> None:
        self._waking = False
        if not self.items:
            return
        while self._getters:
            getter = self._getters.popleft()
            if not getter.done():
                getter.set_result(None)
                break
        if self.items and self._getters:
            # Runs after the woken task's step: the next task only if deliveries are left.
            self._waking = True
            asyncio.get_running_loop().call_soon(self._wake_next)

    async def get(self) -> Delivery | None:
        while not self.items:
            getter = asyncio.get_running_loop().create_future()
            self._getters.append(getter)
            try:
                await getter
            except BaseException:
                getter.cancel()
                with contextlib.suppress(ValueError):
                    self._getters.remove(getter)
                if self.items and not getter.cancelled() and not self._waking:
                    # Woken, then cancelled: the delivery goes to another task.
                    self._waking = True
                    asyncio.get_running_loop().call_soon(self._wake_next)
                raise
        return self.items.popleft()


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
    #: keys.job(stream, "") : a job's state key is this and its id (built once, not per job).
    job_key_prefix: str = ""
    queue: DeliveryQueue = field(default_factory=DeliveryQueue)
    held: dict[str, str] = field(default_factory=dict)
    started: set[str] = field(default_factory=set)
    #: Entries read whose CLAIMED call is still on its way: held in all but name (prefetch counts them).
    claiming: int = 0
    #: Held entries whose handler succeeded, their ack not yet written: prefetch no longer counts them
    #: (they are no work another process could take), so the next read overlaps the ack.
    finished: int = 0
    #: The CLAIMED calls in flight (the reader does not wait for them before it reads on).
    claims: set[asyncio.Task[None]] = field(default_factory=set)
    #: The error of a CLAIMED call that failed, for the reader to report (and back off on).
    claim_error: Exception | None = None
    #: Job ids past the completed retention count that FORGET has yet to forget, and its task.
    forget_ids: list[str] = field(default_factory=list)
    forgetter: asyncio.Task[None] | None = None
    #: The job ids of the FORGET call on its way.
    forgetting: set[str] = field(default_factory=set)
    #: When each running handler's time is up (monotonic seconds): the heartbeat stops keeping an
    #: entry past it fresh.
    deadlines: dict[str, float] = field(default_factory=dict)
    #: The task running each entry's handler, for the watchdog to cancel past its deadline.
    running: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    #: Entries the watchdog cancelled (their CancelledError is a timeout, not a shutdown).
    timed_out: set[str] = field(default_factory=set)
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

    @property
    def free(self) -> int:
        """How many more entries the prefetch lets this process read now."""
        return self.prefetch - len(self.held) - self.claiming + self.finished


class WorkerCore:
    """What every part of the worker shares (set by Worker.__init__): the client, the keys, the
    subscriptions, the scripts, and the few operations one part asks of another."""

    client: redis.Redis
    service: str
    keys: StreamKeys
    consumer: str
    retention: RetentionSettings
    _policy_overrides: dict[str, dict[str, int]]
    _block_ms: int
    _grace: float
    _trim_interval: float
    _mover_interval: float
    _dead_consumer_idle_ms: int
    _subscriptions: dict[str, Subscription[Any]]
    _stopping: asyncio.Event
    #: Redis outages, logged once each by whichever loop meets them (streams/outage.py).
    _redis_outage: Any
    #: A job failing because a dependency is down is retried without counting attempts this long
    #: after its first such failure (STREAM_OUTAGE_WINDOW_SECONDS).
    _outage_window_ms: int
    #: Those retries wait the first value, doubling up to the second (1 s to 15 s by default).
    _outage_backoff_ms: tuple[int, int]
    _claimed: Any
    _forget_script: Any
    _finish: Any
    _fail: Any
    _move_due: Any
    _release: Any

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    async def _sleep(self, seconds: float) -> None:
        """Sleeps, but no longer than until the worker stops."""
        await self._wait_or_stop(asyncio.sleep(seconds), seconds)

    async def _wait_or_stop(self, awaitable: Awaitable[Any], limit_seconds: float) -> None:
        waiter = asyncio.ensure_future(awaitable)
        stopper = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({waiter, stopper}, timeout=limit_seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            stopper.cancel()

    async def _forget(self, stream: str, state: str, job_ids: list[str], max_count: int) -> None:
        """Count-based retention: forgets these oldest jobs of the state's index (completed or dead)
        while the index holds more than max_count (FINISH and FAIL name them)."""
        index = self.keys.completed_index(stream) if state == "completed" else self.keys.dead_index(stream)
        await self._forget_script(
            keys=[index, *(self.keys.job(stream, job_id) for job_id in job_ids)],
            args=[state, max_count, *job_ids],
        )

    # Asked of one part by another (Handling and Reading implement them).

    async def _call_on_dead(self, sub: Subscription[Any], job_id: str, data: bytes, error: str) -> None:
        raise NotImplementedError

    async def _take_claimed(self, sub: Subscription[Any], entries: list[Any], *, reclaimed: bool) -> None:
        raise NotImplementedError
