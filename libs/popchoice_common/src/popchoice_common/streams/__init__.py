"""Reliable jobs over Redis Streams: publish with dedupe, consume with retries, dead letters and recovery.

``Publisher`` enqueues events; ``Worker`` runs a service's handlers; ``StreamsAdmin`` is the
operations API behind the dashboard and ``popchoice-jobs``.
"""

from popchoice_common.streams.jobs import JobState, Publisher, PublishResult, get_job
from popchoice_common.streams.keys import StreamKeys
from popchoice_common.streams.policy import StreamPolicy, policy_for
from popchoice_common.streams.worker import JobContext, OnDead, RetentionSettings, Worker, trim_stream

__all__ = [
    "JobContext",
    "JobState",
    "OnDead",
    "PublishResult",
    "Publisher",
    "RetentionSettings",
    "StreamKeys",
    "StreamPolicy",
    "Worker",
    "get_job",
    "policy_for",
    "trim_stream",
]
