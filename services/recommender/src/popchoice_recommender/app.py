"""`popchoice-recommender`: PopChoice recommender: quizzes in, picks out; and the similarity calibration tool."""

from __future__ import annotations

from popchoice_common.planned import announce_planned

PLAN = (
    "consume recommendation.requested and more-picks.requested and run the recommendation pipeline "
    "(embed, search, TMDB fallback, memory filter, descriptions)."
)


def main() -> int:
    return announce_planned("popchoice-recommender", PLAN, "issue #5")
