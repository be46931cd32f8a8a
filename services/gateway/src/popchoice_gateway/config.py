"""Settings of the gateway."""

from __future__ import annotations

from pydantic import Field

from popchoice_common.settings import PopChoiceSettings


class GatewaySettings(PopChoiceSettings):
    """Where the gateway listens and how it protects itself."""

    gateway_host: str = Field(default="127.0.0.1")
    gateway_port: int = Field(default=8000, ge=1, le=65535)
    max_request_bytes: int = Field(default=16_384, ge=1024, description="Larger request bodies get 413.")
    rate_limit_per_minute: int = Field(default=30, ge=1, description="Recommendation requests per client per minute.")
    title_search_per_minute: int = Field(
        default=120,
        ge=1,
        description="Title searches (GET /api/titles, the autocomplete) per client address per minute.",
    )
    sse_poll_interval_seconds: float = Field(
        default=1.0, gt=0, description="Fallback re-read of an event stream's row (changes come by PostgreSQL NOTIFY)."
    )
    sse_timeout_seconds: float = Field(default=180.0, gt=0)
