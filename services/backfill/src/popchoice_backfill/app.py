"""`popchoice-backfill`: PopChoice backfill: fills missing TMDB identity and metadata."""

from __future__ import annotations

from popchoice_common.planned import announce_planned

PLAN = (
    "match catalog rows without a TMDB id, runtime, poster or fresh metadata to TMDB, conservatively, "
    "recording reviews for ambiguous matches."
)


def main() -> int:
    return announce_planned("popchoice-backfill", PLAN, "issue #4")
