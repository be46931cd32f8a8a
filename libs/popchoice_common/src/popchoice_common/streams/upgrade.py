"""``popchoice-jobs migrate-keys``: moves the jobs under the key names of before the keyspace had hash
tags (``popchoice:<stream>``, ``popchoice:job:<id>``…) to the new ones (``{popchoice:<stream>}``…).

Per stream: the entries some consumer group has not acknowledged (undelivered, or held by a consumer
that stopped) become new entries of the new stream, their jobs queued again; retrying jobs keep their
due time in the new delayed set; dead letters move to the new dead-letter stream; completed jobs keep
their state (the dedupe window) and place in the completed index; counters and throughput are added
to the new ones and the pause flag moved. Each move is one Lua script, atomic, that does nothing if
its item is already gone, so a second run (or a run after an interruption) moves only what is left.
The old layout only ever ran on one Redis node, so old and new keys are on the same node; on a
cluster the command refuses. Stop the old workers first: an entry they acknowledge meanwhile would be
run again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import redis.asyncio as redis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import ResponseError

from popchoice_common.errors import ConfigurationError
from popchoice_common.events import STREAM_EVENTS
from popchoice_common.keyspace import Keyspace, LegacyKeyspace
from popchoice_common.streams import scripts
from popchoice_common.streams.subscription import as_text, entry_fields

#: Items moved per pipelined round trip.
BATCH = 500


@dataclass(slots=True)
class MigrationReport:
    """What one stream's migration moved."""

    stream: str
    queued: int = 0
    retrying: int = 0
    dead: int = 0
    completed: int = 0

    @property
    def moved(self) -> int:
        return self.queued + self.retrying + self.dead + self.completed


def _entry_key(entry_id: str) -> tuple[int, int]:
    milliseconds, _, sequence = entry_id.partition("-")
    return int(milliseconds), int(sequence or 0)


class KeyMigration:
    """Moves every stream's jobs from the old key layout to the keyspace's (see the module docstring)."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        if isinstance(client, RedisCluster):
            raise ConfigurationError(
                "migrate-keys runs on the single Redis node the old version used (the old key layout "
                "never ran on a cluster); migrate there, then move the data to the cluster"
            )
        self.client = client
        self.old = LegacyKeyspace(prefix)
        self.new = Keyspace(prefix)
        self._queued = client.register_script(scripts.MIGRATE_QUEUED)
        self._retrying = client.register_script(scripts.MIGRATE_RETRYING)
        self._dead = client.register_script(scripts.MIGRATE_DEAD)
        self._indexed = client.register_script(scripts.MIGRATE_INDEXED)
        self._stream_state = client.register_script(scripts.MIGRATE_STREAM_STATE)

    def _job_keys(self, stream: str, job_id: str) -> list[str]:
        return [
            self.old.job(job_id),
            self.new.job(stream, job_id),
            self.old.job_errors(job_id),
            self.new.job_errors(stream, job_id),
        ]

    async def run(self, streams: Iterable[str] | None = None) -> list[MigrationReport]:
        return [await self.migrate_stream(stream) for stream in (streams or sorted(STREAM_EVENTS))]

    async def migrate_stream(self, stream: str) -> MigrationReport:
        report = MigrationReport(stream)
        report.queued = await self._move_queued(stream)
        report.retrying = await self._move_indexed(stream, self._retrying, self.old.delayed, self.new.delayed)
        report.dead = await self._move_dead(stream)
        report.completed = await self._move_indexed(
            stream, self._indexed, self.old.completed_index, self.new.completed_index
        )
        # Dead jobs whose dead letter was deleted keep their state for the dead retention: they move too.
        await self._move_indexed(stream, self._indexed, self.old.dead_index, self.new.dead_index)
        await self._stream_state(
            keys=[
                self.old.counters(stream),
                self.new.counters(stream),
                self.old.throughput(stream),
                self.new.throughput(stream),
                self.old.paused(stream),
                self.new.paused(stream),
            ],
            args=[],
        )
        return report

    async def _needed(self, key: str) -> tuple[list[tuple[str, str]], bool]:
        """The old stream's entries some group has not acknowledged ((entry id, job id), oldest first),
        and whether the stream exists."""
        try:
            groups: Any = await self.client.xinfo_groups(key)
        except ResponseError:
            return [], False
        delivered_up_to = []
        pending: set[str] = set()
        for group in groups:
            name = as_text(group["name"])
            delivered_up_to.append(_entry_key(as_text(group["last-delivered-id"])))
            if group["pending"]:
                start = "-"
                while True:
                    page: Any = await self.client.xpending_range(key, name, min=start, max="+", count=1000)
                    pending.update(as_text(item["message_id"]) for item in page)
                    if len(page) < 1000:
                        break
                    start = f"({as_text(page[-1]['message_id'])}"
        needed = []
        start = "-"
        while True:
            entries: Any = await self.client.xrange(key, min=start, max="+", count=1000)
            if not entries:
                break
            for entry_id, fields in entries:
                text = as_text(entry_id)
                if not groups or text in pending or any(_entry_key(text) > last for last in delivered_up_to):
                    needed.append((text, entry_fields(fields)[0]))
            start = f"({as_text(entries[-1][0])}"
        return needed, True

    async def _move_queued(self, stream: str) -> int:
        old_stream, new_stream = self.old.stream(stream), self.new.stream(stream)
        needed, exists = await self._needed(old_stream)
        moved = 0
        for start in range(0, len(needed), BATCH):
            pipeline = scripts.ScriptPipeline(self.client)
            for entry_id, job_id in needed[start : start + BATCH]:
                pipeline.call(
                    self._queued, [old_stream, new_stream, *self._job_keys(stream, job_id)], [entry_id, job_id]
                )
            moved += sum(int(reply) for reply in await pipeline.execute())
        if exists:
            # What is left was acknowledged by every group: history, not work.
            await self.client.delete(old_stream)
        return moved

    async def _move_indexed(self, stream: str, script: Any, old_key: Any, new_key: Any) -> int:
        old_index, new_index = old_key(stream), new_key(stream)
        moved = 0
        while True:
            members: Any = await self.client.zrange(old_index, 0, BATCH - 1)
            if not members:
                break
            job_ids = [as_text(member) for member in members]
            pipeline = scripts.ScriptPipeline(self.client)
            for job_id in job_ids:
                pipeline.call(script, [old_index, new_index, *self._job_keys(stream, job_id)], [job_id])
            moved += sum(int(reply) for reply in await pipeline.execute())
        return moved

    async def _move_dead(self, stream: str) -> int:
        old_dead, new_dead = self.old.dead(stream), self.new.dead(stream)
        old_index, new_index = self.old.dead_index(stream), self.new.dead_index(stream)
        moved = 0
        while True:
            entries: Any = await self.client.xrange(old_dead, min="-", max="+", count=BATCH)
            if not entries:
                break
            pipeline = scripts.ScriptPipeline(self.client)
            for entry_id, fields in entries:
                job_id = entry_fields(fields)[0]
                pipeline.call(
                    self._dead,
                    [old_dead, new_dead, old_index, new_index, *self._job_keys(stream, job_id)],
                    [as_text(entry_id), job_id],
                )
            moved += sum(int(reply) for reply in await pipeline.execute())
        await self.client.delete(old_dead)
        return moved
