from popchoice_common.tmdb import MovieSummary
from popchoice_discovery.selection import QualityBar, quality_problem, select_new_films

BAR = QualityBar(min_vote_count=500, min_vote_average=6.5, min_overview_length=50)
OVERVIEW = "A long enough overview that says what the film is about, its tone and its premise."


def film(tmdb_id, **overrides):
    fields = {
        "id": tmdb_id,
        "title": f"Film {tmdb_id}",
        "vote_count": 1000,
        "vote_average": 7.0,
        "overview": OVERVIEW,
        "release_date": "2020-01-01",
    }
    fields.update(overrides)
    return MovieSummary(**fields)


def test_quality_bar():
    """More than 500 votes, an average of at least 6.5 and an overview over 50 characters pass."""
    assert quality_problem(film(1), BAR) is None
    assert "vote_count" in quality_problem(film(1, vote_count=500), BAR)
    assert "vote_average" in quality_problem(film(1, vote_average=6.4), BAR)
    assert quality_problem(film(1, vote_average=6.5), BAR) is None
    assert "overview" in quality_problem(film(1, overview="x" * 50), BAR)


def test_selection_skips_present_selected_and_over_cap():
    """Films in the catalog (by id or title+year), already chosen, or past the cap are skipped with reasons."""
    results = [film(1), film(2), film(3, title="Casablanca", release_date="1942-11-26"), film(4), film(5), film(6)]
    selected, skipped = select_new_films(
        results,
        BAR,
        present_tmdb_ids={2},
        present_title_years={("casablanca", 1942)},
        already_selected={4},
        limit=2,
    )
    assert [movie.id for movie in selected] == [1, 5]
    reasons = {item.tmdb_id: item.reason for item in skipped}
    assert reasons[2] == reasons[3] == "already in the catalog"
    assert reasons[4] == "already selected from another list"
    assert "cap" in reasons[6]
