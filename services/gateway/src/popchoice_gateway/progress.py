"""Wakes event streams when a recommendation changes: one LISTEN connection per gateway process.

The database announces every status or stage change on the recommendation_progress channel
(db/init/010_recommendation_progress.sql); each open event stream waits for its id.
"""

from __future__ import annotations

import asyncio
import time
import uuid
import weakref
from collections import defaultdict
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
    abandoned: bool = False

    def update(self, status: str, stage: str) -> None:
        self.status, self.stage = status, stage
        self.changed.set()

    def abandon(self) -> None:
        """Nobody follows any more (the client left): wakes the stream so it ends."""
        self.abandoned = True
        self.changed.set()


@dataclass(frozen=True, slots=True)
class NewRecommendation:
    """A recommendation this process created, watched since before its job was queued."""

    watch: ProgressWatch
    slug: str
    user_id: uuid.UUID | None
    expires_at: float

    def state(self) -> tuple[str, str]:
        """Its status and stage: as created unless a change was announced since."""
        return self.watch.status or "pending", self.watch.stage or "queued"


class ProgressListener:
    """Watches are held weakly: one whose stream never ran (the client left before the response
    started) leaves the registry when it is garbage collected.

    A recommendation created here is watched from its creation for new_ttl_seconds, so the event
    stream a browser opens right after its POST starts from what was announced, without reading
    the row (usually the stream lands on the process that took the POST).
    """

    def __init__(self, *, new_ttl_seconds: float = 30.0) -> None:
        self._waiters: defaultdict[str, weakref.WeakSet[ProgressWatch]] = defaultdict(weakref.WeakSet)
        self._connection: asyncpg.Connection | None = None
        self._new_ttl = new_ttl_seconds
        self._new: dict[str, NewRecommendation] = {}  # in creation order, so the oldest expire first

    async def start(self, dsn: str) -> None:
        self._connection = await asyncpg.connect(dsn)
        await self._connection.add_listener(CHANNEL, self._notified)
        self._connection.add_termination_listener(self._lost)

    def _notified(self, connection: object, pid: int, channel: str, payload: str) -> None:
        recommendation_id, _, rest = payload.partition(" ")
        status, _, rest = rest.partition(" ")
        stage = rest.partition(" ")[0]
        for watch in list(self._waiters.get(recommendation_id, ())):
            watch.update(status, stage)

    def _lost(self, connection: object) -> None:
        # Event streams still re-read their row every SSE_POLL_INTERVAL_SECONDS.
        log.warning("progress_listener_lost")

    def open_watch(self, recommendation_id: str) -> ProgressWatch:
        """A watch that lasts until unwatch() or until nothing references it."""
        watch = ProgressWatch()
        self._waiters[recommendation_id].add(watch)
        weakref.finalize(watch, self._forget_if_unwatched, recommendation_id)
        return watch

    def unwatch(self, recommendation_id: str, watch: ProgressWatch) -> None:
        waiters = self._waiters.get(recommendation_id)
        if waiters is not None:
            waiters.discard(watch)
        self._forget_if_unwatched(recommendation_id)

    def _forget_if_unwatched(self, recommendation_id: str) -> None:
        waiters = self._waiters.get(recommendation_id)
        # Iterating skips a watch being collected right now (len() may still count it).
        if waiters is not None and next(iter(waiters), None) is None:
            del self._waiters[recommendation_id]

    def watch_new(self, recommendation_id: str, *, slug: str, user_id: uuid.UUID | None) -> None:
        """Call before the recommendation's job is queued: no change can be missed."""
        now = time.monotonic()
        while self._new:
            oldest_id, oldest = next(iter(self._new.items()))
            if oldest.expires_at > now:
                break
            del self._new[oldest_id]
            self.unwatch(oldest_id, oldest.watch)
        watch = self.open_watch(recommendation_id)
        self._new[recommendation_id] = NewRecommendation(watch, slug, user_id, now + self._new_ttl)

    def take_new(self, recommendation_id: str) -> NewRecommendation | None:
        """The watch of a recommendation created here, for one event stream (None: not created
        here, expired, or already taken). The caller unwatches it when the stream ends."""
        new = self._new.pop(recommendation_id, None)
        if new is not None and new.expires_at <= time.monotonic():
            self.unwatch(recommendation_id, new.watch)
            return None
        return new

    def forget_new(self, recommendation_id: str) -> None:
        """The recommendation was not created after all (its job could not be queued)."""
        new = self._new.pop(recommendation_id, None)
        if new is not None:
            self.unwatch(recommendation_id, new.watch)

    def watched(self) -> int:
        """How many recommendations have a watch (for tests and metrics)."""
        return len(self._waiters)

    async def stop(self) -> None:
        if self._connection is not None and not self._connection.is_closed():
            # A deliberate close is not a lost listener: no warning at every shutdown.
            self._connection.remove_termination_listener(self._lost)
            await self._connection.close()
