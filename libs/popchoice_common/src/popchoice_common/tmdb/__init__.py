"""TMDB: the API client, its typed responses, the shared rate limiter and the errors."""

from __future__ import annotations

import redis.asyncio as redis

from popchoice_common.settings import PopChoiceSettings
from popchoice_common.tmdb.client import MOVIE_LISTS, TMDBClient, parse_retry_after
from popchoice_common.tmdb.models import MovieDetails, MoviePage, MovieSummary, us_certification
from popchoice_common.tmdb.rate_limit import (
    LocalRateLimiter,
    Priority,
    RateLimiter,
    RateLimitWaitTooLong,
    RedisRateLimiter,
)

__all__ = [
    "MOVIE_LISTS",
    "LocalRateLimiter",
    "MovieDetails",
    "MoviePage",
    "MovieSummary",
    "Priority",
    "RateLimitWaitTooLong",
    "RateLimiter",
    "RedisRateLimiter",
    "TMDBClient",
    "create_rate_limiter",
    "create_tmdb_client",
    "parse_retry_after",
    "poster_url",
    "us_certification",
]


def create_rate_limiter(settings: PopChoiceSettings, client: redis.Redis | None) -> RateLimiter:
    """The Redis-shared limiter when Redis is there; otherwise one for this process alone."""
    if client is not None:
        return RedisRateLimiter(
            client,
            prefix=settings.stream_key_prefix,
            requests_per_window=settings.catalog_tmdb_requests_per_window,
            window_ms=settings.catalog_tmdb_rate_limit_window_ms,
            margin_ms=settings.catalog_tmdb_rate_limit_margin_ms,
        )
    return LocalRateLimiter(
        requests_per_window=settings.catalog_tmdb_requests_per_window,
        window_ms=settings.catalog_tmdb_rate_limit_window_ms,
        margin_ms=settings.catalog_tmdb_rate_limit_margin_ms,
    )


def create_tmdb_client(settings: PopChoiceSettings, limiter: RateLimiter) -> TMDBClient | None:
    """A client from the settings, or None when TMDB_API_KEY is unset (TMDB features off)."""
    if settings.tmdb_api_key is None:
        return None
    return TMDBClient(
        api_key=settings.tmdb_api_key.get_secret_value(),
        limiter=limiter,
        base_url=settings.tmdb_base_url,
        language=settings.tmdb_language,
        timeout_seconds=settings.tmdb_timeout_seconds,
        max_retries=settings.tmdb_max_retries,
        backoff_429_ms=settings.catalog_tmdb_429_backoff_ms,
        interactive_max_wait_ms=settings.tmdb_interactive_max_wait_ms,
    )


def poster_url(image_base_url: str, poster_path: str | None, size: str = "w500") -> str | None:
    """The full poster URL of a TMDB poster path."""
    if not poster_path:
        return None
    return f"{image_base_url.rstrip('/')}/{size}/{poster_path.lstrip('/')}"
