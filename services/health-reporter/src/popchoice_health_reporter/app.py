"""`popchoice-health`: PopChoice health reporter: catalog health report and operator screens."""

from __future__ import annotations

from popchoice_common.planned import announce_planned

PLAN = (
    "report catalog defects (missing posters, TMDB ids, runtimes, coverage, duplicates) as text or JSON "
    "inside a read-only transaction."
)


def main() -> int:
    return announce_planned("popchoice-health", PLAN, "issue #4")
