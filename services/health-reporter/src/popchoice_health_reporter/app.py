"""``popchoice-health`` (make health): the catalog health report, as text or JSON.

Exit status: 0 by default; 1 when a finding named in --fail-on found something; 2 on bad arguments
(an unknown finding name among them).
"""

from __future__ import annotations

import argparse
import asyncio
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
    parser = argparse.ArgumentParser(prog="popchoice-health", description="Report catalog defects as text or JSON.")
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


def main(argv: list[str] | None = None) -> int:
    """Prints the catalog health report; exits 1 when a --fail-on finding found something."""
    parser = _parser()
    args = parser.parse_args(argv)
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
