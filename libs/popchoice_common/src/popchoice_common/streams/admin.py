"""The operations API of the job streams: what the dashboard and ``popchoice-jobs`` show and do."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, NamedTuple

import redis.asyncio as redis
from redis.exceptions import ResponseError

from popchoice_common.events import STREAM_EVENTS
from popchoice_common.streams import scripts
from popchoice_common.streams.jobs import find_job_hashes, now_ms
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
    completed: int = 0

    @property
    def pending(self) -> int:
        """Entries delivered to a consumer and not yet acknowledged: the active jobs."""
        return sum(group.pending for group in self.groups)

    @property
    def lag(self) -> int:
        """Entries not yet delivered to the group furthest behind: the queued jobs."""
        if not self.groups:
            return self.length
        return max(group.lag if group.lag is not None else self.length for group in self.groups)

    @property
    def consumer_count(self) -> int:
        return sum(len(group.consumers) for group in self.groups)

    @property
    def oldest_pending_age_ms(self) -> int | None:
        ages = [group.oldest_pending_age_ms for group in self.groups if group.oldest_pending_age_ms is not None]
        return max(ages) if ages else None

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


JobListState = Literal["queued", "active", "retrying", "completed", "dead"]
JOB_LIST_STATES: tuple[JobListState, ...] = ("queued", "active", "retrying", "completed", "dead")
#: How many index entries a job-id search looks through at most.
SEARCH_SCAN_LIMIT = 20_000


def entry_id_key(entry_id: str) -> tuple[int, int]:
    """A stream entry id as a sortable pair."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


@dataclass(frozen=True, slots=True)
class JobRow:
    """One job of a jobs-by-state page. dead_id is the dead-letter entry (dead jobs only)."""

    job_id: str
    state: str
    entry_id: str
    attempts: int
    error: str | None
    consumer: str | None
    enqueued_at: int | None
    finished_at: int | None
    next_attempt_at: int | None
    dead_id: str | None = None


@dataclass(frozen=True, slots=True)
class JobPage:
    """A page of jobs newest first; next_cursor continues it (None: this was the last page)."""

    stream: str
    state: JobListState
    jobs: list[JobRow]
    total: int
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class JobFailure:
    attempt: int
    at: int
    error: str
    traceback: str
    consumer: str


@dataclass(frozen=True, slots=True)
class JobDetail:
    """Everything Redis knows of one job: its state, payload (while kept), failures and timestamps."""

    job_id: str
    fields: dict[str, str]
    payload: str | None
    failures: list[JobFailure]

    @property
    def stream(self) -> str:
        return self.fields.get("stream", "")

    @property
    def state(self) -> str:
        return self.fields.get("state", "")


class MinuteCount(NamedTuple):
    """Jobs completed and failed in the minute starting at minute_ms (a tuple: the overview makes thousands)."""

    minute_ms: int
    completed: int
    failed: int


class StreamsAdmin:
    """Inspect streams, jobs and dead letters; retry or delete dead letters; pause and resume consumption.

    streams: the streams it may act on (default: every stream of :data:`STREAM_EVENTS`).
    """

    def __init__(
        self, client: redis.Redis, keys: StreamKeys | None = None, *, streams: Iterable[str] | None = None
    ) -> None:
        self.client = client
        self.keys = keys or StreamKeys()
        self.streams: tuple[str, ...] = tuple(sorted(streams if streams is not None else STREAM_EVENTS))
        self._retry_dead = client.register_script(scripts.RETRY_DEAD)
        self._retry_dead_as = client.register_script(scripts.RETRY_DEAD_AS)
        self._run_now = client.register_script(scripts.RUN_NOW)
        self._overview = client.register_script(scripts.STREAM_OVERVIEW)

    def _check(self, stream: str) -> None:
        if stream not in self.streams:
            raise KeyError(f"unknown stream {stream!r}; known: {', '.join(self.streams)}")

    async def stats(self, streams: Iterable[str] | None = None) -> list[StreamStats]:
        """Length, groups, consumers (with idle time), pending, lag, oldest pending age and counters."""
        return [stats for stats, _ in await self.overview(streams)]

    async def overview(
        self, streams: Iterable[str] | None = None, *, minutes: int = 60, now: int | None = None
    ) -> list[tuple[StreamStats, list[MinuteCount]]]:
        """Each stream's stats and its last ``minutes`` of throughput, in one round trip whatever the
        number of streams (one read-only script call per stream, pipelined)."""
        names = list(streams or self.streams)
        for stream in names:
            self._check(stream)
        pipeline = scripts.ScriptPipeline(self.client)
        for stream in names:
            keys = self.keys
            pipeline.call(
                self._overview,
                [
                    keys.stream(stream),
                    keys.paused(stream),
                    keys.dead(stream),
                    keys.delayed(stream),
                    keys.completed_index(stream),
                    keys.counters(stream),
                    keys.throughput(stream),
                ],
                [],
            )
        replies = await pipeline.execute()
        moment = now if now is not None else now_ms()
        current = moment // 60_000
        span = [(minute * 60_000, f"c:{minute}", f"f:{minute}") for minute in range(current - minutes + 1, current + 1)]
        result = []
        for stream, reply in zip(names, replies, strict=True):
            length, paused, dead, delayed, completed, counters, throughput, groups = reply
            counts = _pairs(throughput)
            result.append(
                (
                    StreamStats(
                        stream=stream,
                        length=length,
                        paused=bool(paused),
                        dead_letters=dead,
                        delayed=delayed,
                        counters={name: int(value) for name, value in _pairs(counters).items()},
                        groups=[_group_stats(group, moment) for group in groups],
                        completed=completed,
                    ),
                    [
                        MinuteCount(start, int(counts.get(done, 0)), int(counts.get(failed, 0)))
                        for start, done, failed in span
                    ],
                )
            )
        return result

    async def _group_details(self, groups_of: dict[str, list[dict[str, Any]]]) -> dict[str, list[GroupStats]]:
        calls: list[tuple[str, str, str]] = []
        async with self.client.pipeline(transaction=False) as pipe:
            for stream, groups in groups_of.items():
                key = self.keys.stream(stream)
                for group in groups:
                    name = _text(group["name"])
                    if group["pending"]:
                        pipe.xpending(key, name)
                        calls.append((stream, name, "pending"))
                    pipe.xinfo_consumers(key, name)
                    calls.append((stream, name, "consumers"))
            replies = await pipe.execute(raise_on_error=False) if calls else []
        found: dict[tuple[str, str, str], Any] = {
            call: reply for call, reply in zip(calls, replies, strict=True) if not isinstance(reply, Exception)
        }
        now = now_ms()
        out: dict[str, list[GroupStats]] = {}
        for stream, groups in groups_of.items():
            out[stream] = []
            for group in groups:
                name = _text(group["name"])
                summary = found.get((stream, name, "pending"))
                oldest = now - entry_time_ms(_text(summary["min"])) if summary and summary.get("min") else None
                consumers = [
                    ConsumerStats(_text(consumer["name"]), consumer["pending"], consumer["idle"])
                    for consumer in found.get((stream, name, "consumers"), [])
                ]
                out[stream].append(
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

    async def _groups(self, stream: str) -> list[GroupStats]:
        try:
            groups = await self.client.xinfo_groups(self.keys.stream(stream))
        except ResponseError:
            return []
        return (await self._group_details({stream: list(groups)}))[stream]

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
        letter = await self.dead_letter(stream, dead_id)
        if letter is None:
            return None
        keys = self.keys
        reply = await self._retry_dead(
            keys=[keys.dead(stream), keys.stream(stream), keys.dead_index(stream), keys.job(stream, letter.job_id)],
            args=[stream, dead_id, now_ms(), letter.job_id],
        )
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

    async def retry_dead_as(self, stream: str, dead_id: str, new_job_id: str, data: bytes) -> str | None:
        """Enqueues a dead letter's (re-encoded) payload under a new job id and deletes the dead letter;
        returns the new entry id, or None when the dead letter is gone or the new id is taken."""
        letter = await self.dead_letter(stream, dead_id)
        if letter is None:
            return None
        keys = self.keys
        reply = await self._retry_dead_as(
            keys=[
                keys.dead(stream),
                keys.stream(stream),
                keys.counters(stream),
                keys.dead_index(stream),
                keys.job(stream, new_job_id),
                keys.job(stream, letter.job_id),
            ],
            args=[stream, dead_id, now_ms(), new_job_id, data, letter.job_id],
        )
        return _text(reply) if reply else None

    async def run_now(self, stream: str, job_id: str) -> str | None:
        """Moves a retrying job to the stream now; returns its new entry id, or None when it is not retrying."""
        self._check(stream)
        reply = await self._run_now(
            keys=[self.keys.stream(stream), self.keys.delayed(stream), self.keys.job(stream, job_id)],
            args=[stream, job_id],
        )
        return _text(reply) if reply else None

    async def throughput(self, stream: str, *, minutes: int = 60, now: int | None = None) -> list[MinuteCount]:
        """Jobs completed and failed per minute over the last ``minutes`` minutes, oldest first."""
        return (await self.throughput_of([stream], minutes=minutes, now=now))[stream]

    async def throughput_of(
        self, streams: Iterable[str], *, minutes: int = 60, now: int | None = None
    ) -> dict[str, list[MinuteCount]]:
        """:meth:`throughput` of many streams in one round trip (one HGETALL each: at most two hours of fields)."""
        names = list(streams)
        for stream in names:
            self._check(stream)
        current = (now if now is not None else now_ms()) // 60_000
        span = range(current - minutes + 1, current + 1)
        wanted = [(minute * 60_000, f"c:{minute}".encode(), f"f:{minute}".encode()) for minute in span]
        async with self.client.pipeline(transaction=False) as pipe:
            for stream in names:
                pipe.hgetall(self.keys.throughput(stream))
            replies = await pipe.execute()
        out = {}
        for stream, raw in zip(names, replies, strict=True):
            out[stream] = [
                MinuteCount(start, int(raw.get(done, 0)), int(raw.get(failed, 0))) for start, done, failed in wanted
            ]
        return out

    async def job(self, job_id: str, stream: str | None = None) -> JobDetail | None:
        """The job's stored state, payload and failures, or None when unknown (or past its retention).

        A job's keys carry its stream's hash tag; without the stream, every stream this admin knows is
        looked in and the job enqueued most recently under this id is shown.
        """
        raw: dict[Any, Any]
        if stream is None:
            found = await find_job_hashes(self.client, self.keys, job_id, self.streams)
            if not found:
                return None
            stream, raw = found[0]
        else:
            self._check(stream)
            raw = await self.client.hgetall(self.keys.job(stream, job_id))
            if not raw:
                return None
        raw_failures: Any = await self.client.lrange(self.keys.job_errors(stream, job_id), 0, -1)
        fields = {_text(name): _text(value) for name, value in raw.items()}
        payload = fields.pop("data", None)
        if payload is None and fields.get("entry_id"):
            entries: Any = await self.client.xrange(
                self.keys.stream(stream), min=fields["entry_id"], max=fields["entry_id"]
            )
            if entries:
                payload = _text(entries[0][1].get(b"data", b"")) or None
        failures = []
        for item in raw_failures:
            record = json.loads(item)
            failures.append(
                JobFailure(
                    attempt=int(record.get("attempt", 0)),
                    at=int(record.get("at", 0)),
                    error=str(record.get("error", "")),
                    traceback=str(record.get("traceback", "")),
                    consumer=str(record.get("consumer", "")),
                )
            )
        return JobDetail(job_id=job_id, fields=fields, payload=payload, failures=failures)

    async def entries(self, stream: str, *, before: str | None = None, count: int = 50) -> list[tuple[str, str]]:
        """(entry id, job id) of the stream's entries newest first, ``count`` at a time before an entry id:
        pages through any length without loading it."""
        self._check(stream)
        top = f"({before}" if before else "+"
        raw: Any = await self.client.xrevrange(self.keys.stream(stream), max=top, min="-", count=count)
        return [(_text(entry_id), _text(fields.get(b"job_id", b""))) for entry_id, fields in raw]

    async def list_jobs(
        self,
        stream: str,
        state: JobListState,
        *,
        limit: int = 50,
        cursor: str | None = None,
        search: str | None = None,
    ) -> JobPage:
        """The stream's jobs in one state, newest first, ``limit`` per page; search keeps job ids containing it."""
        self._check(stream)
        search = search.strip() if search else None
        if state in ("completed", "retrying"):
            index = self.keys.completed_index(stream) if state == "completed" else self.keys.delayed(stream)
            return await self._list_indexed(stream, state, index, limit=limit, cursor=cursor, search=search)
        if state == "dead":
            return await self._list_dead(stream, limit=limit, cursor=cursor, search=search)
        if state == "queued":
            return await self._list_queued(stream, limit=limit, cursor=cursor, search=search)
        return await self._list_active(stream, limit=limit, cursor=cursor, search=search)

    async def _rows(self, stream: str, job_ids: list[str], entry_ids: list[str], default_state: str) -> list[JobRow]:
        names = ("state", "entry_id", "attempts", "error", "consumer", "enqueued_at", "finished_at", "next_attempt_at")
        async with self.client.pipeline(transaction=False) as pipe:
            for job_id in job_ids:
                pipe.hmget(self.keys.job(stream, job_id), list(names))
            replies = await pipe.execute() if job_ids else []
        rows = []
        for job_id, entry_id, values in zip(job_ids, entry_ids, replies, strict=True):
            got = dict(zip(names, (_text(v) if v is not None else None for v in values), strict=True))

            def number(name: str, got: dict[str, str | None] = got) -> int | None:
                value = got[name]
                return int(value) if value is not None and value.lstrip("-").isdigit() else None

            rows.append(
                JobRow(
                    job_id=job_id,
                    state=got["state"] or default_state,
                    entry_id=entry_id or got["entry_id"] or "",
                    attempts=number("attempts") or 0,
                    error=got["error"],
                    consumer=got["consumer"],
                    enqueued_at=number("enqueued_at"),
                    finished_at=number("finished_at"),
                    next_attempt_at=number("next_attempt_at"),
                )
            )
        return rows

    async def _list_indexed(
        self, stream: str, state: JobListState, index: str, *, limit: int, cursor: str | None, search: str | None
    ) -> JobPage:
        offset = int(cursor) if cursor and cursor.isdigit() else 0
        if search:
            matches: list[tuple[str, float]] = []
            scanned = 0
            async for member, score in self.client.zscan_iter(index, match=f"*{_glob_escape(search)}*", count=1000):
                matches.append((_text(member), score))
                scanned += 1
                if scanned >= SEARCH_SCAN_LIMIT:
                    break
            matches.sort(key=lambda item: item[1], reverse=True)
            total = len(matches)
            job_ids = [member for member, _ in matches[offset : offset + limit]]
        else:
            total = await self.client.zcard(index)
            job_ids = [_text(member) for member in await self.client.zrevrange(index, offset, offset + limit - 1)]
        rows = await self._rows(stream, job_ids, [""] * len(job_ids), state)
        next_cursor = str(offset + limit) if offset + limit < total else None
        return JobPage(stream, state, rows, total, next_cursor)

    async def _list_dead(self, stream: str, *, limit: int, cursor: str | None, search: str | None) -> JobPage:
        key = self.keys.dead(stream)
        total: int = await self.client.xlen(key)
        letters: list[DeadLetter] = []
        top = f"({cursor}" if cursor else "+"
        scanned = 0
        more = False
        while len(letters) < limit and scanned < SEARCH_SCAN_LIMIT:
            raw: Any = await self.client.xrevrange(key, max=top, min="-", count=max(limit, 200) if search else limit)
            if not raw:
                break
            for entry_id, fields in raw:
                scanned += 1
                letter = DeadLetter.from_entry(stream, entry_id, fields)
                top = f"({letter.id}"
                if search is None or search in letter.job_id:
                    letters.append(letter)
                    if len(letters) == limit:
                        break
            more = len(raw) >= limit
            if not search:
                break
        if search:
            total = len(letters)
        rows = [
            JobRow(
                job_id=letter.job_id,
                state="dead",
                entry_id=letter.original_entry_id,
                attempts=letter.attempts,
                error=letter.error,
                consumer=letter.consumer,
                enqueued_at=letter.enqueued_at,
                finished_at=letter.failed_at,
                next_attempt_at=None,
                dead_id=letter.id,
            )
            for letter in letters
        ]
        next_cursor = letters[-1].id if letters and len(letters) == limit and more else None
        return JobPage(stream, "dead", rows, total, next_cursor)

    async def _list_queued(self, stream: str, *, limit: int, cursor: str | None, search: str | None) -> JobPage:
        key = self.keys.stream(stream)
        groups = await self._groups(stream)
        floor = min((group.last_delivered_id for group in groups), key=entry_id_key) if groups else "0-0"
        total = max((group.lag or 0 for group in groups), default=0) if groups else await self.client.xlen(key)
        found: list[tuple[str, str]] = []
        before = cursor
        scanned = 0
        while len(found) < limit and scanned < SEARCH_SCAN_LIMIT:
            batch = await self.entries(stream, before=before, count=limit if not search else 500)
            batch = [item for item in batch if entry_id_key(item[0]) > entry_id_key(floor)]
            if not batch:
                break
            for entry_id, job_id in batch:
                scanned += 1
                before = entry_id
                if search is None or search in job_id:
                    found.append((entry_id, job_id))
                    if len(found) == limit:
                        break
            if not search:
                break
        if search:
            total = len(found)
        rows = await self._rows(stream, [job_id for _, job_id in found], [entry_id for entry_id, _ in found], "queued")
        next_cursor = found[-1][0] if len(found) == limit and total > limit else None
        return JobPage(stream, "queued", rows, total, next_cursor)

    async def _list_active(self, stream: str, *, limit: int, cursor: str | None, search: str | None) -> JobPage:
        key = self.keys.stream(stream)
        pending: list[tuple[str, str]] = []
        for group in await self._groups(stream):
            if not group.pending:
                continue
            raw: Any = await self.client.xpending_range(key, group.name, min="-", max="+", count=1000)
            pending += [(_text(item["message_id"]), _text(item["consumer"])) for item in raw]
        pending.sort(key=lambda item: entry_id_key(item[0]), reverse=True)
        async with self.client.pipeline(transaction=False) as pipe:
            for entry_id, _ in pending:
                pipe.xrange(key, min=entry_id, max=entry_id)
            fetched = await pipe.execute() if pending else []
        entries = []
        for (entry_id, _consumer), found in zip(pending, fetched, strict=True):
            job_id = _text(found[0][1].get(b"job_id", b"")) if found else ""
            if search is None or search in job_id:
                entries.append((entry_id, job_id))
        offset = int(cursor) if cursor and cursor.isdigit() else 0
        page = entries[offset : offset + limit]
        rows = await self._rows(stream, [job_id for _, job_id in page], [entry_id for entry_id, _ in page], "active")
        next_cursor = str(offset + limit) if offset + limit < len(entries) else None
        return JobPage(stream, "active", rows, len(entries), next_cursor)


def _pairs(flat: list[Any]) -> dict[str, Any]:
    return {_text(flat[index]): flat[index + 1] for index in range(0, len(flat), 2)}


def _group_stats(reply: list[Any], now: int) -> GroupStats:
    name, pending, lag, last_delivered, oldest, consumers = reply
    oldest_id = _text(oldest)
    return GroupStats(
        name=_text(name),
        pending=int(pending),
        lag=None if int(lag) < 0 else int(lag),
        last_delivered_id=_text(last_delivered),
        oldest_pending_age_ms=now - entry_time_ms(oldest_id) if oldest_id else None,
        consumers=[
            ConsumerStats(_text(consumers[index]), int(consumers[index + 1]), int(consumers[index + 2]))
            for index in range(0, len(consumers), 3)
        ],
    )


def _glob_escape(text: str) -> str:
    return "".join(f"\\{char}" if char in "*?[]\\" else char for char in text)
