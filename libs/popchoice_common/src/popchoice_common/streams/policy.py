"""Failure policy per stream: attempts, backoff and visibility timeout (pure; no Redis here)."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from popchoice_common import events


@dataclass(frozen=True, slots=True)
class StreamPolicy:
    """How a stream's jobs are retried and recovered.

    max_attempts: handler runs before a retryable failure becomes a dead letter.
    backoff_ms: first retry delay; each later retry doubles it, plus up to 25% jitter.
    visibility_timeout_ms: a pending entry idle this long is taken over by another consumer
        (a live handler's entries are kept fresh by the heartbeat).
    max_reclaims: deliveries that killed their consumer before the entry is dead-lettered.
    """

    max_attempts: int = 4
    backoff_ms: int = 5000
    visibility_timeout_ms: int = 30_000
    max_reclaims: int = 3

    def retry_delay_ms(self, attempt: int, rng: random.Random | None = None) -> int:
        """Delay before the retry that follows the given (1-based) failed attempt."""
        base = self.backoff_ms * (2 ** max(attempt - 1, 0))
        jitter = (rng or random).uniform(0, 0.25) * base
        return int(base + jitter)


RECOMMENDATION_POLICY = StreamPolicy(max_attempts=2, backoff_ms=3000)
CATALOG_POLICY = StreamPolicy(max_attempts=4, backoff_ms=5000)

#: The product's defaults: 2 attempts / 3 s for the request path, 4 / 5 s for catalog work.
DEFAULT_POLICIES: dict[str, StreamPolicy] = {
    events.RECOMMENDATION_REQUESTED: RECOMMENDATION_POLICY,
    events.MORE_PICKS_REQUESTED: RECOMMENDATION_POLICY,
    events.RECOMMENDATION_COMPLETED: RECOMMENDATION_POLICY,
    events.MOVIE_SEED_REQUESTED: CATALOG_POLICY,
    events.CATALOG_DISCOVER_PAGE: CATALOG_POLICY,
    events.CATALOG_SEED_MOVIE: CATALOG_POLICY,
    events.CATALOG_BACKFILL_MOVIE: CATALOG_POLICY,
}


def policy_for(stream: str, overrides: dict[str, dict[str, int]] | None = None) -> StreamPolicy:
    """The stream's default policy with any overrides (from STREAM_POLICY_OVERRIDES) applied."""
    policy = DEFAULT_POLICIES.get(stream, CATALOG_POLICY)
    if overrides and stream in overrides:
        policy = replace(policy, **overrides[stream])
    return policy
