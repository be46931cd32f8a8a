"""Lua scripts: every job-state transition happens atomically beside the stream operation it belongs to.

The scripts live in ``streams/lua/*.lua`` (package resources). Each declares every key it touches in
KEYS[] and builds no key name itself: all the keys of one call carry one stream's hash tag (see
popchoice_common.keyspace), so a Redis Cluster runs the call on the stream's shard. Where a script
would need keys it can only learn while running (the jobs read from a stream, the due retries, the
jobs past retention), the caller reads them first and the script checks they still apply.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from redis.asyncio import Redis, RedisCluster
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError


def load_lua(*names: str) -> str:
    """The source of the named .lua files of this package, joined (shared functions first)."""
    folder = resources.files("popchoice_common.streams").joinpath("lua")
    return "\n".join(folder.joinpath(f"{name}.lua").read_text(encoding="utf-8") for name in names)


PUBLISH = load_lua("publish")
CLAIMED = load_lua("mark_active", "claimed")
FINISH = load_lua("count_minute", "finish")
FAIL = load_lua("mark_active", "count_minute", "fail")
FORGET = load_lua("forget")
MOVE_DUE = load_lua("move_due")
RELEASE = load_lua("release")
RETRY_DEAD = load_lua("retry_dead")
RETRY_DEAD_AS = load_lua("retry_dead_as")
RUN_NOW = load_lua("run_now")
STREAM_OVERVIEW = load_lua("stream_overview")
# popchoice-jobs migrate-keys (streams/upgrade.py): old key names to the keyspace's, on one node.
MIGRATE_QUEUED = load_lua("migrate_job", "migrate_queued")
MIGRATE_RETRYING = load_lua("migrate_job", "migrate_retrying")
MIGRATE_DEAD = load_lua("migrate_job", "migrate_dead")
MIGRATE_INDEXED = load_lua("migrate_job", "migrate_indexed")
MIGRATE_STREAM_STATE = load_lua("migrate_stream_state")
#: Every script, by name (the tests run each against Redis to check it declares its keys).
ALL = {
    "publish": PUBLISH,
    "claimed": CLAIMED,
    "finish": FINISH,
    "fail": FAIL,
    "forget": FORGET,
    "move_due": MOVE_DUE,
    "release": RELEASE,
    "retry_dead": RETRY_DEAD,
    "retry_dead_as": RETRY_DEAD_AS,
    "run_now": RUN_NOW,
    "stream_overview": STREAM_OVERVIEW,
    "migrate_queued": MIGRATE_QUEUED,
    "migrate_retrying": MIGRATE_RETRYING,
    "migrate_dead": MIGRATE_DEAD,
    "migrate_indexed": MIGRATE_INDEXED,
    "migrate_stream_state": MIGRATE_STREAM_STATE,
}


class ScriptPipeline:
    """Script calls (and plain commands) sent together in one round trip, scripts by SHA.

    redis-py's Script objects, queued on a pipeline, make execute() ask the server SCRIPT EXISTS
    first: a second round trip on every publish and every acknowledgement batch. Here calls go out
    as EVALSHA; the rare call whose script the server no longer has (after a restart or SCRIPT
    FLUSH) did not run, so it is re-run on its own, which loads the script. A single command (one
    publish, most acknowledgement batches) goes out as a plain command: redis-py's pipeline
    machinery costs more CPU than the command itself.
    """

    def __init__(self, client: Redis | RedisCluster) -> None:
        self._client = client
        self._commands: list[tuple[Any, ...]] = []
        self._calls: dict[int, tuple[AsyncScript, list[Any], list[Any]]] = {}

    def call(self, script: AsyncScript, keys: list[Any], args: list[Any]) -> None:
        self._calls[len(self._commands)] = (script, keys, args)
        self._commands.append(("EVALSHA", script.sha, len(keys), *keys, *args))

    @property
    def pending(self) -> int:
        """How many calls and commands wait to be sent."""
        return len(self._commands)

    def command(self, *args: Any) -> None:
        """A plain command, e.g. command("XACK", stream, group, entry_id)."""
        self._commands.append(args)

    async def _send(self) -> list[Any]:
        if len(self._commands) == 1:
            try:
                return [await self._client.execute_command(*self._commands[0])]
            except NoScriptError as exc:
                return [exc]
        pipe = self._client.pipeline(transaction=False)
        for command in self._commands:
            pipe.execute_command(*command)
        try:
            replies: list[Any] = await pipe.execute(raise_on_error=False)
        finally:
            await pipe.reset()
        return replies

    async def execute(self) -> list[Any]:
        replies = await self._send()
        for position, (script, keys, args) in self._calls.items():
            if isinstance(replies[position], NoScriptError):
                replies[position] = await script(keys=keys, args=args)
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        return replies
