from popchoice_backfill.matching import decide, runtime_mismatch, score_candidate
from popchoice_common.tmdb import MovieSummary


def summary(tmdb_id, title, date="", original=None):
    return MovieSummary(id=tmdb_id, title=title, release_date=date, original_title=original)


def test_exact_title_and_year_is_applied():
    """The same title within a year scores full confidence and is applied."""
    decision = decide("Heat", 1995, [summary(949, "Heat", "1995-12-15"), summary(1, "Heatwave", "2010-01-01")])
    assert decision.kind == "apply" and decision.best.tmdb_id == 949 and decision.best.confidence == 1.0


def test_year_off_by_more_than_one_is_penalised():
    """A same-titled film from another decade is no match."""
    decision = decide("Dune", 1984, [summary(438631, "Dune", "2021-09-15")])
    assert decision.kind == "no_match"


def test_two_close_candidates_are_ambiguous():
    """A runner-up within 0.08 of the best (and ≥ 0.82) makes the match ambiguous."""
    decision = decide("Crash", 2004, [summary(1, "Crash", "2004-09-10"), summary(2, "Crash", "2005-05-06")])
    assert decision.kind == "ambiguous" and {c.tmdb_id for c in decision.candidates} == {1, 2}


def test_unknown_year_uses_the_lower_threshold():
    """Without a local year a close title clears 0.82 (title similarity + 0.1)."""
    candidate = score_candidate("Amelie", None, summary(194, "Amélie", "2001-04-25"))
    assert candidate.confidence == 1.0
    assert decide("Amelie", None, [summary(194, "Amélie", "2001-04-25")]).kind == "apply"


def test_original_title_counts():
    """A film known here by its original title matches TMDB's original_title."""
    decision = decide("Le Samouraï", 1967, [summary(5511, "Le Samouraï", "1967-10-25", original="Le Samouraï")])
    assert decision.kind == "apply"


def test_runtime_mismatch_needs_a_known_local_runtime():
    """More than 10 minutes apart is a mismatch; an unknown local runtime never is."""
    assert runtime_mismatch(100, 115) and not runtime_mismatch(100, 110) and not runtime_mismatch(0, 200)
