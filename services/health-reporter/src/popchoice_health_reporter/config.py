"""Settings of the catalog health report and of the operator console."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator

from popchoice_common.settings import PopChoiceSettings

ReportFormat = Literal["text", "json"]


class HealthSettings(PopChoiceSettings):
    """The health report (how it is printed, samples per finding, staleness) and the operator console."""

    catalog_health_format: ReportFormat = Field(default="text", description="text (readable) or json (one object).")
    catalog_health_sample_limit: int = Field(
        default=5, ge=0, le=1000, description="Sample rows (or duplicate groups) listed per finding; 0 lists none."
    )
    catalog_health_stale_days: int = Field(
        default=180, ge=0, description="TMDB metadata refreshed longer ago than this many days is stale."
    )

    operator_console_host: str = Field(default="127.0.0.1", description="The operator console's listen address.")
    operator_console_port: int = Field(default=8090, ge=1, le=65535, description="The operator console's port.")
    operator_auth_username: str | None = Field(default=None, description="The single operator's name.")
    operator_auth_password: SecretStr | None = Field(default=None, description="The single operator's password.")
    operator_auth_users: SecretStr | None = Field(
        default=None,
        description="Operators as name:argon2-hash pairs, separated by whitespace or ';'"
        " (popchoice-health hash-password).",
    )
    operator_auth_realm: str = Field(default="PopChoice operators", description="The Basic Auth realm.")
    operator_read_only: bool = Field(default=False, description="Hide and refuse every console action.")
    operator_auth_max_failures: int = Field(
        default=10, ge=1, description="Failed logins per client within the window before 429."
    )
    operator_auth_failure_window_seconds: int = Field(
        default=300, ge=1, description="The window over which failed logins are counted (and Retry-After's bound)."
    )

    @field_validator("operator_auth_username", "operator_auth_password", "operator_auth_users", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value
