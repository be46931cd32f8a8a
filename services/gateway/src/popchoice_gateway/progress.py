"""Wakes event streams when a recommendation changes: one LISTEN connection per gateway process.

The database announces every status or stage change on the recommendation_progress channel
(db/init/010_recommendation_progress.sql); each open event stream waits for its id.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import asyncpg

from popchoice_common.logs import get_logger

log = get_logger(__name__)
CHANNEL = "recommendation_progress"


@dataclass(eq=False)
class ProgressWatch:
    """Set whenever the recommendation changes; status and stage are the latest the database announced."""

    changed: asyncio.Event = field(default_factory=asyncio.Event)
    status: str | None = None
    stage: str | None = None

    def update(self, status: str, stage: str) -> None:
        self.status, self.stage = status, stage
        self.changed.set()


class ProgressListener:
    def __init__(self) -> None:
        self._waiters: defaultdict[str, set[ProgressWatch]] = defaultdict(set)
        self._connection: asyncpg.Connection | None = None

    async def start(self, dsn: str) -> None:
        self._connection = await asyncpg.connect(dsn)
        await self._connection.add_listener(CHANNEL, self._notified)
        self._connection.add_termination_listener(self._lost)

    def _notified(self, connection: object, pid: int, channel: str, payload: str) -> None:
        recommendation_id, _, rest = payload.partition(" ")
        status, _, rest = rest.partition(" ")
        stage = rest.partition(" ")[0]
        for watch in self._waiters.get(recommendation_id, ()):
            watch.update(status, stage)

    def _lost(self, connection: object) -> None:
        # Event streams still re-read their row every SSE_POLL_INTERVAL_SECONDS.
        log.warning("progress_listener_lost")

    @contextmanager
    def watch(self, recommendation_id: str) -> Iterator[ProgressWatch]:
        """The announced changes of this recommendation, for as long as the block runs."""
        watch = ProgressWatch()
        self._waiters[recommendation_id].add(watch)
        try:
            yield watch
        finally:
            waiters = self._waiters[recommendation_id]
            waiters.discard(watch)
            if not waiters:
                del self._waiters[recommendation_id]

    async def stop(self) -> None:
        if self._connection is not None and not self._connection.is_closed():
            await self._connection.close()
