"""Acknowledging: finished entries acked in batches with their announcements, and unstarted entries
released at shutdown."""

from __future__ import annotations

import asyncio
from typing import Any

from redis.exceptions import RedisError

from popchoice_common.events import Event
from popchoice_common.logs import get_logger
from popchoice_common.streams import scripts
from popchoice_common.streams.jobs import announce_command, now_ms
from popchoice_common.streams.outage import backoff_seconds
from popchoice_common.streams.subscription import (
    Subscription,
    WorkerCore,
    as_text,
    describe_error,
)

log = get_logger(__name__)


class Acking(WorkerCore):
    """The acknowledging part of Worker."""

    async def _flush_loop(self, sub: Subscription[Any]) -> None:
        """Acks finished entries in batches: one script call per wake-up, however many finished."""
        failures = 0
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
                    failures += 1
                    self._redis_outage.failed(exc, stream=sub.stream, waiting_acks=len(done))
                    if sub.handlers_done:
                        # Shutting down: they stay pending (and are not released) for the reclaimer.
                        sub.started.update(entry_id for entry_id, _ in done)
                        return
                    sub.done = done + sub.done
                    sub.ack_only = ack_only + sub.ack_only
                    sub.announcements = announcements + sub.announcements
                    await asyncio.sleep(backoff_seconds(failures))
                    sub.done_signal.set()
                    continue
                failures = 0
                if self._redis_outage.down:
                    self._redis_outage.succeeded()
                for entry_id, _ in done:
                    sub.held.pop(entry_id, None)
                sub.finished -= len(done)
                sub.space_signal.set()
            if sub.handlers_done and not sub.done and not sub.ack_only:
                if sub.forgetter is not None:
                    await sub.forgetter
                return

    async def _flush(
        self, sub: Subscription[Any], done: list[tuple[str, str]], ack_only: list[str], announcements: list[Event]
    ) -> None:
        pipeline = scripts.ScriptPipeline(self.client)
        stream = sub.stream
        if done:
            keys = [
                self.keys.stream(stream),
                self.keys.completed_index(stream),
                self.keys.counters(stream),
                self.keys.throughput(stream),
            ]
            args: list[Any] = [
                sub.group,
                now_ms(),
                self.retention.completed_seconds,
                self.retention.completed_count,
            ]
            prefix = sub.job_key_prefix
            for entry_id, job_id in done:
                keys.append(prefix + job_id)
                args += [entry_id, job_id]
            pipeline.call(self._finish, keys, args)
        if ack_only:
            pipeline.command("XACK", self.keys.stream(stream), sub.group, *ack_only)
        for event in announcements:
            pipeline.command(*announce_command(self.keys, event))
        replies = await pipeline.execute()
        if done and len(replies[0]) > 1:
            # Past the retention count: the oldest completed jobs are forgotten while the next
            # batch is acked. A later FINISH names the same oldest ids and more: its list replaces one
            # not yet sent, less the ids the FORGET on its way already names.
            forgetting = sub.forgetting
            sub.forget_ids = [job_id for job_id in (as_text(raw) for raw in replies[0][1:]) if job_id not in forgetting]
            if sub.forget_ids and (sub.forgetter is None or sub.forgetter.done()):
                sub.forgetter = asyncio.create_task(self._forget_completed(sub))

    async def _forget_completed(self, sub: Subscription[Any]) -> None:
        while sub.forget_ids:
            past, sub.forget_ids = sub.forget_ids, []
            sub.forgetting = set(past)
            try:
                await self._forget(sub.stream, "completed", past, self.retention.completed_count)
            except (RedisError, OSError) as exc:
                # The next FINISH names them again.
                self._redis_outage.failed(exc, stream=sub.stream)
                return
            finally:
                sub.forgetting = set()

    async def _release_unstarted(self, sub: Subscription[Any]) -> None:
        """Returns entries fetched but never started to the stream, so another consumer takes them now."""
        unstarted = [(entry_id, job_id) for entry_id, job_id in sub.held.items() if entry_id not in sub.started]
        if not unstarted:
            return
        keys = [self.keys.stream(sub.stream)]
        args: list[Any] = [sub.group]
        for entry_id, job_id in unstarted:
            keys.append(self.keys.job(sub.stream, job_id))
            args += [entry_id, job_id]
        try:
            await self._release(keys=keys, args=args)
        except (RedisError, OSError) as exc:
            log.warning("job_release_failed", stream=sub.stream, error=describe_error(exc), count=len(unstarted))
            return
        for entry_id, _ in unstarted:
            sub.held.pop(entry_id, None)
