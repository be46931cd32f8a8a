"""The shared TMDB budget holds across real worker processes (a short run of bench/tmdb_budget)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_four_worker_processes_never_exceed_the_shared_budget(postgres_url, redis_url):
    """Two discovery and two catalog-seeder processes together stay within the fake TMDB's limit."""
    env = {**os.environ, "DATABASE_URL": postgres_url, "REDIS_URL": redis_url}
    completed = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "tmdb_budget" / "run.py"),
            "--requests-per-window",
            "15",
            "--window-ms",
            "1000",
            "--seconds",
            "4",
            "--films",
            "400",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["over_limit"] == 0
    assert result["exit_codes"] == [0, 0, 0, 0]
    assert result["films_seeded"] > 0
