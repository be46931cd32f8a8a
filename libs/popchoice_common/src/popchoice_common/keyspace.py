"""Every Redis key the product uses, built in this one module.

Keys of one stream share the hash tag ``{<prefix><stream>}`` (``{popchoice:recommendation.requested}``):
the stream itself, its dead letters, delayed retries, completed and dead indexes, each job's state hash
and error list, its counters, throughput and pause flag. In a Redis Cluster they all live in one slot,
so a Lua script may touch any of them, while different streams spread over the shards. A job's keys
carry its stream's tag: a job id alone no longer names its key.

The TMDB budget is one global budget: its keys share the tag ``{<prefix>tmdb}`` (one slot). The other
keys (rate limits, sign-in throttles, the console's secrets, discovery's run caps) are each used alone,
so they carry no tag and spread freely.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_PREFIX = "popchoice:"


@dataclass(frozen=True, slots=True)
class Keyspace:
    """Key names under one prefix (STREAM_KEY_PREFIX, default ``popchoice:``)."""

    prefix: str = DEFAULT_PREFIX

    # One stream and everything beside it: one hash tag, one cluster slot.

    def tag(self, stream: str) -> str:
        """The hash tag every key of the stream starts with."""
        return f"{{{self.prefix}{stream}}}"

    def stream(self, name: str) -> str:
        return self.tag(name)

    def dead(self, name: str) -> str:
        """The dead-letter stream."""
        return f"{self.tag(name)}:dead"

    def delayed(self, name: str) -> str:
        """Sorted set of job ids waiting for a retry, scored by due time (ms)."""
        return f"{self.tag(name)}:delayed"

    def completed_index(self, name: str) -> str:
        """Sorted set of completed job ids by finish time, for count-based retention."""
        return f"{self.tag(name)}:completed"

    def dead_index(self, name: str) -> str:
        """Sorted set of dead job ids by time of death, for count-based retention."""
        return f"{self.tag(name)}:dead-jobs"

    def paused(self, name: str) -> str:
        return f"{self.tag(name)}:paused"

    def counters(self, name: str) -> str:
        """Hash of lifetime counters (enqueued, processed, failed, retried, dead, reclaimed)."""
        return f"{self.tag(name)}:counters"

    def throughput(self, name: str) -> str:
        """Hash of per-minute counts: ``c:<minute>`` jobs completed, ``f:<minute>`` failures (the last two hours)."""
        return f"{self.tag(name)}:throughput"

    def job(self, stream: str, job_id: str) -> str:
        """Hash of one job's state (state, attempts, entry id, payload while needed, timestamps)."""
        return f"{self.tag(stream)}:job:{job_id}"

    def job_errors(self, stream: str, job_id: str) -> str:
        """List of a job's failures (JSON: attempt, at, error, traceback), newest last, the last 20 kept."""
        return f"{self.tag(stream)}:job-errors:{job_id}"

    def stream_keys(self, name: str) -> list[str]:
        """The stream's fixed keys (jobs aside), for tests and the upgrade."""
        return [
            self.stream(name),
            self.dead(name),
            self.delayed(name),
            self.completed_index(name),
            self.dead_index(name),
            self.paused(name),
            self.counters(name),
            self.throughput(name),
        ]

    # The TMDB budget: one slot for the whole product.

    def tmdb_requests(self) -> str:
        """Sorted set of the requests started in the current window."""
        return f"{{{self.prefix}tmdb}}:requests"

    def tmdb_paused_until(self) -> str:
        """When the pause after a 429 ends (ms)."""
        return f"{{{self.prefix}tmdb}}:paused-until"

    def tmdb_waiters(self) -> str:
        """Sorted set of interactive requests waiting (background requests hold back meanwhile)."""
        return f"{{{self.prefix}tmdb}}:waiters"

    # Keys used one at a time.

    def rate_limit(self, client_id: str, window: int) -> str:
        """The gateway's request count of one client in one minute."""
        return f"{self.prefix}ratelimit:{client_id}:{window}"

    def auth_attempts(self, action: str, scope: str, subject: str, window: int) -> str:
        """Sign-in (or other auth action) attempts of one address or account in one window."""
        return f"{self.prefix}auth:{action}:{scope}:{subject}:{window}"

    def auth_failures(self, account_tag: str) -> str:
        """Failed sign-ins of one account (drives its lock)."""
        return f"{self.prefix}auth:failures:{account_tag}"

    def auth_lock(self, account_tag: str) -> str:
        """Present while the account is locked after failed sign-ins."""
        return f"{self.prefix}auth:lock:{account_tag}"

    def console_auth_failures(self, client_digest: str) -> str:
        """Failed console sign-ins of one client (by digest)."""
        return f"{self.prefix}console:auth-failures:{client_digest}"

    def console_csrf_secret(self) -> str:
        return f"{self.prefix}console:csrf-secret"

    def discovery_run_selected(self, run_id: str) -> str:
        """How many films one discovery run selected so far (its per-run cap)."""
        return f"{self.prefix}discovery:run:{run_id}:selected"

    # For the test suite's cleanup.

    def patterns(self) -> list[str]:
        """SCAN patterns matching every key under this prefix (tagged and untagged)."""
        escaped = "".join(f"\\{char}" if char in "*?[]\\" else char for char in self.prefix)
        return [f"{escaped}*", f"{{{escaped}*"]


@dataclass(frozen=True, slots=True)
class LegacyKeyspace:
    """The job-system key names before the keyspace had hash tags (for ``popchoice-jobs migrate-keys``
    only): ``<prefix><stream>`` and beside it ``:dead``, ``:delayed``…, and job states under
    ``<prefix>job:<id>`` whatever their stream. Only a single Redis node ever held them."""

    prefix: str = DEFAULT_PREFIX

    def stream(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def dead(self, name: str) -> str:
        return f"{self.prefix}{name}:dead"

    def delayed(self, name: str) -> str:
        return f"{self.prefix}{name}:delayed"

    def completed_index(self, name: str) -> str:
        return f"{self.prefix}{name}:completed"

    def dead_index(self, name: str) -> str:
        return f"{self.prefix}{name}:dead-jobs"

    def paused(self, name: str) -> str:
        return f"{self.prefix}{name}:paused"

    def counters(self, name: str) -> str:
        return f"{self.prefix}{name}:counters"

    def throughput(self, name: str) -> str:
        return f"{self.prefix}{name}:throughput"

    def job(self, job_id: str) -> str:
        return f"{self.prefix}job:{job_id}"

    def job_errors(self, job_id: str) -> str:
        return f"{self.prefix}job-errors:{job_id}"
