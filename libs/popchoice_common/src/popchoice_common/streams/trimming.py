"""Trimming a stream below what every consumer group has acknowledged (MINID), never past a pending entry."""

from __future__ import annotations

import redis.asyncio as redis
from redis.exceptions import ResponseError

from popchoice_common.logs import get_logger
from popchoice_common.streams.subscription import as_text

log = get_logger(__name__)


def _next_id(entry_id: str) -> str:
    milliseconds, sequence = entry_id.split("-")
    return f"{milliseconds}-{int(sequence) + 1}"


async def safe_trim_id(client: redis.Redis, key: str) -> str | None:
    """The lowest entry id some group still needs (pending or undelivered); None when no group exists."""
    try:
        groups = await client.xinfo_groups(key)
    except ResponseError:
        return None
    if not groups:
        return None
    needed = []
    for group in groups:
        last = as_text(group["last-delivered-id"])
        needed.append(_next_id(last))
        if group["pending"]:
            summary = await client.xpending(key, as_text(group["name"]))
            # None when the entries were acked between the two calls: nothing pending holds the cut back.
            if summary["min"] is not None:
                needed.append(as_text(summary["min"]))
    return min(needed, key=lambda entry_id: tuple(int(part) for part in entry_id.split("-")))


async def trim_stream(client: redis.Redis, key: str) -> int:
    """Removes entries every group has acknowledged (XTRIM MINID); never a pending or undelivered one."""
    cut = await safe_trim_id(client, key)
    if cut is None:
        return 0
    removed: int = await client.xtrim(key, minid=cut, approximate=False)
    return removed
