"""``popchoice-calibrate`` (make calibrate): measure the embedding model's similarity scale.

Embeds the calibration quizzes with the configured embedder, searches the catalog, and prints per
quiz the top results with their similarity, whether the favourite film ranked first, the observed
ceiling and a suggested threshold. Needs a seeded catalog embedded by the same model.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from popchoice_common.db import create_pool, resolve_database_url
from popchoice_common.embedders import create_embedder
from popchoice_common.logs import configure_logging
from popchoice_common.recommendation.calibration import CalibrationReport, calibration_for, run_calibration
from popchoice_common.settings import PopChoiceSettings


def format_report(report: CalibrationReport) -> str:
    lines = [f"Calibration of {report.model_id}", ""]
    for result in report.results:
        rank = result.expected_rank
        verdict = "first" if rank == 1 else (f"rank {rank}" if rank else "not in the top results")
        lines.append(f"{result.query}")
        lines.append(f"  expected {result.expected!r}: {verdict}")
        for position, (name, year, similarity) in enumerate(result.top, start=1):
            lines.append(f"  {position}. {similarity:.3f}  {name} ({year if year else 'n/a'})")
        lines.append("")
    current = calibration_for(report.model_id)
    lines += [
        f"favourite ranked first: {report.hits}/{len(report.results)}",
        f"observed ceiling: {report.observed_ceiling:.3f}",
        f"suggested threshold (ceiling x 0.40/0.62): {report.suggested_threshold:.2f}",
        f"configured: threshold {current.similarity_threshold:.2f}, ceiling {current.similarity_ceiling:.2f}",
    ]
    return "\n".join(lines)


async def _calibrate(settings: PopChoiceSettings, top_n: int) -> CalibrationReport:
    pool = await create_pool(resolve_database_url(settings), min_size=1, max_size=2)
    embedder = create_embedder(settings)
    try:
        if not await pool.fetchval("SELECT count(*) FROM movies WHERE embedding_model = $1", embedder.model_id):
            raise SystemExit(f"no movies embedded by {embedder.model_id}: run `make seed` with the same settings first")
        return await run_calibration(pool, embedder, top_n=top_n)
    finally:
        await embedder.aclose()
        await pool.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="popchoice-calibrate", description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=5, help="results shown per quiz (default 5)")
    args = parser.parse_args(argv)
    settings = PopChoiceSettings()
    configure_logging(settings.log_level, settings.log_format)
    report = asyncio.run(_calibrate(settings, args.top))
    print(format_report(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
