"""Typed errors. Each says whether retrying could help; the jobs runtime acts on that."""

from __future__ import annotations


class PopChoiceError(Exception):
    """Base class for the product's own errors."""

    retryable: bool = False


class RetryableError(PopChoiceError):
    """A transient failure (network, 5xx, 429, database unavailable): retry later."""

    retryable = True


class PermanentError(PopChoiceError):
    """A failure that retrying cannot fix (bad input, 4xx other than 429)."""

    retryable = False


class ConfigurationError(PermanentError):
    """A setting is missing or inconsistent."""


class EmbeddingInputError(PermanentError):
    """An embedding request carried input that must never be sent (for example an empty string)."""

    def __init__(self, index: int, reason: str) -> None:
        self.index = index
        self.reason = reason
        super().__init__(f"embedding input #{index} {reason}")


class EmbeddingServiceError(RetryableError):
    """The embedding service failed in a way that may pass (timeout, 5xx, rate limit)."""


def is_retryable(exc: BaseException) -> bool:
    """Whether retrying could help: the error's own word, else yes for anything but a malformed input."""
    if isinstance(exc, PopChoiceError):
        return exc.retryable
    import msgspec

    return not isinstance(exc, (msgspec.ValidationError, msgspec.DecodeError, ValueError, TypeError, KeyError))


def is_outage(exc: BaseException) -> bool:
    """Whether the error (or one it was raised from) says a dependency is not answering: PostgreSQL or
    Redis down, restarting, refusing connections or dropping them. Retrying later fixes these, and an
    attempt spent on one says nothing about the job, so the jobs runtime retries them within an outage
    window without counting the attempt (STREAM_OUTAGE_WINDOW_SECONDS)."""
    import asyncpg
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(
            current,
            (
                OSError,  # refused, reset, unreachable (ConnectionError and TimeoutError are OSErrors)
                asyncpg.PostgresConnectionError,
                asyncpg.CannotConnectNowError,
                asyncpg.AdminShutdownError,
                asyncpg.CrashShutdownError,
                asyncpg.TooManyConnectionsError,
                RedisConnectionError,
                RedisTimeoutError,
            ),
        ):
            return True
        if isinstance(current, asyncpg.InterfaceError) and "closed" in str(current):
            return True
        current = current.__cause__ or current.__context__
    return False
