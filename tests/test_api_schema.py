"""schemathesis against the gateway's OpenAPI document: generated requests never get a 5xx or an answer
that contradicts the schema."""

import asyncio
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from popchoice_common.testing.factories import insert_api_key, insert_movie, insert_user

from .service_processes import API_KEY, Processes, start_gateway


@pytest.fixture
async def gateway(db_pool, database_url, redis_url, key_prefix, tmp_path):
    # The key acts for a person, so the routes that act on an account (movie memory, feedback) are
    # exercised past their 401; a few catalog films give the memory routes something to find.
    user_id = await insert_user(db_pool, "schemathesis@example.test")
    await insert_api_key(db_pool, API_KEY, name="schemathesis", user_id=user_id)
    for number, name in enumerate(("Heat", "Thief", "Collateral")):
        await insert_movie(db_pool, name, 1990 + number, tmdb_id=100 + number, vote_count=1000 * number)
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "STREAM_KEY_PREFIX": key_prefix,
        "EMBEDDING_PROVIDER": "hash",
        "RATE_LIMIT_PER_MINUTE": "1000000",
        "LOG_LEVEL": "WARNING",
        "LOG_FORMAT": "json",
    }
    env.pop("TMDB_API_KEY", None)
    env.pop("OPENAI_API_KEY", None)
    processes = Processes(env, tmp_path)
    client = await start_gateway(processes)
    yield client.base_url
    await client.aclose()
    processes.stop_all()


@pytest.mark.slow
async def test_generated_requests_get_no_server_error_and_match_the_schema(gateway):
    """At least 500 generated cases across every route: no 5xx, statuses documented, bodies as described."""
    st = shutil.which("st", path=str(Path(sys.executable).parent))
    assert st, "schemathesis is installed with the dev extra"
    run = await asyncio.to_thread(
        subprocess.run,
        [
            st,
            "run",
            f"{gateway}/openapi.json",
            "-H",
            f"X-API-Key: {API_KEY}",
            "--max-examples",
            "60",
            "--seed",
            "1",
            "--checks",
            "not_a_server_error,response_schema_conformance,content_type_conformance,status_code_conformance",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = run.stdout + run.stderr
    generated = re.search(r"(\d+) generated", output)
    assert run.returncode == 0, output[-4000:]
    assert generated and int(generated.group(1)) >= 500, output[-2000:]
