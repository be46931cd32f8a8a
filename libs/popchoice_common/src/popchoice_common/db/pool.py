"""The asyncpg pool every service uses, with the pgvector codecs registered on each connection."""

from __future__ import annotations

import asyncpg
from pgvector.asyncpg import register_vector

from popchoice_common.errors import ConfigurationError
from popchoice_common.settings import PopChoiceSettings


def resolve_database_url(settings: PopChoiceSettings) -> str:
    """DATABASE_URL when set, else the embedded server under DATA_DIR (started when needed)."""
    dsn = settings.database_dsn()
    if dsn is not None:
        return dsn
    from popchoice_common.db.embedded import start_embedded_postgres

    return start_embedded_postgres(settings.data_dir)


async def register_codecs(connection: asyncpg.Connection) -> None:
    """Registers vector/halfvec codecs; explains the fix when the schema was never migrated."""
    try:
        await register_vector(connection)
    except ValueError as exc:
        raise ConfigurationError(
            "the pgvector extension is not installed in this database: run `make migrate` (popchoice-migrate)"
        ) from exc


async def _keep_session(connection: asyncpg.Connection) -> None:
    """No reset on release: the product keeps no session state (settings are SET LOCAL, locks are
    transaction-scoped), and asyncpg's default reset costs a round trip every time a connection returns."""


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10, **kwargs: object) -> asyncpg.Pool:
    """An asyncpg pool whose connections encode and decode pgvector types."""
    pool = await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, init=register_codecs, reset=_keep_session, **kwargs
    )
    assert pool is not None
    return pool
