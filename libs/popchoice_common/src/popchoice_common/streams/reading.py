"""Reading: batched XREADGROUP per stream (non-blocking while entries wait, blocking when the stream is
quiet), a Lua script that marks the jobs read active, and the dispatch of claimed entries to the handler
tasks."""

from __future__ import annotations

import asyncio
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
)

log = get_logger(__name__)


class Reading(WorkerCore):
    """The reading part of Worker."""

    async def _read_loop(self, sub: Subscription[Any]) -> None:
        failures = 0  # in a row: the retry waits back off, capped (outage.backoff_seconds)
        while not self.stopping:
            try:
                if sub.claim_error is not None:
                    # A CLAIMED call failed: its entries stay pending for the reclaimer, and the
                    # reader backs off as if its own read had failed.
                    error, sub.claim_error = sub.claim_error, None
                    raise error
                if sub.paused:
                    await self._sleep(0.5)
                    continue
                free = sub.free
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
        # What was read is dispatched before the handlers are told to stop.
        if sub.claims:
            await asyncio.gather(*sub.claims, return_exceptions=True)

    async def _read_ready(self, sub: Subscription[Any], count: int) -> int:
        """Takes up to count waiting entries without waiting, then marks them active."""
        return await self._read(sub, count, block_ms=None)

    async def _read_blocking(self, sub: Subscription[Any], count: int) -> int:
        """Waits up to block_ms for new entries, then marks them active; returns how many entries came."""
        return await self._read(sub, count, block_ms=self._block_ms)

    async def _read(self, sub: Subscription[Any], count: int, *, block_ms: int | None) -> int:
        # One stream per XREADGROUP (a cluster serves one slot per call); the jobs' state hashes are
        # known only once the entries are, so marking them active is a second call (CLAIMED). The
        # reader does not wait for it: while it is on its way the next read goes out (within the
        # prefetch), so Redis works on one batch while this process works on another.
        reply: Any = await self.client.xreadgroup(
            sub.group, self.consumer, {self.keys.stream(sub.stream): ">"}, count=count, block=block_ms
        )
        if not reply:
            return 0
        entries = reply[0][1]
        sub.claiming += len(entries)
        task = asyncio.create_task(self._claim_read(sub, entries))
        sub.claims.add(task)
        task.add_done_callback(sub.claims.discard)
        # Lets the CLAIMED call go out before the next read: Redis answers it first.
        await asyncio.sleep(0)
        return len(entries)

    async def _claim_read(self, sub: Subscription[Any], entries: list[Any]) -> None:
        """Marks the entries of one read active and dispatches them. If Redis fails meanwhile, they
        stay pending, unheld: the reclaimer takes them over after the visibility timeout (the reader
        reports the error and backs off)."""
        try:
            await self._take_claimed(sub, entries, reclaimed=False, counted=len(entries))
        except Exception as exc:  # noqa: BLE001 - reported by the reader (_read_loop), which backs off
            sub.claim_error = exc
        finally:
            sub.space_signal.set()

    async def _take_claimed(
        self, sub: Subscription[Any], entries: list[Any], *, reclaimed: bool, counted: int = 0
    ) -> None:
        """Marks entries this consumer holds active (CLAIMED) and dispatches those to run. counted:
        how many of them sub.claiming counts, uncounted once the reply is in (they are held then)."""
        stream = sub.stream
        keys = [
            self.keys.stream(stream),
            self.keys.dead(stream),
            self.keys.counters(stream),
            self.keys.dead_index(stream),
        ]
        args: list[Any] = [
            stream,
            sub.group,
            self.consumer,
            now_ms(),
            1 if reclaimed else 0,
            sub.policy.max_reclaims,
            self.retention.dead_seconds,
        ]
        prefix = sub.job_key_prefix
        claimed: list[tuple[str, str, bytes]] = []
        for entry_id, fields in entries:
            if fields is None:
                continue
            job_id = fields.get(b"job_id", b"")
            job_id = job_id.decode() if type(job_id) is bytes else job_id
            claimed.append((as_text(entry_id), job_id, fields.get(b"data", b"")))
            keys.append(prefix + job_id)
            args += [entry_id, job_id]
        if not claimed:
            sub.claiming -= counted
            return
        try:
            reply = await self._claimed(keys=keys, args=args)
        finally:
            sub.claiming -= counted
        # One (entry id, action, attempts) triple per entry sent, in the order sent.
        for position, (entry_id, job_id, data) in enumerate(claimed):
            action, attempts = reply[3 * position + 1], reply[3 * position + 2]
            if action == b"run":
                if reclaimed:
                    metrics.JOBS_RECLAIMED.labels(self.service, stream).inc()
                    log.warning("job_reclaimed", stream=stream, job_id=job_id, entry_id=entry_id, attempt=attempts)
                if entry_id not in sub.held:
                    sub.held[entry_id] = job_id
                    sub.queue.put_nowait(Delivery(entry_id, job_id, data, int(attempts)))
            elif action == b"skip":
                # Already completed (a redelivery after a lost ack) or already dead: ack only.
                sub.ack_only.append(entry_id)
                sub.done_signal.set()
            elif reclaimed and action == b"dead":
                metrics.JOBS_DEAD.labels(self.service, stream).inc()
                log.error("job_dead_lettered", stream=stream, job_id=job_id, reason="consumer died repeatedly")
                await self._call_on_dead(sub, job_id, data, "the consumer died repeatedly while running it")
