"""Redis clients from REDIS_URL: one node or a cluster, and commands packed by hiredis exactly as redis-py would."""

import pytest
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import Connection
from redis.exceptions import DataError

from popchoice_common.redis_connection import HiredisPackingConnection, connect_redis, is_cluster_url


@pytest.mark.parametrize(
    "args",
    [
        ("EVALSHA", "a" * 40, 2, "{popchoice:s}", "{popchoice:s}:job:x", "group", 1764600000000, 86400),
        ("SET", b"key", b"\x00\xffbinary", "PX", 1500),
        ("ZADD", "z", 1.5, "m", -2.25e-7, "n", float("inf"), "o"),
        ("HSET", "h", "naïve", "日本語", "n", -17, "big", 2**70),
        ("CONFIG GET", "maxmemory"),
        ("XADD", "s", "*", "data", memoryview(b"payload"), "other", bytearray(b"x")),
    ],
)
def test_hiredis_packing_gives_the_bytes_redis_py_gives(args):
    """Every kind of argument the product sends is packed to the same bytes as redis-py's own packer."""
    ours, theirs = HiredisPackingConnection(), Connection()
    assert b"".join(ours.pack_command(*args)) == b"".join(bytes(part) for part in theirs.pack_command(*args))


def test_hiredis_packing_refuses_what_redis_py_refuses():
    """A bool is refused as redis-py refuses it (DataError), not sent as 1 or True."""
    with pytest.raises(DataError):
        HiredisPackingConnection().pack_command("SET", "k", True)


async def test_a_cluster_url_gives_a_cluster_client_and_a_plain_url_a_node_client():
    """redis+cluster:// (seed nodes comma-separated) makes a RedisCluster; redis:// a Redis with the hiredis packer."""
    assert is_cluster_url("redis+cluster://a:7000,b:7001") and not is_cluster_url("redis://a:6379/0")
    cluster = connect_redis("redis+cluster://127.0.0.1:7000,127.0.0.1:7001")
    node = connect_redis("redis://127.0.0.1:6379/0")
    try:
        assert isinstance(cluster, RedisCluster)
        assert {(n.host, n.port) for n in cluster.nodes_manager.startup_nodes.values()} >= {
            ("127.0.0.1", 7000),
            ("127.0.0.1", 7001),
        }
        assert not isinstance(node, RedisCluster)
        assert node.connection_pool.connection_class is HiredisPackingConnection
    finally:
        await cluster.aclose()
        await node.aclose()
