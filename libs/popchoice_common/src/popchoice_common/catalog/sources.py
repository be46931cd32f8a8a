"""Where a catalog row came from (``movies.source``) and how its TMDB id was found (``tmdb_match_source``)."""

from __future__ import annotations

from typing import Literal, get_args

#: A row's origin: the curated movies file, TMDB discovery (past its quality filter), a TMDB pick
#: seeded just in time after a recommendation showed it, the backfill, or anything else (manual).
MovieSource = Literal["curated_seed", "discovery", "recommendation", "backfill", "manual"]
MOVIE_SOURCES: tuple[MovieSource, ...] = get_args(MovieSource)

#: tmdb_match_source written when a writer of this source gives a row its TMDB id.
MATCH_SOURCE_OF: dict[MovieSource, str] = {
    "curated_seed": "seed",
    "discovery": "tmdb_discovery",
    "recommendation": "recommendation",
    "backfill": "backfill_auto",
    "manual": "manual",
}
