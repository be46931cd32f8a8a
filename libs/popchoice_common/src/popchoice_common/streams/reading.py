"""Reading: batched XREADGROUP per stream (non-blocking while entries wait, blocking when the stream is
quiet), a Lua script that marks the jobs read active, and the dispatch of claimed entries to the handler
tasks."""

from __future__ import annotations

from typing import Any

from redis.exceptions import RedisError

from popchoice_common.logs import get_logger
from popchoice_common.streams import metrics
from popchoice_common.streams.jobs import now_ms
from popchoice_common.streams.outage import backoff_seconds
from popchoice_common.streams.subscription import (
    Delivery,
    Subscription,
    WorkerCore,
    as_text,
    entry_fields,
)

log = get_logger(__name__)


class Reading(WorkerCore):
    """The reading part of Worker."""

    async def _read_loop(self, sub: Subscription[Any]) -> None:
        failures = 0  # in a row: the retry waits back off, capped (outage.backoff_seconds)
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
                failures = 0
                if self._redis_outage.down:
                    self._redis_outage.succeeded()
            except (RedisError, OSError) as exc:
                failures += 1
                self._redis_outage.failed(exc, stream=sub.stream)
                await self._sleep(backoff_seconds(failures))
            except Exception:  # the reader must outlive any one bad reply
                log.exception("stream_read_crashed", stream=sub.stream)
                await self._sleep(1.0)

    async def _read_ready(self, sub: Subscription[Any], count: int) -> int:
        """Takes up to count waiting entries without waiting, then marks them active."""
        return await self._read(sub, count, block_ms=None)

    async def _read_blocking(self, sub: Subscription[Any], count: int) -> int:
        """Waits up to block_ms for new entries, then marks them active; returns how many entries came."""
        return await self._read(sub, count, block_ms=self._block_ms)

    async def _read(self, sub: Subscription[Any], count: int, *, block_ms: int | None) -> int:
        # One stream per XREADGROUP (a cluster serves one slot per call); the jobs' state hashes are
        # known only once the entries are, so marking them active is a second call (CLAIMED).
        reply: Any = await self.client.xreadgroup(
            sub.group, self.consumer, {self.keys.stream(sub.stream): ">"}, count=count, block=block_ms
        )
        if not reply:
            return 0
        entries = reply[0][1]
        await self._take_claimed(sub, entries, reclaimed=False)
        return len(entries)

    async def _take_claimed(self, sub: Subscription[Any], entries: list[Any], *, reclaimed: bool) -> None:
        keys = [
            self.keys.stream(sub.stream),
            self.keys.dead(sub.stream),
            self.keys.counters(sub.stream),
            self.keys.dead_index(sub.stream),
        ]
        args: list[Any] = [
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
            job_id, data = entry_fields(fields)
            payloads[as_text(entry_id)] = (job_id, data)
            keys.append(self.keys.job(sub.stream, job_id))
            args += [entry_id, job_id]
        if not payloads:
            return
        reply = await self._claimed(keys=keys, args=args)
        for index in range(0, len(reply), 3):
            entry_id, action, attempts = as_text(reply[index]), as_text(reply[index + 1]), int(reply[index + 2])
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
            sub.queue.put_nowait(Delivery(entry_id, job_id, data, attempts))
        elif action == "skip":
            # Already completed (a redelivery after a lost ack) or already dead: ack only.
            sub.ack_only.append(entry_id)
            sub.done_signal.set()
