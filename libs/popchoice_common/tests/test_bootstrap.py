"""A worker process stopped while it is still starting exits cleanly (0), not killed by the signal."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_sigterm_during_start_up_exits_0(redis_url, key_prefix):
    """A database that accepts connections but never answers holds the start-up; SIGTERM then ends
    the process with exit code 0 and a stopped_before_start log line."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    metrics_port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"postgresql://nobody@127.0.0.1:{silent.getsockname()[1]}/nothing",
        "REDIS_URL": redis_url,
        "STREAM_KEY_PREFIX": key_prefix,
        "EMBEDDING_PROVIDER": "hash",
        "METRICS_PORT": str(metrics_port),
        "LOG_FORMAT": "json",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "popchoice_recommender"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 60
        while True:  # /metrics answers once the process is inside its start-up
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline and process.poll() is None, "the worker did not start"
                time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
        silent.close()
    assert process.returncode == 0, output.decode()
    assert b"stopped_before_start" in output
