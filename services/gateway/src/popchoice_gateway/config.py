"""Settings of the gateway."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator

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

    public_base_url: str = Field(
        default="http://127.0.0.1:8000",
        description="The site's public address: reset links point here, and a browser's Origin may be it.",
    )
    secure_cookies: bool = Field(default=False, description="Mark cookies Secure (the site is served over HTTPS).")
    session_idle_minutes: int = Field(default=60 * 24 * 7, ge=1, description="A session unused this long ends.")
    session_absolute_hours: int = Field(default=24 * 30, ge=1, description="A session ends this long after login.")
    password_hash_time_cost: int = Field(default=3, ge=1, description="Argon2id iterations.")
    password_hash_memory_kib: int = Field(default=65_536, ge=8, description="Argon2id memory in KiB.")
    password_hash_parallelism: int = Field(default=4, ge=1, description="Argon2id lanes.")
    auth_rate_limit_window_seconds: int = Field(default=900, ge=1, description="The window of the two limits below.")
    auth_rate_limit_per_address: int = Field(
        default=60, ge=1, description="Login, register and reset requests per client address per window (each)."
    )
    auth_rate_limit_per_account: int = Field(
        default=10, ge=1, description="Login, register and reset requests per e-mail address per window (each)."
    )
    login_backoff_base_seconds: float = Field(
        default=2.0, ge=0, description="After 3 failed logins of one account, it is locked this long, doubling."
    )
    login_backoff_max_seconds: float = Field(default=900.0, ge=0, description="The longest failed-login lock.")
    password_reset_token_minutes: int = Field(default=30, ge=1, description="A reset link expires after this long.")
    smtp_url: SecretStr | None = Field(
        default=None,
        description="smtp://[user:password@]host[:port] (STARTTLS when offered), or smtps:// (TLS)."
        " Unset: mail is written as .eml files under DATA_DIR/outbox/.",
    )
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)
    mail_from: str = Field(default="PopChoice <no-reply@popchoice.invalid>", description="The From of our mail.")

    @field_validator("smtp_url", mode="before")
    @classmethod
    def _blank_smtp_is_unset(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("public_base_url")
    @classmethod
    def _base_url_is_an_origin(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("PUBLIC_BASE_URL must start with http:// or https://")
        return value.rstrip("/")
