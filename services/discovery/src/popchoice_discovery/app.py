"""`popchoice-discovery`: PopChoice discovery: finds new films on TMDB on a schedule."""

from __future__ import annotations

from popchoice_common.planned import announce_planned

PLAN = (
    "enqueue and run TMDB discovery pages (now_playing, upcoming, top_rated, popular) once or on "
    "SYNC_SCHEDULE, feeding catalog.seed-movie jobs."
)


def main() -> int:
    return announce_planned("popchoice-discovery", PLAN, "issue #4")
