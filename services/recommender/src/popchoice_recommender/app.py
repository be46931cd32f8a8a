"""``popchoice-recommender``: consumes recommendation.requested and more-picks.requested until SIGTERM."""

from __future__ import annotations

from popchoice_common.bootstrap import run_worker
from popchoice_recommender import handlers
from popchoice_recommender.config import RecommenderSettings


def main() -> int:
    """Runs the recommendation pipeline for queued quizzes (needs REDIS_URL; TMDB and OpenAI optional)."""
    return run_worker("recommender", RecommenderSettings(), handlers.register, embedder=True, tmdb="optional", llm=True)
