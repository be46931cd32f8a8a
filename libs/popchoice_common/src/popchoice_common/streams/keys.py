"""Redis key names of the job system: the product's one keyspace (popchoice_common.keyspace)."""

from __future__ import annotations

from popchoice_common.keyspace import Keyspace

#: The streams runtime's name for the keyspace (every key, not only the streams').
StreamKeys = Keyspace

__all__ = ["Keyspace", "StreamKeys"]
