"""Redis clients from REDIS_URL: one node, or a Redis Cluster when the URL says so.

``redis://host:port/db`` (or ``rediss://``) is one Redis node. ``redis+cluster://host:port`` (or
``rediss+cluster://``) is a Redis Cluster reached through any of its nodes (more may be listed,
comma-separated: ``redis+cluster://a:7000,b:7001``): every client is then a redis-py ``RedisCluster``,
which learns the slots from the cluster and routes each command by its key's slot.

The product's keys are laid out for a cluster (popchoice_common.keyspace): a script call's keys all
carry one hash tag, so each call runs on one shard; XREADGROUP reads one stream per call. A cluster
client offers the same commands the product uses, so it is typed as ``redis.asyncio.Redis`` here.
"""

from __future__ import annotations

from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

import hiredis
import redis.asyncio as redis_asyncio
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.connection import Connection

CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}
#: Arguments hiredis packs exactly as redis-py's encoder would (UTF-8 text, decimal integers); any other
#: type (float, bool, memoryview…) goes through redis-py's encoder first.
_NATIVE = (bytes, str, int)
_NATIVE_TYPES = frozenset(_NATIVE)


class HiredisPackingConnection(Connection):
    """redis-py's asyncio connection, with commands packed by hiredis (C) instead of Python.

    redis-py packs commands in Python in its asyncio client (the blocking client uses hiredis): on the
    streams' hot path, where every script call declares each job's key, packing was a quarter of the
    worker's CPU. The bytes on the wire are the same (the tests compare them).
    """

    def pack_command(self, *args: Any) -> list[bytes]:
        if isinstance(args[0], str):
            args = (*args[0].encode().split(), *args[1:])
        elif b" " in args[0]:
            args = (*args[0].split(), *args[1:])
        if _NATIVE_TYPES.issuperset(map(type, args)):
            # The hot path (script calls: keys and ids as str or bytes): no per-argument loop in Python.
            return [hiredis.pack_command(args)]
        encode = self.encoder.encode
        packed = []
        for arg in args:
            if type(arg) not in _NATIVE:
                arg = encode(arg)
                if type(arg) is not bytes:
                    arg = bytes(arg)
            packed.append(arg)
        return [hiredis.pack_command(tuple(packed))]


def is_cluster_url(url: str) -> bool:
    """Whether the URL names a Redis Cluster (``redis+cluster://`` or ``rediss+cluster://``)."""
    return urlsplit(url).scheme in CLUSTER_SCHEMES


def _cluster_parts(url: str) -> tuple[str, list[tuple[str, int]]]:
    """The plain URL of the first node (credentials and options kept) and every listed node."""
    parts = urlsplit(url)
    scheme = CLUSTER_SCHEMES[parts.scheme]
    credentials, _, hosts = parts.netloc.rpartition("@")
    nodes = []
    for host in hosts.split(","):
        name, _, port = host.rpartition(":")
        nodes.append((name or "127.0.0.1", int(port or 6379)))
    netloc = f"{credentials}@{hosts.split(',')[0]}" if credentials else hosts.split(",")[0]
    # A cluster has one database: the path (a /db) is dropped.
    return urlunsplit((scheme, netloc, "", parts.query, parts.fragment)), nodes


class ClusterClient(RedisCluster):
    """redis-py's asyncio RedisCluster, initialised before its first command runs, with a cheaper
    routing of script calls and stream reads (see _determine_slot).

    redis-py 8.1 resolves a command's routing policy (over the startup nodes' connections) before it
    initialises the client; when several commands are the first at once, the initialisation closes the
    startup connections under the others ("'NoneType' object has no attribute 'writelines'"). Here the
    first commands wait for the initialisation (it holds a lock) before anything else.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.nodes_manager.connection_kwargs.get("connection_class") is Connection:
            # The nodes found at initialisation are made with these (not with TLS: its own class stays).
            self.nodes_manager.connection_kwargs["connection_class"] = HiredisPackingConnection

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        if self._initialize:
            await self.initialize()
        return await super().execute_command(*args, **kwargs)

    async def _determine_slot(self, command: str, *args: Any) -> int:
        """The slot of a command, without the costs redis-py would add on the hot path.

        A script call's slot is its first key's: the product's calls declare keys of one hash tag, and
        the server refuses any call whose keys span slots (CROSSSLOT), so checking every key here (a
        CRC per declared key) adds nothing. XREADGROUP and XREAD have "movable" keys, for which redis-py
        asks the server (COMMAND GETKEYS): a round trip per read; the keys follow STREAMS.
        """
        name = str(command).upper()
        if name in ("EVALSHA", "EVAL") and len(args) > 2 and int(args[1]) > 0:
            return int(self.keyslot(args[2]))
        if name in ("XREADGROUP", "XREAD"):
            words = [str(arg).upper() if isinstance(arg, str) else arg for arg in args]
            for position, word in enumerate(words):
                if word in ("STREAMS", b"STREAMS"):
                    streams = args[position + 1 :]
                    keys = streams[: len(streams) // 2]
                    slots = {self.keyslot(key) for key in keys}
                    if len(slots) == 1:
                        return int(slots.pop())
                    break
        return int(await super()._determine_slot(command, *args))


def connect_redis(url: str, **options: Any) -> redis_asyncio.Redis:
    """An asyncio client: ``RedisCluster`` for a cluster URL, else ``Redis``."""
    if not is_cluster_url(url):
        if urlsplit(url).scheme == "redis":
            options.setdefault("connection_class", HiredisPackingConnection)
        return redis_asyncio.Redis.from_url(url, **options)
    plain, nodes = _cluster_parts(url)
    startup = [ClusterNode(host, port) for host, port in nodes[1:]]
    return cast(redis_asyncio.Redis, ClusterClient.from_url(plain, startup_nodes=startup, **options))
