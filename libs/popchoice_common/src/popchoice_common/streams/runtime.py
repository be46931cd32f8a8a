"""Builds the job-system objects from settings, once per process."""

from __future__ import annotations

import redis.asyncio as redis

from popchoice_common.errors import ConfigurationError
from popchoice_common.redis_connection import connect_redis
from popchoice_common.settings import PopChoiceSettings
from popchoice_common.streams.admin import StreamsAdmin
from popchoice_common.streams.jobs import Publisher
from popchoice_common.streams.keys import StreamKeys
from popchoice_common.streams.worker import RetentionSettings, Worker


def create_redis(settings: PopChoiceSettings) -> redis.Redis:
    """A Redis client from REDIS_URL (raises when it is unset): a RedisCluster for a
    ``redis+cluster://`` URL (popchoice_common.redis_connection)."""
    dsn = settings.redis_dsn()
    if dsn is None:
        raise ConfigurationError("REDIS_URL is not set: the job streams need Redis")
    return connect_redis(dsn, health_check_interval=30)


def stream_keys(settings: PopChoiceSettings) -> StreamKeys:
    return StreamKeys(settings.stream_key_prefix)


def create_publisher(client: redis.Redis, settings: PopChoiceSettings) -> Publisher:
    return Publisher(client, stream_keys(settings))


def create_admin(client: redis.Redis, settings: PopChoiceSettings) -> StreamsAdmin:
    return StreamsAdmin(client, stream_keys(settings))


def create_worker(client: redis.Redis, settings: PopChoiceSettings, *, service: str) -> Worker:
    """A worker named after its service (the consumer group), with the settings' retention and policies."""
    return Worker(
        client,
        service=service,
        keys=stream_keys(settings),
        retention=RetentionSettings(
            completed_seconds=settings.job_completed_retention_seconds,
            completed_count=settings.job_completed_retention_count,
            dead_seconds=settings.job_dead_retention_seconds,
            dead_count=settings.job_dead_retention_count,
        ),
        policy_overrides=settings.stream_policy_overrides,
        shutdown_grace_seconds=settings.worker_shutdown_grace_seconds,
        outage_window_seconds=settings.stream_outage_window_seconds,
    )


def serve_metrics(settings: PopChoiceSettings) -> None:
    """Serves Prometheus /metrics on METRICS_PORT when it is set."""
    if settings.metrics_port is not None:
        from prometheus_client import start_http_server

        start_http_server(settings.metrics_port, addr="0.0.0.0")
