import asyncio
import re
import shutil

import asyncpg
import pytest

from popchoice_common.db.migrations import MIGRATIONS_LOCK_KEY, MigrationEdited, definitions_dir_for, migrate


@pytest.fixture
def migrations_copy(tmp_path, migrations_dir):
    """A private copy of db/init (and its sibling db/functions) that a test may edit."""
    target = tmp_path / "init"
    shutil.copytree(migrations_dir, target)
    shutil.copytree(definitions_dir_for(migrations_dir), definitions_dir_for(target))
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


async def test_a_changed_definition_reaches_the_database_without_a_new_migration(database_factory, migrations_copy):
    """db/functions files run on every migrate, so an edited definition is applied the next time."""
    url = database_factory.create(migrated=False)
    await migrate(url, migrations_copy, model_id="hash-384", dimensions=384, ef_search=64)
    probe = definitions_dir_for(migrations_copy) / "99_probe.sql"
    probe.write_text("CREATE OR REPLACE FUNCTION popchoice_probe() RETURNS integer LANGUAGE sql AS 'SELECT 1';")
    await migrate(url, migrations_copy, model_id=None, dimensions=None)
    probe.write_text("CREATE OR REPLACE FUNCTION popchoice_probe() RETURNS integer LANGUAGE sql AS 'SELECT 2';")
    assert await migrate(url, migrations_copy, model_id=None, dimensions=None) == []
    connection = await asyncpg.connect(url)
    try:
        assert await connection.fetchval("SELECT popchoice_probe()") == 2
        # Re-running the definitions keeps the active model's search and its ef_search.
        configs = await connection.fetch(
            "SELECT proname, proconfig FROM pg_proc WHERE proname IN ('match_movies', 'match_movie_picks')"
        )
        assert {row["proname"]: "hnsw.ef_search=64" in row["proconfig"] for row in configs} == {
            "match_movies": True,
            "match_movie_picks": True,
        }
    finally:
        await connection.close()


def test_every_search_and_trigger_function_is_defined_once(migrations_dir):
    """match_movies, match_movie_picks and the trigger functions have one definition, in db/functions."""
    definitions = sorted(definitions_dir_for(migrations_dir).glob("*.sql"))
    newer_migrations = [path for path in sorted(migrations_dir.glob("*.sql")) if path.name[:3] > "012"]
    for name in (
        "match_movies",
        "match_movie_picks",
        "configure_embedding_model",
        "set_updated_at",
        "notify_recommendation_progress",
    ):
        pattern = re.compile(rf"FUNCTION {name}\(")
        defining = [path.name for path in definitions if pattern.search(path.read_text())]
        assert len(defining) == 1, (name, defining)
        assert not [path.name for path in newer_migrations if pattern.search(path.read_text())], name
