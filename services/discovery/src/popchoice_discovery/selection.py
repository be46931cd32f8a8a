"""Which films of a TMDB list page are worth adding (pure functions, no I/O)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from popchoice_common.catalog.identity import normalize_title
from popchoice_common.tmdb import MovieSummary


@dataclass(frozen=True, slots=True)
class QualityBar:
    min_vote_count: int
    min_vote_average: float
    min_overview_length: int


@dataclass(frozen=True, slots=True)
class Skipped:
    tmdb_id: int
    title: str
    reason: str


def quality_problem(movie: MovieSummary, bar: QualityBar) -> str | None:
    """Why a film falls below the bar (votes, average, overview), or None when it clears it."""
    if movie.adult:
        return "adult"
    if not movie.title.strip():
        return "no title"
    if movie.vote_count <= bar.min_vote_count:
        return f"vote_count {movie.vote_count} <= {bar.min_vote_count}"
    if movie.vote_average < bar.min_vote_average:
        return f"vote_average {movie.vote_average} < {bar.min_vote_average}"
    if len(movie.overview.strip()) <= bar.min_overview_length:
        return f"overview of {len(movie.overview.strip())} characters <= {bar.min_overview_length}"
    return None


def select_new_films(
    results: Iterable[MovieSummary],
    bar: QualityBar,
    *,
    present_tmdb_ids: set[int],
    present_title_years: set[tuple[str, int | None]],
    already_selected: set[int],
    limit: int,
) -> tuple[list[MovieSummary], list[Skipped]]:
    """Good films not in the catalog and not yet selected in this run, at most limit of them."""
    selected: list[MovieSummary] = []
    skipped: list[Skipped] = []
    for movie in results:
        if movie.id in already_selected or any(chosen.id == movie.id for chosen in selected):
            skipped.append(Skipped(movie.id, movie.title, "already selected from another list"))
            continue
        problem = quality_problem(movie, bar)
        if problem is not None:
            skipped.append(Skipped(movie.id, movie.title, problem))
            continue
        if movie.id in present_tmdb_ids or (normalize_title(movie.title), movie.year) in present_title_years:
            skipped.append(Skipped(movie.id, movie.title, "already in the catalog"))
            continue
        if len(selected) >= limit:
            skipped.append(Skipped(movie.id, movie.title, "over the per-page or per-run cap"))
            continue
        selected.append(movie)
    return selected, skipped
