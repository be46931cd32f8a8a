"""popchoice-db: the embedded PostgreSQL starts under DATA_DIR, answers, and stops."""

import asyncpg

from popchoice_common.db.embedded import start_embedded_postgres, stop_embedded_postgres


async def test_the_embedded_server_starts_answers_and_stops(tmp_path):
    url = start_embedded_postgres(tmp_path)
    try:
        connection = await asyncpg.connect(url)
        try:
            assert await connection.fetchval("SELECT 1") == 1
        finally:
            await connection.close()
    finally:
        stopped = stop_embedded_postgres(tmp_path)
    assert stopped
    assert not (tmp_path / "postgres" / "postmaster.pid").exists()
    assert stop_embedded_postgres(tmp_path) is False  # nothing left to stop
