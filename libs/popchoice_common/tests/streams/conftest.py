import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import pytest

from popchoice_common.streams import Publisher, StreamKeys, scripts
from popchoice_common.streams.admin import StreamsAdmin
from popchoice_common.tmdb import rate_limit

CONSUMER = Path(__file__).with_name("consumer_process.py")

# Prepended to a script under test: every redis.call first asks Redis which of its arguments are keys
# (COMMAND GETKEYS) and fails the call if one of them is not in KEYS[].
KEY_CHECK = """
local declared = {}
for _, key in ipairs(KEYS) do declared[key] = true end
local real_call = redis.call
local function checked_call(...)
  local ok, touched = pcall(real_call, 'COMMAND', 'GETKEYS', ...)
  if ok then
    for _, key in ipairs(touched) do
      if not declared[key] then error('undeclared key ' .. key .. ' in ' .. tostring((...))) end
    end
  end
  return real_call(...)
end
local redis = setmetatable({call = checked_call}, {__index = redis})
"""


@pytest.fixture
def key_check():
    """The Lua prologue that refuses any key a script touches without declaring it in KEYS[]."""
    return KEY_CHECK


@pytest.fixture
def checked_scripts(monkeypatch):
    """Every script of the streams runtime and the TMDB limiter runs with the key check in front."""
    for name in scripts.ALL:
        constant = name.upper()
        monkeypatch.setattr(scripts, constant, KEY_CHECK + getattr(scripts, constant))
    monkeypatch.setattr(rate_limit, "_ACQUIRE", KEY_CHECK + rate_limit._ACQUIRE)
    monkeypatch.setattr(rate_limit, "_PAUSE", KEY_CHECK + rate_limit._PAUSE)


@pytest.fixture
def redis_url(single_or_cluster_redis_url):
    """Every test of the streams suite runs on one Redis node (id single) and on the Redis Cluster (cluster)."""
    return single_or_cluster_redis_url


@pytest.fixture
def keys(key_prefix):
    return StreamKeys(key_prefix)


@pytest.fixture
def publisher(redis_client, keys):
    return Publisher(redis_client, keys)


@pytest.fixture
def admin(redis_client, keys):
    return StreamsAdmin(redis_client, keys)


@pytest.fixture
def start_consumer(redis_url, key_prefix, tmp_path):
    """Starts consumer_process.py as a real process; every one left running is killed afterwards."""
    processes: list[tuple[subprocess.Popen[bytes], IO[str]]] = []

    def start(**env):
        log = open(tmp_path / f"consumer-{len(processes)}.log", "w")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(
            [sys.executable, str(CONSUMER)],
            env={
                **os.environ,
                "REDIS_URL": redis_url,
                "TEST_PREFIX": key_prefix,
                **{k: str(v) for k, v in env.items()},
            },
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        processes.append((process, log))
        return process

    yield start
    for process, log in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait()
        log.close()


@pytest.fixture
def wait_for():
    """Polls an async predicate until it is truthy; fails the test after the timeout."""
    return _wait_for


async def _wait_for(predicate, limit=20.0, interval=0.05):
    """Polls an async predicate until it is truthy; fails the test after limit seconds."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        value = await predicate()
        if value:
            return value
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {limit} s")
