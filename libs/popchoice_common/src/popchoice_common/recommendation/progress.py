"""A recommendation's stage as people see it, written only when it lasts long enough to be seen.

Every stage write is a database round trip, a commit and a NOTIFY that wakes each event stream
following the recommendation. A run served from the catalog finishes in a few milliseconds, far
sooner than anyone could read "embedding" or "local-search", so writing each stage would spend most
of the request path's database work on progress nobody sees. A StageWriter records the stage the
run is in and writes it once it has lasted the delay (STAGE_WRITE_DELAY_MS); a stage superseded
sooner is dropped. A slow run (a remote embedder, the TMDB fallback, generated descriptions) still
shows each step, at most one delay late; a fast one goes from "preparing" to "complete" in two
writes. With delay 0 every stage is written before the work it names starts.
"""

from __future__ import annotations

import asyncio
import uuid

import asyncpg

from popchoice_common.logs import get_logger
from popchoice_common.recommendation import repository

log = get_logger(__name__)


class StageWriter:
    """The stages of one run of one recommendation. close() before the result is stored."""

    def __init__(self, pool: asyncpg.Pool, recommendation_id: uuid.UUID, *, delay_seconds: float) -> None:
        self._pool = pool
        self._recommendation_id = recommendation_id
        self._delay = delay_seconds
        self._current: str | None = None
        self._written: str | None = None
        self._writer: asyncio.Task[None] | None = None
        self._writing = False
        self._closed = False

    async def enter(self, stage: str) -> None:
        """The run starts the work this stage names."""
        if self._closed:
            return
        self._current = stage
        if self._delay <= 0:
            await self._write(stage)
        elif self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_when_settled())

    async def _write_when_settled(self) -> None:
        while True:
            await asyncio.sleep(self._delay)
            stage = self._current
            if self._closed or stage is None or stage == self._written:
                return
            self._writing = True
            try:
                await self._write(stage)
            finally:
                self._writing = False

    async def _write(self, stage: str) -> None:
        # A finished recommendation is never reopened (set_stage only moves pending or processing
        # ones), so a write that loses a race with the result changes nothing.
        try:
            async with self._pool.acquire() as connection:
                await repository.set_stage(connection, self._recommendation_id, stage)
        except (asyncpg.PostgresError, OSError) as exc:
            # Progress is for show: the run goes on, and the result says where it ended.
            log.warning(
                "stage_not_written", recommendation_id=str(self._recommendation_id), stage=stage, error=str(exc)
            )
            return
        self._written = stage

    async def close(self) -> None:
        """No further stage writes: one waiting for its delay is dropped, one in flight finishes first."""
        self._closed = True
        writer, self._writer = self._writer, None
        if writer is None or writer.done():
            return
        if not self._writing:
            writer.cancel()
        await asyncio.gather(writer, return_exceptions=True)
