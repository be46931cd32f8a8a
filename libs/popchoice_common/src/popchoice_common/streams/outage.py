"""Outages logged once: a warning when a dependency stops answering, one line when it answers again,
nothing per retry in between; and the capped backoff the retrying loops wait."""

from __future__ import annotations

import time
from typing import Any

from popchoice_common.logs import get_logger
from popchoice_common.streams.subscription import describe_error

log = get_logger(__name__)

#: The first retry waits this long; each failure in a row doubles it, up to BACKOFF_CAP_SECONDS.
BACKOFF_START_SECONDS = 0.25
BACKOFF_CAP_SECONDS = 5.0


def backoff_seconds(failures: int) -> float:
    """The wait after the given number of failures in a row (1-based): 0.25, 0.5, 1, 2, 4, then 5 s."""
    return float(min(BACKOFF_CAP_SECONDS, BACKOFF_START_SECONDS * 2 ** max(failures - 1, 0)))


class OutageLog:
    """One per dependency and process: every loop reports to it, so an outage is one warning however
    many loops hit it, and its end is one line with how long it lasted.

    The end is declared once calls have succeeded for settle_seconds without a failure: right after a
    restart, connections opened before it fail once each on first use, and those belong to the same
    outage, not to a new one.
    """

    def __init__(self, dependency: str, *, settle_seconds: float = 2.0, **context: Any) -> None:
        self.dependency = dependency
        self.settle_seconds = settle_seconds
        self.context = context
        self.since: float | None = None
        self.answering_since: float | None = None
        self.failures = 0

    @property
    def down(self) -> bool:
        """True from the first failure until the recovery line (callers report successes only then)."""
        return self.since is not None

    def failed(self, exc: BaseException, **where: Any) -> None:
        self.failures += 1
        self.answering_since = None
        if self.since is None:
            self.since = time.monotonic()
            log.warning(f"{self.dependency}_unavailable", error=describe_error(exc), **self.context, **where)

    def succeeded(self) -> None:
        if self.since is None:
            return
        now = time.monotonic()
        if self.answering_since is None:
            self.answering_since = now
        if now - self.answering_since >= self.settle_seconds:
            log.info(
                f"{self.dependency}_recovered",
                outage_seconds=round(self.answering_since - self.since, 1),
                failed_calls=self.failures,
                **self.context,
            )
            self.since, self.answering_since, self.failures = None, None, 0
