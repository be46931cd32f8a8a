"""The recommender's own logic beside the library's pipeline: the calibration of the embedding model.

``popchoice-calibrate`` (make calibrate) embeds the calibration quizzes with the configured embedder,
searches the catalog, and prints per quiz the top results with their similarity, whether the
favourite film ranked first, the observed ceiling and a suggested threshold. Needs a seeded catalog
embedded by the same model.
"""

from __future__ import annotations

from popchoice_common.catalog import repository as catalog_repository
from popchoice_common.db import create_pool, resolve_database_url
from popchoice_common.embedders import create_embedder
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


async def calibrate(settings: PopChoiceSettings, top_n: int) -> CalibrationReport:
    """Runs the calibration quizzes against the seeded catalog of the configured embedding model."""
    pool = await create_pool(resolve_database_url(settings), min_size=1, max_size=2)
    embedder = create_embedder(settings)
    try:
        async with pool.acquire() as connection:
            embedded = await catalog_repository.count_embedded_movies(connection, embedder.model_id)
        if not embedded:
            raise SystemExit(f"no movies embedded by {embedder.model_id}: run `make seed` with the same settings first")
        return await run_calibration(pool, embedder, top_n=top_n)
    finally:
        await embedder.aclose()
        await pool.close()
