"""Entry points: ``popchoice-recommender`` consumes recommendation.requested and more-picks.requested
until SIGTERM; ``popchoice-calibrate`` measures the embedding model's similarity scale."""

from __future__ import annotations

import argparse
import asyncio

from popchoice_common.bootstrap import run_worker
from popchoice_common.logs import configure_logging
from popchoice_common.settings import PopChoiceSettings
from popchoice_recommender import handlers
from popchoice_recommender.config import RecommenderSettings
from popchoice_recommender.service import calibrate, format_report


def main() -> int:
    """Runs the recommendation pipeline for queued quizzes (needs REDIS_URL; TMDB and OpenAI optional)."""
    return run_worker("recommender", RecommenderSettings(), handlers.register, embedder=True, tmdb="optional", llm=True)


def calibrate_main(argv: list[str] | None = None) -> int:
    """Prints per calibration quiz the top results, the observed ceiling and a suggested threshold."""
    parser = argparse.ArgumentParser(
        prog="popchoice-calibrate",
        description="Measure the embedding model's similarity scale on the calibration quizzes.",
    )
    parser.add_argument("--top", type=int, default=5, help="results shown per quiz (default 5)")
    args = parser.parse_args(argv)
    settings = PopChoiceSettings()
    configure_logging(settings.log_level, settings.log_format)
    report = asyncio.run(calibrate(settings, args.top))
    print(format_report(report))
    return 0
