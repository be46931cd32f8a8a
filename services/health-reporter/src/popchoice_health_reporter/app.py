"""``popchoice-health`` (make health): the catalog health report, as text or JSON;
``popchoice-health serve`` (make console): the operator console; ``popchoice-health hash-password``:
an Argon2id hash for OPERATOR_AUTH_USERS.

Exit status of the report: 0 by default; 1 when a finding named in --fail-on found something; 2 on bad
arguments (an unknown finding name among them).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys

from popchoice_common.db import create_pool, resolve_database_url
from popchoice_common.logs import configure_logging, get_logger
from popchoice_health_reporter.config import HealthSettings
from popchoice_health_reporter.formatting import format_json, format_text
from popchoice_health_reporter.report import HealthReport
from popchoice_health_reporter.service import (
    FINDING_NAMES,
    ReportOptions,
    UnknownFindingError,
    build_report,
    parse_finding_names,
)

log = get_logger(__name__)


async def run(settings: HealthSettings) -> HealthReport:
    pool = await create_pool(resolve_database_url(settings), min_size=1, max_size=1)
    try:
        options = ReportOptions(
            sample_limit=settings.catalog_health_sample_limit, stale_days=settings.catalog_health_stale_days
        )
        return await build_report(pool, options)
    finally:
        await pool.close()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="popchoice-health",
        description="Report catalog defects as text or JSON. Also: popchoice-health serve (the operator"
        " console), popchoice-health hash-password (a hash for OPERATOR_AUTH_USERS).",
    )
    parser.add_argument(
        "--format", choices=["text", "json"], default=None, help="output format (default: CATALOG_HEALTH_FORMAT, text)"
    )
    parser.add_argument(
        "--fail-on",
        action="append",
        default=[],
        metavar="FINDING[,FINDING...]",
        help=f"exit 1 when any of these findings is non-zero; names: {', '.join(FINDING_NAMES)}",
    )
    return parser


def serve(settings: HealthSettings) -> int:
    """Serves the operator console on OPERATOR_CONSOLE_HOST:OPERATOR_CONSOLE_PORT until stopped."""
    import uvicorn

    from popchoice_common.errors import ConfigurationError
    from popchoice_health_reporter.security import Operators
    from popchoice_health_reporter.web import create_app

    configure_logging(settings.log_level, settings.log_format)
    try:
        Operators.from_settings(settings)  # refuse a non-loopback address without credentials, before binding
    except ConfigurationError as exc:
        print(f"popchoice-health serve: {exc}", file=sys.stderr)
        return 2
    uvicorn.run(
        create_app(settings),
        host=settings.operator_console_host,
        port=settings.operator_console_port,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
    )
    return 0


def hash_password_command() -> int:
    """Reads a password (twice, or once from a pipe) and prints its Argon2id hash."""
    from popchoice_health_reporter.security import hash_password

    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            print("The passwords differ.", file=sys.stderr)
            return 2
    else:
        password = sys.stdin.readline().rstrip("\n")
    if len(password) < 12:
        print("Use at least 12 characters.", file=sys.stderr)
        return 2
    print(hash_password(password))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Prints the catalog health report (exits 1 when a --fail-on finding found something), or runs
    ``serve`` (the operator console) or ``hash-password``."""
    arguments = sys.argv[1:] if argv is None else argv
    if arguments[:1] == ["serve"]:
        return serve(HealthSettings())
    if arguments[:1] == ["hash-password"]:
        return hash_password_command()
    parser = _parser()
    args = parser.parse_args(arguments)
    try:
        fail_on = parse_finding_names(args.fail_on)
    except UnknownFindingError as exc:
        parser.error(f"--fail-on: {exc}")
    settings = HealthSettings()
    if args.format:
        settings = settings.model_copy(update={"catalog_health_format": args.format})
    # stdout carries the report (a JSON consumer parses it whole), so this command logs to stderr.
    configure_logging(settings.log_level, settings.log_format, stream=sys.stderr)
    report = asyncio.run(run(settings))
    print(format_json(report) if settings.catalog_health_format == "json" else format_text(report))
    failing = report.failing(fail_on)
    log.info(
        "health_report_finished",
        findings_with_defects=sum(1 for finding in report.findings if finding.count > 0),
        failing=list(failing),
    )
    return 1 if failing else 0
