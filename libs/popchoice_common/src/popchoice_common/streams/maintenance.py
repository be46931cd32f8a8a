"""The maintenance loops: the heartbeat, the reclaimer, the mover of due retries, and trimming with the
removal of dead consumers."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from redis.exceptions import RedisError

from popchoice_common.logs import get_logger
from popchoice_common.streams import metrics, scripts
from popchoice_common.streams.jobs import now_ms
from popchoice_common.streams.outage import backoff_seconds
from popchoice_common.streams.subscription import (
    Subscription,
    WorkerCore,
    as_text,
)
from popchoice_common.streams.trimming import trim_stream

log = get_logger(__name__)


class Maintenance(WorkerCore):
    """The maintenance loops of Worker."""

    async def _every(self, seconds: float, action: Callable[[], Awaitable[None]], name: str) -> None:
        failures = 0
        while not self.stopping:
            try:
                await action()
                failures = 0
                if self._redis_outage.down:
                    self._redis_outage.succeeded()
            except (RedisError, OSError) as exc:
                failures += 1
                self._redis_outage.failed(exc, task=name)
                await self._sleep(max(seconds, backoff_seconds(failures)))
                continue
            except Exception:  # a maintenance loop must outlive any one failure
                log.exception("stream_maintenance_crashed", task=name)
            await self._sleep(seconds)

    async def _periodically(self, name: str, seconds: float, action: Callable[[], Awaitable[None]]) -> None:
        await self._sleep(seconds)
        await self._every(seconds, action, name)

    def _min_visibility_seconds(self) -> float:
        return min(sub.policy.visibility_timeout_ms for sub in self._subscriptions.values()) / 1000

    async def _watchdog_loop(self) -> None:
        policies = [sub.policy.handler_timeout_ms for sub in self._subscriptions.values()] or [1000]
        await self._every(max(0.05, min(1.0, min(policies) / 4000)), self.cancel_overdue, "watchdog")

    async def cancel_overdue(self) -> None:
        """Cancels every handler running past its stream's handler timeout (its attempt then counts as
        failed: see Handling)."""
        now = time.monotonic()
        for sub in self._subscriptions.values():
            for entry_id, deadline in list(sub.deadlines.items()):
                task = sub.running.get(entry_id)
                if deadline < now and task is not None and entry_id not in sub.timed_out:
                    sub.timed_out.add(entry_id)
                    task.cancel()

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
                cursor, entries = as_text(reply[0]), reply[1]
                claimed = [(entry_id, fields) for entry_id, fields in entries if fields]
                if claimed:
                    await self._take_claimed(sub, claimed, reclaimed=True)
                if cursor == "0-0":
                    break

    async def _mover_loop(self) -> None:
        await self._every(self._mover_interval, self.move_due_retries, "mover")

    async def move_due_retries(self) -> None:
        """Re-adds retries whose delay has passed, and refreshes the paused flags: one round trip reads
        every stream's due ids and pause flag, a second moves the due ones (only when there are)."""
        now = now_ms()
        subs = list(self._subscriptions.values())
        async with self.client.pipeline(transaction=False) as pipe:
            for sub in subs:
                pipe.zrangebyscore(self.keys.delayed(sub.stream), "-inf", now, start=0, num=100)
                pipe.exists(self.keys.paused(sub.stream))
            replies: list[Any] = await pipe.execute() if subs else []
        moves = scripts.ScriptPipeline(self.client)
        for sub, due, paused in zip(subs, replies[0::2], replies[1::2], strict=True):
            sub.paused = bool(paused)
            if due:
                job_ids = [as_text(job_id) for job_id in due]
                moves.call(
                    self._move_due,
                    [
                        self.keys.stream(sub.stream),
                        self.keys.delayed(sub.stream),
                        *(self.keys.job(sub.stream, job_id) for job_id in job_ids),
                    ],
                    [now, *job_ids],
                )
        if moves.pending:
            await moves.execute()

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
            name = as_text(consumer["name"])
            if name != self.consumer and consumer["pending"] == 0 and consumer["idle"] > idle_limit:
                await self.client.xgroup_delconsumer(key, sub.group, name)
                log.info("consumer_removed", stream=sub.stream, consumer=name, idle_ms=consumer["idle"])

    async def _update_lag_metrics(self, sub: Subscription[Any]) -> None:
        for group in await self.client.xinfo_groups(self.keys.stream(sub.stream)):
            if as_text(group["name"]) == sub.group:
                metrics.QUEUE_LAG.labels(self.service, sub.stream).set(group.get("lag") or 0)
                metrics.PENDING.labels(self.service, sub.stream).set(group["pending"])
