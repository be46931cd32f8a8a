"""Wakes event streams when a recommendation changes: one LISTEN connection per gateway process.

The database announces every status or stage change on the recommendation_progress channel
(db/init/010_recommendation_progress.sql); each open event stream waits for its id.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg

from popchoice_common.logs import get_logger

log = get_logger(__name__)
CHANNEL = "recommendation_progress"


class ProgressListener:
    def __init__(self) -> None:
        self._waiters: defaultdict[str, set[asyncio.Event]] = defaultdict(set)
        self._connection: asyncpg.Connection | None = None

    async def start(self, dsn: str) -> None:
        self._connection = await asyncpg.connect(dsn)
        await self._connection.add_listener(CHANNEL, self._notified)
        self._connection.add_termination_listener(self._lost)

    def _notified(self, connection: object, pid: int, channel: str, payload: str) -> None:
        for event in self._waiters.get(payload, ()):
            event.set()

    def _lost(self, connection: object) -> None:
        # Event streams still re-read their row every SSE_POLL_INTERVAL_SECONDS.
        log.warning("progress_listener_lost")

    @contextmanager
    def watch(self, recommendation_id: str) -> Iterator[asyncio.Event]:
        """An event set whenever this recommendation changes, for as long as the block runs."""
        event = asyncio.Event()
        self._waiters[recommendation_id].add(event)
        try:
            yield event
        finally:
            waiters = self._waiters[recommendation_id]
            waiters.discard(event)
            if not waiters:
                del self._waiters[recommendation_id]

    async def stop(self) -> None:
        if self._connection is not None and not self._connection.is_closed():
            await self._connection.close()
