import asyncio
import shutil

import asyncpg
import pytest

from popchoice_common.db.migrations import MIGRATIONS_LOCK_KEY, MigrationEdited, migrate


@pytest.fixture
def migrations_copy(tmp_path, migrations_dir):
    """A private copy of db/init that a test may edit."""
    target = tmp_path / "init"
    shutil.copytree(migrations_dir, target)
    return target


async def test_second_run_applies_nothing(database_factory, migrations_dir):
    """Every file is applied once; running again applies nothing."""
    url = database_factory.create(migrated=False)
    first = await migrate(url, migrations_dir, model_id=None, dimensions=None)
    second = await migrate(url, migrations_dir, model_id=None, dimensions=None)
    assert first == sorted(path.name for path in migrations_dir.glob("*.sql"))
    assert second == []


async def test_concurrent_runner_waits_for_the_lock(database_factory, migrations_dir):
    """A runner started while another holds the lock waits, then finds nothing to do twice."""
    url = database_factory.create(migrated=False)
    holder = await asyncpg.connect(url)
    await holder.execute("SELECT pg_advisory_lock($1)", MIGRATIONS_LOCK_KEY)
    waiting = asyncio.create_task(migrate(url, migrations_dir, model_id=None, dimensions=None))
    await asyncio.sleep(0.5)
    assert not waiting.done()
    other = asyncio.create_task(migrate(url, migrations_dir, model_id=None, dimensions=None))
    await holder.execute("SELECT pg_advisory_unlock($1)", MIGRATIONS_LOCK_KEY)
    await holder.close()
    results = await asyncio.gather(waiting, other)
    applied = sorted(results, key=len)
    assert applied[0] == [] and len(applied[1]) == len(list(migrations_dir.glob("*.sql")))


async def test_edited_applied_file_is_refused(database_factory, migrations_copy):
    """An applied file whose content changed stops the run before any new file is applied."""
    url = database_factory.create(migrated=False)
    await migrate(url, migrations_copy, model_id=None, dimensions=None)
    (migrations_copy / "002_movies.sql").write_text((migrations_copy / "002_movies.sql").read_text() + "\n-- edited\n")
    (migrations_copy / "999_new.sql").write_text("CREATE TABLE should_not_exist (id int);")
    with pytest.raises(MigrationEdited) as caught:
        await migrate(url, migrations_copy, model_id=None, dimensions=None)
    assert caught.value.filename == "002_movies.sql"
    connection = await asyncpg.connect(url)
    try:
        assert await connection.fetchval("SELECT to_regclass('should_not_exist')") is None
    finally:
        await connection.close()


async def test_files_are_idempotent_on_an_existing_database(database_factory, migrations_dir):
    """Every file can run again on a database it already shaped (fresh and existing databases alike)."""
    url = database_factory.create(migrated=False)
    await migrate(url, migrations_dir, model_id=None, dimensions=None)
    connection = await asyncpg.connect(url)
    try:
        for path in sorted(migrations_dir.glob("*.sql")):
            await connection.execute(path.read_text())
    finally:
        await connection.close()
