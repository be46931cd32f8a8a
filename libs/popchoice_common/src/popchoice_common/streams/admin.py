"""The operations API of the job streams: what the dashboard and ``popchoice-jobs`` show and do."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import redis.asyncio as redis
from redis.exceptions import ResponseError

from popchoice_common.events import STREAM_EVENTS
from popchoice_common.streams import scripts
from popchoice_common.streams.jobs import now_ms
from popchoice_common.streams.keys import StreamKeys


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def entry_time_ms(entry_id: str) -> int:
    """The millisecond timestamp part of a stream entry id."""
    return int(entry_id.split("-", 1)[0])


@dataclass(frozen=True, slots=True)
class ConsumerStats:
    name: str
    pending: int
    idle_ms: int


@dataclass(frozen=True, slots=True)
class GroupStats:
    name: str
    pending: int
    lag: int | None
    last_delivered_id: str
    oldest_pending_age_ms: int | None
    consumers: list[ConsumerStats]


@dataclass(frozen=True, slots=True)
class StreamStats:
    stream: str
    length: int
    paused: bool
    dead_letters: int
    delayed: int
    counters: dict[str, int]
    groups: list[GroupStats] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    id: str
    stream: str
    job_id: str
    error: str
    attempts: int
    consumer: str
    failed_at: int | None
    enqueued_at: int | None
    original_entry_id: str
    data: str

    @classmethod
    def from_entry(cls, stream: str, entry_id: Any, fields: dict[bytes, bytes]) -> DeadLetter:
        def get(name: str) -> str:
            return _text(fields.get(name.encode(), b""))

        def number(name: str) -> int | None:
            value = get(name)
            return int(value) if value.lstrip("-").isdigit() else None

        return cls(
            id=_text(entry_id),
            stream=stream,
            job_id=get("job_id"),
            error=get("error"),
            attempts=number("attempts") or 0,
            consumer=get("consumer"),
            failed_at=number("failed_at"),
            enqueued_at=number("enqueued_at"),
            original_entry_id=get("entry_id"),
            data=get("data"),
        )


class StreamsAdmin:
    """Inspect streams and dead letters; retry or delete dead letters; pause and resume consumption."""

    def __init__(self, client: redis.Redis, keys: StreamKeys | None = None) -> None:
        self.client = client
        self.keys = keys or StreamKeys()
        self._retry_dead = client.register_script(scripts.RETRY_DEAD)

    @staticmethod
    def _check(stream: str) -> None:
        if stream not in STREAM_EVENTS:
            raise KeyError(f"unknown stream {stream!r}; known: {', '.join(sorted(STREAM_EVENTS))}")

    async def stats(self, streams: Iterable[str] | None = None) -> list[StreamStats]:
        """Length, groups, consumers (with idle time), pending, lag, oldest pending age and counters."""
        result = []
        for stream in streams or sorted(STREAM_EVENTS):
            self._check(stream)
            key = self.keys.stream(stream)
            async with self.client.pipeline(transaction=False) as pipe:
                pipe.xlen(key)
                pipe.exists(self.keys.paused(stream))
                pipe.xlen(self.keys.dead(stream))
                pipe.zcard(self.keys.delayed(stream))
                pipe.hgetall(self.keys.counters(stream))
                length, paused, dead, delayed, counters = await pipe.execute()
            result.append(
                StreamStats(
                    stream=stream,
                    length=length,
                    paused=bool(paused),
                    dead_letters=dead,
                    delayed=delayed,
                    counters={_text(name): int(value) for name, value in counters.items()},
                    groups=await self._groups(key),
                )
            )
        return result

    async def _groups(self, key: str) -> list[GroupStats]:
        try:
            groups = await self.client.xinfo_groups(key)
        except ResponseError:
            return []
        now = now_ms()
        out = []
        for group in groups:
            name = _text(group["name"])
            oldest = None
            if group["pending"]:
                summary = await self.client.xpending(key, name)
                oldest = now - entry_time_ms(_text(summary["min"]))
            consumers = [
                ConsumerStats(_text(consumer["name"]), consumer["pending"], consumer["idle"])
                for consumer in await self.client.xinfo_consumers(key, name)
            ]
            out.append(
                GroupStats(
                    name=name,
                    pending=group["pending"],
                    lag=group.get("lag"),
                    last_delivered_id=_text(group["last-delivered-id"]),
                    oldest_pending_age_ms=oldest,
                    consumers=consumers,
                )
            )
        return out

    async def dead_letters(self, stream: str, *, count: int = 50, after: str = "-") -> list[DeadLetter]:
        """Dead letters oldest first, up to count, starting after the given id."""
        self._check(stream)
        start = after if after == "-" else f"({after}"
        entries: Any = await self.client.xrange(self.keys.dead(stream), min=start, max="+", count=count)
        return [DeadLetter.from_entry(stream, entry_id, fields) for entry_id, fields in entries]

    async def dead_letter(self, stream: str, dead_id: str) -> DeadLetter | None:
        self._check(stream)
        entries: Any = await self.client.xrange(self.keys.dead(stream), min=dead_id, max=dead_id)
        return DeadLetter.from_entry(stream, *entries[0]) if entries else None

    async def retry_dead(self, stream: str, dead_id: str) -> str | None:
        """Re-enqueues one dead letter under its job id with attempts reset; returns the new entry id."""
        self._check(stream)
        reply = await self._retry_dead(args=[self.keys.prefix, stream, dead_id, now_ms()])
        return _text(reply) if reply else None

    async def retry_all_dead(self, stream: str) -> int:
        retried = 0
        while letters := await self.dead_letters(stream, count=500):
            for letter in letters:
                if await self.retry_dead(stream, letter.id):
                    retried += 1
        return retried

    async def delete_dead(self, stream: str, dead_id: str) -> bool:
        self._check(stream)
        return bool(await self.client.xdel(self.keys.dead(stream), dead_id))

    async def purge_dead(self, stream: str) -> int:
        """Deletes every dead letter of the stream; returns how many there were."""
        self._check(stream)
        key = self.keys.dead(stream)
        count: int = await self.client.xlen(key)
        await self.client.delete(key)
        return count

    async def pause(self, stream: str) -> None:
        """Consumers stop reading new entries of the stream (running handlers finish)."""
        self._check(stream)
        await self.client.set(self.keys.paused(stream), now_ms())

    async def resume(self, stream: str) -> None:
        self._check(stream)
        await self.client.delete(self.keys.paused(stream))
