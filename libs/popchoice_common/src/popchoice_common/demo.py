"""``popchoice-demo`` (``make demo``): the whole product on embedded defaults, as it is deployed.

Migrates and seeds, then runs each service as its own process with one combined log, every line
prefixed with the process's name: the gateway, two recommenders and the operator console; with
TMDB_API_KEY also the catalog-seeder, the backfill worker and discovery's scheduler. PostgreSQL is
DATABASE_URL or the embedded server; Redis is REDIS_URL or a redis-server started here under
DATA_DIR/redis (append-only, on DEMO_REDIS_PORT). Ctrl-C (or SIGTERM) stops every process: each gets
SIGTERM and the time its own shutdown grace needs, then SIGKILL.

DEMO_MODE=inline keeps the older shape: one gateway process that runs the pipeline itself, no Redis.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import socket
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TextIO

import redis.asyncio as redis
from pydantic import Field

from popchoice_common.redis_connection import connect_redis
from popchoice_common.settings import PopChoiceSettings

NAME_WIDTH = 16
REDIS_INSTALL_HINT = (
    "no redis-server on PATH: install one (Debian/Ubuntu: `apt-get install -y redis-server`; "
    "macOS: `brew install redis`), or set REDIS_URL to a Redis 7 server, or run DEMO_MODE=inline make demo"
)


class DemoSettings(PopChoiceSettings):
    """How ``make demo`` runs the product."""

    demo_mode: Literal["services", "inline"] = Field(
        default="services",
        description="services: every service as its own process over Redis Streams; inline: the gateway alone "
        "runs the pipeline (no Redis).",
    )
    demo_redis_port: int = Field(
        default=6390, ge=1, le=65535, description="Port of the redis-server the demo starts when REDIS_URL is unset."
    )
    demo_recommenders: int = Field(default=2, ge=1, le=8, description="Recommender processes the demo starts.")
    demo_stop_seconds: float = Field(
        default=40.0, gt=0, description="On Ctrl-C, how long processes may take to stop before SIGKILL."
    )
    gateway_host: str = Field(default="127.0.0.1")
    gateway_port: int = Field(default=8000, ge=1, le=65535)
    operator_console_host: str = Field(default="127.0.0.1")
    operator_console_port: int = Field(default=8090, ge=1, le=65535)


@dataclass(frozen=True, slots=True)
class Planned:
    """A process the demo will start, or a reason it will not."""

    name: str
    command: tuple[str, ...]
    why: str
    runs: bool = True
    env: dict[str, str] = field(default_factory=dict)


def plan(settings: DemoSettings, *, bin_dir: Path, console_available: bool) -> list[Planned]:
    """Which processes run, and why (printed before they start)."""
    tmdb = settings.tmdb_api_key is not None

    def cmd(script: str, *args: str) -> tuple[str, ...]:
        return (str(bin_dir / script), *args)

    if settings.demo_mode == "inline":
        return [
            Planned("gateway", cmd("popchoice-gateway"), "the HTTP API; runs the pipeline itself (DEMO_MODE=inline)")
        ]
    processes = [Planned("gateway", cmd("popchoice-gateway"), "the HTTP API and pages; queues each quiz")]
    processes += [
        Planned(f"recommender-{n}", cmd("popchoice-recommender"), "recommendation and more-picks jobs")
        for n in range(1, settings.demo_recommenders + 1)
    ]
    processes.append(
        Planned("console", cmd("popchoice-health", "serve"), "the operator console (jobs and backoffice)")
        if console_available
        else Planned("console", (), "this build has no operator console (`popchoice-health serve`)", runs=False)
    )
    catalog_workers = [
        ("catalog-seeder", cmd("popchoice-catalog-seeder"), "seeds films that TMDB searches found"),
        ("backfill", cmd("popchoice-backfill", "worker"), "fills missing TMDB identity and metadata"),
        ("discovery", cmd("popchoice-discovery"), "discovers new films on SYNC_SCHEDULE"),
    ]
    for name, command, why in catalog_workers:
        if tmdb:
            processes.append(Planned(name, command, why))
        else:
            processes.append(Planned(name, (), f"{why}; needs TMDB_API_KEY, which is unset", runs=False))
    return processes


def free_port(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


class Demo:
    """Starts the processes, copies their output into one log, and stops them all."""

    def __init__(self, settings: DemoSettings, *, bin_dir: Path, out: TextIO = sys.stdout) -> None:
        self.settings = settings
        self.bin_dir = bin_dir
        self.out = out
        self.children: dict[str, asyncio.subprocess.Process] = {}
        self.pumps: list[asyncio.Task[None]] = []
        self.redis_server: asyncio.subprocess.Process | None = None
        self.stopping = asyncio.Event()
        self.data_dir = settings.data_dir.resolve()

    def say(self, name: str, line: str) -> None:
        self.out.write(f"{name:<{NAME_WIDTH}}| {line}\n")
        self.out.flush()

    async def _pump(self, name: str, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            self.say(name, line.decode(errors="replace").rstrip())

    async def _spawn(self, name: str, command: Sequence[str], env: dict[str, str]) -> asyncio.subprocess.Process:
        # A session of its own: the terminal's Ctrl-C reaches the demo only, which then stops each child in turn.
        process = await asyncio.create_subprocess_exec(
            *command,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        assert process.stdout is not None
        self.pumps.append(asyncio.create_task(self._pump(name, process.stdout)))
        return process

    async def _run_to_end(self, name: str, command: Sequence[str], env: dict[str, str]) -> None:
        process = await self._spawn(name, command, env)
        code = await process.wait()
        if code != 0:
            raise SystemExit(f"{name} failed (exit {code}); see its lines above")

    async def start_redis(self) -> str:
        """A redis-server of the demo's own: append-only under DATA_DIR/redis, as production must persist."""
        binary = shutil.which("redis-server")
        if binary is None:
            raise SystemExit(REDIS_INSTALL_HINT)
        port = self.settings.demo_redis_port
        url = f"redis://127.0.0.1:{port}/0"
        if not free_port(port):
            # Left running by an earlier demo (or another Redis): use it when it answers.
            if await _redis_answers(url):
                self.say("demo", f"using the Redis already listening on 127.0.0.1:{port}")
                return url
            raise SystemExit(f"port {port} is taken and is not a Redis: set DEMO_REDIS_PORT or REDIS_URL")
        folder = self.data_dir / "redis"
        folder.mkdir(parents=True, exist_ok=True)
        self.redis_server = await self._spawn(
            "redis",
            [
                binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(folder),
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--save",
                "",
            ],
            dict(os.environ),
        )
        deadline = time.monotonic() + 10
        while not await _redis_answers(url):
            if time.monotonic() > deadline or self.redis_server.returncode is not None:
                raise SystemExit("the demo's redis-server did not start; see its lines above")
            await asyncio.sleep(0.1)
        return url

    async def wait_for_gateway(self) -> bool:
        """True once GET /api/health answers 200 (the gateway loads its embedder first), within two minutes."""
        host, port = self.settings.gateway_host, self.settings.gateway_port
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not self.stopping.is_set():
            gateway = self.children.get("gateway")
            if gateway is None or gateway.returncode is not None:
                return False
            with contextlib.suppress(OSError):
                reader, writer = await asyncio.open_connection(host, port)
                writer.write(f"GET /api/health HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
                await writer.drain()
                status = await reader.readline()
                writer.close()
                if b" 200 " in status:
                    return True
            await asyncio.sleep(0.25)
        return False

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self.stopping.set)
        env = dict(os.environ)
        env.setdefault("DATA_DIR", str(self.data_dir))
        if self.settings.log_format == "auto" and self.out.isatty():
            env["LOG_FORMAT"] = "console"  # children write to a pipe, but a person reads this log
        try:
            return await self._run(env)
        finally:
            await self.stop()

    async def _run(self, env: dict[str, str]) -> int:
        bin_dir = self.bin_dir
        inline = self.settings.demo_mode == "inline"
        if not inline and self.settings.redis_dsn() is None:
            env["REDIS_URL"] = await self.start_redis()
        if inline:
            env.pop("REDIS_URL", None)
        await self._run_to_end("migrate", [str(bin_dir / "popchoice-migrate")], env)
        await self._run_to_end("seed", [str(bin_dir / "popchoice-seed")], env)
        console_available = await self._console_available(env)
        console_password = None
        if console_available and not env.get("OPERATOR_AUTH_PASSWORD") and not env.get("OPERATOR_AUTH_USERS"):
            console_password = secrets.token_urlsafe(12)
            env["OPERATOR_AUTH_USERNAME"] = env.get("OPERATOR_AUTH_USERNAME", "operator")
            env["OPERATOR_AUTH_PASSWORD"] = console_password
        planned = plan(self.settings, bin_dir=bin_dir, console_available=console_available)
        for item in planned:
            self.say("demo", f"{'start' if item.runs else 'skip '} {item.name}: {item.why}")
        for item in planned:
            if item.runs:
                self.children[item.name] = await self._spawn(item.name, item.command, {**env, **item.env})
        if not await self.wait_for_gateway():
            if not self.stopping.is_set():
                self.say("demo", "the gateway did not become healthy; stopping")
                return 1
            return 0
        self._banner(console_available, console_password, env)
        watchers = [asyncio.create_task(child.wait()) for child in self.children.values()]
        stop = asyncio.create_task(self.stopping.wait())
        done, _ = await asyncio.wait([stop, *watchers], return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if not self.stopping.is_set():
            for name, child in self.children.items():
                if child.returncode is not None:
                    self.say("demo", f"{name} exited with {child.returncode}; stopping the others")
            return 1
        return 0

    async def _console_available(self, env: dict[str, str]) -> bool:
        """Whether this build's popchoice-health has the ``serve`` command (the operator console)."""
        process = await asyncio.create_subprocess_exec(
            str(self.bin_dir / "popchoice-health"),
            "--help",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env=env,
        )
        output, _ = await process.communicate()
        return process.returncode == 0 and b"serve" in output

    def _banner(self, console_available: bool, console_password: str | None, env: dict[str, str]) -> None:
        gateway = f"http://{self.settings.gateway_host}:{self.settings.gateway_port}"
        lines = [
            "",
            "PopChoice is running.",
            f"  Quiz:         {gateway}/",
            f"  API docs:     {gateway}/docs",
        ]
        if console_available:
            console = f"http://{self.settings.operator_console_host}:{self.settings.operator_console_port}"
            lines.append(f"  Console:      {console}/")
            if console_password is not None:
                lines.append(f"  Console login (this run only): {env['OPERATOR_AUTH_USERNAME']} / {console_password}")
        lines += ["Stop everything with Ctrl-C.", ""]
        for line in lines:
            self.say("demo", line)

    async def stop(self) -> None:
        """SIGTERM to every child (services first, Redis last), SIGKILL after DEMO_STOP_SECONDS."""
        running = {name: child for name, child in self.children.items() if child.returncode is None}
        if running:
            self.say("demo", f"stopping {', '.join(running)}")
        for child in running.values():
            with contextlib.suppress(ProcessLookupError):
                child.terminate()
        await self._reap(running)
        if self.redis_server is not None and self.redis_server.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.redis_server.terminate()
            await self._reap({"redis": self.redis_server})
        if self.pumps:
            await asyncio.wait(self.pumps, timeout=5)
        for name, child in self.children.items():
            # uvicorn re-raises the SIGTERM it handled, so -SIGTERM after a graceful stop is clean too.
            clean = child.returncode in (0, -signal.SIGTERM)
            self.say("demo", f"{name} stopped" + ("" if clean else f" (exit {child.returncode})"))

    async def _reap(self, processes: dict[str, asyncio.subprocess.Process]) -> None:
        if not processes:
            return
        waits = {asyncio.create_task(p.wait()): name for name, p in processes.items()}
        _, pending = await asyncio.wait(waits, timeout=self.settings.demo_stop_seconds)
        for task in pending:
            name = waits[task]
            self.say("demo", f"{name} did not stop in {self.settings.demo_stop_seconds:g} s: SIGKILL")
            with contextlib.suppress(ProcessLookupError):
                processes[name].kill()
        if pending:
            await asyncio.wait(pending)


async def _redis_answers(url: str) -> bool:
    client = connect_redis(url, socket_connect_timeout=0.5, socket_timeout=0.5)
    try:
        return bool(await client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        await client.aclose()


def main(argv: list[str] | None = None) -> int:
    """Runs the demo until Ctrl-C; exits 0 after a clean stop."""
    parser = argparse.ArgumentParser(prog="popchoice-demo", description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.parse_args(argv)
    settings = DemoSettings()
    bin_dir = Path(sys.executable).parent
    try:
        return asyncio.run(Demo(settings, bin_dir=bin_dir).run())
    except SystemExit as exc:
        if isinstance(exc.code, str):
            print(f"popchoice-demo: {exc.code}", file=sys.stderr)
            return 1
        raise
