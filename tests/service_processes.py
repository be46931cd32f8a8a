"""Starting the real service processes for tests, as compose would, and talking to the gateway."""

import asyncio
import signal
import socket
import subprocess
import sys
import time

import httpx

API_KEY = "test-api-key-for-the-gateway"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Processes:
    def __init__(self, env, tmp_path):
        self.env = env
        self.tmp_path = tmp_path
        self.running = []

    def start(self, module, *args, **extra):
        log = open(self.tmp_path / f"{module}-{len(self.running)}.log", "w")  # noqa: SIM115 - closed at stop
        env = {**self.env, **{key: str(value) for key, value in extra.items()}}
        env = {key: value for key, value in env.items() if value != ""}
        command = [sys.executable, "-m", module, *args]
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.running.append((process, log))
        return process

    def stop_all(self):
        for process, _ in self.running:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process, log in self.running:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
            log.close()


async def start_gateway(processes, port=None, **extra):
    """A gateway on port (a free one when None), once it answers its health check; a client of it."""
    port = port or free_port()
    processes.start("popchoice_gateway", GATEWAY_PORT=port, **extra)
    client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers={"X-API-Key": API_KEY}, timeout=30)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if (await client.get("/api/health")).status_code == 200:
                return client
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.2)
    raise AssertionError("the gateway did not become healthy")
