"""The migrations runner: applies db/init/*.sql in order, once each, then db/functions/*.sql, under an advisory lock.

Migrations (db/init) change stored data and its shape. Each applied file is recorded in
``schema_migrations`` with its SHA-256. A file that already ran and was edited since is refused (the
run stops before applying anything), because the database would no longer match what the file says.

Definitions (db/functions, beside db/init) are the functions and triggers that stored data does not
depend on: match_movies, match_movie_picks, the trigger functions. Each is written once, with
CREATE OR REPLACE, and every file runs on every migrate, after the migrations, so a changed
definition reaches the database without a new migration. A function that stored data depends on (a
generated column, an index expression, the title normalisation) stays in a versioned migration.

Two runners at once are safe: the second waits for the lock and then finds nothing left to apply.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from pydantic import Field

from popchoice_common.errors import PermanentError
from popchoice_common.logs import configure_logging, get_logger
from popchoice_common.settings import PopChoiceSettings

log = get_logger(__name__)

# pg_advisory_lock key shared by every runner ("popchoic" in ASCII).
MIGRATIONS_LOCK_KEY = 0x706F7063686F6963

_CREATE_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    filename    text PRIMARY KEY,
    checksum    text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)
"""


class MigrateSettings(PopChoiceSettings):
    """Settings of popchoice-migrate."""

    migrations_dir: Path = Field(default=Path("db/init"), description="Folder of the ordered *.sql files.")
    hnsw_ef_search: int = Field(default=100, ge=1, le=1000, description="HNSW candidate list size of match_movies.")


@dataclass(frozen=True)
class Migration:
    filename: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


class MigrationEdited(PermanentError):
    """An already-applied migration file no longer matches what ran."""

    def __init__(self, filename: str, applied_checksum: str, current_checksum: str) -> None:
        self.filename = filename
        self.applied_checksum = applied_checksum
        self.current_checksum = current_checksum
        super().__init__(
            f"{filename} was applied with checksum {applied_checksum[:12]} but now has {current_checksum[:12]}; "
            "applied migrations must not be edited: add a new file instead"
        )


def load_migrations(directory: Path) -> list[Migration]:
    """The *.sql files of a folder, in filename order."""
    if not directory.is_dir():
        raise PermanentError(f"migrations folder {directory} does not exist (set MIGRATIONS_DIR)")
    return [Migration(path.name, path.read_text(encoding="utf-8")) for path in sorted(directory.glob("*.sql"))]


def definitions_dir_for(migrations_dir: Path) -> Path:
    """The re-runnable definitions folder that belongs to a migrations folder: its sibling ``functions``."""
    return migrations_dir.parent / "functions"


async def apply_definitions(connection: asyncpg.Connection, definitions: list[Migration]) -> None:
    """Runs every definitions file, in filename order, in one transaction (they are all re-runnable)."""
    async with connection.transaction():
        await connection.execute("SELECT pg_advisory_xact_lock($1)", MIGRATIONS_LOCK_KEY)
        for definition in definitions:
            await connection.execute(definition.sql)


def _report_logger(filename: str) -> Callable[[asyncpg.Connection, asyncpg.PostgresLogMessage], None]:
    """Logs what a migration reports with RAISE INFO or WARNING (NOTICE is left to DDL's "already
    exists, skipping" chatter)."""

    def log_report(_connection: asyncpg.Connection, message: asyncpg.PostgresLogMessage) -> None:
        if message.severity_en in ("INFO", "WARNING"):
            log.info("migration_report", filename=filename, severity=message.severity_en, message=message.message)

    return log_report


async def apply_migrations(connection: asyncpg.Connection, migrations: list[Migration]) -> list[str]:
    """Applies what has not run yet, each file in its own transaction; returns the applied filenames."""
    await connection.execute("SELECT pg_advisory_lock($1)", MIGRATIONS_LOCK_KEY)
    try:
        await connection.execute(_CREATE_LEDGER)
        applied = {
            row["filename"]: row["checksum"]
            for row in await connection.fetch("SELECT filename, checksum FROM schema_migrations")
        }
        for migration in migrations:
            recorded = applied.get(migration.filename)
            if recorded is not None and recorded != migration.checksum:
                raise MigrationEdited(migration.filename, recorded, migration.checksum)
        newly_applied = []
        for migration in migrations:
            if migration.filename in applied:
                continue
            # What a migration reports (013 names each film it merges) is logged.
            listener = _report_logger(migration.filename)
            connection.add_log_listener(listener)
            try:
                async with connection.transaction():
                    await connection.execute(migration.sql)
                    await connection.execute(
                        "INSERT INTO schema_migrations (filename, checksum) VALUES ($1, $2)",
                        migration.filename,
                        migration.checksum,
                    )
            finally:
                connection.remove_log_listener(listener)
            log.info("migration_applied", filename=migration.filename)
            newly_applied.append(migration.filename)
        return newly_applied
    finally:
        await connection.execute("SELECT pg_advisory_unlock($1)", MIGRATIONS_LOCK_KEY)


async def configure_embedding_model(
    connection: asyncpg.Connection, model_id: str, dimensions: int, *, ef_search: int = 100
) -> None:
    """Makes model_id the searched model, builds its HNSW index and defines match_movies and
    match_movie_picks for it (see db/functions/30_vector_search.sql)."""
    async with connection.transaction():
        await connection.execute("SELECT pg_advisory_xact_lock($1)", MIGRATIONS_LOCK_KEY)
        await connection.execute("SELECT configure_embedding_model($1, $2, $3)", model_id, dimensions, ef_search)


async def migrate(
    dsn: str, migrations_dir: Path, *, model_id: str | None, dimensions: int | None, ef_search: int = 100
) -> list[str]:
    """Applies pending migrations, then every definition, and, when given, activates the embedding model."""
    connection = await asyncpg.connect(dsn)
    try:
        applied = await apply_migrations(connection, load_migrations(migrations_dir))
        await apply_definitions(connection, load_migrations(definitions_dir_for(migrations_dir)))
        if model_id is not None and dimensions is not None:
            await configure_embedding_model(connection, model_id, dimensions, ef_search=ef_search)
        return applied
    finally:
        await connection.close()


def main(argv: list[str] | None = None) -> int:
    """``popchoice-migrate``: apply db/init/*.sql and activate the configured embedding model."""
    parser = argparse.ArgumentParser(prog="popchoice-migrate", description=main.__doc__)
    parser.add_argument("--no-embedding", action="store_true", help="only apply the SQL files")
    args = parser.parse_args(argv)
    settings = MigrateSettings()
    configure_logging(settings.log_level, settings.log_format)
    from popchoice_common.db.pool import resolve_database_url

    embedding = None if args.no_embedding else settings.embedding
    try:
        applied = asyncio.run(
            migrate(
                resolve_database_url(settings),
                settings.migrations_dir,
                model_id=embedding.model_id if embedding else None,
                dimensions=embedding.dimensions if embedding else None,
                ef_search=settings.hnsw_ef_search,
            )
        )
    except MigrationEdited as exc:
        log.error("migration_edited", filename=exc.filename, error=str(exc))
        return 2
    log.info(
        "migrations_done",
        applied=len(applied),
        files=applied,
        embedding_model=embedding.model_id if embedding else None,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
