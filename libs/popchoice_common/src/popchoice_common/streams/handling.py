"""Running handlers: each job with its handler timeout, failures recorded by retryability (retry with
backoff or dead letter), and the on-dead hook."""

from __future__ import annotations

import asyncio
import time
import traceback
from typing import Any

import msgspec
import structlog
from redis.exceptions import RedisError

from popchoice_common import tracing
from popchoice_common.errors import is_outage, is_retryable
from popchoice_common.logs import get_logger, redact_text
from popchoice_common.streams import metrics
from popchoice_common.streams.jobs import now_ms
from popchoice_common.streams.outage import backoff_seconds
from popchoice_common.streams.subscription import (
    Delivery,
    JobContext,
    Subscription,
    WorkerCore,
    as_text,
    describe_error,
)

log = get_logger(__name__)

#: How a failed attempt is recorded (the FAIL script's kind argument).
PERMANENT, RETRYABLE, OUTAGE = 0, 1, 2


def failure_kind(exc: BaseException) -> int:
    """OUTAGE for a dependency that is not answering (errors.is_outage), else by retryability."""
    if is_outage(exc):
        return OUTAGE
    return RETRYABLE if is_retryable(exc) else PERMANENT


class Handling(WorkerCore):
    """The part of Worker that runs handlers."""

    async def _handle_loop(self, sub: Subscription[Any]) -> None:
        labels = (self.service, sub.stream)
        processed = metrics.JOBS_PROCESSED.labels(*labels)
        duration = metrics.HANDLER_SECONDS.labels(*labels)
        # The watchdog (Maintenance) cancels this task once a job's deadline passes; a per-job
        # asyncio.timeout cost a timer per job, a fifth of the no-op job rate.
        task = asyncio.current_task()
        assert task is not None
        timeout_seconds = sub.policy.handler_timeout_ms / 1000
        # This loop runs in a task of its own, so its log context is its own: the stream is bound once,
        # each job's id as the job starts (a bound_contextvars block per job cost a tenth of a job).
        structlog.contextvars.bind_contextvars(stream=sub.stream)
        bind_job = structlog.contextvars.bind_contextvars
        queue, waiting = sub.queue, sub.queue.items
        stopping = self._stopping.is_set
        while True:
            delivery = waiting.popleft() if waiting else await queue.get()
            if delivery is None or stopping():
                # Not started: stays held and goes back to the stream at shutdown.
                if delivery is None:
                    return
                continue
            entry_id = delivery.entry_id
            bind_job(job_id=delivery.job_id)
            sub.started.add(entry_id)
            started = time.monotonic()
            try:
                event = sub.decoder.decode(delivery.data)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                await self._record_failure(sub, delivery, f"undecodable message: {exc}", kind=PERMANENT)
                continue
            context = JobContext(
                delivery.job_id,
                sub.stream,
                entry_id,
                delivery.attempt,
                self.consumer,
                sub.policy.max_attempts,
            )
            sub.deadlines[entry_id] = started + timeout_seconds
            sub.running[entry_id] = task
            error: str | None = None
            kind = PERMANENT
            trace = ""
            span = (
                tracing.start_attempt_span(sub.stream, delivery.job_id, delivery.attempt, event.traceparent)
                if tracing.enabled()
                else None
            )
            try:
                if span is None:
                    await sub.handler(event, context)
                else:
                    with tracing.activated(span):
                        await sub.handler(event, context)
            except asyncio.CancelledError:
                self._handler_done(sub, entry_id)
                if entry_id not in sub.timed_out:
                    if span is not None:
                        tracing.finish(span, "interrupted")
                    raise  # shutdown, not a timeout
                sub.timed_out.discard(entry_id)
                task.uncancel()
                log.warning("handler_timed_out", stream=sub.stream, job_id=delivery.job_id, seconds=timeout_seconds)
                error, kind = f"timed out after {timeout_seconds:g} s", RETRYABLE
            except Exception as exc:  # noqa: BLE001 - every handler failure is recorded, typed by retryability
                self._handler_done(sub, entry_id)
                error, kind = describe_error(exc), failure_kind(exc)
                trace = redact_text("".join(traceback.format_exception(exc)))[-4000:]
            else:
                sub.running.pop(entry_id, None)
                sub.deadlines.pop(entry_id, None)
            if error is not None:
                duration.observe(time.monotonic() - started)
                outcome = await self._record_failure(sub, delivery, error, kind=kind, trace=trace)
                if span is not None:
                    tracing.finish(span, outcome, error)
                continue
            if span is not None:
                tracing.finish(span, "completed")
            duration.observe(time.monotonic() - started)
            processed.inc()
            sub.started.discard(entry_id)
            sub.done.append((entry_id, delivery.job_id))
            sub.finished += 1
            if context.announcements:
                sub.announcements += context.announcements
            sub.done_signal.set()
            sub.space_signal.set()

    @staticmethod
    def _handler_done(sub: Subscription[Any], entry_id: str) -> None:
        """The handler of entry_id returned or raised: the watchdog no longer watches it (synchronous,
        before any await, so a cancel can only ever reach the handler itself)."""
        sub.running.pop(entry_id, None)
        sub.deadlines.pop(entry_id, None)

    async def _record_failure(
        self, sub: Subscription[Any], delivery: Delivery, error: str, *, kind: int, trace: str = ""
    ) -> str:
        """Records a failed attempt (with its traceback); returns what follows: retrying, waiting (an
        outage, uncounted), dead, or interrupted (shutting down with Redis away: left pending)."""
        delay = sub.policy.retry_delay_ms(delivery.attempt)
        failures = 0
        while True:
            try:
                reply = await self._fail(
                    keys=[
                        self.keys.stream(sub.stream),
                        self.keys.dead(sub.stream),
                        self.keys.delayed(sub.stream),
                        self.keys.counters(sub.stream),
                        self.keys.throughput(sub.stream),
                        self.keys.dead_index(sub.stream),
                        self.keys.job(sub.stream, delivery.job_id),
                        self.keys.job_errors(sub.stream, delivery.job_id),
                    ],
                    args=[
                        sub.stream,
                        sub.group,
                        self.consumer,
                        now_ms(),
                        delivery.entry_id,
                        delivery.job_id,
                        delivery.data,
                        error,
                        kind,
                        sub.policy.max_attempts,
                        delay,
                        self.retention.dead_seconds,
                        self.retention.dead_count,
                        trace,
                        self._outage_window_ms,
                        self._outage_backoff_ms[0],
                        self._outage_backoff_ms[1],
                    ],
                )
                outcome = as_text(reply[0])
                if len(reply) > 1:
                    # Past the retention count: the oldest dead jobs' states are forgotten.
                    past = [as_text(job_id) for job_id in reply[1:]]
                    await self._forget(sub.stream, "dead", past, self.retention.dead_count)
                if self._redis_outage.down:
                    self._redis_outage.succeeded()
                break
            except (RedisError, OSError) as exc:
                if self.stopping:
                    # Left pending: the reclaimer elsewhere runs it again.
                    sub.started.discard(delivery.entry_id)
                    return "interrupted"
                failures += 1
                self._redis_outage.failed(exc, stream=sub.stream, job_id=delivery.job_id)
                await self._sleep(backoff_seconds(failures))
        sub.started.discard(delivery.entry_id)
        sub.held.pop(delivery.entry_id, None)
        sub.space_signal.set()
        labels = (self.service, sub.stream)
        metrics.JOBS_FAILED.labels(*labels).inc()
        if outcome == "outage":
            # A dependency is down (its outage was logged once where it was seen): waits, uncounted.
            metrics.JOBS_RETRIED.labels(*labels).inc()
            log.debug("job_waits_out_outage", stream=sub.stream, job_id=delivery.job_id, error=error)
            return "waiting"
        elif outcome == "retrying":
            metrics.JOBS_RETRIED.labels(*labels).inc()
            log.warning(
                "job_failed_will_retry",
                stream=sub.stream,
                job_id=delivery.job_id,
                attempt=delivery.attempt,
                retry_in_ms=delay,
                error=error,
            )
            return "retrying"
        else:
            metrics.JOBS_DEAD.labels(*labels).inc()
            log.error(
                "job_dead_lettered",
                stream=sub.stream,
                job_id=delivery.job_id,
                attempt=delivery.attempt,
                retryable=kind != PERMANENT,
                error=error,
            )
            await self._call_on_dead(sub, delivery.job_id, delivery.data, error)
            return "dead"

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
