"""TMDB errors: typed, carrying what they are about, never the API key."""

from __future__ import annotations

from popchoice_common.errors import PermanentError, RetryableError


class TMDBRequestRefused(PermanentError):
    """TMDB refused the request (401, 404, 422…); retrying will not help."""

    def __init__(self, path: str, status: int, status_message: str) -> None:
        self.path = path
        self.status = status
        self.status_message = status_message
        super().__init__(f"TMDB {path} answered {status}: {status_message}")


class TMDBNotFound(TMDBRequestRefused):
    """The film (or resource) does not exist on TMDB."""


class TMDBUnauthorized(TMDBRequestRefused):
    """TMDB_API_KEY was refused."""


class TMDBRateLimited(RetryableError):
    """TMDB answered 429 to every attempt of one request (TMDB_MAX_RETRIES + 1 of them); every process
    was paused each time, the last time for retry_after_seconds."""

    def __init__(self, path: str, retry_after_seconds: float | None, attempts: int = 1) -> None:
        self.path = path
        self.retry_after_seconds = retry_after_seconds
        self.attempts = attempts
        wait = f"retry after {retry_after_seconds:g} s" if retry_after_seconds is not None else "no Retry-After"
        times = f" {attempts} times" if attempts > 1 else ""
        super().__init__(f"TMDB {path} answered 429{times} ({wait})")


class TMDBWaitTooLong(RetryableError):
    """An interactive request would have waited for the shared budget, a 429 pause or a retry longer
    than TMDB_INTERACTIVE_MAX_WAIT_MS allows; it gave up without waiting."""

    def __init__(self, path: str, wait_seconds: float, max_wait_seconds: float) -> None:
        self.path = path
        self.wait_seconds = wait_seconds
        self.max_wait_seconds = max_wait_seconds
        super().__init__(
            f"TMDB {path} would wait {wait_seconds:.1f} s, more than the {max_wait_seconds:g} s a person may wait"
        )


class TMDBUnavailable(RetryableError):
    """A network failure, timeout or 5xx that outlasted the client's own retries."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"TMDB {path} unavailable: {reason}")


class TMDBBadData(PermanentError):
    """TMDB answered, but not with data of the expected shape (malformed JSON, missing fields)."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"TMDB {path} returned unusable data: {reason}")


class TMDBNotConfigured(PermanentError):
    """No TMDB_API_KEY: TMDB features are off."""

    def __init__(self) -> None:
        super().__init__("TMDB_API_KEY is not set")
