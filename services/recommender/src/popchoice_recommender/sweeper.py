"""The sweeper: recommendations that nobody will finish, found and queued again.

A Redis killed with SIGKILL can lose up to a second of writes (appendfsync everysec; Redis 7.0 has no
WAITAOF), so a job the gateway was told was queued may be gone; a gateway that dies between its INSERT
and its publish leaves a row with no job at all. Every SWEEP_INTERVAL_SECONDS, each recommender looks
for recommendations (and more-picks batches) pending or processing and untouched for
SWEEP_AFTER_SECONDS, and checks each one's job in Redis:
- no job: published again. The job id is deterministic (recommendation:<id>, more-picks:<id>:<batch>),
  so two sweepers, or a job that reappears, still make one job; and the pipeline stores picks
  idempotently, so a re-run never writes a row twice;
- a dead job (its on-dead hook could not mark the row, say because PostgreSQL was down): marked failed;
- a live job (queued, active, retrying or completed): left alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
import redis.asyncio as redis

from popchoice_common.errors import is_outage
from popchoice_common.events import MorePicksRequested, RecommendationRequested
from popchoice_common.logs import get_logger
from popchoice_common.recommendation import repository
from popchoice_common.recommendation.pipeline import RecommendationPipeline
from popchoice_common.streams import Publisher, get_job
from popchoice_common.streams.outage import OutageLog

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class SweepResult:
    requeued: int = 0
    failed: int = 0
    live: int = 0


class Sweeper:
    def __init__(
        self,
        pool: asyncpg.Pool,
        client: redis.Redis,
        publisher: Publisher,
        pipeline: RecommendationPipeline,
        *,
        idle_seconds: float,
    ) -> None:
        self.pool = pool
        self.client = client
        self.publisher = publisher
        self.pipeline = pipeline
        self.idle_seconds = idle_seconds
        self.outage = OutageLog("postgres", service="recommender", task="sweeper")

    async def run(self) -> None:
        """One sweep, for Worker.every: a database outage is logged once (the next sweep retries)."""
        try:
            result = await self.sweep()
        except Exception as exc:
            if not is_outage(exc):
                raise
            self.outage.failed(exc)
            return
        self.outage.succeeded()
        if result.requeued or result.failed:
            log.warning("sweeper_recovered", requeued=result.requeued, failed=result.failed, live=result.live)

    async def sweep(self) -> SweepResult:
        requeued = failed = live = 0
        unfinished = await repository.unfinished_recommendations(self.pool, idle_seconds=self.idle_seconds)
        for row, batch in unfinished:
            event: RecommendationRequested | MorePicksRequested = (
                RecommendationRequested.for_recommendation(row.id, row.locale, quiz=row.quiz(), user_id=row.user_id)
                if batch is None
                else MorePicksRequested.for_batch(row.id, batch)
            )
            job = await get_job(self.client, self.publisher.keys, event.job_id, event.stream)
            if job is None:
                if (await self.publisher.publish(event)).enqueued:
                    requeued += 1
                    log.info("sweeper_requeued", job_id=event.job_id, status=row.status)
            elif job.state == "dead":
                await self.pipeline.fail(row.id, more_picks=batch is not None)
                failed += 1
                log.info("sweeper_marked_failed", job_id=event.job_id)
            else:
                live += 1
        return SweepResult(requeued, failed, live)
