"""Redis key names of the job system, all under one prefix."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StreamKeys:
    prefix: str = "popchoice:"

    def stream(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def dead(self, name: str) -> str:
        """The dead-letter stream ``<stream>:dead``."""
        return f"{self.prefix}{name}:dead"

    def delayed(self, name: str) -> str:
        """Sorted set of job ids waiting for a retry, scored by due time (ms)."""
        return f"{self.prefix}{name}:delayed"

    def completed_index(self, name: str) -> str:
        """Sorted set of completed job ids by finish time, for count-based retention."""
        return f"{self.prefix}{name}:completed"

    def dead_index(self, name: str) -> str:
        """Sorted set of dead job ids by time of death, for count-based retention."""
        return f"{self.prefix}{name}:dead-jobs"

    def paused(self, name: str) -> str:
        return f"{self.prefix}{name}:paused"

    def counters(self, name: str) -> str:
        """Hash of lifetime counters (enqueued, processed, failed, retried, dead, reclaimed)."""
        return f"{self.prefix}{name}:counters"

    def throughput(self, name: str) -> str:
        """Hash of per-minute counts: ``c:<minute>`` jobs completed, ``f:<minute>`` failures (the last two hours)."""
        return f"{self.prefix}{name}:throughput"

    def job_errors(self, job_id: str) -> str:
        """List of a job's failures (JSON: attempt, at, error, traceback), newest last, the last 20 kept."""
        return f"{self.prefix}job-errors:{job_id}"

    def job(self, job_id: str) -> str:
        return f"{self.prefix}job:{job_id}"

    @property
    def job_prefix(self) -> str:
        return f"{self.prefix}job:"
