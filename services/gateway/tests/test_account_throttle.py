"""The auth limits' counting, in Redis and without it, and the sweep of ended credentials."""

import datetime as dt

import pytest
import redis.asyncio as redis_asyncio

from popchoice_common.keyspace import Keyspace
from popchoice_common.testing.factories import insert_user
from popchoice_gateway.accounts.passwords import Passwords
from popchoice_gateway.accounts.service import AccountService
from popchoice_gateway.accounts.sessions import Sessions
from popchoice_gateway.accounts.throttle import AuthThrottle, TooManyAttempts, account_tag


@pytest.fixture
def redis_url(single_or_cluster_redis_url):
    """Every test here runs on one Redis node (id single) and on the Redis Cluster (cluster)."""
    return single_or_cluster_redis_url


def throttle(client, key_prefix, **limits) -> AuthThrottle:
    settings = {
        "window_seconds": 900,
        "per_address": 100,
        "per_account": 100,
        "backoff_base_seconds": 10.0,
        "backoff_max_seconds": 35.0,
        **limits,
    }
    return AuthThrottle(client, prefix=key_prefix, **settings)


async def test_the_lock_doubles_after_three_failures_up_to_the_maximum(redis_client, key_prefix):
    """Failures 1–3 lock nothing; the 4th locks for the base, the 5th for twice it, then the maximum."""
    limits = throttle(redis_client, key_prefix)
    locks = []
    for _ in range(6):
        await limits.failed("ada@example.com")
        locks.append(await limits._remaining(Keyspace(key_prefix).auth_lock(account_tag("ada@example.com"))))
    assert locks[:3] == [0, 0, 0]
    assert 9 < locks[3] <= 10 and 19 < locks[4] <= 20 and 34 < locks[5] <= 35
    with pytest.raises(TooManyAttempts) as raised:
        await limits.check_lock("ada@example.com")
    assert raised.value.retry_after == 35
    await limits.succeeded("ada@example.com")
    await limits.check_lock("ada@example.com")


async def test_keys_name_accounts_by_digest_never_by_address(redis_client, key_prefix):
    """No Redis key holds the e-mail address itself."""
    limits = throttle(redis_client, key_prefix)
    await limits.check("login", "203.0.113.7", "secret.person@example.com")
    await limits.failed("secret.person@example.com")
    keys = [key.decode() async for key in redis_client.scan_iter(match=f"{key_prefix}*")]
    assert len(keys) == 3 and not any("secret.person" in key for key in keys)


async def test_with_redis_down_the_limits_are_kept_in_the_process(key_prefix):
    """A Redis that does not answer does not open the gate: the process counts instead."""
    unreachable = redis_asyncio.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    limits = throttle(unreachable, key_prefix, per_address=2)
    await limits.check("login", "198.51.100.1", None)
    await limits.check("login", "198.51.100.1", None)
    with pytest.raises(TooManyAttempts):
        await limits.check("login", "198.51.100.1", None)
    for _ in range(4):
        await limits.failed("down@example.com")
    with pytest.raises(TooManyAttempts):
        await limits.check_lock("down@example.com")
    await unreachable.aclose()


async def test_the_sweep_deletes_ended_sessions_and_old_reset_tokens(db_conn):
    """Sessions past either expiry and reset tokens a day past theirs are deleted; live ones stay."""
    user = await insert_user(db_conn)
    now = dt.datetime.now(dt.UTC)
    rows = [
        ("a" * 64, now + dt.timedelta(days=1), now),  # live
        ("b" * 64, now - dt.timedelta(seconds=1), now),  # past its absolute expiry
        ("c" * 64, now + dt.timedelta(days=1), now - dt.timedelta(days=8)),  # idle too long
    ]
    for digest, expires_at, last_seen_at in rows:
        await db_conn.execute(
            "INSERT INTO user_sessions (id_digest, user_id, expires_at, last_seen_at) VALUES ($1, $2, $3, $4)",
            digest,
            user,
            expires_at,
            last_seen_at,
        )
    for digest, expires_at in [("d" * 64, now - dt.timedelta(days=2)), ("e" * 64, now - dt.timedelta(hours=1))]:
        await db_conn.execute(
            "INSERT INTO password_reset_tokens (user_id, token_hash, expires_at) VALUES ($1, $2, $3)",
            user,
            digest,
            expires_at,
        )

    class OneConnection:
        def acquire(self):
            return self

        async def __aenter__(self):
            return db_conn

        async def __aexit__(self, *exc):
            return None

    pool = OneConnection()
    service = AccountService(
        pool,
        passwords=Passwords(time_cost=1, memory_kib=8, parallelism=1),
        sessions=Sessions(pool, idle=dt.timedelta(days=7), absolute=dt.timedelta(days=30)),
        throttle=throttle(None, "unused:"),
        mailer=None,
        public_base_url="http://127.0.0.1:8000",
        mail_from="x@example.com",
        reset_token_ttl=dt.timedelta(minutes=30),
    )
    await service.sweep()
    assert [r["id_digest"][0] for r in await db_conn.fetch("SELECT id_digest FROM user_sessions")] == ["a"]
    assert [r["token_hash"][0] for r in await db_conn.fetch("SELECT token_hash FROM password_reset_tokens")] == ["e"]
