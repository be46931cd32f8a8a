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
    handler_timeout_ms: a handler still running this long is cancelled and its attempt counts as
        failed (retried with backoff, then dead-lettered "timed out after N s"); its entry is no
        longer kept fresh by the heartbeat, so a wedged process's entry is reclaimed.
    """

    max_attempts: int = 4
    backoff_ms: int = 5000
    visibility_timeout_ms: int = 30_000
    max_reclaims: int = 3
    handler_timeout_ms: int = 120_000

    def retry_delay_ms(self, attempt: int, rng: random.Random | None = None) -> int:
        """Delay before the retry that follows the given (1-based) failed attempt."""
        base = self.backoff_ms * (2 ** max(attempt - 1, 0))
        jitter = (rng or random).uniform(0, 0.25) * base
        return int(base + jitter)


#: A person waits on the request path: its TMDB calls are bounded (TMDB_INTERACTIVE_MAX_WAIT_MS), so a
#: minute covers the search, the fallback and the pitches with room to spare.
RECOMMENDATION_POLICY = StreamPolicy(max_attempts=2, backoff_ms=3000, handler_timeout_ms=60_000)
#: A catalog handler may wait out a TMDB 429 pause (CATALOG_TMDB_429_BACKOFF_MS, 30 s by default) and
#: then a request, possibly more than once within TMDB_MAX_RETRIES: two minutes.
CATALOG_POLICY = StreamPolicy(max_attempts=4, backoff_ms=5000, handler_timeout_ms=120_000)
#: Re-seeding the curated file embeds every film (minutes with the local embedder on a large file):
#: half an hour, two attempts (the seed is idempotent; the heartbeat keeps a running one claimed).
RESEED_POLICY = StreamPolicy(max_attempts=2, backoff_ms=30_000, handler_timeout_ms=1_800_000)

#: The product's defaults: 2 attempts / 3 s / 60 s handler timeout for the request path, 4 / 5 s /
#: 120 s for catalog work.
DEFAULT_POLICIES: dict[str, StreamPolicy] = {
    events.RECOMMENDATION_REQUESTED: RECOMMENDATION_POLICY,
    events.MORE_PICKS_REQUESTED: RECOMMENDATION_POLICY,
    events.RECOMMENDATION_COMPLETED: RECOMMENDATION_POLICY,
    events.MOVIE_SEED_REQUESTED: CATALOG_POLICY,
    events.CATALOG_DISCOVER_PAGE: CATALOG_POLICY,
    events.CATALOG_SEED_MOVIE: CATALOG_POLICY,
    events.CATALOG_BACKFILL_MOVIE: CATALOG_POLICY,
    events.CATALOG_RESEED_CURATED: RESEED_POLICY,
}


def policy_for(stream: str, overrides: dict[str, dict[str, int]] | None = None) -> StreamPolicy:
    """The stream's default policy with any overrides (from STREAM_POLICY_OVERRIDES) applied."""
    policy = DEFAULT_POLICIES.get(stream, CATALOG_POLICY)
    if overrides and stream in overrides:
        policy = replace(policy, **overrides[stream])
    return policy
