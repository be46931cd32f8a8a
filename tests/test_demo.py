"""`make demo` (popchoice-demo) runs the product as deployed: its own Redis, each service as a process,
one combined log, a quiz answered through the queue, and Ctrl-C stopping everything."""

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from popchoice_common.demo import DemoSettings, plan

from .service_processes import free_port

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[1]
LINE = re.compile(r"^[a-z0-9-]+ +\| ")


def test_the_plan_says_what_runs_and_why(monkeypatch):
    for name in ("TMDB_API_KEY", "DEMO_MODE", "DEMO_RECOMMENDERS"):
        monkeypatch.delenv(name, raising=False)
    processes = {item.name: item for item in plan(DemoSettings(), bin_dir=BIN, console_available=True)}
    assert [name for name, item in processes.items() if item.runs] == [
        "gateway",
        "recommender-1",
        "recommender-2",
        "console",
    ]
    for name in ("catalog-seeder", "backfill", "discovery"):
        assert not processes[name].runs
        assert "TMDB_API_KEY" in processes[name].why
    assert processes["console"].command[-1] == "serve"

    monkeypatch.setenv("TMDB_API_KEY", "k")
    with_tmdb = plan(DemoSettings(), bin_dir=BIN, console_available=False)
    assert {item.name for item in with_tmdb if item.runs} == {
        "gateway",
        "recommender-1",
        "recommender-2",
        "catalog-seeder",
        "backfill",
        "discovery",
    }
    assert "no operator console" in next(item.why for item in with_tmdb if item.name == "console")

    monkeypatch.setenv("DEMO_MODE", "inline")
    assert [item.name for item in plan(DemoSettings(), bin_dir=BIN, console_available=True)] == ["gateway"]


def _wait_for(log: Path, text: str, process: subprocess.Popen[bytes], limit: float) -> str:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        content = log.read_text(errors="replace")
        if text in content:
            return content
        if process.poll() is not None:
            raise AssertionError(f"popchoice-demo exited with {process.returncode}:\n{content[-3000:]}")
        time.sleep(0.25)
    raise AssertionError(f"no {text!r} within {limit} s:\n{log.read_text(errors='replace')[-3000:]}")


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server on PATH")
def test_demo_runs_every_service_as_a_process_and_ctrl_c_stops_them_all(database_factory, tmp_path):
    movies = tmp_path / "movies.txt"
    movies.write_text("\n\n".join((ROOT / "movies.txt").read_text().split("\n\n")[:40]) + "\n")
    gateway_port, redis_port = free_port(), free_port()
    env = {
        **{key: value for key, value in os.environ.items() if key not in ("REDIS_URL", "TMDB_API_KEY")},
        "DATABASE_URL": database_factory.create(migrated=False),
        "DATA_DIR": str(tmp_path / "data"),
        "EMBEDDING_PROVIDER": "hash",
        "MOVIES_FILE_PATH": str(movies),
        "GATEWAY_PORT": str(gateway_port),
        "DEMO_REDIS_PORT": str(redis_port),
        "OPERATOR_CONSOLE_PORT": str(free_port()),
        "LOG_FORMAT": "json",
    }
    log = tmp_path / "demo.log"
    with log.open("wb") as out:
        demo = subprocess.Popen([str(BIN / "popchoice-demo")], env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            banner = _wait_for(log, "Stop everything with Ctrl-C.", demo, 180)
            assert f"Quiz:         http://127.0.0.1:{gateway_port}/" in banner
            assert f"http://127.0.0.1:{gateway_port}/docs" in banner
            assert "skip  catalog-seeder" in banner and "TMDB_API_KEY" in banner

            with httpx.Client(base_url=f"http://127.0.0.1:{gateway_port}", timeout=30) as client:
                token = client.get("/api/csrf").json()["csrfToken"]
                quiz = {
                    "favoriteMovie": "Nosferatu",
                    "newVsClassic": "classic",
                    "moodPreference": ["Comedy"],
                    "tonePreference": "funny",
                }
                created = client.post("/api/recommendations", json=quiz, headers={"X-CSRF-Token": token})
                assert created.status_code == 201, created.text
                deadline = time.monotonic() + 60
                while (body := client.get(f"/api/recommendations/{created.json()['id']}").json())["status"] not in (
                    "completed",
                    "failed",
                ):
                    assert time.monotonic() < deadline, body
                    time.sleep(0.25)
                assert body["status"] == "completed", body
            content = log.read_text()
            # Processed by a recommender process through the demo's own Redis, not inline in the gateway.
            assert re.search(r"^recommender-\d +\| .*recommendation_completed", content, re.MULTILINE), content[-3000:]
            assert '"inline": false' in content
        finally:
            demo.send_signal(signal.SIGINT)
            code = demo.wait(timeout=90)
    content = log.read_text()
    assert code == 0, content[-3000:]
    lines = [line for line in content.splitlines() if line.strip()]
    assert all(LINE.match(line) for line in lines), [line for line in lines if not LINE.match(line)][:5]
    for name in ("gateway", "recommender-1", "recommender-2"):
        assert f"demo            | {name} stopped\n" in content, content[-2000:]
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{gateway_port}/api/health", timeout=2)
    # The demo's Redis persisted append-only and has stopped too.
    assert list((tmp_path / "data" / "redis").glob("appendonly*"))
    assert subprocess.run(["redis-cli", "-p", str(redis_port), "ping"], capture_output=True).returncode != 0
