"""Job state as stored in Redis beside each stream, and the publishing side."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import msgspec
import redis.asyncio as redis

from popchoice_common import tracing
from popchoice_common.events import STREAM_EVENTS, Event, encode_event
from popchoice_common.streams import scripts
from popchoice_common.streams.keys import StreamKeys

JobStateName = Literal["queued", "active", "retrying", "completed", "dead"]
#: Events sent to Redis per script call by publish_many.
PUBLISH_CHUNK = 500
#: About how many entries an announcement stream keeps (it has no consumer groups to trim by).
ANNOUNCE_MAXLEN = 10_000


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True, slots=True)
class JobState:
    """What Redis knows of one job."""

    job_id: str
    state: JobStateName
    stream: str
    entry_id: str
    attempts: int
    reclaims: int
    error: str | None
    consumer: str | None
    enqueued_at: int | None
    started_at: int | None
    finished_at: int | None
    next_attempt_at: int | None

    @classmethod
    def from_hash(cls, job_id: str, fields: dict[bytes, bytes]) -> JobState:
        def text(name: str) -> str | None:
            value = fields.get(name.encode())
            return value.decode() if value is not None else None

        def number(name: str) -> int | None:
            value = fields.get(name.encode())
            return int(value) if value is not None else None

        return cls(
            job_id=job_id,
            state=text("state") or "queued",  # type: ignore[arg-type]
            stream=text("stream") or "",
            entry_id=text("entry_id") or "",
            attempts=number("attempts") or 0,
            reclaims=number("reclaims") or 0,
            error=text("error"),
            consumer=text("consumer"),
            enqueued_at=number("enqueued_at"),
            started_at=number("started_at"),
            finished_at=number("finished_at"),
            next_attempt_at=number("next_attempt_at"),
        )


@dataclass(frozen=True, slots=True)
class PublishResult:
    """enqueued is False when the job id was already queued, active, retrying or recently completed."""

    job_id: str
    enqueued: bool
    state: str
    entry_id: str


class Publisher:
    """Publishes events onto their streams, deduplicating by job id atomically (one Lua script)."""

    def __init__(self, client: redis.Redis, keys: StreamKeys) -> None:
        self._client = client
        self._keys = keys
        self._script = client.register_script(scripts.PUBLISH)

    @property
    def keys(self) -> StreamKeys:
        return self._keys

    async def publish(self, event: Event) -> PublishResult:
        """Enqueues one event unless its job id is already known; returns what happened."""
        (result,) = await self.publish_many([event])
        return result

    async def announce(self, event: Event, *, maxlen: int = ANNOUNCE_MAXLEN) -> str:
        """A capped, state-free notification for listeners (see :func:`announce`)."""
        return await announce(self._client, self._keys, event, maxlen=maxlen)

    async def publish_many(self, events: Sequence[Event]) -> list[PublishResult]:
        """Enqueues many events with pipelined script calls (500 events per call); order is kept. With
        tracing on, each event without a traceparent carries the current span's."""
        if (traceparent := tracing.current_traceparent()) is not None:
            events = [
                msgspec.structs.replace(event, traceparent=traceparent) if event.traceparent is None else event
                for event in events
            ]
        by_stream: dict[str, list[int]] = defaultdict(list)
        for index, event in enumerate(events):
            by_stream[event.stream].append(index)
        results: list[PublishResult | None] = [None] * len(events)
        now = now_ms()
        calls: list[list[int]] = []
        pipeline = scripts.ScriptPipeline(self._client)
        for stream, indexes in by_stream.items():
            for start in range(0, len(indexes), PUBLISH_CHUNK):
                chunk = indexes[start : start + PUBLISH_CHUNK]
                keys = [self._keys.stream(stream), self._keys.counters(stream), self._keys.dead_index(stream)]
                args: list[Any] = [stream, now]
                for index in chunk:
                    keys.append(self._keys.job(stream, events[index].job_id))
                    args += [events[index].job_id, encode_event(events[index])]
                pipeline.call(self._script, keys, args)
                calls.append(chunk)
        replies = await pipeline.execute()
        for chunk, reply in zip(calls, replies, strict=True):
            for position, index in enumerate(chunk):
                state, entry_id = reply[2 * position].decode(), reply[2 * position + 1].decode()
                job_id = events[index].job_id
                if state == "enqueued":
                    results[index] = PublishResult(job_id, True, "queued", entry_id)
                else:
                    results[index] = PublishResult(job_id, False, state, entry_id)
        return [result for result in results if result is not None]


def announce_command(keys: StreamKeys, event: Event, *, maxlen: int = ANNOUNCE_MAXLEN) -> tuple[Any, ...]:
    """The XADD that appends a notification (see :func:`announce`), for sending with other commands."""
    return (
        "XADD",
        keys.stream(event.stream),
        "MAXLEN",
        "~",
        maxlen,
        "*",
        "job_id",
        event.job_id,
        "data",
        encode_event(event),
    )


async def announce(client: redis.Redis, keys: StreamKeys, event: Event, *, maxlen: int = ANNOUNCE_MAXLEN) -> str:
    """Appends a notification for listeners (no job state, no dedupe): the stream is capped at about
    maxlen entries, so a stream nobody consumes never grows without bound."""
    entry_id = await client.execute_command(*announce_command(keys, event, maxlen=maxlen))
    return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)


async def get_job(client: redis.Redis, keys: StreamKeys, job_id: str, stream: str | None = None) -> JobState | None:
    """The job's state, or None when it is unknown or its retention ended.

    A job's keys carry its stream's hash tag: given the stream, one read; without it, the job is looked
    up in every stream of :data:`STREAM_EVENTS` (one pipelined read each) and the most recently
    enqueued one found is returned.
    """
    if stream is not None:
        fields: Any = await client.hgetall(keys.job(stream, job_id))
        return JobState.from_hash(job_id, fields) if fields else None
    found = await find_job_hashes(client, keys, job_id, STREAM_EVENTS)
    if not found:
        return None
    _, fields = found[0]
    return JobState.from_hash(job_id, fields)


async def find_job_hashes(
    client: redis.Redis, keys: StreamKeys, job_id: str, streams: Iterable[str]
) -> list[tuple[str, dict[bytes, bytes]]]:
    """(stream, state hash) of each stream holding a job of this id, the most recently enqueued first."""
    names = list(streams)
    async with client.pipeline(transaction=False) as pipe:
        for stream in names:
            pipe.hgetall(keys.job(stream, job_id))
        replies: list[Any] = await pipe.execute()
    found = [(stream, fields) for stream, fields in zip(names, replies, strict=True) if fields]
    found.sort(key=lambda item: int(item[1].get(b"enqueued_at", b"0") or 0), reverse=True)
    return found
