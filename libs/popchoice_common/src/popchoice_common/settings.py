"""Settings: one class per service, all on :class:`PopChoiceSettings`.

Every field is read from the environment variable of the same name in upper case (``DATABASE_URL``
for ``database_url``). Each value and its default is documented in the README.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from popchoice_common.errors import ConfigurationError

EmbeddingProvider = Literal["openai", "local", "hash"]

OPENAI_DEFAULT_EMBEDDING_MODEL = "text-embedding-3-large"
LOCAL_DEFAULT_EMBEDDING_MODEL = "all-MiniLM-L6-v2"
HASH_DEFAULT_DIMENSIONS = 384

# Native output sizes of the OpenAI embedding models the product knows.
OPENAI_MODEL_DIMENSIONS = {
    "text-embedding-3-large": 3072,
    "text-embedding-3-small": 1536,
    "text-embedding-ada-002": 1536,
}


class EmbeddingChoice:
    """The resolved embedder configuration: provider, model name, dimensions and stored model id."""

    def __init__(self, provider: EmbeddingProvider, model: str, dimensions: int, requested_dimensions: int | None):
        self.provider = provider
        self.model = model
        self.dimensions = dimensions
        # Only OpenAI's text-embedding-3 models take a `dimensions` request parameter.
        self.requested_dimensions = requested_dimensions

    @property
    def model_id(self) -> str:
        """What rows record in movies.embedding_model: vectors of different ids are never compared."""
        if self.provider == "hash":
            return f"hash-{self.dimensions}"
        if self.requested_dimensions is not None:
            return f"{self.model}@{self.dimensions}"
        return self.model

    def __repr__(self) -> str:
        return f"EmbeddingChoice({self.provider!r}, {self.model!r}, {self.dimensions})"


#: The stream policy fields STREAM_POLICY_OVERRIDES may set (streams.policy.StreamPolicy).
POLICY_FIELDS = ("max_attempts", "backoff_ms", "visibility_timeout_ms", "max_reclaims", "handler_timeout_ms")


class PopChoiceSettings(BaseSettings):
    """Settings every process shares."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", frozen=True)

    database_url: SecretStr | None = Field(
        default=None,
        description="PostgreSQL (with pgvector) DSN. Unset: an embedded PostgreSQL under DATA_DIR/postgres.",
    )
    data_dir: Path = Field(default=Path(".data"), description="Where embedded services keep their files.")
    redis_url: SecretStr | None = Field(default=None, description="Redis DSN for the job streams.")
    log_level: str = Field(default="INFO")
    log_format: Literal["auto", "json", "console"] = Field(
        default="auto", description="auto: console in a terminal, JSON otherwise."
    )

    stream_key_prefix: str = Field(default="popchoice:", description="Prefix of every job-system key in Redis.")
    stream_policy_overrides: dict[str, dict[str, int]] = Field(
        default_factory=dict,
        description="JSON: per stream, any of max_attempts, backoff_ms, visibility_timeout_ms, max_reclaims,"
        " handler_timeout_ms.",
    )
    job_completed_retention_seconds: int = Field(default=86_400, ge=0)
    job_completed_retention_count: int = Field(default=10_000, ge=0)
    job_dead_retention_seconds: int = Field(default=7 * 86_400, ge=0)
    job_dead_retention_count: int = Field(default=10_000, ge=0)
    worker_shutdown_grace_seconds: float = Field(default=30.0, ge=0)
    stream_outage_window_seconds: float = Field(
        default=120.0,
        ge=60,
        description="A job failing because PostgreSQL or Redis is not answering is retried (1 s, doubling to 15 s)"
        " without counting its attempts for this long after its first such failure.",
    )
    metrics_port: int | None = Field(default=None, ge=1, le=65535, description="Serve /metrics here when set.")

    tmdb_api_key: SecretStr | None = Field(default=None, description="TMDB v4 read-access token (Bearer).")
    tmdb_base_url: str = Field(default="https://api.themoviedb.org/3")
    tmdb_language: str = Field(default="en-US")
    tmdb_image_base_url: str = Field(default="https://image.tmdb.org/t/p")
    tmdb_timeout_seconds: float = Field(default=10.0, gt=0)
    tmdb_max_retries: int = Field(default=3, ge=0)
    catalog_tmdb_requests_per_window: int = Field(default=10, ge=1)
    catalog_tmdb_rate_limit_window_ms: int = Field(default=10_000, ge=1)
    catalog_tmdb_429_backoff_ms: int = Field(default=30_000, ge=0)
    tmdb_interactive_max_wait_ms: int = Field(
        default=3000,
        ge=0,
        description="Longest a person's TMDB fallback waits for the budget or a 429 pause; then catalog only.",
    )
    catalog_tmdb_rate_limit_margin_ms: int = Field(default=250, ge=0)
    catalog_maintenance_concurrency: int = Field(default=1, ge=1)

    openai_chat_model: str | None = Field(
        default="gpt-4o-mini", description="Writes pick descriptions when OPENAI_API_KEY is set; empty: none."
    )
    openai_moderation_model: str = Field(default="omni-moderation-latest")
    description_timeout_seconds: float = Field(default=8.0, gt=0)
    description_max_tokens: int = Field(default=600, ge=50)

    similarity_threshold: float | None = Field(
        default=None, description="Strong-match similarity. Unset: the embedding model's calibrated threshold."
    )
    min_high_quality_local: int = Field(default=3, ge=0)
    local_match_count: int = Field(
        default=20, ge=1, description="Catalog candidates per search (near the quiz text, and near each anchor film)."
    )
    exact_search_max_films: int = Field(
        default=2000,
        ge=0,
        description="The candidate search measures every film meeting a quiz's era and moods exactly while at most"
        " this many qualify; above it (or with no era and no moods) it uses the HNSW index. 0: always the index.",
    )
    catalog_index_max_mb: int = Field(
        default=64,
        ge=0,
        description="Each process that recommends keeps the embeddings, years, genres, age ratings and runtimes of"
        " the catalog in memory while its embeddings fit in this many MB (films x dimensions x 4 bytes), and runs"
        " the exact candidate search there; the films it picks are read, and their filters checked again, in"
        " PostgreSQL. 0: the search always runs in PostgreSQL.",
    )
    catalog_index_refresh_seconds: float = Field(
        default=10.0,
        gt=0,
        description="How often the in-memory copy checks the catalog for changes (a changed film is re-read"
        " within this; its filters are always checked in PostgreSQL).",
    )
    local_match_threshold: float = Field(default=0.1)
    max_total_movies: int = Field(default=6, ge=1)
    max_jit_seed_movies: int = Field(default=5, ge=0)
    recent_recommendation_days: int = Field(default=30, ge=0)
    stage_write_delay_ms: int = Field(
        default=50,
        ge=0,
        description="A stage is written once it has lasted this long (ms); shorter ones are not. 0: every stage.",
    )

    embedding_provider: EmbeddingProvider | None = Field(
        default=None, description="openai | local | hash. Unset: openai when OPENAI_API_KEY is set, else local."
    )
    embedding_model: str | None = Field(default=None, description="Unset: the provider's default model.")
    embedding_dimensions: int | None = Field(default=None, ge=1, le=4000)
    embedding_batch_size: int = Field(default=256, ge=1, le=2048)
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    openai_timeout_seconds: float = Field(default=60.0, gt=0)

    @field_validator("database_url", "redis_url", "openai_api_key", "tmdb_api_key", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("stream_policy_overrides")
    @classmethod
    def _known_policy_fields(cls, value: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
        """A misspelt or non-positive policy field is refused at start-up, naming it."""
        for stream, fields in value.items():
            for name, number in fields.items():
                if name not in POLICY_FIELDS:
                    raise ValueError(f"{stream}.{name} is not a policy field (one of {', '.join(POLICY_FIELDS)})")
                if number < 1:
                    raise ValueError(f"{stream}.{name} must be at least 1, not {number}")
        return value

    @field_validator("embedding_provider", "embedding_model", "openai_base_url", "openai_chat_model", mode="before")
    @classmethod
    def _blank_text_is_unset(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @cached_property
    def embedding(self) -> EmbeddingChoice:
        """The embedder this process uses, with defaults filled in."""
        provider: EmbeddingProvider = self.embedding_provider or ("openai" if self.openai_api_key else "local")
        if provider == "openai":
            if self.openai_api_key is None:
                raise ConfigurationError("EMBEDDING_PROVIDER=openai needs OPENAI_API_KEY")
            model = self.embedding_model or OPENAI_DEFAULT_EMBEDDING_MODEL
            native = OPENAI_MODEL_DIMENSIONS.get(model)
            if native is None and self.embedding_dimensions is None:
                raise ConfigurationError(f"EMBEDDING_DIMENSIONS is required for the unknown OpenAI model {model!r}")
            dimensions = self.embedding_dimensions or native
            assert dimensions is not None
            requested = self.embedding_dimensions if self.embedding_dimensions not in (None, native) else None
            return EmbeddingChoice("openai", model, dimensions, requested)
        if provider == "local":
            model = self.embedding_model or LOCAL_DEFAULT_EMBEDDING_MODEL
            if model != LOCAL_DEFAULT_EMBEDDING_MODEL:
                raise ConfigurationError(
                    f"the local embedder ships only {LOCAL_DEFAULT_EMBEDDING_MODEL}; got EMBEDDING_MODEL={model!r}"
                )
            if self.embedding_dimensions not in (None, 384):
                raise ConfigurationError("all-MiniLM-L6-v2 produces 384 dimensions; unset EMBEDDING_DIMENSIONS")
            return EmbeddingChoice("local", model, 384, None)
        dimensions = self.embedding_dimensions or HASH_DEFAULT_DIMENSIONS
        return EmbeddingChoice("hash", "hash", dimensions, None)

    def redis_dsn(self) -> str | None:
        """The configured Redis DSN in clear text, or None. Never log it."""
        return self.redis_url.get_secret_value() if self.redis_url else None

    def database_dsn(self) -> str | None:
        """The configured DSN in clear text, or None for the embedded server. Never log it."""
        return self.database_url.get_secret_value() if self.database_url else None
