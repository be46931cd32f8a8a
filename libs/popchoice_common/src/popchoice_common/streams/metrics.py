"""Prometheus metrics of the job runtime, labelled by service and stream (one set per process)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

JOBS_PROCESSED = Counter("popchoice_jobs_processed_total", "Jobs whose handler finished", ["service", "stream"])
JOBS_FAILED = Counter("popchoice_jobs_failed_total", "Handler runs that raised", ["service", "stream"])
JOBS_RETRIED = Counter("popchoice_jobs_retried_total", "Failed jobs scheduled for a retry", ["service", "stream"])
JOBS_DEAD = Counter("popchoice_jobs_dead_lettered_total", "Jobs moved to the dead-letter stream", ["service", "stream"])
JOBS_RECLAIMED = Counter(
    "popchoice_jobs_reclaimed_total", "Entries taken over from a consumer that stopped", ["service", "stream"]
)
HANDLER_SECONDS = Histogram(
    "popchoice_job_handler_seconds",
    "Handler duration",
    ["service", "stream"],
    buckets=(0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
QUEUE_LAG = Gauge("popchoice_queue_lag", "Entries not yet delivered to the consumer group", ["service", "stream"])
PENDING = Gauge("popchoice_queue_pending", "Entries delivered but not acknowledged", ["service", "stream"])
