"""Database access: the asyncpg pool, the migrations runner, the embedded server and shared repositories."""

from popchoice_common.db.pool import create_pool, resolve_database_url

__all__ = ["create_pool", "resolve_database_url"]
